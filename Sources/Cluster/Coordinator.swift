import Foundation
import Llama
import Training
import Wire

/// Options of the coordinator's loop (DESIGN §4–§6).
public struct CoordinatorOptions: Sendable {
    /// ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:5555 (port * picks a free one).
    public var bind = "tcp://127.0.0.1:*"
    /// A lease not answered in time goes to another worker.
    public var leaseTimeout: Double = 120
    /// A worker silent this long is considered gone and its leases move.
    public var workerTimeout: Double = 3
    /// Wait for this many workers before the first step.
    public var minWorkers = 1
    public init() {}
}

/// What the coordinator reports after each step (the CLI prints and logs it).
public struct ClusterStepReport: Sendable {
    public var step: StepReport
    public var workers: Int
    public var bytesRaw: Int
    public var bytesWire: Int
    public var duplicates: Int
    public var reduceSeconds: Double
}

/// The coordinator: owns the adapter and AdamW, leases the micro-batches of each step to live
/// workers, reduces their gradient sums in micro-batch order — the same plan and reducer as
/// `LocalTrainer`, so the result is bit for bit the single-process one — and broadcasts the new
/// parameters. Runs on the calling thread; every wait has a deadline.
public final class Coordinator {
    let trainer: LocalTrainer
    let options: CoordinatorOptions
    let modelSHA256: String
    let socket: Socket
    public let endpoint: String
    let runID: UInt64
    private var sequence: UInt64 = 0
    private var log: (String) -> Void

    struct Worker {
        let id: UInt32
        let routingID: [UInt8]
        var lastSeen: Double
        var lease: Int?  // micro-batch index of the current step
        let hostname: String
    }
    private var workers: [[UInt8]: Worker] = [:]
    private var nextWorkerID: UInt32 = 1
    private var started = false
    private(set) public var counters = (badFrames: 0, duplicates: 0, late: 0, rejected: 0)

    public init(
        trainer: LocalTrainer, modelSHA256: String, options: CoordinatorOptions, context: SocketContext,
        log: @escaping (String) -> Void
    ) throws {
        self.trainer = trainer
        self.options = options
        self.modelSHA256 = modelSHA256
        self.log = log
        socket = try Socket(context, .router)
        try socket.setMaxMessageSize(Int64(FrameLimits().maxPayload + WireProtocol.headerSize))
        endpoint = try socket.bind(options.bind)
        var rng = SystemRandomNumberGenerator()
        runID = rng.next()
    }

    /// Tells every worker the run is over.
    public func finish(reason: String = "run finished") {
        broadcast(.bye(ReasonPayload(reason: reason)))
        workers.removeAll()
    }

    /// One synchronous step: lease, collect, reduce in micro-batch order, update. nil when
    /// `shouldStop` turned true before the step completed (nothing was applied).
    public func step(_ progress: inout TrainingProgress, shouldStop: () -> Bool) throws -> ClusterStepReport? {
        let s = progress.step
        let stepStart = DispatchTime.now().uptimeNanoseconds
        let mbs = trainer.plan.microBatches(step: s)
        var reducer = GradientReducer(parameterCount: trainer.shape.parameterCount, microBatches: mbs.count)
        var pending = Array(mbs.indices)
        var deadlines: [Int: Double] = [:]
        var bytesRaw = 0, bytesWire = 0, duplicates = 0
        let params = TensorCodec.encode(progress.params.values, as: .f32)
        broadcast(.params(ParamsPayload(step: UInt64(s), version: UInt64(s), params: params)))
        var lastHeartbeat = Peer.now()
        while !reducer.isComplete {
            if shouldStop() { return nil }
            if Peer.now() - lastHeartbeat > 1 {
                broadcast(.heartbeat(HeartbeatPayload(state: .working, currentStep: UInt64(s))))
                lastHeartbeat = Peer.now()
            }
            if let parts = try socket.receive(timeoutMillis: 20) {
                handle(parts, step: s, params: progress.params) { mb, result, raw, wire in
                    if reducer.add(result, index: mb) {
                        bytesRaw += raw
                        bytesWire += wire
                        deadlines[mb] = nil
                    } else {
                        duplicates += 1
                    }
                }
            }
            let now = Peer.now()
            // Workers gone silent, and leases past their deadline, go back to the queue.
            for (key, w) in workers where now - w.lastSeen > options.workerTimeout {
                log("worker \(w.id) (\(w.hostname)) silent for \(String(format: "%.1f", now - w.lastSeen)) s: removed")
                if let mb = w.lease, deadlines[mb] != nil { pending.append(mb); deadlines[mb] = nil }
                workers[key] = nil
            }
            for (mb, deadline) in deadlines where now > deadline {
                log("lease of micro-batch \(mb) (step \(s + 1)) expired: re-leasing")
                deadlines[mb] = nil
                pending.append(mb)
            }
            // Idle live workers take the next micro-batches, in order.
            pending.sort()
            // --min-workers gates the start of the run only; afterwards whoever is alive works.
            guard started || workers.count >= options.minWorkers else { continue }
            started = true
            for key in workers.keys.sorted(by: { workers[$0]!.id < workers[$1]!.id }) where !pending.isEmpty {
                guard var w = workers[key] else { continue }
                if let held = w.lease, deadlines[held] != nil { continue }
                let mb = pending.removeFirst()
                w.lease = mb
                workers[key] = w
                deadlines[mb] = now + options.leaseTimeout
                send(.lease(LeasePayload(step: UInt64(s), microBatches: [UInt32(mb)], deadlineMillis: UInt64(options.leaseTimeout * 1000))), to: w)
            }
        }
        let r0 = Peer.now()
        let step = try trainer.finishStep(reducer, microBatches: mbs, progress: &progress, startedAt: stepStart)
        let reduceSeconds = Peer.now() - r0
        for key in workers.keys { workers[key]!.lease = nil }
        return ClusterStepReport(
            step: step, workers: workers.count, bytesRaw: bytesRaw, bytesWire: bytesWire, duplicates: duplicates,
            reduceSeconds: reduceSeconds)
    }

