"""The places (entity, file, row) whose staged record changed, so that a night derives order
references and person records only there.

Each consumer keeps a queue of places (a NULL place: every record of the entity): the order
references step `staging.reference_places_changed`, customer identity
`staging.record_places_changed`, and core.orders `staging.order_places_changed` (its sales orders;
pipelines/order_scope.py). Staging fills the queues that exist as it writes an entity's
history: the places of the versions it appended, or, where it derived every version again, the
places whose current record differs from before. The order references step derives the
references of its queued places, passes them on to customer identity (a person record holds the
order its record names) and empties its queue in the same transaction. Customer identity adds the
places whose order number became known or unknown (the order numbers it last derived with are
kept), derives the person records of those places only, and empties its queue with the links
complete. The order references step also queues, for the order map, the places it derived and
those naming an order number it touched (`core.order_map_places_changed`), which the order map
step derives again with the shipments the fallback matches, and empties. core.fulfilments and
core.tickets each keep a queue of their entity's places (PlacesScope), which staging, the order
map (the places whose row it wrote again) and, for tickets, customer identity (the records whose
customer changed) fill; quality.unmatched_order_refs is written again at the places whose row of
the order map changed (UNMATCHED_QUEUE). A build without a queue, or a queue that names a whole
entity, derives all again.
"""

from dataclasses import dataclass

import duckdb

from connectors.profiles import load_entities
from pipelines import unpublished
from pipelines.metadata import column_names, table_exists
from pipelines.staging_sql import literal

PERSON_QUEUE = "staging.record_places_changed"
REFERENCE_QUEUE = "staging.reference_places_changed"
# the staged entities person records are derived from (sql/core/customer_records_now.sql), and
# those order references are read from (schemas/identity.yaml order_references)
PERSON_ENTITIES = ("crm_contacts", "crm_sales_orders", "marketing_subscribers", "support_tickets",
                   "inventory_shipments")
REFERENCE_ENTITIES = ("crm_sales_orders", "inventory_shipments", "support_tickets")
# core.orders reads the staged sales orders themselves (pipelines/order_scope.py)
ORDER_QUEUE = "staging.order_places_changed"


@dataclass(frozen=True)
class PlacesScope:
    """A core table read from one staged entity and the identity maps' rows of its records, which
    a night derives only at the places (file, row) whose staged record or rows of the maps
    changed: staging and the maps fill its queue."""
    table: str                  # e.g. core.fulfilments, derived by sql/core/fulfilments.sql
    entity: str                 # the staged entity it reads
    queue: str
    # SQL selecting the keys of the table's rows at the places cw_<name>_places, now or kept;
    # None when the table's key is the place
    keys_sql: str | None = None

    @property
    def name(self) -> str:
        return self.table.split(".")[-1]

    @property
    def places(self) -> str:
        return f"cw_{self.name}_places"

    @property
    def state(self) -> str:
        """What the table was derived with (its SQL's fingerprint)."""
        return f"{self.table}_state"


FULFILMENT_PLACES = PlacesScope("core.fulfilments", "inventory_shipments", "staging.shipment_places_changed")
TICKET_PLACES = PlacesScope(
    "core.tickets", "support_tickets", "staging.ticket_places_changed",
    keys_sql="""SELECT ticket_id FROM staging.support_tickets
                WHERE (source_file, source_row) IN (SELECT source_file, source_row FROM cw_tickets_places)
                UNION SELECT ticket_id FROM core.tickets
                WHERE (source_file, source_row) IN (SELECT source_file, source_row FROM cw_tickets_places)""")
# the places whose row of the order map was written again, for quality.unmatched_order_refs
UNMATCHED_QUEUE = "core.unmatched_ref_places_changed"


QUEUES = {PERSON_QUEUE: PERSON_ENTITIES, REFERENCE_QUEUE: REFERENCE_ENTITIES, ORDER_QUEUE: ("crm_sales_orders",),
          **{scope.queue: (scope.entity,) for scope in (FULFILMENT_PLACES, TICKET_PLACES)},
          # the places whose staged record changed since staging.<entity>'s checks last ran
          **{unpublished.unchecked_queue(f"staging.{entity}"): (entity,) for entity in load_entities()}}
