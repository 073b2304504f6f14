import Foundation

/// Picks the next token from logits: greedy at temperature 0, else softmax(logits / T)
/// restricted to the smallest set whose mass reaches `topP`, drawn with a seeded generator.
public struct Sampler: Sendable {
    public var temperature: Float
    public var topP: Float
    private var rng: SplitMix64

    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topP = topP
        self.rng = SplitMix64(seed: seed)
    }

    public mutating func next(_ logits: ArraySlice<Float>) -> Int32 {
        let base = logits.startIndex
        if temperature <= 0 {
            var best = base
            for i in logits.indices where logits[i] > logits[best] { best = i }
            return Int32(best - base)
        }
        let m = logits.max() ?? 0
        var probs = logits.map { Double(Foundation.exp(($0 - m) / temperature)) }
        let total = probs.reduce(0, +)
        for i in probs.indices { probs[i] /= total }
        var order = Array(probs.indices)
        order.sort { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
        var kept = 0
        var mass = 0.0
        while kept < order.count {
            mass += probs[order[kept]]
            kept += 1
            if mass >= Double(topP) { break }
        }
        let u = rng.nextUnit() * mass
        var acc = 0.0
        for i in 0..<kept {
            acc += probs[order[i]]
            if u < acc { return Int32(order[i]) }
        }
        return Int32(order[kept - 1])
    }
}

/// A small, fast, seedable generator (Steele et al.'s SplitMix64): the same seed gives the same
/// stream on every machine, unlike the system generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
