from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tunegate.harness.errors import ConfigError, DataError, TrainingDiverged
from tunegate.harness.manifest import FORMAT_VERSION, MANIFEST, manifest_path
from tunegate.trainers.config import load_config
from tunegate.trainers.data import IGNORE, read_chats, tokenize
from tunegate.trainers.manifest import adapter_is_current
from tunegate.trainers.train import save_adapter, train

ROOT = Path(__file__).resolve().parents[2]
SUPPORT_TRAIN = ROOT / "suites" / "data" / "support" / "train.jsonl"


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("data")
    lines = SUPPORT_TRAIN.read_text(encoding="utf-8").splitlines()[:24]
    (d / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (d / "dev.jsonl").write_text("\n".join(lines[:8]) + "\n", encoding="utf-8")  # not the training file itself
    return d / "train.jsonl"


def _config(tmp_path: Path, base: Path, data: Path, **extra: object) -> Path:
    body = {
        "base": str(base),
        "train": str(data),
        "dev": str(data.with_name("dev.jsonl")),
        "output": str(tmp_path / "adapter"),
        "quantization": "none",
        "dtype": "fp32",
        "max_steps": 2,
        "micro_batch_size": 4,
        "batch_size": 8,
        "eval_every": 1,
        "max_dev_examples": 4,
        "lora_r": 4,
        "lora_alpha": 8,
    }
    body.update(extra)
    path = tmp_path / "cfg.yaml"
    path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in body.items()) + "\n")
    return path


def test_unknown_key_is_rejected_with_its_line(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path
) -> None:
    cfg = _config(tmp_path, tiny_model_dir, small_data, learning_rat=0.1)
    with pytest.raises(ConfigError, match=r"cfg.yaml:14: unknown key 'learning_rat'; valid keys: \["):
        load_config(cfg)


def test_rank_zero_is_rejected(tmp_path: Path, tiny_model_dir: Path, small_data: Path) -> None:
    with pytest.raises(ConfigError, match=r"lora_r = 0: Input should be greater than or equal to 1"):
        load_config(_config(tmp_path, tiny_model_dir, small_data, lora_r=0))


def test_missing_data_file(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"train data file .*nope.jsonl not found"):
        load_config(_config(tmp_path, tiny_model_dir, tmp_path / "nope.jsonl"))


