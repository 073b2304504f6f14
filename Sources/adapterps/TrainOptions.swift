import ArgumentParser
import Foundation
import Llama
import Training
import Yams

/// The training options shared by `train`, `launch` and `coordinator` (DESIGN §9). Every option
/// may also come from `--config FILE` (YAML; keys are the option names without dashes, e.g.
/// `global-batch: 32`); a flag on the command line overrides the file.
struct TrainOptions: ParsableArguments {
    @Option(help: "Training data: Alpaca JSON/JSONL, chat JSONL or pre-tokenized JSONL.") var data: String?
    @Option(help: "Output folder: adapter.safetensors, metrics.jsonl, trainer_state.safetensors.") var out: String?
    @Option(help: "YAML file of options (keys as the long option names); flags override it.") var config: String?
    @Option(name: .customLong("data-format"), help: "alpaca, chat or tokenized (default: detected).") var dataFormat: String?
    @Option(help: "Prompt template for Alpaca data: alpaca or chat (the model's chat template).") var template: String?
    @Flag(help: "Stop at the first malformed record instead of skipping it.") var strict = false
    @Flag(help: "Recompute adapted blocks' activations in the backward instead of keeping them (less memory, same result).") var recompute = false
    @Option(name: .customLong("adapter-layers"), help: "Adapted blocks, counted from the top (default: all).") var adapterLayers: Int?
    @Option(name: .customLong("adapter-len"), help: "Prompt vectors per adapted block (default 10).") var adapterLen: Int?
    @Option(name: .customLong("global-batch"), help: "Examples per optimizer step (default 16).") var globalBatch: Int?
    @Option(name: .customLong("micro-batch-tokens"), help: "Token budget of one micro-batch (default 2048).") var microBatchTokens: Int?
    @Option(name: .customLong("max-seq-len"), help: "Longer examples are truncated (default 512).") var maxSeqLen: Int?
    @Option(help: "Optimizer steps (default: --epochs worth).") var steps: Int?
    @Option(help: "Passes over the data when --steps is not given (default 1).") var epochs: Int?
    @Option(help: "adamw or sgd (default adamw).") var optimizer: String?
    @Option(help: "Peak learning rate (default: base-lr × global-batch / 256).") var lr: Double?
    @Option(name: .customLong("base-lr"), help: "Base learning rate of the scaling rule (default 9e-3).") var baseLR: Double?
    @Option(help: "cosine or constant (default cosine).") var schedule: String?
    @Option(name: .customLong("warmup-steps"), help: "Linear warm-up steps (default 0).") var warmupSteps: Int?
    @Option(name: .customLong("weight-decay"), help: "Decoupled weight decay on prompts (default 0.02).") var weightDecay: Double?
    @Option(help: "Global gradient-norm clip, 0 = off (default 0).") var clip: Double?
    @Option(help: "Run seed: adapter init and data order (default 0).") var seed: UInt64?
    @Option(name: .customLong("checkpoint-every"), help: "Write the adapter and trainer state every N steps (default: at the end only).") var checkpointEvery: Int?

