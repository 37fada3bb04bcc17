"""The Dagster UI in a real browser: after a materialisation, the asset graph shows the marts and
the asset page shows each headline metric's latest value.

Playwright (from PyPI) drives Debian's chromium (/usr/bin/chromium); no browser is downloaded.
Skipped when that chromium is absent (install it with `apt-get install chromium`; .ci/run does).
"""

import importlib.util
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PROJECT, SAMPLE_LANDING

_spec = importlib.util.spec_from_file_location("screenshots", PROJECT / "docs" / "screenshots.py")
screenshots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(screenshots)

pytestmark = pytest.mark.skipif(not screenshots.CHROMIUM.exists(),
                                reason=f"{screenshots.CHROMIUM} is absent: apt-get install chromium to run the browser test")


@pytest.fixture(scope="module")
def materialised(tmp_path_factory) -> dict:
    """A temporary Dagster instance and warehouse holding one nightly run on the sample."""
    tmp = tmp_path_factory.mktemp("browser")
    warehouse = tmp / "warehouse"
    env = screenshots.instance_env(tmp / "dagster_home", SAMPLE_LANDING, warehouse)
    done = screenshots.crosswalk_run(env, SAMPLE_LANDING, warehouse)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"env": env, "tmp": tmp, "warehouse": warehouse}


def test_asset_graph_shows_the_materialised_marts(materialised):
    shot = materialised["tmp"] / "lineage_marts.png"
    with screenshots.webserver(materialised["env"], screenshots.free_port()) as base_url, \
            screenshots.browser_page(1600, 1300) as page:
        found = screenshots.lineage_screenshot(page, base_url, shot, group="marts")
        expect(page.get_by_text("Materialized", exact=True)).to_have_count(len(screenshots.MARTS), timeout=60_000)
        groups = screenshots.lineage_screenshot(page, base_url, materialised["tmp"] / "lineage.png")
        asset_page = screenshots.asset_page_text(page, base_url, "marts/order_to_delivery_monthly")
    assert found == list(screenshots.MARTS)
    assert groups == list(screenshots.GROUPS)
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for key in ("overall/cycle_time_median_days", "overall/order_accuracy_rate", "overall/cost_per_order"):
        assert key in asset_page, key
    assert "Owners\ndata\nKinds\nDuckDB\nSQL" in asset_page


def test_the_report_renders_offline(materialised):
    shot = Path(materialised["tmp"]) / "report.png"
    with screenshots.browser_page(1100, 1400) as page:
        page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
        screenshots.report_screenshot(page, materialised["warehouse"] / "report.html", shot)
        svgs = page.locator("svg").count()
        heading = page.locator("h1").inner_text()
    assert (svgs, heading) == (6, "Crosswalk run report")
    assert shot.stat().st_size > 20_000
