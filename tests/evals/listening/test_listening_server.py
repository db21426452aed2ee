"""The listening server over a real socket: pages, audio, joining, and a 4xx with a message for every
bad request (never a 500, never a stored answer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.listening.build import build_test
from evals.listening.config import load_config
from evals.listening.manifest import Manifest
from evals.listening.records import HIDDEN_REFERENCE
from evals.listening.server import create_listening_app
from flowtts.errors import FlowTTSError
from tests.evals.listening.listening_fixtures import LiveApp, write_folder_test


@pytest.fixture(scope="module")
def mushra(tmp_path_factory):
    root = tmp_path_factory.mktemp("mushra-server")
    build_test(load_config(write_folder_test(root / "src", "mushra", items=2), "mushra"), root / "test")
    with LiveApp(root / "test") as app:
        yield app


@pytest.fixture(scope="module")
def winrate_no_tie(tmp_path_factory):
    root = tmp_path_factory.mktemp("winrate-server")
    config = write_folder_test(root / "src", "winrate", items=2, extra="tie = false")
    build_test(load_config(config, "winrate"), root / "test")
    with LiveApp(root / "test") as app:
        yield app


def _join(app: LiveApp, listener: str, training: bool = True) -> dict:
    status, _, body = app.request("POST", "/api/listeners", {"listener": listener})
    assert status == 200, body
    if training:
        assert app.request("POST", f"/api/listeners/{listener}/training")[0] == 200
    return body


def _screen_ids(app: LiveApp, listener: str, index: int) -> list[str]:
    status, _, body = app.request("GET", f"/api/listeners/{listener}/screens/{index}")
    assert status == 200, body
    return [s["id"] for s in body["stimuli"]]


def _good(app: LiveApp, listener: str, index: int) -> dict:
    m: Manifest = app.app.state.manifest
    plan = app.store.plan(listener)
    item = m.item(plan.screens[index].item)
    hidden = item.stimulus(HIDDEN_REFERENCE).token
    return {i: (100 if i == hidden else 30) for i in _screen_ids(app, listener, index)}


def test_pages_static_files_and_audio(mushra: LiveApp) -> None:
    status, headers, html = mushra.request("GET", "/")
    assert status == 200 and b"/static/mushra.js" in html and b"/static/player.js" in html
    assert b"http://" not in html and b"https://" not in html  # nothing from outside
    for name in ("player.js", "listening.js", "mushra.js", "style.css"):
        assert mushra.request("GET", f"/static/{name}")[0] == 200
    token = mushra.app.state.manifest.items[0].stimuli[0].token
    status, headers, data = mushra.request("GET", f"/audio/{token}.wav")
    assert status == 200 and headers["content-type"] == "audio/wav" and data[:4] == b"RIFF"
    for bad in ("../test.json", "0123456789abcdef.wav", "test.json", f"{token}.flac", "%2e%2e%2ftest.json"):
        status, _, body = mushra.request("GET", f"/audio/{bad}")
        assert status == 404, bad
    assert (
        mushra.request("GET", "/test.json")[0] == 404
    )  # the manifest (the key to the blind) is never served


def test_join_sets_a_cookie_and_resumes(mushra: LiveApp) -> None:
    status, headers, body = mushra.request("POST", "/api/listeners", {})
    assert status == 200 and body["answered"] == 0 and body["training_needed"]
    listener = body["listener"]
    cookie = headers["set-cookie"].split(";")[0]
    assert listener in cookie and "HttpOnly" in headers["set-cookie"]
    status, _, again = mushra.request("POST", "/api/listeners", {}, headers={"Cookie": cookie})
    assert again["listener"] == listener  # the same browser comes back as the same listener
    assert mushra.request("POST", "/api/listeners", {})[2]["listener"] != listener
    status, _, info = mushra.request("GET", "/api/test")
    assert info["kind"] == "mushra" and info["screens"] == 2 and info["training_items"] == 1


def _strings(value) -> list[str]:
    """Every string value (not key) inside a JSON document."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_no_response_names_a_condition(mushra: LiveApp) -> None:
    listener = _join(mushra, "blind")["listener"]
    answers = [
        mushra.request("GET", f"/api/listeners/{listener}/training")[2],
        mushra.request("GET", f"/api/listeners/{listener}/screens/0")[2],
        mushra.request("GET", "/api/test")[2],
    ]
    values = set(_strings(answers[:2]))  # the instructions (in /api/test) speak of "the reference"
    assert any(v.startswith("/audio/") for v in values)
    for name in mushra.app.state.manifest.conditions:
        assert not any(name in v for v in values), name


