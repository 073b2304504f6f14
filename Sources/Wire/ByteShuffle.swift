// Byte-shuffle: n elements of `width` bytes become `width` planes of n bytes, plane p holding byte p
// (little-endian order) of every element. Floats of similar magnitude share their sign/exponent byte, so
// that plane compresses well under LZ4; the mantissa planes stay near-random.
//
//   input  e0b0 e0b1 e0b2 e0b3 | e1b0 e1b1 e1b2 e1b3 | …
//   output e0b0 e1b0 e2b0 … | e0b1 e1b1 e2b1 … | e0b2 … | e0b3 …

#if _endian(big)
    #error("the wire format is little-endian and the codecs copy host words directly")
#endif

public enum ByteShuffle {
    /// Regroups `source` (a whole number of elements) into planes in `destination` (same size).
    public static func shuffle(
        _ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer
    ) {
        precondition(width > 0 && source.count % width == 0 && destination.count == source.count)
        let n = source.count / width
        guard n > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let out = dst.assumingMemoryBound(to: UInt8.self)
        switch width {
        case 1:
            dst.copyMemory(from: src, byteCount: n)
        case 2:
            for i in 0..<n {
                let word = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                out[i] = UInt8(truncatingIfNeeded: word)
                out[n + i] = UInt8(truncatingIfNeeded: word >> 8)
            }
        case 4:
            for i in 0..<n {
                let word = src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                out[i] = UInt8(truncatingIfNeeded: word)
                out[n + i] = UInt8(truncatingIfNeeded: word >> 8)
                out[2 * n + i] = UInt8(truncatingIfNeeded: word >> 16)
                out[3 * n + i] = UInt8(truncatingIfNeeded: word >> 24)
            }
        default:
            let input = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n {
                for plane in 0..<width { out[plane * n + i] = input[i * width + plane] }
            }
        }
    }

    /// The inverse of `shuffle`.
    public static func unshuffle(
        _ source: UnsafeRawBufferPointer, width: Int, into destination: UnsafeMutableRawBufferPointer
    ) {
        precondition(width > 0 && source.count % width == 0 && destination.count == source.count)
        let n = source.count / width
        guard n > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let input = src.assumingMemoryBound(to: UInt8.self)
        switch width {
        case 1:
            dst.copyMemory(from: src, byteCount: n)
        case 2:
            for i in 0..<n {
                let word = UInt16(input[i]) | UInt16(input[n + i]) << 8
                dst.storeBytes(of: word, toByteOffset: 2 * i, as: UInt16.self)
            }
        case 4:
            for i in 0..<n {
                let word =
                    UInt32(input[i]) | UInt32(input[n + i]) << 8 | UInt32(input[2 * n + i]) << 16
                    | UInt32(input[3 * n + i]) << 24
                dst.storeBytes(of: word, toByteOffset: 4 * i, as: UInt32.self)
            }
        default:
            let out = dst.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n {
                for plane in 0..<width { out[i * width + plane] = input[plane * n + i] }
            }
        }
    }

    public static func shuffle(_ bytes: [UInt8], width: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, initialized in
            bytes.withUnsafeBytes { shuffle($0, width: width, into: UnsafeMutableRawBufferPointer(buffer)) }
            initialized = bytes.count
        }
    }

    public static func unshuffle(_ bytes: [UInt8], width: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, initialized in
            bytes.withUnsafeBytes { unshuffle($0, width: width, into: UnsafeMutableRawBufferPointer(buffer)) }
            initialized = bytes.count
        }
    }
}
