import QuantaTensor
import Testing

@Suite struct ShapeTests {
    @Test func elementCountMultipliesDimensions() throws {
        #expect(try Shape.elementCount([2, 3, 4]) == 24)
        #expect(try Shape.elementCount([]) == 1)
    }

    @Test func overflowingShapeThrows() {
        #expect(throws: TensorError.shapeOverflow(shape: [Int.max, 3])) { try Shape.elementCount([Int.max, 3]) }
        #expect(throws: TensorError.negativeDimension(shape: [2, -1])) { try Shape.elementCount([2, -1]) }
    }
}
