import Foundation
import Wire
import XCTest

/// SplitMix64: a small seeded generator, so every random test is reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }

    /// Box–Muller normal samples.
    mutating func gaussian(_ count: Int, mean: Float = 0, sigma: Float = 1) -> [Float] {
        var values = [Float]()
        values.reserveCapacity(count)
        while values.count < count {
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
            let u2 = Double.random(in: 0..<1, using: &self)
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            values.append(mean + sigma * Float(radius * Foundation.cos(2 * Double.pi * u2)))
            if values.count < count { values.append(mean + sigma * Float(radius * Foundation.sin(2 * Double.pi * u2))) }
        }
        return values
    }
}

/// Little-endian builder for hand-made (often hostile) payloads and headers.
final class Bytes {
    var bytes: [UInt8] = []
    @discardableResult func u8(_ v: UInt8) -> Self {
        bytes.append(v)
        return self
    }
    @discardableResult func u16(_ v: UInt16) -> Self { le(v) }
    @discardableResult func u32(_ v: UInt32) -> Self { le(v) }
    @discardableResult func u64(_ v: UInt64) -> Self { le(v) }
    @discardableResult func f64(_ v: Double) -> Self { le(v.bitPattern) }
    @discardableResult func raw(_ v: [UInt8]) -> Self {
        bytes += v
        return self
    }
    @discardableResult func string(_ s: String) -> Self {
        u32(UInt32(s.utf8.count))
        return raw(Array(s.utf8))
    }
    private func le<T: FixedWidthInteger>(_ v: T) -> Self {
        withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
        return self
    }
}

/// A 44-byte header with every field given (nothing checked: for hostile tests).
func rawHeader(
    magic: [UInt8] = Array("APS1".utf8), version: UInt16 = 1, type: UInt16 = MessageType.heartbeat.rawValue,
    runID: UInt64 = 7, step: UInt64 = 0, workerID: UInt32 = 3, sequence: UInt64 = 11, length: UInt32, checksum: UInt32
) -> [UInt8] {
    let b = Bytes()
    b.raw(magic).u16(version).u16(type).u64(runID).u64(step).u32(workerID).u64(sequence).u32(length).u32(checksum)
    return b.bytes
}

/// A frame of `type` around `payload`, with a correct checksum (to reach the payload parser).
func framed(_ type: MessageType, _ payload: [UInt8], step: UInt64 = 0) -> Frame {
    Frame(type: type, runID: 1, step: step, workerID: 2, sequence: 3, payload: payload)
}

/// Asserts that `body` throws exactly `expected`.
func assertWireError<T>(
    _ expected: WireError, file: StaticString = #filePath, line: UInt = #line, _ body: () throws(WireError) -> T
) {
    do {
        let value = try body()
        XCTFail("expected \(expected), got \(value)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
    }
}
