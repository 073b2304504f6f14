import Foundation
import ModelFiles
import Wire
import XCTest

/// The parameter server through real processes and real ZeroMQ sockets: `launch --workers N`
/// ends with the same adapter bits as `train`, and a worker with other data is refused.
/// Shared inputs: 16 random pre-tokenized sequences for the tiny model and a 10-step config.
enum PSFixtures {
    /// 16 random pre-tokenized sequences for the tiny model (vocabulary 264).
    static func data(_ dir: URL, seed: UInt64 = 1, name: String = "data.jsonl") throws -> String {
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

    static func args(_ data: String, out: String) -> [String] {
        ["--model", CLI.fixtures.appendingPathComponent("tiny-llama/tied/model.gguf").path, "--data", data, "--out", out,
         "--steps", "10", "--global-batch", "4", "--adapter-len", "3", "--lr", "0.01", "--warmup-steps", "2",
         "--micro-batch-tokens", "12", "--seed", "7"]
    }
}

final class ParameterServerTests: XCTestCase {
    func data(_ dir: URL, seed: UInt64 = 1, name: String = "data.jsonl") throws -> String {
        try PSFixtures.data(dir, seed: seed, name: name)
    }
    func args(_ data: String, out: String) -> [String] { PSFixtures.args(data, out: out) }

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


/// A coordinator fed garbage: random bytes, truncated frames, a wrong version, a bad checksum, an
/// oversized length, an unknown type, and a registered peer that takes a lease and goes silent.
/// Each bad frame is answered with ERROR; the silent peer's lease moves; a real worker then
/// finishes the run with the same bits as `train`.
final class CoordinatorHostilePeerTests: XCTestCase {
    func testGarbageIsAnsweredAndTheRunGoesOnUnharmed() throws {
        let helper = PSFixtures.self
        let dir = try CLI.temporaryDirectory()
        let d = try helper.data(dir)
        let model = CLI.fixtures.appendingPathComponent("tiny-llama/tied/model.gguf").path
        let reference = dir.appendingPathComponent("train").path
        XCTAssertEqual(try CLI.run(["train"] + helper.args(d, out: reference)).status, 0)

        let port = 20_000 + Int((getpid() + 7919) % 20_000)
        let endpoint = "tcp://127.0.0.1:\(port)"
        let coordinator = Process()
        coordinator.executableURL = URL(fileURLWithPath: try CLI.binary())
        let out = dir.appendingPathComponent("ps").path
        coordinator.arguments = ["coordinator", "--bind", endpoint] + helper.args(d, out: out)
        let log = dir.appendingPathComponent("coordinator.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        coordinator.standardError = try FileHandle(forWritingTo: log)
        try coordinator.run()
        defer { if coordinator.isRunning { coordinator.terminate() }; coordinator.waitUntilExit() }

        let context = try SocketContext()
        let peer = try Socket(context, .dealer)
        try peer.setIdentity(Array("hostile-peer".utf8))
        try peer.connect(endpoint)
        let valid = FrameCodec.encode(Message.heartbeat(HeartbeatPayload(state: .idle, currentStep: 0))
            .encode(runID: 1, workerID: 1, sequence: 1))
        var random = SplitMixLike(seed: 5)
        var versionNinetyNine = valid
        versionNinetyNine[4] = 99
        var badChecksum = valid
        badChecksum[badChecksum.count - 1] ^= 0x01
        var oversized = valid
        for i in 36..<40 { oversized[i] = 0xFF }
        var unknownType = valid
        unknownType[6] = 0x77
        let hostile: [(String, [UInt8])] = [
            ("random bytes", (0..<100).map { _ in random.byte() }), ("truncated", Array(valid.prefix(20))),
            ("version 99", versionNinetyNine), ("bad checksum", badChecksum), ("oversized", oversized),
            ("unknown type", unknownType),
        ]
        for (name, bytes) in hostile {
            try peer.send([bytes])
            let reply = try XCTUnwrap(try receive(peer, seconds: 10), "\(name): no reply")
            let (_, message) = try Message.decode(bytes: reply)
            guard case .error = message else { return XCTFail("\(name): expected ERROR, got \(message.type)") }
        }
        // Join as a worker, take a lease, then go silent: the lease must move on.
        let hello = Message.hello(HelloPayload(
            workerVersion: "adapterps/0.1", modelSHA256: digest(try Fingerprint.sha256(file: model)),
            datasetSHA256: digest(try Fingerprint.sha256(file: d)), threads: 1, hostname: "hostile"))
        try peer.send([FrameCodec.encode(hello.encode(runID: 0, workerID: 0, sequence: 2))])
        var welcomed = false, leased = false
        var runID: UInt64 = 0
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !(welcomed && leased) {
            guard let bytes = try receive(peer, seconds: 1) else { continue }
            let (header, message) = try Message.decode(bytes: bytes)
            switch message {
            case .welcome:
                welcomed = true
                runID = header.runID
            case .lease: leased = true
            default: break
            }
        }
        XCTAssertTrue(welcomed && leased, "the hostile peer was welcomed and leased work")
        // A gradient for a step that is not the current one is counted as late and dropped.
        let late = Message.gradient(GradientPayload(
            step: 999, microBatch: 0, lossSum: 1, labelCount: 1, tokenCount: 1, gradient: TensorCodec.encode([1, 2, 3])))
        try peer.send([FrameCodec.encode(late.encode(runID: runID, workerID: 0, sequence: 3))])
        usleep(300_000)
        peer.close()

        let worker = try CLI.run(["worker", "--connect", endpoint, "--model", model, "--data", d], timeout: 120)
        XCTAssertEqual(worker.status, 0, worker.stderr)
        coordinator.waitUntilExit()
        XCTAssertEqual(coordinator.terminationStatus, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/adapter.safetensors")),
            try Data(contentsOf: URL(fileURLWithPath: reference + "/adapter.safetensors")))
        let text = try String(contentsOf: log, encoding: .utf8)
        XCTAssertTrue(text.contains("bad frame"), text)
        XCTAssertTrue(text.contains("silent"), text)
        XCTAssertTrue(text.contains("late gradient"), text)
    }

    func receive(_ s: Socket, seconds: Double) throws -> [UInt8]? {
        try s.receive(timeoutMillis: Int(seconds * 1000))?.last
    }

    func digest(_ hex: String) -> [UInt8] { Fingerprint.digest(hex: hex) ?? [] }
}

struct SplitMixLike {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func byte() -> UInt8 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

/// Crashes on the real model with real processes: the coordinator killed with SIGKILL mid-run and
/// restarted with `--resume` (the worker rejoins by itself), or one of two workers killed (its lease
/// moves); either way the run ends with the bits of an uninterrupted `train`.
final class CoordinatorRestartTests: XCTestCase {
    var model = ""
    var data = ""
    var dir = URL(fileURLWithPath: "/")

