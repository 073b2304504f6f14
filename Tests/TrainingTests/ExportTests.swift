import Foundation
import Llama
import ModelFiles
import Training
import XCTest

/// Export to the official LLaMA-Adapter v1 and the PEFT adaption_prompt layouts (docs/checkpoints.md).
final class ExportTests: XCTestCase {
    typealias F = CheckpointFixtures

    func tanhF(_ x: Float) -> Float { Float(Foundation.tanh(Double(x))) }

    /// Writes the export and reads it back as a name → (shape, values) map.
    func roundTrip(_ result: AdapterExport.Result) throws -> [String: ([Int], [Float])] {
        let path = try F.temporaryFolder(self).appendingPathComponent("export.safetensors").path
        try AdapterExport.write(result.tensors, to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        var out: [String: ([Int], [Float])] = [:]
        for info in file.tensorInfos {
            XCTAssertEqual(info.type, .f32, info.name)
            out[info.name] = (info.shape, try file.floats(of: info))
        }
        return out
    }

    // MARK: - Official v1

    func testOfficialTopLayerHasZeroGatesBelow() throws {
        let model = try F.tinyModel()  // 2 layers, dim 32, 4 heads
        var params = F.parameters(config: model.config, layers: 1, length: 3)
        let gates: [Float] = [0.5, -1.25, 0, 3]
        params.values.replaceSubrange(params.shape.gateOffset(0)..<params.shape.gateOffset(0) + 4, with: gates)
        let tensors = try roundTrip(AdapterExport.official(params))

        XCTAssertEqual(
            Set(tensors.keys), ["adapter_query.weight", "layers.0.attention.gate", "layers.1.attention.gate"])
        let (qShape, q) = try XCTUnwrap(tensors["adapter_query.weight"])
        XCTAssertEqual(qShape, [3, 32])  // [N·K, D]
        XCTAssertEqual(q, Array(params.prompt(0)))
        let (g0Shape, g0) = try XCTUnwrap(tensors["layers.0.attention.gate"])
        XCTAssertEqual(g0Shape, [1, 4, 1, 1])
        XCTAssertEqual(g0, [0, 0, 0, 0], "layers below the adapter get zero gates")
        let (g1Shape, g1) = try XCTUnwrap(tensors["layers.1.attention.gate"])
        XCTAssertEqual(g1Shape, [1, 4, 1, 1])
        XCTAssertEqual(g1, gates.map(tanhF), "the official inference code does not apply tanh, so the export does")
        XCTAssertEqual(g1[2], 0)
        XCTAssertEqual(g1[3], 0.99505475, accuracy: 1e-7)
    }

    func testOfficialAllLayersRowBlocksInLayerOrder() throws {
        let model = try F.tinyModel()
        let params = F.parameters(config: model.config, layers: 2, length: 5, salt: 4)
        let tensors = try roundTrip(AdapterExport.official(params))
        let (shape, q) = try XCTUnwrap(tensors["adapter_query.weight"])
        XCTAssertEqual(shape, [10, 32])
        // Row block i (K rows) is the prompt of model layer n_layers − N + i.
        XCTAssertEqual(Array(q[0..<(5 * 32)]), Array(params.prompt(0)))
        XCTAssertEqual(Array(q[(5 * 32)...]), Array(params.prompt(1)))
        for layer in 0..<2 {
            XCTAssertEqual(tensors["layers.\(layer).attention.gate"]?.1, params.gates(layer).map(tanhF))
        }
    }

    // MARK: - PEFT

    func testPEFTExactWhenHeadsShareAGate() throws {
        let model = try F.tinyModel()
        var params = F.parameters(config: model.config, layers: 1, length: 3)
        params.values.replaceSubrange(params.shape.gateOffset(0)..., with: [0.75, 0.75, 0.75, 0.75])
        let result = try AdapterExport.peft(params, approximate: false)
        XCTAssertEqual(result.maxGateDeviation, 0)
        XCTAssertNil(result.maxDeviationAt)
        let tensors = try roundTrip(result)
        let prefix = "base_model.model.model.layers.1.self_attn."
        XCTAssertEqual(
            Set(tensors.keys), [prefix + "adaption_prompt", prefix + "adaption_gate"], "only adapted layers")
        XCTAssertEqual(tensors[prefix + "adaption_prompt"]?.0, [1, 3, 32])
        XCTAssertEqual(tensors[prefix + "adaption_prompt"]?.1, Array(params.prompt(0)))
        XCTAssertEqual(tensors[prefix + "adaption_gate"]?.0, [1])
        XCTAssertEqual(
            tensors[prefix + "adaption_gate"]?.1, [tanhF(0.75)], "PEFT uses the raw gate, so it gets tanh(g)")
    }

    func testPEFTFreshAdapterWithZeroGatesIsExact() throws {
        let model = try F.tinyModel()
        let params = AdapterParameters.initial(shape: AdapterShape(config: model.config, layers: 2, length: 4), seed: 1)
        let tensors = try roundTrip(try AdapterExport.peft(params, approximate: false))
        XCTAssertEqual(tensors.count, 4)
        for layer in 0..<2 {
            XCTAssertEqual(tensors["base_model.model.model.layers.\(layer).self_attn.adaption_gate"]?.1, [0])
            XCTAssertEqual(
                tensors["base_model.model.model.layers.\(layer).self_attn.adaption_prompt"]?.1,
                Array(params.prompt(layer)))
        }
    }

    func testPEFTExactWhenRawGatesDifferButTanhAgrees() throws {
        // tanh saturates: 20 and 30 both give 1 in F32, so the layer is exact for PEFT.
        let model = try F.tinyModel()
        var params = F.parameters(config: model.config, layers: 1, length: 2)
        params.values.replaceSubrange(params.shape.gateOffset(0)..., with: [20, 30, 25, 40])
        let result = try AdapterExport.peft(params, approximate: false)
        XCTAssertEqual(result.tensors.last?.values, [1])
        XCTAssertEqual(result.maxGateDeviation, 0)
    }

    func testPEFTRefusesPerHeadGatesNamingLayerAndSpread() throws {
        let model = try F.tinyModel()
        var params = F.parameters(config: model.config, layers: 2, length: 2)
        params.values.replaceSubrange(params.shape.gateOffset(0)..., with: [0.1, 0.1, 0.1, 0.1, 0.2, -0.4, 0.2, 0.2])
        XCTAssertThrowsError(try AdapterExport.peft(params, approximate: false)) { error in
            let message = (error as? ExportError)?.message ?? "\(error)"
            XCTAssertTrue(message.hasPrefix("layer 1:"), message)
            XCTAssertTrue(message.contains("different gates"), message)
            XCTAssertTrue(message.contains("spread \(tanhF(0.2) - tanhF(-0.4))"), message)
            XCTAssertTrue(message.contains("head 1"), message)
            XCTAssertTrue(message.contains("--peft-approximate"), message)
        }
    }

    func testPEFTApproximationWritesMeanOfTanhAndReportsDeviation() throws {
        let model = try F.tinyModel()
        var params = F.parameters(config: model.config, layers: 2, length: 2)
        let raw: [Float] = [0.1, 0.1, 0.1, 0.1, 0.2, -0.4, 0.2, 0.3]
        params.values.replaceSubrange(params.shape.gateOffset(0)..., with: raw)
        let result = try AdapterExport.peft(params, approximate: true)
        let top = raw[4...].map(tanhF)
        let mean = Float(top.reduce(0.0) { $0 + Double($1) } / 4)
        let tensors = try roundTrip(result)
        XCTAssertEqual(
            tensors["base_model.model.model.layers.0.self_attn.adaption_gate"]?.1, [tanhF(0.1)], "exact layer")
        XCTAssertEqual(tensors["base_model.model.model.layers.1.self_attn.adaption_gate"]?.1, [mean])
        XCTAssertEqual(result.maxGateDeviation, abs(tanhF(-0.4) - mean))
        XCTAssertEqual(result.maxDeviationAt?.layer, 1)
        XCTAssertEqual(result.maxDeviationAt?.head, 1)
    }

    func testPEFTConfigJSON() throws {
        let model = try F.tinyModel()
        let shape = AdapterShape(config: model.config, layers: 1, length: 7)
        let text = AdapterExport.peftConfigJSON(shape, baseModel: "/models/My \"Llama\"")
        XCTAssertTrue(text.contains("\"/models/My \\\"Llama\\\"\""), text)  // slashes not escaped
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(json["peft_type"] as? String, "ADAPTION_PROMPT")
        XCTAssertEqual(json["task_type"] as? String, "CAUSAL_LM")
        XCTAssertEqual(json["target_modules"] as? String, "self_attn")
        XCTAssertEqual(json["adapter_len"] as? Int, 7)
        XCTAssertEqual(json["adapter_layers"] as? Int, 1)
        XCTAssertEqual(json["base_model_name_or_path"] as? String, "/models/My \"Llama\"")
        XCTAssertEqual(json["inference_mode"] as? Bool, true)
        let none = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(AdapterExport.peftConfigJSON(shape, baseModel: nil).utf8))
                as? [String: Any])
        XCTAssertTrue(none["base_model_name_or_path"] is NSNull)
    }

    func testExportOfAReadAdapterFile() throws {
        // The path the CLI takes: adapter file → read → export.
        let model = try F.tinyModel()
        let path = try F.temporaryFolder(self).appendingPathComponent("adapter.safetensors").path
        let params = F.parameters(config: model.config, layers: 2, length: 3, salt: 8)
        try AdapterCheckpoint.write(params, to: path, modelSHA256: model.fingerprint, modelLayers: 2, step: 9)
        let (read, _) = try AdapterCheckpoint.read(path: path, model: model.config, modelSHA256: model.fingerprint)
        XCTAssertEqual(AdapterExport.official(read), AdapterExport.official(params))
    }
}
