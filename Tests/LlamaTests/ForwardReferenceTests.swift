import Foundation
import Llama
import XCTest

/// The forward pass on the real SmolLM2-135M-Instruct (Q4_1 GGUF) against two independent
/// references made by scripts/reference/make_score_fixtures.py: an fp32 numpy forward over the
/// weights as the Python `gguf` package dequantizes them, and llama.cpp itself.
final class ForwardReferenceTests: XCTestCase {
    nonisolated(unsafe) static var cached: LlamaModel?

    func model() throws -> LlamaModel {
        if let m = Self.cached { return m }
        let m = try LlamaModel.load(path: try TestPaths.defaultModel())
        Self.cached = m
        return m
    }

    func testLogProbsMatchFP32ReferenceAndLlamaCpp() throws {
        let llama = try model()
        let fixture = try TestPaths.json("score/smollm2_q4_1.json")
        XCTAssertEqual(fixture["model_sha256"] as? String, llama.fingerprint, "fixtures were made from another model file")
        let texts = try XCTUnwrap(fixture["texts"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(texts.count, 8)
        var scored = 0
        for entry in texts {
            let tokens = try XCTUnwrap(entry["tokens"] as? [Int]).map(Int32.init)
            guard tokens.count >= 2 else { continue }
            let fp32 = try XCTUnwrap(entry["logprobs_fp32"] as? [Double])
            let cpp = try XCTUnwrap(entry["logprobs_llamacpp"] as? [Double])
            let ours = llama.logProbs(tokens)
            XCTAssertEqual(ours.count, fp32.count)
            let worst = zip(ours, fp32).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-3, "text \(scored): worst per-token difference to the fp32 forward is \(worst) nats")
            // llama.cpp quantizes activations: compare the mean log-prob (the nll), ~0.1 nats.
            let meanOurs = ours.reduce(0, +) / Double(ours.count)
            let meanCpp = cpp.reduce(0, +) / Double(cpp.count)
            XCTAssertLessThan(abs(meanOurs - meanCpp), 0.1, "text \(scored): nll \(-meanOurs) vs llama.cpp \(-meanCpp)")
            scored += 1
        }
        XCTAssertGreaterThanOrEqual(scored, 8)
    }

    func testTopTokensOfLastPositionMatchReference() throws {
        let llama = try model()
        let texts = try XCTUnwrap(try TestPaths.json("score/smollm2_q4_1.json")["texts"] as? [[String: Any]])
        for entry in texts {
            guard let top = entry["last_top5"] as? [String: Any], let ids = top["ids"] as? [Int],
                let values = top["logits"] as? [Double]
            else { continue }
            let tokens = try XCTUnwrap(entry["tokens"] as? [Int]).map(Int32.init)
            let logits = llama.forward([tokens], logits: .last)[0]
            XCTAssertEqual(logits.count, llama.config.vocabSize)
            let ours = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(5)
            XCTAssertEqual(Array(ours), ids, "top-5 next tokens differ")
            for (id, v) in zip(ids, values) {
                XCTAssertEqual(Double(logits[id]), v, accuracy: 2e-3 * max(1, abs(v)), "logit of token \(id)")
            }
        }
    }

    /// Packed sequences of different lengths give the same logits as each sequence alone, and a
    /// KV-cached continuation gives the same logits as one full pass.
    func testBatchingAndKVCacheAgreeWithSinglePass() throws {
        let llama = try model()
        let a: [Int32] = [504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 30]
        let b: [Int32] = [1, 339, 4982, 314, 4849, 30]
        let v = llama.config.vocabSize
        let alone = [llama.forward([a])[0], llama.forward([b])[0]]
        let packed = llama.forward([a, b])
        for i in 0..<2 { assertClose(packed[i], alone[i], tol: 1e-4, "packed sequence \(i)") }

        let cache = KVCache(config: llama.config, capacity: a.count)
        _ = llama.forward([Array(a[0..<6])], caches: [cache], logits: .none)
        var stepped: [Float] = []
        for t in a[6...] { stepped += llama.forward([[t]], caches: [cache], logits: .last)[0] }
        assertClose(stepped, Array(alone[0][6 * v..<a.count * v]), tol: 1e-4, "cached continuation")
        XCTAssertEqual(cache.length, a.count)
    }

    /// Streaming residency (dequantize one block at a time) computes the same numbers.
    func testStreamingWeightsEqualResident() throws {
        let path = try TestPaths.defaultModel()
        let streaming = try LlamaModel.load(path: path, residency: .streaming)
        XCTAssertEqual(streaming.weights.residency, .streaming)
        let tokens: [Int32] = [504, 2365, 6354, 16438, 27003]
        XCTAssertEqual(streaming.forward([tokens])[0], try model().forward([tokens])[0])
    }

    func assertClose(_ a: [Float], _ b: [Float], tol: Float, _ what: String, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, line: line)
        let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tol, "\(what): worst relative difference \(worst)", line: line)
    }
}
