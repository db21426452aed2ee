#!/usr/bin/env bash
# Creates .venv with a CPU-only torch and installs flowtts (editable) with the given extras.
#
#   scripts/setup.sh                 # extras train,serve,evals,dev
#   scripts/setup.sh train,dev       # pick extras
#
# FLOWTTS_TORCH_INDEX=https://download.pytorch.org/whl/cpu picks PyTorch's CPU wheel index on a machine
# whose pip configuration does not already provide the CPU build (plain PyPI torch is a CUDA build).
# Idempotent: re-running it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-train,serve,evals,dev}"
py="${PYTHON:-python3}"

[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
idx=()
[ -n "${FLOWTTS_TORCH_INDEX:-}" ] && idx=(--extra-index-url "$FLOWTTS_TORCH_INDEX")

"${pip[@]}" install "${idx[@]}" -c constraints.txt torch==2.13.0
"${pip[@]}" install "${idx[@]}" -c constraints.txt -e ".[${extras}]"
# The speaker judge: resemblyzer's own requirements (webrtcvad sdist needing pkg_resources, the obsolete
# typing sdist) break at import, so it goes in without them; the evals extra brings librosa and
# webrtcvad-wheels (same module) instead. pip skips it when already installed.
case ",${extras}," in
*,evals,*) "${pip[@]}" install "${idx[@]}" --no-deps -c constraints.txt "resemblyzer>=0.1.4" ;;
esac
# vocos imports torchaudio, whose only registry build links CUDA libraries; make it import on CPU torch.
.venv/bin/python -m flowtts.doctor --fix-torchaudio
echo "setup: .venv ready (extras: ${extras})"
