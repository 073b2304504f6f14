import ArgumentParser
import Foundation
import Kernels
import Llama
import Training
import Wire

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure speed: sgemm peak, prefill, training step, coordinator reduce.",
        subcommands: [BenchGemm.self, BenchForward.self, BenchStep.self, BenchReduce.self])
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

/// Peak resident memory of this process so far, in bytes (VmHWM from /proc/self/status).
func peakResidentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

struct BenchStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "One training step (forward + adapter backward) at the shapes of shared/bench/torch_baseline.py.",
        discussion: """
            Random tokens, labels on the last 3/4 of each sequence, prompts N(0,1), gates 0.1 — the same
            setup as the PyTorch baseline, so the two tokens/s figures compare directly (same machine,
            same threads, one after the other: scripts/bench.sh).
            """)

    @OptionGroup var model: ModelOptions
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(name: .customLong("adapter-layers"), help: "Adapted blocks from the top (default: all).") var adapterLayers: Int?
    @Option(name: .customLong("adapter-len"), help: "Prompt length K.") var adapterLen = 10
    @Option(help: "Timed repeats.") var repeats = 3
    @Flag(help: "Recompute adapted blocks' activations in the backward (less memory).") var recompute = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let (llama, _) = try model.load()
        let c = llama.config
        var rng = SplitMix64(seed: 0)
        let batchSeqs = (0..<batch).map { _ -> TrainingSequence in
            let ids = (0..<seq).map { _ in Int32(3 + rng.next() % UInt64(min(40_000, c.vocabSize) - 3)) }
            let labels = ids.enumerated().map { $0.offset < seq / 4 ? TrainingSequence.ignoreIndex : $0.element }
            return TrainingSequence(inputIDs: ids, labels: labels)
        }
        var adapter = AdapterParameters.initial(shape: AdapterShape(config: c, layers: adapterLayers, length: adapterLen), seed: 0)
        for i in adapter.shape.promptCount..<adapter.shape.parameterCount { adapter.values[i] = 0.1 }
        var loss = 0.0
        let t = medianSeconds(repeats: repeats) {
            let r = llama.adapterGradient(batchSeqs, adapter: adapter, recompute: recompute)
            loss = r.lossSum / Double(max(r.labelCount, 1))
        }
        let tokens = Double(batch * seq)
        // FLOPs of the matrix products: forward of every block, dX through the adapted blocks,
        // LM head forward and dX at label rows; attention products per adapted/frozen block.
        let n = adapter.shape.layers
        let proj = 2.0 * Double(2 * c.dim * c.qDim + 2 * c.dim * c.kvDim + 3 * c.dim * c.ffnDim)
        let labelRows = Double(batch * (seq - seq / 4))
        let attention = 4.0 * Double(seq) * Double(c.qDim)  // q·kᵀ and p·v per token, causal: about half of 2·2·L·qDim
        let flops = tokens * (proj + attention) * Double(c.layers) + tokens * (proj + 2 * attention) * Double(n)
            + labelRows * 2 * 2.0 * Double(c.dim * c.vocabSize)
        let gflops = flops / t.median / 1e9
        let object: [String: Any] = [
            "bench": "step", "tokens_per_s": tokens / t.median, "ms": t.median * 1e3, "gflops": gflops,
            "mflop_per_token": flops / tokens / 1e6, "loss": loss, "batch": batch, "seq": seq, "adapter_layers": n,
            "adapter_len": adapterLen, "threads": Matmul.threads, "openblas_core": Matmul.coreName,
            "peak_rss_bytes": peakResidentBytes(), "weights": llama.weights.residency.rawValue, "recompute": recompute,
        ]
        if json {
            try printJSON(object)
        } else {
            print(String(format: "train step %d×%d, %d adapter layers: %.1f tokens/s (median %.0f ms), %.1f GFLOP/s at %.0f MFLOP/token, loss %.4f, peak RSS %.0f MiB, %d thread(s)",
                batch, seq, n, tokens / t.median, t.median * 1e3, gflops, flops / tokens / 1e6, loss,
                Double(peakResidentBytes()) / 1_048_576, Matmul.threads))
        }
    }
}

