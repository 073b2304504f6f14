import Foundation
import ModelFiles

// Checksummed safetensors: the files this project writes for itself (the adapter file, the trainer
// state, later the coordinator's snapshots) are plain safetensors files whose `__metadata__` carries
// one more key, `checksum_sha256`:
//
//   checksum_sha256 = SHA-256 over the UTF-8 text of these lines joined by "\n" (Fingerprint.sha256(strings:)):
//     for each tensor, by name (byte order):   "tensor <len>:<name> <dtype> [d0,d1,…] <hex SHA-256 of its bytes>"
//     for each other metadata key, by key:     "meta <len>:<key> <len>:<value>"     (len = UTF-8 bytes)
//
// It binds every tensor's bytes to its name, dtype and shape, and covers every other metadata value,
// so a flipped bit anywhere that still parses is caught (one that does not parse is caught by the
// safetensors reader, as is a truncated file), and so are two tensors whose names were swapped.

/// A named F32 tensor on its way into a checkpoint file.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    /// Outermost first; the product is `values.count`.
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// Writing and verifying the `checksum_sha256` metadata key (layout above).
public enum TensorChecksum {
    /// The metadata key that holds the checksum.
    public static let key = "checksum_sha256"

    /// Writes `tensors` (F32) and `metadata` as one safetensors file with its checksum, atomically
    /// (temporary file, fsync, rename, folder fsync). `metadata` must not hold `checksum_sha256`.
    public static func write(_ tensors: [NamedTensor], metadata: [String: String], to path: String)
        throws(ModelFileError)
    {
        precondition(metadata[key] == nil, "'\(key)' is computed by TensorChecksum.write, not passed in")
        var writer = SafetensorsWriter()
        var descriptors: [Descriptor] = []
        for t in tensors {
            writer.add(name: t.name, shape: t.shape, floats: t.values, as: .f32)
            // F32 little-endian, exactly the bytes the writer stores.
            let bytes = [UInt8](unsafeUninitializedCapacity: 4 * t.values.count) { buffer, count in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                for (i, f) in t.values.enumerated() {
                    raw.storeBytes(of: f.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
                count = 4 * t.values.count
            }
            descriptors.append(
                Descriptor(
                    name: t.name, dtype: "F32", shape: t.shape, sha256: bytes.withUnsafeBytes { Fingerprint.sha256($0) }
                ))
        }
        writer.metadata = metadata
        writer.metadata[key] = digest(descriptors, metadata: metadata)
        try writer.write(to: path)
    }

    /// The checksum that `file`'s contents hash to (ignoring its stored `checksum_sha256`).
    public static func computed(for file: SafetensorsFile) -> String {
        let descriptors = file.tensorInfos.map { info in
            Descriptor(
                name: info.name, dtype: SafetensorsFile.dtypeName(of: info.type) ?? "\(info.type)", shape: info.shape,
                sha256: info.byteCount == 0 ? emptySHA256 : Fingerprint.sha256(file.data(of: info)))
        }
        return digest(descriptors, metadata: file.metadata)
    }

    /// Checks the stored checksum. Returns false when the file has none and `required` is false;
    /// throws `.missingKey` when it has none and `required` is true, `.corrupt` when it disagrees.
    @discardableResult
    public static func verify(_ file: SafetensorsFile, required: Bool) throws(ModelFileError) -> Bool {
        guard let stored = file.metadata[key] else {
            if required {
                throw ModelFileError(
                    .missingKey, file: file.path, "metadata key '\(key)' is missing (no checksum to verify)")
            }
            return false
        }
        let actual = computed(for: file)
        guard stored == actual else {
            throw ModelFileError(
                .corrupt, file: file.path,
                "checksum mismatch: metadata '\(key)' is \(stored), the contents hash to \(actual) "
                    + "(the file is corrupt or was edited after it was written)")
        }
        return true
    }

    struct Descriptor {
        let name: String
        let dtype: String
        let shape: [Int]
        let sha256: String
    }

    static let emptySHA256 = [UInt8]().withUnsafeBytes { Fingerprint.sha256($0) }

    static func digest(_ descriptors: [Descriptor], metadata: [String: String]) -> String {
        func field(_ s: String) -> String { "\(s.utf8.count):\(s)" }
        var lines: [String] = []
        for d in descriptors.sorted(by: { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }) {
            lines.append(
                "tensor \(field(d.name)) \(d.dtype) [" + d.shape.map(String.init).joined(separator: ",")
                    + "] \(d.sha256)")
        }
        for k in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) where k != key {
            lines.append("meta \(field(k)) \(field(metadata[k]!))")
        }
        return Fingerprint.sha256(strings: lines)
    }
}

/// Shared checks of untrusted checkpoint contents.
enum CheckpointValidation {
    /// The first non-finite value of a tensor, as an error naming the file, tensor and index.
    static func requireFinite(_ values: [Float], tensor: String, file: String) throws(ModelFileError) {
        guard let i = values.firstIndex(where: { !$0.isFinite }) else { return }
        let bad = values.lazy.filter { !$0.isFinite }.count
        throw ModelFileError(
            .badValue, file: file,
            "tensor '\(tensor)': element \(i) is \(values[i]) (\(bad) non-finite value(s)); expected finite numbers")
    }

    /// A metadata value that must be a decimal integer ≥ `minimum`, or nil when absent.
    static func int(_ key: String, in metadata: [String: String], file: String, minimum: Int = 0) throws(ModelFileError)
        -> Int?
    {
        guard let text = metadata[key] else { return nil }
        guard let value = Int(text), value >= minimum else {
            throw ModelFileError(
                .badValue, file: file,
                "metadata '\(key)': expected an integer ≥ \(minimum), found \"\(text.prefix(64))\"")
        }
        return value
    }
}
