"""Options come from one declaration: flags, ini twins, [tool.tunegate] keys, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunegate.judges  # noqa: F401  (the judge providers' registry: the shell imports it before resolving)
from tunegate.harness.errors import ConfigError
from tunegate.harness.options import (
    RunOptions,
    find_pyproject,
    flag,
    help_text,
    option_fields,
    read_tunegate_table,
    resolve_options,
)

pytest_plugins = ["pytester"]


def test_precedence_cli_over_pyproject_over_ini_over_default() -> None:
    o = resolve_options(
        {"alpha": "0.01", "seed": None},
        {"alpha": 0.2, "seed": 5, "dtype": "fp32"},
        {"alpha": "0.3", "seed": "6", "dtype": "bf16", "sample": "10"},
        pyproject_path="/p/pyproject.toml",
    )
    assert (o.alpha, o.seed, o.dtype, o.sample, o.backend) == (0.01, 5, "fp32", 10, "hf")
    assert o.sources["alpha"] == "command line"
    assert o.sources["seed"] == "/p/pyproject.toml [tool.tunegate]"
    assert o.sources["sample"] == "ini"
    assert o.sources["backend"] == "default"


def test_new_defaults() -> None:
    o = resolve_options({}, {}, {})
    assert o.quantization == "auto"
    assert o.coverage_floor == 0.95
    assert (o.allow_pickle, o.allow_base_mismatch, o.allow_advisory, o.forgetting) == (False,) * 4
    assert o.judge_base_url == "" and o.judge_option == ()


def test_repeatable_options_accept_a_string_or_a_list() -> None:
    o = resolve_options({"candidate": ["a", "b"]}, {"train_data": "t.jsonl"}, {"judge_option": ["x=1"]})
    assert o.candidate == ("a", "b") and o.train_data == ("t.jsonl",) and o.judge_option == ("x=1",)


def test_key_value_options_are_json_parsed() -> None:
    o = resolve_options(
        {"judge_option": ["timeout=30", "api_key_env=MY_KEY", "temperature=null"], "backend_option": ["concurrency=16"]},
        {},
        {},
    )
    assert o.judge_options() == {"timeout": 30, "api_key_env": "MY_KEY", "temperature": None}
    assert o.backend_options() == {"concurrency": 16}


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"alpha": "0.5"}, "--alpha='0.5': alpha must be in (0, 0.5)"),
        ({"alpha": "0"}, "--alpha='0': alpha must be in (0, 0.5)"),
        ({"alpha": "x"}, "--alpha='x': not a number"),
        ({"coverage_floor": "1.5"}, "--coverage-floor='1.5': the coverage floor must be in (0, 1]"),
        ({"sample": "2.5"}, "--sample='2.5': not an integer"),
        ({"batch_size": "-1"}, "--batch-size='-1': must be >= 0"),
        ({"dtype": "fp8"}, "--dtype='fp8': unknown dtype; use one of ['auto', 'bf16', 'fp32', 'fp16']"),
        ({"quantization": "int4"}, "--quantization='int4': unknown quantization; use one of ['auto', 'none', 'nf4']"),
        ({"backend": "tgi"}, "--backend='tgi': unknown backend; known: ['fake', 'hf', 'openai', 'vllm']"),
        ({"judge": "gpt"}, "--judge='gpt': unknown judge provider; known: ['anthropic', 'local', 'openai'"),
        ({"backend_option": ["=3"]}, "--backend-option=['=3']: '=3' is not KEY=VALUE"),
        ({"judge_option": ["timeout=5", "timeout=50"]},
         "--judge-option=['timeout=5', 'timeout=50']: timeout is given twice ('timeout=5' and 'timeout=50'); keep one"),
        ({"report": ""}, "--report='': an empty value; give one or leave the option out"),
        ({"cache_dir": " "}, "--cache-dir=' ': an empty value; give one or leave the option out"),
        ({"candidate": ["a", ""]}, "--candidate=['a', '']: an empty value; give one or leave the option out"),
    ],
)
def test_bad_values_name_the_option_and_value(cli: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_options(cli, {}, {})
    assert message in str(err.value)


def test_choices_come_from_the_literal_or_the_registry() -> None:
    """One declaration: the help text lists what the validation accepts, a plugin's name included."""
    from tunegate.harness.models import BACKENDS, register_backend

    fields = RunOptions.model_fields
    assert "one of: auto, bf16, fp32, fp16" in help_text("dtype", fields["dtype"])
    assert "one of: auto, none, nf4" in help_text("quantization", fields["quantization"])
    assert "one of: fake, hf, openai, vllm" in help_text("backend", fields["backend"])
    assert "local" in help_text("judge", fields["judge"]) and "scripted" in help_text("judge", fields["judge"])

    @register_backend("options-test")
    def make(spec: object, *, cache_dir: str) -> object:
        raise AssertionError("never built here")

    try:
        assert resolve_options({"backend": "options-test"}, {}, {}).backend == "options-test"
        assert "options-test" in help_text("backend", fields["backend"])
    finally:
        BACKENDS.unregister("options-test")
    with pytest.raises(ConfigError, match=r"--backend='options-test': unknown backend"):
        resolve_options({"backend": "options-test"}, {}, {})


