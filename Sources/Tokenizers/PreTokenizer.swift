// Pre-tokenizer of byte-level BPE: splits a text fragment into words before BPE, as llama.cpp's
// `unicode_regex_split` does for each `tokenizer.ggml.pre` type — a list of regexes applied one after the other,
// each splitting the pieces left by the previous one (matches and the text between them both become pieces).
// The regexes are hand-written scanners over Unicode scalars (no regex engine), following llama.cpp's own
// scanners for the GPT-2 and LLaMA-3 patterns, which are what llama.cpp runs.
//
//   smollm (also starcoder, refact, command-r, codeshell):
//       \p{N}                                          each number scalar alone
//       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+      (GPT-2)
//   gpt-2 (also mpt, olmo, jais, phi-2): GPT-2 alone
//   llama-bpe / llama3 (LLaMA-3):
//       (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|
//       \s+(?!\S)|\s+
//   qwen2: as LLaMA-3 with \p{N} (one digit)
//   default: [\p{P}\$\+<=>\^~\|]+ , GPT-2 , \p{N}+ , [0-9][0-9][0-9]
//
// Character classes come from Swift's Unicode tables: \p{L} letters, \p{N} numbers, \p{P} punctuation, \s the
// White_Space property (llama.cpp's whitespace set).

/// Scalar class bits.
enum ScalarFlags {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 4
    static let punctuation: UInt8 = 8
    /// set for every scalar; 0 stands for "outside the current piece".
    static let present: UInt8 = 16

    private static func compute(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return present }
        var flags = present
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            flags |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            flags |= number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            flags |= punctuation
        default:
            break
        }
        if scalar.properties.isWhitespace { flags |= whitespace }
        return flags
    }

    private static let ascii: [UInt8] = (0..<128).map { compute(UInt32($0)) }

    @inline(__always)
    static func of(_ value: UInt32) -> UInt8 {
        value < 128 ? ascii[Int(value)] : compute(value)
    }
}

enum PreTokenizerStage: Sendable, Equatable {
    /// `\p{N}`: every number scalar becomes its own piece.
    case isolateNumbers
    /// `\p{N}+`: runs of number scalars become pieces.
    case isolateNumberRuns
    /// `[\p{P}\$\+<=>\^~\|]+` (plus the backtick when `backtick`): runs of punctuation become pieces.
    case isolatePunctuationRuns(backtick: Bool)
    /// `[0-9][0-9][0-9]`: groups of three ASCII digits, from the left, become pieces.
    case asciiDigitTriples
    /// the GPT-2 pattern.
    case gpt2
    /// the LLaMA-3 pattern, with `\p{N}{1,maxDigits}`.
    case llama3(maxDigits: Int)
}

/// A named llama.cpp pre-tokenizer: its stages and the vocabulary settings that go with the name.
struct PreTokenizer: Sendable, Equatable {
    let name: String
    let stages: [PreTokenizerStage]
    /// a word that is itself a token is taken whole, without merges (llama.cpp `ignore_merges`).
    let ignoreMerges: Bool
    /// default for `add_bos_token` when the file does not say.
    let defaultAddBOS: Bool
    /// llama.cpp `clean_spaces`: detokenize removes the space in " ?", " !", " .", " ," and some " 's".
    let cleanSpaces: Bool

    static let supportedNames = [
        "default", "smollm", "starcoder", "refact", "command-r", "codeshell", "gpt-2", "phi-2", "mpt", "olmo",
        "jais", "llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe", "qwen2", "deepseek-r1-qwen",
        "stablelm2", "falcon",
    ]

    /// The pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre` = `name` (nil or "" = "default").
    static func named(_ name: String?, source: String) throws -> PreTokenizer {
        let name = (name?.isEmpty ?? true) ? "default" : name!
        let llama3 = PreTokenizerStage.llama3(maxDigits: 3)
        switch name {
        case "default":
            return PreTokenizer(
                name: name,
                stages: [.isolatePunctuationRuns(backtick: false), .gpt2, .isolateNumberRuns, .asciiDigitTriples],
                ignoreMerges: false, defaultAddBOS: false, cleanSpaces: true)
        case "smollm", "command-r":
            return PreTokenizer(
                name: name, stages: [.isolateNumbers, .gpt2], ignoreMerges: false, defaultAddBOS: false,
                cleanSpaces: false)
        case "starcoder", "refact", "codeshell":
            return PreTokenizer(
                name: name, stages: [.isolateNumbers, .gpt2], ignoreMerges: false, defaultAddBOS: false,
                cleanSpaces: true)
        case "gpt-2", "phi-2", "mpt", "olmo", "jais":
            return PreTokenizer(
                name: name, stages: [.gpt2], ignoreMerges: false, defaultAddBOS: false, cleanSpaces: true)
        case "llama3", "llama-v3", "llama-bpe", "falcon3":
            return PreTokenizer(
                name: name, stages: [llama3], ignoreMerges: true, defaultAddBOS: true, cleanSpaces: true)
        case "dbrx", "smaug-bpe":
            return PreTokenizer(
                name: name, stages: [llama3], ignoreMerges: false, defaultAddBOS: false, cleanSpaces: true)
        case "qwen2", "deepseek-r1-qwen":
            return PreTokenizer(
                name: name, stages: [.llama3(maxDigits: 1)], ignoreMerges: false, defaultAddBOS: false,
                cleanSpaces: false)
        case "stablelm2":
            return PreTokenizer(
                name: name, stages: [.llama3(maxDigits: 1)], ignoreMerges: false, defaultAddBOS: false,
                cleanSpaces: true)
        case "falcon":
            return PreTokenizer(
                name: name, stages: [.isolatePunctuationRuns(backtick: true), .gpt2, .asciiDigitTriples],
                ignoreMerges: false, defaultAddBOS: false, cleanSpaces: true)
        default:
            throw TokenizerError(
                .unsupportedPreTokenizer, source: source,
                "tokenizer.ggml.pre: unsupported pre-tokenizer \(String(reflecting: name)); supported: "
                    + supportedNames.joined(separator: ", "))
        }
    }

