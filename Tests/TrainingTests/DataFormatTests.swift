import Foundation
import Training
import XCTest

/// Format detection, the JSON reader, and one exact message per kind of bad record (skipped, or fatal in strict mode).
final class DataFormatTests: XCTestCase {
    let tokenizer = ByteTestTokenizer()

    private func load(
        _ name: String, format: DataFormat? = nil, strict: Bool = false, tokenized: Bool = false, maxSeqLen: Int = 4096
    ) throws -> Dataset {
        try Dataset.load(
            path: DataFixtures.path(name), format: format, tokenizer: tokenized ? nil : tokenizer, template: .alpaca,
            maxSeqLen: maxSeqLen, strict: strict, vocabSize: tokenized ? 100 : nil)
    }

    /// The error `body` throws, which must be a DataError.
    private func dataError(_ body: () throws -> Dataset, file: StaticString = #filePath, line: UInt = #line) -> DataError? {
        do {
            _ = try body()
            XCTFail("expected a DataError", file: file, line: line)
            return nil
        } catch let error as DataError {
            return error
        } catch {
            XCTFail("expected a DataError, got \(error)", file: file, line: line)
            return nil
        }
    }

    // MARK: - Detection

    func testDetectsAlpacaJSONL() throws {
        let data = try load("alpaca.jsonl")
        XCTAssertEqual(data.format, .alpaca)
        XCTAssertEqual(data.examples.count, 3)
        XCTAssertEqual(data.report.records, 3, "the blank line is not a record")
        XCTAssertEqual(data.examples.map(\.source), [1, 2, 4].map { "\(DataFixtures.path("alpaca.jsonl")):\($0)" })
    }

    func testDetectsAlpacaJSONArrayWithLinesOfElements() throws {
        let data = try load("alpaca.json")
        XCTAssertEqual(data.format, .alpaca)
        XCTAssertEqual(data.examples.map(\.source), [2, 6].map { "\(DataFixtures.path("alpaca.json")):\($0)" })
        // The same records as JSONL give the same tokens.
        let jsonl = try load("alpaca.jsonl")
        XCTAssertEqual(data.examples.map(\.inputIDs), Array(jsonl.examples.prefix(2)).map(\.inputIDs))
    }

    func testDetectsChat() throws {
        let data = try load("chat.jsonl")
        XCTAssertEqual(data.format, .chat)
        XCTAssertEqual(data.examples.count, 2)
    }

    func testDetectsTokenizedAndTakesLabelsAsGiven() throws {
        let data = try load("tokenized.jsonl", tokenized: true)
        XCTAssertEqual(data.format, .tokenized)
        XCTAssertEqual(data.examples[0].inputIDs, [1, 2, 3, 4])
        XCTAssertEqual(data.examples[0].labels, [-100, -100, 3, 4])
        XCTAssertEqual(data.examples[0].labelCount, 2)
        XCTAssertEqual(data.examples[1].labels, [5, 6, 7], "labels default to input_ids")
        XCTAssertEqual(data.examples[1].labelCount, 2, "labels[0] is never scored")
        XCTAssertEqual(data.report.totalTokens, 7)
        XCTAssertEqual(data.report.labelTokens, 4)
    }

    func testGivenFormatOverridesDetection() throws {
        // Alpaca records read as chat: every record lacks "messages".
        let error = dataError { try load("alpaca.jsonl", format: .chat, strict: true) }
        XCTAssertEqual(error?.description, "\(DataFixtures.path("alpaca.jsonl")):1: messages: missing (expected an array of {role, content})")
    }

    func testUnknownFormatNamesTheKeys() throws {
        let error = dataError { try load("unknown-format.jsonl") }
        XCTAssertEqual(error?.kind, .unknownFormat)
        XCTAssertEqual(
            error?.description,
            "\(DataFixtures.path("unknown-format.jsonl")):1: cannot detect the data format: expected "
                + "\"instruction\"/\"output\" (alpaca), \"messages\" (chat) or \"input_ids\" (tokenized), "
                + "found keys [\"completion\", \"prompt\"]")
    }

    func testTextDataNeedsATokenizer() throws {
        let error = dataError {
            try Dataset.load(path: DataFixtures.path("alpaca.jsonl"), tokenizer: nil, maxSeqLen: 64)
        }
        XCTAssertEqual(error?.kind, .tokenizer)
    }

    func testMissingFile() {
        let error = dataError { try Dataset.load(path: "/nonexistent/data.jsonl", tokenizer: nil, maxSeqLen: 64) }
        XCTAssertEqual(error?.description, "/nonexistent/data.jsonl: no such file")
    }

    func testFingerprintIsTheSHA256OfTheBytes() throws {
        let path = try DataFixtures.temporaryFile("{\"input_ids\": [1, 2]}\n")
        let data = try Dataset.load(path: path, tokenizer: nil, maxSeqLen: 8)
        // printf '{"input_ids": [1, 2]}\n' | sha256sum
        XCTAssertEqual(data.fingerprint, "3804097274178c106528202e7d44e78add955aa4c681424840f0aa7fc941ef36")
    }

