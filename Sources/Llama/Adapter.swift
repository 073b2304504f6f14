import Foundation

/// Which layers carry adaption prompts and how long they are (DESIGN §1): the top `layers` blocks
/// of the model, each with `length` prompt vectors of the model dim and one gate per query head.
public struct AdapterShape: Sendable, Codable, Equatable {
    /// N: adapted blocks (the top N of the model).
    public var layers: Int
    /// K: prompt vectors per adapted block.
    public var length: Int
    /// Index of the lowest adapted block: modelLayers − N.
    public var firstLayer: Int
    /// D: model dim.
    public var dim: Int
    /// H: query heads (one gate each).
    public var heads: Int

    public init(config: LlamaConfig, layers: Int? = nil, length: Int = 10) {
        let n = min(max(layers ?? config.layers, 0), config.layers)
        self.layers = n
        self.length = length
        self.firstLayer = config.layers - n
        self.dim = config.dim
        self.heads = config.heads
    }

    public var promptCount: Int { layers * length * dim }
    public var gateCount: Int { layers * heads }
    /// Trainable parameters in all.
    public var parameterCount: Int { promptCount + gateCount }

    /// Offset in the flat buffer of the prompt of adapted block i (0 = lowest): (K, D).
    public func promptOffset(_ i: Int) -> Int { i * length * dim }
    /// Offset in the flat buffer of the gates of adapted block i: (H).
    public func gateOffset(_ i: Int) -> Int { promptCount + i * heads }
    /// The adapted-block index of model block l, or nil below the adapter.
    public func adapterIndex(ofLayer l: Int) -> Int? { l >= firstLayer ? l - firstLayer : nil }
}

/// The adapter's trainable state in one contiguous buffer: prompts (N, K, D) then gates (N, H).
/// Gradients and optimizer moments use the same layout, so one buffer is one wire message and one
/// checkpoint section.
public struct AdapterParameters: Sendable, Equatable {
    public let shape: AdapterShape
    public var values: [Float]

    public init(shape: AdapterShape, values: [Float]) {
        precondition(values.count == shape.parameterCount, "adapter buffer has \(values.count) values, shape needs \(shape.parameterCount)")
        self.shape = shape
        self.values = values
    }

    /// Prompts ~ N(0, 1) drawn from `seed` (Box–Muller over SplitMix64, the same on every machine),
    /// gates 0 — so the adapted model starts exactly equal to the base model.
    public static func initial(shape: AdapterShape, seed: UInt64) -> AdapterParameters {
        var rng = SplitMix64(seed: seed ^ 0xA5A5_0000_ADA9_7E12)
        var values = [Float](repeating: 0, count: shape.parameterCount)
        var i = 0
        while i < shape.promptCount {
            // Box–Muller: two uniforms → two independent standard normals.
            let u1 = max(rng.nextUnit(), Double.leastNonzeroMagnitude)
            let u2 = rng.nextUnit()
            let r = (-2 * Foundation.log(u1)).squareRoot()
            values[i] = Float(r * Foundation.cos(2 * Double.pi * u2))
            if i + 1 < shape.promptCount { values[i + 1] = Float(r * Foundation.sin(2 * Double.pi * u2)) }
            i += 2
        }
        return AdapterParameters(shape: shape, values: values)
    }

    /// Zero-filled buffer of the same layout (a gradient accumulator).
    public static func zeros(shape: AdapterShape) -> AdapterParameters {
        AdapterParameters(shape: shape, values: [Float](repeating: 0, count: shape.parameterCount))
    }

    public func prompt(_ i: Int) -> ArraySlice<Float> {
        values[shape.promptOffset(i)..<shape.promptOffset(i) + shape.length * shape.dim]
    }

    public func gates(_ i: Int) -> ArraySlice<Float> {
        values[shape.gateOffset(i)..<shape.gateOffset(i) + shape.heads]
    }
}
