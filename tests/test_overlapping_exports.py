"""Overlapping exports: the same orders, tickets and contacts exported again the next night with
changed fields are kept once, in their latest version; a contact missing from the newest full
snapshot is deleted; every version stays queryable in staging.<entity>_history."""

import csv
import os
import shutil

import pytest

from tests.conftest import SAMPLE_LANDING, nightly_run_in, truth_overall_orders
from tests.test_incremental import history_outcomes

FIRST_NIGHT = 1_768_467_600   # 2026-01-15 09:00 UTC
SECOND_NIGHT = FIRST_NIGHT + 86_400


def _read(path):
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _write(path, header, rows, mtime):
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    os.utime(path, (mtime, mtime))


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory):
    root = tmp_path_factory.mktemp("overlap")
    landing = root / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    for path in landing.rglob("*.*"):
        os.utime(path, (FIRST_NIGHT, FIRST_NIGHT))
    assert nightly_run_in(root, landing).result.success

    # Sales orders: the last 200 orders again, the open ones now delivered.
    header, rows = _read(landing / "crm" / "sales_orders.csv")
    status = header.index("Status")
    again = [r for r in rows[-200:] if r[0].startswith("SO-") and not r[0].startswith("SO-999")]
    changed = {r[0] for r in again if r[status] == "Approved"}
    _write(landing / "sales_orders_2026-01-16.csv", header,
           [[*r[:status], "Delivered" if r[status] == "Approved" else r[status], *r[status + 1:]] for r in again],
           SECOND_NIGHT)

    # Tickets: the whole export again, one CSAT score changed.
    header, rows = _read(landing / "support" / "zendesk_tickets.csv")
    score = header.index("Satisfaction Score")
    rated = next(i for i, r in enumerate(rows) if r[score] == "1")
    rows[rated] = [*rows[rated][:score], "5", *rows[rated][score + 1:]]
    rated_ticket = rows[rated][0]
    _write(landing / "zendesk_tickets_2026-01-16.csv", header, rows, SECOND_NIGHT)

    # Contacts: a full snapshot again, without one lead (deleted in the CRM).
    header, rows = _read(landing / "crm" / "hubspot_contacts.csv")
    stage = header.index("Lifecycle Stage")
    deleted = next(r for r in rows if r[stage] == "Lead")
    _write(landing / "hubspot_contacts_2026-01-16.csv", header, [r for r in rows if r is not deleted], SECOND_NIGHT)
    # the first night's snapshot and today's are both still in the folder

    run = nightly_run_in(root, landing)
    assert run.result.success
    # the second night's exports repeat records the history holds: every version is ranked again
    history = history_outcomes(run)
    assert all(history[e].startswith("versions found again") for e in ("crm_sales_orders", "support_tickets"))
    return run, {"changed_orders": changed, "rated_ticket": rated_ticket, "deleted_contact": deleted[0]}


def test_orders_exported_twice_are_counted_once_in_their_latest_version(two_nights):
    run, facts = two_nights
    assert facts["changed_orders"], "the second export must change some orders"
    mart = "SELECT orders FROM marts.order_to_delivery_monthly WHERE period = 'all' AND dimension = 'all'"
    assert run.query(mart)["orders"].tolist() == [truth_overall_orders()]
    staged = run.query("SELECT order_ref, status, source_file FROM staging.crm_sales_orders", published=False)
    assert staged["order_ref"].is_unique
    latest = staged[staged["order_ref"].isin(facts["changed_orders"])]
    assert set(latest["status"]) == {"delivered"}
    assert set(latest["source_file"]) == {"sales_orders_2026-01-16.csv"}
    history = run.query("SELECT version, count(*) AS n FROM staging.crm_sales_orders_history GROUP BY 1",
                        published=False).set_index("version")["n"]
    assert history["superseded"] >= len(facts["changed_orders"])


def test_tickets_exported_twice_are_counted_once_with_the_latest_score(two_nights, sample_run):
    run, facts = two_nights
    count = "SELECT count(*) AS n FROM core.tickets"
    assert run.query(count).equals(sample_run.query(count))
    score = run.query("SELECT csat_score FROM core.tickets WHERE ticket_id = ?", [facts["rated_ticket"]])
    assert score["csat_score"].tolist() == [5]


def test_contact_missing_from_the_newest_snapshot_is_deleted_but_kept_in_history(two_nights):
    run, facts = two_nights
    current = run.query("SELECT crm_contact_id FROM staging.crm_contacts", published=False)
    assert facts["deleted_contact"] not in set(current["crm_contact_id"])
    history = run.query("SELECT version FROM staging.crm_contacts_history WHERE crm_contact_id = ?",
                        [facts["deleted_contact"]], published=False)
    assert sorted(history["version"]) == ["deleted"]
