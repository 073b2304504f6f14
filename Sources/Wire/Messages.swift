// Message payloads. All integers little-endian; `str` is a u32 byte length then that many bytes of UTF-8;
// `tensor` is an encoded tensor (TensorCodec.swift: a 24-byte tensor header, then its stored body).
// Every payload must be consumed exactly: bytes after the last field are an error.
//
//   type  name       payload
//      1  HELLO      str worker version · 32 B model SHA-256 · 32 B dataset SHA-256 · u32 threads · str hostname
//      2  WELCOME    str run config JSON · u32 layers · u32 length · u32 dim · u32 heads · u64 params version
//                    · tensor params
//      3  REJECT     str reason
//      4  LEASE      u64 step · u32 n · n × u32 micro-batch index · u64 deadline (ms after receipt)
//      5  GRADIENT   u64 step · u32 micro-batch index · f64 loss sum · u64 label tokens · u64 tokens
//                    · tensor gradient sum
//      6  PARAMS     u64 step · u64 version · u8 kind (0 full, 1 delta) · tensor params
//      7  HEARTBEAT  u8 state · u64 current step
//      8  BYE        str reason
//      9  ERROR      u16 code · str message
//
// LEASE, GRADIENT and PARAMS carry their step twice, in the header and in the payload; the two must agree.

/// The `type` field of the frame header.
public enum MessageType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case welcome = 2
    case reject = 3
    case lease = 4
    case gradient = 5
    case params = 6
    case heartbeat = 7
    case bye = 8
    case error = 9

    public var description: String {
        switch self {
        case .hello: "HELLO"
        case .welcome: "WELCOME"
        case .reject: "REJECT"
        case .lease: "LEASE"
        case .gradient: "GRADIENT"
        case .params: "PARAMS"
        case .heartbeat: "HEARTBEAT"
        case .bye: "BYE"
        case .error: "ERROR"
        }
    }
}

/// Worker → coordinator, first message on a connection.
public struct HelloPayload: Sendable, Equatable {
    public static let digestSize = 32
    public var workerVersion: String
    /// SHA-256 of the model file, 32 bytes.
    public var modelSHA256: [UInt8]
    /// SHA-256 of the dataset file, 32 bytes.
    public var datasetSHA256: [UInt8]
    public var threads: UInt32
    public var hostname: String

    public init(workerVersion: String, modelSHA256: [UInt8], datasetSHA256: [UInt8], threads: UInt32, hostname: String)
    {
        precondition(
            modelSHA256.count == Self.digestSize && datasetSHA256.count == Self.digestSize, "SHA-256 is 32 bytes")
        self.workerVersion = workerVersion
        self.modelSHA256 = modelSHA256
        self.datasetSHA256 = datasetSHA256
        self.threads = threads
        self.hostname = hostname
    }

    func write(to writer: inout ByteWriter) {
        writer.string(workerVersion)
        writer.raw(modelSHA256)
        writer.raw(datasetSHA256)
        writer.u32(threads)
        writer.string(hostname)
    }

    static func read(from reader: inout ByteReader, limits: FrameLimits) throws(WireError) -> Self {
        let version = try reader.string("workerVersion", limit: limits.maxStringBytes)
        let model = try reader.raw(digestSize, "modelSHA256")
        let dataset = try reader.raw(digestSize, "datasetSHA256")
        let threads = try reader.u32("threads")
        let hostname = try reader.string("hostname", limit: limits.maxStringBytes)
        return Self(
            workerVersion: version, modelSHA256: model, datasetSHA256: dataset, threads: threads, hostname: hostname)
    }
}

/// The adapter's shape: `layers` adapter layers, `length` prompt vectors of `dim` each, `heads` gates each.
public struct AdapterShape: Sendable, Equatable {
    public var layers: UInt32
    public var length: UInt32
    public var dim: UInt32
    public var heads: UInt32

    public init(layers: UInt32, length: UInt32, dim: UInt32, heads: UInt32) {
        self.layers = layers
        self.length = length
        self.dim = dim
        self.heads = heads
    }

