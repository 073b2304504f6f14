/// An error in an untrusted model, tokenizer or checkpoint file: names the file, where in it, what
/// was expected and what was found. Thrown, never trapped.
public struct ModelFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case notFound, io, badMagic, unsupportedVersion, truncated, corrupt, unsupportedType, missingKey,
            badValue, unknownArchitecture
    }
    public let kind: Kind
    public let file: String
    public let message: String

    public init(_ kind: Kind, file: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
