-- Provider cost report rows (OpenAI Costs API, Anthropic cost report), one per result: the first copy
-- (by file and line) of each result_key (source, bucket and every field but the measures; row_key in
-- rows landed before result_key existed). A re-delivered page adds nothing; a re-fetched result
-- with another amount or currency is quarantined by int_source_keys_conflicted.
-- Units are converted here, once: Anthropic amounts are in cents, so cost = amount x 0.01 as a
-- DECIMAL (exact; DECIMAL / DECIMAL would give a DOUBLE).
select
    row_key,
    coalesce(result_key, row_key) as result_key,
    source,
    lower(trim(provider)) as provider_raw,
    bucket_start,
    bucket_end,
    cast(date_trunc('month', bucket_start) as date) as charge_month,
    cast(bucket_start as date) as charge_day,
    amount,
    amount_unit,
    currency,
    case amount_unit
        when 'cents' then cast(amount * cast(0.01 as decimal(3, 2)) as decimal(38, 14))
        when 'currency_unit' then amount
    end as cost_in_currency,
    line_item,
    description,
    model,
    cost_type,
    token_type,
    service_tier,
    project_id,
    workspace_id,
    _source_file as source_file,
    _line as source_line
from {{ source('raw', 'provider_cost_rows') }}
{{ tokenpnl.keep_first_copy('provider_cost_reports') }}