BAD_ANSWERS = [
    # (body builder, status, message fragment)
    (lambda good: {"ratings": {**good, "feedfacefeedface": 5}}, 422, "unknown stimulus"),
    (lambda good: {"ratings": dict(list(good.items())[1:])}, 422, "no score"),
    (lambda good: {"ratings": {k: 101 for k in good}}, 422, "less than or equal to 100"),
    (lambda good: {"ratings": {k: -1 for k in good}}, 422, "greater than or equal to 0"),
    (lambda good: {"ratings": {k: "50" for k in good}}, 422, "valid number"),
    (lambda good: {"ratings": {k: True for k in good}}, 422, "valid number"),
    (lambda good: {"ratings": {k: 50 for k in good}}, 422, "at least one stimulus 100"),
    (lambda good: {"ratings": good, "extra": 1}, 422, "extra"),
    (lambda good: {"choice": "a"}, 422, "ratings"),
    (lambda good: {}, 422, "ratings"),
    (lambda good: [1, 2], 422, "valid dictionary"),
]


@pytest.mark.parametrize("make, status, fragment", BAD_ANSWERS, ids=[b[2] for b in BAD_ANSWERS])
def test_bad_answers_are_refused(mushra: LiveApp, make, status: int, fragment: str) -> None:
    listener = f"bad-{abs(hash(fragment)) % 10**8}"
    _join(mushra, listener)
    good = _good(mushra, listener, 0)
    code, _, body = mushra.request("POST", f"/api/listeners/{listener}/screens/0", make(good))
    assert code == status and fragment in body["error"]["message"], body
    assert mushra.store.progress(listener).answered == 0


def test_bad_requests_are_4xx_with_a_message(mushra: LiveApp) -> None:
    _join(mushra, "order", training=False)
    good = _good(mushra, "order", 0)
    url = "/api/listeners/order/screens"

    def refused(status: int, fragment: str, method: str, path: str, body=None, raw=None, headers=None):
        code, _, answer = mushra.request(method, path, body, raw=raw, headers=headers)
        assert code == status and fragment in answer["error"]["message"], (code, answer)

    refused(409, "training page first", "POST", f"{url}/0", {"ratings": good})
    mushra.request("POST", "/api/listeners/order/training")
    refused(409, "answer screen 0 first", "POST", f"{url}/1", {"ratings": good})
    refused(409, "not open yet", "GET", f"{url}/1")
    refused(404, "no screen 7", "POST", f"{url}/7", {"ratings": good})
    refused(404, "no screen -1", "GET", f"{url}/-1")
    refused(422, "valid integer", "POST", f"{url}/zero", {"ratings": good})
    refused(404, "unknown listener", "POST", "/api/listeners/ghost/screens/0", {"ratings": good})
    refused(404, "unknown listener", "GET", "/api/listeners/ghost")
    refused(422, "listener id", "GET", "/api/listeners/bad%20id")
    refused(422, "listener id", "POST", "/api/listeners", {"listener": "x" * 65})
    refused(422, "not valid JSON", "POST", f"{url}/0", raw=b"{ratings: nope")
    refused(413, "larger than", "POST", f"{url}/0", raw=b"{" + b" " * 70000 + b"}")
    refused(405, "Method Not Allowed", "DELETE", f"{url}/0")
    assert mushra.store.progress("order").answered == 0

    code, _, ok = mushra.request("POST", f"{url}/0", {"ratings": good})
    assert code == 200 and ok["stored"] and not ok["duplicate"] and ok["next_screen"] == 1
    code, _, again = mushra.request("POST", f"{url}/0", {"ratings": good})  # a retry after a lost answer
    assert code == 200 and again["duplicate"]
    changed = {k: (v if v == 100 else 31) for k, v in good.items()}
    refused(409, "already answered", "POST", f"{url}/0", {"ratings": changed})


def test_tie_is_refused_where_not_offered(winrate_no_tie: LiveApp) -> None:
    app = winrate_no_tie
    _join(app, "wes")
    code, _, body = app.request("POST", "/api/listeners/wes/screens/0", {"choice": "tie"})
    assert code == 422 and "choice must be one of a, b" in body["error"]["message"]
    code, _, body = app.request("POST", "/api/listeners/wes/screens/0", {"ratings": {"x": 1}})
    assert code == 422 and "choice" in body["error"]["message"]
    code, _, body = app.request("POST", "/api/listeners/wes/screens/0", {"choice": "b"})
    assert code == 200 and body["answered"] == 1
    assert [v.choice for v in app.store.pair_votes()] == ["b"]
    assert app.request("GET", "/api/test")[2]["tie"] is False


def test_the_app_refuses_a_folder_that_is_not_a_test(tmp_path: Path) -> None:
    with pytest.raises(FlowTTSError, match="does not exist"):
        create_listening_app(tmp_path / "nothing")
    with pytest.raises(FlowTTSError, match="not a listening-test folder"):
        create_listening_app(tmp_path)