    /// The file's options, flags over them, defaults under both.
    func resolve() throws -> (config: TrainingConfig, data: String, out: String, file: [String: Any]) {
        let file = try config.map(Self.readConfigFile) ?? [:]
        func pick<T>(_ flag: T?, _ key: String, _ convert: (Any) -> T?) throws -> T? {
            if let flag { return flag }
            guard let raw = file[key] else { return nil }
            guard let v = convert(raw) else { throw CLIError.badInput("\(config!): '\(key)' has a value of the wrong type: \(raw)") }
            return v
        }
        let int: (Any) -> Int? = { $0 as? Int }
        let double: (Any) -> Double? = { ($0 as? Double) ?? ($0 as? Int).map(Double.init) }
        let string: (Any) -> String? = { $0 as? String }
        var c = TrainingConfig()
        c.adapterLayers = try pick(adapterLayers, "adapter-layers", int)
        c.adapterLength = try pick(adapterLen, "adapter-len", int) ?? c.adapterLength
        c.globalBatch = try pick(globalBatch, "global-batch", int) ?? c.globalBatch
        c.microBatchTokens = try pick(microBatchTokens, "micro-batch-tokens", int) ?? c.microBatchTokens
        c.maxSeqLen = try pick(maxSeqLen, "max-seq-len", int) ?? c.maxSeqLen
        c.steps = try pick(steps, "steps", int)
        c.epochs = try pick(epochs, "epochs", int) ?? c.epochs
        if let o = try pick(optimizer, "optimizer", string) {
            guard let k = OptimizerConfig.Kind(rawValue: o) else { throw CLIError.badInput("--optimizer must be adamw or sgd, got '\(o)'") }
            c.optimizer.kind = k
        }
        c.lr = try pick(lr, "lr", double)
        c.baseLR = try pick(baseLR, "base-lr", double) ?? c.baseLR
        if let s = try pick(schedule, "schedule", string) {
            guard let k = LearningRateSchedule.Shape(rawValue: s) else { throw CLIError.badInput("--schedule must be cosine or constant, got '\(s)'") }
            c.schedule = k
        }
        c.warmupSteps = try pick(warmupSteps, "warmup-steps", int) ?? c.warmupSteps
        c.optimizer.weightDecay = try pick(weightDecay, "weight-decay", double) ?? c.optimizer.weightDecay
        c.optimizer.clip = try pick(clip, "clip", double) ?? c.optimizer.clip
        c.seed = try pick(seed, "seed", { ($0 as? Int).flatMap { $0 >= 0 ? UInt64($0) : nil } }) ?? c.seed
        c.checkpointEvery = try pick(checkpointEvery, "checkpoint-every", int) ?? c.checkpointEvery
        if let f = try pick(dataFormat, "data-format", string) {
            guard let k = DataFormat(rawValue: f) else { throw CLIError.badInput("--data-format must be alpaca, chat or tokenized, got '\(f)'") }
            c.dataFormat = k
        }
        if let t = try pick(template, "template", string) {
            guard let k = PromptTemplate(rawValue: t) else { throw CLIError.badInput("--template must be alpaca or chat, got '\(t)'") }
            c.template = k
        }
        let recomputeFromFile = try pick(nil as Bool?, "recompute", { $0 as? Bool }) ?? false
        c.recompute = recompute || recomputeFromFile
        let strictFromFile = try pick(nil as Bool?, "strict", { $0 as? Bool }) ?? false
        c.strict = strict || strictFromFile
        do {
            try c.validate()
        } catch {
            throw CLIError.badInput(error.message)
        }
        guard let d = try pick(data, "data", string) else { throw CLIError.badInput("--data is required (or 'data:' in --config)") }
        guard let o = try pick(out, "out", string) else { throw CLIError.badInput("--out is required (or 'out:' in --config)") }
        return (c, d, o, file)
    }

    static let knownKeys: Set<String> = [
        "data", "out", "data-format", "template", "strict", "adapter-layers", "adapter-len", "global-batch",
        "micro-batch-tokens", "max-seq-len", "steps", "epochs", "optimizer", "lr", "base-lr", "schedule", "warmup-steps",
        "weight-decay", "clip", "seed", "checkpoint-every", "model", "threads", "recompute",
    ]

    static func readConfigFile(_ path: String) throws -> [String: Any] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIError.badInput("\(path): cannot read the config file")
        }
        let parsed: Any?
        do {
            parsed = try Yams.load(yaml: text)
        } catch {
            throw CLIError.badInput("\(path): not valid YAML: \(error)")
        }
        guard let dict = parsed as? [String: Any] else {
            throw CLIError.badInput("\(path): expected a mapping of option names to values")
        }
        for key in dict.keys where !knownKeys.contains(key) {
            throw CLIError.badInput("\(path): unknown option '\(key)' (known: \(knownKeys.sorted().joined(separator: ", ")))")
        }
        return dict
    }
}
