import Foundation
import ModelFiles
import Tokenizers

// Loading a training file into examples (DESIGN.md §1, §9): read the bytes, split them into records, detect or
// check the format, decode each record, render and tokenize it, truncate to the maximum length.
//
// A bad record (invalid JSON, a missing or mistyped field, an empty response, labels of the wrong length, ids
// outside the vocabulary) is a `DataError` naming file:line:field. By default it is skipped and counted (the
// report keeps the first few messages); with `strict` the first one is thrown. Errors about the whole file
// (unreadable, broken array, unknown format, no tokenizer, nothing left) are always thrown.

/// One training sequence: tokens and Hugging Face-aligned labels of the same length (the logits at position
/// t-1 are scored against `labels[t]`; -100 is ignored).
public struct Example: Sendable, Equatable {
    public var inputIDs: [Int32]
    public var labels: [Int32]
    /// "file:line" of the record.
    public var source: String

    public init(inputIDs: [Int32], labels: [Int32], source: String) {
        precondition(inputIDs.count == labels.count, "Example: labels and input ids differ in length")
        self.inputIDs = inputIDs
        self.labels = labels
        self.source = source
    }

    public var count: Int { inputIDs.count }

    /// Positions that contribute to the loss: t ≥ 1 with labels[t] ≠ -100 (labels[0] has no logits before it).
    public var labelCount: Int { labels.dropFirst().reduce(0) { $0 + ($1 == ignoredLabel ? 0 : 1) } }
}

/// What loading found: counts for the log and `bench data`.
public struct DataReport: Sendable, Equatable {
    /// How many bad-record messages the report keeps.
    public static let keptMessages = 5

    /// Records in the file (non-blank JSONL lines or array elements).
    public var records = 0
    /// Examples kept.
    public var examples = 0
    /// Bad records skipped (non-strict mode).
    public var skipped = 0
    public var skippedByKind: [DataError.Kind: Int] = [:]
    /// The first `keptMessages` bad records.
    public var firstSkipped: [DataError] = []
    /// Examples cut to the maximum sequence length (kept or dropped).
    public var truncated = 0
    /// Truncated examples dropped because no label was left.
    public var droppedAfterTruncation = 0
    /// Tokens of the kept examples.
    public var totalTokens = 0
    /// Scored label tokens of the kept examples (`Example.labelCount` summed).
    public var labelTokens = 0

    public init() {}

    /// A few lines for the log.
    public var summary: String {
        var lines = [
            "\(records) records → \(examples) examples; \(totalTokens) tokens, \(labelTokens) label tokens; "
                + "\(skipped) bad records skipped; \(truncated) truncated (\(droppedAfterTruncation) dropped: no label left)"
        ]
        for error in firstSkipped { lines.append("  skipped \(error)") }
        if skipped > firstSkipped.count { lines.append("  … and \(skipped - firstSkipped.count) more") }
        return lines.joined(separator: "\n")
    }

    mutating func skip(_ error: DataError) {
        skipped += 1
        skippedByKind[error.kind, default: 0] += 1
        if firstSkipped.count < DataReport.keptMessages { firstSkipped.append(error) }
    }
}

public struct Dataset: Sendable {
    public var examples: [Example]
    public var format: DataFormat
    /// SHA-256 of the file's bytes (lowercase hex).
    public var fingerprint: String
    public var report: DataReport

    public init(examples: [Example], format: DataFormat, fingerprint: String, report: DataReport) {
        self.examples = examples
        self.format = format
        self.fingerprint = fingerprint
        self.report = report
    }

    /// Token counts of the examples, in order (what `DataPlan` needs).
    public var exampleLengths: [Int] { examples.map(\.count) }

