// Tensor codec: a flat Float32 tensor of `count` elements to bytes and back.
//
// Pipeline: [error feedback: x = values + residual] → lossy stage (or none) → byte-shuffle → LZ4
//           (kept only when it is smaller; otherwise the body is stored raw) → [residual = x − decoded(x)]
//
// Encoded tensor, as it appears inside a payload (little-endian):
//
//   offset  size  field
//        0     1  encoding        0 f32, 1 bf16, 2 int8Block, 3 topK
//        1     1  compression     0 raw, 1 lz4 (one LZ4 block, LZ4_compress_default)
//        2     2  block size      int8Block: 64; else 0
//        4     8  count           elements of the dense tensor (≤ FrameLimits.maxTensorElements)
//       12     8  kept            topK: pairs kept (≤ count); else 0
//       20     4  stored length   bytes of the body that follow
//       24     …  body            raw: exactly the body size below; lz4: decompresses to exactly that size
//
// Body before LZ4 (n = count, b = ⌈n / 64⌉, k = kept); "planes" are byte-shuffled (ByteShuffle.swift):
//   f32        4n      n little-endian f32 in 4 planes                            (lossless, bit-exact)
//   bf16       2n      n bf16 (top half of the f32, round to nearest even) in 2 planes
//   int8Block  4b + n  b f32 scales (max|x| / 127 of each block of 64) in 4 planes, then n int8 (x ≈ q · scale)
//   topK       8k      k u32 index deltas in 4 planes (first = index, then differences ≥ 1: indices strictly
//                      ascending and < n), then k f32 values in 4 planes; other elements are 0
//
// The decoder computes the body size from the header (overflow-checked, under the limits) and never trusts
// another length: a raw body must be exactly that size and LZ4 must produce exactly that many bytes.

import CLZ4

public enum TensorEncoding: UInt8, Sendable, CaseIterable {
    case f32 = 0
    case bf16 = 1
    case int8Block = 2
    case topK = 3
}

public enum TensorCompression: UInt8, Sendable {
    case raw = 0
    case lz4 = 1
}

/// An encoded tensor: its header fields and the stored body. Every instance has a consistent header (the
/// initializer checks it); the body itself is checked by `TensorCodec.decode`.
public struct EncodedTensor: Sendable, Equatable {
    public static let headerSize = 24

    public let encoding: TensorEncoding
    public let compression: TensorCompression
    /// Elements of the dense tensor.
    public let count: Int
    /// topK: pairs kept; 0 for the other encodings.
    public let kept: Int
    /// Bytes of the body after the lossy stage and the shuffle, before LZ4.
    public let bodyBytes: Int
    /// The body as stored (LZ4 output or the raw body).
    public let bytes: [UInt8]

    /// The dense Float32 size: what the tensor would take without any encoding.
    public var rawBytes: Int { count * 4 }
    /// Bytes this tensor takes inside a payload, header included.
    public var wireBytes: Int { EncodedTensor.headerSize + bytes.count }
    /// rawBytes / wireBytes.
    public var ratio: Double { Double(rawBytes) / Double(wireBytes) }

    /// Checks the header fields (limits first) and that `bytes` can be what they describe.
    public init(
        encoding: TensorEncoding, compression: TensorCompression, count: Int, kept: Int = 0, bytes: [UInt8],
        limits: FrameLimits = FrameLimits()
    ) throws(WireError) {
        precondition(count >= 0 && kept >= 0, "negative tensor count")
        try self.init(
            encoding: encoding, compression: compression, count: UInt64(count),
            kept: UInt64(kept), blockSize: encoding == .int8Block ? UInt16(TensorCodec.int8BlockSize) : 0,
            bytes: bytes, limits: limits, context: "tensor")
    }

    init(
        encoding: TensorEncoding, compression: TensorCompression, count: UInt64, kept: UInt64,
        blockSize: UInt16, bytes: [UInt8], limits: FrameLimits, context: String
    ) throws(WireError) {
        let body = try EncodedTensor.checkHeader(
            encoding: encoding, compression: compression, count: count, kept: kept, blockSize: blockSize,
            stored: bytes.count, limits: limits, context: context)
        self.encoding = encoding
        self.compression = compression
        self.count = Int(count)
        self.kept = Int(kept)
        self.bodyBytes = body
        self.bytes = bytes
    }

