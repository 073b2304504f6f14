#!/usr/bin/env python3
"""Golden tokenizer fixtures from llama.cpp (through llama-cpp-python), for Tests/TokenizersTests.

Writes, under Tests/Fixtures/tokenizer/:
  smollm2.json      llama.cpp's tokenization of a varied corpus with SmolLM2-135M-Instruct (byte-level BPE,
                    pre-tokenizer "smollm"), detokenization, per-token pieces, attributes and the EOG set.
  tiny-spm.gguf     a small hand-made SentencePiece-style ("llama") vocabulary with byte-fallback tokens, in a
                    GGUF with a minimal llama header so llama.cpp loads it with vocab_only=True.
  tiny-spm.json     llama.cpp's tokenization of a corpus with tiny-spm.gguf.
  tiny-bpe.gguf     SmolLM2's specials, byte alphabet and first 2000 merges (a small byte-level vocabulary).
  tiny-bpe-<pre>.json  llama.cpp's tokenization of the corpus with tiny-bpe.gguf re-labelled with the
                    pre-tokenizer <pre> (default, gpt-2, llama-bpe, qwen2): the other splitters, checked.

Run from the repository root:
  .venv-llamacpp/bin/python scripts/reference/make_tokenizer_fixtures.py [--model PATH]
(the venv needs llama-cpp-python and gguf). The SmolLM2 model is models/SmolLM2-135M-Instruct.Q4_1.gguf.
"""

import argparse
import ctypes
import json
import pathlib
import random
import sys

import gguf
import llama_cpp
from llama_cpp import Llama

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "tokenizer"

# ---------------------------------------------------------------------------------------------------------------
# corpus

CORPUS = [
    "",
    " ",
    "  ",
    "\n",
    "\n\n\n",
    "\t",
    "Hello world",
    "Hello, world! How are you today?",
    " leading space",
    "trailing space ",
    "multiple   spaces   between   words",
    "The quick brown fox jumps over the lazy dog.",
    "It's a dog's life; they'll say we're fine, I'd think you've done it, I'm sure.",
    "IT'S LOUD AND THEY'LL KNOW 'S 'T",
    "don't won't can't shouldn't",
    "Numbers: 1234567 and 3.14159 and -42 and 1,000,000 and 007",
    "2024-11-23T22:05:00Z",
    "x = 10**9 + 7",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
    "    indented with four spaces\n\ttab indented\n\t\ttwo tabs",
    "line one\nline two\r\nline three\rline four",
    "para one\n\n\npara two\n \n  \nend",
    "trailing newlines\n\n",
    "spaces before newline   \nnext",
    "    ",
    "Café déjà vu, naïve coöperation, Ångström, façade.",
    "e\u0301 versus \u00e9 (combining acute versus precomposed)",
    "Straße, Ärger, Öl, Übermut",
    "中文测试：你好，世界！这是一个句子。",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 문장입니다.",
    "مرحبا بالعالم، هذا نص عربي.",
    "Привет, мир! Это русский текст.",
    "Γειά σου Κόσμε",
    "हिन्दी में एक वाक्य।",
    "emoji 😀 😂 👍 🎉",
    "family 👨‍👩‍👧‍👦 and 👩🏽‍💻 ZWJ sequences",
    "flags 🇫🇷 🇯🇵 🇺🇸",
    "math ∑ ∫ √ ∞ ≠ ≤ ≥ → ← ½ ² ³",
    "full-width ＡＢＣ１２３",
    "Roman Ⅻ and superscript x² and fraction ¾",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "text before<|im_end|>text after",
    "<|endoftext|>",
    "<|im_start|><|im_end|>",
    "not special: <|im_start and im_end|> <| |>",
    "<repo_name>x<file_sep>y<gh_stars>",
    "mixed\u00a0nbsp\u2003em-space\u3000ideographic",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "control \u0001\u0002\u007f chars",
    "URL https://example.com/path?q=1&r=2#frag",
    "email someone@example.org",
    "JSON {\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "Markdown **bold** _italic_ `code` # heading",
    "----- ===== ***** ..... !!!!!",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "$100.00 + €50 = £? ¥",
    "He said \"hello\" and 'goodbye'.",
    "What?! No... Yes, maybe . , ? !",
    "CamelCaseIdentifier snake_case_identifier kebab-case",
    "ünïcödé ÀÉÎÕÜ",
    "Tabs\tin\tthe\tmiddle",
    "\u00bfQu\u00e9 tal? \u00a1Bien!",
]

# strings also tokenized with special=False (control-token texts tokenized as text)
NO_SPECIAL = [
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "text before<|im_end|>text after",
    "<|endoftext|>",
    "<repo_name>x<file_sep>y<gh_stars>",
    "Hello world",
]


def long_text(seed: int) -> str:
    rnd = random.Random(seed)
    parts = CORPUS[:]
    rnd.shuffle(parts)
    return " ".join(parts * 3)


