"""A night that only adds person records links the arrived ones and scores only the pairs their
nodes touch, and ends with the links, clusters, keys and identity map that deriving every link
again gives. A night that changes an earlier record derives them all again."""

import contextlib
import datetime as dt
import json
import re
import shutil

import dagster as dg
import duckdb
import openpyxl

from connectors.files import csv_all_rows, csv_format, discover_tables
from connectors.profiles import SCHEMAS_DIR, load_profiles
from pipelines import record_places, unpublished
from pipelines.core import ORDER_REFERENCES
from pipelines.definitions import build_definitions
from pipelines.identity import linkage_fingerprint, load_identity_settings
from pipelines.identity_linkage import name_records_cap
from pipelines.publish import PUBLISHED
from pipelines.settings import load_settings
from tests.conftest import SAMPLE_LANDING, nightly_run_in
from tests.test_incremental import step_metadata, write_rows

# each table with its order
IDENTITY_TABLES = {
    "core.customer_records": "record_id",
    "core.customer_linkage_input": "unique_id",
    "core.customer_key_groups": "record_id",
    "core.customer_edges": "record_a, record_b, rule",
    "core.customer_clusters": "record_id",
    "core.customer_identity_map": "record_id",
    "core.customer_key_registry": "record_key",
    "core.customer_key_history": "ALL",
    "core.customers": "customer_key",
    "marts.customer_360": "customer_key",
    "core.customer_link_evidence": "record_a, record_b",
    "quality.identity_review": "source_file_a, source_row_a, source_file_b, source_row_b",
    # the order side: derived where its inputs changed, written by the rows that changed
    "core.order_identity_map": "entity, source_file, source_row",
    "core.orders": "order_key",
    "core.fulfilments": "source_file, source_row",
    "core.tickets": "ticket_id",
    "core.order_references": "entity, source_file, source_row",
    "core.order_numbers": "order_number",
    "quality.unmatched_order_refs": "entity, source_file, source_row",
}
ORDER_SIDE = ("order_identity_map", "orders", "fulfilments", "tickets")
# when a run first saw and last keyed each record
RUN_TIMES = {"core.customer_key_registry": "EXCLUDE (first_seen_at, keyed_at)",
             "core.customer_key_history": "EXCLUDE (changed_at)"}


def split_exports(landing, later_dir) -> None:
    """As the tools deliver a next night: a rolling export's last records as a new file beside
    it; a snapshot (HubSpot contacts, the Mailchimp audience) whole again, under its name."""
    profiles = load_profiles()
    for path in sorted(landing.rglob("*.csv")):
        rows = csv_all_rows(path, fmt := csv_format(path))
        if len(rows) <= 20:
            continue
        cut = len(rows) * 9 // 10
        [table] = discover_tables(path, profiles)
        snapshot = table.profile.export == "snapshot"
        later = later_dir / (path.name if snapshot else f"{path.stem}_later.csv")
        write_rows(later, rows if snapshot else [rows[0], *rows[cut:]], fmt.delimiter)
        write_rows(path, rows[:cut], fmt.delimiter)


def deliver(later_dir, landing) -> None:
    for path in later_dir.iterdir():
        [target] = [p for p in landing.rglob(path.name)] or [landing / path.name]
        shutil.copy(path, target)


@contextlib.contextmanager
def build_connection(run):
    con = duckdb.connect(str(run.warehouse / "build" / "crosswalk_build.duckdb"), read_only=True)
    try:
        yield con
    finally:
        con.close()


def build_table(run, table: str):
    """A table of the private build, with probabilities rounded past float noise."""
    with build_connection(run) as con:
        return rounded(con.sql(f"SELECT * {RUN_TIMES.get(table, '')} FROM {table} ORDER BY {IDENTITY_TABLES[table]}").df())


def rounded(frame):
    for column in frame.columns:
        if column in ("match_probability", "match_weight"):
            frame[column] = frame[column].round(9)
    return frame


def linkage(run) -> str:
    return step_metadata(run, "core", "linkage")["customer_identity_map"]


