// Little-endian writer and bounded reader for payloads. The reader knows how many bytes remain and checks
// every length against that (and against the limits) before it allocates anything; each read names the
// field it is for, so an error says `LEASE.microBatches: count 1000000 needs 4000000 bytes, 12 remain`.

/// Appends little-endian fields to a growing byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { integer(value) }
    mutating func u32(_ value: UInt32) { integer(value) }
    mutating func u64(_ value: UInt64) { integer(value) }
    mutating func f64(_ value: Double) { integer(value.bitPattern) }

    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }

    /// u32 byte length + UTF-8 bytes.
    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        precondition(utf8.count <= Int(UInt32.max), "string of \(utf8.count) bytes does not fit a u32 length")
        u32(UInt32(utf8.count))
        raw(utf8)
    }
}

/// Reads fields from one payload, never past its end.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    /// The message being read, for error texts ("HELLO").
    let context: String

    init(_ bytes: [UInt8], context: String) {
        self.bytes = bytes
        self.offset = 0
        self.context = context
    }

    var remaining: Int { bytes.count - offset }

    func malformed(_ field: String, _ detail: String) -> WireError {
        .malformedPayload("\(context).\(field): \(detail)")
    }

    /// Checks that `count` more bytes are there.
    func require(_ count: Int, _ field: String) throws(WireError) {
        guard count <= remaining else {
            throw malformed(field, "needs \(count) bytes, \(remaining) remain")
        }
    }

    mutating func u8(_ field: String) throws(WireError) -> UInt8 {
        try require(1, field)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ field: String) throws(WireError) -> UInt16 { try integer(field) }
    mutating func u32(_ field: String) throws(WireError) -> UInt32 { try integer(field) }
    mutating func u64(_ field: String) throws(WireError) -> UInt64 { try integer(field) }
    mutating func f64(_ field: String) throws(WireError) -> Double { Double(bitPattern: try integer(field)) }

    mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_ field: String) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        try require(size, field)
        var value: T = 0
        for index in 0..<size { value |= T(bytes[offset + index]) << (8 * index) }
        offset += size
        return value
    }

    /// Exactly `count` bytes.
    mutating func raw(_ count: Int, _ field: String) throws(WireError) -> [UInt8] {
        precondition(count >= 0)
        try require(count, field)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A u32 length (checked against `limit`, then against what remains) and that many bytes of valid UTF-8.
    mutating func string(_ field: String, limit: Int) throws(WireError) -> String {
        let length = Int(try u32(field + ".length"))
        guard length <= limit else {
            throw malformed(field, "length \(length) is over the limit of \(limit) bytes")
        }
        guard length <= remaining else {
            throw malformed(field, "length \(length) runs past the end of the payload (\(remaining) bytes remain)")
        }
        let utf8 = bytes[offset..<offset + length]
        guard ByteReader.isValidUTF8(utf8) else { throw malformed(field, "is not valid UTF-8") }
        offset += length
        return String(decoding: utf8, as: UTF8.self)
    }

    /// A u32 element count for elements of `width` bytes: under `limit`, and all of them present.
    mutating func count(_ field: String, width: Int, limit: Int) throws(WireError) -> Int {
        let count = Int(try u32(field + ".count"))
        guard count <= limit else {
            throw malformed(field, "count \(count) is over the limit of \(limit)")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, bytes <= remaining else {
            throw malformed(field, "count \(count) needs \(count) × \(width) bytes, \(remaining) remain")
        }
        return count
    }

    /// Every byte has been read.
    func expectEnd() throws(WireError) {
        guard remaining == 0 else {
            throw .malformedPayload("\(context): \(remaining) unexpected bytes after the last field")
        }
    }

    static func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
