#!/usr/bin/env bash
# Speed side by side on this machine, measured one after the other in one run:
#   - sgemm peak at the model's shapes (adapterps bench gemm),
#   - one training step at batch × seq with N adapter layers: AdapterPS vs the PyTorch baseline
#     (../shared/bench/torch_baseline.py, eager fp32, the official method's semantics),
#   - a 256-token prefill: AdapterPS vs llama.cpp (llama-cpp-python), when its venv exists.
# Setup (not CI): scripts/reference/setup_torch_venv.sh; llama-cpp-python in .venv-llamacpp.
# Usage: scripts/bench.sh [THREADS] ; results as one JSON line per measurement and a summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
BATCH=${BATCH:-4}; SEQ=${SEQ:-256}; LAYERS=${LAYERS:-30}; LEN=${LEN:-10}
MODEL=$(scripts/setup.sh | tail -n 1)
if [ -z "${ADAPTERPS_BIN:-}" ]; then
    swift build -c release --product adapterps >/dev/null
    ADAPTERPS_BIN="$(swift build -c release --show-bin-path)/adapterps"
fi
BIN="$ADAPTERPS_BIN"
TORCH_PY=.venv-torch/bin/python
BASELINE=../shared/bench/torch_baseline.py
OUT=$(mktemp -d)

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $THREADS; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" bench gemm --model "$MODEL" --threads "$THREADS" --json | tee "$OUT/gemm.json"
"$BIN" bench step --model "$MODEL" --threads "$THREADS" --batch "$BATCH" --seq "$SEQ" --adapter-layers "$LAYERS" --adapter-len "$LEN" --json | tee "$OUT/step.json"
if [ -x "$TORCH_PY" ] && [ -f "$BASELINE" ]; then
    "$TORCH_PY" "$BASELINE" "$MODEL" --batch "$BATCH" --seq "$SEQ" --adapter-layers "$LAYERS" --adapter-len "$LEN" --threads "$THREADS" --steps 3 | tee "$OUT/torch.txt"
else
    echo "(no $TORCH_PY or $BASELINE: skipping the PyTorch baseline; run scripts/reference/setup_torch_venv.sh)"
fi
"$BIN" bench forward --model "$MODEL" --threads "$THREADS" --seq 256 --json | tee "$OUT/forward.json"
if [ -x .venv-llamacpp/bin/python ]; then
    .venv-llamacpp/bin/python scripts/reference/llamacpp_prefill_bench.py "$MODEL" --tokens 256 --threads "$THREADS" | tee "$OUT/llamacpp.json"
fi
python3 - "$OUT" <<'PY'
import json, os, re, sys
d = sys.argv[1]
load = lambda n: json.load(open(os.path.join(d, n))) if os.path.exists(os.path.join(d, n)) else None
gemm, step, fwd, lcpp = load("gemm.json"), load("step.json"), load("forward.json"), load("llamacpp.json")
torch = None
if os.path.exists(os.path.join(d, "torch.txt")):
    m = re.search(r"tokens_per_s=([0-9.]+)", open(os.path.join(d, "torch.txt")).read())
    torch = float(m.group(1)) if m else None
print("\n| measurement | AdapterPS | reference | ratio |\n|---|---|---|---|")
print(f"| sgemm peak at model shapes (GFLOP/s) | {gemm['gflops']:.1f} | | |")
if torch:
    print(f"| training step tokens/s | {step['tokens_per_s']:.1f} | PyTorch eager {torch:.1f} | {step['tokens_per_s'] / torch:.2f}× |")
else:
    print(f"| training step tokens/s | {step['tokens_per_s']:.1f} | (no PyTorch) | |")
print(f"| training step GFLOP/s (share of sgemm peak) | {step['gflops']:.1f} ({100 * step['gflops'] / gemm['gflops']:.0f} %) | | |")
if lcpp:
    print(f"| 256-token prefill tokens/s | {fwd['tokens_per_s']:.1f} | llama.cpp {lcpp['tokens_per_s']:.1f} | {fwd['tokens_per_s'] / lcpp['tokens_per_s']:.2f}× |")
else:
    print(f"| 256-token prefill tokens/s | {fwd['tokens_per_s']:.1f} | (no llama.cpp) | |")
print(f"\nstep peak RSS {step['peak_rss_bytes'] / 2**20:.0f} MiB; OpenBLAS core {step['openblas_core']}")
PY
rm -rf "$OUT"
