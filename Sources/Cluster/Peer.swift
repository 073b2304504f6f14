import Foundation
import ModelFiles

/// Helpers both ends share: digests on the wire, clocks, the protocol version string.
enum Peer {
    static let version = "adapterps/0.1"

    /// A hex SHA-256 as the 32 bytes HELLO carries; 32 zero bytes (never a real digest) otherwise.
    static func digest(hex: String) -> [UInt8] { Fingerprint.digest(hex: hex) ?? [UInt8](repeating: 0, count: 32) }

    static func hex(_ bytes: [UInt8]) -> String { Fingerprint.hex(bytes) }

    /// Monotonic seconds.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
