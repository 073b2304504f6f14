import Foundation
import Llama
import ModelFiles

// Export of an adapter to other implementations' key layouts (safetensors, F32, metadata
// {"format": "pt"}). Semantics, with g = our raw gate and our branch o = o_tok + tanh(g[h]) · o_ad:
//
//   official (LLaMA-Adapter v1, ZrrSkywalker/LLaMA-Adapter):
//     adapter_query.weight          [N·K, D]     row block i (K rows) = prompt of model layer L−N+i
//     layers.{l}.attention.gate     [1, H, 1, 1] for EVERY model layer l: tanh(g[l][h]) for adapted
//                                                layers, 0 below them
//     The official training code multiplies by gate.tanh(); its inference code multiplies by the raw
//     gate. The export is for inference, so it stores tanh(g): the official inference then computes
//     exactly our branch.
//
//   peft (Hugging Face PEFT, peft_type ADAPTION_PROMPT):
//     base_model.model.model.layers.{l}.self_attn.adaption_prompt   [1, K, D]
//     base_model.model.model.layers.{l}.self_attn.adaption_gate     [1]
//     for the top N layers only. PEFT multiplies the adapter softmax by the raw scalar gate (no tanh,
//     one value for all heads), so a layer exports exactly when its heads share one tanh(g) (as Float
//     values): then adaption_gate = tanh(g). Otherwise the export is refused, or, on request,
//     approximated by the mean of tanh(g[h]) over the heads (the largest |tanh(g[h]) − mean| is reported).
//     adapter_config.json (AdaptionPromptConfig) is written beside the tensors.

/// An export that cannot be made as asked; the CLI reports it as bad input (exit 2).
public struct ExportError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum AdapterExport {
    public enum Format: String, Sendable, CaseIterable {
        case official
        case peft
    }

    /// The tensors of an export and what was approximated.
    public struct Result: Sendable, Equatable {
        public var tensors: [NamedTensor]
        /// PEFT only: the largest |tanh(g[h]) − written gate| over all layers and heads (0 when exact).
        public var maxGateDeviation: Float
        /// PEFT only: (model layer, head) where that deviation occurs, when it is not 0.
        public var maxDeviationAt: (layer: Int, head: Int)?

        public static func == (a: Result, b: Result) -> Bool {
            a.tensors == b.tensors && a.maxGateDeviation == b.maxGateDeviation
                && a.maxDeviationAt?.layer == b.maxDeviationAt?.layer
                && a.maxDeviationAt?.head == b.maxDeviationAt?.head
        }
    }

    /// Official LLaMA-Adapter v1 layout (see the top of this file). The model has
    /// `shape.firstLayer + shape.layers` layers.
    public static func official(_ params: AdapterParameters) -> Result {
        let s = params.shape
        let modelLayers = s.firstLayer + s.layers
        var tensors = [
            NamedTensor(
                name: "adapter_query.weight", shape: [s.layers * s.length, s.dim],
                values: Array(params.values[0..<s.promptCount]))
        ]
        for layer in 0..<modelLayers {
            let gates: [Float] =
                s.adapterIndex(ofLayer: layer).map { i in params.gates(i).map(tanhFloat) }
                ?? [Float](repeating: 0, count: s.heads)
            tensors.append(
                NamedTensor(name: "layers.\(layer).attention.gate", shape: [1, s.heads, 1, 1], values: gates))
        }
        return Result(tensors: tensors, maxGateDeviation: 0, maxDeviationAt: nil)
    }

    /// PEFT `adaption_prompt` layout (see the top of this file). Throws when a layer's heads have
    /// different gates, unless `approximate` is set.
    public static func peft(_ params: AdapterParameters, approximate: Bool) throws(ExportError) -> Result {
        let s = params.shape
        var tensors: [NamedTensor] = []
        var maxDeviation: Float = 0
        var maxAt: (layer: Int, head: Int)? = nil
        for i in 0..<s.layers {
            let layer = s.firstLayer + i
            let prefix = "base_model.model.model.layers.\(layer).self_attn."
            let gates = params.gates(i).map(tanhFloat)
            let gate: Float
            if gates.allSatisfy({ $0 == gates[0] }) {  // equal tanh(g): PEFT computes exactly our branch
                gate = gates[0]
            } else {
                let (lo, hi) = (
                    gates.indices.min { gates[$0] < gates[$1] }!, gates.indices.max { gates[$0] < gates[$1] }!
                )
                guard approximate else {
                    throw ExportError(
                        "layer \(layer): the \(s.heads) heads have different gates "
                            + "(tanh(gate) from \(gates[lo]) at head \(lo) to \(gates[hi]) at head \(hi), "
                            + "spread \(gates[hi] - gates[lo])); "
                            + "PEFT's adaption_gate is one scalar per layer, so this adapter cannot be exported exactly "
                            + "(--peft-approximate writes the mean of tanh(gate) over the heads)")
                }
                var sum = 0.0
                for g in gates { sum += Double(g) }
                gate = Float(sum / Double(gates.count))
                for (h, g) in gates.enumerated() where abs(g - gate) > maxDeviation {
                    maxDeviation = abs(g - gate)
                    maxAt = (layer, h)
                }
            }
            tensors.append(
                NamedTensor(
                    name: prefix + "adaption_prompt", shape: [1, s.length, s.dim], values: Array(params.prompt(i))))
            tensors.append(NamedTensor(name: prefix + "adaption_gate", shape: [1], values: [gate]))
        }
        return Result(tensors: tensors, maxGateDeviation: maxDeviation, maxDeviationAt: maxAt)
    }

    /// PEFT's `adapter_config.json` for this adapter (the fields of `AdaptionPromptConfig` and its
    /// `PeftConfig` base), keys sorted, pretty-printed.
    public static func peftConfigJSON(_ shape: AdapterShape, baseModel: String?) -> String {
        func quoted(_ s: String) -> String {
            let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
            return String(array.dropFirst().dropLast())  // ["…"] → "…"
        }
        let fields: [(String, String)] = [
            ("adapter_layers", String(shape.layers)),
            ("adapter_len", String(shape.length)),
            ("auto_mapping", "null"),
            ("base_model_name_or_path", baseModel.map(quoted) ?? "null"),
            ("inference_mode", "true"),
            ("peft_type", "\"ADAPTION_PROMPT\""),
            ("revision", "null"),
            ("target_modules", "\"self_attn\""),
            ("task_type", "\"CAUSAL_LM\""),
        ]
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// Writes `tensors` (F32) to `path` atomically, with metadata {"format": "pt"} as PyTorch tools expect.
    public static func write(_ tensors: [NamedTensor], to path: String) throws(ModelFileError) {
        var writer = SafetensorsWriter()
        writer.metadata = ["format": "pt"]
        for t in tensors { writer.add(name: t.name, shape: t.shape, floats: t.values, as: .f32) }
        try writer.write(to: path)
    }

    /// tanh in double precision, rounded once to Float.
    static func tanhFloat(_ g: Float) -> Float { Float(Foundation.tanh(Double(g))) }
}
