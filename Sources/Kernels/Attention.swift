/// Causal grouped-query attention for one sequence, and the LLaMA-Adapter prompt branch, each
/// with its backward beside it. Per-head products go through strided sgemm.
///
/// Legend: T query rows, S = start + T key rows (cached + new), H query heads, G kv heads,
/// hd head dim, K adapter prompt slots. Query head h reads kv head h / (H / G).
/// Buffers are row-major: q (T, H·hd), k and v (S, G·hd), probs (H, T, S).
public enum Attention {
    /// out: (T, H·hd) = softmax(q·kᵀ/√hd + causal mask)·v, per head.
    /// probs: (H, T, S), kept for the backward (or scratch of (1, T, S) when `saveProbs` is false).
    /// Query row i sits at position `start + i` and sees keys [0, start + i].
    public static func causalForward(
        _ out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        rows t: Int, start: Int, heads: Int, kvHeads: Int, headDim hd: Int, saveProbs: Bool = false
    ) {
        let s = start + t
        let group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        for h in 0..<heads {
            let g = h / group
            let p = saveProbs ? probs + h * t * s : probs
            // p = scale · q_h · k_gᵀ   (T, S)
            Matmul.gemm(
                transA: false, transB: true, m: t, n: s, k: hd, alpha: scale,
                q + h * hd, lda: heads * hd, k + g * hd, ldb: kvHeads * hd, beta: 0, p, ldc: s)
            for i in 0..<t { Softmax.rowInPlace(p + i * s, count: s, valid: start + i + 1) }
            // out_h = p · v_g   (T, hd)
            Matmul.gemm(
                transA: false, transB: false, m: t, n: hd, k: s, alpha: 1,
                p, lda: s, v + g * hd, ldb: kvHeads * hd, beta: 0, out + h * hd, ldc: heads * hd)
        }
    }

    /// Backward of `causalForward` with start 0 (training sequences), from the saved probs.
    /// dq: (T, H·hd), dk, dv: (T, G·hd) are accumulated into (+=); dOut: (T, H·hd);
    /// scratch: (T, T).  With P = softmax(S): dS = P ⊙ (dP − rowsum(dP ⊙ P)).
    public static func causalBackward(
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, probs: UnsafePointer<Float>,
        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        rows t: Int, heads: Int, kvHeads: Int, headDim hd: Int
    ) {
        let group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        for h in 0..<heads {
            let g = h / group
            let p = probs + h * t * t
            // dv_g += pᵀ · dOut_h   (T, hd)
            Matmul.gemm(
                transA: true, transB: false, m: t, n: hd, k: t, alpha: 1,
                p, lda: t, dOut + h * hd, ldb: heads * hd, beta: 1, dv + g * hd, ldc: kvHeads * hd)
            // dP = dOut_h · v_gᵀ   (T, T)
            Matmul.gemm(
                transA: false, transB: true, m: t, n: t, k: hd, alpha: 1,
                dOut + h * hd, lda: heads * hd, v + g * hd, ldb: kvHeads * hd, beta: 0, scratch, ldc: t)
            softmaxBackwardRows(scratch, probs: p, rows: t, cols: t)
            // dq_h += scale · dS · k_g ;  dk_g += scale · dSᵀ · q_h
            Matmul.gemm(
                transA: false, transB: false, m: t, n: hd, k: t, alpha: scale,
                scratch, lda: t, k + g * hd, ldb: kvHeads * hd, beta: 1, dq + h * hd, ldc: heads * hd)
            Matmul.gemm(
                transA: true, transB: false, m: t, n: hd, k: t, alpha: scale,
                scratch, lda: t, q + h * hd, ldb: heads * hd, beta: 1, dk + g * hd, ldc: kvHeads * hd)
        }
    }

    /// `causalBackward` over packed sequences of `lengths` rows each (every one starting at
    /// position 0); probs holds each sequence's (H, len, len) block in order. scratch: (L_max, L_max).
    public static func causalBackwardPacked(
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, probs: UnsafePointer<Float>,
        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        lengths: [Int], heads: Int, kvHeads: Int, headDim hd: Int
    ) {
        let (qw, kw) = (heads * hd, kvHeads * hd)
        var row = 0
        var p = 0
        for len in lengths {
            causalBackward(
                dq: dq + row * qw, dk: dk + row * kw, dv: dv + row * kw, scratch: scratch, dOut: dOut + row * qw,
                probs: probs + p, q + row * qw, k + row * kw, v + row * kw, rows: len, heads: heads, kvHeads: kvHeads,
                headDim: hd)
            row += len
            p += heads * len * len
        }
    }

