import CZeroMQ
import Foundation

/// A ZeroMQ failure: the operation, errno and libzmq's text.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: Int32
    public var description: String { "zmq \(operation): \(String(cString: zmq_strerror(code))) (errno \(code))" }

    static func last(_ operation: String) -> SocketError { SocketError(operation: operation, code: zmq_errno()) }
}

/// One libzmq context per process; thread-safe, so it may be shared.
public final class SocketContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws(SocketError) {
        guard let h = zmq_ctx_new() else { throw .last("ctx_new") }
        handle = h
    }

    deinit { zmq_ctx_term(handle) }
}

/// A ROUTER or DEALER socket. Not thread-safe: create, use and close it on one thread. Every
/// receive has a deadline; sends never block (a full queue is an error the caller sees).
public final class Socket {
    public enum Kind {
        case router
        case dealer

        var zmqType: Int32 { self == .router ? ZMQ_ROUTER : ZMQ_DEALER }
    }

    private var handle: UnsafeMutableRawPointer?
    private let context: SocketContext  // keeps the context alive while the socket is open

    public init(_ context: SocketContext, _ kind: Kind) throws(SocketError) {
        guard let h = zmq_socket(context.handle, kind.zmqType) else { throw .last("socket") }
        self.handle = h
        self.context = context
        try set(ZMQ_LINGER, 0)
        // ZMTP heartbeats: the I/O thread pings every second and drops a silent peer after 5 s,
        // even while this thread is busy computing.
        try set(ZMQ_HEARTBEAT_IVL, 1000)
        try set(ZMQ_HEARTBEAT_TIMEOUT, 5000)
        try set(ZMQ_HEARTBEAT_TTL, 10_000)
        try set(ZMQ_RECONNECT_IVL, 100)
        try set(ZMQ_RECONNECT_IVL_MAX, 2000)
    }

    deinit { close() }

    public func close() {
        if let h = handle { zmq_close(h) }
        handle = nil
    }

    private func set(_ option: Int32, _ value: Int32) throws(SocketError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else { throw .last("setsockopt \(option)") }
    }

    /// Largest inbound message libzmq accepts before handing it to us (a hostile length is cut off
    /// by libzmq itself); −1 = unlimited.
    public func setMaxMessageSize(_ bytes: Int64) throws(SocketError) {
        var v = bytes
        guard zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &v, 8) == 0 else { throw .last("setsockopt maxmsgsize") }
    }

    /// The routing id a DEALER presents to the ROUTER (set before connect).
    public func setIdentity(_ id: [UInt8]) throws(SocketError) {
        guard zmq_setsockopt(handle, ZMQ_ROUTING_ID, id, id.count) == 0 else { throw .last("setsockopt routing_id") }
    }

    /// Binds and returns the resolved endpoint (a `*` port becomes the real one).
    @discardableResult
    public func bind(_ endpoint: String) throws(SocketError) -> String {
        guard zmq_bind(handle, endpoint) == 0 else { throw .last("bind \(endpoint)") }
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { throw .last("last_endpoint") }
        return String(cString: buffer)
    }

    public func connect(_ endpoint: String) throws(SocketError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw .last("connect \(endpoint)") }
    }

    /// Sends one multipart message without blocking.
    public func send(_ parts: [[UInt8]]) throws(SocketError) {
        for (i, part) in parts.enumerated() {
            let flags = (i < parts.count - 1 ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT
            let rc = part.withUnsafeBytes { zmq_send(handle, $0.baseAddress, part.count, flags) }
            guard rc >= 0 else { throw .last("send") }
        }
    }

    /// Waits up to `timeoutMillis` for a message; nil when none came.
    public func receive(timeoutMillis: Int) throws(SocketError) -> [[UInt8]]? {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let rc = zmq_poll(&item, 1, timeoutMillis)
        if rc < 0 {
            if zmq_errno() == EINTR { return nil }
            throw .last("poll")
        }
        guard rc > 0 else { return nil }
        var parts: [[UInt8]] = []
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            guard zmq_msg_recv(&msg, handle, ZMQ_DONTWAIT) >= 0 else { throw .last("recv") }
            let size = zmq_msg_size(&msg)
            let data = zmq_msg_data(&msg)
            parts.append(size > 0 ? Array(UnsafeRawBufferPointer(start: data, count: size)) : [])
            guard zmq_msg_more(&msg) != 0 else { break }
        }
        return parts
    }
}
