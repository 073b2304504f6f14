import ArgumentParser
import Foundation
import Kernels
import ModelFiles

/// `adapterps`: LLaMA-Adapter fine-tuning on a parameter server. Each subcommand parses its
/// options, calls the libraries and prints; the work lives in the library targets.
@main
struct AdapterPS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapterps",
        abstract: "Fine-tune LLaMA-family models with LLaMA-Adapter on a fleet of machines.",
        discussion: """
            Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.
            """,
        subcommands: [Train.self, Launch.self, CoordinatorCommand.self, WorkerCommand.self, Generate.self, Score.self, Eval.self, Export.self, Inspect.self, Bench.self])

    /// Runs the command line with the project's exit codes (ArgumentParser's own usage code, 64,
    /// becomes 2).
    static func main() {
        BLASCore.reexecWithBetterKernelsIfNeeded()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ModelFileError {
            fail("\(error)", code: 2)
        } catch let error as CLIError {
            fail(error.message, code: error.code)
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            fail("\(error)", code: 1)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("adapterps: error: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// An error the CLI reports with its exit code: 2 for bad input, 1 for a runtime failure.
struct CLIError: Error {
    let message: String
    let code: Int32
    static func badInput(_ message: String) -> CLIError { CLIError(message: message, code: 2) }
    static func runtime(_ message: String) -> CLIError { CLIError(message: message, code: 1) }
}
