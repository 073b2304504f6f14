import Foundation
import Llama
import Training
import XCTest

/// The single-process trainer on a tiny random LLaMA: the loss falls on a memorisable task, and the
/// same config and seed give the same adapter bits.
final class LocalTrainerTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func tinyModel() throws -> LlamaModel {
        try LlamaModel.load(path: Self.repo.appendingPathComponent("Tests/Fixtures/tiny-llama/tied/model.gguf").path)
    }

    /// 24 sequences whose second half repeats a fixed pattern: learnable from prompts alone.
    func dataset(vocab: Int) -> Dataset {
        var rng = SplitMix64(seed: 9)
        let examples = (0..<24).map { i -> Example in
            let prefix = (0..<4).map { _ in Int32(rng.next() % UInt64(vocab)) }
            let answer: [Int32] = [5, 17, 5, 17, 42]
            let ids = prefix + answer
            let labels = prefix.map { _ in ignoredLabel } + answer
            return Example(inputIDs: ids, labels: labels, source: "synthetic:\(i)")
        }
        return Dataset(examples: examples, format: .tokenized, fingerprint: "synthetic", report: DataReport())
    }

    func config() -> TrainingConfig {
        var c = TrainingConfig()
        c.adapterLength = 4
        c.globalBatch = 8
        c.microBatchTokens = 20
        c.steps = 30
        c.lr = 0.05
        c.warmupSteps = 2
        c.seed = 3
        return c
    }

    func testLossFallsAndRunsAreBitwiseRepeatable() throws {
        let model = try tinyModel()
        let data = dataset(vocab: model.config.vocabSize)
        let trainer = try LocalTrainer(model: model, dataset: data, config: config())
        XCTAssertEqual(trainer.totalSteps, 30)
        XCTAssertGreaterThan(trainer.plan.microBatches(step: 0).count, 1, "the test should cover several micro-batches")
        func run() throws -> (first: Double, last: Double, params: [Float]) {
            var progress = trainer.start()
            var losses: [Double] = []
            while progress.step < trainer.totalSteps { losses.append(try trainer.step(&progress).loss) }
            return (losses[0], losses.suffix(3).reduce(0, +) / 3, progress.params.values)
        }
        let a = try run(), b = try run()
        XCTAssertLessThan(a.last, a.first * 0.8, "loss \(a.first) → \(a.last) did not fall")
        XCTAssertEqual(a.params, b.params, "two identical runs differ")
    }

    /// The reducer divides by the global label count: any split of a batch into micro-batches
    /// gives the same normalised gradient as the whole batch at once.
    func testReducerIsIndependentOfTheSplit() throws {
        let model = try tinyModel()
        let seqs = dataset(vocab: model.config.vocabSize).examples.prefix(6).map {
            TrainingSequence(inputIDs: $0.inputIDs, labels: $0.labels)
        }
        var adapter = AdapterParameters.initial(shape: AdapterShape(config: model.config, length: 4), seed: 1)
        for i in adapter.shape.promptCount..<adapter.shape.parameterCount { adapter.values[i] = 0.2 }
        var whole = GradientReducer(parameterCount: adapter.shape.parameterCount, microBatches: 1)
        whole.add(model.adapterGradient(Array(seqs), adapter: adapter), index: 0)
        var split = GradientReducer(parameterCount: adapter.shape.parameterCount, microBatches: 3)
        for i in 0..<3 { split.add(model.adapterGradient(Array(seqs[(2 * i)..<(2 * i + 2)]), adapter: adapter), index: i) }
        XCTAssertFalse(split.add(model.adapterGradient(Array(seqs[0..<2]), adapter: adapter), index: 0), "a duplicate is refused")
        let (g1, l1, n1) = whole.reduce(), (g2, l2, n2) = split.reduce()
        XCTAssertEqual(n1, n2)
        XCTAssertEqual(l1, l2, accuracy: 1e-6 * l1)  // packing changes float summation order only
        let worst = zip(g1, g2).map { abs($0 - $1) }.max()!, scale = g1.map(abs).max()!
        XCTAssertLessThan(worst / scale, 1e-5)
    }

    /// A non-finite loss stops the run with a clear error and leaves the parameters untouched.
    func testNonFiniteLossStopsTheStep() throws {
        let model = try tinyModel()
        let trainer = try LocalTrainer(model: model, dataset: dataset(vocab: model.config.vocabSize), config: config())
        var progress = trainer.start()
        progress.params.values[0] = .nan
        let before = progress.params.values
        XCTAssertThrowsError(try trainer.step(&progress)) { error in
            XCTAssertTrue("\(error)".contains("not finite"), "\(error)")
        }
        XCTAssertEqual(progress.step, 0)
        XCTAssertEqual(progress.params.values.count, before.count)
        XCTAssertTrue(progress.params.values[0].isNaN && Array(progress.params.values[1...]) == Array(before[1...]))
    }

    func testScheduleWarmupCosineAndScaling() {
        let s = LearningRateSchedule(shape: .cosine, peak: 1, warmupSteps: 4, totalSteps: 14)
        XCTAssertEqual(s.rate(at: 0), 0.25)
        XCTAssertEqual(s.rate(at: 3), 1)
        XCTAssertEqual(s.rate(at: 4), 1)
        XCTAssertEqual(s.rate(at: 9), 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 14), 0, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule.scaledLearningRate(baseLR: 9e-3, globalBatch: 64), 2.25e-3)
    }

    /// AdamW's first step moves every coordinate by ≈ lr·sign(g) (bias-corrected moments), decays
    /// prompts but not gates; SGD with lr 1 and no decay is params − gradient.
    func testOptimizerSteps() {
        let shape = AdapterShape(config: LlamaConfig(layers: 1, dim: 4, heads: 2, kvHeads: 1, ffnDim: 8, vocabSize: 10,
            normEps: 1e-5, ropeTheta: 1e4, ropeLayout: .interleaved, contextLength: 16, tiedEmbeddings: true), length: 1)
        let start = AdapterParameters(shape: shape, values: [1, -2, 3, 0.5, 0, 0])
        let grad: [Float] = [0.1, -0.2, 0.0, 4, 1, -1]
        var sgd = OptimizerConfig()
        sgd.kind = .sgd
        sgd.weightDecay = 0
        var p = start, st = OptimizerState(config: sgd, parameterCount: 6)
        st.apply(to: &p, gradient: grad, lr: 1)
        XCTAssertEqual(p.values, zip(start.values, grad).map { $0 - $1 })

        var adam = OptimizerConfig()
        adam.weightDecay = 0.1
        var q = start, sa = OptimizerState(config: adam, parameterCount: 6)
        sa.apply(to: &q, gradient: grad, lr: 0.01)
        for i in 0..<6 {
            let decay: Float = i < 4 ? 0.01 * 0.1 * start.values[i] : 0
            let sign: Float = grad[i] > 0 ? 1 : (grad[i] < 0 ? -1 : 0)
            XCTAssertEqual(q.values[i], start.values[i] - decay - 0.01 * sign, accuracy: 1e-6, "coordinate \(i)")
        }
        // Clipping scales the whole gradient to the threshold norm.
        var clipped = OptimizerConfig()
        clipped.kind = .sgd
        clipped.weightDecay = 0
        clipped.clip = 1
        var r = start, sc = OptimizerState(config: clipped, parameterCount: 6)
        let norm = sc.apply(to: &r, gradient: grad, lr: 1)
        XCTAssertEqual(norm, Double(grad.map { $0 * $0 }.reduce(0, +)).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(r.values[3], start.values[3] - 4 / Float(norm), accuracy: 1e-6)
    }
}
