/// Dequantization entry point (row-major, whole blocks). Per-format decoders live beside this file.
public enum Dequantize {
    /// Decodes `count` elements of `type` starting at `src` into `dst`. `count` must be a whole
    /// number of blocks and `type.isSupported` must hold (callers check; this traps otherwise).
    public static func rows(_ type: GGMLType, from src: UnsafeRawPointer, to dst: UnsafeMutablePointer<Float>, count: Int) {
        precondition(type.isSupported && count % type.blockSize == 0, "dequantize: bad call for \(type) × \(count)")
        switch type {
        case .f32:
            dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        default:
            preconditionFailure("dequantize \(type): not yet built")
        }
    }
}
