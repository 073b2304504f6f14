import Foundation
import Llama
import ModelFiles
import Tokenizers
import Training
import Wire

/// A worker: holds the frozen model and its own copy of the data, takes leases from the
/// coordinator and answers each with the unnormalised gradient sum of its micro-batch. The socket
/// lives on the calling thread (which also sends heartbeats); gradients are computed on a second
/// thread so the worker stays responsive while it computes.
public final class ClusterWorker {
    let model: LlamaModel
    let tokenizer: (any Tokenizer)?
    let dataPath: String
    let endpoint: String
    let threads: Int
    let context: SocketContext
    let log: (String) -> Void
    /// How long to keep trying to reach a coordinator before giving up.
    public var connectTimeout: Double = 60
    /// After losing the coordinator, how long to wait for one to come back before giving up.
    public var coordinatorTimeout: Double = 60
    /// Silence from the coordinator (it heartbeats every second) after which the worker rejoins.
    public var rejoinAfter: Double = 5

    public init(
        model: LlamaModel, tokenizer: (any Tokenizer)?, dataPath: String, endpoint: String, threads: Int,
        context: SocketContext, log: @escaping (String) -> Void
    ) {
        self.model = model
        self.tokenizer = tokenizer
        self.dataPath = dataPath
        self.endpoint = endpoint
        self.threads = threads
        self.context = context
        self.log = log
    }

    public enum Outcome: Equatable {
        case finished  // BYE from the coordinator
        case rejected(String)
        case failed(String)
        case stopped  // a signal asked us to stop
    }

    /// A computed micro-batch waiting to be sent.
    private struct Done: Sendable {
        let step: Int
        let microBatch: Int
        let result: GradientSum
        let tokens: Int
    }

