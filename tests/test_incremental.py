"""Incremental nights: a landing file is read once; unchanged files are reused the next night,
new or corrected ones are read, removed ones leave, and a full rebuild stays possible."""

import csv
import os
import shutil

import duckdb

from connectors.files import csv_all_rows, csv_format, list_landing_files
from pipelines import raw
from pipelines.raw import files_moved, known_hashes
from pipelines.staging_sql import carried_sql
from tests.conftest import SAMPLE_LANDING, nightly_run_in


def write_rows(path, rows, delimiter) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)


def step_metadata(run, layer: str, key: str) -> dict:
    """One metadata value per asset of a layer (raw, staging), by table name."""
    return {
        event.asset_key.path[-1]: event.materialization.metadata[key].value
        for event in run.result.get_asset_materialization_events()
        if event.asset_key.path[0] == layer and key in event.materialization.metadata
    }


def tables_read(run) -> dict[str, int]:
    return step_metadata(run, "raw", "tables_read")


def rows_typed(run) -> dict[str, int]:
    return step_metadata(run, "staging", "rows_typed_this_run")


def history_outcomes(run) -> dict[str, str]:
    return step_metadata(run, "staging", "history")


def marts(run):
    return run.query("SELECT * FROM marts.order_to_delivery_monthly ORDER BY ALL")


def test_unchanged_files_are_not_read_again_and_new_ones_are(tmp_path, monkeypatch):
    # whether each night's landing step began importing what the checks and identity need
    imports_begun = []
    monkeypatch.setattr(raw, "_import_for_later_steps", imports_begun.append)
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    first = nightly_run_in(tmp_path, landing)
    assert first.result.success and set(tables_read(first).values()) == {1}

    second = nightly_run_in(tmp_path, landing)
    assert second.result.success
    assert imports_begun == [True, False], "a night whose files are as they were imports no checks ahead"
    assert set(tables_read(second).values()) == {0}
    assert set(rows_typed(second).values()) == {0}, "typed rows of unchanged files are kept"
    load_ids = second.query("SELECT DISTINCT load_id FROM raw.crm_sales_orders", published=False)["load_id"]
    assert load_ids.tolist() == [first.result.run_id], "rows keep the load that read them"
    assert marts(second).equals(marts(first))

    # a new night: one more export lands, one is taken away
    shutil.copy(landing / "marketing" / "mailchimp_campaigns.csv", tmp_path / "campaigns.csv")
    (landing / "marketing" / "mailchimp_campaigns.csv").unlink()
    with (tmp_path / "campaigns.csv").open() as source, (landing / "campaigns_2026-01-16.csv").open("w") as target:
        target.write(source.read().replace("New Year Brew Reset", "New Year Brew Reset (resend)", 1))
    third = nightly_run_in(tmp_path, landing)
    assert third.result.success
    read = tables_read(third)
    assert read.pop("marketing_campaigns") == 1 and set(read.values()) == {0}
    typed = rows_typed(third)
    campaigns = sum(1 for _ in (landing / "campaigns_2026-01-16.csv").open()) - 1
    assert typed.pop("marketing_campaigns") == campaigns and set(typed.values()) == {0}
    files = third.query("SELECT DISTINCT source_file FROM raw.marketing_campaigns", published=False)["source_file"]
    assert files.tolist() == ["campaigns_2026-01-16.csv"]

    rebuilt = nightly_run_in(tmp_path, landing, full_rebuild=True)
    assert rebuilt.result.success and set(tables_read(rebuilt).values()) == {1}
    assert imports_begun == [True, False, True, True]
    assert rows_typed(rebuilt)["crm_contacts"] == first.query(
        "SELECT count(*) AS n FROM raw.crm_contacts", published=False)["n"][0]
    assert marts(rebuilt).equals(marts(third))


