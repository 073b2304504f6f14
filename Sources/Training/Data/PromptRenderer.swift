import Tokenizers

// How a record becomes tokens and labels (DESIGN.md §1), and the same prompt for eval and generate.
//
//   tokens = [BOS where the tokenizer adds one] + prompt + response        (no padding anywhere)
//   labels = -100 on every prompt position, labels[t] = tokens[t] on the response positions
//            (Hugging Face alignment: the logits at t-1 are scored against labels[t])
//
//   Alpaca template:  prompt = the Stanford Alpaca text (with or without input), response = output + EOS.
//   Chat template:    prompt = the model's chat template up to the assistant's generation prompt,
//                     response = the assistant turn as the template writes it (content + end-of-turn marker).
//
// The prompt and the response are tokenized separately and concatenated: the model is trained on exactly the
// token boundary it sees when it is given the prompt and asked to generate, and no BPE merge can straddle the
// prompt/response boundary (which would blur which positions are labelled). Record text (Alpaca fields) is
// tokenized with special-token parsing off, so a "<|im_end|>" typed in the data stays text; chat-template
// renders need parsing on for their markers.

/// Which prompt format renders Alpaca records (`--template alpaca|chat`). Chat records always use the model's
/// chat template.
public enum PromptTemplate: String, Sendable, CaseIterable, Codable {
    case alpaca
    case chat
}

/// Why a renderer cannot be built for a tokenizer.
public struct PromptRendererError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct PromptRenderer: Sendable {
    /// The opening of the Stanford Alpaca prompt for a record with an input.
    public static let alpacaWithInputHeader =
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        + "Write a response that appropriately completes the request.\n\n"
    /// The opening of the Stanford Alpaca prompt for a record without input.
    public static let alpacaNoInputHeader =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"

    public let template: PromptTemplate
    public let tokenizer: any Tokenizer
    /// The model's chat template (present when `template` is `.chat`).
    public let chatTemplate: ChatTemplate?

    /// Throws when the model file lacks what the template needs: an EOS token (Alpaca) or a supported chat
    /// template (chat).
    public init(tokenizer: any Tokenizer, template: PromptTemplate) throws(PromptRendererError) {
        self.tokenizer = tokenizer
        self.template = template
        switch template {
        case .alpaca:
            guard tokenizer.eosID != nil else {
                throw PromptRendererError("the tokenizer has no EOS token to end Alpaca responses with")
            }
            self.chatTemplate = nil
        case .chat:
            do {
                self.chatTemplate = try ChatTemplate(tokenizer: tokenizer)
            } catch {
                throw PromptRendererError("\(error)")
            }
        }
    }

    /// The Alpaca prompt text: the with-input variant when `input` is not empty (as Stanford Alpaca does).
    public static func alpacaPrompt(instruction: String, input: String) -> String {
        if input.isEmpty {
            return alpacaNoInputHeader + "### Instruction:\n" + instruction + "\n\n### Response:\n"
        }
        return alpacaWithInputHeader + "### Instruction:\n" + instruction + "\n\n### Input:\n" + input
            + "\n\n### Response:\n"
    }

    /// The user turn an Alpaca record becomes under the chat template: the instruction, then a blank line and the
    /// input when there is one.
    public static func chatUserContent(instruction: String, input: String) -> String {
        input.isEmpty ? instruction : instruction + "\n\n" + input
    }

    // MARK: - Prompts (what eval and generate send)

    /// The prompt text of an Alpaca record, exactly as in training (without the BOS token).
    public func promptText(instruction: String, input: String = "") -> String {
        switch template {
        case .alpaca: return PromptRenderer.alpacaPrompt(instruction: instruction, input: input)
        case .chat:
            let content = PromptRenderer.chatUserContent(instruction: instruction, input: input)
            return chatRender([.user(content)], generationPrompt: true)
        }
    }

    /// The prompt tokens of an Alpaca record, exactly as in training (with BOS where the tokenizer adds one):
    /// generation continues from here.
    public func promptTokens(instruction: String, input: String = "") -> [Int32] {
        switch template {
        case .alpaca:
            return leadingBOS() + tokenizer.encode(
                promptText(instruction: instruction, input: input), addSpecial: false, parseSpecial: false)
        case .chat:
            let content = PromptRenderer.chatUserContent(instruction: instruction, input: input)
            return chatPromptTokens([.user(content)])
        }
    }

