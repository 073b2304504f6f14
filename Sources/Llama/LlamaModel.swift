import Foundation
import Kernels
import ModelFiles

/// A frozen LLaMA: RMSNorm → grouped-query attention with RoPE → residual → RMSNorm → SwiGLU MLP →
/// residual, repeated; final RMSNorm and LM head. Sequences of different lengths run packed
/// together (no padding): every row of the (T, D) activations is one token of one sequence.
///
/// Legend: T packed tokens, D model dim, H query heads, G kv heads, hd head dim, F ffn dim, V vocab.
public final class LlamaModel: @unchecked Sendable {
    public let config: LlamaConfig
    public let weights: LlamaWeights
    /// Where the model came from, and its fingerprint (SHA-256 of the file or folder).
    public let path: String
    public let fingerprint: String
    private var rope: RoPETable

    init(config: LlamaConfig, weights: LlamaWeights, path: String, fingerprint: String) {
        self.config = config
        self.weights = weights
        self.path = path
        self.fingerprint = fingerprint
        self.rope = RoPETable(headDim: config.headDim, theta: config.ropeTheta, positions: min(config.contextLength, 4096))
    }

    /// Which positions of each sequence need logits.
    public enum LogitRows: Sendable {
        case all
        case last
        case none
    }

    /// Runs `sequences` (each continuing its own cache, if given) through the model and returns, per
    /// sequence, logits for the requested rows: (rows, V) flattened.
    public func forward(_ sequences: [[Int32]], caches: [KVCache]? = nil, logits: LogitRows = .all) -> [[Float]] {
        let c = config
        let caches = caches ?? sequences.map { KVCache(config: c, capacity: max($0.count, 1)) }
        precondition(caches.count == sequences.count, "one cache per sequence")
        let lengths = sequences.map(\.count)
        let starts = caches.map(\.length)
        let t = lengths.reduce(0, +)
        for (i, len) in lengths.enumerated() {
            precondition(starts[i] + len <= caches[i].capacity, "sequence \(i) does not fit its KV cache")
        }
        rope.grow(to: zip(starts, lengths).map { $0 + $1 }.max() ?? 0)
        var positions = [Int32]()
        positions.reserveCapacity(t)
        for (s, len) in zip(starts, lengths) { positions += (0..<len).map { Int32(s + $0) } }

        // h: (T, D) residual stream, starting from the token embeddings.
        var h = [Float](repeating: 0, count: t * c.dim)
        h.withUnsafeMutableBufferPointer { hp in
            var row = 0
            for seq in sequences {
                for tok in seq {
                    precondition(tok >= 0 && Int(tok) < c.vocabSize, "token id \(tok) out of range")
                    weights.tokenEmbedding.dequantizeRow(Int(tok), into: hp.baseAddress! + row * c.dim)
                    row += 1
                }
            }
        }
        var scratch = BlockScratch(config: c, tokens: t, maxKeys: zip(starts, lengths).map { $0 + $1 }.max() ?? 1)
        for l in 0..<c.layers {
            block(l, &h, &scratch, positions: positions, lengths: lengths, caches: caches)
        }
        for (i, len) in lengths.enumerated() { caches[i].advance(by: len) }
        return head(h, lengths: lengths, rows: logits)
    }

