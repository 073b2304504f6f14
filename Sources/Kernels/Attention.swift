/// Causal grouped-query attention for one sequence, per head through strided sgemm.
/// Legend: T new query rows, S = start + T key rows (cached + new), H query heads, G KV heads,
/// hd head dim. Query head h reads KV head h / (H / G).
public enum Attention {
    /// out: (T, H·hd), probs scratch: (T, S) per head (reused), q: (T, H·hd) already roped,
    /// k, v: (S, G·hd). Query row i sits at position `start + i` and sees keys [0, start + i].
    public static func causalForward(
        _ out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
        _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
        rows t: Int, start: Int, heads: Int, kvHeads: Int, headDim hd: Int
    ) {
        let s = start + t
        let group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        for h in 0..<heads {
            let g = h / group
            // probs = scale · q_h · k_gᵀ   (T, S)
            Matmul.gemm(
                transA: false, transB: true, m: t, n: s, k: hd, alpha: scale,
                q + h * hd, lda: heads * hd, k + g * hd, ldb: kvHeads * hd, beta: 0, probs, ldc: s)
            for i in 0..<t { Softmax.rowInPlace(probs + i * s, count: s, valid: start + i + 1) }
            // out_h = probs · v_g   (T, hd)
            Matmul.gemm(
                transA: false, transB: false, m: t, n: hd, k: s, alpha: 1,
                probs, lda: s, v + g * hd, ldb: kvHeads * hd, beta: 0, out + h * hd, ldc: heads * hd)
        }
    }
}
