import Foundation

/// Appends one JSON object per line to a file (metrics.jsonl), flushed after every line so a
/// crash loses nothing that was reported.
public final class MetricsLog {
    private let handle: FileHandle
    public let path: String

    /// Opens `path` for appending (created if missing); `truncate` starts it empty. With
    /// `keepThroughStep` (a resumed run), lines of later steps — written after the checkpoint the
    /// run resumes from, and about to be redone — are dropped first.
    public init(path: String, truncate: Bool, keepThroughStep: Int? = nil) throws(TrainingError) {
        self.path = path
        let fm = FileManager.default
        if let last = keepThroughStep, !truncate, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let kept = text.split(separator: "\n").filter { line in
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let step = o["step"] as? Int
                else { return false }
                return step <= last
            }
            let body = kept.map { $0 + "\n" }.joined()
            guard (try? body.write(toFile: path, atomically: true, encoding: .utf8)) != nil else {
                throw TrainingError(.io, "\(path): cannot rewrite the metrics file")
            }
        }
        if truncate || !fm.fileExists(atPath: path) {
            guard fm.createFile(atPath: path, contents: nil) else {
                throw TrainingError(.io, "\(path): cannot create the metrics file")
            }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw TrainingError(.io, "\(path): cannot open for writing") }
        h.seekToEndOfFile()
        handle = h
    }

    public func write(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        handle.write(data + Data("\n".utf8))
        try? handle.synchronize()
    }

    deinit { try? handle.close() }
}

/// The live progress line on stderr: rewritten in place on a terminal; into a log (not a
/// terminal) a line at most every `logInterval` seconds, plus the last one (`final`).
public struct ProgressLine {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastLength = 0
    private var lastLogged: Date?
    public var logInterval: TimeInterval = 5

    public init() {}

    public mutating func show(_ text: String, final: Bool = false) {
        if isTerminal {
            let pad = max(0, lastLength - text.count)
            FileHandle.standardError.write(Data(("\r" + text + String(repeating: " ", count: pad)).utf8))
            lastLength = text.count
        } else if final || lastLogged.map({ Date().timeIntervalSince($0) >= logInterval }) ?? true {
            FileHandle.standardError.write(Data((text + "\n").utf8))
            lastLogged = Date()
        }
    }

    /// Ends the line (on a terminal).
    public mutating func finish() {
        if isTerminal && lastLength > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
        lastLength = 0
    }

    /// "1h02m", "3m05s", "12s".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
