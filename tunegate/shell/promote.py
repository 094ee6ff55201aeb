"""``tunegate promote``: record a gated adapter as the project's production model.

    tunegate promote RESULTS.json [--candidate LABEL] [--adapter PATH] [--project DIR] [--no-stamp]

Only a run whose verdict for the candidate is PASS is promoted, and only the adapter that run
gated: its files' content fingerprint now must equal the one results.json recorded (an adapter
edited or retrained since the run is refused). On success it writes ``tunegate-production.json``
in the project's root (``tunegate.harness.production``) and stamps the adapter's model card with
the gate result and the promotion (fingerprint, date, results.json digest; ``--no-stamp`` leaves
the card alone). Every check runs before anything is written.

Exit codes: 0 promoted; 1 refused (the run does not justify promoting this adapter); 2 usage or
input error (a missing or invalid results.json, an unknown label).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tunegate.harness.errors import ConfigError, DataError, TunegateError
from tunegate.harness.fingerprint import HashMemo, content_fingerprint, sha256_file
from tunegate.harness.production import (
    RECORD_NAME,
    SCHEMA,
    ProductionRecord,
    ResultsDigest,
    project_dir,
    read_record,
    record_path,
    relative_to,
    write_record,
)
from tunegate.harness.record import CandidateVerdict, ModelRecord, RunRecord, RunVerdict
from tunegate.harness.terminal import terminal_line
from tunegate.reports.files import load_results
from tunegate.reports.stamp import plan_stamp

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class Refused(TunegateError):
    """The run does not justify promoting this adapter (exit 1)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tunegate promote",
        description=(
            f"Record the adapter a PASS run gated as the project's production model ({RECORD_NAME} in the "
            "project root: the folder of the pyproject.toml with [tool.tunegate], else the current one), and "
            "stamp its model card with the promotion. Refused (exit 1) when the candidate's verdict is not "
            "PASS or the adapter's files are not the ones the run gated."
        ),
    )
    p.add_argument("results", type=Path, help="results.json of the run that gated the adapter")
    p.add_argument(
        "--candidate", metavar="LABEL", help="the candidate to promote (required when the run gated several)"
    )
    p.add_argument(
        "--adapter",
        type=Path,
        metavar="PATH",
        help="the adapter dir to promote (default: the path the run recorded); a byte-identical copy is accepted",
    )
    p.add_argument(
        "--project", type=Path, metavar="DIR", help=f"where {RECORD_NAME} goes (default: the project root)"
    )
    p.add_argument("--no-stamp", action="store_true", help="do not write the promotion into ADAPTER/README.md")
    return p


def pick_candidate(record: RunRecord, label: str | None, where: str) -> ModelRecord:
    """The candidate named ``label``, or the run's only one."""
    cands = record.models.candidates
    labels = ", ".join(repr(c.label) for c in cands)
    if label is not None:
        for c in cands:
            if c.label == label:
                return c
        raise ConfigError(f"{where} has no candidate {label!r}; its candidates: {labels or 'none'}")
    if not cands:
        raise ConfigError(f"{where} gated no candidate: there is nothing to promote")
    if len(cands) > 1:
        raise ConfigError(f"{where} gated {len(cands)} candidates ({labels}); say which with --candidate LABEL")
    return cands[0]


def check_verdict(record: RunRecord, label: str, where: str) -> None:
    """Refuse unless the candidate's verdict is PASS in a run that completed."""
    run = record.verdict
    mine: CandidateVerdict | RunVerdict | None = run.candidates.get(label)
    if mine is None and len(record.models.candidates) == 1:
        mine = run  # a run of one candidate: its verdict is the run's
    if run.status == "ERROR":
        raise Refused(f"{where}: the run did not complete (verdict ERROR: {run.reason}); gate the adapter again")
    if mine is None or mine.status != "PASS":
        status = "unknown" if mine is None else mine.status
        reason = "" if mine is None else f": {mine.reason}"
        raise Refused(
            f"{where}: candidate {label!r} did not pass (verdict {status}{reason}); only a PASS run is promoted"
        )


def check_fingerprint(candidate: ModelRecord, adapter: Path, where: str) -> str:
    """The adapter's content fingerprint; refused unless it is the one the run recorded."""
    recorded = candidate.content_fingerprint
    if not recorded:
        raise Refused(
            f"{where}: records no content fingerprint for {candidate.label!r} (models.candidates[].content_fingerprint), "
            "so it cannot prove which adapter it gated; gate the adapter dir with this tunegate and promote that run"
        )
    now = content_fingerprint(adapter, HashMemo(None))
    if now != recorded:
        raise Refused(
            f"the adapter at {adapter} is not the one {where} gated as {candidate.label!r}: its fingerprint is now "
            f"{now[:12]}, the run's {recorded[:12]} (edited or retrained since the run); gate it again and promote that run"
        )
    return now


