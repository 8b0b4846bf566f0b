-- Zendesk ticket events, one per event id (a redelivered webhook is the same event): the first copy
-- by file and line; a later copy with other content is quarantined by int_source_keys_conflicted.
-- ticket_status is the ticket's status after the event: the new status of a status change,
-- else the status in the event's ticket snapshot; a deletion or spam mark means DELETED.
select
    event_id,
    event_type,
    ticket_id,
    occurred_at,
    status_current,
    status_previous,
    case
        when event_type in (
            'zen:event-type:ticket.soft_deleted',
            'zen:event-type:ticket.permanently_deleted',
            'zen:event-type:ticket.marked_as_spam'
        ) then 'DELETED'
        else coalesce(status_current, ticket_status)
    end as ticket_status,
    group_id,
    priority,
    tags,
    tags_added,
    tags_removed,
    _source_file as source_file,
    _line as source_line
from {{ source('raw', 'zendesk_events') }}
{{ tokenpnl.keep_first_copy('zendesk_events') }}
