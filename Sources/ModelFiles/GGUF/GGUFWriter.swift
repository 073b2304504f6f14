import Kernels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Builds a GGUF v3 file in memory (layout: see GGUFFile.swift) — metadata in insertion order,
/// then tensor infos, then each tensor's bytes padded to the alignment. Made for tests and small
/// exports; input comes from our own code, so misuse traps rather than throws.
///
/// ```
/// var w = GGUFWriter()
/// w.set("general.architecture", .string("llama"))
/// w.set("llama.block_count", .uint32(2))
/// w.addTensor(name: "token_embd.weight", shape: [vocab, dim], floats: values, as: .q8_0)
/// try w.write(to: path)
/// ```
public struct GGUFWriter: Sendable {
    public static let version: UInt32 = 3

    public struct Tensor: Sendable {
        public let name: String
        /// Outermost first, as `TensorInfo.shape`.
        public let shape: [Int]
        public let type: GGMLType
        public let bytes: [UInt8]
    }

    public private(set) var keys: [String] = []
    public private(set) var metadata: [String: GGUFValue] = [:]
    public private(set) var tensors: [Tensor] = []

    /// `alignment` other than the default 32 is recorded as `general.alignment`.
    public init(alignment: Int = GGUFFile.defaultAlignment) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        if alignment != GGUFFile.defaultAlignment { set("general.alignment", .uint32(UInt32(alignment))) }
    }

    /// The data alignment: `general.alignment` if set, else 32.
    public var alignment: Int { metadata["general.alignment"]?.intValue ?? GGUFFile.defaultAlignment }

    /// Sets a metadata value; a key set twice keeps its first position and its last value.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if metadata.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Adds a tensor from its stored bytes, which must be exactly the size `shape` and `type` need.
    public mutating func addTensor(name: String, shape: [Int], type: GGMLType, bytes: [UInt8]) {
        precondition(
            !shape.isEmpty && shape.count <= GGUFFile.maxDims && shape.allSatisfy { $0 > 0 },
            "tensor '\(name)': bad shape \(shape)")
        precondition(
            shape.last! % type.blockSize == 0, "tensor '\(name)': row length not a multiple of the \(type) block")
        precondition(
            type.byteCount(elements: shape.reduce(1, *)) == bytes.count,
            "tensor '\(name)': \(bytes.count) bytes do not fit \(shape) × \(type)")
        precondition(!tensors.contains { $0.name == name }, "tensor '\(name)' added twice")
        tensors.append(Tensor(name: name, shape: shape, type: type, bytes: bytes))
    }

    /// Adds a tensor from row-major floats, encoded as `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_1).
    public mutating func addTensor(name: String, shape: [Int], floats: [Float], as type: GGMLType = .f32) {
        precondition(shape.reduce(1, *) == floats.count, "tensor '\(name)': \(floats.count) values do not fit \(shape)")
        addTensor(name: name, shape: shape, type: type, bytes: Quantize.bytes(floats, as: type))
    }

    /// The whole file.
    public func bytes() -> [UInt8] {
        var out = [UInt8]()
        let align = alignment
        func pad() { while out.count % align != 0 { out.append(0) } }
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func str(_ s: String) {
            u64(UInt64(s.utf8.count))
            out.append(contentsOf: s.utf8)
        }

        out.append(contentsOf: "GGUF".utf8)
        u32(Self.version)
        u64(UInt64(tensors.count))
        u64(UInt64(keys.count))
        for key in keys {
            let value = metadata[key]!
            str(key)
            u32(value.type.rawValue)
            Self.append(value, to: &out)
        }
        var offset = 0
        for t in tensors {
            str(t.name)
            u32(UInt32(t.shape.count))
            for d in t.shape.reversed() { u64(UInt64(d)) }  // GGUF: innermost first
            u32(t.type.rawValue)
            u64(UInt64(offset))
            offset += (t.bytes.count + align - 1) / align * align
        }
        pad()
        for t in tensors {
            out.append(contentsOf: t.bytes)
            pad()
        }
        return out
    }

    /// Writes the file (replacing any file at `path`).
    public func write(to path: String) throws(ModelFileError) {
        let data = bytes()
        guard let f = fopen(path, "wb") else {
            throw ModelFileError(.io, file: path, "cannot create: \(String(cString: strerror(errno)))")
        }
        let written = data.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        guard written == data.count, closed == 0 else {
            throw ModelFileError(.io, file: path, "write failed: \(String(cString: strerror(errno)))")
        }
    }

    static func append(_ value: GGUFValue, to out: inout [UInt8]) {
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        switch value {
        case .uint8(let v): le(v)
        case .int8(let v): le(v)
        case .uint16(let v): le(v)
        case .int16(let v): le(v)
        case .uint32(let v): le(v)
        case .int32(let v): le(v)
        case .uint64(let v): le(v)
        case .int64(let v): le(v)
        case .float32(let v): le(v.bitPattern)
        case .float64(let v): le(v.bitPattern)
        case .bool(let v): le(UInt8(v ? 1 : 0))
        case .string(let s):
            le(UInt64(s.utf8.count))
            out.append(contentsOf: s.utf8)
        case .array(let a): append(a, to: &out)
        }
    }

    static func append(_ array: GGUFArray, to out: inout [UInt8]) {
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        le(array.elementType.rawValue)
        le(UInt64(array.count))
        switch array {
        case .uint8(let a): a.forEach { le($0) }
        case .int8(let a): a.forEach { le($0) }
        case .uint16(let a): a.forEach { le($0) }
        case .int16(let a): a.forEach { le($0) }
        case .uint32(let a): a.forEach { le($0) }
        case .int32(let a): a.forEach { le($0) }
        case .uint64(let a): a.forEach { le($0) }
        case .int64(let a): a.forEach { le($0) }
        case .float32(let a): a.forEach { le($0.bitPattern) }
        case .float64(let a): a.forEach { le($0.bitPattern) }
        case .bool(let a): a.forEach { le(UInt8($0 ? 1 : 0)) }
        case .string(let a):
            a.forEach {
                le(UInt64($0.utf8.count))
                out.append(contentsOf: $0.utf8)
            }
        case .array(let a): a.forEach { append($0, to: &out) }
        }
    }
}