def test_files_moved_notices_a_new_touched_or_removed_file_and_nothing_else(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    run = nightly_run_in(tmp_path, landing)
    con = duckdb.connect(str(run.build), read_only=True)
    try:
        known = known_hashes(con)
    finally:
        con.close()

    def moved(known):
        return files_moved(landing, list_landing_files(landing), known)

    assert known and not moved(known)
    [contacts] = landing.rglob("hubspot_contacts.csv")
    shutil.copy(contacts, landing / "contacts_copy.csv")  # a new file
    assert moved(known)
    (landing / "contacts_copy.csv").unlink()
    assert not moved(known)
    assert moved(known | {("crm/elsewhere.csv", 1, 1, 1): "x"})  # one hashed before, now gone
    stat = contacts.stat()
    os.utime(contacts, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # the same bytes, touched
    assert moved(known)


def test_a_night_that_only_adds_records_appends_them_to_the_history(tmp_path):
    """Each CSV export is split: most records land first, the rest the next night as new files.
    That night appends the new versions instead of deriving every version again, and ends with
    the same history as a full build of the same files."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    later = {}
    for path in sorted(landing.rglob("*.csv")):
        rows = csv_all_rows(path, fmt := csv_format(path))
        if len(rows) > 20:
            cut = len(rows) * 9 // 10
            later[path.with_name(f"{path.stem}_later.csv")] = ([rows[0], *rows[cut:]], fmt.delimiter)
            write_rows(path, rows[:cut], fmt.delimiter)
    assert nightly_run_in(tmp_path, landing).result.success
    for path, (rows, delimiter) in later.items():
        write_rows(path, rows, delimiter)
    night = nightly_run_in(tmp_path, landing)
    assert night.result.success
    outcomes = history_outcomes(night)
    split = {"crm_sales_orders", "support_tickets"}
    assert all(outcomes[e].endswith("versions appended") and not outcomes[e].startswith("0 ") for e in split), outcomes
    # HubSpot's contacts and Mailchimp's audience are full snapshots: a record missing from the
    # newest is deleted, so every version is ranked again (and those that changed written)
    assert all(outcomes[e].startswith("versions found again") for e in ("crm_contacts", "marketing_subscribers"))

    (tmp_path / "full").mkdir()
    full = nightly_run_in(tmp_path / "full", landing)
    assert history_outcomes(full) == {e: "derived again" for e in outcomes}
    for entity in outcomes:
        sql = f"SELECT * EXCLUDE (load_id) FROM staging.{entity}_history ORDER BY ALL"
        assert night.query(sql, published=False).equals(full.query(sql, published=False)), entity
    assert marts(night).equals(marts(full))


def test_a_snapshot_sent_again_is_written_and_typed_only_where_it_changed(tmp_path):
    """HubSpot's contacts, with a column no profile maps, exported again whole: one row edited,
    two contacts added. The rows at the same place with the same content keep their raw and typed
    rows (stored in the first load, carried by the new one), the rest are written and typed, and
    the night ends as a full build of the same files."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    contacts = landing / "crm" / "hubspot_contacts.csv"
    rows = csv_all_rows(contacts, fmt := csv_format(contacts))
    rows = [[*rows[0], "Favourite Colour"], *([*row, f"blue {i % 3}"] for i, row in enumerate(rows[1:]))]
    write_rows(contacts, rows, fmt.delimiter)
    header = rows[0]
    first = nightly_run_in(tmp_path, landing)
    assert first.result.success

    edited = [list(row) for row in rows]
    edited[5][header.index("City")] = "Harrogate"
    added = [[str(99_000_000 + i), *row[1:3], f"added{i}@example.com", *row[4:]] for i, row in enumerate(rows[1:3])]
    write_rows(contacts, [*edited, *added], fmt.delimiter)
    night = nightly_run_in(tmp_path, landing)
    assert night.result.success
    assert step_metadata(night, "raw", "rows_already_there")["crm_contacts"] == len(rows) - 2
    assert step_metadata(night, "staging", "rows_kept_typed")["crm_contacts"] == len(rows) - 2
    assert rows_typed(night)["crm_contacts"] == 1 + len(added)
    carried_typed = carried_sql("staging.crm_contacts_typed")
    typed = f"SELECT * EXCLUDE (load_id) FROM ({carried_typed}) ORDER BY ALL"
    stored = night.query("SELECT count(DISTINCT load_id) AS n FROM staging.crm_contacts_typed", published=False)["n"]
    assert stored.tolist() == [2], "the unchanged rows stay in the first load, the changed ones are the new load's"
    loads = night.query(f"SELECT DISTINCT load_id FROM ({carried_typed})", published=False)["load_id"]
    assert loads.tolist() == [night.result.run_id], "every typed row is carried by the new export"

    (tmp_path / "full").mkdir()
    full = nightly_run_in(tmp_path / "full", landing)
    assert step_metadata(full, "staging", "rows_kept_typed")["crm_contacts"] == 0
    assert night.query(typed, published=False).equals(full.query(typed, published=False))
    assert step_metadata(full, "raw", "rows_already_there")["crm_contacts"] == 0
    for sql in ("SELECT * EXCLUDE (load_id, unmapped_cells), unmapped_cells::VARCHAR FROM raw.crm_contacts ORDER BY ALL",
                "SELECT * EXCLUDE (load_id) FROM staging.crm_contacts_history ORDER BY ALL",
                "SELECT * EXCLUDE (load_id) FROM quality.value_issues ORDER BY ALL",
                "SELECT * EXCLUDE (load_id) FROM quality.rejected_rows ORDER BY ALL"):
        assert night.query(sql, published=False).equals(full.query(sql, published=False)), sql
    city = night.query(f"SELECT city FROM staging.crm_contacts WHERE crm_contact_id = '{rows[5][0]}'",
                       published=False)["city"]
    assert city.tolist() == ["Harrogate"]


def test_a_snapshot_sent_again_on_several_nights_is_carried_by_its_newest_export(tmp_path):
    """Mailchimp's audience exported again on two nights, then taken away. Each night the rows
    still there as they were stay in the load that first delivered them, carried by the newest
    export (the second night carries the first night's rows and the second's); the build equals
    a full build of the same files; when the export goes, its rows and carries go with it."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    audience = landing / "marketing" / "mailchimp_audience.csv"
    rows = csv_all_rows(audience, fmt := csv_format(audience))
    first_name = rows[0].index("First Name")
    first = nightly_run_in(tmp_path, landing)
    assert first.result.success

    renamed = [list(row) for row in rows]
    renamed[5][first_name] = "Harriet"
    added = [[f"added{i}@example.com", *row[1:]] for i, row in enumerate(rows[1:3])]
    write_rows(audience, second_rows := [*renamed, *added], fmt.delimiter)
    second = nightly_run_in(tmp_path, landing)
    assert second.result.success
    assert step_metadata(second, "raw", "rows_already_there")["marketing_subscribers"] == len(rows) - 2

    third_rows = [list(row) for row in second_rows[:-1]]
    third_rows[7][first_name] = "Wilhelmina"
    third_rows.append(["latecomer@example.com", *rows[4][1:]])
    write_rows(audience, third_rows, fmt.delimiter)
    third = nightly_run_in(tmp_path, landing)
    assert third.result.success
    # the edited row and the row at the last place (another contact now) are read; the rest carried
    assert step_metadata(third, "raw", "rows_already_there")["marketing_subscribers"] == len(second_rows) - 1 - 2
    assert rows_typed(third)["marketing_subscribers"] == 2
    # every version ranked again; only the two records that changed written
    assert history_outcomes(third)["marketing_subscribers"] == "versions found again: 2 written, 2 replaced or gone"
    carries = third.query("SELECT load_id, carrier_load_id FROM raw.carried_loads "
                          "WHERE entity = 'marketing_subscribers' ORDER BY ALL", published=False)
    assert sorted(carries["load_id"]) == sorted([first.result.run_id, second.result.run_id])
    assert set(carries["carrier_load_id"]) == {third.result.run_id}

    (tmp_path / "full").mkdir()
    full = nightly_run_in(tmp_path / "full", landing)
    carried_typed = carried_sql("staging.marketing_subscribers_typed")
    for sql in ("SELECT * EXCLUDE (load_id, unmapped_cells), unmapped_cells::VARCHAR FROM raw.marketing_subscribers "
                "ORDER BY ALL",
                f"SELECT * EXCLUDE (load_id) FROM ({carried_typed}) ORDER BY ALL",
                "SELECT * EXCLUDE (load_id) FROM staging.marketing_subscribers_history ORDER BY ALL",
                "SELECT * EXCLUDE (load_id) FROM staging.marketing_subscribers ORDER BY ALL",
                "SELECT * EXCLUDE (load_id) FROM quality.value_issues ORDER BY ALL"):
        assert third.query(sql, published=False).equals(full.query(sql, published=False)), sql
    assert marts(third).equals(marts(full))

    audience.unlink()
    gone = nightly_run_in(tmp_path, landing)
    assert gone.result.success
    left = gone.query("SELECT (SELECT count(*) FROM raw.marketing_subscribers_rows) AS rows_left, "
                      "(SELECT count(*) FROM raw.carried_loads WHERE entity = 'marketing_subscribers') AS carries_left",
                      published=False)
    assert left.to_dict("records") == [{"rows_left": 0, "carries_left": 0}]


def test_the_delivery_mart_is_kept_while_its_inputs_are_and_computed_again_where_a_score_or_region_changes(tmp_path):
    """marts.order_to_delivery_monthly (medians over every order) is kept on a night that changed
    no order's facts; a changed CSAT score on a fulfilment ticket and a customer's changed region
    derive again only their orders' facts and group again only those orders' months and 'all',
    as a full build of the same files computes them."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    first = nightly_run_in(tmp_path, landing)
    assert step_metadata(first, "marts", "update")["order_to_delivery_monthly"] == "computed whole"
    before = marts(first)
    second = nightly_run_in(tmp_path, landing)
    assert step_metadata(second, "marts", "update")["order_to_delivery_monthly"].startswith("kept: ")
    assert marts(second).equals(before)

    [(ticket_id, ticket_month)] = first.query("""
        SELECT t.ticket_id, strftime(timezone('Europe/London', o.ordered_at), '%Y-%m') FROM core.tickets t
        JOIN core.orders o USING (order_key)
        WHERE t.is_fulfilment_related AND t.csat_score IS NOT NULL AND o.status <> 'cancelled'
        ORDER BY t.ticket_id LIMIT 1""", published=False).itertuples(index=False)
    [tickets] = landing.rglob("zendesk_tickets.csv")
    rows = csv_all_rows(tickets, fmt := csv_format(tickets))
    column = {name: i for i, name in enumerate(rows[0])}
    [row] = [r for r in rows[1:] if r[column["Id"]] == str(ticket_id)]
    row[column["Satisfaction Score"]] = "1" if int(row[column["Satisfaction Score"]]) >= 4 else "5"
    write_rows(tickets, rows, fmt.delimiter)
    # a customer with one counted order, known by one CRM contact, moves region
    [(crm_id, region_month)] = first.query("""
        SELECT any_value(m.source_record_id) FILTER (WHERE m.entity = 'crm_contacts'), any_value(strftime(timezone('Europe/London', o.ordered_at), '%Y-%m'))
        FROM core.customer_identity_map m JOIN core.orders o USING (customer_key)
        WHERE o.status <> 'cancelled' AND o.ordered_at IS NOT NULL
        GROUP BY m.customer_key
        HAVING count(DISTINCT o.order_key) = 1 AND count(DISTINCT m.record_id) FILTER (WHERE m.entity = 'crm_contacts') = 1
           AND bool_and(m.entity = 'crm_contacts' OR m.entity = 'crm_sales_orders')
        ORDER BY 1 LIMIT 1""", published=False).itertuples(index=False)
    [contacts] = landing.rglob("hubspot_contacts.csv")
    rows = csv_all_rows(contacts, fmt := csv_format(contacts))
    column = {name: i for i, name in enumerate(rows[0])}
    [row] = [r for r in rows[1:] if r[column["Record ID"]] == str(crm_id)]
    row[column["State/Region"]] = "Somewhere New"
    write_rows(contacts, rows, fmt.delimiter)

    third = nightly_run_in(tmp_path, landing)
    update = step_metadata(third, "marts", "update")["order_to_delivery_monthly"]
    # the region moves the order between groups; the score only moves its groups' sums
    summed = f"; sums moved in {ticket_month}" if ticket_month != region_month else ""
    assert update == f"computed: 2 orders' facts changed, months {region_month} and 'all' grouped again{summed}"
    assert "Somewhere New" in set(marts(third)["dimension_value"])
    (tmp_path / "full").mkdir()
    full = nightly_run_in(tmp_path / "full", landing)
    assert marts(third).equals(marts(full)) and not marts(third).equals(before)


def test_a_change_to_the_delivery_facts_sums_alone_moves_the_groups_sums_without_grouping_again(tmp_path):
    """A fulfilment ticket's changed score changes an order's CSAT sums, not its month's medians:
    the groups of its month and the overall groups gain the difference, and the mart is as a full
    build of the same files computes it."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    first = nightly_run_in(tmp_path, landing)
    before = marts(first)
    [(ticket_id, month, satisfied)] = first.query("""
        SELECT t.ticket_id, strftime(timezone('Europe/London', o.ordered_at), '%Y-%m'), t.csat_score >= 4
        FROM core.tickets t JOIN core.orders o USING (order_key)
        WHERE t.is_fulfilment_related AND t.csat_score IS NOT NULL AND o.status <> 'cancelled'
        ORDER BY t.ticket_id DESC LIMIT 1""", published=False).itertuples(index=False)
    [tickets] = landing.rglob("zendesk_tickets.csv")
    rows = csv_all_rows(tickets, fmt := csv_format(tickets))
    column = {name: i for i, name in enumerate(rows[0])}
    [row] = [r for r in rows[1:] if r[column["Id"]] == str(ticket_id)]
    row[column["Satisfaction Score"]] = "1" if satisfied else "5"
    write_rows(tickets, rows, fmt.delimiter)

    second = nightly_run_in(tmp_path, landing)
    update = step_metadata(second, "marts", "update")["order_to_delivery_monthly"]
    assert update == f"computed: 1 orders' facts changed, no month grouped again; sums moved in {month}, all"
    after = marts(second)
    moved = after.compare(before)
    assert not moved.empty
    assert {column for column, _ in moved.columns} <= {"cfsat_satisfied", "cfsat_rate", "cfsat_score_sum",
                                                      "cfsat_mean_score"}
    (tmp_path / "full").mkdir()
    full = nightly_run_in(tmp_path / "full", landing)
    assert after.equals(marts(full))
