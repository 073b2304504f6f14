import Foundation
import Kernels
import XCTest

/// Dequantizers and quantizers against golden fixtures from the Python `gguf` package
/// (scripts/reference/make_quant_fixtures.py). Tolerance is zero: the arithmetic is the same
/// sequence of F32 operations, so every value must match bit for bit.
final class DequantizeTests: XCTestCase {
    struct QuantFixture: Decodable {
        let type: String
        let shape: [Int]
        let input: String?
        let quantized: String
        let dequantized: String
    }

    static var fixturesDir: URL {
        // Tests/KernelsTests/DequantizeTests.swift → Tests/Fixtures
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures")
    }

    static func loadFixture(_ type: GGMLType) throws -> QuantFixture {
        let url = fixturesDir.appendingPathComponent("quant/\(type).json")
        return try JSONDecoder().decode(QuantFixture.self, from: Data(contentsOf: url))
    }

    static func bytes(_ b64: String) throws -> [UInt8] {
        guard let d = Data(base64Encoded: b64) else { throw CocoaError(.fileReadCorruptFile) }
        return [UInt8](d)
    }

    static func floats(_ b64: String) throws -> [Float] {
        let b = try bytes(b64)
        return stride(from: 0, to: b.count, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }

    static func dequantize(_ type: GGMLType, _ raw: [UInt8], count: Int, byteShift: Int = 0) -> [Float] {
        // Copy behind `byteShift` leading bytes so unaligned sources are exercised too.
        let buf = [UInt8](repeating: 0xAB, count: byteShift) + raw
        return buf.withUnsafeBytes { src in
            [Float](unsafeUninitializedCapacity: count) { out, n in
                Dequantize.rows(type, from: src.baseAddress! + byteShift, to: out.baseAddress!, count: count)
                n = count
            }
        }
    }

    /// Compares bit patterns (NaNs equal when both are NaN); returns (mismatches, worst |a−b|, where).
    static func compare(_ got: [Float], _ want: [Float]) -> (Int, Float, Int) {
        var bad = 0
        var worstAt = -1
        var worst: Float = 0
        for i in 0..<min(got.count, want.count) {
            let same = got[i].bitPattern == want[i].bitPattern || (got[i].isNaN && want[i].isNaN)
            if !same {
                bad += 1
                let d = abs(got[i] - want[i])
                if d.isNaN || d > worst || worstAt < 0 {
                    worst = d
                    worstAt = i
                }
            }
        }
        return (bad + abs(got.count - want.count), worst, worstAt)
    }

    func checkDequantize(_ type: GGMLType, file: StaticString = #filePath, line: UInt = #line) throws {
        let fx = try Self.loadFixture(type)
        XCTAssertEqual(fx.type, type.description, file: file, line: line)
        let raw = try Self.bytes(fx.quantized)
        let want = try Self.floats(fx.dequantized)
        let count = fx.shape.reduce(1, *)
        XCTAssertEqual(want.count, count, file: file, line: line)
        XCTAssertEqual(type.byteCount(elements: count), raw.count, "fixture byte count", file: file, line: line)
        for shift in [0, 1, 3] {
            let got = Self.dequantize(type, raw, count: count, byteShift: shift)
            let (bad, worst, at) = Self.compare(got, want)
            print(
                "dequantize \(type) (shift \(shift)): \(count) values, \(bad) differ, worst |Δ| = \(worst)"
                    + (at >= 0 ? " at \(at) (got \(got[at]), want \(want[at]))" : ""))
            XCTAssertEqual(bad, 0, "\(type) dequantize differs from gguf-py", file: file, line: line)
        }
    }

    func testDequantizeF16() throws { try checkDequantize(.f16) }
    func testDequantizeBF16() throws { try checkDequantize(.bf16) }
    func testDequantizeQ8_0() throws { try checkDequantize(.q8_0) }
    func testDequantizeQ4_0() throws { try checkDequantize(.q4_0) }
    func testDequantizeQ4_1() throws { try checkDequantize(.q4_1) }
    func testDequantizeQ4_K() throws { try checkDequantize(.q4_K) }
    func testDequantizeQ6_K() throws { try checkDequantize(.q6_K) }

    func testDequantizeF32CopiesUnaligned() {
        let values: [Float] = [1, -2.5, .infinity, 0x1p-140, -0]
        let raw = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { [UInt8]($0) } }
        let got = Self.dequantize(.f32, raw, count: values.count, byteShift: 1)
        XCTAssertEqual(got.map(\.bitPattern), values.map(\.bitPattern))
    }

    func checkQuantize(_ type: GGMLType, file: StaticString = #filePath, line: UInt = #line) throws {
        let fx = try Self.loadFixture(type)
        guard let input = fx.input else { return XCTFail("fixture \(type) has no input", file: file, line: line) }
        let x = try Self.floats(input)
        let want = try Self.bytes(fx.quantized)
        let got = Quantize.bytes(x, as: type)
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        let diff = zip(got, want).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        print(
            "quantize \(type): \(got.count) bytes, \(diff.count) differ"
                + (diff.first.map { " (first at byte \($0))" } ?? ""))
        XCTAssertEqual(diff.count, 0, "\(type) quantize differs from gguf-py", file: file, line: line)
    }

