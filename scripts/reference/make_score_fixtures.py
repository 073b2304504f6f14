#!/usr/bin/env python3
"""Reference per-token log-probabilities for the Swift LLaMA forward pass (test fixture generator).

What it makes
    Tests/Fixtures/score/smollm2_q4_1.json: for ~10 varied texts (prose, chat markup, code, numbers,
    French, CJK, emoji, a ~120-token paragraph, repeated words, one word) it stores
      - the token ids, as llama.cpp's tokenizer gives them (special tokens parsed, no BOS:
        SmolLM2 has tokenizer.ggml.add_bos_token = false);
      - log p(tokens[i] | tokens[<i]) for i >= 1 from TWO independent forwards:
          logprobs_fp32     - the plain fp32 numpy forward below, on weights dequantized with
                              gguf.quants.dequantize (the exact math of DESIGN.md section 1, no adapter);
          logprobs_llamacpp - llama.cpp itself (llama-cpp-python, logits_all=True), log_softmax in float64;
      - nll_* = mean of -logprobs over the scored tokens;
      - last_top5: the top-5 next-token ids and fp32 logits at the last position (fp32 forward),
        which catches LM-head / tied-embedding / final-norm bugs that the scored tokens might hide.
    The Swift forward (fp32 math on the same dequantized weights) should match logprobs_fp32 to
    ~1e-3 nats; llama.cpp differs more (it quantizes activations to Q8 for its Q4_1/Q8_0 dot
    products), so logprobs_llamacpp is only a sanity bound.

    Cross-check of the fp32 forward itself (on by default, --no-f32-check to skip): the script
    writes a temporary GGUF with every tensor dequantized to F32 (same metadata), runs llama.cpp on
    it with an F32 KV cache, and compares with logprobs_fp32; the result (expected ~1e-5 nats) is
    stored under "check_llamacpp_f32_weights". It confirms that logprobs_fp32 has llama.cpp's
    semantics (RoPE layout, GQA mapping, norms, tied head); the gap to logprobs_llamacpp is then
    llama.cpp's Q8 activation quantization (and F16 KV cache), not a difference in the math.

How to run (from the repository root; llama-cpp-python is built from source, never in CI):
    python3 -m venv .venv-llamacpp && .venv-llamacpp/bin/pip install numpy gguf llama-cpp-python
    .venv-llamacpp/bin/python scripts/reference/make_score_fixtures.py \
        [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--out Tests/Fixtures/score/smollm2_q4_1.json]

fp32 forward, spelled out (GGUF layout):
    h = token_embd[tokens]
    per layer:  x = RMSNorm(h) * attn_norm           RMSNorm(x) = x * 1/sqrt(mean(x^2) + eps)
                q = x Wq^T, k = x Wk^T, v = x Wv^T  (per head, head_dim = dim / n_heads)
                RoPE on q, k: adjacent pairs (2j, 2j+1) rotated by pos * theta^(-2j/head_dim)
                GQA: query head h uses kv head h // (n_heads / n_kv)
                o = softmax(q k^T / sqrt(head_dim) + causal) v     (softmax in float64)
                h += o Wo^T
                x = RMSNorm(h) * ffn_norm ;  h += (silu(x Wg^T) * (x Wu^T)) Wd^T
    logits = RMSNorm(h) * output_norm  @  (output.weight or token_embd)^T   (tied for SmolLM2)
    log-probs: log_softmax in float64.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import tempfile

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import dequantize

TEXTS = [
    # English prose
    "The quick brown fox jumps over the lazy dog. It was a bright cold day in April, "
    "and the clocks were striking thirteen.",
    # chat-formatted prompt (special markers must be parsed as single special tokens)
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
    "<|im_start|>assistant\nThe capital of France is Paris.<|im_end|>\n",
    # Python code
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
    "print([fibonacci(i) for i in range(10)])\n",
    # numbers / math
    "Compute 12 * 34 = 408, then 408 + 17 = 425. The square root of 144 is 12, and 3.14159 is close to pi.",
    # French with accents
    "Le cœur a ses raisons que la raison ne connaît point. À l'été, nous irons à la mer près de Marseille.",
    # CJK
    "今天天气很好，我们去公园散步吧。東京は日本の首都です。",
    # emoji
    "I love pizza 🍕 and coffee ☕! Let's celebrate 🎉🎉 with friends 👩‍👩‍👧.",
    # long-ish paragraph (~120 tokens)
    "Photosynthesis is the process by which green plants, algae and some bacteria convert light energy "
    "into chemical energy. During this process, carbon dioxide and water are combined, using the energy "
    "of sunlight captured by chlorophyll, to produce glucose and oxygen. The light-dependent reactions "
    "take place in the thylakoid membranes of the chloroplasts, where water is split and ATP and NADPH "
    "are formed. The Calvin cycle, which occurs in the stroma, then uses this ATP and NADPH to fix carbon "
    "dioxide into sugars. Photosynthesis is essential for life on Earth, because it supplies most of the "
    "oxygen in the atmosphere and forms the base of nearly every food chain.",
    # repeated words
    "hello hello hello hello hello hello hello hello hello hello hello hello",
    # one word
    "Hello",
]


# ----------------------------------------------------------------------------------------------
# model loading


def field(r, key):
    f = r.fields[key]
    return f.parts[f.data[0]][0]


def load_model(path):
    r = GGUFReader(path)
    arch = bytes(r.fields["general.architecture"].parts[r.fields["general.architecture"].data[0]]).decode()
    assert arch == "llama", arch
    cfg = dict(
        n_layers=int(field(r, "llama.block_count")),
        dim=int(field(r, "llama.embedding_length")),
        n_heads=int(field(r, "llama.attention.head_count")),
        n_kv=int(field(r, "llama.attention.head_count_kv")),
        ffn=int(field(r, "llama.feed_forward_length")),
        eps=float(field(r, "llama.attention.layer_norm_rms_epsilon")),
        theta=float(field(r, "llama.rope.freq_base")),
    )
    W = {}
    types = {}
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float32)
        # GGUF shape is (ne0, ne1, ...) = (in, out); numpy row-major is (out, in)
        shape = tuple(int(x) for x in reversed(t.shape))
        W[t.name] = np.ascontiguousarray(a.reshape(shape))
        types[t.name] = t.tensor_type.name
    return cfg, W, types


# ----------------------------------------------------------------------------------------------
# fp32 forward


def rmsnorm(x, w, eps):
    x64 = x.astype(np.float64)
    inv = 1.0 / np.sqrt((x64 * x64).mean(-1, keepdims=True) + eps)
    return (x * inv.astype(np.float32)) * w


def rope_interleaved(x, pos, theta):
    """x: (T, n_heads, head_dim). Rotate adjacent pairs (2j, 2j+1) by pos * theta^(-2j/head_dim)."""
    T, _, hd = x.shape
    j = np.arange(0, hd, 2, dtype=np.float64)
    inv_freq = theta ** (-j / hd)                      # (hd/2,)
    ang = np.outer(pos.astype(np.float64), inv_freq)   # (T, hd/2)
    cos = np.cos(ang).astype(np.float32)[:, None, :]
    sin = np.sin(ang).astype(np.float32)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def silu(x):
    return x / (1.0 + np.exp(-x))


def forward_logits(cfg, W, tokens):
    """Returns fp32 logits (T, vocab) for every position."""
    T = len(tokens)
    D, H, KV = cfg["dim"], cfg["n_heads"], cfg["n_kv"]
    hd = D // H
    group = H // KV
    eps = cfg["eps"]
    pos = np.arange(T)
    causal = np.triu(np.full((T, T), -np.inf), 1)      # float64 mask
    scale = 1.0 / math.sqrt(hd)

    h = W["token_embd.weight"][np.asarray(tokens)].astype(np.float32)
    for i in range(cfg["n_layers"]):
        p = f"blk.{i}."
        x = rmsnorm(h, W[p + "attn_norm.weight"], eps)
        q = (x @ W[p + "attn_q.weight"].T).reshape(T, H, hd)
        k = (x @ W[p + "attn_k.weight"].T).reshape(T, KV, hd)
        v = (x @ W[p + "attn_v.weight"].T).reshape(T, KV, hd)
        q = rope_interleaved(q, pos, cfg["theta"])
        k = rope_interleaved(k, pos, cfg["theta"])
        o = np.empty((T, H, hd), dtype=np.float32)
        for hh in range(H):
            g = hh // group
            s = (q[:, hh, :] @ k[:, g, :].T).astype(np.float64) * scale + causal
            s -= s.max(-1, keepdims=True)
            pr = np.exp(s)
            pr /= pr.sum(-1, keepdims=True)
            o[:, hh, :] = pr.astype(np.float32) @ v[:, g, :]
        h = h + o.reshape(T, D) @ W[p + "attn_output.weight"].T
        x = rmsnorm(h, W[p + "ffn_norm.weight"], eps)
        gate = x @ W[p + "ffn_gate.weight"].T
        up = x @ W[p + "ffn_up.weight"].T
        h = h + (silu(gate) * up) @ W[p + "ffn_down.weight"].T
    h = rmsnorm(h, W["output_norm.weight"], eps)
    out = W.get("output.weight", W["token_embd.weight"])
    return (h @ out.T).astype(np.float32)


def log_softmax64(logits):
    z = logits.astype(np.float64)
    m = z.max(-1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(-1, keepdims=True)))


def token_logprobs(logits, tokens):
    """log p(tokens[i] | tokens[<i]) for i >= 1, from logits rows 0..T-2."""
    lp = log_softmax64(logits[: len(tokens) - 1])
    return [float(lp[i - 1, tokens[i]]) for i in range(1, len(tokens))]


def write_f32_gguf(src, dst):
    """Copy of the GGUF at src with every tensor dequantized to F32 (metadata kept)."""
    r = GGUFReader(src)
    w = GGUFWriter(dst, "llama")
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        if k == "general.file_type":
            w.add_file_type(0)  # ALL_F32
            continue
        vt = f.types[0]
        w.add_key_value(k, f.contents(), vt, sub_type=f.types[-1] if vt == GGUFValueType.ARRAY else None)
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float32)
        w.add_tensor(t.name, np.ascontiguousarray(a.reshape(tuple(int(x) for x in reversed(t.shape)))))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ----------------------------------------------------------------------------------------------


def sha256_file(path):
    hsh = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hsh.update(chunk)
    return hsh.hexdigest()


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(root, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=os.path.join(root, "Tests", "Fixtures", "score", "smollm2_q4_1.json"))
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    ap.add_argument("--no-f32-check", action="store_true",
                    help="skip the llama.cpp-on-F32-weights cross-check of the fp32 forward")
    a = ap.parse_args()

    import llama_cpp
    from llama_cpp import Llama

    # 1. tokens from llama.cpp's tokenizer
    vocab = Llama(model_path=a.model, vocab_only=True, verbose=False)
    tok_lists = []
    special_checks = []
    for text in TEXTS:
        toks = vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        tok_lists.append(list(map(int, toks)))
        back = vocab.detokenize(toks, special=True).decode("utf-8", errors="replace")
        if back != text:
            print(f"WARNING: detokenize(tokenize(text)) != text for {text[:30]!r}: {back[:60]!r}", file=sys.stderr)
    im_start = vocab.tokenize(b"<|im_start|>", add_bos=False, special=True)
    im_end = vocab.tokenize(b"<|im_end|>", add_bos=False, special=True)
    im_start_plain = vocab.tokenize(b"<|im_start|>", add_bos=False, special=False)
    special_checks.append(f"<|im_start|> -> {im_start} with special=True, {im_start_plain} with special=False; "
                          f"<|im_end|> -> {im_end}")
    print("special:", special_checks[0])
    del vocab

    # 2. fp32 numpy forward
    cfg, W, types = load_model(a.model)
    print("cfg:", cfg, "| tied output:", "output.weight" not in W,
          "| types:", sorted(set(types.values())))

    # 3. llama.cpp forward
    llm = Llama(model_path=a.model, logits_all=True, n_ctx=512, n_threads=a.threads,
                n_threads_batch=a.threads, seed=0, verbose=False)

    entries = []
    print(f"{'#':>2} {'n':>4} {'mean|d|':>9} {'max|d|':>9} {'nll_fp32':>9} {'nll_lcpp':>9}  text")
    for idx, (text, toks) in enumerate(zip(TEXTS, tok_lists)):
        logits = forward_logits(cfg, W, toks)
        lp32 = token_logprobs(logits, toks)
        last = logits[-1]
        top = np.argsort(-last, kind="stable")[:5]

        llm.reset()
        llm.eval(toks)
        lc_logits = np.array(llm.scores[: len(toks)], dtype=np.float32)
        lpcc = token_logprobs(lc_logits, toks)

        d = np.abs(np.array(lp32) - np.array(lpcc)) if len(toks) > 1 else np.zeros(0)
        nll32 = float(-np.mean(lp32)) if lp32 else None
        nllcc = float(-np.mean(lpcc)) if lpcc else None
        lc_top = np.argsort(-lc_logits[-1], kind="stable")[:5]
        fmt = lambda v: f"{v:9.4f}" if v is not None else f"{'-':>9}"
        print(f"{idx:2d} {len(toks):4d} {fmt(float(d.mean()) if d.size else None)} "
              f"{fmt(float(d.max()) if d.size else None)} {fmt(nll32)} {fmt(nllcc)}  {text[:40]!r}"
              f"  top5 fp32={top.tolist()} lcpp={lc_top.tolist()}")
        entries.append({
            "text": text,
            "tokens": toks,
            "logprobs_fp32": lp32,
            "logprobs_llamacpp": lpcc,
            "nll_fp32": nll32,
            "nll_llamacpp": nllcc,
            "last_top5": {"ids": [int(t) for t in top], "logits": [float(last[t]) for t in top]},
        })

    all32 = np.concatenate([e["logprobs_fp32"] for e in entries if e["logprobs_fp32"]])
    allcc = np.concatenate([e["logprobs_llamacpp"] for e in entries if e["logprobs_llamacpp"]])
    print(f"all: {all32.size} scored tokens, mean|d| {np.abs(all32 - allcc).mean():.4f}, "
          f"max|d| {np.abs(all32 - allcc).max():.4f}, nll fp32 {-all32.mean():.4f}, nll llama.cpp {-allcc.mean():.4f}")

    check = None
    if not a.no_f32_check:
        del llm
        with tempfile.TemporaryDirectory() as tmp:
            f32 = os.path.join(tmp, "f32.gguf")
            write_f32_gguf(a.model, f32)
            llm32 = Llama(model_path=f32, logits_all=True, n_ctx=512, n_threads=a.threads,
                          n_threads_batch=a.threads, seed=0, verbose=False,
                          type_k=0, type_v=0)  # GGML_TYPE_F32 KV cache
            diffs, top_ok, last_d = [], True, 0.0
            for e in entries:
                toks = e["tokens"]
                llm32.reset()
                llm32.eval(toks)
                sc = np.array(llm32.scores[: len(toks)], dtype=np.float32)
                ids = e["last_top5"]["ids"]
                top_ok &= np.argsort(-sc[-1], kind="stable")[:5].tolist() == ids
                last_d = max(last_d, float(np.abs(sc[-1][ids] - np.array(e["last_top5"]["logits"])).max()))
                if len(toks) > 1:
                    diffs.append(np.abs(np.array(token_logprobs(sc, toks)) - np.array(e["logprobs_fp32"])))
            del llm32
        dd = np.concatenate(diffs)
        check = {"mean_abs_logprob_diff": float(dd.mean()), "max_abs_logprob_diff": float(dd.max()),
                 "max_abs_last_top5_logit_diff": last_d, "last_top5_ids_equal": bool(top_ok)}
        print("check: llama.cpp on F32-dequantized weights (F32 KV cache) vs fp32 forward:", check)

    doc = {
        "model": os.path.basename(a.model),
        "model_sha256": sha256_file(a.model),
        "config": cfg,
        "texts": entries,
        "check_llamacpp_f32_weights": check,
        "generator": (f"scripts/reference/make_score_fixtures.py (numpy {np.__version__}, "
                      f"llama-cpp-python {llama_cpp.__version__})"),
        "notes": ("tokens: llama.cpp tokenize(text, add_bos=False, special=True) (SmolLM2 add_bos_token=false); "
                  + special_checks[0] + ". "
                  "logprobs_*[i-1] = log p(tokens[i] | tokens[<i]) for i >= 1 (len = n_tokens - 1); "
                  "nll_* = -mean(logprobs_*), null for one-token texts. "
                  "logprobs_fp32: numpy forward, weights dequantized by gguf.quants.dequantize to float32, "
                  "float32 matmuls, float64 attention softmax / RMS mean / log_softmax, interleaved (adjacent-pair) "
                  "RoPE, GQA head h -> kv head h // (n_heads/n_kv), tied output = token_embd. "
                  "The Swift fp32 forward should match logprobs_fp32 closely (~1e-3 nats). "
                  "logprobs_llamacpp: llama.cpp logits (logits_all=True, n_ctx=512, CPU) -> float64 log_softmax; "
                  "llama.cpp quantizes activations to Q8 for quantized dot products, so it differs more. "
                  "last_top5: top-5 next-token ids and fp32 logits after the last token (fp32 forward). "
                  "check_llamacpp_f32_weights: llama.cpp run on a copy of the model with all tensors "
                  "dequantized to F32 and an F32 KV cache, compared with logprobs_fp32 (validates the fp32 "
                  "reference; null if skipped)."),
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes)")


if __name__ == "__main__":
    main()
