import CHDF5
import Foundation
import QuantaTensor

/// An open, validated Quanta HDF5 weight file (layout: docs/hdf5-layout.md): its tensor
/// table in file order and the identifiers to read from. Only `HDF5Reader` creates one,
/// inside `open(path:_:)`, which closes the file afterwards.
struct HDF5File {
    /// One tensor dataset of the root group.
    struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let byteCount: Int
    }

    let context: HDF5Context
    let file: hid_t
    let root: hid_t
    let entries: [Entry]
    /// True if tensors come in creation order; false if the file does not track it and
    /// they come in name order.
    let isCreationOrdered: Bool
    let hasFilesGroup: Bool
    /// The root attribute `quanta_layout_version`, if present.
    let layoutVersion: Int?

    var path: String { context.path }

    /// Opens `path`, validates its structure, calls `body`, and closes every handle.
    static func open<Result>(path: String, _ body: (HDF5File) throws(FormatError) -> Result) throws(FormatError)
        -> Result
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: path)
        }
        guard !isDirectory.boolValue else { throw .cannotOpen(path: path, reason: "it is a directory, not a file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .cannotOpen(path: path, reason: "permission denied")
        }
        let context = HDF5Context(path: path)
        return try HDF5Context.silencingLibraryErrors { () throws(FormatError) -> Result in
            let signature = H5Fis_hdf5(path)
            if signature == 0 {
                throw .invalidHeader(
                    path: path, detail: "no HDF5 signature found; this is not an HDF5 file (expected an .h5 weight file)")
            }
            let file = signature > 0 ? H5Fopen(path, chdf5_acc_rdonly(), chdf5_p_default()) : -1
            guard file >= 0 else {
                let reason = HDF5Context.libraryErrorDescription()
                if reason.contains("truncated") || reason.contains("EOF") || reason.contains("eof") {
                    throw .truncated(path: path, detail: "HDF5 cannot open it (\(reason))")
                }
                throw context.failure("H5Fopen", "")
            }
            defer { H5Fclose(file) }
            let root = try context.check(H5Gopen2(file, "/", chdf5_p_default()), "H5Gopen2", "/")
            defer { H5Gclose(root) }
            let layoutVersion = try readLayoutVersion(root: root, context: context)
            let isCreationOrdered = try tracksCreationOrder(root: root, context: context)
            let (entries, hasFilesGroup) = try scan(root: root, byCreation: isCreationOrdered, context: context)
            let opened = HDF5File(
                context: context, file: file, root: root, entries: entries, isCreationOrdered: isCreationOrdered,
                hasFilesGroup: hasFilesGroup, layoutVersion: layoutVersion)
            return try body(opened)
        }
    }

    // MARK: Structure

    private static func readLayoutVersion(root: hid_t, context: HDF5Context) throws(FormatError) -> Int? {
        let name = HDF5Layout.versionAttribute
        guard try context.hasAttribute(name, on: root) else { return nil }
        let attribute = try context.check(H5Aopen(root, name, chdf5_p_default()), "H5Aopen", "attribute \(name)")
        defer { H5Aclose(attribute) }
        let type = try context.check(H5Aget_type(attribute), "H5Aget_type", "attribute \(name)")
        defer { H5Tclose(type) }
        let space = try context.check(H5Aget_space(attribute), "H5Aget_space", "attribute \(name)")
        defer { H5Sclose(space) }
        guard H5Tget_class(type) == H5T_INTEGER, H5Sget_simple_extent_npoints(space) == 1 else {
            throw .invalidField(path: context.path, field: name, detail: "must be a single integer")
        }
        var version: Int64 = 0
        try context.check(H5Aread(attribute, chdf5_native_int64(), &version), "H5Aread", "attribute \(name)")
        guard version >= 1, version <= Int64(HDF5Layout.version) else {
            throw .invalidHeader(
                path: context.path,
                detail: "layout version \(version) is not supported (this build reads 1...\(HDF5Layout.version)); update quanta")
        }
        return Int(version)
    }

    private static func tracksCreationOrder(root: hid_t, context: HDF5Context) throws(FormatError) -> Bool {
        let properties = try context.check(H5Gget_create_plist(root), "H5Gget_create_plist", "/")
        defer { H5Pclose(properties) }
        var flags: UInt32 = 0
        try context.check(H5Pget_link_creation_order(properties, &flags), "H5Pget_link_creation_order", "/")
        let required = UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)
        return flags & required == required
    }

    /// The tensor datasets of the root group in file order, and whether `quanta_files` exists.
    private static func scan(root: hid_t, byCreation: Bool, context: HDF5Context) throws(FormatError)
        -> ([Entry], Bool)
    {
        var info = H5G_info_t()
        try context.check(H5Gget_info(root, &info), "H5Gget_info", "/")
        let index = byCreation ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME
        var entries: [Entry] = []
        var hasFilesGroup = false
        var position: hsize_t = 0
        while position < info.nlinks {
            let name = try linkName(root: root, index: index, position: position, context: context)
            position += 1
            let object = try context.check(H5Oopen(root, name, chdf5_p_default()), "H5Oopen", name)
            defer { H5Oclose(object) }
            switch H5Iget_type(object) {
            case H5I_DATASET:
                entries.append(try describeDataset(object, name: name, context: context))
            case H5I_GROUP where name == HDF5Layout.filesGroup:
                hasFilesGroup = true
            case H5I_GROUP:
                throw .hdf5(
                    path: context.path,
                    detail: "'\(name)' is a group, and objects inside groups are not tensors; store every tensor "
                        + "as a dataset in the root group named by its full key (e.g. 'model.layers.0.mlp.up_proj.weight')")
            default:
                throw .hdf5(
                    path: context.path, detail: "'\(name)' is a committed datatype, not a tensor dataset; remove it")
            }
        }
        guard !entries.isEmpty else {
            throw .hdf5(
                path: context.path,
                detail: "the file holds no tensor datasets; expected one dataset per tensor in the root group")
        }
        return (entries, hasFilesGroup)
    }

    private static func linkName(root: hid_t, index: H5_index_t, position: hsize_t, context: HDF5Context)
        throws(FormatError) -> String
    {
        let length = H5Lget_name_by_idx(root, ".", index, H5_ITER_INC, position, nil, 0, chdf5_p_default())
        guard length >= 0 else { throw context.failure("H5Lget_name_by_idx", "link \(position)") }
        var buffer = [CChar](repeating: 0, count: length + 1)
        let written = H5Lget_name_by_idx(root, ".", index, H5_ITER_INC, position, &buffer, length + 1, chdf5_p_default())
        guard written >= 0 else { throw context.failure("H5Lget_name_by_idx", "link \(position)") }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func describeDataset(_ dataset: hid_t, name: String, context: HDF5Context) throws(FormatError)
        -> Entry
    {
        let fileType = try context.check(H5Dget_type(dataset), "H5Dget_type", name)
        defer { H5Tclose(fileType) }
        var marker: String? = nil
        if try context.hasAttribute(HDF5Layout.dtypeAttribute, on: dataset) {
            do {
                marker = try context.readStringAttribute(HDF5Layout.dtypeAttribute, of: dataset)
            } catch .invalidField(_, _, let detail) {
                throw .invalidField(path: context.path, field: "\(name).\(HDF5Layout.dtypeAttribute)", detail: detail)
            }
        }
        let dtype = try HDF5TensorType.classify(fileType, marker: marker, tensor: name, context: context)
        let shape = try datasetShape(dataset, name: name, context: context)
        let byteCount: Int
        do { byteCount = try Shape.byteCount(shape, dtype: dtype) } catch {
            throw .invalidTensor(path: context.path, tensor: name, underlying: error)
        }
        return Entry(name: name, dtype: dtype, shape: shape, byteCount: byteCount)
    }

    /// The dataspace extent as `[Int]` (empty for a scalar); rejects null dataspaces and
    /// dimensions that do not fit in `Int`.
    static func datasetShape(_ dataset: hid_t, name: String, context: HDF5Context) throws(FormatError) -> [Int] {
        let space = try context.check(H5Dget_space(dataset), "H5Dget_space", name)
        defer { H5Sclose(space) }
        switch H5Sget_simple_extent_type(space) {
        case H5S_SCALAR:
            return []
        case H5S_SIMPLE:
            break
        default:
            throw .shapeMismatch(path: context.path, tensor: name, detail: "the dataset has no dataspace (null or invalid)")
        }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw context.failure("H5Sget_simple_extent_ndims", name) }
        var dimensions = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &dimensions, nil) >= 0 else {
            throw context.failure("H5Sget_simple_extent_dims", name)
        }
        var shape: [Int] = []
        for dimension in dimensions {
            guard dimension <= hsize_t(Int.max) else {
                throw .invalidTensor(
                    path: context.path, tensor: name,
                    underlying: .shapeOverflow(shape: dimensions.map { Int(truncatingIfNeeded: $0) }))
            }
            shape.append(Int(dimension))
        }
        return shape
    }

    // MARK: Data

    /// Reads tensor `entry` into owned storage (HDF5 data may be chunked or filtered, so it
    /// is not memory-mapped).
    func readTensor(_ entry: Entry) throws(FormatError) -> Tensor {
        let name = entry.name
        // A dataspace can be far larger than the file (chunked datasets allocate lazily), so
        // refuse sizes no allocation could satisfy instead of trapping in the allocator.
        guard UInt64(entry.byteCount) <= ProcessInfo.processInfo.physicalMemory else {
            throw .shapeMismatch(
                path: path, tensor: name,
                detail: "shape \(entry.shape) of \(entry.dtype.rawValue) needs \(entry.byteCount) bytes, "
                    + "more than this machine's memory; the dataspace is corrupt or the tensor too large")
        }
        let dataset = try context.check(H5Dopen2(root, name, chdf5_p_default()), "H5Dopen2", name)
        defer { H5Dclose(dataset) }
        let fileType = try context.check(H5Dget_type(dataset), "H5Dget_type", name)
        defer { H5Tclose(fileType) }
        let memory = try HDF5TensorType.memory(for: entry.dtype, fileType: fileType, context: context)
        defer { memory.close() }
        var status: herr_t = 0
        let storage = TensorStorage(byteCount: entry.byteCount) { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return }
            status = H5Dread(dataset, memory.type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), base)
        }
        if status < 0 {
            let reason = HDF5Context.libraryErrorDescription()
            throw .hdf5(path: path, detail: "H5Dread '\(name)' failed (\(reason)); the file may be truncated or corrupt")
        }
        do { return try Tensor(dtype: entry.dtype, shape: entry.shape, storage: storage) } catch {
            throw .invalidTensor(path: path, tensor: name, underlying: error)
        }
    }

    /// The root attribute `config` decoded and validated as `config.json`.
    func readConfig() throws(FormatError) -> ModelConfig {
        guard let text = try context.readStringAttribute(HDF5Layout.configAttribute, of: root) else {
            throw .missingField(path: path, field: HDF5Layout.configAttribute)
        }
        return try ModelConfig.decode(Data(text.utf8), path: "\(path) (attribute 'config')")
    }

    /// The largest auxiliary file (tokenizer.json and friends) read: 1 GiB.
    static let maximumAuxiliaryFileSize = 1 << 30

    /// The bytes of an auxiliary file: the dataset `quanta_files/<name>`, else the root
    /// string attribute, else nil.
    func readAuxiliaryFile(_ auxiliary: HDF5AuxiliaryFile) throws(FormatError) -> Data? {
        if hasFilesGroup {
            let objectName = "\(HDF5Layout.filesGroup)/\(auxiliary.fileName)"
            let group = try context.check(
                H5Gopen2(root, HDF5Layout.filesGroup, chdf5_p_default()), "H5Gopen2", HDF5Layout.filesGroup)
            defer { H5Gclose(group) }
            if try context.truth(H5Lexists(group, auxiliary.fileName, chdf5_p_default()), "H5Lexists", objectName) {
                return try readBytes(group: group, name: auxiliary.fileName, objectName: objectName)
            }
        }
        return try context.readStringAttribute(auxiliary.attribute, of: root).map { Data($0.utf8) }
    }

    private func readBytes(group: hid_t, name: String, objectName: String) throws(FormatError) -> Data {
        let dataset = try context.check(H5Dopen2(group, name, chdf5_p_default()), "H5Dopen2", objectName)
        defer { H5Dclose(dataset) }
        let fileType = try context.check(H5Dget_type(dataset), "H5Dget_type", objectName)
        defer { H5Tclose(fileType) }
        guard H5Tget_class(fileType) == H5T_INTEGER, H5Tget_size(fileType) == 1 else {
            throw .invalidField(
                path: path, field: objectName, detail: "must be a uint8 dataset, found \(context.describe(fileType))")
        }
        let shape = try Self.datasetShape(dataset, name: objectName, context: context)
        guard shape.count <= 1 else {
            throw .invalidField(path: path, field: objectName, detail: "must be one-dimensional, found shape \(shape)")
        }
        let count = shape.first ?? 1
        // As for tensors, a chunked dataspace can claim far more than the file holds.
        guard count <= Self.maximumAuxiliaryFileSize else {
            throw .invalidField(
                path: path, field: objectName,
                detail: "claims \(count) bytes, more than the \(Self.maximumAuxiliaryFileSize) an auxiliary file may hold; the dataspace is corrupt")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        if count > 0 {
            try context.check(
                H5Dread(dataset, chdf5_native_uint8(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &bytes),
                "H5Dread", objectName)
        }
        return Data(bytes)
    }
}
