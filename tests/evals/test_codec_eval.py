"""The codec benchmark on a tiny corpus with a tiny random codec (the numbers are meaningless, the
plumbing is real), the report helpers, the `flowtts eval` plugin and the rule that nothing imports evals."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.config import CodecConfig, DecoderConfig, EncoderConfig, PhonemeHeadConfig
from codec.model import Codec
from codec.quantizers.fsq import FSQConfig
from codec.quantizers.vq import VQConfig
from codec.release import save_codec
from evals.codec_eval import bitrate_info, evaluate_codec, render_markdown, select_utterances
from evals.report import config_hash, git_commit, report_header, write_report
from flowtts.audio import resample
from flowtts.cli import build_parser, main
from flowtts.data.manifest import Utterance, write_manifest
from flowtts.errors import FlowTTSError

REPO = Path(__file__).resolve().parents[2]
HAVE_ESPEAK = shutil.which("espeak-ng") is not None


def tiny_config() -> CodecConfig:
    return CodecConfig(
        encoder=EncoderConfig(
            n_mels=16, dim=16, conv_blocks=(1, 1), attn_dim=16, attn_layers=(1, 1), heads=2
        ),
        decoder=DecoderConfig(frame_dim=16, frame_blocks=1, dim=16, intermediate_dim=32, num_layers=1),
        vq=VQConfig(codebook_size=16, dim=4),
        fsq=FSQConfig(dim=4, levels=5),
        phoneme_head=PhonemeHeadConfig(dim=16, blocks=1),
        phonemes=("a", "b"),
    )


def _row(uid: str, lang: str, voice: str, split: str, seen: bool, **kw) -> Utterance:
    defaults = dict(
        audio=f"audio/{uid}.flac",
        text="the cat sat",
        normalized_text="the cat sat",
        speaker_group=voice,
        duration=1.0,
        sample_rate=24000,
        phonemes="ðə kˈat sˈat",
    )
    defaults.update(kw)
    return Utterance(id=uid, lang=lang, voice=voice, split=split, seen_voice=seen, **defaults)


def _speech(text: str, lang: str, seed: int) -> np.ndarray:
    """espeak-ng speech at 24 kHz, or (without espeak) a voiced-like harmonic signal with noise."""
    if HAVE_ESPEAK:
        wav = subprocess.run(
            ["espeak-ng", "-v", {"en": "en-us", "fr": "fr"}[lang], "--stdout", text],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        x, sr = sf.read(io.BytesIO(wav), dtype="float32")
        return resample(x, sr, 24000)
    rng = np.random.default_rng(seed)
    t = np.arange(36000) / 24000
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    x = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 24000) / k for k in range(1, 8))
    return (0.2 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.01 * rng.normal(size=t.size)).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    (root / "audio").mkdir()
    specs = [
        (
            "en-test-1",
            "en",
            "v-en-a",
            "test",
            True,
            "Glue the sheet to the dark blue background.",
            "ɡluː ðə ʃiːt",
        ),
        ("en-test-2", "en", "v-en-b", "test", False, "Rice is often served in round bowls.", "ɹaɪs ɪz ɒfən"),
        ("fr-test-1", "fr", "v-fr-a", "test", True, "Le chat dort.", "lə ʃa dɔʁ"),
        ("en-valid-1", "en", "v-en-a", "valid", True, "A valid sentence.", "ə vˈalɪd"),
    ]
    rows = []
    for i, (uid, lang, voice, split, seen, text, ipa) in enumerate(specs):
        x = _speech(text, lang, i)
        sf.write(root / "audio" / f"{uid}.flac", x, 24000)
        rows.append(
            _row(
                uid,
                lang,
                voice,
                split,
                seen,
                text=text,
                normalized_text=text,
                phonemes=ipa,
                duration=len(x) / 24000,
            )
        )
    (root / "manifests").mkdir()
    write_manifest(root / "manifests" / "00000.jsonl", rows)
    return root


@pytest.fixture(scope="module")
def codec_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("codec") / "codec.safetensors"
    save_codec(Codec(tiny_config()).eval(), path, extra={"step": "7"})
    return path


# --- report helpers -----------------------------------------------------------------------------------------


def test_report_header_fields():
    h = report_header("tiny", {"b": 1, "a": [1, 2]})
    assert h["model"] == "tiny"
    assert re.fullmatch(r"[0-9a-f]{16}", h["config_hash"])
    assert h["config_hash"] == config_hash({"a": [1, 2], "b": 1})  # canonical: key order does not matter
    assert h["config_hash"] != config_hash({"a": [1, 2], "b": 2})
    assert h["git_commit"] == "unknown" or re.fullmatch(r"[0-9a-f]{4,40}(-dirty)?", h["git_commit"])
    m = h["machine"]
    assert {"platform", "cpu", "cores", "torch", "cuda_device"} <= set(m)
    assert m["torch"] == torch.__version__ and m["cores"] >= 1 and m["cpu"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["date_utc"])


def test_git_commit_clean_dirty_and_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"  # not a repository
    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "f.txt").write_text("one")
    git("add", "f.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    sha = git_commit(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{4,40}", sha)
    (tmp_path / "f.txt").write_text("two")
    assert git_commit(tmp_path) == f"{sha}-dirty"


def test_write_report_is_strict_json_and_markdown(tmp_path):
    json_path, md_path = write_report(
        tmp_path / "r", "x", {"a": float("nan"), "b": np.float32(1.5), "c": (1, float("inf"))}, "# hi"
    )
    assert json.loads(json_path.read_text()) == {"a": None, "b": 1.5, "c": [1, None]}
    assert md_path.read_text() == "# hi\n"
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["x.json", "x.md"]


# --- selection and bitrate ----------------------------------------------------------------------------------


def test_selection_is_deterministic_capped_and_balanced_over_voices():
    rows = [_row(f"en-{v}-{i}", "en", v, "test", True) for v in "abc" for i in range(5)]
    rows += [_row(f"en-h-{i}", "en", "h", "test", False) for i in range(2)]
    rows += [_row(f"en-t-{i}", "en", "a", "train", True) for i in range(3)]
    picked = select_utterances(rows, "test", 4)
    assert [r.id for r in picked] == [r.id for r in select_utterances(list(reversed(rows)), "test", 4)]
    seen = [r for r in picked if r.seen_voice]
    assert len(seen) == 4 and sorted({r.voice for r in seen}) == ["a", "b", "c"]  # every voice before seconds
    assert len([r for r in picked if not r.seen_voice]) == 2
    assert all(r.split == "test" for r in picked)
    assert len(select_utterances(rows, "test", None)) == 17 == len(select_utterances(rows, "test", 0))


def test_bitrate_formula_at_defaults():
    b = bitrate_info(CodecConfig())
    assert b["bits_per_second"] == pytest.approx(12.5 * (13 + 36 * math.log2(21)))
    assert round(b["bits_per_second"]) == 2139
    assert "12.5 × (log2 8192 + 36·log2 21)" in b["formula"]


# --- the evaluation -----------------------------------------------------------------------------------------


def test_evaluate_codec_on_a_tiny_corpus(corpus, codec_file):
    r = evaluate_codec(
        codec_file, corpus, split="test", max_per_group=None, speed=False, wer=False, progress=False
    )
    assert r["kind"] == "codec_eval" and r["codec"]["step"] == 7
    assert r["eval"]["utterances"] == 3 and r["eval"]["langs"] == ["en", "fr"]
    q = r["quality"]
    assert set(q["by_lang"]) == {"en", "fr"} and list(q["by_voice_group"]) == ["seen", "held_out"]
    assert set(q["by_lang_voice_group"]) == {"en/seen", "en/held_out", "fr/seen"}
    o = q["overall"]
    assert o["utterances"] == 3 and 0.0 <= o["stoi"] <= 1.0 and o["mel_distance"] > 0
    assert o["per"] is not None and o["per_phones"] > 0  # reference phones restricted to ("a", "b")
    assert r["codebook_usage"]["frames"] == sum(math.ceil(u["duration"] * 12.5) for u in r["utterances"])
    checks = {c["metric"]: c for c in r["checks"]}
    assert checks["bitrate"]["pass"] is True  # 12.5 × (4 + 4·log2 5) = 166 bit/s
    assert checks["wer_ratio"]["pass"] is None and checks["encode_xrt"]["pass"] is None
    assert r["verdict"] in ("fail", "incomplete") and r["wer"] is None and r["speed"] is None
    md = render_markdown(r)
    assert "## Targets" in md and "not measured" in md and "en/held_out" in md
    json.dumps(r, allow_nan=True)  # plain Python values (write_report turns NaN into null)


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed")
def test_evaluate_codec_with_wer_and_speed(corpus, codec_file):
    # one thread: two threads on a busy 2-core machine make the timing loop itself slow
    r = evaluate_codec(
        codec_file, corpus, split="test", speed=True, wer=True, speed_runs=1, speed_threads=1, progress=False
    )
    w = r["wer"]
    assert w["utterances"] == 2 and w["reference_words"] == 15
    assert w["original"] < 0.5 < w["resynth"]  # random codec: noise out
    assert w["ratio"] == pytest.approx(w["resynth"] / w["original"])
    s = r["speed"]
    assert s["clip_seconds"] == 10.0 and s["frames"] == 125 and s["threads"] == 1
    assert s["encode_xrt"] > 0 and s["stream_ms_per_frame_p95"] >= s["stream_ms_per_frame_median"] > 0
    assert torch.get_num_threads() == 1  # restored after the speed run
    assert "× real time" in render_markdown(r)


def test_evaluate_codec_bad_input(corpus, codec_file, tmp_path):
    with pytest.raises(FlowTTSError, match="not a corpus"):
        evaluate_codec(codec_file, tmp_path, speed=False, wer=False)
    with pytest.raises(FlowTTSError, match="no utterances in split 'train'"):
        evaluate_codec(codec_file, corpus, split="train", speed=False, wer=False)
    with pytest.raises(FlowTTSError, match="no codec"):
        evaluate_codec(tmp_path / "missing.safetensors", corpus, speed=False, wer=False)


# --- CLI ----------------------------------------------------------------------------------------------------


def test_eval_is_a_registered_plugin_command():
    parser = build_parser()
    args = parser.parse_args(["eval", "codec", "--corpus", "c", "--no-speed"])
    assert args.func.__module__ == "evals.cli" and args.no_speed and args.max_per_group == 50


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "codec", "--corpus", "{tmp}/missing"], "does not exist"),
        (["eval", "codec", "--corpus", "{corpus}", "--codec", "{tmp}/missing.safetensors"], "does not exist"),
        (["eval", "codec", "--corpus", "{tmp}", "--codec", "{codec}"], "not a corpus folder"),
    ],
)
def test_cli_bad_input_is_one_line(argv, message, corpus, codec_file, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, corpus=corpus, codec=codec_file) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowtts: error:") and message in err[0]


def test_cli_writes_the_report(corpus, codec_file, tmp_path, capsys):
    argv = ["eval", "codec", "--codec", str(codec_file), "--corpus", str(corpus), "--no-speed", "--no-wer"]
    assert main([*argv, "--out", str(tmp_path / "rep"), "--name", "tiny", "--max-per-group", "1"]) == 0
    report = json.loads((tmp_path / "rep" / "tiny.json").read_text())
    assert report["eval"]["utterances"] == 3 and report["eval"]["max_per_group"] == 1
    assert (tmp_path / "rep" / "tiny.md").read_text().startswith("# Codec evaluation")
    assert "verdict:" in capsys.readouterr().out


def test_nothing_outside_evals_imports_evals():
    pattern = re.compile(r"^\s*(from\s+evals[\s.]|import\s+evals\b)", re.MULTILINE)
    offenders = [
        str(p.relative_to(REPO))
        for pkg in ("flowtts", "codec", "serve")
        for p in (REPO / pkg).rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
