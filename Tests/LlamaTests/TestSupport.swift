import Foundation
import XCTest

/// Paths the tests share: committed fixtures and the default model (fetched by scripts/setup.sh).
enum TestPaths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = repo.appendingPathComponent("Tests/Fixtures")

    /// The default model, or a skip that says how to get it.
    static func defaultModel() throws -> String {
        let path = ProcessInfo.processInfo.environment["ADAPTERPS_MODEL"]
            ?? repo.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("model \(path) is missing: run scripts/setup.sh")
        }
        return path
    }

    static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(relative))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
