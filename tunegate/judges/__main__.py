"""``python -m tunegate.judges calibrate ...``: the same commands as ``tunegate judge ...``."""

from __future__ import annotations

from tunegate.judges.cli import main

raise SystemExit(main())
