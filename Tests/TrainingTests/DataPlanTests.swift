import Training
import XCTest

/// The data plan: a pure function of (lengths, config, seed, step); every example once per epoch; budgets kept;
/// no padding.
final class DataPlanTests: XCTestCase {
    /// Lengths with ties, a long example and a wide spread.
    let lengths = (0..<103).map { i in i == 50 ? 900 : 8 + (i * 37) % 120 }

    func plan(seed: UInt64 = 7, globalBatch: Int = 16, budget: Int = 256, dropLast: Bool = true) -> DataPlan {
        DataPlan(exampleLengths: lengths, globalBatch: globalBatch, microBatchTokens: budget, seed: seed, dropLast: dropLast)
    }

    /// Values from an independent Python implementation of the same definition (SplitMix64, Lemire's bounded
    /// integers, Fisher–Yates from the top, sort by (length, id), greedy packing), so the Swift code cannot
    /// drift silently: a change here would break resumption of runs planned with the old order.
    func testGoldenPlanFromIndependentImplementation() {
        let lengths = [5, 17, 3, 40, 9, 9, 22, 1, 64, 12]
        let plan = DataPlan(exampleLengths: lengths, globalBatch: 4, microBatchTokens: 30, seed: 42)
        XCTAssertEqual(plan.epochOrder(0), [1, 7, 2, 5, 6, 4, 0, 9, 8, 3])
        XCTAssertEqual(plan.epochOrder(1), [3, 0, 1, 7, 4, 5, 2, 8, 6, 9])
        XCTAssertEqual(plan.stepsPerEpoch, 2)
        XCTAssertEqual(plan.microBatches(step: 0), [MicroBatch(step: 0, index: 0, exampleIDs: [7, 2, 5, 1], tokens: 30)])
        XCTAssertEqual(
            plan.microBatches(step: 1),
            [
                MicroBatch(step: 1, index: 0, exampleIDs: [0, 4, 9], tokens: 26),
                MicroBatch(step: 1, index: 1, exampleIDs: [6], tokens: 22),
            ])
        XCTAssertEqual(
            plan.microBatches(step: 2),
            [
                MicroBatch(step: 2, index: 0, exampleIDs: [7, 0, 1], tokens: 23),
                MicroBatch(step: 2, index: 1, exampleIDs: [3], tokens: 40),
            ])
    }

    func testSameConfigSameMicroBatchesWhateverTheQueryOrder() {
        let a = plan()
        let b = plan()
        let steps = Array(0..<(3 * a.stepsPerEpoch))
        let forward = steps.map { a.microBatches(step: $0) }
        let backward = steps.reversed().map { b.microBatches(step: $0) }.reversed()
        XCTAssertEqual(forward, Array(backward))
        XCTAssertEqual(a.microBatches(step: 5), a.microBatches(step: 5))
    }

    func testEveryExampleOnceperEpoch() {
        for dropLast in [true, false] {
            let p = plan(dropLast: dropLast)
            XCTAssertEqual(p.stepsPerEpoch, dropLast ? 103 / 16 : (103 + 15) / 16)
            for epoch in 0..<3 {
                var seen: [Int] = []
                for step in epoch * p.stepsPerEpoch..<(epoch + 1) * p.stepsPerEpoch {
                    let ids = p.microBatches(step: step).flatMap(\.exampleIDs)
                    XCTAssertEqual(ids.count, step % p.stepsPerEpoch == 6 ? 103 - 96 : 16)
                    seen += ids
                }
                XCTAssertEqual(seen.count, Set(seen).count, "an example repeats within epoch \(epoch)")
                XCTAssertEqual(seen.count, dropLast ? 96 : 103)
                XCTAssertEqual(Set(seen), Set(p.epochOrder(epoch).prefix(seen.count)))
                XCTAssertEqual(p.epochOrder(epoch).sorted(), Array(0..<103))
            }
        }
    }

    func testBudgetsGreedyPackingLengthOrderAndNoPadding() {
        let p = plan()
        for step in 0..<20 {
            let batches = p.microBatches(step: step)
            XCTAssertEqual(batches.map(\.index), Array(0..<batches.count))
            XCTAssertTrue(batches.allSatisfy { $0.step == step })
            let ids = batches.flatMap(\.exampleIDs)
            XCTAssertEqual(ids, ids.sorted { (lengths[$0], $0) < (lengths[$1], $1) }, "not sorted by (length, id)")
            XCTAssertEqual(Set(ids), Set(p.examples(step: step)))
            for (k, batch) in batches.enumerated() {
                // No padding: tokens are exactly the examples' lengths.
                XCTAssertEqual(batch.tokens, batch.exampleIDs.reduce(0) { $0 + lengths[$1] })
                XCTAssertFalse(batch.exampleIDs.isEmpty)
                if batch.tokens > 256 {
                    XCTAssertEqual(batch.exampleIDs.count, 1, "only a lone example may exceed the budget")
                }
                // Greedy: the next example did not fit.
                if k + 1 < batches.count {
                    XCTAssertGreaterThan(batch.tokens + lengths[batches[k + 1].exampleIDs[0]], 256)
                }
            }
        }
        // The 900-token example travels alone.
        let step = (0..<p.stepsPerEpoch).first { p.examples(step: $0).contains(50) }!
        XCTAssertEqual(p.microBatches(step: step).last, MicroBatch(step: step, index: p.microBatches(step: step).count - 1, exampleIDs: [50], tokens: 900))
    }

    func testSeedsAndEpochsChangeTheOrder() {
        let a = plan(seed: 1)
        let b = plan(seed: 2)
        XCTAssertNotEqual(a.epochOrder(0), b.epochOrder(0))
        XCTAssertNotEqual(a.epochOrder(0), a.epochOrder(1))
        XCTAssertNotEqual(a.epochOrder(1), a.epochOrder(2))
        XCTAssertNotEqual(a.epochOrder(0), Array(0..<103), "not shuffled")
        XCTAssertNotEqual(a.microBatches(step: 0), b.microBatches(step: 0))
        XCTAssertNotEqual(a.microBatches(step: 0), a.microBatches(step: a.stepsPerEpoch))
    }

    func testDatasetSmallerThanOneBatchIsOneShortStep() {
        let p = DataPlan(exampleLengths: [3, 4, 5], globalBatch: 8, microBatchTokens: 100, seed: 0)
        XCTAssertEqual(p.stepsPerEpoch, 1)
        XCTAssertEqual(p.microBatches(step: 0).flatMap(\.exampleIDs), [0, 1, 2])
        XCTAssertEqual(Set(p.microBatches(step: 1).flatMap(\.exampleIDs)), [0, 1, 2])
    }

    func testPaddingCost() {
        XCTAssertEqual(paddedTokenCount(exampleLengths: [100, 200, 600]), 3 * 512)
        XCTAssertEqual(usefulTokenRatio(exampleLengths: [100, 200, 600]), Double(100 + 200 + 512) / Double(3 * 512), accuracy: 1e-12)
        XCTAssertEqual(usefulTokenRatio(exampleLengths: [16, 16], paddedLength: 16), 1)
    }
}
