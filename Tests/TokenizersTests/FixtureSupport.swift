import Foundation
import Tokenizers
import XCTest

/// Paths of the shared test fixtures and the default model, found from this file's location.
enum TestPaths {
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Tests/Fixtures").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }()

    static var fixtures: URL { repoRoot.appendingPathComponent("Tests/Fixtures/tokenizer") }

    /// The SmolLM2 model (env ADAPTERPS_MODEL overrides); the test is skipped when the file is absent.
    static func smolLM2() throws -> String {
        let path =
            ProcessInfo.processInfo.environment["ADAPTERPS_MODEL"]
            ?? repoRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("model file \(path) is absent (see DESIGN.md §2 for how setup fetches it)")
        }
        return path
    }
}

/// One golden case written by scripts/reference/make_tokenizer_fixtures.py from llama.cpp.
struct GoldenCase: Decodable {
    let text: String
    let add_special: Bool
    let parse_special: Bool
    let ids: [Int32]
    let detok_hex: String
    let detok_skip_hex: String
}

struct GoldenFile: Decodable {
    let model: String
    let llama_cpp_python: String
    let n_vocab: Int
    let bos: Int32
    let eos: Int32
    let add_bos: Bool
    let add_eos: Bool
    let eog: [Int32]
    let pieces_hex: [String: String]
    let attrs: [String: Int]
    let cases: [GoldenCase]

    static func load(_ name: String) throws -> GoldenFile {
        let data = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent(name))
        return try JSONDecoder().decode(GoldenFile.self, from: data)
    }
}

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.utf8.makeIterator()
    func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10 }
    while let hi = it.next(), let lo = it.next() { out.append(nibble(hi) << 4 | nibble(lo)) }
    return out
}

/// Compares a tokenizer with llama.cpp's golden file; every failure names the case.
func checkAgainstGolden(
    _ tokenizer: any Tokenizer, _ golden: GoldenFile, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(tokenizer.vocabSize, golden.n_vocab, "vocab size", file: file, line: line)
    XCTAssertEqual(tokenizer.bosID, golden.bos, "BOS", file: file, line: line)
    XCTAssertEqual(tokenizer.eosID, golden.eos, "EOS", file: file, line: line)
    XCTAssertEqual(tokenizer.addsBOS, golden.add_bos, "add_bos", file: file, line: line)
    XCTAssertEqual(tokenizer.addsEOS, golden.add_eos, "add_eos", file: file, line: line)
    XCTAssertEqual(tokenizer.endOfGenerationIDs, golden.eog, "end-of-generation set", file: file, line: line)
    for id in tokenizer.endOfGenerationIDs { XCTAssertTrue(tokenizer.isEndOfGeneration(id)) }

    var pieceMismatches = 0
    for (key, hex) in golden.pieces_hex {
        let id = Int32(key)!
        if tokenizer.tokenBytes(id) != bytes(hex: hex) {
            pieceMismatches += 1
            if pieceMismatches <= 5 {
                XCTFail(
                    "token \(id): piece \(tokenizer.tokenBytes(id)) != llama.cpp \(bytes(hex: hex))", file: file,
                    line: line)
            }
        }
        let attr = golden.attrs[key]!
        let special = attr & (1 << 0 | 1 << 3) != 0  // unknown | control
        XCTAssertEqual(tokenizer.isSpecial(id), special, "token \(id) attr \(attr)", file: file, line: line)
    }
    XCTAssertEqual(pieceMismatches, 0, "pieces differing from llama.cpp", file: file, line: line)

    var failures = 0
    for c in golden.cases {
        let label =
            "\(String(reflecting: String(c.text.prefix(60)))) addSpecial=\(c.add_special) parseSpecial=\(c.parse_special)"
        let ids = tokenizer.encode(c.text, addSpecial: c.add_special, parseSpecial: c.parse_special)
        if ids != c.ids {
            failures += 1
            let firstDiff =
                zip(ids, c.ids).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(ids.count, c.ids.count)
            XCTFail(
                "\(label): ids differ from llama.cpp at index \(firstDiff): ours \(Array(ids.prefix(firstDiff + 4).suffix(8))) "
                    + "llama.cpp \(Array(c.ids.prefix(firstDiff + 4).suffix(8))) (counts \(ids.count) vs \(c.ids.count))",
                file: file, line: line)
        }
        let detok = tokenizer.decodeBytes(c.ids, skipSpecial: false)
        XCTAssertEqual(detok, bytes(hex: c.detok_hex), "\(label): decode", file: file, line: line)
        let detokSkip = tokenizer.decodeBytes(c.ids, skipSpecial: true)
        XCTAssertEqual(detokSkip, bytes(hex: c.detok_skip_hex), "\(label): decode(skipSpecial)", file: file, line: line)
        XCTAssertEqual(tokenizer.decode(c.ids, skipSpecial: false), String(decoding: detok, as: UTF8.self))
    }
    XCTAssertEqual(
        failures, 0, "cases whose ids differ from llama.cpp (of \(golden.cases.count))", file: file, line: line)
}
