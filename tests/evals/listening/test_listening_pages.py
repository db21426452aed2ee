"""The listening pages in headless Chromium (Debian's ``chromium``) over a real uvicorn socket: a whole
MUSHRA session (welcome, training, every screen, a resume in between) and a whole A/B session, then the
SQLite contents are compared with what was clicked."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from evals.listening.build import build_test
from evals.listening.config import load_config
from evals.listening.manifest import load_manifest
from evals.listening.records import HIDDEN_REFERENCE
from evals.listening.store import ListeningStore
from tests.evals.listening.listening_fixtures import LiveApp, write_folder_test
from tests.serve.chromium import Chromium, find_chromium

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="needs Chromium (Debian: apt-get install chromium; scripts/install-system-deps.sh installs it)",
)


def _click(browser: Chromium, selector: str) -> None:
    browser.eval(f"document.querySelector({json.dumps(selector)}).click()")


def _disabled(browser: Chromium, element_id: str) -> bool:
    return browser.eval(f"document.getElementById({json.dumps(element_id)}).disabled")


def _set(browser: Chromium, selector: str, prop: str, value, event: str) -> None:
    """Sets ``prop`` of the element as a person would, then fires ``event`` (input / change)."""
    browser.eval(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
        f"e.{prop} = {json.dumps(value)}; e.dispatchEvent(new Event({json.dumps(event)})); }})()"
    )


def _play(browser: Chromium, stimulus: str) -> None:
    """Clicks the stimulus's play button and waits until it plays."""
    _click(browser, f"#screen button.play[data-stimulus='{stimulus}']")
    browser.wait_for(f"player.state().playing && player.state().current === '{stimulus}'")


def _state(browser: Chromium) -> dict:
    return browser.eval("player.state()")


def _check_switching_keeps_the_playhead(browser: Chromium, a: str, b: str) -> None:
    _play(browser, a)
    browser.wait_for("player.state().position > 0.6", timeout=10)
    before, st = browser.eval(  # in one go, so that the test's own latency does not count
        "(() => { const before = player.position(); "
        f"document.querySelector(\"#screen button.play[data-stimulus='{b}']\").click(); "
        "return [before, player.state()]; })()"
    )
    assert st["current"] == b and st["playing"], st
    assert abs(st["position"] - before) < 0.05, (before, st)
    # seek with the position slider: the playing stimulus jumps there
    _set(browser, "#seek", "value", "2.2", "change")
    browser.wait_for(f"player.state().current === '{b}' && player.state().playing")
    assert 2.15 <= _state(browser)["position"] <= 2.6
    # loop: past the end it starts again instead of stopping
    _set(browser, "#loop", "checked", True, "change")
    browser.wait_for(
        "player.state().loop && player.state().playing && player.state().position < 0.8", timeout=10
    )
    # a loop region marked at the playhead: playback stays inside it
    _set(browser, "#seek", "value", "1.0", "change")
    _click(browser, "#loop-start")
    _set(browser, "#seek", "value", "1.6", "change")
    _click(browser, "#loop-end")
    st = _state(browser)
    assert 0.95 <= st["loopStart"] <= 1.5 and st["loopEnd"] - st["loopStart"] >= 0.3, st
    time.sleep(1.2)  # longer than the region
    st = _state(browser)
    assert st["playing"] and st["loopStart"] - 0.01 <= st["position"] <= st["loopEnd"] + 0.01, st
    _click(browser, "#loop-clear")
    _set(browser, "#loop", "checked", False, "change")
    _click(browser, "#stop")
    st = _state(browser)
    assert not st["playing"] and st["position"] == 0