    /// Results the compute thread hands to the socket thread.
    private final class Mailbox: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Done] = []
        func put(_ d: Done) { lock.lock(); items.append(d); lock.unlock() }
        func take() -> [Done] {
            lock.lock()
            defer { items.removeAll(); lock.unlock() }
            return items
        }
    }

    public func run(shouldStop: () -> Bool) throws -> Outcome {
        let socket = try Socket(context, .dealer)
        var rng = SystemRandomNumberGenerator()
        let identity = Array("w\(getpid())-".utf8) + (0..<6).map { _ in UInt8.random(in: 97...122, using: &rng) }
        try socket.setIdentity(identity)
        try socket.connect(endpoint)
        let dataSHA = try Fingerprint.sha256(file: dataPath)
        let hello = Message.hello(HelloPayload(
            workerVersion: Peer.version, modelSHA256: Peer.digest(hex: model.fingerprint),
            datasetSHA256: Peer.digest(hex: dataSHA), threads: UInt32(threads),
            hostname: ProcessInfo.processInfo.hostName))
        var sequence: UInt64 = 0
        var runID: UInt64 = 0
        var workerID: UInt32 = 0
        func send(_ m: Message, step: UInt64? = nil) throws {
            sequence += 1
            try socket.send([FrameCodec.encode(m.encode(runID: runID, workerID: workerID, sequence: sequence, step: step))])
        }

        var trainer: LocalTrainer?
        var params: AdapterParameters?
        var paramsStep = -1
        var queue: [(step: Int, microBatch: Int)] = []
        let finished = Mailbox()
        var computing = false
        let compute = DispatchQueue(label: "adapterps.worker.compute")
        var firstJoin = true
        session: while true {
        // Joining: HELLO (repeated) until WELCOME or REJECT. Also after losing the coordinator: a
        // restarted (resumed) coordinator welcomes us again with its parameters.
        var joined = false
        let joinStarted = Peer.now()
        var lastHello = -Double.infinity
        while !joined {
            if shouldStop() { return .stopped }
            let limit = firstJoin ? connectTimeout : coordinatorTimeout
            if Peer.now() - joinStarted > limit {
                return .failed(firstJoin ? "no coordinator answered at \(endpoint) within \(Int(limit)) s"
                    : "lost the coordinator and no coordinator came back within \(Int(limit)) s")
            }
            for d in finished.take() where d.step >= 0 { computing = false }  // results of a lost run are dropped
            if Peer.now() - lastHello > 1 {
                try send(hello)
                lastHello = Peer.now()
            }
            guard let parts = try socket.receive(timeoutMillis: 100), let bytes = parts.last else { continue }
            let (header, message) = try Message.decode(bytes: bytes)
            switch message {
            case .reject(let r):
                return .rejected(r.reason)
            case .welcome(let w):
                runID = header.runID
                workerID = header.workerID
                let config: TrainingConfig
                do {
                    config = try JSONDecoder().decode(TrainingConfig.self, from: Data(w.runConfigJSON.utf8))
                } catch {
                    return .failed("the coordinator's run config does not decode: \(error)")
                }
                let dataset = try Dataset.load(
                    path: dataPath, format: config.dataFormat, tokenizer: tokenizer, template: config.template,
                    maxSeqLen: config.maxSeqLen, strict: config.strict, vocabSize: model.config.vocabSize)
                let t = try LocalTrainer(model: model, dataset: dataset, config: config)
                let values = try TensorCodec.decode(w.params)
                guard values.count == t.shape.parameterCount else {
                    return .failed("WELCOME carries \(values.count) parameters, this model and config need \(t.shape.parameterCount)")
                }
                params = AdapterParameters(shape: t.shape, values: values)
                paramsStep = Int(w.paramsVersion)
                queue.removeAll()
                trainer = t
                joined = true
                firstJoin = false
                log("joined as worker \(workerID) at step \(paramsStep + 1): \(dataset.examples.count) examples, \(t.shape.parameterCount) adapter parameters")
            default:
                continue
            }
        }
        guard let trainer else { return .failed("unreachable") }

        // Working: leases in, gradients out, heartbeats every half second.
        var lastHeartbeat = Peer.now()
        var lastHeard = Peer.now()
        while true {
            if shouldStop() {
                try? send(.bye(ReasonPayload(reason: "worker stopped by a signal")))
                return .stopped
            }
            if let parts = try socket.receive(timeoutMillis: 20), let bytes = parts.last {
                lastHeard = Peer.now()
                do {
                    let (_, message) = try Message.decode(bytes: bytes)
                    switch message {
                    case .params(let p):
                        let values = try TensorCodec.decode(p.params)
                        if values.count == trainer.shape.parameterCount {
                            params = AdapterParameters(shape: trainer.shape, values: values)
                            paramsStep = Int(p.step)
                        }
                    case .lease(let l):
                        for mb in l.microBatches { queue.append((Int(l.step), Int(mb))) }
                    case .bye:
                        return .finished
                    case .reject(let r):
                        return .rejected(r.reason)
                    case .error(let e):
                        log("coordinator says: \(e.message) (code \(e.code))")
                        if e.code == 100 {  // it does not know us: a restarted coordinator
                            log("rejoining")
                            continue session
                        }
                    default:
                        break
                    }
                } catch {
                    log("bad message from the coordinator: \(error)")
                }
            }
            // Send what the compute thread finished.
            let done = finished.take()
            for d in done {
                computing = false
                let tensor = TensorCodec.encode(d.result.gradient, as: .f32)
                try send(.gradient(GradientPayload(
                    step: UInt64(d.step), microBatch: UInt32(d.microBatch), lossSum: d.result.lossSum,
                    labelCount: UInt64(d.result.labelCount), tokenCount: UInt64(d.tokens), gradient: tensor)))
            }
            // Leases of older steps are stale; start the next one once its parameters are here.
            queue.removeAll { $0.step < paramsStep }
            if !computing, let next = queue.first, next.step == paramsStep, let p = params {
                queue.removeFirst()
                computing = true
                let mbs = trainer.plan.microBatches(step: next.step)
                guard next.microBatch < mbs.count else { computing = false; continue }
                let mb = mbs[next.microBatch]
                let sequences = trainer.sequences(mb)
                let recompute = trainer.config.recompute
                nonisolated(unsafe) let model = self.model  // used by the compute thread only while it computes
                compute.async {
                    let result = model.adapterGradient(sequences, adapter: p, recompute: recompute)
                    finished.put(Done(step: next.step, microBatch: next.microBatch, result: result, tokens: mb.tokens))
                }
            }
            if Peer.now() - lastHeartbeat > 0.5 {
                try send(.heartbeat(HeartbeatPayload(state: computing ? .working : .idle, currentStep: UInt64(max(paramsStep, 0)))))
                lastHeartbeat = Peer.now()
            }
            // The coordinator heartbeats every second; silence means it is gone: rejoin.
            if Peer.now() - lastHeard > rejoinAfter {
                log("the coordinator has been silent for \(Int(rejoinAfter)) s: rejoining")
                continue session
            }
        }
        }
    }
}