    // MARK: - Bad records

    func testBadAlpacaRecordsAreSkippedWithExactMessages() throws {
        let file = DataFixtures.path("bad-alpaca.jsonl")
        let data = try load("bad-alpaca.jsonl")
        XCTAssertEqual(data.examples.map(\.source), ["\(file):1", "\(file):9"])
        XCTAssertEqual(data.report.records, 8)
        XCTAssertEqual(data.report.skipped, 6)
        XCTAssertEqual(
            data.report.skippedByKind,
            [.invalidJSON: 1, .missingField: 2, .wrongType: 1, .emptyField: 1, .notAnObject: 1])
        XCTAssertEqual(
            data.report.firstSkipped.map(\.description),
            [
                "\(file):2: invalid JSON at column 44: expected ',' or '}' after a member, found 'o'",
                "\(file):3: output: missing (expected a string)",
                "\(file):4: input: expected a string, found an integer (42)",
                "\(file):6: output: empty (expected a non-empty response)",
                "\(file):7: expected a JSON object, found an array",
            ])
        XCTAssertEqual(data.report.firstSkipped.count, DataReport.keptMessages)
        XCTAssertTrue(data.report.summary.contains("… and 1 more"), data.report.summary)
    }

    func testStrictModeMakesTheFirstBadRecordFatal() throws {
        let error = dataError { try load("bad-alpaca.jsonl", strict: true) }
        XCTAssertEqual(error?.kind, .invalidJSON)
        XCTAssertEqual(error?.line, 2)
        XCTAssertEqual(
            error?.description,
            "\(DataFixtures.path("bad-alpaca.jsonl")):2: invalid JSON at column 44: expected ',' or '}' after a member, found 'o'")
    }

    func testMissingInstructionIsNamed() throws {
        let path = try DataFixtures.temporaryFile("{\"output\": \"Hi.\"}\n")
        let error = dataError { try Dataset.load(path: path, format: .alpaca, tokenizer: tokenizer, maxSeqLen: 64, strict: true) }
        XCTAssertEqual(error?.description, "\(path):1: instruction: missing (expected a string)")
    }

    func testBadTokenizedRecords() throws {
        let file = DataFixtures.path("bad-tokenized.jsonl")
        let data = try load("bad-tokenized.jsonl", tokenized: true)
        XCTAssertEqual(data.examples.map(\.source), ["\(file):8"])
        XCTAssertEqual(data.report.skipped, 7)
        var messages: [String] = []
        for line in 1...7 {
            // Each bad line alone, strict: its own message.
            let text = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")[line - 1]
            let path = try DataFixtures.temporaryFile(String(text) + "\n")
            let error = dataError {
                try Dataset.load(path: path, format: .tokenized, tokenizer: nil, maxSeqLen: 64, strict: true, vocabSize: 100)
            }
            messages.append(error.map { String($0.description.dropFirst(path.count)) } ?? "")
        }
        XCTAssertEqual(
            messages,
            [
                ":1: labels: length 2 does not match input_ids length 3",
                ":1: input_ids[1]: id 99999 out of range (expected 0..<100)",
                ":1: input_ids[1]: expected an integer token id, found a string",
                ":1: labels: every scored position (t ≥ 1) is -100 (nothing to train on)",
                ":1: labels[1]: id -7 out of range (expected -100 or 0..<100)",
                ":1: input_ids[1]: expected an integer token id, found a number (2.5)",
                ":1: input_ids: 1 token(s) (expected at least 2: nothing is scored before the second)",
            ])
        XCTAssertEqual(data.report.firstSkipped.map(\.line), [1, 2, 3, 4, 5])
    }

    func testTokenIDsAreCheckedAgainstTheTokenizerVocabulary() throws {
        let path = try DataFixtures.temporaryFile("{\"input_ids\": [1, 259]}\n")
        let error = dataError { try Dataset.load(path: path, tokenizer: tokenizer, maxSeqLen: 8, strict: true) }
        XCTAssertEqual(error?.description, "\(path):1: input_ids[1]: id 259 out of range (expected 0..<259)")
    }

    func testBadChatRecords() throws {
        let file = DataFixtures.path("bad-chat.jsonl")
        let data = try load("bad-chat.jsonl")
        XCTAssertEqual(data.examples.map(\.source), ["\(file):7"])
        XCTAssertEqual(
            data.report.firstSkipped.map(\.description),
            [
                "\(file):1: messages[0].role: expected \"system\", \"user\" or \"assistant\", found \"tool\"",
                "\(file):2: messages: no assistant turn (nothing to train on)",
                "\(file):3: messages: expected an array of {role, content}, found a string",
                "\(file):4: messages[1].content: empty (expected a non-empty assistant reply)",
                "\(file):5: messages[0].content: missing (expected a string)",
            ])
        XCTAssertEqual(data.report.skipped, 6)
        let error = dataError { try load("bad-chat.jsonl", strict: true) }
        XCTAssertEqual(error?.line, 1)
    }

