import Foundation
import ModelFiles
import Tokenizers
import XCTest

/// Exact agreement with llama.cpp (golden files from scripts/reference/make_tokenizer_fixtures.py).
final class GoldenTokenizerTests: XCTestCase {
    func testSmolLM2MatchesLlamaCpp() throws {
        let tokenizer = try TokenizerLoader.load(ggufPath: try TestPaths.smolLM2())
        let golden = try GoldenFile.load("smollm2.json")
        XCTAssertGreaterThan(golden.cases.count, 60)
        checkAgainstGolden(tokenizer, golden)
        XCTAssertEqual((tokenizer as? BPETokenizer)?.kind, .byteLevel)
        XCTAssertEqual((tokenizer as? BPETokenizer)?.preTokenizerName, "smollm")
    }

    func testSmolLM2RoundTrips() throws {
        let tokenizer = try TokenizerLoader.load(ggufPath: try TestPaths.smolLM2())
        let golden = try GoldenFile.load("smollm2.json")
        for c in golden.cases where c.parse_special || !c.text.contains("<") {
            let ids = tokenizer.encode(c.text, addSpecial: false, parseSpecial: c.parse_special)
            XCTAssertEqual(tokenizer.decode(ids), c.text, String(reflecting: c.text))
        }
    }

    func testSmolLM2SpecialTokens() throws {
        let tokenizer = try TokenizerLoader.load(ggufPath: try TestPaths.smolLM2())
        XCTAssertFalse(tokenizer.addsBOS)
        XCTAssertEqual(tokenizer.tokenID("<|im_start|>"), 1)
        XCTAssertEqual(tokenizer.tokenID("<|im_end|>"), 2)
        XCTAssertTrue(tokenizer.isEndOfGeneration(2))
        XCTAssertTrue(tokenizer.isEndOfGeneration(0))
        XCTAssertFalse(tokenizer.isEndOfGeneration(1))
        XCTAssertEqual(tokenizer.encode("<|im_start|>", addSpecial: true, parseSpecial: true), [1])
        XCTAssertNotEqual(tokenizer.encode("<|im_start|>", addSpecial: true, parseSpecial: false), [1])
        XCTAssertEqual(tokenizer.tokenBytes(-1), [])
        XCTAssertEqual(tokenizer.tokenBytes(Int32(tokenizer.vocabSize)), [])
        XCTAssertEqual(tokenizer.decode([-5, 1_000_000]), "")
    }

    /// A prefix of SmolLM2's vocabulary re-labelled with other pre-tokenizers: checks the default, GPT-2,
    /// LLaMA-3 and Qwen2 splitters (and their BOS / clean-spaces defaults) against llama.cpp.
    func testTinyByteLevelPreTokenizersMatchLlamaCpp() throws {
        let file = try GGUFFile(path: TestPaths.fixtures.appendingPathComponent("tiny-bpe.gguf").path)
        var data = try TokenizerData(gguf: file)
        for pre in ["default", "gpt-2", "llama-bpe", "qwen2"] {
            data.preTokenizer = pre
            let tokenizer = try TokenizerLoader.load(data)
            XCTAssertEqual((tokenizer as? BPETokenizer)?.preTokenizerName, pre)
            let golden = try GoldenFile.load("tiny-bpe-\(pre).json")
            checkAgainstGolden(tokenizer, golden)
        }
    }

    func testTinySentencePieceMatchesLlamaCpp() throws {
        let path = TestPaths.fixtures.appendingPathComponent("tiny-spm.gguf").path
        let tokenizer = try TokenizerLoader.load(ggufPath: path)
        XCTAssertEqual((tokenizer as? BPETokenizer)?.kind, .sentencePiece)
        checkAgainstGolden(tokenizer, try GoldenFile.load("tiny-spm.json"))
    }

    func testTinySentencePieceRoundTripsAndByteFallback() throws {
        let tokenizer = try TokenizerLoader.load(
            ggufPath: TestPaths.fixtures.appendingPathComponent("tiny-spm.gguf").path)
        for text in ["Hello world", "中文 and 日本語", "emoji 😀 and 👨‍👩‍👧", "tabs\tand\nnewlines", "  spaced  "] {
            let ids = tokenizer.encode(text, addSpecial: false)
            XCTAssertEqual(tokenizer.decode(ids), text)
            let withBOS = tokenizer.encode(text)
            XCTAssertEqual(withBOS.first, tokenizer.bosID)
            XCTAssertEqual(
                tokenizer.decode(withBOS, skipSpecial: true), " " + text,
                "llama.cpp keeps the space after a removed BOS")
        }
        // "日" has no piece: three <0xNN> byte tokens
        let ids = tokenizer.encode("日", addSpecial: false)
        XCTAssertEqual(ids.count, 4)  // "▁" + 3 bytes
        XCTAssertEqual(ids.dropFirst().map { tokenizer.tokenText($0)! }, ["<0xE6>", "<0x97>", "<0xA5>"])
    }
}
