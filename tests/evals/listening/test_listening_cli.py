"""``flowtts eval mushra|winrate build|serve|analyze`` from the command line (in process): the whole
build -> answers -> report path, every ``--help``, and one ``flowtts: error:`` line with exit code 2 for
bad input."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path

import pytest

from evals.listening.manifest import load_manifest
from evals.listening.records import HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR
from evals.listening.store import ListeningStore
from flowtts.cli import main
from tests.evals.listening.listening_fixtures import write_folder_test


def _one_error_line(capsys: pytest.CaptureFixture[str], message: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowtts: error:") and message in err[0], err


@pytest.mark.parametrize(
    "argv",
    [[k, a] for k in ("mushra", "winrate") for a in ("build", "serve", "analyze")]
    + [["mushra"], ["winrate"]],
)
def test_every_subcommand_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval", *argv, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: flowtts eval" in out
    for line in out.splitlines():  # every flag has a help text
        if line.strip().startswith("--") and "  " not in line.strip():
            raise AssertionError(f"flag without help: {line}")


_SCORES = {HIDDEN_REFERENCE: 97, MID_ANCHOR: 55, LOW_ANCHOR: 20, "sys-a": 75, "sys-b": 45}


def test_mushra_build_answers_and_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_folder_test(tmp_path / "src", "mushra", items=3)
    test_dir = tmp_path / "test"
    assert main(["eval", "mushra", "build", str(config), "--out", str(test_dir)]) == 0
    out = capsys.readouterr().out
    assert f"test folder: {test_dir}" in out and "3 screens per listener" in out

    assert main(["eval", "mushra", "analyze", str(test_dir), "--out", str(tmp_path / "reports")]) == 2
    _one_error_line(capsys, "no answers yet")

    manifest = load_manifest(test_dir)
    store = ListeningStore(test_dir / "results.sqlite", manifest)
    rng = random.Random(0)
    for k in range(4):
        who = f"listener-{k}"
        store.join(who)
        store.finish_training(who)
        for s in store.plan(who).screens:
            scores = {c: min(100, max(0, _SCORES[c] + rng.randint(-8, 8))) for c in s.conditions}
            scores[HIDDEN_REFERENCE] = 100
            store.answer_mushra(who, s.index, scores)

    reports = tmp_path / "reports"
    assert main(["eval", "mushra", "analyze", str(test_dir), "--out", str(reports)]) == 0
    assert "60 answers from 4 listeners" in capsys.readouterr().out
    report = json.loads((reports / "mushra-t1.json").read_text())
    for key in ("model", "config_hash", "git_commit", "machine", "date_utc", "results", "test", "listeners"):
        assert report[key] is not None, key
    assert report["config_hash"] == manifest.build["config_hash"]
    assert "sys-a" in report["model"] and report["listeners"]["analyzed"] == 4
    assert (reports / "mushra-t1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (reports / "mushra-t1.md").read_text()
    assert md.startswith("# MUSHRA listening test: t1") and report["config_hash"] in md
    assert "![mushra plot](mushra-t1.png)" in md
    assert not [p for p in reports.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_winrate_build_answers_and_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_folder_test(tmp_path / "src", "winrate", items=3, systems=("x", "y"))
    test_dir = tmp_path / "test"
    assert main(["eval", "winrate", "build", str(config), "--out", str(test_dir)]) == 0
    manifest = load_manifest(test_dir)
    store = ListeningStore(test_dir / "results.sqlite", manifest)
    for k in range(5):
        who = f"l{k}"
        store.join(who)
        store.finish_training(who)
        for s in store.plan(who).screens:  # x is better, most of the time
            choice = "tie" if (k + s.index) % 4 == 0 else ("a" if s.conditions[0] == "x" else "b")
            store.answer_pair(who, s.index, choice)
    capsys.readouterr()
    reports = tmp_path / "reports"
    args = [
        "eval",
        "winrate",
        "analyze",
        str(test_dir),
        "--out",
        str(reports),
        "--name",
        "ab",
        "--complete-only",
    ]
    assert main(args) == 0
    report = json.loads((reports / "ab.json").read_text())
    assert report["kind"] == "winrate" and report["answers"] == 15 and report["listeners"]["complete_only"]
    assert report["test"]["pairs"] == [["x", "y"]] and report["results"]
    assert (reports / "ab.png").is_file() and (reports / "ab.md").read_text().startswith("# Blind A/B")


def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mushra_cfg = write_folder_test(tmp_path / "src", "mushra", items=2)
    test_dir = tmp_path / "test"

    assert main(["eval", "mushra", "build", str(tmp_path / "missing.toml")]) == 2
    _one_error_line(capsys, "cannot read the test config")
    assert main(["eval", "winrate", "build", str(mushra_cfg), "--out", str(test_dir)]) == 2
    _one_error_line(capsys, "not a winrate test")
    bad = tmp_path / "bad.toml"
    bad.write_text(mushra_cfg.read_text() + "\nspeed = 2\n".replace("speed", "[[items]]\nid = 'x'\nspeed"))
    assert main(["eval", "mushra", "build", str(bad)]) == 2
    _one_error_line(capsys, "unknown key 'speed'")

    assert main(["eval", "mushra", "build", str(mushra_cfg), "--out", str(test_dir)]) == 0
    capsys.readouterr()
    assert main(["eval", "mushra", "build", str(mushra_cfg), "--out", str(test_dir)]) == 2
    _one_error_line(capsys, "give --force")

    assert main(["eval", "winrate", "serve", str(test_dir)]) == 2
    _one_error_line(capsys, "holds a mushra test")
    assert main(["eval", "mushra", "serve", str(tmp_path / "src")]) == 2
    _one_error_line(capsys, "not a listening-test folder")
    assert main(["eval", "mushra", "analyze", str(tmp_path / "nope")]) == 2
    _one_error_line(capsys, "does not exist")
    assert main(["eval", "mushra", "analyze", str(test_dir), "--name", "../x"]) == 2
    _one_error_line(capsys, "plain file name")

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["eval", "mushra", "serve", str(test_dir), "--port", str(port)]) == 2
    _one_error_line(capsys, f"cannot listen on 127.0.0.1:{port}")

    with pytest.raises(SystemExit) as info:
        main(["eval", "mushra", "serve", str(test_dir), "--port", "70000"])
    assert info.value.code == 2 and "must be in 1..65535" in capsys.readouterr().err
