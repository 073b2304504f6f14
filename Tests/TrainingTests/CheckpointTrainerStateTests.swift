import Foundation
import Kernels
import Llama
import ModelFiles
import Training
import XCTest

/// The trainer state file: bit-exact round trips, and refusal of anything corrupt, truncated or foreign.
final class CheckpointTrainerStateTests: XCTestCase {
    typealias F = CheckpointFixtures

    /// A state after some AdamW steps, with awkward bit patterns in every buffer.
    func makeState(config: LlamaConfig, kind: OptimizerConfig.Kind = .adamw) -> TrainerState {
        var params = F.parameters(config: config, layers: 2, length: 3, salt: 11)
        var optConfig = OptimizerConfig()
        optConfig.kind = kind
        optConfig.clip = 1.0 / 3.0  // not a short decimal
        var optimizer = OptimizerState(config: optConfig, parameterCount: params.values.count)
        for s in 0..<3 {
            optimizer.apply(to: &params, gradient: F.values(params.values.count, salt: 100 + UInt64(s)), lr: 1e-3)
        }
        params.values[0] = -0.0
        params.values[1] = Float.leastNonzeroMagnitude
        if kind == .adamw {
            optimizer.m[0] = Float(bitPattern: 0x0000_0001)
            optimizer.v[1] = 1e-38
        }
        return TrainerState(
            params: params, optimizer: optimizer, nextStep: 3, epoch: 1, seed: UInt64.max,
            rngState: 0x1234_5678_9ABC_DEF0,
            modelSHA256: String(repeating: "c", count: 64), dataSHA256: String(repeating: "d", count: 64),
            configJSON: "{\"global_batch\":16,\"lr\":0.009}", extra: ["plan": "bucket=3;offset=17"],
            extraTensors: ["residual.0": F.values(10, salt: 5), "empty": []])
    }

    func testRoundTripIsBitExact() throws {
        let model = try F.tinyModel()
        let dir = try F.temporaryFolder(self)
        let path = dir.appendingPathComponent(TrainerState.fileName).path
        let state = makeState(config: model.config)
        try state.write(to: path)
        let read = try TrainerState.read(path: path)

        XCTAssertEqual(read.params.shape, state.params.shape)
        XCTAssertEqual(read.params.values.map(\.bitPattern), state.params.values.map(\.bitPattern))
        XCTAssertEqual(read.optimizer.m.map(\.bitPattern), state.optimizer.m.map(\.bitPattern))
        XCTAssertEqual(read.optimizer.v.map(\.bitPattern), state.optimizer.v.map(\.bitPattern))
        XCTAssertEqual(read.optimizer.step, 3)
        XCTAssertEqual(read.optimizer.config, state.optimizer.config)
        XCTAssertEqual(read.optimizer.config.clip.bitPattern, (1.0 / 3.0).bitPattern)
        XCTAssertEqual(read.nextStep, 3)
        XCTAssertEqual(read.epoch, 1)
        XCTAssertEqual(read.seed, UInt64.max)
        XCTAssertEqual(read.rngState, 0x1234_5678_9ABC_DEF0)
        XCTAssertEqual(read.extra, ["plan": "bucket=3;offset=17"])
        XCTAssertEqual(read.extraTensors["residual.0"], state.extraTensors["residual.0"])
        XCTAssertEqual(read.extraTensors["empty"], [])
        XCTAssertEqual(read, state)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [TrainerState.fileName])

