"""A snapshot export sent again is compared line by line with the version loaded before: only
its changed lines are parsed, and the build ends as reading the whole file again would leave it."""

import csv
import shutil

import duckdb

from connectors.files import csv_all_rows, csv_format
from connectors.lines import file_lines
from pipelines.raw import LINES_VERSIONS, SNAPSHOT_LINES, SNAPSHOT_TABLES
from tests.conftest import SAMPLE_LANDING, nightly_run_in
from tests.test_incremental import step_metadata

# what a night leaves that does not depend on how the export was read (load ids are run ids)
COMPARED = {
    "raw.crm_contacts_rows": "SELECT * EXCLUDE (load_id) FROM raw.crm_contacts_rows ORDER BY ALL",
    "raw.carried_loads": "SELECT entity, file_hash, source_sheet, carrier_file_hash FROM raw.carried_loads ORDER BY ALL",
    "staging.crm_contacts": "SELECT * EXCLUDE (load_id) FROM staging.crm_contacts ORDER BY ALL",
    "quality.rejected_rows": "SELECT * EXCLUDE (load_id) FROM quality.rejected_rows ORDER BY ALL",
    "core.customers": "SELECT * FROM core.customers ORDER BY customer_key",
}


def write_lines(path, rows, terminator="\n") -> None:
    """As an export tool writes them: one record per line, quoting only where a field needs it."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator=terminator).writerows(rows)


def first_build(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    [contacts] = landing.rglob("hubspot_contacts.csv")
    write_lines(contacts, csv_all_rows(contacts, csv_format(contacts)))
    (tmp_path / "night").mkdir()
    assert nightly_run_in(tmp_path / "night", landing).result.success
    return landing, contacts


def night_both_ways(tmp_path, landing):
    """The night on the build, and on a copy of it that keeps no lines (so reads the file whole)."""
    shutil.rmtree(tmp_path / "whole", ignore_errors=True)
    shutil.copytree(tmp_path / "night", tmp_path / "whole")
    con = duckdb.connect(str(tmp_path / "whole" / "warehouse" / "build" / "crosswalk_build.duckdb"))
    for table in SNAPSHOT_TABLES:
        con.execute(f"DROP TABLE {table}")
    con.close()
    night, whole = nightly_run_in(tmp_path / "night", landing), nightly_run_in(tmp_path / "whole", landing)
    assert night.result.success and whole.result.success
    assert step_metadata(whole, "raw", "compared_by_lines")["crm_contacts"] == []
    for key in ("rows_already_there", "rows_read_per_file"):
        assert step_metadata(night, "raw", key)["crm_contacts"] == step_metadata(whole, "raw", key)["crm_contacts"]
    for table, query in COMPARED.items():
        assert build(night, query).equals(build(whole, query)), table
    return night


def build(run, query: str):
    con = duckdb.connect(str(run.warehouse / "build" / "crosswalk_build.duckdb"), read_only=True)
    try:
        return con.sql(query).df()
    finally:
        con.close()


def test_a_snapshot_sent_again_is_read_by_its_changed_lines_as_reading_it_whole_would(tmp_path):
    landing, contacts = first_build(tmp_path)
    header, *rows = csv_all_rows(contacts, csv_format(contacts))
    email, name = header.index("Email"), header.index("First Name")
    rows[4][email] = "someone.new@example.com"           # a cell corrected in place
    del rows[600]                                          # a contact deleted: the later lines move up
    rows.append(["40199998", "Ada", "Quill", "ada.quill@example.com"] + [""] * (len(header) - 4))
    rows.append(["40199999", "Ben", "Rook", "ben.rook@example.com"] + [""] * (len(header) - 4))
    write_lines(contacts, [header, *rows])
    # one line whose bytes change but whose cells do not: its row stays where it was
    text = contacts.read_text(encoding="utf-8").splitlines(keepends=True)
    first = text[10].split(",")
    text[10] = ",".join([first[0], f'"{first[1]}"', *first[2:]])
    contacts.write_text("".join(text), encoding="utf-8")

    night = night_both_ways(tmp_path, landing)
    assert step_metadata(night, "raw", "compared_by_lines")["crm_contacts"] == ["hubspot_contacts.csv"]
    kept = step_metadata(night, "raw", "rows_already_there")["crm_contacts"]
    # the 600 lines before the deleted one, less the corrected one (the requoted one's row stays)
    assert kept == 599
    # the place's lines are the new version's: the changed ones replaced, the rest kept
    [(lines, version)] = build(night, f"""
        SELECT (SELECT count(*) FROM {SNAPSHOT_LINES} WHERE relative_path = 'crm/hubspot_contacts.csv'),
               (SELECT file_hash FROM {LINES_VERSIONS} WHERE relative_path = 'crm/hubspot_contacts.csv')""").values.tolist()
    [(loaded,)] = build(night, "SELECT file_hash FROM raw.landing_files WHERE source_file = 'hubspot_contacts.csv'").values.tolist()
    assert (lines, version) == (len(rows) + 1, loaded)
    assert build(night, f"SELECT count(*) FROM {LINES_VERSIONS}").values.tolist() == [[2]]  # the audience's too

    # the next night compares with the lines this one kept: another correction, the last two gone
    rows[20][email] = "someone.else@example.com"
    write_lines(contacts, [header, *rows[:-2]])
    night = night_both_ways(tmp_path, landing)
    assert step_metadata(night, "raw", "compared_by_lines")["crm_contacts"] == ["hubspot_contacts.csv"]
    assert step_metadata(night, "raw", "rows_already_there")["crm_contacts"] == len(rows) - 2 - 1
    # and the lines kept, changed in place twice, are those of the file now
    kept = build(night, f"SELECT line, line_hash FROM {SNAPSHOT_LINES} WHERE relative_path = 'crm/hubspot_contacts.csv' "
                        "ORDER BY line")
    fresh = file_lines(contacts, csv_format(contacts)).to_pandas()
    assert kept.equals(fresh.astype(kept.dtypes.to_dict()))


def test_a_snapshot_whose_lines_are_not_its_records_is_read_whole(tmp_path):
    landing, contacts = first_build(tmp_path)
    header, *rows = csv_all_rows(contacts, csv_format(contacts))
    rows[3][header.index("Street Address")] = "Flat 2\n14 Mill Lane"  # a quoted field over two lines
    rows[5][header.index("First Name")] = "Zed"
    write_lines(contacts, [header, *rows])

    night = night_both_ways(tmp_path, landing)
    assert step_metadata(night, "raw", "compared_by_lines")["crm_contacts"] == []
    [(street,)] = build(night, "SELECT street FROM staging.crm_contacts WHERE source_row = 4").values.tolist()
    assert street == "Flat 2\n14 Mill Lane"


def test_a_changed_line_with_a_field_too_many_is_quarantined_as_when_read_whole(tmp_path):
    landing, contacts = first_build(tmp_path)
    header, *rows = csv_all_rows(contacts, csv_format(contacts))
    rows[7].append("stray")
    write_lines(contacts, [header, *rows])

    night = night_both_ways(tmp_path, landing)
    [(reason,)] = build(night, "SELECT reason FROM quality.rejected_rows WHERE source_file = 'hubspot_contacts.csv' "
                               "AND source_row = 8").values.tolist()
    assert "fields" in reason


def test_a_snapshot_written_with_windows_line_endings_is_compared_too(tmp_path):
    landing, contacts = first_build(tmp_path)
    header, *rows = csv_all_rows(contacts, csv_format(contacts))
    rows[2][header.index("First Name")] = "Yves"
    write_lines(contacts, [header, *rows], terminator="\r\n")

    night = night_both_ways(tmp_path, landing)
    assert step_metadata(night, "raw", "compared_by_lines")["crm_contacts"] == ["hubspot_contacts.csv"]
    assert step_metadata(night, "raw", "rows_already_there")["crm_contacts"] == len(rows) - 1


def test_a_snapshot_mixing_line_endings_is_read_whole(tmp_path):
    landing, contacts = first_build(tmp_path)
    header, *rows = csv_all_rows(contacts, csv_format(contacts))
    rows[2][header.index("First Name")] = "Yves"
    write_lines(contacts, [header, *rows])
    text = contacts.read_bytes().split(b"\n")
    text[5] += b"\r"
    contacts.write_bytes(b"\n".join(text))

    night = night_both_ways(tmp_path, landing)
    assert step_metadata(night, "raw", "compared_by_lines")["crm_contacts"] == []


def test_a_changed_line_with_a_loose_quote_is_read_as_when_read_whole(tmp_path):
    landing, contacts = first_build(tmp_path)
    text = contacts.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = text[6].split(",")
    cells[2] = f'O"{cells[2]}"s'  # quotes inside a field not quoted as a whole (an even number)
    text[6] = ",".join(cells)
    contacts.write_text("".join(text), encoding="utf-8")

    night = night_both_ways(tmp_path, landing)
    assert step_metadata(night, "raw", "compared_by_lines")["crm_contacts"] == []
    [(last_name,)] = build(night, "SELECT last_name FROM raw.crm_contacts WHERE source_row = 6").values.tolist()
    assert last_name.startswith('O"') and last_name.endswith('"s')
