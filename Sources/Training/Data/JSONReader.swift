// A small JSON reader for training data: it splits a file into records (JSONL lines or the elements of a
// top-level array) and parses one record at a time, so that a bad record can be reported by its line and
// skipped without losing the rest of the file.
//
//   JSONL:       one record per line; blank lines are ignored; a trailing "\r" is dropped.
//   JSON array:  "[" record ("," record)* "]" with whitespace around; the elements are found by a structural
//                scan (strings, escapes and bracket depth) before any of them is parsed, so a syntax error
//                inside one element (a bad literal, a missing colon) spoils that element only. An unterminated
//                string or array, or text after the closing bracket, spoils the file.
//
// Limits, enforced as the bytes are read: nesting depth ≤ 256; strings must be valid UTF-8 without raw control
// characters; numbers are kept exact when they are integers that fit in Int64.

/// A parsed JSON value. Objects keep the last value of a repeated key.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case float(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// "a string", "an array", ... for "expected X, found Y" messages.
    var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "a boolean (\(b))"
        case .integer(let i): return "an integer (\(i))"
        case .float(let d): return "a number (\(d))"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Where a record sits in its file.
struct RecordSpan: Sendable, Equatable {
    /// 1-based line of the record's first byte.
    var line: Int
    /// Byte range of the record in the file.
    var range: Range<Int>
}

/// A syntax error at a byte offset of the file.
struct JSONSyntaxError: Error, Sendable, Equatable {
    var offset: Int
    var message: String
}

/// Line and column (both 1-based, column in bytes) of byte offsets in a file.
struct LineIndex: Sendable {
    /// Offsets of the "\n" bytes, ascending.
    private let newlines: [Int]

    init(_ bytes: [UInt8]) {
        var newlines: [Int] = []
        for (i, b) in bytes.enumerated() where b == 0x0A { newlines.append(i) }
        self.newlines = newlines
    }

    func position(of offset: Int) -> (line: Int, column: Int) {
        // Number of newlines strictly before `offset`.
        var lo = 0
        var hi = newlines.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if newlines[mid] < offset { lo = mid + 1 } else { hi = mid }
        }
        let lineStart = lo == 0 ? 0 : newlines[lo - 1] + 1
        return (lo + 1, offset - lineStart + 1)
    }
}

enum JSONReader {
    static let maxDepth = 256

    /// Whether the file is a JSON array (its first non-blank byte, after an optional UTF-8 BOM, is "[").
    static func isArray(_ bytes: [UInt8]) -> Bool {
        var i = bomLength(bytes)
        while i < bytes.count, isBlank(bytes[i]) { i += 1 }
        return i < bytes.count && bytes[i] == UInt8(ascii: "[")
    }

    /// The non-blank lines of a JSONL file.
    static func splitLines(_ bytes: [UInt8]) -> [RecordSpan] {
        var spans: [RecordSpan] = []
        var start = bomLength(bytes)
        var line = 1
        while start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            var first = start
            var last = end
            while first < last, isBlank(bytes[first]) { first += 1 }
            while last > first, isBlank(bytes[last - 1]) { last -= 1 }
            if first < last { spans.append(RecordSpan(line: line, range: first..<last)) }
            line += 1
            start = end + 1
        }
        return spans
    }

    /// The elements of a top-level JSON array, found without parsing them.
    static func splitArray(_ bytes: [UInt8], lines: LineIndex) throws(JSONSyntaxError) -> [RecordSpan] {
        var i = bomLength(bytes)
        func skipBlank() { while i < bytes.count, isBlank(bytes[i]) { i += 1 } }
        skipBlank()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "[") else {
            throw JSONSyntaxError(offset: i, message: "expected '[' to start the array")
        }
        let open = i
        i += 1
        var spans: [RecordSpan] = []
        skipBlank()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            while true {
                skipBlank()
                let start = i
                var depth = 0
                var end = -1
                scan: while i < bytes.count {
                    switch bytes[i] {
                    case UInt8(ascii: "\""):
                        let quote = i
                        i += 1
                        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                            i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
                        }
                        guard i < bytes.count else {
                            throw JSONSyntaxError(offset: quote, message: "unterminated string")
                        }
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                        guard depth <= maxDepth else {
                            throw JSONSyntaxError(offset: i, message: "nesting deeper than \(maxDepth)")
                        }
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        if depth == 0 {
                            end = i
                            break scan
                        }
                        depth -= 1
                    case UInt8(ascii: ","):
                        if depth == 0 {
                            end = i
                            break scan
                        }
                    default: break
                    }
                    i += 1
                }
                guard end >= 0 else {
                    throw JSONSyntaxError(offset: open, message: "unterminated array (no closing ']')")
                }
                var last = end
                while last > start, isBlank(bytes[last - 1]) { last -= 1 }
                let closing = bytes[end]
                if start == last {
                    throw JSONSyntaxError(offset: end, message: "expected an array element before '\(Character(Unicode.Scalar(closing)))'")
                }
                spans.append(RecordSpan(line: lines.position(of: start).line, range: start..<last))
                i = end + 1
                if closing == UInt8(ascii: "]") { break }
                if closing == UInt8(ascii: "}") {
                    throw JSONSyntaxError(offset: end, message: "unexpected '}' in the array")
                }
            }
        }
        skipBlank()
        guard i == bytes.count else {
            throw JSONSyntaxError(offset: i, message: "unexpected text after the closing ']' of the array")
        }
        return spans
    }

    /// Parses exactly one value filling `range` (surrounding blanks allowed).
    static func parse(_ bytes: [UInt8], _ range: Range<Int>) throws(JSONSyntaxError) -> JSONValue {
        var parser = Parser(bytes: bytes, index: range.lowerBound, end: range.upperBound)
        parser.skipBlank()
        let value = try parser.value(depth: 0)
        parser.skipBlank()
        guard parser.index == parser.end else {
            throw parser.error("expected the end of the record after a complete value, found \(parser.peekDescription)")
        }
        return value
    }

    static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    static func bomLength(_ bytes: [UInt8]) -> Int {
        bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
    }
}

