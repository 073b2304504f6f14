import Foundation
import Kernels

/// One training sequence. Labels are aligned as in Hugging Face: the logits at position t − 1 are
/// scored against `labels[t]`; −100 ignores a position (so `labels[0]` is never used).
public struct TrainingSequence: Sendable, Equatable {
    public var inputIDs: [Int32]
    public var labels: [Int32]

    public init(inputIDs: [Int32], labels: [Int32]) {
        precondition(inputIDs.count == labels.count, "labels must align with input ids")
        self.inputIDs = inputIDs
        self.labels = labels
    }

    public static let ignoreIndex: Int32 = -100
    public var labelCount: Int { labels.dropFirst().filter { $0 != Self.ignoreIndex }.count }
}

/// The unnormalised result of one micro-batch: Σ of token cross-entropies over its label tokens,
/// their count, and the gradient of that sum wrt the adapter (same layout as `AdapterParameters`).
/// Dividing by the label count of the whole global batch gives the loss gradient (DESIGN §1).
public struct GradientSum: Sendable, Equatable {
    public var lossSum: Double
    public var labelCount: Int
    public var gradient: [Float]

    public init(lossSum: Double, labelCount: Int, gradient: [Float]) {
        self.lossSum = lossSum
        self.labelCount = labelCount
        self.gradient = gradient
    }
}

extension LlamaModel {
    /// Forward over `batch` with the adapter, then the hand-written backward from the cross-entropy
    /// down to the lowest adapted block and no further. Frozen weights get no gradient (only
    /// dX = dY·W flows through them). `recompute` keeps only each adapted block's input and re-runs
    /// the block before its backward: less memory, one more forward of the adapted blocks, and the
    /// same result bit for bit.
    public func adapterGradient(_ batch: [TrainingSequence], adapter: AdapterParameters, recompute: Bool = false) -> GradientSum {
        let c = config
        let shape = adapter.shape
        var pass = ForwardPass(
            model: self, sequences: batch.map(\.inputIDs), caches: nil, adapter: adapter, saveLayers: shape.firstLayer,
            recompute: recompute)
        pass.run()
        let t = pass.positions.count

        // Label rows: row r (position t − 1 of its sequence) is scored against labels[t].
        var rows: [Int] = []
        var targets: [Int32] = []
        var offset = 0
        for seq in batch {
            for i in 1..<max(seq.labels.count, 1) where seq.labels[i] != TrainingSequence.ignoreIndex {
                precondition(seq.labels[i] >= 0 && Int(seq.labels[i]) < c.vocabSize, "label \(seq.labels[i]) out of range")
                rows.append(offset + i - 1)
                targets.append(seq.labels[i])
            }
            offset += seq.inputIDs.count
        }
        var gradient = [Float](repeating: 0, count: shape.parameterCount)
        guard !rows.isEmpty else { return GradientSum(lossSum: 0, labelCount: 0, gradient: gradient) }

        // dh: (T, D), the gradient of the loss sum wrt the residual stream, filled at label rows.
        var dh = [Float](repeating: 0, count: t * c.dim)
        let lossSum = crossEntropyBackward(h: pass.h, rows: rows, targets: targets, dh: &dh)
        guard shape.layers > 0 else { return GradientSum(lossSum: lossSum, labelCount: rows.count, gradient: gradient) }

        var work = BackwardScratch(config: c, tokens: t, lengths: pass.lengths, slots: shape.length)
        let refilled = recompute
            ? BlockActivations(config: c, lengths: pass.lengths, keys: 0, adapterLength: shape.length, save: true) : nil
        for l in stride(from: c.layers - 1, through: shape.firstLayer, by: -1) {
            let i = l - shape.firstLayer
            let a: BlockActivations
            if let refilled {
                recomputeBlock(l, input: pass.savedInputs[i], into: refilled, lengths: pass.lengths, adapter: adapter)
                a = refilled
            } else {
                a = pass.saved[i]
            }
            blockBackward(
                l, a: a, dh: &dh, w: &work, lengths: pass.lengths, shape: shape, index: i,
                gradient: &gradient, needInputGradient: l > shape.firstLayer)
        }
        return GradientSum(lossSum: lossSum, labelCount: rows.count, gradient: gradient)
    }

