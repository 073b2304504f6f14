import Llama

// The data plan (DESIGN.md §5): which examples each step trains on, split into micro-batches by token budget.
// It is a pure function of (example lengths, global batch, micro-batch budget, seed, step) — never of the
// number of workers — so every process that knows the config computes the same micro-batches.
//
//   epoch e = step / stepsPerEpoch, position p = step % stepsPerEpoch
//   order(e)  = Fisher–Yates shuffle of 0..<n driven by SplitMix64(mix(seed, e))
//   step ids  = order(e)[p·G ..< (p+1)·G]        (the last, partial slice only when dropLast is false)
//   sorted by (length, id)                        (length buckets: similar lengths travel together)
//   packed greedily: append while the micro-batch's tokens stay ≤ microBatchTokens; an example longer
//   than the budget gets a micro-batch of its own
//
// No padding: a micro-batch is a list of variable-length sequences, `tokens` is their exact sum.

/// One unit of work: a few whole examples of one step.
public struct MicroBatch: Sendable, Hashable, Codable {
    /// The optimizer step it belongs to.
    public var step: Int
    /// Its place in the step (results are reduced in this order).
    public var index: Int
    /// Dataset indices, shortest first.
    public var exampleIDs: [Int]
    /// Sum of the examples' token counts.
    public var tokens: Int

    public init(step: Int, index: Int, exampleIDs: [Int], tokens: Int) {
        self.step = step
        self.index = index
        self.exampleIDs = exampleIDs
        self.tokens = tokens
    }
}

public struct DataPlan: Sendable {
    public let exampleLengths: [Int]
    /// Examples per step (the last step of an epoch has fewer when `dropLast` is false, or when the dataset is
    /// smaller than one batch).
    public let globalBatch: Int
    public let microBatchTokens: Int
    public let seed: UInt64
    public let dropLast: Bool

    /// Preconditions (validate user input before): at least one example, all lengths ≥ 1, `globalBatch` ≥ 1,
    /// `microBatchTokens` ≥ 1.
    public init(exampleLengths: [Int], globalBatch: Int, microBatchTokens: Int, seed: UInt64, dropLast: Bool = true) {
        precondition(!exampleLengths.isEmpty, "DataPlan: no examples")
        precondition(exampleLengths.allSatisfy { $0 >= 1 }, "DataPlan: an example has no tokens")
        precondition(globalBatch >= 1, "DataPlan: globalBatch must be at least 1")
        precondition(microBatchTokens >= 1, "DataPlan: microBatchTokens must be at least 1")
        self.exampleLengths = exampleLengths
        self.globalBatch = globalBatch
        self.microBatchTokens = microBatchTokens
        self.seed = seed
        self.dropLast = dropLast
    }

    /// Steps in one epoch: ⌊n / G⌋ with `dropLast` (at least 1: a dataset smaller than one batch is one short
    /// step), ⌈n / G⌉ without.
    public var stepsPerEpoch: Int {
        let n = exampleLengths.count
        return dropLast ? max(1, n / globalBatch) : (n + globalBatch - 1) / globalBatch
    }

    public func epoch(ofStep step: Int) -> Int { step / stepsPerEpoch }

    /// The order in which epoch `epoch` visits the examples: a permutation of 0..<n.
    public func epochOrder(_ epoch: Int) -> [Int] {
        precondition(epoch >= 0, "DataPlan: negative epoch")
        var order = Array(exampleLengths.indices)
        // Seed and epoch are mixed through one SplitMix64 output so nearby seeds and epochs give unrelated streams.
        var seeder = SplitMix64(seed: seed)
        var rng = SplitMix64(seed: seeder.next() ^ UInt64(epoch))
        var i = order.count - 1
        while i > 0 {
            let j = Int(DataPlan.uniform(below: UInt64(i + 1), &rng))
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }

    /// The examples of `step`, in epoch order (before sorting by length).
    public func examples(step: Int) -> [Int] {
        precondition(step >= 0, "DataPlan: negative step")
        let n = exampleLengths.count
        let position = step % stepsPerEpoch
        let start = position * globalBatch
        let end = min(start + globalBatch, n)
        return Array(epochOrder(epoch(ofStep: step))[start..<end])
    }

    /// The micro-batches of `step`, in reduction order.
    public func microBatches(step: Int) -> [MicroBatch] {
        let ids = examples(step: step).sorted {
            (exampleLengths[$0], $0) < (exampleLengths[$1], $1)
        }
        var batches: [MicroBatch] = []
        var current: [Int] = []
        var tokens = 0
        func close() {
            guard !current.isEmpty else { return }
            batches.append(MicroBatch(step: step, index: batches.count, exampleIDs: current, tokens: tokens))
            current = []
            tokens = 0
        }
        for id in ids {
            let length = exampleLengths[id]
            if tokens + length > microBatchTokens { close() }
            current.append(id)
            tokens += length
        }
        close()
        return batches
    }

    /// An unbiased integer in 0..<bound (Lemire's multiply-and-reject), spelled out here so the plan does not
    /// depend on how a standard library version implements `next(upperBound:)`.
    static func uniform(below bound: UInt64, _ rng: inout SplitMix64) -> UInt64 {
        precondition(bound > 0)
        var product = rng.next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = rng.next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }
}

// MARK: - What padding would cost (for `bench data`)

/// Tokens a padded batcher would process if every example were padded (or cut) to `paddedLength`.
/// Examples longer than `paddedLength` count as `paddedLength` (they would be truncated).
public func paddedTokenCount(exampleLengths: [Int], paddedLength: Int = 512) -> Int {
    precondition(paddedLength >= 1)
    return exampleLengths.count * paddedLength
}

/// Real tokens among those a padded batcher processes: Σ min(length, paddedLength) / (n · paddedLength).
public func usefulTokenRatio(exampleLengths: [Int], paddedLength: Int = 512) -> Double {
    let padded = paddedTokenCount(exampleLengths: exampleLengths, paddedLength: paddedLength)
    guard padded > 0 else { return 1 }
    let useful = exampleLengths.reduce(0) { $0 + min($1, paddedLength) }
    return Double(useful) / Double(padded)
}