    override func setUpWithError() throws {
        model = ProcessInfo.processInfo.environment["ADAPTERPS_MODEL"]
            ?? CLI.repo.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: model) else { throw XCTSkip("run scripts/setup.sh to get \(model)") }
        dir = try CLI.temporaryDirectory()
        data = dir.appendingPathComponent("dates.jsonl").path
        let records = (1...8).map { "{\"instruction\": \"Convert the date to ISO format.\", \"input\": \"May \($0), 2020\", \"output\": \"2020-05-0\($0)\"}" }
        try (records.joined(separator: "\n") + "\n").write(toFile: data, atomically: true, encoding: .utf8)
    }

    func args(_ out: String) -> [String] {
        ["--model", model, "--data", data, "--out", out, "--steps", "10", "--global-batch", "2", "--adapter-layers", "2",
         "--adapter-len", "4", "--lr", "0.01", "--seed", "4", "--checkpoint-every", "1", "--threads", "1",
         "--micro-batch-tokens", "40"]
    }

    func startWorker(_ endpoint: String, log: URL) throws -> Process {
        let worker = Process()
        worker.executableURL = URL(fileURLWithPath: try CLI.binary())
        worker.arguments = ["worker", "--connect", endpoint, "--model", model, "--data", data, "--threads", "1"]
        FileManager.default.createFile(atPath: log.path, contents: nil)
        worker.standardError = try FileHandle(forWritingTo: log)
        try worker.run()
        return worker
    }

