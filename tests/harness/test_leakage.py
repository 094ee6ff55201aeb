from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tunegate.harness.data import Suite, parse_items  # noqa: E402
from tunegate.harness.errors import ConfigError, DataError, GateFailure  # noqa: E402
from tunegate.harness.leakage import (  # noqa: E402
    LeakageConfig,
    LeakageReport,
    TrainingDoc,
    check_leakage,
    hashing,  # noqa: E402
    memorisation_probe,
    normalize,
    overlap,
    probe_summary,
    prompt_and_answer,
    read_training_examples,
    training_files_from_manifest,
)
from tunegate.harness.leakage.sources import LineError  # noqa: E402
from tunegate.harness.manifest import write_manifest

RNG = random.Random(1234)
VOCAB = [f"{RNG.choice('bcdfghjklmnpqrstvwz')}{RNG.choice('aeiou')}{i}" for i in range(5000)]


def words(n: int, rng: random.Random) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def make_suite(prompts: dict[str, str], name: str = "eval", refs: dict[str, Any] | None = None) -> Suite:
    rows = [
        {
            "id": i,
            "messages": [{"role": "user", "content": p}],
            "reference": (refs or {}).get(i, f"answer {i}"),
        }
        for i, p in prompts.items()
    ]
    items = parse_items("\n".join(json.dumps(r) for r in rows).encode(), f"{name}.jsonl")
    return Suite(name, tuple(items))


