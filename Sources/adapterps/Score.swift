import ArgumentParser
import Foundation
import Llama
import Training

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a text: per-token log-probabilities under the model.",
        discussion: """
            With --json prints {"tokens":[ids], "logprobs":[log p(tokens[i] | tokens[<i]) for i ≥ 1], "nll": mean of -logprobs}.
            The text is tokenized as the model's tokenizer does (BOS only where the model adds one;
            special tokens such as <|im_start|> are recognised).
            """)

    @OptionGroup var model: ModelOptions

    @Option(help: "Adapter file (safetensors) to apply.")
    var adapter: String?

    @Option(help: "The text to score.")
    var text: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let (llama, tokenizer, params) = try model.loadForText(adapter: adapter)
        let ids = tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        guard ids.count >= 2 else {
            throw CLIError.badInput("the text encodes to \(ids.count) token(s); scoring needs at least 2")
        }
        let logprobs = llama.logProbs(ids, adapter: params)
        let nll = -logprobs.reduce(0, +) / Double(logprobs.count)
        if json {
            let object: [String: Any] = ["tokens": ids.map(Int.init), "logprobs": logprobs, "nll": nll]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for (i, lp) in logprobs.enumerated() {
                let piece = tokenizer.decode([ids[i + 1]])
                print(String(format: "%6d  %10.4f  %@", Int(ids[i + 1]), lp, piece.debugDescription))
            }
            print(String(format: "tokens %d  nll %.4f  ppl %.3f", ids.count, nll, Foundation.exp(nll)))
        }
    }
}
