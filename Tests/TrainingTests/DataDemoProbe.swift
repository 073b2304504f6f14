import Foundation
import Llama
import Tokenizers
import Training
import XCTest

final class DataDemoProbe: XCTestCase {
    func testProbeBaseModelOnDemo() throws {
        guard ProcessInfo.processInfo.environment["PROBE"] != nil else { throw XCTSkip("probe") }
        let tokenizer = try DataFixtures.smolLM2()
        let model = try LlamaModel.load(path: DataFixtures.repoRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path)
        let renderer = try PromptRenderer(tokenizer: tokenizer, template: .alpaca)
        let lines = try String(contentsOfFile: DataFixtures.repoRoot.appendingPathComponent("data/demo/eval.jsonl").path, encoding: .utf8).split(separator: "\n").prefix(12)
        var exact = 0
        for line in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
            var sampler = Sampler()
            let out = model.generate(prompt: renderer.promptTokens(instruction: obj["instruction"]!, input: obj["input"]!), maxTokens: 24, sampler: &sampler, isStop: tokenizer.isEndOfGeneration)
            let text = tokenizer.decode(out, skipSpecial: true).trimmingCharacters(in: .whitespacesAndNewlines)
            if text == obj["output"]! { exact += 1 }
            print("PROBE \(obj["input"]!) -> \(String(reflecting: text)) [\(obj["output"]!)]")
        }
        print("PROBE exact \(exact)/\(lines.count)")
    }
}
