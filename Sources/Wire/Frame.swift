// The frame: a fixed 44-byte little-endian header, then the payload. One frame per ZeroMQ message.
//
//   offset  size  field
//        0     4  magic            "APS1" (0x41 0x50 0x53 0x31)
//        4     2  version          u16, WireProtocol.version (1)
//        6     2  type             u16, MessageType raw value (Messages.swift)
//        8     8  run id           u64, chosen by the coordinator per run
//       16     8  step             u64, the optimizer step the message is about (0 where none)
//       24     4  worker id        u32, the worker's id: sender's (0 in HELLO) or addressee's (WELCOME assigns it)
//       28     8  sequence         u64, per sender, +1 per frame; lets a receiver count gaps and duplicates
//       36     4  payload length   u32, bytes after the header
//       40     4  payload CRC32C   u32, CRC32C (CRC32C.swift) of the payload bytes only
//       44     …  payload          `payload length` bytes, layout per message type (Messages.swift)
//
// Decoding checks, in this order, and stops at the first failure: at least 44 bytes; magic; version; type;
// payload length against FrameLimits.maxPayload (before anything is allocated or buffered for it); the
// exact total size; the checksum. The codec is pure — bytes in, frames out; sockets live elsewhere.

/// Protocol constants.
public enum WireProtocol {
    public static let magic: [UInt8] = Array("APS1".utf8)
    public static let version: UInt16 = 1
    public static let headerSize = 44
}

/// Every size a peer's bytes can make us allocate, checked as soon as the length is read.
public struct FrameLimits: Sendable, Equatable {
    /// Largest payload accepted in one frame (the header's u32 allows 4 GiB − 1).
    public var maxPayload: Int
    /// Largest short string (names, reasons, error texts, versions).
    public var maxStringBytes: Int
    /// Largest run-config JSON in WELCOME.
    public var maxConfigBytes: Int
    /// Most micro-batch indices in one LEASE.
    public var maxLeaseMicroBatches: Int
    /// Most elements in one decoded tensor (64 Mi floats = 256 MiB).
    public var maxTensorElements: Int

    public init(
        maxPayload: Int = 256 << 20, maxStringBytes: Int = 64 << 10, maxConfigBytes: Int = 4 << 20,
        maxLeaseMicroBatches: Int = 1 << 20, maxTensorElements: Int = 64 << 20
    ) {
        precondition(maxPayload >= 0 && maxPayload <= Int(UInt32.max), "maxPayload must fit the u32 length field")
        precondition(maxStringBytes >= 0 && maxConfigBytes >= 0 && maxLeaseMicroBatches >= 0)
        precondition(maxTensorElements >= 0 && maxTensorElements <= Int(UInt32.max))
        self.maxPayload = maxPayload
        self.maxStringBytes = maxStringBytes
        self.maxConfigBytes = maxConfigBytes
        self.maxLeaseMicroBatches = maxLeaseMicroBatches
        self.maxTensorElements = maxTensorElements
    }
}

/// The fixed header, as sent or as received (a received one has passed every check but the checksum's
/// comparison, which `FrameCodec` makes before handing the frame out).
public struct FrameHeader: Sendable, Equatable {
    public var version: UInt16
    public var type: MessageType
    public var runID: UInt64
    public var step: UInt64
    public var workerID: UInt32
    public var sequence: UInt64
    public var payloadLength: UInt32
    public var checksum: UInt32

    public init(
        version: UInt16 = WireProtocol.version, type: MessageType, runID: UInt64, step: UInt64, workerID: UInt32,
        sequence: UInt64, payloadLength: UInt32, checksum: UInt32
    ) {
        self.version = version
        self.type = type
        self.runID = runID
        self.step = step
        self.workerID = workerID
        self.sequence = sequence
        self.payloadLength = payloadLength
        self.checksum = checksum
    }
}

/// One header and its payload.
public struct Frame: Sendable, Equatable {
    public var header: FrameHeader
    public var payload: [UInt8]

    /// A frame whose length and checksum fields describe `payload`.
    public init(type: MessageType, runID: UInt64, step: UInt64, workerID: UInt32, sequence: UInt64, payload: [UInt8]) {
        precondition(payload.count <= Int(UInt32.max), "payload of \(payload.count) bytes does not fit a frame")
        self.header = FrameHeader(
            type: type, runID: runID, step: step, workerID: workerID, sequence: sequence,
            payloadLength: UInt32(payload.count), checksum: CRC32C.checksum(payload))
        self.payload = payload
    }

    /// A frame from a header and payload as they are (used by the decoders after checking them).
    public init(header: FrameHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }
}

/// Frames to bytes and back, one frame per buffer (a ZeroMQ message).
public enum FrameCodec {
    public static func encode(_ frame: Frame) -> [UInt8] {
        let header = frame.header
        precondition(Int(header.payloadLength) == frame.payload.count, "header length does not match the payload")
        var writer = ByteWriter(capacity: WireProtocol.headerSize + frame.payload.count)
        writer.raw(WireProtocol.magic)
        writer.u16(header.version)
        writer.u16(header.type.rawValue)
        writer.u64(header.runID)
        writer.u64(header.step)
        writer.u32(header.workerID)
        writer.u64(header.sequence)
        writer.u32(header.payloadLength)
        writer.u32(header.checksum)
        writer.raw(frame.payload)
        return writer.bytes
    }

