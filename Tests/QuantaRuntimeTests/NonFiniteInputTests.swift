import QuantaModel
import QuantaRuntime
import QuantaTensor
import Testing

/// NaN or infinite weights and activations are reported or carried into the output, never a
/// trap in a float → integer conversion.
@Suite struct NonFiniteInputTests {
    static let poisons: [Float] = [.nan, .infinity, -.infinity, 3e38]

    @Test(arguments: [4, 8])
    func int8ActivationKernelsCarryNonFiniteInputsIntoTheOutput(bits: Int) throws {
        let weight = RandomPackedWeight(bits: bits, groupSize: 32, inputCount: 64, outputCount: 5, permuted: false, biased: false, seed: 9)
        var linear = try weight.makeOperator()
        linear.activationPrecision = .int8
        for poison in Self.poisons {
            for rows in [1, 6] {
                var values = [Float](repeating: 0.25, count: rows * 64)
                values[3] = poison
                let output = linear.apply(try Matrix(rows: rows, columns: 64, values: values))
                #expect(output.values.count == rows * 5)
                // The poisoned block's scale is infinite (or huge): row 0 is not finite, or for a
                // finite 3e38 at least the other rows are untouched.
                if !poison.isFinite { #expect(output.values[0..<5].contains { !$0.isFinite }, "\(poison)") }
                if rows > 1 { #expect(output.values[5...].allSatisfy { $0.isFinite }) }
            }
        }
    }

    @Test func activationCodesOfNonFiniteValuesAreInRange() {
        for poison in Self.poisons + [1, -1] {
            for scale: Float in [1, 0, .infinity, .nan] {
                let code = ActivationScheme.code(poison, scale: scale, magnitude: 127)
                #expect(code >= -127 && code <= 127, "\(poison) / \(scale) → \(code)")
            }
        }
        var codes = [Int8](repeating: 0, count: 4)
        let values: [Float] = [.nan, 1, .infinity, -2]
        #expect(Int8Kernels.quantizeRow(values, count: 4, activation: ActivationScheme(bits: 8), into: &codes).isNaN)
        #expect(Int8Kernels.quantizeRow([1, 2, 3, 4], count: 4, activation: ActivationScheme(bits: 8), into: &codes).isFinite)
    }

    @Test func keyValueQuantizerCodesNonFiniteValues() throws {
        for symmetric in [false, true] {
            let quantizer = try KeyValueQuantizer(bits: 4, groupSize: 4, symmetric: symmetric)
            for poison in Self.poisons {
                var codes = [UInt8](repeating: 0, count: 4)
                let values: [Float] = [poison, 1, -1, 0.5]
                _ = quantizer.quantizeGroup(values, into: &codes)
                #expect(codes.allSatisfy { Int($0) <= quantizer.maximumCode })
            }
        }
    }

    @Test func int8HeadRejectsNonFiniteWeightsNamingTheTensor() {
        for poison in [Float.nan, .infinity] {
            var values = [Float](repeating: 0.5, count: 8 * 64)
            values[77] = poison
            #expect(throws: RuntimeError.invalidPackedWeight(name: "lm_head.weight", detail: "element 77 is \(poison); an int8 head needs finite weights")) {
                _ = try Int8Head.quantize(values, outputCount: 8, inputCount: 64, context: .serial(), name: "lm_head.weight")
            }
        }
    }
}
