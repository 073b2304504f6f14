import Foundation
import Kernels
import Llama
import ModelFiles

// The trainer state file (`trainer_state.safetensors`), version 1: everything needed to resume a run
// bit-exactly, in one checksummed safetensors file.
//
//   tensors   params        F32 [P]         the adapter's flat buffer: prompts (N, K, D) then gates (N, H)
//             adam.m        F32 [P] or [0]  AdamW first moments ([0] for SGD)
//             adam.v        F32 [P] or [0]  AdamW second moments
//             <extra>       F32 [n]         caller-named extra buffers (e.g. error-feedback residuals)
//   metadata  format "adapterps.trainer_state", format_version "1",
//             adapter_layers N, adapter_len K, first_layer, model_layers, dim D, heads H,
//             optimizer.kind / .beta1 / .beta2 / .eps / .weight_decay / .clip  (Double.description,
//               which reads back to the same bits), optimizer.step,
//             next_step, epoch, seed, rng_state (decimal UInt64), model_sha256, data_sha256,
//             config (the full training config JSON), extra.<key> (caller strings),
//             checksum_sha256 (TensorChecksum.swift; required on reading).
//
// All tensors are F32 so the round trip is bit-exact; a file with another dtype is refused.

/// A resumable training position: parameters, optimizer, data position, RNG and fingerprints.
public struct TrainerState: Sendable, Equatable {
    public static let fileName = "trainer_state.safetensors"
    public static let format = "adapterps.trainer_state"
    public static let formatVersion = 1
    static let reservedTensors: Set<String> = ["params", "adam.m", "adam.v"]

    public var params: AdapterParameters
    public var optimizer: OptimizerState
    /// The step the resumed run executes first.
    public var nextStep: Int
    /// The epoch that step belongs to (0-based).
    public var epoch: Int
    /// The run seed and the state of the run's random generator at `nextStep`.
    public var seed: UInt64
    public var rngState: UInt64
    public var modelSHA256: String
    /// Fingerprint of the training data (as the data loader computes it).
    public var dataSHA256: String
    /// The full training config, as JSON (opaque here).
    public var configJSON: String
    /// Caller strings (stored as `extra.<key>`).
    public var extra: [String: String]
    /// Caller buffers (e.g. error-feedback residuals), stored as F32 tensors under their names.
    public var extraTensors: [String: [Float]]

    public init(
        params: AdapterParameters, optimizer: OptimizerState, nextStep: Int, epoch: Int, seed: UInt64, rngState: UInt64,
        modelSHA256: String, dataSHA256: String, configJSON: String, extra: [String: String] = [:],
        extraTensors: [String: [Float]] = [:]
    ) {
        self.params = params
        self.optimizer = optimizer
        self.nextStep = nextStep
        self.epoch = epoch
        self.seed = seed
        self.rngState = rngState
        self.modelSHA256 = modelSHA256
        self.dataSHA256 = dataSHA256
        self.configJSON = configJSON
        self.extra = extra
        self.extraTensors = extraTensors
    }

    /// Writes the state atomically (temporary file, fsync, rename, folder fsync) with its checksum.
    /// Non-finite values are refused (`.badValue`): a state that cannot be resumed is not saved.
    public func write(to path: String) throws(ModelFileError) {
        let shape = params.shape
        precondition(nextStep >= 0 && epoch >= 0 && optimizer.step >= 0, "negative position in trainer state")
        precondition(
            optimizer.m.count == optimizer.v.count
                && (optimizer.m.isEmpty || optimizer.m.count == params.values.count),
            "optimizer moments (\(optimizer.m.count), \(optimizer.v.count)) do not fit \(params.values.count) parameters"
        )
        for name in extraTensors.keys {
            precondition(
                !Self.reservedTensors.contains(name) && !name.isEmpty, "extra tensor name '\(name)' is reserved")
        }
        var tensors = [
            NamedTensor(name: "params", shape: [params.values.count], values: params.values),
            NamedTensor(name: "adam.m", shape: [optimizer.m.count], values: optimizer.m),
            NamedTensor(name: "adam.v", shape: [optimizer.v.count], values: optimizer.v),
        ]
        for name in extraTensors.keys.sorted() {
            tensors.append(NamedTensor(name: name, shape: [extraTensors[name]!.count], values: extraTensors[name]!))
        }
        for t in tensors { try CheckpointValidation.requireFinite(t.values, tensor: t.name, file: path) }

        let c = optimizer.config
        var metadata: [String: String] = [
            "format": Self.format,
            "format_version": String(Self.formatVersion),
            "adapter_layers": String(shape.layers),
            "adapter_len": String(shape.length),
            "first_layer": String(shape.firstLayer),
            "model_layers": String(shape.firstLayer + shape.layers),
            "dim": String(shape.dim),
            "heads": String(shape.heads),
            "optimizer.kind": c.kind.rawValue,
            "optimizer.beta1": c.beta1.description,
            "optimizer.beta2": c.beta2.description,
            "optimizer.eps": c.eps.description,
            "optimizer.weight_decay": c.weightDecay.description,
            "optimizer.clip": c.clip.description,
            "optimizer.step": String(optimizer.step),
            "next_step": String(nextStep),
            "epoch": String(epoch),
            "seed": String(seed),
            "rng_state": String(rngState),
            "model_sha256": modelSHA256,
            "data_sha256": dataSHA256,
            "config": configJSON,
        ]
        for (key, value) in extra { metadata["extra." + key] = value }
        try TensorChecksum.write(tensors, metadata: metadata, to: path)
    }