# filled by the order references step; NULL places: every record
ORDER_MAP_QUEUE = "core.order_map_places_changed"
# what the order map was derived with (its SQL and the fallback settings)
ORDER_MAP_STATE = "core.order_map_state"
# the order numbers known when the person records were last derived (builds before
# the references step queued the records naming a number that came or went)
ORDER_NUMBERS_THEN = "core.customer_records_order_numbers"
# the order reference patterns core.order_references was derived with
REFERENCES_STATE = "core.order_references_state"
QUEUE_COLUMNS = "entity VARCHAR, source_file VARCHAR, source_row BIGINT"


def fingerprint_kept(con: duckdb.DuckDBPyConnection, state: str, fingerprint: str) -> bool:
    """Whether the state table `state` (a build without it: no) holds `fingerprint`."""
    return table_exists(con, state) and bool(
        con.execute(f"SELECT count(*) FROM {state} WHERE fingerprint = ?", [fingerprint]).fetchall()[0][0])


def keep_fingerprint_sql(state: str, fingerprint: str) -> str:
    return f"CREATE OR REPLACE TABLE {state} AS SELECT {literal(fingerprint)} AS fingerprint"


def _queues_of(con: duckdb.DuckDBPyConnection, entity: str) -> list[str]:
    return [queue for queue, entities in QUEUES.items() if entity in entities and table_exists(con, queue)]


def _current_places_sql(history: str) -> str:
    """Each current record's place with the hash of its place and content (row_hash, see
    pipelines/staging.py versions_sql), which a snapshot exported again leaves as it was."""
    return f"SELECT source_file, source_row, row_hash FROM {history} WHERE version = 'current'"


def remember_current(con: duckdb.DuckDBPyConnection, entity: str, history: str) -> bool:
    """Before the history is derived again: its current records, to compare with after
    (cw_places_before), when a queue is kept and the history has a row hash."""
    if not _queues_of(con, entity) or "row_hash" not in column_names(con, *history.split(".")):
        return False
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_places_before AS {_current_places_sql(history)}")
    return True


def queue_rederived(con: duckdb.DuckDBPyConnection, entity: str, history: str, remembered: bool) -> None:
    """After the history was derived again: the places whose current record differs from
    cw_places_before (remembered), either way; else the whole entity."""
    for queue in _queues_of(con, entity):
        if not remembered:
            con.execute(f"INSERT INTO {queue} VALUES ({literal(entity)}, NULL, NULL)")
            continue
        # one join, each side read once: a record with no equal at its place, either way
        con.execute(f"""
            INSERT INTO {queue}
            SELECT DISTINCT {literal(entity)}, coalesce(n.source_file, b.source_file),
                   coalesce(n.source_row, b.source_row)
            FROM ({_current_places_sql(history)}) n
            FULL JOIN cw_places_before b
              ON b.source_file = n.source_file AND b.source_row = n.source_row AND b.row_hash = n.row_hash
            WHERE n.row_hash IS NULL OR b.row_hash IS NULL""")
    if remembered:
        con.execute("DROP TABLE cw_places_before")


def queue_appended(con: duckdb.DuckDBPyConnection, entity: str, appended: str) -> None:
    """The places of the versions appended to the history (the relation `appended`)."""
    for queue in _queues_of(con, entity):
        con.execute(f"INSERT INTO {queue} SELECT DISTINCT {literal(entity)}, source_file, source_row FROM {appended}")


def _has_whole_entity(con: duckdb.DuckDBPyConnection, queue: str) -> bool:
    return bool(con.execute(f"SELECT count(*) FROM {queue} WHERE source_file IS NULL").fetchall()[0][0])


