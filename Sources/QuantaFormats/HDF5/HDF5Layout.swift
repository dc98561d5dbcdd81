import Foundation

/// Names and version of the Quanta HDF5 layout, described in docs/hdf5-layout.md.
public enum HDF5Layout {
    /// The layout version written to the root attribute `quanta_layout_version`.
    public static let version: Int32 = 1
    /// Root attribute holding the layout version (int32); optional when reading.
    public static let versionAttribute = "quanta_layout_version"
    /// Root attribute holding the `config.json` text (required).
    public static let configAttribute = "config"
    /// Dataset attribute marking dtypes HDF5 has no type for ("BF16" on uint16, "BOOL" on uint8).
    public static let dtypeAttribute = "dtype"
    /// Root group holding auxiliary files as 1-D uint8 datasets named by file name.
    public static let filesGroup = "quanta_files"
}

/// The tokenizer and generation files a checkpoint may carry, stored as uint8 datasets
/// `quanta_files/<fileName>` (readers also accept a root string attribute `<attribute>`).
enum HDF5AuxiliaryFile: CaseIterable {
    case tokenizer
    case tokenizerConfig
    case generationConfig

    var fileName: String {
        switch self {
        case .tokenizer: "tokenizer.json"
        case .tokenizerConfig: "tokenizer_config.json"
        case .generationConfig: "generation_config.json"
        }
    }

    var attribute: String {
        switch self {
        case .tokenizer: "tokenizer"
        case .tokenizerConfig: "tokenizer_config"
        case .generationConfig: "generation_config"
        }
    }

    func data(in checkpoint: ModelCheckpoint) -> Data? {
        switch self {
        case .tokenizer: checkpoint.tokenizer
        case .tokenizerConfig: checkpoint.tokenizerConfig
        case .generationConfig: checkpoint.generationConfig
        }
    }

    func store(_ data: Data?, in checkpoint: inout ModelCheckpoint) {
        switch self {
        case .tokenizer: checkpoint.tokenizer = data
        case .tokenizerConfig: checkpoint.tokenizerConfig = data
        case .generationConfig: checkpoint.generationConfig = data
        }
    }
}
