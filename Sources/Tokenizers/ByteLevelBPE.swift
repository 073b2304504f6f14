// Byte-level BPE (GPT-2 style; GGUF `tokenizer.ggml.model` = "gpt2"), as llama.cpp's llm_tokenizer_bpe.
//
// Per word from the pre-tokenizer: one symbol per byte (its GPT-2 alphabet character), then repeatedly merge
// the adjacent pair with the lowest merge rank (ties: the leftmost pair — llama.cpp's queue order) until no
// pair has a rank. Each final symbol is its vocabulary token; a symbol without one (only possible with a
// vocabulary that lacks single-byte tokens or merge results) falls back to one-byte tokens where they exist.
//
// Symbols are ids: vocabulary ids, plus ids past the vocabulary for merge texts that have no token.

struct ByteLevelBPEModel: Sendable {
    let vocab: Vocabulary
    let preTokenizer: PreTokenizer
    /// symbol id of each byte's alphabet character.
    let byteSymbols: [Int32]
    /// (left symbol << 32 | right symbol) -> (rank << 32 | merged symbol).
    let merges: [UInt64: UInt64]
    /// alphabet text of symbols past the vocabulary (index = symbol - vocab.count).
    let extraTexts: [[UInt8]]

    init(vocab: Vocabulary, merges mergeLines: [String], preTokenizer: PreTokenizer) throws {
        self.vocab = vocab
        self.preTokenizer = preTokenizer
        var extra: [[UInt8]] = []
        var extraIDs: [[UInt8]: Int32] = [:]
        func symbol(_ text: [UInt8]) -> Int32 {
            if let id = vocab.id(of: text) { return id }
            if let id = extraIDs[text] { return id }
            let id = Int32(vocab.count + extra.count)
            extra.append(text)
            extraIDs[text] = id
            return id
        }
        byteSymbols = ByteLevel.byteToUTF8.map(symbol)
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(mergeLines.count)
        for (rank, line) in mergeLines.enumerated() {
            // llama.cpp splits at the first space after the first byte; a line without one never applies.
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let space = bytes[1...].firstIndex(of: 0x20) else { continue }
            let left = Array(bytes[..<space])
            let right = Array(bytes[(space + 1)...])
            if right.isEmpty { continue }
            let l = symbol(left)
            let r = symbol(right)
            let merged = symbol(left + right)
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if table[key] == nil {  // first rank wins, as llama.cpp's emplace
                table[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
            }
        }
        guard vocab.count + extra.count < Int(Int32.max) else {
            throw TokenizerError(.badMerges, source: vocab.source, "tokenizer.ggml.merges: too many merge symbols")
        }
        self.merges = table
        self.extraTexts = extra
    }

    /// Appends the tokens of one raw-text fragment.
    func tokenize(_ fragment: ArraySlice<UInt8>, into output: inout [Int32], cache: inout [ArraySlice<UInt8>: [Int32]])
    {
        // scalars and the byte offset where each starts
        var scalars: [UInt32] = []
        var offsets: [Int] = []
        scalars.reserveCapacity(fragment.count)
        offsets.reserveCapacity(fragment.count + 1)
        var i = fragment.startIndex
        var decoder = UTF8()
        var iterator = fragment.makeIterator()
        loop: while true {
            offsets.append(i)
            switch decoder.decode(&iterator) {
            case .scalarValue(let s):
                scalars.append(s.value)
                i += UTF8.width(s)
            case .emptyInput:
                break loop
            case .error:  // not reachable from a Swift String; keep one byte as U+FFFD
                scalars.append(0xFFFD)
                i += 1
            }
        }
        let pieces = preTokenizer.split(scalars)
        var scratch = Scratch()
        var at = 0
        for length in pieces {
            let word = fragment[offsets[at]..<offsets[at + length]]
            at += length
            if word.isEmpty { continue }
            if word.count <= 64, let known = cache[word] {
                output.append(contentsOf: known)
                continue
            }
            let before = output.count
            encodeWord(word, into: &output, scratch: &scratch)
            if word.count <= 64 { cache[word] = Array(output[before...]) }
        }
    }

    /// Reusable buffers for `encodeWord`.
    struct Scratch {
        var ids: [Int32] = []
        var prev: [Int32] = []
        var next: [Int32] = []
        var heap: [BPEBigram] = []
        var text: [UInt8] = []
    }

    struct BPEBigram {
        /// rank << 32 | left: the smallest pops first (lowest rank, then leftmost).
        var order: UInt64
        var right: Int32
        var leftSymbol: Int32
        var rightSymbol: Int32
        var merged: Int32
    }

    func encodeWord(_ word: ArraySlice<UInt8>, into output: inout [Int32], scratch: inout Scratch) {
        if preTokenizer.ignoreMerges {
            scratch.text.removeAll(keepingCapacity: true)
            ByteLevel.encode(word, into: &scratch.text)
            if let whole = vocab.id(of: scratch.text) {
                output.append(whole)
                return
            }
        }
        let n = word.count
        scratch.ids.removeAll(keepingCapacity: true)
        scratch.prev.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.heap.removeAll(keepingCapacity: true)
        for (k, b) in word.enumerated() {
            scratch.ids.append(byteSymbols[Int(b)])
            scratch.prev.append(Int32(k) - 1)
            scratch.next.append(k + 1 == n ? -1 : Int32(k + 1))
        }
        func addPair(_ left: Int32, _ right: Int32, _ s: inout Scratch) {
            if left < 0 || right < 0 { return }
            let l = s.ids[Int(left)]
            let r = s.ids[Int(right)]
            guard let m = merges[UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))] else { return }
            s.heap.push(
                BPEBigram(
                    order: (m >> 32) << 32 | UInt64(UInt32(left)), right: right, leftSymbol: l, rightSymbol: r,
                    merged: Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)))
        }
        if n > 1 {
            for k in 1..<n { addPair(Int32(k - 1), Int32(k), &scratch) }
        }
        while let bigram = scratch.heap.popMin() {
            let left = Int(bigram.order & 0xFFFF_FFFF)
            let right = Int(bigram.right)
            // stale: either side changed since the pair was queued
            if scratch.next[left] != bigram.right || scratch.ids[left] != bigram.leftSymbol
                || scratch.ids[right] != bigram.rightSymbol
            {
                continue
            }
            scratch.ids[left] = bigram.merged
            scratch.ids[right] = -1
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.prev[Int(after)] = Int32(left) }
            addPair(scratch.prev[left], Int32(left), &scratch)
            addPair(Int32(left), after, &scratch)
        }
        var k: Int32 = 0
        while k >= 0 {
            let id = scratch.ids[Int(k)]
            if Int(id) < vocab.count {
                output.append(id)
            } else {
                // no token for this symbol: llama.cpp looks up each byte of its alphabet text on its own
                for b in extraTexts[Int(id) - vocab.count] {
                    if let t = vocab.id(of: [b]) { output.append(t) }
                }
            }
            k = scratch.next[Int(k)]
        }
    }
}

extension Array where Element == ByteLevelBPEModel.BPEBigram {
    @inline(__always)
    mutating func push(_ item: Element) {
        append(item)
        var child = count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if self[child].order >= self[parent].order { break }
            swapAt(child, parent)
            child = parent
        }
    }

    @inline(__always)
    mutating func popMin() -> Element? {
        guard let top = first else { return nil }
        let last = removeLast()
        if isEmpty { return top }
        self[0] = last
        var parent = 0
        let n = count
        while true {
            let l = 2 * parent + 1
            let r = l + 1
            var best = parent
            if l < n, self[l].order < self[best].order { best = l }
            if r < n, self[r].order < self[best].order { best = r }
            if best == parent { break }
            swapAt(parent, best)
            parent = best
        }
        return top
    }
}
