"""Seeded demo data for tokenpnl, with an independent ground truth of every mart.

`generate()` writes a realistic landing folder (gateway JSONL in four usage shapes,
FOCUS invoices, GitHub webhook deliveries, generic outcome events) and a user price
book, and returns a `Truth`: the rows every mart must hold for that folder.

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
of the revert window, failed checks re-run green, restated outcomes, and a few
malformed records that must be quarantined.
"""

from __future__ import annotations

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
TEAMS = {"code_change": ["payments", "search", "platform"], "itinerary_booking": ["travel"],
         "support_reply": ["support"]}
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


class _Generator:
    def __init__(self, seed: int, start: date, days: int, workflows_per_day: int):
        self.rng = random.Random(seed)
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
        for d in range(self.days):
            day = self.start + timedelta(days=d)
            # the last day's workflows finish before the as-of instant
            latest = 86_399 if d < self.days - 1 else 22 * 3600
            for _ in range(self.wpd):
                wtype = self._pick(WORKFLOW_TYPES)
                team = r.choice(TEAMS[wtype])
                start = _midnight(day) + self._seconds(0, latest)
                self.workflow(wtype, team, start, labels_late=r.random() < 0.03)
            for _ in range(r.randint(6, 12)):
                self.unattributed(_midnight(day) + self._seconds(0, latest))
        self._plant_calls()
        self.calls.sort(key=lambda c: (c.occurred_at, c.call_id))
        self.workflows.sort(key=lambda w: (w.start, w.workflow_id))
        self._outcomes()
        return World(self.calls, self.workflows, self.prs, self.events, self.other_deliveries)

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
        generic = [w for w in self.workflows if w.workflow_type != "code_change" and w.scenario is None]
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
        # drop every event past the as-of instant: none are generated after it
        self.events = [e for e in self.events if e.occurred_at < self.limit]
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
                   months: list[date]) -> dict[str, list[FocusRow]]:
    """FOCUS files per (provider, month). Usage differs from list cost by a few percent;
    google's last month is over tolerance; zhipu's last month has no invoice yet
    (awaiting_invoice); self_hosted and moonshot are never billed; mistral bills a
    month in which we logged no calls (unallocated); openai's first month gets a
    correction billed in the second month's file; every file has a Tax row."""
    files: dict[str, list[FocusRow]] = {}
    last = months[-1]
    for provider in ("openai", "anthropic", "google", "zhipu"):
        for idx, m in enumerate(months):
            calls = [p for p in priced_by_pm.get((provider, m), []) if p.is_priced]
            if not calls or (provider == "zhipu" and m == last and len(months) > 1):
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


def compute_marts(calls: list[Call], priced: dict[str, PricedCall], prs: list[PullRequest],
                  events: list[OutcomeEvent], invoices: dict[str, list[FocusRow]],
                  as_of: date) -> dict[str, list[dict]]:
    instant = _midnight(as_of + timedelta(days=1))
    calls = sorted((c for c in calls if c.occurred_at < instant), key=lambda c: (c.occurred_at, c.call_id))

    # ---- invoice allocation per (provider, month of the call) -------------------------
    list_pm: dict[tuple[str, date], list[Decimal]] = defaultdict(list)
    calls_pm: dict[tuple[str, date], int] = defaultdict(int)
    for c in calls:
        key = (c.provider, month_of(c.occurred_at))
        calls_pm[key] += 1
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
            "call_id": c.call_id, "source_format": SOURCE_FORMAT, "occurred_at": c.occurred_at,
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
            "invoice_cost_usd": invoice_cost(c), "gateway_reported_cost_usd": None,
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
    outcomes = github_outcomes(prs, instant) + generic_outcomes(events)
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
            "gateway_reported_cost_usd": None, "invoice_usage_cost_usd": inv,
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
             workflows_per_day: int = 12, bad_records: bool = True) -> Truth:
    """Write `out_dir/landing/...` and `out_dir/price_book.csv`; return the expected marts."""
    if days < 1:
        raise ValueError("days must be >= 1")
    out_dir = Path(out_dir)
    landing = out_dir / "landing"
    if landing.exists():
        shutil.rmtree(landing)  # a stale file would change what the pipeline sees
    landing.mkdir(parents=True)
    with localcontext() as ctx:
        ctx.prec = 60  # exact for every sum and product we form
        gen = _Generator(seed, start, days, workflows_per_day)
        world = gen.build()
        book = build_price_book(start, days)
        priced = {c.call_id: price_call(c, book) for c in world.calls}
        priced_by_pm: dict[tuple[str, date], list[PricedCall]] = defaultdict(list)
        for c in world.calls:
            priced_by_pm[(c.provider, month_of(c.occurred_at))].append(priced[c.call_id])
        months = sorted({month_of(c.occurred_at) for c in world.calls})
        invoices = build_invoices(gen.rng, priced_by_pm, months)

        price_book = out_dir / "price_book.csv"
        write_price_book(price_book, book)
        quarantined = _GatewayWriter(gen.rng, start, days, bad_records).write(landing, world.calls)
        for rel, rows in invoices.items():
            write_invoice(landing / rel, rows)
        write_github(gen, landing, world.prs, world.other_deliveries)
        write_generic(landing, world.events)
        marts = compute_marts(world.calls, priced, world.prs, world.events, invoices, gen.as_of)
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
