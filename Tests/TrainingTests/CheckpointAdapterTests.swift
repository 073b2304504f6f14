import Foundation
import Kernels
import Llama
import ModelFiles
import Training
import XCTest

/// The adapter file (DESIGN §9): round trips and one hand-made hostile file per failure mode.
final class CheckpointAdapterTests: XCTestCase {
    typealias F = CheckpointFixtures

    func testRoundTripIsBitExactAndKeepsMetadata() throws {
        let model = try F.tinyModel()
        let dir = try F.temporaryFolder(self)
        let path = dir.appendingPathComponent("adapter.safetensors").path
        var params = F.parameters(config: model.config, layers: 2, length: 3)
        // Awkward values survive unchanged: −0, subnormal, largest finite.
        params.values[0] = -0.0
        params.values[1] = Float.leastNonzeroMagnitude
        params.values[2] = Float.greatestFiniteMagnitude
        try AdapterCheckpoint.write(
            params, to: path, modelSHA256: model.fingerprint, modelLayers: model.config.layers, step: 42,
            extra: ["config": "{\"seed\":7}", "note": "line\nbreak \"quoted\""])

        let (read, info) = try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: model.fingerprint)
        XCTAssertEqual(read.shape, params.shape)
        XCTAssertEqual(read.values.map(\.bitPattern), params.values.map(\.bitPattern))
        XCTAssertEqual(info.step, 42)
        XCTAssertEqual(info.firstLayer, 0)
        XCTAssertEqual(info.modelLayers, 2)
        XCTAssertEqual(info.modelSHA256, model.fingerprint)
        XCTAssertEqual(info.config, "{\"seed\":7}")
        XCTAssertEqual(info.metadata["note"], "line\nbreak \"quoted\"")
        XCTAssertEqual(info.metadata["format"], "adapterps.adapter")
        XCTAssertEqual(info.metadata["format_version"], "1")
        XCTAssertEqual(info.storedType, .f32)
        XCTAssertTrue(info.checksumVerified)

