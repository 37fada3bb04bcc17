"""Raw layer: every landing file found and recognised, every row as delivered, with lineage."""


import datetime as dt
import importlib
import json
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pandas as pd

from connectors.files import (
    FileRefused, LandingTable, TextFormat, content_fingerprint, discover_tables, file_sha256, forget_held,
    hold_for_load, list_landing_files, take_held, version_stamp,
)
from connectors.lines import compare_lines, file_lines
from connectors.records import (
    ROW_PROBLEM, SOURCE_ROW, changed_records, column_name, lines_what, prefetch_columns, read_columns,
)
from connectors.profiles import (
    SCHEMAS_DIR, Entity, Override, Profile, load_entities, load_overrides, load_profiles, normalise_header,
)
from pipelines.gx_import import import_great_expectations
from pipelines.metadata import column_names, markdown_table, replace_with_view, table_metadata
from pipelines.resources import WarehouseResource
from pipelines.staging_sql import (
    CARRIED_LOADS, CARRIED_LOADS_COLUMNS, LINEAGE_COLUMNS, carried_sql, ident, same_load_sql, stored_rows,
)

LANDING_FILES = dg.AssetKey(["raw", "landing_files"])
FAMILY_OWNERS = {
    "crm": "team:sales",
    "marketing": "team:marketing",
    "support": "team:support",
    "inventory": "team:operations",
}
LANDING_COLUMNS = {
    "load_id": "VARCHAR", "source_file": "VARCHAR", "relative_path": "VARCHAR", "source_sheet": "VARCHAR",
    "file_hash": "VARCHAR", "size_bytes": "BIGINT", "profile": "VARCHAR", "entity": "VARCHAR",
    "family": "VARCHAR", "status": "VARCHAR", "message": "VARCHAR", "header_index": "BIGINT",
    "headers": "VARCHAR", "unmapped_headers": "VARCHAR", "missing_headers": "VARCHAR",
    "encoding": "VARCHAR", "delimiter": "VARCHAR", "exported_at": "TIMESTAMPTZ", "discovery_fingerprint": "VARCHAR",
}
# What a file's manifest rows say, given its bytes and the mapping files: reused while both are unchanged.
DISCOVERED_FIELDS = ["source_sheet", "profile", "entity", "family", "status", "message", "header_index", "headers",
                     "unmapped_headers", "missing_headers", "encoding", "delimiter"]


# the column of a stored raw row holding a hash of its cells
CELLS_HASH = "cells_hash"
# each line's hash of the snapshot exports loaded last whose lines are their records, by their
# place in the landing folder, so that the next version is compared line by line
# (connectors/lines.py); and which version of the file each place's lines are. A night rewrites
# only the lines that changed.
SNAPSHOT_LINES = "raw.snapshot_lines"
LINES_VERSIONS = "raw.snapshot_line_versions"
SNAPSHOT_TABLES = {SNAPSHOT_LINES: "relative_path VARCHAR, line BIGINT, line_hash UBIGINT",
                   LINES_VERSIONS: "relative_path VARCHAR, file_hash VARCHAR"}

# Which file (or sheet) each raw table holds rows of, and the mapping it was read with: a file
# whose bytes and mapping are unchanged is not read again the next night.
LEDGER_FIELDS = ["entity", "file_hash", "source_sheet", "profile", "load_fingerprint", "load_id", "rows", "loaded_at"]
LEDGER_COLUMNS = """entity VARCHAR, file_hash VARCHAR, source_sheet VARCHAR, profile VARCHAR,
    load_fingerprint VARCHAR, load_id VARCHAR, rows BIGINT, loaded_at TIMESTAMPTZ"""


def load_fingerprint(profile: Profile, header_index, headers: str, encoding, delimiter) -> str:
    """What reading a table depends on besides its bytes: the profile file and how the file was parsed."""
    return content_fingerprint([profile.path], header_index, headers, encoding, delimiter)


def discovery_fingerprint(profiles: tuple[Profile, ...], schemas_dir: Path = SCHEMAS_DIR) -> str:
    """What recognising a file depends on besides its bytes: every profile, the entities and the overrides."""
    return content_fingerprint(sorted({p.path for p in profiles} | {schemas_dir / "entities.yaml",
                                                                    schemas_dir / "profile_overrides.yaml"}))


def previous_discoveries(con, fingerprint: str) -> dict[tuple[str, str], list[dict]]:
    """The last manifest's rows per (relative path, file hash), where the mapping files were the same."""
    has_column = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = 'landing_files' "
        "AND column_name = 'discovery_fingerprint'").fetchone()[0]
    if not has_column:
        return {}
    found: dict[tuple[str, str], list[dict]] = {}
    rows = con.execute(
        f"SELECT relative_path, file_hash, {', '.join(DISCOVERED_FIELDS)} FROM raw.landing_files "
        "WHERE discovery_fingerprint = ? AND status <> 'duplicate' ORDER BY relative_path, source_sheet",
        [fingerprint]).fetchall()
    for relative_path, file_hash, *values in rows:
        found.setdefault((relative_path, file_hash), []).append(dict(zip(DISCOVERED_FIELDS, values)))
    return found