    /// Checks the header fields, limits first, and returns the size of the body before LZ4.
    static func checkHeader(
        encoding: TensorEncoding, compression: TensorCompression, count rawCount: UInt64, kept rawKept: UInt64,
        blockSize: UInt16, stored: Int, limits: FrameLimits, context: String
    ) throws(WireError) -> Int {
        func malformed(_ detail: String) -> WireError { .malformedPayload("\(context): \(detail)") }
        guard rawCount <= UInt64(limits.maxTensorElements) else {
            throw malformed("count \(rawCount) elements is over the limit of \(limits.maxTensorElements)")
        }
        let count = Int(rawCount)
        let expectedBlock = encoding == .int8Block ? UInt16(TensorCodec.int8BlockSize) : 0
        guard blockSize == expectedBlock else {
            throw malformed("block size \(blockSize) for \(encoding), expected \(expectedBlock)")
        }
        if encoding == .topK {
            guard rawKept <= rawCount else { throw malformed("kept \(rawKept) pairs of a tensor of \(count) elements") }
        } else {
            guard rawKept == 0 else { throw malformed("kept \(rawKept) for \(encoding), expected 0") }
        }
        let kept = Int(rawKept)
        // count ≤ maxTensorElements ≤ 2^32, so none of these products can overflow an Int64.
        let body: Int
        switch encoding {
        case .f32: body = 4 * count
        case .bf16: body = 2 * count
        case .int8Block: body = 4 * TensorCodec.blockCount(count) + count
        case .topK: body = 8 * kept
        }
        switch compression {
        case .raw:
            guard stored == body else {
                throw malformed("raw \(encoding) body of \(count) elements must be \(body) bytes, found \(stored)")
            }
        case .lz4:
            guard body > 0, stored > 0, stored <= Int(Int32.max) else {
                throw malformed("LZ4 body of \(stored) bytes for a decoded body of \(body) bytes")
            }
        }
        return body
    }

    func write(to writer: inout ByteWriter) {
        writer.u8(encoding.rawValue)
        writer.u8(compression.rawValue)
        writer.u16(encoding == .int8Block ? UInt16(TensorCodec.int8BlockSize) : 0)
        writer.u64(UInt64(count))
        writer.u64(UInt64(kept))
        precondition(bytes.count <= Int(UInt32.max))
        writer.u32(UInt32(bytes.count))
        writer.raw(bytes)
    }

    static func read(from reader: inout ByteReader, field: String, limits: FrameLimits) throws(WireError) -> Self {
        let rawEncoding = try reader.u8(field + ".encoding")
        guard let encoding = TensorEncoding(rawValue: rawEncoding) else {
            throw reader.malformed(field + ".encoding", "expected 0...3, found \(rawEncoding)")
        }
        let rawCompression = try reader.u8(field + ".compression")
        guard let compression = TensorCompression(rawValue: rawCompression) else {
            throw reader.malformed(field + ".compression", "expected 0 (raw) or 1 (lz4), found \(rawCompression)")
        }
        let blockSize = try reader.u16(field + ".blockSize")
        let count = try reader.u64(field + ".count")
        let kept = try reader.u64(field + ".kept")
        let stored = Int(try reader.u32(field + ".storedLength"))
        // Header checks (count limit first), then the stored length, before the body is copied out.
        let context = "\(reader.context).\(field)"
        _ = try checkHeader(
            encoding: encoding, compression: compression, count: count, kept: kept, blockSize: blockSize,
            stored: stored, limits: limits, context: context)
        guard stored <= reader.remaining else {
            throw reader.malformed(
                field, "stored length \(stored) runs past the end of the payload (\(reader.remaining) bytes remain)")
        }
        let bytes = try reader.raw(stored, field + ".body")
        return try EncodedTensor(
            encoding: encoding, compression: compression, count: count, kept: kept, blockSize: blockSize, bytes: bytes,
            limits: limits, context: context)
    }
}

/// What the lossy stage lost last time, added to the next tensor before it is encoded (error feedback), so
/// that over many steps the sum of what was sent tracks the sum of the inputs.
public struct ErrorFeedback: Sendable, Equatable {
    public var residual: [Float]

    /// Empty: sized to the first tensor encoded with it.
    public init() { residual = [] }
    public init(count: Int) { residual = [Float](repeating: 0, count: count) }
}

public enum TensorCodec {
    public static let int8BlockSize = 64

    static func blockCount(_ count: Int) -> Int { (count + int8BlockSize - 1) / int8BlockSize }

