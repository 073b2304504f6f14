import Foundation

/// Which OpenBLAS kernel family runs, and the fix for CPUs this OpenBLAS does not know.
///
/// OpenBLAS (0.3.21 in Debian 12) picks its kernels when the library loads. On CPUs newer than the
/// library (seen here: an Intel Xeon with AVX-512 FP16) it falls back to "Prescott" (SSE3), which
/// runs sgemm at about 40 % of the speed of its AVX2 kernels. The environment variable
/// OPENBLAS_CORETYPE overrides the choice, but only before the library loads — so the CLI re-runs
/// itself once with OPENBLAS_CORETYPE=Haswell when OpenBLAS fell back and the CPU has AVX2 and FMA.
/// A value the user set is always respected. See docs/benchmarks.md.
public enum BLASCore {
    /// Kernel families OpenBLAS falls back to for unknown CPUs.
    static let fallbacks: Set<String> = ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai", "Unknown"]

    /// CPU feature flags from /proc/cpuinfo (empty where unavailable).
    public static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            return Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
        }
        return []
    }

    /// The core type to ask for, or nil when OpenBLAS's own choice should stand.
    public static func betterCore(current: String, flags: Set<String>, environment: [String: String]) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, fallbacks.contains(current) else { return nil }
        return flags.contains("avx2") && flags.contains("fma") ? "Haswell" : nil
    }

    /// Re-executes this program with OPENBLAS_CORETYPE set when OpenBLAS fell back to slow kernels.
    /// Returns (doing nothing) when no change is needed or the re-exec fails.
    public static func reexecWithBetterKernelsIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard env["ADAPTERPS_BLAS_REEXEC"] == nil,
            let core = betterCore(current: Matmul.coreName, flags: cpuFlags(), environment: env)
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("ADAPTERPS_BLAS_REEXEC", "1", 1)  // never loop
        let args = CommandLine.arguments
        var cArgs = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArgs)
        // Only reached when exec failed: carry on with the slow kernels.
        for p in cArgs { free(p) }
    }
}
