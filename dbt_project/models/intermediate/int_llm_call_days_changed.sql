-- Each UTC day of raw gateway records with its fingerprint (records, newest load, records before
-- the as-of instant, the price books, the aliases and the project's logic), and whether it
-- differs from the one the last complete build committed: those days' calls are rebuilt.
with current_days as (
    select
        cast(occurred_at as date) as day,
        concat_ws('|', count(*), max(_loaded_at),
            count(*) filter (where occurred_at < {{ tokenpnl.as_of_instant() }})) as raw_state
    from {{ source('raw', 'llm_calls') }}
    group by all
),

config as (
    select md5(concat_ws('|',
        '{{ tokenpnl.logic_checksum() }}',
        (select string_agg(cast(prices as varchar), ',' order by cast(prices as varchar))
            from {{ ref('stg_price_books__prices') }} as prices),
        (select string_agg(cast(aliases as varchar), ',' order by cast(aliases as varchar))
            from {{ ref('stg_providers__aliases') }} as aliases)
    )) as config_state
),

committed as (
    {{ tokenpnl.committed_fingerprints('day') }}
),

current_fingerprints as (
    select current_days.day, current_days.raw_state || '|' || config.config_state as fingerprint
    from current_days
    cross join config
)

select
    coalesce(current_fingerprints.day, cast(committed.key as date)) as day,
    current_fingerprints.fingerprint,
    current_fingerprints.fingerprint is distinct from committed.fingerprint as is_changed
from current_fingerprints
full outer join committed
    on committed.key = cast(current_fingerprints.day as varchar)