    /// layers × (length × dim + heads): prompts then gates, if the parameters are packed that way; nil on
    /// overflow. The codec does not enforce it (it knows nothing of the adapter's layout).
    public var parameterCount: Int? {
        let (prompt, o1) = UInt64(length).multipliedReportingOverflow(by: UInt64(dim))
        let (perLayer, o2) = prompt.addingReportingOverflow(UInt64(heads))
        let (total, o3) = perLayer.multipliedReportingOverflow(by: UInt64(layers))
        guard !o1, !o2, !o3, total <= UInt64(Int.max) else { return nil }
        return Int(total)
    }
}

/// Coordinator → worker: accepted; here is the run and the current parameters.
public struct WelcomePayload: Sendable, Equatable {
    public var runConfigJSON: String
    public var adapterShape: AdapterShape
    public var paramsVersion: UInt64
    public var params: EncodedTensor

    public init(runConfigJSON: String, adapterShape: AdapterShape, paramsVersion: UInt64, params: EncodedTensor) {
        self.runConfigJSON = runConfigJSON
        self.adapterShape = adapterShape
        self.paramsVersion = paramsVersion
        self.params = params
    }

    func write(to writer: inout ByteWriter) {
        writer.string(runConfigJSON)
        writer.u32(adapterShape.layers)
        writer.u32(adapterShape.length)
        writer.u32(adapterShape.dim)
        writer.u32(adapterShape.heads)
        writer.u64(paramsVersion)
        params.write(to: &writer)
    }

    static func read(from reader: inout ByteReader, limits: FrameLimits) throws(WireError) -> Self {
        let config = try reader.string("runConfigJSON", limit: limits.maxConfigBytes)
        let shape = AdapterShape(
            layers: try reader.u32("layers"), length: try reader.u32("length"), dim: try reader.u32("dim"),
            heads: try reader.u32("heads"))
        let version = try reader.u64("paramsVersion")
        let params = try EncodedTensor.read(from: &reader, field: "params", limits: limits)
        return Self(runConfigJSON: config, adapterShape: shape, paramsVersion: version, params: params)
    }
}

/// A reason, for REJECT and BYE.
public struct ReasonPayload: Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }

    func write(to writer: inout ByteWriter) { writer.string(reason) }

    static func read(from reader: inout ByteReader, limits: FrameLimits) throws(WireError) -> Self {
        Self(reason: try reader.string("reason", limit: limits.maxStringBytes))
    }
}

/// Coordinator → worker: compute these micro-batches of `step` within `deadlineMillis`.
public struct LeasePayload: Sendable, Equatable {
    public var step: UInt64
    public var microBatches: [UInt32]
    /// Milliseconds after receipt (a duration, so the two clocks need not agree).
    public var deadlineMillis: UInt64

    public init(step: UInt64, microBatches: [UInt32], deadlineMillis: UInt64) {
        self.step = step
        self.microBatches = microBatches
        self.deadlineMillis = deadlineMillis
    }

    func write(to writer: inout ByteWriter) {
        writer.u64(step)
        precondition(microBatches.count <= Int(UInt32.max))
        writer.u32(UInt32(microBatches.count))
        for index in microBatches { writer.u32(index) }
        writer.u64(deadlineMillis)
    }

    static func read(from reader: inout ByteReader, limits: FrameLimits) throws(WireError) -> Self {
        let step = try reader.u64("step")
        let count = try reader.count("microBatches", width: 4, limit: limits.maxLeaseMicroBatches)
        var indices = [UInt32]()
        indices.reserveCapacity(count)
        for _ in 0..<count { indices.append(try reader.u32("microBatches")) }
        let deadline = try reader.u64("deadlineMillis")
        return Self(step: step, microBatches: indices, deadlineMillis: deadline)
    }
}

/// Worker → coordinator: the unnormalised gradient sum of one micro-batch.
public struct GradientPayload: Sendable, Equatable {
    public var step: UInt64
    public var microBatch: UInt32
    /// Sum of the token cross-entropies over the micro-batch's label tokens.
    public var lossSum: Double
    public var labelCount: UInt64
    public var tokenCount: UInt64
    public var gradient: EncodedTensor

