-- One row per workflow with its linked outcome's status (int_workflow_verdicts_changed).
-- Incremental: a night writes again only the workflows aggregated again or whose verdict moved.
-- Two deletes: a workflow aggregated again may have lost its last call (no verdict row to key on).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='sync_all_columns',
          pre_hook=[before_begin("{{ tokenpnl.delete_changed('int_workflows_changed', ['workflow_id']) }}"),
                    before_begin("{{ tokenpnl.delete_changed('int_workflow_verdicts_changed', ['workflow_id']) }}")]) }}
-- depends_on: {{ ref('int_llm_call_days_changed') }}
-- depends_on: {{ ref('int_workflows_changed') }}
select
    workflows.workflow_id,
    workflows.workflow_type,
    workflows.team,
    workflows.started_at,
    workflows.ended_at,
    workflows.month,
    workflows.calls,
    workflows.retry_calls,
    workflows.evaluator_calls,
    workflows.total_tokens,
    workflows.input_uncached_tokens,
    workflows.input_cache_read_tokens,
    workflows.input_cache_write_tokens,
    workflows.output_visible_tokens,
    workflows.output_reasoning_tokens,
    workflows.list_cost_usd,
    workflows.invoice_cost_usd,
    workflows.unpriced_calls,
    verdicts.outcome_id,
    verdicts.outcome_status
from {{ ref('int_workflows_aggregated') }} as workflows
inner join {{ ref('int_workflow_verdicts_changed') }} as verdicts
    on verdicts.workflow_id = workflows.workflow_id
