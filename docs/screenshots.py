"""Make the README's pictures with the project's own commands.

Runs `crosswalk run` on the bundled sample into a temporary warehouse and Dagster instance, starts
the Dagster webserver on a free localhost port, and drives Debian's chromium through Playwright
(no browser download) to capture the asset lineage and the run's HTML report.

    .venv/bin/python docs/screenshots.py            # or: make screenshots

The browser test (tests/test_browser.py) uses the same functions.
"""

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# Headless, offline and quiet: no first-run pages, no background fetches, no updates.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MARTS = ("order_to_delivery_monthly", "onboarding_cohorts_monthly", "customer_360", "metric_catalog")
GROUPS = ("raw", "staging", "core", "marts", "publish")
LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def instance_env(dagster_home: Path, landing: Path, warehouse: Path) -> dict:
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "DAGSTER_HOME": str(dagster_home), "CROSSWALK_LANDING": str(landing),
            "CROSSWALK_WAREHOUSE": str(warehouse)}


def crosswalk_run(env: dict, landing: Path, warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--landing", str(landing),
                           "--warehouse", str(warehouse)], cwd=PROJECT, env=env, capture_output=True,
                          text=True, timeout=900)


def _graphql(base_url: str, query: str) -> dict:
    request = urllib.request.Request(f"{base_url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@contextlib.contextmanager
def webserver(env: dict, port: int, timeout: float = 180) -> Iterator[str]:
    """The Dagster webserver on 127.0.0.1:port with the project's code location loaded; yields its URL."""
    base_url = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", str(PROJECT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"dagster-webserver exited with {process.returncode}: "
                                   f"{log.read().decode(errors='replace')[-2000:]}")
            try:
                entries = _graphql(base_url, LOCATION_QUERY)["data"]["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    break
            except (OSError, KeyError, TypeError, ValueError):
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Dagster webserver did not load the code location within {timeout:.0f} s")
            time.sleep(1)
        errors = [e["locationOrLoadError"]["message"] for e in entries
                  if e["locationOrLoadError"]["__typename"] == "PythonError"]
        if errors:
            raise RuntimeError(f"the code location failed to load: {errors[0][:1000]}")
        yield base_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the webserver and the code server it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@contextlib.contextmanager
def browser_page(width: int = 1600, height: int = 1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def _dismiss_dialogs(page) -> None:
    """The first visit shows a community sign-up dialog over the graph; skip it."""
    skip = page.get_by_role("button", name="Skip")
    with contextlib.suppress(Exception):
        skip.click(timeout=5000)


def lineage_screenshot(page, base_url: str, path: Path, group: str | None = None) -> list[str]:
    """Open the asset lineage (one group, or all), wait for its nodes, save a screenshot;
    returns the node names found on the graph."""
    url = f"{base_url}/locations/crosswalk/asset-groups/{group}" if group else f"{base_url}/asset-groups"
    page.goto(url)
    _dismiss_dialogs(page)
    # The whole graph shows one node per group (raw, staging, core, marts, publish); a group's
    # page shows its assets.
    names = MARTS if group == "marts" else GROUPS
    found = []
    for name in names:
        page.get_by_text(name, exact=True).first.wait_for(state="visible", timeout=90_000)
        found.append(name)
    if group:
        # Each node's status (Materialized, Failed, ...) arrives after its name.
        page.get_by_text(re.compile(r"^(Materialized|Failed|Never materialized)$")).first.wait_for(timeout=90_000)
    # Let the graph finish its layout animation and the groups their status counts.
    page.wait_for_timeout(1500 if group else 4000)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return found


def asset_page_text(page, base_url: str, asset_path: str) -> str:
    page.goto(f"{base_url}/assets/{asset_path}")
    _dismiss_dialogs(page)
    page.get_by_text("overall/cycle_time_median_days").first.wait_for(timeout=90_000)
    return page.inner_text("body")


def report_screenshot(page, report: Path, path: Path) -> None:
    page.goto(report.as_uri())
    page.wait_for_load_state()
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(PROJECT / "docs" / "images"))
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    out = Path(args.out)
    landing = PROJECT / "data" / "sample" / "landing"
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "warehouse"
        env = instance_env(Path(tmp) / "dagster_home", landing, warehouse)
        done = crosswalk_run(env, landing, warehouse)
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
            return 1
        with webserver(env, free_port()) as base_url, browser_page(1600, 1300) as page:
            lineage_screenshot(page, base_url, out / "lineage.png")
            lineage_screenshot(page, base_url, out / "lineage_marts.png", group="marts")
        with browser_page(1100, 1400) as page:
            report_screenshot(page, warehouse / "report.html", out / "report.png")
    print(f"Wrote {out / 'lineage.png'}, {out / 'lineage_marts.png'} and {out / 'report.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
