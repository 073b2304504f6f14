import Foundation
import Llama
import XCTest

/// The adapter's forward and hand-written backward on a tiny random LLaMA: zero gates leave the
/// model unchanged, and the gradient agrees with central finite differences of the loss.
final class AdapterGradientTests: XCTestCase {
    func tinyModel(_ variant: String = "tied") throws -> LlamaModel {
        try LlamaModel.load(path: TestPaths.fixtures.appendingPathComponent("tiny-llama/\(variant)/model.gguf").path)
    }

    func batch(vocab: Int) -> [TrainingSequence] {
        var rng = SplitMix64(seed: 42)
        return [7, 11, 5].map { len in
            let ids = (0..<len).map { _ in Int32(rng.next() % UInt64(vocab)) }
            let labels = ids.enumerated().map { $0.offset < len / 3 ? TrainingSequence.ignoreIndex : $0.element }
            return TrainingSequence(inputIDs: ids, labels: labels)
        }
    }

    /// With every gate at 0 the adapted model's logits equal the base model's bit for bit.
    func testZeroGatesLeaveLogitsUnchanged() throws {
        for variant in ["tied", "untied"] {
            let model = try tinyModel(variant)
            let adapter = AdapterParameters.initial(shape: AdapterShape(config: model.config, length: 3), seed: 1)
            XCTAssertTrue(adapter.gates(0).allSatisfy { $0 == 0 })
            XCTAssertFalse(adapter.prompt(0).allSatisfy { $0 == 0 })
            let seqs = batch(vocab: model.config.vocabSize).map(\.inputIDs)
            XCTAssertEqual(model.forward(seqs, adapter: adapter), model.forward(seqs))
        }
    }

    /// Non-zero gates change the logits (the branch is really wired in).
    func testNonZeroGatesChangeLogits() throws {
        let model = try tinyModel()
        var adapter = AdapterParameters.initial(shape: AdapterShape(config: model.config, layers: 1, length: 3), seed: 1)
        adapter.values[adapter.shape.gateOffset(0)] = 0.5
        let seqs = batch(vocab: model.config.vocabSize).map(\.inputIDs)
        XCTAssertNotEqual(model.forward(seqs, adapter: adapter), model.forward(seqs))
    }

    /// Recomputing activations in the backward gives the same gradient, bit for bit.
    func testRecomputeGivesIdenticalGradient() throws {
        let model = try tinyModel("untied")
        var adapter = AdapterParameters.initial(shape: AdapterShape(config: model.config, length: 3), seed: 5)
        for i in adapter.shape.promptCount..<adapter.shape.parameterCount { adapter.values[i] = 0.25 }
        let data = batch(vocab: model.config.vocabSize)
        XCTAssertEqual(model.adapterGradient(data, adapter: adapter, recompute: true), model.adapterGradient(data, adapter: adapter))
    }

    /// Every gradient coordinate of prompts and gates against central differences of the loss sum.
    func testGradientMatchesFiniteDifferences() throws {
        for (variant, layers) in [("tied", nil), ("untied", 1)] as [(String, Int?)] {
            let model = try tinyModel(variant)
            var adapter = AdapterParameters.initial(shape: AdapterShape(config: model.config, layers: layers, length: 3), seed: 7)
            let shape = adapter.shape
            for i in 0..<shape.layers {
                for h in 0..<shape.heads { adapter.values[shape.gateOffset(i) + h] = 0.3 * Float(sin(Double(1 + i * shape.heads + h))) }
            }
            let data = batch(vocab: model.config.vocabSize)
            let result = model.adapterGradient(data, adapter: adapter)
            XCTAssertEqual(result.labelCount, data.map(\.labelCount).reduce(0, +))
            XCTAssertGreaterThan(result.lossSum, 0)
            var worst = 0.0
            var rng = SplitMix64(seed: 3)
            let probes = (0..<40).map { _ in Int(rng.next() % UInt64(shape.promptCount)) } + Array(shape.promptCount..<shape.parameterCount)
            for j in probes {
                let eps: Float = 1e-2
                var plus = adapter, minus = adapter
                plus.values[j] += eps
                minus.values[j] -= eps
                let fd = (model.adapterGradient(data, adapter: plus).lossSum - model.adapterGradient(data, adapter: minus).lossSum)
                    / Double(plus.values[j] - minus.values[j])
                let g = Double(result.gradient[j])
                worst = max(worst, abs(fd - g) / max(abs(fd), abs(g), 1e-2))
            }
            XCTAssertLessThan(worst, 2e-2, "\(variant): worst relative gradient difference \(worst)")
        }
    }
}
