import Foundation
import Wire

/// Helpers both ends share: hex digests, clocks, the protocol version string.
enum Peer {
    static let version = "adapterps/0.1"

    /// "ab01…" (64 hex chars) → 32 bytes; anything else → 32 zero bytes (never matches a real digest).
    static func digest(hex: String) -> [UInt8] {
        let chars = Array(hex.utf8)
        guard chars.count == 64 else { return [UInt8](repeating: 0, count: 32) }
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
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return [UInt8](repeating: 0, count: 32) }
            out.append(hi << 4 | lo)
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Monotonic seconds.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
