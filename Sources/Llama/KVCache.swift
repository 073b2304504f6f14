import Kernels

/// Keys (after RoPE) and values of the positions a sequence has seen, per block, so generation
/// runs each new token through the model once. Legend: P capacity, G·hd kv width.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public private(set) var length: Int = 0
    let kvDim: Int
    var keys: [[Float]]  // per block: (P, G·hd)
    var values: [[Float]]  // per block: (P, G·hd)

    public init(config: LlamaConfig, capacity: Int) {
        self.capacity = capacity
        self.kvDim = config.kvDim
        keys = Array(repeating: [Float](repeating: 0, count: capacity * config.kvDim), count: config.layers)
        values = keys
    }

    /// Marks `n` more positions filled (after every block wrote them).
    func advance(by n: Int) {
        precondition(length + n <= capacity, "KV cache overflow: \(length) + \(n) > \(capacity)")
        length += n
    }

    /// Copies `count` rows of this block's new keys and values (T, G·hd) after the filled part.
    func append(layer l: Int, keys k: [Float], values v: [Float], fromRow row: Int, count: Int) {
        precondition(length + count <= capacity, "KV cache overflow: \(length) + \(count) > \(capacity)")
        let (at, n, w) = (length * kvDim, count * kvDim, kvDim)
        k.withUnsafeBufferPointer { src in
            keys[l].withUnsafeMutableBufferPointer { dst in (dst.baseAddress! + at).update(from: src.baseAddress! + row * w, count: n) }
        }
        v.withUnsafeBufferPointer { src in
            values[l].withUnsafeMutableBufferPointer { dst in (dst.baseAddress! + at).update(from: src.baseAddress! + row * w, count: n) }
        }
    }

    /// Causal attention of `rows` new queries over everything cached (including the rows just
    /// appended) for block l. out: (rows, H·hd), probs scratch: (rows, length + rows).
    func attend(layer l: Int, out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
        q: UnsafePointer<Float>, rows: Int, config c: LlamaConfig) {
        keys[l].withUnsafeBufferPointer { k in
            values[l].withUnsafeBufferPointer { v in
                Attention.causalForward(out, probs: probs, q, k.baseAddress!, v.baseAddress!, rows: rows, start: length,
                    heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
            }
        }
    }

    /// Forgets everything (keeps the memory).
    public func reset() { length = 0 }
    /// Bytes held.
    public var bytes: Int { 2 * keys.count * capacity * kvDim * 4 }
}