    func waitForSteps(_ out: String, _ n: Int) {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let have = (try? String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8))?.split(separator: "\n").count ?? 0
            if have >= n { return }
            usleep(20_000)
        }
    }

    func testOneOfTwoWorkersKilledEqualsTrain() throws {
        let reference = dir.appendingPathComponent("train").path
        XCTAssertEqual(try CLI.run(["train"] + args(reference)).status, 0)
        let out = dir.appendingPathComponent("ps").path
        let endpoint = "tcp://127.0.0.1:\(22_000 + Int(getpid() % 20_000))"
        let coordinator = Process()
        coordinator.executableURL = URL(fileURLWithPath: try CLI.binary())
        coordinator.arguments = ["coordinator", "--bind", endpoint, "--min-workers", "2"] + args(out)
        let clog = dir.appendingPathComponent("coordinator.log")
        FileManager.default.createFile(atPath: clog.path, contents: nil)
        coordinator.standardError = try FileHandle(forWritingTo: clog)
        try coordinator.run()
        let a = try startWorker(endpoint, log: dir.appendingPathComponent("a.log"))
        let b = try startWorker(endpoint, log: dir.appendingPathComponent("b.log"))
        defer { for p in [a, b, coordinator] where p.isRunning { p.terminate() } }
        waitForSteps(out, 3)
        XCTAssertTrue(b.isRunning, "the run ended before a worker could be killed")
        kill(b.processIdentifier, SIGKILL)
        coordinator.waitUntilExit()
        XCTAssertEqual(coordinator.terminationStatus, 0)
        a.waitUntilExit()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/adapter.safetensors")),
            try Data(contentsOf: URL(fileURLWithPath: reference + "/adapter.safetensors")))
        let text = try String(contentsOf: clog, encoding: .utf8)
        XCTAssertTrue(text.contains("silent"), text)
    }

    func testCoordinatorKilledAndResumedEqualsTrain() throws {
        let reference = dir.appendingPathComponent("train").path
        let r = try CLI.run(["train"] + args(reference))
        XCTAssertEqual(r.status, 0, r.stderr)

        let out = dir.appendingPathComponent("ps").path
        let endpoint = "tcp://127.0.0.1:\(21_000 + Int(getpid() % 20_000))"
        func startCoordinator(resume: Bool) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try CLI.binary())
            p.arguments = ["coordinator", "--bind", endpoint] + args(out) + (resume ? ["--resume"] : [])
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let first = try startCoordinator(resume: false)
        let workerLog = dir.appendingPathComponent("worker.log")
        let worker = try startWorker(endpoint, log: workerLog)
        defer { if worker.isRunning { worker.terminate() } }
        waitForSteps(out, 3)
        XCTAssertTrue(first.isRunning, "the run ended before the coordinator could be killed")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let second = try startCoordinator(resume: true)
        second.waitUntilExit()
        XCTAssertEqual(second.terminationStatus, 0)
        worker.waitUntilExit()
        XCTAssertEqual(worker.terminationStatus, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/adapter.safetensors")),
            try Data(contentsOf: URL(fileURLWithPath: reference + "/adapter.safetensors")))
        let log = try String(contentsOf: workerLog, encoding: .utf8)
        XCTAssertTrue(log.contains("rejoining"), log)
    }
}
