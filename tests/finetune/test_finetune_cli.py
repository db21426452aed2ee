"""`flowtts finetune` on the command line: a run, and bad input as one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowtts.cli import main
from tests.finetune.helpers import make_recordings


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowtts: error: "), err
    return err[0]


def test_a_run_from_the_command_line(model_dir, tmp_path, capsys) -> None:
    data = make_recordings(tmp_path / "dee", 8)
    (data / "broken.wav").write_bytes(b"RIFF" + bytes(40))
    (data / "broken.txt").write_text("hello there")
    pack = tmp_path / "dee-pack"
    argv = ["finetune", str(data), "--base", str(model_dir), "--out", str(pack), "--min-minutes", "0.3"]
    argv += [
        "--steps",
        "10",
        "--val-every",
        "5",
        "--samples",
        "0",
        "--threads",
        "1",
        "--batch-positions",
        "1024",
    ]
    assert (
        main([*argv, "--voice-name", "dee", "--rank", "4", "--targets", "attention,flow", "--no-progress"])
        == 0
    )
    out = capsys.readouterr().out
    assert "dee: 0.5 minutes usable in 8 of 9 files" in out and "broken.wav: unreadable" in out
    assert "voice pack 'dee'" in out and "held-out loss" in out
    assert (pack / "pack.json").is_file()
    assert main(argv) == 2  # a pack is there: not overwritten without --restart
    assert "use --restart" in one_error_line(capsys)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--rank", "0"], "rank must be >= 1"),
        (["--valid-fraction", "0.7"], "valid_fraction must be in"),
        (["--targets", "wings"], "selects no Linear layer"),
        (["--base", "{tmp}/nomodel"], "not a flowtts model folder"),
        (["--resume"], "nothing to resume"),
        (["--lr", "-1"], "lr must be > 0"),
    ],
)
def test_bad_settings(extra, message, model_dir, tmp_path, capsys) -> None:
    data = make_recordings(tmp_path / "d", 1)
    argv = ["finetune", str(data), "--base", str(model_dir), "--out", str(tmp_path / "p"), "--no-progress"]
    assert main([*argv, *[e.replace("{tmp}", str(tmp_path)) for e in extra]]) == 2
    assert message in one_error_line(capsys)


def test_bad_data(model_dir, tmp_path, capsys) -> None:
    base = ["--base", str(model_dir), "--no-progress", "--threads", "1"]
    assert main(["finetune", str(tmp_path / "none"), "--out", str(tmp_path / "p"), *base]) == 2
    assert "does not exist" in one_error_line(capsys)
    data = make_recordings(tmp_path / "short", 9)  # 30 s: stops before training, says what it kept
    assert main(["finetune", str(data), "--out", str(data / "pack"), *base]) == 2
    assert "inside the data folder" in one_error_line(capsys)
    assert main(["finetune", str(data), "--out", str(tmp_path / "p"), *base]) == 2
    line = one_error_line(capsys)
    assert (
        "of usable audio in 9 clips" in line
        and "at least 3 minutes" in line
        and "Nothing was trained" in line
    )
    assert not (tmp_path / "p" / "work" / "checkpoints").exists()


def test_say_with_a_bad_pack(model_dir, tmp_path, capsys) -> None:
    out = str(tmp_path / "x.wav")
    assert main(["say", "--model", str(model_dir), "--voice-pack", str(tmp_path), "Hi.", "-o", out]) == 2
    assert "not a voice pack" in one_error_line(capsys)


def test_help_and_no_heavy_imports() -> None:
    code = "import sys, flowtts.cli as c; c.build_parser(); print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
    with pytest.raises(SystemExit) as e:
        main(["finetune", "--help"])
    assert e.value.code == 0