# Each landing file's content hash with the version stamp it was hashed at (connectors/files.py
# version_stamp: size, modification and change times): a file whose stamp is unchanged is not read
# again to be hashed (0.3-0.4 s a night for 1M orders' files, read whole). A full rebuild hashes
# every file.
FILE_HASHES = "raw.landing_file_hashes"


def known_hashes(con) -> dict[tuple[str, int, int, int], str]:
    """The hashes kept by (relative path, size, modification time in ns, change time in ns); none
    from a build that kept no change times."""
    if "ctime_ns" not in column_names(con, *FILE_HASHES.split(".")):
        return {}
    return {(path, size, mtime_ns, ctime_ns): file_hash for path, size, mtime_ns, ctime_ns, file_hash in con.execute(
        f"SELECT relative_path, size_bytes, mtime_ns, ctime_ns, file_hash FROM {FILE_HASHES}").fetchall()}


def _stamped(landing_dir: Path, path: Path, stat: os.stat_result) -> tuple[str, int, int, int]:
    """A landing file's key in known_hashes: its relative path and version stamp."""
    return path.relative_to(landing_dir).as_posix(), *version_stamp(stat)


def _hash_unless_known(landing_dir: Path, known: dict[tuple[str, int, int, int], str]):
    """(hash, stat) of a file: its stat taken before its bytes are read, so that a file written
    while it is hashed is hashed again the next night."""
    def file_hash(path: Path) -> tuple[str, os.stat_result]:
        stat = path.stat()
        return known.get(_stamped(landing_dir, path, stat)) or file_sha256(path), stat
    return file_hash


def files_moved(landing_dir: Path, paths: list[Path], known: dict[tuple[str, int, int, int], str]) -> bool:
    """Whether a landing file (`paths`, list_landing_files) is new, or its size, modification or
    change time moved since it was hashed (`known`, known_hashes), or one hashed before is gone."""
    return {_stamped(landing_dir, path, path.stat()) for path in paths} != set(known)


def raw_key(entity_name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity_name])


def _keeps_lines(con) -> bool:
    return all(column_names(con, *table.split(".")) for table in SNAPSHOT_TABLES)


def earlier_lines(con) -> dict[str, str]:
    """The places whose lines the build keeps: relative path to the file hash of their version."""
    if not _keeps_lines(con):
        return {}
    return dict(con.execute(f"SELECT relative_path, file_hash FROM {LINES_VERSIONS}").fetchall())


def _compared_tables(path: Path, profiles: tuple[Profile, ...], overrides: tuple[Override, ...],
                     earlier) -> list[LandingTable] | None:
    """A CSV export sent again under its name, compared line by line with the version loaded
    before (`earlier`: its file hash and lines, or None): only its changed records are parsed,
    and held for the raw load with the comparison. None where the file must be read whole."""
    if earlier is None:
        return None
    [table] = discover_tables(path, profiles, overrides, whole=False)
    if table.profile is None or table.profile.record_key:
        return None
    changes = compare_lines(path, TextFormat(table.encoding, table.delimiter), table.header_index, *earlier)
    records = changed_records(table, changes) if changes is not None else None
    if records is None:
        return None
    hold_for_load(path, lines_what(table), (changes, records))
    if changes.line_count <= table.header_index + 1:
        table.notes.append("header only: no data rows")
    return [table]


def _discovered_rows(path: Path, profiles: tuple[Profile, ...], overrides: tuple[Override, ...],
                     earlier=None) -> list[dict]:
    """The manifest rows of a file opened for the first time (without the file's own columns).
    A ready workbook sheet starts reading for its raw load at once (prefetch_columns). A CSV
    export whose earlier version's lines are kept (`earlier`, a function giving them) is compared
    with it line by line."""
    try:
        tables = (_compared_tables(path, profiles, overrides, earlier() if earlier else None)
                  or discover_tables(path, profiles, overrides, keep_for_load=True))
    except FileRefused as exc:
        return [{"status": "refused", "message": str(exc)}]
    rows = [_table_row(table) for table in tables]
    for table, row in zip(tables, rows):
        if table.sheet is not None and row["status"] == "ready":
            prefetch_columns(table)  # taken by the raw load: reads while other files load
    return rows