        // The documented layout.
        let file = try SafetensorsFile(path: path)
        let n = state.params.values.count
        XCTAssertEqual(file.tensorInfo(named: "params")?.shape, [n])
        XCTAssertEqual(file.tensorInfo(named: "adam.m")?.shape, [n])
        XCTAssertEqual(file.tensorInfo(named: "adam.v")?.shape, [n])
        XCTAssertEqual(file.metadata["format"], "adapterps.trainer_state")
        XCTAssertEqual(file.metadata["checksum_sha256"]?.count, 64)
    }

    func testResumedRunContinuesIdentically() throws {
        // Resuming from the file gives the same next update as going on in memory.
        let model = try F.tinyModel()
        let path = try F.temporaryFolder(self).appendingPathComponent(TrainerState.fileName).path
        var live = makeState(config: model.config)
        try live.write(to: path)
        var resumed = try TrainerState.read(path: path)
        let grad = F.values(live.params.values.count, salt: 77)
        live.optimizer.apply(to: &live.params, gradient: grad, lr: 5e-4)
        resumed.optimizer.apply(to: &resumed.params, gradient: grad, lr: 5e-4)
        XCTAssertEqual(resumed.params.values.map(\.bitPattern), live.params.values.map(\.bitPattern))
        XCTAssertEqual(resumed.optimizer.v.map(\.bitPattern), live.optimizer.v.map(\.bitPattern))
    }

    func testSGDStateHasEmptyMoments() throws {
        let model = try F.tinyModel()
        let path = try F.temporaryFolder(self).appendingPathComponent(TrainerState.fileName).path
        let state = makeState(config: model.config, kind: .sgd)
        XCTAssertTrue(state.optimizer.m.isEmpty)
        try state.write(to: path)
        XCTAssertEqual(try TrainerState.read(path: path), state)
        XCTAssertEqual(try SafetensorsFile(path: path).tensorInfo(named: "adam.m")?.shape, [0])
    }

    func testFlippedBitsAnywhereAreRefused() throws {
        let model = try F.tinyModel()
        let url = try F.temporaryFolder(self).appendingPathComponent(TrainerState.fileName)
        try makeState(config: model.config).write(to: url.path)
        let whole = try F.bytes(url)
        let start = F.dataStart(whole)

        // Every 97th byte of the data section (params, moments, extra buffers), one bit each.
        for offset in stride(from: start, to: whole.count, by: 97) {
            var bytes = whole
            bytes[offset] ^= 0x10
            try F.write(bytes, url)
            XCTAssertThrowsError(try TrainerState.read(path: url.path), "flip at \(offset)") { error in
                XCTAssertEqual((error as? ModelFileError)?.kind, .corrupt, "flip at \(offset): \(error)")
            }
        }
        // A metadata value that still parses: the step.
        var bytes = whole
        let at = try XCTUnwrap(F.find("\"next_step\":\"3\"", in: bytes))
        bytes[at + 13] = UInt8(ascii: "4")
        try F.write(bytes, url)
        F.expectError(.corrupt, containing: [url.path, "checksum mismatch"]) { try TrainerState.read(path: url.path) }
        // A shape that still fits the bytes is caught too: swap the names of the two moments.
        bytes = whole
        let m = try XCTUnwrap(F.find("\"adam.m\"", in: bytes))
        let v = try XCTUnwrap(F.find("\"adam.v\"", in: bytes))
        bytes[m + 6] = UInt8(ascii: "v")
        bytes[v + 6] = UInt8(ascii: "m")
        try F.write(bytes, url)
        F.expectError(.corrupt, containing: ["checksum mismatch"]) { try TrainerState.read(path: url.path) }
    }

    func testTruncatedFilesAreRefused() throws {
        let model = try F.tinyModel()
        let url = try F.temporaryFolder(self).appendingPathComponent(TrainerState.fileName)
        try makeState(config: model.config).write(to: url.path)
        let whole = try F.bytes(url)
        for keep in [3, 8, 100, F.dataStart(whole), F.dataStart(whole) + 1, whole.count / 2, whole.count - 4] {
            try F.write(Array(whole[0..<keep]), url)
            XCTAssertThrowsError(try TrainerState.read(path: url.path), "cut at \(keep)") { error in
                guard let e = error as? ModelFileError else { return XCTFail("\(error)") }
                XCTAssertTrue([.truncated, .corrupt].contains(e.kind), "cut at \(keep): \(e)")
                XCTAssertTrue(e.description.contains(url.path))
            }
        }
    }

    func testFileWithoutChecksumOrFormatIsRefused() throws {
        let model = try F.tinyModel()
        let dir = try F.temporaryFolder(self)
        let state = makeState(config: model.config)
        let original = try SafetensorsFile(
            path: { () throws -> String in
                let p = dir.appendingPathComponent("ok.safetensors").path
                try state.write(to: p)
                return p
            }())
        func rewrite(_ name: String, _ edit: (inout [String: String]) -> Void) throws -> String {
            var writer = SafetensorsWriter()
            writer.metadata = original.metadata
            edit(&writer.metadata)
            for info in original.tensorInfos {
                writer.add(
                    name: info.name, shape: info.shape,
                    floats: info.elementCount == 0 ? [] : try original.floats(of: info))
            }
            let path = dir.appendingPathComponent(name).path
            try writer.write(to: path)
            return path
        }
        let noChecksum = try rewrite("nosum.safetensors") { $0["checksum_sha256"] = nil }
        F.expectError(.missingKey, containing: [noChecksum, "checksum_sha256"]) {
            try TrainerState.read(path: noChecksum)
        }
        let noFormat = try rewrite("noformat.safetensors") { $0["format"] = nil }
        F.expectError(.missingKey, containing: ["'format'", "not a trainer state"]) {
            try TrainerState.read(path: noFormat)
        }
        let version = try rewrite("v9.safetensors") { $0["format_version"] = "9" }
        F.expectError(.unsupportedVersion, containing: ["format_version", "\"9\""]) {
            try TrainerState.read(path: version)
        }

        // An adapter file is not a trainer state.
        let adapter = dir.appendingPathComponent("adapter.safetensors").path
        try AdapterCheckpoint.write(state.params, to: adapter, modelSHA256: "x", modelLayers: 2, step: 0)
        F.expectError(.badValue, containing: ["'format'", "adapterps.adapter"]) { try TrainerState.read(path: adapter) }
    }

    func testCheckAgainstModelAndData() throws {
        let model = try F.tinyModel()
        var state = makeState(config: model.config)
        state.modelSHA256 = model.fingerprint
        XCTAssertNoThrow(
            try state.check(
                model: model.config, modelSHA256: model.fingerprint, dataSHA256: state.dataSHA256, file: "s"))
        F.expectError(.badValue, containing: ["model_sha256", model.fingerprint, "ffff"]) {
            try state.check(model: model.config, modelSHA256: "ffff", dataSHA256: nil, file: "s")
        }
        F.expectError(.badValue, containing: ["data_sha256", "eeee"]) {
            try state.check(model: model.config, modelSHA256: nil, dataSHA256: "eeee", file: "s")
        }
        var wider = model.config
        wider.dim = 64
        F.expectError(.badValue, containing: ["does not fit"]) {
            try state.check(model: wider, modelSHA256: nil, dataSHA256: nil, file: "s")
        }
    }

    func testNonFiniteStateIsNotWritten() throws {
        let model = try F.tinyModel()
        let path = try F.temporaryFolder(self).appendingPathComponent(TrainerState.fileName).path
        var state = makeState(config: model.config)
        state.optimizer.v[3] = .infinity
        F.expectError(.badValue, containing: ["adam.v", "element 3"]) { try state.write(to: path) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