def chat(prompt: str, answer: str = "a reply", system: str | None = "You are helpful.") -> dict[str, Any]:
    msgs = [{"role": "system", "content": system}] if system else []
    return {
        "messages": [*msgs, {"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    }


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


@pytest.fixture()
def rng() -> random.Random:
    return random.Random(7)


@pytest.fixture()
def background(rng: random.Random) -> list[dict[str, Any]]:
    """Unrelated training chats that must never flag anything."""
    return [chat(words(30, rng), words(15, rng)) for _ in range(150)]


# -- normalisation and hashing ---------------------------------------------------------------


def test_normalize_folds_width_case_punctuation_and_space() -> None:
    assert normalize("  Ｈｅｌｌｏ,\tWORLD!!  ﬁne…\n") == "hello world fine"
    assert normalize("don't") == "don t"


def test_normalize_undoes_invisible_characters_look_alikes_and_html() -> None:
    plain = "please refund my copy"
    assert normalize("ple\u200base re\u00adfund m\u200dy co\ufeffpy") == plain
    assert normalize("ple\u2060ase\u200e refund\u034f my\ufe0f copy") == plain
    assert normalize("рlеаsе rеfund my сору") == plain  # Cyrillic р е а с о у
    assert normalize("PLΕΑSΕ RΕFUΝD MY CΟΡY") == plain  # Greek capitals Ε Α Ν Ο Ρ
    assert normalize("please&nbsp;refund&#32;my &amp; copy") == "please refund my copy"
    assert normalize("café, naïve") == normalize("cafe\u0301, nai\u0308ve")  # one letter, however written
    # both sides are folded alike, so real Cyrillic and Greek still equal themselves, in either case
    assert normalize("Привет, мир") == normalize("привет мир") == normalize("ПРИВЕТ, МИР")
    assert normalize("Нет") == normalize("нет") and normalize("ΝΑΙ") == normalize("ναι")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Tôi muốn bán cái bàn", "Tôi muốn bạn cái bàn"),  # Vietnamese tones: sell / friend
        ("cafe", "café"),
        ("पुल पार करो", "पल पार करो"),  # Hindi vowel signs: bridge / moment
        ("ข้าว", "ขาว"),  # Thai: rice / white
        ("かぎ", "かき"),  # Japanese voicing mark
        ("мой", "мои"),  # Russian й / и
        ("سأل", "سال"),  # Arabic hamza
    ],
)
def test_marks_that_spell_words_are_kept(one: str, other: str) -> None:
    assert normalize(one) != normalize(other)


def test_json_answers_are_compared_as_the_text_they_hold() -> None:
    compact = json.dumps({"reply": "Hi Ana,\n\nDone.", "category": "refund"})
    spaced = json.dumps({"category": "refund", "reply": "Hi Ana,\n \n\nDone."}, indent=2)
    assert hashing.json_text(compact) == "category\nrefund\nreply\nHi Ana,\n\nDone."
    assert (
        normalize(hashing.json_text(compact))
        == normalize(hashing.json_text(spaced))
        == "category refund reply hi ana done"
    )
    assert "n" not in normalize(hashing.json_text(compact)).split()  # no "\n" escape debris
    assert hashing.json_text('{"n": [1, true, null]}') == "n\n1\ntrue\nnull"
    assert hashing.json_text("{not json") == "{not json" and hashing.json_text("plain") == "plain"


def test_hashes_do_not_depend_on_batch_or_script_path() -> None:
    alone = hashing.words(["the quick brown fox"])
    mixed = hashing.words(["é ça", "The quick, brown fox!"])  # non-ASCII batch takes the regex path
    assert hashing.text_hashes(alone)[0] == hashing.text_hashes(mixed)[1]
    assert set(hashing.ngrams(alone, 2)[0]) == set(hashing.ngrams(mixed, 2)[0][-3:])


def test_ngrams_never_cross_texts() -> None:
    w = hashing.words(["a b c", "d e f"])
    grams, first = hashing.ngrams(w, 3)
    assert len(grams) == 2 and first.tolist() == [0, 3]


def test_minhash_signatures_equal_datasketch() -> None:
    from datasketch import MinHash

    w = hashing.words(
        ["one two three four five six seven", "", "tiny text", "eight nine ten eleven twelve x y z"]
    )
    sh, owner = hashing.shingles(w, 5)
    perms = hashing.minhash_permutations(128, 1)
    sig, present = hashing.minhash_signatures(sh, owner, w.n_texts, perms, chunk=3)
    assert present.tolist() == [0, 2, 3]
    for row, text in zip(sig, present.tolist(), strict=True):
        ref = MinHash(num_perm=128, seed=1, hashfunc=lambda x: int(x) & 0xFFFFFFFF)
        ref.update_batch(sh[owner == text].tolist())
        assert np.array_equal(ref.hashvalues, row)


# -- training file shapes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (chat("Q1", "A1"), ("Q1", "A1")),
        ({"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}, ("Q", "A")),
        ({"prompt": "P", "completion": "C"}, ("P", "C")),
        (
            {
                "prompt": [{"role": "user", "content": "P"}],
                "completion": [{"role": "assistant", "content": "C"}],
            },
            ("P", "C"),
        ),
        ({"instruction": "Do X", "input": "on Y", "output": "Done"}, ("Do X\non Y", "Done")),
        ({"question": "Why?", "answer": "Because"}, ("Why?", "Because")),
        ({"text": "free text"}, ("free text", "")),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]}, ("parts", "")),
        (chat("Q", '{"b": 1, "a": 2}'), ("Q", '{"a": 2, "b": 1}')),
    ],
)
def test_training_line_shapes(obj: dict[str, Any], expected: tuple[str, str]) -> None:
    assert prompt_and_answer(obj) == expected


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"foo": 1}, r"no recognised fields \(found \['foo'\]\)"),
        ({"messages": []}, "non-empty list"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "no user turn"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "unknown role 'robot'"),
        ({"messages": [{"role": "user", "content": 3}]}, "must be a string"),
        ([1, 2], "expected a JSON object, got list"),
    ],
)
def test_bad_training_lines_say_what_is_wrong(obj: Any, message: str) -> None:
    with pytest.raises(LineError, match=message):
        prompt_and_answer(obj)


