"""Reports rendered from the run record (results.json): a self-contained HTML page and a Markdown summary.

Render a saved run again (``tunegate report`` does the same)::

    from pathlib import Path
    from tunegate.reports import load_results, write_reports

    paths = write_reports(load_results("out/results.json"), Path("reports/out"))  # {"html": ..., "markdown": ...}
"""

from __future__ import annotations

from pathlib import Path

from tunegate.harness.record import RunRecord
from tunegate.reports.compare_runs import compare_runs, render_compare_html, render_compare_markdown
from tunegate.reports.files import SCHEMA_VERSION, load_results, write_atomic
from tunegate.reports.format import clip_record
from tunegate.reports.html import render_html
from tunegate.reports.markdown import headline, render_markdown
from tunegate.reports.stamp import stamp_adapter

HTML_NAME = "report.html"
MARKDOWN_NAME = "summary.md"


def write_reports(record: RunRecord, out_dir: Path, *, report_href: str | None = None) -> dict[str, Path]:
    """Write ``report.html`` and ``summary.md`` into ``out_dir`` (each atomically).

    ``report_href`` is the link the summary gives to the HTML report; by default the relative
    ``report.html`` next to it. Returns ``{"html": path, "markdown": path}``.
    """
    record = clip_record(record)  # docs/reports.md: text fields over 20,000 characters are clipped
    out = Path(out_dir)
    html_path = write_atomic(out / HTML_NAME, render_html(record))
    md_path = write_atomic(out / MARKDOWN_NAME, render_markdown(record, report_href=report_href or HTML_NAME))
    return {"html": html_path, "markdown": md_path}


__all__ = [
    "HTML_NAME",
    "MARKDOWN_NAME",
    "SCHEMA_VERSION",
    "compare_runs",
    "headline",
    "load_results",
    "render_compare_html",
    "render_compare_markdown",
    "render_html",
    "render_markdown",
    "stamp_adapter",
    "write_atomic",
    "write_reports",
]
