#!/usr/bin/env bash
# The main job, on the default model: installs what is missing, builds in release, and shows the
# model at work (generation and scoring). Training arrives with the next milestones.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$(scripts/setup.sh | tail -n 1)
echo "demo: building in release" >&2
swift build -c release --product adapterps 2>&1 | tail -n 1
BIN="$(swift build -c release --show-bin-path)/adapterps"

echo; echo "== inspect"
"$BIN" inspect "$MODEL"
echo; echo "== generate --chat: What is the capital of France?"
"$BIN" generate --model "$MODEL" --chat --prompt "What is the capital of France?" --max-tokens 48
echo; echo "== generate (plain continuation, temperature 0.7, top-p 0.9, seed 7)"
"$BIN" generate --model "$MODEL" --prompt "The three primary colors are" --max-tokens 32 --temperature 0.7 --top-p 0.9 --seed 7
echo; echo "== score"
"$BIN" score --model "$MODEL" --text "The quick brown fox jumps over the lazy dog." | tail -n 1
echo; echo "== bench forward (256-token prefill)"
"$BIN" bench forward --model "$MODEL" --seq 256 --repeats 3
