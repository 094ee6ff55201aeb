"""The leakage check as a run feature: overlap check, memorisation probe, results.json's section.

``run_leakage_check`` is what a run calls whenever it knows the candidate's training data (the
adapter's ``tunegate.json`` or ``--train-data``): it checks every given eval suite against the
training files and, when items are flagged and a ``generate`` callable is given, asks the
candidate to answer the flagged training examples' prompts (the memorisation probe, ``answer``
mode). ``generate`` comes from the caller so that the probe goes through the run's cached
generation path with the run's generation settings (``chat_generator`` builds one).

The result is a frozen ``LeakageSection``; ``to_dict()`` is the ``leakage`` section of
results.json: the report's fields (``items`` lists every flagged item with its suite, id, flag
and reason) plus ``status``, ``summary``, ``n_flagged`` and ``memorisation``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunegate.harness.data import Message, Suite
from tunegate.harness.errors import ConfigError, GateFailure
from tunegate.harness.leakage.config import LeakageConfig
from tunegate.harness.leakage.paraphrase import Embedder
from tunegate.harness.leakage.probe import Chat, ProbeResult, memorisation_probe, probe_summary
from tunegate.harness.leakage.report import ItemFlag, LeakageReport
from tunegate.harness.leakage.scan import check_leakage
from tunegate.harness.leakage.sources import read_training_examples, training_files_from_manifest
from tunegate.harness.manifest import manifest_path

if TYPE_CHECKING:
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.generation import GenerationStats
    from tunegate.harness.models.base import Backend, GenerationParams

Generate = Callable[[list[Chat]], list[str]]
MAX_PROBED = 100
"""Most training examples the memorisation probe asks about (the first flagged ones)."""


@dataclass(frozen=True)
class LeakageSection:
    """The outcome of a run's leakage check: the gate, the flagged items, the memorisation probe."""

    report: LeakageReport
    probe: tuple[ProbeResult, ...] | None = None
    """Memorisation probe results; None when it did not run (see ``probe_note``)."""
    probe_note: str = ""

    @property
    def passed(self) -> bool:
        return self.report.verdict()[0]

    @property
    def reason(self) -> str:
        return self.report.verdict()[1]

    @property
    def status(self) -> str:
        return "pass" if self.passed else "fail"

    @property
    def flagged(self) -> list[ItemFlag]:
        return self.report.flagged()

    @property
    def n_memorised(self) -> int:
        return sum(r.memorised for r in self.probe or ())

    @property
    def summary(self) -> str:
        """One line for the terminal and summary.md."""
        tail = ""
        if self.probe:
            tail = (
                f"; memorisation probe: the candidate reproduced {self.n_memorised} of {len(self.probe)} "
                "flagged training example(s)"
            )
        return f"{self.status.upper()}: {self.reason}{tail}"

    def assert_passed(self) -> LeakageSection:
        """Raise GateFailure (a test failure under pytest) when the leakage gate fails."""
        if not self.passed:
            raise GateFailure(f"leakage check failed: {self.reason}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The ``leakage`` section of results.json."""
        out = self.report.to_dict()
        out.update(
            {
                "status": self.status,
                "summary": self.summary,
                "n_flagged": len(self.flagged),
                "memorisation": probe_summary(self.probe) if self.probe is not None else None,
                "memorisation_note": self.probe_note,
            }
        )
        return out


def run_leakage_check(
    *,
    training_files: Sequence[str | Path],
    suites: Sequence[Suite],
    generate: Generate | None = None,
    config: LeakageConfig | None = None,
    embedder: Embedder | None = None,
    max_probed: int = MAX_PROBED,
) -> LeakageSection:
    """Check ``suites`` against ``training_files``; probe the candidate on what was flagged.

    >>> section = run_leakage_check(training_files=files, suites=suites, generate=gen)  # doctest: +SKIP
    >>> run.add_section("leakage", section.to_dict()); section.assert_passed()  # doctest: +SKIP
    """
    if max_probed < 0:
        raise ConfigError(f"max_probed must be >= 0, got {max_probed!r}")
    report = check_leakage(
        list(training_files), list(suites), config=config or LeakageConfig(), embedder=embedder
    )
    locations = report.training_locations()
    if not locations:
        return LeakageSection(report, None, "not run: no eval item was flagged")
    if generate is None:
        return LeakageSection(report, None, "not run: no generation function was given")
    if max_probed == 0:
        return LeakageSection(report, None, "not run: max_probed is 0")
    docs = read_training_examples(locations[:max_probed])
    results = memorisation_probe(generate, docs, mode="answer")
    note = (
        f"the first {max_probed} of {len(locations)} flagged training examples"
        if len(locations) > max_probed
        else ""
    )
    return LeakageSection(report, tuple(results), note)


def resolve_training_files(
    train_data: Sequence[str | Path] | None, adapter: str | Path | None
) -> list[Path] | None:
    """The candidate's training files: ``train_data`` when given, else the adapter's manifest.

    None when neither says (no ``--train-data``, no adapter, or an adapter without ``tunegate.json``):
    the run then has no training data to check against. A manifest whose files moved or changed
    raises (see ``training_files_from_manifest``).
    """
    if train_data:
        return [Path(p) for p in train_data]
    if adapter is None or not manifest_path(adapter).is_file():
        return None
    return training_files_from_manifest(adapter)


def chat_generator(
    backend: Backend,
    cache: ResponseCache,
    params: GenerationParams,
    *,
    stats: GenerationStats | None = None,
    label: str = "",
) -> Generate:
    """A ``generate`` for the probe that goes through the response cache with ``params``."""
    from tunegate.harness.generation import generate_cached
    from tunegate.harness.models.base import GenerationRequest

    def generate(chats: list[Chat]) -> list[str]:
        requests = [
            GenerationRequest(
                f"leakage-probe-{i}", tuple(Message(m["role"], m["content"]) for m in chat), params
            )
            for i, chat in enumerate(chats)
        ]
        done = generate_cached(backend, requests, cache, stats=stats, label=label, suite="leakage probe")
        return [c.text for c in done]

    return generate


def probe_params(suites: Sequence[Suite]) -> GenerationParams:
    """Generation settings for the probe: the longest answer budget of the checked suites."""
    from tunegate.harness.models.base import GenerationParams

    return GenerationParams(max_new_tokens=max((s.max_new_tokens for s in suites), default=256))
