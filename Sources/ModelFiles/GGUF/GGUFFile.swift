import Kernels

/// A GGUF model file (versions 2 and 3, little-endian), mapped read-only; tensor data is zero-copy.
///
/// Layout (all integers little-endian; `str` = u64 byte length + UTF-8 bytes, no terminator):
/// ```
///   magic        4 bytes  "GGUF"
///   version      u32      2 or 3 (v1 used u32 counts and is refused)
///   tensor_count u64
///   kv_count     u64
///   kv × kv_count:        key:str | value_type:u32 | value
///       value: fixed-size scalar | str | array = elem_type:u32 | count:u64 | count × elem value
///   tensor info × tensor_count:
///       name:str | n_dims:u32 (≤ 4) | ne:u64 × n_dims (innermost first) | type:u32 | offset:u64
///   padding to `general.alignment` (default 32)
///   tensor data: each tensor at data_start + offset (offset a multiple of the alignment)
/// ```
public final class GGUFFile: TensorStore, @unchecked Sendable {
    /// The versions this reader accepts.
    public static let supportedVersions: ClosedRange<UInt32> = 2...3
    public static let defaultAlignment = 32
    public static let maxDims = 4

    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensors in file order; shapes outermost first.
    public let tensorInfos: [TensorInfo]
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int

    private let mapped: MappedFile
    private let index: [String: Int]

    public init(path: String) throws(ModelFileError) {
        let mapped = try MappedFile(path: path)
        self.mapped = mapped
        self.path = path
        let file = path
        var c = ByteCursor(mapped.bytes, file: file)

        // Stage 1: header.
        let magicBytes = try c.slice(4, "magic")
        guard magicBytes.elementsEqual("GGUF".utf8) else {
            let shown = String(
                decoding: magicBytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw ModelFileError(.badMagic, file: file, "invalid magic '\(shown)', expected 'GGUF'")
        }
        let version = try c.u32("version")
        guard Self.supportedVersions.contains(version) else {
            var hint = ""
            if version == 1 {
                hint = " (GGUF v1 used 32-bit counts; convert the file with a current llama.cpp)"
            } else if version.byteSwapped <= 3 {
                hint = " (this looks like a big-endian GGUF file, which is not supported)"
            }
            throw ModelFileError(
                .unsupportedVersion, file: file,
                "GGUF version \(version) is not supported, expected 2 or 3\(hint)")
        }
        self.version = version
        // A tensor info takes at least 8+4+8+4+8 bytes; a key/value at least 8+4+1.
        let tensorCount = try c.count("tensor_count", atMost: c.remaining / 32)
        let kvCount = try c.count("kv_count", atMost: c.remaining / 13)

        // Stage 2: metadata.
        var metadata = [String: GGUFValue](minimumCapacity: kvCount)
        var keys = [String]()
        keys.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let key = try c.string("key of metadata entry \(i)")
            let rawType = try c.u32("type of metadata '\(key)'")
            let value = try Self.readValue(&c, rawType: rawType, field: "metadata '\(key)'", depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw ModelFileError(.corrupt, file: file, "duplicate metadata key '\(key)'")
            }
            keys.append(key)
        }
        self.metadata = metadata
        self.metadataKeys = keys

        var alignment = Self.defaultAlignment
        if let a = metadata["general.alignment"] {
            guard let n = a.intValue, n > 0, n & (n - 1) == 0 else {
                throw ModelFileError(
                    .badValue, file: file,
                    "general.alignment must be a positive power of two, found \(a)")
            }
            alignment = n
        }
        self.alignment = alignment

        // Stage 3: tensor infos (offsets still relative to the data section).
        struct Pending {
            let name: String
            let shape: [Int]
            let type: GGMLType
            let offset: UInt64
            let bytes: Int
        }
        var pending = [Pending]()
        pending.reserveCapacity(tensorCount)
        var index = [String: Int](minimumCapacity: tensorCount)
        for i in 0..<tensorCount {
            let name = try c.string("name of tensor \(i)")
            let nDims = try c.u32("n_dims of tensor '\(name)'")
            guard nDims >= 1, nDims <= Self.maxDims else {
                throw ModelFileError(
                    .corrupt, file: file,
                    "tensor '\(name)' has \(nDims) dimensions, expected 1 to \(Self.maxDims)")
            }
            var ne = [Int]()
            var elements = 1
            for d in 0..<Int(nDims) {
                let v = try c.u64("dimension \(d) of tensor '\(name)'")
                guard v > 0, v <= UInt64(Int.max) else {
                    throw ModelFileError(
                        .corrupt, file: file,
                        "tensor '\(name)' dimension \(d) is \(v), expected a positive size")
                }
                let (p, overflow) = elements.multipliedReportingOverflow(by: Int(v))
                guard !overflow else {
                    throw ModelFileError(.corrupt, file: file, "tensor '\(name)' has too many elements (overflow)")
                }
                elements = p
                ne.append(Int(v))
            }
            let rawType = try c.u32("type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw ModelFileError(
                    .unsupportedType, file: file,
                    "tensor '\(name)' has unknown type number \(rawType)")
            }
            let offset = try c.u64("offset of tensor '\(name)'")
            guard ne[0] % type.blockSize == 0 else {
                throw ModelFileError(
                    .corrupt, file: file,
                    "tensor '\(name)' rows have \(ne[0]) elements, "
                        + "not a multiple of the \(type) block size \(type.blockSize)")
            }
            guard let bytes = type.byteCount(elements: elements) else {
                throw ModelFileError(.corrupt, file: file, "tensor '\(name)' size overflows")
            }
            guard index.updateValue(i, forKey: name) == nil else {
                throw ModelFileError(.corrupt, file: file, "duplicate tensor name '\(name)'")
            }
            pending.append(Pending(name: name, shape: ne.reversed(), type: type, offset: offset, bytes: bytes))
        }

