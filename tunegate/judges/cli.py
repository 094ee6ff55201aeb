"""``tunegate judge ...`` (also ``python -m tunegate.judges ...``): calibrate judges, check rubrics.

tunegate judge calibrate [--provider local] [--model M] [--rubric support_style] [--pairs 40]
tunegate judge validate tunegate/judges/rubrics/my_rubric.md
tunegate judge rubrics
tunegate judge providers
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from tunegate.harness.errors import ConfigError, TunegateError
from tunegate.judges.budget import Budget
from tunegate.judges.health import MIN_KAPPA
from tunegate.judges.providers import PROVIDERS
from tunegate.judges.rubric import known_rubrics, load_rubric


def _option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(
            f"expected KEY=VALUE, got {text!r} (e.g. --option base_url=http://localhost:8000/v1)"
        )
    key, raw = text.split("=", 1)
    if not key.strip():  # the provider said "(top level): unknown option", naming nothing
        raise argparse.ArgumentTypeError(
            f"{text!r} has no KEY before '=' (e.g. --option base_url=http://localhost:8000/v1)"
        )
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _options(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """--option pairs as a dict; a key given twice is refused (the last one won without a word)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ConfigError(f"--option {key} is given twice ({out[key]!r} and {value!r}); keep one")
        out[key] = value
    return out


def _count(least: int) -> Any:
    """An argparse type: a whole number >= ``least`` (the message echoes the bad value)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be >= {least}, got {value}")
        return value

    return parse


def _kappa(text: str) -> float:
    """Cohen's kappa lies in [-1, 1]: a threshold outside it makes every judge (un)reliable."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not -1.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"Cohen's kappa lies in [-1, 1], got {text!r} (the default is {MIN_KAPPA})"
        )
    return value


def _prices(path: str) -> dict[str, tuple[float, float]]:
    """A YAML/JSON file ``{model: [input_usd_per_mtok, output_usd_per_mtok]}``."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read the price file {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, list | tuple) and len(v) == 2 for v in data.values()
    ):
        raise argparse.ArgumentTypeError(
            f"{path}: expected a mapping of model name to [input_usd_per_mtok, output_usd_per_mtok]"
        )
    bad = next(
        (
            k
            for k, v in data.items()
            if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        ),
        None,
    )
    if bad is not None:
        raise argparse.ArgumentTypeError(
            f"{path}: the prices of {bad!r} must be two numbers, got {data[bad]!r}"
        )
    return {str(k): (float(v[0]), float(v[1])) for k, v in data.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunegate judge", description="LLM-as-judge tools: calibration and rubrics."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    cal = sub.add_parser("calibrate", help="measure a judge's agreement with gold labels (Cohen's kappa)")
    cal.add_argument("--provider", default="local", help="judge provider (default: local, offline)")
    cal.add_argument("--model", default=None, help="judge model (default: the provider's default)")
    cal.add_argument("--rubric", default="support_style", help="rubric name or path (default: support_style)")
    cal.add_argument(
        "--set",
        dest="set_path",
        default=None,
        help="calibration JSONL (default: tunegate/judges/calibration/<rubric>.jsonl)",
    )
    cal.add_argument(
        "--pairs",
        type=_count(0),
        default=40,
        help="pairs judged in both orders for position consistency (0: skip)",
    )
    cal.add_argument(
        "--option",
        action="append",
        type=_option,
        default=[],
        metavar="KEY=VALUE",
        help="provider option (repeatable)",
    )
    cal.add_argument("--concurrency", type=_count(1), default=None, help="provider calls in flight")
    cal.add_argument(
        "--cache-dir",
        default=None,
        help="tunegate cache dir (default: $TUNEGATE_CACHE_DIR or ~/.cache/tunegate)",
    )
    cal.add_argument(
        "--no-cache", action="store_true", help="judge everything afresh (the record is still saved)"
    )
    cal.add_argument("--max-cost-usd", type=float, default=None, help="stop sending requests past this cost")
    cal.add_argument(
        "--max-tokens-total", type=int, default=None, help="stop sending requests past this many tokens"
    )
    cal.add_argument(
        "--prices",
        type=_prices,
        default=None,
        metavar="FILE",
        help="YAML {model: [in, out]} USD per million tokens",
    )
    cal.add_argument(
        "--min-kappa", type=_kappa, default=MIN_KAPPA, help=f"reliability threshold (default {MIN_KAPPA})"
    )
    cal.add_argument("--require-reliable", action="store_true", help="exit 1 when kappa is below --min-kappa")
    cal.add_argument("--json", action="store_true", help="print the calibration record as JSON")

    val = sub.add_parser("validate", help="check rubric files; print their name and content hash")
    val.add_argument("paths", nargs="+", help="rubric names or .md files")

    sub.add_parser("rubrics", help="list the built-in rubrics")
    sub.add_parser("providers", help="list the registered judge providers")
    return parser


def _calibrate(args: argparse.Namespace) -> int:
    from tunegate.judges.calibrate import calibrate, format_record
    from tunegate.judges.judge import Judge

    budget = Budget(
        max_tokens_total=args.max_tokens_total, max_cost_usd=args.max_cost_usd, prices=args.prices or {}
    )
    judge = Judge(
        args.provider,
        args.model,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        concurrency=args.concurrency,
        budget=budget,
        options=_options(args.option),
        min_kappa=args.min_kappa,
    )
    try:
        record, path = calibrate(judge, args.rubric, path=args.set_path, n_pairs=args.pairs)
    finally:
        judge.close()
    if args.json:
        print(json.dumps({**record.to_dict(), "record_path": str(path)}, indent=2, sort_keys=True))
    else:
        print(format_record(record, args.min_kappa))
        print(f"  saved to {path}")
    reliable = record.kappa is not None and record.kappa >= args.min_kappa
    return 1 if args.require_reliable and not reliable else 0


def _validate(paths: Sequence[str]) -> int:
    bad = 0
    for raw in paths:
        try:
            r = load_rubric(raw)
        except TunegateError as exc:
            print(str(exc), file=sys.stderr)
            bad += 1
            continue
        print(
            f"ok  {r.path}: rubric {r.name!r}, scale {r.scale.min}-{r.scale.max}, "
            f"{len(r.spec.criteria)} criteria, hash {r.short_hash}"
        )
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    """Run a ``judge`` subcommand; domain errors print one message and return 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "calibrate":
            return _calibrate(args)
        if args.command == "validate":
            return _validate(args.paths)
        if args.command == "rubrics":
            for name in known_rubrics():
                r = load_rubric(name)
                print(f"{name}\t{r.short_hash}\t{r.spec.description}")
            return 0
        if args.command == "providers":
            print("\n".join(PROVIDERS.names()))
            return 0
    except TunegateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2