    /// Splits `scalars` (one fragment) into pieces; returns piece lengths in scalars (they sum to the count).
    func split(_ scalars: [UInt32]) -> [Int] {
        if scalars.isEmpty { return [] }
        let flags = scalars.map(ScalarFlags.of)
        var pieces = [scalars.count]
        for stage in stages {
            pieces = PreTokenizer.apply(stage, scalars: scalars, flags: flags, pieces: pieces)
        }
        return pieces
    }

    private static func apply(_ stage: PreTokenizerStage, scalars: [UInt32], flags: [UInt8], pieces: [Int]) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(pieces.count * 2)
        var start = 0
        for length in pieces {
            let end = start + length
            switch stage {
            case .isolateNumbers:
                isolate(from: start, to: end, into: &out, runs: false) { flags[$0] & ScalarFlags.number != 0 }
            case .isolateNumberRuns:
                isolate(from: start, to: end, into: &out, runs: true) { flags[$0] & ScalarFlags.number != 0 }
            case .isolatePunctuationRuns(let backtick):
                isolate(from: start, to: end, into: &out, runs: true) { i in
                    if flags[i] & ScalarFlags.punctuation != 0 { return true }
                    switch scalars[i] {
                    case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
                    case 0x60: return backtick
                    default: return false
                    }
                }
            case .asciiDigitTriples:
                digitTriples(scalars, from: start, to: end, into: &out)
            case .gpt2:
                gpt2(scalars, flags, from: start, to: end, into: &out)
            case .llama3(let maxDigits):
                llama3(scalars, flags, from: start, to: end, maxDigits: maxDigits, into: &out)
            }
            start = end
        }
        return out
    }

    /// Matches of a one-class pattern (single scalars or maximal runs) and the gaps between them, in order.
    private static func isolate(
        from start: Int, to end: Int, into out: inout [Int], runs: Bool, _ matches: (Int) -> Bool
    ) {
        var gapStart = start
        var i = start
        while i < end {
            if matches(i) {
                if i > gapStart { out.append(i - gapStart) }
                var j = i + 1
                if runs { while j < end && matches(j) { j += 1 } }
                out.append(j - i)
                i = j
                gapStart = j
            } else {
                i += 1
            }
        }
        if end > gapStart { out.append(end - gapStart) }
    }

    private static func digitTriples(_ s: [UInt32], from start: Int, to end: Int, into out: inout [Int]) {
        @inline(__always) func digit(_ i: Int) -> Bool { s[i] >= 0x30 && s[i] <= 0x39 }
        var gapStart = start
        var i = start
        while i + 3 <= end {
            if digit(i) && digit(i + 1) && digit(i + 2) {
                if i > gapStart { out.append(i - gapStart) }
                out.append(3)
                i += 3
                gapStart = i
            } else {
                i += 1
            }
        }
        if end > gapStart { out.append(end - gapStart) }
    }

    /// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    private static func gpt2(_ s: [UInt32], _ f: [UInt8], from start: Int, to end: Int, into out: inout [Int]) {
        @inline(__always) func cpt(_ i: Int) -> UInt32 { i >= start && i < end ? s[i] : UInt32.max }
        @inline(__always) func flags(_ i: Int) -> UInt8 { i >= start && i < end ? f[i] : 0 }
        @inline(__always) func isLNW(_ x: UInt8) -> Bool {
            x & (ScalarFlags.letter | ScalarFlags.number | ScalarFlags.whitespace) != 0
        }
        var prevEnd = start
        @inline(__always) func add(_ e: Int) {
            if e > prevEnd { out.append(e - prevEnd) }
            prevEnd = e
        }
        var pos = start
        while pos < end {
            let c = s[pos]
            let fl = f[pos]
            if c == 0x27, pos + 1 < end {  // '
                let n1 = s[pos + 1]
                if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {  // s t m d
                    add(pos + 2)
                    pos += 2
                    continue
                }
                if pos + 2 < end {
                    let n2 = s[pos + 2]
                    if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {  // re ve ll
                        add(pos + 3)
                        pos += 3
                        continue
                    }
                }
            }
            var f2 = c == 0x20 ? flags(pos + 1) : fl
            if f2 & ScalarFlags.letter != 0 {
                if c == 0x20 { pos += 1 }
                while f2 & ScalarFlags.letter != 0 {
                    pos += 1
                    f2 = flags(pos)
                }
                add(pos)
                continue
            }
            if f2 & ScalarFlags.number != 0 {
                if c == 0x20 { pos += 1 }
                while f2 & ScalarFlags.number != 0 {
                    pos += 1
                    f2 = flags(pos)
                }
                add(pos)
                continue
            }
            if !isLNW(f2) && f2 != 0 {
                if c == 0x20 { pos += 1 }
                while !isLNW(f2) && f2 != 0 {
                    pos += 1
                    f2 = flags(pos)
                }
                add(pos)
                continue
            }
            var spaces = 0
            while flags(pos + spaces) & ScalarFlags.whitespace != 0 { spaces += 1 }
            if spaces > 1 && cpt(pos + spaces) != UInt32.max {
                pos += spaces - 1
                add(pos)
                continue
            }
            if spaces > 0 {
                pos += spaces
                add(pos)
                continue
            }
            pos += 1
            add(pos)
        }
    }

    /// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,K}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|
    /// \s+(?!\S)|\s+
    private static func llama3(
        _ s: [UInt32], _ f: [UInt8], from start: Int, to end: Int, maxDigits: Int, into out: inout [Int]
    ) {
        @inline(__always) func cpt(_ i: Int) -> UInt32 { i >= start && i < end ? s[i] : UInt32.max }
        @inline(__always) func flags(_ i: Int) -> UInt8 { i >= start && i < end ? f[i] : 0 }
        @inline(__always) func lower(_ c: UInt32) -> UInt32 { c >= 0x41 && c <= 0x5A ? c + 32 : c }
        @inline(__always) func isLNW(_ x: UInt8) -> Bool {
            x & (ScalarFlags.letter | ScalarFlags.number | ScalarFlags.whitespace) != 0
        }
        var prevEnd = start
        @inline(__always) func add(_ e: Int) {
            if e > prevEnd { out.append(e - prevEnd) }
            prevEnd = e
        }
        var pos = start
        while pos < end {
            let c = s[pos]
            let fl = f[pos]
            if c == 0x27, pos + 1 < end {
                let n1 = lower(s[pos + 1])
                if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {
                    add(pos + 2)
                    pos += 2
                    continue
                }
                if pos + 2 < end {
                    let n2 = lower(s[pos + 2])
                    if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                        add(pos + 3)
                        pos += 3
                        continue
                    }
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == 0x0D || c == 0x0A || fl & ScalarFlags.number != 0) {
                if fl & ScalarFlags.letter != 0 || flags(pos + 1) & ScalarFlags.letter != 0 {
                    pos += 1
                    while flags(pos) & ScalarFlags.letter != 0 { pos += 1 }
                    add(pos)
                    continue
                }
            }
            // \p{N}{1,K}
            if fl & ScalarFlags.number != 0 {
                var groupStart = pos
                while flags(pos) & ScalarFlags.number != 0 {
                    pos += 1
                    if pos - groupStart >= maxDigits {
                        add(pos)
                        groupStart = pos
                    }
                }
                add(pos)
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            var f2 = c == 0x20 ? flags(pos + 1) : fl
            if !isLNW(f2) && fl != 0 {
                if c == 0x20 { pos += 1 }
                while !isLNW(f2) && f2 != 0 {
                    pos += 1
                    f2 = flags(pos)
                }
                var c2 = cpt(pos)
                while c2 == 0x0D || c2 == 0x0A {
                    pos += 1
                    c2 = cpt(pos)
                }
                add(pos)
                continue
            }
            var spaces = 0
            var lastNewlineEnd = 0
            while flags(pos + spaces) & ScalarFlags.whitespace != 0 {
                let c2 = cpt(pos + spaces)
                if c2 == 0x0D || c2 == 0x0A { lastNewlineEnd = pos + spaces + 1 }
                spaces += 1
            }
            if lastNewlineEnd > 0 {
                pos = lastNewlineEnd
                add(pos)
                continue
            }
            if spaces > 1 && cpt(pos + spaces) != UInt32.max {
                pos += spaces - 1
                add(pos)
                continue
            }
            if spaces > 0 {
                pos += spaces
                add(pos)
                continue
            }
            pos += 1
            add(pos)
        }
    }
}
