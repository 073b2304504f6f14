/// A bounded little-endian reader over untrusted bytes. Every read first checks the bytes that
/// remain and throws `.truncated` naming the file, the field and the offset; length-prefixed
/// reads check the length against what remains before allocating anything. The bytes must
/// outlive the cursor (it holds no reference to their owner).
public struct ByteCursor {
    public let bytes: UnsafeRawBufferPointer
    /// The file named in errors.
    public let file: String
    /// Offset of the next byte to read, from the start of `bytes`.
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, file: String, offset: Int = 0) {
        precondition(offset >= 0 && offset <= bytes.count, "cursor offset outside its buffer")
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    /// Throws `.truncated` unless `count` more bytes remain.
    public func need(_ count: Int, _ field: @autoclosure () -> String) throws(ModelFileError) {
        guard count >= 0, count <= remaining else {
            throw ModelFileError(
                .truncated, file: file,
                "truncated at offset \(offset) reading \(field()): need \(count) bytes, \(remaining) remain")
        }
    }

    public mutating func skip(_ count: Int, _ field: @autoclosure () -> String) throws(ModelFileError) {
        try need(count, field())
        offset += count
    }

    /// Moves to an absolute offset within the buffer (for alignment padding).
    public mutating func seek(to newOffset: Int, _ field: @autoclosure () -> String) throws(ModelFileError) {
        guard newOffset >= 0, newOffset <= bytes.count else {
            throw ModelFileError(
                .truncated, file: file,
                "truncated: \(field()) at offset \(newOffset) lies past the end (\(bytes.count) bytes)")
        }
        offset = newOffset
    }

    @inline(__always)
    mutating func load<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(ModelFileError) -> T
    {
        let size = MemoryLayout<T>.size
        try need(size, field())
        let v = bytes.baseAddress!.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: v)
    }

    public mutating func u8(_ field: @autoclosure () -> String) throws(ModelFileError) -> UInt8 {
        try load(UInt8.self, field())
    }
    public mutating func i8(_ field: @autoclosure () -> String) throws(ModelFileError) -> Int8 {
        try load(Int8.self, field())
    }
    public mutating func u16(_ field: @autoclosure () -> String) throws(ModelFileError) -> UInt16 {
        try load(UInt16.self, field())
    }
    public mutating func i16(_ field: @autoclosure () -> String) throws(ModelFileError) -> Int16 {
        try load(Int16.self, field())
    }
    public mutating func u32(_ field: @autoclosure () -> String) throws(ModelFileError) -> UInt32 {
        try load(UInt32.self, field())
    }
    public mutating func i32(_ field: @autoclosure () -> String) throws(ModelFileError) -> Int32 {
        try load(Int32.self, field())
    }
    public mutating func u64(_ field: @autoclosure () -> String) throws(ModelFileError) -> UInt64 {
        try load(UInt64.self, field())
    }
    public mutating func i64(_ field: @autoclosure () -> String) throws(ModelFileError) -> Int64 {
        try load(Int64.self, field())
    }
    public mutating func f32(_ field: @autoclosure () -> String) throws(ModelFileError) -> Float {
        Float(bitPattern: try load(UInt32.self, field()))
    }
    public mutating func f64(_ field: @autoclosure () -> String) throws(ModelFileError) -> Double {
        Double(bitPattern: try load(UInt64.self, field()))
    }

    /// A u64 length or count, checked to be at most `limit` (typically what remains divided by the
    /// smallest encoding of one element) so that nothing is allocated for a lying length.
    public mutating func count(_ field: @autoclosure () -> String, atMost limit: Int) throws(ModelFileError) -> Int {
        let at = offset
        let n = try u64(field())
        guard n <= UInt64(max(limit, 0)) else {
            throw ModelFileError(
                .truncated, file: file,
                "\(field()) at offset \(at) is \(n), but only \(remaining) bytes remain (at most \(limit) fit)")
        }
        return Int(n)
    }

    /// `count` raw bytes as a view into the buffer (no copy).
    public mutating func slice(_ count: Int, _ field: @autoclosure () -> String) throws(ModelFileError)
        -> UnsafeRawBufferPointer
    {
        try need(count, field())
        let s = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return s
    }

    /// A GGUF string: u64 byte length, then UTF-8 bytes (no terminator). Invalid UTF-8 is repaired.
    public mutating func string(_ field: @autoclosure () -> String) throws(ModelFileError) -> String {
        let at = offset
        let n = try u64(field())
        guard n <= UInt64(remaining) else {
            throw ModelFileError(
                .truncated, file: file,
                "\(field()) at offset \(at) has length \(n), but only \(remaining) bytes remain")
        }
        let s = try slice(Int(n), field())
        return String(decoding: s, as: UTF8.self)
    }
}
