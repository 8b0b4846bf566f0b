"""The shipped default price book: reproducible from genai-prices, and right where we checked by hand."""

from __future__ import annotations

import csv
import importlib.util
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

MODELS = Path(__file__).resolve().parents[1] / "models"
BOOK = MODELS / "price_books" / "default.csv"
ALIASES = MODELS / "provider_aliases.csv"


def load_builder() -> ModuleType:
    # models/ is the price-book catalogue, not a package: load the script by path.
    path = MODELS / "build_default_price_book.py"
    spec = importlib.util.spec_from_file_location("build_default_price_book", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def book() -> list[dict[str, str]]:
    return read_csv(BOOK)


def rows_of(book: list[dict[str, str]], provider: str, model: str) -> list[dict[str, str]]:
    return [r for r in book if r["provider"] == provider and r["model"] == model]


def prices(row: dict[str, str]) -> tuple[Decimal | None, ...]:
    """(input, cache read, cache write, 1h cache write, output, reasoning); None = empty (fall back)."""
    cols = ["input", "cache_read", "cache_write", "cache_write_1h", "output", "reasoning"]
    return tuple(Decimal(row[f"{c}_usd_per_mtok"]) if row[f"{c}_usd_per_mtok"] else None for c in cols)


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "default.csv"
    assert load_builder().write_book(out) > 1000
    assert out.read_bytes() == BOOK.read_bytes(), "re-run models/build_default_price_book.py and commit"


def test_header_is_the_spec_order() -> None:
    with BOOK.open(newline="") as f:
        assert next(csv.reader(f)) == [
            "provider", "model", "effective_from", "effective_to",
            "input_usd_per_mtok", "cache_read_usd_per_mtok", "cache_write_usd_per_mtok",
            "cache_write_1h_usd_per_mtok", "output_usd_per_mtok", "reasoning_usd_per_mtok",
            "tier", "min_input_tokens",
        ]  # fmt: skip


def test_claude_sonnet_4_5_with_1h_writes_and_long_context_tier(book: list[dict[str, str]]) -> None:
    base, long = rows_of(book, "anthropic", "claude-sonnet-4-5")
    D = Decimal
    assert (base["effective_from"], base["effective_to"], base["min_input_tokens"]) == ("2000-01-01", "", "")
    assert prices(base) == (D("3"), D("0.3"), D("3.75"), D("6"), D("15"), None)
    assert long["min_input_tokens"] == "200000"
    assert prices(long) == (D("6"), D("0.6"), D("7.5"), D("12"), D("22.5"), None)
    assert base["tier"] == long["tier"] == "frontier"


def test_gpt_5_cached_input(book: list[dict[str, str]]) -> None:
    (row,) = rows_of(book, "openai", "gpt-5")
    assert prices(row) == (Decimal("1.25"), Decimal("0.125"), None, None, Decimal("10"), None)
    assert (row["min_input_tokens"], row["tier"]) == ("", "frontier")


def test_gemini_2_5_pro_over_200k_tier(book: list[dict[str, str]]) -> None:
    base, long = rows_of(book, "google", "gemini-2.5-pro")
    assert prices(base) == (Decimal("1.25"), Decimal("0.125"), None, None, Decimal("10"), None)
    assert long["min_input_tokens"] == "200000"
    assert prices(long) == (Decimal("2.5"), Decimal("0.25"), None, None, Decimal("15"), None)


def test_price_history_becomes_consecutive_periods(book: list[dict[str, str]]) -> None:
    rows = rows_of(book, "deepseek", "deepseek-v4-flash")
    assert [(r["effective_from"], r["effective_to"]) for r in rows] == [
        ("2000-01-01", "2026-08-17"),
        ("2026-08-17", "2026-09-10"),
        ("2026-09-10", ""),
    ]
    assert [prices(r)[0] for r in rows] == [Decimal("0.14"), Decimal("0.22"), Decimal("0.15")]
    assert {r["tier"] for r in rows} == {"open_weight"}


def test_deepseek_time_of_day_prices_keep_the_standard_rate(book: list[dict[str, str]]) -> None:
    # genai-prices: 0.135/0.035/0.55 off-peak, 0.27/0.07/1.1 from 00:30 to 16:30 UTC.
    (row,) = rows_of(book, "deepseek", "deepseek-chat")
    assert prices(row) == (Decimal("0.27"), Decimal("0.07"), None, None, Decimal("1.1"), None)


def test_aliased_providers_and_reasoning_price(book: list[dict[str, str]]) -> None:
    # zai and zhipuai both become zhipu; zai's USD list wins over zhipuai's CNY conversion.
    (glm,) = rows_of(book, "zhipu", "GLM-5.2")
    assert prices(glm) == (Decimal("1.4"), Decimal("0.26"), None, None, Decimal("4.4"), None)
    (sonar,) = rows_of(book, "perplexity", "sonar-deep-research")
    assert prices(sonar)[4:] == (Decimal("8"), Decimal("3"))
    # Azure's OpenAI models come through genai-prices' provider fallback.
    (azure_gpt5,) = rows_of(book, "azure", "gpt-5")
    assert prices(azure_gpt5) == prices(rows_of(book, "openai", "gpt-5")[0])


def test_no_overlapping_periods(book: list[dict[str, str]]) -> None:
    periods: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for r in book:
        assert r["effective_from"] and (not r["effective_to"] or r["effective_from"] < r["effective_to"])
        periods[(r["provider"], r["model"].lower(), r["min_input_tokens"])].append(
            (r["effective_from"], r["effective_to"])
        )
    for key, spans in periods.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end and end <= start, f"overlapping periods for {key}: {spans}"


def test_every_row_is_priced_and_tiered(book: list[dict[str, str]]) -> None:
    for r in book:
        assert r["input_usd_per_mtok"] and r["output_usd_per_mtok"], r
        assert r["tier"] in {"frontier", "mid", "open_weight"}, r
        assert "E" not in "".join(r[c] for c in r if c.endswith("_mtok")), r  # no exponent notation


def test_providers_are_normalised_names(book: list[dict[str, str]]) -> None:
    aliases = {r["alias"]: r["provider"] for r in read_csv(ALIASES)}
    assert all(a == a.lower() and p == p.lower() for a, p in aliases.items())
    assert not set(aliases.values()) & set(aliases), "an alias must map straight to a normalised name"
    required = {
        "zai": "zhipu", "z.ai": "zhipu", "zhipuai": "zhipu", "hosted_vllm": "self_hosted",
        "vllm": "self_hosted", "gcp.gemini": "google", "gcp.vertex_ai": "google", "vertex_ai": "google",
        "gemini": "google", "google-vertex": "google", "moonshot_ai": "moonshot", "moonshotai": "moonshot",
        "aws.bedrock": "bedrock",
    }  # fmt: skip
    assert required.items() <= aliases.items()
    providers = {r["provider"] for r in book}
    assert not providers & set(aliases), providers & set(aliases)
    expected = {"openai", "anthropic", "google", "zhipu", "moonshot", "deepseek", "mistral", "xai", "azure", "bedrock"}
    assert expected <= providers
