"""Personal data and file permissions of the build and the published file; the UI on localhost."""

import dataclasses
import stat

import duckdb
import pytest

from pipelines.cli import main as cli_main
from pipelines.publish import publish_fingerprint
from pipelines.settings import load_settings


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_build_folder_is_owner_only_and_published_file_is_readable(sample_run):
    assert _mode(sample_run.build.parent) == 0o700
    assert _mode(sample_run.published) == 0o644  # pseudonymised: safe to share with BI readers


@pytest.mark.parametrize("policy", ["drop", "keep"])
def test_personal_data_policy_of_the_published_copy(sample_run, tmp_path, policy):
    settings = dataclasses.replace(load_settings(sample_run.config_path), personal_data=policy)
    target = tmp_path / "published.duckdb"
    sample_run.publish_copy(target, settings)
    con = duckdb.connect(str(target), read_only=True)
    try:
        columns = set(con.execute("SELECT column_name FROM information_schema.columns "
                                  "WHERE table_schema = 'core' AND table_name = 'customers'").fetchall())
        emails = con.execute("SELECT email FROM core.customers WHERE email IS NOT NULL").fetchall() \
            if ("email",) in columns else []
    finally:
        con.close()
    if policy == "drop":
        assert not {("email",), ("phone",), ("street",)} & columns
    else:
        assert emails and all("@" in e for (e,) in emails)


def test_ui_binds_to_localhost_by_default(monkeypatch):
    seen = {}
    monkeypatch.setattr("pipelines.cli.ui", lambda port, host: seen.update(port=port, host=host) or 0)
    assert cli_main(["ui"]) == 0
    assert seen == {"port": 3000, "host": "127.0.0.1"}


def test_links_leading_outside_the_landing_folder_are_not_read(tmp_path):
    from connectors.files import list_landing_files

    landing, outside = tmp_path / "landing", tmp_path / "elsewhere"
    landing.mkdir()
    outside.mkdir()
    (outside / "secrets.csv").write_text("Email Address\nsomeone@example.com\n")
    (landing / "inside.csv").write_text("Email Address\na@example.com\n")
    (landing / "escape.csv").symlink_to(outside / "secrets.csv")
    (landing / "sub").symlink_to(outside, target_is_directory=True)
    assert [p.name for p in list_landing_files(landing)] == ["inside.csv"]


def test_a_night_reuses_the_published_file_only_under_the_same_policy_and_key(sample_run, monkeypatch):
    """The previous BI file is a night's starting point only while what shaped its contents holds:
    another personal-data policy or pseudonym key publishes every table again."""
    settings = load_settings(sample_run.config_path)
    monkeypatch.delenv("CROSSWALK_PSEUDONYM_KEY", raising=False)
    same = publish_fingerprint(settings)
    assert publish_fingerprint(load_settings(sample_run.config_path)) == same
    assert publish_fingerprint(dataclasses.replace(settings, personal_data="drop")) != same
    monkeypatch.setenv("CROSSWALK_PSEUDONYM_KEY", "another key")
    assert publish_fingerprint(settings) != same
