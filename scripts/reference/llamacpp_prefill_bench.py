#!/usr/bin/env python3
"""Time llama.cpp's prefill (forward over N prompt tokens, CPU) as a speed reference for AdapterPS.

Usage (from the repository root; llama-cpp-python is built from source, never installed in CI):
    python3 -m venv .venv-llamacpp && .venv-llamacpp/bin/pip install numpy llama-cpp-python
    .venv-llamacpp/bin/python scripts/reference/llamacpp_prefill_bench.py MODEL.gguf \
        [--tokens 256] [--threads 2] [--repeats 5]

What it measures: the model is loaded once (mmap); each repeat starts from an empty KV cache
(`reset()`, and `eval` removes every cached position past n_tokens = 0, so the context is as
fresh as a new one) and evaluates N fixed pseudo-random token ids (numpy seed 0, ids in
[3, 40000)) in ONE batch (n_batch = n_ubatch = N), computing logits for the last position only,
like a prompt prefill. One untimed warm-up run comes first. Reported: the median wall time of
the repeats and N / median as tokens_per_s (plus the best run and the 1-minute load average, since
llama.cpp's OpenMP threads spin and slow down badly when the cores are shared), as one JSON line:
    {"tokens_per_s": ..., "ms": ..., "threads": ..., "n_tokens": ..., "llama_cpp_python_version": ...,
     "tokens_per_s_best": ..., "ms_all": [...], "loadavg_1m": ..., "model": ...}
Compare with `adapterps bench` forward-only numbers on the same machine and thread count.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()

    import llama_cpp
    from llama_cpp import Llama

    n = a.tokens
    llm = Llama(model_path=a.model, n_ctx=max(n, 64), n_batch=n, n_ubatch=n,
                n_threads=a.threads, n_threads_batch=a.threads, logits_all=False, seed=0, verbose=False)
    vocab = llm.n_vocab()
    tokens = np.random.default_rng(0).integers(3, min(40000, vocab), size=n).tolist()

    def once():
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens)
        return (time.perf_counter() - t0) * 1000.0

    once()  # warm-up (page-in of the mmap'd weights, thread pool start)
    ms_all = [once() for _ in range(a.repeats)]
    ms = statistics.median(ms_all)
    print(json.dumps({
        "tokens_per_s": round(n / (ms / 1000.0), 1),
        "ms": round(ms, 2),
        "threads": a.threads,
        "n_tokens": n,
        "llama_cpp_python_version": llama_cpp.__version__,
        "tokens_per_s_best": round(n / (min(ms_all) / 1000.0), 1),
        "ms_all": [round(x, 2) for x in ms_all],
        "loadavg_1m": os.getloadavg()[0],
        "model": os.path.basename(a.model),
    }))


if __name__ == "__main__":
    main()