def _manifest_rows(landing_dir: Path, paths: list[Path], profiles: tuple[Profile, ...], load_id: str,
                   overrides: tuple[Override, ...] = (), fingerprint: str | None = None,
                   previous: dict[tuple[str, str], list[dict]] | None = None,
                   hashes: dict[tuple[str, int, int, int], str] | None = None,
                   lines_kept: dict[str, str] | None = None, read_lines=None) -> list[dict]:
    """One row per CSV file or sheet: what it is, and whether it will be loaded. A file whose bytes
    and mapping files are as in `previous` is not opened again (a workbook sheet takes seconds),
    and one whose size, modification and change times are in `hashes` is not read to be hashed.
    A file at a path whose earlier version's lines are kept (`lines_kept`, earlier_lines) is
    compared with them (`read_lines`, the lines kept at a relative path)."""
    forget_held()  # left by an earlier run in this process that stopped before loading
    found, first_seen = [], {}
    # hashing and parsing spend most of their time outside the interpreter: two files at a time
    with ThreadPoolExecutor(2) as pool:
        for path, (file_hash, stat) in zip(paths, pool.map(_hash_unless_known(landing_dir, hashes or {}), paths)):
            base = {
                "load_id": load_id, "source_file": path.name, "relative_path": path.relative_to(landing_dir).as_posix(),
                "source_sheet": None, "file_hash": file_hash, "size_bytes": stat.st_size,
                "profile": None, "entity": None, "family": None, "header_index": None, "headers": None,
                "unmapped_headers": None, "missing_headers": None, "encoding": None, "delimiter": None,
                # when the tool exported it, as far as the file tells: its modification time
                "exported_at": dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc),
                # with size_bytes, the version stamp the hash is kept under
                "discovery_fingerprint": fingerprint, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns,
            }
            if file_hash in first_seen:
                rows = [{"status": "duplicate", "message": f"same content as {first_seen[file_hash]}; not loaded again"}]
            else:
                first_seen[file_hash] = base["relative_path"]
                earlier = (lines_kept or {}).get(base["relative_path"])
                loader = ((lambda h=earlier, p=base["relative_path"]: (h, read_lines(p)))
                          if earlier and earlier != file_hash else None)
                rows = ((previous or {}).get((base["relative_path"], file_hash))
                        or pool.submit(_discovered_rows, path, profiles, overrides, loader))
            found.append((base, rows))
        return [base | row for base, rows in found
                for row in (rows.result() if isinstance(rows, Future) else rows)]


def _relative(path: Path) -> str:
    """A profile file as the user would find it (schemas/profiles/...)."""
    parts = path.parts
    return "/".join(parts[parts.index("schemas"):]) if "schemas" in parts else str(path)


def _table_row(table: LandingTable) -> dict:
    row = {
        "source_file": table.source_file, "source_sheet": table.sheet, "header_index": table.header_index,
        "headers": json.dumps(table.headers, ensure_ascii=False), "encoding": table.encoding,
        "delimiter": table.delimiter,
    }
    if table.skipped:
        return row | {"status": "skipped", "message": f"{table.source_file}: {table.skipped}"}
    if table.profile is None:
        return row | {
            "status": "unrecognised",
            "message": f"{table.source_file}: no mapping profile matches the headers {table.headers[:12]}; "
            "add a profile under schemas/profiles/ (crosswalk profile suggest FILE drafts one)",
        }
    profile = table.profile
    where = _relative(profile.path)
    missing = profile.missing_columns(table.headers)
    unmapped = profile.unmapped_headers(table.headers)
    row |= {"profile": profile.name, "entity": profile.entity.name, "family": profile.family,
            "unmapped_headers": json.dumps(unmapped, ensure_ascii=False),
            "missing_headers": json.dumps([c.header for c in missing], ensure_ascii=False)}
    required = profile.missing_required(table.headers)
    if required:
        names = ", ".join(f"'{c.header}' (field {c.field})" for c in required)
        return row | {
            "status": "refused",
            "message": f"{table.source_file}: the required column {names} of profile {profile.name} is missing; "
            f"if it was renamed, add the new name to `header:` of {required[0].field} in {where} "
            f"(e.g. header: [{required[0].header}, New Name])",
        }
    duplicated = _duplicated_mapped(table.headers, profile)
    if duplicated:
        return row | {"status": "refused", "message": f"{table.source_file}: {duplicated}"}
    notes = [f"profile {profile.name} ({profile.tool})", *table.notes]
    if unmapped:
        notes.append(f"new columns kept in unmapped_cells, not mapped: {unmapped}")
    if missing:
        notes.append(f"columns missing (values left empty): {[c.header for c in missing]}; edit {where} "
                     "if they were renamed")
    return row | {"status": "ready", "message": f"{table.source_file}: " + "; ".join(notes)}


def _duplicated_mapped(headers: list[str], profile: Profile) -> str | None:
    """A mapped column whose header appears twice: which one holds the value cannot be known."""
    keys = [normalise_header(h) for h in headers]
    for column in profile.columns.values():
        for name in column.headers:
            positions = [i + 1 for i, k in enumerate(keys) if k == normalise_header(name)]
            if len(positions) > 1:
                return (f"the header '{name}' (field {column.field}) appears {len(positions)} times, in columns "
                        f"{', '.join(map(str, positions))}; rename or remove the extra one")
    return None


IMPORT_SWITCH_INTERVAL = 0.0005  # seconds