def night_and_again(directory, landing):
    """The night on the build in <directory>/night, and the same night on a copy of that build
    told nothing about how its scores were made, which derives every link again."""
    shutil.rmtree(directory / "again", ignore_errors=True)
    shutil.copytree(directory / "night", directory / "again")
    con = duckdb.connect(str(directory / "again" / "warehouse" / "build" / "crosswalk_build.duckdb"))
    con.execute("DROP TABLE core.customer_link_state")
    con.execute(f"DROP TABLE {record_places.REFERENCE_QUEUE}")  # order references derived whole
    for table in ORDER_SIDE:  # derived and written whole again
        con.execute(f"DROP TABLE core.{table}")
    con.close()
    night, again = nightly_run_in(directory / "night", landing), nightly_run_in(directory / "again", landing)
    assert night.result.success and again.result.success
    assert linkage(again) == "derived whole"
    # core.customers and marts.customer_360: built again only for the changed customers, and
    # derived whole after a full derivation
    for layer, table in (("core", "customers"), ("marts", "customer_360")):
        updates = (step_metadata(night, layer, "update")[table], step_metadata(again, layer, "update")[table])
        assert re.fullmatch(r"\d+ customers built again", updates[0]) and updates[1] == "derived whole"
    for table in ORDER_SIDE:
        assert re.fullmatch(r"\d+ rows written again", step_metadata(night, "core", "update")[table])
        assert step_metadata(again, "core", "update")[table] == "derived whole"
    # core.orders: derived for the orders whose inputs changed, and whole after a full derivation
    assert re.fullmatch(r"\d+ orders", step_metadata(night, "core", "orders_derived")["orders"])
    assert step_metadata(again, "core", "orders_derived")["orders"] == "all"
    assert re.fullmatch(r"\d+ places derived again", step_metadata(night, "core", "update")["order_references"])
    # the order map: derived at the places whose reference or order changed, and the fallback's
    assert re.fullmatch(r"\d+ places", step_metadata(night, "core", "places_derived")["order_identity_map"])
    assert step_metadata(again, "core", "places_derived")["order_identity_map"] == "all"
    # fulfilments and tickets: derived at the places whose record or rows of the identity maps changed
    for table in ("fulfilments", "tickets"):
        assert re.fullmatch(r"\d+ places", step_metadata(night, "core", "places_derived")[table])
        assert step_metadata(again, "core", "places_derived")[table] == "all"
    assert step_metadata(again, "core", "update")["order_references"] == "derived whole"
    for table in IDENTITY_TABLES:
        assert build_table(night, table).equals(build_table(again, table)), table
    # the prior, counted from the groups of the nodes that came or went: the float and the pairs
    # counted over every node
    [kept], [counted] = (build_rows(run, "SELECT prior, admitted_pairs FROM core.customer_link_state", [])
                         for run in (night, again))
    assert kept == counted and counted[1] > 0
    # the BI file: the night replaced the changed rows in a copy of the file it published before;
    # the copied build, whose file is not the one it published, copied every table
    updates = (step_metadata(night, "publish", "update")["crosswalk_duckdb"],
               step_metadata(again, "publish", "update")["crosswalk_duckdb"])
    assert set(updates[1].values()) == {"copied"}
    assert set(updates[0]) == set(unpublished.UNPUBLISHED), updates[0]
    assert all(re.fullmatch(r"\d+ rows replaced", how) for how in updates[0].values()), updates[0]
    for table in unpublished.UNPUBLISHED:
        assert published_table(night, table).equals(published_table(again, table)), table
    return night


def published_table(run, table: str):
    """A table of the published file, probabilities rounded as in build_table."""
    return rounded(run.query(f"SELECT * FROM {table} ORDER BY {IDENTITY_TABLES[table]}"))


