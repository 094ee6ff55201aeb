"""``tunegate data check TRAIN.jsonl [--eval EVAL.jsonl ...] [--dev DEV.jsonl] [--report DIR]``.

Exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage error (e.g. a missing file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tunegate.harness.datacheck import check_data


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunegate data", description="Check fine-tuning data before training."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser(
        "check",
        help="schema, size, duplicates, train/dev/eval overlap, giveaway patterns, PII, review sheet",
        description="Check a training JSONL file (and its dev and eval files). Exit status: 0 no errors, "
        "1 errors found, 2 usage error. See docs/data.md.",
    )
    check.add_argument(
        "train", help="training file: chat JSONL, one {'messages': [...]} per line ending with the answer"
    )
    check.add_argument(
        "--eval", action="append", default=[], metavar="EVAL.jsonl", help="eval suite (repeatable)"
    )
    check.add_argument("--dev", default=None, metavar="DEV.jsonl", help="dev file (chat JSONL like train)")
    check.add_argument(
        "--report", default=None, metavar="DIR", help="write DIR/datacheck.json and DIR/review.html"
    )
    check.add_argument("--seed", type=int, default=0, help="seed of the review sample (default 0)")
    check.add_argument("--sample", type=int, default=100, help="samples in the review sheet (default 100)")
    check.add_argument(
        "--phone-region",
        default="US",
        help="region for phone numbers written without +country code (default US; 'none': international only)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    given = [("TRAIN", args.train), *(("--eval", e) for e in args.eval), ("--dev", args.dev), ("--report", args.report)]
    empty = [flag for flag, value in given if value is not None and not value.strip()]
    if empty:  # '' (an unset $VAR) read the current folder as a file, or dropped --dev/--report without a word
        for flag in empty:
            print(f"tunegate data check: {flag} is an empty path; name the file (or folder) or leave it out", file=sys.stderr)
        return 2
    paths = [args.train, *args.eval, *([args.dev] if args.dev else [])]
    unusable = [(p, _not_a_file(Path(p))) for p in paths]
    if any(why for _, why in unusable):
        for p, why in unusable:
            if why:
                print(f"tunegate data check: {p}: {why}", file=sys.stderr)
        return 2
    seen: dict[Path, str] = {}
    for p in paths:  # by the file, not the spelling: t.jsonl and ./t.jsonl are one file
        resolved = Path(p).resolve()
        if resolved in seen:
            print(
                f"tunegate data check: {p} is given twice (also as {seen[resolved]}); train, dev and eval must be "
                "different files",
                file=sys.stderr,
            )
            return 2
        seen[resolved] = p
    if args.sample < 1:
        print(f"tunegate data check: --sample must be >= 1, got {args.sample}", file=sys.stderr)
        return 2
    region = None if args.phone_region.lower() == "none" else args.phone_region.upper()
    if region is not None and region not in _phone_regions():
        print(
            f"tunegate data check: --phone-region {args.phone_region!r} is not a region phone numbers know; "
            "give a two-letter ISO 3166 code such as US, GB, DE or IN, or 'none' (international numbers only)",
            file=sys.stderr,
        )
        return 2
    report, html = check_data(
        args.train, evals=args.eval, dev=args.dev, seed=args.seed, sample=args.sample, phone_region=region
    )
    if args.report:
        report.write(args.report, html)
    print(report.summary())
    return report.exit_code


def _not_a_file(path: Path) -> str:
    """Why ``path`` cannot be read as a data file ('' when it can)."""
    try:
        if path.is_file():
            return ""
        if path.is_dir():
            return "is a directory; pass a .jsonl file inside it"
        if path.exists():
            return "is not a regular file (a pipe, socket or device); pass a .jsonl file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return "no such file"


def _phone_regions() -> frozenset[str]:
    import phonenumbers

    return frozenset(phonenumbers.SUPPORTED_REGIONS)
