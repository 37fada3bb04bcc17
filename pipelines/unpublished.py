"""The rows a night changed in the build's biggest published tables, kept until they are published.

Each such table has a queue in the build, `<table>_unpublished`, of the keys whose rows were
written since the BI file was last published; a NULL key means every row (the table was built
whole). The steps that write the table fill its queue; publish replaces those keys' rows in a copy
of the previous file instead of copying every row, and empties the queue once the file is in place.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class UnpublishedRows:
    table: str      # e.g. core.customers
    key: str        # a column that is unique in the table
    key_type: str   # its SQL type

    @property
    def queue(self) -> str:
        return f"{self.table}_unpublished"


CUSTOMERS = UnpublishedRows("core.customers", "customer_key", "VARCHAR")
CUSTOMER_360 = UnpublishedRows("marts.customer_360", "customer_key", "VARCHAR")
CUSTOMER_IDENTITY_MAP = UnpublishedRows("core.customer_identity_map", "record_id", "BIGINT")
UNPUBLISHED = {rows.table: rows for rows in (CUSTOMERS, CUSTOMER_360, CUSTOMER_IDENTITY_MAP)}


def queue_every_row(rows: UnpublishedRows) -> str:
    """The statement that marks the whole table unpublished (it was built whole)."""
    return f"CREATE OR REPLACE TABLE {rows.queue} AS SELECT NULL::{rows.key_type} AS {rows.key}"


def queue_keys(rows: UnpublishedRows, keys_sql: str) -> list[str]:
    """The statements that add the keys `keys_sql` selects to the table's queue."""
    return [f"CREATE TABLE IF NOT EXISTS {rows.queue} ({rows.key} {rows.key_type})",
            f"INSERT INTO {rows.queue} {keys_sql}"]