    /// Pairs top-k keeps of `count` elements: ⌈fraction · count⌉, at least 1 when count > 0.
    public static func keptCount(for count: Int, fraction: Double) -> Int {
        precondition(fraction > 0 && fraction <= 1, "top-k fraction \(fraction) is outside (0, 1]")
        guard count > 0 else { return 0 }
        return min(count, max(1, Int((fraction * Double(count)).rounded(.up))))
    }

    /// Encodes `values` without error feedback.
    public static func encode(
        _ values: [Float], as encoding: TensorEncoding = .f32, topKFraction: Double = 0.01, compress: Bool = true
    ) -> EncodedTensor {
        var none: [Float]? = nil
        return encode(values, encoding, topKFraction, compress, &none)
    }

    /// Encodes `values + feedback.residual` and leaves in `feedback.residual` what the lossy stage lost.
    public static func encode(
        _ values: [Float], as encoding: TensorEncoding = .f32, topKFraction: Double = 0.01, compress: Bool = true,
        feedback: inout ErrorFeedback
    ) -> EncodedTensor {
        if feedback.residual.isEmpty { feedback.residual = [Float](repeating: 0, count: values.count) }
        precondition(feedback.residual.count == values.count, "error feedback sized for another tensor")
        var residual: [Float]? = feedback.residual
        feedback.residual = []
        let tensor = encode(values, encoding, topKFraction, compress, &residual)
        feedback.residual = residual!
        return tensor
    }

    private static func encode(
        _ values: [Float], _ encoding: TensorEncoding, _ fraction: Double, _ compress: Bool, _ residual: inout [Float]?
    ) -> EncodedTensor {
        precondition(values.count <= Int(UInt32.max), "tensor of \(values.count) elements is too large for the wire")
        var input = values
        if let previous = residual {
            for i in 0..<input.count { input[i] += previous[i] }
        }
        let n = input.count
        var kept = 0
        var body: [UInt8]
        var loss: [Float]? = residual == nil ? nil : [Float](repeating: 0, count: n)
        switch encoding {
        case .f32:
            body = [UInt8](unsafeUninitializedCapacity: 4 * n) { buffer, initialized in
                input.withUnsafeBytes { ByteShuffle.shuffle($0, width: 4, into: UnsafeMutableRawBufferPointer(buffer)) }
                initialized = 4 * n
            }
        case .bf16:
            body = encodeBF16(input, loss: &loss)
        case .int8Block:
            body = encodeInt8Block(input, loss: &loss)
        case .topK:
            kept = keptCount(for: n, fraction: fraction)
            body = encodeTopK(input, kept: kept, loss: &loss)
        }
        if residual != nil { residual = loss }
        let bodyBytes = body.count
        var compression = TensorCompression.raw
        if compress, let packed = LZ4Block.compress(body) {
            body = packed
            compression = .lz4
        }
        let tensor = try? EncodedTensor(
            encoding: encoding, compression: compression, count: UInt64(n), kept: UInt64(kept),
            blockSize: encoding == .int8Block ? UInt16(int8BlockSize) : 0, bytes: body,
            limits: FrameLimits(maxTensorElements: Int(UInt32.max)), context: "tensor")
        precondition(tensor?.bodyBytes == bodyBytes, "encoder produced an inconsistent tensor")
        return tensor!
    }

    // MARK: Lossy stages (each writes x − decoded(x) into `loss` when error feedback is on)

    /// bf16 bits of `value`, round to nearest even; NaN stays a (quiet) NaN.
    @inline(__always) static func bf16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    private static func encodeBF16(_ x: [Float], loss: inout [Float]?) -> [UInt8] {
        let n = x.count
        let body = [UInt8](unsafeUninitializedCapacity: 2 * n) { out, initialized in
            for i in 0..<n {
                let half = bf16Bits(x[i])
                out[i] = UInt8(truncatingIfNeeded: half)
                out[n + i] = UInt8(truncatingIfNeeded: half >> 8)
            }
            initialized = 2 * n
        }
        if loss != nil {
            for i in 0..<n { loss![i] = x[i] - Float(bitPattern: UInt32(bf16Bits(x[i])) << 16) }
        }
        return body
    }

