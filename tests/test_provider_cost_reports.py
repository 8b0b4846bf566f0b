"""I2 provider cost reports: OpenAI Costs API pages and Anthropic cost reports, through the real
ingest (both layouts, exact money, quarantine) and then the real CLI to the reconciliation marts."""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import write_jsonl
from tests.test_end_to_end import tokenpnl_run

OCT_5, OCT_6, OCT_7 = 1791158400, 1791244800, 1791331200  # 2026-10-05/06/07 00:00 UTC
SEP_15, SEP_16 = 1789430400, 1789516800


def oa_result(value, line_item: str, currency: str = "usd", project: str | None = "proj_abc") -> dict:
    return {"object": "organization.costs.result", "amount": {"value": value, "currency": currency},
            "line_item": line_item, "project_id": project}


def oa_page(*buckets: tuple[int, int, list], has_more: bool = False) -> dict:
    return {"object": "page", "has_more": has_more, "next_page": "page_x" if has_more else None,
            "data": [{"object": "bucket", "start_time": s, "end_time": e, "results": r} for s, e, r in buckets]}


def an_result(amount, token_type: str = "uncached_input_tokens", **kw) -> dict:
    return {"amount": amount, "currency": "USD", "cost_type": "tokens", "token_type": token_type,
            "description": "Claude Sonnet 4.5 Usage - Input Tokens", "model": "claude-sonnet-4-5",
            "service_tier": "standard", "context_window": "0-200k", "inference_geo": "global",
            "workspace_id": "wrkspc_01", **kw}


def an_page(*buckets: tuple[str, str, list], has_more: bool = False) -> dict:
    return {"data": [{"starting_at": s, "ending_at": e, "results": r} for s, e, r in buckets],
            "has_more": has_more, "next_page": "page_MjAy" if has_more else None}


