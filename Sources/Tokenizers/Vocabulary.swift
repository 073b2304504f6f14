// The vocabulary shared by both BPE flavours: token texts as bytes, per-token attributes, the special ids and
// end-of-generation set, and the text of every token as it is printed — all derived once, the way llama.cpp's
// `llama_vocab::impl::load` derives them, so that encode/decode agree with llama.cpp id for id.

/// Per-token attributes (llama.cpp `llama_token_attr` bit values).
struct TokenAttributes: OptionSet, Sendable, Hashable {
    let rawValue: UInt32
    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)

    init(rawValue: UInt32) { self.rawValue = rawValue }

    init(type: Int) {
        switch TokenType(rawValue: type) {
        case .normal: self = .normal
        case .unknown: self = .unknown
        case .control: self = .control
        case .userDefined: self = .userDefined
        case .unused: self = .unused
        case .byte: self = .byte
        case .undefined, nil: self = []
        }
    }
}

/// Byte string -> value, open addressing over one flat key buffer; looks up a slice without allocating. Keys are
/// compared byte for byte (never as Swift `String`, whose equality is canonical equivalence).
struct ByteKeyTable: Sendable {
    private var keyBytes: [UInt8] = []
    private var keyStart: [Int32] = []
    private var keyLength: [Int32] = []
    private var values: [Int32] = []
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { values.count }

    @inline(__always)
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// Inserts `key` -> `value`; returns the previous value if the key was already present (and keeps it).
    mutating func insert(_ key: [UInt8], value: Int32) -> Int32? {
        if let existing = self[key] { return existing }
        if (values.count + 1) * 2 > slots.count { grow() }
        let index = Int32(values.count)
        keyStart.append(Int32(keyBytes.count))
        keyLength.append(Int32(key.count))
        keyBytes.append(contentsOf: key)
        values.append(value)
        let h = key.withUnsafeBufferPointer { ByteKeyTable.hash($0) }
        place(index, hash: h)
        return nil
    }

    private mutating func place(_ index: Int32, hash h: Int) {
        var slot = h & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = index
    }

