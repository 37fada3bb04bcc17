"""Crosswalk settings: one YAML file (crosswalk.yaml), validated on load.

The file is found at $CROSSWALK_CONFIG, else `crosswalk.yaml` in the project folder.
$CROSSWALK_LANDING and $CROSSWALK_WAREHOUSE override the folders it names. Secrets never live
in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from connectors.yaml_files import SafeLoader, read_yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
PERSONAL_DATA_POLICIES = ("pseudonymise", "drop", "keep")
FAMILIES = ("crm", "marketing", "support", "inventory")

# Every key the file may hold, per section; anything else is a typo worth naming.
SECTIONS = {
    "": {"landing_dir", "warehouse_dir", "company_timezone", "currency", "schedule", "metrics", "publish",
         "freshness", "alerts", "memory_limit"},
    "schedule": {"cron", "timezone"},
    "metrics": {"activation_window_days", "churn_window_days", "go_live_date", "satisfied_min_score"},
    "publish": {"personal_data"},
    "freshness": {"late_after_hours", "per_family"},
    "alerts": {"log_file", "command", "webhook_url_env"},
}


MEMORY_SIZE = re.compile(r"\d+(\.\d+)?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Settings:
    config_path: Path
    landing_dir: Path
    warehouse_dir: Path
    company_timezone: str
    currency: str
    schedule_cron: str
    schedule_timezone: str
    activation_window_days: int
    churn_window_days: int
    go_live_date: dt.date
    satisfied_min_score: int
    personal_data: str
    late_after_hours: int = 36
    late_after_hours_per_family: dict[str, int] = field(default_factory=dict)
    alert_log: Path | None = None
    alert_command: str = ""
    alert_webhook_url_env: str = ""
    memory_limit: str = "2GB"

    @property
    def build_path(self) -> Path:
        """The private build: every table, personal data kept; BI tools never open it."""
        return self.warehouse_dir / "build" / "crosswalk_build.duckdb"

    @property
    def published_path(self) -> Path:
        return self.warehouse_dir / "crosswalk.duckdb"

    @property
    def report_path(self) -> Path:
        """The HTML report of the latest run, beside the published file."""
        return self.warehouse_dir / "report.html"

    def late_threshold_hours(self, family: str) -> int:
        return self.late_after_hours_per_family.get(family, self.late_after_hours)


class _Loader(SafeLoader):
    """Safe YAML that leaves dates as text, so a bad date is reported with its key, not as a crash."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Reader:
    """Reads one section of the document; every error names the file and the dotted key."""

    def __init__(self, path: Path, doc: dict, section: str = ""):
        self.path, self.section = path, section
        self.doc = doc if section == "" else (doc.get(section) or {})
        if not isinstance(self.doc, dict):
            raise self.error(section, f"expected a mapping of settings, got {self.doc!r}")
        unknown = sorted(set(self.doc) - SECTIONS[section])
        if unknown:
            raise SettingsError(f"{path}: {', '.join(self.key(str(k)) for k in unknown)}: unknown key; "
                                f"known keys{' in ' + section if section else ''} are {', '.join(sorted(SECTIONS[section]))}")

    def key(self, name: str) -> str:
        return f"{self.section}.{name}" if self.section else name

    def error(self, name: str, problem: str) -> SettingsError:
        return SettingsError(f"{self.path}: {self.key(name) if name != self.section else name}: {problem}")

    def get(self, name: str, default):
        value = self.doc.get(name, default)
        return default if value is None else value

    def text(self, name: str, default: str) -> str:
        value = self.get(name, default)
        if not isinstance(value, str):
            raise self.error(name, f"expected text, got {value!r}")
        return value

    def positive_int(self, name: str, default: int, unit: str = "days") -> int:
        return _positive_int(self.get(name, default), lambda problem: self.error(name, problem), unit)

    def timezone(self, name: str, default: str) -> str:
        value = self.get(name, default)
        try:
            zoneinfo.ZoneInfo(str(value))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise self.error(name, f"'{value}' is not a time zone name such as Europe/London") from None
        return str(value)


