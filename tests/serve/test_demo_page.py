"""The demo page at ``/`` in headless Chromium (Debian's ``chromium`` package): it lists the voices, adds
one from a clip, speaks typed text while it streams (word by word, over the WebSocket), and stops on
demand."""

from __future__ import annotations

import json

import pytest

from tests.serve.chromium import Chromium, find_chromium
from tests.serve.helpers import speechlike_clip, wav_bytes

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="needs Chromium (Debian: apt-get install chromium; scripts/install-system-deps.sh installs it)",
)


def _set(browser, element_id: str, value) -> None:
    browser.eval(f"document.getElementById({json.dumps(element_id)}).value = {json.dumps(value)}")


def test_demo_page_lists_uploads_speaks_and_stops(server, tmp_path) -> None:
    clip = tmp_path / "me.wav"
    clip.write_bytes(wav_bytes(speechlike_clip(4.0)))
    with Chromium.start(tmp_path / "profile") as browser:
        browser.goto(server.url + "/")
        browser.wait_for("window.demo.voices.includes('tiny-voice')")
        # add a voice through the form
        browser.set_file("#clip", str(clip))
        _set(browser, "vname", "Page Voice")
        _set(browser, "consent", "my own voice, recorded for this test")
        browser.eval("document.getElementById('upload').click()")
        browser.wait_for("window.demo.uploads.length === 1")
        upload = browser.eval("window.demo.uploads[0]")
        assert upload["status"] == 201, upload
        browser.wait_for("window.demo.voices.includes('page-voice')")
        assert browser.eval("document.getElementById('voice').value") == "page-voice"
        # speak, sending the text word by word as a language model would
        _set(browser, "text", "Hello from the browser. The words arrive one by one, and so does the audio.")
        browser.eval("document.getElementById('typing').checked = true")
        browser.eval("document.getElementById('speak').click()")
        browser.wait_for("window.demo.done !== null", timeout=60)
        demo = browser.eval("window.demo")
        assert demo["done"]["reason"] == "completed" and not demo["errors"], demo
        assert demo["chunks"] > 10 and demo["scheduled"] == demo["chunks"]  # every chunk queued for playback
        assert demo["ttfaMs"] is not None and demo["audioSeconds"] > 3
        assert [w["word"] for w in demo["words"]][:3] == ["Hello", "from", "the"]
        assert browser.eval("document.getElementById('words').children.length") == len(demo["words"])
        # barge-in: stop a long text once it plays
        _set(browser, "text", "This text is long enough to be interrupted halfway. " * 6)
        browser.eval("document.getElementById('typing').checked = false")
        browser.eval("document.getElementById('speak').click()")
        browser.wait_for("window.demo.chunks > 0", timeout=60)
        browser.eval("document.getElementById('stop').click()")
        browser.wait_for("window.demo.done !== null", timeout=30)
        assert browser.eval("window.demo.done.reason") == "cancelled"
    assert server.request("DELETE", "/v1/audio/voices/page-voice")[0] == 200
