"""A sensor on the landing folder: start the nightly job when exports arrive or change."""

import hashlib

import dagster as dg

from connectors.files import list_landing_files, version_stamp
from pipelines.schedules import nightly_job
from pipelines.settings import load_settings


def landing_fingerprint(settings) -> tuple[str, int]:
    """A digest of every landing file's path and version stamp (connectors/files.py version_stamp:
    size, modification and change times), and the file count.

    Stats are cheap to read every minute; the run itself hashes contents, so a file touched but
    unchanged is loaded as a duplicate, never counted twice.
    """
    digest = hashlib.sha256()
    files = list_landing_files(settings.landing_dir) if settings.landing_dir.is_dir() else []
    for path in files:
        stamp = "\0".join(map(str, version_stamp(path.stat())))
        digest.update(f"{path.relative_to(settings.landing_dir)}\0{stamp}\n".encode())
    return digest.hexdigest(), len(files)


@dg.sensor(
    name="landing_folder_sensor",
    job=nightly_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts the nightly job when files in the landing folder are added, replaced or removed. "
    "Off by default; turn it on in the UI (Automation) to run on arrival instead of (or as well as) the schedule.",
)
def landing_folder_sensor(context: dg.SensorEvaluationContext):
    settings = load_settings()
    fingerprint, count = landing_fingerprint(settings)
    if count == 0:
        return dg.SkipReason(f"no exports in {settings.landing_dir}")
    if fingerprint == context.cursor:
        return dg.SkipReason(f"the {count} files in {settings.landing_dir} are unchanged since the last run request")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint, tags={"crosswalk/trigger": "landing_folder"})
