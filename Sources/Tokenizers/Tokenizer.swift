// The tokenizer interface the rest of AdapterPS uses, its one implementation (both BPE flavours share the
// vocabulary, special-token handling and decoding; they differ in the model that turns a raw-text fragment
// into ids), and the factory.

/// Text <-> token ids, equal to llama.cpp's `llama_tokenize` / `llama_detokenize` for the same model file.
public protocol Tokenizer: Sendable {
    /// Number of token ids (ids are 0..<vocabSize).
    var vocabSize: Int { get }
    var bosID: Int32? { get }
    var eosID: Int32? { get }
    /// `tokenizer.ggml.add_bos_token` (or llama.cpp's default): whether `encode(addSpecial: true)` starts with BOS.
    var addsBOS: Bool { get }
    /// whether `encode(addSpecial: true)` ends with EOS.
    var addsEOS: Bool { get }
    /// The chat template source from the model file, if any.
    var chatTemplate: String? { get }
    /// All ids that end generation (EOS, EOT, "<|im_end|>", "<|endoftext|>", ...), ascending.
    var endOfGenerationIDs: [Int32] { get }

    /// Token ids of `text`. `addSpecial` adds BOS (and EOS) where the model says so; `parseSpecial` turns the
    /// texts of control tokens ("<|im_start|>") into those tokens instead of tokenizing them as text.
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32]
    /// Text of `ids`, as llama.cpp `llama_detokenize`: with `skipSpecial` false (remove_special false,
    /// unparse_special true) control tokens print their text; with `skipSpecial` true a leading BOS and trailing
    /// EOS (where the model adds them) are dropped and control tokens print nothing. Invalid UTF-8 becomes U+FFFD;
    /// ids out of range print nothing.
    func decode(_ ids: [Int32], skipSpecial: Bool) -> String
    /// The bytes of `decode` before they are made a String.
    func decodeBytes(_ ids: [Int32], skipSpecial: Bool) -> [UInt8]
    /// Raw bytes one token prints as (control tokens: their text); empty for ids out of range. Streaming output
    /// concatenates these (see `StreamingDecoder`).
    func tokenBytes(_ id: Int32) -> [UInt8]
    /// The token's text as stored in the vocabulary (byte-level BPE: in the GPT-2 byte alphabet).
    func tokenText(_ id: Int32) -> String?
    /// The id of a vocabulary text, e.g. "<|im_end|>".
    func tokenID(_ text: String) -> Int32?
    /// Whether `id` is a control / unknown token (printed only when special tokens are rendered).
    func isSpecial(_ id: Int32) -> Bool
    func isEndOfGeneration(_ id: Int32) -> Bool
}

extension Tokenizer {
    public func encode(_ text: String) -> [Int32] { encode(text, addSpecial: true, parseSpecial: true) }
    public func encode(_ text: String, addSpecial: Bool) -> [Int32] {
        encode(text, addSpecial: addSpecial, parseSpecial: true)
    }
    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        encode(text, addSpecial: true, parseSpecial: parseSpecial)
    }
    public func decode(_ ids: [Int32]) -> String { decode(ids, skipSpecial: false) }
}

public enum TokenizerLoader {
    /// Builds the tokenizer `data` describes; throws `TokenizerError` for an unsupported model or pre-tokenizer
    /// or an inconsistent vocabulary.
    public static func load(_ data: TokenizerData) throws -> any Tokenizer {
        try BPETokenizer(data)
    }
}

/// Byte-level BPE ("gpt2") or SentencePiece-style BPE ("llama"), as llama.cpp runs them.
public final class BPETokenizer: Tokenizer {
    public enum Kind: String, Sendable {
        case byteLevel
        case sentencePiece
    }

    private enum Model: Sendable {
        case byteLevel(ByteLevelBPEModel)
        case sentencePiece(SentencePieceModel)
    }

    public let kind: Kind
    /// The pre-tokenizer name in use (byte-level BPE), e.g. "smollm".
    public let preTokenizerName: String?
    public let chatTemplate: String?
    let vocab: Vocabulary
    private let model: Model

