"""``tunegate replay build CONFIG.yaml``: write the replay file a trainer config asks for.

The trainer builds it on demand too; this command builds it ahead (e.g. to review it or run
``tunegate data check`` on it) and, with ``--check-leakage``, runs the leakage engine on it
against every eval suite the config knows (its ``eval_suites`` and the packaged general suites).
Exit status: 0 built (and clean), 1 leakage found, 2 usage or data error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from tunegate.harness.errors import TunegateError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunegate replay",
        description="Replay (rehearsal) data: the base model's own answers to a general prompt pool, "
        "mixed into training by a config's `replay:` section (docs/training.md, 'Replay').",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    build = sub.add_parser(
        "build",
        help="answer the config's replay pool with its base (cached) and write the replay JSONL",
        description="Build (or reuse, when current) the replay file of a trainer config.",
    )
    build.add_argument("config", help="trainer config YAML with a replay section")
    build.add_argument("--force", action="store_true", help="rebuild even when the file is current")
    build.add_argument(
        "--cache-dir",
        default=None,
        help="cache directory (default: $TUNEGATE_CACHE_DIR or ~/.cache/tunegate, the one tunegate train uses)",
    )
    build.add_argument(
        "--check-leakage",
        action="store_true",
        help="run the leakage check on the replay file against every eval suite; exit 1 on any overlap",
    )
    return parser


def eval_suites_for(cfg_eval_suites: list[str]) -> list[object]:
    """Every eval suite a config knows: its ``eval_suites`` (files or folders) + the general suites."""
    from tunegate.harness import general
    from tunegate.harness.data import load_suite
    from tunegate.harness.leakage import discover_suites

    suites: list[object] = list(general.suites())
    for entry in cfg_eval_suites:
        p = Path(entry)
        if p.is_dir():
            suites += discover_suites(p)
        elif p.is_file():
            suites.append(load_suite(p, name=p.stem))
    return suites


def kind_counts(counts: Mapping[str, Mapping[str, int]]) -> str:
    """``arithmetic 14 kept (14 verified), 41 wrong, 5 cut; ...`` in pool order."""
    parts = [
        f"{kind} {c.get('kept', 0)} kept ({c.get('verified', 0)} verified), "
        f"{c.get('wrong', 0)} wrong, {c.get('cut', 0)} cut"
        for kind, c in counts.items()
    ]
    return "; ".join(parts) or "-"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tunegate.harness.models.resolve import cache_dir_option
    from tunegate.trainers.config import load_config
    from tunegate.trainers.replay import build_replay, check_replay_leakage

    try:
        cache_dir_option(args.cache_dir)  # before the base loads: a bad one failed after it
        cfg = load_config(args.config)
        if cfg.replay is None:
            print(
                f"tunegate replay: {args.config} has no replay section; add `replay:` with its keys "
                "(docs/training.md, 'Replay') or train without it",
                file=sys.stderr,
            )
            return 2
        data = build_replay(cfg, cache_dir=args.cache_dir, force=args.force)
        state = "built" if data.built else "up to date"
        wrong = (
            f"; {data.n_wrong} dropped: wrong by the pool's answer key or instruction check"
            if data.verify
            else "; answers not checked against the answer key: replay.verify is false"
        )
        print(
            f"replay file {state}: {data.path}\n"
            f"  {data.n_examples} examples from {data.n_prompts} prompts of {data.pool} "
            f"({data.n_dropped} dropped: cut at max_new_tokens={cfg.replay.max_new_tokens} or empty{wrong})\n"
            f"  by kind: {kind_counts(data.counts)}\n"
            f"  fingerprint {data.fingerprint[:16]}, sha256 {data.sha256[:16]}"
        )
        if not args.check_leakage:
            return 0
        suites = eval_suites_for(cfg.eval_suites)
        report = check_replay_leakage(data.path, suites)
    except TunegateError as exc:
        print(f"tunegate replay: {exc}", file=sys.stderr)
        return 2
    flagged = report.flagged()
    per_suite = ", ".join(f"{name} {sum(report.counts(name).values())}" for name in report.suites)
    print(
        f"leakage check: {len(flagged)} of {report.n_items} eval items overlap the replay file "
        f"(items checked per suite: {per_suite})"
    )
    for flag in flagged[:10]:
        print(f"  {flag.suite}/{flag.id}: {flag.flag} ({flag.source}): {flag.reason}")
    return 1 if flagged else 0
