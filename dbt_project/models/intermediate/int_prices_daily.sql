-- The daily rate table: one row per provider, model, day and long-context threshold, for the
-- (provider, model, day) combinations the calls need. The highest-ranked book that prices a
-- model on a day wins it whole (a user book replaces the default, tiers included).
with wanted as (
    select distinct provider, model_key, day from {{ ref('int_llm_calls_deduplicated') }}
    union
    select distinct provider, base_model_key, day from {{ ref('int_llm_calls_deduplicated') }}
),

prices as (
    select prices.*, coalesce(aliases.provider, prices.provider_raw) as provider
    from {{ ref('stg_price_books__prices') }} as prices
    left join {{ ref('stg_providers__aliases') }} as aliases
        on aliases.alias = prices.provider_raw
)

select
    wanted.provider,
    wanted.model_key,
    wanted.day,
    prices.min_input_tokens,
    prices.priced_model,
    prices.price_tier,
    prices.book_rank,
    prices.book_file,
    prices.book_line,
    prices.input_usd_per_mtok,
    prices.cache_read_usd_per_mtok,
    prices.cache_write_usd_per_mtok,
    prices.cache_write_1h_usd_per_mtok,
    prices.output_usd_per_mtok,
    prices.reasoning_usd_per_mtok
from wanted
inner join prices
    on prices.provider = wanted.provider
    and prices.model_key = wanted.model_key
    and wanted.day >= prices.effective_from
    and (prices.effective_to is null or wanted.day < prices.effective_to)
qualify prices.book_rank = max(prices.book_rank) over (partition by wanted.provider, wanted.model_key, wanted.day)