    private mutating func grow() {
        let newSize = slots.count * 2
        slots = [Int32](repeating: -1, count: newSize)
        mask = newSize - 1
        for i in 0..<values.count {
            let h = keyBytes.withUnsafeBufferPointer {
                ByteKeyTable.hash(UnsafeBufferPointer(rebasing: $0[Int(keyStart[i])..<Int(keyStart[i] + keyLength[i])]))
            }
            place(Int32(i), hash: h)
        }
    }

    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        var slot = ByteKeyTable.hash(key) & mask
        return keyBytes.withUnsafeBufferPointer { all -> Int32? in
            while true {
                let index = Int(slots[slot])
                if index < 0 { return nil }
                let start = Int(keyStart[index])
                let length = Int(keyLength[index])
                if length == key.count {
                    var equal = true
                    var i = 0
                    while i < length {
                        if all[start + i] != key[i] {
                            equal = false
                            break
                        }
                        i += 1
                    }
                    if equal { return values[index] }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    subscript(key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { lookup($0) }
    }
}

/// How token ids are formed from text (llama.cpp vocab type).
enum VocabularyKind: Sendable {
    case byteLevelBPE  // "gpt2"
    case sentencePiece  // "llama"
}

/// Immutable vocabulary, shared by a tokenizer and its encode/decode paths.
final class Vocabulary: Sendable {
    let kind: VocabularyKind
    let source: String
    /// token text bytes, as stored in the file (after llama.cpp's "[EMPTY_i]" substitution for empty texts).
    let texts: [[UInt8]]
    let attributes: [TokenAttributes]
    let scores: [Float]
    let table: ByteKeyTable
    /// what each token prints as (llama.cpp `token_to_piece(special: true)` cache).
    let pieces: [[UInt8]]
    /// control, user-defined and unknown tokens, longest text first: matched in raw text before tokenizing.
    let specialTokens: [Int32]
    let endOfGeneration: Set<Int32>

    let bos: Int32?
    let eos: Int32?
    let eot: Int32?
    let eom: Int32?
    let unk: Int32?
    let pad: Int32?
    let addBOS: Bool
    let addEOS: Bool
    let addSpacePrefix: Bool
    let cleanSpaces: Bool

    var count: Int { texts.count }

    init(_ data: TokenizerData, kind: VocabularyKind, defaultAddBOS: Bool, cleanSpaces: Bool) throws {
        let n = data.tokens.count
        let source = data.source
        guard n > 0 else {
            throw TokenizerError(
                .badVocabulary, source: source, "tokenizer.ggml.tokens: expected at least 1 token, found 0")
        }
        guard n < Int(Int32.max) else {
            throw TokenizerError(.badVocabulary, source: source, "tokenizer.ggml.tokens: \(n) tokens is too many")
        }
        if let scores = data.scores, scores.count != n {
            throw TokenizerError(
                .badVocabulary, source: source,
                "tokenizer.ggml.scores: expected \(n) entries (one per token), found \(scores.count)")
        }
        if let types = data.tokenTypes, types.count != n {
            throw TokenizerError(
                .badVocabulary, source: source,
                "tokenizer.ggml.token_type: expected \(n) entries (one per token), found \(types.count)")
        }
        self.kind = kind
        self.source = source

        var texts: [[UInt8]] = []
        texts.reserveCapacity(n)
        var table = ByteKeyTable(capacity: n)
        for (i, token) in data.tokens.enumerated() {
            var bytes = Array(token.utf8)
            if bytes.isEmpty { bytes = Array("[EMPTY_\(i)]".utf8) }
            if let first = table.insert(bytes, value: Int32(i)) {
                throw TokenizerError(
                    .badVocabulary, source: source,
                    "tokenizer.ggml.tokens: token \(i) \(String(reflecting: token)) repeats token \(first); texts must be unique"
                )
            }
            texts.append(bytes)
        }
        var attributes = data.tokenTypes?.map { TokenAttributes(type: $0) } ?? Array(repeating: .normal, count: n)
        self.scores = data.scores ?? Array(repeating: 0, count: n)

        // Special ids: llama.cpp defaults per vocab kind, replaced by in-range values from the file.
        func pick(_ value: Int?, default fallback: Int?) -> Int32? {
            if let value, value >= 0, value < n { return Int32(value) }
            if let fallback, fallback >= 0, fallback < n { return Int32(fallback) }
            return nil
        }
        switch kind {
        case .sentencePiece:
            bos = pick(data.bosID, default: 1)
            eos = pick(data.eosID, default: 2)
            unk = pick(data.unkID, default: 0)
        case .byteLevelBPE:
            bos = pick(data.bosID, default: 11)
            eos = pick(data.eosID, default: 11)
            unk = pick(data.unkID, default: nil)
        }
        pad = pick(data.padID, default: nil)
        addBOS = data.addBOS ?? defaultAddBOS
        addEOS = data.addEOS ?? false
        addSpacePrefix = data.addSpacePrefix ?? (kind == .sentencePiece)
        self.cleanSpaces = cleanSpaces

        // Tokens recognised by text as end of turn / generation; llama.cpp also forces them to control type.
        func id(_ text: String) -> Int32? { table[Array(text.utf8)] }
        var forcedControl: [Int32] = []
        var eot = pick(data.eotID, default: nil)
        if eot == nil {
            eot = Vocabulary.endOfTurnNames.lazy.compactMap(id).min()
            if let eot { forcedControl.append(eot) }
        }
        var eom = pick(data.eomID, default: nil)
        if eom == nil {
            eom = id("<|eom_id|>")
            if let eom { forcedControl.append(eom) }
        }
        var eog = Set<Int32>()
        for (i, names) in Vocabulary.fimNames.enumerated() {
            guard let found = names.lazy.compactMap(id).min() else { continue }
            forcedControl.append(found)
            if i >= 3 { eog.insert(found) }  // pad, repo, file separator end generation
        }
        for name in Vocabulary.endOfGenerationNames {
            if let t = id(name) { eog.insert(t) }
        }
        for t in forcedControl where !attributes[Int(t)].contains(.control) { attributes[Int(t)] = .control }
        for t in eog where !attributes[Int(t)].contains(.control) { attributes[Int(t)] = .control }
        for name in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let t = id(name) { attributes[Int(t)] = .userDefined }
        }
        for t in [eos, eot, eom] { if let t { eog.insert(t) } }
        if let end = id("<|end|>"), eog.contains(end), id("<|return|>").map(eog.contains) == true,
            id("<|call|>").map(eog.contains) == true
        {
            eog.remove(end)
            attributes[Int(end)] = .userDefined
        }
        self.eot = eot
        self.eom = eom
        self.endOfGeneration = eog

        let specialMask: TokenAttributes = [.control, .userDefined, .unknown]
        var special = (0..<n).filter { !attributes[$0].intersection(specialMask).isEmpty }.map { Int32($0) }
        // longest first; equal lengths by id (llama.cpp's std::sort leaves that order unspecified).
        special.sort { (texts[Int($0)].count, $1) > (texts[Int($1)].count, $0) }
        self.specialTokens = special

        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(n)
        for i in 0..<n {
            pieces.append(Vocabulary.piece(text: texts[i], attributes: attributes[i], kind: kind))
        }
        self.texts = texts
        self.attributes = attributes
        self.table = table
        self.pieces = pieces
    }

    /// llama.cpp `token_to_piece(special: true)` without a cache.
    private static func piece(text: [UInt8], attributes: TokenAttributes, kind: VocabularyKind) -> [UInt8] {
        if !attributes.intersection([.unknown, .control, .userDefined]).isEmpty { return text }
        switch kind {
        case .byteLevelBPE:
            return attributes.contains(.normal) ? ByteLevel.decode(text) : []
        case .sentencePiece:
            if attributes.contains(.normal) { return SentencePiece.unescapeSpaces(text) }
            if attributes.contains(.byte) { return SentencePiece.byteValue(ofByteToken: text).map { [$0] } ?? [] }
            return []
        }
    }

    /// EOT names llama.cpp looks for when the file names no EOT token.
    static let endOfTurnNames = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
        "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    /// Token texts that end generation.
    static let endOfGenerationNames = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
        "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
    ]
    /// FIM prefix / suffix / middle / pad / repo / file-separator names (llama.cpp forces them to control type;
    /// the last three also end generation).
    static let fimNames: [[String]] = [
        ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>"],
        ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>"],
        ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>"],
        ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"],
        ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"],
        ["<|file_sep|>"],
    ]

    func isValid(_ id: Int32) -> Bool { id >= 0 && Int(id) < texts.count }

    /// id of a token text, or nil.
    func id(of bytes: [UInt8]) -> Int32? { table[bytes] }
}
