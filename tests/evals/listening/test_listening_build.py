"""``build``: from audio folders and from synthesis to a self-contained test folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evals.listening.build import build_test
from evals.listening.config import load_config
from evals.listening.manifest import load_manifest
from evals.listening.records import HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR
from evals.listening.store import ListeningStore
from flowtts.audio import loudness_lufs
from flowtts.errors import FlowTTSError
from tests.evals.listening.listening_fixtures import write_folder_test


def test_mushra_from_folders(tmp_path: Path) -> None:
    config = load_config(write_folder_test(tmp_path / "src", "mushra"), "mushra")
    out = tmp_path / "test"
    result = build_test(config, out)
    m = load_manifest(out, "mushra")
    assert m == result.manifest
    assert m.conditions == ("sys-a", "sys-b", HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR)
    assert [it.id for it in m.items] == ["item-0", "item-1", "item-2"]
    assert [it.language for it in m.items] == ["en", "fr", "en"]
    for key in ("model", "config_hash", "git_commit", "machine", "date_utc"):
        assert m.build[key], key
    assert "sys-a" in m.model_name and m.build["config_hash"] == result.manifest.build["config_hash"]

    files = sorted(p.name for p in (out / "audio").iterdir())
    assert len(files) == 3 * 6  # open reference + 5 stimuli per item
    assert all(re.fullmatch(r"[0-9a-f]{16}\.wav", f) for f in files)  # nothing readable in a URL
    for it in m.items:
        hidden, ref = it.stimulus(HIDDEN_REFERENCE), it.reference
        assert hidden.token != ref.token  # the page cannot match the hidden reference by its URL
        a, _ = sf.read(out / ref.file, dtype="float32")
        b, _ = sf.read(out / hidden.file, dtype="float32")
        assert np.array_equal(a, b)
        for s in (ref, *it.stimuli):
            x, rate = sf.read(out / s.file, dtype="float32")
            info = sf.info(out / s.file)
            assert rate == 24000 and info.subtype == "PCM_16" and x.ndim == 1
            assert abs(loudness_lufs(x, rate) - (-23.0)) < 0.5, (it.id, s.condition)  # loudness-matched
        low, _ = sf.read(out / it.stimulus(LOW_ANCHOR).file, dtype="float32")
        assert low.shape == a.shape
    assert not list(tmp_path.glob(".test.*"))  # no staging left behind


def test_winrate_from_folders_has_no_anchors(tmp_path: Path) -> None:
    config = load_config(write_folder_test(tmp_path / "src", "winrate", systems=("x", "y", "z")), "winrate")
    m = build_test(config, tmp_path / "test").manifest
    assert m.conditions == ("x", "y", "z") and m.pairs == (("x", "y"), ("x", "z"), ("y", "z"))
    assert m.tie is True and all(len(it.stimuli) == 3 and it.reference for it in m.items)


def test_rebuild_needs_force_and_keeps_the_answers(tmp_path: Path) -> None:
    config = load_config(write_folder_test(tmp_path / "src", "winrate"), "winrate")
    out = tmp_path / "test"
    first = build_test(config, out).manifest
    store = ListeningStore(out / "results.sqlite", first)
    store.join("alice")
    store.finish_training("alice")
    store.answer_pair("alice", 0, "a")
    with pytest.raises(FlowTTSError, match="already holds a test; give --force"):
        build_test(config, out)
    assert load_manifest(out).build_id == first.build_id  # untouched

    result = build_test(config, out, force=True)
    assert result.manifest.build_id != first.build_id and not (out / "results.sqlite").exists()
    kept = ListeningStore(result.previous_results, first, create=False)
    assert [v.choice for v in kept.pair_votes()] == ["a"]
    assert result.previous_results.parent == out / "previous"


def test_refuses_to_overwrite_a_folder_that_is_not_a_test(tmp_path: Path) -> None:
    config = load_config(write_folder_test(tmp_path / "src", "mushra"), "mushra")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("precious")
    with pytest.raises(FlowTTSError, match="not a listening-test folder"):
        build_test(config, tmp_path / "docs", force=True)
    assert (tmp_path / "docs" / "thesis.tex").read_text() == "precious"


def test_missing_and_ambiguous_files_fail_before_anything_is_written(tmp_path: Path) -> None:
    src = write_folder_test(tmp_path / "src", "mushra")
    config = load_config(src, "mushra")
    (tmp_path / "src/systems/sys-b/item-2.flac").unlink()
    with pytest.raises(FlowTTSError, match="no audio file for item 'item-2'"):
        build_test(config, tmp_path / "test")
    assert not (tmp_path / "test").exists()
    sf.write(tmp_path / "src/systems/sys-b/item-2.flac", np.zeros(24000, np.float32) + 0.01, 24000)
    sf.write(tmp_path / "src/systems/sys-b/item-2.wav", np.zeros(24000, np.float32) + 0.01, 24000)
    with pytest.raises(FlowTTSError, match="several files for item 'item-2'"):
        build_test(config, tmp_path / "test")
    (tmp_path / "src/systems/sys-b/item-2.wav").unlink()
    (tmp_path / "src/systems/sys-b/item-2.flac").write_bytes(b"not audio at all")
    with pytest.raises(FlowTTSError, match="cannot read audio .*item-2.flac"):
        build_test(config, tmp_path / "test")
    (tmp_path / "src/refs/item-1.wav").unlink()
    with pytest.raises(FlowTTSError, match="reference .* does not exist"):
        build_test(config, tmp_path / "test")
    assert not (tmp_path / "test").exists() and not list(tmp_path.glob(".test*"))


def test_winrate_with_a_synthesized_condition(tmp_path: Path) -> None:
    from tests.model.helpers import make_tiny_model_dir

    model = make_tiny_model_dir(tmp_path / "model")
    src = write_folder_test(tmp_path / "src", "winrate", items=2, systems=("natural",))
    text = src.read_text()
    synth = f'[[conditions]]\nname = "tiny"\nmodel = "{model}"\nvoice = "tiny-voice"\nsteps = 1\nseed = 3\n'
    src.write_text(text + "\n" + synth)
    config = load_config(src, "winrate")
    lines: list[str] = []
    m = build_test(config, tmp_path / "test", log=lines.append).manifest
    assert m.conditions == ("natural", "tiny") and m.pairs == (("natural", "tiny"),)
    info = {s.name: s for s in m.systems}["tiny"]
    assert info.source == "synthesis" and info.details["model_name"] == "tiny-random"
    assert info.details["steps"] == 1 and info.details["voice"] == "tiny-voice"
    assert any("synthesizing tiny: item 2/2" in line for line in lines)
    for it in m.items:
        s = it.stimulus("tiny")
        x, rate = sf.read(tmp_path / "test" / s.file, dtype="float32")
        assert rate == 24000 and len(x) / rate >= 0.5 and s.seconds == pytest.approx(len(x) / rate, abs=1e-3)
    manifest = json.loads((tmp_path / "test/test.json").read_text())
    assert manifest["config"]["conditions"][1]["model"] == str(model)

    src.write_text(text + "\n" + synth.replace('voice = "tiny-voice"', 'voice = "nobody"'))
    with pytest.raises(FlowTTSError, match="unknown voice 'nobody'"):
        build_test(load_config(src, "winrate"), tmp_path / "test2")
    assert not (tmp_path / "test2").exists()
