import Foundation

extension Dataset {
    /// The Alpaca records of a JSON array or JSONL file, for evaluation (which needs the reference
    /// outputs as text). A record without `instruction` or `output` strings is an error naming
    /// file:line (JSONL) or file:[index] (array).
    public static func alpacaRecords(path: String) throws(DataError) -> [AlpacaRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(.unreadableFile, file: path, FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        let trimmed = data.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        var objects: [(line: Int, value: Any)] = []
        if trimmed.first == UInt8(ascii: "[") {
            guard let array = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
                throw DataError(.invalidJSON, file: path, "not a valid JSON array")
            }
            objects = array.enumerated().map { ($0.offset, $0.element) }
        } else {
            for (i, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
                guard line.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) else { continue }
                guard let value = try? JSONSerialization.jsonObject(with: Data(line)) else {
                    throw DataError(.invalidJSON, file: path, line: i + 1, "invalid JSON")
                }
                objects.append((i + 1, value))
            }
        }
        return try objects.map { (line, value) throws(DataError) -> AlpacaRecord in
            guard let o = value as? [String: Any] else { throw DataError(.notAnObject, file: path, line: line, "expected an object") }
            guard let instruction = o["instruction"] as? String else {
                throw DataError(.missingField, file: path, line: line, field: "instruction", "missing or not a string")
            }
            guard let output = o["output"] as? String else {
                throw DataError(.missingField, file: path, line: line, field: "output", "missing or not a string")
            }
            return AlpacaRecord(instruction: instruction, input: o["input"] as? String ?? "", output: output)
        }
    }
}