def test_malformed_lines_are_reported_as_path_line(tmp_path: Path, background: list[dict[str, Any]]) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", [*background[:2], "{not json", {"foo": 1}, background[2]])
    (tmp_path / "bad.jsonl").write_bytes(b'{"text": "ok"}\n\xff\xfe\n')
    suite = make_suite({"a": "some eval prompt here"})
    with pytest.raises(DataError) as info:
        check_leakage([train, tmp_path / "bad.jsonl"], [suite])
    problems = info.value.problems
    assert problems[0].startswith(f"{train}:3: invalid JSON")
    assert problems[1].startswith(f"{train}:4: no recognised fields")
    assert (
        problems[2]
        == f"{tmp_path / 'bad.jsonl'}:2: not valid UTF-8 (byte 0xff at column 1); re-save the file as UTF-8"
    )
    report = check_leakage([train], [suite], config=LeakageConfig(skip_bad_lines=True))
    assert [p.split(": ")[0] for p in report.problems] == [f"{train}:3", f"{train}:4"]
    assert report.training_files[0].docs == 3 and report.training_files[0].lines == 5


def test_a_file_of_garbage_is_summarised(tmp_path: Path) -> None:
    train = tmp_path / "garbage.jsonl"
    train.write_text("nope\n" * 1200)
    with pytest.raises(DataError) as info:
        check_leakage(train, [make_suite({"a": "x y z"})])  # one path is accepted as is
    assert (
        len(info.value.problems) == 51 and info.value.problems[-1] == "... and 1150 more unreadable line(s)"
    )
    report = check_leakage(train, [make_suite({"a": "x y z"})], config=LeakageConfig(skip_bad_lines=True))
    assert report.training_files[0].bad_lines == 1200 and len(report.problems) == 1000


def test_missing_training_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot open the training file"):
        check_leakage([tmp_path / "nope.jsonl"], [make_suite({"a": "x y z"})])


# -- the checks ---------------------------------------------------------------------------------


def test_clean_data_passes(tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]) -> None:
    suite = make_suite({f"e{i}": words(25, rng) for i in range(30)} | {"short": words(9, rng)})
    report = check_leakage([write_jsonl(tmp_path / "t.jsonl", background)], [suite])
    assert report.counts()["clean"] == len(suite)
    assert report.passed and report.clean_ids(suite) == suite.ids
    assert report.to_dict()["items"] == []
    assert "no overlap found between 150 training examples and 31 eval items" in report.verdict()[1]


