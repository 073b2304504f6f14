import Foundation
import XCTest

/// `score --json` and `generate` through the binary, on the tiny model and on the real one.
final class ScoreAndGenerateTests: XCTestCase {
    func testScoreJSONMatchesNumpyReferenceOnTinyModel() throws {
        for variant in ["tied", "untied"] {
            let dir = CLI.fixtures.appendingPathComponent("tiny-llama/\(variant)")
            let ref = try CLI.json(dir.appendingPathComponent("reference.json"))
            let r = try CLI.run(["score", "--model", dir.appendingPathComponent("model.gguf").path, "--text",
                try XCTUnwrap(ref["text"] as? String), "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(out["tokens"] as? [Int], ref["tokens"] as? [Int])
            let ours = try XCTUnwrap(out["logprobs"] as? [Double]), theirs = try XCTUnwrap(ref["logprobs"] as? [Double])
            XCTAssertEqual(ours.count, theirs.count)
            let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-4, "\(variant): worst log-prob difference \(worst)")
            XCTAssertEqual(try XCTUnwrap(out["nll"] as? Double), try XCTUnwrap(ref["nll"] as? Double), accuracy: 1e-4)
        }
    }

    func defaultModel() throws -> String {
        let path = ProcessInfo.processInfo.environment["ADAPTERPS_MODEL"]
            ?? CLI.repo.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("run scripts/setup.sh to get \(path)") }
        return path
    }

    func testChatGenerationAnswersTheCapitalOfFrance() throws {
        let r = try CLI.run(["generate", "--model", try defaultModel(), "--chat", "--prompt", "What is the capital of France?",
            "--max-tokens", "24"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Paris"), r.stdout)
    }

    /// Sampling with a seed is repeatable; another seed gives another text.
    func testSeededSamplingIsRepeatable() throws {
        let model = try defaultModel()
        let args = ["generate", "--model", model, "--prompt", "Once upon a time", "--max-tokens", "16", "--temperature", "1.0", "--top-p", "0.95"]
        let a = try CLI.run(args + ["--seed", "1"]), b = try CLI.run(args + ["--seed", "1"]), c = try CLI.run(args + ["--seed", "2"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        XCTAssertNotEqual(a.stdout, c.stdout)
    }
}
