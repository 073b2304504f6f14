import Kernels

/// One stored tensor, whatever the container. `shape` is outermost first (PyTorch order): a linear
/// weight is `[out, in]` and each of its `out` rows is `in` contiguous elements (whole quant
/// blocks). GGUF lists dimensions innermost first; its reader reverses them into this order.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the data in the mapped file.
    public let offset: Int
    public let byteCount: Int

    public init(name: String, shape: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }

    public var elementCount: Int { shape.reduce(1, *) }
    /// Elements in one innermost row (the quantization axis).
    public var rowLength: Int { shape.last ?? 1 }
    public var rowCount: Int { elementCount / max(rowLength, 1) }
}

/// A container of named tensors backed by a mapped file: GGUF or safetensors.
public protocol TensorStore: Sendable {
    var path: String { get }
    var tensorInfos: [TensorInfo] { get }
    func tensorInfo(named name: String) -> TensorInfo?
    /// The stored bytes of a tensor (valid while the store lives).
    func data(of tensor: TensorInfo) -> UnsafeRawBufferPointer
}

extension TensorStore {
    /// The tensor dequantized to row-major F32.
    public func floats(of tensor: TensorInfo) throws(ModelFileError) -> [Float] {
        guard tensor.type.isSupported else {
            throw ModelFileError(.unsupportedType, file: path,
                "tensor '\(tensor.name)' has type \(tensor.type), which this build cannot read")
        }
        let raw = data(of: tensor)
        let n = tensor.elementCount
        return [Float](unsafeUninitializedCapacity: n) { buf, count in
            Dequantize.rows(tensor.type, from: raw.baseAddress!, to: buf.baseAddress!, count: n)
            count = n
        }
    }

    /// The named tensor dequantized to F32, or a missing-key error naming the file.
    public func floats(named name: String) throws(ModelFileError) -> [Float] {
        guard let info = tensorInfo(named: name) else {
            throw ModelFileError(.missingKey, file: path, "tensor '\(name)' not found")
        }
        return try floats(of: info)
    }
}
