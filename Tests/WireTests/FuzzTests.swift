import Wire
import XCTest

/// Seeded random and mutated inputs: the decoders must return a frame/message or throw a WireError, never
/// crash, hang or allocate past the limits. Any crash found here gets a named regression test below.
final class FuzzTests: XCTestCase {
    /// Decodes as far as it goes: frame, message, then any tensor inside. Returns how far it got.
    @discardableResult
    func decodeAll(_ bytes: [UInt8], limits: FrameLimits = FrameLimits()) -> Int {
        do {
            let (_, message) = try Message.decode(bytes: bytes, limits: limits)
            try decodeTensors(message)
            return 3
        } catch {
            _ = error.description
            return 0
        }
    }

    func decodeTensors(_ message: Message) throws(WireError) {
        switch message {
        case .welcome(let welcome): _ = try TensorCodec.decode(welcome.params)
        case .gradient(let gradient): _ = try TensorCodec.decode(gradient.gradient)
        case .params(let params): _ = try TensorCodec.decode(params.params)
        default: break
        }
    }

    func testThousandRandomBuffersNeverCrash() {
        var rng = SeededGenerator(seed: 20)
        var reachedPayload = 0
        for _ in 0..<1000 {
            var bytes = rng.bytes(Int.random(in: 0..<200, using: &rng))
            if Bool.random(using: &rng), bytes.count >= 44 {
                // A plausible header, so the payload parsers see random payloads too.
                let type = UInt16.random(in: 1...9, using: &rng)
                let payload = Array(bytes[44...])
                bytes.replaceSubrange(
                    0..<44,
                    with: rawHeader(type: type, length: UInt32(payload.count), checksum: CRC32C.checksum(payload)))
            }
            decodeAll(bytes)
            var decoder = FrameDecoder()
            do {
                _ = try decoder.feed(bytes)
                try decoder.finish()
            } catch { _ = error.code }
            // The same bytes as the payload of every type.
            for type in MessageType.allCases {
                do {
                    let message = try Message.decode(framed(type, bytes))
                    try decodeTensors(message)
                    reachedPayload += 1
                } catch { _ = error.code }
            }
        }
        print("random buffers: \(reachedPayload) of 9000 payload decodes succeeded")
    }

    /// Random tensor headers with fields near their valid ranges, so the body checks and LZ4 run often.
    func testRandomTensorHeadersNeverCrash() {
        var rng = SeededGenerator(seed: 21)
        var decoded = 0
        for _ in 0..<1000 {
            let count = UInt64.random(in: 0...300, using: &rng)
            let encoding = UInt8.random(in: 0...4, using: &rng)
            let lz4 = Bool.random(using: &rng)
            let kept = encoding == 3 ? UInt64.random(in: 0...count + 1, using: &rng) : 0
            let n = Int(count)
            let exact = [4 * n, 2 * n, 4 * ((n + 63) / 64) + n, 8 * Int(kept), 0][Int(encoding)]
            var body = rng.bytes(Int.random(in: 0...600, using: &rng))
            if !lz4 && Bool.random(using: &rng) { body = rng.bytes(exact) }
            if lz4 && Bool.random(using: &rng) {
                // A real LZ4 stream, of about the right size, possibly with a byte changed.
                let near = max(0, n + Int.random(in: -2...2, using: &rng))
                body = TensorCodec.encode([Float](repeating: 0.5, count: near)).bytes
                if Bool.random(using: &rng), !body.isEmpty { body[Int.random(in: 0..<body.count, using: &rng)] ^= 0x5A }
            }
            let payload = Bytes().u64(0).u32(0).f64(0).u64(0).u64(0)
                .u8(encoding).u8(lz4 ? 1 : 0).u16(encoding == 2 ? 64 : 0).u64(count).u64(kept)
                .u32(UInt32(body.count)).raw(body).bytes
            do {
                let message = try Message.decode(framed(.gradient, payload))
                try decodeTensors(message)
                decoded += 1
            } catch { _ = error.code }
        }
        print("random tensor headers: \(decoded) of 1000 decoded")
    }

    /// Valid frames of every message with 1–4 bytes changed (checksum fixed up), cut or extended.
    func testMutatedValidMessagesNeverCrash() {
        var rng = SeededGenerator(seed: 22)
        let messages =
            MessageTests.allMessages() + [
                .gradient(
                    GradientPayload(
                        step: 0, microBatch: 0, lossSum: 0, labelCount: 0, tokenCount: 0,
                        gradient: TensorCodec.encode(rng.gaussian(500), as: .topK, topKFraction: 0.1))),
                .gradient(
                    GradientPayload(
                        step: 0, microBatch: 0, lossSum: 0, labelCount: 0, tokenCount: 0,
                        gradient: TensorCodec.encode([Float](repeating: 0.25, count: 700), as: .int8Block))),
            ]
        var survived = 0
        for trial in 0..<3000 {
            let message = messages[trial % messages.count]
            var payload = message.encodePayload()
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                payload = Array(payload[..<Int.random(in: 0...payload.count, using: &rng)])
            case 1:
                payload += rng.bytes(Int.random(in: 1...8, using: &rng))
            default:
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !payload.isEmpty {
                    payload[Int.random(in: 0..<payload.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            let frame = Frame(
                type: message.type, runID: 1, step: message.payloadStep ?? 0, workerID: 0, sequence: 0, payload: payload
            )
            if decodeAll(FrameCodec.encode(frame)) == 3 { survived += 1 }
        }
        print("mutated messages: \(survived) of 3000 still decoded")
    }

    /// Random chunking of a stream with a corrupted frame in the middle: frames before it come out, then the error.
    func testDecoderOnCorruptedStream() {
        var rng = SeededGenerator(seed: 23)
        for _ in 0..<200 {
            let frames = MessageTests.allMessages().map { $0.encode(runID: 1, workerID: 1, sequence: 0) }
            var stream = frames.flatMap(FrameCodec.encode)
            let spot = Int.random(in: 0..<stream.count, using: &rng)
            stream[spot] ^= UInt8.random(in: 1...255, using: &rng)
            var decoder = FrameDecoder()
            var offset = 0
            var got = 0
            do {
                while offset < stream.count {
                    let size = min(stream.count - offset, Int.random(in: 1..<64, using: &rng))
                    got += try decoder.feed(Array(stream[offset..<offset + size])).count
                    offset += size
                }
                try decoder.finish()
            } catch {
                _ = error.description
            }
            XCTAssertLessThanOrEqual(got, frames.count)
        }
    }
}
