"""Judge health: is this judge trustworthy enough to fail a gate on its own?

The answer comes from calibration (agreement with gold labels, stored in the cache dir keyed by
provider settings, rubric hash and prompt version, so any change to one of them means "never
calibrated") and from this run's pairwise position consistency. A judge is ``reliable`` when its
quadratic-weighted kappa is at least ``min_kappa`` (0.6); a judge that is below it, or was never
calibrated for this rubric, is unreliable and its comparisons are advisory.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tunegate.harness.atomic import write_atomic
from tunegate.harness.errors import CacheError

MIN_KAPPA = 0.6
RECORD_VERSION = 1


@dataclass(frozen=True)
class CalibrationRecord:
    """The stored result of ``tunegate judge calibrate`` for one judge and rubric."""

    provider: str
    model: str
    settings: str
    rubric: str
    rubric_hash: str
    prompt_version: str
    n: int
    n_failed: int
    kappa: float | None
    exact_agreement: float | None
    within_one: float | None
    mean_abs_error: float | None
    labels: list[int]
    confusion: list[list[int]]
    n_pairs: int = 0
    n_pairs_failed: int = 0
    position_consistency: float | None = None
    pair_accuracy: float | None = None
    calibration_set: str = ""
    calibration_set_hash: str = ""
    failure: str = ""  # why the first failed judgment failed (budget, parse error, ...): said with n_failed
    created: float = field(default_factory=time.time)
    version: int = RECORD_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CalibrationRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def record_path(cache_dir: Path, settings: str, rubric_hash: str, prompt_version: str) -> Path:
    digest = hashlib.sha256(f"{settings}\0{rubric_hash}\0{prompt_version}".encode()).hexdigest()[:24]
    return cache_dir / "judges" / "calibration" / f"{digest}.json"


def save_record(cache_dir: Path, record: CalibrationRecord) -> Path:
    path = record_path(cache_dir, record.settings, record.rubric_hash, record.prompt_version)
    return write_atomic(path, json.dumps(record.to_dict(), indent=2, sort_keys=True))


def load_record(
    cache_dir: Path, settings: str, rubric_hash: str, prompt_version: str
) -> CalibrationRecord | None:
    path = record_path(cache_dir, settings, rubric_hash, prompt_version)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version", 0) > RECORD_VERSION:
            return None
        return CalibrationRecord.from_dict(data)
    except (OSError, ValueError, TypeError) as exc:
        raise CacheError(
            f"the judge calibration record {path} is unreadable ({exc}); delete it and calibrate again"
        ) from None


@dataclass(frozen=True)
class JudgeHealth:
    """Figures that say how far to trust one judge on one rubric (results.json ``judges``)."""

    provider: str
    model: str
    rubric: str
    rubric_hash: str
    kappa: float | None
    reliable: bool
    position_consistency: float | None
    n_judgments: int
    n_failed: int
    cache_hits: int
    reason: str = ""
    min_kappa: float = MIN_KAPPA

    @property
    def name(self) -> str:
        return f"judge[{self.rubric}]"

    @property
    def advisory(self) -> bool:
        """True when this judge's comparisons cannot fail a gate alone."""
        return not self.reliable

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider,
            "model": self.model,
            "rubric": self.rubric,
            "rubric_hash": self.rubric_hash,
            "kappa": _finite(self.kappa),
            "reliable": self.reliable,
            "position_consistency": _finite(self.position_consistency),
            "n_judgments": self.n_judgments,
            "n_failed": self.n_failed,
            "cache_hits": self.cache_hits,
            "min_kappa": self.min_kappa,
            "reason": self.reason,
        }


def assess(record: CalibrationRecord | None, min_kappa: float = MIN_KAPPA) -> tuple[float | None, bool, str]:
    """(kappa, reliable, reason) from a calibration record."""
    if record is None:
        return None, False, "never calibrated for this rubric and settings; run `tunegate judge calibrate`"
    if record.kappa is None or not math.isfinite(record.kappa):
        return None, False, "calibration gave no kappa (the judge or the gold labels never varied)"
    if record.kappa < min_kappa:
        return (
            record.kappa,
            False,
            f"kappa {record.kappa:.2f} < {min_kappa:.2f} on {record.n} calibration items",
        )
    return record.kappa, True, f"kappa {record.kappa:.2f} >= {min_kappa:.2f} on {record.n} calibration items"
