import Kernels
import ModelFiles

/// A frozen weight matrix `(rows, cols)` left in its stored type inside a mapped model file.
/// Dequantized on demand, a row at a time or whole, into caller-owned F32 buffers.
public struct FrozenMatrix: Sendable {
    public let store: any TensorStore
    public let info: TensorInfo
    public let rows: Int
    public let cols: Int
    /// Bytes of one stored row (whole quant blocks).
    let rowBytes: Int

    init(store: any TensorStore, info: TensorInfo, rows: Int, cols: Int) throws(ModelFileError) {
        guard info.type.isSupported else {
            throw ModelFileError(.unsupportedType, file: store.path,
                "tensor '\(info.name)' has type \(info.type), which this build cannot dequantize")
        }
        guard info.elementCount == rows * cols, info.rowLength == cols || info.shape.count == 1 else {
            throw ModelFileError(.badValue, file: store.path,
                "tensor '\(info.name)' has shape \(info.shape), expected [\(rows), \(cols)]")
        }
        guard let rb = info.type.byteCount(elements: cols) else {
            throw ModelFileError(.badValue, file: store.path,
                "tensor '\(info.name)': row length \(cols) is not a whole number of \(info.type) blocks")
        }
        self.store = store
        self.info = info
        self.rows = rows
        self.cols = cols
        self.rowBytes = rb
    }

    /// Stored bytes (for the memory report).
    public var storedBytes: Int { info.byteCount }

    /// Writes all rows as F32 into `dst` (rows × cols).
    public func dequantize(into dst: UnsafeMutablePointer<Float>) {
        let raw = store.data(of: info)
        Dequantize.rows(info.type, from: raw.baseAddress!, to: dst, count: rows * cols)
    }

    /// Writes row `r` as F32 into `dst` (cols).
    public func dequantizeRow(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows, "row \(r) out of range 0..<\(rows)")
        let raw = store.data(of: info)
        Dequantize.rows(info.type, from: raw.baseAddress! + r * rowBytes, to: dst, count: cols)
    }

    /// All rows as a new F32 array.
    public func dense() -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * cols) { buf, n in
            dequantize(into: buf.baseAddress!)
            n = rows * cols
        }
    }
}
