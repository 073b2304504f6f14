import Wire
import XCTest

/// Every message through frame bytes and back, and one hand-built bad payload per parse failure.
final class MessageTests: XCTestCase {
    static func digest(_ seed: UInt8) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: Int($0) * 7 + Int(seed)) } }

    static func allMessages() -> [Message] {
        let params = TensorCodec.encode((0..<500).map { Float($0) * 0.01 }, as: .f32)
        let gradient = TensorCodec.encode((0..<300).map { Float(sin(Double($0))) }, as: .bf16)
        return [
            .hello(
                HelloPayload(
                    workerVersion: "adapterps 0.1.0", modelSHA256: digest(1), datasetSHA256: digest(2), threads: 8,
                    hostname: "nœud-3.example")),
            .welcome(
                WelcomePayload(
                    runConfigJSON: #"{"steps":100,"seed":42}"#,
                    adapterShape: AdapterShape(layers: 2, length: 10, dim: 24, heads: 10),
                    paramsVersion: 7, params: params)),
            .reject(ReasonPayload(reason: "model fingerprint differs")),
            .lease(LeasePayload(step: 12, microBatches: [0, 3, 4_000_000_000], deadlineMillis: 30_000)),
            .lease(LeasePayload(step: 13, microBatches: [], deadlineMillis: 0)),
            .gradient(
                GradientPayload(
                    step: 12, microBatch: 3, lossSum: 1234.5678, labelCount: 777, tokenCount: 2048, gradient: gradient)),
            .params(ParamsPayload(step: 13, version: 14, kind: .full, params: params)),
            .params(
                ParamsPayload(
                    step: 13, version: 14, kind: .delta, params: TensorCodec.encode([1, 2, 3], as: .int8Block))),
            .heartbeat(HeartbeatPayload(state: .draining, currentStep: .max)),
            .bye(ReasonPayload(reason: "")),
            .error(ErrorPayload(code: 4242, message: "stale step")),
        ]
    }

    func testEveryMessageRoundTripsThroughBytes() throws {
        for (index, message) in Self.allMessages().enumerated() {
            let frame = message.encode(
                runID: 5, workerID: 6, sequence: UInt64(index), step: message.payloadStep == nil ? 99 : nil)
            let (header, decoded) = try Message.decode(bytes: FrameCodec.encode(frame))
            XCTAssertEqual(decoded, message)
            XCTAssertEqual(header.type, message.type)
            XCTAssertEqual(header.step, message.payloadStep ?? 99)
            XCTAssertEqual(header.runID, 5)
            XCTAssertEqual(header.workerID, 6)
            XCTAssertEqual(header.sequence, UInt64(index))
        }
        XCTAssertEqual(Set(Self.allMessages().map(\.type)), Set(MessageType.allCases))
    }

    func testWelcomeCarriesParamsBitExact() throws {
        let values: [Float] = [0, -0, .infinity, -.leastNonzeroMagnitude, 3.25, .greatestFiniteMagnitude]
        let message = Message.welcome(
            WelcomePayload(
                runConfigJSON: "{}", adapterShape: AdapterShape(layers: 1, length: 1, dim: 5, heads: 1),
                paramsVersion: 0,
                params: TensorCodec.encode(values)))
        guard case .welcome(let welcome) = try Message.decode(message.encode(runID: 1, workerID: 0, sequence: 0)) else {
            return XCTFail("not a WELCOME")
        }
        XCTAssertEqual(try TensorCodec.decode(welcome.params).map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(welcome.adapterShape.parameterCount, 6)
    }

    // MARK: The error → reply mapping

    func testWireErrorMapsToErrorReply() throws {
        let errors: [WireError] = [
            .badMagic(found: [1, 2, 3, 4]), .unsupportedVersion(found: 99, supported: 1), .unknownType(77),
            .truncated(needed: 44, have: 3), .oversized(length: 5, limit: 4), .badChecksum(expected: 1, found: 2),
            .malformedPayload("LEASE.step: needs 8 bytes, 0 remain"),
        ]
        XCTAssertEqual(Set(errors.map(\.code)).count, errors.count)
        for error in errors {
            let reply = Message.reply(to: error)
            XCTAssertEqual(reply, .error(ErrorPayload(code: error.code.rawValue, message: error.description)))
            XCTAssertEqual(try Message.decode(reply.encode(runID: 1, workerID: 0, sequence: 0)), reply)
        }
        XCTAssertEqual(
            Message.reply(to: .badChecksum(expected: 0xDEAD_BEEF, found: 1)),
            .error(
                ErrorPayload(
                    code: 6, message: "bad payload checksum: header says CRC32C 0xdeadbeef, payload has 0x00000001")))
        let long = Message.reply(to: .malformedPayload(String(repeating: "é", count: 2000)))
        guard case .error(let payload) = long else { return XCTFail() }
        XCTAssertLessThanOrEqual(payload.message.utf8.count, 1024 + 3)
    }

    // MARK: Malformed payloads, each with its exact error

    func decodeError(_ type: MessageType, _ payload: [UInt8], step: UInt64 = 0, limits: FrameLimits = FrameLimits())
        -> WireError?
    {
        do {
            _ = try Message.decode(framed(type, payload, step: step), limits: limits)
            return nil
        } catch {
            return error
        }
    }

    func testStringLengthPastTheEnd() {
        let payload = Bytes().u32(1000).raw(Array("abc".utf8)).bytes
        XCTAssertEqual(
            decodeError(.reject, payload),
            .malformedPayload("REJECT.reason: length 1000 runs past the end of the payload (3 bytes remain)"))
        XCTAssertEqual(
            decodeError(.bye, Bytes().u32(70_000).bytes),
            .malformedPayload("BYE.reason: length 70000 is over the limit of 65536 bytes"))
        XCTAssertEqual(
            decodeError(.bye, Bytes().u16(1).bytes),
            .malformedPayload("BYE.reason.length: needs 4 bytes, 2 remain"))
    }

    func testInvalidUTF8() {
        XCTAssertEqual(
            decodeError(.bye, Bytes().u32(2).raw([0xC3, 0x28]).bytes),
            .malformedPayload("BYE.reason: is not valid UTF-8"))
    }

    func testLeaseCountOverLimitAndOverflow() {
        let huge = Bytes().u64(0).u32(0xFFFF_FFFF).bytes
        XCTAssertEqual(
            decodeError(.lease, huge),
            .malformedPayload("LEASE.microBatches: count 4294967295 is over the limit of 1048576"))
        let generous = FrameLimits(maxLeaseMicroBatches: Int(UInt32.max))
        XCTAssertEqual(
            decodeError(.lease, huge, limits: generous),
            .malformedPayload("LEASE.microBatches: count 4294967295 needs 4294967295 × 4 bytes, 0 remain"))
    }

    func testHelloShortDigest() {
        let payload = Bytes().string("v1").raw([1, 2, 3, 4, 5]).bytes
        XCTAssertEqual(decodeError(.hello, payload), .malformedPayload("HELLO.modelSHA256: needs 32 bytes, 5 remain"))
    }

    func testTrailingBytesAndEmptyPayloads() {
        let payload = Bytes().u8(1).u64(5).u8(0).bytes
        XCTAssertEqual(
            decodeError(.heartbeat, payload), .malformedPayload("HEARTBEAT: 1 unexpected bytes after the last field"))
        XCTAssertEqual(decodeError(.heartbeat, []), .malformedPayload("HEARTBEAT.state: needs 1 bytes, 0 remain"))
        XCTAssertEqual(decodeError(.error, []), .malformedPayload("ERROR.code: needs 2 bytes, 0 remain"))
    }

    func testUnknownEnumValues() {
        XCTAssertEqual(
            decodeError(.heartbeat, Bytes().u8(9).u64(0).bytes),
            .malformedPayload("HEARTBEAT.state: expected 0...3, found 9"))
        let params = Bytes().u64(0).u64(1).u8(2).bytes
        XCTAssertEqual(
            decodeError(.params, params), .malformedPayload("PARAMS.kind: expected 0 (full) or 1 (delta), found 2"))
    }

    func testHeaderStepMustMatchPayloadStep() {
        let payload = Message.lease(LeasePayload(step: 5, microBatches: [1], deadlineMillis: 10)).encodePayload()
        XCTAssertEqual(
            decodeError(.lease, payload, step: 6),
            .malformedPayload("LEASE.step: payload says step 5, header says step 6"))
        XCTAssertNil(decodeError(.lease, payload, step: 5))
    }

    func gradientPrefix() -> Bytes { Bytes().u64(0).u32(1).f64(2.5).u64(10).u64(20) }

    func testTensorHeaderHostileFields() {
        // Count far over the limit (and whose byte size would overflow): refused before anything else.
        let overflow = gradientPrefix().u8(0).u8(0).u16(0).u64(0x4000_0000_0000_0001).u64(0).u32(0).bytes
        XCTAssertEqual(
            decodeError(.gradient, overflow),
            .malformedPayload("GRADIENT.gradient: count 4611686018427387905 elements is over the limit of 67108864"))
        let badEncoding = gradientPrefix().u8(7).bytes
        XCTAssertEqual(
            decodeError(.gradient, badEncoding),
            .malformedPayload("GRADIENT.gradient.encoding: expected 0...3, found 7"))
        let badCompression = gradientPrefix().u8(0).u8(2).bytes
        XCTAssertEqual(
            decodeError(.gradient, badCompression),
            .malformedPayload("GRADIENT.gradient.compression: expected 0 (raw) or 1 (lz4), found 2"))
        let badBlock = gradientPrefix().u8(2).u8(0).u16(32).u64(10).u64(0).u32(14).raw([UInt8](repeating: 0, count: 14))
            .bytes
        XCTAssertEqual(
            decodeError(.gradient, badBlock),
            .malformedPayload("GRADIENT.gradient: block size 32 for int8Block, expected 64"))
        let keptTooMany = gradientPrefix().u8(3).u8(0).u16(0).u64(10).u64(11).u32(88).bytes
        XCTAssertEqual(
            decodeError(.gradient, keptTooMany),
            .malformedPayload("GRADIENT.gradient: kept 11 pairs of a tensor of 10 elements"))
        let wrongRawSize = gradientPrefix().u8(0).u8(0).u16(0).u64(10).u64(0).u32(39).raw(
            [UInt8](repeating: 0, count: 39)
        ).bytes
        XCTAssertEqual(
            decodeError(.gradient, wrongRawSize),
            .malformedPayload("GRADIENT.gradient: raw f32 body of 10 elements must be 40 bytes, found 39"))
        let storedPastEnd = gradientPrefix().u8(0).u8(1).u16(0).u64(10).u64(0).u32(1_000_000).raw([1, 2, 3]).bytes
        XCTAssertEqual(
            decodeError(.gradient, storedPastEnd),
            .malformedPayload(
                "GRADIENT.gradient: stored length 1000000 runs past the end of the payload (3 bytes remain)"))
        let emptyLZ4 = gradientPrefix().u8(0).u8(1).u16(0).u64(0).u64(0).u32(0).bytes
        XCTAssertEqual(
            decodeError(.gradient, emptyLZ4),
            .malformedPayload("GRADIENT.gradient: LZ4 body of 0 bytes for a decoded body of 0 bytes"))
    }
}