def _import_for_later_steps(landing_moved: bool) -> None:
    """The report's charts need pygal; when landing files moved, the checks need Great Expectations
    and customer identity Splink (with its SQL dialect, loaded when a model is first read) and
    scipy's sparse graphs (0.11 s of imports that no longer hold up the run's start). Their imports
    take seconds of Python: begun with the first step, beside file reads that spend their time
    outside the interpreter. On a night whose files are as they were, the checks report their last
    results and nothing is linked, so those are left to whichever step first needs them
    (1.5 s of CPU that a night with nothing new no longer spends).

    While they import, the interpreter hands its lock between threads every IMPORT_SWITCH_INTERVAL
    instead of every 5 ms: each short statement of the steps waited for the importing thread's
    slice before it could go on (statements of under 1 ms took 8-20 ms). 0.16 s off a 1M-order
    night (eight alternated pairs), the raw steps 0.1 s quicker."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(IMPORT_SWITCH_INTERVAL)
    try:
        if landing_moved:
            for module in ("sqlglot.dialects.duckdb", "splink", "scipy.sparse.csgraph"):
                importlib.import_module(module)
            import_great_expectations()
        importlib.import_module("pipelines.report_charts")
    finally:
        sys.setswitchinterval(before)


def start_imports_for_later_steps(landing_moved: bool) -> None:
    """_import_for_later_steps on a thread of its own. SQLAlchemy's ORM, which Great Expectations
    imports, hooks itself into SQLAlchemy's core while it imports; Dagster's storage uses that core
    between the steps, and a step of `crosswalk run` failed on the ORM half imported ("partially
    initialized module 'sqlalchemy.orm.exc'"). So the ORM is imported here first (0.03 s)."""
    if landing_moved:
        importlib.import_module("sqlalchemy.orm")
    threading.Thread(target=_import_for_later_steps, args=(landing_moved,), daemon=True).start()


@dg.asset(
    key=LANDING_FILES,
    group_name="raw",
    kinds={"csv", "excel", "duckdb"},
    owners=["team:data"],
    description="Every file in the landing folder (each workbook sheet apart): its content hash, the mapping "
    "profile detected from its headers, and whether it is loaded, a duplicate, unrecognised or refused.",
)
def landing_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    if not settings.landing_dir.is_dir():
        raise dg.Failure(f"The landing folder {settings.landing_dir} does not exist; set landing_dir in "
                         f"{settings.config_path} or pass --landing.")
    profiles = load_profiles()
    fingerprint = discovery_fingerprint(profiles)
    with warehouse.connect() as con:
        previous = {} if warehouse.full_rebuild else previous_discoveries(con, fingerprint)
        hashes = {} if warehouse.full_rebuild else known_hashes(con)
        lines_kept = {} if warehouse.full_rebuild else earlier_lines(con)
    paths = list_landing_files(settings.landing_dir)

    def read_lines(relative_path: str):
        with warehouse.connect() as con:
            return con.sql(f"SELECT line, line_hash FROM {SNAPSHOT_LINES} WHERE relative_path = ? ORDER BY line",
                           params=[relative_path]).to_arrow_table()

    start_imports_for_later_steps(files_moved(settings.landing_dir, paths, hashes))
    rows = _manifest_rows(settings.landing_dir, paths, profiles, context.run.run_id, load_overrides(), fingerprint,
                          previous, hashes, lines_kept, read_lines)
    frame = pd.DataFrame(rows, columns=list(LANDING_COLUMNS))
    hashed = pd.DataFrame(rows, columns=["relative_path", "size_bytes", "mtime_ns", "ctime_ns", "file_hash"]
                          ).drop_duplicates()
    for row in rows:
        drift = row["status"] == "ready" and (json.loads(row["unmapped_headers"] or "[]")
                                               or json.loads(row["missing_headers"] or "[]"))
        if row["status"] != "ready" or drift:
            context.log.warning(f"{row['relative_path']}: {row['status']}: {row['message']}")
    with warehouse.connect() as con:
        columns = ", ".join(f"{ident(c)} {t}" for c, t in LANDING_COLUMNS.items())
        con.execute("BEGIN")
        con.execute(f"CREATE OR REPLACE TABLE raw.landing_files ({columns})")
        con.execute("INSERT INTO raw.landing_files SELECT * FROM frame")
        con.execute(f"CREATE OR REPLACE TABLE {FILE_HASHES} AS SELECT relative_path, size_bytes::BIGINT AS size_bytes, "
                    "mtime_ns::BIGINT AS mtime_ns, ctime_ns::BIGINT AS ctime_ns, file_hash FROM hashed")
        con.execute("COMMIT")
    counts = frame["status"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={
            "landing_dir": str(settings.landing_dir),
            "files": dg.MetadataValue.int(int(frame["relative_path"].nunique())),
            **{f"tables_{status}": dg.MetadataValue.int(int(n)) for status, n in counts.items()},
            "manifest": markdown_table(frame[["relative_path", "source_sheet", "profile", "status"]]),
        }
    )


def _unique_headers(headers: list[str]) -> list[str]:
    """Header names made unique for raw_record keys (a repeated header gets ' (2)')."""
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    return out


def field_positions(headers: list[str], profile: Profile) -> dict[str, int]:
    """The header cell each mapped entity field is read from."""
    return {name: index for name, column in profile.columns.items()
            if name in profile.entity.fields and (index := column.position(headers)) is not None}


def record_layout(headers: list[str], profile: Profile) -> list[tuple[str, str | None]]:
    """Per header cell: its raw_record key and the raw column holding its text, an entity field
    read from it or None (then the cell is kept in unmapped_cells under that key)."""
    fields: dict[int, str] = {}
    for name, index in field_positions(headers, profile).items():
        fields.setdefault(index, name)
    return [(key, fields.get(i)) for i, key in enumerate(_unique_headers(headers))]


def raw_record_sql(layout: list[tuple[str, str | None]], alias: str, prefix: str) -> tuple[str, dict]:
    """The row as delivered, as JSON text in header order, from a raw table row `alias` loaded with
    this layout; header names are parameters ${prefix}k<i>, never SQL text."""
    params, pairs = {}, []
    for i, (key, field) in enumerate(layout):
        params[f"{prefix}k{i}"] = key
        value = f"{alias}.{ident(field)}" if field else f"{alias}.unmapped_cells[${prefix}k{i}]"
        pairs.append(f"${prefix}k{i}, {value}")
    return f"json_object({', '.join(pairs)})::VARCHAR", params


def _insert_records(con, entity: Entity, table: LandingTable, lineage: dict, leaving: list[str],
                    loaded: dict | None = None, fingerprint: str | None = None,
                    relative_path: str | None = None) -> tuple[int, int, bool]:
    """Append the table's records to the entity's stored rows: each cell once, under its canonical
    field name or (not mapped) in unmapped_cells under its header; lineage. Returns the number of
    records and how many of them were already there: a row at the same place (file name, sheet,
    row) with the same cells in a load leaving tonight (file hashes `leaving`), as in a snapshot
    exported again whole. Such a row is not written again: it stays in the load that first
    delivered it, which this load now carries (raw.carried_loads), so the night costs the rows that
    changed, not the whole export; the leaving load's other rows go. A profile that gathers several
    line rows into one record is read whole (a record's lines would otherwise sit in two loads).
    The whole row is not stored again as JSON (a second copy of every cell, seconds per million
    rows to write): raw_record_sql rebuilds it where a row is quarantined.

    A snapshot export that discovery compared line by line with the leaving version (held with
    its changed records, connectors/lines.py) is not parsed again: a record whose line is as it
    was is already there at its place, if that version was read with the same mapping (`loaded`,
    file hash to load fingerprint, against `fingerprint`). Returns also whether it was. The lines
    of a snapshot export are kept under its place (`relative_path`) for the next version."""
    held = take_held(table.path, lines_what(table))
    changes, records = held if held is not None else (None, None)
    layout = record_layout(table.headers, table.profile)
    unmapped = [(i, key) for i, (key, field) in enumerate(layout) if field is None]
    # header names and lineage are file content: they enter SQL as parameters, never as text
    params = {**{f"k{i}": key for i, key in unmapped}, **{f"l_{c}": v for c, v in lineage.items()}}
    cells = (f"MAP([{', '.join(f'$k{i}' for i, _ in unmapped)}], [{', '.join(column_name(i) for i, _ in unmapped)}])"
             if unmapped else "NULL")
    fields = field_positions(table.headers, table.profile)
    selects = [
        *(f"${'l_' + c}::VARCHAR AS {ident(c)}" for c in lineage),
        f"{SOURCE_ROW}", f"{ROW_PROBLEM}", f"{cells}::MAP(VARCHAR, VARCHAR) AS unmapped_cells",
        *(f"{column_name(i)} AS {ident(f)}" for f, i in fields.items()),
    ]
    # the cells as the stored rows hold them, hashed: kept with each row, so that a file sent again
    # is compared with the rows there without reading their cells
    # (the unmapped cells each after their header, as in unmapped_cells, without building the map)
    cells_hash = "hash(" + ", ".join([ROW_PROBLEM, *(f"$k{i}, {column_name(i)}" for i, _ in unmapped),
                                      *(f"{column_name(fields[f])}::VARCHAR" if f in fields else "NULL::VARCHAR"
                                        for f in entity.fields)]) + ")"
    landed = f"SELECT {', '.join(selects)}, {cells_hash} AS {CELLS_HASH} FROM landing_records"
    stored = stored_rows(entity.name)
    same_origin = same_load_sql("l", "o")
    kept, by_lines, unchanged_kept = 0, False, 0
    comparing = leaving and not table.profile.record_key
    try:
        if comparing:
            # the loads (as first delivered) carried now by a leaving file at this place; a load this
            # run carries already (another file of the same name) is not taken twice
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE cw_leaving_origins AS
                SELECT o.load_id, o.file_hash, o.source_sheet, coalesce(l.carrier_file_hash, o.file_hash) AS carrier,
                       row_number() OVER () AS origin
                FROM (SELECT DISTINCT load_id, file_hash, source_sheet, source_file, profile FROM {stored}) o
                LEFT JOIN {CARRIED_LOADS} l ON {same_origin}
                WHERE list_contains($leaving, coalesce(l.carrier_file_hash, o.file_hash))
                  AND coalesce(l.carrier_load_id, o.load_id) <> $l_load_id AND o.source_file = $l_source_file
                  AND o.source_sheet IS NOT DISTINCT FROM $l_source_sheet AND o.profile = $l_profile""",
                        {"leaving": leaving, **{k: params[k] for k in ("l_load_id", "l_source_file", "l_source_sheet",
                                                                       "l_profile")}})
            # their rows, found once: each later statement scanned the stored rows for them again
            # (four scans of a 450k-row export's rows, matching three text columns each)
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE cw_leaving_rows AS
                SELECT o.rowid AS raw_row, o.source_row, o.{CELLS_HASH} AS content, l.origin
                FROM {stored} o JOIN cw_leaving_origins l ON {same_origin}""")
            by_lines = changes is not None and _lines_apply(con, changes, (loaded or {}).get(
                (changes.earlier_hash, table.sheet)) == fingerprint)
        if by_lines:
            con.register("cw_unchanged_rows", changes.unchanged)
        else:
            records = read_columns(table)
        con.register("landing_records", records)
        if comparing:
            # grouped by numbers only: the loads' text columns beside them made this 0.3 s slower
            # for a 450k-row export; by lines, the rows at the unchanged lines' places, and those
            # a changed line leaves with the same cells (quoted otherwise, say)
            unchanged = ("""SELECT source_row, raw_row FROM cw_leaving_rows
                            WHERE source_row IN (SELECT source_row FROM cw_unchanged_rows)
                            UNION ALL """ if by_lines else "")
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE cw_rows_there AS
                SELECT source_row, min(raw_row) AS raw_row FROM (
                    {unchanged}
                    SELECT n.source_row, o.raw_row
                    FROM (SELECT {SOURCE_ROW} AS source_row, {cells_hash} AS content FROM landing_records) n
                    JOIN cw_leaving_rows o ON o.source_row = n.source_row AND o.content = n.content)
                GROUP BY source_row""", {k: v for k, v in params.items() if not k.startswith("l_")})
            unchanged_there = ("count(*) FILTER (WHERE source_row IN (SELECT source_row FROM cw_unchanged_rows))"
                               if by_lines else "0")
            kept, unchanged_kept = con.execute(f"SELECT count(*), {unchanged_there} FROM cw_rows_there").fetchone()
        if kept:
            con.execute("CREATE OR REPLACE TEMP TABLE cw_carried AS SELECT load_id, file_hash, source_sheet "
                        "FROM cw_leaving_origins WHERE origin IN (SELECT origin FROM cw_leaving_rows "
                        "WHERE raw_row IN (SELECT raw_row FROM cw_rows_there))")
            con.execute(f"DELETE FROM {stored} WHERE rowid IN (SELECT raw_row FROM cw_leaving_rows "
                        "WHERE raw_row NOT IN (SELECT raw_row FROM cw_rows_there))")
            con.execute(f"DELETE FROM {CARRIED_LOADS} o WHERE EXISTS (SELECT 1 FROM cw_carried l WHERE {same_origin})")
            con.execute(f"INSERT INTO {CARRIED_LOADS} SELECT $entity, load_id, file_hash, source_sheet, $l_load_id, "
                        "$l_file_hash FROM cw_carried",
                        {"entity": entity.name, "l_load_id": params["l_load_id"], "l_file_hash": params["l_file_hash"]})
        # the rows already there left out before the cells are laid out, not after (0.1 s a 450k-row export)
        unkept = f" WHERE {SOURCE_ROW} NOT IN (SELECT source_row FROM cw_rows_there)" if kept else ""
        con.execute(f"INSERT INTO {stored} BY NAME {landed}{unkept}", params)
        for name in ("cw_leaving_origins", "cw_leaving_rows", "cw_rows_there", "cw_carried"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        if relative_path is not None:
            _keep_lines(con, table, relative_path, lineage["file_hash"], changes)
    finally:
        for name in ("landing_records", "cw_unchanged_rows"):
            con.unregister(name)
    # by lines, the records read are the changed ones; the others are at their places already
    return records.num_rows + int(unchanged_kept), int(kept), by_lines


def _lines_apply(con, changes, same_mapping: bool) -> bool:
    """Whether the places of unchanged lines name the rows already there (cw_leaving_rows): one
    leaving version, the one compared with, read with the same mapping, holding at most one row
    per place (as each load leaves it)."""
    if not same_mapping:
        return False
    carriers = [h for (h,) in con.execute("SELECT DISTINCT carrier FROM cw_leaving_origins").fetchall()]
    if carriers != [changes.earlier_hash]:
        return False
    [(rows, places)] = con.execute("SELECT count(*), count(DISTINCT source_row) FROM cw_leaving_rows").fetchall()
    return rows == places


def _keep_lines(con, table: LandingTable, relative_path: str, file_hash: str, changes) -> None:
    """The lines of a snapshot export whose lines are its records, kept under its place for the
    next version's comparison: those that changed since the version compared with, or all."""
    if changes is None and not (table.sheet is None and table.profile.export == "snapshot"
                                and not table.profile.record_key):
        return
    for name, columns in SNAPSHOT_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    compared_with_kept = changes is not None and con.execute(
        f"SELECT count(*) FROM {LINES_VERSIONS} WHERE relative_path = ? AND file_hash = ?",
        [relative_path, changes.earlier_hash]).fetchall()[0][0] > 0
    # compared with the lines kept (the earlier version's): only the changed ones are replaced
    lines = changes.changed_lines if compared_with_kept else file_lines(
        table.path, TextFormat(table.encoding, table.delimiter))
    if lines is not None:
        con.register("cw_kept_lines", lines)
    try:
        if compared_with_kept:
            con.execute(f"DELETE FROM {SNAPSHOT_LINES} WHERE relative_path = ? AND "
                        "(line >= ? OR line IN (SELECT line FROM cw_kept_lines))", [relative_path, changes.line_count])
        else:
            con.execute(f"DELETE FROM {SNAPSHOT_LINES} WHERE relative_path = ?", [relative_path])
        con.execute(f"DELETE FROM {LINES_VERSIONS} WHERE relative_path = ?", [relative_path])
        if lines is not None:  # else not a file whose lines are its records: the next version is read whole
            con.execute(f"INSERT INTO {SNAPSHOT_LINES} SELECT ?, line, line_hash FROM cw_kept_lines", [relative_path])
            con.execute(f"INSERT INTO {LINES_VERSIONS} VALUES (?, ?)", [relative_path, file_hash])
    finally:
        con.unregister("cw_kept_lines")


