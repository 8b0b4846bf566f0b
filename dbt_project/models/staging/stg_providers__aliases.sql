select lower(trim(alias)) as alias, lower(trim(provider)) as provider
from {{ source('raw', 'provider_aliases') }}
