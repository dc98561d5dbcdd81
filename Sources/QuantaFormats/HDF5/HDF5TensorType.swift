import CHDF5
import QuantaTensor

/// How tensor dtypes map onto HDF5 datatypes in a Quanta HDF5 file (see docs/hdf5-layout.md).
///
/// F32/F64 and the integer dtypes use HDF5's native types; F16 uses the IEEE half layout
/// (h5py's float16). BF16 and BOOL have no HDF5 type that other tools read, so they are
/// stored as uint16 / uint8 with a dataset attribute `dtype` = "BF16" / "BOOL".
struct HDF5TensorType {
    /// The HDF5 type used in memory (and, when writing, in the file) for a dtype.
    let type: hid_t
    /// Whether `type` was created here and must be closed with `H5Tclose`.
    let isOwned: Bool

    /// The value of the dataset attribute `dtype` that marks the dtype, if it needs one.
    static func marker(for dtype: DType) -> String? {
        switch dtype {
        case .bfloat16, .bool: dtype.rawValue
        default: nil
        }
    }

    /// The type a tensor of `dtype` is written with (file and memory type are the same).
    static func storage(for dtype: DType, context: HDF5Context) throws(FormatError) -> HDF5TensorType {
        switch dtype {
        case .float64: HDF5TensorType(type: chdf5_native_double(), isOwned: false)
        case .float32: HDF5TensorType(type: chdf5_native_float(), isOwned: false)
        case .float16: HDF5TensorType(type: try context.makeFloat16Type(), isOwned: true)
        case .bfloat16, .uint16: HDF5TensorType(type: chdf5_native_uint16(), isOwned: false)
        case .int64: HDF5TensorType(type: chdf5_native_int64(), isOwned: false)
        case .int32: HDF5TensorType(type: chdf5_native_int32(), isOwned: false)
        case .int16: HDF5TensorType(type: chdf5_native_int16(), isOwned: false)
        case .int8: HDF5TensorType(type: chdf5_native_int8(), isOwned: false)
        case .uint64: HDF5TensorType(type: chdf5_native_uint64(), isOwned: false)
        case .uint32: HDF5TensorType(type: chdf5_native_uint32(), isOwned: false)
        case .uint8, .bool: HDF5TensorType(type: chdf5_native_uint8(), isOwned: false)
        }
    }

    /// The memory type to read a dataset of `fileType` (already classified as `dtype`) into:
    /// HDF5 converts byte order; a true 16-bit brain-float file type is read as such.
    static func memory(for dtype: DType, fileType: hid_t, context: HDF5Context) throws(FormatError)
        -> HDF5TensorType
    {
        if dtype == .bfloat16, H5Tget_class(fileType) == H5T_FLOAT {
            return HDF5TensorType(type: try context.makeBFloat16Type(), isOwned: true)
        }
        return try storage(for: dtype, context: context)
    }

    func close() {
        if isOwned { H5Tclose(type) }
    }

    /// The dtype of a dataset with `fileType` and optional `dtype` attribute `marker`, or
    /// `unsupportedDType` naming the tensor and what HDF5 type it found.
    static func classify(
        _ fileType: hid_t, marker: String?, tensor: String, context: HDF5Context
    ) throws(FormatError) -> DType {
        let size = H5Tget_size(fileType)
        let found: DType?
        switch H5Tget_class(fileType) {
        case H5T_INTEGER:
            let signed = H5Tget_sign(fileType) == H5T_SGN_2
            switch size {
            case 1: found = signed ? .int8 : .uint8
            case 2: found = signed ? .int16 : .uint16
            case 4: found = signed ? .int32 : .uint32
            case 8: found = signed ? .int64 : .uint64
            default: found = nil
            }
        case H5T_FLOAT:
            found = floatDType(fileType, size: size)
        default:
            found = nil
        }
        guard let found else {
            throw .unsupportedDType(path: context.path, tensor: tensor, dtype: "HDF5 \(context.describe(fileType))")
        }
        guard let marker, marker != found.rawValue else { return found }
        switch (marker, found) {
        case ("BF16", .uint16): return .bfloat16
        case ("BOOL", .uint8): return .bool
        default:
            throw .unsupportedDType(
                path: context.path, tensor: tensor,
                dtype: "HDF5 \(context.describe(fileType)) marked dtype '\(marker)'")
        }
    }

    /// F64/F32/F16/BF16 if the float type has exactly that IEEE-style layout.
    private static func floatDType(_ type: hid_t, size: Int) -> DType? {
        var signPosition = 0
        var exponentPosition = 0
        var exponentSize = 0
        var mantissaPosition = 0
        var mantissaSize = 0
        guard
            H5Tget_fields(type, &signPosition, &exponentPosition, &exponentSize, &mantissaPosition, &mantissaSize)
                >= 0
        else { return nil }
        let layout = [size, signPosition, exponentPosition, exponentSize, mantissaPosition, mantissaSize]
        switch layout {
        case [8, 63, 52, 11, 0, 52]: return .float64
        case [4, 31, 23, 8, 0, 23]: return .float32
        case [2, 15, 10, 5, 0, 10]: return .float16
        case [2, 15, 7, 8, 0, 7]: return .bfloat16
        default: return nil
        }
    }
}
