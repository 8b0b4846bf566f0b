-- Price-book rows with the spec's fallbacks applied: empty cache prices fall back to the
-- input price, an empty 1-hour write price to the write price, empty reasoning to output.
select
    book_file,
    book_rank,
    line as book_line,
    lower(trim(provider)) as provider_raw,
    model as priced_model,
    lower(model) as model_key,
    effective_from,
    effective_to,
    input_usd_per_mtok,
    coalesce(cache_read_usd_per_mtok, input_usd_per_mtok) as cache_read_usd_per_mtok,
    coalesce(cache_write_usd_per_mtok, input_usd_per_mtok) as cache_write_usd_per_mtok,
    coalesce(cache_write_1h_usd_per_mtok, cache_write_usd_per_mtok, input_usd_per_mtok) as cache_write_1h_usd_per_mtok,
    output_usd_per_mtok,
    coalesce(reasoning_usd_per_mtok, output_usd_per_mtok) as reasoning_usd_per_mtok,
    tier as price_tier,
    min_input_tokens
from {{ source('raw', 'price_book_rows') }}
