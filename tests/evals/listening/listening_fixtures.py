"""Helpers of the listening-test tests: small stimuli on disk, configs, a built test, a live server.

(Named so as not to clash with the statistics tests' files in this folder.)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.live_uvicorn import LiveUvicorn

RATE = 24000


def stimulus(seconds: float = 1.2, rate: int = RATE, seed: int = 0, level: float = 0.2) -> np.ndarray:
    """Speech-like broadband sound ``[N]``: syllable-rate envelope over tones and white noise, so it has
    energy up to the Nyquist frequency (the anchors must remove some)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.3 + 0.7 * np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.5
    tone = np.sin(2 * np.pi * (120 + 20 * seed) * t) + 0.5 * np.sin(2 * np.pi * 2400 * t)
    x = envelope * (0.6 * tone + 0.4 * rng.standard_normal(len(t)))
    return (level * x / np.abs(x).max()).astype(np.float32)


def write_folder_test(
    root: Path,
    kind: str = "mushra",
    items: int = 3,
    systems: tuple[str, ...] = ("sys-a", "sys-b"),
    extra: str = "",
    seconds: float = 1.2,
) -> Path:
    """A config with ``items`` items (en/fr alternating) and folder conditions ``systems``, its audio
    written under ``root`` (references: stereo 44.1 kHz WAV; systems: FLAC at 24 kHz and 16 kHz, at
    different levels, so the build has to resample, mix down and loudness-match). Returns the config."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "refs").mkdir(exist_ok=True)
    lines = [f'kind = "{kind}"', 'name = "t1"', "training_items = 1", extra, ""]
    for i in range(items):
        item_id = f"item-{i}"
        lang = "en" if i % 2 == 0 else "fr"
        ref = stimulus(seconds, 44100, seed=i)
        sf.write(root / "refs" / f"{item_id}.wav", np.stack([ref, 0.5 * ref], axis=1), 44100)
        lines += [
            "[[items]]",
            f'id = "{item_id}"',
            f'text = "Sentence number {i}."',
            f'language = "{lang}"',
            f'reference = "refs/{item_id}.wav"',
            "",
        ]
    for k, name in enumerate(systems):
        folder = root / "systems" / name
        folder.mkdir(parents=True, exist_ok=True)
        rate = RATE if k % 2 == 0 else 16000
        for i in range(items):
            x = stimulus(seconds + 0.1 * k, rate, seed=10 * (k + 1) + i, level=0.05 + 0.2 * k)
            sf.write(folder / f"item-{i}.flac", x, rate)
        lines += ["[[conditions]]", f'name = "{name}"', f'folder = "systems/{name}"', ""]
    config = root / f"{kind}.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


class LiveApp(LiveUvicorn):
    """The listening app under uvicorn on a real socket, in a thread (as tests/serve does for the service)."""

    def __init__(self, test_dir, db_path=None):
        from evals.listening.server import create_listening_app

        super().__init__()
        self.serve(create_listening_app(test_dir, db_path), lifespan="off")

    @property
    def store(self):
        return self.app.state.store

    def request(self, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
        """(status, headers, parsed JSON or bytes)."""
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif raw is not None:
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, h, payload = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, h, payload = e.code, e.headers, e.read()
        if (h.get("content-type") or "").startswith("application/json"):
            return status, h, json.loads(payload)
        return status, h, payload
