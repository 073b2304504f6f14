import Dispatch
import Foundation
import Llama

/// What one optimizer step did.
public struct StepReport: Sendable {
    /// Updates done so far (1 after the first step).
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    /// Mean token cross-entropy over the global batch's label tokens, before the update.
    public var loss: Double
    public var lr: Double
    public var gradNorm: Double
    public var labelTokens: Int
    public var tokens: Int
    public var microBatches: Int
    public var seconds: Double

    public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }

    public init(
        step: Int, totalSteps: Int, epoch: Int, loss: Double, lr: Double, gradNorm: Double, labelTokens: Int, tokens: Int,
        microBatches: Int, seconds: Double
    ) {
        (self.step, self.totalSteps, self.epoch, self.loss, self.lr) = (step, totalSteps, epoch, loss, lr)
        (self.gradNorm, self.labelTokens, self.tokens, self.microBatches, self.seconds) = (gradNorm, labelTokens, tokens, microBatches, seconds)
    }

    /// One metrics.jsonl object.
    public var json: [String: Any] {
        [
            "step": step, "epoch": epoch, "loss": loss, "lr": lr, "grad_norm": gradNorm, "label_tokens": labelTokens,
            "tokens": tokens, "micro_batches": microBatches, "step_seconds": seconds, "tokens_per_s": tokensPerSecond,
        ]
    }
}

/// Where a run stands: the adapter, the optimizer, and the next step to run.
public struct TrainingProgress: Sendable {
    public var params: AdapterParameters
    public var optimizer: OptimizerState
    /// Steps done (= the index of the next step).
    public var step: Int

    public init(params: AdapterParameters, optimizer: OptimizerState, step: Int) {
        self.params = params
        self.optimizer = optimizer
        self.step = step
    }
}

/// Single-process training: the same data plan and the same reducer as the parameter server,
/// run in one process. Its result is the reference distributed runs must match bit for bit.
public struct LocalTrainer {
    public let model: LlamaModel
    public let dataset: Dataset
    public let config: TrainingConfig
    public let plan: DataPlan
    public let schedule: LearningRateSchedule
    public let shape: AdapterShape

    public init(model: LlamaModel, dataset: Dataset, config: TrainingConfig) throws(TrainingError) {
        try config.validate()
        self.model = model
        self.dataset = dataset
        self.config = config
        guard dataset.examples.count >= config.globalBatch else {
            throw TrainingError(.badInput,
                "the dataset has \(dataset.examples.count) examples, fewer than one global batch (\(config.globalBatch))")
        }
        plan = DataPlan(
            exampleLengths: dataset.exampleLengths, globalBatch: config.globalBatch,
            microBatchTokens: config.microBatchTokens, seed: config.seed)
        let total = config.steps ?? config.epochs * plan.stepsPerEpoch
        schedule = LearningRateSchedule(
            shape: config.schedule, peak: config.peakLearningRate, warmupSteps: config.warmupSteps, totalSteps: total)
        shape = AdapterShape(config: model.config, layers: config.adapterLayers, length: config.adapterLength)
    }

    public var totalSteps: Int { schedule.totalSteps }

    /// A fresh start: prompts N(0,1) from the seed (or `initial`), gates 0, empty optimizer.
    public func start(initial: AdapterParameters? = nil) -> TrainingProgress {
        let params = initial ?? AdapterParameters.initial(shape: shape, seed: config.seed)
        precondition(params.shape == shape, "initial adapter shape does not match the config")
        return TrainingProgress(
            params: params, optimizer: OptimizerState(config: config.optimizer, parameterCount: shape.parameterCount),
            step: 0)
    }

    /// The sequences of micro-batch `mb`.
    public func sequences(_ mb: MicroBatch) -> [TrainingSequence] {
        mb.exampleIDs.map { TrainingSequence(inputIDs: dataset.examples[$0].inputIDs, labels: dataset.examples[$0].labels) }
    }

    /// Runs one step: every micro-batch of the plan, reduced in order, then the update.
    public func step(_ progress: inout TrainingProgress) throws(TrainingError) -> StepReport {
        let s = progress.step
        let t0 = DispatchTime.now().uptimeNanoseconds
        let mbs = plan.microBatches(step: s)
        var reducer = GradientReducer(parameterCount: shape.parameterCount, microBatches: mbs.count)
        for mb in mbs {
            reducer.add(
                model.adapterGradient(sequences(mb), adapter: progress.params, recompute: config.recompute), index: mb.index)
        }
        return try finishStep(reducer, microBatches: mbs, progress: &progress, startedAt: t0)
    }

    /// The end of every step, in one process or on the coordinator: reduce in micro-batch order,
    /// refuse a non-finite loss or gradient (nothing applied), the scheduled AdamW update, the report.
    /// `startedAt` is the step's start in `DispatchTime` nanoseconds.
    public func finishStep(
        _ reducer: GradientReducer, microBatches mbs: [MicroBatch], progress: inout TrainingProgress, startedAt t0: UInt64
    ) throws(TrainingError) -> StepReport {
        let s = progress.step
        let (gradient, loss, labels) = reducer.reduce()
        guard loss.isFinite, gradient.allSatisfy({ $0.isFinite }) else {
            throw TrainingError(.nonFiniteLoss, "step \(s + 1): loss or gradient is not finite (loss \(loss)); stopping without writing a checkpoint")
        }
        let lr = schedule.rate(at: s)
        let norm = progress.optimizer.apply(to: &progress.params, gradient: gradient, lr: lr)
        progress.step += 1
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return StepReport(
            step: progress.step, totalSteps: totalSteps, epoch: plan.epoch(ofStep: s), loss: loss, lr: lr,
            gradNorm: norm, labelTokens: labels, tokens: mbs.reduce(0) { $0 + $1.tokens }, microBatches: mbs.count,
            seconds: seconds)
    }
}