def test_a_night_links_only_what_changed_as_deriving_all_again_would(tmp_path):
    landing, later = tmp_path / "landing", tmp_path / "later"
    shutil.copytree(SAMPLE_LANDING, landing)
    later.mkdir()
    split_exports(landing, later)
    (tmp_path / "night").mkdir()
    first = nightly_run_in(tmp_path / "night", landing)
    assert first.result.success and linkage(first) == "derived whole"

    # the rest of the records arrive; earlier tickets now name orders the CRM has only now
    deliver(later, landing)
    night = night_and_again(tmp_path, landing)
    added, removed = (int(n) for n in re.fullmatch(r"(\d+) records added, (\d+) removed", linkage(night)).groups())
    assert added > 100 and removed < added
    assert int(step_metadata(night, "core", "update")["customers"].split()[0]) > 100

    # a contact with orders renamed (their first record, to which the orders' records were tied,
    # goes) and the last one gone from the newest snapshot of the CRM
    [contacts] = landing.rglob("hubspot_contacts.csv")
    [orders] = landing.rglob("sales_orders.csv")
    header, *order_rows = csv_all_rows(orders, csv_format(orders))
    ordering = {row[header.index("Contact ID")] for row in order_rows}
    rows = csv_all_rows(contacts, fmt := csv_format(contacts))
    contact_id, name = rows[0].index("Record ID"), rows[0].index("First Name")
    renamed = next(row for row in rows[1:] if row[contact_id] in ordering)
    renamed[name] = renamed[name] + "x"
    write_rows(contacts, rows[:-1], fmt.delimiter)
    night = night_and_again(tmp_path, landing)
    assert linkage(night) == "1 records added, 2 removed"

    # a full rebuild derives every link again, to the same result
    before = {table: build_table(night, table) for table in IDENTITY_TABLES}
    rebuilt = nightly_run_in(tmp_path / "night", landing, full_rebuild=True)
    assert rebuilt.result.success and linkage(rebuilt) == "derived whole"
    assert {step_metadata(rebuilt, "core", "update")[table] for table in ORDER_SIDE} == {"derived whole"}
    for table in IDENTITY_TABLES:
        assert build_table(rebuilt, table).equals(before[table]), table


def first_night(tmp_path):
    """The sample's first build in <tmp_path>/night, from a landing folder of its own."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    (tmp_path / "night").mkdir()
    run = nightly_run_in(tmp_path / "night", landing)
    assert run.result.success
    return landing, run


def build_rows(run, query: str, params: list) -> list[tuple]:
    with build_connection(run) as con:
        return con.execute(query, params).fetchall()


def edit_in_place(landing, file_name: str, key_column: str, key, column: str, value) -> None:
    """A tool corrects one exported row: the same file and rows, one cell changed."""
    [path] = landing.rglob(file_name)
    rows = csv_all_rows(path, fmt := csv_format(path))
    [row] = [r for r in rows[1:] if r[rows[0].index(key_column)] == key]
    row[rows[0].index(column)] = value
    write_rows(path, rows, fmt.delimiter)


def test_a_cancelled_first_order_builds_only_its_customer_again(tmp_path):
    landing, first = first_night(tmp_path)
    [(customer, first_number, then_first_at)] = build_rows(first, """
        SELECT customer_key, arg_min(order_number, ordered_at), min(ordered_at) FROM core.orders
        WHERE status <> 'cancelled' AND customer_key IS NOT NULL
        GROUP BY customer_key HAVING count(*) >= 2 ORDER BY customer_key LIMIT 1""", [])
    [(second_at,)] = build_rows(first, """
        SELECT min(ordered_at) FROM core.orders WHERE customer_key = ? AND status <> 'cancelled'
        AND order_number <> ?""", [customer, first_number])

    edit_in_place(landing, "sales_orders.csv", "Sales Order Number", f"SO-{first_number}", "Status", "Cancelled")
    night = night_and_again(tmp_path, landing)  # holds core.customers to a whole build
    assert linkage(night) == "0 records added, 0 removed"
    assert step_metadata(night, "core", "update")["customers"] == "1 customers built again"
    assert step_metadata(night, "marts", "update")["customer_360"] == "1 customers built again"
    [(now_first_at,)] = build_rows(night, "SELECT first_order_at FROM core.customers WHERE customer_key = ?",
                                   [customer])
    assert then_first_at != second_at and now_first_at == second_at


def test_a_ticket_naming_an_order_the_crm_sends_later_gets_its_order(tmp_path):
    """The ticket's row is unchanged, but the order it names becomes known: its person record is
    derived again, with the places that arrived, and nothing else."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    [orders] = landing.rglob("sales_orders.csv")
    header, *rows = csv_all_rows(orders, fmt := csv_format(orders))
    # SO-1405 has no shipment; ticket 5267 (zendesk_tickets.csv row 267) asks for its invoice
    late = [row for row in rows if row[0] == "SO-1405"]
    write_rows(orders, [header, *(row for row in rows if row[0] != "SO-1405")], fmt.delimiter)
    (tmp_path / "night").mkdir()
    first = nightly_run_in(tmp_path / "night", landing)
    assert first.result.success
    ticket_record = ("SELECT order_number FROM core.customer_records "
                     "WHERE entity = 'support_tickets' AND source_record_id = '5267'")
    assert build_rows(first, ticket_record, []) == [(None,)]

    write_rows(orders.with_name("sales_orders_late.csv"), [header, *late], fmt.delimiter)
    night = night_and_again(tmp_path, landing)  # holds the records to a derivation of all of them
    assert step_metadata(night, "core", "person_records_derived")["customer_identity_map"] == "2 places"
    assert linkage(night) == "2 records added, 1 removed"
    assert build_rows(night, ticket_record, []) == [("1405",)]


