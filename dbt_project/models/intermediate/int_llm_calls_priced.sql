-- Each call priced with the row in effect on its UTC day: its own model id first, else its
-- base model; of the rows that apply (threshold 0, or total input above the threshold) the
-- highest threshold wins. A call with no row keeps NULL costs and is_priced = false.
{%- set prices = ['input_usd_per_mtok', 'cache_read_usd_per_mtok', 'cache_write_usd_per_mtok',
                  'cache_write_1h_usd_per_mtok', 'output_usd_per_mtok', 'reasoning_usd_per_mtok'] %}
{#- (class, its token count, its price): cache writes beyond the first hour, and the 1-hour part, apart #}
{%- set classes = [
    ('input_uncached', 'input_uncached_tokens', 'input_usd_per_mtok'),
    ('input_cache_read', 'input_cache_read_tokens', 'cache_read_usd_per_mtok'),
    ('cache_write', 'input_cache_write_tokens - input_cache_write_1h_tokens', 'cache_write_usd_per_mtok'),
    ('cache_write_1h', 'input_cache_write_1h_tokens', 'cache_write_1h_usd_per_mtok'),
    ('output_visible', 'output_visible_tokens', 'output_usd_per_mtok'),
    ('output_reasoning', 'output_reasoning_tokens', 'reasoning_usd_per_mtok'),
] %}
{%- set cost_names = {
    'input_uncached': 'cost_input_uncached_usd', 'input_cache_read': 'cost_input_cache_read_usd',
    'output_visible': 'cost_output_visible_usd', 'output_reasoning': 'cost_output_reasoning_usd',
} %}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
          pre_hook=before_begin("{{ tokenpnl.delete_changed_calls() }}")) }}
-- depends_on: {{ ref('int_llm_call_days_changed') }}
-- depends_on: {{ ref('int_llm_call_keys_changed') }}
-- depends_on: {{ ref('int_llm_call_versions_changed') }}
with calls as (
    -- Incrementally: the changed calls only (macros/incremental.sql).
    select * from {{ tokenpnl.changed_calls('int_llm_calls_deduplicated') }} as calls
),

-- The candidate rows of each (provider, day, model, base model), best first; a call takes the
-- first that applies to its input size. Chosen per combination, not per call: no per-call
-- window or second join over the calls.
candidates as (
    select
        keys.provider,
        keys.day,
        keys.model_key,
        keys.base_model_key,
        list(rates order by (rates.model_key = keys.model_key) desc, rates.min_input_tokens desc) as rates
    from (select distinct provider, day, model_key, base_model_key from calls) as keys
    inner join (
        select
            *,
            {%- for price in prices %}
            {{ tokenpnl.price_e8(price) }} as {{ price }}_e8{{ "," if not loop.last }}
            {%- endfor %}
        from {{ ref('int_prices_daily') }}
    ) as rates
        on rates.provider = keys.provider
        and rates.day = keys.day
        and rates.model_key in (keys.model_key, keys.base_model_key)
    group by all
),

matched as (
    select
        calls.*,
        list_filter(
            candidates.rates,
            lambda r: r.min_input_tokens = 0 or calls.total_input_tokens > r.min_input_tokens
        )[1] as rate
    from calls
    left join candidates
        on candidates.provider = calls.provider
        and candidates.day = calls.day
        and candidates.model_key = calls.model_key
        and candidates.base_model_key = calls.base_model_key
),

-- Each class in whole 1e-14 USD where the integer way is exact (see mtok_cost_e14), else NULL.
costed_e14 as (
    select
        matched.* exclude (rate),
        matched.rate.priced_model as priced_model,
        matched.rate.price_tier as price_tier,
        matched.rate.priced_model is not null as is_priced,
        {%- for cls, tokens, price in classes %}
        {{ tokenpnl.mtok_cost_e14(tokens, 'rate.' ~ price ~ '_e8') }} as {{ cls }}_e14,
        {%- endfor %}
        matched.rate as rate
    from matched
),

costed as (
    select
        costed_e14.* exclude (rate
            {%- for cls, tokens, price in classes %}, {{ cls }}_e14{% endfor %}),
        {%- for cls, tokens, price in classes if cls != 'cache_write_1h' %}
        {%- if cls == 'cache_write' %}
        -- The 1-hour part of the writes at the 1-hour price, the rest at the write price.
        coalesce({{ tokenpnl.e14_money('cache_write_e14') }}, {{ tokenpnl.mtok_cost(classes[2][1], 'rate.' ~ classes[2][2]) }})
            + coalesce({{ tokenpnl.e14_money('cache_write_1h_e14') }}, {{ tokenpnl.mtok_cost(classes[3][1], 'rate.' ~ classes[3][2]) }})
            as cost_input_cache_write_usd,
        {%- else %}
        coalesce({{ tokenpnl.e14_money(cls ~ '_e14') }}, {{ tokenpnl.mtok_cost(tokens, 'rate.' ~ price) }}) as {{ cost_names[cls] }},
        {%- endif %}
        {%- endfor %}
        -- The list cost in 1e-14 USD, for the exact invoice allocation downstream; NULL when a class
        -- went the decimal way (int_llm_calls_allocated then converts list_cost_usd).
        {% for cls, tokens, price in classes %}cast({{ cls }}_e14 as hugeint){{ " + " if not loop.last }}{% endfor %} as list_cost_e14
    from costed_e14
)

select
    * replace ({{ tokenpnl.built_at() }} as _built_at),
    cost_input_uncached_usd + cost_input_cache_read_usd + cost_input_cache_write_usd
        + cost_output_visible_usd + cost_output_reasoning_usd as list_cost_usd
from costed
