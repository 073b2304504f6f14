#!/usr/bin/env python3
"""Independent PyTorch-autograd reference fixtures for the LLaMA-Adapter loss and gradients.

**`make_adapter_grad_fixtures.py`** — writes `Tests/Fixtures/adapter/grad_<variant>.json`
(`tied_all`, `untied_top1`, `zero_gates`): the loss and the float64 autograd gradients of the
adapter prompts and gates of DESIGN.md §1 on the tiny random LLaMA models of
`Tests/Fixtures/tiny-llama/{tied,untied}/model.gguf` (made by `make_tiny_llama.py`), for a fixed
batch of three sequences of different lengths with Hugging Face aligned labels. The forward is
written from scratch here (float64 torch, weights = the GGUF file values dequantized with
`gguf.quants.dequantize`) and checked four ways before anything is written: (1) central finite
differences on a few prompt and gate coordinates agree with autograd, (2) with the adapter off it
reproduces the base logits of `Tests/Fixtures/tiny-llama/*/reference.json` (a numpy forward over
the HF half-split layout: an independent check of the interleaved RoPE and GQA mapping), (3) with
gates 0 the logits equal the base model's exactly, (4) the loss and gradients agree with
`shared/bench/torch_baseline.py`'s `step()` (the reference PyTorch semantics) run per sequence.
Needs torch: `bash scripts/reference/setup_torch_venv.sh` makes the git-ignored `.venv-torch`
(PyPI torch, about 5.6 GB with its CUDA libraries; it runs on the CPU). Run from the repository
root: `.venv-torch/bin/python scripts/reference/make_adapter_grad_fixtures.py [--out-dir DIR]
[--variants tied_all,untied_top1,zero_gates] [--baseline PATH]`; it takes a few seconds. Never
run in CI: the Swift tests only read the JSON files.

JSON schema (every number float64 except the ids; flat lists are row-major, C order):
  variant            str
  model              path of the GGUF file, relative to the repository root
  model_weights_sha256  SHA-256 over the tensors as stored (for each tensor in file order: its
                     name, its ggml type name, its shape, its raw bytes), so a fixture can tell a
                     regenerated model from the one it was made with even if metadata changed
  config             {dim, n_heads, n_kv_heads, head_dim, ffn, vocab, n_layers, rms_eps,
                     rope_theta, tied}; rms_eps is the file's F32 value (9.999999747e-06 for
                     1e-5) and is used as such; the untied model is an F16 GGUF, the tied one F32
  n_layers, adapter_layers (N), adapter_len (K), first_layer (= n_layers - N)
  prompt             flat [N, K, D]: prompt[i] belongs to layer first_layer + i
  gate               flat [N, H]   (the raw gate; the model uses tanh(gate))
  batch              list of {"input_ids": [T], "labels": [T]}, labels aligned as in HF
                     (logits at t-1 scored against labels[t]; -100 ignored; labels[0] unused)
  loss               sum over the whole batch of -log p(labels[t] | ids[<t]) / label_count
  loss_sum           that sum (unnormalised)
  label_count        number of labels != -100 at positions t >= 1, over the whole batch
  per_sequence       list of {"loss_sum", "label_count"} for each sequence alone
  grad_prompt        flat [N, K, D]: d loss / d prompt
  grad_gate          flat [N, H]:    d loss / d gate
  logits_first       flat [T0, V]: logits of batch[0] (row t = logits at position t, i.e. the
                     prediction of token t+1), with the adapter as given
  logits_first_shape [T0, V]
  base_logits_first  (zero_gates only) flat [T0, V], the base model without any adapter: equal to
                     logits_first exactly
  finite_difference  list of {"param", "index", "autograd", "central_difference", "step"}
                     ("prompt"/"gate", index into the flat list)
  baseline_check     {abs_diff_loss, max_abs_diff_grad_prompt, max_abs_diff_grad_gate} against
                     shared/bench/torch_baseline.py (absent when that file was not found)
  notes              free text

Semantics implemented (DESIGN.md §1): x = RMSNorm(h); q = RoPE(x Wqᵀ), k = RoPE(x Wkᵀ), v = x Wvᵀ
with RoPE on adjacent pairs (2j, 2j+1) of each head at angle pos·θ^(−2j/hd) (GGUF row layout);
query head h uses KV head h // (H/G); o_tok = softmax(q kᵀ/√hd + causal) v; in adapter layers
ak = prompt Wkᵀ, av = prompt Wvᵀ (no RoPE, no mask, the same KV-head mapping), o_ad = softmax over
the K slots of q akᵀ/√hd, times av; o = o_tok + tanh(gate[l])[h] · o_ad; then Wo, residual,
RMSNorm, SwiGLU MLP, residual; final RMSNorm and LM head (token_embd when output.weight is absent).
"""

