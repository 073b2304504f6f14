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

    /// Forgets everything (keeps the memory).
    public func reset() { length = 0 }
    /// Bytes held.
    public var bytes: Int { 2 * keys.count * capacity * kvDim * 4 }
}