/// Recursive-descent parser over `bytes[index..<end]`.
private struct Parser {
    let bytes: [UInt8]
    var index: Int
    let end: Int

    func error(_ message: String) -> JSONSyntaxError { JSONSyntaxError(offset: index, message: message) }

    var peekDescription: String {
        guard index < end else { return "the end of the record" }
        let b = bytes[index]
        return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
    }

    mutating func skipBlank() { while index < end, JSONReader.isBlank(bytes[index]) { index += 1 } }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard index < end else { throw error("expected a value, found the end of the record") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("expected a value, found \(peekDescription)")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        let matches = index + n <= end && word.withUTF8Buffer { w in (0..<n).allSatisfy { bytes[index + $0] == w[$0] } }
        guard matches else { throw error("expected '\(word)', found \(peekDescription)") }
        index += n
    }

    mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= JSONReader.maxDepth else { throw error("nesting deeper than \(JSONReader.maxDepth)") }
        index += 1  // {
        var members: [String: JSONValue] = [:]
        skipBlank()
        if index < end, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipBlank()
            guard index < end, bytes[index] == UInt8(ascii: "\"") else {
                throw error("expected a quoted member name, found \(peekDescription)")
            }
            let key = try string()
            skipBlank()
            guard index < end, bytes[index] == UInt8(ascii: ":") else {
                throw error("expected ':' after the member name \(String(reflecting: key)), found \(peekDescription)")
            }
            index += 1
            skipBlank()
            members[key] = try value(depth: depth)
            skipBlank()
            guard index < end else { throw error("expected ',' or '}', found the end of the record") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            throw error("expected ',' or '}' after a member, found \(peekDescription)")
        }
    }

    mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= JSONReader.maxDepth else { throw error("nesting deeper than \(JSONReader.maxDepth)") }
        index += 1  // [
        var elements: [JSONValue] = []
        skipBlank()
        if index < end, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipBlank()
            elements.append(try value(depth: depth))
            skipBlank()
            guard index < end else { throw error("expected ',' or ']', found the end of the record") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            throw error("expected ',' or ']' after an array element, found \(peekDescription)")
        }
    }

    mutating func number() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let intStart = index
        let intDigits = skipDigits()
        guard intDigits > 0 else { throw error("expected a digit, found \(peekDescription)") }
        if intDigits > 1, bytes[intStart] == UInt8(ascii: "0") {
            throw JSONSyntaxError(offset: intStart, message: "a number must not have a leading zero")
        }
        if index < end, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard skipDigits() > 0 else { throw error("expected a digit after '.', found \(peekDescription)") }
        }
        if index < end, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < end, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { throw error("expected a digit in the exponent, found \(peekDescription)") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let exact = Int64(text) { return .integer(exact) }
        guard let d = Double(text), d.isFinite else {
            throw JSONSyntaxError(offset: start, message: "number \(text) is out of range")
        }
        return .float(d)
    }

    /// Skips decimal digits; returns how many.
    mutating func skipDigits() -> Int {
        let start = index
        while index < end, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
        return index - start
    }

    mutating func string() throws(JSONSyntaxError) -> String {
        let open = index
        index += 1  // "
        var out: [UInt8] = []
        var runStart = index
        while true {
            guard index < end else { throw JSONSyntaxError(offset: open, message: "unterminated string") }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 {
                throw error("raw control character 0x\(String(b, radix: 16)) in a string (escape it)")
            }
            if b != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            out.append(contentsOf: bytes[runStart..<index])
            index += 1
            guard index < end else { throw JSONSyntaxError(offset: open, message: "unterminated string") }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard index + 1 < end, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired UTF-16 surrogate in \\u escape") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired UTF-16 surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("unpaired UTF-16 surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                index -= 1
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string")
            }
            runStart = index
        }
        out.append(contentsOf: bytes[runStart..<index])
        index += 1  // closing quote
        guard let text = String(validating: out, as: UTF8.self) else {
            throw JSONSyntaxError(offset: open, message: "string is not valid UTF-8")
        }
        return text
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 <= end else { throw error("expected 4 hex digits after \\u") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - 0x41 + 10)
            default: throw error("expected 4 hex digits after \\u, found \(peekDescription)")
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }
}