        // Stage 4: the data section and each tensor's place in it.
        let headerEnd = c.offset
        let dataOffset = headerEnd + (alignment - headerEnd % alignment) % alignment
        self.dataOffset = dataOffset
        let fileSize = mapped.bytes.count
        var infos = [TensorInfo]()
        infos.reserveCapacity(pending.count)
        for t in pending {
            guard t.offset % UInt64(alignment) == 0 else {
                throw ModelFileError(
                    .corrupt, file: file,
                    "tensor '\(t.name)' data offset \(t.offset) is not a multiple of the alignment \(alignment)")
            }
            let available = UInt64(max(fileSize - dataOffset, 0))
            guard t.offset <= available, UInt64(t.bytes) <= available - t.offset else {
                throw ModelFileError(
                    .truncated, file: file,
                    "tensor '\(t.name)' data [\(t.offset), +\(t.bytes)) lies past the end of the file: "
                        + "the data section holds \(available) bytes")
            }
            infos.append(
                TensorInfo(
                    name: t.name, shape: t.shape, type: t.type,
                    offset: dataOffset + Int(t.offset), byteCount: t.bytes))
        }
        self.tensorInfos = infos
        self.index = index
    }

    /// Reads one value of `rawType`; arrays may nest (up to a small depth).
    static func readValue(_ c: inout ByteCursor, rawType: UInt32, field: String, depth: Int) throws(ModelFileError)
        -> GGUFValue
    {
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw ModelFileError(.corrupt, file: c.file, "\(field) has unknown value type \(rawType), expected 0 to 12")
        }
        switch type {
        case .uint8: return .uint8(try c.u8(field))
        case .int8: return .int8(try c.i8(field))
        case .uint16: return .uint16(try c.u16(field))
        case .int16: return .int16(try c.i16(field))
        case .uint32: return .uint32(try c.u32(field))
        case .int32: return .int32(try c.i32(field))
        case .float32: return .float32(try c.f32(field))
        case .uint64: return .uint64(try c.u64(field))
        case .int64: return .int64(try c.i64(field))
        case .float64: return .float64(try c.f64(field))
        case .bool: return .bool(try readBool(&c, field))
        case .string: return .string(try c.string(field))
        case .array: return .array(try readArray(&c, field: field, depth: depth))
        }
    }

    static let maxArrayDepth = 4

    static func readBool(_ c: inout ByteCursor, _ field: @autoclosure () -> String) throws(ModelFileError) -> Bool {
        let at = c.offset
        let b = try c.u8(field())
        guard b <= 1 else {
            throw ModelFileError(
                .corrupt, file: c.file, "\(field()) at offset \(at) is a bool of value \(b), expected 0 or 1")
        }
        return b == 1
    }

    static func readArray(_ c: inout ByteCursor, field: String, depth: Int) throws(ModelFileError) -> GGUFArray {
        guard depth < maxArrayDepth else {
            throw ModelFileError(.corrupt, file: c.file, "\(field): arrays nested deeper than \(maxArrayDepth)")
        }
        let rawType = try c.u32("element type of \(field)")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw ModelFileError(
                .corrupt, file: c.file, "\(field) has unknown array element type \(rawType), expected 0 to 12")
        }
        let n = try c.count("element count of \(field)", atMost: c.remaining / type.minimumSize)

        func fixed<T: FixedWidthInteger>(_: T.Type) throws(ModelFileError) -> [T] {
            let raw = try c.slice(n * MemoryLayout<T>.size, field)
            return [T](unsafeUninitializedCapacity: n) { buf, count in
                UnsafeMutableRawBufferPointer(buf).copyMemory(from: raw)
                #if _endian(big)
                    for i in 0..<n { buf[i] = T(littleEndian: buf[i]) }
                #endif
                count = n
            }
        }
        switch type {
        case .uint8: return .uint8(try fixed(UInt8.self))
        case .int8: return .int8(try fixed(Int8.self))
        case .uint16: return .uint16(try fixed(UInt16.self))
        case .int16: return .int16(try fixed(Int16.self))
        case .uint32: return .uint32(try fixed(UInt32.self))
        case .int32: return .int32(try fixed(Int32.self))
        case .uint64: return .uint64(try fixed(UInt64.self))
        case .int64: return .int64(try fixed(Int64.self))
        case .float32: return .float32(try fixed(UInt32.self).map { Float(bitPattern: $0) })
        case .float64: return .float64(try fixed(UInt64.self).map { Double(bitPattern: $0) })
        case .bool:
            var out = [Bool]()
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try readBool(&c, "element \(i) of \(field)")) }
            return .bool(out)
        case .string:
            var out = [String]()
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try c.string("element \(i) of \(field)")) }
            return .string(out)
        case .array:
            var out = [GGUFArray]()
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try readArray(&c, field: "element \(i) of \(field)", depth: depth + 1)) }
            return .array(out)
        }
    }

    // MARK: TensorStore

    public func tensorInfo(named name: String) -> TensorInfo? {
        index[name].map { tensorInfos[$0] }
    }

    public func data(of tensor: TensorInfo) -> UnsafeRawBufferPointer {
        precondition(
            tensor.offset >= 0 && tensor.byteCount >= 0 && tensor.offset + tensor.byteCount <= mapped.bytes.count,
            "tensor '\(tensor.name)' does not belong to \(path)")
        return UnsafeRawBufferPointer(rebasing: mapped.bytes[tensor.offset..<(tensor.offset + tensor.byteCount)])
    }

    // MARK: Metadata conveniences

    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func float(_ key: String) -> Double? { metadata[key]?.floatValue }
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    /// The value of `key`, or a `.missingKey` error naming the file and key.
    public func require(_ key: String) throws(ModelFileError) -> GGUFValue {
        guard let v = metadata[key] else {
            throw ModelFileError(.missingKey, file: path, "metadata key '\(key)' not found")
        }
        return v
    }

    public func requireInt(_ key: String) throws(ModelFileError) -> Int {
        let v = try require(key)
        guard let i = v.intValue else { throw Self.badType(path, key, v, "an integer") }
        return i
    }

    public func requireFloat(_ key: String) throws(ModelFileError) -> Double {
        let v = try require(key)
        guard let f = v.floatValue else { throw Self.badType(path, key, v, "a number") }
        return f
    }

    public func requireString(_ key: String) throws(ModelFileError) -> String {
        let v = try require(key)
        guard let s = v.stringValue else { throw Self.badType(path, key, v, "a string") }
        return s
    }

    static func badType(_ path: String, _ key: String, _ v: GGUFValue, _ expected: String) -> ModelFileError {
        ModelFileError(.badValue, file: path, "metadata '\(key)' has type \(v.type), expected \(expected)")
    }
}
