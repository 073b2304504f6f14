// The GPT-2 byte alphabet: every byte 0...255 is written as one printable Unicode scalar so that byte-level BPE
// vocabularies and merges are plain text.
//
//   bytes 0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF  -> the scalar with the same value ("!" ... "~", "¡" ... "ÿ")
//   every other byte, in increasing order         -> U+0100, U+0101, ... (so " " = 0x20 -> "Ġ" U+0120, "\n" -> "Ċ")

enum ByteLevel {
    /// scalar value of each byte's stand-in.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// UTF-8 bytes of each byte's stand-in (1 or 2 bytes).
    static let byteToUTF8: [[UInt8]] = byteToScalar.map { utf8(of: $0) }

    /// inverse map: stand-in scalar (all are < 0x144) -> byte, -1 where the scalar is not a stand-in.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in byteToScalar.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// The raw bytes a token text in the byte alphabet stands for. A scalar outside the alphabet (never in a
    /// well-formed vocabulary) is kept as its own UTF-8.
    static func decode(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for scalar in String(decoding: text, as: UTF8.self).unicodeScalars {
            let v = Int(scalar.value)
            if v < scalarToByte.count, scalarToByte[v] >= 0 {
                out.append(UInt8(scalarToByte[v]))
            } else {
                out.append(contentsOf: utf8(of: scalar.value))
            }
        }
        return out
    }

    /// Appends the byte-alphabet form of `bytes` to `out`.
    @inline(__always)
    static func encode<C: Collection>(_ bytes: C, into out: inout [UInt8]) where C.Element == UInt8 {
        for b in bytes { out.append(contentsOf: byteToUTF8[Int(b)]) }
    }

    static func utf8(of scalar: UInt32) -> [UInt8] {
        guard let s = Unicode.Scalar(scalar) else { return [0xEF, 0xBF, 0xBD] }
        return Array(String(Character(s)).utf8)
    }
}