    func testQuantizeF16() throws { try checkQuantize(.f16) }
    func testQuantizeBF16() throws { try checkQuantize(.bf16) }
    func testQuantizeQ8_0() throws { try checkQuantize(.q8_0) }
    func testQuantizeQ4_0() throws { try checkQuantize(.q4_0) }
    func testQuantizeQ4_1() throws { try checkQuantize(.q4_1) }

    /// The branch-free F16 decoder equals the standard library's conversion for every bit pattern.
    func testHalfToFloatExhaustive() {
        var bad = 0
        for bits in 0...UInt16.max {
            let want = Float(Float16(bitPattern: bits))
            let got = HalfFloat.f16ToFloat(bits)
            if want.isNaN {
                if !got.isNaN || (got.bitPattern & 0x8000_0000) != (want.bitPattern & 0x8000_0000) { bad += 1 }
            } else if got.bitPattern != want.bitPattern {
                bad += 1
            }
        }
        XCTAssertEqual(bad, 0, "f16 → f32 mismatches")
    }

    func testBF16Rounding() {
        XCTAssertEqual(HalfFloat.floatToBF16(1.0), 0x3F80)
        XCTAssertEqual(HalfFloat.floatToBF16(Float(bitPattern: 0x3F80_8000)), 0x3F80)  // tie → even
        XCTAssertEqual(HalfFloat.floatToBF16(Float(bitPattern: 0x3F81_8000)), 0x3F82)  // tie → even
        XCTAssertEqual(HalfFloat.floatToBF16(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(HalfFloat.floatToBF16(-.infinity), 0xFF80)
        XCTAssertTrue(HalfFloat.bf16ToFloat(HalfFloat.floatToBF16(.nan)).isNaN)
        XCTAssertEqual(HalfFloat.floatToBF16(Float(bitPattern: 0x7F80_0001)) & 0x0040, 0x0040)  // quieted
    }

    /// Round trip error stays within half a quantization step of each block.
    func testQuantizeRoundTripBounds() {
        var rng = SplitMix64(seed: 7)
        let n = 32 * 64
        let x = (0..<n).map { _ in Float(rng.nextUniform() * 4 - 2) }
        for type in [GGMLType.q8_0, .q4_0, .q4_1] {
            let y = Self.dequantize(type, Quantize.bytes(x, as: type), count: n)
            var worstRatio: Float = 0
            for b in 0..<(n / 32) {
                let blk = x[(32 * b)..<(32 * b + 32)]
                let range = type == .q4_1 ? blk.max()! - blk.min()! : 2 * blk.map(abs).max()!
                let levels: Float = type == .q8_0 ? 254 : 15
                let step = range / levels
                for j in blk.indices { worstRatio = max(worstRatio, abs(y[j] - x[j]) / step) }
            }
            print("round trip \(type): worst error = \(worstRatio) steps")
            // Half a step plus the fp16 rounding of the scale and min (up to 127 × 2⁻¹¹ steps for
            // Q8_0); Q4_0's grid of −8…7 leaves up to a whole step on the positive side.
            XCTAssertLessThanOrEqual(worstRatio, type == .q4_0 ? 1.05 : 0.6, "\(type)")
        }
    }

    func testZeroBlocksStayZero() {
        let x = [Float](repeating: 0, count: 64)
        for type in [GGMLType.f16, .bf16, .q8_0, .q4_0, .q4_1] {
            XCTAssertEqual(Self.dequantize(type, Quantize.bytes(x, as: type), count: 64), x, "\(type)")
        }
    }

    /// Rough speed of the per-layer decode (printed, not asserted: debug builds are slow).
    func testDequantizeSpeed() {
        let n = 1536 * 576
        var rng = SplitMix64(seed: 1)
        let x = (0..<n).map { _ in Float(rng.nextUniform() - 0.5) }
        var out = [Float](repeating: 0, count: n)
        for type in [GGMLType.f16, .bf16, .q8_0, .q4_0, .q4_1, .q4_K, .q6_K] {
            // k-quants cannot be encoded here: random bytes are valid blocks for timing.
            let raw =
                Quantize.supports(type)
                ? Quantize.bytes(x, as: type)
                : (0..<type.byteCount(elements: n)!).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let start = DispatchTime.now().uptimeNanoseconds
            let reps = 5
            for _ in 0..<reps {
                raw.withUnsafeBytes { src in
                    out.withUnsafeMutableBufferPointer {
                        Dequantize.rows(type, from: src.baseAddress!, to: $0.baseAddress!, count: n)
                    }
                }
            }
            let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(reps * n)
            print("dequantize \(type): \(String(format: "%.2f", ns)) ns/element")
        }
    }
}

/// Small deterministic generator for test data.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
