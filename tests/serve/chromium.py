"""Headless Chromium driven over the DevTools protocol (CDP), with the ``websockets`` client only.

with Chromium.start(tmp_path) as browser:
    browser.goto("http://127.0.0.1:8000/")
    browser.wait_for("window.demo.voices.length > 0")
    browser.eval("document.getElementById('speak').click()")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    def __init__(self, proc: subprocess.Popen, port: int, profile):
        self.proc, self.port, self.profile = proc, port, profile
        self.loop = asyncio.new_event_loop()
        self.ids = itertools.count(1)
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        import websockets

        self.ws = self.loop.run_until_complete(
            websockets.connect(page["webSocketDebuggerUrl"], max_size=None)
        )
        self.call("Runtime.enable")
        self.call("Page.enable")

    @classmethod
    def start(cls, profile, binary: str | None = None, timeout: float = 60.0) -> Chromium:
        binary = binary or find_chromium()
        args = [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            "--autoplay-policy=no-user-gesture-required",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOME": str(profile)},
        )
        deadline = time.monotonic() + timeout
        port = None
        while port is None:
            line = proc.stderr.readline()
            if not line:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chromium did not start (exit code {proc.poll()})")
                continue
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
        return cls(proc, port, profile)

    def call(self, method: str, **params) -> dict:
        return self.loop.run_until_complete(self._call(method, params))

    async def _call(self, method: str, params: dict) -> dict:
        i = next(self.ids)
        await self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(
                f"{expression}: {r['exceptionDetails'].get('exception', {}).get('description')}"
            )
        return r["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def wait_for(self, condition: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(f"(() => {{ try {{ return {condition}; }} catch (e) {{ return false; }} }})()")
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {condition}; demo: {self.eval('JSON.stringify(window.demo)')}"
                )
            time.sleep(0.05)

    def set_file(self, selector: str, path: str) -> None:
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", nodeId=node, files=[path])

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self.ws.close())
        except Exception:
            pass
        self.loop.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
