import Foundation
import Kernels
import XCTest

/// Each fused kernel against a naive Double-precision twin written from the formula, and each
/// backward against central finite differences of its forward.
final class OpsTests: XCTestCase {
    var rng = SystemRandomNumberGenerator()

    func randoms(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    func assertClose(_ a: [Float], _ b: [Float], tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var worst: Float = 0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(1, abs(y))) }
        XCTAssertLessThanOrEqual(worst, tol, "\(what): worst relative difference \(worst)", file: file, line: line)
    }

    func testLinearMatchesNaiveProduct() {
        let (t, k, n) = (7, 13, 5)
        let x = randoms(t * k, seed: 1), w = randoms(n * k, seed: 2)
        var y = [Float](repeating: 0, count: t * n)
        Matmul.linear(&y, x, w, rows: t, inFeatures: k, outFeatures: n)
        assertClose(y, MatmulReference.linear(x: x, w: w, rows: t, inFeatures: k, outFeatures: n), tol: 1e-5, "linear")
        // dx = dy·W checked against the transpose product.
        let dy = randoms(t * n, seed: 3)
        var dx = [Float](repeating: 0, count: t * k)
        Matmul.linearBackwardInput(&dx, dy, w, rows: t, inFeatures: k, outFeatures: n)
        var wt = [Float](repeating: 0, count: k * n)
        for i in 0..<n { for j in 0..<k { wt[j * n + i] = w[i * k + j] } }
        assertClose(dx, MatmulReference.linear(x: dy, w: wt, rows: t, inFeatures: n, outFeatures: k), tol: 1e-5, "dX")
    }

    func testRMSNormForwardAndBackward() {
        let (t, c) = (3, 16)
        let x = randoms(t * c, seed: 4, scale: 2), w = randoms(c, seed: 5)
        var out = [Float](repeating: 0, count: t * c), rstd = [Float](repeating: 0, count: t)
        RMSNorm.forward(&out, &rstd, x, w, rows: t, channels: c, eps: 1e-5)
        var expected = [Float]()
        for i in 0..<t {
            let row = x[i * c..<(i + 1) * c].map(Double.init)
            let r = 1 / (row.map { $0 * $0 }.reduce(0, +) / Double(c) + 1e-5).squareRoot()
            expected += (0..<c).map { Float(row[$0] * r * Double(w[$0])) }
        }
        assertClose(out, expected, tol: 1e-5, "rmsnorm")

        // Loss = Σ dout ⊙ out; its gradient wrt x by central differences.
        let dout = randoms(t * c, seed: 6)
        var dx = [Float](repeating: 0, count: t * c)
        RMSNorm.backward(&dx, dout, rstd, x, w, rows: t, channels: c, accumulate: false)
        let fd = finiteDifference(x) { xp in
            var o = [Float](repeating: 0, count: t * c)
            RMSNorm.forward(&o, nil, xp, w, rows: t, channels: c, eps: 1e-5)
            return zip(o, dout).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        assertClose(dx, fd, tol: 2e-3, "rmsnorm backward")
    }

    func testSwiGLUForwardAndBackward() {
        let n = 40
        let g = randoms(n, seed: 7, scale: 3), u = randoms(n, seed: 8)
        var out = [Float](repeating: 0, count: n)
        SwiGLU.forward(&out, g, u, count: n)
        assertClose(out, (0..<n).map { Float(Double(g[$0]) / (1 + exp(-Double(g[$0]))) * Double(u[$0])) }, tol: 1e-6, "swiglu")
        let dout = randoms(n, seed: 9)
        var dg = [Float](repeating: 0, count: n), du = [Float](repeating: 0, count: n)
        SwiGLU.backward(&dg, &du, dout, g, u, count: n)
        let loss: ([Float], [Float]) -> Double = { gp, up in
            var o = [Float](repeating: 0, count: n)
            SwiGLU.forward(&o, gp, up, count: n)
            return zip(o, dout).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        assertClose(dg, finiteDifference(g) { loss($0, u) }, tol: 2e-3, "dgate")
        assertClose(du, finiteDifference(u) { loss(g, $0) }, tol: 2e-3, "dup")
    }

    /// Both layouts against the rotation written out per pair; the inverse undoes the forward.
    func testRoPELayoutsAndInverse() {
        let (t, heads, hd) = (5, 3, 8)
        let theta = 10_000.0
        let table = RoPETable(headDim: hd, theta: theta, positions: 16)
        let positions: [Int32] = [0, 1, 7, 3, 15]
        for layout in [RoPELayout.interleaved, .halfSplit] {
            let x = randoms(t * heads * hd, seed: 10)
            var y = x
            RoPE.apply(&y, rows: t, stride: heads * hd, heads: heads, headDim: hd, positions: positions, table: table, layout: layout)
            var expected = x
            for i in 0..<t {
                for h in 0..<heads {
                    for j in 0..<hd / 2 {
                        let angle = Double(positions[i]) * pow(theta, -2 * Double(j) / Double(hd))
                        let (a, b) = layout == .interleaved ? (2 * j, 2 * j + 1) : (j, j + hd / 2)
                        let base = i * heads * hd + h * hd
                        let xa = Double(x[base + a]), xb = Double(x[base + b])
                        expected[base + a] = Float(xa * cos(angle) - xb * sin(angle))
                        expected[base + b] = Float(xa * sin(angle) + xb * cos(angle))
                    }
                }
            }
            assertClose(y, expected, tol: 1e-5, "rope \(layout)")
            RoPE.apply(&y, rows: t, stride: heads * hd, heads: heads, headDim: hd, positions: positions, table: table, layout: layout, inverse: true)
            assertClose(y, x, tol: 1e-5, "rope inverse \(layout)")
        }
    }

    /// Causal GQA attention with a cached prefix against a naive loop over positions.
    func testCausalAttentionWithCacheOffset() {
        let (t, start, heads, kvHeads, hd) = (4, 3, 6, 2, 8)
        let s = start + t
        let q = randoms(t * heads * hd, seed: 11), k = randoms(s * kvHeads * hd, seed: 12), v = randoms(s * kvHeads * hd, seed: 13)
        var out = [Float](repeating: 0, count: t * heads * hd), probs = [Float](repeating: 0, count: t * s)
        Attention.causalForward(&out, probs: &probs, q, k, v, rows: t, start: start, heads: heads, kvHeads: kvHeads, headDim: hd)
        var expected = [Float](repeating: 0, count: t * heads * hd)
        for i in 0..<t {
            for h in 0..<heads {
                let g = h / (heads / kvHeads)
                let visible = start + i + 1
                var scores = (0..<visible).map { j in
                    (0..<hd).reduce(0.0) { $0 + Double(q[i * heads * hd + h * hd + $1]) * Double(k[j * kvHeads * hd + g * hd + $1]) } / Double(hd).squareRoot()
                }
                let m = scores.max()!
                scores = scores.map { exp($0 - m) }
                let z = scores.reduce(0, +)
                for d in 0..<hd {
                    expected[i * heads * hd + h * hd + d] = Float((0..<visible).reduce(0.0) { $0 + scores[$1] / z * Double(v[$1 * kvHeads * hd + g * hd + d]) })
                }
            }
        }
        assertClose(out, expected, tol: 1e-5, "attention")
    }

    func testLogSumExpIsStable() {
        let x: [Float] = [1000, 1000, 999]
        XCTAssertEqual(Softmax.logSumExp(x, count: 3), 1000 + log(2 + exp(-1.0)), accuracy: 1e-9)
    }

    /// Central differences of a scalar function of `x`, in Float steps scaled to each entry.
    func finiteDifference(_ x: [Float], _ f: ([Float]) -> Double) -> [Float] {
        (0..<x.count).map { i in
            let h: Float = 1e-2 * max(1, abs(x[i]))
            var p = x, m = x
            p[i] += h
            m[i] -= h
            return Float((f(p) - f(m)) / Double(p[i] - m[i]))
        }
    }
}
