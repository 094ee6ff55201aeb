"""One way to write a file others read: atomically, with the modes a plain write would have.

``write_atomic`` writes through a temp file in the same directory and ``os.replace``: a reader (a
browser, CI uploading the artifact, another xdist worker) never sees a half-written file, and a
crash leaves the previous version intact. ``mkstemp`` creates files 0600; tunegate's files are
meant to be read by others (reports, caches, adapters), so they get ``0666 & ~umask`` as any file
the user writes would (``plain_modes`` does the same for a directory tree built in a ``mkdtemp``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (reading it means setting it: done under a lock, restored at once)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def write_atomic(path: Path | str, data: str | bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` (text is UTF-8) to ``path``, creating its parents; ``mode`` defaults to the
    umask's. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def plain_modes(root: Path) -> None:
    """Give ``root`` and everything under it the modes a plain write would have had
    (directories ``0777 & ~umask``, files ``0666 & ~umask``)."""
    mask = current_umask()
    os.chmod(root, 0o777 & ~mask)
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            os.chmod(Path(folder) / d, 0o777 & ~mask)
        for f in files:
            os.chmod(Path(folder) / f, 0o666 & ~mask)