    /// Reads and verifies a trainer state file: the checksum must be present and match, every field
    /// must be present and well-formed, sizes must agree, values must be finite.
    public static func read(path: String) throws(ModelFileError) -> TrainerState {
        let file = try SafetensorsFile(path: path)
        let metadata = file.metadata
        func fail(_ kind: ModelFileError.Kind, _ message: String) -> ModelFileError {
            ModelFileError(kind, file: path, message)
        }
        func string(_ key: String) throws(ModelFileError) -> String {
            guard let v = metadata[key] else { throw fail(.missingKey, "metadata key '\(key)' is missing") }
            return v
        }
        func int(_ key: String, minimum: Int = 0) throws(ModelFileError) -> Int {
            guard let v = try CheckpointValidation.int(key, in: metadata, file: path, minimum: minimum) else {
                throw fail(.missingKey, "metadata key '\(key)' is missing")
            }
            return v
        }
        func uint64(_ key: String) throws(ModelFileError) -> UInt64 {
            let text = try string(key)
            guard let v = UInt64(text) else {
                throw fail(
                    .badValue, "metadata '\(key)': expected an unsigned 64-bit integer, found \"\(text.prefix(64))\"")
            }
            return v
        }
        func double(_ key: String) throws(ModelFileError) -> Double {
            let text = try string(key)
            guard let v = Double(text), v.isFinite else {
                throw fail(.badValue, "metadata '\(key)': expected a finite number, found \"\(text.prefix(64))\"")
            }
            return v
        }

        // Stage 1: format and integrity, before any field is trusted.
        guard let f = metadata["format"] else {
            throw fail(
                .missingKey, "metadata key 'format' is missing (expected \"\(format)\"; not a trainer state file)")
        }
        guard f == format else {
            throw fail(.badValue, "metadata 'format' is \"\(f.prefix(64))\", expected \"\(format)\"")
        }
        let version = try string("format_version")
        guard version == String(formatVersion) else {
            throw fail(
                .unsupportedVersion,
                "metadata 'format_version' is \"\(version.prefix(32))\", this build reads version \(formatVersion)")
        }
        try TensorChecksum.verify(file, required: true)

        // Stage 2: shape and optimizer fields.
        let n = try int("adapter_layers", minimum: 1)
        let k = try int("adapter_len", minimum: 1)
        let firstLayer = try int("first_layer")
        let modelLayers = try int("model_layers", minimum: 1)
        let dim = try int("dim", minimum: 1)
        let heads = try int("heads", minimum: 1)
        guard firstLayer + n == modelLayers else {
            throw fail(
                .badValue,
                "metadata 'first_layer' is \(firstLayer), expected \(modelLayers - n) (model_layers − adapter_layers)")
        }
        let kindText = try string("optimizer.kind")
        guard let kind = OptimizerConfig.Kind(rawValue: kindText) else {
            throw fail(
                .badValue,
                "metadata 'optimizer.kind' is \"\(kindText.prefix(32))\", expected one of "
                    + OptimizerConfig.Kind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        var config = OptimizerConfig()
        config.kind = kind
        config.beta1 = try double("optimizer.beta1")
        config.beta2 = try double("optimizer.beta2")
        config.eps = try double("optimizer.eps")
        config.weightDecay = try double("optimizer.weight_decay")
        config.clip = try double("optimizer.clip")

        // An AdapterShape comes from a LlamaConfig; this one carries just the sizes the shape reads.
        let sizes = LlamaConfig(
            layers: modelLayers, dim: dim, heads: heads, kvHeads: heads, ffnDim: 1, vocabSize: 1, normEps: 1,
            ropeTheta: 1, ropeLayout: .interleaved, contextLength: 1, tiedEmbeddings: true)
        let shape = AdapterShape(config: sizes, layers: n, length: k)
        let nk = n.multipliedReportingOverflow(by: k)
        let nkd = nk.partialValue.multipliedReportingOverflow(by: dim)
        let nh = n.multipliedReportingOverflow(by: heads)
        let total = nkd.partialValue.addingReportingOverflow(nh.partialValue)
        guard !nk.overflow, !nkd.overflow, !nh.overflow, !total.overflow else {
            throw fail(.badValue, "adapter shape N \(n), K \(k), D \(dim), H \(heads) is too large to address")
        }

        // Stage 3: tensors.
        func tensor(_ name: String, allowEmpty: Bool) throws(ModelFileError) -> [Float] {
            guard let info = file.tensorInfo(named: name) else { throw fail(.missingKey, "tensor '\(name)' not found") }
            guard info.type == .f32 else {
                throw fail(.unsupportedType, "tensor '\(name)' is \(info.type), expected F32 (trainer state is exact)")
            }
            let expected = shape.parameterCount
            guard info.shape == [expected] || (allowEmpty && info.shape == [0]) else {
                throw fail(
                    .badValue,
                    "tensor '\(name)': shape \(info.shape), expected [\(expected)] (N \(n), K \(k), D \(dim), H \(heads))"
                        + (allowEmpty ? " or [0]" : ""))
            }
            let values = info.elementCount == 0 ? [] : try file.floats(of: info)
            try CheckpointValidation.requireFinite(values, tensor: name, file: path)
            return values
        }
        let params = try tensor("params", allowEmpty: false)
        let m = try tensor("adam.m", allowEmpty: true)
        let v = try tensor("adam.v", allowEmpty: true)
        let momentsExpected = kind == .adamw ? params.count : 0
        guard m.count == momentsExpected, v.count == momentsExpected else {
            throw fail(
                .badValue,
                "tensors 'adam.m' / 'adam.v' hold \(m.count) / \(v.count) values, "
                    + "expected \(momentsExpected) for optimizer '\(kind.rawValue)'")
        }
        var extraTensors: [String: [Float]] = [:]
        for info in file.tensorInfos where !reservedTensors.contains(info.name) {
            guard info.type == .f32, info.shape.count == 1 else {
                throw fail(
                    .badValue, "tensor '\(info.name)': \(info.type) \(info.shape), expected a 1-dimensional F32 buffer")
            }
            let values = info.elementCount == 0 ? [] : try file.floats(of: info)
            try CheckpointValidation.requireFinite(values, tensor: info.name, file: path)
            extraTensors[info.name] = values
        }

        var optimizer = OptimizerState(config: config, parameterCount: params.count)
        optimizer.step = try int("optimizer.step")
        optimizer.m = m
        optimizer.v = v
        var extra: [String: String] = [:]
        for (key, value) in metadata where key.hasPrefix("extra.") { extra[String(key.dropFirst(6))] = value }

        return TrainerState(
            params: AdapterParameters(shape: shape, values: params), optimizer: optimizer,
            nextStep: try int("next_step"),
            epoch: try int("epoch"), seed: try uint64("seed"), rngState: try uint64("rng_state"),
            modelSHA256: try string("model_sha256"), dataSHA256: try string("data_sha256"),
            configJSON: try string("config"), extra: extra, extraTensors: extraTensors)
    }

    /// Checks that this state can resume on the given model and data; `file` names the state in
    /// errors. Pass nil for a fingerprint not to check it.
    public func check(model config: LlamaConfig, modelSHA256: String?, dataSHA256: String?, file: String)
        throws(ModelFileError)
    {
        if let ours = modelSHA256, ours != self.modelSHA256 {
            throw ModelFileError(
                .badValue, file: file,
                "metadata 'model_sha256': the state was saved for model \(self.modelSHA256), "
                    + "but the loaded model's fingerprint is \(ours)")
        }
        if let ours = dataSHA256, ours != self.dataSHA256 {
            throw ModelFileError(
                .badValue, file: file,
                "metadata 'data_sha256': the state was saved for data \(self.dataSHA256), but the data's fingerprint is \(ours)"
            )
        }
        let s = params.shape
        guard s.dim == config.dim, s.heads == config.heads, s.firstLayer + s.layers == config.layers else {
            throw ModelFileError(
                .badValue, file: file,
                "adapter shape (model layers \(s.firstLayer + s.layers), dim \(s.dim), heads \(s.heads)) does not fit "
                    + "the model (layers \(config.layers), dim \(config.dim), heads \(config.heads))")
        }
    }
}
