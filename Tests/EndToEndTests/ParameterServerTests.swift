import Foundation
import XCTest

/// The parameter server through real processes and real ZeroMQ sockets: `launch --workers N`
/// ends with the same adapter bits as `train`, and a worker with other data is refused.
final class ParameterServerTests: XCTestCase {
    /// 16 random pre-tokenized sequences for the tiny model (vocabulary 264).
    func data(_ dir: URL, seed: UInt64 = 1, name: String = "data.jsonl") throws -> String {
        var state = seed
        var lines = ""
        for _ in 0..<16 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let n = 5 + Int(state >> 60)
            let ids = (0..<n).map { i in Int((state >> UInt64(i % 50)) % 264) }
            let labels = ids.enumerated().map { $0.offset < n / 3 ? -100 : $0.element }
            lines += String(decoding: try JSONSerialization.data(withJSONObject: ["input_ids": ids, "labels": labels]), as: UTF8.self) + "\n"
        }
        let path = dir.appendingPathComponent(name).path
        try lines.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func args(_ data: String, out: String) -> [String] {
        ["--model", CLI.fixtures.appendingPathComponent("tiny-llama/tied/model.gguf").path, "--data", data, "--out", out,
         "--steps", "10", "--global-batch", "4", "--adapter-len", "3", "--lr", "0.01", "--warmup-steps", "2",
         "--micro-batch-tokens", "12", "--seed", "7"]
    }

    func testLaunchWithOneTwoThreeWorkersEqualsTrainBitForBit() throws {
        let dir = try CLI.temporaryDirectory()
        let d = try data(dir)
        let reference = dir.appendingPathComponent("train").path
        let r = try CLI.run(["train"] + args(d, out: reference))
        XCTAssertEqual(r.status, 0, r.stderr)
        let expected = try Data(contentsOf: URL(fileURLWithPath: reference + "/adapter.safetensors"))
        for n in [1, 2, 3] {
            let out = dir.appendingPathComponent("launch\(n)").path
            let l = try CLI.run(["launch", "--workers", "\(n)"] + args(d, out: out), timeout: 180)
            XCTAssertEqual(l.status, 0, l.stderr)
            XCTAssertTrue(l.stderr.contains("started \(n) worker process(es)"), l.stderr)
            let got = try Data(contentsOf: URL(fileURLWithPath: out + "/adapter.safetensors"))
            XCTAssertEqual(got, expected, "launch --workers \(n) differs from train")
            let metrics = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(metrics.count, 10)
            let last = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(metrics.last!.utf8)) as? [String: Any])
            XCTAssertGreaterThan(try XCTUnwrap(last["bytes_wire"] as? Int), 0)
            XCTAssertEqual(last["workers"] as? Int, n)
        }
    }

    /// A worker whose data file differs is rejected; both sides name the mismatch.
    func testWorkerWithOtherDataIsRejected() throws {
        let dir = try CLI.temporaryDirectory()
        let d = try data(dir), other = try data(dir, seed: 2, name: "other.jsonl")
        let port = 20_000 + Int(getpid() % 20_000)
        let coordinator = Process()
        coordinator.executableURL = URL(fileURLWithPath: try CLI.binary())
        coordinator.arguments = ["coordinator", "--bind", "tcp://127.0.0.1:\(port)"] + args(d, out: dir.appendingPathComponent("c").path)
        let log = dir.appendingPathComponent("coordinator.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        coordinator.standardError = try FileHandle(forWritingTo: log)
        try coordinator.run()
        defer { coordinator.terminate(); coordinator.waitUntilExit() }
        let w = try CLI.run(["worker", "--connect", "tcp://127.0.0.1:\(port)", "--model",
            CLI.fixtures.appendingPathComponent("tiny-llama/tied/model.gguf").path, "--data", other, "--connect-timeout", "20"], timeout: 60)
        XCTAssertEqual(w.status, 2, w.stderr)
        XCTAssertTrue(w.stderr.contains("rejected") && w.stderr.contains("dataset sha256"), w.stderr)
        let coordinatorLog = try String(contentsOf: log, encoding: .utf8)
        XCTAssertTrue(coordinatorLog.contains("rejected worker") && coordinatorLog.contains("dataset sha256"), coordinatorLog)
    }
}
