"""Seeded demo data for tokenpnl, with an independent ground truth of every mart.

`generate()` writes a realistic landing folder and a user price book, and returns a
`Truth`: the rows every mart must hold for that folder. The folder mixes every format of
shared/spec/inputs.md (`all_formats=True`, the default):

- G1 gateway JSONL in four usage shapes (most calls);
- G2 OpenTelemetry GenAI spans, OTLP/JSON export requests one per line
  (`gateway/otel/`): some workflows' calls, with invoke_agent and execute_tool spans that
  must never count, current and legacy attribute names, cache counts reported apart,
  attributes on the resource overridden by the span, and re-exported spans;
- G3 LiteLLM spend logs, one JSONL and one CSV export (`gateway/litellm/`): the
  support desk's proxy, with the gateway's own `spend`, attribution through
  `spend_logs_metadata`, request tags, team aliases and session ids, and a request logged
  twice (the later endTime wins, even from the file that sorts first);
- I1 FOCUS invoices, and I2 provider cost reports (`invoices/openai/costs/`, one
  pretty-printed OpenAI Costs API page; `invoices/anthropic/cost_report/`, Anthropic
  cost report pages one per line, amounts in cents) for the provider-months FOCUS no
  longer bills;
- O1 GitHub webhook deliveries, O2 ticket events for `support_ticket` workflows (Zendesk
  event webhooks and Jira `jira:issue_updated` webhooks), O3 generic outcome events.

`all_formats=False` writes the G1/I1/O1/O3-only folder of earlier versions, byte for byte.

The truth is a second implementation of shared/spec/rules.md, deliberately written
without DuckDB, dbt or dataframes: plain Python over the objects the generator knows
it generated (never by re-parsing the files it wrote), with exact `Decimal` money and
`Fraction` for divisions. The real pipeline is compared against it to the last
decimal, so two implementations written apart must agree.

The data is full of the traps the spec names: cached tokens inside OpenAI's prompt
count, Anthropic's input that excludes cache reads and writes, Google's thinking tokens
outside the candidates count, 1-hour cache writes, streaming duplicates, re-dropped
files, timestamps with offsets that change the UTC day or month, a mid-period price
change, a long-context price tier and its exact threshold, dated snapshot ids, an
unpriced model, FOCUS corrections billed a month late, reverts inside and at the edge
of the revert window, failed checks re-run green, restated outcomes, tickets reopened
inside, after and exactly at the end of the reopen window, escalations by tag and by
Jira transition, redelivered webhooks and re-delivered cost report pages, workflows
whose calls arrive through two formats, and a few malformed records that must be
quarantined.

Conventions for the newer formats, which the parsers follow too:

- G2: call_id = lower(traceId) + '-' + lower(spanId); occurred_at = startTimeUnixNano
  (UTC, truncated to microseconds); a call is a span whose gen_ai.operation.name is chat,
  text_completion, generate_content or embeddings AND that carries usage attributes;
  uncached = input - cache_read - cache_write unless cache_read + cache_write > input
  (reported apart: uncached = input); 1-hour writes 0; status 'error' for span status
  code 2 else 'ok'; span attributes win over resource attributes of the same key;
  gateway_reported_cost_usd and routed_from_model NULL.
- G3: call_id = request_id; occurred_at = startTime; status as given ('success',
  'failure'); gateway_reported_cost_usd = spend; routed_from_model NULL; 1-hour writes 0;
  an empty CSV cell is an absent value.
- I2: each result is a usage amount of its bucket's start month (UTC); Anthropic amounts
  are cents. They add to FOCUS amounts of the same provider-month (here: the FOCUS
  correction of openai's first month, billed in its second month's Azure file).
- O2: outcome_id 'zendesk:<id>' / 'jira:<key>', external_ref 'zendesk:<id>' / '<key>';
  links from the workflow_id:<id> tags/labels of the ticket's latest event; resolved_at
  = the first solve; value_usd NULL.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import re
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
import random

# --------------------------------------------------------------------------------------
# Product defaults (rules.md) the truth applies.
# --------------------------------------------------------------------------------------

SOURCE_FORMAT = "gateway_jsonl"
OTEL_FORMAT = "otel_spans"
LITELLM_FORMAT = "litellm_spend_logs"
REOPEN_WINDOW = timedelta(days=7)  # reopen_window_days
OUTCOME_GRACE = timedelta(days=14)  # outcome_grace_days
REVERT_WINDOW = timedelta(days=14)  # revert_window_days
TOLERANCE_PCT = 5  # reconciliation_tolerance_pct
UNATTRIBUTED = "(unattributed)"
MONEY_PLACES = 14  # money results of divisions are rounded to this many places
OK_CHECK_CONCLUSIONS = {"success", "neutral", "skipped"}
PROVIDER_ALIASES = {
    "zai": "zhipu",
    "hosted_vllm": "self_hosted",
    "moonshot_ai": "moonshot",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    # more of the shipped defaults (models/provider_aliases.csv), used by G2 and G3 records
    "vertex_ai": "google",
    "gemini": "google",
    "vllm": "self_hosted",
    "z.ai": "zhipu",
}
# Marker put into every prompt/completion text we log: it must never reach the truth
# (or the warehouse).
PROMPT_MARKER = "PROMPT-TEXT-DO-NOT-STORE"

PRICE_BOOK_HEADER = [
    "provider", "model", "effective_from", "effective_to", "input_usd_per_mtok",
    "cache_read_usd_per_mtok", "cache_write_usd_per_mtok", "cache_write_1h_usd_per_mtok",
    "output_usd_per_mtok", "reasoning_usd_per_mtok", "tier", "min_input_tokens",
]

FOCUS_COLUMNS = [
    "BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ProviderName", "ServiceProviderName", "ServiceName", "SkuId",
    "ConsumedQuantity", "ConsumedUnit", "BilledCost", "EffectiveCost", "ListCost",
    "BillingCurrency", "InvoiceId", "RegionId", "Tags",
]

# --------------------------------------------------------------------------------------
# Money and ratio helpers: the conventions the real pipeline follows.
# --------------------------------------------------------------------------------------


def round_money(value: Fraction | Decimal | int) -> Decimal:
    """Round an exact rational to 14 places, ties away from zero (ROUND_HALF_UP).

    Works on the exact fraction, so no intermediate decimal rounding can move a tie.
    """
    scaled = Fraction(value) * 10**MONEY_PLACES
    whole, rem = divmod(abs(scaled.numerator), scaled.denominator)
    if 2 * rem >= scaled.denominator:
        whole += 1
    sign = "-" if scaled < 0 and whole else ""
    return Decimal(f"{sign}{whole}E-{MONEY_PLACES}")


def div_money(num: Decimal | int | None, den: Decimal | int | None) -> Decimal | None:
    """A money result of a division: exact rational rounded to 14 places; None on 0."""
    if num is None or den is None or den == 0:
        return None
    return round_money(Fraction(num) / Fraction(den))


def ratio(num, den) -> float | None:
    """A ratio or rate (DOUBLE in the warehouse, compared with a tolerance)."""
    if num is None or den is None or den == 0:
        return None
    return float(Fraction(num) / Fraction(den))


def msum(values) -> Decimal | None:
    """SQL sum of money: the members that have the figure, None when none has it."""
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


def normalise_provider(name: str) -> str:
    low = name.strip().lower()
    return PROVIDER_ALIASES.get(low, low)


def month_of(d: date | datetime) -> date:
    return date(d.year, d.month, 1)


def next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def render_ts(at: datetime, style: str) -> str:
    """RFC 3339 as gateways write it; `at` is naive UTC."""
    ms = at.microsecond // 1000
    if style == "z":
        return f"{at:%Y-%m-%dT%H:%M:%S}Z"
    if style == "plus2":
        local = at + timedelta(hours=2)
        return f"{local:%Y-%m-%dT%H:%M:%S}.{ms:03d}+02:00"
    return f"{at:%Y-%m-%dT%H:%M:%S}.{ms:03d}Z"


def _gh_ts(at: datetime) -> str:
    """GitHub payload times: second precision, Z."""
    return f"{at:%Y-%m-%dT%H:%M:%S}Z"


def _money_str(d: Decimal) -> str:
    return format(d, "f")


Q10 = Decimal("1E-10")

# --------------------------------------------------------------------------------------
# The model catalogue and the user price book.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """A model as the gateway logs it, and which usage fields it reports."""

    provider: str  # as logged (maybe an alias such as zai or hosted_vllm)
    model: str
    api: str  # chat.completions | responses | messages | generate_content
    caches: bool = True  # reports cache reads
    writes_cache: bool = False  # reports cache writes
    one_hour: bool = False  # may split writes into 5-minute and 1-hour parts
    reasons: bool = False  # reports reasoning / thinking tokens
    vllm: bool = False  # an OpenAI-compatible open-weight server


SONNET = ModelSpec("anthropic", "claude-sonnet-4-6", "messages", writes_cache=True, one_hour=True, reasons=True)
HAIKU = ModelSpec("anthropic", "claude-haiku-4-5", "messages", writes_cache=True, one_hour=True)
GPT = ModelSpec("openai", "gpt-5.4", "responses", reasons=True)
GPT_MINI = ModelSpec("openai", "gpt-5.4-mini", "chat.completions")
GEMINI_PRO = ModelSpec("google", "gemini-2.5-pro", "generate_content", reasons=True)
GEMINI_FLASH = ModelSpec("google", "gemini-2.5-flash", "generate_content", reasons=True)
GLM = ModelSpec("zai", "glm-5.2", "chat.completions", writes_cache=True, reasons=True)
QWEN = ModelSpec("hosted_vllm", "qwen3.8-27b", "chat.completions", reasons=True, vllm=True)
KIMI = ModelSpec("moonshot_ai", "kimi-k3", "chat.completions")
EXPERIMENTAL = ModelSpec("self_hosted", "internal-experimental-7b", "chat.completions", caches=False, vllm=True)

# A dated snapshot id with no row of its own: it must resolve to the glm-5.2 row.
# glm-5.2 is fictional enough that no default book can hold this dated id.
GLM_SNAPSHOT = "glm-5.2-20260915"
GLM_SNAPSHOT_FROM = date(2026, 9, 15)
LONG_CONTEXT_THRESHOLD = 200_000


@dataclass(frozen=True)
class PriceRow:
    provider: str
    model: str
    effective_from: date
    effective_to: date | None
    input: Decimal
    cache_read: Decimal | None
    cache_write: Decimal | None
    cache_write_1h: Decimal | None
    output: Decimal
    reasoning: Decimal | None
    tier: str
    min_input_tokens: int
    min_input_raw: str  # as written in the CSV ("", "0" or a number)

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def applies_to(self, total_input: int) -> bool:
        return self.min_input_tokens <= 0 or total_input > self.min_input_tokens


def _price_row(provider, model, frm, to, inp, cr, cw, cw1h, out, rsn, tier, min_in) -> PriceRow:
    dec = lambda s: Decimal(s) if s else None  # noqa: E731 - empty cell = fall back
    return PriceRow(provider, model, frm, to, Decimal(inp), dec(cr), dec(cw), dec(cw1h),
                    Decimal(out), dec(rsn), tier, int(min_in or 0), min_in)


def price_change_day(start: date, days: int) -> date:
    """The day gpt-5.4-mini gets cheaper: three quarters into the period."""
    return start + timedelta(days=(days * 3) // 4)


def build_price_book(start: date, days: int) -> list[PriceRow]:
    """The user book: every priced model we log, covering the whole period.

    Features exercised: a mid-period price change (gpt-5.4-mini), a long-context tier
    (gemini-2.5-pro above 200k input), a 1-hour cache-write price (sonnet) and an empty
    one that falls back to the cache-write price (haiku), a reasoning price that differs
    from output (glm-5.2), empty cache/reasoning cells that fall back to input/output
    (qwen), and an unpriced model (internal-experimental-7b has no row anywhere).
    """
    since = date(2026, 1, 1) if start >= date(2026, 1, 1) else start
    change = price_change_day(start, days)
    r = _price_row
    return [
        r("anthropic", "claude-sonnet-4-6", since, None, "3.0000", "0.3000", "3.7500", "6.0000", "15.0000", "", "frontier", "0"),
        r("anthropic", "claude-haiku-4-5", since, None, "1.0000", "0.1000", "1.2500", "", "5.0000", "", "mid", "0"),
        r("openai", "gpt-5.4", since, None, "2.5000", "0.2500", "", "", "15.0000", "", "frontier", "0"),
        r("openai", "gpt-5.4-mini", since, change, "0.7500", "0.0750", "", "", "4.5000", "", "mid", "0"),
        r("openai", "gpt-5.4-mini", change, None, "0.6000", "0.0600", "", "", "3.6000", "", "mid", "0"),
        r("google", "gemini-2.5-pro", since, None, "1.2500", "0.1250", "", "", "10.0000", "", "frontier", "0"),
        r("google", "gemini-2.5-pro", since, None, "2.5000", "0.2500", "", "", "15.0000", "", "frontier", str(LONG_CONTEXT_THRESHOLD)),
        r("google", "gemini-2.5-flash", since, None, "0.3000", "0.0300", "", "", "2.5000", "", "mid", ""),
        r("zhipu", "glm-5.2", since, None, "0.6000", "0.1100", "0.6000", "", "2.2000", "1.7500", "open_weight", "0"),
        r("self_hosted", "qwen3.8-27b", since, None, "0.0812", "", "", "", "0.3247", "", "self_hosted", ""),
        r("moonshot", "kimi-k3", since, None, "0.6000", "0.1500", "", "", "2.5000", "", "open_weight", "0"),
    ]


def write_price_book(path: Path, rows: list[PriceRow]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PRICE_BOOK_HEADER)
    cell = lambda d: "" if d is None else _money_str(d)  # noqa: E731
    for p in rows:
        w.writerow([p.provider, p.model, p.effective_from.isoformat(),
                    p.effective_to.isoformat() if p.effective_to else "", cell(p.input),
                    cell(p.cache_read), cell(p.cache_write), cell(p.cache_write_1h),
                    cell(p.output), cell(p.reasoning), p.tier, p.min_input_raw])
    path.write_text(buf.getvalue(), encoding="utf-8")


# --------------------------------------------------------------------------------------
# Generated facts: calls, workflows, pull requests, outcome events, invoice rows.
# --------------------------------------------------------------------------------------


@dataclass
class Tokens:
    """The five disjoint classes (and the 1-hour subset of cache writes)."""

    uncached: int
    cache_read: int
    cache_write: int
    cache_write_1h: int
    visible: int
    reasoning: int

    @property
    def total_input(self) -> int:
        return self.uncached + self.cache_read + self.cache_write

    @property
    def total(self) -> int:
        return self.total_input + self.visible + self.reasoning


@dataclass
class Call:
    """One distinct LLM call as generated: its final version."""

    call_id: str
    occurred_at: datetime  # naive UTC
    spec: ModelSpec
    model: str  # as logged (may be a dated snapshot id)
    tokens: Tokens
    workflow_id: str | None = None
    workflow_type: str | None = None  # as logged on this record
    team: str | None = None  # as logged on this record
    step: str | None = None
    attempt: int = 1
    status: str = "ok"
    user: str | None = None
    routed_from: str | None = None
    provider_logged: str = ""
    ts_style: str = "z_ms"  # z_ms | z | plus2
    omit_api: bool = False
    omit_attempt: bool = False
    with_text: bool = False
    latency_ms: int = 0
    shape_roll: float = 0.0  # which optional usage fields this record carries
    partial: Tokens | None = None  # an earlier streaming version, logged first
    source: str = SOURCE_FORMAT  # the format that carries it: gateway_jsonl | otel_spans | litellm_spend_logs
    trace_id: str | None = None  # otel_spans: the trace (one per workflow) it belongs to
    gateway_cost: Decimal | None = None  # litellm_spend_logs: the gateway's own `spend`

    @property
    def provider(self) -> str:
        return normalise_provider(self.provider_logged)


@dataclass
class WorkflowPlan:
    workflow_id: str
    workflow_type: str
    team: str | None
    calls: list[Call]
    scenario: str | None = None  # which outcome story the generator tells for it
    partner: WorkflowPlan | None = None  # the second workflow behind the same PR

    @property
    def start(self) -> datetime:
        return self.calls[0].occurred_at

    @property
    def end(self) -> datetime:
        return self.calls[-1].occurred_at


@dataclass
class PrState:
    """A PR as one pull_request delivery shows it."""

    received_at: datetime
    action: str
    state: str  # open | closed
    merged: bool
    merged_at: datetime | None
    closed_at: datetime | None
    head_sha: str
    delivery_id: str


@dataclass
class CheckSuite:
    received_at: datetime
    head_sha: str
    app_id: int
    app_slug: str
    action: str  # completed | rerequested
    conclusion: str | None
    delivery_id: str


@dataclass
class PullRequest:
    repo: str
    number: int
    title: str
    body: str
    branch: str
    author: str
    created_at: datetime
    links: list[str]  # workflow ids named by trailers, else by the head branch
    reverts: int | None = None  # the PR number this one reverts (by body or title)
    states: list[PrState] = field(default_factory=list)
    checks: list[CheckSuite] = field(default_factory=list)
    redeliver_last: bool = False  # its last delivery arrives twice (same delivery_id)
    duplicate_check: bool = False  # a check_suite line repeated verbatim

    @property
    def head_sha(self) -> str:
        return self.states[-1].head_sha

    @property
    def final(self) -> PrState:
        return max(self.states, key=lambda s: s.received_at)


@dataclass
class OutcomeEvent:
    """A generic (O3) outcome event."""

    outcome_id: str
    workflow_id: str
    occurred_at: datetime
    kind: str
    status: str
    verified: bool
    policy_passed: bool | None  # None: field omitted
    evidence: list[str]
    value_usd: Decimal | None
    ts_style: str = "z"


@dataclass
class TicketEvent:
    """One O2 ticket event: a Zendesk event webhook or a Jira issue_updated webhook."""

    event_id: str  # Zendesk event uuid; Jira changelog id
    at: datetime  # naive UTC (Zendesk: whole seconds; Jira: milliseconds)
    kind: str  # status | tags | group (Zendesk) ; status | labels (Jira)
    previous: str | None  # status before a status change (Zendesk upper-case, Jira status name)
    current: str  # status after the event
    tags: list[str]  # the ticket's tags / labels after the event
    tags_added: list[str] = field(default_factory=list)
    tags_removed: list[str] = field(default_factory=list)
    group: str | None = None  # Zendesk group after the event
    previous_group: str | None = None


@dataclass
class Ticket:
    system: str  # zendesk | jira
    ticket: str  # Zendesk ticket id, Jira issue key
    issue_id: str  # Jira numeric issue id ('' for Zendesk)
    created_at: datetime
    events: list[TicketEvent] = field(default_factory=list)
    redelivered: str | None = None  # an event id delivered twice

    @property
    def outcome_id(self) -> str:
        return f"{self.system}:{self.ticket}"


@dataclass
class FocusRow:
    provider: str  # normalised, for the truth
    provider_name: str
    service_provider_name: str | None
    service_name: str
    account: str
    billing_period_start: datetime
    charge_period_start: datetime
    charge_period_end: datetime
    category: str
    charge_class: str
    sku: str
    description: str
    quantity: int
    unit: str
    effective_cost: Decimal
    billed_cost: Decimal
    list_cost: Decimal
    invoice_id: str


@dataclass
class PricedCall:
    costs: dict[str, Decimal] | None  # per class; None when unpriced
    list_cost: Decimal | None
    priced_model: str | None
    tier: str | None

    @property
    def is_priced(self) -> bool:
        return self.costs is not None


# --------------------------------------------------------------------------------------
# Pricing (rules.md §1).
# --------------------------------------------------------------------------------------

_SNAPSHOT_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")


def price_call(call: Call, book: list[PriceRow]) -> PricedCall:
    day = call.occurred_at.date()

    def rows_for(model: str) -> list[PriceRow]:
        return [r for r in book if r.provider == call.provider and r.model == model and r.in_effect(day)]

    model, rows = call.model, rows_for(call.model)
    if not rows and _SNAPSHOT_SUFFIX.search(call.model):
        model = _SNAPSHOT_SUFFIX.sub("", call.model)
        rows = rows_for(model)
    t = call.tokens
    applicable = [r for r in rows if r.applies_to(t.total_input)]
    if not applicable:
        return PricedCall(None, None, None, None)
    row = max(applicable, key=lambda r: r.min_input_tokens)
    mtok = Decimal(1_000_000)
    cache_read = row.cache_read if row.cache_read is not None else row.input
    cache_write = row.cache_write if row.cache_write is not None else row.input
    cache_write_1h = row.cache_write_1h if row.cache_write_1h is not None else cache_write
    reasoning = row.reasoning if row.reasoning is not None else row.output
    costs = {
        "cost_input_uncached_usd": t.uncached * row.input / mtok,
        "cost_input_cache_read_usd": t.cache_read * cache_read / mtok,
        "cost_input_cache_write_usd": (t.cache_write_1h * cache_write_1h
                                       + (t.cache_write - t.cache_write_1h) * cache_write) / mtok,
        "cost_output_visible_usd": t.visible * row.output / mtok,
        "cost_output_reasoning_usd": t.reasoning * reasoning / mtok,
    }
    return PricedCall(costs, sum(costs.values(), Decimal(0)), model, row.tier)


COST_COLUMNS = ["cost_input_uncached_usd", "cost_input_cache_read_usd", "cost_input_cache_write_usd",
                "cost_output_visible_usd", "cost_output_reasoning_usd"]
CLASS_COLUMNS = ["input_uncached_tokens", "input_cache_read_tokens", "input_cache_write_tokens",
                 "output_visible_tokens", "output_reasoning_tokens"]

# --------------------------------------------------------------------------------------
# Usage rendering: the same five classes in each provider's own shape (inputs.md G1).
# --------------------------------------------------------------------------------------


def render_usage(spec: ModelSpec, t: Tokens, roll: float) -> dict:
    """The provider's usage object for these classes; `roll` picks optional fields."""
    if spec.api == "chat.completions":
        prompt = t.total_input  # OpenAI's prompt count includes cached tokens
        completion = t.visible + t.reasoning
        usage: dict = {"prompt_tokens": prompt, "completion_tokens": completion,
                       "total_tokens": prompt + completion}
        if t.cache_read or t.cache_write or roll < 0.5:
            details: dict = {"cached_tokens": t.cache_read}
            if t.cache_write:
                details["cache_write_tokens"] = t.cache_write
            if not spec.vllm:
                details["audio_tokens"] = 0
            usage["prompt_tokens_details"] = details
        elif spec.vllm and roll < 0.8:
            usage["prompt_tokens_details"] = None  # vLLM writes null: means zero
        if t.reasoning or roll < 0.4:
            usage["completion_tokens_details"] = {"reasoning_tokens": t.reasoning}
            if not spec.vllm:
                usage["completion_tokens_details"].update(
                    accepted_prediction_tokens=0, rejected_prediction_tokens=0)
        return usage
    if spec.api == "responses":
        prompt, output = t.total_input, t.visible + t.reasoning
        details = {"cached_tokens": t.cache_read}
        if t.cache_write:
            details["cache_write_tokens"] = t.cache_write
        return {"input_tokens": prompt, "input_tokens_details": details,
                "output_tokens": output, "output_tokens_details": {"reasoning_tokens": t.reasoning},
                "total_tokens": prompt + output}
    if spec.api == "messages":
        # Anthropic's input_tokens excludes cache reads and writes.
        usage = {"input_tokens": t.uncached}
        if t.cache_read or roll < 0.8:
            usage["cache_read_input_tokens"] = t.cache_read
        if t.cache_write or roll < 0.8:
            usage["cache_creation_input_tokens"] = t.cache_write
        if t.cache_write_1h or (t.cache_write and roll < 0.5):
            usage["cache_creation"] = {"ephemeral_5m_input_tokens": t.cache_write - t.cache_write_1h,
                                       "ephemeral_1h_input_tokens": t.cache_write_1h}
        usage["output_tokens"] = t.visible + t.reasoning
        if t.reasoning:
            usage["output_tokens_details"] = {"thinking_tokens": t.reasoning}
        usage["service_tier"] = "standard"
        return usage
    if spec.api == "generate_content":
        prompt = t.uncached + t.cache_read  # includes cachedContentTokenCount
        usage = {"promptTokenCount": prompt}
        if t.cache_read:
            usage["cachedContentTokenCount"] = t.cache_read
        usage["candidatesTokenCount"] = t.visible  # excludes thinking tokens
        if t.reasoning:
            usage["thoughtsTokenCount"] = t.reasoning
        usage["totalTokenCount"] = prompt + t.visible + t.reasoning
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
        return usage
    raise ValueError(spec.api)


