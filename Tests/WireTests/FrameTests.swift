import Wire
import XCTest

/// The frame header and its decoders: golden bytes, round trips, and one hand-built bad frame per check.
final class FrameTests: XCTestCase {
    let heartbeat = Message.heartbeat(HeartbeatPayload(state: .working, currentStep: 42))

    // MARK: CRC32C

    /// Bit-at-a-time CRC32C straight from the definition, to check the sliced table version against.
    func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    func testCRC32CCheckValueAndReference() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 B.4: 32 bytes of zeros and 32 of 0xFF.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        var rng = SeededGenerator(seed: 1)
        for length in 0..<100 {
            let data = rng.bytes(length)
            XCTAssertEqual(CRC32C.checksum(data), referenceCRC32C(data), "length \(length)")
            let cut = length / 3
            let first = CRC32C.checksum(Array(data[..<cut]))
            let whole = Array(data[cut...]).withUnsafeBytes { CRC32C.checksum($0, continuing: first) }
            XCTAssertEqual(whole, CRC32C.checksum(data), "in two pieces, length \(length)")
        }
    }

    // MARK: Layout and round trips

    /// The header bytes, field by field, for one known frame (the layout comment of Frame.swift).
    func testHeaderGoldenBytes() {
        let frame = Frame(
            type: .bye, runID: 0x0102_0304_0506_0708, step: 9, workerID: 0xA0B0_C0D0, sequence: 0x1122, payload: [0xAB])
        let bytes = FrameCodec.encode(frame)
        let crc = CRC32C.checksum([0xAB])
        var expected: [UInt8] = [0x41, 0x50, 0x53, 0x31, 1, 0, 8, 0]
        expected += [8, 7, 6, 5, 4, 3, 2, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0xD0, 0xC0, 0xB0, 0xA0]
        expected += [0x22, 0x11, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
        expected += [UInt8(crc & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8((crc >> 16) & 0xFF), UInt8(crc >> 24), 0xAB]
        XCTAssertEqual(bytes, expected)
        XCTAssertEqual(WireProtocol.headerSize, 44)
    }

    func testFrameRoundTrip() throws {
        var rng = SeededGenerator(seed: 2)
        for length in [0, 1, 43, 44, 1000, 70_000] {
            let frame = Frame(
                type: .gradient, runID: .max, step: 5, workerID: 17, sequence: 99, payload: rng.bytes(length))
            XCTAssertEqual(try FrameCodec.decode(FrameCodec.encode(frame)), frame)
        }
    }

    // MARK: Hostile frames, one per check, in the order the decoder makes them

    func testTruncatedAtEveryLength() {
        let bytes = FrameCodec.encode(heartbeat.encode(runID: 1, workerID: 2, sequence: 3))
        for length in 0..<bytes.count {
            let needed = length < 44 ? 44 : bytes.count
            assertWireError(.truncated(needed: needed, have: length)) { () throws(WireError) in
                try FrameCodec.decode(Array(bytes[..<length]))
            }
        }
        XCTAssertNoThrow(try FrameCodec.decode(bytes))
    }

    func testWrongMagic() {
        let bytes = rawHeader(magic: Array("APS2".utf8), length: 0, checksum: 0)
        assertWireError(.badMagic(found: [0x41, 0x50, 0x53, 0x32])) { () throws(WireError) in
            try FrameCodec.decode(bytes)
        }
        XCTAssertEqual(
            WireError.badMagic(found: [0x47, 0x00, 0x27, 0x46]).description,
            "invalid magic 'G\\x00\\x27F', expected 'APS1'")
    }

    func testVersion99() {
        let bytes = rawHeader(version: 99, length: 0, checksum: 0)
        assertWireError(.unsupportedVersion(found: 99, supported: 1)) { () throws(WireError) in
            try FrameCodec.decode(bytes)
        }
    }

    func testUnknownType() {
        for type: UInt16 in [0, 10, 0xFFFF] {
            let bytes = rawHeader(type: type, length: 0, checksum: 0)
            assertWireError(.unknownType(type)) { () throws(WireError) in try FrameCodec.decode(bytes) }
        }
    }

    /// A header claiming 4 GiB with 10 bytes after it: refused on the length alone, nothing allocated.
    func testOversizedLengthCheckedBeforeAnything() {
        let bytes = rawHeader(length: 0xFFFF_FFFF, checksum: 0) + [UInt8](repeating: 0, count: 10)
        assertWireError(.oversized(length: 4_294_967_295, limit: 256 << 20)) { () throws(WireError) in
            try FrameCodec.decode(bytes)
        }
        var decoder = FrameDecoder()
        assertWireError(.oversized(length: 4_294_967_295, limit: 256 << 20)) { () throws(WireError) in
            try decoder.feed(bytes)
        }
        // A custom limit is honoured exactly: limit + 1 is refused, the limit itself accepted.
        let limits = FrameLimits(maxPayload: 100)
        let payload = [UInt8](repeating: 7, count: 101)
        let over = rawHeader(length: 101, checksum: CRC32C.checksum(payload)) + payload
        assertWireError(.oversized(length: 101, limit: 100)) { () throws(WireError) in
            try FrameCodec.decode(over, limits: limits)
        }
        let exact = rawHeader(length: 100, checksum: CRC32C.checksum(Array(payload[..<100]))) + payload[..<100]
        XCTAssertNoThrow(try FrameCodec.decode(exact, limits: limits))
    }

    func testBadChecksumOneFlippedBit() {
        let frame = heartbeat.encode(runID: 1, workerID: 2, sequence: 3)
        let good = FrameCodec.encode(frame)
        for bit in 0..<(frame.payload.count * 8) {
            var bytes = good
            bytes[44 + bit / 8] ^= 1 << UInt8(bit % 8)
            let found = CRC32C.checksum(Array(bytes[44...]))
            XCTAssertNotEqual(found, frame.header.checksum)
            assertWireError(.badChecksum(expected: frame.header.checksum, found: found)) { () throws(WireError) in
                try FrameCodec.decode(bytes)
            }
        }
        var bytes = good
        bytes[40] ^= 0x80  // the checksum field itself
        assertWireError(.badChecksum(expected: frame.header.checksum ^ 0x80, found: frame.header.checksum)) {
            () throws(WireError) in try FrameCodec.decode(bytes)
        }
    }

    func testTrailingBytesInOneMessage() {
        let bytes = FrameCodec.encode(heartbeat.encode(runID: 1, workerID: 2, sequence: 3)) + [0]
        assertWireError(.malformedPayload("frame of 53 bytes followed by 1 extra bytes in the same message")) {
            () throws(WireError) in try FrameCodec.decode(bytes)
        }
    }

    // MARK: FrameDecoder

    func sampleFrames() -> [Frame] {
        var rng = SeededGenerator(seed: 3)
        return (0..<5).map { i in
            Frame(
                type: .gradient, runID: 9, step: UInt64(i), workerID: 1, sequence: UInt64(i), payload: rng.bytes(i * 37)
            )
        }
    }

    func testDecoderDripFedOneByteAtATime() throws {
        let frames = sampleFrames()
        let stream = frames.flatMap(FrameCodec.encode)
        var ends = Set<Int>()
        var offset = 0
        for frame in frames {
            offset += 44 + frame.payload.count
            ends.insert(offset - 1)
        }
        var decoder = FrameDecoder()
        var got: [Frame] = []
        for (index, byte) in stream.enumerated() {
            let out = try decoder.feed([byte])
            XCTAssertEqual(out.count, ends.contains(index) ? 1 : 0, "byte \(index)")
            got += out
        }
        XCTAssertEqual(got, frames)
        XCTAssertEqual(decoder.bufferedByteCount, 0)
        XCTAssertNoThrow(try decoder.finish())
    }

    func testDecoderManyFramesInOneBufferAndRandomChunks() throws {
        var rng = SeededGenerator(seed: 4)
        let frames = (0..<200).map { i in
            Frame(
                type: .params, runID: 1, step: UInt64(i), workerID: 0, sequence: UInt64(i),
                payload: rng.bytes(Int.random(in: 0..<300, using: &rng)))
        }
        let stream = frames.flatMap(FrameCodec.encode)
        var decoder = FrameDecoder()
        XCTAssertEqual(try decoder.feed(stream), frames)
        var chunked = FrameDecoder()
        var got: [Frame] = []
        var offset = 0
        while offset < stream.count {
            let size = min(stream.count - offset, Int.random(in: 1..<500, using: &rng))
            got += try chunked.feed(Array(stream[offset..<offset + size]))
            offset += size
        }
        XCTAssertEqual(got, frames)
    }

    func testDecoderFinishReportsACutFrame() throws {
        let bytes = FrameCodec.encode(heartbeat.encode(runID: 1, workerID: 2, sequence: 3))
        var decoder = FrameDecoder()
        XCTAssertEqual(try decoder.feed(Array(bytes[..<10])), [])
        assertWireError(.truncated(needed: 44, have: 10)) { () throws(WireError) in try decoder.finish() }
        XCTAssertEqual(try decoder.feed(Array(bytes[10..<50])), [])
        assertWireError(.truncated(needed: bytes.count, have: 50)) { () throws(WireError) in try decoder.finish() }
    }

    /// Good frames before a bad one in the same feed are returned; the error comes on the next call, and stays.
    func testDecoderErrorAfterGoodFramesIsSticky() throws {
        let good = FrameCodec.encode(heartbeat.encode(runID: 1, workerID: 2, sequence: 3))
        var bad = good
        bad[4] = 99
        var decoder = FrameDecoder()
        XCTAssertEqual(try decoder.feed(good + good + bad).count, 2)
        let expected = WireError.unsupportedVersion(found: 99, supported: 1)
        assertWireError(expected) { () throws(WireError) in try decoder.feed(good) }
        assertWireError(expected) { () throws(WireError) in try decoder.finish() }
        var fresh = FrameDecoder()
        assertWireError(expected) { () throws(WireError) in try fresh.feed(bad) }
    }
}
