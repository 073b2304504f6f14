import Foundation
import Llama

/// Optimizer hyper-parameters (DESIGN §1 defaults: AdamW β1 0.9, β2 0.95, eps 1e-8, weight decay
/// 0.02 on prompts and none on gates).
public struct OptimizerConfig: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case adamw
        case sgd
    }
    public var kind: Kind = .adamw
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8
    /// Decoupled weight decay, applied to prompts only.
    public var weightDecay: Double = 0.02
    /// Global-norm clipping threshold; 0 disables clipping.
    public var clip: Double = 0

    public init() {}
}

/// The optimizer state: step count and AdamW moments in the adapter's flat layout. Updates run
/// element by element in a fixed order, so the same inputs give the same bits on any machine
/// that uses the same floating-point kernels.
public struct OptimizerState: Sendable, Equatable {
    public var config: OptimizerConfig
    /// Updates applied so far.
    public var step: Int
    /// First and second moments (prompts then gates); empty for SGD.
    public var m: [Float]
    public var v: [Float]

    public init(config: OptimizerConfig, parameterCount: Int) {
        self.config = config
        self.step = 0
        let n = config.kind == .adamw ? parameterCount : 0
        m = [Float](repeating: 0, count: n)
        v = [Float](repeating: 0, count: n)
    }

    /// Applies one update with learning rate `lr` to `params`, given the normalised gradient `grad`
    /// (loss gradient: already divided by the global batch's label count). Returns the gradient's
    /// global L2 norm before clipping.
    @discardableResult
    public mutating func apply(to params: inout AdapterParameters, gradient grad: [Float], lr: Double) -> Double {
        precondition(grad.count == params.values.count, "gradient size \(grad.count) ≠ parameters \(params.values.count)")
        var sumSquares = 0.0
        for g in grad { sumSquares += Double(g) * Double(g) }
        let norm = sumSquares.squareRoot()
        // Clipping scales the whole gradient so its norm is at most `clip`.
        let scale = config.clip > 0 && norm > config.clip ? config.clip / norm : 1
        let promptCount = params.shape.promptCount
        step += 1
        switch config.kind {
        case .sgd:
            // params ← params − lr · (g + wd · params), the plain gradient step when wd = 0.
            for i in params.values.indices {
                let decay = i < promptCount ? config.weightDecay * Double(params.values[i]) : 0
                params.values[i] = Float(Double(params.values[i]) - lr * (scale * Double(grad[i]) + decay))
            }
        case .adamw:
            let b1 = config.beta1, b2 = config.beta2
            let c1 = 1 - Foundation.pow(b1, Double(step))  // bias corrections
            let c2 = 1 - Foundation.pow(b2, Double(step))
            for i in params.values.indices {
                let g = scale * Double(grad[i])
                let mi = b1 * Double(m[i]) + (1 - b1) * g
                let vi = b2 * Double(v[i]) + (1 - b2) * g * g
                m[i] = Float(mi)
                v[i] = Float(vi)
                var p = Double(params.values[i])
                // Decoupled decay (Loshchilov & Hutter): p ← p − lr·wd·p, prompts only.
                if i < promptCount { p -= lr * config.weightDecay * p }
                p -= lr * (mi / c1) / ((vi / c2).squareRoot() + config.eps)
                params.values[i] = Float(p)
            }
        }
        return norm
    }
}