def staged_views(con: duckdb.DuckDBPyConnection, places: str | None) -> None:
    """The views the order references and sql/core/customer_records_now.sql read: each entity's
    staged records (cw_staged_<entity>), the order references (cw_order_references) and the
    person records (cw_records_in_scope); all of them, or only those at the `places`."""
    def at_places(relation: str, entity: str | None = None) -> str:
        if places is None:
            return f"SELECT * FROM {relation}"
        same = "p.source_file = s.source_file AND p.source_row = s.source_row"
        same += f" AND p.entity = {literal(entity)}" if entity else " AND p.entity = s.entity"
        return f"SELECT s.* FROM {relation} s SEMI JOIN {places} p ON {same}"

    for entity in PERSON_ENTITIES:
        con.execute(f"CREATE OR REPLACE TEMP VIEW cw_staged_{entity} AS {at_places(f'staging.{entity}', entity)}")
    for view, table in (("cw_order_references", "core.order_references"), ("cw_records_in_scope", "core.customer_records")):
        if table_exists(con, table):  # none yet on a first build
            con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {at_places(table)}")


def queue_holds_places(con: duckdb.DuckDBPyConnection, table: str, queue: str, state: str, fingerprint: str) -> bool:
    """Whether `queue` says where `table` may have changed: the table, its queue and its state
    are there, the state holds `fingerprint` (what the table was derived with), and the queue
    names no whole entity."""
    return (table_exists(con, table) and table_exists(con, queue) and fingerprint_kept(con, state, fingerprint)
            and not _has_whole_entity(con, queue))


def reference_scope(con: duckdb.DuckDBPyConnection, fingerprint: str) -> bool:
    """cw_reference_places: the places whose order references may have changed. False (derive
    them all) without the references or their queue, when the queue names a whole entity, or
    when the patterns' `fingerprint` differs from the one the references were derived with."""
    if not queue_holds_places(con, "core.order_references", REFERENCE_QUEUE, REFERENCES_STATE, fingerprint):
        return False
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_reference_places AS SELECT DISTINCT * FROM {REFERENCE_QUEUE}")
    return True


def references_written_sql(con: duckdb.DuckDBPyConnection, fingerprint: str, scoped: bool) -> list[str]:
    """After the references were derived (at cw_reference_places when scoped): for customer
    identity, those places and the places naming an order number that became known or unknown
    (cw_numbers_moved), whose record's order number changes; for the order map, those places and
    the places naming an order number they held before or hold now (cw_numbers_touched), whose
    order may have become known or unknown; the reference queue emptied and the patterns kept."""
    passed_on = []
    if table_exists(con, PERSON_QUEUE):
        passed_on = ([f"INSERT INTO {PERSON_QUEUE} SELECT * FROM cw_reference_places UNION "
                      "SELECT entity, source_file, source_row FROM core.order_references "
                      "WHERE order_number IN (SELECT order_number FROM cw_numbers_moved)"] if scoped else
                     [f"INSERT INTO {PERSON_QUEUE} VALUES " + ", ".join(f"({literal(e)}, NULL, NULL)"
                                                                        for e in REFERENCE_ENTITIES)])
    if table_exists(con, ORDER_MAP_QUEUE):
        passed_on.append(f"INSERT INTO {ORDER_MAP_QUEUE} SELECT * FROM cw_reference_places UNION "
                         "SELECT entity, source_file, source_row FROM core.order_references "
                         "WHERE order_number IN (SELECT order_number FROM cw_numbers_touched)" if scoped else
                         f"INSERT INTO {ORDER_MAP_QUEUE} VALUES (NULL, NULL, NULL)")
    return [*passed_on,
            f"CREATE OR REPLACE TABLE {REFERENCE_QUEUE} ({QUEUE_COLUMNS})",
            keep_fingerprint_sql(REFERENCES_STATE, fingerprint)]


def person_scope(con: duckdb.DuckDBPyConnection) -> bool:
    """cw_record_places: the queued places (staging's, and the references step's, with those
    naming an order number that became known or unknown). False (no scope) when the queue is
    missing or a whole entity is queued."""
    if not table_exists(con, PERSON_QUEUE) or _has_whole_entity(con, PERSON_QUEUE):
        return False
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_record_places AS "
                f"SELECT DISTINCT entity, source_file, source_row FROM {PERSON_QUEUE}")
    return True


def persons_derived_sql() -> list[str]:
    """The statements that mark the person records derived for every queued place: the queue
    emptied (created on a build that had none)."""
    return [f"CREATE OR REPLACE TABLE {PERSON_QUEUE} ({QUEUE_COLUMNS})", f"DROP TABLE IF EXISTS {ORDER_NUMBERS_THEN}"]


