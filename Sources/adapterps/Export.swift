import ArgumentParser
import Foundation
import Llama
import ModelFiles
import Training

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export an adapter to the official LLaMA-Adapter or the PEFT adaption_prompt layout.",
        discussion: """
            official: safetensors with adapter_query.weight [N·K, D] and layers.{i}.attention.gate \
            [1, H, 1, 1] for every layer, holding tanh(gate) (the official inference code does not apply tanh).
            peft: safetensors with …layers.{i}.self_attn.adaption_prompt [1, K, D] and adaption_gate [1] \
            = tanh(gate), plus adapter_config.json beside it. PEFT has one gate per layer: a layer whose \
            heads have different gates is refused unless --peft-approximate (mean of tanh(gate) over heads).
            See docs/checkpoints.md.
            """)

    @OptionGroup var model: ModelOptions

    @Option(help: "Adapter file (adapterps safetensors) to export.")
    var adapter: String

    @Option(help: "Target layout: official or peft.")
    var format: String

    @Option(
        help:
            "Output file (safetensors); for an existing folder, adapter.safetensors (official) or adapter_model.safetensors (peft) inside it."
    )
    var out: String

    @Flag(
        name: .customLong("peft-approximate"),
        help:
            "PEFT only: write the mean of tanh(gate) over a layer's heads where they differ, and report the largest deviation."
    )
    var peftApproximate = false

    func validate() throws {
        guard let f = AdapterExport.Format(rawValue: format) else {
            throw ValidationError(
                "--format must be one of \(AdapterExport.Format.allCases.map(\.rawValue).joined(separator: ", ")), got '\(format)'"
            )
        }
        if peftApproximate && f != .peft { throw ValidationError("--peft-approximate applies to --format peft only") }
    }

    func run() throws {
        let format = AdapterExport.Format(rawValue: self.format)!  // checked in validate()
        // Only the config and the fingerprint are needed: keep weights in their stored type unless told.
        var residency = WeightResidency.streaming
        if let w = model.weights {
            guard let r = WeightResidency(rawValue: w) else {
                throw CLIError.badInput("--weights must be 'resident' or 'streaming', got '\(w)'")
            }
            residency = r
        }
        let llama = try LlamaModel.load(path: model.modelPath, residency: residency)
        let (params, info) = try AdapterCheckpoint.read(
            path: adapter, model: llama.config, modelSHA256: llama.fingerprint)

        var isDir: ObjCBool = false
        let outPath =
            FileManager.default.fileExists(atPath: out, isDirectory: &isDir) && isDir.boolValue
            ? (out as NSString).appendingPathComponent(
                format == .peft ? "adapter_model.safetensors" : "adapter.safetensors")
            : out
        let result: AdapterExport.Result
        do {
            result =
                format == .official
                ? AdapterExport.official(params) : try AdapterExport.peft(params, approximate: peftApproximate)
        } catch {
            throw CLIError.badInput("\(adapter): \(error.message)")
        }
        try AdapterExport.write(result.tensors, to: outPath)
        var written = [outPath]
        if format == .peft {
            let configPath = ((outPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
                "adapter_config.json")
            var isFolder: ObjCBool = false
            let base =
                FileManager.default.fileExists(atPath: llama.path, isDirectory: &isFolder) && isFolder.boolValue
                ? llama.path : nil
            try AtomicFile.write(
                Array(AdapterExport.peftConfigJSON(params.shape, baseModel: base).utf8), to: configPath)
            written.append(configPath)
            if let at = result.maxDeviationAt {
                FileHandle.standardError.write(
                    Data(
                        ("adapterps: warning: PEFT gates approximated by the mean of tanh(gate) over heads; largest deviation "
                            + "\(result.maxGateDeviation) (layer \(at.layer), head \(at.head))\n").utf8))
            }
        }
        let stepText = info.step.map { ", step \($0)" } ?? ""
        print(
            "exported \(adapter) (\(params.shape.layers) layers × \(params.shape.length) prompts\(stepText)) as \(format.rawValue): "
                + written.joined(separator: ", "))
        if format == .peft {
            print(String(format: "max gate deviation %g", Double(result.maxGateDeviation)))
        }
    }
}
