// SentencePiece-style BPE (LLaMA-1/2, GGUF `tokenizer.ggml.model` = "llama"), as llama.cpp's llm_tokenizer_spm.
//
// Text fragment -> (optional " " prefix) -> every " " becomes "▁" (U+2581) -> one symbol per UTF-8 character ->
// repeatedly merge the adjacent pair whose concatenation is a vocabulary token with the highest score (ties: the
// leftmost pair) -> each final symbol is its token, or, when it is not in the vocabulary, one "<0xNN>" byte
// token per byte (byte fallback).

enum SentencePiece {
    static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]  // "▁"

    /// "▁" -> " ".
    static func unescapeSpaces(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + 2 < text.count, text[i] == 0xE2, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }

    /// The byte of a "<0xNN>" token text (llama.cpp reads the two characters after "<0x" as hex).
    static func byteValue(ofByteToken text: [UInt8]) -> UInt8? {
        guard text.count >= 5 else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        guard let hi = hex(text[3]), let lo = hex(text[4]) else { return nil }
        return hi << 4 | lo
    }
}

/// A candidate merge in the SentencePiece work queue.
private struct SPMBigram {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32

    /// true when `self` is popped before `other`: higher score first, then the leftmost pair.
    @inline(__always)
    func precedes(_ other: SPMBigram) -> Bool {
        score > other.score || (score == other.score && left < other.left)
    }
}

struct SentencePieceModel: Sendable {
    let vocab: Vocabulary
    /// token for each byte when a symbol has no token of its own: "<0xNN>", else the one-byte text, else <unk>.
    let byteTokens: [Int32?]

    init(vocab: Vocabulary) {
        self.vocab = vocab
        var byteTokens: [Int32?] = []
        let hex = Array("0123456789ABCDEF".utf8)
        for b in 0..<256 {
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]  // "<0xNN>"
            byteTokens.append(vocab.id(of: name) ?? vocab.id(of: [UInt8(b)]) ?? vocab.unk)
        }
        self.byteTokens = byteTokens
    }

    /// Appends the tokens of one raw-text fragment (already prefixed, not yet escaped).
    func tokenize(_ fragment: [UInt8], into output: inout [Int32]) {
        // escape spaces
        var text: [UInt8] = []
        text.reserveCapacity(fragment.count + fragment.count / 2)
        for b in fragment {
            if b == 0x20 { text.append(contentsOf: SentencePiece.spaceMark) } else { text.append(b) }
        }
        if text.isEmpty { return }

        // one symbol per UTF-8 character (llama.cpp unicode_len_utf8 on the lead byte)
        var start: [Int32] = []
        var length: [Int32] = []
        var offset = 0
        while offset < text.count {
            let lead = text[offset]
            let n = lead < 0x80 ? 1 : (lead >> 5 == 0x6 ? 2 : (lead >> 4 == 0xE ? 3 : (lead >> 3 == 0x1E ? 4 : 1)))
            let len = min(n, text.count - offset)
            start.append(Int32(offset))
            length.append(Int32(len))
            offset += len
        }
        let count = start.count
        var prev = (0..<count).map { Int32($0) - 1 }
        var next = (0..<count).map { $0 + 1 == count ? Int32(-1) : Int32($0 + 1) }

        var heap: [SPMBigram] = []
        text.withUnsafeBufferPointer { bytes in
            func tryAdd(_ left: Int32, _ right: Int32) {
                if left < 0 || right < 0 { return }
                let s = Int(start[Int(left)])
                let n = Int(length[Int(left)] + length[Int(right)])
                guard let token = vocab.table.lookup(UnsafeBufferPointer(rebasing: bytes[s..<(s + n)])) else { return }
                heapPush(&heap, SPMBigram(score: vocab.scores[Int(token)], left: left, right: right, size: Int32(n)))
            }
            for i in 1..<max(count, 1) { tryAdd(Int32(i - 1), Int32(i)) }

            while let bigram = heapPop(&heap) {
                let l = Int(bigram.left)
                let r = Int(bigram.right)
                if length[l] == 0 || length[r] == 0 || length[l] + length[r] != bigram.size { continue }
                length[l] += length[r]
                length[r] = 0
                next[l] = next[r]
                if next[r] >= 0 { prev[Int(next[r])] = bigram.left }
                tryAdd(prev[l], bigram.left)
                tryAdd(bigram.left, next[l])
            }

            var i: Int32 = 0
            while i != -1 {
                let s = Int(start[Int(i)])
                let n = Int(length[Int(i)])
                if let token = vocab.table.lookup(UnsafeBufferPointer(rebasing: bytes[s..<(s + n)])) {
                    output.append(token)
                } else {
                    for b in bytes[s..<(s + n)] {
                        if let t = byteTokens[Int(b)] { output.append(t) }
                    }
                }
                i = next[Int(i)]
            }
        }
    }
}

// A binary heap ordered by `precedes` (the first element is the next merge).
private func heapPush(_ heap: inout [SPMBigram], _ item: SPMBigram) {
    heap.append(item)
    var child = heap.count - 1
    while child > 0 {
        let parent = (child - 1) / 2
        if !heap[child].precedes(heap[parent]) { break }
        heap.swapAt(child, parent)
        child = parent
    }
}

private func heapPop(_ heap: inout [SPMBigram]) -> SPMBigram? {
    guard let top = heap.first else { return nil }
    let last = heap.removeLast()
    if heap.isEmpty { return top }
    heap[0] = last
    var parent = 0
    let n = heap.count
    while true {
        let l = 2 * parent + 1
        let r = l + 1
        var best = parent
        if l < n, heap[l].precedes(heap[best]) { best = l }
        if r < n, heap[r].precedes(heap[best]) { best = r }
        if best == parent { break }
        heap.swapAt(parent, best)
        parent = best
    }
    return top
}