def test_person_records_follow_order_references_derived_on_a_later_run(tmp_path):
    """A run that skips the order references derives the changed ticket's person record with the
    reference of before; the next run derives the reference and passes its place on, so the
    record is derived again, as deriving all would."""
    landing, first = first_night(tmp_path)
    ticket_record = ("SELECT order_number FROM core.customer_records "
                     "WHERE entity = 'support_tickets' AND source_record_id = '5267'")
    assert build_rows(first, ticket_record, []) == [("1405",)]
    edit_in_place(landing, "zendesk_tickets.csv", "Id", "5267", "Subject", "Invoice for order #1001")
    job = build_definitions(str(first.config_path)).resolve_job_def("nightly")
    without_references = [k for k in job.asset_layer.asset_graph.get_all_asset_keys() if k != ORDER_REFERENCES]
    with dg.DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, asset_selection=without_references).success
    assert build_rows(first, ticket_record, []) == [("1405",)]

    night = night_and_again(tmp_path, landing)
    assert step_metadata(night, "core", "update")["order_references"] == "1 places derived again"
    assert build_rows(night, ticket_record, []) == [("1001",)]


def an_order_and_a_ticket(run) -> tuple:
    """A customer with an order (its number), and a scored ticket of another customer (its id and score)."""
    [(buyer, order_number)] = build_rows(run, """
        SELECT customer_key, max(order_number) FROM core.orders WHERE status <> 'cancelled' AND customer_key IS NOT NULL
        GROUP BY customer_key ORDER BY customer_key LIMIT 1""", [])
    [(ticket_id, score)] = build_rows(run, """
        SELECT ticket_id, csat_score FROM core.tickets
        WHERE csat_score IS NOT NULL AND customer_key IS NOT NULL AND customer_key <> ?
        ORDER BY customer_key, ticket_id LIMIT 1""", [buyer])
    return buyer, order_number, ticket_id, score


def test_an_order_total_and_a_ticket_score_build_only_their_customers_360_again(tmp_path):
    landing, first = first_night(tmp_path)
    buyer, order_number, ticket_id, score = an_order_and_a_ticket(first)
    [(then_value,)] = build_rows(first, "SELECT lifetime_value FROM marts.customer_360 WHERE customer_key = ?", [buyer])

    edit_in_place(landing, "sales_orders.csv", "Sales Order Number", f"SO-{order_number}", "Grand Total", "£1000.00")
    edit_in_place(landing, "zendesk_tickets.csv", "Id", str(ticket_id), "Satisfaction Score", str(1 if score != 1 else 5))
    night = night_and_again(tmp_path, landing)  # holds marts.customer_360 to a whole build
    assert linkage(night) == "0 records added, 0 removed"
    assert step_metadata(night, "core", "update")["customers"] == "0 customers built again"
    assert step_metadata(night, "marts", "update")["customer_360"] == "2 customers built again"
    [(now_value,)] = build_rows(night, "SELECT lifetime_value FROM marts.customer_360 WHERE customer_key = ?", [buyer])
    assert now_value != then_value


def test_the_linkage_fingerprint_follows_the_settings_files_not_where_they_lie(tmp_path):
    """A project moved to another folder keeps its links; a changed nickname list derives them again."""
    def fingerprint(folder):
        return linkage_fingerprint(load_identity_settings(folder / "identity.yaml").customers)

    here, moved = tmp_path / "here" / "schemas", tmp_path / "moved" / "schemas"
    for folder in (here, moved):
        shutil.copytree(SCHEMAS_DIR, folder)
    assert fingerprint(here) == fingerprint(moved)
    nicknames = moved / "identity_nicknames.csv"
    nicknames.write_text(nicknames.read_text() + "zebedee,zeb\n")
    assert fingerprint(here) != fingerprint(moved)