def order_map_scope(con: duckdb.DuckDBPyConnection, fingerprint: str) -> bool:
    """cw_order_map_places: the places whose row of the order map may have changed: the queued
    places, and every shipment naming no order, which the fallback matches anew each night (they
    compete for orders). False (derive every row) without the map, its queue or its state, when
    the queue names every record, or when the map's `fingerprint` differs from the one kept."""
    if not queue_holds_places(con, "core.order_identity_map", ORDER_MAP_QUEUE, ORDER_MAP_STATE, fingerprint):
        return False
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_order_map_places AS
        SELECT entity, source_file, source_row FROM {ORDER_MAP_QUEUE}
        UNION
        SELECT entity, source_file, source_row FROM core.order_references
        WHERE entity = 'inventory_shipments' AND order_number IS NULL""")
    return True


def order_map_derived_sql(fingerprint: str) -> list[str]:
    """The order map's queue emptied (created on a build that had none) and its fingerprint kept."""
    return [f"CREATE OR REPLACE TABLE {ORDER_MAP_QUEUE} ({QUEUE_COLUMNS})",
            keep_fingerprint_sql(ORDER_MAP_STATE, fingerprint)]



def queue_places_sql(con: duckdb.DuckDBPyConnection, queue: str, places_sql: str) -> list[str]:
    """The statement that adds the places (entity, source_file, source_row) `places_sql` selects
    to `queue`; none on a build without the queue, whose reader derives every row anyway."""
    return [f"INSERT INTO {queue} {places_sql}"] if table_exists(con, queue) else []


def places_scope(con: duckdb.DuckDBPyConnection, scope: PlacesScope, fingerprint: str) -> bool:
    """The places whose rows of `scope.table` may have changed (scope.places), and with keys_sql
    their keys (cw_<name>_keys). False (derive every row) without the table, its queue or its
    state, when the queue names every record, or when the SQL's `fingerprint` differs."""
    if not queue_holds_places(con, scope.table, scope.queue, scope.state, fingerprint):
        return False
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {scope.places} AS
        SELECT DISTINCT source_file, source_row FROM {scope.queue} WHERE entity = {literal(scope.entity)}""")
    if scope.keys_sql:
        con.execute(f"CREATE OR REPLACE TEMP TABLE cw_{scope.name}_keys AS {scope.keys_sql}")
    return True


def places_derived_sql(scope: PlacesScope, fingerprint: str) -> list[str]:
    """The table's queue emptied (created on a build that had none) and its fingerprint kept."""
    return [f"CREATE OR REPLACE TABLE {scope.queue} ({QUEUE_COLUMNS})", keep_fingerprint_sql(scope.state, fingerprint)]


def unmatched_refs_sql(con: duckdb.DuckDBPyConnection, fingerprint: str, rebuild: bool) -> list[str]:
    """quality.unmatched_order_refs from the view cw_unmatched_order_refs: at the places whose row
    of the order map changed (UNMATCHED_QUEUE), or whole without the table, its queue or its
    state, or when the queue names every record; those places queued for publishing."""
    state, table = "quality.unmatched_order_refs_state", unpublished.UNMATCHED_ORDER_REFS
    whole = rebuild or not queue_holds_places(con, table.table, UNMATCHED_QUEUE, state, fingerprint)
    at_places = f"(entity, source_file, source_row) IN (SELECT entity, source_file, source_row FROM {UNMATCHED_QUEUE})"
    writes = ([f"CREATE OR REPLACE TABLE {table.table} AS SELECT * FROM cw_unmatched_order_refs",
               unpublished.queue_every_row(con, table)] if whole else
              [f"DELETE FROM {table.table} WHERE {at_places}",
               f"INSERT INTO {table.table} SELECT * FROM cw_unmatched_order_refs WHERE {at_places}",
               *unpublished.queue_keys(con, table, f"SELECT DISTINCT entity, source_file, source_row FROM {UNMATCHED_QUEUE}")])
    return [*writes, f"CREATE OR REPLACE TABLE {UNMATCHED_QUEUE} ({QUEUE_COLUMNS})", keep_fingerprint_sql(state, fingerprint)]