def _adapter_dir(candidate: ModelRecord, given: Path | None, root: Path) -> Path:
    """``--adapter``, else the path the run recorded: from the current folder, else from the
    project root (where runs usually start)."""
    if given is not None:
        if not given.is_dir():
            raise ConfigError(f"--adapter {given}: not a directory; pass the adapter folder the run gated")
        return given
    recorded = candidate.spec.adapter
    for folder in ([Path(recorded), root / recorded] if recorded else []):
        if folder.is_dir():
            return folder
    raise ConfigError(
        f"candidate {candidate.label!r}: its adapter {recorded!r} (as the run recorded it) is not a directory "
        f"here nor under {root}; pass the adapter folder with --adapter PATH"
    )


def promote(
    results: Path,
    *,
    label: str | None = None,
    adapter: Path | None = None,
    project: Path | None = None,
    stamp: bool = True,
    now: float | None = None,
) -> tuple[ProductionRecord, Path, Path | None]:
    """Check, then write the production record (and stamp the card); returns (record, its path,
    the stamped card or None). Raises ``Refused`` or another ``TunegateError`` before writing."""
    where = str(results)
    if project is not None and not project.is_dir():  # a mistyped --project was created, record and all
        raise ConfigError(
            f"--project {project}: {'not a directory' if project.exists() else 'no such directory'}; "
            f"pass the project folder {RECORD_NAME} goes in (default: the project root)"
        )
    root = project if project is not None else project_dir()
    if record_path(root).is_dir():  # the atomic write failed naming its temporary file
        raise ConfigError(
            f"{record_path(root)} is a directory where the production record (a file) belongs; move it away"
        )
    record = load_results(results)
    candidate = pick_candidate(record, label, where)
    check_verdict(record, candidate.label, where)
    folder = _adapter_dir(candidate, adapter, root)
    fingerprint = check_fingerprint(candidate, folder, where)
    digest = sha256_file(results)
    base = record.models.base
    entry = ProductionRecord(
        schema=SCHEMA,
        adapter=relative_to(folder, root),
        label=candidate.label,
        fingerprint=fingerprint,
        promoted_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now)),
        results=ResultsDigest(path=relative_to(results, root), sha256=digest),
        verdict="PASS",
        base=base.fingerprint or base.spec.base or "unknown",
    )
    plan = plan_stamp(record, folder, results_sha256=digest, promotion=entry) if stamp else None
    path = write_record(root, entry)
    return entry, path, plan.write() if plan is not None else None


def _previous(project: Path) -> tuple[ProductionRecord | None, str]:
    """The record promote replaces, or why the one there cannot be read ('' when there is none)."""
    path = record_path(project)
    if not path.is_file():
        return None, ""
    try:
        return read_record(path), ""
    except DataError as exc:
        return None, "; ".join(exc.problems)
    except TunegateError as exc:
        return None, str(exc)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tunegate promote``; returns the process exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage and the error
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    root = args.project if args.project is not None else project_dir()
    before, unreadable = _previous(root)
    try:
        entry, path, card = promote(
            args.results, label=args.candidate, adapter=args.adapter, project=root, stamp=not args.no_stamp
        )
    except Refused as exc:
        print(terminal_line(f"tunegate promote: refused: {exc}"), file=sys.stderr)
        return EXIT_REFUSED
    except DataError as exc:
        print(terminal_line("tunegate promote: " + "; ".join(f"{exc.path}: {p}" for p in exc.problems)), file=sys.stderr)
        return EXIT_USAGE
    except TunegateError as exc:
        print(terminal_line(f"tunegate promote: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(terminal_line(f"tunegate promote: {exc.filename or ''}: {exc.strerror or exc}"), file=sys.stderr)
        return EXIT_USAGE
    print(terminal_line(
        f"promoted {entry.label!r} ({entry.adapter}, fingerprint {entry.fingerprint[:12]}) from {args.results} "
        f"(PASS, results.json sha256 {entry.results.sha256[:12]}) at {entry.promoted_at}"
    ))
    if before is not None and before.fingerprint != entry.fingerprint:
        print(terminal_line(f"it replaces {before.label!r} ({before.adapter}), promoted at {before.promoted_at}"))
    if unreadable:  # a malformed record (a merge conflict, a hand edit) was replaced without a word
        print(terminal_line(f"it replaces {path}, which could not be read: {unreadable}"))
    print(terminal_line(f"wrote {path}" + (f" and stamped {card}" if card is not None else "")))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
