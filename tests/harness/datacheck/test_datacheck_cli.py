"""`tunegate data check` on a planted file, a 3-example file and the shipped support data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.harness.datacheck.planted import Planted, build
from tunegate.shell.cli import main

SUPPORT = Path(__file__).resolve().parents[3] / "suites" / "data" / "support"


@pytest.fixture
def planted(tmp_path: Path) -> Planted:
    return build(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["data", "check", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_planted_file_names_every_problem_with_path_line(
    planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    t, ln = planted.train, planted.lines
    code, out, _ = run(capsys, str(t), "--eval", str(planted.eval))
    assert code == 1
    expected = [
        f"{t}:{ln['bad_json']}: invalid JSON",
        f"{t}:{ln['no_answer']}: no assistant turn at the end",
        f"{t}:{ln['exact_copy']}: exact duplicate of {t}:{ln['exact_original']}",
        f"{t}:{ln['near_copy']}: near duplicate of {t}:{ln['near_original']}",
        f"eval item {planted.eval}:{planted.eval_line} (id ev-2) is in train at {t}:{ln['eval_copy']}",
        f"{t}:{ln['pii_email']}: e-mail address j***@example.com in the user turn",
        f"{t}:{ln['pii_phone']}: phone number",
        f"{t}:{ln['pii_card']}: card number ************1111",
        f"{t}:{ln['pii_iban']}: IBAN GB",
        "valid training example(s); below 50 fine-tuning is almost always wrong",
    ]
    for text in expected:
        assert text in out, f"{text!r} missing from:\n{out}"
    for code_name in ("uniform_length", "uniform_structure", "same_opening", "label_imbalance"):
        assert f"[giveaways/{code_name}]" in out
    assert '"the label is"' in out and "CV 0.0" in out and "tags.kind" in out
    # the planted card number and IBAN are never printed in full
    assert "4111 1111 1111 1111" not in out and "GB82 WEST" not in out
    # errors first, then warnings, then notes; the verdict last
    assert out.index("ERRORS") < out.index("WARNINGS") < out.index("NOTES") < out.index("FAIL:")
    errors = out[out.index("ERRORS") : out.index("WARNINGS")]
    assert (
        "[pii/card]" in errors and "[pii/email]" not in errors and "[duplicates/near_duplicate]" not in errors
    )


def test_three_examples_is_an_error(planted: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(planted.tiny))
    assert code == 1
    assert f"{planted.tiny}: 3 valid training example(s); below 50" in out
    assert "no eval file given" in out and "no dev set given" in out


def test_report_writes_json_and_review_sheet(
    planted: Planted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, str(planted.train), "--eval", str(planted.eval), "--report", str(tmp_path / "r")
    )
    data = json.loads((tmp_path / "r" / "datacheck.json").read_text())
    assert code == 1 and data["passed"] is False
    assert data["counts"]["error"] == sum(f["severity"] == "error" for f in data["findings"]) > 0
    dupe = next(f for f in data["findings"] if f["code"] == "exact_duplicate")
    assert dupe["locations"] == [f"{planted.train}:5", f"{planted.train}:2"]
    page = (tmp_path / "r" / "review.html").read_text()
    valid = data["files"][0]["valid"]
    assert page.count('<section class="sample"') == valid == len(data["review"]["samples"])
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert 'http-equiv="Content-Security-Policy"' in page and "http" not in page.split("<body>")[1]
    assert f"review sheet: {valid} random samples (seed 0) in {tmp_path / 'r' / 'review.html'}" in out


def test_review_sample_is_seeded_and_not_the_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = build(tmp_path, n=300)
    samples = {}
    for seed in (0, 0, 1):
        run(capsys, str(big.train), "--seed", str(seed), "--report", str(tmp_path / f"r{seed}"))
        samples.setdefault(seed, json.loads((tmp_path / f"r{seed}" / "datacheck.json").read_text())["review"])
    assert samples[0]["n"] == 100 and samples[0]["samples"] != samples[1]["samples"]
    lines = [int(s.rsplit(":", 1)[1]) for s in samples[0]["samples"]]
    assert lines == sorted(lines) and lines != list(range(1, 101))


def test_usage_errors_exit_2(planted: Planted, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path / "missing.jsonl"))
    assert code == 2 and "missing.jsonl: no such file" in err
    code, _, err = run(capsys, str(planted.train), "--eval", str(planted.train))
    assert code == 2 and f"{planted.train} is given twice (also as {planted.train})" in err
    # another spelling of the same file was checked as a second file (and as an eval suite)
    other = f"{planted.train.parent}/./{planted.train.name}"
    code, _, err = run(capsys, str(planted.train), "--dev", other)
    assert code == 2 and f"{other} is given twice (also as {planted.train}); train, dev and eval" in err
    with pytest.raises(SystemExit) as exc:
        main(["data", "check"])
    assert exc.value.code == 2
    capsys.readouterr()
    # '' read the current folder ('.: Is a directory'), or --dev ''/--report '' were dropped silently
    for args in (("",), (str(planted.train), "--dev", ""), (str(planted.train), "--eval", " "),
                 (str(planted.train), "--report", "")):  # fmt: skip
        code, _, err = run(capsys, *args)
        flag = "TRAIN" if args == ("",) else args[1]
        assert code == 2 and err == f"tunegate data check: {flag} is an empty path; name the file (or folder) or leave it out\n"
    assert not (Path.cwd() / "datacheck.json").exists()


def test_shipped_support_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped data is synthetic and held out by construction: no errors; what it does find."""
    code, out, _ = run(
        capsys,
        str(SUPPORT / "train.jsonl"),
        "--dev",
        str(SUPPORT / "dev.jsonl"),
        "--eval",
        str(SUPPORT / "eval.jsonl"),
        "--report",
        str(tmp_path),
    )
    data = json.loads((tmp_path / "datacheck.json").read_text())
    assert code == 0 and data["counts"]["error"] == 0, out
    assert [f["valid"] for f in data["files"]] == [1040, 200, 320]
    # no eval item overlaps train or dev in any way (the datasheet's claim, checked independently)
    assert not [f for f in data["findings"] if f["code"].endswith("_eval_ngram") or "eval_" in f["code"]]
    # every reply follows the style guide's 5-line layout: reported, not hidden
    assert re.search(r"answer\.reply: 1040 of 1040 answers \(100%\) have exactly 5 lines", out)
    assert "PASS: 0 error(s)" in out


