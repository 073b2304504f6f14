/// The 256-element "k-quant" super-block formats, as ggml's `block_q4_K` and `block_q6_K`
/// (little-endian, packed; QK_K = 256):
///
///   Q4_K  144 bytes: d:fp16 | dmin:fp16 | scales:uint8[12] | qs:uint8[128]
///     8 sub-blocks of 32, each with a 6-bit scale sc and 6-bit min m packed in `scales`:
///       j < 4:  sc = s[j] & 63,                          m = s[j+4] & 63
///       j ≥ 4:  sc = (s[j+4] & 0xF) | ((s[j-4] >> 6) << 4), m = (s[j+4] >> 4) | ((s[j] >> 6) << 4)
///     64 elements per chunk c (0..<4) read qs[32c ..< 32c+32]: low nibbles belong to sub-block
///     2c, high nibbles to 2c+1;  x = (d·sc)·q − (dmin·m).
///
///   Q6_K  210 bytes: ql:uint8[128] | qh:uint8[64] | scales:int8[16] | d:fp16
///     two halves of 128; in half h (ql += 64h, qh += 32h, sc += 8h), for l in 0..<32:
///       q1 = (ql[l]    & 0xF) | ((qh[l] >> 0) & 3) << 4   → x[l]
///       q2 = (ql[l+32] & 0xF) | ((qh[l] >> 2) & 3) << 4   → x[l+32]
///       q3 = (ql[l]    >> 4)  | ((qh[l] >> 4) & 3) << 4   → x[l+64]
///       q4 = (ql[l+32] >> 4)  | ((qh[l] >> 6) & 3) << 4   → x[l+96]
///     x = (d·sc[l/16 + 2k])·(q − 32) for the k-th of those four.
extension Dequantize {
    @inline(__always) static var qkK: Int { 256 }

    /// src: count/256 Q4_K blocks → dst: count floats.
    @usableFromInline
    static func q4_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        let blockBytes = GGMLType.q4_K.bytesPerBlock
        precondition(blockBytes == 2 + 2 + 12 + qkK / 2)
        for b in 0..<(count / qkK) {
            let block = src + b &* blockBytes
            let d = HalfFloat.f16ToFloat(block.loadUnaligned(as: UInt16.self))
            let dmin = HalfFloat.f16ToFloat(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let s = block + 4
            let qs = block + 16
            for chunk in 0..<4 {
                let (sc1, m1) = scaleMinK4(2 &* chunk, s)
                let (sc2, m2) = scaleMinK4(2 &* chunk &+ 1, s)
                let d1 = d * Float(sc1)
                let min1 = dmin * Float(m1)
                let d2 = d * Float(sc2)
                let min2 = dmin * Float(m2)
                let q = qs + 32 &* chunk
                let y = dst + (b &* qkK &+ 64 &* chunk)
                for l in 0..<32 {
                    let v = q.load(fromByteOffset: l, as: UInt8.self)
                    y[l] = d1 * Float(v & 0x0F) - min1
                    y[l &+ 32] = d2 * Float(v >> 4) - min2
                }
            }
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) of a Q4_K block (ggml's `get_scale_min_k4`).
    @inline(__always)
    static func scaleMinK4(_ j: Int, _ s: UnsafeRawPointer) -> (UInt8, UInt8) {
        @inline(__always) func at(_ i: Int) -> UInt8 { s.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 {
            return (at(j) & 63, at(j &+ 4) & 63)
        }
        let sc = (at(j &+ 4) & 0x0F) | ((at(j &- 4) >> 6) << 4)
        let m = (at(j &+ 4) >> 4) | ((at(j) >> 6) << 4)
        return (sc, m)
    }

    /// src: count/256 Q6_K blocks → dst: count floats.
    @usableFromInline
    static func q6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        let blockBytes = GGMLType.q6_K.bytesPerBlock
        precondition(blockBytes == qkK / 2 + qkK / 4 + qkK / 16 + 2)
        for b in 0..<(count / qkK) {
            let block = src + b &* blockBytes
            let d = HalfFloat.f16ToFloat(block.loadUnaligned(fromByteOffset: 208, as: UInt16.self))
            for half in 0..<2 {
                let ql = block + 64 &* half
                let qh = block + (128 &+ 32 &* half)
                let sc = block + (192 &+ 8 &* half)
                let y = dst + (b &* qkK &+ 128 &* half)
                for part in 0..<2 {  // l in 0..<16 uses scales is=0, 16..<32 is=1
                    @inline(__always) func scale(_ k: Int) -> Float {
                        d * Float(Int8(bitPattern: sc.load(fromByteOffset: part &+ 2 &* k, as: UInt8.self)))
                    }
                    let s1 = scale(0)
                    let s2 = scale(1)
                    let s3 = scale(2)
                    let s4 = scale(3)
                    for l in (16 &* part)..<(16 &* part &+ 16) {
                        let lo = ql.load(fromByteOffset: l, as: UInt8.self)
                        let hi = ql.load(fromByteOffset: l &+ 32, as: UInt8.self)
                        let h = qh.load(fromByteOffset: l, as: UInt8.self)
                        let q1 = Int32((lo & 0x0F) | ((h & 3) << 4)) &- 32
                        let q2 = Int32((hi & 0x0F) | (((h >> 2) & 3) << 4)) &- 32
                        let q3 = Int32((lo >> 4) | (((h >> 4) & 3) << 4)) &- 32
                        let q4 = Int32((hi >> 4) | (((h >> 6) & 3) << 4)) &- 32
                        y[l] = s1 * Float(q1)
                        y[l &+ 32] = s2 * Float(q2)
                        y[l &+ 64] = s3 * Float(q3)
                        y[l &+ 96] = s4 * Float(q4)
                    }
                }
            }
        }
    }
}