    /// Final RMSNorm + LM head at the label rows only; returns Σ −log p(target) and writes
    /// dh[row] = ∂(Σ CE)/∂h[row]. dlogits = softmax − onehot; dx = dlogits · W_out.
    private func crossEntropyBackward(h: [Float], rows: [Int], targets: [Int32], dh: inout [Float]) -> Double {
        let c = config
        let m = rows.count
        var hr = [Float](repeating: 0, count: m * c.dim)  // (M, D) gathered residual rows
        for (j, r) in rows.enumerated() {
            for d in 0..<c.dim { hr[j * c.dim + d] = h[r * c.dim + d] }
        }
        var x = [Float](repeating: 0, count: m * c.dim), rstd = [Float](repeating: 0, count: m)
        RMSNorm.forward(&x, &rstd, hr, weights.outputNorm, rows: m, channels: c.dim, eps: c.normEps)
        var logits = [Float](repeating: 0, count: m * c.vocabSize)  // (M, V), becomes dlogits
        Matmul.linear(&logits, x, weights.output, rows: m, inFeatures: c.dim, outFeatures: c.vocabSize)
        // Per row: loss_j = lse − logit[target]; dlogits = softmax − onehot. Rows in parallel,
        // the loss summed in row order afterwards (the same bits for any thread count).
        var rowLoss = [Double](repeating: 0, count: m)
        logits.withUnsafeMutableBufferPointer { lp in
            rowLoss.withUnsafeMutableBufferPointer { rl in
                Softmax.crossEntropyRows(
                    lp.baseAddress!, losses: rl.baseAddress!, targets: targets, rows: m, vocab: c.vocabSize)
            }
        }
        let loss = rowLoss.reduce(0, +)
        var dx = [Float](repeating: 0, count: m * c.dim)
        Matmul.linearBackwardInput(&dx, logits, weights.output, rows: m, inFeatures: c.dim, outFeatures: c.vocabSize)
        var dhr = [Float](repeating: 0, count: m * c.dim)
        RMSNorm.backward(&dhr, dx, rstd, hr, weights.outputNorm, rows: m, channels: c.dim, accumulate: false)
        for (j, r) in rows.enumerated() {
            for d in 0..<c.dim { dh[r * c.dim + d] += dhr[j * c.dim + d] }
        }
        return loss
    }

