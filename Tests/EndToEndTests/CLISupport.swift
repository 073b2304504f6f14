import Foundation
import XCTest

/// Runs the `adapterps` binary: $ADAPTERPS_BIN (scripts/test.sh sets it), else the one built next
/// to this test bundle.
enum CLI {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = repo.appendingPathComponent("Tests/Fixtures")

    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["ADAPTERPS_BIN"] { return path }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("adapterps").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw XCTSkip("adapterps binary not found: build it (swift build) or set ADAPTERPS_BIN")
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `adapterps args…` to completion (with a deadline) and captures its output.
    static func run(_ args: [String], timeout: TimeInterval = 300) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = args
        p.currentDirectoryURL = repo
        // Output goes to files (no pipe can fill up and stall the child).
        let dir = try temporaryDirectory()
        let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            p.terminate()
            XCTFail("adapterps \(args.joined(separator: " ")) did not finish in \(timeout) s")
        }
        p.waitUntilExit()
        let outData = (try? Data(contentsOf: outURL)) ?? Data(), errData = (try? Data(contentsOf: errURL)) ?? Data()
        try? FileManager.default.removeItem(at: dir)
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh folder under the system temporary folder, removed when the test process exits.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adapterps-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        TemporaryFolders.register(dir)
        return dir
    }

    static func json(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }
}

/// Folders the tests made, removed at process exit (after every test has finished with them).
enum TemporaryFolders {
    nonisolated(unsafe) static var paths: [URL] = []
    nonisolated(unsafe) static var installed = false
    static let lock = NSLock()

    static func register(_ url: URL) {
        lock.lock()
        defer { lock.unlock() }
        paths.append(url)
        if !installed {
            installed = true
            atexit {
                for p in TemporaryFolders.paths { try? FileManager.default.removeItem(at: p) }
            }
        }
    }
}
