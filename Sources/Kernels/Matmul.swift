import COpenBLAS

/// Dense products through OpenBLAS `cblas_sgemm`. Dimension legend: T rows (tokens), K input
/// features, N output features. Weights are stored as PyTorch `Linear` does: `W: (N, K)`.
public enum Matmul {
    /// y = x · Wᵀ (+ y when `accumulate`).  y: (T, N), x: (T, K), W: (N, K).
    @inline(__always)
    public static func linear(
        _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        rows t: Int, inFeatures k: Int, outFeatures n: Int, accumulate: Bool = false
    ) {
        guard t > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(n), Int32(k),
            1, x, Int32(k), w, Int32(k), accumulate ? 1 : 0, y, Int32(n))
    }

    /// dx = dy · W (+ dx when `accumulate`): the input gradient of `linear`; W gets no gradient.
    /// dx: (T, K), dy: (T, N), W: (N, K).
    @inline(__always)
    public static func linearBackwardInput(
        _ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        rows t: Int, inFeatures k: Int, outFeatures n: Int, accumulate: Bool = false
    ) {
        guard t > 0, k > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(t), Int32(k), Int32(n),
            1, dy, Int32(n), w, Int32(k), accumulate ? 1 : 0, dx, Int32(k))
    }

    /// General strided C = alpha·op(A)·op(B) + beta·C, row-major, for per-head attention products
    /// that read heads out of interleaved (T, H·hd) buffers via leading dimensions.
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Threads OpenBLAS uses for every following call (process-wide).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// The kernel family OpenBLAS picked at run time for this CPU (e.g. "Haswell", "Cooperlake").
    public static var coreName: String { String(cString: openblas_get_corename()) }
}

/// Naive reference twins, for tests only.
public enum MatmulReference {
    /// y = x · Wᵀ in Double accumulation.
    public static func linear(x: [Float], w: [Float], rows t: Int, inFeatures k: Int, outFeatures n: Int) -> [Float] {
        var y = [Float](repeating: 0, count: t * n)
        for i in 0..<t {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(x[i * k + p]) * Double(w[j * k + p]) }
                y[i * n + j] = Float(s)
            }
        }
        return y
    }
}
