"""Alerts: a failed step of the nightly job (a failed blocking check fails its step too) is
appended to `<warehouse>/alerts.log` and, when configured, piped to a command and posted to a
webhook. The hook runs inside the job, so `crosswalk run`, the schedule and the UI alert alike.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import urllib.request

import dagster as dg

from pipelines.settings import Settings


def alert_payload(run_id: str, step: str, error: BaseException | None) -> dict:
    message = " ".join(str(error).split()) if error else "the step failed"
    kind = "blocking_check_failed" if "blocking asset check" in message else "step_failed"
    what = "a blocking check failed, so nothing was published" if kind == "blocking_check_failed" else \
        f"the step {step} failed"
    return {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "kind": kind, "run_id": run_id, "step": step,
        "summary": f"Crosswalk nightly run {run_id[:8]}: {what}.",
        "detail": message[:2000],
        "where_to_look": "crosswalk status; the run in the Dagster UI (crosswalk ui); quality.check_results",
    }


def send_alert(settings: Settings, payload: dict, log=None) -> None:
    """Write the alert to the log file, then the command and webhook; a broken channel is logged, not raised."""
    body = json.dumps(payload, ensure_ascii=False)
    if settings.alert_log:
        settings.alert_log.parent.mkdir(parents=True, exist_ok=True)
        with settings.alert_log.open("a", encoding="utf-8") as fh:
            fh.write(body + "\n")
    problems = []
    if settings.alert_command:
        env = {**os.environ, "CROSSWALK_ALERT_SUMMARY": payload["summary"], "CROSSWALK_ALERT_KIND": payload["kind"],
               "CROSSWALK_ALERT_RUN_ID": payload["run_id"]}
        done = subprocess.run(settings.alert_command, shell=True, input=body, text=True, env=env,
                              capture_output=True, timeout=60)
        if done.returncode != 0:
            problems.append(f"alerts.command exited {done.returncode}: {done.stderr.strip()[:300]}")
    if settings.alert_webhook_url_env:
        url = os.environ.get(settings.alert_webhook_url_env)
        if not url:
            problems.append(f"alerts.webhook_url_env names ${settings.alert_webhook_url_env}, which is not set")
        else:
            request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(request, timeout=15).close()
            except OSError as exc:
                problems.append(f"the webhook in ${settings.alert_webhook_url_env} failed: {exc}")
    for problem in problems:
        if log:
            log.warning(f"Alert not delivered: {problem}")


@dg.failure_hook(required_resource_keys={"warehouse"})
def alert_on_failure(context: dg.HookContext) -> None:
    settings = context.resources.warehouse.settings()
    send_alert(settings, alert_payload(context.run_id, context.step_key, context.op_exception), context.log)
