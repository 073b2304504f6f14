// The one place that reads tokenizer metadata from a GGUF file (keys as llama.cpp's LLM_KV_TOKENIZER_*).

import ModelFiles

extension TokenizerData {
    /// The tokenizer described by `file`'s `tokenizer.*` metadata.
    public init(gguf file: GGUFFile) throws {
        let source = file.path
        func wrongType(_ key: String, expected: String, _ value: GGUFValue) -> TokenizerError {
            TokenizerError(.badVocabulary, source: source, "\(key): expected \(expected), found \(value.type)")
        }
        func string(_ key: String) throws -> String? {
            guard let value = file.metadata[key] else { return nil }
            guard let s = value.stringValue else { throw wrongType(key, expected: "STRING", value) }
            return s
        }
        func int(_ key: String) throws -> Int? {
            guard let value = file.metadata[key] else { return nil }
            guard let v = value.intValue else { throw wrongType(key, expected: "an integer", value) }
            return v
        }
        func bool(_ key: String) throws -> Bool? {
            guard let value = file.metadata[key] else { return nil }
            guard let v = value.boolValue else { throw wrongType(key, expected: "BOOL", value) }
            return v
        }
        func strings(_ key: String) throws -> [String]? {
            guard let value = file.metadata[key] else { return nil }
            guard let v = value.stringArray else { throw wrongType(key, expected: "ARRAY of STRING", value) }
            return v
        }

        guard let model = try string("tokenizer.ggml.model") else {
            throw TokenizerError(
                .missingKey, source: source, "tokenizer.ggml.model: missing; the file has no tokenizer")
        }
        guard let tokens = try strings("tokenizer.ggml.tokens") else {
            throw TokenizerError(.missingKey, source: source, "tokenizer.ggml.tokens: missing")
        }
        let merges = try strings("tokenizer.ggml.merges")
        if model == "gpt2" && merges == nil {
            throw TokenizerError(
                .missingKey, source: source, "tokenizer.ggml.merges: missing; byte-level BPE needs merges")
        }
        var scores: [Float]?
        if let value = file.metadata["tokenizer.ggml.scores"] {
            guard let v = value.floatArray else {
                throw wrongType("tokenizer.ggml.scores", expected: "ARRAY of FLOAT32", value)
            }
            scores = v
        }
        var types: [Int]?
        if let value = file.metadata["tokenizer.ggml.token_type"] {
            guard let v = value.intArray else {
                throw wrongType("tokenizer.ggml.token_type", expected: "ARRAY of INT32", value)
            }
            types = v
        }
        self.init(
            model: model,
            preTokenizer: try string("tokenizer.ggml.pre"),
            tokens: tokens,
            scores: scores,
            tokenTypes: types,
            merges: merges ?? [],
            bosID: try int("tokenizer.ggml.bos_token_id"),
            eosID: try int("tokenizer.ggml.eos_token_id"),
            unkID: try int("tokenizer.ggml.unknown_token_id"),
            padID: try int("tokenizer.ggml.padding_token_id"),
            eotID: try int("tokenizer.ggml.eot_token_id"),
            eomID: try int("tokenizer.ggml.eom_token_id"),
            addBOS: try bool("tokenizer.ggml.add_bos_token"),
            addEOS: try bool("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: try bool("tokenizer.ggml.add_space_prefix"),
            chatTemplate: try string("tokenizer.chat_template"),
            source: source)
    }
}

extension TokenizerLoader {
    /// The tokenizer of an opened GGUF model file.
    public static func load(gguf file: GGUFFile) throws -> any Tokenizer {
        try load(TokenizerData(gguf: file))
    }

    /// Opens the GGUF file at `path` and loads its tokenizer (throws `ModelFileError` for an unreadable file,
    /// `TokenizerError` for an unusable tokenizer).
    public static func load(ggufPath path: String) throws -> any Tokenizer {
        try load(gguf: GGUFFile(path: path))
    }
}
