import Foundation
import Kernels
import Llama
import ModelFiles

// The adapter file (DESIGN §9), version 1: a safetensors file.
//
//   tensors   adapter.prompt   F32 [N, K, D]   prompts of the top N blocks, lowest adapted block first
//             adapter.gate     F32 [N, H]      raw gate parameters (the model uses tanh(gate))
//   metadata  format           "adapterps.adapter"
//             format_version   "1"
//             first_layer      model layers − N (this project adapts the top N blocks)
//             model_layers     blocks in the base model
//             model_sha256     the base model's fingerprint (`LlamaModel.fingerprint`)
//             step             optimizer updates behind these values
//             checksum_sha256  see TensorChecksum.swift
//             …                anything the writer passes through (`config`: the training config as JSON)
//
// Reading is lenient where it can be and strict where it matters: F16 and BF16 tensors are
// accepted, and every metadata key is optional — a file made by hand or by another tool is used
// when its shapes fit the model — but what is present must agree with the model: a different
// `model_sha256`, `model_layers` or `first_layer` is refused, as is a stored checksum that does
// not match, a non-finite value, or another adapterps format (such as the trainer state).

/// What an adapter file said about itself besides its tensors.
public struct AdapterCheckpointInfo: Sendable, Equatable {
    public let path: String
    /// The whole `__metadata__` object (empty for a file without metadata).
    public let metadata: [String: String]
    /// Lowest adapted block: model layers − N.
    public let firstLayer: Int
    /// Optimizer updates behind the values, when the file says.
    public let step: Int?
    public let modelSHA256: String?
    public let modelLayers: Int?
    /// The training config JSON (`config`), when present.
    public let config: String?
    /// Stored type of `adapter.prompt` (F32, F16 or BF16).
    public let storedType: GGMLType
    /// Whether a `checksum_sha256` was present (and so verified).
    public let checksumVerified: Bool

    public var hasMetadata: Bool { !metadata.isEmpty }
}

/// Reads and writes the adapter file (layout above).
public enum AdapterCheckpoint {
    public static let format = "adapterps.adapter"
    public static let formatVersion = 1
    public static let promptTensor = "adapter.prompt"
    public static let gateTensor = "adapter.gate"
    /// Metadata keys this type writes; `extra` may not use them.
    public static let reservedKeys: Set<String> = [
        "format", "format_version", "first_layer", "model_layers", "model_sha256", "step", TensorChecksum.key,
    ]

    /// Writes `params` atomically. `modelLayers` is the base model's block count (the adapter covers
    /// its top `params.shape.layers`); `extra` is passed through into the metadata (the training
    /// config goes under `config`). Throws `.badValue` for a non-finite parameter (such a file
    /// would be refused on reading) and `.io` when the file cannot be written.
    public static func write(
        _ params: AdapterParameters, to path: String, modelSHA256: String, modelLayers: Int, step: Int,
        extra: [String: String] = [:]
    ) throws(ModelFileError) {
        let shape = params.shape
        precondition(
            shape.firstLayer + shape.layers == modelLayers,
            "adapter covers blocks \(shape.firstLayer)..<\(shape.firstLayer + shape.layers), model has \(modelLayers)")
        precondition(step >= 0, "negative step \(step)")
        for key in extra.keys { precondition(!reservedKeys.contains(key), "metadata key '\(key)' is reserved") }
        let promptValues = Array(params.values[0..<shape.promptCount])
        let gateValues = Array(params.values[shape.promptCount...])
        try CheckpointValidation.requireFinite(promptValues, tensor: promptTensor, file: path)
        try CheckpointValidation.requireFinite(gateValues, tensor: gateTensor, file: path)

        var metadata = extra
        metadata["format"] = format
        metadata["format_version"] = String(formatVersion)
        metadata["first_layer"] = String(shape.firstLayer)
        metadata["model_layers"] = String(modelLayers)
        metadata["model_sha256"] = modelSHA256
        metadata["step"] = String(step)
        try TensorChecksum.write(
            [
                NamedTensor(name: promptTensor, shape: [shape.layers, shape.length, shape.dim], values: promptValues),
                NamedTensor(name: gateTensor, shape: [shape.layers, shape.heads], values: gateValues),
            ], metadata: metadata, to: path)
    }

