import Foundation
import Llama

/// Everything that decides a training run's result. Saved in checkpoints as JSON; two runs with
/// equal configs, seeds and data give the same adapter bits (DESIGN §5).
public struct TrainingConfig: Sendable, Codable, Equatable {
    /// Adapted blocks N (the top N; nil = all).
    public var adapterLayers: Int?
    /// Prompt length K.
    public var adapterLength: Int = 10
    /// Examples per optimizer step.
    public var globalBatch: Int = 16
    /// Token budget of one micro-batch (the unit of work a worker computes).
    public var microBatchTokens: Int = 2048
    public var maxSeqLen: Int = 512
    /// Optimizer steps; nil = `epochs` × steps per epoch.
    public var steps: Int?
    public var epochs: Int = 1
    public var optimizer = OptimizerConfig()
    /// Explicit learning rate; nil = baseLR × globalBatch / 256.
    public var lr: Double?
    public var baseLR: Double = 9e-3
    public var schedule: LearningRateSchedule.Shape = .cosine
    public var warmupSteps: Int = 0
    public var seed: UInt64 = 0
    public var dataFormat: DataFormat?
    public var template: PromptTemplate = .alpaca
    public var strict = false
    /// Write `adapter.safetensors` and the trainer state every this many steps (0 = only at the end).
    public var checkpointEvery: Int = 0
    /// Keep only each adapted block's input and recompute its activations in the backward
    /// (less memory, same bits).
    public var recompute = false

    public init() {}

    /// The peak learning rate: `lr`, or the paper's scaling rule.
    public var peakLearningRate: Double {
        lr ?? LearningRateSchedule.scaledLearningRate(baseLR: baseLR, globalBatch: globalBatch)
    }

    /// Bad values, each named with its flag.
    public func validate() throws(TrainingError) {
        func bad(_ m: String) -> TrainingError { TrainingError(.badConfig, m) }
        if let n = adapterLayers, n < 1 { throw bad("--adapter-layers must be ≥ 1, got \(n)") }
        guard adapterLength >= 1 else { throw bad("--adapter-len must be ≥ 1, got \(adapterLength)") }
        guard globalBatch >= 1 else { throw bad("--global-batch must be ≥ 1, got \(globalBatch)") }
        guard microBatchTokens >= 1 else { throw bad("--micro-batch-tokens must be ≥ 1, got \(microBatchTokens)") }
        guard maxSeqLen >= 2 else { throw bad("--max-seq-len must be ≥ 2, got \(maxSeqLen)") }
        if let s = steps, s < 1 { throw bad("--steps must be ≥ 1, got \(s)") }
        guard epochs >= 1 else { throw bad("--epochs must be ≥ 1, got \(epochs)") }
        guard peakLearningRate > 0, peakLearningRate.isFinite else { throw bad("learning rate must be > 0, got \(peakLearningRate)") }
        guard warmupSteps >= 0 else { throw bad("--warmup-steps must be ≥ 0") }
        guard optimizer.weightDecay >= 0, optimizer.clip >= 0 else { throw bad("--weight-decay and --clip must be ≥ 0") }
        guard checkpointEvery >= 0 else { throw bad("--checkpoint-every must be ≥ 0") }
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

/// A training failure: bad configuration (exit 2) or a run that cannot go on (exit 1).
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case badConfig, badInput, nonFiniteLoss, io
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}