def test_rows_changed_on_a_night_that_did_not_publish_reach_the_next_file(tmp_path):
    """A night whose publish is held back (a failed blocking check, a crash) keeps its changed keys
    queued; the next publish replaces them too, and the file equals one copied whole."""
    landing, first = first_night(tmp_path)
    _, order_number, ticket_id, score = an_order_and_a_ticket(first)

    edit_in_place(landing, "sales_orders.csv", "Sales Order Number", f"SO-{order_number}", "Grand Total", "£1000.00")
    defs = build_definitions(str(first.config_path))
    job = defs.resolve_job_def("nightly")
    unpublished_keys = [k for k in job.asset_layer.asset_graph.get_all_asset_keys() if k != PUBLISHED]
    with dg.DagsterInstance.ephemeral() as instance:
        held = job.execute_in_process(instance=instance, asset_selection=unpublished_keys)
    assert held.success

    edit_in_place(landing, "zendesk_tickets.csv", "Id", str(ticket_id), "Satisfaction Score", str(1 if score != 1 else 5))
    night = nightly_run_in(tmp_path / "night", landing)
    assert night.result.success
    updates = step_metadata(night, "publish", "update")["crosswalk_duckdb"]
    # the two customers' 360 rows, one per night; the map's rows of model links (their probability
    # moves with the prior) are written again every night
    assert updates.pop("marts.customer_360") == "2 rows replaced"
    assert updates.pop("core.customers") == "0 rows replaced"
    assert re.fullmatch(r"\d+ rows replaced", updates.pop("core.customer_identity_map"))
    whole = tmp_path / "whole.duckdb"
    night.publish_copy(whole, load_settings(night.config_path))
    con = duckdb.connect(str(whole), read_only=True)
    try:
        for table in unpublished.UNPUBLISHED:
            copied = rounded(con.sql(f"SELECT * FROM {table} ORDER BY {IDENTITY_TABLES[table]}").df())
            assert published_table(night, table).equals(copied), table
    finally:
        con.close()


def test_an_order_follows_its_shipment_ticket_and_customer_changed_elsewhere(tmp_path):
    """core.orders derives again only the orders whose inputs changed: here a shipment delivered a
    day later, a ticket that now reports a damaged item, and a customer whose contact now shares
    another customer's email. None of them changes the sales order's own row."""
    landing, first = first_night(tmp_path)
    [(shipped_order, delivered_at)] = build_rows(first, """
        SELECT order_number, delivered_at FROM core.orders WHERE delivered_at IS NOT NULL AND shipments = 1
        ORDER BY order_number LIMIT 1""", [])
    [(ticket_id, ticket_order)] = build_rows(first, """
        SELECT t.ticket_id, o.order_number FROM core.tickets t JOIN core.orders o USING (order_key)
        WHERE t.category NOT IN ('wrong_item', 'damaged_item', 'missing_item') AND NOT o.has_fulfilment_error
          AND o.is_fulfilled
        ORDER BY t.ticket_id LIMIT 1""", [])
    [(joining, joined)] = build_rows(first, """
        WITH buyers AS (SELECT DISTINCT c.crm_contact_id, o.customer_key
                        FROM core.orders o JOIN core.customer_identity_map m USING (customer_key)
                        JOIN staging.crm_contacts c ON m.entity = 'crm_contacts' AND m.source_file = c.source_file
                                                   AND m.source_row = c.source_row
                        WHERE c.email IS NOT NULL)
        SELECT a.crm_contact_id, b.crm_contact_id FROM buyers a JOIN buyers b ON a.customer_key < b.customer_key
        ORDER BY ALL LIMIT 1""", [])

    [workbook_path] = landing.rglob("shipments.xlsx")
    workbook = openpyxl.load_workbook(workbook_path)
    sheet = workbook["Shipments"]
    header_row = next(r for r in sheet.iter_rows() if r[0].value == "Order #")
    columns = {cell.value: cell.column - 1 for cell in header_row}
    for row in sheet.iter_rows(min_row=header_row[0].row + 1):
        if str(row[columns["Order #"]].value).lstrip("#").removeprefix("SO-") == shipped_order:
            row[columns["Delivery Date"]].value = row[columns["Delivery Date"]].value + dt.timedelta(days=1)
    workbook.save(workbook_path)
    edit_in_place(landing, "zendesk_tickets.csv", "Id", str(ticket_id), "Category", "Damaged item")
    [contacts] = landing.rglob("hubspot_contacts.csv")
    rows = csv_all_rows(contacts, fmt := csv_format(contacts))
    emails = {row[0]: row[rows[0].index("Email")] for row in rows[1:]}
    edit_in_place(landing, "hubspot_contacts.csv", "Record ID", joining, "Email", emails[joined])

    night = night_and_again(tmp_path, landing)  # holds core.orders to a whole derivation
    assert re.fullmatch(r"\d+ orders", step_metadata(night, "core", "orders_derived")["orders"])
    [(later,)] = build_rows(night, "SELECT delivered_at FROM core.orders WHERE order_number = ?", [shipped_order])
    assert later == delivered_at + dt.timedelta(days=1)
    [(shipment_delivered,)] = build_rows(night, """
        SELECT f.delivered_at FROM core.fulfilments f JOIN core.orders o USING (order_key) WHERE o.order_number = ?""",
                                         [shipped_order])
    assert shipment_delivered == later
    [(error,)] = build_rows(night, "SELECT has_fulfilment_error FROM core.orders WHERE order_number = ?", [ticket_order])
    assert error