def test_line_without_assistant_turn(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
        + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "hi"}]})
        + "\n"
    )
    with pytest.raises(DataError, match=r"bad.jsonl:2: no assistant turn at the end"):
        read_chats(bad)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ([1, 2], r"bad.jsonl:2: the line is a JSON list, not an object; a training line is \{\"messages\""),
        ({"prompt": "hi", "completion": "yo"}, r"bad.jsonl:2: a line with keys \['completion', 'prompt'\] \(the 'prompt' format\)"),
        ({"messages": {}}, r'bad.jsonl:2: "messages" is empty or not a list'),
        ({"msgs": []}, r"bad.jsonl:2: no \"messages\" \(keys: \['msgs'\]\)"),
        (
            {"messages": [{"role": "system", "content": "be brief"}, {"role": "assistant", "content": "yo"}]},
            r"bad.jsonl:2: no user turn before the answer",
        ),
    ],
)
def test_a_line_that_is_not_a_chat_says_what_it_is(tmp_path: Path, line: object, message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    bad.write_text(json.dumps(good) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(DataError, match=message):
        read_chats(bad)


def test_empty_answer_is_refused_before_training(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
        + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": " \n"}]})
        + "\n"
    )
    with pytest.raises(DataError, match=r"bad.jsonl:2: the answer \(the last assistant turn\) is empty; write"):
        read_chats(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train: t.jsonl\nepochs: 1\nepochs: 3\n", r"cfg.yaml:3: invalid YAML: key 'epochs' is given twice \(first on line 2\); keep one"),
        ("train: t.jsonl\nreplay: {ratio: 0.5, ratio: 1}\n", r"cfg.yaml:2: invalid YAML: key 'ratio' is given twice"),
        ("train: t.jsonl\nlearning_rate: yes\n", r"cfg.yaml:2: learning_rate = True: a YAML boolean .* write the number"),
        ("train: t.jsonl\nreplay:\n  ratio: on\n", r"cfg.yaml:3: replay.ratio = True: a YAML boolean"),
        ("learning_rate: 0.001\n", r"cfg.yaml: the required key 'train' is missing; add `train: ...`: training JSONL"),
        ("", r"cfg.yaml: the required key 'train' is missing"),
        ("train: t.jsonl\nseed: 2020-99-99\n", r"cfg.yaml: invalid YAML value: month must be in 1..12"),
        ("train: .\n", r"cfg.yaml: train data file . is a directory; name the .jsonl file inside it"),
        ("train: t.jsonl\nepochs: .inf\n", r"cfg.yaml:2: epochs = inf: Input should be a finite number"),
        ("train: t.jsonl\nlora_alpha: .nan\n", r"cfg.yaml:2: lora_alpha = nan: Input should be a finite number"),
        ("train: t.jsonl\nweight_decay: .inf\n", r"cfg.yaml:2: weight_decay = inf: Input should be a finite"),
        ("train: t.jsonl\nreplay:\n  ratio: .nan\n", r"cfg.yaml:3: replay.ratio = nan: Input should be a finite"),
        ("train: t.jsonl\ndev: ''\n", r"cfg.yaml:2: dev = '': an empty path; write the dev path or remove the key"),
        ("train: t.jsonl\noutput: ' '\n", r"cfg.yaml:2: output = ' ': an empty path; write the output path"),
        ("train: ''\n", r"cfg.yaml:1: train = '': an empty path"),
        ("train: t.jsonl\nreplay:\n  pool: ''\n", r"cfg.yaml:3: replay.pool = '': an empty path; write the pool path"),
        ("train: t.jsonl\nreplay:\n  file: ' '\n", r"cfg.yaml:3: replay.file = ' ': an empty path"),
        ("train: t.jsonl\neval_suites: [suites, '']\n", r"cfg.yaml:2: eval_suites = \['suites', ''\]: an empty entry"),
        ("train: t.jsonl\ntarget_modules: []\n", r"cfg.yaml:2: target_modules = \[\]: an empty list, or a module"),
        ("train: t.jsonl\ndev: ./t.jsonl\n", r"cfg.yaml:2: dev t.jsonl is the training file; the dev loss must"),
        ("train: t.jsonl\nseed: 99999999999999999999999\n", r"cfg.yaml:2: seed = 99999999999999999999999: Input should be less than 9223372036854775808"),
        ("train: t.jsonl\ntarget_modules: mlp\n", r"cfg.yaml:2: target_modules = 'mlp': neither a list of module names"),
        ("train: t.jsonl\ntarget_modules: [q_proj, '']\n", r"cfg.yaml:2: target_modules = .*or write 'attention'"),
    ],
)
def test_config_mistakes_are_one_message_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.jsonl").write_text("{}\n")
    (tmp_path / "cfg.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "cfg.yaml")


def test_a_bad_option_value_is_named_as_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # '--max-steps -3' was reported as 'cfg.yaml: max_steps = -3', a key the file does not have
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.jsonl").write_text("{}\n")
    (tmp_path / "cfg.yaml").write_text("train: t.jsonl\nseed: 1\n")
    with pytest.raises(ConfigError, match=r"^--max-steps=-3: Input should be greater than or equal to 1$"):
        load_config(tmp_path / "cfg.yaml", max_steps=-3)
    with pytest.raises(ConfigError, match=r"^--output='': an empty path"):
        load_config(tmp_path / "cfg.yaml", output="")


def test_config_not_utf8_or_a_directory(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(b"# caf\xe9\ntrain: t.jsonl\n")
    with pytest.raises(ConfigError, match=r"cfg.yaml:1: not valid UTF-8 \(byte 0xe9\); re-save the file as UTF-8"):
        load_config(cfg)
    with pytest.raises(ConfigError, match=r"is a directory; pass the YAML file inside it"):
        load_config(tmp_path)


def test_a_target_module_the_base_lacks_is_named_before_training(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path
) -> None:
    # peft skipped a misspelled name when another one matched, and raised a traceback when none did
    path = _config(tmp_path, tiny_model_dir, small_data, target_modules=["q_proj", "v_prj"])
    with pytest.raises(ConfigError, match=r"cfg.yaml: target_modules \['v_prj'\] not found in the base .*'v_proj'"):
        train(load_config(path), config_path=str(path), quiet=True, threads=1)
    assert not (tmp_path / "adapter").exists()


def test_an_output_that_is_not_an_adapter_is_refused_not_replaced(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path
) -> None:
    # the adapter is swapped in for the whole output directory: `output: .` deleted the project
    victim = tmp_path / "notes"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    path = _config(tmp_path, tiny_model_dir, small_data, output=str(victim))
    with pytest.raises(ConfigError, match=r"cfg.yaml:4: output .*notes is a directory that holds no adapter"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"^--output .*keep.txt is a file; the adapter is a directory"):
        load_config(path, output=str(victim / "keep.txt"))
    cfg = load_config(path, output=str(tmp_path / "new")).model_copy(update={"output": str(victim)})
    with pytest.raises(ConfigError, match=r"cfg.yaml: output .*notes is a directory that holds no adapter"):
        train(cfg, config_path=str(path), quiet=True, threads=1)
    assert (victim / "keep.txt").read_text() == "precious"


def test_loss_only_on_the_reply_and_eos(tiny_model_dir: Path, small_data: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    chats = read_chats(small_data)[:3]
    examples, skipped = tokenize(tok, chats, max_length=1024)
    assert skipped == 0
    for chat, ex in zip(chats, examples, strict=True):
        target = [t for t in ex.labels if t != IGNORE]
        assert tok.decode(target) == chat[-1]["content"] + tok.eos_token
        n_prompt = ex.labels.index(target[0])
        assert all(x == IGNORE for x in ex.labels[:n_prompt])


def test_training_is_bit_identical_and_manifest_complete(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path
) -> None:
    outs = []
    for k in range(2):
        cfg = load_config(_config(tmp_path, tiny_model_dir, small_data, output=str(tmp_path / f"a{k}")))
        outs.append(train(cfg, quiet=True))
    a, b = (o / "adapter_model.safetensors" for o in outs)
    assert a.read_bytes() == b.read_bytes()
    manifest = json.loads(manifest_path(outs[0]).read_text())
    assert manifest["format_version"] == FORMAT_VERSION and manifest["kind"] == "lora"
    assert manifest["data"]["train"]["sha256"] and Path(manifest["data"]["train"]["absolute"]).exists()
    assert manifest["base"]["fingerprint"] and manifest["inputs_fingerprint"]
    assert len(manifest["loss_curve"]) == 2 and manifest["dev_loss_curve"]
    assert manifest["tokens_per_s"] > 0 and manifest["config"]["lora_r"] == 4
    assert {"torch", "transformers", "peft"} <= set(manifest["versions"])
    cfg = load_config(_config(tmp_path, tiny_model_dir, small_data, output=str(outs[0])))
    assert adapter_is_current(cfg)
    assert not adapter_is_current(cfg.model_copy(update={"learning_rate": 0.5}))


def test_crash_while_saving_leaves_no_adapter(tmp_path: Path, tiny_model_dir: Path, small_data: Path) -> None:
    cfg = load_config(_config(tmp_path, tiny_model_dir, small_data))

    class Exploding:
        def save_pretrained(self, path: Path, **_: object) -> None:
            (Path(path) / "adapter_model.safetensors").write_bytes(b"half")
            raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError):
        save_adapter(Exploding(), cfg, tiny_model_dir, {}, "")
    assert not Path(cfg.output).exists()
    assert not list(Path(cfg.output).parent.glob(".adapter.tmp-*"))


def test_cli_reports_bad_config_without_traceback(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path
) -> None:
    cfg = _config(tmp_path, tiny_model_dir, small_data, lora_r=0)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "tunegate.trainers", str(cfg)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert res.returncode == 2
    assert "lora_r = 0" in res.stderr and "Traceback" not in res.stderr


def test_a_base_whose_loss_is_not_finite_stops_before_any_update(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path
) -> None:
    from safetensors.torch import load_file, save_file

    base = Path(shutil.copytree(tiny_model_dir, tmp_path / "base"))
    weights = next(base.glob("*.safetensors"))
    tensors = load_file(weights)
    tensors["model.norm.weight"] *= 1e36  # logits beyond fp32: an overflowing (damaged) base
    save_file(tensors, weights, metadata={"format": "pt"})
    cfg = load_config(_config(tmp_path, base, small_data))
    with pytest.raises(TrainingDiverged) as err:
        train(cfg, quiet=True)
    assert str(err.value) == (
        "train: the loss is inf at step 1 of 2, before any update: the base gives non-finite outputs on this "
        "data at dtype 'fp32' (fp16 overflows on many models: use bf16 or fp32), or its weights are damaged; "
        "nothing was saved"
    )
    assert not Path(cfg.output).exists()


@pytest.mark.parametrize("poisoned_step", [1, 3])
def test_a_diverging_training_saves_nothing(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path, monkeypatch: pytest.MonkeyPatch, poisoned_step: int
) -> None:
    # A divergence needs a large model in fp16 to happen by itself; here an optimizer step
    # overflows on purpose: after it, the weights hold NaN.
    import tunegate.trainers.train as training

    real = training.make_optimizer

    def overflowing(cfg: Any, params: list[Any], device: str) -> Any:
        opt, done = real(cfg, params, device), [0]
        step = opt.step

        def poisoned_step_fn() -> None:
            step()
            done[0] += 1
            if done[0] == poisoned_step:
                params[0].data[0, 0] = float("nan")

        opt.step = poisoned_step_fn
        return opt

    monkeypatch.setattr(training, "make_optimizer", overflowing)
    cfg = load_config(_config(tmp_path, tiny_model_dir, small_data, max_steps=3))
    with pytest.raises(TrainingDiverged) as err:
        train(cfg, quiet=True)
    text = str(err.value)
    if poisoned_step == 1:  # the next step's loss shows it
        assert text.startswith("train: the loss is nan at step 2 of 3 (last finite loss: ")
    else:  # the last update: no loss follows, the weights show it
        assert text.startswith(
            "train: after the last update (step 3) 1 adapter tensor(s) hold NaN or infinite values, e.g. "
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight (last finite loss: "
        )
    assert text.endswith(
        f" at step {poisoned_step}): the training diverged and nothing was saved; lower learning_rate (now 0.0002) "
        "or train in bf16 or fp32 rather than fp16"
    )
    assert not Path(cfg.output).exists()


@pytest.mark.slow
def test_qlora_nf4_on_cpu(tmp_path: Path, tiny_model_dir: Path, small_data: Path) -> None:
    cfg = load_config(
        _config(tmp_path, tiny_model_dir, small_data, quantization="nf4", dtype="bf16", max_steps=1)
    )
    out = train(cfg, quiet=True)
    assert json.loads(manifest_path(out).read_text())["kind"] == "qlora"


def test_shared_prompt_prefix_gives_the_same_loss_and_gradients(
    tiny_model_dir: Path, small_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import tunegate.trainers.train as train_module

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples, _ = tokenize(tok, read_chats(small_data)[:4], max_length=1024)
    n_prefix = train_module.shared_prefix(examples)
    assert n_prefix >= train_module.MIN_SHARED_PREFIX  # the support system prompt
    first_target = min(e.labels.index(next(t for t in e.labels if t != IGNORE)) for e in examples)
    assert n_prefix < first_target
    assert train_module.shared_prefix(examples[:1]) == 0

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    model.train()

    def loss_and_grads() -> tuple[float, int, list[torch.Tensor]]:
        model.zero_grad(set_to_none=True)
        loss, n = train_module.batch_loss(model, examples, tok.pad_token_id, "cpu")
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters() if p.requires_grad and p.grad is not None]
        return float(loss.detach()), n, grads

    shared_loss, shared_n, shared_grads = loss_and_grads()
    monkeypatch.setattr(train_module, "MIN_SHARED_PREFIX", 10**9)
    assert train_module.shared_prefix(examples) == 0
    full_loss, full_n, full_grads = loss_and_grads()
    assert shared_n == full_n > 0
    assert shared_loss == pytest.approx(full_loss, rel=1e-5)
    assert len(shared_grads) == len(full_grads) > 0
    for a, b in zip(shared_grads, full_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_two_processes_train_the_same_adapter_as_one(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path
) -> None:
    """torchrun / accelerate launch: micro-batches split over processes, gradients summed."""
    import torch
    from safetensors.torch import load_file

    common = {"micro_batch_size": 2, "batch_size": 4, "max_steps": 2, "lora_dropout": 0.0}
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = _config(tmp_path / "one", tiny_model_dir, small_data, **common, output=str(tmp_path / "one-out"))
    two = _config(tmp_path / "two", tiny_model_dir, small_data, **common, output=str(tmp_path / "two-out"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "tunegate.trainers", str(one)]
    single = subprocess.run(run, env=env, capture_output=True, text=True, cwd=ROOT)
    assert single.returncode == 0, single.stderr[-2000:]
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        "29533",
    ]
    res = subprocess.run(
        [*launch, "-m", "tunegate.trainers", str(two)], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr[-2000:]
    a = load_file(tmp_path / "one-out" / "adapter_model.safetensors")
    b = load_file(tmp_path / "two-out" / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)
    manifest = json.loads(manifest_path(tmp_path / "two-out").read_text())
    assert manifest["processes"] == 2


def test_steps_that_cannot_be_split_over_the_processes_are_refused(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg = load_config(_config(tmp_path, tiny_model_dir, small_data, micro_batch_size=4, batch_size=4))
    with pytest.raises(ConfigError, match="cannot be split evenly over 2 processes"):
        train(cfg, quiet=True)


def test_saved_adapter_is_readable_by_others_and_names_its_base_portably(
    tmp_path: Path, tiny_model_dir: Path, small_data: Path
) -> None:
    """0755 / 0644 under umask 022 (mkdtemp alone gives 0700), and the card's base is the config's
    value, not the local directory the base was loaded from."""
    cfg = load_config(_config(tmp_path, tiny_model_dir, small_data)).model_copy(update={"base": "smollm2-135m-instruct"})

    class Saving:
        def save_pretrained(self, path: Path, **_: object) -> None:
            (Path(path) / "adapter_model.safetensors").write_bytes(b"weights")
            (Path(path) / "README.md").write_text(
                f"---\nbase_model: {tiny_model_dir}\nlibrary_name: peft\ntags:\n- base_model:adapter:{tiny_model_dir}\n"
                "- lora\n---\n\n# Model Card\n"
            )

    old = os.umask(0o022)
    try:
        out = save_adapter(Saving(), cfg, tiny_model_dir, {}, "")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {
        "adapter_model.safetensors": 0o644, "README.md": 0o644, MANIFEST: 0o644
    }
    card = (out / "README.md").read_text()
    assert "base_model: smollm2-135m-instruct\n" in card and "- base_model:adapter:smollm2-135m-instruct\n" in card
    assert str(tiny_model_dir) not in card and card.endswith("---\n\n# Model Card\n")
