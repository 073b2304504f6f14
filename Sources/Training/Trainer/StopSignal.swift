import Foundation
import Synchronization

/// SIGINT / SIGTERM as a request to stop at the next safe point (after the current step, with a
/// checkpoint), instead of dying mid-write. A second signal of the same kind exits at once.
public final class StopSignal: @unchecked Sendable {
    private let source: [DispatchSourceSignal]
    private let flag = Atomic<Int32>(0)

    private init(signals: [Int32]) {
        var sources: [DispatchSourceSignal] = []
        for sig in signals {
            signal(sig, SIG_IGN)  // let the dispatch source see it instead of the default handler
            sources.append(DispatchSource.makeSignalSource(signal: sig, queue: .global()))
        }
        source = sources
    }

    private func listen(_ signals: [Int32]) {
        for (sig, s) in zip(signals, source) {
            s.setEventHandler { [self] in
                if flag.load(ordering: .relaxed) != 0 { exit(128 + sig) }
                flag.store(sig, ordering: .relaxed)
                FileHandle.standardError.write(Data("\nadapterps: \(sig == SIGINT ? "SIGINT" : "SIGTERM") received: stopping after this step (again to quit now)\n".utf8))
            }
            s.resume()
        }
    }

    /// Starts listening for SIGINT and SIGTERM.
    public static func install() -> StopSignal {
        let s = StopSignal(signals: [SIGINT, SIGTERM])
        s.listen([SIGINT, SIGTERM])
        return s
    }

    public var requested: Bool { flag.load(ordering: .relaxed) != 0 }
    public var name: String { flag.load(ordering: .relaxed) == SIGINT ? "SIGINT" : "SIGTERM" }
}
