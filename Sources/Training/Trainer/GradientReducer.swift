import Llama

/// The deterministic reducer (DESIGN §5): micro-batch results are added in micro-batch order —
/// never in arrival order — and divided by the label tokens of the whole global batch, so the
/// result does not depend on how many workers computed the pieces.
public struct GradientReducer: Sendable {
    public let parameterCount: Int
    private var slots: [GradientSum?]

    public init(parameterCount: Int, microBatches: Int) {
        self.parameterCount = parameterCount
        self.slots = Array(repeating: nil, count: microBatches)
    }

    /// Stores the result of micro-batch `index`; false when it was already in (a duplicate).
    @discardableResult
    public mutating func add(_ result: GradientSum, index: Int) -> Bool {
        precondition(result.gradient.count == parameterCount, "gradient of \(result.gradient.count) values, expected \(parameterCount)")
        guard slots[index] == nil else { return false }
        slots[index] = result
        return true
    }

    public var isComplete: Bool { slots.allSatisfy { $0 != nil } }
    public var missing: [Int] { slots.indices.filter { slots[$0] == nil } }

    /// Σ gradients (in index order) / Σ label tokens, the mean loss, and the label count.
    public func reduce() -> (gradient: [Float], loss: Double, labelCount: Int) {
        precondition(isComplete, "reduce before every micro-batch is in")
        var sum = [Float](repeating: 0, count: parameterCount)
        var lossSum = 0.0
        var labels = 0
        for case let r? in slots {
            for i in 0..<parameterCount { sum[i] += r.gradient[i] }
            lossSum += r.lossSum
            labels += r.labelCount
        }
        guard labels > 0 else { return (sum, 0, 0) }
        let inv = 1 / Float(labels)
        for i in 0..<parameterCount { sum[i] *= inv }
        return (sum, lossSum / Double(labels), labels)
    }
}
