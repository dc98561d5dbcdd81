import QuantaModel
import Testing

@Suite struct ModelErrorTests {
    @Test func contextErrorSaysWhatToDo() {
        let text = ModelError.contextTooLong(requested: 9000, maximum: 8192).errorDescription ?? ""
        #expect(text.contains("9000") && text.contains("8192") && text.contains("--context"))
    }
}
