// The one error type of the wire protocol. Everything a peer can send wrong becomes one of these cases;
// the coordinator and worker loops turn it into an ERROR reply with `Message.reply(to:)` (Messages.swift)
// and a log line. API misuse on the sending side (a payload over 4 GiB, a top-k fraction of 2) traps instead.

/// What was wrong with bytes received from a peer. Each case says what was expected and what was found.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first four bytes are not `APS1`.
    case badMagic(found: [UInt8])
    /// The header names a protocol version this build does not speak.
    case unsupportedVersion(found: UInt16, supported: UInt16)
    /// The header names a message type this build does not know.
    case unknownType(UInt16)
    /// Fewer bytes than the header (or the header's payload length) requires.
    case truncated(needed: Int, have: Int)
    /// A length read from the wire is over the configured limit; nothing was allocated for it.
    case oversized(length: Int, limit: Int)
    /// `expected` is the CRC32C the header carries, `found` the CRC32C of the payload as received.
    case badChecksum(expected: UInt32, found: UInt32)
    /// The frame is sound but its payload does not parse; the text names the message, the field, what was
    /// expected and what was found.
    case malformedPayload(String)

    /// The numeric code an ERROR message carries for this error (docs/protocol.md, "Error codes").
    public var code: WireErrorCode {
        switch self {
        case .badMagic: .badMagic
        case .unsupportedVersion: .unsupportedVersion
        case .unknownType: .unknownType
        case .truncated: .truncated
        case .oversized: .oversized
        case .badChecksum: .badChecksum
        case .malformedPayload: .malformedPayload
        }
    }

    public var description: String {
        switch self {
        case .badMagic(let found):
            "invalid magic '\(WireError.printable(found))', expected 'APS1'"
        case .unsupportedVersion(let found, let supported):
            "unsupported protocol version \(found), this build speaks version \(supported)"
        case .unknownType(let raw):
            "unknown message type \(raw)"
        case .truncated(let needed, let have):
            "truncated frame: needed \(needed) bytes, have \(have)"
        case .oversized(let length, let limit):
            "oversized: length \(length) bytes is over the limit of \(limit) bytes"
        case .badChecksum(let expected, let found):
            "bad payload checksum: header says CRC32C \(WireError.hex(expected)), payload has \(WireError.hex(found))"
        case .malformedPayload(let detail):
            "malformed payload: \(detail)"
        }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// Printable ASCII as is, anything else as `\xNN`.
    static func printable(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "'") && byte != UInt8(ascii: "\\") {
                text.append(Character(Unicode.Scalar(byte)))
            } else {
                let digits = String(byte, radix: 16)
                text += "\\x" + (digits.count == 1 ? "0" : "") + digits
            }
        }
        return text
    }
}

/// Codes carried by ERROR messages. 1–99 are protocol errors (one per `WireError` case); 100 and up are
/// left to the coordinator and worker for their own refusals (stale step, unknown lease, …); a receiver
/// must accept any code, known or not, and show the text.
public enum WireErrorCode: UInt16, Sendable, CaseIterable {
    case badMagic = 1
    case unsupportedVersion = 2
    case unknownType = 3
    case truncated = 4
    case oversized = 5
    case badChecksum = 6
    case malformedPayload = 7
}
