import Wire
import XCTest

/// Every encoding against its error bound, top-k selection, error feedback, and hostile bodies.
final class TensorCodecTests: XCTestCase {
    func roundTrip(_ values: [Float], _ encoding: TensorEncoding, fraction: Double = 0.01, compress: Bool = true) throws
        -> [Float]
    {
        let tensor = TensorCodec.encode(values, as: encoding, topKFraction: fraction, compress: compress)
        XCTAssertEqual(tensor.count, values.count)
        XCTAssertEqual(tensor.rawBytes, 4 * values.count)
        XCTAssertEqual(tensor.wireBytes, EncodedTensor.headerSize + tensor.bytes.count)
        // Through a message and its bytes, as the peer would see it.
        let message = Message.gradient(
            GradientPayload(step: 1, microBatch: 0, lossSum: 0, labelCount: 0, tokenCount: 0, gradient: tensor))
        guard
            case .gradient(let received) = try Message.decode(
                bytes: FrameCodec.encode(message.encode(runID: 0, workerID: 0, sequence: 0))
            ).message
        else {
            XCTFail("not a GRADIENT")
            return []
        }
        XCTAssertEqual(received.gradient, tensor)
        return try TensorCodec.decode(received.gradient)
    }

    func specials() -> [Float] {
        [
            0, -0, 1, -1, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FC0_1234), .leastNonzeroMagnitude,
            -.leastNormalMagnitude, .greatestFiniteMagnitude, 1e-30, 65504,
        ]
    }

    func testF32IsBitExact() throws {
        var rng = SeededGenerator(seed: 10)
        for count in [0, 1, 3, 64, 65, 10_000] {
            let values = rng.gaussian(count, sigma: 1e-3) + specials()
            for compress in [true, false] {
                XCTAssertEqual(
                    try roundTrip(values, .f32, compress: compress).map(\.bitPattern), values.map(\.bitPattern))
            }
        }
        let zeros = [Float](repeating: 0, count: 10_000)
        let tensor = TensorCodec.encode(zeros)
        XCTAssertEqual(tensor.compression, .lz4)
        XCTAssertLessThan(tensor.wireBytes, 1000)
        XCTAssertEqual(try TensorCodec.decode(tensor), zeros)
    }

    func testIncompressibleBodyIsStoredRaw() throws {
        var rng = SeededGenerator(seed: 11)
        let noise = (0..<1000).map { _ in
            Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng) & 0xBFFF_FFFF)
        }
        let tensor = TensorCodec.encode(noise)
        XCTAssertEqual(tensor.compression, .raw)
        XCTAssertEqual(tensor.bytes.count, 4000)
        XCTAssertEqual(try TensorCodec.decode(tensor).map(\.bitPattern), noise.map(\.bitPattern))
    }

    func testBF16RoundsToNearestEvenWithinHalfAnULP() throws {
        var rng = SeededGenerator(seed: 12)
        let values = rng.gaussian(5000, sigma: 3)
        let decoded = try roundTrip(values, .bf16)
        var worst: Float = 0
        for (x, y) in zip(values, decoded) {
            worst = max(worst, abs(x - y) / abs(x))
            XCTAssertLessThanOrEqual(abs(x - y), abs(x) * 0x1p-8, "\(x) → \(y)")
            XCTAssertEqual(y.bitPattern & 0xFFFF, 0)
        }
        print("bf16 worst relative error \(worst)")
        // Ties go to the even mantissa: 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷.
        let ties: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, -(1 + 0x1p-8), .greatestFiniteMagnitude]
        XCTAssertEqual(try roundTrip(ties, .bf16), [1, 1 + 0x1p-6, -1, .infinity])
        let odd = try roundTrip(specials(), .bf16)
        XCTAssertTrue(odd[6].isNaN && odd[7].isNaN)
        XCTAssertEqual(odd[4], .infinity)
        XCTAssertEqual(odd[1].bitPattern, (-0 as Float).bitPattern)
    }

    func testInt8BlockWithinHalfAScaleStep() throws {
        var rng = SeededGenerator(seed: 13)
        let values = rng.gaussian(64 * 40 + 17, sigma: 1e-2)
        let decoded = try roundTrip(values, .int8Block)
        var worst: Float = 0
        for block in stride(from: 0, to: values.count, by: 64) {
            let range = block..<min(block + 64, values.count)
            let scale = values[range].map(abs).max()! / 127
            for i in range {
                let error = abs(values[i] - decoded[i])
                worst = max(worst, error / scale)
                XCTAssertLessThanOrEqual(error, scale * 0.5001, "element \(i)")
            }
        }
        print("int8Block worst error \(worst) scale steps")
        let tensor = TensorCodec.encode(values, as: .int8Block, compress: false)
        XCTAssertEqual(tensor.bodyBytes, 4 * 41 + values.count)
        // A zero block decodes to zeros; a block with a NaN or an infinity decodes to NaN, the others are untouched.
        var mixed =
            [Float](repeating: 0, count: 64) + [Float](repeating: 0.5, count: 64) + [Float](repeating: 1, count: 64)
        mixed[64 + 5] = .nan
        mixed[128 + 9] = -.infinity
        let out = try roundTrip(mixed, .int8Block)
        XCTAssertEqual(Array(out[0..<64]), [Float](repeating: 0, count: 64))
        XCTAssertTrue(out[64..<192].allSatisfy(\.isNaN))
    }

    func expectedTopK(_ values: [Float], _ k: Int) -> [Int] {
        let order = values.indices.sorted { a, b in
            let ka = values[a].bitPattern & 0x7FFF_FFFF
            let kb = values[b].bitPattern & 0x7FFF_FFFF
            return ka != kb ? ka > kb : a < b
        }
        return Array(order.prefix(k)).sorted()
    }

    func testTopKKeepsExactlyTheKLargest() throws {
        var rng = SeededGenerator(seed: 14)
        for (count, fraction) in [(1, 0.5), (10, 0.3), (1000, 0.01), (4096, 0.1), (20_000, 0.05), (777, 1.0)] {
            let values = rng.gaussian(count)
            let k = TensorCodec.keptCount(for: count, fraction: fraction)
            XCTAssertEqual(k, max(1, Int((fraction * Double(count)).rounded(.up))))
            let tensor = TensorCodec.encode(values, as: .topK, topKFraction: fraction)
            XCTAssertEqual(tensor.kept, k)
            let decoded = try roundTrip(values, .topK, fraction: fraction)
            let keptIndices = decoded.indices.filter { decoded[$0] != 0 }
            XCTAssertEqual(keptIndices, expectedTopK(values, k), "count \(count)")
            for i in keptIndices { XCTAssertEqual(decoded[i].bitPattern, values[i].bitPattern) }
        }
        // Ties at the threshold: the lower indices win; NaN counts as the largest.
        let ties: [Float] = [1, -2, 2, 1, -1, 2, .nan, 0.5]
        let decoded = try roundTrip(ties, .topK, fraction: 0.5)
        XCTAssertTrue(decoded[6].isNaN)
        XCTAssertEqual(Array(decoded[0..<6]), [0, -2, 2, 0, 0, 2])
        XCTAssertEqual(try roundTrip([], .topK, fraction: 0.5), [])
    }

    /// Over many steps, Σ decoded = Σ inputs − residual, and the residual stays bounded; without feedback
    /// the top-k drift grows with the steps.
    func testErrorFeedbackTracksTheSumOfInputs() throws {
        let count = 4096
        let steps = 200
        for (encoding, bound) in [(TensorEncoding.bf16, Float(0.05)), (.int8Block, 0.05), (.topK, 8)] {
            var rng = SeededGenerator(seed: 15)
            var feedback = ErrorFeedback()
            var sumIn = [Double](repeating: 0, count: count)
            var sumOut = [Double](repeating: 0, count: count)
            var sumPlain = [Double](repeating: 0, count: count)
            var worstResidual: Float = 0
            for _ in 0..<steps {
                let gradient = rng.gaussian(count, mean: 0.05, sigma: 1)
                let sent = try TensorCodec.decode(
                    TensorCodec.encode(gradient, as: encoding, topKFraction: 0.05, feedback: &feedback))
                let plain = try TensorCodec.decode(TensorCodec.encode(gradient, as: encoding, topKFraction: 0.05))
                for i in 0..<count {
                    sumIn[i] += Double(gradient[i])
                    sumOut[i] += Double(sent[i])
                    sumPlain[i] += Double(plain[i])
                }
                worstResidual = max(worstResidual, feedback.residual.map(abs).max()!)
            }
            var worstIdentity = 0.0
            var driftFeedback = 0.0
            var driftPlain = 0.0
            for i in 0..<count {
                worstIdentity = max(worstIdentity, abs(sumIn[i] - sumOut[i] - Double(feedback.residual[i])))
                driftFeedback += abs(sumIn[i] - sumOut[i]) / Double(count)
                driftPlain += abs(sumIn[i] - sumPlain[i]) / Double(count)
            }
            print(
                "error feedback \(encoding): worst |residual| \(worstResidual), mean drift \(driftFeedback) vs \(driftPlain) without"
            )
            XCTAssertLessThan(worstResidual, bound, "\(encoding)")
            XCTAssertLessThan(worstIdentity, 1e-3, "\(encoding)")
            XCTAssertLessThanOrEqual(driftFeedback, Double(bound))
            if encoding == .topK { XCTAssertLessThan(driftFeedback * 5, driftPlain) }
        }
        // Lossless: the residual stays zero.
        var feedback = ErrorFeedback(count: 3)
        _ = TensorCodec.encode([1, 2, 3], as: .f32, feedback: &feedback)
        XCTAssertEqual(feedback.residual, [0, 0, 0])
    }

    func testByteShufflePlanes() {
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        XCTAssertEqual(ByteShuffle.shuffle(bytes, width: 4), [1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12])
        XCTAssertEqual(ByteShuffle.shuffle(bytes, width: 2), [1, 3, 5, 7, 9, 11, 2, 4, 6, 8, 10, 12])
        XCTAssertEqual(ByteShuffle.shuffle(bytes, width: 3), [1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12])
        for width in [1, 2, 3, 4, 6] {
            XCTAssertEqual(ByteShuffle.unshuffle(ByteShuffle.shuffle(bytes, width: width), width: width), bytes)
        }
    }

    // MARK: Hostile bodies

    func testLZ4Garbage() throws {
        var rng = SeededGenerator(seed: 16)
        for trial in 0..<200 {
            let garbage = rng.bytes(Int.random(in: 1..<200, using: &rng))
            let tensor = try EncodedTensor(encoding: .f32, compression: .lz4, count: 50, bytes: garbage)
            do {
                let values = try TensorCodec.decode(tensor)
                XCTAssertEqual(values.count, 50, "trial \(trial): garbage that happens to be a valid stream")
            } catch {
                XCTAssertEqual(
                    error,
                    .malformedPayload("tensor: LZ4 body of \(garbage.count) bytes does not decode to exactly 200 bytes")
                )
            }
        }
        // A valid LZ4 stream of the wrong size: one float short, and one float too many.
        let short = TensorCodec.encode([Float](repeating: 1, count: 49))
        let long = TensorCodec.encode([Float](repeating: 1, count: 51))
        for other in [short, long] {
            XCTAssertEqual(other.compression, .lz4)
            let tensor = try EncodedTensor(encoding: .f32, compression: .lz4, count: 50, bytes: other.bytes)
            assertWireError(
                .malformedPayload("tensor: LZ4 body of \(other.bytes.count) bytes does not decode to exactly 200 bytes")
            ) {
                () throws(WireError) in try TensorCodec.decode(tensor)
            }
        }
    }

    func topKBody(_ deltas: [UInt32], _ values: [Float]) -> [UInt8] {
        let d = deltas.withUnsafeBytes { Array($0) }
        let v = values.withUnsafeBytes { Array($0) }
        return ByteShuffle.shuffle(d, width: 4) + ByteShuffle.shuffle(v, width: 4)
    }

    func testTopKIndicesOutOfRangeOrNotAscending() throws {
        let outside = try EncodedTensor(
            encoding: .topK, compression: .raw, count: 10, kept: 2, bytes: topKBody([3, 7], [1, 2]))
        assertWireError(.malformedPayload("tensor: top-k index 10 (pair 1) is outside 0..<10")) {
            () throws(WireError) in
            try TensorCodec.decode(outside)
        }
        let repeated = try EncodedTensor(
            encoding: .topK, compression: .raw, count: 10, kept: 2, bytes: topKBody([3, 0], [1, 2]))
        assertWireError(.malformedPayload("tensor: top-k index delta 1 is 0 (indices must be strictly ascending)")) {
            () throws(WireError) in try TensorCodec.decode(repeated)
        }
        let huge = try EncodedTensor(
            encoding: .topK, compression: .raw, count: 10, kept: 2, bytes: topKBody([9, .max], [1, 2]))
        assertWireError(.malformedPayload("tensor: top-k index 4294967304 (pair 1) is outside 0..<10")) {
            () throws(WireError) in
            try TensorCodec.decode(huge)
        }
        let good = try EncodedTensor(
            encoding: .topK, compression: .raw, count: 10, kept: 2, bytes: topKBody([3, 6], [1, 2]))
        XCTAssertEqual(try TensorCodec.decode(good), [0, 0, 0, 1, 0, 0, 0, 0, 0, 2])
    }

    func testTensorCountLimit() {
        let limits = FrameLimits(maxTensorElements: 100)
        assertWireError(.malformedPayload("tensor: count 101 elements is over the limit of 100")) {
            () throws(WireError) in
            try EncodedTensor(encoding: .f32, compression: .raw, count: 101, bytes: [], limits: limits)
        }
    }
}
