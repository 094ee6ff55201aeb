"""What a trained adapter looks like to the people and tools that receive it.

- **Modes**: the adapter is assembled in a ``mkdtemp`` directory (created 0700) and swapped into
  place, so without care it stays private to its author. Directories get ``0777 & ~umask`` and
  files ``0666 & ~umask`` (0755 / 0644 under the usual umask 022), as any file the user writes
  would: an adapter is copied, served and uploaded by others.
- **The card's base model**: peft's model card names the base by the directory it was loaded
  from, which for an alias or a GGUF file is a local cache path that means nothing on another
  machine (``/home/me/.cache/tunegate/models/...``). The card's ``base_model`` (and peft's
  ``base_model:adapter:`` tag) name the base as the config gave it instead: the alias, the Hub
  id, or the user's own path.
"""

from __future__ import annotations

from pathlib import Path


def portable_card(card: Path, base: str) -> None:
    """Name the base in ``card``'s front matter as ``base`` (the config's value), not a local path."""
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---" not in text[4:]:
        return
    head, rest = text[4:].split("\n---", 1)
    lines = []
    for line in head.split("\n"):
        if line.startswith("base_model:"):
            line = f"base_model: {base}"
        elif line.lstrip().startswith("- base_model:adapter:"):
            line = line.split("- base_model:adapter:", 1)[0] + f"- base_model:adapter:{base}"
        lines.append(line)
    card.write_text("---\n" + "\n".join(lines) + "\n---" + rest, encoding="utf-8")