def test_name_counts_stop_where_no_blocking_rule_tells_them_apart(tmp_path):
    """name_records is counted up to one past the largest `<= N` a blocking rule tests, so a night
    moves only the counts a rule reads; a rule reading it any other way keeps every count."""
    shipped = load_identity_settings().customers.model
    assert name_records_cap(shipped) == 21
    model = json.loads(shipped.read_text())
    rules = model["blocking_rules_to_generate_predictions"]
    for extra, cap in (("l.name_records < 40", 40), ("l.name_records >= 3", None), ("l.first_name = r.first_name", 21)):
        model["blocking_rules_to_generate_predictions"] = [*rules, {"blocking_rule": extra, "sql_dialect": "duckdb"}]
        path = tmp_path / "model.json"
        path.write_text(json.dumps(model))
        assert name_records_cap(path) == cap, extra


def test_a_record_joining_a_customer_leaves_its_other_identity_map_rows_as_they_were(tmp_path):
    """A new sales order by a customer with many records: the night writes the identity-map rows
    that changed (the new record's, and the model links' whose probability moved with the prior),
    not the row of every record of the customer, which would change if each row held its
    customer's size (core.customers.source_records holds it), and registers the new record alone."""
    landing, first = first_night(tmp_path)
    map_sql = "SELECT * FROM core.customer_identity_map"
    before = first.query(map_sql)
    [(customer, records, order_number)] = first.query("""
        SELECT m.customer_key, c.source_records, min(m.source_record_id) AS order_number
        FROM core.customer_identity_map m JOIN core.customers c USING (customer_key)
        WHERE m.entity = 'crm_sales_orders'
        GROUP BY ALL ORDER BY c.source_records DESC, m.customer_key LIMIT 1""").itertuples(index=False)
    assert records >= 4
    [orders] = landing.rglob("sales_orders.csv")
    header, *rows = csv_all_rows(orders, fmt := csv_format(orders))
    [row] = [r for r in rows if r[0] == f"SO-{order_number}" or r[0] == order_number]
    write_rows(orders.with_name("sales_orders_new.csv"), [header, ["SO-99001", *row[1:]]], fmt.delimiter)
    registry_sql = "SELECT record_key, customer_key, keyed_at FROM core.customer_key_registry WHERE customer_key = ?"
    registered = set(build_rows(first, registry_sql, [customer]))

    night = nightly_run_in(tmp_path / "night", landing)
    assert night.result.success
    # the customer keeps its key without its records being keyed again: their registry rows are
    # as they were, and the new order's is added under the key
    registered_now = set(build_rows(night, registry_sql, [customer]))
    assert registered < registered_now
    [(record_key, _, _)] = registered_now - registered
    assert record_key.startswith("crm_sales_orders:")
    after = night.query(map_sql)
    key = ["entity", "source_file", "source_row"]
    changed = before.merge(after, how="outer", indicator=True).query("_merge != 'both'")[key].drop_duplicates()
    assert ("crm_sales_orders", "sales_orders_new.csv", 1) in set(changed.itertuples(index=False, name=None))
    written = step_metadata(night, "publish", "update")["crosswalk_duckdb"]["core.customer_identity_map"]
    assert written == f"{len(changed)} rows replaced"
    # the customer's rows other than the new one and its model links: as they were
    members = after[(after["customer_key"] == customer) & (after["match_rule"] != "probabilistic")]
    assert len(members) >= records
    kept = members.merge(before, how="inner")
    assert len(kept) == len(members) - 1