# ---------------------------------------------------------------------------------------------------------------
# llama.cpp helpers


def vocab_of(llm: Llama):
    return llm._model.vocab


def piece(llm: Llama, token: int, special: bool) -> bytes:
    buf = (ctypes.c_char * 256)()
    n = llama_cpp.llama_token_to_piece(vocab_of(llm), token, buf, 256, 0, special)
    assert n >= 0
    return bytes(buf[:n])


def detokenize(llm: Llama, ids, remove_special: bool, unparse_special: bool) -> bytes:
    arr = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
    size = 64 + 64 * len(ids)
    buf = (ctypes.c_char * size)()
    n = llama_cpp.llama_detokenize(vocab_of(llm), arr, len(ids), buf, size, remove_special, unparse_special)
    assert n >= 0, n
    return bytes(buf[:n])


def dump(data: dict, path: pathlib.Path) -> None:
    """Compact JSON with one top-level key, and one case, per line."""
    one = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    lines = []
    for k, v in data.items():
        if k == "cases":
            body = ",\n".join("  " + one(c) for c in v)
            lines.append(f'"cases":[\n{body}\n]')
        else:
            lines.append(f"{one(k)}:{one(v)}")
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def hexs(b: bytes) -> str:
    return b.hex()


def case(llm: Llama, text: str, add_special: bool, special: bool) -> dict:
    ids = llm.tokenize(text.encode("utf-8"), add_bos=add_special, special=special)
    return {
        "text": text,
        "add_special": add_special,
        "parse_special": special,
        "ids": ids,
        # llama_detokenize(remove_special=false, unparse_special=true) and (true, false), as hex bytes
        "detok_hex": hexs(detokenize(llm, ids, False, True)),
        "detok_skip_hex": hexs(detokenize(llm, ids, True, False)),
    }


def describe(llm: Llama, corpus, no_special, with_pieces=True) -> dict:
    vocab = vocab_of(llm)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    cases = []
    for text in corpus:
        cases.append(case(llm, text, add_special=False, special=True))
    for text in corpus[:12]:
        cases.append(case(llm, text, add_special=True, special=True))
    for text in no_special:
        cases.append(case(llm, text, add_special=False, special=False))
        cases.append(case(llm, text, add_special=True, special=False))
    cases.append(case(llm, long_text(1), add_special=False, special=True))

    used = sorted({i for c in cases for i in c["ids"]} | set(range(min(n_vocab, 300)))) if with_pieces else []
    return {
        "generator": "scripts/reference/make_tokenizer_fixtures.py",
        "llama_cpp_python": llama_cpp.__version__,
        "n_vocab": n_vocab,
        "bos": llama_cpp.llama_vocab_bos(vocab),
        "eos": llama_cpp.llama_vocab_eos(vocab),
        "eot": llama_cpp.llama_vocab_eot(vocab),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab)),
        "eog": [i for i in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, i)],
        # token_to_piece(special=true) for the ids the cases use and the first 300
        "pieces_hex": {str(i): hexs(piece(llm, i, True)) for i in used},
        "attrs": {str(i): int(llama_cpp.llama_vocab_get_attr(vocab, i)) for i in used},
        "cases": cases,
    }


# ---------------------------------------------------------------------------------------------------------------
# tiny SentencePiece vocabulary

SPM_PIECES = [
    # (piece, score): higher scores merge first, as in LLaMA vocabularies; a few ties on purpose
    ("▁", -1.0), ("▁t", -2.0), ("he", -3.0), ("▁the", -4.0), ("▁a", -5.0), ("in", -6.0), ("er", -7.0),
    ("▁w", -8.0), ("or", -9.0), ("ld", -9.0), ("▁wor", -10.0), ("▁world", -11.0), ("ll", -12.0),
    ("▁h", -13.0), ("▁he", -14.0), ("llo", -15.0), ("▁hello", -16.0), ("▁H", -17.0), ("ello", -18.0),
    ("▁Hello", -19.0), ("ing", -20.0), ("▁in", -21.0), ("▁s", -22.0), ("▁c", -23.0), ("at", -24.0),
    ("▁cat", -25.0), ("▁is", -26.0), ("is", -26.0), ("an", -27.0), ("▁an", -28.0), ("▁and", -29.0),
    ("nd", -29.0), ("ca", -30.0), ("fé", -31.0), ("▁ca", -32.0), ("▁café", -33.0), ("é", -34.0),
    ("▁▁", -35.0), ("▁▁▁▁", -36.0), ("..", -37.0), ("...", -38.0), ("12", -39.0), ("123", -40.0),
    ("aa", -41.0), ("aaaa", -42.0), ("▁T", -43.0), ("Th", -44.0), ("▁The", -45.0), ("ick", -46.0),
    ("▁qu", -47.0), ("▁quick", -48.0), ("ow", -49.0), ("▁br", -50.0), ("▁brown", -51.0), ("е", -52.0),
    ("ми", -53.0), ("▁ми", -54.0), ("р", -55.0), ("▁мир", -56.0), ("中", -57.0), ("文", -58.0),
    ("中文", -59.0), ("<s>x", -60.0), ("s>", -61.0),
]
SPM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-:;()"

