"""Checks run before any model loads: a setup mistake is found in seconds, not after the run.

Each check raises ``ConfigError`` (the plugin turns it into ``pytest.UsageError``, exit code 4)
with one message naming the option, the value and the fix.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from tunegate.harness.errors import ConfigError, ModelLoadError, TunegateError
from tunegate.harness.options import RunOptions
from tunegate.harness.redact import redact_text


def _local_weights(options: RunOptions) -> bool:
    """The backend loads the base and candidates from files here (else they are names a server knows)."""
    from tunegate.harness.models import backend_info

    return backend_info(options.backend).local_weights


def writable_dir(path: Path, *, option: str, what: str) -> Path:
    """Create ``path`` (and its parents) and prove a file can be written in it."""
    path = path.expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"{option}={str(path)!r}: a file is in the way; {what} must be a directory") from None
    except NotADirectoryError:
        raise ConfigError(f"{option}={str(path)!r}: a parent of it is a file; pick another {what}") from None
    except OSError as exc:
        raise ConfigError(f"{option}={str(path)!r}: cannot create the {what}: {exc.strerror or exc}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".tunegate-write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{option}={str(path)!r}: the {what} is not writable ({exc.strerror or exc}); "
            "pick a directory you can write to"
        ) from None
    return path


def check_report_dir(options: RunOptions) -> None:
    if options.report:
        writable_dir(Path(options.report), option="--report", what="report directory")


def check_cache_dir(options: RunOptions) -> None:
    option = "--cache-dir" if options.cache_dir else "the cache dir ($TUNEGATE_CACHE_DIR or ~/.cache/tunegate)"
    writable_dir(options.cache_path, option=option, what="cache directory")


def check_base(options: RunOptions, environ: Mapping[str, str] | None = None) -> None:
    """The base exists where it is looked for (nothing is loaded or converted here)."""
    if not _local_weights(options):
        return  # a served model's name: only the server knows it
    from tunegate.harness.models.resolve import _ALIASES, alias_gguf

    env = os.environ if environ is None else environ
    spec = options.base
    where = f"--base={spec!r}"
    try:
        if spec in _ALIASES:
            alias_gguf(spec)
            return
    except ModelLoadError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(f"{where}: no such GGUF file")
        return
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{where}: the directory has no config.json; pass a Hugging Face model directory")
        return
    if path.exists() or spec.startswith((".", "/", "~")) or spec.count("/") != 1:
        raise ConfigError(
            f"{where}: not found; pass a Hugging Face model directory, a .gguf file, a Hub id such as "
            "'HuggingFaceTB/SmolLM2-135M-Instruct', or 'smollm2-135m-instruct'"
        )
    if env.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") and not _in_hub_cache(spec):
        raise ConfigError(
            f"{where}: not in the local Hugging Face cache and HF_HUB_OFFLINE=1; download it where the Hub "
            f"is reachable (huggingface-cli download {spec}) or pass its directory"
        )


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an id the library refuses: not cached either
        return False
    return isinstance(found, str)


def check_candidates(options: RunOptions) -> None:
    """Each candidate is an adapter or model dir with safe weights."""
    if not _local_weights(options):
        return
    for c in options.candidate:
        _check_model_dir(c, f"--candidate={c!r}", "candidate", options.allow_pickle)


def check_reference(options: RunOptions) -> None:
    """The reference (``--reference``) is an adapter or model dir with safe weights, as a candidate is;
    the base it was trained on is checked with the candidates' (``RunModels``)."""
    ref = getattr(options, "reference", "")
    if not ref or not _local_weights(options):
        return
    where = options.given("reference") if options.sources.get("reference") else f"--reference={ref!r}"
    _check_model_dir(ref, where, "reference", options.allow_pickle)


def check_distinct_models(options: RunOptions) -> None:
    """Each candidate once, and the reference none of them: a repeat was gated as a second
    candidate (``adapter-2``), counted twice in Holm's correction, without a word."""

    def key(model: str) -> str:
        path = Path(model).expanduser()
        return str(path.resolve()) if path.is_dir() else model

    seen: dict[str, str] = {}
    for c in options.candidate:
        k = key(c)
        if k in seen:
            raise ConfigError(f"--candidate={c!r} is given twice (also as --candidate={seen[k]!r}); give each candidate once")
        seen[k] = c
    ref = getattr(options, "reference", "")
    same = seen.get(key(ref)) if ref else None
    if same is not None:
        raise ConfigError(
            f"--reference={ref!r} is also --candidate={same!r}: a candidate would be gated against "
            "itself; the reference is the adapter in production, the candidates the new ones"
        )


def _check_model_dir(path: str, where: str, role: str, allow_pickle: bool) -> None:
    """``path`` is an adapter or model dir whose weights load safely; else one ``ConfigError`` naming ``where``."""
    from tunegate.harness.models.adapters import classify_adapter

    if not Path(path).expanduser().is_dir():
        what = "an adapter dir (adapter_config.json) or a model dir"
        raise ConfigError(f"{where}: no such directory; pass {what}{' in production' if role == 'reference' else ''}")
    try:
        classify_adapter(Path(path).expanduser(), allow_pickle=allow_pickle)
    except ModelLoadError as exc:
        raise ConfigError(f"{where}: {str(exc).replace('candidate ', role + ' ', 1)}") from None


def check_train_data(options: RunOptions) -> None:
    for p in options.train_data:
        if not Path(p).expanduser().is_file():
            raise ConfigError(f"--train-data={p!r}: no such file; pass the training JSONL the adapter was trained on")


def check_judge(options: RunOptions, environ: Mapping[str, str] | None = None) -> None:
    """Credentials and URL of the judge: called when tests using the ``judge`` fixture are collected.

    What to check comes from the provider's registration (``ProviderInfo``: ``key_env``,
    ``needs_base_url``, ``needs_model``); the judge is then built as the ``judge`` fixture builds
    it (``Judge.from_options``), so the provider validates its own options now.
    """
    from tunegate.judges import Judge, provider_info

    env = os.environ if environ is None else environ
    provider = options.judge
    opts = options.judge_options()
    try:
        info = provider_info(provider)
    except TunegateError as exc:
        raise ConfigError(str(exc)) from None
    url = options.judge_base_url or str(opts.get("base_url") or "")
    if info.needs_base_url and not url:
        raise ConfigError(f"--judge={provider} needs the server's URL: pass --judge-base-url http://HOST:PORT/v1")
    if info.needs_model and not options.judge_model:
        raise ConfigError(
            f"--judge={provider} needs --judge-model: the model name the server serves "
            "(list them with: curl BASE_URL/models)"
        )
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(
            f"--judge-base-url={redact_text(url)!r}: not an http(s) URL; write it in full, e.g. http://127.0.0.1:8000/v1"
        )
    var = opts.get("api_key_env", info.key_env)
    if var and not env.get(str(var)):
        raise ConfigError(
            f"--judge={provider}: judged tests were collected but ${var} is not set; "
            f"export {var}=<your key>, or pick another judge with --judge local"
        )
    try:
        Judge.from_options(options)
    except TunegateError as exc:
        raise ConfigError(redact_text(str(exc))) from None


def configure_checks(options: RunOptions, *, controller: bool) -> None:
    """Everything checkable at configure time, cheapest first (the report dir before any import)."""
    if controller:
        check_report_dir(options)
    check_cache_dir(options)
    check_train_data(options)
    check_base(options)
    check_candidates(options)
    check_reference(options)
    check_distinct_models(options)
