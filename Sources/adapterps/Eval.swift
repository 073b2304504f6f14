import ArgumentParser
import Foundation
import Llama
import Tokenizers
import Training

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate on held-out Alpaca records: response loss and perplexity, greedy exact and contains match.",
        discussion: """
            With --json prints {"n", "loss", "ppl", "exact_match", "contains_match"}. Prompts are rendered exactly as in
            training (--template). exact_match: the greedy response, trimmed, equals the reference output, trimmed;
            contains_match: the response contains the trimmed reference, ignoring case.
            """)

    @OptionGroup var model: ModelOptions
    @Option(help: "Adapter file (default: evaluate the base model).") var adapter: String?
    @Option(help: "Alpaca JSON or JSONL file.") var data: String
    @Option(help: "Evaluate the first N records only.") var limit: Int?
    @Option(name: .customLong("max-tokens"), help: "Most tokens generated per record.") var maxTokens = 32
    @Option(help: "Prompt template: alpaca or chat.") var template = "alpaca"
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        if let l = limit, l < 1 { throw ValidationError("--limit must be ≥ 1") }
        guard PromptTemplate(rawValue: template) != nil else { throw ValidationError("--template must be alpaca or chat") }
    }

    func run() throws {
        let (llama, tokenizer, params) = try model.loadForText(adapter: adapter)
        var records: [AlpacaRecord]
        do {
            records = try Dataset.alpacaRecords(path: data)
        } catch {
            throw CLIError.badInput("\(error)")
        }
        if let limit { records = Array(records.prefix(limit)) }
        let renderer: PromptRenderer
        do {
            renderer = try PromptRenderer(tokenizer: tokenizer, template: PromptTemplate(rawValue: template)!)
        } catch {
            throw CLIError.badInput("\(llama.path): \(error)")
        }
        var line = ProgressLine()
        let result = Evaluator(model: llama, renderer: renderer).evaluate(records, adapter: params, maxTokens: maxTokens) {
            done, total in line.show("eval \(done)/\(total)", final: done == total)
        }
        line.finish()
        if json {
            try printJSON(result.json)
        } else {
            for s in result.samples {
                print("• \(s.instruction)\(s.input.isEmpty ? "" : " [\(s.input)]")\n    model: \(s.generated.debugDescription)\n    want:  \(s.reference.debugDescription)")
            }
            print(String(format: "n %d  loss %.4f  ppl %.3f  exact match %.1f%%  contains match %.1f%%", result.n, result.loss,
                result.perplexity, 100 * result.exactMatch, 100 * result.containsMatch))
        }
    }
}