def test_exact_duplicates_are_found_and_named(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    prompts = {f"e{i}": words(20, rng) for i in range(20)}
    refs = {"e7": {"category": "refund", "reply": "We refunded you."}}
    suite = make_suite(prompts, refs=refs)
    rows = list(background)
    rows.insert(10, chat(prompts["e3"].upper().replace(" ", ",  "), "something else"))  # prompt only
    rows.insert(
        40, chat(prompts["e7"], '{"reply": "We refunded you.", "category": "refund"}')
    )  # prompt + answer
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    report = check_leakage([train], [suite])
    flags = report.flags(suite)
    exact = sorted(i for i, f in flags.items() if f.flag == "exact")
    assert exact == ["e3", "e7"]
    assert flags["e3"].source == f"{train}:11" and flags["e7"].source == f"{train}:41"
    assert "prompt appears verbatim" in flags["e3"].reason
    assert "prompt and reference answer appear verbatim" in flags["e7"].reason
    assert flags["e3"].excerpt.startswith(prompts["e3"].upper().split()[0] + ",")
    assert not report.passed
    with pytest.raises(GateFailure, match=r"2 eval item\(s\) appear verbatim .*eval:e3, eval:e7"):
        report.assert_passed()
    assert set(report.clean_ids(suite)) == set(prompts) - {"e3", "e7"}
    docs = read_training_examples(report.training_locations())
    assert [d.line for d in docs] == [11, 41] and docs[
        1
    ].answer == '{"category": "refund", "reply": "We refunded you."}'


def test_near_duplicate_with_a_few_words_changed_is_found_by_minhash(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    long_prompt = words(120, rng)
    changed = long_prompt.split()
    changed[-1], changed[-3] = "altered", "words"
    suite = make_suite({"near": long_prompt, "other": words(120, rng)})
    train = write_jsonl(tmp_path / "t.jsonl", [*background, chat(" ".join(changed), words(10, rng))])
    flags = check_leakage([train], [suite]).flags(suite)
    assert flags["near"].flag == "near_duplicate" and "Jaccard" in flags["near"].reason
    assert 0.8 <= (flags["near"].score or 0.0) < 1.0
    assert flags["near"].source == f"{train}:151"
    assert flags["other"].flag == "clean"


def test_item_inside_a_long_document_is_found_by_containment(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    item = words(40, rng)
    edited = item.split()
    edited[20] = "edited"  # one changed word breaks every 13-gram run through the middle, not containment
    doc = {"text": f"{words(200, rng)} {' '.join(edited)} {words(200, rng)}"}
    suite = make_suite({"inside": item})
    flags = check_leakage([write_jsonl(tmp_path / "t.jsonl", [*background, doc])], [suite]).flags(suite)
    assert flags["inside"].flag == "near_duplicate"
    assert "inside one training example" in flags["inside"].reason
    assert flags["inside"].score == pytest.approx(31 / 36)
    assert "edited" in flags["inside"].excerpt


def test_shared_13_gram_is_found(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    item = words(40, rng)
    run = " ".join(item.split()[10:23])  # exactly 13 words
    suite = make_suite({"overlap": item, "twelve": words(40, rng)})
    rows = [*background, chat(words(20, rng), f"as you said: {run}. {words(10, rng)}")]
    twelve = " ".join(suite.items[1].prompt.split()[:12])
    rows.append(chat(words(20, rng), f"{twelve} {words(10, rng)}"))  # 12 words: below the n-gram length
    flags = check_leakage([write_jsonl(tmp_path / "t.jsonl", rows)], [suite]).flags(suite)
    assert flags["overlap"].flag == "ngram"
    assert flags["overlap"].reason.startswith("1 of its 28 word 13-grams occur in training")
    assert normalize(run) in flags["overlap"].excerpt
    assert flags["twelve"].flag == "clean"


@pytest.mark.parametrize(("copies", "flag"), [(9, "ngram"), (10, "clean")])
def test_boilerplate_13_grams_are_ignored(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]], copies: int, flag: str
) -> None:
    sign_off = "thank you so much for your quick help and have a wonderful day my friend"
    suite = make_suite({"signed": f"{words(20, rng)}. {sign_off}"})
    rows = [*background, *(chat(f"{words(15, rng)}. {sign_off}", words(5, rng)) for _ in range(copies))]
    flags = check_leakage([write_jsonl(tmp_path / "t.jsonl", rows)], [suite]).flags(suite)
    assert flags["signed"].flag == flag


def test_one_rare_word_next_to_boilerplate_is_not_a_leak(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    sign_off = "thank you so much for your quick help and have a wonderful day my friend"
    item = f"{words(20, rng)} rareword {sign_off}"
    rows = [*background, *(chat(f"{words(15, rng)} {sign_off}", "ok") for _ in range(12))]
    rows.append(chat(f"{words(15, rng)} rareword {sign_off}", "ok"))
    train = write_jsonl(tmp_path / "t.jsonl", rows)
    suite = make_suite({"signed": item})
    assert check_leakage([train], [suite]).flags(suite)["signed"].flag == "clean"
    plain = LeakageConfig(max_boilerplate_share=1.0)  # the bare GPT-3 rule flags it
    assert check_leakage([train], [suite], config=plain).flags(suite)["signed"].flag == "ngram"


def test_short_items_use_the_palm_rule(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    ten, twelve = words(10, rng), words(12, rng)
    suite = make_suite({"ten": ten, "twelve": twelve, "ten_partial": words(10, rng)})
    partial = " ".join(suite.items[2].prompt.split()[:9])  # 2 of its 3 8-grams: 67% < 70%
    rows = [
        *background,
        chat(words(5, rng), f"{words(5, rng)} {ten} {words(5, rng)}"),
        chat(f"{' '.join(twelve.split()[:11])} {words(3, rng)}", "x"),  # 4 of 5 8-grams: 80%
        chat(f"{partial} {words(3, rng)}", "x"),
    ]
    flags = check_leakage([write_jsonl(tmp_path / "t.jsonl", rows)], [suite]).flags(suite)
    assert flags["ten"].flag == "ngram" and "3 of its 3 word 8-grams" in flags["ten"].reason
    assert flags["twelve"].flag == "ngram" and flags["twelve"].score == pytest.approx(0.8)
    assert "PaLM rule" in flags["twelve"].reason
    assert flags["ten_partial"].flag == "clean"


def test_results_do_not_depend_on_batch_size(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    items = {f"e{i}": words(30, rng) for i in range(6)}
    suite = make_suite(items)
    rows = list(background)
    rows[5] = chat(items["e0"])
    rows[77] = {"text": f"{words(5, rng)} {' '.join(items['e1'].split()[:15])}"}
    train = write_jsonl(tmp_path / "t.jsonl", rows)
    runs = [check_leakage([train], [suite], config=LeakageConfig(batch_lines=b)) for b in (1, 7, 4096)]
    views = [[(f.id, f.flag, f.source, f.score) for f in r.flagged()] for r in runs]
    assert views[0] == views[1] == views[2]
    assert [v[:2] for v in views[0]] == [("e0", "exact"), ("e1", "ngram")]


def test_several_files_and_suites(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    a, b = words(25, rng), words(25, rng)
    s1, s2 = make_suite({"x": a}, name="one"), make_suite({"x": b, "y": words(25, rng)}, name="two")
    f1 = write_jsonl(tmp_path / "f1.jsonl", background[:50])
    f2 = write_jsonl(tmp_path / "f2.jsonl", [*background[50:], {"prompt": b, "completion": "c"}])
    report = check_leakage([f1, f2], [s1, s2])
    assert report.flags("one")["x"].flag == "clean"
    assert report.flags(s2)["x"].source == f"{f2}:101"
    assert report.clean_ids(s2) == ["y"]
    assert report.to_dict()["suites"]["two"] == {
        "n_items": 2,
        "counts": {"exact": 1, "near_duplicate": 0, "ngram": 0, "paraphrase": 0, "clean": 1},
        "n_clean": 1,
    }
    with pytest.raises(ConfigError, match="suite 'three' was not part of this leakage check"):
        report.clean_ids("three")
    with pytest.raises(ConfigError, match="distinct names"):
        check_leakage([f1], [s1, s1])


def test_near_duplicate_rate_gate(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    items = {f"e{i}": words(40, rng) for i in range(50)}
    suite = make_suite(items)
    rows = [*background, chat(words(5, rng), " ".join(items["e0"].split()[:20]))]
    train = write_jsonl(tmp_path / "t.jsonl", rows)
    report = check_leakage([train], [suite])  # 1 of 50 = 2% > the 1% default
    assert report.near_duplicate_rate == pytest.approx(0.02)
    ok, reason = report.verdict()
    assert not ok and "1 of 50 eval items (2.0%) overlap training data" in reason
    relaxed = check_leakage([train], [suite], config=LeakageConfig(max_near_duplicate_rate=0.05))
    assert relaxed.passed and "compare scores on the clean subset" in relaxed.verdict()[1]


def test_report_to_dict_is_plain_json(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    items = {"a": words(20, rng), "b": words(20, rng)}
    suite = make_suite(items)
    train = write_jsonl(tmp_path / "t.jsonl", [*background, chat(items["a"])])
    report = check_leakage([train], [suite])
    data = json.loads(json.dumps(report.to_dict()))
    assert data["counts"] == {"exact": 1, "near_duplicate": 0, "ngram": 0, "paraphrase": 0, "clean": 1}
    assert data["rate"] == 0.5 and data["passed"] is False
    assert [it["id"] for it in data["items"]] == ["a"]
    assert data["items"][0]["checks"] == ["exact", "near_duplicate", "ngram"]
    assert data["config"]["ngram_n"] == 13 and data["n_training_docs"] == 151
    assert data["training_files"][0]["sha256"] == hashlib.sha256(train.read_bytes()).hexdigest()
    assert isinstance(report, LeakageReport)


class BagOfWordsEmbedder:
    """A real, deterministic embedder: hashed bag of words (stands in for MiniLM in fast tests)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in normalize(text).split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 256] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_paraphrase_check_uses_the_embedder(
    tmp_path: Path, rng: random.Random, background: list[dict[str, Any]]
) -> None:
    item = words(12, rng)
    shuffled = item.split()
    rng.shuffle(shuffled)  # same words, new order: no shared n-gram, same bag of words
    suite = make_suite({"para": item, "other": words(12, rng)})
    train = write_jsonl(tmp_path / "t.jsonl", [*background, chat(" ".join(shuffled))])
    assert check_leakage([train], [suite]).flags(suite)["para"].flag == "clean"  # off by default
    cfg = LeakageConfig(embedding=True)
    report = check_leakage([train], [suite], config=cfg, embedder=BagOfWordsEmbedder())
    flag = report.flags(suite)["para"]
    assert flag.flag == "paraphrase" and flag.score == pytest.approx(1.0, abs=1e-5)
    assert flag.source == f"{train}:151" and "embedding cosine 1.00" in flag.reason
    assert report.flags(suite)["other"].flag == "clean"
    assert report.passed  # paraphrases are reported, not gated, unless max_paraphrase_rate is set
    gated = check_leakage(
        [train],
        [suite],
        config=LeakageConfig(embedding=True, max_paraphrase_rate=0.0),
        embedder=BagOfWordsEmbedder(),
    )
    assert not gated.passed


@pytest.mark.slow
def test_paraphrase_with_minilm(tmp_path: Path) -> None:
    suite = make_suite(
        {"para": "How do I reset my password if I forgot it?", "other": "Bananas are rich in potassium."}
    )
    train = write_jsonl(tmp_path / "t.jsonl", [chat("I forgot my password. How can I reset it?")])
    flags = check_leakage([train], [suite], config=LeakageConfig(embedding=True)).flags(suite)
    assert flags["para"].flag == "paraphrase" and (flags["para"].score or 0.0) >= 0.8
    assert flags["other"].flag == "clean"


# -- config, manifest, examples -------------------------------------------------------------------


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="jaccard_threshold must be in \\(0, 1\\], got 1.5"):
        LeakageConfig(jaccard_threshold=1.5)
    with pytest.raises(ConfigError, match="short_ngram_n \\(20\\) must not exceed ngram_n \\(13\\)"):
        LeakageConfig(short_ngram_n=20)
    with pytest.raises(ConfigError, match=r"unknown leakage setting\(s\) \['ngram'\]"):
        LeakageConfig.from_dict({"ngram": 13})
    assert LeakageConfig.from_dict({"ngram_n": 10}).ngram_n == 10


def manifest_of(adapter: Path, train: Path, sha: str | None = None, dev: Path | None = None) -> None:
    data: dict[str, Any] = {
        "train": {"path": str(train), "sha256": sha or hashlib.sha256(train.read_bytes()).hexdigest()}
    }
    if dev is not None:
        data["dev"] = {"path": dev.name, "sha256": hashlib.sha256(dev.read_bytes()).hexdigest()}
    adapter.mkdir(exist_ok=True)
    write_manifest(adapter, {"data": data})


def test_training_files_from_manifest(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "a"}])
    adapter.mkdir()
    dev = write_jsonl(adapter / "dev.jsonl", [{"text": "b"}])  # relative paths resolve from the adapter
    manifest_of(adapter, train, dev=dev)
    assert training_files_from_manifest(adapter) == [train, dev]
    assert training_files_from_manifest(adapter, include_dev=False) == [train]


def test_manifest_reports_moved_and_changed_files(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "a"}])
    manifest_of(adapter, train, sha="0" * 64)
    with pytest.raises(DataError, match="changed since training .*restore the original file"):
        training_files_from_manifest(adapter)
    manifest_of(adapter, train)
    train.rename(tmp_path / "elsewhere.jsonl")
    with pytest.raises(DataError, match="has moved or was deleted"):
        training_files_from_manifest(adapter)
    with pytest.raises(ConfigError, match="has no tunegate.json"):
        training_files_from_manifest(tmp_path)


def test_read_training_examples(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "t.jsonl", [chat("p1", "a1"), {"text": "t2"}, chat("p3", "a3")])
    docs = read_training_examples([f"{train}:3", f"{train}:1"])
    assert [(d.line, d.prompt, d.answer) for d in docs] == [(3, "p3", "a3"), (1, "p1", "a1")]
    with pytest.raises(DataError, match=":9: no training example on this line"):
        read_training_examples([f"{train}:9"])


# -- memorisation probe ----------------------------------------------------------------------------


def test_memorisation_probe_measures_verbatim_overlap() -> None:
    docs = [
        TrainingDoc("t.jsonl", 1, "one two three four", "five six seven eight nine ten"),
        TrainingDoc("t.jsonl", 2, "alpha beta gamma delta", "epsilon zeta eta theta"),
    ]
    seen: list[list[dict[str, str]]] = []

    def generate(chats: list[list[dict[str, str]]]) -> list[str]:
        seen.extend(chats)
        return ["Five, six seven eight nine ten.", "something unrelated entirely"]

    results = memorisation_probe(generate, docs)
    assert seen[0][0]["role"] == "user" and seen[0][0]["content"].endswith("one two three four five")
    first, second = results
    assert first.target == "six seven eight nine ten" and first.mode == "continue"
    assert (first.prefix_match_words, first.longest_common_words) == (0, 5)
    assert first.memorised and first.longest_common_fraction == 1.0
    assert not second.memorised and second.longest_common_words == 0
    assert probe_summary(results)["memorised"] == 1


def test_memorisation_probe_answer_mode_uses_the_training_prompt() -> None:
    docs = [
        TrainingDoc("t.jsonl", 4, "What is the refund window?", "Refunds are possible within 30 days."),
        TrainingDoc("t.jsonl", 5, "plain text only here", ""),
    ]
    chats_seen: list[list[dict[str, str]]] = []

    def generate(chats: list[list[dict[str, str]]]) -> list[str]:
        chats_seen.extend(chats)
        return ["Refunds are possible within 30 days of purchase.", "here"]

    first, second = memorisation_probe(generate, docs, mode="answer")
    assert chats_seen[0] == [{"role": "user", "content": "What is the refund window?"}]
    assert first.prefix_match_words == 6 and first.memorised
    assert second.mode == "continue"  # no answer to reproduce: falls back
    with pytest.raises(ConfigError, match="expected one per chat"):
        memorisation_probe(lambda chats: [], docs)
    with pytest.raises(ConfigError, match="prefix_fraction must be strictly between 0 and 1"):
        memorisation_probe(generate, docs, prefix_fraction=1.0)


def test_overlap_counts_normalised_words() -> None:
    assert overlap("The END, really", "the end really now") == (4, 3, 3)
    assert overlap("", "a b") == (2, 0, 0)
