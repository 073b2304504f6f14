import Foundation
import Kernels
import ModelFiles

/// A frozen LLaMA: RMSNorm → grouped-query attention with RoPE → residual → RMSNorm → SwiGLU MLP →
/// residual, repeated; final RMSNorm and LM head. Sequences of different lengths run packed
/// together (no padding): every row of the (T, D) activations is one token of one sequence.
///
/// Legend: T packed tokens, D model dim, H query heads, G kv heads, hd head dim, F ffn dim, V vocab.
public final class LlamaModel: @unchecked Sendable {
    public let config: LlamaConfig
    public let weights: LlamaWeights
    /// Where the model came from, and its fingerprint (SHA-256 of the file or folder).
    public let path: String
    public let fingerprint: String
    private var rope: RoPETable

    init(config: LlamaConfig, weights: LlamaWeights, path: String, fingerprint: String) {
        self.config = config
        self.weights = weights
        self.path = path
        self.fingerprint = fingerprint
        self.rope = RoPETable(headDim: config.headDim, theta: config.ropeTheta, positions: min(config.contextLength, 4096))
    }

    /// Which positions of each sequence need logits.
    public enum LogitRows: Sendable {
        case all
        case last
        case none
    }

    /// Runs `sequences` through the model and returns, per sequence, logits for the requested rows:
    /// (rows, V) flattened. With `caches`, each sequence continues its own cache (generation);
    /// without, each starts at position 0. With `adapter`, its blocks add the prompt branch.
    public func forward(
        _ sequences: [[Int32]], caches: [KVCache]? = nil, adapter: AdapterParameters? = nil, logits: LogitRows = .all
    ) -> [[Float]] {
        var pass = ForwardPass(model: self, sequences: sequences, caches: caches, adapter: adapter, saveLayers: nil)
        pass.run()
        return head(pass.h, lengths: pass.lengths, rows: logits)
    }

    /// Rotary tables covering `n` positions.
    func ropeTable(covering n: Int) -> RoPETable {
        if n > rope.positions { rope.grow(to: n) }
        return rope
    }

