"""How many examples there are, against the practitioners' rules of thumb (shared/FIELD-NOTES.md)."""

from __future__ import annotations

from collections.abc import Sequence

from tunegate.harness.datacheck.findings import Finding, error, info, warning
from tunegate.harness.datacheck.schema import DataFile

ALMOST_ALWAYS_WRONG = 50
"""Below this many training examples, fine-tuning is almost always the wrong tool (an error)."""
RARELY_WORTH_IT = 200
"""Below this many, tuning is rarely worth it (a warning); 500-5,000 real examples is typical."""
MIN_EVAL_SHARE = 0.10
"""Hold out 10-20% for eval: less than this share of all examples is noted."""


def check_size(train: DataFile, dev: DataFile | None, evals: Sequence[DataFile]) -> list[Finding]:
    n = len(train.records)
    where = f"{train.path}:1"
    out: list[Finding] = []
    if n < ALMOST_ALWAYS_WRONG:
        out.append(
            error(
                "size",
                "too_few_examples",
                f"{train.path}: {n} valid training example(s); below {ALMOST_ALWAYS_WRONG} fine-tuning is almost "
                "always wrong (prompting or few-shot examples will do better); 500-5,000 real examples is typical",
                where,
                n=n,
            )
        )
    elif n < RARELY_WORTH_IT:
        out.append(
            warning(
                "size",
                "few_examples",
                f"{train.path}: {n} valid training examples; below {RARELY_WORTH_IT} fine-tuning is rarely worth "
                "it; 500-5,000 real, diverse examples is typical",
                where,
                n=n,
            )
        )
    if dev is None:
        out.append(
            info(
                "size",
                "no_dev_set",
                "no dev set given (--dev): tune hyperparameters and pick checkpoints on a separate dev set, "
                "so the eval set stays honest",
            )
        )
    if not evals:
        out.append(
            info("size", "no_eval_set", "no eval file given (--eval): train/eval overlap was not checked")
        )
    else:
        n_eval = sum(len(f.records) for f in evals)
        share = n_eval / max(n_eval + n, 1)
        if share < MIN_EVAL_SHARE:
            out.append(
                info(
                    "size",
                    "small_eval_share",
                    f"eval holds {n_eval} items, {share:.1%} of train + eval; practitioners hold out 10-20%",
                    n_eval=n_eval,
                    share=round(share, 4),
                )
            )
    return out
