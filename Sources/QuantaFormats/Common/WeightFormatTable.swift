/// The one table of weight formats: Quanta's packed layouts (the container and the runtime
/// kernels, `PackedWeightTraits`) and the ggml block types that hold Quanta's codes, with
/// the rule that maps one onto the other. The container, the kernels (`PackedLayout`), the
/// GGUF exporter (`GGMLBlockEncoder`) and recipe validation all read it.
public enum WeightFormatTable {
    /// Quanta's packed layouts, in increasing bit width (docs/packed-weights.md).
    public static var packed: [PackedWeightTraits] { PackedWeightTraits.all }

    /// A ggml block type that holds Quanta codes `scale · (code − zero)` of some schemes.
    public struct GGMLTarget: Sendable {
        public let type: GGMLType
        /// Code widths it holds.
        public let bits: Set<Int>
        /// nil: symmetric and asymmetric; true / false: only that kind.
        public let symmetric: Bool?
        /// The block's stored code is `code − zero + offset` (for `Q4_1`: `code`, with `m`).
        public let offset: Int
        /// Whether ggml's dequantization equals Quanta's bit for bit (`Q4_1` rounds `m` to f16).
        public let exact: Bool
        /// Why this type, for docs and error messages.
        public let note: String

        public func holds(bits: Int, symmetric: Bool) -> Bool {
            self.bits.contains(bits) && (self.symmetric == nil || self.symmetric == symmetric)
        }
    }

    /// ggml targets, best first for each scheme (docs/export.md has the same table).
    public static let ggml: [GGMLTarget] = [
        GGMLTarget(type: .q4_0, bits: [4], symmetric: true, offset: 8, exact: true, note: "4-bit symmetric: d = scale, q = code"),
        GGMLTarget(type: .q5_0, bits: [4], symmetric: false, offset: 16, exact: true, note: "4-bit asymmetric: q = code − zero + 16"),
        GGMLTarget(type: .q4_1, bits: [4], symmetric: false, offset: 0, exact: false, note: "4-bit asymmetric, smaller: m = f16(−scale·zero)"),
        GGMLTarget(type: .q4_0, bits: [2, 3], symmetric: nil, offset: 8, exact: true, note: "2/3-bit: q = code − zero + 8"),
        GGMLTarget(type: .q8_0, bits: [2, 3, 4, 8], symmetric: nil, offset: 0, exact: true, note: "q = code − zero as int8 (asymmetric 8-bit only if it fits)"),
    ]

    /// The ggml targets of a scheme, best first.
    public static func ggmlTargets(bits: Int, symmetric: Bool) -> [GGMLTarget] {
        ggml.filter { $0.holds(bits: bits, symmetric: symmetric) }
    }

    /// Inputs per ggml block of every target type.
    public static let ggmlBlockElements = 32

    /// Code widths compressed-tensors' `pack-quantized` streams hold (0.18 and later).
    public static let compressedTensorsBits = 1...8
}
