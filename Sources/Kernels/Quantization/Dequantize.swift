/// Dequantization entry point (row-major, whole blocks). Per-format decoders live beside this file.
public enum Dequantize {
    /// Decodes `count` elements of `type` starting at `src` into `dst`. `count` must be a whole
    /// number of blocks and `type.isSupported` must hold (callers check; this traps otherwise).
    public static func rows(_ type: GGMLType, from src: UnsafeRawPointer, to dst: UnsafeMutablePointer<Float>, count: Int) {
        precondition(type.isSupported && count % type.blockSize == 0, "dequantize: bad call for \(type) × \(count)")
        switch type {
        case .f32:
            // Byte copy: the source need not be 4-byte aligned.
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count &* 4)
        case .f16: f16(src, dst, count)
        case .bf16: bf16(src, dst, count)
        case .q8_0: q8_0(src, dst, count)
        case .q4_0: q4_0(src, dst, count)
        case .q4_1: q4_1(src, dst, count)
        case .q4_K: q4_K(src, dst, count)
        case .q6_K: q6_K(src, dst, count)
        default:
            preconditionFailure("dequantize \(type): not supported")
        }
    }
}