    /// Reads an adapter file for a model of shape `config`. When `modelSHA256` is given and the file
    /// names a model fingerprint, the two must agree. Every refusal is a `ModelFileError` naming the
    /// file and the tensor or metadata key, with what was expected and what was found.
    public static func read(path: String, model config: LlamaConfig, modelSHA256: String?) throws(ModelFileError)
        -> (AdapterParameters, AdapterCheckpointInfo)
    {
        let file = try SafetensorsFile(path: path)
        let metadata = file.metadata
        func fail(_ kind: ModelFileError.Kind, _ message: String) -> ModelFileError {
            ModelFileError(kind, file: path, message)
        }

        // Stage 1: which format this is. Foreign tools write their own `format` (e.g. "pt"); those
        // are fine. Another adapterps format is a mistake worth naming.
        if let f = metadata["format"], f != format, f.hasPrefix("adapterps.") {
            throw fail(.badValue, "metadata 'format' is \"\(f)\", expected \"\(format)\" (an adapter file)")
        }
        if metadata["format"] == format, let v = metadata["format_version"], v != String(formatVersion) {
            throw fail(
                .unsupportedVersion,
                "metadata 'format_version' is \"\(v.prefix(32))\", this build reads version \(formatVersion)")
        }

        // Stage 2: the model it was made for.
        if let theirs = metadata["model_sha256"], let ours = modelSHA256, theirs != ours {
            throw fail(
                .badValue,
                "metadata 'model_sha256': the adapter was trained on model \(theirs), "
                    + "but the loaded model's fingerprint is \(ours)")
        }
        let modelLayers = try CheckpointValidation.int("model_layers", in: metadata, file: path, minimum: 1)
        if let m = modelLayers, m != config.layers {
            throw fail(.badValue, "metadata 'model_layers' is \(m), the model has \(config.layers) layers")
        }

        // Stage 3: tensor shapes, against each other and the model.
        guard let prompt = file.tensorInfo(named: promptTensor) else {
            throw fail(.missingKey, "tensor '\(promptTensor)' not found (expected shape [N, K, \(config.dim)])")
        }
        guard let gate = file.tensorInfo(named: gateTensor) else {
            throw fail(.missingKey, "tensor '\(gateTensor)' not found (expected shape [N, \(config.heads)])")
        }
        guard prompt.shape.count == 3 else {
            throw fail(.badValue, "tensor '\(promptTensor)': shape \(prompt.shape), expected [N, K, D] (3 dimensions)")
        }
        let (n, k, d) = (prompt.shape[0], prompt.shape[1], prompt.shape[2])
        guard n >= 1, n <= config.layers else {
            throw fail(
                .badValue,
                "tensor '\(promptTensor)': shape \(prompt.shape) has N = \(n) adapted layers, "
                    + "expected 1…\(config.layers) (the model's layers)")
        }
        guard k >= 1 else {
            throw fail(.badValue, "tensor '\(promptTensor)': shape \(prompt.shape) has prompt length K = 0")
        }
        guard d == config.dim else {
            throw fail(
                .badValue,
                "tensor '\(promptTensor)': shape \(prompt.shape) has D = \(d), the model's dim is \(config.dim)")
        }
        guard gate.shape == [n, config.heads] else {
            throw fail(
                .badValue,
                "tensor '\(gateTensor)': shape \(gate.shape), expected [\(n), \(config.heads)] "
                    + "(N from '\(promptTensor)', one gate per query head)")
        }
        let firstLayer = config.layers - n
        if let stored = try CheckpointValidation.int("first_layer", in: metadata, file: path), stored != firstLayer {
            throw fail(
                .badValue,
                "metadata 'first_layer' is \(stored), expected \(firstLayer): the adapter has \(n) layers and "
                    + "adapts the top \(n) of the model's \(config.layers)")
        }
        let step = try CheckpointValidation.int("step", in: metadata, file: path)

        // Stage 4: contents.
        let verified = try TensorChecksum.verify(file, required: false)
        let promptValues = try file.floats(of: prompt)
        let gateValues = try file.floats(of: gate)
        try CheckpointValidation.requireFinite(promptValues, tensor: promptTensor, file: path)
        try CheckpointValidation.requireFinite(gateValues, tensor: gateTensor, file: path)

        let shape = AdapterShape(config: config, layers: n, length: k)
        let params = AdapterParameters(shape: shape, values: promptValues + gateValues)
        let info = AdapterCheckpointInfo(
            path: path, metadata: metadata, firstLayer: firstLayer, step: step, modelSHA256: metadata["model_sha256"],
            modelLayers: modelLayers, config: metadata["config"], storedType: prompt.type, checksumVerified: verified)
        return (params, info)
    }
}
