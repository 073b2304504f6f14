import Foundation
import Tokenizers
import XCTest

/// Behaviour of the public API on hand-built vocabularies: errors, special tokens, streaming.
final class TokenizerBehaviourTests: XCTestCase {
    /// GPT-2 byte alphabet texts of all 256 bytes, in byte order.
    static let alphabet: [String] = {
        var next: UInt32 = 256
        return (0..<256).map { b -> String in
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            let value =
                printable
                ? UInt32(b)
                : {
                    defer { next += 1 }
                    return next
                }()
            return String(Character(Unicode.Scalar(value)!))
        }
    }()

    func byteLevel(pre: String, merges: [String], specials: [String] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        throws
        -> any Tokenizer
    {
        var tokens = specials + TokenizerBehaviourTests.alphabet
        for m in merges {
            let parts = m.split(separator: " ", maxSplits: 1).map(String.init)
            if !tokens.contains(parts[0] + parts[1]) { tokens.append(parts[0] + parts[1]) }
        }
        let types = tokens.indices.map { $0 < specials.count ? 3 : 1 }
        return try TokenizerLoader.load(
            TokenizerData(
                model: "gpt2", preTokenizer: pre, tokens: tokens, tokenTypes: types, merges: merges, bosID: 0, eosID: 0)
        )
    }

    func testSmolLMSplitsEveryDigit() throws {
        let t = try byteLevel(pre: "smollm", merges: ["1 2", "Ġ a", "Ġa b"])
        let twelve = t.tokenID("12")!
        XCTAssertEqual(t.encode("12", addSpecial: false).count, 2, "digits are isolated before BPE")
        let gpt2 = try byteLevel(pre: "gpt-2", merges: ["1 2", "Ġ a", "Ġa b"])
        XCTAssertEqual(gpt2.encode("12", addSpecial: false), [twelve])
        XCTAssertEqual(t.encode(" ab", addSpecial: false), [t.tokenID("Ġab")!])
    }

    func testMergeRankDecidesNotOrderInText() throws {
        // "a b" has a better rank than "b c": "abc" -> "ab" + "c"
        let t = try byteLevel(pre: "gpt-2", merges: ["a b", "b c"])
        XCTAssertEqual(t.encode("abc", addSpecial: false), [t.tokenID("ab")!, t.tokenID("c")!])
        let u = try byteLevel(pre: "gpt-2", merges: ["b c", "a b"])
        XCTAssertEqual(u.encode("abc", addSpecial: false), [u.tokenID("a")!, u.tokenID("bc")!])
        // equal pairs: the leftmost merges first
        let v = try byteLevel(pre: "gpt-2", merges: ["a a"])
        XCTAssertEqual(v.encode("aaa", addSpecial: false), [v.tokenID("aa")!, v.tokenID("a")!])
    }

    func testSpecialTokensParsedOnlyWhenAsked() throws {
        let t = try byteLevel(pre: "smollm", merges: [])
        XCTAssertEqual(
            t.encode("x<|im_end|>y", addSpecial: false, parseSpecial: true), [t.tokenID("x")!, 2, t.tokenID("y")!])
        let plain = t.encode("x<|im_end|>y", addSpecial: false, parseSpecial: false)
        XCTAssertFalse(plain.contains(2))
        XCTAssertEqual(t.decode(plain), "x<|im_end|>y")
        XCTAssertTrue(t.isEndOfGeneration(2))
        XCTAssertTrue(t.isEndOfGeneration(0))
        XCTAssertEqual(t.decode([t.tokenID("x")!, 2], skipSpecial: true), "x")
    }

    func testBadDataThrowsTypedErrors() {
        func kind(_ data: TokenizerData) -> TokenizerError.Kind? {
            do {
                _ = try TokenizerLoader.load(data)
                return nil
            } catch let e as TokenizerError {
                XCTAssertFalse(e.description.isEmpty)
                return e.kind
            } catch { return nil }
        }
        let tokens = TokenizerBehaviourTests.alphabet
        XCTAssertEqual(kind(TokenizerData(model: "bert", tokens: tokens)), .unsupportedModel)
        XCTAssertEqual(
            kind(TokenizerData(model: "gpt2", preTokenizer: "klingon", tokens: tokens, merges: ["a b"])),
            .unsupportedPreTokenizer)
        XCTAssertEqual(kind(TokenizerData(model: "llama", tokens: [])), .badVocabulary)
        XCTAssertEqual(kind(TokenizerData(model: "llama", tokens: ["a", "b", "a"])), .badVocabulary)
        XCTAssertEqual(kind(TokenizerData(model: "llama", tokens: ["a", "b"], scores: [0])), .badVocabulary)
        XCTAssertEqual(kind(TokenizerData(model: "llama", tokens: ["a", "b"], tokenTypes: [1, 1, 1])), .badVocabulary)
        // a merge line without a space is ignored, as llama.cpp does
        XCTAssertNil(kind(TokenizerData(model: "gpt2", tokens: tokens, merges: ["ab", "a b"])))
    }

    func testStreamingDecoderEmitsOnlyCompleteCharacters() throws {
        let t = try TokenizerLoader.load(ggufPath: TestPaths.fixtures.appendingPathComponent("tiny-spm.gguf").path)
        let ids = t.encode("a😀é中", addSpecial: true)
        var stream = StreamingDecoder(tokenizer: t, skipSpecial: true, stripLeadingSpace: true)
        var pieces: [String] = []
        for id in ids { pieces.append(stream.push(id)) }
        pieces.append(stream.flush())
        XCTAssertEqual(pieces.joined(), "a😀é中")
        XCTAssertFalse(pieces.contains { $0.contains("\u{FFFD}") }, "no piece may split a character: \(pieces)")
        XCTAssertTrue(pieces.contains(""), "the emoji's byte tokens are held back until complete")

        var partial = StreamingDecoder(tokenizer: t)
        _ = partial.push(t.tokenID("<0xF0>")!)
        XCTAssertEqual(partial.flush(), "\u{FFFD}")
    }

    func testEncodingIsFast() throws {
        let path = try TestPaths.smolLM2()
        let loadStart = ContinuousClock.now
        let tokenizer = try TokenizerLoader.load(ggufPath: path)
        print("tokenizer load (GGUF open + vocabulary + merges): \(ContinuousClock.now - loadStart)")
        let words = [
            "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
            "not",
            "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
            "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would",
            "who", "so", "no", "training", "adapter", "language", "model", "gradient", "distributed", "worker",
        ]
        var rng = SystemRandomNumberGenerator()
        var text = ""
        while text.utf8.count < 100_000 {
            var sentence = (0..<Int.random(in: 6...18, using: &rng)).map { _ in words.randomElement(using: &rng)! }
            sentence[0] = sentence[0].capitalized
            text += sentence.joined(separator: " ") + (Bool.random(using: &rng) ? ". " : ".\n")
        }
        _ = tokenizer.encode(String(text.prefix(1000)))
        let start = ContinuousClock.now
        let ids = tokenizer.encode(text, addSpecial: false)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print(
            "tokenizer speed: \(text.utf8.count) bytes -> \(ids.count) tokens in \(String(format: "%.1f", seconds * 1000)) ms"
        )
        XCTAssertEqual(tokenizer.decode(ids), text)
        // mixed scripts, code and emoji (the golden corpus), few repeated words per 100 KB
        let corpus = try GoldenFile.load("smollm2.json").cases.map(\.text).joined(separator: " ")
        var mixed = ""
        var round = 0
        while mixed.utf8.count < 100_000 {
            mixed += corpus.split(separator: " ").map { "\($0)\(round % 97)" }.joined(separator: " ")
            round += 1
        }
        let mixedStart = ContinuousClock.now
        let mixedIDs = tokenizer.encode(mixed, addSpecial: false, parseSpecial: false)
        let mixedElapsed = ContinuousClock.now - mixedStart
        print("tokenizer speed (mixed): \(mixed.utf8.count) bytes -> \(mixedIDs.count) tokens in \(mixedElapsed)")
        XCTAssertEqual(tokenizer.decode(mixedIDs), mixed)
        #if DEBUG
            XCTAssertLessThan(seconds, 10)
        #else
            XCTAssertLessThan(seconds, 1, "100 KB of English must encode well under a second in release")
        #endif
    }
}
