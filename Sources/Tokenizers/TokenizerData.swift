// The tokenizer description read from a model file, as plain Swift values.
//
// Everything in Tokenizers is built from a `TokenizerData`; only GGUFTokenizerLoading.swift knows where the
// values come from (GGUF keys `tokenizer.ggml.*` and `tokenizer.chat_template`). Fields left `nil` take the
// defaults llama.cpp uses for the model kind, so a value built by hand behaves like the same GGUF file.

/// GGUF `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`).
public enum TokenType: Int, Sendable, CaseIterable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6
}

/// The vocabulary and settings of one tokenizer, independent of the file format.
public struct TokenizerData: Sendable, Equatable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece-style BPE).
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer name of byte-level BPE ("smollm", "llama-bpe", "gpt-2", ...);
    /// nil or "default" selects llama.cpp's default splitter. Ignored for "llama".
    public var preTokenizer: String?
    /// `tokenizer.ggml.tokens`: token texts, indexed by id (byte-level BPE stores them in the GPT-2 byte alphabet,
    /// SentencePiece stores UTF-8 with "▁" for spaces and "<0xNN>" byte tokens).
    public var tokens: [String]
    /// `tokenizer.ggml.scores` (SentencePiece merge priorities); nil means all 0.
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type` (`TokenType` raw values); nil means all normal.
    public var tokenTypes: [Int]?
    /// `tokenizer.ggml.merges` ("left right", rank = index); byte-level BPE only.
    public var merges: [String]
    public var bosID: Int?
    public var eosID: Int?
    public var unkID: Int?
    public var padID: Int?
    /// `tokenizer.ggml.eot_token_id` / `eom_token_id`: extra end-of-generation tokens, where the file names them.
    public var eotID: Int?
    public var eomID: Int?
    /// `tokenizer.ggml.add_bos_token`; nil: llama.cpp's default for the model (SentencePiece and LLaMA-3 style
    /// byte-level: true, other byte-level: false).
    public var addBOS: Bool?
    /// `tokenizer.ggml.add_eos_token`; nil: false.
    public var addEOS: Bool?
    /// `tokenizer.ggml.add_space_prefix`; nil: true for SentencePiece, false for byte-level.
    public var addSpacePrefix: Bool?
    /// `tokenizer.chat_template` (Jinja source), if the file has one.
    public var chatTemplate: String?
    /// Where the data came from (a file path), used in error messages.
    public var source: String

    public init(
        model: String, preTokenizer: String? = nil, tokens: [String], scores: [Float]? = nil,
        tokenTypes: [Int]? = nil, merges: [String] = [], bosID: Int? = nil, eosID: Int? = nil, unkID: Int? = nil,
        padID: Int? = nil, eotID: Int? = nil, eomID: Int? = nil, addBOS: Bool? = nil, addEOS: Bool? = nil,
        addSpacePrefix: Bool? = nil, chatTemplate: String? = nil, source: String = "<tokenizer data>"
    ) {
        self.model = model
        self.preTokenizer = preTokenizer
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosID = bosID
        self.eosID = eosID
        self.unkID = unkID
        self.padID = padID
        self.eotID = eotID
        self.eomID = eomID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
        self.source = source
    }
}

/// A tokenizer description that cannot be used: names the source, the field, what was expected and found.
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case unsupportedModel, unsupportedPreTokenizer, badVocabulary, badMerges, missingKey, unsupportedChatTemplate
    }
    public let kind: Kind
    public let source: String
    public let message: String

    public init(_ kind: Kind, source: String, _ message: String) {
        self.kind = kind
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}
