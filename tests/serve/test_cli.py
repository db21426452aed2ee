"""``flowtts serve``: flags, clear one-line errors, and a real server process (uvicorn with its WebSocket
implementation: a bare uvicorn would answer the WebSocket upgrade with 404)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import websockets

from flowtts.cli import main
from flowtts.errors import FlowTTSError
from serve.settings import ServeSettings, read_api_keys


def test_help_lists_the_flags(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["serve", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--model", "--api-key-file", "--max-streams", "--voices-dir", "--cors"):
        assert flag in out


@pytest.mark.parametrize("argv", [["--max-streams", "0"], ["--port", "70000"], ["--idle-timeout", "-1"]])
def test_bad_flags_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["serve", *argv])
    assert e.value.code == 2 and "error" in capsys.readouterr().err


def test_bad_settings_fail_before_loading_anything(tmp_path, capsys) -> None:
    assert main(["serve", "--model", str(tmp_path / "missing")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"flowtts: error: model folder {tmp_path / 'missing'} does not exist"
    )
    keys = tmp_path / "keys.txt"
    keys.write_text("# no keys here\n\n")
    assert main(["serve", "--api-key-file", str(keys)]) == 2
    assert "has no keys" in capsys.readouterr().err
    keys.write_text("short\n")
    with pytest.raises(FlowTTSError, match="key 1 is not 16"):
        read_api_keys(keys)
    keys.write_text("# comment\n" + "a" * 32 + "\n\n" + "b" * 20 + "\n")
    assert read_api_keys(keys) == {"a" * 32, "b" * 20}
    with pytest.raises(FlowTTSError, match="CORS"):
        ServeSettings(cors_origins=("example.com",))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_server_process_serves_http_and_websocket(model_dir, tmp_path) -> None:
    port = _free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "flowtts")
    proc = subprocess.Popen(
        [
            exe,
            "serve",
            "--model",
            str(model_dir),
            "--port",
            str(port),
            "--voices-dir",
            str(tmp_path / "v"),
            "--no-warmup",
            "--threads",
            "1",
            "--steps",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert json.loads(r.read())["status"] == "ok"
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)

        async def ws_turn():
            async with websockets.connect(f"ws://127.0.0.1:{port}/v1/audio/speech/stream") as ws:
                assert json.loads(await ws.recv())["type"] == "session.created"
                await ws.send(json.dumps({"type": "input_text.append", "text": "Hi."}))
                await ws.send(json.dumps({"type": "input_text.end"}))
                while (m := json.loads(await ws.recv()))["type"] != "speech.audio.done":
                    pass
                return m["reason"]

        assert asyncio.run(asyncio.wait_for(ws_turn(), 60)) == "completed"
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(r["msg"] == "ready" for r in logs)
    requests = [r for r in logs if r["msg"] == "request"]
    assert requests and all(r["request_id"] and r["status"] == 200 for r in requests)
    assert any(r["msg"] == "websocket closed" and r.get("request_id") for r in logs)
