-- One row per quarantined record (or whole file, line 0): file, line, kind, reason and an
-- excerpt with any prompt text removed.
select source_file, line, source_kind, source_format, reason, raw_excerpt, loaded_at
from {{ ref('stg_quarantine__records') }}
