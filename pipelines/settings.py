"""Crosswalk settings: one YAML file (crosswalk.yaml), validated on load.

The file is found at $CROSSWALK_CONFIG, else `crosswalk.yaml` in the project folder.
$CROSSWALK_LANDING and $CROSSWALK_WAREHOUSE override the folders it names.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
PERSONAL_DATA_POLICIES = ("pseudonymise", "drop", "keep")


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

    @property
    def build_path(self) -> Path:
        """The private build: every table, personal data kept; BI tools never open it."""
        return self.warehouse_dir / "build" / "crosswalk_build.duckdb"

    @property
    def published_path(self) -> Path:
        return self.warehouse_dir / "crosswalk.duckdb"


_KNOWN = {
    "landing_dir", "warehouse_dir", "company_timezone", "currency", "schedule", "metrics", "publish",
}


def _timezone(value, key: str, where: Path) -> str:
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{where}: {key}: '{value}' is not a time zone name such as Europe/London") from None
    return str(value)


def _positive_int(section: dict, key: str, default: int, where: Path, prefix: str) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SettingsError(f"{where}: {prefix}.{key}: expected a whole number of days above 0, got {value!r}")
    return value


def load_settings(config_path: Path | None = None) -> Settings:
    path = Path(config_path or os.environ.get("CROSSWALK_CONFIG") or PROJECT_DIR / "crosswalk.yaml")
    doc = yaml.safe_load(path.read_text()) if path.exists() else {}
    doc = doc or {}
    if not isinstance(doc, dict):
        raise SettingsError(f"{path}: expected a mapping of settings at the top level")
    unknown = sorted(set(doc) - _KNOWN)
    if unknown:
        raise SettingsError(f"{path}: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(sorted(_KNOWN))}")
    base = path.parent
    schedule = doc.get("schedule") or {}
    metrics = doc.get("metrics") or {}
    publish = doc.get("publish") or {}

    go_live = metrics.get("go_live_date", "2025-07-01")
    try:
        go_live_date = go_live if isinstance(go_live, dt.date) else dt.date.fromisoformat(str(go_live))
    except ValueError:
        raise SettingsError(f"{path}: metrics.go_live_date: '{go_live}' is not a date like 2025-07-01") from None

    policy = publish.get("personal_data", "pseudonymise")
    if policy not in PERSONAL_DATA_POLICIES:
        raise SettingsError(f"{path}: publish.personal_data: '{policy}' is not one of {', '.join(PERSONAL_DATA_POLICIES)}")

    satisfied = metrics.get("satisfied_min_score", 4)
    if satisfied not in (1, 2, 3, 4, 5):
        raise SettingsError(f"{path}: metrics.satisfied_min_score: expected 1 to 5, got {satisfied!r}")

    landing = os.environ.get("CROSSWALK_LANDING") or doc.get("landing_dir", "data/landing")
    warehouse = os.environ.get("CROSSWALK_WAREHOUSE") or doc.get("warehouse_dir", "data/warehouse")
    return Settings(
        config_path=path,
        landing_dir=(base / landing).resolve(),
        warehouse_dir=(base / warehouse).resolve(),
        company_timezone=_timezone(doc.get("company_timezone", "Europe/London"), "company_timezone", path),
        currency=str(doc.get("currency", "GBP")),
        schedule_cron=str(schedule.get("cron", "0 2 * * *")),
        schedule_timezone=_timezone(schedule.get("timezone", "Europe/London"), "schedule.timezone", path),
        activation_window_days=_positive_int(metrics, "activation_window_days", 30, path, "metrics"),
        churn_window_days=_positive_int(metrics, "churn_window_days", 90, path, "metrics"),
        go_live_date=go_live_date,
        satisfied_min_score=satisfied,
        personal_data=policy,
    )
