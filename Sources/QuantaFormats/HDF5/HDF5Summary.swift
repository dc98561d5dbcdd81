/// What `quanta inspect` shows for an HDF5 weight file.
public struct HDF5Summary: Sendable, Equatable, CustomStringConvertible {
    /// An auxiliary file stored in the weight file.
    public struct AuxiliaryFile: Sendable, Equatable {
        public var name: String
        public var byteCount: Int
    }

    public var path: String
    /// The HDF5 library version reading the file (e.g. "1.10.8").
    public var libraryVersion: String
    /// The root attribute `quanta_layout_version`, or nil for files written by other tools.
    public var layoutVersion: Int?
    /// Whether tensors are listed in creation order (false: the file does not track it,
    /// so they are in name order).
    public var isCreationOrdered: Bool
    /// The tensor table in file order.
    public var tensors: [TensorInfo]
    public var modelType: String
    public var layerCount: Int
    public var auxiliaryFiles: [AuxiliaryFile]

    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }
    public var tensorByteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// Tensor counts per dtype, by dtype name.
    public var dtypeCounts: [(dtype: String, count: Int)] {
        Dictionary(grouping: tensors, by: \.dtype).map { ($0.key, $0.value.count) }.sorted { $0.dtype < $1.dtype }
    }

    public static func == (left: HDF5Summary, right: HDF5Summary) -> Bool {
        left.path == right.path && left.libraryVersion == right.libraryVersion
            && left.layoutVersion == right.layoutVersion && left.isCreationOrdered == right.isCreationOrdered
            && left.tensors == right.tensors && left.modelType == right.modelType
            && left.layerCount == right.layerCount && left.auxiliaryFiles == right.auxiliaryFiles
    }

    public var description: String {
        let layout = layoutVersion.map { "Quanta layout v\($0)" } ?? "no Quanta layout version"
        let order = isCreationOrdered ? "creation order" : "name order"
        let dtypes = dtypeCounts.map { "\($0.dtype) x\($0.count)" }.joined(separator: ", ")
        let files =
            auxiliaryFiles.isEmpty
            ? "none" : auxiliaryFiles.map { "\($0.name) (\($0.byteCount) bytes)" }.joined(separator: ", ")
        return """
            \(path)
              format: HDF5 (library \(libraryVersion)), \(layout)
              model: \(modelType), \(layerCount) layers
              tensors: \(tensors.count) in \(order), \(parameterCount) parameters, \(tensorByteCount) bytes
              dtypes: \(dtypes)
              files: \(files)
            """
    }
}
