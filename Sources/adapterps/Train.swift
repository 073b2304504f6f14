import ArgumentParser
import Foundation
import Kernels
import Llama
import ModelFiles
import Tokenizers
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an adapter in this process (no network): the reference a distributed run matches bit for bit.",
        discussion: """
            Writes OUT/metrics.jsonl as it goes (one JSON object per step), and OUT/adapter.safetensors and
            OUT/trainer_state.safetensors every --checkpoint-every steps and at the end. --resume continues
            from OUT/trainer_state.safetensors with the optimizer state; --init starts from an adapter file.
            """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var options: TrainOptions

    @Option(name: .customLong("init"), help: "Start from this adapter file (prompts and gates) instead of a fresh one.")
    var initial: String?

    @Flag(help: "Continue the run saved in OUT/trainer_state.safetensors.")
    var resume = false

    func run() throws {
        let resolved = try options.resolve()
        let (llama, tokenizer) = try model.load(fileDefaults: resolved.file)
        let dataset = try loadDataset(resolved.data, config: resolved.config, tokenizer: tokenizer, vocabSize: llama.config.vocabSize)
        try runTraining(llama: llama, dataset: dataset, config: resolved.config, out: resolved.out, initialPath: initial, resume: resume)
    }
}

/// Loads and reports a dataset; bad data is exit 2 with the file:line:field of the problem.
func loadDataset(_ path: String, config: TrainingConfig, tokenizer: (any Tokenizer)?, vocabSize: Int) throws -> Dataset {
    let dataset: Dataset
    do {
        dataset = try Dataset.load(
            path: path, format: config.dataFormat, tokenizer: tokenizer, template: config.template,
            maxSeqLen: config.maxSeqLen, strict: config.strict, vocabSize: vocabSize)
    } catch {
        throw CLIError.badInput("\(error)")
    }
    log("data: \(path): \(dataset.report.summary)")
    return dataset
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("adapterps: \(message)\n".utf8))
}

/// The single-process training loop with progress, metrics and checkpoints.
func runTraining(
    llama: LlamaModel, dataset: Dataset, config: TrainingConfig, out: String, initialPath: String?, resume: Bool,
    cluster: ((LocalTrainer) throws -> ClusterStepper)? = nil
) throws {
    let trainer: LocalTrainer
    do {
        trainer = try LocalTrainer(model: llama, dataset: dataset, config: config)
    } catch {
        throw CLIError.badInput(error.message)
    }
    do {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    } catch {
        throw CLIError.runtime("\(out): cannot create the output folder: \(error.localizedDescription)")
    }
    let adapterPath = (out as NSString).appendingPathComponent("adapter.safetensors")
    let statePath = (out as NSString).appendingPathComponent("trainer_state.safetensors")
    var progress: TrainingProgress
    if resume {
        let state = try newestUsableState(out: out, statePath: statePath, llama: llama, dataset: dataset, config: config)
        progress = TrainingProgress(params: state.params, optimizer: state.optimizer, step: state.nextStep)
        log("resuming at step \(progress.step) of \(trainer.totalSteps)")
    } else {
        var initial: AdapterParameters?
        if let path = initialPath {
            let (params, _) = try AdapterCheckpoint.read(path: path, model: llama.config, modelSHA256: llama.fingerprint)
            guard params.shape == trainer.shape else {
                throw CLIError.badInput("\(path): adapter has \(params.shape.layers) layers × \(params.shape.length) prompts, the run wants \(trainer.shape.layers) × \(trainer.shape.length)")
            }
            initial = params
        }
        progress = trainer.start(initial: initial)
    }
    let metrics = try MetricsLog(
        path: (out as NSString).appendingPathComponent("metrics.jsonl"), truncate: !resume,
        keepThroughStep: resume ? progress.step : nil)
    log("training \(trainer.shape.parameterCount) adapter parameters (\(trainer.shape.layers) layers × \(trainer.shape.length) prompts) on \(dataset.examples.count) examples: \(trainer.totalSteps) steps of \(config.globalBatch) examples, lr \(config.peakLearningRate), \(Matmul.threads) thread(s)")

    func save() throws {
        try AdapterCheckpoint.write(
            progress.params, to: adapterPath, modelSHA256: llama.fingerprint, modelLayers: llama.config.layers,
            step: progress.step, extra: ["config": config.json(), "data_sha256": dataset.fingerprint])
        let state = TrainerState(
            params: progress.params, optimizer: progress.optimizer, nextStep: progress.step,
            epoch: trainer.plan.epoch(ofStep: progress.step), seed: config.seed, rngState: config.seed,
            modelSHA256: llama.fingerprint, dataSHA256: dataset.fingerprint, configJSON: config.json())
        // The newest state under its fixed name, and the last few by step under snapshots/.
        try state.write(to: statePath)
        try Snapshots.write(state, in: out, keep: 3)
    }

    let stop = StopSignal.install()
    let stepper = try cluster?(trainer)
    defer { stepper?.finish() }
    var line = ProgressLine()
    let started = Date()
    let firstStep = progress.step
    while progress.step < trainer.totalSteps {
        var report: StepReport
        var extra: [String: Any] = [:]
        do {
            if let stepper {
                guard let r = try stepper.step(&progress, { stop.requested }) else { break }
                (report, extra) = r
            } else {
                report = try trainer.step(&progress)
            }
        } catch let error as TrainingError {
            line.finish()
            throw CLIError.runtime(error.message)
        }
        metrics.write(report.json.merging(extra) { a, _ in a })
        let done = report.step - firstStep
        let eta = Date().timeIntervalSince(started) / Double(done) * Double(trainer.totalSteps - report.step)
        line.show(String(format: "step %d/%d | loss %.4f | lr %.2e | %.0f tok/s | ETA %@", report.step, report.totalSteps,
            report.loss, report.lr, report.tokensPerSecond, ProgressLine.duration(eta)), final: report.step == trainer.totalSteps)
        if config.checkpointEvery > 0 && report.step % config.checkpointEvery == 0 && report.step < trainer.totalSteps {
            try save()
        }
        if stop.requested && progress.step < trainer.totalSteps {
            line.finish()
            try save()
            log("stopped by \(stop.name) after step \(progress.step) of \(trainer.totalSteps); checkpoint written, continue with --resume")
            return
        }
    }
    line.finish()
    try save()
    if stop.requested && progress.step < trainer.totalSteps {
        log("stopped by \(stop.name) after step \(progress.step) of \(trainer.totalSteps); checkpoint written, continue with --resume")
        return
    }
    log("wrote \(adapterPath) (step \(progress.step)) in \(ProgressLine.duration(Date().timeIntervalSince(started)))")
}

