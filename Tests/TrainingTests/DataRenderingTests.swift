import Foundation
import Tokenizers
import Training
import XCTest

/// Rendering (Alpaca and chat templates), label masking with Hugging Face alignment, truncation, and the same
/// prompt for eval as for training.
final class DataRenderingTests: XCTestCase {
    let bytes = ByteTestTokenizer()

    func testAlpacaPromptTexts() {
        XCTAssertEqual(
            PromptRenderer.alpacaPrompt(instruction: "Add the numbers.", input: "2 + 3"),
            "Below is an instruction that describes a task, paired with an input that provides further context. "
                + "Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n"
                + "### Input:\n2 + 3\n\n### Response:\n")
        XCTAssertEqual(
            PromptRenderer.alpacaPrompt(instruction: "Say hello.", input: ""),
            "Below is an instruction that describes a task. Write a response that appropriately completes the request."
                + "\n\n### Instruction:\nSay hello.\n\n### Response:\n")
        // Placeholder-looking text in a field stays as it is.
        XCTAssertTrue(
            PromptRenderer.alpacaPrompt(instruction: "{input}", input: "{instruction}")
                .hasSuffix("### Instruction:\n{input}\n\n### Input:\n{instruction}\n\n### Response:\n"))
    }

    func testAlpacaExampleTokensAndMaskedLabels() throws {
        let renderer = try PromptRenderer(tokenizer: bytes, template: .alpaca)
        let record = AlpacaRecord(instruction: "Add the numbers.", input: "2 + 3", output: "5 <|im_end|>")
        let (ids, labels) = renderer.example(record)
        let prompt = byteIDs(PromptRenderer.alpacaPrompt(instruction: "Add the numbers.", input: "2 + 3"))
        // Record text is not parsed for control tokens; the EOS is the tokenizer's.
        let response = byteIDs("5 <|im_end|>") + [ByteTestTokenizer.imEnd]
        XCTAssertEqual(ids, prompt + response)
        XCTAssertEqual(labels, [Int32](repeating: -100, count: prompt.count) + response, "labels[t] = ids[t] on the response")
        XCTAssertEqual(renderer.promptTokens(instruction: "Add the numbers.", input: "2 + 3"), prompt)
    }

    func testBOSComesFirstAndIsNotLabelled() throws {
        var tokenizer = bytes
        tokenizer.addsBOS = true
        let renderer = try PromptRenderer(tokenizer: tokenizer, template: .alpaca)
        let (ids, labels) = renderer.example(AlpacaRecord(instruction: "Hi", output: "Yo"))
        XCTAssertEqual(ids.first, ByteTestTokenizer.endOfText)
        XCTAssertEqual(Array(ids.dropFirst()), byteIDs(PromptRenderer.alpacaPrompt(instruction: "Hi", input: "")) + byteIDs("Yo") + [257])
        XCTAssertEqual(labels.filter { $0 != -100 }, byteIDs("Yo") + [257])
        XCTAssertEqual(renderer.promptTokens(instruction: "Hi").first, ByteTestTokenizer.endOfText)
    }

    func testAlpacaUnderTheChatTemplate() throws {
        let renderer = try PromptRenderer(tokenizer: bytes, template: .chat)
        let expected =
            "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nAdd the numbers.\n\n2 + 3<|im_end|>\n"
            + "<|im_start|>assistant\n"
        XCTAssertEqual(renderer.promptText(instruction: "Add the numbers.", input: "2 + 3"), expected)
        let (ids, labels) = renderer.example(AlpacaRecord(instruction: "Add the numbers.", input: "2 + 3", output: "5"))
        XCTAssertEqual(bytes.decode(ids), expected + "5<|im_end|>\n")
        XCTAssertEqual(bytes.decode(labels.filter { $0 != -100 }), "5<|im_end|>\n")
        XCTAssertEqual(Array(ids.prefix(renderer.promptTokens(instruction: "Add the numbers.", input: "2 + 3").count)),
                       renderer.promptTokens(instruction: "Add the numbers.", input: "2 + 3"))
    }

