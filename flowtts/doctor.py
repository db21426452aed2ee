"""Installation checks, and the one repair the CPU install needs.

vocos imports torchaudio. The only torchaudio on the package registry that installs beside a CPU
torch (2.11.0) ships extension libraries linked against CUDA (libc10_cuda.so), so ``import
torchaudio`` fails with OSError. torchaudio treats *absent* extension libraries as "pure Python
mode", in which everything vocos uses (MelSpectrogram, Spectrogram, resample) works. The repair
therefore removes ``torchaudio/lib/*.so`` when, and only when, they cannot load.
Run as ``python -m flowtts.doctor --fix-torchaudio`` (scripts/setup.sh does).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from flowtts.errors import FlowTTSError


@dataclass
class Report:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def add(self, ok: bool, what: str, detail: str = "") -> None:
        self.ok &= ok
        self.lines.append(f"{'ok ' if ok else 'BAD'}  {what}{': ' + detail if detail else ''}")


def _imports(module: str) -> tuple[bool, str]:
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120
    )
    return proc.returncode == 0, (proc.stderr.strip().splitlines() or [""])[-1]


def fix_torchaudio() -> bool:
    """Removes torchaudio's extension libraries if they fail to load. Returns True if it changed
    anything. Never touches a torchaudio that imports."""
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        return False
    ok, err = _imports("torchaudio")
    if ok:
        return False
    libs = sorted((Path(spec.origin).parent / "lib").glob("*.so"))
    if not libs or not any(k in err for k in ("cuda", "CUDA", "Could not load this library")):
        raise FlowTTSError(f"torchaudio fails to import for another reason: {err}")
    for lib in libs:
        lib.unlink()
    ok, err = _imports("torchaudio")
    if not ok:
        raise FlowTTSError(f"torchaudio still fails to import: {err}")
    print(f"doctor: removed {len(libs)} CUDA-linked torchaudio libraries; torchaudio now imports")
    return True


def check() -> Report:
    """Checks the Python stack and the corpus builder's system tools."""
    r = Report()
    for module in ("torch", "torchaudio", "vocos", "sentencepiece", "safetensors", "soundfile"):
        ok, err = _imports(module)
        r.add(ok, f"import {module}", "" if ok else err)
    for exe in ("espeak-ng", "mbrola", "pico2wave", "flite", "RHVoice-test", "text2wave"):
        path = shutil.which(exe)
        # Only espeak-ng is required for the corpus builder; the rest add voices.
        r.add(path is not None or exe != "espeak-ng", f"{exe}", path or "not installed")
    return r


if __name__ == "__main__":
    if "--fix-torchaudio" in sys.argv:
        try:
            fix_torchaudio()
        except FlowTTSError as e:
            raise SystemExit(f"doctor: error: {e}") from e
    else:
        rep = check()
        print("\n".join(rep.lines))
        raise SystemExit(0 if rep.ok else 1)