    public init(_ data: TokenizerData) throws {
        switch data.model {
        case "gpt2":
            let pre = try PreTokenizer.named(data.preTokenizer, source: data.source)
            let vocab = try Vocabulary(
                data, kind: .byteLevelBPE, defaultAddBOS: pre.defaultAddBOS, cleanSpaces: pre.cleanSpaces)
            self.kind = .byteLevel
            self.preTokenizerName = pre.name
            self.vocab = vocab
            self.model = .byteLevel(try ByteLevelBPEModel(vocab: vocab, merges: data.merges, preTokenizer: pre))
        case "llama":
            let vocab = try Vocabulary(data, kind: .sentencePiece, defaultAddBOS: true, cleanSpaces: false)
            self.kind = .sentencePiece
            self.preTokenizerName = nil
            self.vocab = vocab
            self.model = .sentencePiece(SentencePieceModel(vocab: vocab))
        default:
            throw TokenizerError(
                .unsupportedModel, source: data.source,
                "tokenizer.ggml.model: expected \"gpt2\" (byte-level BPE) or \"llama\" (SentencePiece BPE), found "
                    + String(reflecting: data.model))
        }
        self.chatTemplate = data.chatTemplate
    }

    public var vocabSize: Int { vocab.count }
    public var bosID: Int32? { vocab.bos }
    public var eosID: Int32? { vocab.eos }
    public var unkID: Int32? { vocab.unk }
    public var padID: Int32? { vocab.pad }
    /// The end-of-turn token ("<|im_end|>", "<|eot_id|>", ...), where there is one.
    public var eotID: Int32? { vocab.eot }
    public var addsBOS: Bool { vocab.addBOS }
    public var addsEOS: Bool { vocab.addEOS }
    /// SentencePiece: a space is put before text that starts the input or follows a special token.
    public var addsSpacePrefix: Bool { vocab.addSpacePrefix }
    public var endOfGenerationIDs: [Int32] { vocab.endOfGeneration.sorted() }

    public func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        let bytes = Array(text.utf8)
        let fragments = SpecialTokens.partition(bytes, vocab: vocab, parseSpecial: parseSpecial)
        var output: [Int32] = []
        output.reserveCapacity(bytes.count / 3 + 4)
        switch model {
        case .byteLevel(let bpe):
            if addSpecial && vocab.addBOS, let bos = vocab.bos { output.append(bos) }
            var cache: [ArraySlice<UInt8>: [Int32]] = [:]
            for fragment in fragments {
                switch fragment {
                case .text(let range): bpe.tokenize(bytes[range], into: &output, cache: &cache)
                case .token(let id): output.append(id)
                }
            }
        case .sentencePiece(let spm):
            var previousIsSpecial = true  // the start counts as "after a special token"
            if addSpecial && vocab.addBOS, let bos = vocab.bos { output.append(bos) }
            for fragment in fragments {
                switch fragment {
                case .text(let range):
                    var text: [UInt8] = []
                    if vocab.addSpacePrefix && previousIsSpecial { text.append(0x20) }
                    text.append(contentsOf: bytes[range])
                    spm.tokenize(text, into: &output)
                    previousIsSpecial = false
                case .token(let id):
                    output.append(id)
                    previousIsSpecial = true
                }
            }
        }
        if addSpecial && vocab.addEOS, let eos = vocab.eos { output.append(eos) }
        return output
    }

    public func tokenBytes(_ id: Int32) -> [UInt8] {
        vocab.isValid(id) ? vocab.pieces[Int(id)] : []
    }

    public func tokenText(_ id: Int32) -> String? {
        vocab.isValid(id) ? String(decoding: vocab.texts[Int(id)], as: UTF8.self) : nil
    }

    public func tokenID(_ text: String) -> Int32? { vocab.id(of: Array(text.utf8)) }

    public func isSpecial(_ id: Int32) -> Bool {
        vocab.isValid(id) && !vocab.attributes[Int(id)].intersection([.control, .unknown]).isEmpty
    }

    public func isEndOfGeneration(_ id: Int32) -> Bool { vocab.endOfGeneration.contains(id) }

    public func decode(_ ids: [Int32], skipSpecial: Bool) -> String {
        String(decoding: decodeBytes(ids, skipSpecial: skipSpecial), as: UTF8.self)
    }

    public func decodeBytes(_ ids: [Int32], skipSpecial: Bool) -> [UInt8] {
        var tokens = ids[...]
        var removeSpace = vocab.addSpacePrefix
        if skipSpecial && vocab.addBOS, let first = tokens.first, first == vocab.bos {
            removeSpace = false
            tokens = tokens.dropFirst()
        }
        if skipSpecial && vocab.addEOS, let last = tokens.last, last == vocab.eos {
            tokens = tokens.dropLast()
        }
        var text: [UInt8] = []
        for id in tokens {
            guard vocab.isValid(id) else { continue }
            if skipSpecial && isSpecial(id) {
                removeSpace = false
                continue
            }
            var piece = vocab.pieces[Int(id)][...]
            if removeSpace, piece.first == 0x20 { piece = piece.dropFirst() }
            removeSpace = false
            text.append(contentsOf: piece)
        }
        if vocab.cleanSpaces { BPETokenizer.cleanSpaces(&text) }
        return text
    }

    /// llama.cpp's clean_up_tokenization_spaces passes.
    static func cleanSpaces(_ text: inout [UInt8]) {
        let space: UInt8 = 0x20
        let quote: UInt8 = 0x27
        // " ?", " !", " .", " ," -> drop the space
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for (i, x) in text.enumerated() {
            if i > 0, text[i - 1] == space, x == 0x3F || x == 0x21 || x == 0x2E || x == 0x2C { out.removeLast() }
            out.append(x)
        }
        // " ' " -> "'"
        text = out
        out.removeAll(keepingCapacity: true)
        var i = 0
        var blanked = -1  // llama.cpp overwrites the dropped space with NUL, which later checks then see
        while i < text.count {
            let x = text[i]
            if i > 0, x == quote, i + 1 < text.count, i - 1 != blanked, text[i - 1] == space, text[i + 1] == space {
                out.removeLast()
                out.append(x)
                blanked = i + 1
                i += 2
                continue
            }
            out.append(x)
            i += 1
        }
        // " 's", " 'm", " 're", " 've" -> drop the space
        text = out
        out.removeAll(keepingCapacity: true)
        for (i, x) in text.enumerated() {
            if i > 0, text[i - 1] == space, x == quote, i + 1 < text.count {
                let x1 = text[i + 1]
                if x1 == 0x73 || x1 == 0x6D {
                    out.removeLast()
                } else if i + 2 < text.count {
                    let x2 = text[i + 2]
                    if (x1 == 0x72 && x2 == 0x65) || (x1 == 0x76 && x2 == 0x65) { out.removeLast() }
                }
            }
            out.append(x)
        }
        text = out
    }
}

