"""Build the shipped default price book from genai-prices' bundled data.

    .venv/bin/python models/build_default_price_book.py [OUT]   # OUT defaults to price_books/default.csv

Offline and deterministic: it reads only the snapshot bundled with the installed genai-prices
package (never its auto-update feed) and writes sorted rows without timestamps, so a re-run
gives a byte-identical file. The only way the book changes is a new genai-prices version.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from genai_prices.data import providers
from genai_prices.types import ModelInfo, ModelPrice, Provider, StartDateConstraint, TieredPrices

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "price_books" / "default.csv"
ALIASES = HERE / "provider_aliases.csv"

HEADER = [
    "provider", "model", "effective_from", "effective_to",
    "input_usd_per_mtok", "cache_read_usd_per_mtok", "cache_write_usd_per_mtok",
    "cache_write_1h_usd_per_mtok", "output_usd_per_mtok", "reasoning_usd_per_mtok",
    "tier", "min_input_tokens",
]  # fmt: skip
# Price columns -> genai-prices price keys, first present wins. Keys the data lacks stay
# empty, which the book reads as "fall back" (cache read -> input, reasoning -> output, ...).
PRICE_KEYS: dict[str, tuple[str, ...]] = {
    "input_usd_per_mtok": ("input_mtok",),
    "cache_read_usd_per_mtok": ("cache_read_mtok",),
    "cache_write_usd_per_mtok": ("cache_write_mtok", "cache_write_5m_mtok"),
    "cache_write_1h_usd_per_mtok": ("cache_write_1h_mtok",),
    "output_usd_per_mtok": ("output_mtok",),
    "reasoning_usd_per_mtok": ("output_reasoning_mtok",),
}
# An unconditional price has held "forever" for our purposes.
OPEN_FROM = date(2000, 1, 1)
# Tier heuristic for routing analysis: open-weight families wherever they are served,
# then list price (output >= 10 USD/Mtok is frontier-priced).
OPEN_WEIGHT_PROVIDERS = frozenset({"zhipu", "moonshot", "deepseek"})
OPEN_WEIGHT_MODEL = re.compile(
    r"glm|kimi|deepseek|qwen|llama|gemma|gpt-oss|mixtral|open-mistral|mistral-(7b|nemo|small)"
    r"|ministral|devstral|phi-\d|nemotron|olmo|hermes",
    re.IGNORECASE,
)
FRONTIER_OUTPUT_USD = Decimal(10)
# Every half hour of a UTC day, to find the price that holds for most of it.
DAY_SAMPLES = [time(h, m, tzinfo=UTC) for h in range(24) for m in (15, 45)]

Row = dict[str, str]


def load_aliases(path: Path = ALIASES) -> dict[str, str]:
    with path.open(newline="") as f:
        return {r["alias"].strip().lower(): r["provider"].strip().lower() for r in csv.DictReader(f)}


def prevailing_price(model: ModelInfo, day: date) -> ModelPrice:
    """The price genai-prices charges for most of a UTC day.

    Book rows hold for whole days, so time-of-day prices (DeepSeek's peak/off-peak hours)
    cannot be expressed: we keep the standard rate (the one in force most of the day), never
    the off-peak discount. Batch and service-tier variants are ignored (no price context).
    """
    samples = [model.get_prices(datetime.combine(day, t)) for t in DAY_SAMPLES]
    return max(samples, key=samples.count)


def price_periods(model: ModelInfo) -> list[tuple[date, ModelPrice]]:
    """(first day, prices) for each period of the model's price history, oldest first."""
    if isinstance(model.prices, ModelPrice):
        return [(OPEN_FROM, model.prices)]
    changes = {c.constraint.start_date for c in model.prices if isinstance(c.constraint, StartDateConstraint)}
    periods: list[tuple[date, ModelPrice]] = []
    for day in [OPEN_FROM, *sorted(changes)]:
        price = prevailing_price(model, day)
        if not periods or periods[-1][1] != price:  # an unchanged price extends its period
            periods.append((day, price))
    return periods


def column_values(prices: ModelPrice) -> dict[str, Decimal | TieredPrices | None]:
    found = {col: [prices.__dict__.get(k) for k in keys] for col, keys in PRICE_KEYS.items()}
    return {col: next((v for v in vs if v is not None), None) for col, vs in found.items()}


def price_above(value: Decimal | TieredPrices | None, threshold: int) -> Decimal | None:
    """The price in force for a call whose total input is greater than `threshold`."""
    if not isinstance(value, TieredPrices):
        return value
    # genai-prices tiers are sorted and apply when input > start, like our book's rows.
    return next((t.price for t in reversed(value.tiers) if t.start <= threshold), value.base)


PRICE_PLACES = Decimal("1e-12")  # the warehouse stores prices as DECIMAL(24,12)


def decimal_text(value: Decimal | None) -> str:
    """As written in the data, never 1E-7; the few values derived with float artifacts
    (0.04166666666666665 = 1/24) are rounded to the 12 decimals a price book may hold."""
    if value is None:
        return ""
    if value.as_tuple().exponent < -12:  # type: ignore[operator]
        value = value.quantize(PRICE_PLACES).normalize()
    return format(value, "f")


def tier_rows(prices: ModelPrice) -> Iterator[tuple[str, Row]]:
    """(min_input_tokens, price columns): the base row, then one row per long-context tier."""
    values = column_values(prices)
    starts = sorted({t.start for v in values.values() if isinstance(v, TieredPrices) for t in v.tiers})
    for threshold in [0, *starts]:
        yield ("" if threshold == 0 else str(threshold)), {
            col: decimal_text(price_above(v, threshold)) for col, v in values.items()
        }


def model_tier(provider: str, model_id: str, output_usd: str) -> str:
    if provider in OPEN_WEIGHT_PROVIDERS or OPEN_WEIGHT_MODEL.search(model_id):
        return "open_weight"
    return "frontier" if Decimal(output_usd) >= FRONTIER_OUTPUT_USD else "mid"


def model_rows(provider: str, model: ModelInfo) -> list[Row]:
    periods = price_periods(model)
    ends = [day.isoformat() for day, _ in periods[1:]] + [""]
    rows: list[Row] = []
    for (day, prices), end in zip(periods, ends):
        # Text LLMs priced per token only: embeddings, audio-by-the-hour, etc. are skipped.
        values = column_values(prices)
        if values["input_usd_per_mtok"] is None or values["output_usd_per_mtok"] is None:
            continue
        for min_input, cols in tier_rows(prices):
            base = {"provider": provider, "model": model.id, "effective_from": day.isoformat()}
            rows.append(base | {"effective_to": end, **cols, "min_input_tokens": min_input})
    if rows:  # one tier per model, from the base output price of its latest period
        latest_base = [r for r in rows if not r["min_input_tokens"]][-1]
        tier = model_tier(provider, model.id, latest_base["output_usd_per_mtok"])
        for r in rows:
            r["tier"] = tier
    return rows


def build_rows(aliases: dict[str, str]) -> list[Row]:
    by_id = {p.id: p for p in providers}
    ordered = sorted(providers, key=lambda p: p.id)
    # A provider's own models first, then those genai-prices prices through another provider
    # (Azure sells OpenAI models, Vertex AI sells Claude): its one-step fallback, made explicit.
    sources: list[tuple[Provider, ModelInfo]] = [(p, m) for p in ordered for m in p.models]
    sources += [(p, m) for p in ordered for f in p.fallback_model_providers or () for m in by_id[f].models]
    # First (provider, model) wins. Providers sharing one of our names are taken in id order,
    # so zai's USD list beats zhipuai's CNY-converted one; case is ignored so a
    # case-insensitive price lookup never sees two rows.
    seen: set[tuple[str, str]] = set()
    rows: list[Row] = []
    for p, m in sources:
        provider = aliases.get(p.id.lower(), p.id.lower())
        if (provider, m.id.lower()) not in seen:
            seen.add((provider, m.id.lower()))
            rows += model_rows(provider, m)
    rows.sort(key=lambda r: (r["provider"], r["model"], r["effective_from"], int(r["min_input_tokens"] or 0)))
    return rows


def write_book(out: Path = DEFAULT_OUT) -> int:
    rows = build_rows(load_aliases())
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    print(f"wrote {write_book(target)} rows to {target}")