    /// Exactly one frame: `bytes` must hold the header and its payload and nothing more.
    public static func decode(_ bytes: [UInt8], limits: FrameLimits = FrameLimits()) throws(WireError) -> Frame {
        let header = try bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) in
                try parseHeader(raw, limits: limits)
            }
        }.get()
        let total = WireProtocol.headerSize + Int(header.payloadLength)
        guard bytes.count >= total else { throw .truncated(needed: total, have: bytes.count) }
        guard bytes.count == total else {
            throw .malformedPayload(
                "frame of \(total) bytes followed by \(bytes.count - total) extra bytes in the same message")
        }
        let payload = Array(bytes[WireProtocol.headerSize...])
        try verifyChecksum(header, payload)
        return Frame(header: header, payload: payload)
    }

    /// Reads and checks the header at the start of `raw`: size, magic, version, type, payload limit.
    static func parseHeader(_ raw: UnsafeRawBufferPointer, limits: FrameLimits) throws(WireError) -> FrameHeader {
        guard raw.count >= WireProtocol.headerSize else {
            throw .truncated(needed: WireProtocol.headerSize, have: raw.count)
        }
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let magic = Array(raw[0..<4])
        guard magic == WireProtocol.magic else { throw .badMagic(found: magic) }
        let version = load(4, UInt16.self)
        guard version == WireProtocol.version else {
            throw .unsupportedVersion(found: version, supported: WireProtocol.version)
        }
        let rawType = load(6, UInt16.self)
        guard let type = MessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        let payloadLength = load(36, UInt32.self)
        guard Int(payloadLength) <= limits.maxPayload else {
            throw .oversized(length: Int(payloadLength), limit: limits.maxPayload)
        }
        return FrameHeader(
            version: version, type: type, runID: load(8, UInt64.self), step: load(16, UInt64.self),
            workerID: load(24, UInt32.self), sequence: load(28, UInt64.self), payloadLength: payloadLength,
            checksum: load(40, UInt32.self))
    }

    static func verifyChecksum(_ header: FrameHeader, _ payload: [UInt8]) throws(WireError) {
        let found = CRC32C.checksum(payload)
        guard found == header.checksum else { throw .badChecksum(expected: header.checksum, found: found) }
    }
}

/// Frames from a byte stream that arrives in arbitrary pieces (a stream socket, a file, a test feeding one
/// byte at a time). It buffers at most one frame: the header's payload length is checked against the
/// limit as soon as the 44 header bytes are in, before any payload is buffered.
///
/// After an error the stream cannot be resynchronised and the decoder is failed for good. Frames completed
/// before the error in the same `feed` are returned first; the error is thrown by that call when no frame
/// came before it, and otherwise by the next `feed` or `finish`.
public struct FrameDecoder: Sendable {
    public let limits: FrameLimits
    private var buffer: [UInt8] = []
    /// Start of the first unconsumed byte in `buffer`.
    private var start = 0
    private var failure: WireError?

    public init(limits: FrameLimits = FrameLimits()) { self.limits = limits }

    /// Bytes received but not yet part of a returned frame.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func feed(_ bytes: [UInt8]) throws(WireError) -> [Frame] {
        if let failure { throw failure }
        buffer.append(contentsOf: bytes)
        var frames: [Frame] = []
        while true {
            do {
                guard let frame = try nextFrame() else { break }
                frames.append(frame)
            } catch {
                failure = error
                buffer = []
                start = 0
                if frames.isEmpty { throw error }
                return frames
            }
        }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            start = 0
        } else if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        return frames
    }

    /// The stream has ended: throws if a frame was cut off or an earlier error is pending.
    public func finish() throws(WireError) {
        if let failure { throw failure }
        let have = bufferedByteCount
        guard have > 0 else { return }
        guard have >= WireProtocol.headerSize else { throw .truncated(needed: WireProtocol.headerSize, have: have) }
        let header = try headerAtStart()
        throw .truncated(needed: WireProtocol.headerSize + Int(header.payloadLength), have: have)
    }

    private func headerAtStart() throws(WireError) -> FrameHeader {
        try buffer.withUnsafeBytes { raw in
            Result { () throws(WireError) in
                try FrameCodec.parseHeader(UnsafeRawBufferPointer(rebasing: raw[start...]), limits: limits)
            }
        }.get()
    }

    private mutating func nextFrame() throws(WireError) -> Frame? {
        let available = buffer.count - start
        guard available >= WireProtocol.headerSize else { return nil }
        let header = try headerAtStart()
        let total = WireProtocol.headerSize + Int(header.payloadLength)
        guard available >= total else {
            buffer.reserveCapacity(start + total)
            return nil
        }
        let payload = Array(buffer[(start + WireProtocol.headerSize)..<(start + total)])
        try FrameCodec.verifyChecksum(header, payload)
        start += total
        return Frame(header: header, payload: payload)
    }
}
