import Foundation
import Tokenizers
import XCTest

/// Paths of the data fixtures and the default model, found from this file's location.
enum DataFixtures {
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Tests/Fixtures").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }()

    /// A file under Tests/Fixtures/data.
    static func path(_ name: String) -> String {
        repoRoot.appendingPathComponent("Tests/Fixtures/data").appendingPathComponent(name).path
    }

    /// The SmolLM2 tokenizer (env ADAPTERPS_MODEL overrides the model path); skips when the model is absent.
    static func smolLM2() throws -> any Tokenizer {
        let path =
            ProcessInfo.processInfo.environment["ADAPTERPS_MODEL"]
            ?? repoRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("model file \(path) is absent (scripts/setup.sh fetches it)")
        }
        return try TokenizerLoader.load(ggufPath: path)
    }

    /// Writes `text` to a fresh temporary file and returns its path.
    static func temporaryFile(_ text: String, name: String = "data.jsonl") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adapterps-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }
}

/// A tokenizer whose ids are visible by eye: one token per UTF-8 byte (ids 0...255) and three control tokens,
/// with a ChatML template that carries a default system prompt. Lets the rendering tests state exact ids.
struct ByteTestTokenizer: Tokenizer {
    static let imStart: Int32 = 256
    static let imEnd: Int32 = 257
    static let endOfText: Int32 = 258
    static let specials: [(text: String, id: Int32)] = [
        ("<|im_start|>", imStart), ("<|im_end|>", imEnd), ("<|endoftext|>", endOfText),
    ]

    var addsBOS = false
    var eosID: Int32? = ByteTestTokenizer.imEnd
    var chatTemplate: String? =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        + "{{ '<|im_start|>system\nYou are helpful.<|im_end|>\n' }}{% endif %}"
        + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"

    var vocabSize: Int { 259 }
    var bosID: Int32? { ByteTestTokenizer.endOfText }
    var addsEOS: Bool { false }
    var endOfGenerationIDs: [Int32] { [ByteTestTokenizer.imEnd, ByteTestTokenizer.endOfText] }

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var out: [Int32] = addSpecial && addsBOS ? [ByteTestTokenizer.endOfText] : []
        var rest = Substring(text)
        outer: while !rest.isEmpty {
            if parseSpecial {
                for special in ByteTestTokenizer.specials where rest.hasPrefix(special.text) {
                    out.append(special.id)
                    rest = rest.dropFirst(special.text.count)
                    continue outer
                }
            }
            out += rest.prefix(1).utf8.map { Int32($0) }
            rest = rest.dropFirst()
        }
        return out
    }

    func decode(_ ids: [Int32], skipSpecial: Bool) -> String {
        String(decoding: decodeBytes(ids, skipSpecial: skipSpecial), as: UTF8.self)
    }

    func decodeBytes(_ ids: [Int32], skipSpecial: Bool) -> [UInt8] {
        ids.flatMap { skipSpecial && isSpecial($0) ? [] : tokenBytes($0) }
    }

    func tokenBytes(_ id: Int32) -> [UInt8] {
        if (0..<256).contains(id) { return [UInt8(id)] }
        return ByteTestTokenizer.specials.first { $0.id == id }.map { Array($0.text.utf8) } ?? []
    }

    func tokenText(_ id: Int32) -> String? {
        guard (0..<259).contains(id) else { return nil }
        return String(decoding: tokenBytes(id), as: UTF8.self)
    }

    func tokenID(_ text: String) -> Int32? { ByteTestTokenizer.specials.first { $0.text == text }?.id }
    func isSpecial(_ id: Int32) -> Bool { id >= 256 && id < 259 }
    func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationIDs.contains(id) }
}

/// The ids of `text` under `ByteTestTokenizer` without special parsing.
func byteIDs(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }
