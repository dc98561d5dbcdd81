import CHDF5
import Foundation
import QuantaFormats
import QuantaTensor
import Testing

/// Builders for HDF5 test files: a temporary directory per test, a tiny checkpoint, and
/// hand-made files written with the HDF5 C API (to produce inputs our writer never makes).
struct HDF5TestFiles {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "quanta-hdf5-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String) -> String { directory + "/" + name }

    static let config = ModelConfig(
        hiddenSize: 8, intermediateSize: 16, layerCount: 1, attentionHeads: 2, kvHeads: 1, vocabularySize: 32)

    static var configText: String { String(decoding: config.encodedJSON(), as: UTF8.self) }

    /// A checkpoint with F32, F16, BF16, I32 and scalar tensors in non-alphabetical order.
    static func tinyCheckpoint() throws -> ModelCheckpoint {
        let weight = try Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-3, -7])
        let half = try weight.converted(to: .float16)
        let brain = try Tensor(shape: [2, 2], values: [0.5, -1, 3, 1024]).converted(to: .bfloat16)
        let indices = try Tensor(dtype: .int32, shape: [3], storage: TensorStorage(array: [Int32(7), -1, 42]))
        let scalar = try Tensor(shape: [], values: [2.25])
        return ModelCheckpoint(
            config: config,
            tensors: [
                NamedTensor(name: "model.layers.0.self_attn.q_proj.weight", tensor: weight),
                NamedTensor(name: "model.embed_tokens.weight", tensor: half),
                NamedTensor(name: "lm_head.weight", tensor: brain),
                NamedTensor(name: "model.norm.indices", tensor: indices),
                NamedTensor(name: "a.scale", tensor: scalar),
            ],
            tokenizer: Data(#"{"model": {"type": "BPE"}}"#.utf8),
            tokenizerConfig: Data(#"{"bos_token": "<s>"}"#.utf8),
            generationConfig: nil)
    }

    /// Creates `path` with the C API and lets `body` fill the root group.
    func makeFile(_ name: String, _ body: (hid_t) throws -> Void) throws -> String {
        let filePath = path(name)
        let file = H5Fcreate(filePath, chdf5_acc_trunc(), chdf5_p_default(), chdf5_p_default())
        try #require(file >= 0)
        defer { H5Fclose(file) }
        try body(file)
        return filePath
    }

    /// Like `makeFile`, with a valid `config` attribute added first.
    func makeFileWithConfig(_ name: String, _ body: (hid_t) throws -> Void) throws -> String {
        try makeFile(name) { file in
            try Self.addStringAttribute("config", Self.configText, to: file)
            try body(file)
        }
    }

    /// Writes `text` as a fixed-length string attribute (our writer uses variable-length ones).
    static func addStringAttribute(_ name: String, _ text: String, to object: hid_t) throws {
        let type = H5Tcopy(chdf5_c_s1())
        defer { H5Tclose(type) }
        try #require(H5Tset_size(type, max(text.utf8.count, 1)) >= 0)
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(object, name, type, space, chdf5_p_default(), chdf5_p_default())
        try #require(attribute >= 0)
        defer { H5Aclose(attribute) }
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0] }
        try #require(H5Awrite(attribute, type, &bytes) >= 0)
    }

    /// Adds a float32 dataset `name` of `values` with shape `dimensions`.
    static func addFloatDataset(_ name: String, dimensions: [UInt64], values: [Float], to location: hid_t) throws {
        var extent = dimensions.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(extent.count), &extent, nil)
        try #require(space >= 0)
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(
            location, name, chdf5_native_float(), space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
        try #require(dataset >= 0)
        defer { H5Dclose(dataset) }
        try #require(
            H5Dwrite(dataset, chdf5_native_float(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), values) >= 0)
    }

    /// The error description of `body`'s `FormatError`, or a recorded issue.
    static func errorText(_ body: () throws(FormatError) -> Void, sourceLocation: SourceLocation = #_sourceLocation)
        -> String
    {
        do {
            try body()
            Issue.record("expected a FormatError", sourceLocation: sourceLocation)
            return ""
        } catch {
            return error.errorDescription ?? ""
        }
    }
}
