import ArgumentParser
import Foundation
import Kernels
import Llama
import ModelFiles
import Tokenizers
import Training

/// Options shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model: a .gguf file or a Hugging Face folder (config.json + safetensors). Default: $ADAPTERPS_MODEL or models/SmolLM2-135M-Instruct.Q4_1.gguf.")
    var model: String?

    @Option(name: .long, help: "Compute threads (default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "How frozen weights are held: resident (F32 in memory) or streaming (stored type, one block dequantized at a time). Default: resident when it fits in 3 GiB.")
    var weights: String?

    var modelPath: String { resolvedPath(fileDefaults: [:]) }

    /// --model, else the config file's `model`, else $ADAPTERPS_MODEL, else the default model.
    func resolvedPath(fileDefaults: [String: Any]) -> String {
        model ?? fileDefaults["model"] as? String ?? ProcessInfo.processInfo.environment["ADAPTERPS_MODEL"]
            ?? "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    /// Loads the model and, for GGUF files, the tokenizer stored in it.
    func load(fileDefaults: [String: Any] = [:]) throws -> (LlamaModel, (any Tokenizer)?) {
        Matmul.setThreads(threads ?? fileDefaults["threads"] as? Int ?? ProcessInfo.processInfo.activeProcessorCount)
        let modelPath = resolvedPath(fileDefaults: fileDefaults)
        var residency: WeightResidency?
        if let w = weights {
            guard let r = WeightResidency(rawValue: w) else {
                throw CLIError.badInput("--weights must be 'resident' or 'streaming', got '\(w)'")
            }
            residency = r
        }
        let llama = try LlamaModel.load(path: modelPath, residency: residency)
        return (llama, try loadTokenizer(modelPath))
    }
}

/// The tokenizer of a GGUF model file; nil for a Hugging Face folder (this build reads tokenizers
/// from GGUF only).
func loadTokenizer(_ path: String) throws -> (any Tokenizer)? {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { return nil }
    do {
        return try TokenizerLoader.load(ggufPath: path)
    } catch let error as ModelFileError {
        throw error
    } catch {
        throw CLIError.badInput("\(path): tokenizer: \(error)")
    }
}

extension ModelOptions {
    /// For the text commands: the model, its tokenizer (required), and the adapter file if given,
    /// checked against the model's shape and fingerprint.
    func loadForText(adapter: String?) throws -> (LlamaModel, any Tokenizer, AdapterParameters?) {
        let (llama, tok) = try load()
        guard let tokenizer = tok else {
            throw CLIError.badInput("\(llama.path): the model carries no tokenizer this build can read")
        }
        let params = try adapter.map { try AdapterCheckpoint.read(path: $0, model: llama.config, modelSHA256: llama.fingerprint).0 }
        return (llama, tokenizer, params)
    }
}
