import Foundation
import Kernels
import ModelFiles
import XCTest

/// GGUF reader and writer: write → read round trips, one handcrafted bad file per failure mode,
/// and (when present) the real SmolLM2 model checked against values from the Python `gguf` package.
final class GGUFTests: XCTestCase {
    var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tempDir)
    }

    static var repoRoot: URL {
        // Tests/ModelFilesTests/GGUFTests.swift → repository root
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    func path(_ name: String) -> String { tempDir.appendingPathComponent(name).path }

    func writeBytes(_ bytes: [UInt8], _ name: String) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// Opens `bytes` as a GGUF file and returns the error it throws (failing if it opens).
    func openError(_ bytes: [UInt8], _ name: String = "bad.gguf", file: StaticString = #filePath, line: UInt = #line)
        throws -> ModelFileError?
    {
        let p = try writeBytes(bytes, name)
        do {
            _ = try GGUFFile(path: p)
            XCTFail("\(name) opened without error", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.file, p, "error names the file", file: file, line: line)
            return error
        }
    }

    func assertOpenFails(
        _ bytes: [UInt8], _ kind: ModelFileError.Kind, _ fragments: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        guard let e = try openError(bytes, file: file, line: line) else { return }
        XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
        for f in fragments {
            XCTAssertTrue(e.message.contains(f), "message '\(e.message)' lacks '\(f)'", file: file, line: line)
        }
    }

    // MARK: Round trips

    static let allScalars: [(String, GGUFValue)] = [
        ("t.u8", .uint8(255)), ("t.i8", .int8(-128)), ("t.u16", .uint16(65535)), ("t.i16", .int16(-32768)),
        ("t.u32", .uint32(4_000_000_000)), ("t.i32", .int32(-2_000_000_000)), ("t.f32", .float32(-1.5e-7)),
        ("t.bool.true", .bool(true)), ("t.bool.false", .bool(false)),
        ("t.string", .string("héllo ▁wörld 🦙")), ("t.empty", .string("")),
        ("t.u64", .uint64(UInt64.max)), ("t.i64", .int64(Int64.min)), ("t.f64", .float64(.pi)),
    ]

    static let allArrays: [(String, GGUFValue)] = [
        ("a.u8", .array(.uint8([0, 1, 255]))), ("a.i8", .array(.int8([-1, 127]))),
        ("a.u16", .array(.uint16([7]))), ("a.i16", .array(.int16([-7, 8]))),
        ("a.u32", .array(.uint32([1, 2, 3]))), ("a.i32", .int32s([-1, 0, 1])),
        ("a.f32", .floats([0.5, -0.25, .infinity])), ("a.bool", .array(.bool([true, false, true]))),
        ("a.string", .strings(["a", "", "ü", "Ġthe"])), ("a.u64", .array(.uint64([UInt64.max, 0]))),
        ("a.i64", .array(.int64([Int64.min, 5]))), ("a.f64", .array(.float64([1e300, -2]))),
        ("a.empty", .array(.float32([]))), ("a.emptystrings", .strings([])),
        ("a.nested", .array(.array([.int32([1, 2]), .string(["x", "y"]), .array([.uint8([9])])]))),
    ]

    func testRoundTripMetadataAndTensors() throws {
        var w = GGUFWriter()
        for (k, v) in Self.allScalars + Self.allArrays { w.set(k, v) }
        w.set("t.u8", .uint8(42))  // a second set replaces, keeps the position

        var rng = SplitMix64(seed: 3)
        var expected: [String: [Float]] = [:]
        let types: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]
        for (i, type) in types.enumerated() {
            let shape = i % 2 == 0 ? [3, 64] : [2, 2, 32]
            let x = (0..<shape.reduce(1, *)).map { _ in Float(rng.nextUniform() * 2 - 1) }
            w.addTensor(name: "w.\(type)", shape: shape, floats: x, as: type)
            let raw = Quantize.bytes(x, as: type)
            expected["w.\(type)"] = raw.withUnsafeBytes { src in
                [Float](unsafeUninitializedCapacity: x.count) { out, n in
                    Dequantize.rows(type, from: src.baseAddress!, to: out.baseAddress!, count: x.count)
                    n = x.count
                }
            }
        }
        // A 1-D F32 vector and raw k-quant blocks (random bytes are valid Q4_K / Q6_K data).
        w.addTensor(name: "norm", shape: [5], floats: [1, 2, 3, 4, 5])
        let q4k = (0..<(2 * 144)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        w.addTensor(name: "w.Q4_K", shape: [2, 256], type: .q4_K, bytes: q4k)
        let q6k = (0..<(210)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        w.addTensor(name: "w.Q6_K", shape: [1, 256], type: .q6_K, bytes: q6k)

        let p = path("roundtrip.gguf")
        try w.write(to: p)
        let f = try GGUFFile(path: p)

        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.metadataKeys, (Self.allScalars + Self.allArrays).map(\.0))
        for (k, v) in Self.allScalars + Self.allArrays where k != "t.u8" {
            XCTAssertEqual(f.metadata[k], v, k)
        }
        XCTAssertEqual(f.metadata["t.u8"], .uint8(42))

        // Accessors.
        XCTAssertEqual(f.int("t.u32"), 4_000_000_000)
        XCTAssertEqual(f.int("t.i64"), Int(Int64.min))
        XCTAssertNil(f.int("t.u64"), "UINT64 max does not fit Int")
        XCTAssertEqual(f.float("t.f32"), Double(Float(-1.5e-7)))
        XCTAssertEqual(f.float("t.f64"), .pi)
        XCTAssertEqual(f.float("t.i16"), -32768)
        XCTAssertEqual(f.string("t.string"), "héllo ▁wörld 🦙")
        XCTAssertEqual(f.bool("t.bool.true"), true)
        XCTAssertNil(f.string("t.u8"))
        XCTAssertNil(f.bool("missing"))
        XCTAssertEqual(f.metadata["a.string"]?.stringArray, ["a", "", "ü", "Ġthe"])
        XCTAssertEqual(f.metadata["a.f32"]?.floatArray, [0.5, -0.25, .infinity])
        XCTAssertEqual(f.metadata["a.i32"]?.intArray, [-1, 0, 1])
        XCTAssertEqual(f.metadata["a.u8"]?.intArray, [0, 1, 255])
        XCTAssertEqual(f.metadata["a.i32"]?.floatArray, [-1, 0, 1])
        XCTAssertNil(f.metadata["a.u64"]?.intArray)
        XCTAssertNil(f.metadata["a.string"]?.intArray)
        XCTAssertEqual(f.metadata["a.bool"]?.arrayValue, [.bool(true), .bool(false), .bool(true)])
        XCTAssertEqual(f.metadata["a.nested"]?.arrayValue?.count, 3)
        XCTAssertEqual(try f.requireInt("t.u16"), 65535)
        XCTAssertThrowsError(try f.requireInt("nope")) { XCTAssertEqual(($0 as? ModelFileError)?.kind, .missingKey) }
        XCTAssertThrowsError(try f.requireString("t.u16")) { XCTAssertEqual(($0 as? ModelFileError)?.kind, .badValue) }

        // Tensors, in file order, shapes outermost first, data aligned and intact.
        XCTAssertEqual(f.tensorInfos.map(\.name), types.map { "w.\($0)" } + ["norm", "w.Q4_K", "w.Q6_K"])
        XCTAssertEqual(f.tensorInfo(named: "w.F16")?.shape, [2, 2, 32])
        XCTAssertEqual(f.tensorInfo(named: "w.Q4_0")?.shape, [3, 64])
        XCTAssertEqual(f.tensorInfo(named: "w.Q4_0")?.type, .q4_0)
        XCTAssertEqual(f.tensorInfo(named: "norm")?.shape, [5])
        XCTAssertNil(f.tensorInfo(named: "absent"))
        for t in f.tensorInfos {
            XCTAssertEqual((t.offset - f.dataOffset) % 32, 0, t.name)
            XCTAssertEqual(f.data(of: t).count, t.byteCount, t.name)
        }
        for (name, want) in expected {
            XCTAssertEqual(try f.floats(named: name), want, name)
        }
        XCTAssertEqual(try f.floats(named: "norm"), [1, 2, 3, 4, 5])
        XCTAssertEqual([UInt8](f.data(of: f.tensorInfo(named: "w.Q4_K")!)), q4k)
        XCTAssertEqual([UInt8](f.data(of: f.tensorInfo(named: "w.Q6_K")!)), q6k)
        XCTAssertEqual(try f.floats(named: "w.Q4_K").count, 512)
        XCTAssertThrowsError(try f.floats(named: "absent")) {
            XCTAssertEqual(($0 as? ModelFileError)?.kind, .missingKey)
        }
    }

    func testCustomAlignmentRoundTrip() throws {
        var w = GGUFWriter(alignment: 64)
        w.addTensor(name: "a", shape: [3], floats: [1, 2, 3])
        w.addTensor(name: "b", shape: [32], floats: Array(repeating: 0.5, count: 32), as: .f16)
        let p = path("align.gguf")
        try w.write(to: p)
        let f = try GGUFFile(path: p)
        XCTAssertEqual(f.alignment, 64)
        XCTAssertEqual(f.dataOffset % 64, 0)
        XCTAssertEqual(f.tensorInfos.map { ($0.offset - f.dataOffset) % 64 }, [0, 0])
        XCTAssertEqual(try f.floats(named: "b"), Array(repeating: 0.5, count: 32))
    }

    func testEmptyFileWithoutTensors() throws {
        let p = path("empty.gguf")
        try GGUFWriter().write(to: p)
        let f = try GGUFFile(path: p)
        XCTAssertEqual(f.tensorInfos.count, 0)
        XCTAssertEqual(f.metadata.count, 0)
    }

    /// A vocabulary-sized string array must parse fast (49,152 tokens; < 100 ms in release).
    func testBigStringArrayIsFast() throws {
        let tokens = (0..<49_152).map { "Ġtok\($0)" }
        var w = GGUFWriter()
        w.set("tokenizer.ggml.tokens", .strings(tokens))
        w.set("tokenizer.ggml.token_type", .int32s((0..<49_152).map { Int32($0 % 3) }))
        let p = path("vocab.gguf")
        try w.write(to: p)
        let start = Date()
        let f = try GGUFFile(path: p)
        let seconds = Date().timeIntervalSince(start)
        print("parsed 49,152 tokens in \(String(format: "%.1f", seconds * 1000)) ms")
        XCTAssertEqual(f.metadata["tokenizer.ggml.tokens"]?.stringArray, tokens)
        XCTAssertEqual(f.metadata["tokenizer.ggml.token_type"]?.intArray?.count, 49_152)
        #if DEBUG
            XCTAssertLessThan(seconds, 1.0, "even a debug build should parse a vocabulary in well under a second")
        #else
            XCTAssertLessThan(seconds, 0.1, "a release build parses a vocabulary in under 100 ms")
        #endif
    }

    // MARK: Hostile files (one per failure mode)

    /// Hand-built GGUF bytes, field by field.
    struct Raw {
        var b: [UInt8] = []
        mutating func u8(_ v: UInt8) { b.append(v) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        mutating func str(_ s: String) {
            u64(UInt64(s.utf8.count))
            b.append(contentsOf: s.utf8)
        }
        mutating func header(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) {
            b.append(contentsOf: "GGUF".utf8)
            u32(version)
            u64(tensors)
            u64(kvs)
        }
        /// A tensor info; `ne` innermost first, as stored.
        mutating func tensor(_ name: String, ne: [UInt64], type: UInt32 = 0, offset: UInt64 = 0) {
            str(name)
            u32(UInt32(ne.count))
            ne.forEach { u64($0) }
            u32(type)
            u64(offset)
        }
        /// Pads to 32 and appends `count` data bytes.
        mutating func data(_ count: Int) {
            while b.count % 32 != 0 { b.append(0) }
            b.append(contentsOf: [UInt8](repeating: 0, count: count))
        }
    }

    /// One F32 tensor [4] with a given info, followed by 16 data bytes.
    func oneTensor(ne: [UInt64] = [4], type: UInt32 = 0, offset: UInt64 = 0, data: Int = 16) -> [UInt8] {
        var r = Raw()
        r.header(tensors: 1, kvs: 0)
        r.tensor("blk.0.w", ne: ne, type: type, offset: offset)
        r.data(data)
        return r.b
    }

    func testBadMagic() throws {
        var r = Raw()
        r.b.append(contentsOf: "GGML".utf8)
        r.u32(3)
        r.u64(0)
        r.u64(0)
        try assertOpenFails(r.b, .badMagic, ["invalid magic 'GGML', expected 'GGUF'"])
    }

    func testVersion1Refused() throws {
        var r = Raw()
        r.header(version: 1, tensors: 0, kvs: 0)
        try assertOpenFails(r.b, .unsupportedVersion, ["version 1", "expected 2 or 3"])
    }

    func testBigEndianVersionNamed() throws {
        var r = Raw()
        r.header(version: UInt32(3).byteSwapped, tensors: 0, kvs: 0)
        try assertOpenFails(r.b, .unsupportedVersion, ["big-endian"])
    }

    func testVersion2Accepted() throws {
        var r = Raw()
        r.header(version: 2, tensors: 0, kvs: 1)
        r.str("general.name")
        r.u32(8)
        r.str("v2")
        let f = try GGUFFile(path: try writeBytes(r.b, "v2.gguf"))
        XCTAssertEqual(f.version, 2)
        XCTAssertEqual(f.string("general.name"), "v2")
    }

    func testEmptyFileIsTruncated() throws {
        try assertOpenFails([], .truncated, ["magic"])
    }

    /// Every prefix of a valid file shorter than its last tensor's end fails with `.truncated`
    /// (mid-magic, mid-header, mid-key, mid-value, mid-array, mid-tensor-info, mid-data); never a crash.
    func testEveryTruncationPointThrowsTruncated() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("llama.block_count", .uint32(2))
        w.set("a.f32", .floats([1, 2, 3]))
        w.set("a.strings", .strings(["x", "yz"]))
        w.set("a.nested", .array(.array([.int32([1]), .uint8([2, 3])])))
        w.addTensor(name: "a", shape: [2, 32], floats: Array(repeating: 1, count: 64), as: .q8_0)
        w.addTensor(name: "b", shape: [3], floats: [1, 2, 3])
        let full = w.bytes()
        let p = path("full.gguf")
        try w.write(to: p)
        let f = try GGUFFile(path: p)
        let end = f.tensorInfos.map { $0.offset + $0.byteCount }.max()!
        var kinds: [ModelFileError.Kind: Int] = [:]
        for cut in 0..<end {
            let q = try writeBytes(Array(full[0..<cut]), "cut.gguf")
            do {
                _ = try GGUFFile(path: q)
                XCTFail("prefix of \(cut) bytes opened")
            } catch {
                kinds[error.kind, default: 0] += 1
                if error.kind != .truncated { XCTFail("cut at \(cut): \(error)") }
            }
        }
        XCTAssertEqual(kinds[.truncated], end)
        // Cutting only trailing padding leaves a valid file.
        XCTAssertNoThrow(try GGUFFile(path: try writeBytes(Array(full[0..<end]), "exact.gguf")))
    }

    func testTruncatedMidDataNamesTensor() throws {
        try assertOpenFails(oneTensor(data: 15), .truncated, ["blk.0.w", "past the end"])
    }

    func testHugeStringLength() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 1)
        r.u64(1 << 62)  // key length
        r.b.append(contentsOf: "abc".utf8)
        try assertOpenFails(r.b, .truncated, ["key of metadata entry 0", "length 4611686018427387904"])
    }

    func testHugeStringValueLength() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 1)
        r.str("general.name")
        r.u32(8)
        r.u64(UInt64.max)
        try assertOpenFails(r.b, .truncated, ["general.name"])
    }

    func testHugeArrayCount() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 1)
        r.str("tokenizer.ggml.tokens")
        r.u32(9)
        r.u32(8)
        r.u64(1 << 40)
        r.str("a")
        try assertOpenFails(r.b, .truncated, ["element count", "tokenizer.ggml.tokens", "1099511627776"])
    }

    func testHugeTensorCount() throws {
        var r = Raw()
        r.header(tensors: UInt64.max, kvs: 0)
        try assertOpenFails(r.b, .truncated, ["tensor_count"])
    }

    func testHugeKVCount() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 1 << 50)
        try assertOpenFails(r.b, .truncated, ["kv_count"])
    }

    func testTensorOffsetPastEOF() throws {
        try assertOpenFails(oneTensor(offset: 1 << 20), .truncated, ["blk.0.w", "past the end"])
        try assertOpenFails(oneTensor(offset: UInt64.max - 31), .truncated, ["blk.0.w"])
    }

    func testMisalignedOffset() throws {
        try assertOpenFails(oneTensor(offset: 4), .corrupt, ["blk.0.w", "offset 4", "alignment 32"])
    }

    func testUnknownTensorType() throws {
        try assertOpenFails(oneTensor(type: 99), .unsupportedType, ["blk.0.w", "99"])
    }

    func testKnownButUnsupportedTypeRefusedOnRead() throws {
        // Q5_K (13): 256 elements = 176 bytes. The file opens; dequantizing it is refused.
        var r = Raw()
        r.header(tensors: 1, kvs: 0)
        r.tensor("q5k", ne: [256], type: 13)
        r.data(176)
        let f = try GGUFFile(path: try writeBytes(r.b, "q5k.gguf"))
        XCTAssertEqual(f.tensorInfos.first?.type, .q5_K)
        XCTAssertThrowsError(try f.floats(named: "q5k")) { e in
            XCTAssertEqual((e as? ModelFileError)?.kind, .unsupportedType)
            XCTAssertTrue("\(e)".contains("Q5_K"))
        }
    }

    func testTooManyDims() throws {
        try assertOpenFails(oneTensor(ne: [1, 1, 1, 4, 1]), .corrupt, ["blk.0.w", "5 dimensions", "1 to 4"])
    }

    func testZeroDims() throws {
        try assertOpenFails(oneTensor(ne: []), .corrupt, ["blk.0.w", "0 dimensions"])
    }

    func testZeroSizedDim() throws {
        try assertOpenFails(oneTensor(ne: [4, 0]), .corrupt, ["blk.0.w", "dimension 1 is 0"])
    }

    func testElementCountOverflow() throws {
        try assertOpenFails(oneTensor(ne: [1 << 40, 1 << 40]), .corrupt, ["blk.0.w", "overflow"])
    }

    func testRowNotWholeBlocks() throws {
        try assertOpenFails(oneTensor(ne: [33], type: GGMLType.q8_0.rawValue), .corrupt, ["blk.0.w", "33", "Q8_0"])
    }

    func testDuplicateTensorNames() throws {
        var r = Raw()
        r.header(tensors: 2, kvs: 0)
        r.tensor("same", ne: [4])
        r.tensor("same", ne: [4], offset: 32)
        r.data(64)
        try assertOpenFails(r.b, .corrupt, ["duplicate tensor name 'same'"])
    }

    func testDuplicateKeys() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 2)
        r.str("k")
        r.u32(4)
        r.u32(1)
        r.str("k")
        r.u32(4)
        r.u32(2)
        try assertOpenFails(r.b, .corrupt, ["duplicate metadata key 'k'"])
    }

    func testUnknownValueType() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 1)
        r.str("k")
        r.u32(13)
        r.u32(0)
        try assertOpenFails(r.b, .corrupt, ["metadata 'k'", "unknown value type 13"])
    }

    func testBadBool() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 1)
        r.str("flag")
        r.u32(7)
        r.u8(2)
        try assertOpenFails(r.b, .corrupt, ["flag", "expected 0 or 1"])
    }

    func testBadAlignment() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 1)
        r.str("general.alignment")
        r.u32(4)
        r.u32(24)
        try assertOpenFails(r.b, .badValue, ["general.alignment", "power of two"])
    }

    func testDeeplyNestedArray() throws {
        var r = Raw()
        r.header(tensors: 0, kvs: 1)
        r.str("deep")
        r.u32(9)
        for _ in 0..<10 {
            r.u32(9)
            r.u64(1)
        }
        r.u32(0)
        r.u64(0)
        try assertOpenFails(r.b, .corrupt, ["deep", "nested"])
    }

    func testMissingFile() throws {
        XCTAssertThrowsError(try GGUFFile(path: path("nope.gguf"))) { e in
            XCTAssertEqual((e as? ModelFileError)?.kind, .notFound)
        }
    }

    // MARK: The real model

    struct ModelFixture: Decodable {
        struct Tensor: Decodable {
            let name: String
            let type: String
            let shape: [Int]
            let first_row_head: String
            let last_row_tail: String
        }
        let file: String
        let tensor_count: Int
        let tensors: [Tensor]
    }

    static func floats(_ b64: String) throws -> [Float] {
        guard let d = Data(base64Encoded: b64) else { throw CocoaError(.fileReadCorruptFile) }
        let b = [UInt8](d)
        return stride(from: 0, to: b.count, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }

    func testSmolLM2File() throws {
        let modelPath = Self.repoRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw XCTSkip("\(modelPath) not present (setup downloads it; see DESIGN.md §2)")
        }
        let start = Date()
        let f = try GGUFFile(path: modelPath)
        print("opened SmolLM2 in \(String(format: "%.1f", Date().timeIntervalSince(start) * 1000)) ms")
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.tensorInfos.count, 272)
        XCTAssertEqual(f.int("llama.block_count"), 30)
        XCTAssertEqual(f.int("llama.embedding_length"), 576)
        XCTAssertEqual(f.string("general.architecture"), "llama")
        XCTAssertEqual(f.metadata["tokenizer.ggml.tokens"]?.stringArray?.count, 49152)
        XCTAssertEqual(f.bool("tokenizer.ggml.add_bos_token"), false)
        let embd = try XCTUnwrap(f.tensorInfo(named: "token_embd.weight"))
        XCTAssertEqual(embd.shape, [49152, 576])
        XCTAssertEqual(embd.type, .q8_0)

        let fixtureURL = Self.repoRoot.appendingPathComponent("Tests/Fixtures/quant/smollm2_q4_1.json")
        let fx = try JSONDecoder().decode(ModelFixture.self, from: Data(contentsOf: fixtureURL))
        XCTAssertEqual(fx.tensor_count, f.tensorInfos.count)
        for t in fx.tensors {
            let info = try XCTUnwrap(f.tensorInfo(named: t.name), t.name)
            XCTAssertEqual(info.shape, t.shape, t.name)
            XCTAssertEqual(info.type.description, t.type, t.name)
            // Dequantize the first and last rows only, as the model code does per layer.
            let raw = f.data(of: info)
            let rowBytes = try XCTUnwrap(info.type.byteCount(elements: info.rowLength))
            var row = [Float](repeating: .nan, count: info.rowLength)
            var worst: Float = 0
            for (head, which, b64) in [(true, 0, t.first_row_head), (false, info.rowCount - 1, t.last_row_tail)] {
                row.withUnsafeMutableBufferPointer { out in
                    Dequantize.rows(
                        info.type, from: raw.baseAddress! + which * rowBytes, to: out.baseAddress!,
                        count: info.rowLength)
                }
                let want = try Self.floats(b64)
                let got = head ? Array(row.prefix(want.count)) : Array(row.suffix(want.count))
                for (g, w) in zip(got, want) { worst = max(worst, abs(g - w)) }
                XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(t.name) row \(which)")
            }
            print("\(t.name) (\(t.type)): worst |Δ| vs gguf-py = \(worst)")
        }
        // The whole-tensor path agrees with the row path.
        let q = try f.floats(named: "blk.0.attn_q.weight")
        XCTAssertEqual(q.count, 576 * 576)
        XCTAssertEqual(
            Array(q.prefix(16)).map(\.bitPattern), try Self.floats(fx.tensors[0].first_row_head).map(\.bitPattern))
    }
}

/// Small deterministic generator for test data.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