    /// The adapter branch (DESIGN §1), added into `out`:
    ///   out_h += tanh(gate_h) · softmax(q_h · ak_gᵀ / √hd) · av_g
    /// over the K prompt slots, without mask or RoPE. ak, av: (K, G·hd); gateTanh: (H).
    /// probs: (T, H, K) and branch: (T, H·hd) = the ungated branch output, both saved for the
    /// backward (branch may be scratch when not training).
    public static func adapterForward(
        _ out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, branch: UnsafeMutablePointer<Float>,
        _ q: UnsafePointer<Float>, ak: UnsafePointer<Float>, av: UnsafePointer<Float>, gateTanh: UnsafePointer<Float>,
        rows t: Int, heads: Int, kvHeads: Int, headDim hd: Int, slots kk: Int
    ) {
        let group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        for h in 0..<heads {
            let g = h / group
            // probs[:, h, :] = scale · q_h · ak_gᵀ   (T, K) with row stride H·K
            Matmul.gemm(
                transA: false, transB: true, m: t, n: kk, k: hd, alpha: scale,
                q + h * hd, lda: heads * hd, ak + g * hd, ldb: kvHeads * hd, beta: 0, probs + h * kk, ldc: heads * kk)
            for i in 0..<t { Softmax.rowInPlace(probs + i * heads * kk + h * kk, count: kk, valid: kk) }
            // branch_h = probs_h · av_g   (T, hd)
            Matmul.gemm(
                transA: false, transB: false, m: t, n: hd, k: kk, alpha: 1,
                probs + h * kk, lda: heads * kk, av + g * hd, ldb: kvHeads * hd, beta: 0, branch + h * hd,
                ldc: heads * hd)
            let tg = gateTanh[h]
            for i in 0..<t {
                let o = out + i * heads * hd + h * hd
                let b = branch + i * heads * hd + h * hd
                for d in 0..<hd { o[d] += tg * b[d] }
            }
        }
    }

    /// Backward of `adapterForward`. Accumulates (+=) into dq: (T, H·hd), dak, dav: (K, G·hd) and
    /// dgate: (H) — the gradient wrt the raw gate, through tanh' = 1 − tanh². `needQ` false skips
    /// dq (the lowest adapter layer needs no input gradient). scratch: (T, H·K).
    public static func adapterBackward(
        dq: UnsafeMutablePointer<Float>?, dak: UnsafeMutablePointer<Float>, dav: UnsafeMutablePointer<Float>,
        dgate: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        dOut: UnsafePointer<Float>, probs: UnsafePointer<Float>, branch: UnsafePointer<Float>,
        _ q: UnsafePointer<Float>, ak: UnsafePointer<Float>, av: UnsafePointer<Float>, gateTanh: UnsafePointer<Float>,
        rows t: Int, heads: Int, kvHeads: Int, headDim hd: Int, slots kk: Int
    ) {
        let group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        for h in 0..<heads {
            let g = h / group
            let tg = gateTanh[h]
            // dgate_h = (1 − tanh²) · Σ dOut_h ⊙ branch_h
            var dot: Float = 0
            for i in 0..<t {
                let o = dOut + i * heads * hd + h * hd
                let b = branch + i * heads * hd + h * hd
                for d in 0..<hd { dot += o[d] * b[d] }
            }
            dgate[h] += (1 - tg * tg) * dot
            // dBranch = tg · dOut_h. dav_g += tg · probs_hᵀ · dOut_h   (K, hd)
            Matmul.gemm(
                transA: true, transB: false, m: kk, n: hd, k: t, alpha: tg,
                probs + h * kk, lda: heads * kk, dOut + h * hd, ldb: heads * hd, beta: 1, dav + g * hd,
                ldc: kvHeads * hd)
            // dP = tg · dOut_h · av_gᵀ   (T, K)
            let dp = scratch + h * kk
            Matmul.gemm(
                transA: false, transB: true, m: t, n: kk, k: hd, alpha: tg,
                dOut + h * hd, lda: heads * hd, av + g * hd, ldb: kvHeads * hd, beta: 0, dp, ldc: heads * kk)
            for i in 0..<t {
                softmaxBackwardRows(dp + i * heads * kk, probs: probs + i * heads * kk + h * kk, rows: 1, cols: kk)
            }
            // dak_g += scale · dSᵀ · q_h  (K, hd);  dq_h += scale · dS · ak_g  (T, hd)
            Matmul.gemm(
                transA: true, transB: false, m: kk, n: hd, k: t, alpha: scale,
                dp, lda: heads * kk, q + h * hd, ldb: heads * hd, beta: 1, dak + g * hd, ldc: kvHeads * hd)
            if let dq {
                Matmul.gemm(
                    transA: false, transB: false, m: t, n: hd, k: kk, alpha: scale,
                    dp, lda: heads * kk, ak + g * hd, ldb: kvHeads * hd, beta: 1, dq + h * hd, ldc: heads * hd)
            }
        }
    }

    /// In place on dP (rows × cols, contiguous rows): dS = P ⊙ (dP − Σ_j dP_j P_j), per row.
    @inline(__always)
    static func softmaxBackwardRows(_ dp: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, rows: Int, cols: Int) {
        for i in 0..<rows {
            let d = dp + i * cols
            let p = probs + i * cols
            var dot: Float = 0
            for j in 0..<cols { dot += d[j] * p[j] }
            for j in 0..<cols { d[j] = p[j] * (d[j] - dot) }
        }
    }
}
