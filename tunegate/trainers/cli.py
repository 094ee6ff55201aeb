"""``tunegate train CONFIG.yaml`` (also ``python -m tunegate.trainers CONFIG.yaml``)."""

from __future__ import annotations

import argparse
import sys

from tunegate.harness.errors import ConfigError, TunegateError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tunegate train",
        description="Train a LoRA/QLoRA adapter from a YAML config (fields: tunegate/trainers/configs/README.md).",
    )
    parser.add_argument("config", help="trainer config YAML, e.g. tunegate/trainers/configs/support-demo.yaml")
    parser.add_argument("--output", help="adapter directory (overrides the config's output)")
    parser.add_argument("--seed", type=int, help="override the config's seed")
    parser.add_argument("--max-steps", type=int, help="override the config's max_steps")
    parser.add_argument(
        "--skip-if-current",
        action="store_true",
        help="do nothing when OUTPUT holds an adapter trained from the same inputs",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads on CPU (0: OMP_NUM_THREADS if set, else the CPUs this process may use less those other processes keep busy)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    from tunegate.trainers.config import load_config

    try:
        cfg = load_config(args.config, output=args.output, seed=args.seed, max_steps=args.max_steps)
        if args.skip_if_current:
            from tunegate.trainers.manifest import adapter_is_current, inputs_fingerprint

            if adapter_is_current(cfg):
                print(f"adapter up to date: {cfg.output} (inputs fingerprint {inputs_fingerprint(cfg)[:12]})")
                return 0
        from tunegate.trainers.train import train

        if args.threads < 0:
            raise ConfigError(f"--threads={args.threads}: must be >= 0 (0 chooses from the usable CPUs)")
        out = train(cfg, config_path=args.config, quiet=args.quiet, threads=args.threads)
    except TunegateError as exc:
        print(f"tunegate train: {exc}", file=sys.stderr)
        return 2
    print(f"adapter written to {out}")
    return 0
