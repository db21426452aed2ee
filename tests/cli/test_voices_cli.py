"""`flowtts voices list|add|remove` with a tiny random model and a library under tmp_path."""

import json

import numpy as np
import pytest
import soundfile as sf

from flowtts.cli import main
from tests.cli.test_say_cli import short_model_dir, speechlike_clip


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(short_model_dir(tmp_path_factory.mktemp("voices") / "model"))


@pytest.fixture()
def lib(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWTTS_HOME", str(tmp_path / "home"))  # never the user's real library
    return tmp_path / "lib"


@pytest.fixture()
def clip(tmp_path):
    x, sr = speechlike_clip(seconds=4.0)
    sf.write(tmp_path / "me.wav", x, sr)
    return str(tmp_path / "me.wav")


def voices(model, lib, *argv):
    extra = ["--model", model] if argv[0] in ("list", "add") else []
    return main(["voices", *argv, *extra, "--voices-dir", str(lib)])


def listed(model, lib, capsys):
    assert voices(model, lib, "list", "--json") == 0
    return {r["name"]: r for r in json.loads(capsys.readouterr().out)}


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_list_add_say_remove(model, lib, clip, tmp_path, capsys):
    assert voices(model, lib, "list") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:5] == ["NAME", "KIND", "SECONDS", "LANG", "SOURCE"]
    assert out.splitlines()[1].split()[:4] == ["tiny-voice", "preset", "3.2", "en"]

    argv = ["add", "me", clip, "--transcript", "Some words.", "--lang", "en", "--consent", "my own voice"]
    assert voices(model, lib, *argv) == 0
    assert "added voice 'me'" in one_line(capsys.readouterr().err)
    assert (lib / "me.safetensors").exists()
    rows = listed(model, lib, capsys)
    assert rows["tiny-voice"]["kind"] == "preset"
    me = rows["me"]
    assert me["kind"] == "user" and me["source"] == "me.wav" and me["lang"] == "en"
    assert me["transcript"] == "Some words." and me["consent"] == "my own voice" and len(me["codec"]) == 12
    assert 3.0 <= me["seconds"] <= 4.5

    out = tmp_path / "me-says.wav"
    assert (
        main(
            ["say", "Hi there.", "--model", model, "--voices-dir", str(lib), "--voice", "me", "-o", str(out)]
        )
        == 0
    )
    assert len(sf.read(out)[0]) > 0
    capsys.readouterr()

    assert voices(model, lib, "add", "me", clip) == 2
    assert "already exists" in one_line(capsys.readouterr().err)
    assert voices(model, lib, "add", "me", clip, "--force", "--lang", "fr") == 0
    assert listed(model, lib, capsys)["me"]["lang"] == "fr"

    assert voices(model, lib, "remove", "me") == 0
    assert "me" not in listed(model, lib, capsys)
    assert voices(model, lib, "remove", "me") == 2
    assert "no voice 'me'" in one_line(capsys.readouterr().err)


def test_default_library_is_under_flowtts_home(model, clip, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLOWTTS_HOME", str(tmp_path / "home"))
    assert main(["voices", "add", "mine", clip, "--model", model]) == 0
    assert (tmp_path / "home" / "voices" / "mine.safetensors").exists()
    assert main(["voices", "list", "--model", model]) == 0
    assert any(line.split()[:2] == ["mine", "user"] for line in capsys.readouterr().out.splitlines())
    assert main(["voices", "remove", "mine"]) == 0
    assert not (tmp_path / "home" / "voices" / "mine.safetensors").exists()


def test_unreadable_library_file_is_listed_not_fatal(model, lib, capsys):
    lib.mkdir()
    (lib / "broken.safetensors").write_bytes(b"not a voice")
    rows = listed(model, lib, capsys)
    assert "error" in rows["broken"] and "tiny-voice" in rows
    assert voices(model, lib, "list") == 0
    assert "unreadable" in capsys.readouterr().out


def _write(tmp_path, name, samples, sr=24000):
    sf.write(tmp_path / name, samples, sr)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["add", "../x", "{clip}"], "bad voice name"),
        (["add", "Bad Name", "{clip}"], "bad voice name"),
        (["add", "a..b", "{clip}"], "bad voice name"),
        (["add", "x", "{tmp}/short.wav"], "at least 3 s"),
        (["add", "x", "{tmp}/long.wav"], "longer than 25 s"),
        (["add", "x", "{tmp}/silent.wav"], "after trimming silence"),
        (["add", "x", "{tmp}/mostly-silent.wav"], "mostly silence"),
        (["add", "x", "{tmp}/text.wav"], "cannot read audio"),
        (["add", "x", "{tmp}/missing.wav"], "cannot read audio"),
        (["add", "x", "{clip}", "--model", "{tmp}"], "not a flowtts model folder"),
        (["list", "--model", "{tmp}/nowhere"], "not a flowtts model folder"),
        (["remove", "nope"], "no voice 'nope'"),
        (["remove", "../etc"], "bad voice name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(model, lib, clip, tmp_path, capsys, argv, message):
    rng = np.random.default_rng(0)
    _write(tmp_path, "short.wav", speechlike_clip(seconds=1.5)[0], 16000)
    _write(tmp_path, "long.wav", np.tile(speechlike_clip(seconds=1.0, sr=24000)[0], 30))
    _write(tmp_path, "silent.wav", np.zeros(24000 * 5, dtype=np.float32))
    mostly = np.zeros(24000 * 20, dtype=np.float32)  # 1 s of noise at each end, 18 s of silence between
    mostly[:24000] = 0.1 * rng.standard_normal(24000)
    mostly[-24000:] = 0.1 * rng.standard_normal(24000)
    _write(tmp_path, "mostly-silent.wav", mostly)
    (tmp_path / "text.wav").write_text("not audio")
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{clip}", clip) for a in argv]
    if "--model" in argv:  # the case gives its own model folder
        code = main(["voices", *argv, "--voices-dir", str(lib)])
    else:
        code = voices(model, lib, *argv)
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("flowtts: error:") and message in line, line
    assert not lib.exists() or not list(lib.iterdir())  # nothing stored