SPM_CORPUS = [
    "",
    " ",
    "Hello world",
    "hello world and the cat",
    " leading space",
    "The quick brown fox",
    "  two  spaces   three    four",
    "line one\nline two\n\ntabs\there",
    "café déjà vu",
    "мир Мир",
    "中文 and 日本語 (byte fallback)",
    "emoji 😀 and 👨‍👩‍👧 fallback",
    "aaaaaaaaa",
    "12345 123 1.5...",
    "<s>inside text</s> and <unk>",
    "<s>x",
    "<|user|>hi<|user|>",
    "</s>",
    "e\u0301 é",
    "\u0001\u007f",
]
SPM_NO_SPECIAL = ["<s>inside text</s> and <unk>", "<|user|>hi<|user|>", "</s>"]


def make_tiny_spm(path: pathlib.Path) -> None:
    tokens = ["<unk>", "<s>", "</s>"]
    scores = [0.0, 0.0, 0.0]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(gguf.TokenType.BYTE)
    for text, score in SPM_PIECES:
        tokens.append(text)
        scores.append(score)
        types.append(gguf.TokenType.NORMAL)
    for i, ch in enumerate(SPM_LETTERS):
        if ch not in tokens:
            tokens.append(ch)
            scores.append(-100.0 - i)
            types.append(gguf.TokenType.NORMAL)
    tokens.append("<|user|>")
    scores.append(0.0)
    types.append(gguf.TokenType.USER_DEFINED)
    assert len(set(tokens)) == len(tokens)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-spm")
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_feed_forward_length(16)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(8)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---------------------------------------------------------------------------------------------------------------
# tiny byte-level BPE vocabulary (a prefix of SmolLM2's), relabelled with other pre-tokenizers

TINY_BPE_MERGES = 2000
TINY_BPE_PRES = ["default", "gpt-2", "llama-bpe", "qwen2"]


def make_tiny_bpe(model: pathlib.Path, path: pathlib.Path, pre: str) -> None:
    r = gguf.GGUFReader(str(model))
    tokens = r.fields["tokenizer.ggml.tokens"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    merges = r.fields["tokenizer.ggml.merges"].contents()[:TINY_BPE_MERGES]
    keep = [t for t, ty in zip(tokens, types) if ty != 1]  # control tokens
    alphabet = [t for t in tokens if len(t) == 1]
    keep += [t for t in alphabet if t not in keep]
    for m in merges:
        a, b = m.split(" ", 1)
        if a + b not in keep:
            keep.append(a + b)
    ttypes = [gguf.TokenType.CONTROL if t in tokens[:17] else gguf.TokenType.NORMAL for t in keep]
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-bpe")
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_feed_forward_length(16)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(8)
    w.add_vocab_size(len(keep))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(keep)
    w.add_token_types(ttypes)
    w.add_token_merges(merges)
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---------------------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    llm = Llama(model_path=args.model, vocab_only=True, verbose=False)
    data = describe(llm, CORPUS, NO_SPECIAL)
    data["model"] = pathlib.Path(args.model).name
    dump(data, OUT / "smollm2.json")
    print(f"smollm2.json: {len(data['cases'])} cases")

    spm_path = OUT / "tiny-spm.gguf"
    make_tiny_spm(spm_path)
    spm = Llama(model_path=str(spm_path), vocab_only=True, verbose=False)
    sdata = describe(spm, SPM_CORPUS, SPM_NO_SPECIAL)
    sdata["model"] = spm_path.name
    dump(sdata, OUT / "tiny-spm.json")
    print(f"tiny-spm.gguf: {spm_path.stat().st_size} bytes; tiny-spm.json: {len(sdata['cases'])} cases")

    import tempfile

    for pre in TINY_BPE_PRES:
        with tempfile.TemporaryDirectory() as tmp:
            path = pathlib.Path(tmp) / "tiny-bpe.gguf"
            make_tiny_bpe(pathlib.Path(args.model), path, pre)
            bpe = Llama(model_path=str(path), vocab_only=True, verbose=False)
            bdata = describe(bpe, CORPUS, NO_SPECIAL, with_pieces=(pre == "default"))
            bdata["model"] = "tiny-bpe.gguf"
            bdata["pre"] = pre
            dump(bdata, OUT / f"tiny-bpe-{pre}.json")
            if pre == "default":
                make_tiny_bpe(pathlib.Path(args.model), OUT / "tiny-bpe.gguf", "default")
            print(f"tiny-bpe-{pre}.json: {len(bdata['cases'])} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
