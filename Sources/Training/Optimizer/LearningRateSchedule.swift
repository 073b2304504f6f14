import Foundation

/// Learning rate per step: linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to
/// `minimum` at `totalSteps` (or constant at `peak`). Step numbers count from 0; the rate used for
/// step s is `rate(at: s)`.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    public enum Shape: String, Sendable, Codable, CaseIterable {
        case cosine
        case constant
    }
    public var shape: Shape
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minimum: Double

    public init(shape: Shape, peak: Double, warmupSteps: Int, totalSteps: Int, minimum: Double = 0) {
        self.shape = shape
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minimum = minimum
    }

    /// The paper's scaling rule: lr = base_lr × global_batch / 256.
    public static func scaledLearningRate(baseLR: Double, globalBatch: Int) -> Double {
        baseLR * Double(globalBatch) / 256
    }

    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        switch shape {
        case .constant:
            return peak
        case .cosine:
            let span = max(totalSteps - warmupSteps, 1)
            let progress = min(Double(step - warmupSteps) / Double(span), 1)
            return minimum + (peak - minimum) * 0.5 * (1 + cos(Double.pi * progress))
        }
    }
}
