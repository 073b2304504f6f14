#if canImport(Glibc)
    import Glibc
    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    import Darwin
    private let systemWrite = Darwin.write
#endif

/// Crash-safe file replacement, the way checkpoints and adapters are written: the bytes go to a
/// temporary file in the target's folder, which is fsynced, renamed over the target, and then the
/// folder itself is fsynced so the rename survives a power loss. Readers see the old file or the
/// new one, never a torn mix. On failure the temporary file is removed and the target is untouched.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(ModelFileError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ModelFileError) in try write(raw, to: path) }
        }
        try result.get()
    }

    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws(ModelFileError) {
        let (folder, base) = split(path)
        guard !base.isEmpty else { throw ModelFileError(.io, file: path, "not a file path") }

        // A fresh temporary name; O_EXCL guarantees we never write into someone else's file.
        var tempPath = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            tempPath = folder + "/." + base + ".tmp-\(getpid())-" + String(UInt32.random(in: .min ... .max), radix: 16)
            fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            throw ModelFileError(.io, file: path, "cannot create a temporary file in '\(folder)': \(reason())")
        }

        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(tempPath) }
        }
        var written = 0
        while written < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelFileError(
                    .io, file: path,
                    "write to '\(tempPath)' failed after \(written) of \(bytes.count) bytes: \(reason())")
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            throw ModelFileError(.io, file: path, "fsync of '\(tempPath)' failed: \(reason())")
        }
        closed = true
        guard close(fd) == 0 else {
            throw ModelFileError(.io, file: path, "close of '\(tempPath)' failed: \(reason())")
        }
        guard rename(tempPath, path) == 0 else {
            throw ModelFileError(.io, file: path, "cannot rename '\(tempPath)' over it: \(reason())")
        }
        renamed = true

        let dirFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else {
            throw ModelFileError(.io, file: path, "cannot open folder '\(folder)' to fsync: \(reason())")
        }
        defer { close(dirFD) }
        // Some file systems cannot fsync a directory (EINVAL); the rename is then as durable as they allow.
        guard fsync(dirFD) == 0 || errno == EINVAL else {
            throw ModelFileError(.io, file: path, "fsync of folder '\(folder)' failed: \(reason())")
        }
    }

    /// (folder, last component); folder is "." for a bare name.
    private static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    private static func reason() -> String { String(cString: strerror(errno)) }
}
