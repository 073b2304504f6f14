import Foundation
import Llama
import XCTest

/// The forward on tiny random LLaMAs made by scripts/reference/make_tiny_llama.py, stored twice:
/// Hugging Face layout (safetensors, half-split RoPE) and GGUF (interleaved RoPE). Both must give
/// the float64 numpy reference's logits, so both loaders and both RoPE layouts are checked.
final class TinyModelTests: XCTestCase {
    func testBothFormatsMatchNumpyReference() throws {
        for variant in ["tied", "untied"] {
            let dir = TestPaths.fixtures.appendingPathComponent("tiny-llama/\(variant)")
            let ref = try TestPaths.json("tiny-llama/\(variant)/reference.json")
            let tokens = try XCTUnwrap(ref["tokens"] as? [Int]).map(Int32.init)
            let expected = try XCTUnwrap(ref["logits"] as? [[Double]]).flatMap { $0.map(Float.init) }
            let gguf = try LlamaModel.load(path: dir.appendingPathComponent("model.gguf").path)
            let hf = try LlamaModel.load(path: dir.appendingPathComponent("hf").path)
            XCTAssertEqual(gguf.config.ropeLayout, .interleaved)
            XCTAssertEqual(hf.config.ropeLayout, .halfSplit)
            XCTAssertEqual(gguf.config.tiedEmbeddings, variant == "tied")
            XCTAssertEqual(hf.config.tiedEmbeddings, variant == "tied")
            for (name, model) in [("gguf", gguf), ("hf", hf)] {
                let logits = model.forward([tokens])[0]
                XCTAssertEqual(logits.count, expected.count)
                let worst = zip(logits, expected).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThan(worst, 1e-4, "\(variant) \(name): worst logit difference \(worst)")
            }
        }
    }
}
