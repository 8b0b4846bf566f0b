-- One row per conflicting copy of a source key: a record delivered again under the key of one
-- already loaded (GitHub delivery_id, Zendesk event id, Jira event key, generic outcome_id +
-- occurred_at, provider cost result, FX day + currency) but with different content. Staging keeps
-- the first copy (`keep_first_copy`); an identical copy is a plain redelivery and is not listed.
-- The rules (key, which copy is first, which columns must agree) are in macros/key_conflicts.sql.
-- This model reads the raw tables itself: staging has already dropped the later copies.
{{ tokenpnl.key_conflicts('github_deliveries', source('raw', 'github_deliveries')) }}
union all
{{ tokenpnl.key_conflicts('zendesk_events', source('raw', 'zendesk_events')) }}
union all
{{ tokenpnl.key_conflicts('jira_events', source('raw', 'jira_events')) }}
union all
{{ tokenpnl.key_conflicts('generic_outcomes', source('raw', 'outcome_events')) }}
union all
{{ tokenpnl.key_conflicts('provider_cost_reports', source('raw', 'provider_cost_rows')) }}
union all
{{ tokenpnl.key_conflicts('fx_rates', source('raw', 'fx_rates')) }}
