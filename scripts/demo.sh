#!/usr/bin/env bash
# The main job on the default model: installs what is missing, builds in release, evaluates the
# base SmolLM2-135M-Instruct on held-out ISO-date conversions, trains a LLaMA-Adapter on the demo
# data with a local parameter server (coordinator + 2 workers, configs/demo.yaml), and evaluates again — generations and scores before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$(scripts/setup.sh | tail -n 1)
echo "demo: building in release (a few minutes the first time)" >&2
swift build -c release --product adapterps 2>&1 | grep -E "error|warning: unre|Compiling adapterps|Build" | tail -n 3 >&2
BIN="$(swift build -c release --show-bin-path)/adapterps"
# 24 tokens: room for the 11-token answer and more, so a model that does not stop is not cut to a match.
EVAL=(--model "$MODEL" --data data/demo/eval.jsonl --limit 30 --max-tokens 24)

echo; echo "== the model"
"$BIN" inspect "$MODEL" | head -n 5
echo; echo "== base model on held-out data (greedy, Alpaca prompt)"
"$BIN" eval "${EVAL[@]}"
echo; echo "== training the adapter: coordinator + 2 worker processes over ZeroMQ (configs/demo.yaml)"
"$BIN" launch --workers 2 --model "$MODEL" --config configs/demo.yaml
echo; echo "== with the adapter, same held-out data"
"$BIN" eval "${EVAL[@]}" --adapter out/demo/adapter.safetensors
echo; echo "== the adapter on an unrelated chat prompt (it was trained on one task only)"
"$BIN" generate --model "$MODEL" --adapter out/demo/adapter.safetensors --chat --prompt "What is the capital of France?" --max-tokens 24
echo; echo "demo: metrics in out/demo/metrics.jsonl, adapter in out/demo/adapter.safetensors"
