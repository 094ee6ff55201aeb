"""``tunegate report``: render results.json, stamp an adapter's card, or compare two runs.

    tunegate report RESULTS.json [-o DIR] [--stamp ADAPTER_DIR] [--report-url URL]
    tunegate report --compare OLD.json NEW.json [-o DIR]

Exit codes: 0 done, 2 usage or input error (missing file, invalid JSON, newer schema_version,
an adapter that results.json did not gate). ``--stamp`` matches the adapter by content and
refuses before any file is written; when the adapter is the project's production model
(tunegate-production.json, written by ``tunegate promote``) the card records the promotion too.
The gate's own verdict does not change the exit code: pytest's exit code is the gate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tunegate.harness.errors import DataError, TunegateError
from tunegate.harness.fingerprint import sha256_file
from tunegate.harness.production import ProductionRecord, project_dir, read_record, record_path
from tunegate.harness.terminal import terminal_line
from tunegate.reports import write_reports
from tunegate.reports.compare_runs import compare_runs, render_compare_html, render_compare_markdown
from tunegate.reports.files import load_results, write_atomic
from tunegate.reports.markdown import headline
from tunegate.reports.stamp import plan_stamp

EXIT_OK = 0
EXIT_USAGE = 2


def _report_url(value: str) -> str:
    """An http(s) URL or a relative path: summary.md links the HTML report with it as written."""
    fix = "give an http(s) URL (e.g. https://ci.example/runs/42) or a relative path such as report.html"
    if not value.strip() or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a link (empty, or holds spaces); {fix}")
    scheme = urlsplit(value).scheme
    if scheme and scheme.lower() not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"{value!r} is a {scheme}: link, not a web page; {fix}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tunegate report",
        description="Render report.html and summary.md from a results.json, or compare two runs.",
    )
    p.add_argument("results", nargs="?", type=Path, help="results.json written by `pytest --report DIR`")
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        default=None,
        help="output directory (default: the directory of RESULTS.json)",
    )
    p.add_argument(
        "--stamp", type=Path, metavar="ADAPTER_DIR", help="write the gate result into ADAPTER_DIR/README.md (and its promotion, when "
        "tunegate-production.json names this adapter)"
    )
    p.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("OLD", "NEW"),
        help="show what changed between two results.json",
    )
    p.add_argument(
        "--report-url",
        metavar="URL",
        type=_report_url,
        help="where summary.md should link the HTML report (e.g. the CI run): an http(s) URL or a relative path",
    )
    return p


def _error(message: str) -> int:
    text = f"tunegate report: error: {message}"
    print("\n".join(terminal_line(line) for line in text.split("\n")), file=sys.stderr)
    return EXIT_USAGE


def _one_line(exc: TunegateError) -> str:
    if isinstance(exc, DataError):
        return "; ".join(f"{exc.path}: {p}" for p in exc.problems)
    return str(exc)


def _compare(old_path: Path, new_path: Path, out: Path | None) -> int:
    if old_path.exists() and old_path.resolve() == new_path.resolve():  # every row read 'no change'
        return _error(f"--compare {old_path} {new_path}: OLD and NEW are the same file; pass two runs' results.json")
    result = compare_runs(load_results(old_path), load_results(new_path))
    text = render_compare_markdown(result)
    if out is None:
        sys.stdout.write(text)
        return EXIT_OK
    md = write_atomic(out / "compare.md", text)
    html = write_atomic(out / "compare.html", render_compare_html(result))
    sys.stdout.write(text)
    print(f"wrote {md} and {html}")
    return EXIT_OK


def _production() -> ProductionRecord | None:
    """The project's production record, when there is a readable one (a stamp records the
    promotion of the adapter it names); a malformed record is said, not fatal to the report."""
    path = record_path(project_dir())
    if not path.exists():
        return None
    try:
        return read_record(path)
    except TunegateError as exc:
        print(terminal_line(f"tunegate report: note: the promotion is not recorded on the card: {_one_line(exc)}"), file=sys.stderr)
        return None


def _report(path: Path, out: Path | None, stamp: Path | None, report_url: str | None) -> int:
    results = load_results(path)
    # Every check of --stamp runs before anything is written: a refusal leaves no partial output.
    plan = (
        plan_stamp(results, stamp, results_sha256=sha256_file(path), promotion=_production())
        if stamp is not None
        else None
    )
    written = write_reports(results, out if out is not None else path.parent, report_href=report_url)
    print(terminal_line(headline(results)))
    print(f"wrote {written['html']} and {written['markdown']}")
    if plan is not None:
        print(f"stamped {plan.write()}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tunegate report``; returns the process exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the error
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.compare is not None:
            if args.results is not None or args.stamp is not None or args.report_url is not None:
                return _error(  # --report-url was ignored here: compare.md links no report
                    "--compare takes OLD and NEW only (and -o); drop RESULTS.json/--stamp/--report-url "
                    "or run them separately"
                )
            return _compare(args.compare[0], args.compare[1], args.out)
        if args.results is None:
            return _error("pass RESULTS.json (or --compare OLD NEW); see `tunegate report --help`")
        return _report(args.results, args.out, args.stamp, args.report_url)
    except TunegateError as exc:
        return _error(_one_line(exc))
    except OSError as exc:
        return _error(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))


if __name__ == "__main__":
    raise SystemExit(main())
