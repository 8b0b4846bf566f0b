select source_file, line, source_kind, source_format, reason, raw_excerpt, loaded_at
from {{ source('raw', 'quarantine') }}
