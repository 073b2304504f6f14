#!/usr/bin/env python3
"""Make one tiny random LLaMA and write it in both layouts this project reads, plus reference logits.

    make_tiny_llama.py OUT_DIR [--seed S] [--layers 2] [--dim 64] [--heads 4] [--kv-heads 2]
                       [--ffn 128] [--vocab 300] [--tied | --untied] [--rope-theta 10000]
                       [--rms-eps 1e-5] [--context 256] [--hf-dtype f32|f16|bf16]
                       [--gguf-type f32|f16] [--add-bos] [--text "ascii text" | --tokens 1,2,3,...]

Writes:
  OUT_DIR/hf/config.json, OUT_DIR/hf/model.safetensors, OUT_DIR/hf/tokenizer.json
        Hugging Face LlamaForCausalLM layout; Q/K rows in the HALF-SPLIT RoPE layout (rotate_half:
        dimension i of a head pairs with i + head_dim/2).
  OUT_DIR/model.gguf
        llama.cpp layout: llama.* metadata, blk.* tensor names, Q/K rows of every head PERMUTED into
        the INTERLEAVED RoPE layout (dimension 2j pairs with 2j+1), a tiny byte-level BPE tokenizer.
  OUT_DIR/reference.json
        the tokens of a fixed ASCII text (byte-level BPE with the model's own merges, no BOS), the
        logits for them from a plain float64 numpy forward pass of the HF layout, and
        log p(tokens[i] | tokens[<i]) with their mean negative (the `score --json` contract).

Weights are drawn in float64, then rounded to every storage type used (HF dtype and GGUF type), so
both files hold exactly the same numbers and the reference is computed from those exact numbers.
Before finishing, the script reads both files back and checks (1) the safetensors tensors equal the
weights, (2) a forward pass over the GGUF tensors with INTERLEAVED RoPE gives the same logits as the
HF-layout reference (an independent check of the permutation), to 1e-9.

The Q/K permutation (llama.cpp's convert_hf_to_gguf does the same): within each head of size
head_dim = 2·h, GGUF row (2j + p) = HF row (p·h + j), for j in 0..<h and p in {0, 1}. K uses the KV
head count. Inverse: HF row (p·h + j) = GGUF row (2j + p).
"""

import argparse
import json
import os
import re
import sys

import numpy as np
from safetensors import TensorSpec, deserialize, serialize
import gguf


# ----------------------------------------------------------------------------------------------
# Rounding to storage types (exact round-to-nearest-even)

def round_to(a, dtype):
    a = np.asarray(a, dtype=np.float64)
    if dtype == "f32":
        return a.astype(np.float32).astype(np.float64)
    if dtype == "f16":
        return a.astype(np.float16).astype(np.float64)
    if dtype == "bf16":
        return bf16_bits_to_f64(f64_to_bf16_bits(a))
    raise ValueError(dtype)


def f64_to_bf16_bits(a):
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return bits.astype(np.uint16)