    /// One transformer block, in place on h (T, D). `a` receives the block's activations (kept for
    /// the backward in training); `s` is scratch. K/V come from `caches` (appended to) or, when
    /// nil, from this block's own rows (every sequence starts at position 0).
    func block(
        _ l: Int, _ h: inout [Float], _ a: BlockActivations, _ s: inout BlockScratch, positions: [Int32],
        lengths: [Int], caches: [KVCache]?, adapter: AdapterParameters?, save: Bool
    ) {
        let c = config
        let t = positions.count
        let w = weights.denseLayer(l)
        let stored = weights.layers[l]
        let rope = ropeTable(covering: Int(positions.max() ?? 0) + 1)
        if save { a.hIn.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: h, count: t * c.dim) } }
        // Attention: x = RMSNorm(h); q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ; RoPE on q and k.
        RMSNorm.forward(&s.x, &a.rstd1, h, stored.attnNorm, rows: t, channels: c.dim, eps: c.normEps)
        Matmul.linear(&a.q, s.x, w.wq, rows: t, inFeatures: c.dim, outFeatures: c.qDim)
        Matmul.linear(&a.k, s.x, w.wk, rows: t, inFeatures: c.dim, outFeatures: c.kvDim)
        Matmul.linear(&a.v, s.x, w.wv, rows: t, inFeatures: c.dim, outFeatures: c.kvDim)
        RoPE.apply(&a.q, rows: t, stride: c.qDim, heads: c.heads, headDim: c.headDim, positions: positions,
            table: rope, layout: c.ropeLayout)
        RoPE.apply(&a.k, rows: t, stride: c.kvDim, heads: c.kvHeads, headDim: c.headDim, positions: positions,
            table: rope, layout: c.ropeLayout)
        // Token attention, per sequence: o_tok = softmax(q·kᵀ/√hd + causal mask)·v.
        var row = 0
        var probsOffset = 0
        for (i, len) in lengths.enumerated() {
            a.q.withUnsafeBufferPointer { q in
                s.attn.withUnsafeMutableBufferPointer { o in
                    a.probs.withUnsafeMutableBufferPointer { p in
                        let probs = save ? p.baseAddress! + probsOffset : p.baseAddress!
                        if let cache = caches?[i] {
                            cache.append(layer: l, keys: a.k, values: a.v, fromRow: row, count: len)
                            cache.attend(
                                layer: l, out: o.baseAddress! + row * c.qDim, probs: probs,
                                q: q.baseAddress! + row * c.qDim, rows: len, config: c)
                        } else {
                            a.k.withUnsafeBufferPointer { k in
                                a.v.withUnsafeBufferPointer { v in
                                    Attention.causalForward(
                                        o.baseAddress! + row * c.qDim, probs: probs, q.baseAddress! + row * c.qDim,
                                        k.baseAddress! + row * c.kvDim, v.baseAddress! + row * c.kvDim, rows: len,
                                        start: 0, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
                                        saveProbs: save)
                                }
                            }
                        }
                    }
                }
            }
            row += len
            probsOffset += c.heads * len * len
        }
        // Adapter branch (DESIGN §1): o += tanh(gate)·softmax(q·akᵀ/√hd)·av with ak, av the
        // prompt projected by this block's frozen Wk, Wv (no RoPE, no mask).
        if let adapter, let i = adapter.shape.adapterIndex(ofLayer: l) {
            let kk = adapter.shape.length
            adapter.values.withUnsafeBufferPointer { p in
                let prompt = p.baseAddress! + adapter.shape.promptOffset(i)
                Matmul.linear(&a.ak, prompt, w.wk, rows: kk, inFeatures: c.dim, outFeatures: c.kvDim)
                Matmul.linear(&a.av, prompt, w.wv, rows: kk, inFeatures: c.dim, outFeatures: c.kvDim)
                for hd in 0..<c.heads { a.gateTanh[hd] = Foundation.tanh(p[adapter.shape.gateOffset(i) + hd]) }
            }
            Attention.adapterForward(
                &s.attn, probs: &a.adapterProbs, branch: &a.branch, a.q, ak: a.ak, av: a.av, gateTanh: a.gateTanh,
                rows: t, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, slots: kk)
        }
        // h += o · Woᵀ
        Matmul.linear(&h, s.attn, w.wo, rows: t, inFeatures: c.qDim, outFeatures: c.dim, accumulate: true)
        if save { a.hMid.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: h, count: t * c.dim) } }
        // MLP: x = RMSNorm(h); h += (silu(x·Wgᵀ) ⊙ x·Wuᵀ) · Wdᵀ
        RMSNorm.forward(&s.x, &a.rstd2, h, stored.ffnNorm, rows: t, channels: c.dim, eps: c.normEps)
        Matmul.linear(&a.gate, s.x, w.wGate, rows: t, inFeatures: c.dim, outFeatures: c.ffnDim)
        Matmul.linear(&a.up, s.x, w.wUp, rows: t, inFeatures: c.dim, outFeatures: c.ffnDim)
        SwiGLU.forward(&s.act, a.gate, a.up, count: t * c.ffnDim)
        Matmul.linear(&h, s.act, w.wDown, rows: t, inFeatures: c.ffnDim, outFeatures: c.dim, accumulate: true)
    }

    /// Runs block l again on its saved input to refill `a` for the backward (activation
    /// recomputation): the same kernels on the same input give the same numbers.
    func recomputeBlock(_ l: Int, input: [Float], into a: BlockActivations, lengths: [Int], adapter: AdapterParameters) {
        var h = input
        var scratch = BlockScratch(config: config, tokens: h.count / config.dim)
        let positions = lengths.flatMap { (0..<$0).map(Int32.init) }
        block(l, &h, a, &scratch, positions: positions, lengths: lengths, caches: nil, adapter: adapter, save: true)
    }

    /// Final RMSNorm and LM head, only on the rows asked for.
    private func head(_ h: [Float], lengths: [Int], rows: LogitRows) -> [[Float]] {
        let c = config
        if case .none = rows { return lengths.map { _ in [] } }
        var out: [[Float]] = []
        var first = 0
        for len in lengths {
            let (lo, n) = rows == .last ? (first + max(len - 1, 0), min(len, 1)) : (first, len)
            var x = [Float](repeating: 0, count: n * c.dim)
            h.withUnsafeBufferPointer { hp in
                RMSNorm.forward(&x, nil, hp.baseAddress! + lo * c.dim, weights.outputNorm, rows: n, channels: c.dim,
                    eps: c.normEps)
            }
            var logits = [Float](repeating: 0, count: n * c.vocabSize)
            Matmul.linear(&logits, x, weights.output, rows: n, inFeatures: c.dim, outFeatures: c.vocabSize)
            out.append(logits)
            first += len
        }
        return out
    }
}

/// Scratch of one block that the backward does not need: x (T, D), attn (T, H·hd), act (T, F).
struct BlockScratch {
    var x, attn, act: [Float]

    init(config c: LlamaConfig, tokens t: Int) {
        x = [Float](repeating: 0, count: t * c.dim)
        attn = [Float](repeating: 0, count: t * c.qDim)
        act = [Float](repeating: 0, count: t * c.ffnDim)
    }
}

/// What one block computes and its backward reads. In inference one instance serves every block;
/// in training each adapted block keeps its own.
final class BlockActivations {
    var hIn: [Float]  // (T, D) block input (saved only)
    var rstd1: [Float]  // (T)
    var q: [Float]  // (T, H·hd) after RoPE
    var k: [Float]  // (T, G·hd) after RoPE
    var v: [Float]  // (T, G·hd)
    var probs: [Float]  // Σ_seq (H, len, len) when saved, else (len_max, S_max) scratch
    var ak, av: [Float]  // (K, G·hd) prompt keys and values
    var gateTanh: [Float]  // (H)
    var adapterProbs: [Float]  // (T, H, K)
    var branch: [Float]  // (T, H·hd) ungated adapter output
    var hMid: [Float]  // (T, D) after the attention residual (saved only)
    var rstd2: [Float]  // (T)
    var gate, up: [Float]  // (T, F) MLP pre-activations