    func testChatLabelsEveryAssistantTurnOnly() throws {
        let data = try Dataset.load(path: DataFixtures.path("chat.jsonl"), tokenizer: bytes, maxSeqLen: 4096, strict: true)
        let first = data.examples[0]
        XCTAssertEqual(
            bytes.decode(first.inputIDs),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n")
        XCTAssertEqual(bytes.decode(first.labels.filter { $0 != -100 }), "Hello.<|im_end|>\n")
        // Two assistant turns labelled, the trailing user turn dropped.
        let second = data.examples[1]
        XCTAssertEqual(
            bytes.decode(second.inputIDs),
            "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
                + "4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n6<|im_end|>\n")
        let labelled = zip(second.inputIDs, second.labels).map { $1 == -100 ? "_" : bytes.decode([$0]) }.joined()
        XCTAssertTrue(labelled.hasSuffix("_4<|im_end|>\n" + String(repeating: "_", count: 23) + "6<|im_end|>\n"), labelled)
        XCTAssertEqual(second.labelCount, 2 * (1 + 1 + 1))
        XCTAssertEqual(zip(second.inputIDs, second.labels).filter { $1 != -100 }.map { $0.0 }, second.labels.filter { $0 != -100 })
    }

    func testChatNeedsATemplate() throws {
        var tokenizer = bytes
        tokenizer.chatTemplate = nil
        XCTAssertThrowsError(try PromptRenderer(tokenizer: tokenizer, template: .chat))
        XCTAssertThrowsError(try Dataset.load(path: DataFixtures.path("chat.jsonl"), tokenizer: tokenizer, maxSeqLen: 64)) {
            XCTAssertEqual(($0 as? DataError)?.kind, .tokenizer)
        }
        tokenizer = bytes
        tokenizer.eosID = nil
        XCTAssertThrowsError(try PromptRenderer(tokenizer: tokenizer, template: .alpaca))
    }

    func testTruncationKeepsTheStartAndDropsExamplesWithoutLabels() throws {
        let promptLength = PromptRenderer.alpacaPrompt(instruction: "a", input: "").utf8.count
        let lines = [
            #"{"instruction": "a", "output": "b"}"#,  // prompt + 2: fits
            #"{"instruction": "a", "output": "a long output here"}"#,  // cut, 5 labels left
            "{\"instruction\": \"\(String(repeating: "a", count: 200))\", \"output\": \"x\"}",  // cut inside the prompt
        ]
        let path = try DataFixtures.temporaryFile(lines.joined(separator: "\n") + "\n")
        let data = try Dataset.load(path: path, tokenizer: bytes, maxSeqLen: promptLength + 5)
        XCTAssertEqual(data.report.records, 3)
        XCTAssertEqual(data.report.truncated, 2)
        XCTAssertEqual(data.report.droppedAfterTruncation, 1)
        XCTAssertEqual(data.report.skipped, 0)
        XCTAssertEqual(data.examples.map(\.source), ["\(path):1", "\(path):2"])
        XCTAssertEqual(data.examples[1].count, promptLength + 5)
        XCTAssertEqual(Array(data.examples[1].inputIDs.suffix(5)), byteIDs("a lon"))
        XCTAssertEqual(data.examples.map(\.labelCount), [2, 5])
        XCTAssertEqual(data.report.totalTokens, 2 * promptLength + 7)
        XCTAssertEqual(data.report.labelTokens, 7)
        XCTAssertEqual(data.exampleLengths, [promptLength + 2, promptLength + 5])
        // Everything cut away: an error, not an empty dataset.
        XCTAssertThrowsError(try Dataset.load(path: path, tokenizer: bytes, maxSeqLen: 10)) {
            XCTAssertEqual(($0 as? DataError)?.kind, .emptyDataset)
        }
    }

    // MARK: - The real tokenizer

    func testSmolLM2AlpacaMaskingAndAlignment() throws {
        let tokenizer = try DataFixtures.smolLM2()
        XCTAssertFalse(tokenizer.addsBOS, "SmolLM2 adds no BOS (DESIGN.md §1)")
        let eos = try XCTUnwrap(tokenizer.eosID)
        let renderer = try PromptRenderer(tokenizer: tokenizer, template: .alpaca)
        for record in [
            AlpacaRecord(instruction: "Convert the date to ISO format.", input: "March 5, 2021", output: "2021-03-05"),
            AlpacaRecord(instruction: "Say hello in French.", output: " Bonjour !"),
        ] {
            let (ids, labels) = renderer.example(record)
            let promptText = renderer.promptText(instruction: record.instruction, input: record.input)
            let prompt = renderer.promptTokens(instruction: record.instruction, input: record.input)
            XCTAssertEqual(prompt, tokenizer.encode(promptText, addSpecial: false, parseSpecial: false))
            XCTAssertEqual(Array(ids.prefix(prompt.count)), prompt, "eval prompts exactly as training")
            XCTAssertEqual(tokenizer.decode(prompt), promptText)
            XCTAssertTrue(labels.prefix(prompt.count).allSatisfy { $0 == -100 })
            let response = Array(ids.dropFirst(prompt.count))
            XCTAssertEqual(Array(labels.dropFirst(prompt.count)), response, "HF alignment: labels[t] = input_ids[t]")
            XCTAssertEqual(response.last, eos)
            XCTAssertEqual(tokenizer.decode(Array(response.dropLast())), record.output)
            XCTAssertEqual(response.dropLast(), ArraySlice(tokenizer.encode(record.output, addSpecial: false, parseSpecial: false)))
        }
    }

    func testSmolLM2ChatLabelsDecodeToTheAssistantTurn() throws {
        let tokenizer = try DataFixtures.smolLM2()
        let data = try Dataset.load(path: DataFixtures.path("chat.jsonl"), tokenizer: tokenizer, maxSeqLen: 4096, strict: true)
        let template = try ChatTemplate(tokenizer: tokenizer)
        let first = data.examples[0]
        let messages: [ChatMessage] = [.system("Be brief."), .user("Hi"), .assistant("Hello.")]
        XCTAssertEqual(tokenizer.decode(first.inputIDs), template.render(messages, addGenerationPrompt: false))
        XCTAssertEqual(tokenizer.decode(first.labels.filter { $0 != -100 }), "Hello.<|im_end|>\n")
        let imEnd = try XCTUnwrap(tokenizer.tokenID("<|im_end|>"))
        XCTAssertEqual(first.labels.filter { $0 == imEnd }.count, 1, "only the assistant's end marker is labelled")
    }

    func testDemoDatasetLoadsCleanlyWithShortAnswers() throws {
        let tokenizer = try DataFixtures.smolLM2()
        let root = DataFixtures.repoRoot.appendingPathComponent("data/demo")
        let train = try Dataset.load(path: root.appendingPathComponent("train.jsonl").path, tokenizer: tokenizer, maxSeqLen: 256, strict: true)
        let eval = try Dataset.load(path: root.appendingPathComponent("eval.jsonl").path, tokenizer: tokenizer, maxSeqLen: 256, strict: true)
        XCTAssertEqual(train.examples.count, 600)
        XCTAssertEqual(eval.examples.count, 50)
        XCTAssertEqual(train.report.truncated, 0)
        XCTAssertLessThanOrEqual(train.examples.map(\.labelCount).max() ?? 0, 12, "answers stay short")
        print("demo: train \(train.report.summary); longest \(train.exampleLengths.max() ?? 0) tokens; "
              + "useful ratio at 512: \(usefulTokenRatio(exampleLengths: train.exampleLengths))")
    }
}
