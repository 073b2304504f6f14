import Foundation
import Kernels
import ModelFiles

/// The shape of a LLaMA-family model, built once from the model file by a throwing init that
/// names the missing or bad field. No other code in the project hard-codes a size or epsilon.
public struct LlamaConfig: Sendable, Equatable, Codable {
    public var layers: Int
    public var dim: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var ffnDim: Int
    public var vocabSize: Int
    public var normEps: Float
    public var ropeTheta: Double
    public var ropeLayout: RoPELayout
    public var contextLength: Int
    public var tiedEmbeddings: Bool

    /// Query heads that share one key/value head.
    public var groupSize: Int { heads / kvHeads }
    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    /// Frozen parameters: embedding, blocks (projections and both norms), final norm, separate head.
    public var parameterCount: Int {
        let block = 2 * dim * qDim + 2 * dim * kvDim + 3 * dim * ffnDim + 2 * dim
        return vocabSize * dim * (tiedEmbeddings ? 1 : 2) + layers * block + dim
    }

    public init(
        layers: Int, dim: Int, heads: Int, kvHeads: Int, headDim: Int? = nil, ffnDim: Int, vocabSize: Int,
        normEps: Float, ropeTheta: Double, ropeLayout: RoPELayout, contextLength: Int, tiedEmbeddings: Bool
    ) {
        self.layers = layers
        self.dim = dim
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim ?? dim / max(heads, 1)
        self.ffnDim = ffnDim
        self.vocabSize = vocabSize
        self.normEps = normEps
        self.ropeTheta = ropeTheta
        self.ropeLayout = ropeLayout
        self.contextLength = contextLength
        self.tiedEmbeddings = tiedEmbeddings
    }

    /// Checks the sizes fit together; `file` names the source in the error.
    func validated(file: String) throws(ModelFileError) -> LlamaConfig {
        func bad(_ msg: String) -> ModelFileError { ModelFileError(.badValue, file: file, msg) }
        guard layers > 0, dim > 0, heads > 0, kvHeads > 0, ffnDim > 0, vocabSize > 0 else {
            throw bad("model sizes must be positive (layers \(layers), dim \(dim), heads \(heads), "
                + "kv heads \(kvHeads), ffn \(ffnDim), vocab \(vocabSize))")
        }
        guard heads % kvHeads == 0 else { throw bad("head count \(heads) is not a multiple of kv heads \(kvHeads)") }
        guard headDim > 0, headDim % 2 == 0 else { throw bad("head dim \(headDim) must be even and positive") }
        guard normEps > 0, ropeTheta > 0 else { throw bad("rms eps \(normEps) and rope theta \(ropeTheta) must be > 0") }
        return self
    }
}

extension LlamaConfig {
    /// Reads `llama.*` keys of a GGUF file (as llama.cpp's converter writes them).
    public init(gguf: GGUFFile) throws(ModelFileError) {
        let file = gguf.path
        guard let arch = gguf.string("general.architecture") else {
            throw ModelFileError(.missingKey, file: file, "metadata key 'general.architecture' is missing")
        }
        guard arch == "llama" else {
            throw ModelFileError(.unknownArchitecture, file: file,
                "architecture '\(arch)' is not supported (expected 'llama')")
        }
        func int(_ key: String) throws(ModelFileError) -> Int {
            guard let v = gguf.int("\(arch).\(key)") else {
                throw ModelFileError(.missingKey, file: file, "metadata key '\(arch).\(key)' is missing or not an integer")
            }
            return v
        }
        let heads = try int("attention.head_count")
        let dim = try int("embedding_length")
        guard let embed = gguf.tensorInfo(named: "token_embd.weight") else {
            throw ModelFileError(.missingKey, file: file, "tensor 'token_embd.weight' not found")
        }
        let headDim = gguf.int("\(arch).attention.key_length") ?? dim / max(heads, 1)
        if let ropeDim = gguf.int("\(arch).rope.dimension_count"), ropeDim != headDim {
            throw ModelFileError(.badValue, file: file,
                "partial rotary embedding (rope.dimension_count \(ropeDim) ≠ head dim \(headDim)) is not supported")
        }
        self.init(
            layers: try int("block_count"), dim: dim, heads: heads,
            kvHeads: gguf.int("\(arch).attention.head_count_kv") ?? heads, headDim: headDim,
            ffnDim: try int("feed_forward_length"),
            vocabSize: gguf.int("\(arch).vocab_size") ?? embed.shape.first ?? 0,
            normEps: Float(gguf.float("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5),
            ropeTheta: gguf.float("\(arch).rope.freq_base") ?? 10_000,
            ropeLayout: .interleaved,
            contextLength: gguf.int("\(arch).context_length") ?? 2048,
            tiedEmbeddings: gguf.tensorInfo(named: "output.weight") == nil)
        self = try validated(file: file)
    }

    /// Reads a Hugging Face `config.json` (LlamaForCausalLM); weights use the half-split RoPE layout.
    public init(huggingFaceConfig url: URL) throws(ModelFileError) {
        let file = url.path
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        } catch {
            throw ModelFileError(.corrupt, file: file, "not valid JSON: \(error.localizedDescription)")
        }
        guard let json = object as? [String: Any] else {
            throw ModelFileError(.corrupt, file: file, "expected a JSON object at the top level")
        }
        if let type = json["model_type"] as? String, type != "llama" {
            throw ModelFileError(.unknownArchitecture, file: file, "model_type '\(type)' is not supported (expected 'llama')")
        }
        func int(_ key: String) throws(ModelFileError) -> Int {
            guard let v = json[key] as? Int else {
                throw ModelFileError(.missingKey, file: file, "key '\(key)' is missing or not an integer")
            }
            return v
        }
        let heads = try int("num_attention_heads")
        let dim = try int("hidden_size")
        self.init(
            layers: try int("num_hidden_layers"), dim: dim, heads: heads,
            kvHeads: json["num_key_value_heads"] as? Int ?? heads,
            headDim: json["head_dim"] as? Int ?? dim / max(heads, 1),
            ffnDim: try int("intermediate_size"), vocabSize: try int("vocab_size"),
            normEps: Float(json["rms_norm_eps"] as? Double ?? 1e-6),
            ropeTheta: json["rope_theta"] as? Double ?? 10_000,
            ropeLayout: .halfSplit,
            contextLength: json["max_position_embeddings"] as? Int ?? 2048,
            tiedEmbeddings: json["tie_word_embeddings"] as? Bool ?? false)
        self = try validated(file: file)
    }
}