import argparse
import hashlib
import importlib.util
import json
import math
import os
import sys

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DT = torch.float64


# ----------------------------------------------------------------------------------------------
# Model loading

def _field(reader, key):
    f = reader.fields[key]
    return f.parts[f.data[0]][0]


def load_gguf(path):
    r = GGUFReader(path)
    cfg = {
        "n_layers": int(_field(r, "llama.block_count")),
        "dim": int(_field(r, "llama.embedding_length")),
        "n_heads": int(_field(r, "llama.attention.head_count")),
        "n_kv_heads": int(_field(r, "llama.attention.head_count_kv")),
        "ffn": int(_field(r, "llama.feed_forward_length")),
        "rms_eps": float(_field(r, "llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(_field(r, "llama.rope.freq_base")),
    }
    cfg["head_dim"] = cfg["dim"] // cfg["n_heads"]
    h = hashlib.sha256()
    W = {}
    for t in r.tensors:
        shape = [int(x) for x in reversed(t.shape)]  # numpy order: outermost first
        raw = np.ascontiguousarray(t.data)
        h.update(t.name.encode() + b"\0" + t.tensor_type.name.encode() + b"\0"
                 + ",".join(map(str, shape)).encode() + b"\0" + raw.tobytes())
        a = dequantize(t.data, t.tensor_type).astype(np.float64).reshape(shape)
        W[t.name] = torch.from_numpy(a.copy())
    cfg["vocab"] = int(W["token_embd.weight"].shape[0])
    cfg["tied"] = "output.weight" not in W
    return cfg, W, h.hexdigest()


# ----------------------------------------------------------------------------------------------
# Forward (one sequence, float64)

def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope_adjacent(x, pos, theta):
    """x: (T, heads, hd). Pair (2j, 2j+1) rotated by pos * theta^(-2j/hd)."""
    hd = x.shape[-1]
    j = torch.arange(hd // 2, dtype=DT)
    ang = pos[:, None] * theta ** (-2.0 * j / hd)[None, :]           # (T, hd/2)
    c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack([xe * c - xo * s, xe * s + xo * c], dim=-1).reshape(x.shape)


def forward(cfg, W, ids, prompt=None, gate=None, n_adapt=0):
    """Logits (T, V) for one token sequence. prompt: (N, K, D), gate: (N, H), adapter on the top
    n_adapt layers; n_adapt = 0 (or prompt None) is the base model."""
    D, H, G, hd, L = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"], cfg["n_layers"]
    eps, theta = cfg["rms_eps"], cfg["rope_theta"]
    T = len(ids)
    ids_t = torch.tensor(ids, dtype=torch.long)
    pos = torch.arange(T, dtype=DT)
    kv_of = torch.tensor([h // (H // G) for h in range(H)], dtype=torch.long)  # GQA mapping
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    first = L - n_adapt
    h = W["token_embd.weight"][ids_t]                                  # (T, D)
    for l in range(L):
        p = f"blk.{l}."
        x = rms_norm(h, W[p + "attn_norm.weight"], eps)
        q = rope_adjacent((x @ W[p + "attn_q.weight"].T).reshape(T, H, hd), pos, theta)
        k = rope_adjacent((x @ W[p + "attn_k.weight"].T).reshape(T, G, hd), pos, theta)
        v = (x @ W[p + "attn_v.weight"].T).reshape(T, G, hd)
        kh, vh = k[:, kv_of, :], v[:, kv_of, :]                         # (T, H, hd)
        s = torch.einsum("thd,shd->hts", q, kh) / math.sqrt(hd)
        s = s.masked_fill(causal[None], float("-inf"))
        o = torch.einsum("hts,shd->htd", torch.softmax(s, dim=-1), vh)  # (H, T, hd)
        if prompt is not None and l >= first:
            a = prompt[l - first]                                       # (K, D)
            K = a.shape[0]
            ak = (a @ W[p + "attn_k.weight"].T).reshape(K, G, hd)[:, kv_of, :]
            av = (a @ W[p + "attn_v.weight"].T).reshape(K, G, hd)[:, kv_of, :]
            sa = torch.einsum("thd,khd->htk", q, ak) / math.sqrt(hd)
            o_ad = torch.einsum("htk,khd->htd", torch.softmax(sa, dim=-1), av)
            o = o + torch.tanh(gate[l - first])[:, None, None] * o_ad
        h = h + o.permute(1, 0, 2).reshape(T, H * hd) @ W[p + "attn_output.weight"].T
        x = rms_norm(h, W[p + "ffn_norm.weight"], eps)
        g = x @ W[p + "ffn_gate.weight"].T
        u = x @ W[p + "ffn_up.weight"].T
        h = h + (g * torch.sigmoid(g) * u) @ W[p + "ffn_down.weight"].T
    h = rms_norm(h, W["output_norm.weight"], eps)
    return h @ W.get("output.weight", W["token_embd.weight"]).T


def seq_loss_sum(logits, labels):
    """Sum over t >= 1 with labels[t] != -100 of -log softmax(logits[t-1])[labels[t]]."""
    lab = torch.tensor(labels, dtype=torch.long)
    idx = [t for t in range(1, len(labels)) if labels[t] != -100]
    if not idx:
        return logits.sum() * 0.0, 0
    rows = torch.tensor([t - 1 for t in idx], dtype=torch.long)
    logp = torch.log_softmax(logits[rows], dim=-1)
    tgt = lab[torch.tensor(idx, dtype=torch.long)]
    return -logp.gather(1, tgt[:, None]).sum(), len(idx)


def batch_loss(cfg, W, batch, prompt, gate, n_adapt):
    total, count, per = 0.0, 0, []
    for ex in batch:
        s, c = seq_loss_sum(forward(cfg, W, ex["input_ids"], prompt, gate, n_adapt), ex["labels"])
        total = total + s
        count += c
        per.append((s, c))
    return total / count, total, count, per


# ----------------------------------------------------------------------------------------------
# Checks

def finite_difference(cfg, W, batch, prompt, gate, n_adapt, grad_p, grad_g, rng, n_prompt=4, n_gate=3,
                      step=1e-6):
    rows = []
    with torch.no_grad():
        def loss_at(p, g):
            return float(batch_loss(cfg, W, batch, p, g, n_adapt)[0])

        picks = [("prompt", int(i)) for i in rng.choice(prompt.numel(), n_prompt, replace=False)]
        picks += [("gate", int(i)) for i in rng.choice(gate.numel(), n_gate, replace=False)]
        for name, i in picks:
            base = prompt if name == "prompt" else gate
            plus, minus = base.detach().clone(), base.detach().clone()
            plus.view(-1)[i] += step
            minus.view(-1)[i] -= step
            if name == "prompt":
                fd = (loss_at(plus, gate) - loss_at(minus, gate)) / (2 * step)
                ag = float(grad_p.view(-1)[i])
            else:
                fd = (loss_at(prompt, plus) - loss_at(prompt, minus)) / (2 * step)
                ag = float(grad_g.view(-1)[i])
            rows.append({"param": name, "index": i, "autograd": ag, "central_difference": fd, "step": step})
    return rows


def check_fd(rows, variant):
    worst = 0.0
    for r in rows:
        err = abs(r["autograd"] - r["central_difference"])
        rel = err / max(abs(r["autograd"]), 1e-6)
        worst = max(worst, min(err, rel))
        print(f"  [{variant}] fd {r['param']:6s}[{r['index']:4d}]  autograd {r['autograd']: .12e}  "
              f"central {r['central_difference']: .12e}  abs err {err:.2e}")
        assert err < 1e-7 or rel < 1e-6, f"finite difference disagrees: {r}"
    return worst


def check_reference_json(cfg, W, ref_path):
    """Base forward vs make_tiny_llama.py's numpy forward over the HF (half-split) layout."""
    if not os.path.exists(ref_path):
        print(f"  (no {os.path.relpath(ref_path, ROOT)}; skipped base-logit check)")
        return None
    ref = json.load(open(ref_path))
    with torch.no_grad():
        got = forward(cfg, W, ref["tokens"]).numpy()
    want = np.array(ref["logits"], dtype=np.float64)
    diff = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
    print(f"  base logits vs {os.path.relpath(ref_path, ROOT)}: max rel diff {diff:.2e} "
          f"(reference stored to 8 significant digits)")
    assert diff < 1e-6, "base forward disagrees with the HF-layout reference"
    return diff


def load_baseline(path):
    if not path or not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("torch_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_against_baseline(mod, cfg, W, batch, prompt, gate, n_adapt, loss, gp, gg):
    """shared/bench/torch_baseline.py step() per sequence (its mean CE times the label count), summed."""
    bcfg = {"n_layers": cfg["n_layers"], "dim": cfg["dim"], "n_heads": cfg["n_heads"],
            "n_kv": cfg["n_kv_heads"], "ffn": cfg["ffn"], "eps": cfg["rms_eps"], "theta": cfg["rope_theta"]}
    p = prompt.detach().clone().requires_grad_(True)
    g = gate.detach().clone().requires_grad_(True)
    total, count = 0.0, 0
    for ex in batch:
        c = sum(1 for t in range(1, len(ex["labels"])) if ex["labels"][t] != -100)
        if c == 0:
            continue
        tok = torch.tensor([ex["input_ids"]], dtype=torch.long)
        lab = torch.tensor([ex["labels"]], dtype=torch.long)
        total = total + mod.step(bcfg, W, tok, lab, p, g, n_adapt) * c
        count += c
    bl = total / count
    bl.backward()
    dl = abs(float(bl.detach()) - float(loss.detach()))
    dp = float((p.grad - gp).abs().max())
    dg = float((g.grad - gg).abs().max())
    scale = max(float(gp.abs().max()), float(gg.abs().max()), 1e-12)
    print(f"  vs shared/bench/torch_baseline.py step(): |dloss| {dl:.2e}, max|dgrad_prompt| {dp:.2e}, "
          f"max|dgrad_gate| {dg:.2e} (grad scale {scale:.2e}; its RoPE angles are float32)")
    assert dl < 1e-5 and dp < 1e-5 * max(scale, 1.0) and dg < 1e-5 * max(scale, 1.0), \
        "disagrees with the baseline's semantics"
    return {"abs_diff_loss": dl, "max_abs_diff_grad_prompt": dp, "max_abs_diff_grad_gate": dg}


# ----------------------------------------------------------------------------------------------
# Variants

def make_batch(rng, vocab, lengths):
    batch = []
    for T in lengths:
        ids = [int(x) for x in rng.integers(0, vocab, size=T)]
        n_prompt = max(1, T // 3)                                  # first ~third: prompt, masked
        labels = [-100 if t < n_prompt else ids[t] for t in range(T)]
        batch.append({"input_ids": ids, "labels": labels})
    return batch


VARIANTS = {
    # name: (model dir under Tests/Fixtures/tiny-llama, adapter layers (None = all), K, gates, seed)
    "tied_all": ("tied", None, 3, "sin", 101),
    "untied_top1": ("untied", 1, 4, "sin", 202),
    "zero_gates": ("tied", None, 3, "zero", 303),
}
LENGTHS = [7, 11, 5]


def flat(t):
    return [float(v) + 0.0 for v in t.detach().reshape(-1).tolist()]  # + 0.0: no "-0.0" in JSON


def build(variant, baseline_mod, out_dir):
    model_dir, n_adapt, K, gate_kind, seed = VARIANTS[variant]
    model_rel = f"Tests/Fixtures/tiny-llama/{model_dir}/model.gguf"
    print(f"{variant}: {model_rel}")
    cfg, W, wsha = load_gguf(os.path.join(ROOT, model_rel))
    check_reference_json(cfg, W, os.path.join(ROOT, f"Tests/Fixtures/tiny-llama/{model_dir}/reference.json"))
    L, D, H = cfg["n_layers"], cfg["dim"], cfg["n_heads"]
    N = L if n_adapt is None else n_adapt
    first = L - N
    rng = np.random.default_rng(seed)
    prompt = torch.tensor(rng.standard_normal((N, K, D)), dtype=DT, requires_grad=True)
    if gate_kind == "sin":
        gv = [[0.3 * math.sin(1 + (first + i) * H + h) for h in range(H)] for i in range(N)]
    else:
        gv = [[0.0] * H for _ in range(N)]
    gate = torch.tensor(gv, dtype=DT, requires_grad=True)
    batch = make_batch(rng, cfg["vocab"], LENGTHS)

    loss, loss_sum, count, per = batch_loss(cfg, W, batch, prompt, gate, N)
    gp, gg = torch.autograd.grad(loss, [prompt, gate])
    print(f"  loss {float(loss.detach()):.15f}  label_count {count}  |grad_prompt|max {float(gp.abs().max()):.3e}  "
          f"|grad_gate|max {float(gg.abs().max()):.3e}")

    with torch.no_grad():
        logits0 = forward(cfg, W, batch[0]["input_ids"], prompt, gate, N)
        base0 = forward(cfg, W, batch[0]["input_ids"])
    out = {
        "variant": variant,
        "model": model_rel,
        "model_weights_sha256": wsha,
        "config": {k: cfg[k] for k in ["dim", "n_heads", "n_kv_heads", "head_dim", "ffn", "vocab",
                                       "n_layers", "rms_eps", "rope_theta", "tied"]},
        "n_layers": L,
        "adapter_layers": N,
        "adapter_len": K,
        "first_layer": first,
        "prompt": flat(prompt),
        "gate": flat(gate),
        "batch": batch,
        "loss": float(loss.detach()),
        "loss_sum": float(loss_sum.detach()),
        "label_count": count,
        "per_sequence": [{"loss_sum": float(s.detach()), "label_count": c} for s, c in per],
        "grad_prompt": flat(gp),
        "grad_gate": flat(gg),
        "logits_first": flat(logits0),
        "logits_first_shape": list(logits0.shape),
    }
    if gate_kind == "zero":
        assert torch.equal(logits0, base0), "zero gates must give the base model's logits exactly"
        assert float(gp.abs().max()) == 0.0, "zero gates: prompt gradient must be exactly 0"
        assert float(gg.abs().max()) > 0.0, "zero gates: gate gradient must not vanish"
        out["base_logits_first"] = flat(base0)
        print("  zero gates: logits == base logits exactly, grad_prompt == 0 exactly, grad_gate != 0")
    else:
        assert not torch.equal(logits0, base0), "a non-zero gate should change the logits"

    fd = finite_difference(cfg, W, batch, prompt, gate, N, gp, gg, np.random.default_rng(seed + 1))
    check_fd(fd, variant)
    out["finite_difference"] = fd
    if baseline_mod is not None:
        out["baseline_check"] = check_against_baseline(baseline_mod, cfg, W, batch, prompt, gate, N, loss, gp, gg)
    else:
        print("  (shared/bench/torch_baseline.py not found; baseline cross-check skipped)")
    out["notes"] = ("float64 torch autograd, written by scripts/reference/make_adapter_grad_fixtures.py; "
                    f"prompts ~ N(0,1) from numpy default_rng({seed}), then the batch from the same "
                    "generator; gate[i][h] = " + ("0.3*sin(1 + (first_layer+i)*H + h)" if gate_kind == "sin"
                                                  else "0") +
                    "; labels: first max(1, T//3) positions -100, labels[t] = input_ids[t] after")

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"grad_{variant}.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    size = os.path.getsize(path)
    assert size < 300_000, f"{path} is {size} bytes"
    print(f"  wrote {os.path.relpath(path, ROOT)} ({size} bytes)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "Tests", "Fixtures", "adapter"))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    default_baseline = os.path.join(ROOT, "shared", "bench", "torch_baseline.py")
    if not os.path.exists(default_baseline):
        default_baseline = os.path.join(os.path.dirname(ROOT), "shared", "bench", "torch_baseline.py")
    ap.add_argument("--baseline", default=default_baseline,
                    help="shared/bench/torch_baseline.py for the cross-check ('' to skip)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    mod = load_baseline(args.baseline)
    for v in args.variants.split(","):
        if v not in VARIANTS:
            sys.exit(f"unknown variant {v}; known: {', '.join(VARIANTS)}")
        build(v, mod, args.out_dir)


if __name__ == "__main__":
    main()
