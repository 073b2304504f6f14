#!/usr/bin/env bash
# 100 steps of AdapterPS training against PyTorch on the same data (see compare_training_with_torch.py).
# Run from the repository root:  bash scripts/reference/compare_training_with_torch.sh
# Writes docs/reference/loss_vs_torch.{json,md,png}. Intermediate files go to out/loss_vs_torch/ (git-ignored).
# Exit code 1 when a step's loss is more than 0.5 % away from PyTorch's.
#
# Needs models/SmolLM2-135M-Instruct.Q4_1.gguf, .venv-llamacpp (llama-cpp-python, gguf), .venv-torch (torch,
# numpy, gguf, safetensors, matplotlib: `.venv-torch/bin/pip install matplotlib`), and a Swift toolchain.
# Runtime with 2 threads on the 2-core Xeon dev machine, when it was quiet: AdapterPS ~7.5 min, PyTorch float32
# ~1.7 min, the two diagnostic runs (PyTorch float64 ~3.5 min, PyTorch float32 with a float64 cross-entropy
# ~1.7 min): ~15 min in all, plus `swift build` (several minutes the first time). QUICK=1 skips the diagnostic
# runs (~9.5 min). Other jobs on the machine stretch this: the committed run took 28 min under load.
# Not run in CI.
#
# Environment: ADAPTERPS (binary; default: build .build-cmp/release/adapterps), THREADS (default 2),
# QUICK=1, WORK (default out/loss_vs_torch).
set -euo pipefail
cd "$(dirname "$0")/../.."

THREADS=${THREADS:-2}
WORK=${WORK:-out/loss_vs_torch}
PY=.venv-torch/bin/python
PYL=.venv-llamacpp/bin/python
SCRIPT=scripts/reference/compare_training_with_torch.py
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
# The configuration (keep in step with the defaults of compare_training_with_torch.py).
N=10; K=10; STEPS=100; LR=1e-2; WARMUP=5; WD=0.02; EXAMPLES=16; SEED=0
COMMON=(--model "$MODEL" --work "$WORK" --examples $EXAMPLES --adapter-layers $N --adapter-len $K
        --steps $STEPS --lr $LR --warmup-steps $WARMUP --weight-decay $WD --seed $SEED --threads $THREADS)

for f in "$MODEL" "$PY" "$PYL"; do
    [ -e "$f" ] || { echo "missing $f (see the header of $0)" >&2; exit 2; }
done

if [ -z "${ADAPTERPS:-}" ]; then
    swift build -c release --scratch-path .build-cmp --product adapterps
    ADAPTERPS=.build-cmp/release/adapterps
fi

now() { date +%s.%N; }
T0=$(now)
rm -rf "$WORK"
mkdir -p "$WORK"
"$PYL" "$SCRIPT" tokenize "${COMMON[@]}" 2> >(grep -v "n_ctx_seq" >&2)
"$PY" "$SCRIPT" init "${COMMON[@]}"

t=$(now)
"$ADAPTERPS" train --model "$MODEL" --data "$WORK/tok.jsonl" --out "$WORK/ours" --init "$WORK/init.safetensors" \
    --global-batch $EXAMPLES --steps $STEPS --adapter-layers $N --adapter-len $K --lr $LR --schedule cosine \
    --warmup-steps $WARMUP --weight-decay $WD --clip 0 --optimizer adamw --micro-batch-tokens 4096 \
    --threads "$THREADS" 2>&1 | tr '\r' '\n' | awk '/^step/ && $2 !~ /0\// {next} {print}'
T_OURS=$(echo "$(now) - $t" | bc)

t=$(now)
"$PY" "$SCRIPT" torch "${COMMON[@]}"
T_TORCH=$(echo "$(now) - $t" | bc)

T_F64=null; T_CE=null
if [ -z "${QUICK:-}" ]; then
    t=$(now)
    "$PY" "$SCRIPT" torch "${COMMON[@]}" --dtype float64
    T_F64=$(echo "$(now) - $t" | bc)
    t=$(now)
    "$PY" "$SCRIPT" torch "${COMMON[@]}" --ce-dtype float64
    T_CE=$(echo "$(now) - $t" | bc)
fi
T_ALL=$(echo "$(now) - $T0" | bc)
printf '{"ours": %.0f, "torch_float32": %.0f, "torch_float64": %s, "torch_ce_float64": %s, "total": %.0f}\n' \
    "$T_OURS" "$T_TORCH" "$( [ "$T_F64" = null ] && echo null || printf %.0f "$T_F64")" \
    "$( [ "$T_CE" = null ] && echo null || printf %.0f "$T_CE")" "$T_ALL" > "$WORK/timings.json"

"$PY" "$SCRIPT" compare "${COMMON[@]}"