def _drop_loads_gone(con, entity: Entity, kept_tables: str, load_id: str) -> None:
    """The stored rows whose load, as carried now, is neither a file kept as it was (`kept_tables`)
    nor read by this run (`load_id`) go, and so do the carries of loads left without rows."""
    stored = stored_rows(entity.name)
    same_origin = same_load_sql("l", "o")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cw_origins AS
        SELECT o.load_id, o.file_hash, o.source_sheet,
               coalesce(l.carrier_load_id, o.load_id) <> $load_id AND NOT EXISTS (
                   SELECT 1 FROM {kept_tables} k WHERE k.file_hash = coalesce(l.carrier_file_hash, o.file_hash)
                      AND k.source_sheet IS NOT DISTINCT FROM o.source_sheet) AS gone
        FROM (SELECT DISTINCT load_id, file_hash, source_sheet FROM {stored}) o
        LEFT JOIN {CARRIED_LOADS} l ON {same_origin}""", {"load_id": load_id})
    con.execute(f"DELETE FROM {stored} o WHERE EXISTS (SELECT 1 FROM cw_origins l WHERE l.gone AND {same_origin})")
    con.execute(f"DELETE FROM {CARRIED_LOADS} o WHERE o.entity = ? AND NOT EXISTS "
                f"(SELECT 1 FROM cw_origins l WHERE NOT l.gone AND {same_origin})", [entity.name])
    con.execute("DROP TABLE cw_origins")


def _raw_columns(entity: Entity) -> dict[str, str]:
    lineage = {c: ("BIGINT" if c == "source_row" else "VARCHAR") for c in LINEAGE_COLUMNS}
    return {**lineage, "row_problem": "VARCHAR", "unmapped_cells": "MAP(VARCHAR, VARCHAR)",
            **{f: "VARCHAR" for f in entity.fields}, CELLS_HASH: "UBIGINT"}


def build_raw_asset(entity: Entity) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(entity.name),
        deps=[LANDING_FILES],
        group_name="raw",
        kinds={"duckdb"},
        owners=[FAMILY_OWNERS.get(entity.family, "team:data")],
        tags={"family": entity.family},
        description=f"{entity.description} Every row of every recognised {entity.family} export as delivered "
        "(text, under canonical column names) with its file, sheet, row number, file hash and load id.",
    )
    def _raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        profiles = {p.name: p for p in load_profiles()}
        settings = warehouse.settings()
        columns = _raw_columns(entity)
        with warehouse.connect() as con:
            con.execute(f"CREATE TABLE IF NOT EXISTS raw.loaded_tables ({LEDGER_COLUMNS})")
            ready = con.execute(
                "SELECT relative_path, source_sheet, header_index, headers, profile, file_hash, source_file, "
                "encoding, delimiter "
                "FROM raw.landing_files WHERE status = 'ready' AND entity = ? ORDER BY relative_path, source_sheet",
                [entity.name],
            ).fetchall()
            con.execute(f"CREATE TABLE IF NOT EXISTS {CARRIED_LOADS} ({CARRIED_LOADS_COLUMNS})")
            stored = stored_rows(entity.name)
            rebuild = warehouse.full_rebuild or column_names(con, *stored.split(".")) != list(columns)
            loaded = {} if rebuild else {
                (h, sheet): fp for h, sheet, fp in con.execute(
                    "SELECT file_hash, source_sheet, load_fingerprint FROM raw.loaded_tables WHERE entity = ?",
                    [entity.name]).fetchall()
            }
            kept, to_read = [], []
            for relative_path, sheet, header_index, headers, profile, file_hash, source_file, encoding, delimiter in ready:
                fingerprint = load_fingerprint(profiles[profile], header_index, headers, encoding, delimiter)
                if loaded.get((file_hash, sheet)) == fingerprint:
                    kept.append({"file_hash": file_hash, "source_sheet": sheet})  # same bytes, same mapping
                    continue
                table = LandingTable(settings.landing_dir / relative_path, sheet, header_index,
                                     json.loads(headers), profiles[profile], encoding, delimiter)
                lineage = {"load_id": context.run.run_id, "source_file": source_file, "source_sheet": sheet,
                           "file_hash": file_hash, "profile": profile}
                to_read.append((table, lineage, fingerprint, relative_path))
            kept_tables = pd.DataFrame(kept, columns=["file_hash", "source_sheet"]).astype(object)
            con.register("kept_tables", kept_tables)
            ledger, per_file, rows_carried, by_lines = [], {}, 0, []
            definition = ", ".join(f"{ident(c)} {t}" for c, t in columns.items())
            con.execute("BEGIN")
            try:
                if rebuild:
                    con.execute(f"CREATE OR REPLACE TABLE {stored} ({definition})")
                    con.execute(f"DELETE FROM {CARRIED_LOADS} WHERE entity = ?", [entity.name])
                replace_with_view(con, "raw", entity.name, f"SELECT * EXCLUDE ({CELLS_HASH}) FROM ({carried_sql(stored)})")
                kept_loads = {(k["file_hash"], k["source_sheet"]) for k in kept}
                leaving = sorted({h for h, sheet in loaded if (h, sheet) not in kept_loads})
                for table, lineage, fingerprint, relative_path in to_read:
                    rows, carried, compared = _insert_records(con, entity, table, lineage, leaving, loaded,
                                                              fingerprint, relative_path)
                    rows_carried += carried
                    if compared:
                        by_lines.append(table.source_file)
                    per_file[table.source_file] = per_file.get(table.source_file, 0) + rows
                    ledger.append({"entity": entity.name, "file_hash": lineage["file_hash"],
                                   "source_sheet": table.sheet, "profile": lineage["profile"],
                                   "load_fingerprint": fingerprint, "load_id": context.run.run_id,
                                   "rows": rows, "loaded_at": dt.datetime.now(dt.timezone.utc)})
                # rows of files no longer in the landing folder, or read again, go (once the files
                # read have taken the rows they repeat)
                if to_read or leaving:
                    _drop_loads_gone(con, entity, "kept_tables", context.run.run_id)
                # the ledger's rows of the loads not kept go, and the loads read come in (on most
                # nights neither: each statement took 15-25 ms at 1M orders)
                if rebuild or leaving:
                    con.execute("DELETE FROM raw.loaded_tables t WHERE entity = ? AND NOT EXISTS (SELECT 1 FROM "
                                "kept_tables k WHERE k.file_hash = t.file_hash "
                                "AND k.source_sheet IS NOT DISTINCT FROM t.source_sheet)", [entity.name])
                if ledger:
                    new_ledger = pd.DataFrame(ledger, columns=LEDGER_FIELDS)
                    con.execute("INSERT INTO raw.loaded_tables SELECT * FROM new_ledger")
                if (rebuild or leaving) and _keeps_lines(con):
                    gone = f"SELECT relative_path FROM {LINES_VERSIONS} WHERE file_hash NOT IN (SELECT file_hash FROM raw.loaded_tables)"
                    con.execute(f"DELETE FROM {SNAPSHOT_LINES} WHERE relative_path IN ({gone})")
                    con.execute(f"DELETE FROM {LINES_VERSIONS} WHERE relative_path IN ({gone})")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            metadata = table_metadata(con, "raw", entity.name)
        for relative_path, *_ in ready:
            forget_held(settings.landing_dir / relative_path)  # read ahead, but its rows were reused
        if kept:
            context.log.info(f"{len(kept)} file(s) unchanged since they were loaded: their rows are reused, not re-read")
        return dg.MaterializeResult(
            metadata={**metadata,
                      "tables_read": dg.MetadataValue.int(len(ledger)),
                      "tables_reused": dg.MetadataValue.int(len(kept)),
                      # rows of a file read again that were there as they are, from its earlier export:
                      # kept in the load that first delivered them
                      "rows_already_there": dg.MetadataValue.int(rows_carried),
                      # exports sent again whose changed lines alone were read (connectors/lines.py)
                      "compared_by_lines": dg.MetadataValue.json(by_lines),
                      "rows_read_per_file": dg.MetadataValue.json({k: int(v) for k, v in per_file.items()})}
        )

    return _raw


raw_assets = [build_raw_asset(entity) for entity in load_entities().values()]
