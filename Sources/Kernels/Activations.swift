import Foundation

/// SwiGLU: out = silu(gate) · up, silu(g) = g · σ(g). Legend: N elements (tokens × ffn).
public enum SwiGLU {
    /// out: (N), gate: (N), up: (N).
    public static func forward(
        _ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count n: Int
    ) {
        Parallel.ranges(n) { r in
            for i in r {
                let g = gate[i]
                out[i] = g / (1 + Foundation.exp(-g)) * up[i]
            }
        }
    }

    /// dgate, dup from dout: with σ = σ(g), silu' = σ·(1 + g·(1 − σ)).
    public static func backward(
        _ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
        _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count n: Int
    ) {
        Parallel.ranges(n) { r in
            for i in r {
                let g = gate[i]
                let sig = 1 / (1 + Foundation.exp(-g))
                let silu = g * sig
                dup[i] = dout[i] * silu
                dgate[i] = dout[i] * up[i] * sig * (1 + g * (1 - sig))
            }
        }
    }
}

/// Row softmax and log-sum-exp over contiguous rows.
public enum Softmax {
    /// In place over the first `valid` entries of a row; entries [valid, n) are set to 0.
    public static func rowInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int, valid: Int) {
        var m = -Float.infinity
        for j in 0..<valid where x[j] > m { m = x[j] }
        var sum: Float = 0
        for j in 0..<valid {
            let e = Foundation.exp(x[j] - m)
            x[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<valid { x[j] *= inv }
        for j in valid..<n { x[j] = 0 }
    }

    /// Cross-entropy over rows of logits (M, V), in place: losses[j] = logsumexp(row) − row[target],
    /// and the row becomes its gradient softmax(row) − onehot(target). Rows run in parallel.
    public static func crossEntropyRows(
        _ logits: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Double>, targets: [Int32], rows m: Int,
        vocab v: Int
    ) {
        targets.withUnsafeBufferPointer { tp in
            Parallel.ranges(m, minimumPerThread: 2) { rows in
                for j in rows {
                    let row = logits + j * v
                    let lse = logSumExp(row, count: v)
                    let target = Int(tp[j])
                    losses[j] = lse - Double(row[target])
                    let shift = Float(lse)
                    for k in 0..<v { row[k] = Foundation.exp(row[k] - shift) }
                    row[target] -= 1
                }
            }
        }
    }

    /// log Σ exp(x), accumulated in Double for a stable score over a large vocabulary.
    public static func logSumExp(_ x: UnsafePointer<Float>, count n: Int) -> Double {
        var m = -Float.infinity
        for j in 0..<n where x[j] > m { m = x[j] }
        var sum = 0.0
        for j in 0..<n { sum += Foundation.exp(Double(x[j] - m)) }
        return Double(m) + Foundation.log(sum)
    }
}