    /// Per block of 64: scale = max|x| / 127, q = round(x / scale) ∈ [−127, 127]. A block holding a NaN or
    /// an infinity gets a NaN scale, so it decodes to NaN and the receiver's finiteness check sees it.
    private static func encodeInt8Block(_ x: [Float], loss: inout [Float]?) -> [UInt8] {
        let n = x.count
        let blocks = blockCount(n)
        var scales = [UInt32](repeating: 0, count: blocks)
        var body = [UInt8](repeating: 0, count: 4 * blocks + n)
        body.withUnsafeMutableBufferPointer { out in
            let quantized = out.baseAddress! + 4 * blocks
            for block in 0..<blocks {
                let lo = block * int8BlockSize
                let hi = min(lo + int8BlockSize, n)
                var maxAbs: Float = 0
                var finite = true
                for i in lo..<hi {
                    let magnitude = abs(x[i])
                    if !magnitude.isFinite { finite = false }
                    if magnitude > maxAbs { maxAbs = magnitude }
                }
                let scale: Float = finite ? maxAbs / 127 : .nan
                let inverse: Float = finite && maxAbs > 0 ? 127 / maxAbs : 0
                scales[block] = scale.bitPattern
                for i in lo..<hi {
                    var q = (x[i] * inverse).rounded(.toNearestOrEven)
                    if !(q >= -127) { q = -127 }  // also catches NaN (not reached: inverse is 0 then)
                    if q > 127 { q = 127 }
                    let level = Int8(q)
                    quantized[i] = UInt8(bitPattern: level)
                    if loss != nil { loss![i] = x[i] - Float(level) * scale }
                }
            }
        }
        body.withUnsafeMutableBytes { out in
            scales.withUnsafeBytes {
                ByteShuffle.shuffle($0, width: 4, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<4 * blocks]))
            }
        }
        return body
    }

    /// Keeps the `kept` largest |x| (a NaN counts as larger than any number; among equal magnitudes the lower
    /// index wins), as ascending indices and exact values.
    private static func encodeTopK(_ x: [Float], kept: Int, loss: inout [Float]?) -> [UInt8] {
        let n = x.count
        let keys = x.map { $0.bitPattern & 0x7FFF_FFFF }  // ordered like |x|, NaNs above +∞
        // Radix select, most significant byte first: the kept-th largest key is `threshold`; `ties` of the
        // elements equal to it are kept, in index order.
        var prefix: UInt32 = 0
        var mask: UInt32 = 0
        var needed = kept
        if kept > 0 {
            for shift in stride(from: 24, through: 0, by: -8) {
                var histogram = [Int](repeating: 0, count: 256)
                for key in keys where key & mask == prefix { histogram[Int((key >> UInt32(shift)) & 0xFF)] += 1 }
                var bucket = 255
                while histogram[bucket] < needed {
                    needed -= histogram[bucket]
                    bucket -= 1
                }
                prefix |= UInt32(bucket) << UInt32(shift)
                mask |= 0xFF << UInt32(shift)
            }
        }
        let threshold = prefix
        var ties = needed
        var deltas = [UInt32](repeating: 0, count: kept)
        var values = [Float](repeating: 0, count: kept)
        var taken = 0
        var previous = 0
        if kept > 0 {
            for i in 0..<n {
                let key = keys[i]
                let keep: Bool
                if key > threshold {
                    keep = true
                } else if key == threshold && ties > 0 {
                    ties -= 1
                    keep = true
                } else {
                    keep = false
                }
                if keep {
                    deltas[taken] = UInt32(taken == 0 ? i : i - previous)
                    values[taken] = x[i]
                    previous = i
                    taken += 1
                } else if loss != nil {
                    loss![i] = x[i]
                }
            }
        } else if loss != nil {
            loss = x
        }
        precondition(taken == kept, "top-k selected \(taken) of \(kept)")
        var body = [UInt8](repeating: 0, count: 8 * kept)
        body.withUnsafeMutableBytes { out in
            deltas.withUnsafeBytes {
                ByteShuffle.shuffle($0, width: 4, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<4 * kept]))
            }
            values.withUnsafeBytes {
                ByteShuffle.shuffle(
                    $0, width: 4, into: UnsafeMutableRawBufferPointer(rebasing: out[4 * kept..<8 * kept]))
            }
        }
        return body
    }

    // MARK: Decoding

    /// The dense tensor. Throws for a body that does not decompress to exactly its size or top-k indices that
    /// are not strictly ascending below `count`.
    public static func decode(_ tensor: EncodedTensor) throws(WireError) -> [Float] {
        let body: [UInt8]
        switch tensor.compression {
        case .raw:
            body = tensor.bytes
        case .lz4:
            guard let unpacked = LZ4Block.decompress(tensor.bytes, exactSize: tensor.bodyBytes) else {
                throw .malformedPayload(
                    "tensor: LZ4 body of \(tensor.bytes.count) bytes does not decode to exactly \(tensor.bodyBytes) bytes"
                )
            }
            body = unpacked
        }
        precondition(body.count == tensor.bodyBytes)
        let n = tensor.count
        switch tensor.encoding {
        case .f32:
            return [Float](unsafeUninitializedCapacity: n) { out, initialized in
                body.withUnsafeBytes { ByteShuffle.unshuffle($0, width: 4, into: UnsafeMutableRawBufferPointer(out)) }
                initialized = n
            }
        case .bf16:
            return body.withUnsafeBufferPointer { planes in
                [Float](unsafeUninitializedCapacity: n) { out, initialized in
                    for i in 0..<n {
                        out[i] = Float(bitPattern: UInt32(planes[i]) << 16 | UInt32(planes[n + i]) << 24)
                    }
                    initialized = n
                }
            }
        case .int8Block:
            let blocks = blockCount(n)
            var scales = [Float](repeating: 0, count: blocks)
            scales.withUnsafeMutableBytes { out in
                body.withUnsafeBytes {
                    ByteShuffle.unshuffle(UnsafeRawBufferPointer(rebasing: $0[0..<4 * blocks]), width: 4, into: out)
                }
            }
            return body.withUnsafeBufferPointer { planes in
                [Float](unsafeUninitializedCapacity: n) { out, initialized in
                    for i in 0..<n {
                        out[i] = Float(Int8(bitPattern: planes[4 * blocks + i])) * scales[i / int8BlockSize]
                    }
                    initialized = n
                }
            }
        case .topK:
            let kept = tensor.kept
            var deltas = [UInt32](repeating: 0, count: kept)
            var values = [Float](repeating: 0, count: kept)
            body.withUnsafeBytes { planes in
                deltas.withUnsafeMutableBytes {
                    ByteShuffle.unshuffle(UnsafeRawBufferPointer(rebasing: planes[0..<4 * kept]), width: 4, into: $0)
                }
                values.withUnsafeMutableBytes {
                    ByteShuffle.unshuffle(
                        UnsafeRawBufferPointer(rebasing: planes[4 * kept..<8 * kept]), width: 4, into: $0)
                }
            }
            var dense = [Float](repeating: 0, count: n)
            var index = -1
            for pair in 0..<kept {
                let delta = Int(deltas[pair])
                guard pair == 0 || delta >= 1 else {
                    throw .malformedPayload(
                        "tensor: top-k index delta \(pair) is 0 (indices must be strictly ascending)")
                }
                index = pair == 0 ? delta : index + delta  // < 2^33: cannot overflow
                guard index < n else {
                    throw .malformedPayload("tensor: top-k index \(index) (pair \(pair)) is outside 0..<\(n)")
                }
                dense[index] = values[pair]
            }
            return dense
        }
    }
}

