import Foundation
import Kernels

// Safetensors, byte by byte (https://github.com/huggingface/safetensors; the format has no version
// field, so there is no version constant to check):
//
//   offset 0      u64 little-endian  N = header length in bytes
//   offset 8      N bytes            header: one UTF-8 JSON object, possibly padded with trailing spaces
//                                      "__metadata__": { string: string }                    (optional)
//                                      "<tensor name>": { "dtype": "F32" | "F16" | "BF16" | …,
//                                                         "shape": [d0, d1, …]    (outermost first),
//                                                         "data_offsets": [begin, end] }
//   offset 8 + N  data section       each tensor row-major little-endian at [begin, end) relative to
//                                      the start of the data section; end − begin = product(shape) ×
//                                      dtype size ([] is a scalar: one element)
//
// This reader takes F32, F16 and BF16 tensors. A file holding any other dtype (I64, U8, F64, …) is
// refused as a whole, with a message naming the tensor and its dtype: a model or adapter file with
// integer tensors is not one this project can use, and saying so at open time beats a later
// "tensor not found". Gaps between tensors are allowed; overlapping tensors are refused.

/// A safetensors file mapped read-only (zero-copy). Every length and offset in the header is checked
/// against the file before any view is made; errors name the file, the tensor or field, and what was
/// expected versus found.
public final class SafetensorsFile: TensorStore, @unchecked Sendable {
    /// Largest header this reader accepts (the reference implementation uses the same 100 MB cap).
    public static let maxHeaderBytes = 100_000_000
    /// Dtypes of the safetensors format that this reader recognises but does not read.
    static let otherKnownDTypes: Set<String> = [
        "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F64", "C64",
        "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",
    ]

    public let path: String
    /// The `__metadata__` object of the header (empty when absent).
    public let metadata: [String: String]
    /// All tensors, sorted by offset in the file.
    public let tensorInfos: [TensorInfo]
    /// Absolute offset of the data section (8 + header length).
    public let dataSectionOffset: Int

    private let file: MappedFile
    private let indexByName: [String: Int]

