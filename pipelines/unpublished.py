"""The rows a night changed in the build's biggest published tables, kept until they are published
and until they are checked.

Each such table has two queues in the build of the keys whose rows were written; a NULL key means
every row (the table was built whole). The steps that write the table fill both.
`<table>_unpublished` holds the keys written since the BI file was last published: publish replaces
those keys' rows in a copy of the previous file instead of copying every row, and empties the queue
once the file is in place. `quality.<schema>_<table>_unchecked` holds the keys written since the
table's checks last ran (pipelines/check_rows.py): they make it, and empty it.
"""

from dataclasses import dataclass

from pipelines.metadata import table_exists


def unchecked_queue(table: str) -> str:
    """The queue of the keys (or places) written since `table`'s checks last ran."""
    return f"quality.{table.replace('.', '_')}_unchecked"


@dataclass(frozen=True)
class UnpublishedRows:
    table: str                  # e.g. core.customers
    key: dict[str, str]         # the columns that together are unique in the table, with their SQL types

    @property
    def queue(self) -> str:
        return f"{self.table}_unpublished"

    @property
    def unchecked(self) -> str:
        return unchecked_queue(self.table)

    @property
    def queue_columns(self) -> str:
        return ", ".join(f"{column} {sql_type}" for column, sql_type in self.key.items())

    @property
    def columns(self) -> str:
        return ", ".join(self.key)

    def row_in_queue(self, queue: str | None = None) -> str:
        """SQL: the table's row is of a key in the queue (or in `queue`, a relation with the key's columns)."""
        return f"({self.columns}) IN (SELECT {self.columns} FROM {queue or self.queue})"

    def rows_of_queue(self, con, queue: str | None = None, source: str | None = None) -> str:
        """SQL: row_in_queue, for a scan of the table (or `source`, the table in another catalog)
        from the first row a queued key holds. A night appends the rows it writes (a changed row is
        deleted and inserted again), so they lie together at the table's end: the scan skips the
        row groups before them instead of reading every column of every row group for a few keys.
        A row written in place only moves the start back."""
        [(first,)] = con.execute(f"SELECT min(rowid) FROM {source or self.table} "
                                 f"WHERE {self.row_in_queue(queue)}").fetchall()
        return "false" if first is None else f"rowid >= {first} AND {self.row_in_queue(queue)}"


CUSTOMERS = UnpublishedRows("core.customers", {"customer_key": "VARCHAR"})
CUSTOMER_360 = UnpublishedRows("marts.customer_360", {"customer_key": "VARCHAR"})
CUSTOMER_IDENTITY_MAP = UnpublishedRows("core.customer_identity_map", {"record_id": "BIGINT"})
ORDERS = UnpublishedRows("core.orders", {"order_key": "VARCHAR"})
FULFILMENTS = UnpublishedRows("core.fulfilments", {"source_file": "VARCHAR", "source_row": "BIGINT"})
TICKETS = UnpublishedRows("core.tickets", {"ticket_id": "VARCHAR"})
ORDER_IDENTITY_MAP = UnpublishedRows("core.order_identity_map",
                                     {"entity": "VARCHAR", "source_file": "VARCHAR", "source_row": "BIGINT"})
UNMATCHED_ORDER_REFS = UnpublishedRows("quality.unmatched_order_refs",
                                       {"entity": "VARCHAR", "source_file": "VARCHAR", "source_row": "BIGINT"})
UNPUBLISHED = {rows.table: rows for rows in (CUSTOMERS, CUSTOMER_360, CUSTOMER_IDENTITY_MAP, ORDERS, FULFILMENTS,
                                             TICKETS, ORDER_IDENTITY_MAP, UNMATCHED_ORDER_REFS)}


def _queues(con, rows: UnpublishedRows) -> tuple[str, ...]:
    """The publish queue, and the checks' queue where the table's checks made one (a table without
    checks would fill it for ever)."""
    return (rows.queue, rows.unchecked) if table_exists(con, rows.unchecked) else (rows.queue,)


def queue_every_row(con, rows: UnpublishedRows) -> str:
    """The statements (one text) that mark the whole table unpublished and unchecked (it was built whole)."""
    nulls = ", ".join(f"NULL::{sql_type} AS {column}" for column, sql_type in rows.key.items())
    return "; ".join(f"CREATE OR REPLACE TABLE {queue} AS SELECT {nulls}" for queue in _queues(con, rows))


def queue_keys(con, rows: UnpublishedRows, keys_sql: str) -> list[str]:
    """The statements that add the keys `keys_sql` selects to the table's queues."""
    return [statement for queue in _queues(con, rows)
            for statement in (f"CREATE TABLE IF NOT EXISTS {queue} ({rows.queue_columns})",
                              f"INSERT INTO {queue} {keys_sql}")]
