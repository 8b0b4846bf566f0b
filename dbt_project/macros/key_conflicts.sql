{#
  Natural keys of the append-only raw tables, and what a later copy of a key may not change.

  Raw keeps every copy of a record (redeliveries, re-fetched pages, the same file dropped under
  another name). Staging keeps the FIRST copy of each key, in `order_by` order
  (`keep_first_copy`). A later copy whose `compare` columns equal the first copy's is the same
  record delivered again: it adds nothing and is not reported. A later copy that differs in any
  of them is a conflict (`key_conflicts`): it is dropped too, and `int_source_keys_conflicted`
  puts it in `marts.quarantine` with the file and line of the copy that was kept. Lineage
  (file, line, hash, loaded_at) and arrival stamps (GitHub `received_at`) are never compared.

  - relation  the raw table (a source name of `raw`)
  - key       the key expressions (partition)
  - order_by  which copy is the first: the one received first (GitHub), else the first by file
              path (relative to the landing folder) and line; deterministic, whatever the load order
  - compare   the typed columns a copy of the key must repeat
  - label     how the reason names the key
  - values    true when the excerpt may show the compared values (numbers, never text)
  - file / line / loaded_at   the lineage columns of the table
#}
{% macro key_rules() %}
    {% set lineage = {'file': '_source_file', 'line': '_line', 'loaded_at': '_loaded_at'} %}
    {% set rules = {
        'github_deliveries': {
            'kind': 'outcomes',
            'key': ['delivery_id'],
            'order_by': 'received_at, _source_file, _line',
            'compare': ['event', 'action', 'repo_full_name', 'pr_number', 'pr_title', 'pr_body', 'pr_state',
                        'pr_merged', 'pr_merged_at', 'pr_closed_at', 'pr_created_at', 'head_ref', 'head_sha',
                        'check_suite_id', 'check_status', 'check_conclusion', 'check_app', 'check_pr_numbers'],
            'label': "'delivery_id ' || delivery_id",
            'values': false,
        },
        'zendesk_events': {
            'kind': 'outcomes',
            'key': ['event_id'],
            'order_by': '_source_file, _line',
            'compare': ['event_type', 'ticket_id', 'occurred_at', 'account_id', 'status_current', 'status_previous',
                        'ticket_status', 'group_id', 'priority', 'tags', 'tags_added', 'tags_removed'],
            'label': "'event_id ' || event_id",
            'values': false,
        },
        'jira_events': {
            'kind': 'outcomes',
            'key': ['event_key'],
            'order_by': '_source_file, _line',
            'compare': ['issue_event_type_name', 'issue_id', 'project_key', 'status_from', 'status_to',
                        'status_name', 'status_category', 'resolution', 'labels'],
            'label': "'Jira ' || webhook_event || ' of ' || issue_key || ' at ' || cast(occurred_at as varchar) || coalesce(' changelog ' || changelog_id, '')",
            'values': false,
        },
        'generic_outcomes': {
            'kind': 'outcomes',
            'key': ['outcome_id', 'occurred_at'],
            'order_by': '_source_file, _line',
            'compare': ['workflow_id', 'kind', 'status', 'verified', 'policy_passed', 'value_usd'],
            'label': "'outcome_id ' || outcome_id || ' at ' || cast(occurred_at as varchar)",
            'values': false,
        },
        'provider_cost_reports': {
            'kind': 'invoices',
            'key': ['coalesce(result_key, row_key)'],
            'order_by': '_source_file, _line',
            'compare': ['amount', 'amount_unit', 'currency'],
            'label': "source || ' bucket ' || cast(bucket_start as varchar) || coalesce(' ' || coalesce(line_item, description), '')",
            'values': true,
        },
        'fx_rates': {
            'kind': 'fx_rates',
            'key': ['day', 'upper(currency)'],
            'order_by': 'source_file, line, usd_per_unit',
            'compare': ['usd_per_unit'],
            'label': "'usd_per_unit of ' || upper(currency) || ' on ' || cast(day as varchar)",
            'values': true,
            'file': 'source_file', 'line': 'line', 'loaded_at': 'loaded_at',
        },
    } %}
    {% set out = {} %}
    {% for name, rule in rules.items() %}
        {% set merged = {} %}
        {% do merged.update(lineage) %}
        {% do merged.update(rule) %}
        {% do out.update({name: merged}) %}
    {% endfor %}
    {{ return(out) }}
{% endmacro %}


{# Staging: keep the first copy of each key of format `name`'s raw table. #}
{% macro keep_first_copy(name) -%}
    {%- set rule = tokenpnl.key_rules()[name] -%}
    qualify row_number() over (partition by {{ rule.key | join(', ') }} order by {{ rule.order_by }}) = 1
{%- endmacro %}


{#
  Every later copy of a key of `relation` (format `name`) whose compared columns differ from the
  first copy's, as quarantine rows (source_file, line, source_kind, source_format, reason,
  raw_excerpt, loaded_at) plus conflict_key, kept_source_file and kept_line. The excerpt names
  the key and the differing columns (and, for numeric sources, both values); never any text.
#}
{% macro key_conflicts(name, relation) -%}
    {%- set rule = tokenpnl.key_rules()[name] -%}
    select * from (
        with copies as (
            select
                *,
                {% for k in rule.key -%}
                {{ k }} as _conflict_k{{ loop.index }},
                {% endfor -%}
                left({{ rule.label }}, 200) as _conflict_label,
                row_number() over (partition by {{ rule.key | join(', ') }} order by {{ rule.order_by }}) as _copy_no
            from {{ relation }}
        )
        select
            later.{{ rule.file }} as source_file,
            later.{{ rule.line }} as line,
            '{{ rule.kind }}' as source_kind,
            '{{ name }}' as source_format,
            'conflict: ' || later._conflict_label || ' already loaded from ' || kept.{{ rule.file }}
                || ' line ' || cast(kept.{{ rule.line }} as varchar) || ' with different content' as reason,
            cast(json_object(
                'key', later._conflict_label,
                'differs', list_filter([
                    {%- for c in rule.compare %}
                    case when kept.{{ c }} is distinct from later.{{ c }} then '{{ c }}' end{{ ',' if not loop.last }}
                    {%- endfor %}
                ], lambda x: x is not null)
                {%- if rule['values'] %},
                'kept', json_object({% for c in rule.compare %}'{{ c }}', cast(kept.{{ c }} as varchar){{ ', ' if not loop.last }}{% endfor %}),
                'conflicting', json_object({% for c in rule.compare %}'{{ c }}', cast(later.{{ c }} as varchar){{ ', ' if not loop.last }}{% endfor %})
                {%- endif %}
            ) as varchar) as raw_excerpt,
            later.{{ rule.loaded_at }} as loaded_at,
            later._conflict_label as conflict_key,
            kept.{{ rule.file }} as kept_source_file,
            kept.{{ rule.line }} as kept_line
        from copies as later
        inner join copies as kept
            on kept._copy_no = 1
            {% for k in rule.key -%}
            and kept._conflict_k{{ loop.index }} = later._conflict_k{{ loop.index }}
            {% endfor -%}
        where later._copy_no > 1
          and (
            {%- for c in rule.compare %}
            {{ 'or ' if not loop.first }}kept.{{ c }} is distinct from later.{{ c }}
            {%- endfor %}
          )
    )
{%- endmacro %}