    func testChatConversationMustStartWithTheUser() throws {
        let path = try DataFixtures.temporaryFile(
            "{\"messages\": [{\"role\": \"assistant\", \"content\": \"I start.\"}, {\"role\": \"user\", \"content\": \"Hi\"}]}\n")
        let error = dataError { try Dataset.load(path: path, tokenizer: tokenizer, maxSeqLen: 64, strict: true) }
        XCTAssertEqual(
            error?.description, "\(path):1: messages[0].role: expected the first non-system turn to be \"user\", found \"assistant\"")
    }

    func testSyntaxErrorInsideAnArrayElementSpoilsOnlyThatElement() throws {
        let file = DataFixtures.path("bad-array.json")
        let data = try load("bad-array.json")
        XCTAssertEqual(data.examples.map(\.source), ["\(file):2", "\(file):5"])
        XCTAssertEqual(
            data.report.firstSkipped.map(\.description), ["\(file):4: invalid JSON at column 14: expected 'true', found 't'"])
    }

    func testBrokenArrayIsFatal() throws {
        let error = dataError { try load("broken-array.json") }
        XCTAssertEqual(error?.kind, .invalidJSON)
        XCTAssertEqual(error?.description, "\(DataFixtures.path("broken-array.json")):3: invalid JSON at column 19: unterminated string")
    }

    func testEmptyDatasetAfterSkippingIsAnError() throws {
        let path = try DataFixtures.temporaryFile("{\"instruction\": \"a\", \"output\": \"\"}\nnot json\n")
        let error = dataError { try Dataset.load(path: path, tokenizer: tokenizer, maxSeqLen: 64) }
        XCTAssertEqual(error?.kind, .emptyDataset)
        XCTAssertEqual(
            error?.description,
            "\(path): no examples left (2 records, 2 bad); first bad record: \(path):1: output: empty (expected a non-empty response)")
        let empty = try DataFixtures.temporaryFile("\n\n")
        XCTAssertEqual(dataError { try Dataset.load(path: empty, tokenizer: tokenizer, maxSeqLen: 64) }?.kind, .emptyDataset)
        let emptyArray = try DataFixtures.temporaryFile(" [ ] ", name: "data.json")
        XCTAssertEqual(dataError { try Dataset.load(path: emptyArray, tokenizer: tokenizer, maxSeqLen: 64) }?.kind, .emptyDataset)
    }

    // MARK: - JSON reader details

    func testJSONStringsEscapesBOMAndCRLF() throws {
        let text = "\u{FEFF}{\"instruction\": \"tab\\there \\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/\", \"output\": \"ok\"}\r\n"
        let path = try DataFixtures.temporaryFile(text)
        let data = try Dataset.load(path: path, tokenizer: tokenizer, maxSeqLen: 4096, strict: true)
        let prompt = String(decoding: data.examples[0].inputIDs.prefix { $0 < 256 }.map { UInt8($0) }, as: UTF8.self)
        XCTAssertTrue(prompt.contains("### Instruction:\ntab\there é 😀 \"q\" \\ /\n"), prompt)
    }

    func testHostileJSONIsRejectedNotCrashed() throws {
        let cases: [(String, String)] = [
            (String(repeating: "[", count: 300) + String(repeating: "]", count: 300), "nesting deeper than 256"),
            ("{\"instruction\": \"a\u{01}b\", \"output\": \"x\"}", "raw control character 0x1 in a string (escape it)"),
            ("{\"instruction\": \"\\ud800\", \"output\": \"x\"}", "unpaired UTF-16 surrogate in \\u escape"),
            ("{\"instruction\": \"\\x\", \"output\": \"x\"}", "invalid escape '\\x' in a string"),
            ("{\"instruction\": 012, \"output\": \"x\"}", "a number must not have a leading zero"),
            ("{\"instruction\": \"a\", \"output\": \"x\"} {}", "expected the end of the record after a complete value, found '{'"),
            ("{\"instruction\": \"a\", \"output\": \"x\"", "expected ',' or '}', found the end of the record"),
            ("{\"instruction\": 1e999, \"output\": \"x\"}", "number 1e999 is out of range"),
        ]
        for (line, expected) in cases {
            let path = try DataFixtures.temporaryFile(line + "\n")
            let error = dataError { try Dataset.load(path: path, format: .alpaca, tokenizer: tokenizer, maxSeqLen: 64, strict: true) }
            XCTAssertEqual(error?.kind, .invalidJSON, line)
            XCTAssertTrue(error?.message.hasSuffix(expected) == true, "\(line): \(error?.message ?? "no error")")
        }
        // Invalid UTF-8 inside a string.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adapterps-data-\(UUID().uuidString).jsonl")
        try Data(Array("{\"instruction\": \"".utf8) + [0xFF, 0xFE] + Array("\", \"output\": \"x\"}\n".utf8)).write(to: dir)
        let error = dataError { try Dataset.load(path: dir.path, format: .alpaca, tokenizer: tokenizer, maxSeqLen: 64, strict: true) }
        XCTAssertEqual(error?.message, "invalid JSON at column 17: string is not valid UTF-8")
    }
}
