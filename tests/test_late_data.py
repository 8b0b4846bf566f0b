"""Late data, corrections, reconciliation (reliability.md §6 group C) and outcome integrity
(group F), through real `tokenpnl run` subprocesses on small hand-made landing folders.

Every call is provider `acme`, model `m1`, priced by a user book at 1.00 USD per Mtok input and
2.00 USD per Mtok output, so a call of P prompt and C completion tokens costs
(P + 2 C) / 1,000,000 USD and every expectation below is written out by hand as an exact
Decimal. Runs are expensive (~20 s each), so each scenario is one warehouse taken through a few
nightly runs by a module-scoped fixture, and the tests read its snapshots.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import write_jsonl
from tests.marts_compare import KEYS, build_rows, read_marts
from tests.test_end_to_end import tokenpnl_run

pytestmark = pytest.mark.slow

D = Decimal
CENT14 = D("0.00000000000001")

BOOK = (
    "provider,model,effective_from,effective_to,input_usd_per_mtok,cache_read_usd_per_mtok,"
    "cache_write_usd_per_mtok,cache_write_1h_usd_per_mtok,output_usd_per_mtok,reasoning_usd_per_mtok,tier,min_input_tokens\n"
    "acme,m1,2026-01-01,,1.00,,,,2.00,,mid,\n"
)

FOCUS_HEADER = ("BillingAccountId,BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ChargeClass,"
                "ProviderName,ServiceName,EffectiveCost,BillingCurrency,InvoiceId\n")


def round14(x: Decimal) -> Decimal:
    return x.quantize(CENT14, rounding=ROUND_HALF_UP)


def cost(prompt: int, completion: int) -> Decimal:
    return D(prompt) * D("1.00") / 1_000_000 + D(completion) * D("2.00") / 1_000_000


def call(rid: str, ts: str, wf: str, prompt: int, completion: int, team: str = "core") -> dict:
    return {"request_id": rid, "timestamp": ts, "provider": "acme", "model": "m1", "workflow_id": wf,
            "workflow_type": "code_change", "team": team,
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def write_book(tmp: Path) -> Path:
    book = tmp / "acme_book.csv"
    book.write_text(BOOK)
    return book


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run_ok(landing: Path, warehouse: Path, as_of: date, book: Path, tz: str) -> dict[str, list[dict]]:
    proc = tokenpnl_run(landing, warehouse, as_of, book, env={"TZ": tz, "TOKENPNL_HMAC_KEY": "late-data-key"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    marts = read_marts(warehouse)
    assert marts["quarantine"] == [], marts["quarantine"]
    return marts


def by_key(marts: dict, mart: str) -> dict[tuple, dict]:
    return {tuple(r[k] for k in KEYS[mart]): r for r in marts[mart]}


# ---------------------------------------------------------------------------------------------
# C. Late data, the as-of boundary, invoices, corrections (one warehouse, three nightly runs)
# ---------------------------------------------------------------------------------------------

#  id       stamped (UTC unless said)          workflow  prompt completion  list cost
AUG = [
    ("a1", "2026-08-15T10:00:00Z", "wf_a1", 1000, 100),   # 0.0012
]
SEPT = [
    ("s1", "2026-09-10T10:00:00Z", "wf_s1", 1000, 100),   # 0.0012
    ("s2", "2026-09-20T10:00:00Z", "wf_s2", 2000, 500),   # 0.0030
]
OCT_ON_TIME = [
    ("o1", "2026-10-05T10:00:00Z", "wf_o1", 1000, 100),   # 0.0012
    ("o2", "2026-10-10T23:30:00-05:00", "wf_o2", 3000, 200),  # 0.0034, UTC day 2026-10-11
    ("o3", "2026-10-17T09:00:00Z", "wf_o3", 1000, 300),   # 0.0016
    ("b_in", "2026-10-20T23:59:59.999Z", "wf_o4", 500, 50),    # 0.0006, last instant of as-of 10-20
    ("b_out", "2026-10-21T00:00:00Z", "wf_o5", 700, 70),       # 0.00084, first instant after it
    ("b_far", "2026-10-25T12:00:00Z", "wf_o6", 900, 90),       # 0.00108
]
# Delivered in a new file on the second run, stamped three days before the first run's as-of.
LATE = [
    ("l1", "2026-10-17T12:00:00Z", "wf_o3", 1000, 300),   # 0.0016
    ("l2", "2026-10-17T13:00:00Z", "wf_o3", 2000, 100),   # 0.0022
]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """Run 1 (as-of 10-20): August and September calls with their invoices, October calls, no
    October invoice.
    Run 2 (as-of 10-20 again, the nightly re-run after a late delivery): a new gateway file with
    two calls stamped 10-17. Run 3 (as-of 11-02): October's FOCUS file (October usage, a Credit,
    and a Correction of September billed in October), September's file re-issued twice and
    August's re-issued with its columns in another order.
    All three under TZ=Pacific/Kiritimati (UTC+14)."""
    root = tmp_path_factory.mktemp("late")
    landing, warehouse, book = root / "landing", root / "wh" / "tokenpnl.duckdb", write_book(root)
    tz = "Pacific/Kiritimati"

    write_jsonl(landing / "gateway" / "2026-10-20" / "calls.jsonl", [call(*c) for c in AUG + SEPT + OCT_ON_TIME])
    write_text(landing / "invoices" / "2026-08" / "focus-2026-08.csv", FOCUS_HEADER
               + "org_01,2026-08-01T00:00:00Z,2026-08-01T00:00:00Z,2026-09-01T00:00:00Z,Usage,,Acme,m1 API,0.0012,USD,INV-08\n")
    sept_rows = [
        "org_01,2026-09-01T00:00:00Z,2026-09-10T00:00:00Z,2026-09-11T00:00:00Z,Usage,,Acme,m1 API,0.0013,USD,INV-09\n",
        "org_01,2026-09-01T00:00:00Z,2026-09-20T00:00:00Z,2026-09-21T00:00:00Z,Usage,,Acme,m1 API,0.0030,USD,INV-09\n",
    ]
    sept_file = write_text(landing / "invoices" / "2026-09" / "focus-2026-09.csv", FOCUS_HEADER + "".join(sept_rows))
    first = run_ok(landing, warehouse, date(2026, 10, 20), book, tz)
    raw_after_first = {r for (r,) in build_rows(warehouse, "SELECT call_id FROM raw.llm_calls")}

    write_jsonl(landing / "gateway" / "2026-10-21" / "late.jsonl", [call(*c) for c in LATE])
    second = run_ok(landing, warehouse, date(2026, 10, 20), book, tz)

    write_text(landing / "invoices" / "2026-10" / "focus-2026-10.csv", FOCUS_HEADER
               + "org_01,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Usage,,Acme,m1 API,0.0130,USD,INV-10\n"
               + "org_01,2026-10-01T00:00:00Z,2026-09-20T00:00:00Z,2026-09-21T00:00:00Z,Usage,Correction,Acme,m1 API,0.0002,USD,INV-10\n"
               + "org_01,2026-10-01T00:00:00Z,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,Credit,,Acme,promo credit,-0.0010,USD,INV-10\n")
    # Re-issued: byte-identical under a new name, and the same rows in another order.
    write_text(landing / "invoices" / "2026-09" / "reissued" / "focus-2026-09-copy.csv", sept_file.read_text())
    write_text(landing / "invoices" / "2026-09" / "focus-2026-09-reissued.csv", FOCUS_HEADER + "".join(reversed(sept_rows)))
    # August's file re-issued by an exporter that writes the same columns in another order.
    write_text(landing / "invoices" / "2026-08" / "focus-2026-08-reissued.csv",
               "ProviderName,ChargeCategory,ChargeClass,ChargePeriodStart,ChargePeriodEnd,BillingPeriodStart,"
               "EffectiveCost,BillingCurrency,BillingAccountId,ServiceName,InvoiceId\n"
               "Acme,Usage,,2026-08-01T00:00:00Z,2026-09-01T00:00:00Z,2026-08-01T00:00:00Z,0.0012,USD,org_01,m1 API,INV-08\n")
    third = run_ok(landing, warehouse, date(2026, 11, 2), book, tz)
    return {"root": root, "landing": landing, "book": book, "first": first, "second": second, "third": third,
            "raw_after_first": raw_after_first}


def calls_of(marts: dict) -> dict[str, dict]:
    return {r["call_id"]: r for r in marts["fct_llm_calls"]}


def test_late_calls_land_in_their_own_day_and_change_only_that_day_and_month(ledger):
    first, second = ledger["first"], ledger["second"]
    before, after = by_key(first, "token_pnl_daily"), by_key(second, "token_pnl_daily")
    day = (date(2026, 10, 17), "core", "code_change", "acme", "m1")
    assert (before[day]["calls"], before[day]["total_tokens"], before[day]["list_cost_usd"]) == (1, 1300, D("0.0016"))
    # Exactly the two late calls added: 1300 + 2100 tokens, 0.0016 + 0.0022 USD.
    assert (after[day]["calls"], after[day]["input_uncached_tokens"], after[day]["output_visible_tokens"],
            after[day]["total_tokens"], after[day]["cost_input_uncached_usd"], after[day]["cost_output_visible_usd"],
            after[day]["list_cost_usd"], after[day]["invoice_cost_usd"]) == \
        (3, 4000, 700, 4700, D("0.004"), D("0.0014"), D("0.0054"), None)
    assert {k: v for k, v in after.items() if k != day} == {k: v for k, v in before.items() if k != day}
    assert set(before) == set(after)

    oct_before = by_key(first, "exec_dashboard")[(date(2026, 10, 1),)]
    oct_after = by_key(second, "exec_dashboard")[(date(2026, 10, 1),)]
    # October before: o1, o2, o3, b_in = 4 calls, 1100 + 3200 + 1300 + 550 tokens, 0.0068 USD.
    assert (oct_before["calls"], oct_before["total_tokens"], oct_before["list_cost_usd"]) == (4, 6150, D("0.0068"))
    assert (oct_after["calls"], oct_after["total_tokens"], oct_after["list_cost_usd"], oct_after["invoice_cost_usd"]) == \
        (6, 9550, D("0.0106"), None)
    assert oct_after["workflows"] == oct_before["workflows"] == 4  # the late calls joined wf_o3
    assert oct_after["cost_per_request_usd"] == round14(D("0.0106") / 6)
    assert oct_after["cost_per_mtok_usd"] == round14(D("0.0106") * 1_000_000 / 9550)
    assert oct_after["cost_per_workflow_usd"] == D("0.00265")
    assert by_key(second, "exec_dashboard")[(date(2026, 9, 1),)] == by_key(first, "exec_dashboard")[(date(2026, 9, 1),)]

    wf = {w["workflow_id"]: w for w in second["fct_workflows"]}["wf_o3"]
    assert (wf["calls"], wf["list_cost_usd"], str(wf["started_at"])) == (3, D("0.0054"), "2026-10-17 09:00:00")
    assert calls_of(second)["l1"]["day"] == date(2026, 10, 17)


def test_records_after_the_as_of_instant_are_kept_and_wait_for_a_covering_run(ledger):
    first, third = ledger["first"], ledger["third"]
    # Loaded and kept in raw, even the ones the first run's as-of does not cover ...
    assert {"b_in", "b_out", "b_far"} <= ledger["raw_after_first"]
    # ... but 23:59:59.999 on the as-of day is in and 00:00:00 the next day is out.
    seen = calls_of(first)
    assert "b_in" in seen and seen["b_in"]["day"] == date(2026, 10, 20)
    assert "b_out" not in seen and "b_far" not in seen
    assert {w["workflow_id"] for w in first["fct_workflows"]} == {"wf_a1", "wf_s1", "wf_s2", "wf_o1", "wf_o2", "wf_o3", "wf_o4"}
    days = {k[0] for k in by_key(first, "token_pnl_daily")}
    assert max(days) == date(2026, 10, 20) and date(2026, 10, 21) not in days
    daily = by_key(first, "token_pnl_daily")[(date(2026, 10, 20), "core", "code_change", "acme", "m1")]
    assert (daily["calls"], daily["list_cost_usd"]) == (1, D("0.0006"))
    (oct_first,) = [r for r in first["invoice_reconciliation"] if r["month"] == date(2026, 10, 1)]
    assert (oct_first["calls"], oct_first["list_cost_usd"]) == (4, D("0.0068"))

    # The run whose as-of covers them shows them on their own UTC days.
    seen = calls_of(third)
    assert (seen["b_out"]["day"], seen["b_out"]["list_cost_usd"]) == (date(2026, 10, 21), D("0.00084"))
    assert (seen["b_far"]["day"], seen["b_far"]["list_cost_usd"]) == (date(2026, 10, 25), D("0.00108"))
    daily = by_key(third, "token_pnl_daily")
    assert daily[(date(2026, 10, 21), "core", "code_change", "acme", "m1")]["calls"] == 1
    assert daily[(date(2026, 10, 20), "core", "code_change", "acme", "m1")]["calls"] == 1
    oct_third = by_key(third, "exec_dashboard")[(date(2026, 10, 1),)]
    assert (oct_third["calls"], oct_third["total_tokens"], oct_third["list_cost_usd"]) == (8, 9550 + 770 + 990, D("0.01252"))


def test_a_month_awaits_its_invoice_then_is_allocated_exactly(ledger):
    for snap in ("first", "second"):
        recon = by_key(ledger[snap], "invoice_reconciliation")[("acme", date(2026, 10, 1))]
        assert (recon["status"], recon["invoice_usage_cost_usd"], recon["allocation_factor"], recon["variance_pct"]) == \
            ("awaiting_invoice", None, None, None), snap
        assert recon["non_usage_charges_usd"] == 0
        october = [c for c in ledger[snap]["fct_llm_calls"] if c["day"] >= date(2026, 10, 1)]
        assert october and all(c["invoice_cost_usd"] is None for c in october)
        assert by_key(ledger[snap], "exec_dashboard")[(date(2026, 10, 1),)]["invoice_cost_usd"] is None

    third = ledger["third"]
    recon = by_key(third, "invoice_reconciliation")[("acme", date(2026, 10, 1))]
    list_total, invoice = D("0.01252"), D("0.0130")   # 8 calls; the October Usage row
    assert (recon["calls"], recon["list_cost_usd"], recon["invoice_usage_cost_usd"], recon["variance_usd"]) == \
        (8, list_total, invoice, D("0.00048"))
    assert recon["status"] == "reconciled"  # +3.83 % is inside the 5 % tolerance
    assert recon["variance_pct"] == pytest.approx(float((invoice - list_total) / list_total * 100), rel=1e-12)
    assert recon["allocation_factor"] == pytest.approx(float(invoice / list_total), rel=1e-12)
    # The Credit is reported apart and never allocated.
    assert recon["non_usage_charges_usd"] == D("-0.0010")
    calls = calls_of(third)
    assert calls["o1"]["invoice_cost_usd"] == round14(D("0.0012") * invoice / list_total) == D("0.00124600638978")
    october = [c for c in third["fct_llm_calls"] if c["day"] >= date(2026, 10, 1)]
    assert len(october) == 8
    for c in october:
        assert c["invoice_cost_usd"] == round14(c["list_cost_usd"] * invoice / list_total), c["call_id"]
    dash = by_key(third, "exec_dashboard")[(date(2026, 10, 1),)]
    assert dash["invoice_cost_usd"] == sum(c["invoice_cost_usd"] for c in october)


def test_a_correction_billed_later_adjusts_its_own_month_and_a_reissued_file_adds_nothing(ledger):
    def sept(snap):
        return by_key(ledger[snap], "invoice_reconciliation")[("acme", date(2026, 9, 1))]

    # Before the correction: 0.0013 + 0.0030 against a list cost of 0.0012 + 0.0030 (+2.38 %).
    for snap in ("first", "second"):
        r = sept(snap)
        assert (r["list_cost_usd"], r["invoice_usage_cost_usd"], r["non_usage_charges_usd"], r["status"]) == \
            (D("0.0042"), D("0.0043"), D("0"), "reconciled"), snap
        calls = calls_of(ledger[snap])
        assert (calls["s1"]["invoice_cost_usd"], calls["s2"]["invoice_cost_usd"]) == \
            (D("0.00122857142857"), D("0.00307142857143"))

    # The Correction (+0.0002, billed in October's file, ChargePeriodStart 09-20) lands in September;
    # the two re-issued September files add nothing (else 0.0088 or 0.0131).
    r = sept("third")
    assert (r["list_cost_usd"], r["invoice_usage_cost_usd"], r["variance_usd"], r["non_usage_charges_usd"]) == \
        (D("0.0042"), D("0.0045"), D("0.0003"), D("0"))
    assert r["status"] == "over_tolerance"  # +7.14 %
    assert r["allocation_factor"] == pytest.approx(float(D("0.0045") / D("0.0042")), rel=1e-12)
    calls = calls_of(ledger["third"])
    assert calls["s1"]["invoice_cost_usd"] == round14(D("0.0012") * D("0.0045") / D("0.0042")) == D("0.00128571428571")
    assert calls["s2"]["invoice_cost_usd"] == round14(D("0.0030") * D("0.0045") / D("0.0042")) == D("0.00321428571429")
    wf = {w["workflow_id"]: w for w in ledger["third"]["fct_workflows"]}
    assert wf["wf_s1"]["invoice_cost_usd"] == D("0.00128571428571")
    dash = by_key(ledger["third"], "exec_dashboard")[(date(2026, 9, 1),)]
    assert (dash["list_cost_usd"], dash["invoice_cost_usd"]) == (D("0.0042"), D("0.00450000000000"))
    # The correction did not leak into October (its file's billing period).
    assert by_key(ledger["third"], "invoice_reconciliation")[("acme", date(2026, 10, 1))]["invoice_usage_cost_usd"] == D("0.0130")
    assert {r["month"] for r in ledger["third"]["invoice_reconciliation"]} == {date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)}


def test_a_reissued_invoice_with_its_columns_in_another_order_adds_nothing(ledger):
    for snap in ("first", "second", "third"):
        r = by_key(ledger[snap], "invoice_reconciliation")[("acme", date(2026, 8, 1))]
        assert (r["list_cost_usd"], r["invoice_usage_cost_usd"], r["status"]) == (D("0.0012"), D("0.0012"), "reconciled"), snap
        assert calls_of(ledger[snap])["a1"]["invoice_cost_usd"] == D("0.0012"), snap


def comparable(marts: dict) -> dict[str, list]:
    out = {}
    for mart, key in KEYS.items():
        out[mart] = sorted(marts[mart], key=lambda r: tuple(str(r[k]) for k in key))
    out["quarantine"] = marts["quarantine"]
    return out


def test_day_buckets_are_utc_whatever_the_process_time_zone(ledger):
    """The same landing folder, built from scratch under TZ=America/Los_Angeles (UTC-7 in October),
    gives the same marts as the three runs under TZ=Pacific/Kiritimati (UTC+14)."""
    warehouse = ledger["root"] / "wh_la" / "tokenpnl.duckdb"
    la = run_ok(ledger["landing"], warehouse, date(2026, 11, 2), ledger["book"], "America/Los_Angeles")
    kiritimati = ledger["third"]
    # 2026-10-10T23:30:00-05:00 is 2026-10-11 04:30 UTC: its day is the UTC day in both.
    for marts in (la, kiritimati):
        o2 = calls_of(marts)["o2"]
        assert (str(o2["occurred_at"]), o2["day"]) == ("2026-10-11 04:30:00", date(2026, 10, 11))
        assert (date(2026, 10, 11), "core", "code_change", "acme", "m1") in by_key(marts, "token_pnl_daily")
        assert (date(2026, 10, 10), "core", "code_change", "acme", "m1") not in by_key(marts, "token_pnl_daily")
        b_in = calls_of(marts)["b_in"]
        assert (str(b_in["occurred_at"]), b_in["day"]) == ("2026-10-20 23:59:59.999000", date(2026, 10, 20))
    assert comparable(la) == comparable(kiritimati)
    # Additivity: the days of a month add up to its dashboard row.
    for marts in (la, kiritimati):
        for dash in marts["exec_dashboard"]:
            rows = [r for r in marts["token_pnl_daily"] if r["day"].replace(day=1) == dash["month"]]
            assert sum(r["list_cost_usd"] for r in rows) == dash["list_cost_usd"]
            assert sum(r["calls"] for r in rows) == dash["calls"]


# ---------------------------------------------------------------------------------------------
# F. Outcomes: redeliveries, check re-runs, PR state machine, generic restatements (two runs)
# ---------------------------------------------------------------------------------------------

def delivery(delivery_id: str, received_at: str, event: str, payload: dict) -> dict:
    return {"event": event, "delivery_id": delivery_id, "received_at": received_at,
            "payload": {**payload, "repository": {"full_name": "acme/app"}}}


def pr_event(delivery_id: str, received_at: str, number: int, action: str, *, state: str, merged: bool = False,
             merged_at: str | None = None, closed_at: str | None = None) -> dict:
    return delivery(delivery_id, received_at, "pull_request", {"action": action, "number": number, "pull_request": {
        "number": number, "title": f"Change {number}", "body": "", "state": state, "merged": merged,
        "merged_at": merged_at, "closed_at": closed_at, "head": {"ref": f"agent/wf_pr{number}", "sha": f"sha{number}"}}})


def check_suite(delivery_id: str, received_at: str, sha: str, app: str, conclusion: str, suite_id: int) -> dict:
    return delivery(delivery_id, received_at, "check_suite", {"action": "completed", "check_suite": {
        "id": suite_id, "head_sha": sha, "status": "completed", "conclusion": conclusion, "app": {"slug": app}}})


def zendesk(event_id: str, time: str, previous: str, current: str) -> dict:
    return {"type": "zen:event-type:ticket.status_changed", "account_id": 1, "id": event_id, "time": time,
            "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:77",
            "detail": {"id": "77", "status": current, "tags": ["workflow_id:wf_t"]},
            "event": {"previous": previous, "current": current}}


def generic(outcome_id: str, wf: str, occurred_at: str, status: str, value: str | None = None) -> dict:
    record = {"outcome_id": outcome_id, "workflow_id": wf, "occurred_at": occurred_at, "kind": "eval",
              "status": status, "verified": True, "policy_passed": True}
    if value is not None:
        record["value_usd"] = value
    return record


PR1_CLOSED = pr_event("d1-closed", "2026-10-02T10:00:00Z", 1, "closed", state="closed", closed_at="2026-10-02T10:00:00Z")
PR4_CLOSED = pr_event("d4-closed", "2026-10-02T10:00:00Z", 4, "closed", state="closed", closed_at="2026-10-02T10:00:00Z")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    root = tmp_path_factory.mktemp("outcomes")
    landing, warehouse, book = root / "landing", root / "wh" / "tokenpnl.duckdb", write_book(root)
    tz = "UTC"
    workflows = ["wf_pr1", "wf_pr2", "wf_pr3", "wf_t", "wf_g1", "wf_g2", "wf_g3"]
    write_jsonl(landing / "gateway" / "calls.jsonl",
                [call(f"c{i}", f"2026-10-01T{9 + i:02d}:00:00Z", wf, 1000, 100) for i, wf in enumerate(workflows)]
                # PR 4's workflow is in a team of its own, so its verdict stays out of core's figures.
                + [call("c_pr4", "2026-10-01T20:00:00Z", "wf_pr4", 1000, 100, team="platform")])
    write_jsonl(landing / "outcomes" / "github" / "2026-10-05.jsonl", [
        # PR 1 closed, reopened, then merged; written out of order (the state is the latest by received_at).
        pr_event("d1-merged", "2026-10-04T10:00:00Z", 1, "closed", state="closed", merged=True,
                 merged_at="2026-10-04T10:00:00Z", closed_at="2026-10-04T10:00:00Z"),
        PR1_CLOSED,
        pr_event("d1-reopened", "2026-10-03T10:00:00Z", 1, "reopened", state="open"),
        # PR 2: CI failed, was re-run green by the same app.
        pr_event("d2-merged", "2026-10-02T12:00:00Z", 2, "closed", state="closed", merged=True,
                 merged_at="2026-10-02T12:00:00Z", closed_at="2026-10-02T12:00:00Z"),
        check_suite("cs2-green", "2026-10-02T09:30:00Z", "sha2", "ci", "success", 20),
        check_suite("cs2-red", "2026-10-02T09:00:00Z", "sha2", "ci", "failure", 20),
        # PR 3: CI green, but a second app's check failed.
        pr_event("d3-merged", "2026-10-02T13:00:00Z", 3, "closed", state="closed", merged=True,
                 merged_at="2026-10-02T13:00:00Z", closed_at="2026-10-02T13:00:00Z"),
        check_suite("cs3-ci", "2026-10-02T10:30:00Z", "sha3", "ci", "success", 30),
        check_suite("cs3-lint", "2026-10-02T10:40:00Z", "sha3", "lint", "failure", 31),
    ])
    # PR 4 is PR 1 again, received by the second of two webhook receivers behind a load balancer.
    write_jsonl(landing / "outcomes" / "github" / "receiver-b" / "2026-10-05.jsonl", [
        PR4_CLOSED,
        pr_event("d4-reopened", "2026-10-03T10:00:00Z", 4, "reopened", state="open"),
        pr_event("d4-merged", "2026-10-04T10:00:00Z", 4, "closed", state="closed", merged=True,
                 merged_at="2026-10-04T10:00:00Z", closed_at="2026-10-04T10:00:00Z"),
    ])
    write_jsonl(landing / "outcomes" / "zendesk" / "2026-10-01.jsonl", [
        zendesk("e1", "2026-10-01T12:30:00Z", "NEW", "OPEN"),
        zendesk("e2", "2026-10-01T13:00:00Z", "OPEN", "SOLVED"),
    ])
    write_jsonl(landing / "outcomes" / "generic" / "2026-10-05.jsonl", [
        generic("oc_1", "wf_g1", "2026-10-05T10:00:00Z", "accepted", "10.00"),
        generic("oc_2", "wf_g2", "2026-10-05T10:00:00Z", "rejected"),
        generic("oc_3", "wf_g3", "2026-10-05T10:00:00Z", "accepted", "1.00"),
    ])
    first = run_ok(landing, warehouse, date(2026, 10, 20), book, tz)

    # Night 2: GitHub redelivers PR 1's old "closed" delivery (same delivery_id, stamped on arrival),
    # Zendesk retries the SOLVED event, and the generic outcomes are restated.
    redelivered = dict(PR1_CLOSED, received_at="2026-10-21T08:00:00Z")
    write_jsonl(landing / "outcomes" / "github" / "2026-10-21.jsonl", [redelivered])
    # The redelivery of PR 4's "closed" reaches the first receiver, whose folder sorts first.
    write_jsonl(landing / "outcomes" / "github" / "receiver-a" / "2026-10-21.jsonl",
                [dict(PR4_CLOSED, received_at="2026-10-21T08:00:00Z")])
    write_jsonl(landing / "outcomes" / "zendesk" / "2026-10-21.jsonl", [zendesk("e2", "2026-10-01T13:00:00Z", "OPEN", "SOLVED")])
    write_jsonl(landing / "outcomes" / "generic" / "2026-10-21.jsonl", [
        generic("oc_1", "wf_g1", "2026-10-06T10:00:00Z", "rejected"),           # later: replaces
        generic("oc_2", "wf_g2", "2026-10-07T10:00:00Z", "accepted", "4.00"),   # later: replaces
        generic("oc_3", "wf_g3", "2026-10-04T10:00:00Z", "pending"),            # earlier: does not
    ])
    second = run_ok(landing, warehouse, date(2026, 10, 21), book, tz)
    return {"first": first, "second": second, "warehouse": warehouse}


def reasons(marts: dict) -> dict[str, tuple[str, str]]:
    return {o["external_ref"]: (o["status"], o["status_reason"]) for o in marts["fct_outcomes"]}


def test_pr_state_machine_and_check_reruns(verdicts):
    for snap in ("first", "second"):
        got = reasons(verdicts[snap])
        assert got["acme/app#1"] == ("verified_success", "merged"), snap   # closed -> reopened -> merged
        assert got["acme/app#2"] == ("verified_success", "merged"), snap   # red, re-run green by the same app
        assert got["acme/app#3"] == ("failed", "checks_failed"), snap      # a second app's check failed
        wf = {w["workflow_id"]: w["outcome_status"] for w in verdicts[snap]["fct_workflows"]}
        assert (wf["wf_pr1"], wf["wf_pr2"], wf["wf_pr3"]) == ("verified_success", "verified_success", "failed")


def test_redelivered_webhooks_count_once(verdicts):
    second = verdicts["second"]
    # PR 1's redelivered "closed" (received 10-21, after the merge) is the same delivery: still merged.
    assert reasons(second)["acme/app#1"] == ("verified_success", "merged")
    assert reasons(second)["zendesk:77"] == ("verified_success", "solved")
    assert sum(o["external_ref"] == "zendesk:77" for o in second["fct_outcomes"]) == 1
    assert len(second["fct_outcomes"]) == 8
    # raw keeps every line; staging keeps one row per delivery / event id.
    wh = verdicts["warehouse"]
    assert build_rows(wh, "SELECT count(*) FROM raw.zendesk_events") == [(3,)]
    assert build_rows(wh, "SELECT count(*), count(DISTINCT event_id) FROM staging.stg_zendesk__ticket_events") == [(2, 2)]
    assert build_rows(wh, "SELECT count(*) FROM raw.github_deliveries WHERE delivery_id = 'd1-closed'") == [(2,)]
    assert build_rows(wh, "SELECT count(*), min(received_at) FROM staging.stg_github__pull_request_events "
                          "WHERE delivery_id = 'd1-closed'") == [(1, datetime(2026, 10, 2, 10, 0))]


def test_a_redelivery_counts_once_whichever_folder_it_lands_in(verdicts):
    assert reasons(verdicts["first"])["acme/app#4"] == ("verified_success", "merged")
    assert reasons(verdicts["second"])["acme/app#4"] == ("verified_success", "merged")


def test_a_restated_generic_outcome_replaces_the_earlier_verdict(verdicts):
    first, second = reasons(verdicts["first"]), reasons(verdicts["second"])
    assert (first["oc_1"], first["oc_2"], first["oc_3"]) == \
        (("verified_success", "accepted"), ("failed", "rejected"), ("verified_success", "accepted"))
    # oc_1 and oc_2 restated later flip; oc_3's statement stamped earlier than the one it follows does not.
    assert (second["oc_1"], second["oc_2"], second["oc_3"]) == \
        (("failed", "rejected"), ("verified_success", "accepted"), ("verified_success", "accepted"))

    # The group's figures follow: 7 workflows at 0.0012 = 0.0084 USD; verified PR1, PR2, ticket + 2 generic.
    (g1,) = [g for g in verdicts["first"]["cost_per_verified_success"] if g["team"] == "core"]
    (g2,) = [g for g in verdicts["second"]["cost_per_verified_success"] if g["team"] == "core"]
    assert (g1["workflows"], g1["list_cost_usd"], g1["verified_successes"], g1["failed"]) == (7, D("0.0084"), 5, 2)
    assert (g2["workflows"], g2["list_cost_usd"], g2["verified_successes"], g2["failed"]) == (7, D("0.0084"), 5, 2)
    assert g1["cost_per_verified_success_usd"] == g2["cost_per_verified_success_usd"] == D("0.00168")
    assert (g1["verified_value_usd"], g2["verified_value_usd"]) == (D("11.00"), D("5.00"))
    assert g1["gross_margin_per_trusted_outcome_usd"] == D("2.19832")       # (11 - 0.0084) / 5
    assert g2["gross_margin_per_trusted_outcome_usd"] == D("0.99832")       # (5 - 0.0084) / 5
    wf = {w["workflow_id"]: w["outcome_status"] for w in verdicts["second"]["fct_workflows"]}
    assert (wf["wf_g1"], wf["wf_g2"], wf["wf_g3"]) == ("failed", "verified_success", "verified_success")