    init(config c: LlamaConfig, lengths: [Int], keys: Int, adapterLength kk: Int, save: Bool) {
        let t = lengths.reduce(0, +)
        hIn = save ? [Float](repeating: 0, count: t * c.dim) : []
        rstd1 = [Float](repeating: 0, count: t)
        q = [Float](repeating: 0, count: t * c.qDim)
        k = [Float](repeating: 0, count: t * c.kvDim)
        v = [Float](repeating: 0, count: t * c.kvDim)
        let probCount = save ? lengths.reduce(0) { $0 + c.heads * $1 * $1 } : (lengths.max() ?? 0) * keys
        probs = [Float](repeating: 0, count: max(probCount, 1))
        ak = [Float](repeating: 0, count: kk * c.kvDim)
        av = [Float](repeating: 0, count: kk * c.kvDim)
        gateTanh = [Float](repeating: 0, count: c.heads)
        adapterProbs = [Float](repeating: 0, count: kk > 0 ? t * c.heads * kk : 0)
        branch = [Float](repeating: 0, count: kk > 0 ? t * c.qDim : 0)
        hMid = save ? [Float](repeating: 0, count: t * c.dim) : []
        rstd2 = [Float](repeating: 0, count: t)
        gate = [Float](repeating: 0, count: t * c.ffnDim)
        up = [Float](repeating: 0, count: t * c.ffnDim)
    }
}

/// One forward over packed sequences: embeddings, then every block in order. With `saveLayers`
/// (training), blocks from that index up keep their activations for the backward — or, with
/// `recompute`, only their inputs (T, D), from which the backward re-runs each block.
struct ForwardPass {
    let model: LlamaModel
    let sequences: [[Int32]]
    let caches: [KVCache]?
    let adapter: AdapterParameters?
    let saveFrom: Int?
    let lengths: [Int]
    let positions: [Int32]
    var h: [Float]  // (T, D) residual stream
    var saved: [BlockActivations] = []
    /// Block inputs of the saved layers, when recomputing.
    var savedInputs: [[Float]] = []
    let recompute: Bool

    init(
        model: LlamaModel, sequences: [[Int32]], caches: [KVCache]?, adapter: AdapterParameters?, saveLayers: Int?,
        recompute: Bool = false
    ) {
        self.recompute = recompute
        self.model = model
        self.sequences = sequences
        self.caches = caches
        self.adapter = adapter
        self.saveFrom = saveLayers
        let c = model.config
        precondition(caches == nil || caches!.count == sequences.count, "one cache per sequence")
        if let a = adapter { precondition(a.shape == AdapterShape(config: c, layers: a.shape.layers, length: a.shape.length), "adapter shape does not fit the model") }
        lengths = sequences.map(\.count)
        var positions = [Int32]()
        for (i, seq) in sequences.enumerated() {
            let start = caches?[i].length ?? 0
            precondition(start + seq.count <= (caches?[i].capacity ?? Int.max), "sequence \(i) does not fit its KV cache")
            positions += (0..<seq.count).map { Int32(start + $0) }
        }
        self.positions = positions
        h = [Float](repeating: 0, count: positions.count * c.dim)
    }

    mutating func run() {
        let c = model.config
        let t = positions.count
        h.withUnsafeMutableBufferPointer { hp in
            var row = 0
            for seq in sequences {
                for tok in seq {
                    precondition(tok >= 0 && Int(tok) < c.vocabSize, "token id \(tok) out of range")
                    model.weights.tokenEmbedding.dequantizeRow(Int(tok), into: hp.baseAddress! + row * c.dim)
                    row += 1
                }
            }
        }
        let keys = zip(caches?.map(\.length) ?? lengths.map { _ in 0 }, lengths).map { $0 + $1 }.max() ?? 1
        var scratch = BlockScratch(config: c, tokens: t)
        let kk = adapter?.shape.length ?? 0
        let shared = BlockActivations(config: c, lengths: lengths, keys: keys, adapterLength: kk, save: false)
        for l in 0..<c.layers {
            var save = saveFrom.map { l >= $0 } ?? false
            if save && recompute {
                savedInputs.append(h)
                save = false
            }
            let a = save ? BlockActivations(config: c, lengths: lengths, keys: keys, adapterLength: kk, save: true) : shared
            model.block(l, &h, a, &scratch, positions: positions, lengths: lengths, caches: caches, adapter: adapter, save: save)
            if save { saved.append(a) }
        }
        if let caches { for (i, len) in lengths.enumerated() { caches[i].advance(by: len) } }
    }
}
