"""The ``tunegate`` command: train, report, promote, judge, cache, data, replay, plugins. Each subcommand
lives in its package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from tunegate.harness.errors import TunegateError

Main = Callable[[list[str]], int]


# Each subcommand's module is imported only when it runs; the imports are spelled out (not a
# table of module names) so the dependency is visible to readers and tests/test_architecture.py.
def _train(argv: list[str]) -> int:
    from tunegate.trainers.cli import main

    return int(main(argv))


def _report(argv: list[str]) -> int:
    from tunegate.reports.cli import main

    return int(main(argv))


def _judge(argv: list[str]) -> int:
    from tunegate.judges.cli import main

    return int(main(argv))


def _data(argv: list[str]) -> int:
    from tunegate.harness.datacheck.cli import main

    return int(main(argv))


def _replay(argv: list[str]) -> int:
    from tunegate.trainers.replay_cli import main

    return int(main(argv))


def _promote(argv: list[str]) -> int:
    from tunegate.shell.promote import main

    return int(main(argv))


def _usage() -> str:
    lines = ["usage: tunegate COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<8} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    lines += [
        "",
        "Suites run under pytest: pytest suites/ --base BASE --candidate ADAPTER_DIR [--report DIR]",
        "Run 'tunegate COMMAND --help' for a command's options.",
    ]
    return "\n".join(lines)


def cache_main(argv: list[str]) -> int:
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.models.resolve import cache_dir_option
    from tunegate.judges.cache import JudgeCache

    parser = argparse.ArgumentParser(
        prog="tunegate cache",
        description="Show or clear the response cache and the judge cache. `clear` deletes their "
        "files without opening them, so it also removes a corrupt cache.",
    )
    parser.add_argument("action", choices=["stats", "clear"])
    parser.add_argument("--cache-dir", default=None, help="cache directory (default: ~/.cache/tunegate)")
    args = parser.parse_args(argv)
    root = cache_dir_option(args.cache_dir)
    if not root.exists():
        print(f"no cache directory at {root}: nothing cached there, nothing to {args.action}")
        return 0
    responses, judgments = ResponseCache(root), JudgeCache(root)
    if args.action == "stats":
        s = responses.stats()
        size_mb = float(str(s["bytes"])) / 1e6
        print(f"cache: {s['path']}\nentries: {s['entries']}\nmodels: {s['models']}\nsize: {size_mb:.1f} MB")
        print(f"judge cache: {judgments.path}\njudgments: {judgments.count()}\nsize: {judgments.size() / 1e6:.1f} MB")
    else:
        for store in (responses, judgments):
            if store.files():
                print(f"removed the {store.LABEL} {store.path} ({store.remove() / 1e6:.1f} MB)")
            else:
                print(f"no {store.LABEL} at {store.path}: nothing to remove")
    return 0


def plugins_main(argv: list[str]) -> int:
    from tunegate.harness.metrics import METRICS
    from tunegate.harness.models import BACKENDS
    from tunegate.judges.providers import PROVIDERS

    argparse.ArgumentParser(
        prog="tunegate plugins",
        description="List every registered backend, judge provider and metric with its traits and origin "
        "('tunegate' for built-ins, else the distribution whose tunegate.plugins entry point added it).",
    ).parse_args(argv)
    print("backends:")
    for name, b in BACKENDS.items():
        traits = ["local weights" if b.local_weights else "served models", *sorted(b.capabilities)]
        print(f"  {name}  ({BACKENDS.origin(name)}): {', '.join(traits)}")
    print("judge providers:")
    for name, p in PROVIDERS.items():
        traits = [f"key in ${p.key_env}" if p.key_env else "no key"]
        traits += [t for t, on in (("needs --judge-base-url", p.needs_base_url),
                                   ("needs --judge-model", p.needs_model), ("free", p.free)) if on]
        print(f"  {name}  ({PROVIDERS.origin(name)}): {', '.join(traits)}")
    print("metrics:")
    for name in METRICS.names():
        print(f"  {name}  ({METRICS.origin(name)})")
    return 0


SUBCOMMANDS: dict[str, tuple[Main, str]] = {
    "train": (_train, "train a LoRA/QLoRA adapter from a YAML config"),
    "report": (_report, "render results.json as HTML/Markdown, compare two runs, stamp a model card"),
    "promote": (_promote, "record a PASS run's adapter as the project's production model (tunegate-production.json)"),
    "judge": (_judge, "judge tools: calibrate a judge against gold labels"),
    "cache": (cache_main, "show or clear the response and judge caches"),
    "data": (_data, "check training data: schema, duplicates, overlap, giveaways, PII"),
    "replay": (_replay, "build replay data (the base's answers to general prompts) for training"),
    "plugins": (plugins_main, "list the registered backends, judge providers and metrics, and who added them"),
}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"tunegate: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        return SUBCOMMANDS[name][0](rest)
    except TunegateError as exc:
        print(f"tunegate {name}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the command had to read or write: one line, never a traceback
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        print(f"tunegate {name}: {where + ': ' if where else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
