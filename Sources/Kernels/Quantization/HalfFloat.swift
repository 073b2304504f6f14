/// Bit-exact conversions between `Float` and the two 16-bit float formats stored in model files.
///
///   F16  (IEEE binary16): sign 1 | exponent 5 (bias 15)  | mantissa 10
///   BF16 (bfloat16):      sign 1 | exponent 8 (bias 127) | mantissa 7   = the top half of an F32
///
/// `f16ToFloat` is branch-free integer arithmetic (no library call, vectorizes), and equals
/// `Float(Float16(bitPattern:))` for all 65,536 inputs (NaN payloads kept); a test checks it.
public enum HalfFloat {
    /// binary16 bits → Float, exact (subnormals, infinities and NaNs included).
    @inlinable @inline(__always)
    public static func f16ToFloat(_ bits: UInt16) -> Float {
        let h = UInt32(truncatingIfNeeded: bits)
        let shiftedExp: UInt32 = 0x7C00 << 13
        var o = (h & 0x7FFF) << 13  // exponent and mantissa moved into F32 place
        let exp = o & shiftedExp
        o &+= (127 - 15) << 23  // rebias the exponent
        let infNaN = o &+ ((128 - 16) << 23)  // exponent 31 → 255
        // Subnormal: add 1 to the exponent, then subtract 2^-14 to drop the implicit bit.
        let sub = Float(bitPattern: o &+ (1 << 23)) - Float(bitPattern: 113 << 23)
        let magnitude = exp == shiftedExp ? infNaN : (exp == 0 ? sub.bitPattern : o)
        return Float(bitPattern: magnitude | ((h & 0x8000) << 16))
    }

    /// Float → binary16 bits, round to nearest even (overflow gives ±infinity), as numpy's
    /// `astype(float16)` and ggml's `GGML_FP32_TO_FP16`.
    @inlinable @inline(__always)
    public static func floatToF16(_ x: Float) -> UInt16 {
        Float16(x).bitPattern
    }

    /// bfloat16 bits → Float (exact: the bits are the top half of the F32).
    @inlinable @inline(__always)
    public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(truncatingIfNeeded: bits) << 16)
    }

    /// Float → bfloat16 bits, round to nearest even, NaNs forced quiet; as ggml's
    /// `ggml_compute_fp32_to_bf16` (no flushing of subnormals) and the Python `gguf` package.
    @inlinable @inline(__always)
    public static func floatToBF16(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if (u & 0x7FFF_FFFF) > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: (u >> 16) | 64)
        }
        let rounded = UInt64(u) + UInt64(0x7FFF + ((u >> 16) & 1))
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