def _chat(*turns: tuple[str, str]) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in turns]})


def test_turn_order_and_empty_turns_are_named_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = [_chat(("user", f"question {i} about my plan"), ("assistant", f"answer {i} is here")) for i in range(4)]
    odd = [
        _chat(("user", "q"), ("assistant", "")),
        _chat(("user", " "), ("assistant", "a")),
        _chat(("user", "a"), ("user", "b"), ("assistant", "c")),
        _chat(("user", "a"), ("system", "be brief"), ("assistant", "c")),
        _chat(("user", "q"), ("assistant", "a1"), ("assistant", "a2")),
        _chat(("assistant", "hello"), ("user", "q"), ("assistant", "a")),
        _chat(("system", "be brief"), ("user", "q"), ("assistant", "a"), ("system", "now formal"), ("user", "q2"), ("assistant", "b")),
    ]
    t = tmp_path / "train.jsonl"
    t.write_text("\n".join(good + odd) + "\n")
    code, out, _ = run(capsys, str(t))
    assert code == 1
    expected = [
        f"{t}:5: the answer (messages[1].content) is empty; write the reply the model should learn, or drop the line",
        f"{t}:6: messages[0].content, the prompt the model answers, is empty; write the question",
        f"{t}:7: messages[0] and messages[1] are both 'user' turns; user and assistant turns must alternate",
        f"{t}:8: messages[1], right before the answer, has role 'system'; the answer must follow a user turn",
        f"{t}:9: messages[1], right before the answer, has role 'assistant'",
        f"{t}:10: the chat opens with an assistant turn",
        f"{t}:11: messages[3] is a system turn after the chat started; put the system prompt first",
        f"{t}: 5 valid of 11 lines",
    ]
    for text in expected:
        assert text in out, f"{text!r} missing from:\n{out}"
    warnings = out[out.index("WARNINGS") : out.index("NOTES")]
    assert f"{t}:10:" in warnings and f"{t}:11:" not in warnings
