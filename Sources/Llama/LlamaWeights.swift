import Foundation
import Kernels
import ModelFiles

/// The stored (possibly quantized) weights of one transformer block, named as in GGUF.
public struct StoredLayer: Sendable {
    public let attnNorm: [Float]  // (D)
    public let wq: FrozenMatrix  // (H·hd, D)
    public let wk: FrozenMatrix  // (G·hd, D)
    public let wv: FrozenMatrix  // (G·hd, D)
    public let wo: FrozenMatrix  // (D, H·hd)
    public let ffnNorm: [Float]  // (D)
    public let wGate: FrozenMatrix  // (F, D)
    public let wUp: FrozenMatrix  // (F, D)
    public let wDown: FrozenMatrix  // (D, F)

    public var matrices: [FrozenMatrix] { [wq, wk, wv, wo, wGate, wUp, wDown] }
}

/// One block's weights dequantized to F32, in buffers that live as long as this object. In
/// streaming residency a single instance is refilled layer after layer.
public final class DenseLayer: @unchecked Sendable {
    public var wq: [Float], wk: [Float], wv: [Float], wo: [Float]
    public var wGate: [Float], wUp: [Float], wDown: [Float]
    public private(set) var loadedLayer: Int = -1

    init(config c: LlamaConfig) {
        wq = [Float](repeating: 0, count: c.qDim * c.dim)
        wk = [Float](repeating: 0, count: c.kvDim * c.dim)
        wv = [Float](repeating: 0, count: c.kvDim * c.dim)
        wo = [Float](repeating: 0, count: c.dim * c.qDim)
        wGate = [Float](repeating: 0, count: c.ffnDim * c.dim)
        wUp = [Float](repeating: 0, count: c.ffnDim * c.dim)
        wDown = [Float](repeating: 0, count: c.dim * c.ffnDim)
    }

    func load(_ layer: StoredLayer, index: Int) {
        guard loadedLayer != index else { return }
        layer.wq.dequantize(into: &wq)
        layer.wk.dequantize(into: &wk)
        layer.wv.dequantize(into: &wv)
        layer.wo.dequantize(into: &wo)
        layer.wGate.dequantize(into: &wGate)
        layer.wUp.dequantize(into: &wUp)
        layer.wDown.dequantize(into: &wDown)
        loadedLayer = index
    }
}

/// How frozen block weights are held in memory.
public enum WeightResidency: String, Sendable, CaseIterable {
    /// Every block dequantized to F32 once at load (fast; 4 bytes per parameter).
    case resident
    /// Blocks stay in their stored type and are dequantized one at a time into one reused buffer
    /// (a 7B Q4 model fits in ~5 GB; costs a dequantization pass per block per forward).
    case streaming
    /// `resident` when the F32 blocks fit in `limitBytes`, else `streaming`.
    public static func automatic(config: LlamaConfig, limitBytes: Int = 3 << 30) -> WeightResidency {
        let perLayer = 2 * config.qDim * config.dim + 2 * config.kvDim * config.dim + 3 * config.ffnDim * config.dim
        return perLayer * config.layers * 4 <= limitBytes ? .resident : .streaming
    }
}

/// All frozen weights of a LLaMA model, read from a GGUF file or a Hugging Face folder.
public final class LlamaWeights: @unchecked Sendable {
    public let config: LlamaConfig
    public let tokenEmbedding: FrozenMatrix  // (V, D)
    public let outputNorm: [Float]  // (D)
    /// The LM head dequantized (V, D); the embedding itself when tied.
    public let output: [Float]
    public let layers: [StoredLayer]
    public let residency: WeightResidency
    private var dense: [DenseLayer]

    init(config: LlamaConfig, source: TensorSource, residency: WeightResidency?) throws(ModelFileError) {
        self.config = config
        let c = config
        func matrix(_ name: String, _ rows: Int, _ cols: Int) throws(ModelFileError) -> FrozenMatrix {
            let (store, info) = try source.find(name)
            return try FrozenMatrix(store: store, info: info, rows: rows, cols: cols)
        }
        func vector(_ name: String, _ n: Int) throws(ModelFileError) -> [Float] {
            let (store, info) = try source.find(name)
            guard info.elementCount == n else {
                throw ModelFileError(.badValue, file: store.path,
                    "tensor '\(info.name)' has shape \(info.shape), expected [\(n)]")
            }
            return try store.floats(of: info)
        }
        tokenEmbedding = try matrix("token_embd.weight", c.vocabSize, c.dim)
        outputNorm = try vector("output_norm.weight", c.dim)
        output = c.tiedEmbeddings ? tokenEmbedding.dense() : try matrix("output.weight", c.vocabSize, c.dim).dense()
        var layers: [StoredLayer] = []
        for i in 0..<c.layers {
            let p = "blk.\(i)."
            layers.append(StoredLayer(
                attnNorm: try vector(p + "attn_norm.weight", c.dim),
                wq: try matrix(p + "attn_q.weight", c.qDim, c.dim),
                wk: try matrix(p + "attn_k.weight", c.kvDim, c.dim),
                wv: try matrix(p + "attn_v.weight", c.kvDim, c.dim),
                wo: try matrix(p + "attn_output.weight", c.dim, c.qDim),
                ffnNorm: try vector(p + "ffn_norm.weight", c.dim),
                wGate: try matrix(p + "ffn_gate.weight", c.ffnDim, c.dim),
                wUp: try matrix(p + "ffn_up.weight", c.ffnDim, c.dim),
                wDown: try matrix(p + "ffn_down.weight", c.dim, c.ffnDim)))
        }
        self.layers = layers
        let mode = residency ?? .automatic(config: c)
        self.residency = mode
        switch mode {
        case .resident:
            dense = layers.enumerated().map { i, layer in
                let d = DenseLayer(config: c)
                d.load(layer, index: i)
                return d
            }
        case .streaming:
            dense = [DenseLayer(config: c)]
        }
    }

    /// Block `i` as F32. In streaming residency the returned object is refilled by the next call.
    public func denseLayer(_ i: Int) -> DenseLayer {
        switch residency {
        case .resident: return dense[i]
        case .streaming:
            dense[0].load(layers[i], index: i)
            return dense[0]
        }
    }

    /// Bytes of weights held in memory beyond the mapped file (dequantized copies).
    public var residentBytes: Int {
        let denseBytes = dense.count * layers[0].matrices.reduce(0) { $0 + $1.rows * $1.cols } * 4
        return denseBytes + output.count * 4
    }
}

/// Finds weights by their GGUF names in one or more tensor stores, translating names for
/// Hugging Face layouts.
struct TensorSource {
    let stores: [any TensorStore]
    let translate: (String) -> String
    let describe: String

    func find(_ ggufName: String) throws(ModelFileError) -> (any TensorStore, TensorInfo) {
        let name = translate(ggufName)
        for store in stores {
            if let info = store.tensorInfo(named: name) { return (store, info) }
        }
        throw ModelFileError(.missingKey, file: describe, "tensor '\(name)' not found")
    }

    /// Hugging Face `LlamaForCausalLM` names for the GGUF names used throughout.
    static func huggingFaceName(_ gguf: String) -> String {
        let fixed = [
            "token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
            "output.weight": "lm_head.weight",
        ]
        if let n = fixed[gguf] { return n }
        let parts = gguf.split(separator: ".")
        guard parts.count == 4, parts[0] == "blk" else { return gguf }
        let map = [
            "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
            "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
            "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
        ]
        guard let m = map[String(parts[2])] else { return gguf }
        return "model.layers.\(parts[1]).\(m).\(parts[3])"
    }
}
