"""The places (entity, file, row) whose staged record may differ from the person record that
customer identity last derived there, so that a night derives person records only there.

Staging fills the queue `staging.record_places_changed` as it writes an entity's history: the
places of the versions it appended, or, where it derived every version again, the places whose
current record differs from before (a NULL place: every record of the entity). Customer identity
adds the places whose order reference became known or unknown (the order numbers it last derived
with are kept), derives the person records of those places only, and empties the queue with the
links complete. A build without the queue, or a queue that names a whole entity, derives every
person record again.
"""

import duckdb

from connectors.profiles import Entity
from pipelines.metadata import column_names
from pipelines.staging_sql import literal

QUEUE = "staging.record_places_changed"
# the order numbers known when the person records were last derived
ORDER_NUMBERS_THEN = "core.customer_records_order_numbers"
# the staged entities person records are derived from (sql/core/customer_records_now.sql)
PERSON_ENTITIES = ("crm_contacts", "crm_sales_orders", "marketing_subscribers", "support_tickets",
                   "inventory_shipments")


def _queue_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(column_names(con, *QUEUE.split(".")))


def _current_places_sql(history: str) -> str:
    """Each current record's place with the hash of its place and content (row_hash, see
    pipelines/staging.py versions_sql), which a snapshot exported again leaves as it was."""
    return f"SELECT source_file, source_row, row_hash FROM {history} WHERE version = 'current'"


def remember_current(con: duckdb.DuckDBPyConnection, entity: Entity, history: str) -> bool:
    """Before the history is derived again: its current records, to compare with after
    (cw_places_before), when the queue is kept and the history has the columns it will have."""
    if entity.name not in PERSON_ENTITIES or not _queue_exists(con) or not _same_columns(con, entity, history):
        return False
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_places_before AS {_current_places_sql(history)}")
    return True


def _same_columns(con: duckdb.DuckDBPyConnection, entity: Entity, history: str) -> bool:
    present = set(column_names(con, *history.split(".")))
    return {"version", "row_hash", *entity.fields} <= present


def queue_rederived(con: duckdb.DuckDBPyConnection, entity: Entity, history: str, remembered: bool) -> None:
    """After the history was derived again: the places whose current record differs from
    cw_places_before (remembered), either way; else the whole entity."""
    if entity.name not in PERSON_ENTITIES or not _queue_exists(con):
        return
    name = literal(entity.name)
    if not remembered:
        con.execute(f"INSERT INTO {QUEUE} VALUES ({name}, NULL, NULL)")
        return
    # one join, each side read once: a record with no equal at its place, either way
    con.execute(f"""
        INSERT INTO {QUEUE}
        SELECT DISTINCT {name}, coalesce(n.source_file, b.source_file), coalesce(n.source_row, b.source_row)
        FROM ({_current_places_sql(history)}) n
        FULL JOIN cw_places_before b
          ON b.source_file = n.source_file AND b.source_row = n.source_row AND b.row_hash = n.row_hash
        WHERE n.row_hash IS NULL OR b.row_hash IS NULL""")
    con.execute("DROP TABLE cw_places_before")


def queue_appended(con: duckdb.DuckDBPyConnection, entity: Entity, appended: str) -> None:
    """The places of the versions appended to the history (the relation `appended`)."""
    if entity.name in PERSON_ENTITIES and _queue_exists(con):
        con.execute(f"INSERT INTO {QUEUE} SELECT DISTINCT {literal(entity.name)}, source_file, source_row "
                    f"FROM {appended}")


def scope_places(con: duckdb.DuckDBPyConnection) -> bool:
    """cw_record_places(entity, source_file, source_row): the queued places and those whose order
    reference became known or unknown since the person records were derived. False (no scope)
    when the queue or the order numbers of then are missing, or a whole entity is queued."""
    if not _queue_exists(con) or not column_names(con, *ORDER_NUMBERS_THEN.split(".")):
        return False
    [(whole,)] = con.execute(f"SELECT count(*) FROM {QUEUE} WHERE source_file IS NULL").fetchall()
    if whole:
        return False
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_record_places AS
        WITH moved AS (
            (SELECT order_number FROM core.order_numbers EXCEPT SELECT order_number FROM {ORDER_NUMBERS_THEN})
            UNION ALL
            (SELECT order_number FROM {ORDER_NUMBERS_THEN} EXCEPT SELECT order_number FROM core.order_numbers)
        )
        SELECT entity, source_file, source_row FROM {QUEUE}
        UNION
        SELECT entity, source_file, source_row FROM core.order_references
        WHERE order_number IN (SELECT order_number FROM moved)""")
    return True


def staged_views(con: duckdb.DuckDBPyConnection, scoped: bool) -> None:
    """The views sql/core/customer_records_now.sql reads: each entity's staged records
    (cw_staged_<entity>), the order references (cw_order_references) and the person records
    that may change (cw_records_in_scope); all of them, or only those of cw_record_places."""
    def at_places(relation: str, entity: str | None = None) -> str:
        if not scoped:
            return f"SELECT * FROM {relation}"
        same = "p.source_file = s.source_file AND p.source_row = s.source_row"
        same += f" AND p.entity = {literal(entity)}" if entity else " AND p.entity = s.entity"
        return f"SELECT s.* FROM {relation} s SEMI JOIN cw_record_places p ON {same}"

    for entity in PERSON_ENTITIES:
        con.execute(f"CREATE OR REPLACE TEMP VIEW cw_staged_{entity} AS {at_places(f'staging.{entity}', entity)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW cw_order_references AS {at_places('core.order_references')}")
    if column_names(con, "core", "customer_records"):  # none yet on a first build
        con.execute(f"CREATE OR REPLACE TEMP VIEW cw_records_in_scope AS {at_places('core.customer_records')}")


def consumed_sql() -> list[str]:
    """The statements that mark the person records derived for every queued place: the queue
    emptied (created on a build that had none) and the order numbers of now kept."""
    return [f"CREATE OR REPLACE TABLE {QUEUE} (entity VARCHAR, source_file VARCHAR, source_row BIGINT)",
            f"CREATE OR REPLACE TABLE {ORDER_NUMBERS_THEN} AS SELECT DISTINCT order_number FROM core.order_numbers"]