        // The file is what DESIGN §9 says: two F32 tensors of the documented shapes.
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(Set(file.tensorInfos.map(\.name)), ["adapter.prompt", "adapter.gate"])
        XCTAssertEqual(file.tensorInfo(named: "adapter.prompt")?.shape, [2, 3, 32])
        XCTAssertEqual(file.tensorInfo(named: "adapter.gate")?.shape, [2, 4])
        XCTAssertEqual(file.tensorInfo(named: "adapter.prompt")?.type, .f32)
        XCTAssertEqual(file.metadata["first_layer"], "0")
        XCTAssertEqual(file.metadata["model_layers"], "2")
        XCTAssertEqual(file.metadata["step"], "42")
    }

    func testTopLayerOnlyHasFirstLayerOne() throws {
        let model = try F.tinyModel()
        let path = try F.temporaryFolder(self).appendingPathComponent("a.safetensors").path
        let params = F.parameters(config: model.config, layers: 1, length: 5, salt: 3)
        try AdapterCheckpoint.write(params, to: path, modelSHA256: model.fingerprint, modelLayers: 2, step: 0)
        let (read, info) = try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: nil)
        XCTAssertEqual(info.firstLayer, 1)
        XCTAssertEqual(read.shape.firstLayer, 1)
        XCTAssertEqual(read.shape.layers, 1)
        XCTAssertEqual(read.shape.length, 5)
        XCTAssertEqual(read.values, params.values)
        XCTAssertEqual(try SafetensorsFile(path: path).metadata["first_layer"], "1")
    }

    func testOverwriteLeavesNoTemporaryFiles() throws {
        let model = try F.tinyModel()
        let dir = try F.temporaryFolder(self)
        let path = dir.appendingPathComponent("adapter.safetensors").path
        for step in 0..<3 {
            let params = F.parameters(config: model.config, layers: 2, length: 2, salt: UInt64(step))
            try AdapterCheckpoint.write(params, to: path, modelSHA256: model.fingerprint, modelLayers: 2, step: step)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["adapter.safetensors"])
        XCTAssertEqual(try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: nil).1.step, 2)
    }

    // MARK: - Files made elsewhere

    func testMetadataLessHandMadeFileIsAccepted() throws {
        let model = try F.tinyModel()
        let path = try F.temporaryFolder(self).appendingPathComponent("hand.safetensors").path
        let prompt = F.values(1 * 4 * 32, salt: 9)
        let gate: [Float] = [0.5, -0.25, 0, 1]
        var writer = SafetensorsWriter()
        writer.add(name: "adapter.prompt", shape: [1, 4, 32], floats: prompt)
        writer.add(name: "adapter.gate", shape: [1, 4], floats: gate)
        try writer.write(to: path)

        let (params, info) = try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: model.fingerprint)
        XCTAssertFalse(info.hasMetadata)
        XCTAssertFalse(info.checksumVerified)
        XCTAssertNil(info.step)
        XCTAssertNil(info.modelSHA256)
        XCTAssertEqual(info.firstLayer, 1)
        XCTAssertEqual(params.shape.firstLayer, 1)
        XCTAssertEqual(Array(params.prompt(0)), prompt)
        XCTAssertEqual(Array(params.gates(0)), gate)
    }

    func testHalfPrecisionFileFromPyTorchToolsIsAccepted() throws {
        // What `safetensors.torch.save_file(..., metadata={"format": "pt"})` of BF16/F16 tensors gives.
        let model = try F.tinyModel()
        let path = try F.temporaryFolder(self).appendingPathComponent("pt.safetensors").path
        let prompt: [Float] = (0..<(2 * 2 * 32)).map { Float($0 % 7) * 0.25 - 0.5 }  // exact in BF16 and F16
        var writer = SafetensorsWriter()
        writer.metadata = ["format": "pt"]
        writer.add(name: "adapter.prompt", shape: [2, 2, 32], floats: prompt, as: .bf16)
        writer.add(name: "adapter.gate", shape: [2, 4], floats: [0, 0.5, 1, -1, 0.125, 0, 0, 2], as: .f16)
        try writer.write(to: path)
        let (params, info) = try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: model.fingerprint)
        XCTAssertEqual(info.storedType, .bf16)
        XCTAssertEqual(Array(params.prompt(0)) + Array(params.prompt(1)), prompt)
        XCTAssertEqual(Array(params.gates(1)), [0.125, 0, 0, 2])
    }

    // MARK: - Hostile files

    func testOtherModelsFingerprintIsRefusedNamingBoth() throws {
        let model = try F.tinyModel()
        let path = try F.temporaryFolder(self).appendingPathComponent("a.safetensors").path
        let other = String(repeating: "ab", count: 32)
        try AdapterCheckpoint.write(
            F.parameters(config: model.config, layers: 2, length: 2), to: path, modelSHA256: other, modelLayers: 2,
            step: 1)
        F.expectError(.badValue, containing: [path, "model_sha256", other, model.fingerprint]) {
            try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: model.fingerprint)
        }
        // Without a fingerprint to compare, the shapes decide.
        XCTAssertNoThrow(try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: nil))
    }

    func testWrongShapesAreRefused() throws {
        let model = try F.tinyModel()
        let dir = try F.temporaryFolder(self)
        func file(_ name: String, prompt: [Int], gate: [Int], metadata: [String: String] = [:]) throws -> String {
            var writer = SafetensorsWriter()
            writer.metadata = metadata
            writer.add(
                name: "adapter.prompt", shape: prompt, floats: [Float](repeating: 0.5, count: prompt.reduce(1, *)))
            writer.add(name: "adapter.gate", shape: gate, floats: [Float](repeating: 0, count: gate.reduce(1, *)))
            let path = dir.appendingPathComponent(name).path
            try writer.write(to: path)
            return path
        }
        let config = model.config
        let wrongDim = try file("dim.safetensors", prompt: [1, 2, 16], gate: [1, 4])
        F.expectError(.badValue, containing: [wrongDim, "adapter.prompt", "D = 16", "dim is 32"]) {
            try AdapterCheckpoint.read(path: wrongDim, model: config, modelSHA256: nil)
        }
        let wrongHeads = try file("heads.safetensors", prompt: [1, 2, 32], gate: [1, 3])
        F.expectError(.badValue, containing: ["adapter.gate", "[1, 3]", "expected [1, 4]"]) {
            try AdapterCheckpoint.read(path: wrongHeads, model: config, modelSHA256: nil)
        }
        let gateLayers = try file("gn.safetensors", prompt: [2, 2, 32], gate: [1, 4])
        F.expectError(.badValue, containing: ["adapter.gate", "expected [2, 4]"]) {
            try AdapterCheckpoint.read(path: gateLayers, model: config, modelSHA256: nil)
        }
        let tooManyLayers = try file("n.safetensors", prompt: [3, 2, 32], gate: [3, 4])
        F.expectError(.badValue, containing: ["adapter.prompt", "N = 3", "1…2"]) {
            try AdapterCheckpoint.read(path: tooManyLayers, model: config, modelSHA256: nil)
        }
        let flat = try file("rank.safetensors", prompt: [2, 32], gate: [1, 4])
        F.expectError(.badValue, containing: ["adapter.prompt", "3 dimensions"]) {
            try AdapterCheckpoint.read(path: flat, model: config, modelSHA256: nil)
        }
        let empty = try file("k0.safetensors", prompt: [1, 0, 32], gate: [1, 4])
        F.expectError(.badValue, containing: ["K = 0"]) {
            try AdapterCheckpoint.read(path: empty, model: config, modelSHA256: nil)
        }
        let firstLayer = try file("fl.safetensors", prompt: [1, 2, 32], gate: [1, 4], metadata: ["first_layer": "0"])
        F.expectError(.badValue, containing: [firstLayer, "first_layer", "is 0, expected 1"]) {
            try AdapterCheckpoint.read(path: firstLayer, model: config, modelSHA256: nil)
        }
        let layers = try file("ml.safetensors", prompt: [1, 2, 32], gate: [1, 4], metadata: ["model_layers": "30"])
        F.expectError(.badValue, containing: ["model_layers", "30", "2 layers"]) {
            try AdapterCheckpoint.read(path: layers, model: config, modelSHA256: nil)
        }
        let step = try file("step.safetensors", prompt: [1, 2, 32], gate: [1, 4], metadata: ["step": "ten"])
        F.expectError(.badValue, containing: ["'step'", "\"ten\""]) {
            try AdapterCheckpoint.read(path: step, model: config, modelSHA256: nil)
        }
    }

    func testMissingTensorIsRefused() throws {
        let model = try F.tinyModel()
        let dir = try F.temporaryFolder(self)
        var onlyPrompt = SafetensorsWriter()
        onlyPrompt.add(name: "adapter.prompt", shape: [1, 2, 32], floats: [Float](repeating: 0, count: 64))
        let p1 = dir.appendingPathComponent("nogate.safetensors").path
        try onlyPrompt.write(to: p1)
        F.expectError(.missingKey, containing: [p1, "'adapter.gate' not found"]) {
            try AdapterCheckpoint.read(path: p1, model: model.config, modelSHA256: nil)
        }
        var onlyGate = SafetensorsWriter()
        onlyGate.add(name: "adapter.gate", shape: [1, 4], floats: [0, 0, 0, 0])
        let p2 = dir.appendingPathComponent("noprompt.safetensors").path
        try onlyGate.write(to: p2)
        F.expectError(.missingKey, containing: [p2, "'adapter.prompt' not found"]) {
            try AdapterCheckpoint.read(path: p2, model: model.config, modelSHA256: nil)
        }
    }

    func testNonFiniteValuesAreRefused() throws {
        let model = try F.tinyModel()
        let dir = try F.temporaryFolder(self)
        for (name, bad) in [("nan", Float.nan), ("inf", -Float.infinity)] {
            var writer = SafetensorsWriter()
            var gate: [Float] = [0, 0, 0, 0]
            gate[2] = bad
            writer.add(name: "adapter.prompt", shape: [1, 2, 32], floats: [Float](repeating: 0, count: 64))
            writer.add(name: "adapter.gate", shape: [1, 4], floats: gate)
            let path = dir.appendingPathComponent("\(name).safetensors").path
            try writer.write(to: path)
            F.expectError(.badValue, containing: [path, "adapter.gate", "element 2", "non-finite"]) {
                try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: nil)
            }
        }
        // Writing one is refused too, and leaves nothing behind.
        var params = F.parameters(config: model.config, layers: 1, length: 2)
        params.values[5] = .nan
        let path = dir.appendingPathComponent("out.safetensors").path
        F.expectError(.badValue, containing: ["adapter.prompt", "element 5"]) {
            try AdapterCheckpoint.write(params, to: path, modelSHA256: "x", modelLayers: 2, step: 0)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testTruncatedFileIsRefused() throws {
        let model = try F.tinyModel()
        let url = try F.temporaryFolder(self).appendingPathComponent("a.safetensors")
        try AdapterCheckpoint.write(
            F.parameters(config: model.config, layers: 2, length: 3), to: url.path, modelSHA256: model.fingerprint,
            modelLayers: 2, step: 3)
        let whole = try F.bytes(url)
        for keep in [0, 5, 8, 40, F.dataStart(whole) + 10, whole.count - 1] {
            try F.write(Array(whole[0..<keep]), url)
            do {
                _ = try AdapterCheckpoint.read(path: url.path, model: model.config, modelSHA256: model.fingerprint)
                XCTFail("a file cut to \(keep) of \(whole.count) bytes was accepted")
            } catch {
                XCTAssertTrue([.truncated, .corrupt].contains(error.kind), "cut at \(keep): \(error)")
                XCTAssertTrue(error.description.contains(url.path))
            }
        }
    }

    func testFlippedBitIsCaughtByTheChecksum() throws {
        let model = try F.tinyModel()
        let url = try F.temporaryFolder(self).appendingPathComponent("a.safetensors")
        try AdapterCheckpoint.write(
            F.parameters(config: model.config, layers: 2, length: 3), to: url.path, modelSHA256: model.fingerprint,
            modelLayers: 2, step: 3)
        var bytes = try F.bytes(url)
        bytes[F.dataStart(bytes) + 17] ^= 0x04  // a mantissa bit of a prompt value: still finite
        try F.write(bytes, url)
        F.expectError(.corrupt, containing: [url.path, "checksum mismatch"]) {
            try AdapterCheckpoint.read(path: url.path, model: model.config, modelSHA256: model.fingerprint)
        }
    }

    func testOtherAdapterPSFormatsAreRefused() throws {
        let model = try F.tinyModel()
        let dir = try F.temporaryFolder(self)
        let params = F.parameters(config: model.config, layers: 2, length: 2)
        let statePath = dir.appendingPathComponent("trainer_state.safetensors").path
        try TrainerState(
            params: params, optimizer: OptimizerState(config: OptimizerConfig(), parameterCount: params.values.count),
            nextStep: 0, epoch: 0, seed: 0, rngState: 0, modelSHA256: model.fingerprint, dataSHA256: "d",
            configJSON: "{}"
        ).write(to: statePath)
        F.expectError(.badValue, containing: ["'format'", "adapterps.trainer_state", "expected \"adapterps.adapter\""])
        {
            try AdapterCheckpoint.read(path: statePath, model: model.config, modelSHA256: model.fingerprint)
        }

        var writer = SafetensorsWriter()
        writer.metadata = ["format": "adapterps.adapter", "format_version": "2"]
        writer.add(name: "adapter.prompt", shape: [1, 2, 32], floats: [Float](repeating: 0, count: 64))
        writer.add(name: "adapter.gate", shape: [1, 4], floats: [0, 0, 0, 0])
        let v2 = dir.appendingPathComponent("v2.safetensors").path
        try writer.write(to: v2)
        F.expectError(.unsupportedVersion, containing: ["format_version", "\"2\"", "version 1"]) {
            try AdapterCheckpoint.read(path: v2, model: model.config, modelSHA256: nil)
        }
    }
}
