// Special tokens in raw text, as llama.cpp's tokenizer_st_partition: before any model runs, the text is cut at
// every occurrence of a special token's text (control, user-defined and unknown tokens; longest text first,
// each token splitting whatever raw text the longer ones left, left to right). With parseSpecial == false only
// user-defined tokens are matched, so "<|im_start|>" typed by a user is tokenized as ordinary text.

enum Fragment: Equatable {
    /// a byte range of the input text, to be tokenized by the model.
    case text(Range<Int>)
    case token(Int32)
}

enum SpecialTokens {
    static func partition(_ text: [UInt8], vocab: Vocabulary, parseSpecial: Bool) -> [Fragment] {
        if text.isEmpty { return [] }
        var fragments: [Fragment] = [.text(0..<text.count)]
        text.withUnsafeBufferPointer { haystack in
            for id in vocab.specialTokens {
                let attributes = vocab.attributes[Int(id)]
                if !parseSpecial && !attributes.intersection([.control, .unknown]).isEmpty { continue }
                let needle = vocab.texts[Int(id)]
                if needle.isEmpty { continue }
                var result: [Fragment] = []
                var changed = false
                for fragment in fragments {
                    guard case .text(let range) = fragment else {
                        result.append(fragment)
                        continue
                    }
                    var from = range.lowerBound
                    while let match = find(needle, in: haystack, from: from, to: range.upperBound) {
                        changed = true
                        if match > from { result.append(.text(from..<match)) }
                        result.append(.token(id))
                        from = match + needle.count
                    }
                    if from < range.upperBound { result.append(.text(from..<range.upperBound)) }
                }
                if changed { fragments = result }
            }
        }
        return fragments
    }

    /// First occurrence of `needle` starting in [from, to - needle.count].
    @inline(__always)
    private static func find(_ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        let n = needle.count
        if to - from < n { return nil }
        let first = needle[0]
        var i = from
        let last = to - n
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < n && haystack[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }
}