    /// The prompt tokens of a conversation under the chat template, ending with the assistant's generation prompt.
    /// Precondition: `template == .chat`.
    public func chatPromptTokens(_ messages: [ChatMessage]) -> [Int32] {
        leadingBOS() + encodeTemplated(chatRender(messages, generationPrompt: true))
    }

    /// The labelled tokens of a response: output + EOS (Alpaca) or the assistant turn (chat).
    public func responseTokens(_ output: String) -> [Int32] {
        switch template {
        case .alpaca:
            // init checked that there is an EOS token.
            return tokenizer.encode(output, addSpecial: false, parseSpecial: false) + [tokenizer.eosID ?? 0]
        case .chat:
            return encodeTemplated(chatAssistantTurn(output))
        }
    }

    // MARK: - Training examples

    /// Tokens and HF-aligned labels of an Alpaca record (before truncation).
    public func example(_ record: AlpacaRecord) -> (inputIDs: [Int32], labels: [Int32]) {
        let prompt = promptTokens(instruction: record.instruction, input: record.input)
        let response = responseTokens(record.output)
        return (prompt + response, [Int32](repeating: ignoredLabel, count: prompt.count) + response)
    }

    /// Tokens and labels of a conversation: every assistant turn labelled, everything else -100. Messages after
    /// the last assistant turn are dropped (nothing would be learned from them). Precondition: `template == .chat`.
    func chatExample(_ messages: [ChatMessage]) throws(RecordProblem) -> (inputIDs: [Int32], labels: [Int32]) {
        if let first = messages.firstIndex(where: { $0.role != "system" }), messages[first].role != "user" {
            throw RecordProblem(
                .invalidValue, field: "messages[\(first)].role",
                "expected the first non-system turn to be \"user\", found \(String(reflecting: messages[first].role))")
        }
        var ids = leadingBOS()
        var labels = [Int32](repeating: ignoredLabel, count: ids.count)
        var rendered: [UInt8] = []  // the text tokenized so far
        for (i, message) in messages.enumerated() where message.role == "assistant" {
            let prompt = Array(chatRender(Array(messages[..<i]), generationPrompt: true).utf8)
            guard prompt.starts(with: rendered) else {
                throw RecordProblem(
                    .invalidValue, field: "messages[\(i)]",
                    "the chat template does not render this conversation turn by turn (its prefix changes)")
            }
            let promptPart = encodeTemplated(String(decoding: prompt[rendered.count...], as: UTF8.self))
            ids += promptPart
            labels += [Int32](repeating: ignoredLabel, count: promptPart.count)
            let turn = chatAssistantTurn(message.content)
            let reply = encodeTemplated(turn)
            ids += reply
            labels += reply
            rendered = prompt + Array(turn.utf8)
        }
        return (ids, labels)
    }

    // MARK: - Pieces

    /// [BOS] where the tokenizer adds one and the rendered text does not already start with its text.
    private func leadingBOS() -> [Int32] {
        if template == .chat, chatTemplate?.startsWithBOS == true { return [] }
        if tokenizer.addsBOS, let bos = tokenizer.bosID { return [bos] }
        return []
    }

    private func chatRender(_ messages: [ChatMessage], generationPrompt: Bool) -> String {
        guard let chatTemplate else { preconditionFailure("PromptRenderer: chat rendering needs template .chat") }
        return chatTemplate.render(messages, addGenerationPrompt: generationPrompt)
    }

    private func chatAssistantTurn(_ content: String) -> String {
        guard let chatTemplate else { preconditionFailure("PromptRenderer: chat rendering needs template .chat") }
        return chatTemplate.assistantTurn(content)
    }

    /// Template text: its marker texts ("<|im_start|>", "<s>") become their control tokens.
    private func encodeTemplated(_ text: String) -> [Int32] {
        tokenizer.encode(text, addSpecial: false, parseSpecial: true)
    }
}
