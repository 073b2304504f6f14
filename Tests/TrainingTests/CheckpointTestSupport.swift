import Foundation
import Llama
import ModelFiles
import XCTest

/// Shared helpers of the checkpoint and export tests: the tiny model, temporary folders, file surgery.
enum CheckpointFixtures {
    /// The repository's `Tests/Fixtures`, found by walking up from this file.
    static let fixtures: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("Tests/Fixtures")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures")
    }()

    /// Tiny LLaMA: 2 layers, dim 32, 4 heads (2 KV heads), tied embeddings, F32.
    static let tinyModelPath = fixtures.appendingPathComponent("tiny-llama/tied/model.gguf").path

    static func tinyModel() throws -> LlamaModel {
        try LlamaModel.load(path: tinyModelPath)
    }

    /// A fresh temporary folder, removed when the test ends.
    static func temporaryFolder(_ test: XCTestCase) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adapterps-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// Deterministic non-trivial values (a tiny LCG), different per `salt`.
    static func values(_ count: Int, salt: UInt64) -> [Float] {
        var state = salt &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 250_000
        }
    }

    /// Adapter parameters for the tiny model with random prompts and per-head gates.
    static func parameters(config: LlamaConfig, layers: Int, length: Int, salt: UInt64 = 1) -> AdapterParameters {
        let shape = AdapterShape(config: config, layers: layers, length: length)
        return AdapterParameters(shape: shape, values: values(shape.parameterCount, salt: salt))
    }

    /// Expects `body` to throw a ModelFileError of `kind` whose message contains every `fragments`.
    static func expectError<T>(
        _ kind: ModelFileError.Kind, containing fragments: [String], file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> T
    ) {
        do {
            _ = try body()
            XCTFail("expected a \(kind) error containing \(fragments), got success", file: file, line: line)
        } catch let error as ModelFileError {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(
                    error.description.contains(fragment), "'\(fragment)' not in: \(error)", file: file, line: line)
            }
        } catch {
            XCTFail("expected ModelFileError, got \(error)", file: file, line: line)
        }
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
    static func write(_ bytes: [UInt8], _ url: URL) throws { try Data(bytes).write(to: url) }

    /// Offset of the first occurrence of `needle` in `haystack`.
    static func find(_ needle: String, in haystack: [UInt8]) -> Int? {
        let n = Array(needle.utf8)
        guard n.count <= haystack.count else { return nil }
        for i in 0...(haystack.count - n.count) where haystack[i] == n[0] && Array(haystack[i..<i + n.count]) == n {
            return i
        }
        return nil
    }

    /// Offset of the data section (8 + header length).
    static func dataStart(_ bytes: [UInt8]) -> Int {
        var length = 0
        for i in 0..<8 { length |= Int(bytes[i]) << (8 * i) }
        return 8 + length
    }
}
