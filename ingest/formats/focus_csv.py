"""I1: FinOps FOCUS 1.x cost and usage export (CSV).

Money is parsed as exact decimals. The columns we use are typed; every other column is kept
in `extra_columns` (JSON), not dropped. A row's identity is the hash of all its values, so a
re-delivered row adds nothing (dbt de-duplicates on it).
"""

from __future__ import annotations

from ingest.context import Counts, LoadContext, land, quarantine_file
from ingest.schema import LINEAGE, MONEY, sql_literal

NAME = "focus_csv"
KIND = "invoices"
LAYOUTS = ("csv",)
TABLE = "raw.focus_charges"
DDL = f"""
CREATE TABLE IF NOT EXISTS raw.focus_charges (
    row_hash VARCHAR NOT NULL, billing_account_id VARCHAR,
    billing_period_start TIMESTAMP, billing_period_end TIMESTAMP,
    charge_period_start TIMESTAMP NOT NULL, charge_period_end TIMESTAMP,
    charge_category VARCHAR NOT NULL, charge_class VARCHAR, provider VARCHAR NOT NULL,
    service_name VARCHAR, sku_id VARCHAR, charge_description VARCHAR,
    consumed_quantity DECIMAL(38,10), consumed_unit VARCHAR,
    billed_cost {MONEY}, effective_cost {MONEY} NOT NULL, list_cost {MONEY},
    billing_currency VARCHAR NOT NULL, invoice_id VARCHAR, extra_columns JSON,
    {LINEAGE}
);
"""

_USED = {
    "BillingAccountId": "billing_account_id", "BillingPeriodStart": None, "BillingPeriodEnd": None,
    "ChargePeriodStart": None, "ChargePeriodEnd": None, "ChargeCategory": "charge_category",
    "ChargeClass": "charge_class", "ProviderName": None, "ServiceProviderName": None,
    "ServiceName": "service_name", "SkuId": "sku_id", "ChargeDescription": "charge_description",
    "ConsumedQuantity": None, "ConsumedUnit": "consumed_unit", "BilledCost": None, "EffectiveCost": None,
    "ListCost": None, "BillingCurrency": None, "InvoiceId": "invoice_id",
}
_REQUIRED = ("ChargePeriodStart", "ChargeCategory", "EffectiveCost", "BillingCurrency")
_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
_COLUMNS = [
    "row_hash", "billing_account_id", "billing_period_start", "billing_period_end", "charge_period_start",
    "charge_period_end", "charge_category", "charge_class", "provider", "service_name", "sku_id",
    "charge_description", "consumed_quantity", "consumed_unit", "billed_cost", "effective_cost", "list_cost",
    "billing_currency", "invoice_id", "extra_columns",
]


def matches(header: list[str]) -> bool:
    return {"ChargeCategory", "EffectiveCost", "ChargePeriodStart"} <= set(header)


def _q(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def load(ctx: LoadContext, header: list[str]) -> Counts:
    missing = [c for c in _REQUIRED if c not in header]
    if missing or not ({"ProviderName", "ServiceProviderName"} & set(header)):
        need = missing or ["ProviderName or ServiceProviderName"]
        return quarantine_file(ctx, f"FOCUS export lacks required column(s): {', '.join(need)}", NAME)

    def col(name: str) -> str:
        return f"nullif(trim({_q(name)}), '')" if name in header else "NULL"

    def money(name: str) -> str:
        return f"try_cast({col(name)} AS DECIMAL(38,14))"

    def bad_number(name: str) -> str:
        # More than 14 decimals would be rounded by the DECIMAL(38,14) cast: refuse instead.
        return (f"WHEN {col(name)} IS NOT NULL AND ({money(name)} IS NULL OR regexp_matches({col(name)}, '\\.[0-9]{{15,}}')) "
                f"THEN '{name} is not a decimal number with at most 14 decimal places'")

    def ts(name: str) -> str:
        return f"utc_ts({col(name)})"

    extras = sorted(c for c in header if c and c not in _USED)  # sorted: the same row whatever the column order
    extra_json = "json_object(" + ", ".join(f"{sql_literal(c)}, {_q(c)}" for c in extras) + ")" if extras else "NULL::JSON"
    renamed = ", ".join(f"{col(src)} AS {dst}" for src, dst in _USED.items() if dst)
    # A row's identity is its content as typed values (0.0043 = 0.00430) in a fixed column order,
    # so a re-issued file with reordered columns or re-formatted numbers adds nothing.
    identity = ", ".join(
        [col(c) for c in ("BillingAccountId", "ChargeCategory", "ChargeClass", "ServiceName", "SkuId",
                          "ChargeDescription", "ConsumedUnit", "InvoiceId")]
        + [ts(c) for c in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")]
        + [money(c) for c in ("BilledCost", "EffectiveCost", "ListCost")]
        + [f"try_cast({col('ConsumedQuantity')} AS DECIMAL(38,10))", f"upper({col('BillingCurrency')})",
           f"coalesce({col('ServiceProviderName')}, {col('ProviderName')})", extra_json]
    )
    all_values = f"json_array({identity})::VARCHAR"
    ctx.con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _parsed AS
        WITH src AS (
            SELECT row_number() OVER () + 1 AS line, *
            FROM read_csv({sql_literal(ctx.file.duckdb_path)}, header=true, all_varchar=true, delim=',', quote='"',
                          escape='"', strict_mode=false, null_padding=true, compression='auto',
                          max_line_size={int(ctx.max_line_bytes)})
        )
        SELECT line, FALSE AS skip,
            CASE
                WHEN {col('ChargeCategory')} IS NULL THEN 'missing ChargeCategory'
                WHEN {col('ChargeCategory')} NOT IN {_CATEGORIES} THEN 'unknown ChargeCategory ' || {col('ChargeCategory')}
                WHEN ts_problem({col('ChargePeriodStart')}, 'ChargePeriodStart') IS NOT NULL
                    THEN ts_problem({col('ChargePeriodStart')}, 'ChargePeriodStart')
                WHEN {col('ChargePeriodEnd')} IS NOT NULL AND ts_problem({col('ChargePeriodEnd')}, 'ChargePeriodEnd') IS NOT NULL
                    THEN ts_problem({col('ChargePeriodEnd')}, 'ChargePeriodEnd')
                WHEN coalesce({col('ServiceProviderName')}, {col('ProviderName')}) IS NULL THEN 'missing ProviderName'
                WHEN {col('EffectiveCost')} IS NULL THEN 'missing EffectiveCost'
                {bad_number('EffectiveCost')}
                {bad_number('BilledCost')}
                {bad_number('ListCost')}
                WHEN {col('ConsumedQuantity')} IS NOT NULL AND try_cast({col('ConsumedQuantity')} AS DECIMAL(38,10)) IS NULL
                    THEN 'ConsumedQuantity is not a number'
                WHEN NOT regexp_full_match(coalesce({col('BillingCurrency')}, ''), '[A-Za-z]{{3}}')
                    THEN 'BillingCurrency is not an ISO 4217 code'
            END AS reason,
            left(json_object('ChargePeriodStart', {col('ChargePeriodStart')}, 'ChargeCategory', {col('ChargeCategory')},
                'ProviderName', coalesce({col('ServiceProviderName')}, {col('ProviderName')}),
                'EffectiveCost', {col('EffectiveCost')}, 'BillingCurrency', {col('BillingCurrency')})::VARCHAR, 300) AS excerpt,
            md5({all_values}) AS row_hash, {renamed},
            {ts('BillingPeriodStart')} AS billing_period_start, {ts('BillingPeriodEnd')} AS billing_period_end,
            {ts('ChargePeriodStart')} AS charge_period_start, {ts('ChargePeriodEnd')} AS charge_period_end,
            coalesce({col('ServiceProviderName')}, {col('ProviderName')}) AS provider,
            try_cast({col('ConsumedQuantity')} AS DECIMAL(38,10)) AS consumed_quantity,
            {money('BilledCost')} AS billed_cost, {money('EffectiveCost')} AS effective_cost,
            {money('ListCost')} AS list_cost, upper({col('BillingCurrency')}) AS billing_currency,
            {extra_json} AS extra_columns
        FROM src
        """
    )
    return land(ctx, "raw.focus_charges", _COLUMNS, NAME)
