-- One row per quarantined record (or whole file, line 0): file, line, kind, reason and an
-- excerpt with any prompt text removed. Records ingest rejected, and later copies of a source key
-- already loaded with different content (reason `conflict: …`, int_source_keys_conflicted).
select source_file, line, source_kind, source_format, reason, raw_excerpt, loaded_at
from {{ ref('stg_quarantine__records') }}

union all

select source_file, line, source_kind, source_format, reason, raw_excerpt, loaded_at
from {{ ref('int_source_keys_conflicted') }}
