-- Each call priced with the row in effect on its UTC day: its own model id first, else its
-- base model; of the rows that apply (threshold 0, or total input above the threshold) the
-- highest threshold wins. A call with no row keeps NULL costs and is_priced = false.
with calls as (
    select * from {{ ref('int_llm_calls_deduplicated') }}
),

matched as (
    select calls.source_format, calls.call_id, rates.*
    from calls
    inner join {{ ref('int_prices_daily') }} as rates
        on rates.provider = calls.provider
        and rates.day = calls.day
        and rates.model_key in (calls.model_key, calls.base_model_key)
        and (rates.min_input_tokens = 0 or calls.total_input_tokens > rates.min_input_tokens)
    qualify row_number() over (
        partition by calls.source_format, calls.call_id
        order by (rates.model_key = calls.model_key) desc, rates.min_input_tokens desc
    ) = 1
),

costed as (
    select
        calls.*,
        matched.priced_model,
        matched.price_tier,
        matched.priced_model is not null as is_priced,
        {{ tokenpnl.mtok_cost('calls.input_uncached_tokens', 'matched.input_usd_per_mtok') }} as cost_input_uncached_usd,
        {{ tokenpnl.mtok_cost('calls.input_cache_read_tokens', 'matched.cache_read_usd_per_mtok') }} as cost_input_cache_read_usd,
        -- The 1-hour part of the writes at the 1-hour price, the rest at the write price.
        {{ tokenpnl.mtok_cost('calls.input_cache_write_tokens - calls.input_cache_write_1h_tokens', 'matched.cache_write_usd_per_mtok') }}
            + {{ tokenpnl.mtok_cost('calls.input_cache_write_1h_tokens', 'matched.cache_write_1h_usd_per_mtok') }}
            as cost_input_cache_write_usd,
        {{ tokenpnl.mtok_cost('calls.output_visible_tokens', 'matched.output_usd_per_mtok') }} as cost_output_visible_usd,
        {{ tokenpnl.mtok_cost('calls.output_reasoning_tokens', 'matched.reasoning_usd_per_mtok') }} as cost_output_reasoning_usd
    from calls
    left join matched
        on matched.source_format = calls.source_format
        and matched.call_id = calls.call_id
)

select
    *,
    cost_input_uncached_usd + cost_input_cache_read_usd + cost_input_cache_write_usd
        + cost_output_visible_usd + cost_output_reasoning_usd as list_cost_usd
from costed
