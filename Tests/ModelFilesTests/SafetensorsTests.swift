import Foundation
import Kernels
import ModelFiles
import XCTest

/// Safetensors reader and writer: round trips, files written by the Python `safetensors` package
/// (Tests/Fixtures/safetensors, made by scripts/reference/make_safetensors_fixtures.py), and one
/// hand-built hostile file per failure mode, each asserting the error kind and what it names.
final class SafetensorsTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "safetensors-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: - Round trips

    func testRoundTripAllTypesShapesAndMetadata() throws {
        var writer = SafetensorsWriter()
        writer.metadata = ["step": "12", "config": "{\"a\": [1, 2]}\n\tline\u{1}", "名前": "héllo \\ \"q\""]
        let matrix: [Float] = [1, -2, 0.5, 3.25, 0, -7.75]
        let cube: [Float] = (0..<12).map { Float($0) * 0.1 - 0.55 }
        let bf: [Float] = [1, 3.14159265, 1.00390625, 1.01171875, -0.0, .infinity, 3e38, 1e-40]
        writer.add(name: "matrix", shape: [2, 3], floats: matrix)
        writer.add(name: "cube.f16", shape: [2, 2, 3], floats: cube, as: .f16)
        writer.add(name: "vector.bf16", shape: [8], floats: bf, as: .bf16)
        writer.add(name: "scalar", shape: [], floats: [42.5])
        writer.add(name: "empty", shape: [0, 5], floats: [])
        let path = folder + "/round.safetensors"
        try writer.write(to: path)

        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.path, path)
        XCTAssertEqual(file.metadata, writer.metadata)
        XCTAssertEqual(Set(file.tensorInfos.map(\.name)), ["matrix", "cube.f16", "vector.bf16", "scalar", "empty"])
        XCTAssertEqual(file.tensorInfos.map(\.offset), file.tensorInfos.map(\.offset).sorted())
        XCTAssertEqual(file.dataSectionOffset % 8, 0)

        let m = try XCTUnwrap(file.tensorInfo(named: "matrix"))
        XCTAssertEqual(m.shape, [2, 3])
        XCTAssertEqual(m.type, .f32)
        XCTAssertEqual(m.byteCount, 24)
        XCTAssertEqual(m.offset % 4, 0)
        XCTAssertEqual(decode(file, m), matrix)
        XCTAssertEqual(try file.floats(named: "matrix"), matrix)

        let c = try XCTUnwrap(file.tensorInfo(named: "cube.f16"))
        XCTAssertEqual(c.shape, [2, 2, 3])
        XCTAssertEqual(c.type, .f16)
        XCTAssertEqual(c.byteCount, 24)
        XCTAssertEqual(c.rowLength, 3)
        XCTAssertEqual(c.rowCount, 4)
        XCTAssertEqual(decode(file, c), cube.map { Float(Float16($0)) })

        let v = try XCTUnwrap(file.tensorInfo(named: "vector.bf16"))
        XCTAssertEqual(v.type, .bf16)
        XCTAssertEqual(v.byteCount, 16)
        // Round to nearest, ties to even: 1 + 2⁻⁸ is a tie that goes down to 1.0, 1 + 3·2⁻⁸ goes up to
        // 1 + 4·2⁻⁸; 3e38 (0x7F61B1E6) rounds up to 0x7F62; 1e-40 (0x000116C2) to the subnormal 0x0001.
        let got = decode(file, v)
        XCTAssertEqual(Array(got[0..<4]), [1, 3.140625, 1, 1.015625])
        XCTAssertEqual(got[4].bitPattern, (-Float(0)).bitPattern)
        XCTAssertEqual(got[5], .infinity)
        XCTAssertEqual(got[6].bitPattern, 0x7F62_0000)
        XCTAssertEqual(got[7].bitPattern, 0x0001_0000)

        let s = try XCTUnwrap(file.tensorInfo(named: "scalar"))
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.elementCount, 1)
        XCTAssertEqual(decode(file, s), [42.5])

        let e = try XCTUnwrap(file.tensorInfo(named: "empty"))
        XCTAssertEqual(e.shape, [0, 5])
        XCTAssertEqual(e.byteCount, 0)
        XCTAssertEqual(decode(file, e), [])
        XCTAssertNil(file.tensorInfo(named: "missing"))
        XCTAssertThrowsError(try file.floats(named: "missing")) { error in
            assertError(error, .missingKey, path, ["'missing'"])
        }
    }

    func testBFloat16NaNStaysNaN() throws {
        var writer = SafetensorsWriter()
        writer.add(name: "x", shape: [2], floats: [.nan, -.nan], as: .bf16)
        let path = folder + "/nan.safetensors"
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertTrue(decode(file, file.tensorInfos[0]).allSatisfy(\.isNaN))
    }

    func testWriterIsDeterministicAndMatchesPythonBytes() throws {
        // The same tensors and metadata as writer_golden.safetensors, added in another order.
        var writer = SafetensorsWriter()
        writer.metadata = ["step": "7"]
        writer.add(name: "scalar", shape: [], floats: [42])
        writer.add(name: "c", shape: [2, 2], floats: [1, 2, -3, 0.5], as: .bf16)
        writer.add(name: "a.bias", shape: [3], floats: [0.5, -0.25, 2], as: .f16)
        writer.add(name: "b.weight", shape: [2, 3], floats: [1.5, -2, 0.125, 4, 5, -6.5])
        let golden = try Data(contentsOf: fixtureURL("safetensors/writer_golden.safetensors"))
        XCTAssertEqual(writer.serialized(), [UInt8](golden))
        XCTAssertEqual(writer.serialized(), writer.serialized())

        let path = folder + "/golden.safetensors"
        try writer.write(to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), golden)
    }

    // MARK: - Files from the Python package

    func testReadsFilesWrittenByPython() throws {
        let expected = try fixtureJSON()
        for fileName in ["basic.safetensors", "bf16.safetensors", "writer_golden.safetensors"] {
            let spec = try XCTUnwrap(expected[fileName] as? [String: Any], fileName)
            let path = fixtureURL("safetensors/" + fileName).path
            let file = try SafetensorsFile(path: path)
            XCTAssertEqual(file.metadata, spec["metadata"] as? [String: String], fileName)
            let tensors = try XCTUnwrap(spec["tensors"] as? [String: [String: Any]], fileName)
            XCTAssertEqual(Set(file.tensorInfos.map(\.name)), Set(tensors.keys), fileName)
            for (name, t) in tensors {
                let info = try XCTUnwrap(file.tensorInfo(named: name), "\(fileName) \(name)")
                XCTAssertEqual(SafetensorsFile.dtypeName(of: info.type), t["dtype"] as? String, "\(fileName) \(name)")
                XCTAssertEqual(info.shape, t["shape"] as? [Int], "\(fileName) \(name)")
                let values = try XCTUnwrap(t["values"] as? [Double]).map { Float($0) }
                let got = decode(file, info)
                XCTAssertEqual(got.map(\.bitPattern), values.map(\.bitPattern), "\(fileName) \(name)")
            }
        }
    }

    func testRefusesIntegerTensorFromPython() throws {
        let path = fixtureURL("safetensors/int64.safetensors").path
        XCTAssertThrowsError(try SafetensorsFile(path: path)) { error in
            assertError(error, .unsupportedType, path, ["tensor 'ids'", "dtype I64", "F32, F16 and BF16"])
        }
    }

    /// The tiny-llama fixtures (scripts/reference/make_tiny_llama.py) hold the Hugging Face tensor set
    /// that config.json describes: every name present, every shape as the config implies.
    func testReadsTinyLlamaHuggingFaceFixtures() throws {
        for (variant, dtype) in [("tied", GGMLType.f32), ("untied", GGMLType.bf16)] {
            let folder = fixtureURL("tiny-llama/\(variant)/hf")
            let config = try XCTUnwrap(
                try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json")))
                    as? [String: Any])
            let d = try XCTUnwrap(config["hidden_size"] as? Int)
            let f = try XCTUnwrap(config["intermediate_size"] as? Int)
            let h = try XCTUnwrap(config["num_attention_heads"] as? Int)
            let kv = try XCTUnwrap(config["num_key_value_heads"] as? Int)
            let layers = try XCTUnwrap(config["num_hidden_layers"] as? Int)
            let vocab = try XCTUnwrap(config["vocab_size"] as? Int)
            let tied = try XCTUnwrap(config["tie_word_embeddings"] as? Bool)
            XCTAssertEqual(tied, variant == "tied")
            let hd = d / h
            var want: [String: [Int]] = ["model.embed_tokens.weight": [vocab, d], "model.norm.weight": [d]]
            if !tied { want["lm_head.weight"] = [vocab, d] }
            for i in 0..<layers {
                let p = "model.layers.\(i)."
                want[p + "self_attn.q_proj.weight"] = [h * hd, d]
                want[p + "self_attn.k_proj.weight"] = [kv * hd, d]
                want[p + "self_attn.v_proj.weight"] = [kv * hd, d]
                want[p + "self_attn.o_proj.weight"] = [d, h * hd]
                want[p + "mlp.gate_proj.weight"] = [f, d]
                want[p + "mlp.up_proj.weight"] = [f, d]
                want[p + "mlp.down_proj.weight"] = [d, f]
                want[p + "input_layernorm.weight"] = [d]
                want[p + "post_attention_layernorm.weight"] = [d]
            }
            let file = try SafetensorsFile(path: folder.appendingPathComponent("model.safetensors").path)
            XCTAssertEqual(file.metadata, ["format": "pt"], variant)
            XCTAssertEqual(
                Dictionary(uniqueKeysWithValues: file.tensorInfos.map { ($0.name, $0.shape) }), want, variant)
            XCTAssertTrue(file.tensorInfos.allSatisfy { $0.type == dtype }, variant)
            XCTAssertTrue(decode(file, file.tensorInfos[0]).allSatisfy(\.isFinite), variant)
        }
    }

    // MARK: - Atomic writes

    func testAtomicWriteReplacesAndLeavesNoTemporaryFile() throws {
        let path = folder + "/checkpoint.bin"
        try AtomicFile.write([1, 2, 3], to: path)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), [1, 2, 3])
        try AtomicFile.write(Array(repeating: 7, count: 100_000), to: path)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), Array(repeating: 7, count: 100_000))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["checkpoint.bin"])
    }

    func testAtomicWriteIntoMissingFolderThrows() throws {
        let path = folder + "/no/such/folder/x.safetensors"
        XCTAssertThrowsError(try AtomicFile.write([1], to: path)) { error in
            assertError(error, .io, path, ["temporary file", folder + "/no/such/folder"])
        }
        var writer = SafetensorsWriter()
        writer.add(name: "x", shape: [1], floats: [1])
        XCTAssertThrowsError(try writer.write(to: path)) { error in assertError(error, .io, path, []) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
    }

    // MARK: - Hostile files

    func testFileShorterThanLengthField() throws {
        let path = try write([1, 2, 3], "short")
        expectFailure(path, .truncated, ["3 bytes", "at least 8"])
    }

    func testHeaderLengthPastEndOfFile() throws {
        let path = try write(lengthField(1000) + Array("{}".utf8), "header-past-eof")
        expectFailure(path, .truncated, ["header length 1000", "2 bytes follow"])
    }

    func testHeaderLengthOverLimit() throws {
        let path = try write(lengthField(UInt64(1) << 62) + Array("{}".utf8), "huge-header")
        expectFailure(path, .corrupt, ["header length \(UInt64(1) << 62)", "limit of 100000000"])
    }

    func testHeaderNotJSON() throws {
        let path = try write(file(header: "{not json at all}"), "not-json")
        expectFailure(path, .corrupt, ["not valid JSON"])
    }

    func testHeaderNotAnObject() throws {
        expectFailure(try write(file(header: "[1, 2, 3]"), "array"), .corrupt, ["expected '{'"])
        expectFailure(try write(file(header: ""), "empty-header"), .corrupt, ["expected '{'", "empty header"])
    }

    func testOffsetsPastDataSection() throws {
        let header = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#
        let path = try write(file(header: header, data: [UInt8](repeating: 0, count: 16)), "offsets-past-data")
        expectFailure(path, .truncated, ["tensor 'w'", "[8, 24]", "data section (16 bytes)"])
    }

    func testSizeMismatch() throws {
        let header = #"{"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,16]}}"#
        let path = try write(file(header: header, data: [UInt8](repeating: 0, count: 16)), "size-mismatch")
        expectFailure(path, .corrupt, ["tensor 'w'", "[2, 3] of F16 needs 12 bytes", "hold 16"])
    }

    func testUnknownDType() throws {
        let header = #"{"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,2]}}"#
        let path = try write(file(header: header, data: [0, 0]), "unknown-dtype")
        expectFailure(path, .unsupportedType, ["tensor 'w'", "unknown dtype 'Q7'"])
    }

    func testTruncatedFile() throws {
        var writer = SafetensorsWriter()
        writer.add(name: "a", shape: [2, 2], floats: [1, 2, 3, 4])
        writer.add(name: "b", shape: [3], floats: [5, 6, 7])
        let bytes = writer.serialized()
        let path = try write(Array(bytes.dropLast(4)), "truncated")
        expectFailure(path, .truncated, ["tensor 'b'", "[16, 28]", "data section (24 bytes)"])
    }

    /// Every proper prefix of a valid file is refused with an error, never a crash.
    func testEveryPrefixOfAValidFileIsRefused() throws {
        var writer = SafetensorsWriter()
        writer.metadata = ["k": "v"]
        writer.add(name: "a", shape: [2], floats: [1, 2], as: .f16)
        writer.add(name: "b", shape: [1, 2], floats: [3, 4])
        let bytes = writer.serialized()
        for n in 0..<bytes.count {
            let path = try write(Array(bytes.prefix(n)), "prefix-\(n)")
            XCTAssertThrowsError(try SafetensorsFile(path: path), "prefix of \(n) bytes") { error in
                XCTAssertEqual((error as? ModelFileError)?.file, path)
            }
        }
        XCTAssertNoThrow(try SafetensorsFile(path: try write(bytes, "whole")))
    }

    func testOffsetsEndBeforeTheyBegin() throws {
        let header = #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#
        let path = try write(file(header: header, data: [UInt8](repeating: 0, count: 8)), "reversed")
        expectFailure(path, .corrupt, ["tensor 'w'", "[8, 4] end before they begin"])
    }

    func testOverlappingTensors() throws {
        let header =
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let path = try write(file(header: header, data: [UInt8](repeating: 0, count: 8)), "overlap")
        expectFailure(path, .corrupt, ["'a'", "'b'", "overlap"])
    }

    func testMissingAndMalformedFields() throws {
        let cases: [(String, ModelFileError.Kind, [String])] = [
            (#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, .missingKey, ["tensor 'w'", "no 'shape'"]),
            (#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, .missingKey, ["tensor 'w'", "no 'dtype'"]),
            (#"{"w":{"dtype":"F32","shape":[1]}}"#, .missingKey, ["tensor 'w'", "no 'data_offsets'"]),
            (#"{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#, .badValue, ["'dtype'", "number 7"]),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, .badValue, ["shape[0]", "number -1"]),
            (#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, .badValue, ["shape[0]", "number 1.5"]),
            (#"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, .badValue, ["shape[0]", "boolean"]),
            (#"{"w":{"dtype":"F32","shape":1,"data_offsets":[0,4]}}"#, .badValue, ["'shape'", "number 1"]),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, .badValue, ["'data_offsets'", "[0, 4, 8]"]),
            (#"{"w":[1,2]}"#, .badValue, ["tensor 'w'", "expected a JSON object"]),
            (#"{"__metadata__":{"step":7}}"#, .badValue, ["'__metadata__'", "'step'", "number 7"]),
            (#"{"__metadata__":"x"}"#, .badValue, ["'__metadata__'", "string \"x\""]),
            (
                #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, .corrupt,
                ["tensor 'w'", "more elements than fit"]
            ),
            (
                #"{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#, .corrupt,
                ["tensor 'w'", "too large"]
            ),
        ]
        for (i, (header, kind, parts)) in cases.enumerated() {
            let path = try write(file(header: header, data: [0, 0, 0, 0, 0, 0, 0, 0]), "field-\(i)")
            expectFailure(path, kind, parts)
        }
    }

    func testMissingFile() {
        let path = folder + "/absent.safetensors"
        expectFailure(path, .notFound, ["cannot open"])
    }

    // MARK: - Helpers

    private func expectFailure(
        _ path: String, _ kind: ModelFileError.Kind, _ parts: [String], file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            assertError(error, kind, path, parts, file: file, line: line)
        }
    }

    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = folder + "/" + name + ".safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func lengthField(_ n: UInt64) -> [UInt8] { withUnsafeBytes(of: n.littleEndian) { Array($0) } }

    private func file(header: String, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        return lengthField(UInt64(h.count)) + h + data
    }

    private func fixtureURL(_ relative: String) -> URL {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("Fixtures")
            if FileManager.default.fileExists(atPath: candidate.path) {
                return candidate.appendingPathComponent(relative)
            }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: "/nonexistent/Tests/Fixtures").appendingPathComponent(relative)
    }

    private func fixtureJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: fixtureURL("safetensors/fixtures.json"))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

/// The stored values of a float tensor, decoded here independently of the Kernels dequantizers.
private func decode(_ file: SafetensorsFile, _ info: TensorInfo) -> [Float] {
    let raw = file.data(of: info)
    switch info.type {
    case .f32:
        return (0..<info.elementCount).map {
            Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
        }
    case .f16:
        return (0..<info.elementCount).map {
            Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))))
        }
    case .bf16:
        return (0..<info.elementCount).map {
            Float(
                bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))
                    << 16)
        }
    default:
        XCTFail("unexpected type \(info.type)")
        return []
    }
}

private func assertError(
    _ error: Error, _ kind: ModelFileError.Kind, _ path: String, _ parts: [String],
    file: StaticString = #filePath, line: UInt = #line
) {
    guard let e = error as? ModelFileError else {
        XCTFail("expected ModelFileError, got \(error)", file: file, line: line)
        return
    }
    XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
    XCTAssertEqual(e.file, path, file: file, line: line)
    for part in parts {
        XCTAssertTrue(e.message.contains(part), "message '\(e.message)' lacks '\(part)'", file: file, line: line)
    }
}