def test_bad_values_from_pyproject_and_ini_name_their_source() -> None:
    with pytest.raises(ConfigError, match=r"^/p/pyproject.toml \[tool.tunegate\]: alpha = 0.7: alpha must be"):
        resolve_options({}, {"alpha": 0.7}, {}, pyproject_path="/p/pyproject.toml")
    with pytest.raises(ConfigError, match=r"^ini key tunegate_no_cache = 'maybe': not a boolean"):
        resolve_options({}, {}, {"no_cache": "maybe"})


def test_options_are_frozen_and_strict() -> None:
    o = resolve_options({}, {}, {})
    with pytest.raises(ValueError, match="frozen"):
        o.alpha = 0.1  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs"):
        RunOptions(gates=[])  # type: ignore[call-arg]


def test_pyproject_unknown_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.tunegate]\nbase = "m"\ngates = []\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[tool.tunegate\]: \['gates'\]"):
        read_tunegate_table(tmp_path / "pyproject.toml")
    (tmp_path / "pyproject.toml").write_text('[tool.tunegate]\nbatch-size = 8\njudge_base_url = "http://h/v1"\n')
    assert read_tunegate_table(tmp_path / "pyproject.toml") == {"batch_size": 8, "judge_base_url": "http://h/v1"}
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert read_tunegate_table(tmp_path / "pyproject.toml") is None
    (tmp_path / "pyproject.toml").write_text("[tool.tunegate\n")
    with pytest.raises(ConfigError, match="cannot read TOML"):
        read_tunegate_table(tmp_path / "pyproject.toml")


def test_find_pyproject_walks_up_from_a_path(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    deep = tmp_path / "suites" / "sub"
    deep.mkdir(parents=True)
    (deep / "test_x.py").write_text("")
    assert find_pyproject(deep / "test_x.py") == tmp_path / "pyproject.toml"
    assert find_pyproject(deep) == tmp_path / "pyproject.toml"


def test_batch_size_help_states_the_backend_default() -> None:
    """hf.py uses 64 decode slots when --batch-size is 0, on CPU and on CUDA alike."""
    from tunegate.harness.models import hf

    source = Path(hf.__file__).read_text()
    assert 'spec.options.get("batch_size") or 64' in source
    text = help_text("batch_size", RunOptions.model_fields["batch_size"])
    assert "64 on CPU and on CUDA" in text


def test_every_field_is_a_flag_and_an_ini_key(pytester: pytest.Pytester) -> None:
    """The plugin generates both from the declaration: nothing is listed twice by hand."""
    res = pytester.runpytest("--help")
    out = res.stdout.str()
    for name, _ in option_fields():
        assert flag(name) in out, name
        assert f"tunegate_{name}" in out, name
