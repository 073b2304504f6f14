/// The 32-element block formats, as ggml's `block_q8_0`, `block_q4_0`, `block_q4_1`
/// (all little-endian, packed, no padding; fp16 = IEEE binary16 bits):
///
///   Q8_0  34 bytes: d:fp16 | qs:int8[32]              x[j] = qs[j] · d
///   Q4_0  18 bytes: d:fp16 | qs:uint8[16]             x[j]    = ((qs[j] & 0xF) − 8) · d
///                                                     x[j+16] = ((qs[j] >> 4)  − 8) · d
///   Q4_1  20 bytes: d:fp16 | m:fp16 | qs:uint8[16]    x[j]    = (qs[j] & 0xF) · d + m
///                                                     x[j+16] = (qs[j] >> 4)  · d + m
extension Dequantize {
    @inline(__always) static var qk32: Int { 32 }

    /// src: count/32 Q8_0 blocks → dst: count floats.
    @usableFromInline
    static func q8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        let blockBytes = GGMLType.q8_0.bytesPerBlock
        precondition(blockBytes == 2 + qk32)
        for b in 0..<(count / qk32) {
            let block = src + b &* blockBytes
            let y = dst + b &* qk32
            let d = HalfFloat.f16ToFloat(block.loadUnaligned(as: UInt16.self))
            let qs = block + 2
            for j in 0..<qk32 {
                y[j] = Float(Int8(bitPattern: qs.load(fromByteOffset: j, as: UInt8.self))) * d
            }
        }
    }

    /// src: count/32 Q4_0 blocks → dst: count floats.
    @usableFromInline
    static func q4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        let blockBytes = GGMLType.q4_0.bytesPerBlock
        precondition(blockBytes == 2 + qk32 / 2)
        for b in 0..<(count / qk32) {
            let block = src + b &* blockBytes
            let y = dst + b &* qk32
            let d = HalfFloat.f16ToFloat(block.loadUnaligned(as: UInt16.self))
            let qs = block + 2
            for j in 0..<(qk32 / 2) {
                let q = qs.load(fromByteOffset: j, as: UInt8.self)
                y[j] = Float(Int32(q & 0x0F) &- 8) * d
                y[j &+ 16] = Float(Int32(q >> 4) &- 8) * d
            }
        }
    }

    /// src: count/32 Q4_1 blocks → dst: count floats.
    @usableFromInline
    static func q4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        let blockBytes = GGMLType.q4_1.bytesPerBlock
        precondition(blockBytes == 4 + qk32 / 2)
        for b in 0..<(count / qk32) {
            let block = src + b &* blockBytes
            let y = dst + b &* qk32
            let d = HalfFloat.f16ToFloat(block.loadUnaligned(as: UInt16.self))
            let m = HalfFloat.f16ToFloat(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let qs = block + 4
            for j in 0..<(qk32 / 2) {
                let q = qs.load(fromByteOffset: j, as: UInt8.self)
                y[j] = Float(q & 0x0F) * d + m
                y[j &+ 16] = Float(q >> 4) * d + m
            }
        }
    }
}
