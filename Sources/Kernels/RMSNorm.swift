/// RMSNorm: out = x · rstd · w with rstd = 1/√(mean(x²) + eps), one row of C features per token.
/// Legend: T tokens, C channels. Forward saves `rstd` (T) for the backward.
public enum RMSNorm {
    /// out: (T, C), rstd: (T) or nil, x: (T, C), w: (C).
    public static func forward(
        _ out: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>?,
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, rows t: Int, channels c: Int, eps: Float
    ) {
        Parallel.ranges(t, minimumPerThread: 16) { rows in
        for i in rows {
            let xi = x + i * c
            let oi = out + i * c
            var ss: Float = 0
            for j in 0..<c { ss += xi[j] * xi[j] }
            let r = 1 / (ss / Float(c) + eps).squareRoot()
            rstd?[i] = r
            for j in 0..<c { oi[j] = xi[j] * r * w[j] }
        }
        }
    }

    /// dx (+)= ∂L/∂x given dout, the saved rstd and the inputs; w is frozen (no dw).
    /// With n = x·rstd: dx = rstd · (g − n · mean(g · n)), g = dout · w.
    public static func backward(
        _ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, rows t: Int, channels c: Int, accumulate: Bool
    ) {
        Parallel.ranges(t, minimumPerThread: 16) { rows in
        for i in rows {
            let xi = x + i * c
            let di = dout + i * c
            let dxi = dx + i * c
            let r = rstd[i]
            var dot: Float = 0
            for j in 0..<c { dot += di[j] * w[j] * xi[j] * r }
            let m = dot / Float(c)
            for j in 0..<c {
                let v = r * (di[j] * w[j] - xi[j] * r * m)
                dxi[j] = accumulate ? dxi[j] + v : v
            }
        }
        }
    }
}
