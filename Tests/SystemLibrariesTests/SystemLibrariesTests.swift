import CLZ4
import COpenBLAS
import CZeroMQ
import XCTest

/// Proves the three C libraries are linked and callable, each with a real round trip.
final class SystemLibrariesTests: XCTestCase {
    /// A REQ/REP round trip over loopback TCP on an ephemeral port.
    func testZeroMQRequestReplyOnLoopback() throws {
        let ctx = zmq_ctx_new()!
        defer { zmq_ctx_term(ctx) }
        let rep = zmq_socket(ctx, ZMQ_REP)!
        let req = zmq_socket(ctx, ZMQ_REQ)!
        defer {
            var linger: Int32 = 0
            zmq_setsockopt(rep, ZMQ_LINGER, &linger, 4)
            zmq_setsockopt(req, ZMQ_LINGER, &linger, 4)
            zmq_close(req)
            zmq_close(rep)
        }
        var timeout: Int32 = 5000
        zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeout, 4)
        zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, 4)
        XCTAssertEqual(zmq_bind(rep, "tcp://127.0.0.1:*"), 0)
        var endpoint = [CChar](repeating: 0, count: 256)
        var size = endpoint.count
        XCTAssertEqual(zmq_getsockopt(rep, ZMQ_LAST_ENDPOINT, &endpoint, &size), 0)
        let address = String(cString: endpoint)
        XCTAssertTrue(address.hasPrefix("tcp://127.0.0.1:"), address)
        XCTAssertEqual(zmq_connect(req, address), 0)

        let ping: [UInt8] = Array("ping".utf8)
        XCTAssertEqual(zmq_send(req, ping, ping.count, 0), 4)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(zmq_recv(rep, &buffer, buffer.count, 0), 4)
        XCTAssertEqual(Array(buffer[0..<4]), ping)
        let pong: [UInt8] = Array("pong!".utf8)
        XCTAssertEqual(zmq_send(rep, pong, pong.count, 0), 5)
        XCTAssertEqual(zmq_recv(req, &buffer, buffer.count, 0), 5)
        XCTAssertEqual(Array(buffer[0..<5]), pong)
    }

    /// C = A·Bᵀ for a 2×3 and 2×3 (row-major), against the product computed by hand.
    func testOpenBLASSgemmMatchesHandProduct() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]  // [[1,2,3],[4,5,6]]
        let b: [Float] = [7, 8, 9, 10, 11, 12]  // rows of B; C = A·Bᵀ
        var c = [Float](repeating: -1, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 2, 2, 3, 1, a, 3, b, 3, 0, &c, 2)
        // [1·7+2·8+3·9, 1·10+2·11+3·12; 4·7+5·8+6·9, 4·10+5·11+6·12]
        XCTAssertEqual(c, [50, 68, 122, 167])
        XCTAssertGreaterThan(openblas_get_num_threads(), 0)
    }

    /// LZ4 compresses a repetitive buffer smaller and decompresses it back exactly.
    func testLZ4RoundTrip() {
        let source: [UInt8] = (0..<65_536).map { UInt8(($0 / 7) % 13) }
        let bound = Int(LZ4_compressBound(Int32(source.count)))
        var compressed = [UInt8](repeating: 0, count: bound)
        let written = source.withUnsafeBytes { src in
            compressed.withUnsafeMutableBytes { dst in
                LZ4_compress_default(
                    src.baseAddress!.assumingMemoryBound(to: CChar.self),
                    dst.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(source.count), Int32(bound))
            }
        }
        XCTAssertGreaterThan(written, 0)
        XCTAssertLessThan(Int(written), source.count / 10)
        var restored = [UInt8](repeating: 0, count: source.count)
        let read = compressed.withUnsafeBytes { src in
            restored.withUnsafeMutableBytes { dst in
                LZ4_decompress_safe(
                    src.baseAddress!.assumingMemoryBound(to: CChar.self),
                    dst.baseAddress!.assumingMemoryBound(to: CChar.self), written, Int32(source.count))
            }
        }
        XCTAssertEqual(Int(read), source.count)
        XCTAssertEqual(restored, source)
        XCTAssertGreaterThan(LZ4_versionNumber(), 10_000)
    }
}
