-- Jira issue webhooks, one per event key (md5 of webhookEvent, issue key, timestamp and
-- changelog id: Jira bodies carry no delivery id, and a redelivered webhook counts once): the first
-- copy by file and line; a later copy with other content is quarantined by int_source_keys_conflicted.
select
    event_key,
    webhook_event,
    issue_event_type_name,
    issue_id,
    issue_key,
    occurred_at,
    changelog_id,
    status_from,
    status_to,
    status_name,
    status_category,
    resolution,
    labels,
    _source_file as source_file,
    _line as source_line
from {{ source('raw', 'jira_events') }}
{{ tokenpnl.keep_first_copy('jira_events') }}