def test_a_whole_mushra_session(tmp_path: Path) -> None:
    config = load_config(write_folder_test(tmp_path / "src", "mushra", items=3, seconds=3.0), "mushra")
    build_test(config, tmp_path / "test")
    manifest = load_manifest(tmp_path / "test")
    tokens = manifest.tokens()  # the page only knows tokens; the test maps them back
    rng = random.Random(1)
    expected = {}
    with LiveApp(tmp_path / "test") as app, Chromium.start(tmp_path / "profile") as browser:
        browser.goto(app.url + "/")
        browser.wait_for("window.listening.phase === 'welcome'")
        _click(browser, "#start")
        browser.wait_for("window.listening.phase === 'training'")
        listener = browser.eval("window.listening.listener")
        buttons = browser.eval(
            "[...document.querySelectorAll('#training-items button.play')].map(b => b.dataset.stimulus)"
        )
        assert len(buttons) == 1 + len(manifest.conditions)  # the reference and every stimulus of one item
        _click(browser, "#training-items button.play")
        browser.wait_for("player.state().playing")
        _click(browser, "#training-done")

        for k in range(len(manifest.items)):
            browser.wait_for(f"window.listening.phase === 'screen' && window.listening.screen.index === {k}")
            ids = browser.eval(
                "[...document.querySelectorAll('#rows input.score')].map(s => s.dataset.stimulus)"
            )
            item = {tokens[i][0] for i in ids}
            assert len(item) == 1 and sorted(tokens[i][1] for i in ids) == sorted(manifest.conditions)
            item = item.pop()
            reference = browser.eval("document.querySelector('#reference-slot button').dataset.stimulus")
            assert tokens[reference] == (item, None)  # the open reference, always there
            assert _disabled(browser, "submit")
            if k == 0:
                _check_switching_keeps_the_playhead(browser, ids[0], ids[1])
            scores = {i: (100 if tokens[i][1] == HIDDEN_REFERENCE else rng.randrange(0, 100)) for i in ids}
            for i, v in scores.items():
                _set(browser, f"#rows input[data-stimulus='{i}']", "value", str(v), "input")
            for i in ids[:-1]:
                _play(browser, i)
            assert _disabled(browser, "submit")  # one stimulus not played yet
            assert "1 not played yet" in browser.eval("document.getElementById('hint').textContent")
            _play(browser, ids[-1])
            assert not _disabled(browser, "submit")
            if k == 0:  # BS.1534: no stimulus at 100, no answer
                top = next(i for i, v in scores.items() if v == 100)
                _set(browser, f"#rows input[data-stimulus='{top}']", "value", "99", "input")
                assert _disabled(browser, "submit")
                _set(browser, f"#rows input[data-stimulus='{top}']", "value", "100", "input")
            _click(browser, "#submit")
            browser.wait_for(f"window.listening.submitted === {k + 1}")
            expected.update({(listener, item, tokens[i][1]): float(v) for i, v in scores.items()})
            if k == 0:  # come back later: the same address resumes at the first unanswered screen
                browser.goto(app.url + f"/?listener={listener}")
                browser.wait_for("window.listening.phase === 'welcome'")
                assert "1 of 3 done" in browser.eval("document.getElementById('start').textContent")
                _click(browser, "#start")
                browser.wait_for("window.listening.phase === 'screen' && window.listening.screen.index === 1")
                browser.eval("window.listening.submitted = 1")
        browser.wait_for("window.listening.phase === 'done'")
        assert browser.eval("document.getElementById('code').textContent") == listener
        assert browser.eval("window.listening.errors") == []

    store = ListeningStore(tmp_path / "test/results.sqlite", manifest, create=False)
    stored = {(r.listener, r.item, r.condition): r.score for r in store.mushra_ratings()}
    assert stored == expected
    assert {r.language for r in store.mushra_ratings()} == {"en", "fr"}
    assert store.progress(listener).finished


def test_a_whole_ab_session(tmp_path: Path) -> None:
    config = load_config(
        write_folder_test(tmp_path / "src", "winrate", items=3, systems=("x", "y"), seconds=3.0), "winrate"
    )
    build_test(config, tmp_path / "test")
    manifest = load_manifest(tmp_path / "test")
    tokens = manifest.tokens()
    choices = ["a", "tie", "b"]
    expected = []
    with LiveApp(tmp_path / "test") as app, Chromium.start(tmp_path / "profile") as browser:
        browser.goto(app.url + "/")
        browser.wait_for("window.listening.phase === 'welcome'")
        _click(browser, "#start")
        browser.wait_for("window.listening.phase === 'training'")
        listener = browser.eval("window.listening.listener")
        _click(browser, "#training-done")
        for k, choice in enumerate(choices):
            browser.wait_for(f"window.listening.phase === 'screen' && window.listening.screen.index === {k}")
            a, b = browser.eval(
                "[...document.querySelectorAll('#pair button.play')].map(b => b.dataset.stimulus)"
            )
            assert browser.eval("document.getElementById('vote-tie').hidden") is False
            assert _disabled(browser, "vote-a") and _disabled(browser, "vote-tie")
            if k == 0:
                _check_switching_keeps_the_playhead(browser, a, b)
            else:
                _play(browser, a)
                assert _disabled(browser, "vote-b")  # B not heard yet
                _play(browser, b)
            assert not _disabled(browser, "vote-b")
            _click(browser, f"#vote-{choice}")
            browser.wait_for(f"window.listening.submitted === {k + 1}")
            (item, sys_a), (_, sys_b) = tokens[a], tokens[b]
            expected.append((listener, item, sys_a, sys_b, choice))
        browser.wait_for("window.listening.phase === 'done'")
        assert browser.eval("window.listening.errors") == []
        time.sleep(0.1)

    votes = ListeningStore(tmp_path / "test/results.sqlite", manifest, create=False).pair_votes()
    assert [(v.listener, v.item, v.system_a, v.system_b, v.choice) for v in votes] == expected
    assert {(v.system_a, v.system_b) for v in votes} <= {("x", "y"), ("y", "x")}
