import Foundation
import Kernels

extension LlamaModel {
    /// Continues `prompt` token by token with a KV cache, calling `onToken` with each new id;
    /// stops at a token for which `isStop` holds, after `maxTokens`, or when `onToken` returns false.
    /// Returns the generated ids (without the stop token).
    @discardableResult
    public func generate(
        prompt: [Int32], maxTokens: Int, adapter: AdapterParameters? = nil, sampler: inout Sampler, isStop: (Int32) -> Bool = { _ in false },
        onToken: (Int32) -> Bool = { _ in true }
    ) -> [Int32] {
        precondition(!prompt.isEmpty, "generation needs at least one prompt token")
        let cache = KVCache(config: config, capacity: prompt.count + maxTokens)
        var logits = forward([prompt], caches: [cache], adapter: adapter, logits: .last)[0]
        var out: [Int32] = []
        while out.count < maxTokens {
            let next = sampler.next(logits[...])
            if isStop(next) { break }
            out.append(next)
            if !onToken(next) || out.count == maxTokens { break }
            logits = forward([[next]], caches: [cache], adapter: adapter, logits: .last)[0]
        }
        return out
    }

    /// Per-token log-probabilities of `tokens`: entry i−1 is log p(tokens[i] | tokens[<i]), i ≥ 1.
    public func logProbs(_ tokens: [Int32], adapter: AdapterParameters? = nil) -> [Double] {
        guard tokens.count > 1 else { return [] }
        let v = config.vocabSize
        let logits = forward([tokens], adapter: adapter, logits: .all)[0]
        return logits.withUnsafeBufferPointer { lp in
            (1..<tokens.count).map { i in
                let row = lp.baseAddress! + (i - 1) * v
                return Double(row[Int(tokens[i])]) - Softmax.logSumExp(row, count: v)
            }
        }
    }
}

extension LlamaModel {
    /// Forward only: Σ token cross-entropy over the label tokens of `batch` and their count
    /// (labels aligned as in `TrainingSequence`). The LM head runs at label rows only.
    public func crossEntropy(_ batch: [TrainingSequence], adapter: AdapterParameters? = nil) -> (lossSum: Double, labelCount: Int) {
        var lossSum = 0.0
        var count = 0
        let v = config.vocabSize
        let logits = forward(batch.map(\.inputIDs), adapter: adapter, logits: .all)
        for (seq, rows) in zip(batch, logits) {
            rows.withUnsafeBufferPointer { lp in
                for t in 1..<max(seq.labels.count, 1) where seq.labels[t] != TrainingSequence.ignoreIndex {
                    let row = lp.baseAddress! + (t - 1) * v
                    lossSum += Softmax.logSumExp(row, count: v) - Double(row[Int(seq.labels[t])])
                    count += 1
                }
            }
        }
        return (lossSum, count)
    }
}