    public init(
        step: UInt64, microBatch: UInt32, lossSum: Double, labelCount: UInt64, tokenCount: UInt64,
        gradient: EncodedTensor
    ) {
        self.step = step
        self.microBatch = microBatch
        self.lossSum = lossSum
        self.labelCount = labelCount
        self.tokenCount = tokenCount
        self.gradient = gradient
    }

    func write(to writer: inout ByteWriter) {
        writer.u64(step)
        writer.u32(microBatch)
        writer.f64(lossSum)
        writer.u64(labelCount)
        writer.u64(tokenCount)
        gradient.write(to: &writer)
    }

    static func read(from reader: inout ByteReader, limits: FrameLimits) throws(WireError) -> Self {
        Self(
            step: try reader.u64("step"), microBatch: try reader.u32("microBatch"), lossSum: try reader.f64("lossSum"),
            labelCount: try reader.u64("labelCount"), tokenCount: try reader.u64("tokenCount"),
            gradient: try EncodedTensor.read(from: &reader, field: "gradient", limits: limits))
    }
}

/// Coordinator → workers after each step: the new parameters (or the change since `version − 1`).
public struct ParamsPayload: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case full = 0
        case delta = 1
    }
    public var step: UInt64
    public var version: UInt64
    public var kind: Kind
    public var params: EncodedTensor

    public init(step: UInt64, version: UInt64, kind: Kind = .full, params: EncodedTensor) {
        self.step = step
        self.version = version
        self.kind = kind
        self.params = params
    }

    func write(to writer: inout ByteWriter) {
        writer.u64(step)
        writer.u64(version)
        writer.u8(kind.rawValue)
        params.write(to: &writer)
    }

    static func read(from reader: inout ByteReader, limits: FrameLimits) throws(WireError) -> Self {
        let step = try reader.u64("step")
        let version = try reader.u64("version")
        let rawKind = try reader.u8("kind")
        guard let kind = Kind(rawValue: rawKind) else {
            throw reader.malformed("kind", "expected 0 (full) or 1 (delta), found \(rawKind)")
        }
        let params = try EncodedTensor.read(from: &reader, field: "params", limits: limits)
        return Self(step: step, version: version, kind: kind, params: params)
    }
}

/// What a peer is doing, in its HEARTBEAT.
public enum PeerState: UInt8, Sendable, CaseIterable {
    /// Worker: loading the model or data. Coordinator: restoring a snapshot.
    case starting = 0
    /// Worker: waiting for a lease. Coordinator: waiting for workers.
    case idle = 1
    /// Worker: computing a lease. Coordinator: running a step.
    case working = 2
    /// Finishing the current message before a BYE.
    case draining = 3
}

/// Both directions, on a timer: I am alive, in this state, at this step.
public struct HeartbeatPayload: Sendable, Equatable {
    public var state: PeerState
    public var currentStep: UInt64

    public init(state: PeerState, currentStep: UInt64) {
        self.state = state
        self.currentStep = currentStep
    }

    func write(to writer: inout ByteWriter) {
        writer.u8(state.rawValue)
        writer.u64(currentStep)
    }

    static func read(from reader: inout ByteReader, limits: FrameLimits) throws(WireError) -> Self {
        let raw = try reader.u8("state")
        guard let state = PeerState(rawValue: raw) else {
            throw reader.malformed("state", "expected 0...\(PeerState.allCases.count - 1), found \(raw)")
        }
        return Self(state: state, currentStep: try reader.u64("currentStep"))
    }
}

/// Either direction: the peer's last message was refused (or something went wrong on this side).
public struct ErrorPayload: Sendable, Equatable {
    /// A `WireErrorCode` (1–99) or an application code (100+); any value is accepted.
    public var code: UInt16
    public var message: String

    public init(code: UInt16, message: String) {
        self.code = code
        self.message = message
    }

    func write(to writer: inout ByteWriter) {
        writer.u16(code)
        writer.string(message)
    }

    static func read(from reader: inout ByteReader, limits: FrameLimits) throws(WireError) -> Self {
        Self(code: try reader.u16("code"), message: try reader.string("message", limit: limits.maxStringBytes))
    }
}