/// The coordinator's per-update cost without the network: decode W workers' GRADIENT frames,
/// add them in order, reduce, AdamW, encode the PARAMS frame.
struct BenchReduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reduce",
        abstract: "Coordinator cost per step and per worker update: decode, reduce, AdamW, encode (no sockets).")

    @Option(name: .customLong("adapter-params"), help: "Adapter size (SmolLM2, 30×10 prompts: 173070; LLaMA-7B-sized: 1228800).") var adapterParams = 1_228_800
    @Option(help: "Worker updates (micro-batches) per step.") var workers = 8
    @Option(help: "Gradient encoding: f32, bf16, int8Block or topK.") var encoding = "f32"
    @Option(help: "Timed repeats.") var repeats = 5
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        guard let enc = Wire.TensorEncoding.allCases.first(where: { "\($0)" == encoding }) else {
            throw CLIError.badInput("--encoding must be one of \(Wire.TensorEncoding.allCases.map { "\($0)" })")
        }
        // An adapter of about the requested size: heads 32, dim 4096-like rows.
        let dim = 4096, heads = 32, length = 10
        let layers = max(1, adapterParams / (length * dim + heads))
        let config = LlamaConfig(layers: layers, dim: dim, heads: heads, kvHeads: heads, ffnDim: 4 * dim, vocabSize: 32,
            normEps: 1e-5, ropeTheta: 1e4, ropeLayout: .interleaved, contextLength: 16, tiedEmbeddings: true)
        let shape = AdapterShape(config: config, length: length)
        var params = AdapterParameters.initial(shape: shape, seed: 1)
        var optimizer = OptimizerState(config: OptimizerConfig(), parameterCount: shape.parameterCount)
        var rng = SplitMix64(seed: 2)
        let frames: [[UInt8]] = (0..<workers).map { i in
            let g = (0..<shape.parameterCount).map { _ in Float(rng.nextUnit() - 0.5) * 1e-3 }
            let payload = GradientPayload(step: 0, microBatch: UInt32(i), lossSum: 1, labelCount: 10, tokenCount: 100,
                gradient: TensorCodec.encode(g, as: enc))
            return FrameCodec.encode(Message.gradient(payload).encode(runID: 1, workerID: UInt32(i + 1), sequence: 1))
        }
        var wire = 0
        let t = medianSeconds(repeats: repeats) {
            var reducer = GradientReducer(parameterCount: shape.parameterCount, microBatches: workers)
            for bytes in frames {
                guard case .gradient(let g) = try? Message.decode(bytes: bytes).message,
                    let values = try? TensorCodec.decode(g.gradient)
                else { preconditionFailure("bench frames must decode") }
                reducer.add(GradientSum(lossSum: g.lossSum, labelCount: Int(g.labelCount), gradient: values), index: Int(g.microBatch))
            }
            let (gradient, _, _) = reducer.reduce()
            optimizer.apply(to: &params, gradient: gradient, lr: 1e-3)
            let out = FrameCodec.encode(Message.params(ParamsPayload(step: 0, version: 1, params: TensorCodec.encode(params.values, as: .f32)))
                .encode(runID: 1, workerID: 0, sequence: 2))
            wire = out.count
        }
        let perUpdate = t.median / Double(workers)
        let object: [String: Any] = [
            "bench": "reduce", "adapter_params": shape.parameterCount, "workers": workers, "encoding": encoding,
            "ms_per_step": t.median * 1e3, "ms_per_update": perUpdate * 1e3,
            "bytes_raw": shape.parameterCount * 4, "bytes_wire": frames[0].count, "params_frame_bytes": wire,
        ]
        if json {
            try printJSON(object)
        } else {
            print(String(format: "coordinator step with %d updates of %d parameters (%@): %.2f ms per step, %.2f ms per worker update; gradient frame %d bytes (raw %d)",
                workers, shape.parameterCount, encoding, t.median * 1e3, perUpdate * 1e3, frames[0].count, shape.parameterCount * 4))
        }
    }
}
