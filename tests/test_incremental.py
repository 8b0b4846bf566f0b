"""Incremental nights equal full builds (issue 5). One warehouse is taken through four nights,
each changing something the per-call models must notice; after every night its marts must equal,
row for row and to the last decimal, those of a fresh warehouse built from the same landing
folder in one go. The build database must also show that the night was incremental.

Night 1 (as-of 10-20): September and October calls, no invoice.
Night 1's per-call tables then lose their `_built_at` column, as if built by an older version.
Night 2 (as-of 10-20): a late call on an old day, a newer version of a call on the next day
  (the call moves day), a call after the as-of instant, September's invoice, and a late first
  call of a workflow on the day before its other call, naming another team, and an outcome for a
  workflow whose calls do not change.
Night 3 (as-of 10-19, a backfill): the as-of moves back; 10-20's calls must leave the marts.
  It starts from night 1's publication, as if night 2's had been blocked by a check: the
  publication patches in the changes of two builds.
Night 4 (as-of 10-25): forward again, past the waiting call, under a new price book.

The publication is patched, not copied whole, except on night 1, night 4 (every day moved) and
`tokenpnl rebuild` after night 4.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import write_jsonl
from tests.marts_compare import KEYS, build_rows, published_rows, read_marts
from tests.test_end_to_end import tokenpnl_run
from tests.test_late_data import BOOK, FOCUS_HEADER, call, generic, write_text
from tokenpnl.publish import moved_since

pytestmark = pytest.mark.slow

ENV = {"TOKENPNL_HMAC_KEY": "incremental-key"}
NEW_BOOK = BOOK.replace("acme,m1,2026-01-01,,1.00,,,,2.00,,mid,", "acme,m1,2026-01-01,,1.50,,,,2.50,,mid,")


def run(landing: Path, warehouse: Path, as_of: date, book: Path) -> dict[str, list[dict]]:
    proc = tokenpnl_run(landing, warehouse, as_of, book, env=ENV)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return read_marts(warehouse)


def rows(marts: dict[str, list[dict]]) -> dict[str, list[tuple]]:
    return {mart: sorted((tuple(sorted(r.items())) for r in marts[mart]), key=repr) for mart in (*KEYS, "quarantine")}


def mode(warehouse: Path) -> str:
    """How the last publication was written: `full` or `incremental`."""
    return published_rows(warehouse, "SELECT mode FROM marts.publication")[0][0]


def night(root: Path, n: int, landing: Path, warehouse: Path, as_of: date, book: Path) -> dict[str, list[dict]]:
    """Run the incremental night, then a fresh full build of the same inputs; return both."""
    incremental = run(landing, warehouse, as_of, book)
    full = run(landing, root / f"full_{n}" / "tokenpnl.duckdb", as_of, book)
    return {"incremental": incremental, "full": full}


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    landing, warehouse = root / "landing", root / "wh" / "tokenpnl.duckdb"
    book = write_text(root / "book.csv", BOOK)
    write_jsonl(landing / "gateway" / "n1" / "calls.jsonl", [call(*c) for c in [
        ("s1", "2026-09-10T10:00:00Z", "wf_s1", 1000, 100),
        ("s2", "2026-09-20T10:00:00Z", "wf_s2", 2000, 500),
        ("o1", "2026-10-05T10:00:00Z", "wf_o1", 1000, 100),
        ("t2", "2026-10-05T12:00:00Z", "wf_t", 800, 80),
        ("mv", "2026-10-18T23:59:00Z", "wf_mv", 400, 40),
        ("e1", "2026-10-20T08:00:00Z", "wf_e1", 700, 70),
        *((f"q{d}", f"2026-09-0{d}T10:00:00Z", f"wf_q{d}", 100 * d, 10) for d in range(1, 4)),  # quiet days
    ]])
    out = {1: run(landing, warehouse, date(2026, 10, 20), book)}
    modes = [mode(warehouse)]
    shutil.copyfile(warehouse, root / "publication_1.duckdb")
    # As if night 1 ran a version before the per-call models stamped their rows: night 2 adds the
    # column again (dbt's on_schema_change, after the pre-hook's delete) and the old rows hold NULL.
    con = duckdb.connect(str(warehouse.with_name("tokenpnl.build.duckdb")))
    for table in ("int_llm_calls_deduplicated", "int_llm_calls_priced", "int_llm_calls_allocated"):
        con.execute(f"ALTER TABLE intermediate.{table} DROP COLUMN _built_at")
    con.close()

    write_jsonl(landing / "gateway" / "n2" / "calls.jsonl", [call(*c) for c in [
        ("late", "2026-09-20T12:00:00Z", "wf_s2", 3000, 300),   # joins an old day and workflow
        ("mv", "2026-10-19T00:01:00Z", "wf_mv", 900, 90),      # newer version: the call moves to 10-19
        ("after", "2026-10-22T09:00:00Z", "wf_af", 500, 50),   # waits for a covering as-of
    ]] + [call("t1", "2026-10-04T23:00:00Z", "wf_t", 200, 20, team="search")])  # wf_t's first call: t2 turns search
    # wf_q1 (its only call on 09-01, a quiet day) gets an outcome: its verdict moves, its calls do not
    write_jsonl(landing / "outcomes" / "generic" / "n2.jsonl", [generic("g_q1", "wf_q1", "2026-10-10T00:00:00Z", "accepted")])
    write_text(landing / "invoices" / "2026-09" / "focus.csv", FOCUS_HEADER
               + "org_01,2026-09-01T00:00:00Z,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,Usage,,Acme,m1 API,0.0100,USD,INV-09\n")
    out[2] = night(root, 2, landing, warehouse, date(2026, 10, 20), book)
    out["changed_2"] = build_rows(warehouse, "SELECT day, is_changed FROM intermediate.int_llm_call_days_changed ORDER BY day")
    out["workflows_2"] = build_rows(warehouse, "SELECT workflow_id FROM intermediate.int_workflows_changed")
    out["pnl_days_2"] = build_rows(warehouse, "SELECT day FROM intermediate.int_pnl_days_changed")
    out["verdicts_2"] = build_rows(warehouse, "SELECT workflow_id FROM intermediate.int_workflow_verdicts_changed")
    modes.append(mode(warehouse))
    out["moved_2"] = moved_since(warehouse.with_name("tokenpnl.build.duckdb"), root / "publication_1.duckdb")
    shutil.copyfile(root / "publication_1.duckdb", warehouse)  # night 2's publication never happened
    out[3] = night(root, 3, landing, warehouse, date(2026, 10, 19), book)
    modes.append(mode(warehouse))
    write_text(book, NEW_BOOK)
    out[4] = night(root, 4, landing, warehouse, date(2026, 10, 25), book)
    modes.append(mode(warehouse))
    proc = tokenpnl_run(landing, warehouse, date(2026, 10, 25), book, env=ENV, command="rebuild")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out["rebuilt"] = read_marts(warehouse)
    modes.append(mode(warehouse))
    out["modes"] = modes
    return out


@pytest.mark.parametrize("n", [2, 3, 4])
def test_an_incremental_night_equals_a_full_build(nights, n):
    incremental, full = rows(nights[n]["incremental"]), rows(nights[n]["full"])
    for mart in full:
        assert incremental[mart] == full[mart], mart


def test_the_second_night_rebuilt_only_the_changed_days_and_workflows(nights):
    changed = {str(day): flag for day, flag in nights["changed_2"]}
    # New records on 09-20, 10-04, 10-19 and 10-22; the other days kept what night 1 built.
    assert changed == {"2026-09-01": False, "2026-09-02": False, "2026-09-03": False, "2026-09-10": False,
                       "2026-09-20": True, "2026-10-04": True, "2026-10-05": False, "2026-10-18": False,
                       "2026-10-19": True, "2026-10-20": False, "2026-10-22": True}
    # Their workflows, and every workflow of September, whose invoice arrived.
    assert {w for (w,) in nights["workflows_2"]} == {"wf_s1", "wf_s2", "wf_q1", "wf_q2", "wf_q3", "wf_mv", "wf_af",
                                                         "wf_t"}
    # token_pnl_daily: every day of September (its invoice arrived), the new records' days, mv's old
    # day (10-18) and t2's (10-05: no new record, but its workflow's team changed).
    assert {str(d) for (d,) in nights["pnl_days_2"]} == {f"2026-09-{d:02d}" for d in range(1, 31)} | {
        "2026-10-04", "2026-10-05", "2026-10-18", "2026-10-19", "2026-10-22"}


def test_a_verdict_moves_without_new_calls(nights):
    """fct_workflows writes again a workflow whose outcome arrived though none of its calls
    changed (int_workflow_verdicts_changed), and only the workflows that moved."""
    status = {(w["workflow_id"]): w["outcome_status"] for w in nights[2]["incremental"]["fct_workflows"]}
    assert status["wf_q1"] == "verified_success" and status["wf_q2"] == "no_outcome"
    assert {w for (w,) in nights["verdicts_2"]} == {"wf_q1"} | {w for (w,) in nights["workflows_2"] if w != "wf_af"}


def test_the_audit_sees_what_moved_since_the_last_publication(nights):
    """What night 3's GX audit reads (after night 2's publication was lost): the days with new
    records, and September's provider-month, whose invoice arrived (expectations.validate_build)."""
    moved = nights["moved_2"]
    assert [str(d) for d in moved.days] == ["2026-09-20", "2026-10-04", "2026-10-19", "2026-10-22"]
    assert moved.provider_months == [("acme", date(2026, 9, 1))]


def test_the_publication_was_patched_when_few_days_moved(nights):
    assert nights["modes"] == ["full", "incremental", "incremental", "full", "full"]


def test_a_rebuild_publishes_everything_again_and_equals_a_full_build(nights):
    assert rows(nights["rebuilt"]) == rows(nights[4]["full"])


def test_the_nights_changed_what_they_should(nights):
    def calls(marts):
        return {r["call_id"]: r for r in marts["fct_llm_calls"]}
    second, third, fourth = (calls(nights[n]["incremental"]) for n in (2, 3, 4))
    assert second["mv"]["day"] == date(2026, 10, 19) and second["mv"]["total_tokens"] == 990
    assert "after" not in second and second["s1"]["invoice_cost_usd"] is not None
    teams = {(r["day"], r["team"]) for r in nights[2]["incremental"]["token_pnl_daily"]}
    assert (date(2026, 10, 5), "search") in teams  # t2 is summed under its workflow's new team
    assert "e1" in second and "e1" not in third and "mv" in third  # the as-of moved back to 10-19
    assert "after" in fourth and "e1" in fourth
    # The new book: 1000 x 1.50 + 100 x 2.50 per Mtok.
    assert str(fourth["o1"]["list_cost_usd"].normalize()) == "0.00175"
