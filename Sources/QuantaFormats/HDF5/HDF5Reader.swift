import CHDF5
import Foundation
import QuantaTensor

/// Reads Quanta HDF5 weight files (layout: docs/hdf5-layout.md). Every call opens the file,
/// validates its structure before reading data, and closes every handle again.
public enum HDF5Reader {
    /// Reads the whole checkpoint: config, tensors in file order (creation order when the
    /// file tracks it, otherwise name order) with owned storage, and tokenizer files.
    /// - Throws: `fileNotFound`; `invalidHeader` for a file that is not HDF5; `truncated`;
    ///   `missingField(path, "config")` when the model config is absent; `unsupportedDType`;
    ///   `invalidTensor` for overflowing dimensions; `hdf5` for groups that are not part of the
    ///   layout, a file without tensors, or a failed HDF5 call.
    public static func read(path: String) throws(FormatError) -> ModelCheckpoint {
        try HDF5File.open(path: path) { (file: HDF5File) throws(FormatError) -> ModelCheckpoint in
            let config = try file.readConfig()
            var tensors: [NamedTensor] = []
            tensors.reserveCapacity(file.entries.count)
            for entry in file.entries {
                tensors.append(NamedTensor(name: entry.name, tensor: try file.readTensor(entry)))
            }
            var checkpoint = ModelCheckpoint(config: config, tensors: tensors)
            for auxiliary in HDF5AuxiliaryFile.allCases {
                auxiliary.store(try file.readAuxiliaryFile(auxiliary), in: &checkpoint)
            }
            return checkpoint
        }
    }

    /// The tensor table in file order, without reading tensor data or the config.
    public static func tensorInfos(path: String) throws(FormatError) -> [TensorInfo] {
        try HDF5File.open(path: path) { (file: HDF5File) throws(FormatError) -> [TensorInfo] in
            file.entries.map { TensorInfo(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, byteCount: $0.byteCount) }
        }
    }

    /// A description of the file for `quanta inspect`: format, tensors, config and
    /// auxiliary files. Does not read tensor data.
    public static func summary(path: String) throws(FormatError) -> HDF5Summary {
        try HDF5File.open(path: path) { (file: HDF5File) throws(FormatError) -> HDF5Summary in
            let config = try file.readConfig()
            var auxiliaryFiles: [HDF5Summary.AuxiliaryFile] = []
            for auxiliary in HDF5AuxiliaryFile.allCases {
                if let data = try file.readAuxiliaryFile(auxiliary) {
                    auxiliaryFiles.append(.init(name: auxiliary.fileName, byteCount: data.count))
                }
            }
            var major: UInt32 = 0
            var minor: UInt32 = 0
            var release: UInt32 = 0
            _ = H5get_libversion(&major, &minor, &release)
            return HDF5Summary(
                path: path, libraryVersion: "\(major).\(minor).\(release)", layoutVersion: file.layoutVersion,
                isCreationOrdered: file.isCreationOrdered,
                tensors: file.entries.map {
                    TensorInfo(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, byteCount: $0.byteCount)
                },
                modelType: config.modelType, layerCount: config.layerCount, auxiliaryFiles: auxiliaryFiles)
        }
    }
}