/// Turns a stream of token ids into text pieces that are always complete UTF-8: bytes of a character split
/// across tokens are held back until the character is complete.
public struct StreamingDecoder: Sendable {
    private let tokenizer: any Tokenizer
    private let skipSpecial: Bool
    private var stripLeadingSpace: Bool
    private var pending: [UInt8] = []

    /// `stripLeadingSpace`: drop one leading space of the first piece (SentencePiece output that starts a text).
    public init(tokenizer: any Tokenizer, skipSpecial: Bool = true, stripLeadingSpace: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
        self.stripLeadingSpace = stripLeadingSpace
    }

    /// Adds one token; returns the text that became complete (possibly empty).
    public mutating func push(_ id: Int32) -> String {
        if skipSpecial && tokenizer.isSpecial(id) { return "" }
        var bytes = tokenizer.tokenBytes(id)[...]
        if stripLeadingSpace && !bytes.isEmpty {
            if bytes.first == 0x20 { bytes = bytes.dropFirst() }
            stripLeadingSpace = false
        }
        pending.append(contentsOf: bytes)
        let complete = StreamingDecoder.completePrefixLength(pending)
        if complete == 0 { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Returns whatever is held back (an incomplete character becomes U+FFFD) and empties the decoder.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a UTF-8 sequence that could still be completed.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var back = 1
        while back <= min(3, n) {
            let b = bytes[n - back]
            if b & 0xC0 != 0x80 {  // a lead byte or ASCII
                let need: Int
                if b < 0x80 {
                    need = 1
                } else if b & 0xE0 == 0xC0 {
                    need = 2
                } else if b & 0xF0 == 0xE0 {
                    need = 3
                } else if b & 0xF8 == 0xF0 {
                    need = 4
                } else {
                    need = 1
                }
                return need > back ? n - back : n
            }
            back += 1
        }
        return n
    }
}
