/// Where the bytes of a container go, and its bits per weight (docs/container.md, "Bits per
/// weight"): over the packed linears (codes + f16 scales + packed zero points + input
/// permutation) and over the whole file (file bytes × 8 / every parameter, dense embeddings
/// and norms included), plus the size the packed-weight traits predict for each linear.
/// "Logical" sizes are the arrays' `byte_count` (the format itself), "stored" sizes what
/// they occupy in the file (smaller where zstd paid).
public struct ContainerSizeSummary: Sendable, Equatable {
    /// Packed tensors and their parameters (`out × in` each).
    public let packedTensorCount: Int
    public let packedParameterCount: Int
    /// Logical bytes of the packed tensors' arrays (the format, before any zstd).
    public let packedByteCount: Int
    /// Bytes the packed tensors' arrays occupy in the file (after any zstd).
    public let packedStoredByteCount: Int
    /// Bytes the packed-weight traits predict for those tensors: per tensor
    /// `out·rowBytes(in) + 2·out·groups + out·rowBytes(groups) (+ 4·in with a permutation)`.
    public let packedTraitsByteCount: Int
    /// Σ over packed tensors of `out·in·bitsPerWeight(groupSize:inputCount:hasPermutation:)`:
    /// the nominal size in bits (no rounding to whole bytes or units).
    public let packedNominalBitCount: Double
    /// Dense tensors (embeddings, norms, an untied head), their parameters, logical and stored bytes.
    public let denseParameterCount: Int
    public let denseByteCount: Int
    public let denseStoredByteCount: Int
    /// Logical and stored bytes of the auxiliary files (tokenizer).
    public let fileTableByteCount: Int
    public let fileStoredByteCount: Int
    /// Preamble + header (with padding).
    public let headerByteCount: Int
    /// The whole file.
    public let fileByteCount: Int

    public var parameterCount: Int { packedParameterCount + denseParameterCount }
    /// Alignment gaps in the data section.
    public var paddingByteCount: Int {
        fileByteCount - headerByteCount - packedStoredByteCount - denseStoredByteCount - fileStoredByteCount
    }
    /// Bits per weight over the packed linears: their logical bytes (the format's cost).
    public var bitsPerWeightLinears: Double {
        packedParameterCount == 0 ? 0 : Double(packedByteCount * 8) / Double(packedParameterCount)
    }
    /// The same from the bytes stored in the file (after zstd).
    public var storedBitsPerWeightLinears: Double {
        packedParameterCount == 0 ? 0 : Double(packedStoredByteCount * 8) / Double(packedParameterCount)
    }
    /// The traits' nominal bits per weight over the same linears.
    public var nominalBitsPerWeightLinears: Double {
        packedParameterCount == 0 ? 0 : packedNominalBitCount / Double(packedParameterCount)
    }
    /// File bits per parameter (every tensor; header, tokenizer and padding included).
    public var bitsPerWeightFile: Double {
        parameterCount == 0 ? 0 : Double(fileByteCount * 8) / Double(parameterCount)
    }
    /// The file size without zstd, give or take alignment gaps (each array still starts at a
    /// multiple of 64): comparable with formats that store raw arrays, such as GGUF.
    public var uncompressedFileByteCount: Int {
        headerByteCount + packedByteCount + denseByteCount + fileTableByteCount + paddingByteCount
    }
    /// `uncompressedFileByteCount` × 8 / parameters.
    public var uncompressedBitsPerWeightFile: Double {
        parameterCount == 0 ? 0 : Double(uncompressedFileByteCount * 8) / Double(parameterCount)
    }
    /// Whether the packed tensors hold exactly the bytes the traits predict, are stored in
    /// at most that, and nothing but alignment gaps (under 64 bytes per array) is
    /// unaccounted for in the file.
    public func matchesTraits(arrayCount: Int) -> Bool {
        packedByteCount == packedTraitsByteCount && packedStoredByteCount <= packedByteCount && paddingByteCount >= 0
            && paddingByteCount < QuantaContainerFormat.alignment * max(arrayCount, 1)
    }
}

extension QuantaContainer {
    /// Arrays in the data section (tensor arrays and files).
    public var arrayCount: Int { tensorEntries.reduce(fileEntries.count) { $0 + $1.arrays.count } }

    /// The size breakdown and bits per weight of this container (from the header alone).
    public var sizeSummary: ContainerSizeSummary {
        var packedTensors = 0
        var packedParameters = 0
        var packedStored = 0
        var packedLogical = 0
        var packedTraits = 0
        var packedNominal = 0.0
        var denseParameters = 0
        var denseStored = 0
        var denseLogical = 0
        for entry in tensorEntries {
            let parameters = entry.shape.reduce(1, *)
            let stored = entry.arrays.reduce(0) { $0 + $1.storedByteCount }
            let logical = entry.arrays.reduce(0) { $0 + $1.byteCount }
            switch entry.format {
            case .dense:
                denseParameters += parameters
                denseStored += stored
                denseLogical += logical
            case .packed(let bits, let groupSize, _):
                let traits = PackedWeightTraits.forBits(bits)!  // validated at open
                let (outputs, inputs) = (entry.shape[0], entry.shape[1])
                let groups = inputs / groupSize + (inputs % groupSize == 0 ? 0 : 1)
                let permuted = entry.arrays.contains { $0.role == "input_permutation" }
                packedTensors += 1
                packedParameters += parameters
                packedStored += stored
                packedLogical += logical
                packedTraits += outputs * (traits.packedByteCount(valueCount: inputs)! + 2 * groups
                    + traits.packedByteCount(valueCount: groups)!) + (permuted ? 4 * inputs : 0)
                packedNominal += Double(parameters)
                    * traits.bitsPerWeight(groupSize: groupSize, inputCount: inputs, hasPermutation: permuted)
            case .sparse24Float, .sparse24Packed:
                // 2:4 linears count as compressed linears at their stored layout (kept values +
                // 2-bit positions, docs/packed-weights.md); the reader checked their sizes.
                packedTensors += 1
                packedParameters += parameters
                packedStored += stored
                packedLogical += logical
                packedTraits += logical
                packedNominal += Double(logical * 8)
            }
        }
        return ContainerSizeSummary(
            packedTensorCount: packedTensors, packedParameterCount: packedParameters,
            packedByteCount: packedLogical, packedStoredByteCount: packedStored, packedTraitsByteCount: packedTraits,
            packedNominalBitCount: packedNominal, denseParameterCount: denseParameters,
            denseByteCount: denseLogical, denseStoredByteCount: denseStored,
            fileTableByteCount: fileEntries.reduce(0) { $0 + $1.array.byteCount },
            fileStoredByteCount: fileEntries.reduce(0) { $0 + $1.array.storedByteCount },
            headerByteCount: headerByteCount, fileByteCount: fileByteCount)
    }
}