/// Runs steps on workers instead of in this process (`coordinator`, `launch`).
struct ClusterStepper {
    /// One step; nil when stopped first. Returns the report and extra metrics fields.
    let step: (inout TrainingProgress, () -> Bool) throws -> (StepReport, [String: Any])?
    let finish: () -> Void
}

/// Snapshots of the trainer state by step, `OUT/snapshots/state-<step>.safetensors`, the newest few kept.
enum Snapshots {
    static func folder(_ out: String) -> String { (out as NSString).appendingPathComponent("snapshots") }

    static func write(_ state: TrainerState, in out: String, keep: Int) throws {
        let dir = folder(out)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try state.write(to: (dir as NSString).appendingPathComponent(String(format: "state-%08d.safetensors", state.nextStep)))
        for old in list(out).dropFirst(keep) { try? FileManager.default.removeItem(atPath: old) }
    }

    /// Snapshot files, newest step first.
    static func list(_ out: String) -> [String] {
        let dir = folder(out)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasPrefix("state-") && $0.hasSuffix(".safetensors") }.sorted(by: >)
            .map { (dir as NSString).appendingPathComponent($0) }
    }
}

/// The newest trainer state that reads back intact and belongs to this model, data and config:
/// OUT/trainer_state.safetensors first, then the snapshots, newest first. Each one skipped is
/// reported with the reason; none usable is an error.
func newestUsableState(out: String, statePath: String, llama: LlamaModel, dataset: Dataset, config: TrainingConfig) throws
    -> TrainerState
{
    var reasons: [String] = []
    for path in [statePath] + Snapshots.list(out) where FileManager.default.fileExists(atPath: path) {
        do {
            let state = try TrainerState.read(path: path)
            guard state.modelSHA256 == llama.fingerprint else {
                throw CLIError.badInput("\(path): saved for model \(state.modelSHA256), but --model is \(llama.fingerprint)")
            }
            guard state.dataSHA256 == dataset.fingerprint else {
                throw CLIError.badInput("\(path): saved for data \(state.dataSHA256), but --data is \(dataset.fingerprint)")
            }
            guard state.configJSON == config.json() else {
                throw CLIError.badInput("\(path): saved with another training config; resume needs the same options\n  saved: \(state.configJSON)\n  now:   \(config.json())")
            }
            if !reasons.isEmpty { log("using \(path) (step \(state.nextStep)) after skipping \(reasons.count) unusable state file(s)") }
            return state
        } catch let error as CLIError {
            throw error  // another model, data or config: a usage error, not a damaged file
        } catch {
            log("skipping \(path): \(error)")
            reasons.append("\(error)")
        }
    }
    throw CLIError.badInput(reasons.isEmpty
        ? "\(statePath): no trainer state to resume from"
        : "no usable trainer state in \(out): \(reasons.joined(separator: "; "))")
}
