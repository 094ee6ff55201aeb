"""Train/dev/eval overlap through the leakage engine (``tunegate.harness.leakage.check_leakage``).

Each pair is one leakage check: the first file is streamed as training data, the second is the
eval side (train/dev records become eval items whose id is their line number). An eval item
found in train or dev, exactly or as a near duplicate, is an error (its scores would measure
recall); a train example that is (nearly) a dev item is an error when exact, a warning when near
(dev loss and early stopping become optimistic). Shared n-grams without a near duplicate are
summarised once per pair (templated data shares phrases by design). A long, distinctive eval
reference equal to a training answer is an error whatever the prompts share (a gold answer
copied under a rewritten prompt, ``LeakageConfig.reference_alone_min_words``); between train
and dev, both drawn from one distribution, equal replies to different prompts are expected and
only prompt-matched copies count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tunegate.harness.datacheck.findings import Finding, error, info, warning
from tunegate.harness.datacheck.schema import DataFile
from tunegate.harness.leakage import LeakageConfig, check_leakage

SHOWN = 5


def _pair(train: DataFile, target: DataFile, config: LeakageConfig) -> list[Finding]:
    if not target.records:
        return []
    suite = target.to_suite()
    ids = {str(r.line): r.id for r in target.records}  # items are keyed by line; name their own ids
    report = check_leakage([train.path], [suite], config=config)
    out: list[Finding] = []
    ngram: list[str] = []
    for flag in report.flagged():
        loc = f"{target.path}:{flag.id}"
        name = f" (id {ids[flag.id]})" if ids.get(flag.id) else ""
        src = flag.source or train.path
        what = f"{target.kind} item {loc}{name}"
        if flag.flag in ("exact", "near_duplicate"):
            severe = flag.flag == "exact" or target.kind == "eval"
            make = error if severe else warning
            out.append(
                make(
                    "overlap",
                    f"{train.kind}_{target.kind}_{flag.flag}",
                    f"{what} is in {train.kind} at {src}: {flag.reason}",
                    loc,
                    src,
                    flag=flag.flag,
                    score=None if flag.score is None else round(float(flag.score), 4),
                )
            )
        elif flag.flag == "ngram":
            ngram.append(f"{loc} ~ {src}")
    if ngram:
        make = warning if target.kind == "eval" else info
        shown = "; ".join(ngram[:SHOWN]) + (f"; and {len(ngram) - SHOWN} more" if len(ngram) > SHOWN else "")
        out.append(
            make(
                "overlap",
                f"{train.kind}_{target.kind}_ngram",
                f"{len(ngram)} of {len(target.records)} {target.kind} items share a "
                f"{config.ngram_n}-gram (or most {config.short_ngram_n}-grams) with {train.kind} but are not near "
                f"duplicates: {shown}",
                *(p.split(" ~ ")[0] for p in ngram),
                n=len(ngram),
            )
        )
    return out


def check_overlap(
    train: DataFile, dev: DataFile | None, evals: Sequence[DataFile], config: LeakageConfig | None = None
) -> list[Finding]:
    cfg = config or LeakageConfig(skip_bad_lines=True)
    out: list[Finding] = []
    for ev in evals:
        out += _pair(train, ev, cfg)
        if dev is not None:
            out += _pair(dev, ev, cfg)
    if dev is not None:
        # dev is drawn from the training distribution: a reply it shares with train under another
        # prompt is the template at work, not a copied gold answer (that rule is for held-out eval)
        out += _pair(train, dev, replace(cfg, reference_alone_min_words=0))
    return out
