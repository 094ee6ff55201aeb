"""The data check's result: datacheck.json, the terminal summary, the exit status."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.harness.datacheck.findings import SEVERITIES, Finding
from tunegate.harness.datacheck.schema import DataFile

SCHEMA_VERSION = 1
SHOWN_PER_CODE = 8
"""Findings of one kind printed in the terminal; datacheck.json holds all of them."""
_HEADINGS = {"error": "ERRORS", "warning": "WARNINGS", "info": "NOTES"}


@dataclass(frozen=True)
class DataCheckReport:
    files: tuple[DataFile, ...]
    findings: tuple[Finding, ...]
    seed: int
    sample: tuple[str, ...] = ()
    """``path:line`` of the review-sheet samples."""
    elapsed_s: float = 0.0
    written: dict[str, str] = field(default_factory=dict)

    def by_severity(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]

    def counts(self) -> dict[str, int]:
        c = Counter(f.severity for f in self.findings)
        return {s: c.get(s, 0) for s in SEVERITIES}

    @property
    def passed(self) -> bool:
        return not self.by_severity("error")

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "passed": self.passed,
            "counts": self.counts(),
            "by_code": dict(Counter(f"{f.severity}:{f.code}" for f in self.findings)),
            "files": [f.to_dict() for f in self.files],
            "findings": [f.to_dict() for f in self.findings],
            "review": {"seed": self.seed, "n": len(self.sample), "samples": list(self.sample)},
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def write(self, directory: str | Path, review_html: str) -> dict[str, str]:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "datacheck.json", "html": out / "review.html"}
        paths["json"].write_text(
            json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        paths["html"].write_text(review_html, encoding="utf-8")
        self.written.update({k: str(v) for k, v in paths.items()})
        return dict(self.written)

    def summary(self) -> str:
        """The terminal text: files, then findings grouped by severity and kind, then the verdict."""
        lines = ["tunegate data check"]
        for f in self.files:
            lines.append(
                f"  {f.kind:<5} {f.path}: {len(f.records)} valid of {f.lines} lines, sha256 {f.sha256[:12]}"
            )
        for severity in SEVERITIES:
            group = self.by_severity(severity)
            if not group:
                continue
            lines += ["", f"{_HEADINGS[severity]} ({len(group)})"]
            codes = list(dict.fromkeys((f.check, f.code) for f in group))
            for check, code in codes:
                same = [f for f in group if (f.check, f.code) == (check, code)]
                lines.append(f"  [{check}/{code}] {len(same)}")
                lines += [f"    {f.message}" for f in same[:SHOWN_PER_CODE]]
                if len(same) > SHOWN_PER_CODE:
                    lines.append(f"    ... and {len(same) - SHOWN_PER_CODE} more (all in datacheck.json)")
        c = self.counts()
        verdict = "PASS" if self.passed else "FAIL"
        lines += ["", f"{verdict}: {c['error']} error(s), {c['warning']} warning(s), {c['info']} note(s)"]
        if self.sample:
            where = self.written.get("html")
            lines.append(
                f"review sheet: {len(self.sample)} random samples (seed {self.seed})"
                + (f" in {where}" if where else "; pass --report DIR to write it")
            )
        if self.written.get("json"):
            lines.append(f"report: {self.written['json']}")
        return "\n".join(lines)