    public init(path: String) throws(ModelFileError) {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func fail(_ kind: ModelFileError.Kind, _ message: String) -> ModelFileError {
            ModelFileError(kind, file: path, message)
        }

        // Stage 1: the header length, bounded before anything is read.
        guard bytes.count >= 8 else {
            throw fail(.truncated, "file is \(bytes.count) bytes, expected at least 8 (the header length field)")
        }
        let rawLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard rawLength <= UInt64(Self.maxHeaderBytes) else {
            throw fail(.corrupt, "header length \(rawLength) exceeds the limit of \(Self.maxHeaderBytes) bytes")
        }
        let headerLength = Int(rawLength)
        guard headerLength <= bytes.count - 8 else {
            throw fail(
                .truncated,
                "header length \(headerLength) runs past the end of the file "
                    + "(\(bytes.count - 8) bytes follow the length field)"
            )
        }
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart

        // Stage 2: the header JSON.
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])
        guard header.first == UInt8(ascii: "{") else {
            let found = header.first.map { "byte 0x" + String($0, radix: 16) } ?? "an empty header"
            throw fail(.corrupt, "header is not a JSON object: expected '{', found \(found)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header), options: [])
        } catch {
            throw fail(.corrupt, "header is not valid JSON (\(headerLength) bytes): \(error.localizedDescription)")
        }
        guard let root = json as? [String: Any] else {
            throw fail(.corrupt, "header is not a JSON object: found \(Swift.type(of: json))")
        }

        // Stage 3: metadata and tensor entries, in name order so the first error reported is stable.
        var metadata: [String: String] = [:]
        var infos: [TensorInfo] = []
        infos.reserveCapacity(root.count)
        for name in root.keys.sorted() {
            let value = root[name]!
            if name == "__metadata__" {
                guard let object = value as? [String: Any] else {
                    throw fail(
                        .badValue, "'__metadata__' is not a JSON object of strings: found \(Self.describe(value))")
                }
                for (key, item) in object {
                    guard let string = item as? String else {
                        throw fail(
                            .badValue, "'__metadata__' key '\(key)': expected a string, found \(Self.describe(item))")
                    }
                    metadata[key] = string
                }
                continue
            }
            infos.append(try Self.tensorInfo(name: name, entry: value, dataStart: dataStart, dataSize: dataSize, fail))
        }

        // Stage 4: no two tensors share bytes.
        infos.sort { ($0.offset, $0.name) < ($1.offset, $1.name) }
        var previous: TensorInfo? = nil
        for info in infos where info.byteCount > 0 {
            if let p = previous, p.offset + p.byteCount > info.offset {
                let (pBegin, begin) = (p.offset - dataStart, info.offset - dataStart)
                throw fail(
                    .corrupt,
                    "tensors '\(p.name)' (data_offsets [\(pBegin), \(pBegin + p.byteCount)]) and '\(info.name)' "
                        + "(data_offsets [\(begin), \(begin + info.byteCount)]) overlap"
                )
            }
            previous = info
        }

        self.path = path
        self.file = file
        self.metadata = metadata
        self.tensorInfos = infos
        self.dataSectionOffset = dataStart
        var index: [String: Int] = [:]
        for (i, info) in infos.enumerated() { index[info.name] = i }
        self.indexByName = index
    }

    public func tensorInfo(named name: String) -> TensorInfo? {
        indexByName[name].map { tensorInfos[$0] }
    }

    public func data(of tensor: TensorInfo) -> UnsafeRawBufferPointer {
        precondition(
            tensor.offset >= dataSectionOffset && tensor.byteCount >= 0
                && tensor.offset + tensor.byteCount <= file.bytes.count,
            "tensor '\(tensor.name)' does not belong to \(path)")
        return UnsafeRawBufferPointer(rebasing: file.bytes[tensor.offset..<(tensor.offset + tensor.byteCount)])
    }

    /// The safetensors dtype name of a type this format can hold, or nil.
    public static func dtypeName(of type: GGMLType) -> String? {
        switch type {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        default: return nil
        }
    }

    static func ggmlType(dtype name: String) -> GGMLType? {
        switch name {
        case "F32": return .f32
        case "F16": return .f16
        case "BF16": return .bf16
        default: return nil
        }
    }

    // MARK: - Header entries

    private static func tensorInfo(
        name: String, entry: Any, dataStart: Int, dataSize: Int, _ fail: (ModelFileError.Kind, String) -> ModelFileError
    ) throws(ModelFileError) -> TensorInfo {
        guard let fields = entry as? [String: Any] else {
            throw fail(.badValue, "tensor '\(name)': expected a JSON object, found \(describe(entry))")
        }
        guard let dtypeValue = fields["dtype"] else { throw fail(.missingKey, "tensor '\(name)': no 'dtype'") }
        guard let dtype = dtypeValue as? String else {
            throw fail(.badValue, "tensor '\(name)': 'dtype' should be a string, found \(describe(dtypeValue))")
        }
        guard let type = Self.ggmlType(dtype: dtype) else {
            if otherKnownDTypes.contains(dtype) {
                throw fail(
                    .unsupportedType,
                    "tensor '\(name)' has dtype \(dtype); this reader takes F32, F16 and BF16 tensors only")
            }
            throw fail(.unsupportedType, "tensor '\(name)' has unknown dtype '\(dtype)' (expected F32, F16 or BF16)")
        }

        guard let shapeValue = fields["shape"] else { throw fail(.missingKey, "tensor '\(name)': no 'shape'") }
        guard let shapeItems = shapeValue as? [Any] else {
            throw fail(
                .badValue, "tensor '\(name)': 'shape' should be an array of integers, found \(describe(shapeValue))")
        }
        var shape: [Int] = []
        shape.reserveCapacity(shapeItems.count)
        for (axis, item) in shapeItems.enumerated() {
            guard let dim = nonNegativeInt(item) else {
                throw fail(
                    .badValue,
                    "tensor '\(name)': shape[\(axis)] should be a non-negative integer, found \(describe(item))")
            }
            shape.append(dim)
        }

        guard let offsetsValue = fields["data_offsets"] else {
            throw fail(.missingKey, "tensor '\(name)': no 'data_offsets'")
        }
        guard let offsetItems = offsetsValue as? [Any], offsetItems.count == 2,
            let begin = nonNegativeInt(offsetItems[0]), let end = nonNegativeInt(offsetItems[1])
        else {
            throw fail(
                .badValue,
                "tensor '\(name)': 'data_offsets' should be [begin, end] with non-negative integers, "
                    + "found \(describe(offsetsValue))"
            )
        }
        guard begin <= end else {
            throw fail(.corrupt, "tensor '\(name)': data_offsets [\(begin), \(end)] end before they begin")
        }
        guard end <= dataSize else {
            throw fail(
                .truncated,
                "tensor '\(name)': data_offsets [\(begin), \(end)] run past the data section (\(dataSize) bytes)")
        }

        var elements = 1
        for dim in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw fail(.corrupt, "tensor '\(name)': shape \(shape) has more elements than fit in an Int")
            }
            elements = product
        }
        guard let expected = type.byteCount(elements: elements) else {
            throw fail(.corrupt, "tensor '\(name)': shape \(shape) of \(dtype) is too large to address")
        }
        guard end - begin == expected else {
            throw fail(
                .corrupt,
                "tensor '\(name)': shape \(shape) of \(dtype) needs \(expected) bytes, "
                    + "data_offsets [\(begin), \(end)] hold \(end - begin)"
            )
        }
        return TensorInfo(name: name, shape: shape, type: type, offset: dataStart + begin, byteCount: expected)
    }

    /// A JSON integer ≥ 0 that fits in an Int; booleans and fractional numbers are not integers.
    private static func nonNegativeInt(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, isIntegerNumber(number), let int = value as? Int, int >= 0 else {
            return nil
        }
        return int
    }

    private static func isIntegerNumber(_ number: NSNumber) -> Bool {
        switch String(cString: number.objCType) {
        case "c", "C", "B", "f", "d": return false  // Bool (c/B) or floating point
        default: return true
        }
    }

    private static func describe(_ value: Any) -> String {
        switch value {
        case let s as String: return "string \"\(s.prefix(64))\""
        case let n as NSNumber:
            let code = String(cString: n.objCType)
            return code == "c" || code == "B" ? "boolean \(n.boolValue)" : "number \(n)"
        case let a as [Any]:
            if a.count <= 8, a.allSatisfy({ $0 is NSNumber }) {
                return "[" + a.map { "\($0)" }.joined(separator: ", ") + "]"
            }
            return "an array of \(a.count) item(s)"
        case is [String: Any]: return "an object"
        case is NSNull: return "null"
        default: return "\(Swift.type(of: value))"
        }
    }
}
