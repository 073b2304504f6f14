import ArgumentParser
import Foundation
import Kernels
import Llama
import ModelFiles
import Tokenizers

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model file or folder: architecture, tensor types and sizes, tokenizer, fingerprint.")

    @Argument(help: "A .gguf file or a Hugging Face folder.")
    var path: String

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(name: .customLong("tensors"), help: "List every tensor.")
    var listTensors = false

    func run() throws {
        let llama = try LlamaModel.load(path: path, residency: .streaming)
        let tokenizer = try loadTokenizer(path)
        let c = llama.config
        let infos = llama.weights.layers.flatMap { $0.matrices.map(\.info) }
            + [llama.weights.tokenEmbedding.info]
        var byType: [String: (count: Int, bytes: Int)] = [:]
        for i in infos {
            let old = byType[i.type.description] ?? (0, 0)
            byType[i.type.description] = (old.count + 1, old.bytes + i.byteCount)
        }
        let params = c.parameterCount
        if json {
            let types: [String: Any] = byType.mapValues { ["tensors": $0.count, "bytes": $0.bytes] }
            let tokenizerInfo: Any = tokenizer.map { t -> [String: Any] in
                ["vocab_size": t.vocabSize, "adds_bos": t.addsBOS, "bos": t.bosID.map(Int.init) ?? -1,
                 "eos": t.eosID.map(Int.init) ?? -1]
            } ?? NSNull()
            let object: [String: Any] = [
                "path": path, "architecture": "llama", "layers": c.layers, "dim": c.dim, "heads": c.heads,
                "kv_heads": c.kvHeads, "head_dim": c.headDim, "ffn_dim": c.ffnDim, "vocab_size": c.vocabSize,
                "rms_eps": Double(c.normEps), "rope_theta": c.ropeTheta, "rope_layout": c.ropeLayout.rawValue,
                "context_length": c.contextLength, "tied_embeddings": c.tiedEmbeddings, "parameters": params,
                "sha256": llama.fingerprint,
                "tensor_types": types, "tokenizer": tokenizerInfo,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("model        \(path)")
        print("sha256       \(llama.fingerprint)")
        print("architecture llama, \(c.layers) layers, dim \(c.dim), \(c.heads) heads / \(c.kvHeads) kv heads (head dim \(c.headDim)), ffn \(c.ffnDim)")
        print("vocab        \(c.vocabSize), \(c.tiedEmbeddings ? "tied" : "separate") output head")
        print("rope         theta \(c.ropeTheta), \(c.ropeLayout.rawValue) layout; rms eps \(c.normEps); context \(c.contextLength)")
        print(String(format: "parameters   %.1f M", Double(params) / 1e6))
        for (type, v) in byType.sorted(by: { $0.key < $1.key }) {
            print(String(format: "  %-6@ %4d tensors  %8.1f MiB", type, v.count, Double(v.bytes) / 1_048_576))
        }
        if let t = tokenizer {
            let bos = t.bosID.map { String($0) } ?? "none", eos = t.eosID.map { String($0) } ?? "none"
            print("tokenizer    \(t.vocabSize) tokens, bos \(bos) eos \(eos), adds BOS: \(t.addsBOS), chat template: \(t.chatTemplate == nil ? "no" : "yes")")
        } else {
            print("tokenizer    none")
        }
        if listTensors {
            for i in infos.sorted(by: { $0.name < $1.name }) {
                print("  \(i.name)  \(i.shape)  \(i.type)  \(i.byteCount) bytes")
            }
        }
    }
}
