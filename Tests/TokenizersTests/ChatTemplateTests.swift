import Foundation
import Tokenizers
import XCTest

final class ChatTemplateTests: XCTestCase {
    /// SmolLM2-135M-Instruct's tokenizer.chat_template.
    static let smolLM2Template =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
        + "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
        + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

    func testSmolLM2DefaultSystemPrompt() throws {
        let t = try ChatTemplate(template: ChatTemplateTests.smolLM2Template)
        XCTAssertEqual(t.family, .chatML)
        XCTAssertEqual(t.defaultSystemPrompt, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        XCTAssertFalse(t.startsWithBOS)
        XCTAssertEqual(
            t.render([.user("Hi")], addGenerationPrompt: true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(
            t.render([.system("Be brief."), .user("Hi"), .assistant("Hello!")], addGenerationPrompt: false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
        )
        XCTAssertEqual(t.render([], addGenerationPrompt: true), "<|im_start|>assistant\n")
    }

    func testTemplateFromModelFile() throws {
        let tokenizer = try TokenizerLoader.load(ggufPath: try TestPaths.smolLM2())
        XCTAssertEqual(tokenizer.chatTemplate, ChatTemplateTests.smolLM2Template)
        let t = try ChatTemplate(tokenizer: tokenizer)
        let ids = tokenizer.encode(t.render([.user("Hi")], addGenerationPrompt: true), addSpecial: !t.startsWithBOS)
        XCTAssertEqual(ids.first, 1)  // <|im_start|>
        XCTAssertEqual(ids.filter { $0 == 2 }.count, 2)  // two <|im_end|>
    }

    func testAssistantTurnCompletesTheConversation() throws {
        let templates = [
            try ChatTemplate(template: ChatTemplateTests.smolLM2Template),
            ChatTemplate(family: .llama2), ChatTemplate(family: .llama3),
        ]
        let conversation: [ChatMessage] = [.system("S"), .user(" Q1 "), .assistant("A1"), .user("Q2")]
        for t in templates {
            XCTAssertEqual(
                t.render(conversation, addGenerationPrompt: true) + t.assistantTurn(" A2\n"),
                t.render(conversation + [.assistant(" A2\n")], addGenerationPrompt: false), "\(t.family)")
        }
    }

    func testLlama2AndLlama3() throws {
        let llama2 = try ChatTemplate(
            template:
                "{% if messages[0]['role'] == 'system' %}...{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}")
        XCTAssertEqual(llama2.family, .llama2)
        XCTAssertTrue(llama2.startsWithBOS)
        XCTAssertEqual(
            llama2.render([.system("Sys"), .user(" Hi "), .assistant("Yo"), .user("Bye")], addGenerationPrompt: true),
            "<s>[INST] <<SYS>>\nSys\n<</SYS>>\n\n Hi [/INST] Yo </s><s>[INST] Bye [/INST]")  // strip() applies to the joined text
        let llama3 = try ChatTemplate(
            template: "{{ bos_token }}{% for m in messages %}<|start_header_id|>...<|eot_id|>{% endfor %}")
        XCTAssertEqual(llama3.family, .llama3)
        XCTAssertEqual(
            llama3.render([.user(" Hi\n")], addGenerationPrompt: true),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    func testUnknownOrMissingTemplateThrows() {
        XCTAssertThrowsError(try ChatTemplate(template: "{{ messages | tojson }} <start_of_turn>")) { error in
            XCTAssertTrue("\(error)".contains("unsupported template"), "\(error)")
        }
        XCTAssertThrowsError(try ChatTemplate(template: nil)) { error in
            XCTAssertTrue("\(error)".contains("no tokenizer.chat_template"), "\(error)")
        }
    }
}
