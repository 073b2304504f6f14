// The training-data formats and the one error type for bad data (DESIGN.md §9).

/// The record format of a training file; detected from the first record, or given (`--data-format`).
public enum DataFormat: String, Sendable, CaseIterable, Codable {
    /// `{"instruction": …, "input": … (optional), "output": …}`, as a JSON array or JSONL.
    case alpaca
    /// `{"messages": [{"role": "system"|"user"|"assistant", "content": …}, …]}` JSONL; assistant turns are trained.
    case chat
    /// `{"input_ids": [...], "labels": [...] (optional)}` JSONL, labels aligned as in Hugging Face.
    case tokenized
}

/// Bad training data: the file, the 1-based line, the field (a JSON path such as `messages[2].content`) where
/// it applies, and what was expected and found. `description` is the message users see:
/// `data.jsonl:3: output: missing (expected a string)`.
public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        /// The file cannot be read.
        case unreadableFile
        /// A record is not valid JSON (or the array around the records is broken).
        case invalidJSON
        /// A record is valid JSON but not an object.
        case notAnObject
        /// The format cannot be detected from the first record.
        case unknownFormat
        case missingField
        case wrongType
        /// An empty response (`output`, an assistant `content`) or an empty list.
        case emptyField
        /// An unknown chat role.
        case invalidValue
        /// `labels` and `input_ids` differ in length.
        case lengthMismatch
        /// A token id outside the vocabulary.
        case idOutOfRange
        /// A record that leaves nothing to train on (no assistant turn, no label at a scored position).
        case noLabels
        /// Text data without a tokenizer, or a chat template the model file lacks.
        case tokenizer
        /// Nothing is left to train on after skipping bad records.
        case emptyDataset
    }

    public let kind: Kind
    public let file: String
    /// 1-based line of the record (of the error itself for invalid JSON); nil for errors about the whole file.
    public let line: Int?
    /// The field, as a JSON path, where one is at fault.
    public let field: String?
    /// What is wrong: what was expected and what was found.
    public let message: String

    public init(_ kind: Kind, file: String, line: Int? = nil, field: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        var out = file
        if let line { out += ":\(line)" }
        out += ": "
        if let field { out += "\(field): " }
        return out + message
    }
}

/// A problem found in one record, before the file and line are attached.
struct RecordProblem: Error, Sendable {
    var kind: DataError.Kind
    var field: String?
    var message: String
    /// A byte offset for a line more precise than the record's (syntax errors in multi-line records).
    var offset: Int?

    init(_ kind: DataError.Kind, field: String? = nil, _ message: String, offset: Int? = nil) {
        self.kind = kind
        self.field = field
        self.message = message
        self.offset = offset
    }
}
