import Foundation

/// Rotary position embedding. Two stored layouts rotate different pairs of a head's dims:
/// `interleaved` (GGUF / Meta): pairs (2j, 2j+1); `halfSplit` (Hugging Face): pairs (j, j + hd/2).
/// Pair j at position p turns by the angle p · θ^(−2j/hd).
public enum RoPELayout: String, Sendable, Codable {
    case interleaved
    case halfSplit
}

/// Cos/sin tables for positions [0, maxPositions), (P, hd/2) each.
public struct RoPETable: Sendable {
    public let headDim: Int
    public private(set) var positions: Int
    public let theta: Double
    public private(set) var cos: [Float]
    public private(set) var sin: [Float]

    public init(headDim: Int, theta: Double, positions: Int) {
        precondition(headDim % 2 == 0, "RoPE needs an even head dimension")
        self.headDim = headDim
        self.theta = theta
        self.positions = 0
        self.cos = []
        self.sin = []
        grow(to: positions)
    }

    /// Extends the tables to cover `n` positions (no-op when they already do).
    public mutating func grow(to n: Int) {
        guard n > positions else { return }
        let half = headDim / 2
        cos.reserveCapacity(n * half)
        sin.reserveCapacity(n * half)
        for p in positions..<n {
            for j in 0..<half {
                let angle = Double(p) * pow(theta, -2.0 * Double(j) / Double(headDim))
                cos.append(Float(Foundation.cos(angle)))
                sin.append(Float(Foundation.sin(angle)))
            }
        }
        positions = n
    }
}

public enum RoPE {
    /// Rotates, in place, `heads` heads of each of `t` rows of `x` (row stride `stride` floats),
    /// row i at position `positions[i]`. `inverse` turns by the negative angle (the backward).
    public static func apply(
        _ x: UnsafeMutablePointer<Float>, rows t: Int, stride: Int, heads: Int, headDim hd: Int,
        positions: UnsafePointer<Int32>, table: RoPETable, layout: RoPELayout, inverse: Bool = false
    ) {
        let half = hd / 2
        table.cos.withUnsafeBufferPointer { cosTab in
            table.sin.withUnsafeBufferPointer { sinTab in
                for i in 0..<t {
                    let p = Int(positions[i])
                    precondition(p < table.positions, "RoPE table too short")
                    let c = cosTab.baseAddress! + p * half
                    let s = sinTab.baseAddress! + p * half
                    let sign: Float = inverse ? -1 : 1
                    for h in 0..<heads {
                        let v = x + i * stride + h * hd
                        switch layout {
                        case .interleaved:
                            for j in 0..<half {
                                let a = v[2 * j], b = v[2 * j + 1]
                                let cj = c[j], sj = sign * s[j]
                                v[2 * j] = a * cj - b * sj
                                v[2 * j + 1] = a * sj + b * cj
                            }
                        case .halfSplit:
                            for j in 0..<half {
                                let a = v[j], b = v[j + half]
                                let cj = c[j], sj = sign * s[j]
                                v[j] = a * cj - b * sj
                                v[j + half] = a * sj + b * cj
                            }
                        }
                    }
                }
            }
        }
    }
}
