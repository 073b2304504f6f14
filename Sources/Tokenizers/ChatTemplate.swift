// Chat templates without a Jinja engine: the family is recognised from the model's `tokenizer.chat_template`
// source and rendered by hand, producing the same text the Jinja template does.
//
//   ChatML (SmolLM2, Qwen, ...), recognised by "<|im_start|>":
//       [<|im_start|>system\n{default system prompt}<|im_end|>\n   when the first message is not a system one
//                                                                  and the template carries a literal default]
//       <|im_start|>{role}\n{content}<|im_end|>\n ...           [<|im_start|>assistant\n]
//   LLaMA-2, recognised by "[INST]" (Meta's template; a leading system message goes into the first user turn):
//       {bos}[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user, stripped} [/INST] {assistant, stripped} {eos}{bos}[INST] ...
//   LLaMA-3, recognised by "<|start_header_id|>":
//       {bos}<|start_header_id|>{role}<|end_header_id|>\n\n{content, trimmed}<|eot_id|> ...
//       [<|start_header_id|>assistant<|end_header_id|>\n\n]
//
// The LLaMA templates put the BOS token's text in the rendered string: encode it with addSpecial false
// (`startsWithBOS` says so), and parseSpecial true so the marker texts become their control tokens.

public struct ChatMessage: Sendable, Equatable, Hashable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

public struct ChatTemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct ChatTemplate: Sendable, Equatable {
    public enum Family: String, Sendable {
        case chatML
        case llama2
        case llama3
    }

    public let family: Family
    /// ChatML: the system prompt the template inserts when the conversation has none.
    public let defaultSystemPrompt: String?
    public let bosToken: String
    public let eosToken: String

    public init(family: Family, defaultSystemPrompt: String? = nil, bosToken: String? = nil, eosToken: String? = nil) {
        self.family = family
        self.defaultSystemPrompt = defaultSystemPrompt
        switch family {
        case .chatML:
            self.bosToken = bosToken ?? ""
            self.eosToken = eosToken ?? "<|im_end|>"
        case .llama2:
            self.bosToken = bosToken ?? "<s>"
            self.eosToken = eosToken ?? "</s>"
        case .llama3:
            self.bosToken = bosToken ?? "<|begin_of_text|>"
            self.eosToken = eosToken ?? "<|end_of_text|>"
        }
    }

    /// Recognises the family of a Jinja chat template; `bosToken`/`eosToken` are the texts of the model's BOS
    /// and EOS tokens (used by the LLaMA families). Throws for a missing or unrecognised template.
    public init(template: String?, bosToken: String? = nil, eosToken: String? = nil) throws {
        guard let template, !template.isEmpty else {
            throw ChatTemplateError(
                "chat template: the model file has no tokenizer.chat_template; pass a template or use the Alpaca format"
            )
        }
        if template.contains("<|im_start|>") {
            self.init(
                family: .chatML, defaultSystemPrompt: ChatTemplate.literalSystemPrompt(in: template),
                bosToken: bosToken, eosToken: eosToken)
        } else if template.contains("<|start_header_id|>") {
            self.init(family: .llama3, bosToken: bosToken, eosToken: eosToken)
        } else if template.contains("[INST]") {
            self.init(family: .llama2, bosToken: bosToken, eosToken: eosToken)
        } else {
            var head = String(template.prefix(120))
            if head.count < template.count { head += "…" }
            throw ChatTemplateError(
                "chat template: unsupported template (supported: ChatML with <|im_start|>, LLaMA-2 [INST], LLaMA-3 "
                    + "<|start_header_id|>); it begins \(String(reflecting: head))")
        }
    }

    /// The template of `tokenizer`'s model file, with its BOS/EOS texts.
    public init(tokenizer: any Tokenizer) throws {
        try self.init(
            template: tokenizer.chatTemplate, bosToken: tokenizer.bosID.flatMap(tokenizer.tokenText),
            eosToken: tokenizer.eosID.flatMap(tokenizer.tokenText))
    }

    /// Whether rendered text begins with the BOS token's text (then encode it without adding BOS again).
    public var startsWithBOS: Bool { family != .chatML && !bosToken.isEmpty }

    /// The conversation as the template renders it.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        switch family {
        case .chatML:
            if let system = defaultSystemPrompt, let first = messages.first, first.role != "system" {
                out += "<|im_start|>system\n\(system)<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for (i, m) in messages.enumerated() {
                if i == 0 { out += bosToken }
                out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(ChatTemplate.strip(m.content))<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .llama2:
            var turns = messages[...]
            var system: String?
            if let first = turns.first, first.role == "system" {
                system = first.content
                turns = turns.dropFirst()
            }
            for (i, m) in turns.enumerated() {
                var content = m.content
                if i == 0, let system { content = "<<SYS>>\n\(system)\n<</SYS>>\n\n" + content }
                if m.role == "user" {
                    out += "\(bosToken)[INST] \(ChatTemplate.strip(content)) [/INST]"
                } else if m.role == "assistant" {
                    out += " \(ChatTemplate.strip(content)) \(eosToken)"
                }
            }
        }
        return out
    }

    /// The text an assistant reply adds after `render(messages, addGenerationPrompt: true)`:
    /// `render(m, true) + assistantTurn(c) == render(m + [.assistant(c)], false)` (the reply's labels).
    public func assistantTurn(_ content: String) -> String {
        switch family {
        case .chatML: return "\(content)<|im_end|>\n"
        case .llama3: return "\(ChatTemplate.strip(content))<|eot_id|>"
        case .llama2: return " \(ChatTemplate.strip(content)) \(eosToken)"
        }
    }

    /// Python `str.strip()` (Jinja `trim`): Unicode whitespace and U+001C...U+001F at both ends.
    static func strip(_ s: String) -> String {
        func isSpace(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace || (0x1C...0x1F).contains(u.value) }
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[first...last])
    }

    /// A literal default system prompt in a ChatML template: the text between "<|im_start|>system" + newline
    /// (a real one or the escape "\n") and the next "<|im_end|>", when it is plain text (no quotes or Jinja).
    static func literalSystemPrompt(in template: String) -> String? {
        let marker = "<|im_start|>system"
        var rest = Substring(template)
        while let range = rest.range(of: marker) {
            var after = rest[range.upperBound...]
            if after.hasPrefix("\n") {
                after = after.dropFirst()
            } else if after.hasPrefix("\\n") {
                after = after.dropFirst(2)
            } else {
                rest = after
                continue
            }
            if let end = after.range(of: "<|im_end|>") {
                let text = after[..<end.lowerBound]
                if !text.isEmpty, !text.contains(where: { "'\"{}".contains($0) }) {
                    return String(text).replacingEscapedNewlines()
                }
            }
            rest = after
        }
        return nil
    }
}

extension String {
    fileprivate func replacingEscapedNewlines() -> String {
        var out = ""
        var it = self.makeIterator()
        while let c = it.next() {
            if c == "\\" {
                if let n = it.next() {
                    out.append(n == "n" ? "\n" : (n == "t" ? "\t" : n))
                }
            } else {
                out.append(c)
            }
        }
        return out
    }
}

extension Substring {
    fileprivate func range(of needle: String) -> Range<Substring.Index>? {
        guard let first = needle.first else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i] == first, self[i...].hasPrefix(needle) {
                return i..<index(i, offsetBy: needle.count)
            }
            i = index(after: i)
        }
        return nil
    }
}
