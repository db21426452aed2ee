"""TTS intelligibility / similarity evaluation and the speaker judge, on a tiny random model (it speaks noise:
the numbers are meaningless, the plumbing is real) and a tiny corpus built here."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import flowtts
from evals.report import write_report
from evals.tts_eval import (
    _phoneme_proxy,
    _proxy_summary,
    intelligibility,
    plan_similarity_voice,
    prompt_candidates,
    render_intelligibility,
    render_similarity,
    similarity,
)
from flowtts.audio import resample
from flowtts.cli import build_parser, main
from flowtts.data.manifest import Utterance, write_manifest
from flowtts.errors import FlowTTSError
from tests.model.helpers import make_tiny_model_dir

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
LONG = (
    "This is a longer recording of the same voice, long enough to be cloned as a voice prompt for the "
    "evaluation of the model."
)


def _row(uid: str, voice: str, split: str, seen: bool = True, lang: str = "en", duration: float = 2.0, **kw):
    base = dict(
        audio=f"audio/{uid}.flac",
        text=f"sentence {uid}",
        normalized_text=f"sentence {uid}",
        speaker_group=voice,
        duration=duration,
        sample_rate=24000,
    )
    base.update(kw)
    return Utterance(id=uid, lang=lang, voice=voice, split=split, seen_voice=seen, **base)


def _speech(text: str, lang: str, seed: int, seconds: float) -> np.ndarray:
    """espeak-ng speech at 24 kHz, or (without espeak) a voiced-like harmonic signal of ``seconds``."""
    if HAVE_ESPEAK:
        wav = subprocess.run(
            [
                "espeak-ng",
                "-v",
                {"en": "en-us", "fr": "fr"}[lang],
                "-p",
                str(30 + 10 * seed),
                "--stdout",
                text,
            ],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        x, sr = sf.read(io.BytesIO(wav), dtype="float32")
        return resample(x, sr, 24000)
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 24000)) / 24000
    f0 = 110 + 15 * seed + 20 * np.sin(2 * np.pi * 3 * t)
    x = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 24000) / k for k in range(1, 8))
    return (0.2 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.01 * rng.normal(size=t.size)).astype(
        np.float32
    )


# (id, lang, voice, split, seen, text)
CORPUS = [
    ("a-train-1", "en", "v-a", "train", True, LONG),
    ("a-train-2", "en", "v-a", "train", True, "The cat sat on the mat."),  # too short to be a prompt
    ("a-test-1", "en", "v-a", "test", True, "Glue the sheet to the dark blue background."),
    ("a-test-2", "en", "v-a", "test", True, "Rice is often served in round bowls."),
    ("a-test-3", "en", "v-a", "test", True, "The juice of lemons makes fine punch."),
    ("b-valid-1", "en", "v-b", "valid", True, LONG + " It has a second part."),
    ("b-test-1", "en", "v-b", "test", True, "Four hours of steady work faced us."),
    ("h-test-1", "en", "v-h", "test", False, LONG + " A held-out voice."),
    ("h-test-2", "en", "v-h", "test", False, "The box was thrown beside the parked truck."),
    ("h-test-3", "en", "v-h", "test", False, "These days a chicken leg is a rare dish."),
    (
        "f-train-1",
        "fr",
        "v-f",
        "train",
        True,
        "Ceci est un enregistrement assez long de la même voix pour le clonage.",
    ),
    ("f-test-1", "fr", "v-f", "test", True, "Le chat dort sur le tapis."),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    (root / "audio").mkdir()
    rows = []
    for uid, lang, voice, split, seen, text in CORPUS:
        x = _speech(text, lang, "abhf".index(voice[-1]), 5.0 if len(text) > 60 else 2.0)
        sf.write(root / "audio" / f"{uid}.flac", x, 24000)
        rows.append(
            _row(
                uid, voice, split, seen, lang, len(x) / 24000, text=text, normalized_text=text, phonemes="a b"
            )
        )
    (root / "manifests").mkdir()
    write_manifest(root / "manifests" / "00000.jsonl", rows)
    return root


@pytest.fixture(scope="module")
def tts(tmp_path_factory):
    root = make_tiny_model_dir(tmp_path_factory.mktemp("m") / "model")
    return flowtts.load(root, voices_dir=str(tmp_path_factory.mktemp("voices")))


# --- clip choice --------------------------------------------------------------------------------------------


def test_prompt_candidates_rules():
    rows = [
        _row("t-short", "v", "train", duration=2.9),
        _row("t-long", "v", "train", duration=25.1),
        _row("t-ok-20", "v", "train", duration=20.0),
        _row("t-ok-8", "v", "train", duration=8.0),
        _row("v-ok-8", "v", "valid", duration=8.0),
        _row("t-same-text", "v", "train", duration=8.0, normalized_text="evaluated"),
        _row("x-test", "v", "test", duration=8.0),
    ]
    got = [r.id for r in prompt_candidates(rows, {"t-ok-8"}, {"evaluated"}, ("train", "valid"))]
    assert got == ["t-ok-20", "v-ok-8"]  # 3–25 s only, excluded id / text, train before valid, test never
    got = [r.id for r in prompt_candidates(rows, prefer_splits=("train",), only_preferred=False)]
    assert got[:2] == ["t-ok-8", "t-same-text"] or got[:2] == ["t-same-text", "t-ok-8"]  # 5–15 s first
    assert got[2] == "t-ok-20" and set(got[3:]) == {"v-ok-8", "x-test"}


@pytest.mark.parametrize(
    "splits, pairs",
    [
        (["train", "test", "test", "test", "test", "test"], 2),  # prompt from train
        (["test"] * 3, 2),  # held-out voice, one pair at most: one clip kept for the prompt
        (["test"] * 9, 3),
        (["valid", "test", "test"], 5),
    ],
)
def test_similarity_plan_never_reuses_a_clip(splits, pairs):
    rows = [_row(f"u{i}", "v", s, duration=6.0) for i, s in enumerate(splits)]
    cands, plan = plan_similarity_voice(rows, "test", pairs)
    assert cands and plan and len(plan) <= pairs
    used = [r.id for pair in plan for r in pair]
    assert len(used) == len(set(used))  # A' != B, and no clip in two pairs
    assert not {r.id for r in cands} & set(used)  # the prompt is never A' or B
    assert all(r.split == "test" for r in [r for pair in plan for r in pair])
    if "train" in splits or "valid" in splits:
        assert all(r.split != "test" for r in cands)


# --- intelligibility ----------------------------------------------------------------------------------------


def test_intelligibility_report(tts, corpus, tmp_path):
    pytest.importorskip("pocketsphinx")
    r = intelligibility(
        tts, corpus, lang="en", max_items=2, seed=0, save_audio=tmp_path / "wav", progress=False
    )
    assert r["kind"] == "tts_intelligibility" and r["eval"]["voices"] == "seen"
    recs = r["utterances"]
    assert len(recs) == 2 and {x["voice"] for x in recs} == {"v-a", "v-b"}  # voices take turns
    split_of = {c[0]: c[3] for c in CORPUS}
    for x in recs:
        assert split_of[x["id"]] == "test" and x["prompt_id"] != x["id"]
        assert split_of[x["prompt_id"]] in ("train", "valid")  # another utterance of the same voice
        assert x["prompt_id"].split("-")[0] == x["id"].split("-")[0]
        assert x["seconds_ours"] > 0 and x["wer_words"] > 0 and "asr_ours" in x and "asr_corpus" in x
    assert {x["prompt_id"] for x in recs} == {"a-train-1", "b-valid-1"}  # a-train-2 is too short
    en = r["by_lang"]["en"]
    assert en["judge"].startswith("pocketsphinx") and en["vocabulary"] > 0
    a = en["asr"]
    assert a["utterances"] == 2 and a["wer_ours"] >= 0 and a["wer_corpus"] >= 0
    assert set(en["by_voice"]) == {"v-a", "v-b"} and en["by_voice"]["v-a"]["asr"]["utterances"] == 1
    (ch,) = r["checks"]
    assert ch["metric"] == "wer_ratio_en" and ch["value"] == a["ratio"] and ch["target"] == 1.2
    assert r["verdict"] in ("pass", "fail")
    assert sorted(p.name for p in (tmp_path / "wav").iterdir()) == sorted(f"{x['id']}.wav" for x in recs)
    json_path, md_path = write_report(tmp_path, "intel", r, render_intelligibility(r))
    assert json.loads(json_path.read_text())["checks"][0]["metric"] == "wer_ratio_en"
    md = md_path.read_text()
    assert "## Targets" in md and "| v-a | a-train-1" in md and "WER ratio" in md


def test_intelligibility_other_language_has_no_judge(tts, corpus):
    r = intelligibility(tts, corpus, lang="fr", max_items=1, progress=False)
    fr = r["by_lang"]["fr"]
    assert fr["judge"].startswith("none") and fr["asr"] is None
    assert fr["proxy"] is None  # the tiny codec has no phoneme head
    (ch,) = r["checks"]
    assert ch["pass"] is None and ch["note"] == "no independent judge" and r["verdict"] == "incomplete"
    assert any("proxy PER not measured" in n for n in r["notes"])
    assert "no independent recognizer" in render_intelligibility(r)


def test_phoneme_proxy_plumbing():
    from codec.config import CodecConfig, DecoderConfig, EncoderConfig, PhonemeHeadConfig
    from codec.model import Codec
    from codec.quantizers.fsq import FSQConfig
    from codec.quantizers.vq import VQConfig

    torch.manual_seed(0)
    codec = Codec(
        CodecConfig(
            encoder=EncoderConfig(
                n_mels=16, dim=16, conv_blocks=(1, 1), attn_dim=16, attn_layers=(1, 1), heads=2
            ),
            decoder=DecoderConfig(frame_dim=16, frame_blocks=1, dim=16, intermediate_dim=32, num_layers=1),
            vq=VQConfig(codebook_size=16, dim=4),
            fsq=FSQConfig(dim=4, levels=5),
            phoneme_head=PhonemeHeadConfig(dim=16, blocks=1),
            phonemes=("a", "b"),
        )
    ).eval()
    x = _speech("a b a b", "en", 0, 1.0)
    edits, phones = _phoneme_proxy(codec, x, "ab ba")
    assert phones == 4 and edits >= 0
    s = _proxy_summary(
        [
            {"per_edits_ours": 2, "per_edits_corpus": 1, "per_phones": 4},
            {"per_edits_ours": 0, "per_edits_corpus": 1, "per_phones": 4},
            {"id": "unscored"},
        ]
    )
    assert s == {"utterances": 2, "reference_phones": 8, "per_ours": 0.25, "per_corpus": 0.25, "ratio": 1.0}


def test_intelligibility_bad_input(tts, corpus, tmp_path):
    with pytest.raises(FlowTTSError, match="not a corpus"):
        intelligibility(tts, tmp_path, progress=False)
    with pytest.raises(FlowTTSError, match="no seen-voice utterances in split 'test' for language 'de'"):
        intelligibility(tts, corpus, lang="de", progress=False)
    with pytest.raises(FlowTTSError, match="unknown split"):
        intelligibility(tts, corpus, split="dev", progress=False)
    with pytest.raises(FlowTTSError, match="no voice of split 'test' has a clip"):
        intelligibility(tts, corpus, seen=False, progress=False)  # v-h has no train/valid clip


# --- similarity ---------------------------------------------------------------------------------------------


def test_similarity_report(tts, corpus, tmp_path):
    pytest.importorskip("resemblyzer")
    r = similarity(tts, corpus, max_voices=1, pairs_per_voice=1, langs=["en"], progress=False)
    assert r["kind"] == "tts_similarity" and r["judge"].startswith("resemblyzer")
    assert [v["voice"] for v in r["voices"]["held_out"]] == ["v-h"]
    assert len(r["voices"]["seen"]) == 1 and r["voices"]["seen"][0]["voice"] == "v-a"  # v-b: one test clip
    for g, voices in r["voices"].items():
        for v in voices:
            (p,) = v["pairs"]
            ids = {v["prompt_id"], p["text_id"], p["reference_id"]}
            assert len(ids) == 3  # prompt, A' and B are three different utterances
            assert -1 <= p["cos_ours"] <= 1 and 0 < p["cos_real"] <= 1
            assert v["ratio"] == pytest.approx(v["cos_ours"] / v["cos_real"])
            assert (v["prompt_split"] == "test") == (g == "held_out")
    for g in ("seen", "held_out"):
        s = r["groups"][g]
        assert s["voices"] == 1 and s["pairs"] == 1
    assert [c["metric"] for c in r["checks"]] == ["ratio_seen", "ratio_held_out"]
    assert all(c["pass"] in (True, False) for c in r["checks"])
    md = render_similarity(r)
    assert "## Per voice" in md and "v-h" in md and "cos(A', B)" in md
    write_report(tmp_path, "sim", r, md)


def test_similarity_bad_input(tts, corpus):
    with pytest.raises(FlowTTSError, match="pairs_per_voice"):
        similarity(tts, corpus, pairs_per_voice=0, judge=object(), progress=False)
    with pytest.raises(FlowTTSError, match="no utterances in split 'valid'"):
        similarity(tts, corpus, split="valid", langs=["fr"], judge=object(), progress=False)


# --- speaker judge ------------------------------------------------------------------------------------------


def test_speaker_judge():
    pytest.importorskip("resemblyzer")
    from evals.judges.speaker import SpeakerJudge

    judge = SpeakerJudge()
    a, b = _speech(LONG, "en", 0, 4.0), _speech(LONG, "en", 3, 4.0)
    ea, eb = judge.embed(a), judge.embed(b)
    assert (
        ea.shape == (256,) and ea.dtype == np.float32 and np.linalg.norm(ea) == pytest.approx(1.0, abs=1e-5)
    )
    assert judge.cosine(ea, ea) == pytest.approx(1.0) and -1 <= judge.cosine(ea, eb) <= 1
    assert judge.similarity(a, a) == pytest.approx(1.0)
    assert judge.embed(resample(a, 24000, 16000), sample_rate=16000).shape == (256,)
    assert np.isfinite(judge.embed(np.zeros(2400, np.float32))).all()  # silence: an embedding, no crash
    with pytest.raises(FlowTTSError, match="empty"):
        judge.embed(np.zeros(0, np.float32))
    with pytest.raises(FlowTTSError, match="NaN"):
        judge.embed(np.full(2400, np.nan, np.float32))
    assert judge.cosine(np.zeros(3), np.ones(3)) == 0.0


def test_speaker_judge_without_resemblyzer(monkeypatch):
    from evals.judges.speaker import SpeakerJudge

    monkeypatch.setitem(sys.modules, "resemblyzer", None)  # import resemblyzer -> ImportError
    with pytest.raises(FlowTTSError, match="pip install --no-deps resemblyzer"):
        SpeakerJudge()


# --- CLI ----------------------------------------------------------------------------------------------------


def test_eval_subcommands_are_registered():
    parser = build_parser()
    a = parser.parse_args(["eval", "intelligibility", "--corpus", "c", "--max-items", "3", "--cfg", "1.5"])
    assert a.func.__name__ == "run_intelligibility" and a.max_items == 3 and a.cfg == 1.5 and a.model is None
    assert a.lang == "en" and a.split == "test" and a.seed == 0 and not a.held_out_voices
    a = parser.parse_args(["eval", "similarity", "--corpus", "c", "--pairs", "3", "--langs", "en,fr"])
    assert a.func.__name__ == "run_similarity" and a.pairs == 3 and a.max_voices == 10
    a = parser.parse_args(["eval", "bench", "--ttfa-runs", "4"])
    assert a.func.__name__ == "run_bench" and a.ttfa_runs == 4 and a.threads == 2 and a.runs == 5
    a = parser.parse_args(["eval", "robustness", "--timeout", "5", "--only", "one_word"])
    assert a.func.__name__ == "run_robustness" and a.timeout == 5.0
    for bad in (["eval", "bench", "--runs", "0"], ["eval", "robustness", "--timeout", "-1"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_every_eval_flag_has_help():
    parser = build_parser()
    eval_parser = parser._subparsers._group_actions[0].choices["eval"]
    for name, sub in eval_parser._subparsers._group_actions[0].choices.items():
        for action in sub._actions:
            assert action.help, f"flowtts eval {name} {action.option_strings}: no help"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "intelligibility", "--corpus", "{tmp}/missing"], "does not exist"),
        (["eval", "similarity", "--corpus", "{corpus}", "--model", "{tmp}/missing"], "model folder"),
        (["eval", "intelligibility", "--corpus", "{tmp}", "--model", "{model}"], "not a corpus folder"),
        (["eval", "intelligibility", "--corpus", "{corpus}", "--model", "{model}", "--lang", "xx"], "'xx'"),
        (["eval", "bench", "--model", "{tmp}"], "not a flowtts model folder"),
        (["eval", "robustness", "--model", "{model}", "--only", "nope"], "unknown input nope"),
        (["eval", "robustness", "--model", "{model}", "--name", "a/b"], "plain file name"),
    ],
)
def test_cli_bad_input_is_one_line(argv, message, corpus, tts, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, corpus=corpus, model=tts.root) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowtts: error:") and message in err[0], err


def test_cli_robustness_writes_the_report(tts, tmp_path, capsys):
    argv = ["eval", "robustness", "--model", str(tts.root), "--only", "only_punctuation,only_emoji"]
    assert main([*argv, "--out", str(tmp_path / "rep"), "--timeout", "60"]) == 0
    report = json.loads((tmp_path / "rep" / "robustness.json").read_text())
    assert [c["name"] for c in report["cases"]] == ["only_punctuation", "only_emoji"]
    assert all(c["outcome"] == "refused" and c["pass"] for c in report["cases"])
    assert report["verdict"] == "pass"
    assert (tmp_path / "rep" / "robustness.md").read_text().startswith("# TTS robustness")
    out = capsys.readouterr().out
    assert "verdict: pass" in out
    assert main(["eval", "robustness", "--list"]) == 0
    assert "paragraph_1000" in capsys.readouterr().out
