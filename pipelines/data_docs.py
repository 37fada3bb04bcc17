"""Great Expectations Data Docs pages, one folder per run, rendered by GX's own renderers."""

import html
from functools import cache
from pathlib import Path

import pandas as pd

from pipelines.gx_bridge import SuiteOutcome
from pipelines.gx_import import import_great_expectations


def data_docs_dir(warehouse_dir: Path, run_id: str) -> Path:
    folder = warehouse_dir / "quality" / "data_docs" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    # unexpected values in the pages may be personal data
    (warehouse_dir / "quality").chmod(0o700)
    return folder


@cache
def _page_renderer():
    """GX's page renderer and view, made once: each view builds its own Jinja environment, which
    compiles the templates again (0.7 s of a sample run's 1.6 s of Data Docs)."""
    import_great_expectations()
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    return ValidationResultsPageRenderer(), DefaultJinjaPageView()


def write_data_docs(warehouse_dir: Path, run_id: str, outcome: SuiteOutcome) -> Path:
    """Write the suite's validation page(s) and refresh the run's index; returns the index path."""
    folder = data_docs_dir(warehouse_dir, run_id)
    renderer, view = _page_renderer()
    for chunk, result in enumerate(outcome.gx_results):
        suffix = f".part{chunk + 1}" if len(outcome.gx_results) > 1 else ""
        status = "passed" if result.success else "FAILED"
        page = folder / f"{outcome.suite}{suffix}.{status}.html"
        for stale in folder.glob(f"{outcome.suite}{suffix}.*.html"):
            stale.unlink()
        for expectation in result.results:
            expectation.result = _without_na(expectation.result)
        page.write_text(view.render(renderer.render(result)))
    return write_index(folder, run_id)


def _without_na(value):
    """The result with pandas' NA as None. A nullable column's nulls come back from pandas as NA,
    and GX's renderer tests each unexpected value for truth, which NA refuses ("boolean value of
    NA is ambiguous"): the page then lost its table of unexpected values, with an error logged."""
    if value is pd.NA:
        return None
    if isinstance(value, dict):
        return {k: _without_na(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_na(v) for v in value]
    return value


def write_index(folder: Path, run_id: str) -> Path:
    pages = sorted(p for p in folder.glob("*.html") if p.name != "index.html")
    items = "\n".join(
        f'<li class="{"failed" if ".FAILED." in p.name else "passed"}"><a href="{html.escape(p.name)}">'
        f"{html.escape(p.name.rsplit('.', 2)[0])}</a> — {'FAILED' if '.FAILED.' in p.name else 'passed'}</li>"
        for p in pages
    )
    index = folder / "index.html"
    index.write_text(
        "<!doctype html><meta charset='utf-8'><title>Crosswalk data docs</title>"
        "<style>body{font-family:sans-serif;margin:2em}.failed{color:#b00}.passed{color:#060}</style>"
        f"<h1>Data quality suites, run {html.escape(run_id)}</h1><ul>{items}</ul>"
    )
    return index
