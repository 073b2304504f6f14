import ArgumentParser
import Foundation
import Kernels
import Llama

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: sgemm peak at the model's shapes, prefill throughput.",
        subcommands: [BenchGemm.self, BenchForward.self])
}

/// Median of `repeats` timings of `body` in seconds, after one warm-up call.
func medianSeconds(repeats: Int, _ body: () -> Void) -> (median: Double, min: Double, max: Double) {
    body()
    var times: [Double] = []
    for _ in 0..<max(repeats, 1) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    times.sort()
    return (times[times.count / 2], times.first!, times.last!)
}

func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

struct BenchGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm", abstract: "cblas_sgemm GFLOP/s at the model's projection shapes (the machine's peak).")

    @OptionGroup var model: ModelOptions
    @Option(help: "Rows (tokens) of the activation matrix.") var rows = 1024
    @Option(help: "Timed repeats.") var repeats = 5
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        Matmul.setThreads(model.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let llama = try LlamaModel.load(path: model.modelPath, residency: .streaming)
        let c = llama.config
        let shapes = [("qkvo D→D", c.dim, c.qDim), ("ffn D→F", c.dim, c.ffnDim), ("down F→D", c.ffnDim, c.dim)]
        var results: [[String: Any]] = []
        var total = 0.0, totalFlops = 0.0
        for (name, k, n) in shapes {
            let x = [Float](repeating: 0.5, count: rows * k)
            let w = [Float](repeating: 0.25, count: n * k)
            var y = [Float](repeating: 0, count: rows * n)
            let t = medianSeconds(repeats: repeats) { Matmul.linear(&y, x, w, rows: rows, inFeatures: k, outFeatures: n) }
            let flops = 2.0 * Double(rows * k * n)
            total += t.median
            totalFlops += flops
            results.append(["shape": name, "m": rows, "k": k, "n": n, "gflops": flops / t.median / 1e9, "ms": t.median * 1e3])
        }
        let gflops = totalFlops / total / 1e9
        if json {
            try printJSON(["bench": "gemm", "threads": Matmul.threads, "openblas_core": Matmul.coreName,
                "gflops": gflops, "shapes": results])
        } else {
            print("cblas_sgemm, OpenBLAS core \(Matmul.coreName), \(Matmul.threads) thread(s)")
            for r in results {
                print(String(format: "  %-10@ %5d×%5d·%5d  %7.1f GFLOP/s", r["shape"] as! String, rows,
                    r["k"] as! Int, r["n"] as! Int, r["gflops"] as! Double))
            }
            print(String(format: "  overall    %.1f GFLOP/s", gflops))
        }
    }
}

struct BenchForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward", abstract: "Prefill throughput: tokens/s of a forward pass over --batch sequences of --seq tokens.")

    @OptionGroup var model: ModelOptions
    @Option(help: "Sequences per forward.") var batch = 1
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "Timed repeats.") var repeats = 5
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let (llama, _) = try model.load()
        var rng = SplitMix64(seed: 1)
        let seqs = (0..<batch).map { _ in (0..<seq).map { _ in Int32(rng.next() % UInt64(llama.config.vocabSize)) } }
        let t = medianSeconds(repeats: repeats) { _ = llama.forward(seqs, logits: .last) }
        let tokens = Double(batch * seq)
        let c = llama.config
        // Multiply-adds per token in the projections (2 FLOPs each); attention adds ~2·seq·dim per layer.
        let perToken = 2.0 * Double(c.layers) * Double(2 * c.dim * c.qDim + 2 * c.dim * c.kvDim + 3 * c.dim * c.ffnDim)
        let gflops = perToken * tokens / t.median / 1e9
        if json {
            try printJSON(["bench": "forward", "tokens_per_s": tokens / t.median, "ms": t.median * 1e3,
                "gflops": gflops, "batch": batch, "seq": seq, "threads": Matmul.threads,
                "weights": llama.weights.residency.rawValue, "min_ms": t.min * 1e3, "max_ms": t.max * 1e3])
        } else {
            print(String(format: "prefill %d×%d tokens: %.1f tokens/s (median %.1f ms, min %.1f, max %.1f), projections %.1f GFLOP/s, %d thread(s), %@ weights",
                batch, seq, tokens / t.median, t.median * 1e3, t.min * 1e3, t.max * 1e3, gflops, Matmul.threads,
                llama.weights.residency.rawValue))
        }
    }
}