/// One LZ4 block (no frame format: sizes travel in the tensor header).
enum LZ4Block {
    /// The compressed block, or nil when it would not be smaller than `source`.
    static func compress(_ source: [UInt8]) -> [UInt8]? {
        guard !source.isEmpty, source.count <= 0x7E00_0000 else { return nil }  // LZ4_MAX_INPUT_SIZE
        let bound = Int(LZ4_compressBound(Int32(source.count)))
        guard bound > 0 else { return nil }
        let packed = [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            let written = source.withUnsafeBytes { src in
                LZ4_compress_default(
                    src.baseAddress!.assumingMemoryBound(to: CChar.self),
                    UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self),
                    Int32(source.count), Int32(bound))
            }
            initialized = Int(max(0, written))
        }
        guard !packed.isEmpty, packed.count < source.count else { return nil }
        return packed
    }

    /// The decompressed block, or nil unless it is exactly `exactSize` bytes (LZ4_decompress_safe never
    /// writes past `exactSize` nor reads past the source).
    static func decompress(_ source: [UInt8], exactSize: Int) -> [UInt8]? {
        guard !source.isEmpty, exactSize > 0, source.count <= Int(Int32.max), exactSize <= Int(Int32.max) else {
            return nil
        }
        var ok = false
        let unpacked = [UInt8](unsafeUninitializedCapacity: exactSize) { out, initialized in
            let read = source.withUnsafeBytes { src in
                LZ4_decompress_safe(
                    src.baseAddress!.assumingMemoryBound(to: CChar.self),
                    UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self),
                    Int32(source.count), Int32(exactSize))
            }
            ok = Int(read) == exactSize
            initialized = ok ? exactSize : 0
        }
        return ok ? unpacked : nil
    }
}
