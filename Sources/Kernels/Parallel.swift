import Dispatch

/// Splits element-wise work over the compute threads (the same count OpenBLAS uses). Each element
/// is computed exactly as it would be on one thread, so results do not depend on the split.
public enum Parallel {
    /// Calls `body` on disjoint ranges covering 0..<count, concurrently when the work is large
    /// enough (`minimumPerThread` elements per thread) and more than one thread is configured.
    @inline(__always)
    public static func ranges(_ count: Int, minimumPerThread: Int = 16_384, _ body: (Range<Int>) -> Void) {
        let threads = min(Matmul.threads, count / max(minimumPerThread, 1))
        guard threads > 1 else {
            body(0..<count)
            return
        }
        let chunk = (count + threads - 1) / threads
        withoutActuallyEscaping(body) { body in
            // The ranges are disjoint and concurrentPerform returns only when all are done, so
            // the (non-Sendable) body and the buffers it captures are never used after return.
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: threads) { i in
                let lo = i * chunk
                let hi = min(count, lo + chunk)
                if lo < hi { work(lo..<hi) }
            }
        }
    }
}
