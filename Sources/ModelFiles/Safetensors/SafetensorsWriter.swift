import Kernels

/// Builds a safetensors file in memory and writes it atomically (see `AtomicFile`).
///
/// Output is deterministic and byte-identical to what the Python `safetensors` package writes for
/// the same tensors (and a single metadata key): tensors are laid out F32, BF16, F16, each group by
/// name (byte order), with no gaps — which keeps every tensor aligned to its element size in a
/// mapped file; the header lists `__metadata__` first (omitted when empty, its keys in byte order),
/// then the tensors in that same layout order, and is padded with spaces to a multiple of 8 bytes.
public struct SafetensorsWriter: Sendable {
    /// Free-form string metadata stored under `__metadata__`.
    public var metadata: [String: String] = [:]
    private var entries: [Entry] = []

    private struct Entry: Sendable {
        let name: String
        let shape: [Int]
        let type: GGMLType
        let bytes: [UInt8]
    }

    public init() {}

    /// Names of the tensors added so far, in the order they were added.
    public var tensorNames: [String] { entries.map(\.name) }

    /// Adds a tensor, converting `floats` (row-major, outermost dimension first) to `type`, which
    /// must be `.f32`, `.f16` (IEEE half, round to nearest even) or `.bf16` (round to nearest even).
    /// `shape` `[]` is a scalar. Misuse (wrong count, duplicate or reserved name) traps.
    public mutating func add(name: String, shape: [Int], floats: [Float], as type: GGMLType = .f32) {
        precondition(!name.isEmpty && name != "__metadata__", "safetensors: invalid tensor name '\(name)'")
        precondition(!entries.contains { $0.name == name }, "safetensors: tensor '\(name)' added twice")
        precondition(shape.allSatisfy { $0 >= 0 }, "safetensors: negative dimension in \(shape) for '\(name)'")
        let count = shape.reduce(1) { a, d in
            let (p, o) = a.multipliedReportingOverflow(by: d)
            precondition(!o, "safetensors: shape \(shape) overflows for '\(name)'")
            return p
        }
        precondition(
            count == floats.count,
            "safetensors: tensor '\(name)' shape \(shape) needs \(count) values, got \(floats.count)")
        entries.append(Entry(name: name, shape: shape, type: type, bytes: Self.encode(floats, as: type)))
    }

    /// The complete file contents.
    public func serialized() -> [UInt8] {
        // Data layout: F32, then BF16, then F16 (the reference implementation's dtype order, widest
        // first, so no gaps are needed for alignment), then by name.
        func rank(_ type: GGMLType) -> Int { type == .f32 ? 0 : type == .bf16 ? 1 : 2 }
        let layout = entries.sorted { a, b in
            rank(a.type) != rank(b.type)
                ? rank(a.type) < rank(b.type) : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }

        var fields: [String] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            fields.append(
                "\"__metadata__\":{"
                    + keys.map { Self.jsonString($0) + ":" + Self.jsonString(metadata[$0]!) }.joined(separator: ",")
                    + "}")
        }
        var dataSize = 0
        for entry in layout {
            let begin = dataSize
            dataSize += entry.bytes.count
            fields.append(
                Self.jsonString(entry.name) + ":{\"dtype\":\"" + SafetensorsFile.dtypeName(of: entry.type)!
                    + "\",\"shape\":[" + entry.shape.map(String.init).joined(separator: ",")
                    + "],\"data_offsets\":[\(begin),\(dataSize)]}")
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + dataSize)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for entry in layout { out.append(contentsOf: entry.bytes) }
        return out
    }

    /// Writes the file atomically: temporary file in the same folder, fsync, rename, fsync folder.
    public func write(to path: String) throws(ModelFileError) {
        try AtomicFile.write(serialized(), to: path)
    }

    // MARK: - Encoding

    static func encode(_ floats: [Float], as type: GGMLType) -> [UInt8] {
        switch type {
        case .f32:
            return [UInt8](unsafeUninitializedCapacity: floats.count * 4) { buffer, count in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                for (i, f) in floats.enumerated() {
                    raw.storeBytes(of: f.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
                count = floats.count * 4
            }
        case .f16, .bf16:
            return [UInt8](unsafeUninitializedCapacity: floats.count * 2) { buffer, count in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                for (i, f) in floats.enumerated() {
                    let bits = type == .f16 ? Float16(f).bitPattern : bfloat16Bits(f)
                    raw.storeBytes(of: bits.littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                }
                count = floats.count * 2
            }
        default:
            preconditionFailure("safetensors: cannot store type \(type) (F32, F16 and BF16 only)")
        }
    }

    /// The bfloat16 nearest to `value` (ties to even); NaN stays NaN (quiet), ±inf stays ±inf.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; other text as UTF-8.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
