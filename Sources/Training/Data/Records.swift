import Tokenizers

// Typed records decoded from parsed JSON, with a field-level problem for everything that can be wrong.
// Unknown members are ignored (datasets often carry ids or metadata).

/// One Alpaca record. `input` is "" when absent or null.
public struct AlpacaRecord: Sendable, Equatable {
    public var instruction: String
    public var input: String
    public var output: String

    public init(instruction: String, input: String = "", output: String) {
        self.instruction = instruction
        self.input = input
        self.output = output
    }
}

/// One pre-tokenized record, labels already filled in (= input_ids when the file has none).
struct TokenizedRecord: Sendable, Equatable {
    var inputIDs: [Int32]
    var labels: [Int32]
}

/// The value a label takes at an ignored position.
public let ignoredLabel: Int32 = -100

enum RecordDecoder {
    static let chatRoles = ["system", "user", "assistant"]

    /// The format a record looks like: `messages` → chat, `input_ids` → tokenized, `instruction`/`output` → Alpaca.
    static func detect(_ object: [String: JSONValue]) -> DataFormat? {
        if object["messages"] != nil { return .chat }
        if object["input_ids"] != nil { return .tokenized }
        if object["instruction"] != nil || object["output"] != nil { return .alpaca }
        return nil
    }

    static func object(_ value: JSONValue) throws(RecordProblem) -> [String: JSONValue] {
        guard case .object(let members) = value else {
            throw RecordProblem(.notAnObject, "expected a JSON object, found \(value.kindDescription)")
        }
        return members
    }

    static func alpaca(_ record: [String: JSONValue]) throws(RecordProblem) -> AlpacaRecord {
        let instruction = try string(record, "instruction", required: true) ?? ""
        let input = try string(record, "input", required: false) ?? ""
        let output = try string(record, "output", required: true) ?? ""
        guard !isBlank(output) else {
            throw RecordProblem(.emptyField, field: "output", "empty (expected a non-empty response)")
        }
        return AlpacaRecord(instruction: instruction, input: input, output: output)
    }

    static func chat(_ record: [String: JSONValue]) throws(RecordProblem) -> [ChatMessage] {
        guard let value = record["messages"] else {
            throw RecordProblem(.missingField, field: "messages", "missing (expected an array of {role, content})")
        }
        guard case .array(let items) = value else {
            throw RecordProblem(
                .wrongType, field: "messages", "expected an array of {role, content}, found \(value.kindDescription)")
        }
        guard !items.isEmpty else {
            throw RecordProblem(.emptyField, field: "messages", "empty (expected at least a user and an assistant turn)")
        }
        var messages: [ChatMessage] = []
        for (i, item) in items.enumerated() {
            let path = "messages[\(i)]"
            guard case .object(let m) = item else {
                throw RecordProblem(.wrongType, field: path, "expected an object {role, content}, found \(item.kindDescription)")
            }
            let role = try string(m, "role", required: true, path: path) ?? ""
            guard chatRoles.contains(role) else {
                throw RecordProblem(
                    .invalidValue, field: "\(path).role",
                    "expected \"system\", \"user\" or \"assistant\", found \(String(reflecting: role))")
            }
            let content = try string(m, "content", required: true, path: path) ?? ""
            if role == "assistant", isBlank(content) {
                throw RecordProblem(.emptyField, field: "\(path).content", "empty (expected a non-empty assistant reply)")
            }
            messages.append(ChatMessage(role: role, content: content))
        }
        guard messages.contains(where: { $0.role == "assistant" }) else {
            throw RecordProblem(.noLabels, field: "messages", "no assistant turn (nothing to train on)")
        }
        return messages
    }

    /// `vocabSize` nil: ids are only checked to be non-negative 32-bit integers.
    static func tokenized(_ record: [String: JSONValue], vocabSize: Int?) throws(RecordProblem) -> TokenizedRecord {
        let inputIDs = try ids("input_ids", in: record, vocabSize: vocabSize, allowIgnored: false, required: true) ?? []
        guard inputIDs.count >= 2 else {
            throw RecordProblem(
                .emptyField, field: "input_ids", "\(inputIDs.count) token(s) (expected at least 2: nothing is scored before the second)")
        }
        var labels = inputIDs
        if let given = try ids("labels", in: record, vocabSize: vocabSize, allowIgnored: true, required: false) {
            guard given.count == inputIDs.count else {
                throw RecordProblem(
                    .lengthMismatch, field: "labels",
                    "length \(given.count) does not match input_ids length \(inputIDs.count)")
            }
            labels = given
        }
        guard labels.dropFirst().contains(where: { $0 != ignoredLabel }) else {
            throw RecordProblem(
                .noLabels, field: "labels", "every scored position (t ≥ 1) is -100 (nothing to train on)")
        }
        return TokenizedRecord(inputIDs: inputIDs, labels: labels)
    }

    // MARK: - Fields

    private static func string(
        _ object: [String: JSONValue], _ key: String, required: Bool, path: String? = nil
    ) throws(RecordProblem) -> String? {
        let field = path.map { "\($0).\(key)" } ?? key
        switch object[key] {
        case .string(let s)?: return s
        case nil:
            if required { throw RecordProblem(.missingField, field: field, "missing (expected a string)") }
            return nil
        case .null? where !required: return nil
        case let other?: throw RecordProblem(.wrongType, field: field, "expected a string, found \(other.kindDescription)")
        }
    }

    private static func ids(
        _ key: String, in object: [String: JSONValue], vocabSize: Int?, allowIgnored: Bool, required: Bool
    ) throws(RecordProblem) -> [Int32]? {
        guard let value = object[key], value != .null || required else {
            if required { throw RecordProblem(.missingField, field: key, "missing (expected an array of token ids)") }
            return nil
        }
        guard case .array(let items) = value else {
            throw RecordProblem(.wrongType, field: key, "expected an array of token ids, found \(value.kindDescription)")
        }
        let upper = Int64(vocabSize ?? Int(Int32.max))
        let range = vocabSize.map { "0..<\($0)" } ?? "a non-negative 32-bit id"
        var out: [Int32] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .integer(let id) = item else {
                throw RecordProblem(.wrongType, field: "\(key)[\(i)]", "expected an integer token id, found \(item.kindDescription)")
            }
            if allowIgnored && id == Int64(ignoredLabel) {
                out.append(ignoredLabel)
                continue
            }
            guard id >= 0 && id < upper else {
                let expected = allowIgnored ? "-100 or \(range)" : range
                throw RecordProblem(.idOutOfRange, field: "\(key)[\(i)]", "id \(id) out of range (expected \(expected))")
            }
            out.append(Int32(id))
        }
        return out
    }

    static func isBlank(_ s: String) -> Bool { s.unicodeScalars.allSatisfy { $0.properties.isWhitespace } }
}