def _positive_int(value, error, unit: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise error(f"expected a whole number of {unit} above 0, got {value!r}")
    return value


def _cron(reader: _Reader) -> str:
    from dagster._utils.schedules import is_valid_cron_string

    value = str(reader.get("cron", "0 2 * * *"))
    if not is_valid_cron_string(value):
        raise reader.error("cron", f"'{value}' is not a cron expression such as \"0 2 * * *\" (minute hour day month weekday)")
    return value


def _per_family(reader: _Reader) -> dict[str, int]:
    value = reader.get("per_family", {})
    if not isinstance(value, dict):
        raise reader.error("per_family", f"expected a mapping of family to hours, got {value!r}")
    out = {}
    for family, hours in value.items():
        key = f"per_family.{family}"
        if family not in FAMILIES:
            raise reader.error(key, f"'{family}' is not a source family; families are {', '.join(FAMILIES)}")
        out[family] = _positive_int(hours, lambda problem, k=key: reader.error(k, problem), "hours")
    return out


def _webhook_env(reader: _Reader) -> str:
    name = reader.text("webhook_url_env", "")
    if name and not name.replace("_", "").isalnum():
        raise reader.error("webhook_url_env", f"'{name}' should be the name of an environment variable holding "
                           "the webhook URL (secrets stay out of this file), e.g. CROSSWALK_ALERT_WEBHOOK")
    return name


def load_settings(config_path: Path | None = None) -> Settings:
    path = Path(config_path or os.environ.get("CROSSWALK_CONFIG") or PROJECT_DIR / "crosswalk.yaml")
    try:
        doc = read_yaml(path, _Loader) if path.exists() else {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    doc = doc or {}
    if not isinstance(doc, dict):
        raise SettingsError(f"{path}: expected a mapping of settings at the top level")
    top = _Reader(path, doc)
    schedule, metrics, publish, freshness, alerts = (
        _Reader(path, doc, s) for s in ("schedule", "metrics", "publish", "freshness", "alerts"))

    go_live = metrics.get("go_live_date", "2025-07-01")
    try:
        go_live_date = go_live if isinstance(go_live, dt.date) else dt.date.fromisoformat(str(go_live))
    except ValueError:
        raise metrics.error("go_live_date", f"'{go_live}' is not a date like 2025-07-01") from None

    policy = publish.get("personal_data", "pseudonymise")
    if policy not in PERSONAL_DATA_POLICIES:
        raise publish.error("personal_data", f"'{policy}' is not one of {', '.join(PERSONAL_DATA_POLICIES)}")

    satisfied = metrics.get("satisfied_min_score", 4)
    if satisfied not in (1, 2, 3, 4, 5) or isinstance(satisfied, bool):
        raise metrics.error("satisfied_min_score", f"expected 1 to 5, got {satisfied!r}")

    memory_limit = str(top.get("memory_limit", "2GB")).replace(" ", "")
    if not MEMORY_SIZE.fullmatch(memory_limit):
        raise top.error("memory_limit", f"'{memory_limit}' is not a size such as 2GB or 1500MB")

    base = path.parent
    landing = os.environ.get("CROSSWALK_LANDING") or top.text("landing_dir", "data/landing")
    warehouse_dir = (base / (os.environ.get("CROSSWALK_WAREHOUSE") or top.text("warehouse_dir", "data/warehouse"))).resolve()
    return Settings(
        config_path=path,
        landing_dir=(base / landing).resolve(),
        warehouse_dir=warehouse_dir,
        company_timezone=top.timezone("company_timezone", "Europe/London"),
        currency=top.text("currency", "GBP"),
        schedule_cron=_cron(schedule),
        schedule_timezone=schedule.timezone("timezone", "Europe/London"),
        activation_window_days=metrics.positive_int("activation_window_days", 30),
        churn_window_days=metrics.positive_int("churn_window_days", 90),
        go_live_date=go_live_date,
        satisfied_min_score=satisfied,
        personal_data=policy,
        late_after_hours=freshness.positive_int("late_after_hours", 36, "hours"),
        late_after_hours_per_family=_per_family(freshness),
        alert_log=warehouse_dir / alerts.text("log_file", "alerts.log"),
        alert_command=alerts.text("command", ""),
        alert_webhook_url_env=_webhook_env(alerts),
        memory_limit=memory_limit,
    )
