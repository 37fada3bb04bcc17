"""Staging layer: one typed, normalised table per canonical entity; bad rows to quarantine."""


import json
from pathlib import Path

import dagster as dg
import pandas as pd

from connectors import values
from connectors.files import content_fingerprint
from connectors.profiles import SCHEMAS_DIR, Entity, Profile, load_entities, load_profiles
from pipelines import record_places
from pipelines.metadata import column_names, markdown_table, table_metadata
from pipelines.raw import FAMILY_OWNERS, raw_key, raw_record_sql, record_layout
from pipelines.resources import WarehouseResource
from pipelines.staging_sql import (
    CARRIED_LOADS, LINEAGE_COLUMNS, carried_sql, ident, issue_still_holds_sql, literal, stored_rows, typed_rows_sql,
)

QUALITY_TABLES = {
    "rejected_rows": """entity VARCHAR, source_file VARCHAR, source_sheet VARCHAR, source_row BIGINT,
        column_name VARCHAR, source_column VARCHAR, reason VARCHAR, raw_record VARCHAR, profile VARCHAR,
        load_id VARCHAR""",
    "value_issues": """entity VARCHAR, source_file VARCHAR, source_row BIGINT, column_name VARCHAR,
        source_column VARCHAR, issue VARCHAR, load_id VARCHAR""",
}


