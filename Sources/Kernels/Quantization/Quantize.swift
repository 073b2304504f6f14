/// Float → stored bytes for the formats this project writes (test models, fixtures), round to
/// nearest as ggml's reference quantizers (`quantize_row_q8_0_ref`, `_q4_0_ref`, `_q4_1_ref`) and
/// the Python `gguf` package, bit for bit. Block layouts: see DequantizeQ4Q8.swift.
/// Not tuned for speed: it runs when files are written, never per step.
public enum Quantize {
    /// Whether `rows` can produce `type`.
    public static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1: return true
        default: return false
        }
    }

    /// Encodes `count` floats (a whole number of blocks) as `type` into `dst`, which must hold
    /// `type.byteCount(elements: count)` bytes. Traps on an unsupported type or a partial block.
    public static func rows(
        _ type: GGMLType, from src: UnsafePointer<Float>, to dst: UnsafeMutableRawPointer, count: Int
    ) {
        precondition(supports(type) && count % type.blockSize == 0, "quantize: bad call for \(type) × \(count)")
        switch type {
        case .f32:
            dst.copyMemory(from: src, byteCount: count &* 4)
        case .f16:
            for i in 0..<count {
                dst.storeBytes(of: HalfFloat.floatToF16(src[i]), toByteOffset: 2 &* i, as: UInt16.self)
            }
        case .bf16:
            for i in 0..<count {
                dst.storeBytes(of: HalfFloat.floatToBF16(src[i]), toByteOffset: 2 &* i, as: UInt16.self)
            }
        case .q8_0:
            for b in 0..<(count / 32) { q8_0Block(src + 32 &* b, dst + b &* type.bytesPerBlock) }
        case .q4_0:
            for b in 0..<(count / 32) { q4_0Block(src + 32 &* b, dst + b &* type.bytesPerBlock) }
        case .q4_1:
            for b in 0..<(count / 32) { q4_1Block(src + 32 &* b, dst + b &* type.bytesPerBlock) }
        default:
            preconditionFailure("quantize \(type): not supported")
        }
    }

    /// `values` encoded as `type` (a whole number of blocks), as a new byte array.
    public static func bytes(_ values: [Float], as type: GGMLType) -> [UInt8] {
        guard let n = type.byteCount(elements: values.count) else {
            preconditionFailure("quantize: \(values.count) elements is not a whole number of \(type) blocks")
        }
        return [UInt8](unsafeUninitializedCapacity: n) { out, initialized in
            values.withUnsafeBufferPointer { v in
                if let base = v.baseAddress, let o = out.baseAddress {
                    rows(type, from: base, to: UnsafeMutableRawPointer(o), count: v.count)
                }
            }
            initialized = n
        }
    }

    /// Q8_0: d = max|x| / 127, q = round-half-away(x / d).
    static func q8_0Block(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        out.storeBytes(of: HalfFloat.floatToF16(d), as: UInt16.self)
        for j in 0..<32 {
            let q = (x[j] * id).rounded(.toNearestOrAwayFromZero)
            let qi = Int8(clamping: q.isFinite ? Int(q) : 0)
            out.storeBytes(of: UInt8(bitPattern: qi), toByteOffset: 2 &+ j, as: UInt8.self)
        }
    }

    /// Q4_0: d = (the value of largest magnitude, first one) / −8, q = min(15, trunc(x/d + 8.5)).
    static func q4_0Block(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0
        var vmax: Float = 0
        for j in 0..<32 where amax < abs(x[j]) {
            amax = abs(x[j])
            vmax = x[j]
        }
        let d = vmax / -8
        let id: Float = d != 0 ? 1 / d : 0
        out.storeBytes(of: HalfFloat.floatToF16(d), as: UInt16.self)
        for j in 0..<16 {
            let lo = nibble(x[j] * id + 8.5)
            let hi = nibble(x[j &+ 16] * id + 8.5)
            out.storeBytes(of: lo | (hi << 4), toByteOffset: 2 &+ j, as: UInt8.self)
        }
    }

    /// Q4_1: d = (max − min) / 15, m = min, q = min(15, trunc((x − min)/d + 0.5)).
    static func q4_1Block(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var lo = Float.greatestFiniteMagnitude
        var hi = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            lo = min(lo, x[j])
            hi = max(hi, x[j])
        }
        let d = (hi - lo) / 15
        let id: Float = d != 0 ? 1 / d : 0
        out.storeBytes(of: HalfFloat.floatToF16(d), as: UInt16.self)
        out.storeBytes(of: HalfFloat.floatToF16(lo), toByteOffset: 2, as: UInt16.self)
        for j in 0..<16 {
            let a = nibble((x[j] - lo) * id + 0.5)
            let b = nibble((x[j &+ 16] - lo) * id + 0.5)
            out.storeBytes(of: a | (b << 4), toByteOffset: 4 &+ j, as: UInt8.self)
        }
    }

    /// trunc(v) clamped to 0...15 (NaN → 0).
    @inline(__always)
    static func nibble(_ v: Float) -> UInt8 {
        guard v >= 0 else { return 0 }
        return UInt8(min(v.rounded(.towardZero), 15))
    }
}