    /// One transformer block, in place on h.
    private func block(
        _ l: Int, _ h: inout [Float], _ s: inout BlockScratch, positions: [Int32], lengths: [Int], caches: [KVCache]
    ) {
        let c = config
        let t = positions.count
        let w = weights.denseLayer(l)
        let stored = weights.layers[l]
        // Attention: x = RMSNorm(h); q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ; RoPE on q, k.
        RMSNorm.forward(&s.x, nil, h, stored.attnNorm, rows: t, channels: c.dim, eps: c.normEps)
        Matmul.linear(&s.q, s.x, w.wq, rows: t, inFeatures: c.dim, outFeatures: c.qDim)
        Matmul.linear(&s.k, s.x, w.wk, rows: t, inFeatures: c.dim, outFeatures: c.kvDim)
        Matmul.linear(&s.v, s.x, w.wv, rows: t, inFeatures: c.dim, outFeatures: c.kvDim)
        RoPE.apply(&s.q, rows: t, stride: c.qDim, heads: c.heads, headDim: c.headDim, positions: positions,
            table: rope, layout: c.ropeLayout)
        RoPE.apply(&s.k, rows: t, stride: c.kvDim, heads: c.kvHeads, headDim: c.headDim, positions: positions,
            table: rope, layout: c.ropeLayout)
        // Per sequence: append k, v to its cache, attend causally over the cache.
        var row = 0
        for (i, len) in lengths.enumerated() {
            let cache = caches[i]
            let start = cache.length
            s.k.withUnsafeBufferPointer { kp in
                s.v.withUnsafeBufferPointer { vp in
                    cache.keys[l].withUnsafeMutableBufferPointer { ck in
                        cache.values[l].withUnsafeMutableBufferPointer { cv in
                            (ck.baseAddress! + start * c.kvDim).update(from: kp.baseAddress! + row * c.kvDim, count: len * c.kvDim)
                            (cv.baseAddress! + start * c.kvDim).update(from: vp.baseAddress! + row * c.kvDim, count: len * c.kvDim)
                        }
                    }
                }
            }
            s.q.withUnsafeBufferPointer { qp in
                s.attn.withUnsafeMutableBufferPointer { ap in
                    s.probs.withUnsafeMutableBufferPointer { pp in
                        Attention.causalForward(
                            ap.baseAddress! + row * c.qDim, probs: pp.baseAddress!, qp.baseAddress! + row * c.qDim,
                            cache.keys[l], cache.values[l], rows: len, start: start, heads: c.heads,
                            kvHeads: c.kvHeads, headDim: c.headDim)
                    }
                }
            }
            row += len
        }
        // h += attn · Woᵀ
        Matmul.linear(&h, s.attn, w.wo, rows: t, inFeatures: c.qDim, outFeatures: c.dim, accumulate: true)
        // MLP: x = RMSNorm(h); h += (silu(x·Wgᵀ) ⊙ x·Wuᵀ) · Wdᵀ
        RMSNorm.forward(&s.x, nil, h, stored.ffnNorm, rows: t, channels: c.dim, eps: c.normEps)
        Matmul.linear(&s.gate, s.x, w.wGate, rows: t, inFeatures: c.dim, outFeatures: c.ffnDim)
        Matmul.linear(&s.up, s.x, w.wUp, rows: t, inFeatures: c.dim, outFeatures: c.ffnDim)
        SwiGLU.forward(&s.act, s.gate, s.up, count: t * c.ffnDim)
        Matmul.linear(&h, s.act, w.wDown, rows: t, inFeatures: c.ffnDim, outFeatures: c.dim, accumulate: true)
    }

    /// Final RMSNorm and LM head, only on the rows asked for.
    private func head(_ h: [Float], lengths: [Int], rows: LogitRows) -> [[Float]] {
        let c = config
        if case .none = rows { return lengths.map { _ in [] } }
        var out: [[Float]] = []
        var first = 0
        for len in lengths {
            let (lo, n) = rows == .last ? (first + max(len - 1, 0), min(len, 1)) : (first, len)
            var x = [Float](repeating: 0, count: n * c.dim)
            h.withUnsafeBufferPointer { hp in
                RMSNorm.forward(&x, nil, hp.baseAddress! + lo * c.dim, weights.outputNorm, rows: n, channels: c.dim,
                    eps: c.normEps)
            }
            var logits = [Float](repeating: 0, count: n * c.vocabSize)
            Matmul.linear(&logits, x, weights.output, rows: n, inFeatures: c.dim, outFeatures: c.vocabSize)
            out.append(logits)
            first += len
        }
        return out
    }
}

/// Reused activation buffers of one forward.
struct BlockScratch {
    var x, q, k, v, attn, probs, gate, up, act: [Float]

    init(config c: LlamaConfig, tokens t: Int, maxKeys: Int) {
        x = [Float](repeating: 0, count: t * c.dim)
        q = [Float](repeating: 0, count: t * c.qDim)
        k = [Float](repeating: 0, count: t * c.kvDim)
        v = [Float](repeating: 0, count: t * c.kvDim)
        attn = [Float](repeating: 0, count: t * c.qDim)
        probs = [Float](repeating: 0, count: t * maxKeys)
        gate = [Float](repeating: 0, count: t * c.ffnDim)
        up = [Float](repeating: 0, count: t * c.ffnDim)
        act = [Float](repeating: 0, count: t * c.ffnDim)
    }
}
