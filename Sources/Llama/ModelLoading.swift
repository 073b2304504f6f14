import Foundation
import ModelFiles

extension LlamaModel {
    /// Opens a model: a `.gguf` file, or a Hugging Face folder (`config.json` + `*.safetensors`).
    /// Errors name the file and what is wrong with it.
    public static func load(path: String, residency: WeightResidency? = nil) throws(ModelFileError) -> LlamaModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError(.notFound, file: path, "no such file or folder")
        }
        return isDir.boolValue
            ? try loadHuggingFace(folder: path, residency: residency)
            : try loadGGUF(path: path, residency: residency)
    }

    static func loadGGUF(path: String, residency: WeightResidency?) throws(ModelFileError) -> LlamaModel {
        let gguf = try GGUFFile(path: path)
        let config = try LlamaConfig(gguf: gguf)
        let source = TensorSource(stores: [gguf], translate: { $0 }, describe: path)
        let weights = try LlamaWeights(config: config, source: source, residency: residency)
        return LlamaModel(config: config, weights: weights, path: path,
            fingerprint: try Fingerprint.sha256(file: path))
    }

    /// Hugging Face layout: `config.json` and one or more `*.safetensors` (sharded files are all
    /// read).
    static func loadHuggingFace(folder: String, residency: WeightResidency?) throws(ModelFileError) -> LlamaModel {
        let dir = URL(fileURLWithPath: folder)
        let config = try LlamaConfig(huggingFaceConfig: dir.appendingPathComponent("config.json"))
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
                .filter { $0.hasSuffix(".safetensors") }.sorted()
        } catch {
            throw ModelFileError(.io, file: folder, "cannot list folder: \(error.localizedDescription)")
        }
        guard !names.isEmpty else { throw ModelFileError(.notFound, file: folder, "no .safetensors files in folder") }
        var stores: [SafetensorsFile] = []
        for name in names { stores.append(try SafetensorsFile(path: dir.appendingPathComponent(name).path)) }
        let source = TensorSource(stores: stores, translate: TensorSource.huggingFaceName, describe: folder)
        let weights = try LlamaWeights(config: config, source: source, residency: residency)
        var prints: [String] = []
        for name in ["config.json"] + names {
            prints.append(try Fingerprint.sha256(file: dir.appendingPathComponent(name).path))
        }
        return LlamaModel(config: config, weights: weights, path: folder,
            fingerprint: Fingerprint.sha256(strings: prints))
    }
}
