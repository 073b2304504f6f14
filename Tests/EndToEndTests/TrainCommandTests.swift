import Foundation
import ModelFiles
import XCTest

/// `adapterps train` as a user runs it: a plain gradient step equals PyTorch's gradient, resume
/// continues bit for bit, and bad data or a foreign checkpoint is refused with exit 2.
final class TrainCommandTests: XCTestCase {
    /// The batch of a PyTorch fixture as pre-tokenized JSONL, and its prompts/gates as an adapter file.
    func fixtureFiles(_ variant: String, in dir: URL) throws -> (data: String, initial: String, fx: [String: Any]) {
        let fx = try CLI.json(CLI.fixtures.appendingPathComponent("adapter/grad_\(variant).json"))
        let batch = try XCTUnwrap(fx["batch"] as? [[String: [Int]]])
        var lines = ""
        for seq in batch {
            let data = try JSONSerialization.data(withJSONObject: ["input_ids": seq["input_ids"]!, "labels": seq["labels"]!])
            lines += String(decoding: data, as: UTF8.self) + "\n"
        }
        let dataPath = dir.appendingPathComponent("batch.jsonl").path
        try lines.write(toFile: dataPath, atomically: true, encoding: .utf8)
        let config = try XCTUnwrap(fx["config"] as? [String: Any])
        let (n, k, d, h) = (fx["adapter_layers"] as! Int, fx["adapter_len"] as! Int, config["dim"] as! Int, config["n_heads"] as! Int)
        var w = SafetensorsWriter()  // no metadata: as made by another tool
        w.add(name: "adapter.prompt", shape: [n, k, d], floats: (fx["prompt"] as! [Double]).map(Float.init))
        w.add(name: "adapter.gate", shape: [n, h], floats: (fx["gate"] as! [Double]).map(Float.init))
        let initPath = dir.appendingPathComponent("init.safetensors").path
        try w.write(to: initPath)
        return (dataPath, initPath, fx)
    }

    func readAdapter(_ path: String) throws -> [Float] {
        let f = try SafetensorsFile(path: path)
        return try f.floats(named: "adapter.prompt") + f.floats(named: "adapter.gate")
    }