def write_document(path: Path, page: dict, *, compress: bool = False) -> Path:
    """One page pretty-printed, as `curl … | jq .` saves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(page, indent=2) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


OPENAI_OCT = oa_page(
    (OCT_5, OCT_6, [oa_result(0.06, "gpt-5, input"), oa_result(0.165, "gpt-5, output"),
                    oa_result(1.5e-05, "gpt-5, cached input")]),
    (OCT_6, OCT_7, [oa_result(0.225, "gpt-5, input", project=None)]),
    (OCT_7, OCT_7 + 86400, []),  # a day without costs: no rows
)
ANTHROPIC_OCT = an_page(
    ("2026-10-05T00:00:00Z", "2026-10-06T00:00:00Z", [an_result("123.78912")]),
    ("2026-10-06T00:00:00Z", "2026-10-07T00:00:00Z", [an_result("2.5", "output_tokens")]),
)


def cost_rows(landing) -> list[dict]:
    return landing.rows("SELECT * FROM raw.provider_cost_rows ORDER BY _source_file, _line, bucket_start, amount")


def test_openai_pages_as_a_document_and_as_json_lines(landing):
    inv = landing.root / "invoices"
    write_document(inv / "openai" / "2026-10.json", OPENAI_OCT)
    write_document(inv / "openai" / "2026-10-copy.json.gz", OPENAI_OCT, compress=True)
    second = oa_page((SEP_15, SEP_16, [oa_result(2, "gpt-5, input", "EUR")]), has_more=True)
    write_jsonl(inv / "openai" / "pages.json", [second, OPENAI_OCT])
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined) == (4 + 4 + 5, 0)
    rows = cost_rows(landing)
    doc = [r for r in rows if r["_source_file"] == "invoices/openai/2026-10.json"]
    assert [(r["bucket_start"], r["bucket_end"], r["amount"], r["line_item"], r["project_id"]) for r in doc] == [
        (datetime(2026, 10, 5), datetime(2026, 10, 6), Decimal("0.000015"), "gpt-5, cached input", "proj_abc"),
        (datetime(2026, 10, 5), datetime(2026, 10, 6), Decimal("0.06"), "gpt-5, input", "proj_abc"),
        (datetime(2026, 10, 5), datetime(2026, 10, 6), Decimal("0.165"), "gpt-5, output", "proj_abc"),
        (datetime(2026, 10, 6), datetime(2026, 10, 7), Decimal("0.225"), "gpt-5, input", None),
    ]
    assert {(r["source"], r["provider"], r["amount_unit"], r["currency"], r["_line"]) for r in doc} == {
        ("openai_costs", "openai", "currency_unit", "USD", 1)}
    lines = [r for r in rows if r["_source_file"] == "invoices/openai/pages.json"]
    assert [(r["_line"], r["amount"], r["currency"]) for r in lines][:2] == [(1, Decimal("2"), "EUR"), (2, Decimal("0.000015"), "USD")]
    # The same page in either layout (or compressed) has the same row identities.
    keys = {}
    for r in rows:
        keys.setdefault(r["_source_file"], set()).add(r["row_key"])
    assert keys["invoices/openai/2026-10.json"] == keys["invoices/openai/2026-10-copy.json.gz"]
    assert keys["invoices/openai/2026-10.json"] < keys["invoices/openai/pages.json"]


def test_openai_amount_is_parsed_from_its_text_never_through_a_float(landing):
    text = json.dumps(oa_page((OCT_5, OCT_6, [oa_result("__A__", "a"), oa_result("__B__", "b"), oa_result("__C__", "c")])))
    text = (text.replace('"__A__"', "0.12345678901234")  # 14 decimals: a DOUBLE holds 0.12345678901234000...
                .replace('"__B__"', "123456789.12345678901234")  # beyond a DOUBLE's 17 digits
                .replace('"__C__"', "2.5E-7"))
    write_jsonl(landing.root / "invoices" / "exact.json", [text])
    landing.load()
    assert [r["amount"] for r in landing.rows("SELECT amount FROM raw.provider_cost_rows ORDER BY line_item")] == [
        Decimal("0.12345678901234"), Decimal("123456789.12345678901234"), Decimal("0.00000025")]


def test_anthropic_cost_report_keeps_cents_as_given(landing):
    write_document(landing.root / "invoices" / "anthropic" / "2026-10.json", ANTHROPIC_OCT)
    report = landing.load()
    assert report.by_format["provider_cost_reports"].loaded == 2
    first, second = cost_rows(landing)
    assert first == first | {
        "source": "anthropic_cost_report", "provider": "anthropic", "bucket_start": datetime(2026, 10, 5),
        "bucket_end": datetime(2026, 10, 6), "amount": Decimal("123.78912"), "amount_unit": "cents", "currency": "USD",
        "line_item": None, "description": "Claude Sonnet 4.5 Usage - Input Tokens", "model": "claude-sonnet-4-5",
        "cost_type": "tokens", "token_type": "uncached_input_tokens", "service_tier": "standard",
        "project_id": None, "workspace_id": "wrkspc_01", "_line": 1}
    assert second["amount"] == Decimal("2.5") and second["token_type"] == "output_tokens"


def test_broken_amounts_currencies_and_timestamps_are_quarantined(landing):
    write_jsonl(landing.root / "invoices" / "anthropic.json", [
        an_page(("2026-10-05T00:00:00Z", "2026-10-06T00:00:00Z",
                 [an_result("12.5"), an_result("12,5"), an_result(None), an_result("1", currency=None), an_result("1", currency="US Dollar"), "x"])),
        an_page(("2026-10-05 00:00:00", "2026-10-06T00:00:00Z", [an_result("1")]),
                ("2026-10-06T00:00:00Z", "2026-10-07T00:00:00Z", None),  # no results: nothing to load, nothing lost
                ("2026-10-07T00:00:00Z", "2026-10-08T00:00:00Z", {"amount": "1"})),
        "not json",
        {"data": "nope", "has_more": False},
    ])
    write_jsonl(landing.root / "invoices" / "openai.json", [
        oa_page((OCT_5, OCT_6, [oa_result("NaN", "a"), oa_result(0.5, "b")]), ("2026-10-06", OCT_7, [oa_result(1, "c")]))])
    report = landing.load()
    assert report.totals.loaded == 2
    assert [r["amount"] for r in cost_rows(landing)] == [Decimal("12.5"), Decimal("0.5")]
    reasons = sorted((q["source_file"], q["line"], q["reason"]) for q in landing.rows("SELECT * FROM raw.quarantine"))
    assert reasons == [
        ("invoices/anthropic.json", 1, "amount is not a decimal number: 12,5"),
        ("invoices/anthropic.json", 1, "currency is not an ISO 4217 code"),
        ("invoices/anthropic.json", 1, "missing amount"),
        ("invoices/anthropic.json", 1, "missing currency"),
        ("invoices/anthropic.json", 1, "result is not a JSON object"),
        ("invoices/anthropic.json", 2, "bucket results is not an array"),
        ("invoices/anthropic.json", 2, "bucket starting_at has no UTC offset: 2026-10-05 00:00:00"),
        ("invoices/anthropic.json", 3, "malformed JSON"),
        ("invoices/anthropic.json", 4, "page has no data array"),
        ("invoices/openai.json", 1, "amount is not a decimal number: NaN"),
        ("invoices/openai.json", 1, "bucket start_time is not a whole number of Unix seconds: 2026-10-06"),
    ]
    (excerpt,) = landing.rows("SELECT raw_excerpt FROM raw.quarantine WHERE reason LIKE 'missing amount'")
    assert json.loads(excerpt["raw_excerpt"])["bucket_start"] == "2026-10-05T00:00:00Z"


def test_usage_pages_are_not_cost_reports(landing):
    usage = {"object": "page", "has_more": False, "data": [{"object": "bucket", "start_time": OCT_5, "end_time": OCT_6, "results": [
        {"object": "organization.usage.completions.result", "input_tokens": 10, "output_tokens": 2}]}]}
    write_document(landing.root / "invoices" / "usage.json", usage)
    landing.load()
    (q,) = landing.rows("SELECT line, reason FROM raw.quarantine")
    assert q == {"line": 0, "reason": "content matches no known invoices format (see docs/formats.md)"}


# ---------------------------------------------------------------------------------------------
# End to end: gateway calls + cost reports (+ a FOCUS row and a non-USD page) through `tokenpnl run`.

BOOK = ("provider,model,effective_from,effective_to,input_usd_per_mtok,output_usd_per_mtok\n"
        "openai,gpt-5,2026-01-01,,1.25,10\nanthropic,claude-sonnet-4-5,2026-01-01,,3,15\n")


def calls() -> list[dict]:
    # openai: 100k in x 1.25 + 10k out x 10 per Mtok = 0.225 each; anthropic: 0.3 + 0.15 = 0.45 each.
    oa = [{"request_id": f"oa{i}", "timestamp": f"2026-10-0{5 + i}T10:00:00Z", "provider": "openai", "model": "gpt-5",
           "api": "chat.completions", "workflow_id": f"wf{i}", "usage": {"prompt_tokens": 100_000, "completion_tokens": 10_000}}
          for i in range(2)]
    an = [{"request_id": f"an{i}", "timestamp": f"2026-10-0{5 + i}T11:00:00Z", "provider": "anthropic",
           "model": "claude-sonnet-4-5", "api": "messages", "workflow_id": f"wf{i}",
           "usage": {"input_tokens": 100_000, "output_tokens": 10_000}} for i in range(2)]
    return oa + an


@pytest.mark.slow
def test_cost_reports_reconcile_and_allocate_through_the_cli(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "tokenpnl.duckdb"
    write_jsonl(landing / "gateway" / "calls.jsonl", calls())
    inv = landing / "invoices"
    write_document(inv / "openai" / "costs-2026-10.json", OPENAI_OCT)
    write_jsonl(inv / "openai" / "costs-redelivered.json", [OPENAI_OCT])  # the same page again: adds nothing
    write_document(inv / "openai" / "costs-2026-09.json", oa_page((SEP_15, SEP_16, [oa_result(2, "gpt-5, input", "eur")])))
    write_document(inv / "anthropic" / "cost-report-2026-10.json", ANTHROPIC_OCT)
    write_jsonl(inv / "anthropic" / "cost-report-again.json", [ANTHROPIC_OCT])
    (inv / "focus.csv").write_text("ChargePeriodStart,ChargeCategory,ProviderName,EffectiveCost,BillingCurrency\n"
                                   "2026-10-20T00:00:00Z,Usage,Anthropic,0.1,USD\n")  # FOCUS and cost report add up
    (landing / "fx_rates").mkdir()
    (landing / "fx_rates" / "rates.csv").write_text("day,currency,usd_per_unit\n2026-09-15,EUR,1.08\n")
    book = tmp_path / "book.csv"
    book.write_text(BOOK)

    proc = tokenpnl_run(landing, warehouse, date(2026, 10, 31), book)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        months = {(r[0], str(r[1])): r[2:] for r in con.execute(
            "SELECT provider, month, list_cost_usd, invoice_usage_cost_usd, variance_pct, status FROM marts.invoice_reconciliation").fetchall()}
        allocated = dict(con.execute("SELECT call_id, invoice_cost_usd FROM marts.fct_llm_calls").fetchall())
    finally:
        con.close()
    openai_invoice = Decimal("0.06") + Decimal("0.165") + Decimal("0.000015") + Decimal("0.225")  # once, not twice
    anthropic_invoice = (Decimal("123.78912") + Decimal("2.5")) / 100 + Decimal("0.1")  # cents -> USD, + FOCUS
    list_oa, list_an = Decimal("0.45"), Decimal("0.9")
    assert months[("openai", "2026-10-01")][:2] == (list_oa, openai_invoice)
    assert anthropic_invoice == Decimal("1.3628912")
    assert months[("anthropic", "2026-10-01")][:2] == (list_an, anthropic_invoice)
    assert months[("openai", "2026-10-01")][2] == pytest.approx(float((openai_invoice - list_oa) / list_oa * 100))
    assert months[("anthropic", "2026-10-01")][2] == pytest.approx(float((anthropic_invoice - list_an) / list_an * 100))
    assert months[("openai", "2026-10-01")][3] == "reconciled"  # +0.0033 %
    assert months[("anthropic", "2026-10-01")][3] == "over_tolerance"  # +51.4 %
    assert months[("openai", "2026-09-01")] == (None, Decimal("2.16"), None, "unallocated")  # 2 EUR at 1.08, no calls

    # Each call's share: list cost x invoice / list total, exact; the shares sum to the invoice.
    assert allocated["oa0"] == allocated["oa1"] == Decimal("0.225") * openai_invoice / list_oa == Decimal("0.2250075")
    assert allocated["an0"] == allocated["an1"] == Decimal("0.45") * anthropic_invoice / list_an == Decimal("0.6814456")

    # The re-delivered pages are in raw twice, in the models once.
    build = duckdb.connect(str(warehouse.with_name("tokenpnl.build.duckdb")), read_only=True)
    try:
        raw_rows, staged, charges = build.execute(
            "SELECT (SELECT count(*) FROM raw.provider_cost_rows), (SELECT count(*) FROM staging.stg_provider_costs__cost_rows), "
            "(SELECT count(*) FROM intermediate.int_invoice_charges_converted WHERE invoice_source <> 'focus')").fetchone()
    finally:
        build.close()
    assert (raw_rows, staged, charges) == (4 + 4 + 1 + 2 + 2, 4 + 1 + 2, 4 + 1 + 2)
