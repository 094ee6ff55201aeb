"""``python -m judges calibrate ...``: the same commands as ``tunegate judge ...``."""

from __future__ import annotations

from judges.cli import main

raise SystemExit(main())
