import ArgumentParser
import Foundation
import Llama
import Training
import Tokenizers

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt, streaming tokens as they come.")

    @OptionGroup var model: ModelOptions

    @Option(help: "Adapter file (safetensors) to apply.")
    var adapter: String?

    @Option(help: "The prompt text.")
    var prompt: String

    @Flag(help: "Wrap the prompt in the model's chat template (as a user message).")
    var chat = false

    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.")
    var maxTokens = 128

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (1 keeps every token).")
    var topP: Float = 1

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        let (llama, tokenizer, params) = try model.loadForText(adapter: adapter)
        var text = prompt
        var addSpecial = true
        if chat {
            let template = try ChatTemplate(tokenizer: tokenizer)
            text = template.render([ChatMessage(role: "user", content: prompt)], addGenerationPrompt: true)
            addSpecial = !template.startsWithBOS  // the rendered text already begins with BOS
        }
        let ids = tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: true)
        guard !ids.isEmpty else { throw CLIError.badInput("the prompt encodes to no tokens") }
        var sampler = Sampler(temperature: temperature, topP: topP, seed: seed)
        var stream = StreamingDecoder(tokenizer: tokenizer)
        let out = FileHandle.standardOutput
        llama.generate(prompt: ids, maxTokens: maxTokens, adapter: params, sampler: &sampler, isStop: tokenizer.isEndOfGeneration) { id in
            out.write(Data(stream.push(id).utf8))
            return true
        }
        out.write(Data((stream.flush() + "\n").utf8))
    }
}
