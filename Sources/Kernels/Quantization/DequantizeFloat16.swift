/// F16 and BF16 element decoders: one 2-byte little-endian element per "block".
extension Dequantize {
    /// src: count × 2 bytes of binary16 → dst: count floats.
    @usableFromInline
    static func f16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count {
            dst[i] = HalfFloat.f16ToFloat(src.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
        }
    }

    /// src: count × 2 bytes of bfloat16 → dst: count floats.
    @usableFromInline
    static func bf16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0..<count {
            dst[i] = HalfFloat.bf16ToFloat(src.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
        }
    }
}
