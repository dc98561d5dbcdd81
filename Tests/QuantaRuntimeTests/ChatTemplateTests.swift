import Foundation
import QuantaRuntime
import Testing

@Suite struct ChatTemplateTests {
    /// SmolLM2-135M-Instruct's chat_template (from its GGUF `tokenizer.chat_template`).
    let smolTemplate = """
        {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
        You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
        ' }}{% endif %}{{'<|im_start|>' + message['role'] + '
        ' + message['content'] + '<|im_end|>' + '
        '}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
        ' }}{% endif %}
        """

    @Test func rendersTheFixturePromptExactly() throws {
        let template = try ChatTemplate(source: smolTemplate, path: "tokenizer_config.json")
        let text = template.render([ChatMessage(role: "user", content: "What is the capital of France?")])
        // shared/fixtures/smollm2-reference.json logits.chat.text (transformers apply_chat_template)
        #expect(text == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func explicitSystemMessageReplacesTheDefault() throws {
        let template = try ChatTemplate(source: smolTemplate, path: "t")
        let text = template.render([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        #expect(text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test func unsupportedOrMissingTemplatesAreErrors() {
        #expect(throws: RuntimeError.self) { try ChatTemplate(source: nil, path: "t") }
        #expect(throws: RuntimeError.self) { try ChatTemplate(source: "{{ bos_token }}[INST]", path: "t") }
    }
}

@Suite struct SamplerTests {
    @Test func zeroTemperatureIsGreedy() throws {
        var sampler = try Sampler(temperature: 0)
        let logits: [Float] = [0.1, 3, -1, 2.9]
        #expect(logits.withUnsafeBufferPointer { sampler.next(from: $0) } == 1)
    }

    @Test func samplingFollowsTheDistributionAndIsSeeded() throws {
        let logits: [Float] = [log(0.7), log(0.2), log(0.1)]
        var sampler = try Sampler(temperature: 1, seed: 7)
        var counts = [0, 0, 0]
        for _ in 0..<20_000 { counts[logits.withUnsafeBufferPointer { sampler.next(from: $0) }] += 1 }
        #expect(abs(Double(counts[0]) / 20_000 - 0.7) < 0.02)
        #expect(abs(Double(counts[2]) / 20_000 - 0.1) < 0.02)
        var first = try Sampler(temperature: 1, seed: 3)
        var second = try Sampler(temperature: 1, seed: 3)
        let a = (0..<50).map { _ in logits.withUnsafeBufferPointer { first.next(from: $0) } }
        let b = (0..<50).map { _ in logits.withUnsafeBufferPointer { second.next(from: $0) } }
        #expect(a == b)
    }

    @Test func topKAndTopPRestrictCandidates() throws {
        let logits: [Float] = [log(0.5), log(0.3), log(0.15), log(0.05)]
        var topK = try Sampler(temperature: 1, topK: 2, seed: 1)
        var topP = try Sampler(temperature: 1, topP: 0.75, seed: 1)
        for _ in 0..<2000 {
            #expect(logits.withUnsafeBufferPointer { topK.next(from: $0) } < 2)
            #expect(logits.withUnsafeBufferPointer { topP.next(from: $0) } < 2)
        }
    }

    @Test func invalidOptionsAreErrors() {
        #expect(throws: RuntimeError.self) { try Sampler(temperature: -1) }
        #expect(throws: RuntimeError.self) { try Sampler(temperature: 1, topK: 0) }
        #expect(throws: RuntimeError.self) { try Sampler(temperature: 1, topP: 1.5) }
    }
}