    /// `--optimizer sgd --lr 1` with no decay, clip or schedule is params − gradient: the
    /// difference of the written adapter and the init is PyTorch autograd's gradient.
    func testPlainGradientStepEqualsPyTorchGradient() throws {
        for variant in ["tied_all", "untied_top1"] {
            let dir = try CLI.temporaryDirectory()
            let (data, initial, fx) = try fixtureFiles(variant, in: dir)
            let model = CLI.repo.appendingPathComponent(fx["model"] as! String).path
            let out = dir.appendingPathComponent("run").path
            let r = try CLI.run([
                "train", "--model", model, "--data", data, "--out", out, "--init", initial, "--optimizer", "sgd", "--lr", "1",
                "--weight-decay", "0", "--clip", "0", "--schedule", "constant", "--warmup-steps", "0", "--steps", "1",
                "--global-batch", "3", "--adapter-layers", "\(fx["adapter_layers"] as! Int)",
                "--adapter-len", "\(fx["adapter_len"] as! Int)", "--micro-batch-tokens", "12",
            ])
            XCTAssertEqual(r.status, 0, r.stderr)
            let before = try readAdapter(initial), after = try readAdapter(out + "/adapter.safetensors")
            let grad = zip(before, after).map { Double($0) - Double($1) }
            let reference = (fx["grad_prompt"] as! [Double]) + (fx["grad_gate"] as! [Double])
            XCTAssertEqual(grad.count, reference.count)
            let scale = reference.map(abs).max()!
            let worst = zip(grad, reference).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst / scale, 1e-4, "\(variant): worst difference \(worst), largest gradient \(scale)")
            let metrics = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(metrics.count, 1)
            let m = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(metrics[0].utf8)) as? [String: Any])
            XCTAssertEqual(m["step"] as? Int, 1)
            XCTAssertEqual(try XCTUnwrap(m["loss"] as? Double), fx["loss"] as! Double, accuracy: 1e-5)
        }
    }

    func tinyArgs(_ dir: URL, data: String, out: String, steps: Int) -> [String] {
        ["train", "--model", CLI.fixtures.appendingPathComponent("tiny-llama/tied/model.gguf").path, "--data", data,
         "--out", out, "--steps", "\(steps)", "--global-batch", "2", "--adapter-len", "3", "--lr", "0.01", "--seed", "5",
         "--micro-batch-tokens", "16"]
    }

    /// A run on the real model small enough to be quick but long enough to be stopped midway.
    func realModelArgs(data: String, out: String) throws -> [String] {
        let model = ProcessInfo.processInfo.environment["ADAPTERPS_MODEL"]
            ?? CLI.repo.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: model) else { throw XCTSkip("run scripts/setup.sh to get \(model)") }
        return ["train", "--model", model, "--data", data, "--out", out, "--steps", "12", "--global-batch", "2",
            "--adapter-layers", "2", "--adapter-len", "4", "--lr", "0.01", "--warmup-steps", "2", "--seed", "11",
            "--checkpoint-every", "1", "--threads", "1"]
    }

    /// Starts a training process, lets it write `steps` metric lines, then sends `signal`.
    func interrupt(_ args: [String], out: String, afterSteps steps: Int, signal: Int32) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try CLI.binary())
        p.arguments = args
        p.currentDirectoryURL = CLI.repo
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline {
            let lines = (try? String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8))?.split(separator: "\n").count ?? 0
            if lines >= steps { break }
            usleep(20_000)
        }
        XCTAssertTrue(p.isRunning, "the run ended before it could be interrupted")
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Killed with SIGKILL mid-run, or stopped with SIGTERM, then `--resume`d: the final adapter is
    /// bit for bit the one of an uninterrupted run, and metrics.jsonl has each step once.
    func testResumeAfterSIGKILLAndSIGTERMIsBitwiseEqual() throws {
        let dir = try CLI.temporaryDirectory()
        let data = dir.appendingPathComponent("dates.jsonl").path
        let records = (1...8).map { "{\"instruction\": \"Convert the date to ISO format.\", \"input\": \"March \($0), 2021\", \"output\": \"2021-03-0\($0)\"}" }
        try (records.joined(separator: "\n") + "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let straight = dir.appendingPathComponent("straight").path
        let r = try CLI.run(try realModelArgs(data: data, out: straight))
        XCTAssertEqual(r.status, 0, r.stderr)
        let expected = try readAdapter(straight + "/adapter.safetensors")

        for (name, sig) in [("killed", SIGKILL), ("stopped", SIGTERM)] {
            let out = dir.appendingPathComponent(name).path
            let status = try interrupt(try realModelArgs(data: data, out: out), out: out, afterSteps: 3, signal: sig)
            if sig == SIGTERM { XCTAssertEqual(status, 0, "SIGTERM stops cleanly") }
            let resumed = try CLI.run(try realModelArgs(data: data, out: out) + ["--resume"])
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertTrue(resumed.stderr.contains("resuming"), resumed.stderr)
            XCTAssertEqual(try readAdapter(out + "/adapter.safetensors"), expected, "\(name) run differs from the straight run")
            let steps = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
                (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["step"] as! Int
            }
            XCTAssertEqual(steps, Array(1...12), "\(name): metrics steps")
        }
    }

    /// The newest state files damaged (a flipped byte, a truncation): `--resume` reports and skips
    /// them, falls back to an older snapshot, and still ends with the uninterrupted run's bits.
    func testResumeSkipsCorruptStatesAndFallsBack() throws {
        let dir = try CLI.temporaryDirectory()
        let data = dir.appendingPathComponent("dates.jsonl").path
        let records = (1...8).map { "{\"instruction\": \"Convert the date to ISO format.\", \"input\": \"June \($0), 2022\", \"output\": \"2022-06-0\($0)\"}" }
        try (records.joined(separator: "\n") + "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let straight = dir.appendingPathComponent("straight").path
        XCTAssertEqual(try CLI.run(try realModelArgs(data: data, out: straight)).status, 0)
        let out = dir.appendingPathComponent("damaged").path
        _ = try interrupt(try realModelArgs(data: data, out: out), out: out, afterSteps: 5, signal: SIGKILL)
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: out + "/snapshots").sorted()
        XCTAssertGreaterThanOrEqual(snapshots.count, 2)
        // Flip one byte in the newest state, truncate the newest snapshot.
        var state = try Data(contentsOf: URL(fileURLWithPath: out + "/trainer_state.safetensors"))
        state[state.count - 5] ^= 0x40
        try state.write(to: URL(fileURLWithPath: out + "/trainer_state.safetensors"))
        let newest = URL(fileURLWithPath: out + "/snapshots/" + snapshots.last!)
        try Data(contentsOf: newest).prefix(100).write(to: newest)
        let resumed = try CLI.run(try realModelArgs(data: data, out: out) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(resumed.stderr.components(separatedBy: "adapterps: skipping ").count - 1, 2, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("after skipping 2 unusable state file(s)"), resumed.stderr)
        XCTAssertEqual(try readAdapter(out + "/adapter.safetensors"), try readAdapter(straight + "/adapter.safetensors"))
    }

    func testMalformedDataIsExitTwoWithLine() throws {
        let dir = try CLI.temporaryDirectory()
        let data = dir.appendingPathComponent("bad.jsonl").path
        try "{\"input_ids\": [1, 2, 3], \"labels\": [-100, 2, 3]}\n{\"input_ids\": [1, 2, \"x\"]}\n".write(toFile: data, atomically: true, encoding: .utf8)
        let r = try CLI.run(tinyArgs(dir, data: data, out: dir.appendingPathComponent("o").path, steps: 1) + ["--strict"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("bad.jsonl:2"), r.stderr)
    }

    func testAdapterForAnotherModelIsRefused() throws {
        let dir = try CLI.temporaryDirectory()
        let (data, _, _) = try fixtureFiles("tied_all", in: dir)
        let out = dir.appendingPathComponent("run").path
        XCTAssertEqual(try CLI.run(tinyArgs(dir, data: data, out: out, steps: 1)).status, 0)
        // Same shapes (dim 32, 4 heads, 2 layers) but another model file: the fingerprint differs.
        let r = try CLI.run(["score", "--model", CLI.fixtures.appendingPathComponent("tiny-llama/untied/model.gguf").path,
            "--adapter", out + "/adapter.safetensors", "--text", "the winter"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("adapter.safetensors"), r.stderr)
    }
}