# --------------------------------------------------------------------------------------
# The generator.
# --------------------------------------------------------------------------------------

WORKFLOW_TYPES = [("code_change", 5), ("itinerary_booking", 3), ("support_reply", 4)]
# all_formats: part of the support work becomes ticket work, judged by Zendesk and Jira
WORKFLOW_TYPES_ALL = [("code_change", 5), ("itinerary_booking", 3), ("support_reply", 2), ("support_ticket", 3)]
TEAMS = {"code_change": ["payments", "search", "platform"], "itinerary_booking": ["travel"],
         "support_reply": ["support"], "support_ticket": ["support"]}
REPOS = {"payments": "acme/ledger", "search": "acme/search-api", "platform": "acme/platform-infra"}
REPO_KEYS = {"acme/ledger": "LED", "acme/search-api": "SRCH", "acme/platform-infra": "PLAT"}
USERS = {
    "payments": ["dana@example.com", "ravi@example.com"],
    "search": ["mei@example.com", "tom@example.com"],
    "platform": ["ops-bot@example.com", "lena@example.com"],
    "travel": ["booking-agent@example.com", "sam@example.com"],
    "support": ["helpdesk@example.com", "ana@example.com"],
    None: ["svc-batch@example.com"],
}
APP_ACTIONS = (15368, "github-actions")
APP_SCAN = (57789, "security-scan")
APP_COVERAGE = (254, "codecov")
PR_PHRASES = ["Fix rounding in {x} export", "Add retry to {x} client", "Refactor {x} parser",
              "Speed up {x} query", "Handle empty {x} batch", "Bump {x} timeout",
              "Validate {x} input", "Log {x} latency"]
PR_NOUNS = ["ledger", "settlement", "index", "ranking", "cache", "webhook", "invoice", "auth"]

# code_change outcome stories and their weights for the random part
CODE_SCENARIOS = [
    ("merged", 50), ("merged_neutral", 6), ("checks_failed", 4), ("checks_failed_second_app", 2),
    ("rerun_green", 5), ("old_sha_failed", 3), ("reverted", 5), ("reverted_late", 2),
    ("revert_closed", 1), ("closed_unmerged", 7), ("reopened_merged", 2), ("reopened_open", 1),
    ("open", 3), ("none", 9),
]
# stories every dataset must contain at least once (given enough days)
FORCED_CODE_SCENARIOS = [
    "reverted", "revert_title_only", "reverted_late", "revert_at_window_edge", "checks_failed",
    "checks_failed_second_app", "rerun_green", "old_sha_failed", "closed_unmerged",
    "reopened_merged", "reopened_open", "revert_closed", "merged_redelivered",
]
GENERIC_SCENARIOS = [
    ("accepted", 55), ("accepted_no_policy_field", 5), ("not_verified", 7), ("policy_failed", 6),
    ("rejected", 8), ("pending", 5), ("restated_to_accepted", 6), ("restated_to_rejected", 3),
    ("none", 9),
]
FORCED_GENERIC_SCENARIOS = ["not_verified", "policy_failed", "rejected", "pending",
                            "restated_to_accepted", "restated_to_rejected", "accepted_no_policy_field"]
# support_ticket outcome stories (O2); zd_* are Zendesk tickets, jira_* Jira issues
TICKET_SCENARIOS = [
    ("zd_solved", 40), ("zd_solved_closed", 8), ("zd_reopened", 4), ("zd_reopened_late", 2),
    ("zd_escalated", 4), ("zd_group_only", 5), ("zd_open", 4), ("zd_closed_unsolved", 2),
    ("jira_done", 12), ("jira_resolved", 3), ("jira_reopened", 2), ("jira_escalated", 2),
    ("jira_open", 2), ("none", 10),
]
FORCED_TICKET_SCENARIOS = [
    "zd_reopened", "zd_reopened_late", "zd_reopened_at_edge", "zd_escalated", "zd_group_only",
    "zd_escalated_after_solve", "zd_escalated_open", "zd_closed_unsolved", "zd_retagged",
    "zd_redelivered", "zd_solved_closed", "zd_open", "jira_reopened", "jira_escalated",
    "jira_labels_later", "jira_resolved", "jira_open", "jira_reopened_late",
]
ZENDESK_GROUPS = {"tier1": "360001", "billing": "360002", "tier2": "360007"}
ZENDESK_OPEN = {"NEW", "OPEN", "PENDING", "HOLD"}
ZENDESK_SOLVED = {"SOLVED", "CLOSED"}
JIRA_CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Escalated": "indeterminate",
                 "Waiting for customer": "indeterminate", "Done": "done", "Resolved": "done", "Closed": "done"}
JIRA_STATUS_IDS = {"To Do": "10000", "In Progress": "3", "Escalated": "10102", "Waiting for customer": "10101",
                   "Done": "10001", "Resolved": "5", "Closed": "6"}
JIRA_DONE = {name for name, cat in JIRA_CATEGORY.items() if cat == "done"}
STEP_SIZES = {  # (input lo, input hi, output lo, output hi)
    "plan": (3_000, 12_000, 300, 1_500), "execute": (8_000, 60_000, 400, 4_000),
    "review": (5_000, 30_000, 200, 1_200), "evaluate": (2_000, 15_000, 40, 400),
    "tool_summary": (1_000, 6_000, 80, 600), None: (500, 20_000, 50, 2_000),
    "classify": (300, 4_000, 5, 60),
}


@dataclass
class World:
    calls: list[Call]
    workflows: list[WorkflowPlan]
    prs: list[PullRequest]
    events: list[OutcomeEvent]
    other_deliveries: list[dict]  # GitHub events that are not used (push, issue_comment)
    tickets: list[Ticket] = field(default_factory=list)


