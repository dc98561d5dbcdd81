import QuantaAlgorithms
import Testing

@Suite struct AlgorithmErrorTests {
    @Test func factorizationErrorSuggestsDampening() {
        let text = AlgorithmError.factorizationFailed(layer: "q_proj", detail: "Cholesky failed").errorDescription ?? ""
        #expect(text.contains("q_proj") && text.contains("dampening"))
    }
}
