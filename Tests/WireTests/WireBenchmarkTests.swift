import Wire
import XCTest

/// Throughput and LZ4 ratio per encoding on a 1.2 M-float gaussian gradient (about the adapter size of
/// SmolLM2-135M: 30 layers × (10 × 576 + 9) = 173 k; of a 7B LLaMA: 32 × (10 × 4096 + 32) = 1.3 M).
/// Prints only: numbers depend on the machine; run with `-c release` (docs/protocol.md keeps them).
final class WireBenchmarkTests: XCTestCase {
    #if DEBUG
        let repetitions = 1
    #else
        let repetitions = 7
    #endif

    /// Best time of `repetitions` runs, in seconds.
    func best(_ body: () throws -> Void) rethrows -> Double {
        var fastest = Double.infinity
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            fastest = min(fastest, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        return fastest
    }

    func format(_ value: Double, _ digits: Int = 2) -> String {
        let scale = pow(10.0, Double(digits))
        return String((value * scale).rounded() / scale)
    }

    func testPrintThroughputAndRatios() throws {
        let count = 1_200_000
        var rng = SeededGenerator(seed: 30)
        let gradient = rng.gaussian(count, sigma: 1e-3)
        let rawBytes = Double(4 * count)
        print(
            "| encoding | body MB | wire MB | LZ4 ratio (body/stored) | raw/wire | encode GB/s | decode GB/s | frame+CRC+message round trip GB/s |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for encoding in TensorEncoding.allCases {
            var tensor = TensorCodec.encode(gradient, as: encoding, topKFraction: 0.01)
            let encodeTime = best { tensor = TensorCodec.encode(gradient, as: encoding, topKFraction: 0.01) }
            var decoded: [Float] = []
            let decodeTime = try best { decoded = try TensorCodec.decode(tensor) }
            XCTAssertEqual(decoded.count, count)
            if encoding == .f32 {
                XCTAssertTrue(decoded.map(\.bitPattern) == gradient.map(\.bitPattern), "f32 not bit-exact")
            }
            let roundTrip = try best {
                let message = Message.gradient(
                    GradientPayload(
                        step: 3, microBatch: 1, lossSum: 1, labelCount: 1, tokenCount: 1,
                        gradient: TensorCodec.encode(gradient, as: encoding, topKFraction: 0.01)))
                let bytes = FrameCodec.encode(message.encode(runID: 1, workerID: 2, sequence: 3))
                guard case .gradient(let received) = try Message.decode(bytes: bytes).message else { return XCTFail() }
                decoded = try TensorCodec.decode(received.gradient)
            }
            let lz4 = Double(tensor.bodyBytes) / Double(tensor.bytes.count)
            print(
                "| \(encoding) | \(format(Double(tensor.bodyBytes) / 1e6, 3)) | \(format(Double(tensor.wireBytes) / 1e6, 3)) | \(format(lz4, 3)) (\(tensor.compression)) | \(format(tensor.ratio, 2)) | \(format(rawBytes / encodeTime / 1e9)) | \(format(rawBytes / decodeTime / 1e9)) | \(format(rawBytes / roundTrip / 1e9)) |"
            )
        }
        let bytes = gradient.withUnsafeBytes { Array($0) }
        var crc: UInt32 = 0
        let crcTime = best { crc = CRC32C.checksum(bytes) }
        var shuffled: [UInt8] = []
        let shuffleTime = best { shuffled = ByteShuffle.shuffle(bytes, width: 4) }
        var restored: [UInt8] = []
        let unshuffleTime = best { restored = ByteShuffle.unshuffle(shuffled, width: 4) }
        XCTAssertTrue(restored == bytes, "unshuffle(shuffle(x)) != x")
        print(
            "CRC32C \(format(rawBytes / crcTime / 1e9)) GB/s (\(crc)); shuffle \(format(rawBytes / shuffleTime / 1e9)) GB/s; unshuffle \(format(rawBytes / unshuffleTime / 1e9)) GB/s"
        )
    }
}
