"""I1 FOCUS, O1 GitHub and O3 generic outcomes: parsing, exact money, quarantine, skips."""

from __future__ import annotations

from decimal import Decimal

FOCUS_HEADER = ("BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
                "ChargeClass,ProviderName,ServiceProviderName,ServiceName,SkuId,ChargeDescription,ConsumedQuantity,ConsumedUnit,"
                "BilledCost,EffectiveCost,ListCost,BillingCurrency,InvoiceId,Tags\n")


def test_focus_rows_parse_exact_money_and_keep_extra_columns(landing):
    landing.invoice_csv("focus/2026-10.csv", FOCUS_HEADER
        + 'a1,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,2026-10-14T00:00:00Z,2026-10-15T00:00:00Z,Usage,,Anthropic,,Claude API,'
          'claude-sonnet-4-5:cache_read,Cache Read,1289550,Tokens,0.386865,0.3868650001,0.386865,USD,INV-1,"{""team"":""payments""}"\n'
        + 'a1,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,2026-10-14T00:00:00Z,,Tax,,Anthropic,,Claude API,,VAT,,,1.5,1.5,,usd,INV-1,\n'
        + 'a1,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,2026-10-14 00:00:00,,Usage,,Anthropic,,Claude API,,naive,,,1,1,,USD,INV-1,\n'
        + 'a1,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,2026-10-14T00:00:00Z,,Usage,,Anthropic,,Claude API,,float,,,0.1,1e-3x,,USD,INV-1,\n'
        + 'a1,2026-10-01T00:00:00Z,2026-11-01T00:00:00Z,2026-10-14T00:00:00Z,,Refund,,Anthropic,,Claude API,,bad cat,,,1,1,,USD,INV-1,\n')
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined) == (2, 3)
    rows = landing.rows("SELECT * FROM raw.focus_charges ORDER BY _line")
    assert rows[0]["effective_cost"] == Decimal("0.3868650001") and rows[0]["consumed_quantity"] == Decimal("1289550")
    assert rows[0]["extra_columns"] == '{"Tags":"{\\"team\\":\\"payments\\"}"}'
    assert rows[1]["billing_currency"] == "USD" and rows[1]["charge_category"] == "Tax"
    reasons = [(q["line"], q["reason"]) for q in landing.rows("SELECT line, reason FROM raw.quarantine ORDER BY line")]
    assert reasons == [
        (4, "ChargePeriodStart has no UTC offset: 2026-10-14 00:00:00"),
        (5, "EffectiveCost is not a decimal number with at most 14 decimal places"),
        (6, "unknown ChargeCategory Refund"),
    ]


def test_focus_file_without_required_columns_is_quarantined_whole(landing):
    landing.invoice_csv("x.csv", "ChargeCategory,EffectiveCost,ChargePeriodStart\nUsage,1,2026-10-01T00:00:00Z\n")
    report = landing.load()
    (q,) = landing.rows("SELECT line, reason FROM raw.quarantine")
    assert q == {"line": 0, "reason": "FOCUS export lacks required column(s): BillingCurrency"}
    assert report.totals.loaded == 0


def delivery(event: str, delivery_id: str, payload: dict, received_at: str = "2026-11-05T10:00:00Z") -> dict:
    return {"event": event, "delivery_id": delivery_id, "received_at": received_at, "payload": payload}


def test_github_deliveries_used_skipped_and_quarantined(landing):
    pr = {"action": "closed", "number": 7, "repository": {"full_name": "Acme/Ledger"},
          "pull_request": {"number": 7, "title": "Fix", "body": "Workflow-Id: wf_1", "state": "closed", "merged": True,
                           "merged_at": "2026-11-05T10:00:00Z", "closed_at": "2026-11-05T10:00:00Z",
                           "head": {"ref": "agent/wf_1", "sha": "abc"}}}
    suite = {"action": "completed", "repository": {"full_name": "Acme/Ledger"},
             "check_suite": {"id": 5, "head_sha": "abc", "status": "completed", "conclusion": "failure",
                             "app": {"id": 15368, "slug": "github-actions"}, "pull_requests": [{"number": 7}]}}
    landing.outcomes("gh/deliveries.jsonl", [
        delivery("pull_request", "d1", pr),
        delivery("check_suite", "d2", suite),
        delivery("push", "d3", {"ref": "refs/heads/main", "repository": {"full_name": "Acme/Ledger"}}),
        delivery("pull_request", "d4", pr | {"pull_request": pr["pull_request"] | {"merged_at": "2026-11-05 10:00"}}),
        delivery("pull_request", "", pr),
    ])
    report = landing.load()
    assert (report.totals.loaded, report.totals.skipped, report.totals.quarantined) == (2, 1, 2)
    rows = {r["delivery_id"]: r for r in landing.rows("SELECT * FROM raw.github_deliveries")}
    assert rows["d1"]["pr_merged"] is True and rows["d1"]["head_sha"] == "abc" and rows["d1"]["repo_full_name"] == "Acme/Ledger"
    assert rows["d2"]["check_conclusion"] == "failure" and rows["d2"]["check_app"] == "github-actions"
    assert rows["d2"]["check_pr_numbers"] == [7]
    reasons = [q["reason"] for q in landing.rows("SELECT reason FROM raw.quarantine ORDER BY line")]
    assert reasons == ["pull_request.merged_at has no UTC offset: 2026-11-05 10:00", "missing delivery_id"]


def test_generic_outcomes(landing):
    landing.outcomes("evals.jsonl", [
        {"outcome_id": "oc_1", "workflow_id": "wf_1", "occurred_at": "2026-11-03T15:00:00Z", "kind": "itinerary_booked",
         "status": "accepted", "verified": True, "policy_passed": True, "evidence": ["s3://b/r.pdf"], "value_usd": "12.50"},
        {"outcome_id": "oc_2", "occurred_at": "2026-11-03T15:00:00Z", "status": "accepted", "verified": "yes"},
        {"outcome_id": "oc_3", "occurred_at": "2026-11-03T15:00:00Z", "status": "accepted", "value_usd": "twelve"},
    ])
    report = landing.load()
    assert (report.totals.loaded, report.totals.quarantined) == (1, 2)
    (row,) = landing.rows("SELECT * FROM raw.outcome_events")
    assert row["value_usd"] == Decimal("12.50") and row["verified"] is True and row["workflow_id"] == "wf_1"
    assert [q["reason"] for q in landing.rows("SELECT reason FROM raw.quarantine ORDER BY line")] == [
        "verified must be true or false", "value_usd is not a decimal number"]


def test_unknown_shapes_and_unsupported_files_are_reported(landing):
    landing.gateway("weird.jsonl", [{"hello": "world"}])
    landing.outcomes("notes.txt", ["just text"])
    report = landing.load()
    rows = {(q["source_file"], q["line"], q["reason"]) for q in landing.rows("SELECT * FROM raw.quarantine")}
    assert ("gateway/weird.jsonl", 0, "content matches no known gateway format (see docs/formats.md)") in rows
    assert any(f == "outcomes/notes.txt" and "unsupported file type" in r for f, _, r in rows)
    assert report.totals.loaded == 0


def test_symlinks_are_not_followed(landing, tmp_path):
    outside = tmp_path / "secret.jsonl"
    outside.write_text('{"request_id": "x"}\n')
    (landing.root / "gateway").mkdir()
    (landing.root / "gateway" / "link.jsonl").symlink_to(outside)
    landing.load()
    (q,) = landing.rows("SELECT source_file, reason FROM raw.quarantine")
    assert q == {"source_file": "gateway/link.jsonl", "reason": "symlink not followed"}
