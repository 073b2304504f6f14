import Foundation
import Crypto

/// Content fingerprints: the SHA-256 of a file's bytes, as lowercase hex. Checkpoints and workers
/// use it to be sure they talk about the same frozen model.
public enum Fingerprint {
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> String {
        var hasher = SHA256()
        // Feed in 64 MiB slices so huge mapped files page in gradually.
        let slice = 64 << 20
        var offset = 0
        while offset < bytes.count {
            let n = min(slice, bytes.count - offset)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
            offset += n
        }
        return hex(hasher.finalize())
    }

    public static func sha256(file path: String) throws(ModelFileError) -> String {
        let file = try MappedFile(path: path)
        return withExtendedLifetime(file) { sha256(file.bytes) }
    }

    /// SHA-256 of a list of strings joined by newlines (e.g. the fingerprints of several files).
    public static func sha256(strings: [String]) -> String {
        hex(SHA256.hash(data: Array(strings.joined(separator: "\n").utf8)))
    }

    /// Lowercase hex of bytes.
    public static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The bytes of a 64-character hex SHA-256, or nil when it is not one.
    public static func digest(hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count == 64 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }
}
