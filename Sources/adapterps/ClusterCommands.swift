import ArgumentParser
import Cluster
import Foundation
import Kernels
import Llama
import Training
import Wire

/// Options of the coordinator's side.
struct CoordinatorFlags: ParsableArguments {
    @Option(help: "Endpoint to bind (default tcp://127.0.0.1:5555; port * picks a free one).") var bind = "tcp://127.0.0.1:5555"
    @Option(name: .customLong("min-workers"), help: "Workers to wait for before the first step.") var minWorkers = 1
    @Option(name: .customLong("lease-timeout"), help: "Seconds before an unanswered lease moves to another worker.") var leaseTimeout: Double = 120
    @Option(name: .customLong("worker-timeout"), help: "Seconds of silence after which a worker is dropped and its leases move.") var workerTimeout: Double = 3
}

/// Builds the stepper that runs steps through a coordinator bound on `flags.bind`.
func coordinatorStepper(
    _ flags: CoordinatorFlags, bind: String? = nil, llama: LlamaModel, onBound: @escaping (String) -> Void = { _ in }
) -> (LocalTrainer) throws -> ClusterStepper {
    { trainer in
        var options = CoordinatorOptions()
        options.bind = bind ?? flags.bind
        options.minWorkers = flags.minWorkers
        options.leaseTimeout = flags.leaseTimeout
        options.workerTimeout = flags.workerTimeout
        let coordinator = try Coordinator(
            trainer: trainer, modelSHA256: llama.fingerprint, options: options, context: try SocketContext(), log: log)
        log("coordinator listening on \(coordinator.endpoint)")
        onBound(coordinator.endpoint)
        return ClusterStepper(
            step: { progress, stop in
                guard let r = try coordinator.step(&progress, shouldStop: stop) else { return nil }
                let ratio = r.bytesWire > 0 ? Double(r.bytesRaw) / Double(r.bytesWire) : 1
                return (r.step, ["workers": r.workers, "bytes_raw": r.bytesRaw, "bytes_wire": r.bytesWire,
                    "compression_ratio": ratio, "duplicates": r.duplicates, "reduce_ms": r.reduceSeconds * 1e3])
            },
            finish: { coordinator.finish() })
    }
}

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Own the adapter and AdamW; lease micro-batches to workers over ZeroMQ and reduce their gradients.",
        discussion: "Same training options and output files as `train`; the result is bit for bit the `train` result.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var options: TrainOptions
    @OptionGroup var flags: CoordinatorFlags
    @Flag(help: "Continue the run saved in OUT/trainer_state.safetensors.") var resume = false

    func run() throws {
        let resolved = try options.resolve()
        var m = model
        if m.weights == nil { m.weights = "streaming" }  // the coordinator computes no forward pass
        let (llama, tokenizer) = try m.load(fileDefaults: resolved.file)
        let dataset = try loadDataset(resolved.data, config: resolved.config, tokenizer: tokenizer, vocabSize: llama.config.vocabSize)
        try runTraining(llama: llama, dataset: dataset, config: resolved.config, out: resolved.out, initialPath: nil,
            resume: resume, cluster: coordinatorStepper(flags, llama: llama))
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Hold the frozen model, take leases from a coordinator, send back gradient sums.")

    @Option(help: "Coordinator endpoint, e.g. tcp://10.0.0.1:5555.") var connect: String
    @OptionGroup var model: ModelOptions
    @Option(help: "This worker's copy of the training data (must be byte-identical to the coordinator's).") var data: String
    @Option(name: .customLong("connect-timeout"), help: "Seconds to keep trying to reach the coordinator.") var connectTimeout: Double = 60

    func run() throws {
        let (llama, tokenizer) = try model.load()
        let worker = ClusterWorker(
            model: llama, tokenizer: tokenizer, dataPath: data, endpoint: connect, threads: Matmul.threads,
            context: try SocketContext(), log: log)
        worker.connectTimeout = connectTimeout
        let stop = StopSignal.install()
        switch try worker.run(shouldStop: { stop.requested }) {
        case .finished, .stopped:
            return
        case .rejected(let reason):
            throw CLIError.badInput("the coordinator rejected this worker: \(reason)")
        case .failed(let reason):
            throw CLIError.runtime(reason)
        }
    }
}

struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Coordinator plus N local worker processes on loopback: the parameter server on one machine.",
        discussion: "--threads is per worker; by default the machine's cores are split among the workers.")

    @Option(help: "Worker processes to start.") var workers = 2
    @OptionGroup var model: ModelOptions
    @OptionGroup var options: TrainOptions
    @OptionGroup var flags: CoordinatorFlags
    @Flag(help: "Continue the run saved in OUT/trainer_state.safetensors.") var resume = false

    func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be ≥ 1") }
    }

    func run() throws {
        let resolved = try options.resolve()
        var m = model
        let workerThreads = m.threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / workers)
        m.threads = 1
        if m.weights == nil { m.weights = "streaming" }
        let (llama, tokenizer) = try m.load(fileDefaults: resolved.file)
        let dataset = try loadDataset(resolved.data, config: resolved.config, tokenizer: tokenizer, vocabSize: llama.config.vocabSize)
        var children: [Process] = []
        defer {
            for c in children where c.isRunning { c.terminate() }
            for c in children { c.waitUntilExit() }
        }
        let modelPath = m.resolvedPath(fileDefaults: resolved.file)
        let start: (String) -> Void = { endpoint in
            for i in 0..<workers {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
                p.arguments = ["worker", "--connect", endpoint, "--model", modelPath, "--data", resolved.data,
                    "--threads", "\(workerThreads)"] + (model.weights.map { ["--weights", $0] } ?? [])
                do {
                    try p.run()
                    children.append(p)
                } catch {
                    log("could not start worker \(i): \(error)")
                }
            }
            log("started \(children.count) worker process(es), \(workerThreads) thread(s) each")
        }
        try runTraining(llama: llama, dataset: dataset, config: resolved.config, out: resolved.out, initialPath: nil,
            resume: resume, cluster: coordinatorStepper(flags, bind: "tcp://127.0.0.1:*", llama: llama, onBound: start))
    }
}