    /// Loads a training file. `format` nil: detected from the first record. `tokenizer` may be nil only for
    /// tokenized data (then ids are checked against `vocabSize` when given). `template` renders Alpaca records;
    /// chat records always use the model's chat template. `maxSeqLen` (≥ 2) truncates, keeping the start.
    public static func load(
        path: String, format: DataFormat? = nil, tokenizer: (any Tokenizer)?, template: PromptTemplate = .alpaca,
        maxSeqLen: Int, strict: Bool = false, vocabSize: Int? = nil
    ) throws(DataError) -> Dataset {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw DataError(.unreadableFile, file: path, exists ? "cannot read the file" : "no such file")
        }
        return try decode(
            bytes: [UInt8](data), file: path, format: format, tokenizer: tokenizer, template: template,
            maxSeqLen: maxSeqLen, strict: strict, vocabSize: vocabSize)
    }

    /// `load` on bytes already in memory; `file` names them in messages and example sources.
    public static func decode(
        bytes: [UInt8], file: String, format: DataFormat? = nil, tokenizer: (any Tokenizer)?,
        template: PromptTemplate = .alpaca, maxSeqLen: Int, strict: Bool = false, vocabSize: Int? = nil
    ) throws(DataError) -> Dataset {
        precondition(maxSeqLen >= 2, "Dataset: maxSeqLen must be at least 2")
        let fingerprint = bytes.withUnsafeBytes { Fingerprint.sha256($0) }
        let lines = LineIndex(bytes)

        let spans: [RecordSpan]
        if JSONReader.isArray(bytes) {
            do {
                spans = try JSONReader.splitArray(bytes, lines: lines)
            } catch {
                let at = lines.position(of: error.offset)
                throw DataError(.invalidJSON, file: file, line: at.line, "invalid JSON at column \(at.column): \(error.message)")
            }
        } else {
            spans = JSONReader.splitLines(bytes)
        }

        var report = DataReport()
        report.records = spans.count

        // Parse every record; a syntax error belongs to its record.
        var parsed: [Result<[String: JSONValue], RecordProblem>] = []
        parsed.reserveCapacity(spans.count)
        for span in spans {
            do {
                let value = try JSONReader.parse(bytes, span.range)
                parsed.append(.success(try RecordDecoder.object(value)))
            } catch let error as JSONSyntaxError {
                let at = lines.position(of: error.offset)
                parsed.append(.failure(RecordProblem(.invalidJSON, "invalid JSON at column \(at.column): \(error.message)", offset: error.offset)))
            } catch let problem as RecordProblem {
                parsed.append(.failure(problem))
            } catch {
                preconditionFailure("Dataset: unexpected error \(error)")
            }
        }

        func dataError(_ problem: RecordProblem, _ span: RecordSpan) -> DataError {
            let line = problem.offset.map { lines.position(of: $0).line } ?? span.line
            return DataError(problem.kind, file: file, line: line, field: problem.field, problem.message)
        }

        // The format: given, or that of the first record that is an object.
        let resolved: DataFormat
        if let format {
            resolved = format
        } else if let first = parsed.firstIndex(where: { (try? $0.get()) != nil }) {
            let object = (try? parsed[first].get()) ?? [:]
            guard let detected = RecordDecoder.detect(object) else {
                throw DataError(
                    .unknownFormat, file: file, line: spans[first].line,
                    "cannot detect the data format: expected \"instruction\"/\"output\" (alpaca), \"messages\" (chat) "
                        + "or \"input_ids\" (tokenized), found keys \(object.keys.sorted())")
            }
            resolved = detected
        } else if let span = spans.first, case .failure(let problem) = parsed[0] {
            // No record is an object: nothing to detect the format from, and nothing to train on.
            let error = dataError(problem, span)
            if strict { throw error }
            throw DataError(.emptyDataset, file: file, "no record is a valid JSON object; the first: \(error)")
        } else {
            throw DataError(.emptyDataset, file: file, "no records (expected JSONL or a JSON array of objects)")
        }

        // What turns records into tokens.
        let renderer: PromptRenderer?
        switch resolved {
        case .tokenized:
            renderer = nil
        case .alpaca, .chat:
            guard let tokenizer else {
                throw DataError(.tokenizer, file: file, "\(resolved.rawValue) data needs the model's tokenizer")
            }
            do {
                renderer = try PromptRenderer(tokenizer: tokenizer, template: resolved == .chat ? .chat : template)
            } catch {
                throw DataError(.tokenizer, file: file, error.message)
            }
        }
        let vocabLimit = tokenizer?.vocabSize ?? vocabSize

        var examples: [Example] = []
        examples.reserveCapacity(spans.count)
        for (span, record) in zip(spans, parsed) {
            let tokens: (inputIDs: [Int32], labels: [Int32])
            do {
                let object = try record.get()
                switch resolved {
                case .alpaca: tokens = renderer!.example(try RecordDecoder.alpaca(object))
                case .chat: tokens = try renderer!.chatExample(try RecordDecoder.chat(object))
                case .tokenized:
                    let r = try RecordDecoder.tokenized(object, vocabSize: vocabLimit)
                    tokens = (r.inputIDs, r.labels)
                }
            } catch {
                let error = dataError(error, span)
                if strict { throw error }
                report.skip(error)
                continue
            }
            var example = Example(inputIDs: tokens.inputIDs, labels: tokens.labels, source: "\(file):\(span.line)")
            if example.count > maxSeqLen {
                report.truncated += 1
                example.inputIDs.removeSubrange(maxSeqLen...)
                example.labels.removeSubrange(maxSeqLen...)
                if example.labelCount == 0 {
                    report.droppedAfterTruncation += 1
                    continue
                }
            }
            report.totalTokens += example.count
            report.labelTokens += example.labelCount
            examples.append(example)
        }
        report.examples = examples.count

        guard !examples.isEmpty else {
            var message = "no examples left (\(report.records) records"
            if report.skipped > 0 { message += ", \(report.skipped) bad" }
            if report.droppedAfterTruncation > 0 {
                message += ", \(report.droppedAfterTruncation) with no label left after truncation to \(maxSeqLen) tokens"
            }
            message += ")"
            if let first = report.firstSkipped.first { message += "; first bad record: \(first)" }
            throw DataError(.emptyDataset, file: file, message)
        }
        return Dataset(examples: examples, format: resolved, fingerprint: fingerprint, report: report)
    }
}