def staging_key(entity_name: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", entity_name])


def ensure_quality_tables(con) -> None:
    for name, columns in QUALITY_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS quality.{name} ({columns})")


def versions_sql(entity: Entity, keep: str, snapshot_profiles: list[str], typed: str = "typed") -> str:
    """Every readable record with its export time, its version: 'current' (the latest export of its
    key), 'superseded' (a later export has it) or 'deleted' (missing from the newest full snapshot
    of its profile), and a hash of its place and content. Records with an incomplete key are each
    their own version."""
    key = [ident(k) for k in entity.key]
    if key:
        complete = " AND ".join(f"{k} IS NOT NULL" for k in key)
        rank = (f"CASE WHEN {complete} THEN row_number() OVER (PARTITION BY {', '.join(key)} "
                f"ORDER BY exported_at DESC, source_file DESC, source_row DESC) ELSE 1 END")
    else:
        rank = "1"
    snapshots = "[" + ", ".join(literal(p) for p in snapshot_profiles) + "]::VARCHAR[]"
    # what the record says, not which load brought it: a snapshot exported again moves every
    # row's load and file hash (pipelines/record_places.py compares it across nights)
    content = ", ".join(["r.source_file", "r.source_row", "len(r.source_rows)", *(f"r.{ident(f)}" for f in entity.fields)])
    return f"""
        WITH readable AS (
            SELECT t.*, f.exported_at
            FROM {typed} t
            JOIN raw.landing_files f
              ON f.status = 'ready' AND f.file_hash = t.file_hash AND f.source_sheet IS NOT DISTINCT FROM t.source_sheet
            WHERE len(t.errors) = 0
        ),
        ranked AS (SELECT *, {rank} AS version_rank FROM readable),
        newest_snapshot AS (
            SELECT profile, arg_max(file_hash, exported_at) AS newest_file_hash FROM readable
            WHERE list_contains({snapshots}, profile) GROUP BY profile
        )
        SELECT {keep}, r.exported_at,
               CASE WHEN r.version_rank > 1 THEN 'superseded'
                    WHEN s.newest_file_hash IS NOT NULL AND s.newest_file_hash <> r.file_hash THEN 'deleted'
                    ELSE 'current' END AS version,
               hash({content}) AS row_hash
        FROM ranked r LEFT JOIN newest_snapshot s USING (profile)"""


# Typing a row depends on its bytes (the raw load), the profile, the entity schema and the typing
# code; the typed rows of a load are kept while all of them are unchanged.
TYPING_SOURCES = [Path(__file__).with_name("staging_sql.py"), Path(values.__file__), SCHEMAS_DIR / "entities.yaml"]


def typing_fingerprint(profile: Profile) -> str:
    return content_fingerprint([profile.path, *TYPING_SOURCES])


def type_new_loads(con, entity: Entity, profiles: list[Profile], rebuild: bool) -> tuple[int, int]:
    """staging.<entity>_typed holds every stored raw row typed, with its errors and issues, in the
    load that first delivered it, as the raw row is (pipelines/raw.py). Only the raw loads (file,
    sheet, load id) not typed before under the same fingerprint are typed now; rows of loads that
    left raw go, and so do the rows a load lost where an export sent again carried the rest of it:
    such an export is typed only where it changed. Returns the numbers of rows typed now and of
    rows that went."""
    table = f"staging.{entity.name}_typed"
    stored = stored_rows(entity.name)
    fingerprints = pd.DataFrame({"profile": [p.name for p in profiles],
                                 "typing_fingerprint": [typing_fingerprint(p) for p in profiles]})
    con.register("cw_fingerprints", fingerprints)
    typed_all = typed_rows_sql(entity, profiles, stored)
    expected = con.sql(typed_all).columns
    existing = column_names(con, "staging", f"{entity.name}_typed")
    replaced = 0
    if rebuild or existing != [*expected, "typing_fingerprint"]:
        replaced = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if existing else 0
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT *, NULL::VARCHAR AS typing_fingerprint "
                    f"FROM ({typed_all}) WHERE false")
    # loads compared as sets (a few rows), not row by row: a night adds or drops few loads
    load = "load_id, file_hash, source_sheet, profile"
    same_load = ("r.load_id = t.load_id AND r.file_hash = t.file_hash "
                 "AND r.source_sheet IS NOT DISTINCT FROM t.source_sheet AND r.profile = t.profile")
    same_typing = "f.profile = t.profile AND f.typing_fingerprint = t.typing_fingerprint"
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_raw_loads AS SELECT DISTINCT {load} FROM {stored}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE cw_typed_loads AS SELECT DISTINCT {load}, typing_fingerprint FROM {table}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_dropped_loads AS
        SELECT * FROM cw_typed_loads t
        WHERE NOT EXISTS (SELECT 1 FROM cw_raw_loads r WHERE {same_load})
           OR NOT EXISTS (SELECT 1 FROM cw_fingerprints f WHERE {same_typing})""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_pending_loads AS
        SELECT * FROM cw_raw_loads r
        WHERE NOT EXISTS (SELECT 1 FROM cw_typed_loads t JOIN cw_fingerprints f ON {same_typing}
                          WHERE {same_load})""")
    # a carried load (the only kind that loses rows) typed with fewer raw rows than it has now
    carried = (f"EXISTS (SELECT 1 FROM {CARRIED_LOADS} c WHERE c.load_id = t.load_id AND c.file_hash = t.file_hash "
               f"AND c.source_sheet IS NOT DISTINCT FROM t.source_sheet)")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_thinned_loads AS
        SELECT t.load_id, t.file_hash, t.source_sheet, t.profile
        FROM (SELECT {load}, sum(len(source_rows)) AS n FROM {table} t WHERE {carried} GROUP BY ALL) t
        JOIN (SELECT {load}, count(*) AS n FROM {stored} t WHERE {carried} GROUP BY ALL) r ON {same_load} AND r.n <> t.n""")
    [(dropped_loads, pending_loads, thinned_loads)] = con.execute(
        "SELECT (SELECT count(*) FROM cw_dropped_loads), (SELECT count(*) FROM cw_pending_loads), "
        "(SELECT count(*) FROM cw_thinned_loads)").fetchall()
    dropped = typed_now = 0
    if dropped_loads:
        dropped = con.execute(f"DELETE FROM {table} t WHERE EXISTS "
                              f"(SELECT 1 FROM cw_dropped_loads r WHERE {same_load})").fetchone()[0]
    if thinned_loads:
        dropped += con.execute(f"""
            DELETE FROM {table} t
            WHERE EXISTS (SELECT 1 FROM cw_thinned_loads r WHERE {same_load})
              AND NOT EXISTS (SELECT 1 FROM {stored} r WHERE {same_load} AND r.source_row = t.source_row)""").fetchone()[0]
    if pending_loads:
        pending = (f"(SELECT r.* FROM {stored} r WHERE EXISTS "
                   f"(SELECT 1 FROM cw_pending_loads t WHERE {same_load}))")
        typed_now = con.execute(
            f"INSERT INTO {table} SELECT n.*, f.typing_fingerprint "
            f"FROM ({typed_rows_sql(entity, profiles, pending)}) n JOIN cw_fingerprints f USING (profile)").fetchone()[0]
    for name in ("cw_raw_loads", "cw_typed_loads", "cw_dropped_loads", "cw_pending_loads", "cw_thinned_loads"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    con.unregister("cw_fingerprints")
    return int(typed_now), int(replaced + dropped)


def rows_carried_by(con, entity: Entity, load_id: str) -> int:
    """How many typed rows a load (a run's id) carries from earlier loads: rows of an export sent
    again, at the same place and as they were, typed before."""
    return int(con.execute(f"""
        SELECT count(*) FROM staging.{entity.name}_typed t
        SEMI JOIN {CARRIED_LOADS} c ON c.load_id = t.load_id AND c.file_hash = t.file_hash
         AND c.source_sheet IS NOT DISTINCT FROM t.source_sheet AND c.carrier_load_id = ?""", [load_id]).fetchone()[0])


def write_history(con, entity: Entity, keep: str, snapshot_profiles: list[str], typed_dropped: int) -> int | None:
    """staging.<entity>_history: every readable typed row with its version (versions_sql).

    A night that only adds records appends their versions, and every earlier version stays as it
    was (_only_adds says when). Otherwise the history is derived again from all typed rows.
    Returns the number of rows appended, or None when it was derived again."""
    history = f"staging.{entity.name}_history"
    columns = con.sql(versions_sql(entity, keep, snapshot_profiles)).columns
    if typed_dropped == 0 and column_names(con, "staging", f"{entity.name}_history") == columns:
        # the typed rows of loads the history has not seen
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE cw_new_typed AS
            SELECT * FROM typed t
            WHERE NOT EXISTS (SELECT 1 FROM (SELECT DISTINCT load_id, file_hash, source_sheet FROM {history}) h
                              WHERE h.load_id = t.load_id AND h.file_hash = t.file_hash
                                AND h.source_sheet IS NOT DISTINCT FROM t.source_sheet)""")
        try:
            if _only_adds(con, entity, history, snapshot_profiles):
                record_places.queue_appended(con, entity.name, "cw_new_typed")
                return int(con.execute(f"INSERT INTO {history} "
                                       + versions_sql(entity, keep, snapshot_profiles, "cw_new_typed")).fetchone()[0])
        finally:
            con.execute("DROP TABLE cw_new_typed")
    remembered = record_places.remember_current(con, entity.name, history)
    con.execute(f"CREATE OR REPLACE TABLE {history} AS " + versions_sql(entity, keep, snapshot_profiles))
    record_places.queue_rederived(con, entity.name, history, remembered)
    return None


def _only_adds(con, entity: Entity, history: str, snapshot_profiles: list[str]) -> bool:
    """Whether the new loads (cw_new_typed) leave every version in the history as it is: the
    export times of the loads there are unchanged, no new load is a full snapshot (it may delete
    records), and no new record repeats a key the history holds (it would supersede a version)."""
    moved = con.execute(f"""
        SELECT count(*) FROM (SELECT DISTINCT file_hash, source_sheet, exported_at FROM {history}) h
        WHERE NOT EXISTS (SELECT 1 FROM raw.landing_files f
                          WHERE f.status = 'ready' AND f.file_hash = h.file_hash
                            AND f.source_sheet IS NOT DISTINCT FROM h.source_sheet AND f.exported_at = h.exported_at)
        """).fetchone()[0]
    snapshots = con.execute("SELECT count(*) FROM cw_new_typed WHERE list_contains(?, profile)",
                            [snapshot_profiles]).fetchone()[0]
    repeated = 0
    if entity.key:
        same_key = " AND ".join(f"h.{ident(k)} = n.{ident(k)}" for k in entity.key)
        repeated = con.execute(f"SELECT count(*) FROM cw_new_typed n WHERE len(n.errors) = 0 "
                               f"AND EXISTS (SELECT 1 FROM {history} h WHERE {same_key})").fetchone()[0]
    return moved == snapshots == repeated == 0


def quarantined_record_sql(con, profiles: list[Profile]) -> tuple[str, dict]:
    """raw_record of a row r of raw.<entity>: the row as delivered, rebuilt with its load's header
    layout (pipelines/raw.py raw_record_sql). Only loads with a rejected typed row are listed."""
    by_name = {p.name: p for p in profiles}
    loads = con.execute("""
        SELECT DISTINCT t.file_hash, t.source_sheet, t.profile, f.headers
        FROM typed t
        JOIN raw.landing_files f
          ON f.status = 'ready' AND f.file_hash = t.file_hash AND f.source_sheet IS NOT DISTINCT FROM t.source_sheet
        WHERE len(t.errors) > 0
        ORDER BY ALL""").fetchall()
    whens, params = [], {}
    for n, (file_hash, sheet, profile, headers) in enumerate(loads):
        if profile not in by_name:
            continue
        record, record_params = raw_record_sql(record_layout(json.loads(headers), by_name[profile]), "r", f"q{n}")
        params |= record_params | {f"q{n}h": file_hash, f"q{n}s": sheet, f"q{n}p": profile}
        whens.append(f"WHEN r.file_hash = $q{n}h AND r.source_sheet IS NOT DISTINCT FROM $q{n}s "
                     f"AND r.profile = $q{n}p THEN {record}")
    return (f"CASE {' '.join(whens)} END" if whens else "NULL::VARCHAR"), params


def build_staging_asset(entity: Entity) -> dg.AssetsDefinition:
    @dg.asset(
        key=staging_key(entity.name),
        deps=[raw_key(entity.name)],
        group_name="staging",
        kinds={"duckdb"},
        owners=[FAMILY_OWNERS.get(entity.family, "team:data")],
        tags={"family": entity.family},
        description=f"{entity.description} Typed and normalised (timestamps in UTC, emails lower-case, phones "
        "in E.164, money as decimals, tool status words mapped to canonical values). Rows that cannot be "
        "read go to quality.rejected_rows with the file, row, column and reason.",
    )
    def _staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        profiles = [p for p in load_profiles() if p.entity.name == entity.name]
        # source_rows: how many landed rows the record stands for (several where a profile
        # collapses line rows into one record, see record_key in the profile)
        keep = ", ".join([*(ident(c) for c in LINEAGE_COLUMNS), "len(source_rows) AS source_rows",
                          *(ident(c) for c in entity.fields)])
        with warehouse.connect() as con:
            ensure_quality_tables(con)
            con.execute("BEGIN")
            typed_now, typed_dropped = type_new_loads(con, entity, profiles, warehouse.full_rebuild)
            typed_kept = rows_carried_by(con, entity, context.run.run_id)
            # the typed rows in the loads that carry them now
            con.execute(f"CREATE OR REPLACE TEMP VIEW typed AS SELECT * EXCLUDE (typing_fingerprint) "
                        f"FROM ({carried_sql(f'staging.{entity.name}_typed')})")
            appended = write_history(con, entity, keep, [p.name for p in profiles if p.export == "snapshot"],
                                     typed_dropped)
            # the current records are a view of the history: written once, not twice
            current = ", ".join(ident(c) for c in (*LINEAGE_COLUMNS, "source_rows", *entity.fields))
            if con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'staging' AND table_name = ?",
                           [entity.name]).fetchone()[0]:
                con.execute(f"DROP TABLE staging.{entity.name}")  # a build made before the view
            con.execute(f"CREATE OR REPLACE VIEW staging.{entity.name} AS SELECT {current} "
                        f"FROM staging.{entity.name}_history WHERE version = 'current'")
            con.execute("DELETE FROM quality.rejected_rows WHERE entity = ?", [entity.name])
            raw_record, record_params = quarantined_record_sql(con, profiles)
            con.execute(
                f"""INSERT INTO quality.rejected_rows
                   -- a record made of several line rows is quarantined line by line, each with its row as delivered
                   SELECT $entity, q.source_file, q.source_sheet, q.source_row, q.e.column_name, q.e.source_column,
                          q.e.reason, {raw_record}, q.profile, q.load_id
                   FROM (SELECT *, unnest(source_rows) AS source_row
                         FROM (SELECT * EXCLUDE (source_row), unnest(errors) AS e FROM typed WHERE len(errors) > 0)) q
                   LEFT JOIN raw.{entity.name} r
                     ON r.file_hash = q.file_hash AND r.source_sheet IS NOT DISTINCT FROM q.source_sheet
                    AND r.source_row = q.source_row
                   ORDER BY q.source_file, q.source_row""",
                {"entity": entity.name, **record_params},
            )
            con.execute("DELETE FROM quality.value_issues WHERE entity = ?", [entity.name])
            con.execute(
                f"""INSERT INTO quality.value_issues
                   SELECT ?, source_file, source_row, i.column_name, i.source_column, i.reason, load_id
                   FROM (SELECT *, unnest(issues) AS i FROM typed WHERE len(issues) > 0 AND len(errors) = 0)
                   WHERE {issue_still_holds_sql(entity)}""",
                [entity.name],
            )
            con.execute("DROP VIEW typed")
            con.execute("COMMIT")
            rejected = con.execute(
                "SELECT source_file, source_row, column_name, source_column, reason FROM quality.rejected_rows "
                "WHERE entity = ? ORDER BY source_file, source_row", [entity.name]
            ).df()
            issues = con.execute("SELECT count(*) FROM quality.value_issues WHERE entity = ?", [entity.name]).fetchone()[0]
            metadata = table_metadata(con, "staging", entity.name)
        for row in rejected.head(20).itertuples():
            context.log.warning(f"{row.source_file} row {row.source_row} column {row.source_column or row.column_name}: "
                                f"{row.reason}; the row is quarantined in quality.rejected_rows")
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "rejected_rows": dg.MetadataValue.int(int(rejected[["source_file", "source_row"]].drop_duplicates().shape[0])),
                "value_issues": dg.MetadataValue.int(int(issues)),
                "rows_typed_this_run": dg.MetadataValue.int(typed_now),
                # rows of an export sent again, at the same place and as they were: typed before
                "rows_kept_typed": dg.MetadataValue.int(typed_kept),
                # appended: the night only added records; derived again: all versions recomputed
                "history": "derived again" if appended is None else f"{appended} versions appended",
                "rejections": markdown_table(rejected),
            }
        )

    return _staging


staging_assets = [build_staging_asset(entity) for entity in load_entities().values()]