    /// Backward of one adapted block, in place on dh (T, D): MLP, attention with the adapter
    /// branch, RoPE, both RMSNorms and the residuals. Adds the prompt and gate gradients of
    /// adapted block `index` into `gradient`. The lowest adapted block skips its input gradient.
    private func blockBackward(
        _ l: Int, a: BlockActivations, dh: inout [Float], w s: inout BackwardScratch, lengths: [Int],
        shape: AdapterShape, index: Int, gradient: inout [Float], needInputGradient: Bool
    ) {
        let c = config
        let t = lengths.reduce(0, +)
        let wd = weights.denseLayer(l)
        let stored = weights.layers[l]
        let kk = shape.length

        // MLP: h_out = h_mid + down(silu(gate) ⊙ up), gate/up = RMSNorm(h_mid)·W.
        Matmul.linearBackwardInput(&s.dAct, dh, wd.wDown, rows: t, inFeatures: c.ffnDim, outFeatures: c.dim)
        SwiGLU.backward(&s.dGate, &s.dUp, s.dAct, a.gate, a.up, count: t * c.ffnDim)
        Matmul.linearBackwardInput(&s.dx, s.dGate, wd.wGate, rows: t, inFeatures: c.dim, outFeatures: c.ffnDim)
        Matmul.linearBackwardInput(&s.dx, s.dUp, wd.wUp, rows: t, inFeatures: c.dim, outFeatures: c.ffnDim, accumulate: true)
        RMSNorm.backward(&dh, s.dx, a.rstd2, a.hMid, stored.ffnNorm, rows: t, channels: c.dim, accumulate: true)

        // Attention output projection: dO = dh_mid · Wo  (T, H·hd).
        Matmul.linearBackwardInput(&s.dO, dh, wd.wo, rows: t, inFeatures: c.qDim, outFeatures: c.dim)

        // Adapter branch: prompt keys/values and gate.
        for j in s.dak.indices { s.dak[j] = 0; s.dav[j] = 0 }
        for j in s.dq.indices { s.dq[j] = 0 }
        gradient.withUnsafeMutableBufferPointer { g in
            s.dq.withUnsafeMutableBufferPointer { dq in
                Attention.adapterBackward(
                    dq: needInputGradient ? dq.baseAddress! : nil,
                    dak: &s.dak, dav: &s.dav, dgate: g.baseAddress! + shape.gateOffset(index), scratch: &s.dAdapterProbs,
                    dOut: s.dO, probs: a.adapterProbs, branch: a.branch, a.q, ak: a.ak, av: a.av, gateTanh: a.gateTanh,
                    rows: t, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, slots: kk)
            }
            // ak = prompt·Wkᵀ, av = prompt·Wvᵀ  ⇒  dprompt = dak·Wk + dav·Wv   (K, D)
            let dPrompt = g.baseAddress! + shape.promptOffset(index)
            Matmul.linearBackwardInput(dPrompt, s.dak, wd.wk, rows: kk, inFeatures: c.dim, outFeatures: c.kvDim, accumulate: true)
            Matmul.linearBackwardInput(dPrompt, s.dav, wd.wv, rows: kk, inFeatures: c.dim, outFeatures: c.kvDim, accumulate: true)
        }
        guard needInputGradient else { return }

        // Token attention, per sequence, from the saved probabilities.
        for j in s.dk.indices { s.dk[j] = 0; s.dv[j] = 0 }
        Attention.causalBackwardPacked(
            dq: &s.dq, dk: &s.dk, dv: &s.dv, scratch: &s.dScores, dOut: s.dO, probs: a.probs, a.q, a.k, a.v,
            lengths: lengths, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
        // RoPE is a rotation: its backward turns the gradient by the opposite angle.
        let positions = lengths.flatMap { (0..<$0).map(Int32.init) }
        let rope = ropeTable(covering: lengths.max() ?? 1)
        RoPE.apply(&s.dq, rows: t, stride: c.qDim, heads: c.heads, headDim: c.headDim, positions: positions,
            table: rope, layout: c.ropeLayout, inverse: true)
        RoPE.apply(&s.dk, rows: t, stride: c.kvDim, heads: c.kvHeads, headDim: c.headDim, positions: positions,
            table: rope, layout: c.ropeLayout, inverse: true)
        // dx = dq·Wq + dk·Wk + dv·Wv, then the attention RMSNorm into dh (residual adds).
        Matmul.linearBackwardInput(&s.dx, s.dq, wd.wq, rows: t, inFeatures: c.dim, outFeatures: c.qDim)
        Matmul.linearBackwardInput(&s.dx, s.dk, wd.wk, rows: t, inFeatures: c.dim, outFeatures: c.kvDim, accumulate: true)
        Matmul.linearBackwardInput(&s.dx, s.dv, wd.wv, rows: t, inFeatures: c.dim, outFeatures: c.kvDim, accumulate: true)
        RMSNorm.backward(&dh, s.dx, a.rstd1, a.hIn, stored.attnNorm, rows: t, channels: c.dim, accumulate: true)
    }
}

/// Gradient buffers of one block's backward, reused block after block.
struct BackwardScratch {
    var dx, dO, dq, dk, dv, dAct, dGate, dUp, dScores, dak, dav, dAdapterProbs: [Float]

    init(config c: LlamaConfig, tokens t: Int, lengths: [Int], slots kk: Int) {
        dx = [Float](repeating: 0, count: t * c.dim)
        dO = [Float](repeating: 0, count: t * c.qDim)
        dq = [Float](repeating: 0, count: t * c.qDim)
        dk = [Float](repeating: 0, count: t * c.kvDim)
        dv = [Float](repeating: 0, count: t * c.kvDim)
        dAct = [Float](repeating: 0, count: t * c.ffnDim)
        dGate = [Float](repeating: 0, count: t * c.ffnDim)
        dUp = [Float](repeating: 0, count: t * c.ffnDim)
        let longest = lengths.max() ?? 1
        dScores = [Float](repeating: 0, count: longest * longest)
        dak = [Float](repeating: 0, count: kk * c.kvDim)
        dav = [Float](repeating: 0, count: kk * c.kvDim)
        dAdapterProbs = [Float](repeating: 0, count: t * c.heads * kk)
    }
}
