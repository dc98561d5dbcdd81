import CHDF5
import Foundation
import QuantaTensor

/// Writes a `ModelCheckpoint` as a Quanta HDF5 weight file (layout: docs/hdf5-layout.md).
public enum HDF5Writer {
    /// Writes `checkpoint` to `path` atomically: the file is built next to `path` and
    /// renamed into place, so a failure never leaves a half-written file.
    ///
    /// Tensors become root datasets named by their Hugging Face keys, in checkpoint order
    /// (link creation order is tracked); the config is the root string attribute `config`;
    /// tokenizer files become uint8 datasets under `quanta_files/`.
    /// - Throws: `duplicateTensor` for a repeated name, `invalidField` for a name that cannot
    ///   be a root dataset name, `hdf5` for a failed HDF5 call, `writeFailed` if the file
    ///   cannot be moved into place.
    public static func write(_ checkpoint: ModelCheckpoint, to path: String) throws(FormatError) {
        try validateNames(checkpoint, path: path)
        try AtomicOutput.produce(path) { temporary throws(FormatError) in
            try HDF5Context.silencingLibraryErrors { () throws(FormatError) in
                try writeFile(checkpoint, temporary: temporary, context: HDF5Context(path: path))
            }
        }
    }

    private static func validateNames(_ checkpoint: ModelCheckpoint, path: String) throws(FormatError) {
        var seen = Set<String>()
        for (index, named) in checkpoint.tensors.enumerated() {
            let name = named.name
            guard seen.insert(name).inserted else { throw .duplicateTensor(path: path, tensor: name) }
            let problem: String? =
                if name.isEmpty || name == "." {
                    "is empty or '.'"
                } else if name.contains("/") {
                    "contains '/', which would create HDF5 groups"
                } else if name.utf8.contains(0) {
                    "contains a NUL character"
                } else if name == HDF5Layout.filesGroup {
                    "is reserved for the auxiliary files group"
                } else {
                    nil
                }
            if let problem {
                throw .invalidField(
                    path: path, field: "tensors[\(index)].name",
                    detail: "'\(name)' \(problem); rename the tensor in `sanitize` before writing HDF5")
            }
        }
    }

    private static func writeFile(
        _ checkpoint: ModelCheckpoint, temporary: String, context: HDF5Context
    ) throws(FormatError) {
        let creation = try context.check(H5Pcreate(chdf5_p_file_create()), "H5Pcreate", "file creation properties")
        defer { H5Pclose(creation) }
        let orderFlags = UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)
        try context.check(
            H5Pset_link_creation_order(creation, orderFlags), "H5Pset_link_creation_order", "root group")
        let file = try context.check(
            H5Fcreate(temporary, chdf5_acc_trunc(), creation, chdf5_p_default()), "H5Fcreate", temporary)
        var isOpen = true
        defer { if isOpen { H5Fclose(file) } }

        try writeVersion(file: file, context: context)
        let configText = String(decoding: checkpoint.config.encodedJSON(), as: UTF8.self)
        try context.writeStringAttribute(HDF5Layout.configAttribute, configText, on: file)
        for named in checkpoint.tensors {
            try writeTensor(named, in: file, context: context)
        }
        try writeAuxiliaryFiles(checkpoint, in: file, context: context)

        isOpen = false
        try context.check(H5Fclose(file), "H5Fclose", temporary)
    }

    private static func writeVersion(file: hid_t, context: HDF5Context) throws(FormatError) {
        let name = HDF5Layout.versionAttribute
        let space = try context.check(H5Screate(H5S_SCALAR), "H5Screate", "attribute \(name)")
        defer { H5Sclose(space) }
        let attribute = try context.check(
            H5Acreate2(file, name, chdf5_native_int32(), space, chdf5_p_default(), chdf5_p_default()),
            "H5Acreate2", "attribute \(name)")
        defer { H5Aclose(attribute) }
        var version = HDF5Layout.version
        try context.check(H5Awrite(attribute, chdf5_native_int32(), &version), "H5Awrite", "attribute \(name)")
    }

    private static func writeTensor(_ named: NamedTensor, in file: hid_t, context: HDF5Context) throws(FormatError) {
        let tensor = named.tensor
        let storage = try HDF5TensorType.storage(for: tensor.dtype, context: context)
        defer { storage.close() }
        try writeDataset(
            named.name, in: file, type: storage.type, shape: tensor.shape, bytes: tensor.storage.bytes,
            context: context
        ) { dataset throws(FormatError) in
            if let marker = HDF5TensorType.marker(for: tensor.dtype) {
                try context.writeStringAttribute(HDF5Layout.dtypeAttribute, marker, on: dataset)
            }
        }
    }

    private static func writeAuxiliaryFiles(
        _ checkpoint: ModelCheckpoint, in file: hid_t, context: HDF5Context
    ) throws(FormatError) {
        let present = HDF5AuxiliaryFile.allCases.compactMap { file in file.data(in: checkpoint).map { (file, $0) } }
        guard !present.isEmpty else { return }
        let group = try context.check(
            H5Gcreate2(file, HDF5Layout.filesGroup, chdf5_p_default(), chdf5_p_default(), chdf5_p_default()),
            "H5Gcreate2", HDF5Layout.filesGroup)
        defer { H5Gclose(group) }
        for (auxiliary, data) in present {
            let name = auxiliary.fileName
            let result = data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                Result { () throws(FormatError) in
                    try writeDataset(
                        name, in: group, type: chdf5_native_uint8(), shape: [bytes.count], bytes: bytes,
                        context: context, objectName: "\(HDF5Layout.filesGroup)/\(name)") { _ throws(FormatError) in }
                }
            }
            try result.get()
        }
    }

    /// Creates dataset `name` in `location` with `shape` (scalar if empty), writes `bytes`,
    /// and lets `decorate` add attributes before the dataset is closed.
    private static func writeDataset(
        _ name: String, in location: hid_t, type: hid_t, shape: [Int], bytes: UnsafeRawBufferPointer,
        context: HDF5Context, objectName: String? = nil,
        decorate: (hid_t) throws(FormatError) -> Void
    ) throws(FormatError) {
        let object = objectName ?? name
        var dimensions = shape.map { hsize_t($0) }
        let space =
            shape.isEmpty
            ? try context.check(H5Screate(H5S_SCALAR), "H5Screate", object)
            : try context.check(H5Screate_simple(Int32(shape.count), &dimensions, nil), "H5Screate_simple", object)
        defer { H5Sclose(space) }
        let dataset = try context.check(
            H5Dcreate2(location, name, type, space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default()),
            "H5Dcreate2", object)
        defer { H5Dclose(dataset) }
        if bytes.count > 0 {
            try context.check(
                H5Dwrite(dataset, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), bytes.baseAddress),
                "H5Dwrite", object)
        }
        try decorate(dataset)
    }
}