def bf16_bits_to_f64(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def storage_bytes(a, dtype):
    """Little-endian bytes of a (already exactly representable) float64 array."""
    if dtype == "f32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "f16":
        return np.ascontiguousarray(a, dtype="<f2").tobytes()
    if dtype == "bf16":
        return np.ascontiguousarray(f64_to_bf16_bits(a), dtype="<u2").tobytes()
    raise ValueError(dtype)


# ----------------------------------------------------------------------------------------------
# The model

def make_weights(args):
    rng = np.random.default_rng(args.seed)
    D, F, V, L = args.dim, args.ffn, args.vocab, args.layers
    hd = D // args.heads

    def linear(out_features, in_features):
        # Larger than usual init so logits are far from uniform and a wrong layout shows.
        return rng.normal(0.0, 1.0 / np.sqrt(in_features), size=(out_features, in_features))

    def norm(n):
        return 1.0 + 0.1 * rng.normal(size=(n,))

    w = {"model.embed_tokens.weight": rng.normal(0.0, 2.0 / np.sqrt(D), size=(V, D))}
    for i in range(L):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = linear(args.heads * hd, D)
        w[p + "self_attn.k_proj.weight"] = linear(args.kv_heads * hd, D)
        w[p + "self_attn.v_proj.weight"] = linear(args.kv_heads * hd, D)
        w[p + "self_attn.o_proj.weight"] = linear(D, args.heads * hd)
        w[p + "mlp.gate_proj.weight"] = linear(F, D)
        w[p + "mlp.up_proj.weight"] = linear(F, D)
        w[p + "mlp.down_proj.weight"] = linear(D, F)
        w[p + "input_layernorm.weight"] = norm(D)
        w[p + "post_attention_layernorm.weight"] = norm(D)
    w["model.norm.weight"] = norm(D)
    if not args.tied:
        w["lm_head.weight"] = linear(V, D)

    # Round through every storage type used until stable, then insist both stores are exact.
    types = [args.hf_dtype, args.gguf_type]
    for name in w:
        a = w[name]
        for _ in range(3):
            for t in types:
                a = round_to(a, t)
        for t in types:
            assert np.array_equal(round_to(a, t), a), f"{name} not exact in {t}"
        w[name] = a
    return w


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope_half_split(x, positions, theta):
    # x: (T, heads, hd); dimension i pairs with i + hd/2 (HF rotate_half).
    hd = x.shape[-1]
    half = hd // 2
    inv_freq = theta ** (-np.arange(0, half, dtype=np.float64) * 2.0 / hd)
    ang = positions[:, None] * inv_freq[None, :]          # (T, half)
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def rope_interleaved(x, positions, theta):
    # x: (T, heads, hd); dimension 2j pairs with 2j+1 (llama.cpp / original Meta LLaMA).
    hd = x.shape[-1]
    half = hd // 2
    inv_freq = theta ** (-np.arange(0, half, dtype=np.float64) * 2.0 / hd)
    ang = positions[:, None] * inv_freq[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    xe, xo = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = xe * cos - xo * sin
    out[..., 1::2] = xo * cos + xe * sin
    return out


def forward(w, tokens, cfg, rope):
    """Plain float64 forward. `w` uses HF names; `rope` picks the Q/K layout the weights are in."""
    D, H, KV, L = cfg["dim"], cfg["heads"], cfg["kv_heads"], cfg["layers"]
    hd = D // H
    eps, theta = cfg["rms_eps"], cfg["rope_theta"]
    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    mask = np.triu(np.full((T, T), -np.inf), k=1)
    x = w["model.embed_tokens.weight"][tokens]                                # (T, D)
    for i in range(L):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(T, H, hd)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(T, KV, hd)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(T, KV, hd)
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        out = np.empty((T, H, hd))
        for head in range(H):
            g = head // (H // KV)                                             # GQA: repeat_interleave
            s = q[:, head, :] @ k[:, g, :].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            out[:, head, :] = s @ v[:, g, :]
        x = x + out.reshape(T, H * hd) @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1.0 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head_w = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head_w.T                                                       # (T, V)


def log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


# ----------------------------------------------------------------------------------------------
# Layout conversion

def permute_for_gguf(weight, n_heads):
    """HF half-split rows -> GGUF interleaved rows, per head: new row 2j+p = old row p*h + j."""
    rows, cols = weight.shape
    hd = rows // n_heads
    h = hd // 2
    return weight.reshape(n_heads, 2, h, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


def unpermute_from_gguf(weight, n_heads):
    rows, cols = weight.shape
    hd = rows // n_heads
    h = hd // 2
    return weight.reshape(n_heads, h, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


HF_TO_GGUF_LAYER = {
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}


def gguf_name(hf_name):
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    parts = hf_name.split(".")
    assert parts[:2] == ["model", "layers"], hf_name
    return f"blk.{parts[2]}." + HF_TO_GGUF_LAYER[".".join(parts[3:])]


# ----------------------------------------------------------------------------------------------
# Tokenizer: 256 byte-level tokens, a few merges, two control tokens.

def byte_to_unicode():
    """GPT-2's reversible byte -> printable character map."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


MERGES = [
    ("h", "e"), ("Ġ", "t"), ("Ġt", "he"), ("i", "n"), ("e", "r"), ("a", "n"), ("o", "n"), ("Ġ", "a"),
    ("r", "e"), ("Ġ", "s"), ("in", "g"), ("e", "d"), ("Ġ", "w"), ("o", "r"), ("e", "n"), ("Ġ", "o"),
    ("Ġ", "c"), ("l", "l"), ("a", "t"), ("i", "s"), ("Ġ", "b"), ("Ġ", "f"), ("Ġ", "i"), ("o", "u"),
    ("e", "s"), ("Ġ", "p"), ("Ġa", "n"), ("Ġan", "d"), ("a", "r"), ("i", "t"), ("Ġ", "m"), ("Ġo", "f"),
    ("l", "e"), ("Ġ", "h"), ("Ġ", "d"), ("a", "l"), ("Ġ", "l"), ("s", "t"), ("Ġt", "o"), ("i", "c"),
    ("Ġ", "e"), ("Ġ", "n"), ("Ġ", "y"), ("o", "m"), ("Ġ", "g"), ("Ġw", "h"), ("i", "on"), ("l", "y"),
]


def make_tokenizer(vocab_size):
    assert vocab_size >= 258, "vocab must hold 256 byte tokens and 2 control tokens"
    table = byte_to_unicode()
    tokens = [table[b] for b in range(256)]
    n_merges = min(len(MERGES), vocab_size - 258)
    merges = []
    for a, b in MERGES[:n_merges]:
        assert a in tokens and b in tokens and a + b not in tokens, (a, b)
        merges.append(f"{a} {b}")
        tokens.append(a + b)
    types = [1] * len(tokens)  # NORMAL
    while len(tokens) < vocab_size - 2:
        tokens.append(f"<|reserved_{len(tokens)}|>")
        types.append(3)  # CONTROL
    tokens += ["<s>", "</s>"]
    types += [3, 3]
    return tokens, types, merges, vocab_size - 2, vocab_size - 1


# GPT-2's pre-tokenizer pattern restricted to ASCII (enough for the fixed reference text; the real one
# uses Unicode letter/number classes).
GPT2_ASCII_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def encode(text, tokens, merges):
    """Byte-level BPE of ASCII `text`: pre-split, map bytes to characters, merge lowest rank first."""
    assert text.isascii(), "the reference encoder handles ASCII text only"
    table = byte_to_unicode()
    ids = {t: i for i, t in enumerate(tokens)}
    rank = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
    out = []
    for piece in GPT2_ASCII_SPLIT.findall(text):
        word = [table[b] for b in piece.encode()]
        while len(word) > 1:
            pairs = [(rank.get((a, b), len(rank)), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            best, i = min(pairs)
            if best == len(rank):
                break
            word[i:i + 2] = [word[i] + word[i + 1]]
        out += [ids[w] for w in word]
    return out


def hf_tokenizer_json(tokens, types, merges):
    added = [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3
    ]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
    }


# ----------------------------------------------------------------------------------------------
# Writers

ST_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def write_hf(out_dir, w, args, tok):
    os.makedirs(out_dir, exist_ok=True)
    tokens, types, merges, bos, eos = tok
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": args.dim,
        "intermediate_size": args.ffn,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads,
        "num_hidden_layers": args.layers,
        "head_dim": args.dim // args.heads,
        "hidden_act": "silu",
        "rms_norm_eps": args.rms_eps,
        "rope_theta": args.rope_theta,
        "rope_scaling": None,
        "vocab_size": args.vocab,
        "tie_word_embeddings": args.tied,
        "max_position_embeddings": args.context,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "attention_bias": False,
        "mlp_bias": False,
        "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[args.hf_dtype],
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        json.dump(hf_tokenizer_json(tokens, types, merges), f, ensure_ascii=False, sort_keys=True)
        f.write("\n")

    keep_alive = {}
    specs = {}
    for name, a in w.items():
        data = np.frombuffer(storage_bytes(a, args.hf_dtype), dtype=np.uint8).copy()
        keep_alive[name] = data
        specs[name] = TensorSpec(dtype=ST_DTYPE[args.hf_dtype], shape=list(a.shape),
                                 data_ptr=data.ctypes.data, data_len=data.nbytes)
    blob = serialize(specs, {"format": "pt"})
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(bytes(blob))


def write_gguf(path, w, args, tok):
    tokens, types, merges, bos, eos = tok
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("tiny-random-llama")
    writer.add_file_type(0 if args.gguf_type == "f32" else 1)  # ALL_F32 / MOSTLY_F16
    writer.add_context_length(args.context)
    writer.add_embedding_length(args.dim)
    writer.add_block_count(args.layers)
    writer.add_feed_forward_length(args.ffn)
    writer.add_head_count(args.heads)
    writer.add_head_count_kv(args.kv_heads)
    writer.add_layer_norm_rms_eps(args.rms_eps)
    writer.add_rope_freq_base(args.rope_theta)
    writer.add_rope_dimension_count(args.dim // args.heads)
    writer.add_vocab_size(args.vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")  # llama.cpp's name for the GPT-2 regex
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(bos)
    writer.add_eos_token_id(eos)
    writer.add_add_bos_token(args.add_bos)

    for name, a in w.items():
        if name.endswith("q_proj.weight"):
            a = permute_for_gguf(a, args.heads)
        elif name.endswith("k_proj.weight"):
            a = permute_for_gguf(a, args.kv_heads)
        # As llama.cpp's converter: 1-D tensors (norms) stay F32 whatever the file type.
        dtype = np.float32 if (args.gguf_type == "f32" or a.ndim == 1) else np.float16
        writer.add_tensor(gguf_name(name), np.ascontiguousarray(a, dtype=dtype))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# ----------------------------------------------------------------------------------------------
# Self-checks: read both files back

def check_safetensors(path, w, dtype):
    got = dict(deserialize(open(path, "rb").read()))
    assert set(got) == set(w), "safetensors names differ"
    for name, a in w.items():
        t = got[name]
        assert list(t["shape"]) == list(a.shape), name
        raw = bytes(t["data"])
        if dtype == "bf16":
            b = bf16_bits_to_f64(np.frombuffer(raw, dtype="<u2"))
        else:
            b = np.frombuffer(raw, dtype={"f32": "<f4", "f16": "<f2"}[dtype]).astype(np.float64)
        assert np.array_equal(b.reshape(a.shape), a), f"safetensors {name} differs"


def check_gguf(path, w, args, tokens, ref_logits):
    reader = gguf.GGUFReader(path)
    by_name = {t.name: t for t in reader.tensors}
    expected_names = {gguf_name(n) for n in w}
    assert set(by_name) == expected_names, f"gguf names differ: {sorted(set(by_name) ^ expected_names)}"
    inverse = {gguf_name(n): n for n in w}
    g = {}
    for gname, t in by_name.items():
        hf = inverse[gname]
        a = np.asarray(t.data, dtype=np.float64).reshape(w[hf].shape)  # numpy order = outermost first
        g[hf] = a
        if hf.endswith("q_proj.weight"):
            assert np.array_equal(unpermute_from_gguf(a, args.heads), w[hf]), gname
        elif hf.endswith("k_proj.weight"):
            assert np.array_equal(unpermute_from_gguf(a, args.kv_heads), w[hf]), gname
        else:
            assert np.array_equal(a, w[hf]), gname
    # Forward over the GGUF weights as stored, with interleaved RoPE.
    logits = forward(g, tokens, cfg_of(args), rope_interleaved)
    diff = float(np.max(np.abs(logits - ref_logits)))
    assert diff < 1e-9, f"GGUF (interleaved RoPE) forward differs from HF reference by {diff}"
    return diff


def cfg_of(args):
    return {"dim": args.dim, "heads": args.heads, "kv_heads": args.kv_heads, "layers": args.layers,
            "rms_eps": args.rms_eps, "rope_theta": args.rope_theta}


REFERENCE_TEXT = "the winter in the tower"


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=300)
    tie = ap.add_mutually_exclusive_group()
    tie.add_argument("--tied", dest="tied", action="store_true", default=True)
    tie.add_argument("--untied", dest="tied", action="store_false")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--rms-eps", type=float, default=1e-5)
    ap.add_argument("--context", type=int, default=256, help="max_position_embeddings / llama.context_length")
    ap.add_argument("--hf-dtype", choices=["f32", "f16", "bf16"], default="f32")
    ap.add_argument("--gguf-type", choices=["f32", "f16"], default="f32")
    ap.add_argument("--add-bos", action="store_true", help="set tokenizer.ggml.add_bos_token true")
    ap.add_argument("--text", default=REFERENCE_TEXT, help="ASCII text whose tokens reference.json scores")
    ap.add_argument("--tokens", default=None, help="comma-separated ids for reference.json instead of --text")
    args = ap.parse_args()

    if args.dim % args.heads or (args.dim // args.heads) % 2 or args.heads % args.kv_heads:
        sys.exit("need dim divisible by heads, an even head_dim, and heads divisible by kv-heads")
    w = make_weights(args)
    tok = make_tokenizer(args.vocab)
    text = None
    if args.tokens:
        tokens = [int(t) for t in args.tokens.split(",")]
    else:
        text = args.text
        tokens = encode(text, tok[0], tok[2])
    if len(tokens) < 2 or any(not 0 <= t < args.vocab for t in tokens):
        sys.exit("need at least 2 token ids, each in 0..<vocab")
    os.makedirs(args.out_dir, exist_ok=True)
    hf_dir = os.path.join(args.out_dir, "hf")
    write_hf(hf_dir, w, args, tok)
    gguf_path = os.path.join(args.out_dir, "model.gguf")
    write_gguf(gguf_path, w, args, tok)

    logits = forward(w, tokens, cfg_of(args), rope_half_split)
    logp = log_softmax(logits)
    logprobs = [float(logp[i - 1, tokens[i]]) for i in range(1, len(tokens))]

    check_safetensors(os.path.join(hf_dir, "model.safetensors"), w, args.hf_dtype)
    diff = check_gguf(gguf_path, w, args, tokens, logits)

    ref = {
        "description": "float64 numpy forward of hf/model.safetensors (half-split RoPE); tokens = byte-level BPE "
                       "of text with the model's tokenizer, no BOS (null text: ids given by hand); logits[t] "
                       "predicts token t+1; logprobs[i-1] = log p(tokens[i] | tokens[<i]); nll = mean(-logprobs)",
        "config": {**cfg_of(args), "ffn": args.ffn, "vocab": args.vocab, "tied": args.tied,
                   "seed": args.seed, "hf_dtype": args.hf_dtype, "gguf_type": args.gguf_type},
        "text": text,
        "tokens": tokens,
        "logits": [[float(f"{v:.8g}") for v in row] for row in logits],
        "logprobs": [float(f"{v:.12g}") for v in logprobs],
        "nll": float(-np.mean(logprobs)),
        "gguf_interleaved_forward_max_abs_diff": diff,
    }
    with open(os.path.join(args.out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out_dir}: {len(w)} tensors, logits range "
          f"[{logits.min():.3f}, {logits.max():.3f}], nll {ref['nll']:.4f}, gguf check diff {diff:.2e}")


if __name__ == "__main__":
    main()
