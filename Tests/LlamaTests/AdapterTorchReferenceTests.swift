import Foundation
import Llama
import XCTest

/// The adapter gradient against PyTorch autograd (float64) on tiny random LLaMAs, fixtures from
/// scripts/reference/make_adapter_grad_fixtures.py: loss, logits and d loss / d prompt, gate.
final class AdapterTorchReferenceTests: XCTestCase {
    func check(_ variant: String) throws {
        let fx = try TestPaths.json("adapter/grad_\(variant).json")
        let model = try LlamaModel.load(path: TestPaths.repo.appendingPathComponent(try XCTUnwrap(fx["model"] as? String)).path)
        let n = try XCTUnwrap(fx["adapter_layers"] as? Int), k = try XCTUnwrap(fx["adapter_len"] as? Int)
        let shape = AdapterShape(config: model.config, layers: n, length: k)
        XCTAssertEqual(shape.firstLayer, fx["first_layer"] as? Int)
        let prompt = try XCTUnwrap(fx["prompt"] as? [Double]).map(Float.init)
        let gate = try XCTUnwrap(fx["gate"] as? [Double]).map(Float.init)
        let adapter = AdapterParameters(shape: shape, values: prompt + gate)
        let batch = try XCTUnwrap(fx["batch"] as? [[String: [Int]]]).map {
            TrainingSequence(inputIDs: $0["input_ids"]!.map(Int32.init), labels: $0["labels"]!.map(Int32.init))
        }
        let result = model.adapterGradient(batch, adapter: adapter)
        let labels = try XCTUnwrap(fx["label_count"] as? Int)
        XCTAssertEqual(result.labelCount, labels)
        XCTAssertEqual(result.lossSum / Double(labels), try XCTUnwrap(fx["loss"] as? Double), accuracy: 1e-5)

        // Forward logits of the first sequence with the adapter.
        let logits = model.forward([batch[0].inputIDs], adapter: adapter)[0]
        let refLogits = try XCTUnwrap(fx["logits_first"] as? [Double])
        let worstLogit = zip(logits, refLogits).map { abs(Double($0) - $1) }.max() ?? .infinity
        XCTAssertLessThan(worstLogit, 1e-4, "\(variant): worst logit difference \(worstLogit)")

        // Normalised gradient vs autograd, relative to the largest reference entry of each part.
        let grad = result.gradient.map { Double($0) / Double(labels) }
        for (name, ref, range) in [
            ("prompt", try XCTUnwrap(fx["grad_prompt"] as? [Double]), 0..<shape.promptCount),
            ("gate", try XCTUnwrap(fx["grad_gate"] as? [Double]), shape.promptCount..<shape.parameterCount),
        ] {
            let ours = Array(grad[range])
            XCTAssertEqual(ours.count, ref.count)
            let scale = ref.map(abs).max() ?? 0
            let worst = zip(ours, ref).map { abs($0 - $1) }.max() ?? .infinity
            if scale == 0 {
                XCTAssertEqual(worst, 0, "\(variant) \(name): reference gradient is zero, ours differs by \(worst)")
            } else {
                XCTAssertLessThan(worst / scale, 1e-4, "\(variant) \(name): worst difference \(worst) (scale \(scale))")
            }
        }
    }

    func testAllLayersTiedModel() throws { try check("tied_all") }
    func testTopLayerUntiedModel() throws { try check("untied_top1") }
    func testZeroGatesGiveZeroPromptGradient() throws { try check("zero_gates") }
}
