#!/usr/bin/env bash
# Create (or reuse) the git-ignored venv .venv-torch with torch, numpy, gguf, safetensors, used by
# scripts/reference/make_adapter_grad_fixtures.py. Idempotent: an existing venv that already
# imports all four packages is left as it is. Never run in CI (PyPI's torch wheel brings its
# CUDA libraries, about 5.6 GB installed; the fixtures script runs it on the CPU).
#
#   bash scripts/reference/setup_torch_venv.sh        # from anywhere inside the repository
#   PYTHON=python3.11 bash scripts/reference/setup_torch_venv.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-torch"
PYTHON="${PYTHON:-python3}"
PKGS=(torch numpy gguf safetensors)

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import torch, numpy, gguf, safetensors' 2>/dev/null; then
    echo "setup_torch_venv: $VENV is ready ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install "${PKGS[@]}"
"$VENV/bin/python" -c 'import torch, numpy, gguf, safetensors; print("setup_torch_venv: torch", torch.__version__, "numpy", numpy.__version__)'