    /// Decodes and dispatches one inbound message; protocol errors are answered, counted, logged.
    private func handle(
        _ parts: [[UInt8]], step: Int, params: AdapterParameters, gradient: (Int, GradientSum, Int, Int) -> Void
    ) {
        guard parts.count == 2 else {
            counters.badFrames += 1
            log("dropped a message of \(parts.count) parts (expected identity + frame)")
            return
        }
        let routingID = parts[0]
        let header: FrameHeader, message: Message
        do {
            (header, message) = try Message.decode(bytes: parts[1])
        } catch {
            counters.badFrames += 1
            log("bad frame from peer \(Peer.hex(routingID)): \(error)")
            reply(Message.reply(to: error), routingID: routingID)
            return
        }
        if case .hello(let hello) = message {
            welcome(hello, routingID: routingID, step: step, params: params)
            return
        }
        guard var w = workers[routingID] else {
            reply(.error(ErrorPayload(code: 100, message: "unknown worker: send HELLO first")), routingID: routingID)
            return
        }
        guard header.runID == runID else {
            counters.badFrames += 1
            reply(.error(ErrorPayload(code: 101, message: "frame for run \(header.runID), this run is \(runID)")), routingID: routingID)
            return
        }
        w.lastSeen = Peer.now()
        workers[routingID] = w
        switch message {
        case .gradient(let g):
            guard Int(g.step) == step else {
                counters.late += 1
                log("late gradient from worker \(w.id) for step \(g.step + 1) (now \(step + 1)): dropped")
                return
            }
            do {
                let values = try TensorCodec.decode(g.gradient)
                guard values.count == trainer.shape.parameterCount, Int(g.microBatch) < trainer.plan.microBatches(step: step).count else {
                    throw WireError.malformedPayload("gradient of \(values.count) values for micro-batch \(g.microBatch)")
                }
                gradient(Int(g.microBatch), GradientSum(lossSum: g.lossSum, labelCount: Int(g.labelCount), gradient: values),
                    g.gradient.rawBytes, g.gradient.wireBytes)
            } catch {
                counters.badFrames += 1
                log("bad gradient from worker \(w.id): \(error)")
                if let e = error as? WireError { reply(Message.reply(to: e), routingID: routingID) }
            }
        case .heartbeat:
            break
        case .bye(let reason):
            log("worker \(w.id) left: \(reason.reason)")
            workers[routingID] = nil
        default:
            reply(.error(ErrorPayload(code: 102, message: "unexpected \(message.type) from a worker")), routingID: routingID)
        }
    }

    private func welcome(_ hello: HelloPayload, routingID: [UInt8], step: Int, params: AdapterParameters) {
        var problems: [String] = []
        if Peer.hex(hello.modelSHA256) != modelSHA256 {
            problems.append("model sha256 \(Peer.hex(hello.modelSHA256)) ≠ the coordinator's \(modelSHA256)")
        }
        if Peer.hex(hello.datasetSHA256) != trainer.dataset.fingerprint {
            problems.append("dataset sha256 \(Peer.hex(hello.datasetSHA256)) ≠ the coordinator's \(trainer.dataset.fingerprint)")
        }
        if hello.workerVersion != Peer.version {
            problems.append("worker version \(hello.workerVersion) ≠ \(Peer.version)")
        }
        guard problems.isEmpty else {
            counters.rejected += 1
            let reason = problems.joined(separator: "; ")
            log("rejected worker on \(hello.hostname): \(reason)")
            reply(.reject(ReasonPayload(reason: reason)), routingID: routingID)
            return
        }
        let id = workers[routingID]?.id ?? nextWorkerID
        if workers[routingID] == nil { nextWorkerID += 1 }
        let w = Worker(id: id, routingID: routingID, lastSeen: Peer.now(), lease: nil, hostname: hello.hostname)
        workers[routingID] = w
        log("worker \(id) joined from \(hello.hostname) (\(hello.threads) threads)")
        let shape = trainer.shape
        let message = Message.welcome(WelcomePayload(
            runConfigJSON: trainer.config.json(),
            adapterShape: Wire.AdapterShape(layers: UInt32(shape.layers), length: UInt32(shape.length), dim: UInt32(shape.dim), heads: UInt32(shape.heads)),
            paramsVersion: UInt64(step), params: TensorCodec.encode(params.values, as: .f32)))
        send(message, to: w, step: UInt64(step))
    }

    private func send(_ message: Message, to w: Worker, step: UInt64? = nil) {
        sequence += 1
        let frame = message.encode(runID: runID, workerID: w.id, sequence: sequence, step: step)
        do {
            try socket.send([w.routingID, FrameCodec.encode(frame)])
        } catch {
            log("send to worker \(w.id) failed: \(error)")
        }
    }

    private func reply(_ message: Message, routingID: [UInt8]) {
        sequence += 1
        let frame = message.encode(runID: runID, workerID: 0, sequence: sequence)
        try? socket.send([routingID, FrameCodec.encode(frame)])
    }

    private func broadcast(_ message: Message) {
        for w in workers.values.sorted(by: { $0.id < $1.id }) { send(message, to: w) }
    }
}
