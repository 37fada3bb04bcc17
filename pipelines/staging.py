"""Staging layer: one typed, normalised table per canonical entity; bad rows to quarantine."""


import json
from pathlib import Path

import dagster as dg
import pandas as pd

from connectors import values
from connectors.files import content_fingerprint
from connectors.profiles import SCHEMAS_DIR, Entity, Profile, load_entities, load_profiles
from pipelines import record_places
from pipelines.metadata import column_names, markdown_table, replace_with_view, table_metadata
from pipelines.raw import FAMILY_OWNERS, raw_key, raw_record_sql, record_layout
from pipelines.resources import WarehouseResource
from pipelines.staging_sql import (
    CARRIED_LOADS, LINEAGE_COLUMNS, carried_sql, ident, issue_still_holds_sql, literal, same_load_sql, stored_rows,
    typed_rows_sql,
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


def versions_sql(entity: Entity, keep: str, snapshot_profiles: list[str], typed: str) -> str:
    """Every readable typed record of `typed` (stored in the load that first delivered it) with its
    version: 'current' (the latest export of its key), 'superseded' (a later export has it) or
    'deleted' (missing from the newest full snapshot of its profile), and a hash of its place and
    content. Exports are those of the files carrying the rows now (raw.carried_loads). Records with
    an incomplete key are each their own version."""
    key = ", ".join(ident(k) for k in entity.key)
    if key:
        # only the keys delivered more than once are ranked: ranking every record by its key
        # (a string) was most of the statement, and few keys repeat
        complete = " AND ".join(f"{ident(k)} IS NOT NULL" for k in entity.key)
        ranked = f"""
        repeated AS (SELECT {key} FROM readable WHERE {complete} GROUP BY {key} HAVING count(*) > 1),
        ranked AS (
            SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY exported_at DESC, source_file DESC,
                                         source_row DESC) AS version_rank
            FROM readable SEMI JOIN repeated USING ({key})
            UNION ALL
            SELECT *, 1 AS version_rank FROM readable ANTI JOIN repeated USING ({key})
        ),"""
    else:
        ranked = "ranked AS (SELECT *, 1 AS version_rank FROM readable),"
    snapshots = "[" + ", ".join(literal(p) for p in snapshot_profiles) + "]::VARCHAR[]"
    return f"""
        WITH readable AS (
            SELECT t.*, f.file_hash AS carrier_file_hash, f.exported_at
            FROM {typed} t
            {carrying_file_sql("t", "JOIN")}
            WHERE len(t.errors) = 0
        ),{ranked}
        newest_snapshot AS (
            SELECT profile, arg_max(carrier_file_hash, exported_at) AS newest_file_hash FROM readable
            WHERE list_contains({snapshots}, profile) GROUP BY profile
        )
        SELECT {keep},
               CASE WHEN r.version_rank > 1 THEN 'superseded'
                    WHEN s.newest_file_hash IS NOT NULL AND s.newest_file_hash <> r.carrier_file_hash THEN 'deleted'
                    ELSE 'current' END AS version,
               {row_hash_sql(entity, "r")} AS row_hash
        FROM ranked r LEFT JOIN newest_snapshot s USING (profile)"""


def carrying_file_sql(alias: str, join: str) -> str:
    """Joins giving the rows of `alias` (in the load that first delivered them) the landing file
    carrying them now, as `f` (its export time, its hash): `join` is JOIN or LEFT JOIN."""
    return (f"LEFT JOIN {CARRIED_LOADS} c ON {same_load_sql('c', alias)}\n"
            f"{join} raw.landing_files f ON f.status = 'ready' "
            f"AND f.file_hash = coalesce(c.carrier_file_hash, {alias}.file_hash) "
            f"AND f.source_sheet IS NOT DISTINCT FROM {alias}.source_sheet")


def row_hash_sql(entity: Entity, alias: str) -> str:
    """What the record says, not which load brought it: a snapshot exported again leaves it as it
    was (pipelines/record_places.py compares it across nights)."""
    return "hash(" + ", ".join([f"{alias}.source_file", f"{alias}.source_row", f"len({alias}.source_rows)",
                                *(f"{alias}.{ident(f)}" for f in entity.fields)]) + ")"


def history_view_sql(entity: Entity, versions: str) -> str:
    """Every version with the load and file carrying it now, and that file's export time."""
    carried = {"load_id": "coalesce(c.carrier_load_id, v.load_id)", "file_hash": "coalesce(c.carrier_file_hash, v.file_hash)"}
    columns = ", ".join(f"{carried.get(c, 'v.' + ident(c))} AS {ident(c)}"
                        for c in (*LINEAGE_COLUMNS, "source_rows", *entity.fields))
    return f"""
        SELECT {columns}, f.exported_at, v.version, v.row_hash
        FROM {versions} v
        {carrying_file_sql("v", "LEFT JOIN")}"""


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
    same_load = same_load_sql("r", "t") + " AND r.profile = t.profile"
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
    carried = f"EXISTS (SELECT 1 FROM {CARRIED_LOADS} c WHERE {same_load_sql('c', 't')})"
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
        SEMI JOIN {CARRIED_LOADS} c ON {same_load_sql("c", "t")} AND c.carrier_load_id = ?""", [load_id]).fetchone()[0])


def write_history(con, entity: Entity, keep: str, snapshot_profiles: list[str], typed_dropped: int,
                  rebuild: bool) -> str:
    """staging.<entity>_versions: every readable typed row (in the load that first delivered it)
    with its version (versions_sql); staging.<entity>_history is the view of it in the loads
    carrying the rows now.

    A night that only adds records appends their versions, and every earlier version stays as it
    was (_only_adds says when). Otherwise every version is found again from all typed rows, and
    only the rows whose version changed, went or came are written. Returns what was done."""
    versions = f"staging.{entity.name}_versions"
    typed = f"staging.{entity.name}_typed"
    columns = con.sql(versions_sql(entity, keep, snapshot_profiles, typed)).columns
    if rebuild or column_names(con, "staging", f"{entity.name}_versions") != columns:
        remembered = record_places.remember_current(con, entity.name, versions)
        con.execute(f"CREATE OR REPLACE TABLE {versions} AS " + versions_sql(entity, keep, snapshot_profiles, typed))
        replace_with_view(con, "staging", f"{entity.name}_history", history_view_sql(entity, versions))
        _keep_ranked_exports(con, entity)
        record_places.queue_rederived(con, entity.name, versions, remembered)
        return "derived again"
    same_load = same_load_sql("h", "t")
    if typed_dropped == 0:
        # the typed rows of loads the versions do not hold: the loads first, whose rows (stored
        # together) the scan then finds without reading the others
        loads = "load_id, file_hash, source_sheet"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE cw_new_typed AS
            SELECT * FROM {typed} t
            WHERE EXISTS (SELECT 1 FROM (SELECT DISTINCT {loads} FROM {typed}
                                         EXCEPT SELECT DISTINCT {loads} FROM {versions}) h
                          WHERE {same_load})""")
        try:
            if _only_adds(con, entity, versions, snapshot_profiles):
                record_places.queue_appended(con, entity.name, "cw_new_typed")
                appended = con.execute(f"INSERT INTO {versions} "
                                       + versions_sql(entity, keep, snapshot_profiles, "cw_new_typed")).fetchone()[0]
                _keep_ranked_exports(con, entity)
                return f"{appended} versions appended"
        finally:
            con.execute("DROP TABLE cw_new_typed")
    remembered = record_places.remember_current(con, entity.name, versions)
    # every version found again (without reading the records' content), compared with those kept
    identity = "load_id, file_hash, source_sheet, source_row"
    same_row = same_load_sql("h", "n") + " AND h.source_row = n.source_row"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_versions_changed AS
        SELECT h.stored_row, n.load_id, n.file_hash, n.source_sheet, n.source_row, n.version
        FROM (SELECT rowid AS stored_row, {identity}, version FROM {versions}) h
        FULL JOIN (SELECT {identity}, version FROM ({versions_sql(entity, keep, snapshot_profiles, typed)})) n
          ON {same_row}
        WHERE h.version IS DISTINCT FROM n.version""")
    gone = con.execute(f"DELETE FROM {versions} WHERE rowid IN (SELECT stored_row FROM cw_versions_changed)").fetchone()[0]
    written = con.execute(f"""
        INSERT INTO {versions}
        SELECT {keep}, version, {row_hash_sql(entity, "t")}
        FROM (SELECT t.*, n.version FROM {typed} t
              JOIN cw_versions_changed n ON {same_load_sql("t", "n")} AND t.source_row = n.source_row
               AND n.version IS NOT NULL) t""").fetchone()[0]
    con.execute("DROP TABLE cw_versions_changed")
    _keep_ranked_exports(con, entity)
    record_places.queue_rederived(con, entity.name, versions, remembered)
    return f"versions found again: {written} written, {gone} replaced or gone"


def _ranked_exports_sql(entity: Entity) -> str:
    """Per load the versions hold: the file carrying it now and that file's export time, which
    ranked its versions."""
    return f"""
        SELECT v.load_id, v.file_hash, v.source_sheet, f.file_hash AS carrier_file_hash, f.exported_at
        FROM (SELECT DISTINCT load_id, file_hash, source_sheet FROM staging.{entity.name}_versions) v
        {carrying_file_sql("v", "LEFT JOIN")}"""


def _keep_ranked_exports(con, entity: Entity) -> None:
    con.execute(f"CREATE OR REPLACE TABLE staging.{entity.name}_ranked_exports AS {_ranked_exports_sql(entity)}")


def _only_adds(con, entity: Entity, versions: str, snapshot_profiles: list[str]) -> bool:
    """Whether the new loads (cw_new_typed) leave every version as it is: the loads the versions
    hold are carried by the same files exported at the same times as when they were ranked, no
    new load is a full snapshot (it may delete records), and no new record repeats a key the
    versions hold (it would supersede a version)."""
    ranked = f"staging.{entity.name}_ranked_exports"
    moved = 1
    if column_names(con, *ranked.split(".")):
        moved = con.execute(f"SELECT count(*) FROM (({_ranked_exports_sql(entity)}) EXCEPT SELECT * FROM {ranked})"
                            ).fetchone()[0]
    snapshots = con.execute("SELECT count(*) FROM cw_new_typed WHERE list_contains(?, profile)",
                            [snapshot_profiles]).fetchone()[0]
    repeated = 0
    if entity.key:
        same_key = " AND ".join(f"h.{ident(k)} = n.{ident(k)}" for k in entity.key)
        repeated = con.execute(f"SELECT count(*) FROM cw_new_typed n WHERE len(n.errors) = 0 "
                               f"AND EXISTS (SELECT 1 FROM {versions} h WHERE {same_key})").fetchone()[0]
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
            history = write_history(con, entity, keep, [p.name for p in profiles if p.export == "snapshot"],
                                    typed_dropped, warehouse.full_rebuild)
            # the current records are a view of the history: written once, not twice
            current = ", ".join(ident(c) for c in (*LINEAGE_COLUMNS, "source_rows", *entity.fields))
            replace_with_view(con, "staging", entity.name, f"SELECT {current} FROM "
                              f"({carried_sql(f'staging.{entity.name}_versions')}) WHERE version = 'current'")
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
                # appended: the night only added records; found again: every version ranked again and
                # the changed ones written; derived again: every version written
                "history": history,
                "rejections": markdown_table(rejected),
            }
        )

    return _staging


staging_assets = [build_staging_asset(entity) for entity in load_entities().values()]