class _Generator:
    def __init__(self, seed: int, start: date, days: int, workflows_per_day: int, all_formats: bool = False):
        self.rng = random.Random(seed)
        # every choice the newer formats add draws from a second stream, so the
        # G1/I1/O1/O3-only folder stays byte for byte what it was
        self.frng = random.Random(seed * 1_000_003 + 101)
        self.all_formats = all_formats
        self.planted_calls: set[int] = set()  # id() of calls placed on purpose at a boundary
        self.tickets: list[Ticket] = []
        self._ticket_seq = {"zendesk": 35_400, "jira": 0}
        self.seed = seed
        self.start = start
        self.days = days
        self.wpd = workflows_per_day
        self.as_of = start + timedelta(days=days - 1)
        self.instant = _midnight(self.as_of + timedelta(days=1))  # the as-of instant
        self.limit = self.instant - timedelta(minutes=1)  # nothing is stamped later
        self._counter = 0
        self._pr_numbers = {repo: 1200 + 100 * i for i, repo in enumerate(sorted(REPO_KEYS))}
        self.calls: list[Call] = []
        self.workflows: list[WorkflowPlan] = []
        self.prs: list[PullRequest] = []
        self.events: list[OutcomeEvent] = []
        self.other_deliveries: list[dict] = []

    # ---- small deterministic helpers -------------------------------------------------

    def _hex(self, prefix: str, n: int) -> str:
        self._counter += 1
        return prefix + hashlib.sha1(f"{self.seed}:{prefix}:{self._counter}".encode()).hexdigest()[:n]

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def _seconds(self, lo: float, hi: float) -> timedelta:
        return timedelta(milliseconds=self.rng.randint(int(lo * 1000), int(hi * 1000)))

    def _pick(self, weighted):
        names, weights = zip(*weighted)
        return self.rng.choices(names, weights=weights)[0]

    # ---- calls -----------------------------------------------------------------------

    def _tokens(self, spec: ModelSpec, step: str | None, first: bool, long_context=False) -> Tokens:
        r = self.rng
        lo, hi, olo, ohi = STEP_SIZES.get(step, STEP_SIZES[None])
        total_in = r.randint(LONG_CONTEXT_THRESHOLD + 1, 420_000) if long_context else r.randint(lo, hi)
        cache_read = cache_write = one_hour = 0
        if spec.caches and not first and r.random() < 0.75:
            cache_read = int(total_in * r.uniform(0.2, 0.9))
        if spec.writes_cache and (first or r.random() < 0.15):
            cache_write = min(total_in - cache_read, r.randint(1_024, 8_000))
            if spec.one_hour and r.random() < 0.35:
                one_hour = cache_write if r.random() < 0.5 else r.randint(0, cache_write)
        reasoning = 0
        if spec.reasons and step in ("plan", "execute", "review", None) and r.random() < 0.6:
            reasoning = r.randint(100, 3_000)
        return Tokens(total_in - cache_read - cache_write, cache_read, cache_write, one_hour,
                      r.randint(olo, ohi), reasoning)

    def _call(self, at: datetime, spec: ModelSpec, tokens: Tokens, **kw) -> Call:
        r = self.rng
        style = self._pick([("z_ms", 70), ("z", 15), ("plus2", 15)])
        if style == "z":
            at = at.replace(microsecond=0)
        model = spec.model
        if spec is GLM and at.date() >= GLM_SNAPSHOT_FROM and r.random() < 0.5:
            model = GLM_SNAPSHOT
        call = Call(
            call_id=self._hex("req_", 16), occurred_at=at, spec=spec, model=model, tokens=tokens,
            provider_logged=spec.provider, ts_style=style,
            # where api is missing the usage shape decides; only unambiguous shapes omit it
            omit_api=spec.api in ("chat.completions", "generate_content") and r.random() < 0.08,
            omit_attempt=kw.get("attempt", 1) == 1 and r.random() < 0.3,
            with_text=r.random() < 0.2, latency_ms=r.randint(150, 25_000), shape_roll=r.random(),
            **kw)
        if spec is GEMINI_FLASH and r.random() < 0.05:
            call.provider_logged = "Google"  # provider names are lower-cased
        self.calls.append(call)
        return call

    def _steps(self, wtype: str) -> list[tuple[str, ModelSpec]]:
        r = self.rng
        if wtype == "code_change":
            steps = [("plan", SONNET)]
            steps += [("execute", SONNET if r.random() < 0.6 else GLM) for _ in range(r.randint(2, 6))]
            steps.append(("review", GPT))
            if r.random() < 0.7:
                steps.append(("evaluate", GEMINI_FLASH))
            if r.random() < 0.5:
                steps.append(("tool_summary", QWEN if r.random() < 0.85 else EXPERIMENTAL))
        elif wtype == "itinerary_booking":
            steps = [("plan", GPT_MINI)]
            steps += [("execute", GEMINI_PRO) for _ in range(r.randint(2, 5))]
            if r.random() < 0.6:
                steps.append(("evaluate", HAIKU))
            if r.random() < 0.4:
                steps.append(("tool_summary", QWEN))
        else:
            steps = [("plan", KIMI if r.random() < 0.5 else HAIKU)]
            steps += [("execute", HAIKU if r.random() < 0.7 else GPT_MINI) for _ in range(r.randint(2, 4))]
            if r.random() < 0.3:
                steps.append(("review", GPT_MINI))
            if r.random() < 0.6:
                steps.append(("evaluate", GEMINI_FLASH))
        return steps

    def workflow(self, wtype: str, team: str | None, start: datetime, *, labels_late=False,
                 log_team=True) -> WorkflowPlan:
        """A workflow of several calls; execute steps may fail and be retried."""
        r = self.rng
        wf = WorkflowPlan(self._hex("wf_", 10), wtype, team, [])
        tool_team = "platform" if team != "platform" and r.random() < 0.03 else None
        user = r.choice(USERS[team])
        at = start
        for i, (step, spec) in enumerate(self._steps(wtype)):
            attempts = 1
            if step == "execute" and r.random() < 0.12:
                attempts = 3 if r.random() < 0.25 else 2
            for attempt in range(1, attempts + 1):
                failed = attempt < attempts
                long_ctx = spec is GEMINI_PRO and step == "execute" and r.random() < 0.06
                tokens = self._tokens(spec, step, first=(i == 0 and attempt == 1), long_context=long_ctx)
                if failed:  # the input was processed, the output cut short
                    tokens.visible, tokens.reasoning = r.randint(0, 40), 0
                routed = None
                if spec is GLM and r.random() < 0.5:
                    routed = SONNET.model
                elif spec is KIMI and r.random() < 0.4:
                    routed = HAIKU.model
                unlabeled = labels_late and not wf.calls
                call_team = team if log_team else None
                if step == "tool_summary" and tool_team:
                    call_team = tool_team  # a shared tool service logs its own team
                call = self._call(
                    at, spec, tokens, workflow_id=wf.workflow_id,
                    workflow_type=None if unlabeled else wtype,
                    team=None if unlabeled else call_team, step=step, attempt=attempt,
                    status="error" if failed else "ok", user=user, routed_from=routed)
                wf.calls.append(call)
                at = call.occurred_at + self._seconds(4, 120)
        self.workflows.append(wf)
        return wf

    def unattributed(self, at: datetime, spec: ModelSpec | None = None, style: str | None = None) -> Call:
        """A call with no workflow_id: it counts in spend, never in a workflow."""
        r = self.rng
        spec = spec or r.choice([GPT_MINI, GEMINI_FLASH, HAIKU, QWEN, GLM, KIMI, EXPERIMENTAL])
        step = "classify" if r.random() < 0.3 else None
        team = "search" if r.random() < 0.5 else None
        call = self._call(at, spec, self._tokens(spec, step, first=r.random() < 0.5), step=step,
                          team=team, user=r.choice(USERS[team]))
        if style:
            call.ts_style = style
            if style == "z":
                call.occurred_at = call.occurred_at.replace(microsecond=0)
        return call

    # ---- the population --------------------------------------------------------------

    def build(self) -> World:
        r = self.rng
        types = WORKFLOW_TYPES_ALL if self.all_formats else WORKFLOW_TYPES
        for d in range(self.days):
            day = self.start + timedelta(days=d)
            # the last day's workflows finish before the as-of instant
            latest = 86_399 if d < self.days - 1 else 22 * 3600
            for _ in range(self.wpd):
                wtype = self._pick(types)
                team = r.choice(TEAMS[wtype])
                start = _midnight(day) + self._seconds(0, latest)
                self.workflow(wtype, team, start, labels_late=r.random() < 0.03)
            for _ in range(r.randint(6, 12)):
                self.unattributed(_midnight(day) + self._seconds(0, latest))
        before = len(self.calls)
        self._plant_calls()
        self.planted_calls = {id(c) for c in self.calls[before:]}
        self.calls.sort(key=lambda c: (c.occurred_at, c.call_id))
        self.workflows.sort(key=lambda w: (w.start, w.workflow_id))
        self._outcomes()
        return World(self.calls, self.workflows, self.prs, self.events, self.other_deliveries, self.tickets)

    def _in_period(self, at: datetime) -> bool:
        return _midnight(self.start) <= at < self.limit

    def _plant_calls(self) -> None:
        """Calls placed on purpose at the boundaries the rules care about."""
        start = _midnight(self.start)
        # a workflow that starts 90 s before a month ends: its calls spill into the next
        # month (spend there) but all its per-workflow figures stay in the month it started
        m = next_month(self.start)
        cross = _midnight(m) - timedelta(seconds=90)
        if self._in_period(cross + timedelta(hours=1)):
            self.workflow("code_change", "payments", cross)
            # +02:00 shows the next month's date; in UTC it is the previous month
            self.unattributed(_midnight(m) - timedelta(minutes=45), HAIKU, "plus2")
        # the gpt-5.4-mini price change: exactly at midnight UTC, and 30 min before it
        # written with +02:00 (looks like the new day, priced at the old price)
        change = _midnight(price_change_day(self.start, self.days))
        if self._in_period(change) and change > start:
            self.unattributed(change, GPT_MINI, "z")
            self.unattributed(change - timedelta(minutes=30), GPT_MINI, "plus2")
        # workflows with no outcome exactly at the grace boundary and one second after
        edge = self.instant - OUTCOME_GRACE
        if edge >= start:
            for offset in (timedelta(0), timedelta(seconds=1)):
                wf = self.workflow("support_reply", "support", edge + offset)
                wf.scenario = "none"
                wf.calls[0].ts_style = "plus2" if offset == timedelta(0) else "z"
        # a workflow whose calls never name a team; and one labelled only after its first call
        mid = start + timedelta(days=self.days // 2, hours=9)
        self.workflow("code_change", None, mid, log_team=False)
        self.workflow("itinerary_booking", "travel", mid + timedelta(minutes=7), labels_late=True)
        self._plant_long_context()

    def _plant_long_context(self) -> None:
        """Two gemini-2.5-pro calls at exactly 200,000 input tokens (NOT above the tier
        threshold) and one at 200,001 (above it)."""
        pro = [c for c in self.calls if c.spec is GEMINI_PRO and c.tokens.total_input < 150_000]
        for call, total in zip(pro[5::40], (LONG_CONTEXT_THRESHOLD, LONG_CONTEXT_THRESHOLD, LONG_CONTEXT_THRESHOLD + 1)):
            cached = self.rng.randint(0, 120_000)
            call.tokens.cache_read, call.tokens.uncached = cached, total - cached

    # ---- outcomes --------------------------------------------------------------------

    def _outcomes(self) -> None:
        r = self.rng
        code = [w for w in self.workflows if w.workflow_type == "code_change" and w.scenario is None]
        generic = [w for w in self.workflows if w.workflow_type not in ("code_change", "support_ticket")
                   and w.scenario is None]
        ticket_wfs = [w for w in self.workflows if w.workflow_type == "support_ticket" and w.scenario is None]
        self._assign_forced(code, generic)
        for wf in code:
            if wf.scenario is None:
                wf.scenario = self._pick(CODE_SCENARIOS)
        for wf in generic:
            if wf.scenario is None:
                wf.scenario = self._pick(GENERIC_SCENARIOS)
        for wf in code:
            if wf.scenario not in ("none", "two_workflows_second"):
                self._code_change_pr(wf)
        for wf in generic:
            if wf.scenario != "none":
                self._generic_events(wf)
        self._human_prs(code)
        # an outcome that names a workflow that does not exist
        at = _midnight(self.start) + timedelta(days=min(3, self.days - 1), hours=15)
        self.events.append(OutcomeEvent("bk_manual0001", "wf_manual_0001", at, "itinerary_booked",
                                        "accepted", True, True, ["crm://case/88121"], Decimal("55.00")))
        if ticket_wfs:
            self._tickets(ticket_wfs)
        # drop every event past the as-of instant: none are generated after it
        self.events = [e for e in self.events if e.occurred_at < self.limit]
        for t in self.tickets:
            t.events = [e for e in t.events if e.at < self.limit]
            if t.redelivered not in {e.event_id for e in t.events}:
                t.redelivered = None
        self.tickets = [t for t in self.tickets if t.events]
        for pr in self.prs:
            pr.states = [s for s in pr.states if s.received_at < self.limit]
            pr.checks = [c for c in pr.checks if c.received_at < self.limit]
        self.prs = [pr for pr in self.prs if pr.states]
        self.other_deliveries = [d for d in self.other_deliveries if d["_at"] < self.limit]

    def _assign_forced(self, code: list[WorkflowPlan], generic: list[WorkflowPlan]) -> None:
        """Make sure every story the spec names occurs at least once."""
        early = [w for w in code if w.start < _midnight(self.start) + timedelta(days=10)]
        for wf, scenario in zip(early, FORCED_CODE_SCENARIOS):
            wf.scenario = scenario
        # a merge exactly at as-of instant - 14 days: the window has passed (verified)
        edge = self.instant - REVERT_WINDOW
        for wf in code:
            if wf.scenario is None and edge - timedelta(days=2) < wf.start and wf.end < edge - timedelta(hours=1):
                wf.scenario = "merged_at_window_edge"
                break
        # one PR for two workflows of the same team (trailers name both)
        pool = [w for w in code if w.scenario is None and w.team is not None
                and _midnight(self.start) + timedelta(days=4) < w.start < _midnight(self.start) + timedelta(days=12)]
        for a in pool:
            b = next((w for w in pool if w is not a and w.team == a.team and w.start > a.end
                      and month_of(w.start) == month_of(a.start)), None)
            if b:
                a.scenario, b.scenario, a.partner = "two_workflows", "two_workflows_second", b
                break
        # still open at the as-of instant
        late = [w for w in code if w.scenario is None and w.start > self.instant - timedelta(days=2)]
        if late:
            late[0].scenario = "open"
        for wf, scenario in zip(generic[1::4], FORCED_GENERIC_SCENARIOS):
            wf.scenario = scenario

    # GitHub ---------------------------------------------------------------------------

    def _new_pr(self, repo: str, opened: datetime, *, title: str | None = None, body: str,
                branch: str, links: list[str], author="acme-agent[bot]", reverts=None) -> PullRequest:
        self._pr_numbers[repo] += 1
        number = self._pr_numbers[repo]
        if title is None:
            phrase = self.rng.choice(PR_PHRASES).format(x=self.rng.choice(PR_NOUNS))
            title = f"{phrase} ({REPO_KEYS[repo]}-{number})"  # unique: revert titles match one PR
        pr = PullRequest(repo, number, title, body, branch, author, opened, links, reverts)
        self._deliver_state(pr, opened, "opened", "open", self._sha())
        self.prs.append(pr)
        return pr

    def _recv(self, at: datetime) -> datetime:
        return at + self._seconds(0.3, 3)

    def _deliver_state(self, pr: PullRequest, at: datetime, action: str, state: str, sha: str,
                       merged=False) -> None:
        pr.states.append(PrState(self._recv(at), action, state, merged, at if merged else None,
                                 at if state == "closed" else None, sha, self._uuid()))

    def _close(self, pr, at, merged, sha=None):
        self._deliver_state(pr, at, "closed", "closed", sha or pr.head_sha, merged=merged)

    def _check(self, pr, at, conclusion, app=APP_ACTIONS, sha=None, action="completed"):
        pr.checks.append(CheckSuite(self._recv(at), sha or pr.head_sha, app[0], app[1], action,
                                    conclusion if action == "completed" else None, self._uuid()))

    def _after(self, at: datetime, lo_s: float, hi_s: float) -> datetime:
        """A later event time, whole seconds (GitHub payload times have no fraction)."""
        return (at + self._seconds(lo_s, hi_s)).replace(microsecond=0)

    def _code_change_pr(self, wf: WorkflowPlan) -> None:
        r, s = self.rng, wf.scenario
        repo = REPOS.get(wf.team or "", "acme/platform-infra")
        linked = [wf]
        if s == "two_workflows":
            linked.append(wf.partner)
        opened = self._after(max(w.end for w in linked), 60, 1200)
        ids = [w.workflow_id for w in linked]
        mode = "trailer" if len(ids) > 1 or s == "revert_title_only" else r.choice(["trailer", "agent", "ai"])
        if s == "reverted":
            mode = "agent"  # so its revert branch revert-N-agent/<id> tests the anchored link
        if mode == "trailer":
            keys = ["Workflow-Id", "workflow-id", "WORKFLOW-ID", "Workflow-ID"]
            trailers = "\n".join(f"{keys[(i + len(self.prs)) % len(keys)]}: {w}" for i, w in enumerate(ids))
            body = f"Automated change.\n\nTests updated.\n\nCo-authored-by: agent <agent@example.com>\n{trailers}\n"
            branch = f"feat/{r.choice(PR_NOUNS)}-{r.randint(100, 999)}"
        else:
            body, branch = "Automated change by the coding agent.", f"{mode}/{wf.workflow_id}"
        pr = self._new_pr(repo, opened, body=body, branch=branch, links=ids)
        checked = self._after(opened, 240, 900)
        merge_at = self._after(checked, 1800, 36 * 3600)
        if s == "merged_at_window_edge":
            merge_at = self.instant - REVERT_WINDOW
        if s == "checks_failed":
            self._check(pr, checked, r.choice(["failure", "timed_out"]))
        elif s == "checks_failed_second_app":
            self._check(pr, checked, "success")
            self._check(pr, self._after(checked, 5, 60), "failure", APP_SCAN)
        elif s == "rerun_green":
            self._check(pr, checked, "failure")
            rerun = self._after(checked, 600, 3600)
            self._check(pr, rerun, None, action="rerequested")
            self._check(pr, self._after(rerun, 120, 600), "success")
        elif s == "old_sha_failed":
            self._check(pr, checked, "failure")  # on the first push only
        else:
            self._check(pr, checked, "success")
            if s == "merged_neutral":
                self._check(pr, self._after(checked, 5, 60), r.choice(["neutral", "skipped"]), APP_COVERAGE)
        if s == "old_sha_failed":
            new_sha = self._sha()  # a fix pushed after the failure; checks pass on it
            self._check(pr, self._after(checked, 900, 1800), "success", sha=new_sha)
            self._close(pr, merge_at, True, sha=new_sha)
        elif s == "closed_unmerged":
            self._close(pr, merge_at, False)
        elif s in ("reopened_merged", "reopened_open"):
            self._close(pr, merge_at, False)
            reopened = self._after(merge_at, 3600, 86_400)
            self._deliver_state(pr, reopened, "reopened", "open", pr.head_sha)
            if s == "reopened_merged":
                self._close(pr, self._after(reopened, 1800, 7200), True)
        elif s != "open":
            self._close(pr, merge_at, True)
        if s == "merged_redelivered":
            pr.redeliver_last, pr.duplicate_check = True, True
        if s in ("reverted", "revert_title_only", "reverted_late", "revert_at_window_edge", "revert_closed"):
            self._revert(pr, s)
        if r.random() < 0.1:
            self.other_deliveries.append(self._issue_comment(pr, self._after(opened, 60, 3600)))

    def _revert(self, pr: PullRequest, s: str) -> None:
        merged_at = pr.final.merged_at
        if s == "reverted":
            revert_merge = self._after(merged_at, 86_400, 10 * 86_400)
        elif s == "revert_title_only":
            revert_merge = self._after(merged_at, 3600, 5 * 86_400)
        elif s == "reverted_late":
            revert_merge = self._after(merged_at, 15 * 86_400, 20 * 86_400)
        elif s == "revert_at_window_edge":
            revert_merge = merged_at + REVERT_WINDOW  # not before the window's end: no revert
        else:
            revert_merge = self._after(merged_at, 3600, 3 * 86_400)
        opened = revert_merge - timedelta(minutes=47)
        title = f'Revert "{pr.title}"'
        if s == "revert_title_only":  # a hand-made revert: only the title says so
            body, branch = "Rolling back: broke the nightly settlement job.", f"rollback/{pr.number}"
        else:  # as GitHub's Revert button writes it; the branch must not link
            body, branch = f"Reverts {pr.repo}#{pr.number}", f"revert-{pr.number}-{pr.branch}"
        rev = self._new_pr(pr.repo, opened, title=title, body=body, branch=branch, links=[],
                           author="lena", reverts=pr.number)
        self._check(rev, opened + timedelta(minutes=6), "success")
        self._close(rev, revert_merge, s != "revert_closed")

    def _human_prs(self, code: list[WorkflowPlan]) -> None:
        """PRs nobody's agent wrote (unlinked outcomes), and one whose trailer names a
        workflow that does not exist."""
        for i, wf in enumerate(code[::12]):
            repo = REPOS.get(wf.team or "", "acme/platform-infra")
            opened = self._after(wf.start, 3600, 7200)
            if i == 1:
                pr = self._new_pr(repo, opened, body="Manual follow-up.\n\nWorkflow-Id: wf_0000dead\n",
                                  branch="fix/follow-up", links=["wf_0000dead"], author="tom")
            else:
                pr = self._new_pr(repo, opened, body="Small cleanup.", branch=f"feature/cleanup-{i}",
                                  links=[], author="mei")
            self._check(pr, self._after(opened, 300, 600), "success")
            merge_at = self._after(opened, 7200, 30_000)
            self._close(pr, merge_at, True)
            self.other_deliveries.append(self._push(pr, self._after(merge_at, 1, 5)))

    def _repo_obj(self, full_name: str) -> dict:
        owner, name = full_name.split("/")
        return {"id": 70_000 + sorted(REPO_KEYS).index(full_name), "name": name, "full_name": full_name,
                "owner": {"login": owner, "type": "Organization"}, "private": True,
                "default_branch": "main", "html_url": f"https://github.com/{full_name}"}

    def _issue_comment(self, pr: PullRequest, at: datetime) -> dict:
        return {"_at": self._recv(at), "event": "issue_comment", "delivery_id": self._uuid(),
                "payload": {"action": "created",
                            "issue": {"number": pr.number, "title": pr.title, "pull_request": {}},
                            "comment": {"body": "LGTM", "user": {"login": "ravi"}, "created_at": _gh_ts(at)},
                            "repository": self._repo_obj(pr.repo), "sender": {"login": "ravi"}}}

    def _push(self, pr: PullRequest, at: datetime) -> dict:
        sha = self._sha()
        return {"_at": self._recv(at), "event": "push", "delivery_id": self._uuid(),
                "payload": {"ref": "refs/heads/main", "before": pr.head_sha, "after": sha,
                            "commits": [{"id": sha, "message": f"Merge pull request #{pr.number}"}],
                            "repository": self._repo_obj(pr.repo), "sender": {"login": pr.author}}}

    # generic --------------------------------------------------------------------------

    def _generic_events(self, wf: WorkflowPlan) -> None:
        r, s = self.rng, wf.scenario
        booking = wf.workflow_type == "itinerary_booking"
        oid = self._hex("bk_" if booking else "sr_", 10)
        kind = "itinerary_booked" if booking else "support_resolved"
        if booking:
            value = Decimal(f"{r.uniform(8, 120):.2f}")
        else:
            value = Decimal(f"{r.uniform(3, 10):.2f}") if r.random() < 0.5 else None
        evidence = [f"s3://acme-evidence/{oid}/receipt.pdf"] if booking else [f"zendesk://ticket/{r.randint(10_000, 99_999)}"]
        at = self._after(wf.end, 120, 6 * 3600)
        style = "plus2" if r.random() < 0.2 else "z"

        def event(when, status, verified=True, policy=True, val=value):
            self.events.append(OutcomeEvent(oid, wf.workflow_id, when, kind, status, verified, policy,
                                            evidence, val, style))

        if s == "accepted":
            event(at, "accepted")
        elif s == "accepted_no_policy_field":
            event(at, "accepted", policy=None)
        elif s == "not_verified":
            event(at, "accepted", verified=False)
        elif s == "policy_failed":
            event(at, "accepted", policy=False)
        elif s == "rejected":
            event(at, "rejected", verified=False, val=None)
        elif s == "pending":
            event(at, "pending", verified=False, val=None)
        elif s == "restated_to_accepted":
            event(at, "pending", verified=False, val=None)
            event(self._after(at, 3600, 3 * 86_400), "accepted")
        elif s == "restated_to_rejected":  # accepted, then cancelled
            event(at, "accepted")
            event(self._after(at, 3600, 2 * 86_400), "rejected", verified=True, val=None)


    # tickets (O2) ---------------------------------------------------------------------

    def _tickets(self, wfs: list[WorkflowPlan]) -> None:
        """A ticket per support_ticket workflow (most in Zendesk, some in Jira), plus
        tickets nobody's agent worked on (linked to no workflow)."""
        r, start = self.frng, _midnight(self.start)
        early = [w for w in wfs if w.start < start + timedelta(days=12)]
        for wf, scenario in zip(early, FORCED_TICKET_SCENARIOS):
            wf.scenario = scenario
        # solved within the last days: its reopen window is still open at the as-of instant
        recent = [w for w in wfs if w.scenario is None and w.start > self.instant - timedelta(days=6)
                  and w.end < self.instant - timedelta(days=1)]
        if recent:
            recent[0].scenario = "zd_solved_recent"
        for wf in wfs:
            if wf.scenario is None:
                names, weights = zip(*TICKET_SCENARIOS)
                wf.scenario = r.choices(names, weights=weights)[0]
            if wf.scenario != "none":
                self._ticket_story(wf.scenario, wf.start, wf.end, wf.workflow_id)
        for days, scenario in ((2, "zd_solved"), (3, "jira_done")):
            if days < self.days:
                opened = start + timedelta(days=days, hours=10, seconds=r.randint(0, 3000))
                self._ticket_story(scenario, opened, opened + timedelta(minutes=20), None)

    def _ticket_story(self, s: str, begin: datetime, end: datetime, workflow_id: str | None) -> None:
        r = self.frng
        secs = lambda lo, hi: timedelta(milliseconds=r.randint(int(lo * 1000), int(hi * 1000)))  # noqa: E731
        tag = f"workflow_id:{workflow_id}" if workflow_id else None
        if s.startswith("jira"):
            self._ticket_seq["jira"] += 1
            n = self._ticket_seq["jira"]
            labels = ["ai_assisted"] + ([tag] if tag and s != "jira_labels_later" else [])
            log = _TicketLog(self, Ticket("jira", f"SUP-{n}", str(10_300 + n), begin - secs(60, 1800)),
                             "To Do", labels, None)
            log.move(begin + secs(1, 30), "In Progress")
            if s == "jira_labels_later" and tag:
                log.retag(end + secs(30, 300), added=[tag])
            if s == "jira_escalated":
                log.move(end + secs(60, 3600), "Escalated")  # handed to a human before solving
            if s == "jira_open":
                if r.random() < 0.5:
                    log.move(end + secs(600, 86_400), "Waiting for customer")
                return
            solved = log.move(end + secs(600, 30 * 3600), "Resolved" if s == "jira_resolved" else "Done")
            if s == "jira_reopened":  # done -> in progress inside the window
                again = log.move(solved.at + secs(3 * 3600, 6 * 86_400), "In Progress")
                log.move(again.at + secs(3600, 2 * 86_400), "Done")
            elif s == "jira_reopened_late":
                again = log.move(solved.at + REOPEN_WINDOW + secs(3600, 3 * 86_400), "In Progress")
                log.move(again.at + secs(3600, 86_400), "Done")
            return
        self._ticket_seq["zendesk"] += 1
        topic = r.choice(["billing", "shipping", "refund", "login"])
        group = ZENDESK_GROUPS["billing" if topic in ("billing", "refund") else "tier1"]
        created = begin - secs(120, 5400)
        log = _TicketLog(self, Ticket("zendesk", str(self._ticket_seq["zendesk"]), "", created),
                         "NEW", ["ai_assisted", topic], group)
        log.move(created + secs(5, 90), "OPEN")
        if s == "zd_retagged" and tag:  # the agent tagged the wrong workflow first, then fixed it
            wrong = f"workflow_id:wf_{r.getrandbits(40):010x}"
            log.retag(begin + secs(1, 20), added=[wrong])
            log.retag(end + secs(60, 600), added=[tag], removed=[wrong])
        elif tag:
            log.retag(begin + secs(1, 20), added=[tag])
        solve_at = end + (secs(600, 7200) if s == "zd_solved_recent" else secs(300, 30 * 3600))
        if s in ("zd_escalated", "zd_escalated_open"):
            esc = log.retag(end + secs(60, 240), added=["escalated"])
            log.assign(esc.at + secs(2, 30), ZENDESK_GROUPS["tier2"])
            solve_at = max(solve_at, esc.at + timedelta(hours=1))
        if s == "zd_group_only":  # reassigned, not escalated (human_groups is empty by default)
            log.assign(end + secs(60, 240), ZENDESK_GROUPS["tier2" if r.random() < 0.5 else "billing"])
        if s in ("zd_open", "zd_escalated_open"):
            if r.random() < 0.7:
                log.move(end + secs(600, 86_400), r.choice(["PENDING", "HOLD"]))
            return
        if s == "zd_closed_unsolved":
            log.move(end + secs(600, 3 * 86_400), "CLOSED")
            return
        if r.random() < 0.3:
            log.move(end + (solve_at - end) / 2, "PENDING")
        solved = log.move(solve_at, "SOLVED")
        if s == "zd_redelivered":
            log.ticket.redelivered = solved.event_id
        last = solved
        if s == "zd_reopened":
            again = log.move(solved.at + secs(2 * 3600, 6 * 86_400 + 20 * 3600), r.choice(["OPEN", "PENDING"]))
            last = log.move(again.at + secs(3600, 30 * 3600), "SOLVED")
        elif s in ("zd_reopened_late", "zd_reopened_at_edge"):
            late = secs(3600, 4 * 86_400) if s == "zd_reopened_late" else timedelta(0)
            again = log.move(solved.at + REOPEN_WINDOW + late, "OPEN")  # at the edge: not inside
            last = log.move(again.at + secs(3600, 30 * 3600), "SOLVED")
        elif s == "zd_escalated_after_solve":  # escalated only after solving: still a success
            log.retag(solved.at + secs(86_400, 3 * 86_400), added=["escalated"])
        if s == "zd_solved_closed" or (s in ("zd_solved", "zd_reopened_late") and r.random() < 0.3):
            log.move(last.at + timedelta(days=4) + secs(0, 6 * 3600), "CLOSED")  # closed keeps it solved


class _TicketLog:
    """Builds a ticket's event history; every event strictly later than the one before."""

    def __init__(self, gen: _Generator, ticket: Ticket, status: str, tags: list[str], group: str | None):
        self.gen, self.ticket, self.status, self.tags, self.group = gen, ticket, status, list(tags), group
        gen.tickets.append(ticket)

    def _event(self, at: datetime, kind: str, **kw) -> TicketEvent:
        zendesk = self.ticket.system == "zendesk"
        at = at.replace(microsecond=0 if zendesk else at.microsecond // 1000 * 1000)
        if self.ticket.events and at <= self.ticket.events[-1].at:
            at = self.ticket.events[-1].at + timedelta(seconds=1)
        if zendesk:
            event_id = str(uuid.UUID(int=self.gen.frng.getrandbits(128), version=4))
        else:
            event_id = str(88_000 + sum(len(t.events) for t in self.gen.tickets if t.system == "jira"))
        e = TicketEvent(event_id, at, kind, kw.pop("previous", None), self.status, list(self.tags),
                        group=self.group, **kw)
        self.ticket.events.append(e)
        return e

    def move(self, at: datetime, status: str) -> TicketEvent:
        previous, self.status = self.status, status
        return self._event(at, "status", previous=previous)

    def retag(self, at: datetime, added=(), removed=()) -> TicketEvent:
        self.tags = [t for t in self.tags if t not in removed] + [t for t in added if t not in self.tags]
        kind = "tags" if self.ticket.system == "zendesk" else "labels"
        return self._event(at, kind, tags_added=list(added), tags_removed=list(removed))

    def assign(self, at: datetime, group: str) -> TicketEvent:
        previous, self.group = self.group, group
        return self._event(at, "group", previous_group=previous)


# --------------------------------------------------------------------------------------
# Invoices (I1 FOCUS): built from the list cost the truth computes per provider-month.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Biller:
    slug: str
    provider_name: str
    service_provider_name: str | None  # None: the file has no ServiceProviderName column
    service_name: str
    account: str
    region: str


BILLERS = {
    "openai": Biller("azure-openai", "Microsoft", "OpenAI", "Azure OpenAI Service", "ea-4471-0093", "eastus2"),
    "anthropic": Biller("bedrock", "AWS", "Anthropic", "Amazon Bedrock", "acct-512034779911", "us-east-1"),
    "google": Biller("vertex", "Google", None, "Vertex AI", "0157A2-9C3F11-22AB90", "us-central1"),
    # "ZAI" lower-cases to zai, an alias of zhipu
    "zhipu": Biller("zai", "Zhipu AI", "ZAI", "GLM API", "zai-ent-3321", "global"),
    "mistral": Biller("mistral", "Mistral", "Mistral", "La Plateforme", "mst-00912", "eu-west"),
}


def build_invoices(rng: random.Random, priced_by_pm: dict[tuple[str, date], list[PricedCall]],
                   months: list[date], skip: set[tuple[str, date]] = frozenset()) -> dict[str, list[FocusRow]]:
    """FOCUS files per (provider, month). Usage differs from list cost by a few percent;
    google's last month is over tolerance; zhipu's last month has no invoice yet
    (awaiting_invoice); self_hosted and moonshot are never billed; mistral bills a
    month in which we logged no calls (unallocated); openai's first month gets a
    correction billed in the second month's file; every file has a Tax row. The
    provider-months in `skip` are billed by a provider cost report instead (I2)."""
    files: dict[str, list[FocusRow]] = {}
    last = months[-1]
    for provider in ("openai", "anthropic", "google", "zhipu"):
        for idx, m in enumerate(months):
            calls = [p for p in priced_by_pm.get((provider, m), []) if p.is_priced]
            if not calls or (provider == "zhipu" and m == last and len(months) > 1) or (provider, m) in skip:
                continue
            factor = Decimal("1.074") if (provider == "google" and m == last) else \
                Decimal(1) + Decimal(rng.randint(-400, 400)) / 10_000
            total = (sum((p.list_cost for p in calls), Decimal(0)) * factor).quantize(Q10, ROUND_HALF_UP)
            rows = _usage_rows(rng, provider, m, calls, total)
            rows.append(_charge_row(provider, m, m, "Tax", "", "TAX", "Sales tax",
                                    (total * Decimal("0.0825")).quantize(Decimal("0.01"), ROUND_HALF_UP)))
            if provider == "anthropic" and idx == 0:
                rows.append(_charge_row(provider, m, m, "Credit", "", "PROMO", "Promotional credit",
                                        Decimal("-25.00")))
            files[_invoice_path(provider, m, idx)] = rows
    if len(months) > 1:  # a correction of month 0, billed in month 1's openai file
        m0, m1 = months[0], months[1]
        path = _invoice_path("openai", m1, 1)
        m0_list = sum((p.list_cost for p in priced_by_pm.get(("openai", m0), []) if p.is_priced), Decimal(0))
        if path in files and m0_list:
            fix = (m0_list * Decimal("0.0061")).quantize(Q10, ROUND_HALF_UP)
            files[path].append(_charge_row("openai", m1, m0 + timedelta(days=9), "Usage", "Correction",
                                           "gpt-output-tokens", "Correction: under-metered output tokens",
                                           fix, days=1))
    files[_invoice_path("mistral", last, len(months) - 1)] = [
        _charge_row("mistral", last, last, "Usage", "", "mistral-large-batch", "Batch inference",
                    Decimal("42.1700000000")),
        _charge_row("mistral", last, last, "Tax", "", "TAX", "VAT", Decimal("8.43")),
    ]
    return files


def _invoice_path(provider: str, m: date, idx: int) -> str:
    b = BILLERS[provider]
    ext = "csv.gz" if (provider == "google" and idx == 0) else "csv"
    return f"invoices/{b.slug}/{m:%Y-%m}/focus_{b.slug}_{m:%Y%m}.{ext}"


def _usage_rows(rng, provider, m, calls: list[PricedCall], total: Decimal) -> list[FocusRow]:
    """Split a month's usage over SKUs and two half-month charge periods."""
    classes = {
        "input-tokens": sum(p.costs["cost_input_uncached_usd"] + p.costs["cost_input_cache_write_usd"] for p in calls),
        "cached-input-tokens": sum(p.costs["cost_input_cache_read_usd"] for p in calls),
        "output-tokens": sum(p.costs["cost_output_visible_usd"] + p.costs["cost_output_reasoning_usd"] for p in calls),
    }
    half = m + timedelta(days=15)
    parts = []
    for sku, cost in classes.items():
        if cost <= 0:
            continue
        split = Decimal(rng.randint(40, 60)) / 100
        parts.append((sku, m, cost * split * Decimal(rng.randint(90, 110)) / 100))
        parts.append((sku, half, cost * (1 - split) * Decimal(rng.randint(90, 110)) / 100))
    weight = sum(w for _, _, w in parts)
    rows, running = [], Decimal(0)
    for i, (sku, period, w) in enumerate(parts):
        amount = total - running if i == len(parts) - 1 else (total * w / weight).quantize(Q10, ROUND_HALF_UP)
        running += amount
        days = 15 if period == m else (next_month(m) - half).days
        rows.append(_charge_row(provider, m, period, "Usage", "", f"{provider}-{sku}",
                                f"{sku.replace('-', ' ')}", amount, days=days))
    return rows


def _charge_row(provider, billing_month: date, period: date, category, charge_class, sku,
                description, amount: Decimal, days: int | None = None) -> FocusRow:
    b = BILLERS[provider]
    start = _midnight(period)
    end = _midnight(next_month(period)) if days is None else start + timedelta(days=days)
    amount = amount.quantize(Q10, ROUND_HALF_UP) if category == "Usage" else amount
    billed = amount if provider != "anthropic" else (amount * Decimal("0.97")).quantize(Q10, ROUND_HALF_UP)
    return FocusRow(
        provider=provider, provider_name=b.provider_name, service_provider_name=b.service_provider_name,
        service_name=b.service_name, account=b.account, billing_period_start=_midnight(billing_month),
        charge_period_start=start, charge_period_end=end, category=category, charge_class=charge_class,
        sku=sku, description=description,
        quantity=int(abs(amount) * 250_000) if category == "Usage" else 1,
        unit="Tokens" if category == "Usage" else "Each", effective_cost=amount,
        billed_cost=billed, list_cost=(amount * Decimal("1.12")).quantize(Q10, ROUND_HALF_UP),
        invoice_id=f"INV-{b.slug.upper()}-{billing_month:%Y%m}")


def write_invoice(path: Path, rows: list[FocusRow]) -> None:
    columns = [c for c in FOCUS_COLUMNS if c != "ServiceProviderName" or rows[0].service_provider_name]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for row in rows:
        bp = row.billing_period_start
        values = {
            "BillingAccountId": row.account, "BillingAccountName": "Acme Corp",
            "BillingPeriodStart": _gh_ts(bp), "BillingPeriodEnd": _gh_ts(_midnight(next_month(bp.date()))),
            "ChargePeriodStart": _gh_ts(row.charge_period_start), "ChargePeriodEnd": _gh_ts(row.charge_period_end),
            "ChargeCategory": row.category, "ChargeClass": row.charge_class,
            "ChargeDescription": row.description, "ProviderName": row.provider_name,
            "ServiceProviderName": row.service_provider_name or "", "ServiceName": row.service_name,
            "SkuId": row.sku, "ConsumedQuantity": str(row.quantity), "ConsumedUnit": row.unit,
            "BilledCost": _money_str(row.billed_cost), "EffectiveCost": _money_str(row.effective_cost),
            "ListCost": _money_str(row.list_cost), "BillingCurrency": "USD", "InvoiceId": row.invoice_id,
            "RegionId": BILLERS[row.provider].region,
            "Tags": json.dumps({"cost-center": "ai-platform", "env": "prod"}),
        }
        w.writerow({c: values[c] for c in columns})
    _write_bytes(path, buf.getvalue().encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)  # mtime 0: byte-identical across runs
    path.write_bytes(data)


# --------------------------------------------------------------------------------------
# Gateway files: records, streaming duplicates, re-dropped files, bad records.
# --------------------------------------------------------------------------------------


def gateway_record(call: Call, tokens: Tokens) -> dict:
    rec: dict = {"request_id": call.call_id, "timestamp": render_ts(call.occurred_at, call.ts_style),
                 "provider": call.provider_logged, "model": call.model}
    if not call.omit_api:
        rec["api"] = call.spec.api
    rec["status"] = call.status
    rec["latency_ms"] = call.latency_ms
    if call.workflow_id:
        rec["workflow_id"] = call.workflow_id
    if call.workflow_type:
        rec["workflow_type"] = call.workflow_type
    if call.step:
        rec["step"] = call.step
    if not call.omit_attempt:
        rec["attempt"] = call.attempt
    if call.team:
        rec["team"] = call.team
    if call.user:
        rec["user"] = call.user
    if call.team:
        rec["tags"] = [f"team:{call.team}"]
    if call.routed_from:
        rec["routing"] = {"default_model": call.routed_from, "selected_by": "router"}
    if call.with_text:  # prompt and completion text: must be dropped at ingest
        rec["messages"] = [{"role": "system", "content": f"{PROMPT_MARKER} You are a careful agent."},
                           {"role": "user", "content": f"{PROMPT_MARKER} customer card ending 4242"}]
        rec["response"] = f"{PROMPT_MARKER} Here is the plan."
    rec["usage"] = render_usage(call.spec, tokens, call.shape_roll)
    return rec


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(", ", ": "), ensure_ascii=False)


def _compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class _GatewayWriter:
    """Lays the calls out as daily folders of two files each, plants the duplicates and
    the bad records, and returns where the bad records are."""

    def __init__(self, rng: random.Random, start: date, days: int, bad_records: bool):
        self.rng, self.start, self.days, self.bad_records = rng, start, days, bad_records

    def _paths(self, d: int) -> tuple[str, str]:
        day = self.start + timedelta(days=d)
        folder = f"gateway/{day:%Y/%m/%d}"
        first = "calls-0001.ndjson" if d % 7 == 5 else "calls-0001.jsonl"
        second = "calls-0002.jsonl.gz" if d % 3 == 1 else "calls-0002.jsonl"
        return f"{folder}/{first}", f"{folder}/{second}"

    def write(self, landing: Path, calls: list[Call]) -> list[tuple[str, int]]:
        r = self.rng
        redrop_day = min(14, self.days - 1)
        bad_days = {"malformed": min(9, self.days - 1), "no_offset": min(9, self.days - 1),
                    "negative": min(20, self.days - 1)}
        lines: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        by_day = defaultdict(list)
        for c in calls:
            by_day[(c.occurred_at.date() - self.start).days].append(c)
        streaming = 0
        self.streamed: set[str] = set()  # lines of streamed requests: never duplicated
        for d in range(self.days):
            first, second = self._paths(d)
            for c in by_day.get(d, []):
                rec = _dumps(gateway_record(c, c.tokens))
                # a streaming gateway logged this request twice with growing usage: the
                # earlier version in the file that sorts first, same timestamp
                if (d != redrop_day and streaming < 3 * self.days // 4 + 1
                        and c.spec.api in ("chat.completions", "messages") and r.random() < 0.02):
                    t = c.tokens
                    c.partial = replace(t, visible=t.visible // 3, reasoning=t.reasoning // 2)
                    partial = _dumps(gateway_record(c, c.partial))
                    lines[first].append((c.occurred_at, partial))
                    lines[second].append((c.occurred_at, rec))
                    self.streamed |= {partial, rec}
                    streaming += 1
                    continue
                lines[first if r.random() < 0.55 else second].append((c.occurred_at, rec))
        for path in lines:
            lines[path].sort(key=lambda x: x[0])  # stable: a partial stays before nothing else
        self._exact_duplicates(lines, redrop_day)
        quarantined = self._bad_records(lines, bad_days) if self.bad_records else []
        for path, entries in lines.items():
            _write_bytes(landing / path, "".join(text + "\n" for _, text in entries).encode("utf-8"))
        # the same file dropped again under another name: same bytes, adds nothing
        first, _ = self._paths(redrop_day)
        if first in lines and not (self.bad_records and redrop_day in bad_days.values()):
            copy = f"gateway/resend/{self.start + timedelta(days=redrop_day):%Y-%m-%d}-calls-0001.jsonl"
            _write_bytes(landing / copy, (landing / first).read_bytes())
        return quarantined

    def _exact_duplicates(self, lines, redrop_day: int) -> None:
        """Identical records repeated: within a file, and across the day's two files."""
        d = min(5, self.days - 1) if min(5, self.days - 1) != redrop_day else 0
        first, second = self._paths(d)
        entries = lines.get(first, [])
        plain = [e for e in entries if e[1] not in self.streamed]
        if len(plain) >= 3:
            entries.insert(entries.index(plain[0]) + 1, plain[0])  # the same line twice in a row
            entries.append(plain[1])  # again at the end of the file
            lines[second].append(plain[2])  # and in the day's other file
            lines[second].sort(key=lambda x: x[0])

    def _bad_records(self, lines, bad_days) -> list[tuple[str, int]]:
        """Records that break their shape's rules: quarantined, in no mart."""
        planted = []
        day = self.start + timedelta(days=bad_days["malformed"])
        first, second = self._paths(bad_days["malformed"])
        planted.append((first, '{"request_id": "req_truncated0001", "timestamp": "%sT08:00:00Z", '
                               '"provider": "openai", "model": "gpt-5.4-mini", "usage": {"prompt_tokens": 12' % day))
        planted.append((second, _dumps({  # a timestamp without an offset: never guess a zone
            "request_id": "req_nooffset00001", "timestamp": f"{day}T10:00:00", "provider": "openai",
            "model": "gpt-5.4-mini", "api": "chat.completions", "status": "ok",
            "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}})))
        day = self.start + timedelta(days=bad_days["negative"])
        first, _ = self._paths(bad_days["negative"])
        planted.append((first, _dumps({  # cached_tokens > prompt_tokens: a negative uncached class
            "request_id": "req_negative00001", "timestamp": f"{day}T11:30:00.250Z", "provider": "openai",
            "model": "gpt-5.4-mini", "api": "chat.completions", "status": "ok", "workflow_id": "wf_broken",
            "usage": {"prompt_tokens": 1000, "completion_tokens": 80, "total_tokens": 1080,
                      "prompt_tokens_details": {"cached_tokens": 1500}}})))
        for path, text in planted:
            entries = lines[path]
            entries.insert(len(entries) // 2, (None, text))
        # line numbers once every insertion is done (two may share a file in short runs)
        return [(path, [t for _, t in lines[path]].index(text) + 1) for path, text in planted]


# --------------------------------------------------------------------------------------
# Outcome files.
# --------------------------------------------------------------------------------------


def _pr_payload(g: _Generator, pr: PullRequest, s: PrState) -> dict:
    return {
        "action": s.action, "number": pr.number,
        "pull_request": {
            "url": f"https://api.github.com/repos/{pr.repo}/pulls/{pr.number}",
            "id": 2_000_000_000 + pr.number, "number": pr.number, "state": s.state,
            "title": pr.title, "body": pr.body, "user": {"login": pr.author},
            "created_at": _gh_ts(pr.created_at), "updated_at": _gh_ts(s.received_at),
            "closed_at": _gh_ts(s.closed_at) if s.closed_at else None,
            "merged_at": _gh_ts(s.merged_at) if s.merged_at else None,
            "merged": s.merged, "draft": False,
            "head": {"ref": pr.branch, "sha": s.head_sha, "label": f"acme:{pr.branch}"},
            "base": {"ref": "main", "label": "acme:main"},
            "html_url": f"https://github.com/{pr.repo}/pull/{pr.number}",
        },
        "repository": g._repo_obj(pr.repo), "sender": {"login": pr.author},
    }


def _check_payload(g: _Generator, pr: PullRequest, c: CheckSuite) -> dict:
    return {
        "action": c.action,
        "check_suite": {
            "id": int(c.delivery_id[:8], 16), "head_branch": pr.branch, "head_sha": c.head_sha,
            "status": "completed" if c.action == "completed" else "queued", "conclusion": c.conclusion,
            "app": {"id": c.app_id, "slug": c.app_slug, "name": c.app_slug.replace("-", " ").title()},
            "pull_requests": [{"number": pr.number, "head": {"ref": pr.branch, "sha": c.head_sha},
                               "base": {"ref": "main"}}],
            "created_at": _gh_ts(c.received_at), "updated_at": _gh_ts(c.received_at),
        },
        "repository": g._repo_obj(pr.repo), "sender": {"login": c.app_slug + "[bot]"},
    }


def write_github(g: _Generator, landing: Path, prs: list[PullRequest], others: list[dict]) -> None:
    entries: list[tuple[datetime, str, dict]] = []

    def add(at, event, delivery_id, payload):
        entries.append((at, delivery_id, {"event": event, "delivery_id": delivery_id,
                                          "received_at": render_ts(at, "z_ms"), "payload": payload}))

    for pr in prs:
        for s in pr.states:
            add(s.received_at, "pull_request", s.delivery_id, _pr_payload(g, pr, s))
        if pr.redeliver_last and pr.states[-1].received_at + timedelta(minutes=3) < g.limit:
            s = pr.states[-1]  # GitHub redelivered the last delivery three minutes later
            add(s.received_at + timedelta(minutes=3), "pull_request", s.delivery_id, _pr_payload(g, pr, s))
        for i, c in enumerate(pr.checks):
            add(c.received_at, "check_suite", c.delivery_id, _check_payload(g, pr, c))
            if pr.duplicate_check and i == 0:  # the same line twice
                add(c.received_at, "check_suite", c.delivery_id, _check_payload(g, pr, c))
    for o in others:
        add(o["_at"], o["event"], o["delivery_id"], o["payload"])
    entries.sort(key=lambda e: (e[0], e[1]))
    by_month: dict[date, list[str]] = defaultdict(list)
    for at, _, obj in entries:
        by_month[month_of(at)].append(_dumps(obj))
    for i, (m, lines) in enumerate(sorted(by_month.items())):
        ext = "jsonl.gz" if i % 2 else "jsonl"
        _write_bytes(landing / f"outcomes/github/deliveries-{m:%Y-%m}.{ext}",
                     "".join(line + "\n" for line in lines).encode("utf-8"))


def write_generic(landing: Path, events: list[OutcomeEvent]) -> None:
    files: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for e in sorted(events, key=lambda e: (e.occurred_at, e.outcome_id)):
        obj = {"outcome_id": e.outcome_id, "workflow_id": e.workflow_id,
               "occurred_at": render_ts(e.occurred_at, e.ts_style), "kind": e.kind, "status": e.status,
               "verified": e.verified}
        if e.policy_passed is not None:
            obj["policy_passed"] = e.policy_passed
        obj["evidence"] = e.evidence
        obj["value_usd"] = _money_str(e.value_usd) if e.value_usd is not None else None
        source = "bookings" if e.kind == "itinerary_booked" else "support"
        ext = "ndjson" if source == "support" else "jsonl"
        files[f"outcomes/events/{source}/{e.occurred_at:%Y/%m}/{source}-{e.occurred_at:%Y-%m}.{ext}"].append(
            (e.occurred_at, _dumps(obj)))
    for path, lines in files.items():
        _write_bytes(landing / path, "".join(text + "\n" for _, text in lines).encode("utf-8"))


# --------------------------------------------------------------------------------------
# G2 and G3: which calls reach us through OpenTelemetry or the LiteLLM proxy.
# --------------------------------------------------------------------------------------

# (share through OTel spans, share through LiteLLM) of a workflow type's workflows
CHANNEL_SHARES = {"code_change": (0.12, 0.08), "itinerary_booking": (0.35, 0.10),
                  "support_reply": (0.05, 0.10), "support_ticket": (0.15, 0.60)}
# provider names as each format writes them (all in the shipped alias table)
OTEL_PROVIDERS = {"anthropic": ["anthropic"], "openai": ["openai"], "google": ["gcp.vertex_ai", "gcp.gemini"],
                  "zai": ["z.ai"], "hosted_vllm": ["vllm"], "self_hosted": ["vllm"], "moonshot_ai": ["moonshot_ai"]}
LITELLM_PROVIDERS = {"anthropic": ["anthropic"], "openai": ["openai"], "google": ["vertex_ai", "gemini"],
                     "zai": ["zai"], "hosted_vllm": ["hosted_vllm"], "self_hosted": ["hosted_vllm"],
                     "moonshot_ai": ["moonshot"]}


def route_calls(gen: _Generator, world: World) -> None:
    """Move some workflows (and some unattributed calls) to G2 or G3. A moved call gets
    the format's own id, loses what the format cannot say (1-hour cache writes, the
    router's default model) and, for spans, microseconds."""
    r = gen.frng
    for wf in world.workflows:
        if any(id(c) in gen.planted_calls for c in wf.calls):
            continue  # boundary cases stay where their tests look for them
        otel, litellm = CHANNEL_SHARES[wf.workflow_type]
        x = r.random()
        if x >= otel + litellm:
            continue
        channel = OTEL_FORMAT if x < otel else LITELLM_FORMAT
        trace = f"{r.getrandbits(128):032x}"
        for c in wf.calls:
            ch = channel
            if channel == OTEL_FORMAT and c.step == "evaluate" and r.random() < 0.5:
                ch = LITELLM_FORMAT  # the evaluator runs behind the proxy: one workflow, two formats
            _reroute(r, c, ch, trace)
    for c in world.calls:
        if c.workflow_id is None and c.source == SOURCE_FORMAT and id(c) not in gen.planted_calls:
            x = r.random()
            if x < 0.08:
                _reroute(r, c, OTEL_FORMAT, f"{r.getrandbits(128):032x}")
            elif x < 0.16:
                _reroute(r, c, LITELLM_FORMAT, None)
    world.calls.sort(key=lambda c: (c.occurred_at, c.call_id))


def _reroute(r: random.Random, c: Call, channel: str, trace: str | None) -> None:
    c.source = channel
    c.tokens.cache_write_1h = 0  # neither format reports 1-hour cache writes
    c.routed_from = None
    if channel == OTEL_FORMAT:
        c.provider_logged = r.choice(OTEL_PROVIDERS[c.spec.provider])
        c.trace_id = trace
        c.call_id = f"{trace}-{r.getrandbits(64) | 1:016x}"
        c.occurred_at += timedelta(microseconds=r.randint(1, 999))
    else:
        c.provider_logged = r.choice(LITELLM_PROVIDERS[c.spec.provider])
        c.call_id = f"chatcmpl-{uuid.UUID(int=r.getrandbits(128), version=4)}"
        c.status = "success" if c.status == "ok" else "failure"


def set_gateway_costs(r: random.Random, calls: list[Call], priced: dict[str, PricedCall]) -> None:
    """LiteLLM's own estimate (`spend`): its price table is a little off ours; 0 when it
    has no price either. At most 10 decimals, as the export writes them."""
    factors: dict[str, Decimal] = {}
    for c in calls:
        if c.source != LITELLM_FORMAT:
            continue
        p = priced[c.call_id]
        if not p.is_priced:
            c.gateway_cost = Decimal("0.0")  # written 0.0, as the float column prints it
            continue
        f = factors.setdefault(c.model, Decimal(r.randint(9_700, 10_300)) / 10_000)
        c.gateway_cost = _plain((p.list_cost * f).quantize(Q10, ROUND_HALF_UP))


def _plain(d: Decimal) -> Decimal:
    """Without trailing zeros (and never in exponent form when printed with 'f')."""
    return d.normalize() if d else Decimal(0)


_EXACT = "@@DEC@@"


def _dumps_exact(obj, **kw) -> str:
    """JSON with Decimals written as exact JSON numbers (json cannot do that itself)."""
    def mark(o):
        if isinstance(o, Decimal):
            return _EXACT + format(o, "f")
        if isinstance(o, dict):
            return {k: mark(v) for k, v in o.items()}
        if isinstance(o, list):
            return [mark(v) for v in o]
        return o
    text = json.dumps(mark(obj), ensure_ascii=False, **kw)
    return re.sub('"' + _EXACT + r'(-?[0-9.]+)"', r"\1", text)


_EPOCH = datetime(1970, 1, 1)


def _unix_ns(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1) * 1000


def _prompt_messages() -> list[dict]:
    return [{"role": "system", "content": f"{PROMPT_MARKER} You are a careful agent."},
            {"role": "user", "content": f"{PROMPT_MARKER} customer card ending 4242"}]


OTEL_SERVICES = {"code_change": "code-agent", "itinerary_booking": "booking-agent",
                 "support_reply": "support-reply-agent", "support_ticket": "helpdesk-agent", None: "batch-classifier"}
OTEL_SCOPES = {"anthropic": ("opentelemetry.instrumentation.anthropic", "0.47.1"),
               "google": ("opentelemetry.instrumentation.google_genai", "0.4b0"),
               None: ("opentelemetry.instrumentation.openai", "0.47.1")}  # OpenAI-compatible clients
AGENT_SCOPE = ("tokenpnl.agents", "1.4.0")
OTEL_TOOLS = ["search_flights", "lookup_order", "run_tests", "read_file", "kb_search", "refund_quote"]


class _OtelWriter:
    """OTLP/JSON export requests, one per line, as the Collector's file exporter writes
    them: a workflow is a trace (an invoke_agent span, its chat spans, execute_tool
    spans), exported in one or two batches."""

    def __init__(self, rng: random.Random):
        self.r = rng
        self.lines: list[tuple[datetime, str]] = []
        self.resend: tuple | None = None  # (export time, resource, scope, span) re-sent alone
        self.no_usage_planted = False

    def _value(self, v) -> dict:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):  # int64: a decimal string by the spec, a number by some exporters
            return {"intValue": str(v) if self.r.random() < 0.7 else v}
        if isinstance(v, list):
            return {"arrayValue": {"values": [{"stringValue": x} for x in v]}}
        return {"stringValue": v}

    def _attrs(self, pairs) -> list[dict]:
        return [{"key": k, "value": self._value(v)} for k, v in pairs]

    def write(self, landing: Path, calls: list[Call]) -> None:
        traces: dict[str, list[Call]] = defaultdict(list)
        for c in calls:
            if c.source == OTEL_FORMAT:
                traces[c.trace_id].append(c)
        for trace, cs in traces.items():
            self._trace(trace, sorted(cs, key=lambda c: c.occurred_at))
        self.lines.sort(key=lambda x: x[0])
        if self.resend:  # the same span exported again in a request of its own
            at, resource, scope, span = self.resend
            self.lines.append((at + timedelta(seconds=45), _compact({"resourceSpans": [
                {"resource": resource, "scopeSpans": [{"scope": scope, "spans": [span]}]}]})))
            self.lines.sort(key=lambda x: x[0])
        if len(self.lines) > 4:  # a whole export request retried: the same line again, a little later
            self.lines.insert(4, self.lines[2])
        by_month: dict[date, list[str]] = defaultdict(list)
        for at, text in self.lines:
            by_month[month_of(at)].append(text)
        for i, (m, texts) in enumerate(sorted(by_month.items())):
            ext = "jsonl.gz" if i % 2 else "jsonl"
            _write_bytes(landing / f"gateway/otel/{m:%Y-%m}/otel-traces-{m:%Y%m}.{ext}",
                         "".join(t + "\n" for t in texts).encode("utf-8"))

    def _trace(self, trace: str, cs: list[Call]) -> None:
        r = self.r
        wf = cs[0].workflow_id
        upper = r.random() < 0.1  # an exporter that writes hex in capitals
        hexid = (lambda h: h.upper()) if upper else (lambda h: h)  # noqa: E731
        wtype = next((c.workflow_type for c in cs if c.workflow_type), None)
        service = OTEL_SERVICES[wtype]
        id_style = r.choice(["tokenpnl", "tokenpnl", "conversation", "both"]) if wf else None
        conversation = f"conv_{r.getrandbits(48):012x}"
        agent_id = f"{r.getrandbits(64) | 1:016x}" if wf else None

        def wf_attrs():
            out = []
            if id_style in ("tokenpnl", "both"):
                out.append(("tokenpnl.workflow.id", wf))
            if id_style == "conversation":
                out.append(("gen_ai.conversation.id", wf))
            elif id_style == "both":  # a conversation id of its own: the workflow id wins
                out.append(("gen_ai.conversation.id", conversation))
            return out

        batches = [cs] if len(cs) < 3 else [cs[:len(cs) // 2], cs[len(cs) // 2:]]
        totals = [0, 0]
        first_start = _unix_ns(cs[0].occurred_at) - 500_000_000
        last_end = 0
        for b, batch in enumerate(batches):
            legacy = r.random() < 0.25  # an older instrumentation: pre-1.28 attribute names
            teams = [c.team for c in batch]
            res_team = max(set(teams), key=lambda t: (teams.count(t), t)) if None not in teams else None
            if res_team and r.random() < 0.2:
                res_team = "platform"  # the team that runs the service; spans name the team served
            types = {c.workflow_type for c in batch}
            res_type = next(iter(types)) if len(types) == 1 and None not in types and r.random() < 0.5 else None
            providers = [c.provider_logged for c in batch]
            if legacy:
                res_provider = providers[0] if len(set(providers)) == 1 and r.random() < 0.5 else None
            else:
                res_provider = max(set(providers), key=lambda p: (providers.count(p), p)) if r.random() < 0.7 else None
            resource = [("service.name", service), ("service.version", "2.3.1"),
                        ("telemetry.sdk.language", "python"), ("telemetry.sdk.name", "opentelemetry"),
                        ("deployment.environment.name", "prod")]
            if res_team:
                resource.append(("tokenpnl.team", res_team))
            if res_type:
                resource.append(("tokenpnl.workflow.type", res_type))
            if res_provider:
                resource.append(("gen_ai.provider.name", res_provider))
            resource_obj = {"attributes": self._attrs(resource)}
            scopes: dict[tuple, list[dict]] = {}
            batch_end = 0
            for c in batch:
                span, rendered_in, end_ns = self._llm_span(c, trace, hexid, agent_id, legacy, res_team, res_type,
                                                           res_provider, wf_attrs())
                totals[0] += rendered_in
                totals[1] += c.tokens.visible + c.tokens.reasoning
                batch_end = max(batch_end, end_ns)
                scope = OTEL_SCOPES.get(c.provider if c.provider in ("anthropic", "google") else None)
                scopes.setdefault(scope, []).append(span)
                if wf and c is not cs[0] and r.random() < 0.5:  # the tool the agent ran before this call
                    start = _unix_ns(c.occurred_at) - r.randint(800, 3000) * 1_000_000
                    scopes.setdefault(AGENT_SCOPE, []).append({
                        "traceId": hexid(trace), "spanId": hexid(f"{r.getrandbits(64) | 1:016x}"),
                        "parentSpanId": hexid(agent_id), "name": "execute_tool", "kind": 1,
                        "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + r.randint(50, 700) * 1_000_000),
                        "attributes": self._attrs([("gen_ai.operation.name", "execute_tool"),
                                                   ("gen_ai.tool.name", r.choice(OTEL_TOOLS)),
                                                   ("gen_ai.tool.call.id", f"call_{r.getrandbits(48):012x}")]),
                        "status": {}})
                if wf and not self.no_usage_planted and len(cs) >= 3 and c is cs[1]:
                    # a streamed chat cancelled before any usage arrived: a span, not a call
                    self.no_usage_planted = True
                    start = _unix_ns(c.occurred_at) - 2_000_000_000
                    scopes.setdefault(OTEL_SCOPES.get(c.provider if c.provider in ("anthropic", "google") else None),
                                      []).append({
                        "traceId": hexid(trace), "spanId": hexid(f"{r.getrandbits(64) | 1:016x}"),
                        "parentSpanId": hexid(agent_id), "name": f"chat {c.model}", "kind": 3,
                        "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 400_000_000),
                        "attributes": self._attrs([("gen_ai.operation.name", "chat"),
                                                   ("gen_ai.provider.name", c.provider_logged),
                                                   ("gen_ai.request.model", c.spec.model), *wf_attrs(),
                                                   ("error.type", "cancelled")]),
                        "status": {"code": 2, "message": "client cancelled the stream"}})
            last_end = max(last_end, batch_end)
            if wf and b == len(batches) - 1:  # the agent span ends last: it is in the last batch
                scopes.setdefault(AGENT_SCOPE, []).append({
                    "traceId": hexid(trace), "spanId": hexid(agent_id), "name": f"invoke_agent {service}",
                    "kind": 1, "startTimeUnixNano": str(first_start),
                    "endTimeUnixNano": str(last_end + 200_000_000),
                    "attributes": self._attrs([("gen_ai.operation.name", "invoke_agent"),
                                               ("gen_ai.agent.name", service), *wf_attrs(),
                                               ("gen_ai.usage.input_tokens", totals[0]),
                                               ("gen_ai.usage.output_tokens", totals[1])]),
                    "status": {"code": 1}})
                batch_end = last_end + 200_000_000
            scope_objs = [{"scope": {"name": n, "version": v}, "spans": spans} for (n, v), spans in scopes.items()]
            export_at = _EPOCH + timedelta(microseconds=batch_end // 1000) + timedelta(seconds=r.randint(1, 5))
            line = _compact({"resourceSpans": [{"resource": resource_obj, "scopeSpans": scope_objs,
                                              "schemaUrl": "https://opentelemetry.io/schemas/1.37.0"}]})
            self.lines.append((export_at, line))
            if self.resend is None and len(batch) >= 2 and not legacy:
                self.resend = (export_at, resource_obj, scope_objs[0]["scope"], scope_objs[0]["spans"][0])

    def _llm_span(self, c: Call, trace, hexid, parent, legacy, res_team, res_type, res_provider, wf_attrs):
        r, t = self.r, c.tokens
        op = "generate_content" if c.spec.api == "generate_content" else \
            "text_completion" if c.spec.vllm and r.random() < 0.3 else "chat"
        a: list[tuple] = [("gen_ai.operation.name", op)]
        if legacy:
            a.append(("gen_ai.system", c.provider_logged))
        elif c.provider_logged != res_provider or r.random() < 0.3:
            a.append(("gen_ai.provider.name", c.provider_logged))  # overrides the resource's
        a.append(("gen_ai.request.model", c.spec.model))
        if c.model != c.spec.model or r.random() < 0.7:
            a.append(("gen_ai.response.model", c.model))
        a.append(("gen_ai.response.id", f"resp_{r.getrandbits(64):016x}"))
        a += wf_attrs
        if c.workflow_type and (c.workflow_type != res_type or r.random() < 0.3):
            a.append(("tokenpnl.workflow.type", c.workflow_type))
        if c.step:
            a.append(("tokenpnl.step", c.step))
        if not c.omit_attempt:
            a.append(("tokenpnl.attempt", c.attempt))
        if c.team and (c.team != res_team or r.random() < 0.3):
            a.append(("tokenpnl.team", c.team))  # overrides the resource's
        if c.user:
            a.append(("enduser.id" if legacy else "user.id", c.user))
        # Anthropic instrumentations may pass the provider's input count through: cache
        # reads and writes reported apart (visible because together they exceed it)
        apart = c.spec.api == "messages" and t.cache_read + t.cache_write > t.uncached and r.random() < 0.6
        names = ("gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens",
                 "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cache_creation_input_tokens") if legacy else \
                ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                 "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens")
        rendered_in = t.uncached if apart else t.total_input
        a.append((names[0], rendered_in))
        a.append((names[1], t.visible + t.reasoning))
        if t.cache_read or r.random() < 0.4:
            a.append((names[2], t.cache_read))
        if t.cache_write or (c.spec.writes_cache and r.random() < 0.4):
            a.append((names[3], t.cache_write))
        if t.reasoning or (c.spec.reasons and r.random() < 0.4):
            a.append(("gen_ai.usage.reasoning.output_tokens", t.reasoning))
        a.append(("gen_ai.request.stream", r.random() < 0.5))
        a.append(("gen_ai.response.finish_reasons", ["length" if c.status == "error" else "stop"]))
        a.append(("server.address", "gateway.internal"))
        if c.with_text:  # content capture on: dropped at ingest
            a.append(("gen_ai.system_instructions", json.dumps([{"type": "text", "content": f"{PROMPT_MARKER} Be careful."}])))
            a.append(("gen_ai.input.messages", json.dumps([{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]}
                                                           for m in _prompt_messages()])))
            a.append(("gen_ai.output.messages", json.dumps([{"role": "assistant", "parts": [
                {"type": "text", "content": f"{PROMPT_MARKER} Here is the plan."}], "finish_reason": "stop"}])))
        start = _unix_ns(c.occurred_at) + r.randint(0, 499)  # nanoseconds below the microsecond
        end = start + c.latency_ms * 1_000_000 + r.randint(0, 999_999)
        status = {"code": 2, "message": "upstream returned 529 overloaded"} if c.status == "error" else \
            ({"code": 1} if r.random() < 0.5 else {})
        span = {"traceId": hexid(trace), "spanId": hexid(c.call_id.split("-")[1])}
        if parent:
            span["parentSpanId"] = hexid(parent)
        span.update({"name": f"{op} {c.spec.model}", "kind": 3, "startTimeUnixNano": str(start),
                     "endTimeUnixNano": str(end), "attributes": self._attrs(a), "status": status})
        return span, rendered_in, end


LITELLM_COLUMNS = [
    "request_id", "call_type", "api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens",
    "startTime", "endTime", "request_duration_ms", "completionStartTime", "model", "model_id", "model_group",
    "custom_llm_provider", "api_base", "user", "metadata", "cache_hit", "cache_key", "request_tags", "team_id",
    "organization_id", "end_user", "requester_ip_address", "messages", "response", "session_id", "status",
    "proxy_server_request",
]
LITELLM_GROUPS = {"claude-sonnet-4-6": "sonnet", "claude-haiku-4-5": "haiku", "gpt-5.4": "gpt", "gpt-5.4-mini": "gpt-mini",
                  "gemini-2.5-pro": "gemini-pro", "gemini-2.5-flash": "flash", "glm-5.2": "glm", "qwen3.8-27b": "qwen",
                  "kimi-k3": "kimi", "internal-experimental-7b": "experimental"}
API_BASES = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1",
             "google": "https://us-central1-aiplatform.googleapis.com", "zhipu": "https://api.z.ai/api/paas/v4",
             "self_hosted": "http://vllm.internal:8000/v1", "moonshot": "https://api.moonshot.ai/v1"}


def _rfc3339_ms(at: datetime, style: str) -> str:
    offsets = {"utc": (0, "+00:00"), "z": (0, "Z"), "plus2": (2, "+02:00"), "minus5": (-5, "-05:00")}
    hours, suffix = offsets[style]
    local = at + timedelta(hours=hours)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}{suffix}"


class _LitellmWriter:
    """LiteLLM_SpendLogs rows: a JSONL export of the first half of the period and a CSV
    export of the second; the windows overlap by one row, one request has an older
    version (earlier endTime) in the CSV, and one CSV row is repeated."""

    def __init__(self, rng: random.Random, start: date, days: int):
        self.r, self.start, self.days = rng, start, days
        self._keys: dict[str | None, str] = {}

    def _usage(self, c: Call, t: Tokens) -> dict:
        r = self.r
        prompt, completion = t.total_input, t.visible + t.reasoning
        u: dict = {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion}
        if c.provider == "anthropic":
            shape = r.random()
            if shape < 0.7:
                u["cache_creation_input_tokens"] = t.cache_write
                u["cache_read_input_tokens"] = t.cache_read
            if shape >= 0.35:
                u["prompt_tokens_details"] = {"audio_tokens": None, "cached_tokens": t.cache_read,
                                              "cache_creation_tokens": t.cache_write, "text_tokens": None}
        elif t.cache_read or t.cache_write or r.random() < 0.6:
            details: dict = {"audio_tokens": None, "cached_tokens": t.cache_read}
            if t.cache_write:
                if r.random() < 0.5:
                    details["cache_creation_tokens"] = t.cache_write
                else:
                    u["cache_creation_input_tokens"] = t.cache_write
            u["prompt_tokens_details"] = details
        else:
            u["prompt_tokens_details"] = None
        if t.reasoning or r.random() < 0.5:
            u["completion_tokens_details"] = {"accepted_prediction_tokens": None, "audio_tokens": None,
                                              "reasoning_tokens": t.reasoning, "rejected_prediction_tokens": None,
                                              "text_tokens": t.visible}
        else:
            u["completion_tokens_details"] = None
        return u

    def row(self, c: Call) -> dict:
        r, t = self.r, c.tokens
        style = r.choices(["utc", "z", "plus2", "minus5"], weights=[55, 25, 12, 8])[0]
        fields = {"workflow_type": c.workflow_type, "step": c.step, "attempt": None if c.omit_attempt else c.attempt}
        tags, session, alias, team_id = ["env:prod"], None, None, None
        slm: dict | None | str = None
        if r.random() < 0.5:  # the caller passed spend_logs_metadata
            slm = {}
            if c.workflow_id:
                slm["workflow_id"] = c.workflow_id
                session = f"sess_{r.getrandbits(48):012x}" if r.random() < 0.5 else None  # not the workflow
            for k, v in fields.items():
                if v is not None:
                    if r.random() < 0.8:
                        slm[k] = v
                    else:
                        tags.append(f"{k}:{v}")
            if c.team:
                slm["team"] = c.team
                alias = r.choice([None, "shared-proxy", c.team])  # the key's team: metadata wins
                team_id = str(uuid.UUID(int=r.getrandbits(128), version=4))
        else:  # session id and request tags; the team of the key
            session = c.workflow_id
            tags += [f"{k}:{v}" for k, v in fields.items() if v is not None]
            if c.team:
                if r.random() < 0.6:
                    alias, team_id = c.team, str(uuid.UUID(int=r.getrandbits(128), version=4))
                else:
                    team_id = c.team
            slm = r.choice([None, {}, "absent"])
        key = self._keys.setdefault(c.team, hashlib.sha256(f"sk-{c.team}-{len(self._keys)}".encode()).hexdigest())
        metadata = {"user_api_key_hash": key, "user_api_key_alias": f"{c.team or 'batch'}-bot",
                    "user_api_key_team_id": team_id, "user_api_key_team_alias": alias,
                    "user_api_key_user_id": None}
        if slm != "absent":
            metadata["spend_logs_metadata"] = slm
        metadata["usage_object"] = self._usage(c, t)
        metadata["model_map_information"] = {"model_map_key": LITELLM_GROUPS[c.spec.model]}
        ended = c.occurred_at + timedelta(milliseconds=c.latency_ms)
        text = c.with_text
        messages = _prompt_messages() if text else {}
        return {
            "request_id": c.call_id, "call_type": "acompletion", "api_key": key, "spend": c.gateway_cost,
            "total_tokens": t.total_input + t.visible + t.reasoning, "prompt_tokens": t.total_input,
            "completion_tokens": t.visible + t.reasoning,
            "startTime": _rfc3339_ms(c.occurred_at, style), "endTime": _rfc3339_ms(ended, style),
            "request_duration_ms": c.latency_ms,
            "completionStartTime": _rfc3339_ms(c.occurred_at + timedelta(milliseconds=min(c.latency_ms, 350)), style),
            "model": c.model, "model_id": hashlib.sha1(c.model.encode()).hexdigest()[:16],
            "model_group": LITELLM_GROUPS[c.spec.model], "custom_llm_provider": c.provider_logged,
            "api_base": API_BASES[c.provider], "user": f"u_{(c.team or 'batch')}",
            "metadata": metadata, "cache_hit": "False", "cache_key": "Cache OFF", "request_tags": tags,
            "team_id": team_id, "organization_id": None,
            "end_user": c.user if r.random() < 0.6 else None, "requester_ip_address": f"10.20.{r.randint(0, 9)}.{r.randint(2, 250)}",
            "messages": messages,
            "response": {"choices": [{"message": {"content": f"{PROMPT_MARKER} Here is the plan."}}]} if text else {},
            "session_id": session, "status": c.status,
            "proxy_server_request": {"messages": messages, "model": LITELLM_GROUPS[c.spec.model]} if text else {},
        }

    def _older_version(self, row: dict, c: Call) -> dict:
        """The same request as an earlier export saw it: less output, less spend, an
        earlier endTime."""
        old = json.loads(json.dumps(row, default=str))
        t = replace(c.tokens, visible=c.tokens.visible // 3, reasoning=c.tokens.reasoning // 2)
        old["spend"] = _plain((c.gateway_cost * Decimal("0.4")).quantize(Q10, ROUND_HALF_UP))
        old["completion_tokens"] = t.visible + t.reasoning
        old["total_tokens"] = t.total_input + t.visible + t.reasoning
        old["request_duration_ms"] = c.latency_ms // 2
        style = "z" if row["endTime"].endswith("Z") else "plus2" if row["endTime"].endswith("+02:00") else \
            "minus5" if row["endTime"].endswith("-05:00") else "utc"
        old["endTime"] = _rfc3339_ms(c.occurred_at + timedelta(milliseconds=c.latency_ms // 2), style)
        old["completionStartTime"] = _rfc3339_ms(c.occurred_at + timedelta(milliseconds=min(c.latency_ms // 2, 350)), style)
        usage = old["metadata"]["usage_object"]
        usage.update(completion_tokens=old["completion_tokens"], total_tokens=old["total_tokens"])
        if usage.get("completion_tokens_details"):
            usage["completion_tokens_details"].update(reasoning_tokens=t.reasoning, text_tokens=t.visible)
        return old

    def write(self, landing: Path, calls: list[Call]) -> None:
        mine = [c for c in calls if c.source == LITELLM_FORMAT]
        if not mine:
            return
        mid = self.start + timedelta(days=max(1, self.days // 2))
        rows = [(c, self.row(c)) for c in mine]
        first = [(c, row) for c, row in rows if c.occurred_at.date() < mid]
        second = [(c, row) for c, row in rows if c.occurred_at.date() >= mid]
        csv_rows = [row for _, row in second]
        if first:
            csv_rows.insert(0, first[-1][1])  # the export windows overlap by a row
            done = [(c, row) for c, row in first[:-1] if c.status == "success" and c.tokens.visible >= 30
                    and c.gateway_cost]
            if done:
                c, row = done[len(done) // 2]
                csv_rows.insert(1, self._older_version(row, c))  # the later file holds the OLDER version
        if len(csv_rows) > 6:
            csv_rows.insert(6, csv_rows[5])  # the same row twice
        end = self.start + timedelta(days=self.days - 1)
        if first:
            text = "".join(_dumps_exact(row) + "\n" for _, row in first)
            _write_bytes(landing / f"gateway/litellm/spend_logs_{self.start}_{mid - timedelta(days=1)}.jsonl",
                         text.encode("utf-8"))
        if csv_rows:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(LITELLM_COLUMNS)
            for row in csv_rows:
                w.writerow([_csv_cell(row[k]) for k in LITELLM_COLUMNS])
            _write_bytes(landing / f"gateway/litellm/spend_logs_{mid}_{end}.csv", buf.getvalue().encode("utf-8"))


def _csv_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


# --------------------------------------------------------------------------------------
# I2 provider cost reports: the provider-months FOCUS does not bill.
# --------------------------------------------------------------------------------------

ANTHROPIC_TITLES = {"claude-sonnet-4-6": "Claude Sonnet 4.6", "claude-haiku-4-5": "Claude Haiku 4.5"}


def cost_report_months(months: list[date]) -> set[tuple[str, date]]:
    """openai's first month comes as an OpenAI Costs API page, anthropic's last as
    Anthropic cost report pages; FOCUS does not bill those two."""
    return {("openai", months[0]), ("anthropic", months[-1])}


def build_cost_reports(rng: random.Random, calls: list[Call], priced: dict[str, PricedCall], months: list[date],
                       as_of: date) -> tuple[dict[str, bytes], list[tuple[str, date, Decimal]]]:
    """The files, and every usage amount they hold (provider, month, USD) once."""
    files: dict[str, bytes] = {}
    amounts: list[tuple[str, date, Decimal]] = []
    for provider, m in sorted(cost_report_months(months)):
        per_day: dict[date, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for c in calls:
            p = priced[c.call_id]
            if c.provider != provider or month_of(c.occurred_at) != m or not p.is_priced:
                continue
            k, day = p.costs, per_day[c.occurred_at.date()]
            model = p.priced_model
            if provider == "openai":
                day[(model, "input")] += k["cost_input_uncached_usd"] + k["cost_input_cache_write_usd"]
                day[(model, "cached input")] += k["cost_input_cache_read_usd"]
                day[(model, "output")] += k["cost_output_visible_usd"] + k["cost_output_reasoning_usd"]
            else:
                t = c.tokens
                one_hour = k["cost_input_cache_write_usd"] * t.cache_write_1h / t.cache_write if t.cache_write else 0
                day[(model, "uncached_input_tokens")] += k["cost_input_uncached_usd"]
                day[(model, "cache_read_input_tokens")] += k["cost_input_cache_read_usd"]
                day[(model, "cache_creation.ephemeral_5m_input_tokens")] += k["cost_input_cache_write_usd"] - one_hour
                day[(model, "cache_creation.ephemeral_1h_input_tokens")] += one_hour
                day[(model, "output_tokens")] += k["cost_output_visible_usd"] + k["cost_output_reasoning_usd"]
        if not per_day:
            continue
        factor = Decimal(rng.randint(9_750, 10_250)) / 10_000
        last = min(next_month(m) - timedelta(days=1), as_of)
        buckets = []
        d = m
        while d <= last:
            results = []
            for (model, item), cost in sorted(per_day.get(d, {}).items()):
                usd = (cost * factor * Decimal(rng.randint(990, 1010)) / 1000).quantize(Q10, ROUND_HALF_UP)
                if usd > 0:
                    results.append((model, item, _plain(usd)))
            if provider == "anthropic" and d == m + timedelta(days=9):
                results.append((None, "web_search", Decimal("0.375")))  # a usage amount beyond tokens
            buckets.append((d, results))
            amounts += [(provider, month_of(d), usd) for _, _, usd in results]
            d += timedelta(days=1)
        if provider == "openai":
            files.update(_openai_costs_files(rng, m, buckets))
        else:
            files.update(_anthropic_cost_files(rng, m, buckets))
    return files, amounts


def _openai_costs_files(rng, m: date, buckets) -> dict[str, bytes]:
    project = f"proj_{rng.getrandbits(72):018x}"
    page = {"object": "page", "data": [], "has_more": False, "next_page": None}
    for d, results in buckets:
        start = int((_midnight(d) - _EPOCH).total_seconds())
        page["data"].append({"object": "bucket", "start_time": start, "end_time": start + 86_400, "results": [
            {"object": "organization.costs.result", "amount": {"value": usd, "currency": "usd"},
             "line_item": f"{model}, {item}", "project_id": project if rng.random() < 0.8 else None}
            for model, item, usd in results]})
    data = (_dumps_exact(page, indent=2) + "\n").encode("utf-8")
    return {f"invoices/openai/costs/{m:%Y-%m}/costs_{m:%Y%m}_page1.json": data,
            # fetched again by a second job: the same page under another name adds nothing
            f"invoices/openai/costs/refetch/org-costs-{m:%Y-%m}.json": data}


def _anthropic_cost_files(rng, m: date, buckets) -> dict[str, bytes]:
    workspace = f"wrkspc_01{rng.getrandbits(100):025x}"
    labels = {"uncached_input_tokens": "Input Tokens", "cache_read_input_tokens": "Cache Read Input Tokens",
              "cache_creation.ephemeral_5m_input_tokens": "Input Tokens Cache Write 5m",
              "cache_creation.ephemeral_1h_input_tokens": "Input Tokens Cache Write 1h",
              "output_tokens": "Output Tokens"}
    pages = []
    for i in range(0, len(buckets), 7):
        data = []
        for d, results in buckets[i:i + 7]:
            out = []
            for model, item, usd in results:
                cents = _plain(usd * 100)  # the report's amount is in cents, as a decimal string
                if item == "web_search":
                    out.append({"amount": format(cents, "f"), "currency": "USD", "cost_type": "web_search",
                                "token_type": None, "description": "Web Search Usage", "model": None,
                                "service_tier": None, "context_window": None, "inference_geo": None,
                                "workspace_id": workspace})
                else:
                    out.append({"amount": format(cents, "f"), "currency": "USD", "cost_type": "tokens",
                                "token_type": item, "description": f"{ANTHROPIC_TITLES.get(model, model)} Usage - {labels[item]}",
                                "model": model, "service_tier": "standard", "context_window": "0-200k",
                                "inference_geo": "global", "workspace_id": workspace})
            data.append({"starting_at": _gh_ts(_midnight(d)), "ending_at": _gh_ts(_midnight(d + timedelta(days=1))),
                         "results": out})
        pages.append(data)
    lines = []
    for i, data in enumerate(pages):
        more = i < len(pages) - 1
        token = "page_" + base64.b64encode(f"{m:%Y-%m}-{i + 1}".encode()).decode() if more else None
        lines.append(json.dumps({"data": data, "has_more": more, "next_page": token}, separators=(",", ":")))
    lines.append(lines[min(1, len(lines) - 1)])  # a page fetched twice by a retried job
    return {f"invoices/anthropic/cost_report/{m:%Y-%m}/cost_report_{m:%Y%m}.json":
            "".join(line + "\n" for line in lines).encode("utf-8")}


# --------------------------------------------------------------------------------------
# O2 ticket events.
# --------------------------------------------------------------------------------------

ZENDESK_TYPES = {"status": "zen:event-type:ticket.status_changed", "tags": "zen:event-type:ticket.tags_changed",
                 "group": "zen:event-type:ticket.group_assignment_changed"}


def _zendesk_event(t: Ticket, e: TicketEvent) -> dict:
    if e.kind == "status":
        event = {"current": e.current, "previous": e.previous}
    elif e.kind == "tags":
        event = {"tags_added": e.tags_added, "tags_removed": e.tags_removed}
    else:
        event = {"current": {"id": e.group}, "previous": {"id": e.previous_group}}
    n = int(t.ticket)
    return {
        "type": ZENDESK_TYPES[e.kind], "account_id": 12514403, "id": e.event_id, "time": _gh_ts(e.at),
        "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{t.ticket}",
        "detail": {"actor_id": "-1" if e.kind == "tags" else str(900_000 + n % 7), "assignee_id": str(900_000 + n % 5),
                   "brand_id": "360000123", "created_at": _gh_ts(t.created_at), "group_id": e.group, "id": t.ticket,
                   "organization_id": str(380_000 + n % 11), "priority": "NORMAL", "requester_id": str(1_500_000 + n),
                   "status": e.current, "tags": e.tags, "type": "QUESTION", "updated_at": _gh_ts(e.at),
                   "via": {"channel": "web_service"}},
        "event": event,
    }


def _jira_event(t: Ticket, e: TicketEvent) -> dict:
    category = JIRA_CATEGORY[e.current]
    if e.kind == "status":
        item = {"field": "status", "fieldtype": "jira", "from": JIRA_STATUS_IDS[e.previous], "fromString": e.previous,
                "to": JIRA_STATUS_IDS[e.current], "toString": e.current}
        kind = "issue_resolved" if category == "done" else \
            "issue_reopened" if JIRA_CATEGORY[e.previous] == "done" else "issue_generic"
    else:
        before = [x for x in e.tags if x not in e.tags_added] + e.tags_removed
        item = {"field": "labels", "fieldtype": "jira", "from": None, "fromString": " ".join(before),
                "to": None, "toString": " ".join(e.tags)}
        kind = "issue_updated"
    return {
        "timestamp": (e.at - _EPOCH) // timedelta(milliseconds=1), "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": kind, "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5"},
        "issue": {"id": t.issue_id, "key": t.ticket,
                  "self": f"https://acme.atlassian.net/rest/api/2/issue/{t.issue_id}",
                  "fields": {"status": {"name": e.current, "id": JIRA_STATUS_IDS[e.current],
                                        "statusCategory": {"key": category}},
                             "resolution": {"name": e.current} if category == "done" else None,
                             "labels": e.tags, "project": {"key": "SUP"}, "issuetype": {"name": "Support"}}},
        "changelog": {"id": e.event_id, "items": [item]},
    }


def write_tickets(landing: Path, tickets: list[Ticket]) -> None:
    files: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for t in tickets:
        for e in t.events:
            m = month_of(e.at)
            if t.system == "zendesk":
                path, text = f"outcomes/zendesk/{m:%Y-%m}/zendesk-events-{m:%Y%m}.jsonl", _dumps(_zendesk_event(t, e))
            else:
                path, text = f"outcomes/jira/jira-webhooks-{m:%Y%m}.jsonl", _dumps(_jira_event(t, e))
            files[path].append((e.at, text))
            if e.event_id == t.redelivered:  # Zendesk retried the webhook: same event id, same body
                files[path].append((e.at + timedelta(minutes=3), text))
    for path, lines in files.items():
        lines.sort(key=lambda x: x[0])
        _write_bytes(landing / path, "".join(text + "\n" for _, text in lines).encode("utf-8"))


# --------------------------------------------------------------------------------------
# The truth: every mart, computed from the generated facts (rules.md §2–§5).
# --------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    outcome_id: str
    source: str
    external_ref: str
    links: list[str]  # workflow ids named (existing or not)
    first_event_at: datetime
    resolved_at: datetime | None
    status: str
    reason: str
    value_usd: Decimal | None
    claimed: bool


def github_outcomes(prs: list[PullRequest], instant: datetime) -> list[_Outcome]:
    by_repo = defaultdict(list)
    for pr in prs:
        by_repo[pr.repo].append(pr)
    out = []
    for pr in prs:
        final = pr.final
        status, reason, resolved = _github_verdict(pr, final, by_repo[pr.repo], instant)
        out.append(_Outcome(f"github:{pr.repo}#{pr.number}", "github", f"{pr.repo}#{pr.number}",
                            pr.links, min(s.received_at for s in pr.states), resolved, status, reason,
                            None, final.merged))
    return out


def _github_verdict(pr: PullRequest, final: PrState, repo_prs, instant):
    if final.state == "open":
        return "pending", "open", None
    if not final.merged:
        return "failed", "closed_unmerged", final.closed_at
    merged_at = final.merged_at
    latest: dict[int, CheckSuite] = {}  # per app, on the head sha
    for c in sorted(pr.checks, key=lambda c: c.received_at):
        if c.action == "completed" and c.head_sha == final.head_sha:
            latest[c.app_id] = c
    if any(c.conclusion not in OK_CHECK_CONCLUSIONS for c in latest.values()):
        return "failed", "checks_failed", merged_at
    for other in repo_prs:
        if other.reverts == pr.number and other.final.merged and other.final.merged_at < merged_at + REVERT_WINDOW:
            return "failed", "reverted", merged_at
    if merged_at + REVERT_WINDOW > instant:
        return "pending", "window_open", merged_at
    return "verified_success", "merged", merged_at


def generic_outcomes(events: list[OutcomeEvent]) -> list[_Outcome]:
    by_id = defaultdict(list)
    for e in events:
        by_id[e.outcome_id].append(e)
    out = []
    for oid, evs in by_id.items():
        e = max(evs, key=lambda e: e.occurred_at)  # a restatement replaces
        if e.status == "accepted" and e.verified is True and e.policy_passed is not False:
            status, reason = "verified_success", "accepted"
        elif e.status == "pending":
            status, reason = "pending", "pending"
        elif e.status == "accepted" and e.verified is not True:
            status, reason = "failed", "not_verified"
        elif e.status == "accepted" and e.policy_passed is False:
            status, reason = "failed", "policy_failed"
        else:
            status, reason = "failed", "rejected"
        out.append(_Outcome(oid, "generic", oid, [e.workflow_id], min(x.occurred_at for x in evs),
                            None if status == "pending" else e.occurred_at, status, reason,
                            e.value_usd, e.status == "accepted"))
    return out


def ticket_outcomes(tickets: list[Ticket], instant: datetime) -> list[_Outcome]:
    """Ticket verdicts (rules.md §3): escalated before solving, then reopened inside the
    window, then the window still open, then solved; closed unsolved; else open."""
    out = []
    for t in tickets:
        evs = sorted(t.events, key=lambda e: e.at)  # the redelivered event is one event
        zendesk = t.system == "zendesk"
        moves = [e for e in evs if e.kind == "status"]
        solved = [e.at for e in moves if (e.current == "SOLVED" if zendesk else e.current in JIRA_DONE)]
        solved_at = solved[0] if solved else None
        if zendesk:
            escalations = [e.at for e in evs if e.kind == "tags" and "escalated" in e.tags_added]
            reopens = [e.at for e in moves if e.previous in ZENDESK_SOLVED and e.current in ZENDESK_OPEN]
        else:
            escalations = [e.at for e in moves if e.current == "Escalated"]
            reopens = [e.at for e in moves if e.previous in JIRA_DONE and e.current not in JIRA_DONE]
        escalated = any(solved_at is None or at < solved_at for at in escalations)
        reopened = solved_at is not None and any(solved_at < at < solved_at + REOPEN_WINDOW for at in reopens)
        if escalated:
            status, reason = "failed", "escalated"
        elif reopened:
            status, reason = "failed", "reopened"
        elif solved_at is not None and solved_at + REOPEN_WINDOW > instant:
            status, reason = "pending", "window_open"
        elif solved_at is not None:
            status, reason = "verified_success", "solved"
        elif zendesk and any(e.current == "CLOSED" for e in moves):
            status, reason = "failed", "closed_unsolved"
        else:
            status, reason = "pending", "open"
        links = [tag.split(":", 1)[1] for tag in evs[-1].tags if tag.startswith("workflow_id:")]
        out.append(_Outcome(t.outcome_id, "ticket", f"zendesk:{t.ticket}" if zendesk else t.ticket, links,
                            evs[0].at, solved_at, status, reason, None, solved_at is not None))
    return out


def compute_marts(calls: list[Call], priced: dict[str, PricedCall], prs: list[PullRequest],
                  events: list[OutcomeEvent], invoices: dict[str, list[FocusRow]],
                  as_of: date, cost_reports: list[tuple[str, date, Decimal]] = (),
                  tickets: list[Ticket] = ()) -> dict[str, list[dict]]:
    instant = _midnight(as_of + timedelta(days=1))
    calls = sorted((c for c in calls if c.occurred_at < instant), key=lambda c: (c.occurred_at, c.call_id))

    # ---- invoice allocation per (provider, month of the call) -------------------------
    list_pm: dict[tuple[str, date], list[Decimal]] = defaultdict(list)
    calls_pm: dict[tuple[str, date], int] = defaultdict(int)
    gateway_pm: dict[tuple[str, date], list[Decimal | None]] = defaultdict(list)
    for c in calls:
        key = (c.provider, month_of(c.occurred_at))
        calls_pm[key] += 1
        gateway_pm[key].append(c.gateway_cost)
        if priced[c.call_id].is_priced:
            list_pm[key].append(priced[c.call_id].list_cost)
    usage_pm: dict[tuple[str, date], Decimal] = {}
    non_usage_pm: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for rows in invoices.values():
        for row in rows:
            key = (row.provider, month_of(row.charge_period_start))
            if row.category == "Usage":
                usage_pm[key] = usage_pm.get(key, Decimal(0)) + row.effective_cost
            else:
                non_usage_pm[key] += row.effective_cost
    for provider, month, amount in cost_reports:  # I2 amounts add to FOCUS usage of the month
        usage_pm[(provider, month)] = usage_pm.get((provider, month), Decimal(0)) + amount
    list_total = {k: msum(v) for k, v in list_pm.items()}

    def invoice_cost(c: Call) -> Decimal | None:
        p = priced[c.call_id]
        key = (c.provider, month_of(c.occurred_at))
        inv, lst = usage_pm.get(key), list_total.get(key)
        if not p.is_priced or inv is None or not lst:
            return None
        return round_money(Fraction(p.list_cost) * Fraction(inv) / Fraction(lst))

    # ---- fct_llm_calls ----------------------------------------------------------------
    call_rows = []
    for c in calls:
        p, t = priced[c.call_id], c.tokens
        row = {
            "call_id": c.call_id, "source_format": c.source, "occurred_at": c.occurred_at,
            "day": c.occurred_at.date(), "provider": c.provider, "model": c.model,
            "workflow_id": c.workflow_id, "workflow_type": c.workflow_type, "step": c.step,
            "attempt": c.attempt, "is_retry": c.attempt > 1, "is_evaluator": c.step == "evaluate",
            "team": c.team, "status": c.status,
            "input_uncached_tokens": t.uncached, "input_cache_read_tokens": t.cache_read,
            "input_cache_write_tokens": t.cache_write, "input_cache_write_1h_tokens": t.cache_write_1h,
            "output_visible_tokens": t.visible, "output_reasoning_tokens": t.reasoning,
            "total_tokens": t.total,
        }
        for col in COST_COLUMNS:
            row[col] = p.costs[col] if p.is_priced else None
        row.update({
            "list_cost_usd": p.list_cost, "is_priced": p.is_priced, "priced_model": p.priced_model,
            "invoice_cost_usd": invoice_cost(c), "gateway_reported_cost_usd": c.gateway_cost,
            "price_tier": p.tier, "routed_from_model": c.routed_from,
        })
        call_rows.append(row)

    # ---- workflows ----------------------------------------------------------------------
    wf_calls: dict[str, list[dict]] = defaultdict(list)
    for r in call_rows:
        if r["workflow_id"] is not None:
            wf_calls[r["workflow_id"]].append(r)  # already ordered by (occurred_at, call_id)
    workflows = {}
    for wid, rs in wf_calls.items():
        workflows[wid] = {
            "workflow_id": wid,
            "workflow_type": next((r["workflow_type"] for r in rs if r["workflow_type"] is not None), None),
            "team": next((r["team"] for r in rs if r["team"] is not None), None),
            "started_at": rs[0]["occurred_at"], "ended_at": rs[-1]["occurred_at"],
            "calls": len(rs), "retry_calls": sum(r["is_retry"] for r in rs),
            "evaluator_calls": sum(r["is_evaluator"] for r in rs),
            "total_tokens": sum(r["total_tokens"] for r in rs),
            **{col: sum(r[col] for r in rs) for col in CLASS_COLUMNS},
            "list_cost_usd": msum(r["list_cost_usd"] for r in rs),
            "invoice_cost_usd": msum(r["invoice_cost_usd"] for r in rs),
            "outcome_id": None, "outcome_status": None,
        }

    # ---- outcomes and links -------------------------------------------------------------
    outcomes = github_outcomes(prs, instant) + generic_outcomes(events) + ticket_outcomes(tickets, instant)
    claims: dict[str, _Outcome] = {}  # workflow -> its one outcome
    for o in sorted(outcomes, key=lambda o: (o.first_event_at, o.outcome_id)):
        for wid in o.links:
            if wid in workflows and wid not in claims:
                claims[wid] = o
    linked: dict[str, list[str]] = defaultdict(list)
    for wid, o in claims.items():
        linked[o.outcome_id].append(wid)
    outcome_rows, outcome_group = [], {}
    for o in sorted(outcomes, key=lambda o: o.outcome_id):
        wids = sorted(linked.get(o.outcome_id, []), key=lambda w: (workflows[w]["started_at"], w))
        first = workflows[wids[0]] if wids else None
        if first:
            outcome_group[o.outcome_id] = _group_key(first)
        outcome_rows.append({
            "outcome_id": o.outcome_id, "outcome_source": o.source, "external_ref": o.external_ref,
            "workflow_type": first["workflow_type"] if first else None,
            "team": first["team"] if first else None, "linked_workflows": len(wids),
            "first_workflow_started_at": first["started_at"] if first else None,
            "resolved_at": o.resolved_at, "status": o.status, "status_reason": o.reason,
            "value_usd": o.value_usd,
        })
    for wid, wf in workflows.items():
        o = claims.get(wid)
        if o:
            wf["outcome_id"], wf["outcome_status"] = o.outcome_id, o.status
        else:
            wf["outcome_status"] = "no_outcome" if wf["started_at"] + OUTCOME_GRACE <= instant else "pending"
    by_outcome = {o.outcome_id: o for o in outcomes}

    # ---- token_pnl_daily ----------------------------------------------------------------
    daily: dict[tuple, list[dict]] = defaultdict(list)
    for r in call_rows:
        wf = workflows.get(r["workflow_id"]) if r["workflow_id"] else None
        team = (wf and wf["team"]) or r["team"] or UNATTRIBUTED
        wtype = (wf and wf["workflow_type"]) or r["workflow_type"] or UNATTRIBUTED
        daily[(r["day"], team, wtype, r["provider"], r["model"])].append(r)
    pnl_rows = []
    for (day, team, wtype, provider, model), rs in sorted(daily.items()):
        row = {"day": day, "team": team, "workflow_type": wtype, "provider": provider, "model": model,
               "calls": len(rs), "retry_calls": sum(r["is_retry"] for r in rs)}
        row.update({col: sum(r[col] for r in rs) for col in CLASS_COLUMNS})
        row["retry_tokens"] = sum(r["total_tokens"] for r in rs if r["is_retry"])
        row["evaluator_tokens"] = sum(r["total_tokens"] for r in rs if r["is_evaluator"])
        row.update({col: msum(r[col] for r in rs) for col in COST_COLUMNS})
        row["list_cost_usd"] = msum(r["list_cost_usd"] for r in rs)
        row["invoice_cost_usd"] = msum(r["invoice_cost_usd"] for r in rs)
        row.update(_token_ratios(rs))
        pnl_rows.append(row)

    # ---- cost_per_verified_success ------------------------------------------------------
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for wf in workflows.values():
        groups[_group_key(wf)].append(wf)
    group_outcomes: dict[tuple, list[_Outcome]] = defaultdict(list)
    for oid, key in outcome_group.items():
        group_outcomes[key].append(by_outcome[oid])
    cpvs_rows = []
    for key in sorted(groups):
        wfs, outs = groups[key], group_outcomes.get(key, [])
        month, wtype, team = key
        verified = sum(o.status == "verified_success" for o in outs)
        failed = sum(o.status == "failed" for o in outs)
        claimed = sum(o.claimed for o in outs)
        list_cost = msum(w["list_cost_usd"] for w in wfs)
        invoice = msum(w["invoice_cost_usd"] for w in wfs)
        tokens = sum(w["total_tokens"] for w in wfs)
        cpvs_rows.append({
            "month": month, "workflow_type": wtype, "team": team, "workflows": len(wfs),
            "outcomes": len(outs), "verified_successes": verified, "claimed_successes": claimed,
            "pending": sum(o.status == "pending" for o in outs), "failed": failed,
            "no_outcome": sum(w["outcome_status"] == "no_outcome" for w in wfs),
            "list_cost_usd": list_cost, "invoice_cost_usd": invoice,
            "cost_per_verified_success_usd": div_money(list_cost, verified),
            "invoice_cost_per_verified_success_usd": div_money(invoice, verified),
            "cost_per_claimed_success_usd": div_money(list_cost, claimed),
            "tokens_per_verified_success": ratio(tokens, verified),
            "verified_success_rate": ratio(verified, verified + failed),
            # kept for the dashboard's gross margin; not a column of the mart
            "_tokens": tokens, "_values": [o.value_usd for o in outs
                                            if o.status == "verified_success" and o.value_usd is not None],
        })

    # ---- invoice_reconciliation ---------------------------------------------------------
    recon_rows = []
    for provider, month in sorted(set(calls_pm) | {k for k in usage_pm} | set(non_usage_pm)):
        key = (provider, month)
        lst, inv = list_total.get(key), usage_pm.get(key)
        if calls_pm.get(key, 0) and inv is None:
            status = "awaiting_invoice"
        elif inv is not None and not lst:
            status = "unallocated"
        elif lst and abs(Fraction(inv - lst) / Fraction(lst) * 100) > TOLERANCE_PCT:
            status = "over_tolerance"
        else:
            status = "reconciled"
        both = lst is not None and inv is not None
        recon_rows.append({
            "provider": provider, "month": month, "calls": calls_pm.get(key, 0), "list_cost_usd": lst,
            "gateway_reported_cost_usd": msum(gateway_pm.get(key, [])), "invoice_usage_cost_usd": inv,
            "variance_usd": inv - lst if both else None,
            "variance_pct": ratio((inv - lst) * 100, lst) if both else None,
            "allocation_factor": ratio(inv, lst) if both else None,
            "non_usage_charges_usd": non_usage_pm.get(key, Decimal(0)), "status": status,
        })

    # ---- exec_dashboard -----------------------------------------------------------------
    dash_rows = []
    month_calls: dict[date, list[dict]] = defaultdict(list)
    for r in call_rows:
        month_calls[month_of(r["day"])].append(r)
    for month in sorted(month_calls):
        rs = month_calls[month]
        gs = [g for g in cpvs_rows if g["month"] == month]
        tokens = sum(r["total_tokens"] for r in rs)
        list_cost = msum(r["list_cost_usd"] for r in rs)
        wf_count = sum(g["workflows"] for g in gs)
        wf_list = msum(g["list_cost_usd"] for g in gs)
        verified = sum(g["verified_successes"] for g in gs)
        values = [v for g in gs for v in g["_values"]]
        margin = None
        if values and verified:
            margin = round_money((Fraction(sum(values, Decimal(0))) - Fraction(wf_list or 0)) / verified)
        eval_cost = msum(r["list_cost_usd"] for r in rs if r["is_evaluator"]) or Decimal(0)
        ratios = _token_ratios(rs)
        dash_rows.append({
            "month": month, "calls": len(rs), "workflows": wf_count, "total_tokens": tokens,
            "list_cost_usd": list_cost, "invoice_cost_usd": msum(r["invoice_cost_usd"] for r in rs),
            "cost_per_mtok_usd": div_money(list_cost * 1_000_000, tokens) if list_cost is not None else None,
            "cost_per_request_usd": div_money(list_cost, len(rs)),
            "cost_per_workflow_usd": div_money(wf_list, wf_count),
            "cost_per_verified_success_usd": div_money(wf_list, verified),
            "tokens_per_verified_success": ratio(sum(g["_tokens"] for g in gs), verified),
            "retry_token_ratio": ratios["retry_token_ratio"],
            "reasoning_token_ratio": ratios["reasoning_token_ratio"],
            "cache_hit_rate": ratios["cache_hit_rate"],
            "eval_overhead_ratio": ratio(eval_cost, list_cost),
            "gross_margin_per_trusted_outcome_usd": margin,
            "unpriced_calls": sum(not r["is_priced"] for r in rs),
        })
    for g in cpvs_rows:
        del g["_tokens"], g["_values"]

    wf_rows = sorted(workflows.values(), key=lambda w: (w["started_at"], w["workflow_id"]))
    return {
        "fct_llm_calls": call_rows, "fct_workflows": wf_rows, "fct_outcomes": outcome_rows,
        "token_pnl_daily": pnl_rows, "cost_per_verified_success": cpvs_rows,
        "invoice_reconciliation": recon_rows, "exec_dashboard": dash_rows,
    }


def _group_key(wf: dict) -> tuple[date, str, str]:
    return (month_of(wf["started_at"]), wf["workflow_type"] or UNATTRIBUTED, wf["team"] or UNATTRIBUTED)


def _token_ratios(rs: list[dict]) -> dict[str, float | None]:
    total = sum(r["total_tokens"] for r in rs)
    read = sum(r["input_cache_read_tokens"] for r in rs)
    inputs = sum(r["input_uncached_tokens"] + r["input_cache_read_tokens"] + r["input_cache_write_tokens"] for r in rs)
    reasoning = sum(r["output_reasoning_tokens"] for r in rs)
    output = sum(r["output_visible_tokens"] + r["output_reasoning_tokens"] for r in rs)
    return {
        "cache_hit_rate": ratio(read, inputs),
        "request_cache_hit_rate": ratio(sum(r["input_cache_read_tokens"] > 0 for r in rs), len(rs)),
        "reasoning_token_ratio": ratio(reasoning, output),
        "retry_token_ratio": ratio(sum(r["total_tokens"] for r in rs if r["is_retry"]), total),
    }


# --------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------


@dataclass
class Truth:
    as_of: date  # the last generated day: run with --as-of this
    price_book: Path
    landing: Path
    marts: dict[str, list[dict]]
    quarantined: list[tuple[str, int]]  # (path relative to landing, 1-based line)

    def write_json(self, path: Path | str) -> None:
        """Dump the truth for debugging: Decimals as strings, dates ISO."""
        def default(o):
            if isinstance(o, Decimal):
                return str(o)
            if isinstance(o, (date, datetime)):
                return o.isoformat()
            if isinstance(o, Path):
                return str(o)
            raise TypeError(type(o))
        doc = {"as_of": self.as_of, "price_book": self.price_book, "landing": self.landing,
               "quarantined": self.quarantined, "marts": self.marts}
        Path(path).write_text(json.dumps(doc, default=default, indent=1, sort_keys=False), encoding="utf-8")


def generate(out_dir: Path | str, *, seed: int = 7, start: date = date(2026, 9, 1), days: int = 61,
             workflows_per_day: int = 12, bad_records: bool = True, all_formats: bool = True) -> Truth:
    """Write `out_dir/landing/...` and `out_dir/price_book.csv`; return the expected marts.

    `all_formats=False` writes only G1, I1, O1 and O3, exactly as earlier versions did."""
    if days < 1:
        raise ValueError("days must be >= 1")
    out_dir = Path(out_dir)
    landing = out_dir / "landing"
    if landing.exists():
        shutil.rmtree(landing)  # a stale file would change what the pipeline sees
    landing.mkdir(parents=True)
    with localcontext() as ctx:
        ctx.prec = 60  # exact for every sum and product we form
        gen = _Generator(seed, start, days, workflows_per_day, all_formats)
        world = gen.build()
        if all_formats:
            route_calls(gen, world)
        book = build_price_book(start, days)
        priced = {c.call_id: price_call(c, book) for c in world.calls}
        if all_formats:
            set_gateway_costs(gen.frng, world.calls, priced)
        priced_by_pm: dict[tuple[str, date], list[PricedCall]] = defaultdict(list)
        for c in world.calls:
            priced_by_pm[(c.provider, month_of(c.occurred_at))].append(priced[c.call_id])
        months = sorted({month_of(c.occurred_at) for c in world.calls})
        reports, report_amounts, skip = {}, [], set()
        if all_formats:
            reports, report_amounts = build_cost_reports(gen.frng, world.calls, priced, months, gen.as_of)
            skip = {(prov, m) for prov, m, _ in report_amounts}
        invoices = build_invoices(gen.rng, priced_by_pm, months, skip)

        price_book = out_dir / "price_book.csv"
        write_price_book(price_book, book)
        g1 = [c for c in world.calls if c.source == SOURCE_FORMAT]
        quarantined = _GatewayWriter(gen.rng, start, days, bad_records).write(landing, g1)
        for rel, rows in invoices.items():
            write_invoice(landing / rel, rows)
        if all_formats:
            _OtelWriter(gen.frng).write(landing, world.calls)
            _LitellmWriter(gen.frng, start, days).write(landing, world.calls)
            for rel, data in reports.items():
                _write_bytes(landing / rel, data)
            write_tickets(landing, world.tickets)
        write_github(gen, landing, world.prs, world.other_deliveries)
        write_generic(landing, world.events)
        marts = compute_marts(world.calls, priced, world.prs, world.events, invoices, gen.as_of,
                              report_amounts, world.tickets)
    return Truth(gen.as_of, price_book, landing, marts, quarantined)


if __name__ == "__main__":  # python -m tokenpnl.demo_data OUT_DIR
    import sys
    import time

    t0 = time.perf_counter()
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "demo_out")
    truth = generate(target)
    truth.write_json(target / "truth.json")
    print(f"as_of={truth.as_of} in {time.perf_counter() - t0:.2f}s")
    for name, rows in truth.marts.items():
        print(f"{name:28s} {len(rows):6d}")
    print(f"quarantined {truth.quarantined}")