/// Any message of the protocol.
public enum Message: Sendable, Equatable {
    case hello(HelloPayload)
    case welcome(WelcomePayload)
    case reject(ReasonPayload)
    case lease(LeasePayload)
    case gradient(GradientPayload)
    case params(ParamsPayload)
    case heartbeat(HeartbeatPayload)
    case bye(ReasonPayload)
    case error(ErrorPayload)

    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .reject: .reject
        case .lease: .lease
        case .gradient: .gradient
        case .params: .params
        case .heartbeat: .heartbeat
        case .bye: .bye
        case .error: .error
        }
    }

    /// The step a LEASE, GRADIENT or PARAMS is about; nil for the others.
    public var payloadStep: UInt64? {
        switch self {
        case .lease(let lease): lease.step
        case .gradient(let gradient): gradient.step
        case .params(let params): params.step
        default: nil
        }
    }

    /// The payload bytes (no header).
    public func encodePayload() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .hello(let payload): payload.write(to: &writer)
        case .welcome(let payload): payload.write(to: &writer)
        case .reject(let payload): payload.write(to: &writer)
        case .lease(let payload): payload.write(to: &writer)
        case .gradient(let payload): payload.write(to: &writer)
        case .params(let payload): payload.write(to: &writer)
        case .heartbeat(let payload): payload.write(to: &writer)
        case .bye(let payload): payload.write(to: &writer)
        case .error(let payload): payload.write(to: &writer)
        }
        return writer.bytes
    }

    /// The frame for this message. The header's step is the payload's for LEASE, GRADIENT and PARAMS (a
    /// different `step` given here is a programming error), else `step`.
    public func encode(runID: UInt64, workerID: UInt32, sequence: UInt64, step: UInt64? = nil) -> Frame {
        if let own = payloadStep, let step {
            precondition(own == step, "\(type) for step \(own) framed with header step \(step)")
        }
        return Frame(
            type: type, runID: runID, step: payloadStep ?? step ?? 0, workerID: workerID, sequence: sequence,
            payload: encodePayload())
    }

    /// The message in a frame that `FrameCodec` or `FrameDecoder` accepted.
    public static func decode(_ frame: Frame, limits: FrameLimits = FrameLimits()) throws(WireError) -> Message {
        let type = frame.header.type
        var reader = ByteReader(frame.payload, context: type.description)
        let message: Message
        switch type {
        case .hello: message = .hello(try HelloPayload.read(from: &reader, limits: limits))
        case .welcome: message = .welcome(try WelcomePayload.read(from: &reader, limits: limits))
        case .reject: message = .reject(try ReasonPayload.read(from: &reader, limits: limits))
        case .lease: message = .lease(try LeasePayload.read(from: &reader, limits: limits))
        case .gradient: message = .gradient(try GradientPayload.read(from: &reader, limits: limits))
        case .params: message = .params(try ParamsPayload.read(from: &reader, limits: limits))
        case .heartbeat: message = .heartbeat(try HeartbeatPayload.read(from: &reader, limits: limits))
        case .bye: message = .bye(try ReasonPayload.read(from: &reader, limits: limits))
        case .error: message = .error(try ErrorPayload.read(from: &reader, limits: limits))
        }
        try reader.expectEnd()
        if let own = message.payloadStep, own != frame.header.step {
            throw .malformedPayload("\(type).step: payload says step \(own), header says step \(frame.header.step)")
        }
        return message
    }

    /// Bytes of one ZeroMQ message to the message it carries: `FrameCodec.decode` then `decode`.
    public static func decode(bytes: [UInt8], limits: FrameLimits = FrameLimits()) throws(WireError) -> (
        header: FrameHeader, message: Message
    ) {
        let frame = try FrameCodec.decode(bytes, limits: limits)
        return (frame.header, try decode(frame, limits: limits))
    }

    /// The one place a protocol error becomes a reply: an ERROR with the error's code and text (cut to 1 KiB).
    public static func reply(to error: WireError) -> Message {
        let text = error.description
        let maxBytes = 1024
        let message =
            text.utf8.count <= maxBytes ? text : String(decoding: Array(text.utf8.prefix(maxBytes)), as: UTF8.self)
        return .error(ErrorPayload(code: error.code.rawValue, message: message))
    }
}
