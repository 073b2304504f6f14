import Foundation
import Llama
import Tokenizers

/// Scores of an adapter (or the base model) on held-out Alpaca records.
public struct EvalResult: Sendable {
    /// Records evaluated.
    public var n: Int
    /// Mean token cross-entropy over the response (+ EOS) tokens, as in training.
    public var loss: Double
    public var perplexity: Double { Foundation.exp(loss) }
    /// Share of records whose greedy response, trimmed, equals the reference output, trimmed.
    public var exactMatch: Double
    /// Share whose greedy response contains the trimmed reference output (case-insensitive).
    public var containsMatch: Double
    /// (prompt, generated, reference) of the first few records, for a human to read.
    public var samples: [(instruction: String, input: String, generated: String, reference: String)]

    public var json: [String: Any] {
        ["n": n, "loss": loss, "ppl": perplexity, "exact_match": exactMatch, "contains_match": containsMatch]
    }
}

/// Held-out evaluation: teacher-forced loss and perplexity on the records' responses, plus greedy
/// generation from the same prompt the training used, compared with the reference output.
public struct Evaluator {
    public let model: LlamaModel
    public let renderer: PromptRenderer

    public init(model: LlamaModel, renderer: PromptRenderer) {
        self.model = model
        self.renderer = renderer
    }

    /// Evaluates `records` (at most `limit`), generating up to `maxTokens` per record.
    public func evaluate(
        _ records: [AlpacaRecord], adapter: AdapterParameters?, maxTokens: Int, maxSeqLen: Int = 1024, samples: Int = 3,
        progress: ((Int, Int) -> Void)? = nil
    ) -> EvalResult {
        var lossSum = 0.0, labels = 0, exact = 0, contains = 0
        var shown: [(String, String, String, String)] = []
        let tokenizer = renderer.tokenizer
        for (i, record) in records.enumerated() {
            let ex = renderer.example(record)
            let ids = Array(ex.inputIDs.prefix(maxSeqLen)), lab = Array(ex.labels.prefix(maxSeqLen))
            let ce = model.crossEntropy([TrainingSequence(inputIDs: ids, labels: lab)], adapter: adapter)
            lossSum += ce.lossSum
            labels += ce.labelCount
            let prompt = renderer.promptTokens(instruction: record.instruction, input: record.input)
            var sampler = Sampler()
            let out = model.generate(
                prompt: prompt, maxTokens: maxTokens, adapter: adapter, sampler: &sampler,
                isStop: tokenizer.isEndOfGeneration)
            let generated = tokenizer.decode(out, skipSpecial: true).trimmingCharacters(in: .whitespacesAndNewlines)
            let reference = record.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if generated == reference { exact += 1 }
            if generated.lowercased().contains(reference.lowercased()) { contains += 1 }
            if shown.count < samples { shown.append((record.instruction, record.input, generated, reference)) }
            progress?(i + 1, records.count)
        }
        let n = records.count
        return EvalResult(
            n: n, loss: labels > 0 ? lossSum / Double(labels) : .nan,
            exactMatch: n > 0 ? Double(exact) / Double(n) : 0, containsMatch: n > 0 ? Double(contains) / Double(n) : 0,
            samples: shown)
    }
}
