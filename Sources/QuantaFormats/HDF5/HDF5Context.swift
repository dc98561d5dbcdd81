import CHDF5
import Foundation

/// The file an HDF5 operation works on, and the checks every HDF5 call goes through: a
/// negative identifier or status becomes `FormatError.hdf5` naming the file, the operation,
/// the object and HDF5's own description of what failed.
struct HDF5Context {
    /// The path errors name (the user's path, also when writing to a temporary sibling).
    let path: String

    /// Runs `body` with HDF5's automatic error printing switched off on this thread, so
    /// users see only our errors; the previous setting is restored afterwards.
    ///
    /// The thread's error stack is cleared on the way out: in HDF5's thread-safe build each
    /// thread keeps its own stack, and records left on a worker thread's stack hold
    /// references that make `H5close` at process exit loop ("infinite loop closing library").
    static func silencingLibraryErrors<Result>(
        _ body: () throws(FormatError) -> Result
    ) throws(FormatError) -> Result {
        var previousFunction: H5E_auto2_t? = nil
        var previousData: UnsafeMutableRawPointer? = nil
        let saved = H5Eget_auto2(hid_t(H5E_DEFAULT), &previousFunction, &previousData) >= 0
        _ = H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
        defer {
            _ = H5Eclear2(hid_t(H5E_DEFAULT))
            if saved { _ = H5Eset_auto2(hid_t(H5E_DEFAULT), previousFunction, previousData) }
        }
        return try body()
    }

    /// HDF5's description of the last failure on this thread ("outer: inner"), or "" if the
    /// error stack is empty.
    static func libraryErrorDescription() -> String {
        let size = 512
        var outermost = [CChar](repeating: 0, count: size)
        var innermost = [CChar](repeating: 0, count: size)
        let count = chdf5_error_descriptions(&outermost, &innermost, size)
        guard count > 0 else { return "" }
        let outer = String(decoding: outermost.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let inner = String(decoding: innermost.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return count == 1 || outer == inner ? outer : "\(outer): \(inner)"
    }

    /// The error for a failed `operation` on `object`, with HDF5's description appended.
    func failure(_ operation: String, _ object: String) -> FormatError {
        let reason = Self.libraryErrorDescription()
        let subject = object.isEmpty ? operation : "\(operation) '\(object)'"
        return .hdf5(path: path, detail: reason.isEmpty ? "\(subject) failed" : "\(subject) failed (\(reason))")
    }

    /// Returns `identifier` if it is valid, otherwise throws naming the operation and object.
    @discardableResult
    func check(_ identifier: hid_t, _ operation: String, _ object: String) throws(FormatError) -> hid_t {
        guard identifier >= 0 else { throw failure(operation, object) }
        return identifier
    }

    /// Throws if `status` (an `herr_t`) is negative.
    func check(_ status: herr_t, _ operation: String, _ object: String) throws(FormatError) {
        guard status >= 0 else { throw failure(operation, object) }
    }

    /// Returns whether `result` (an `htri_t`) is true; throws if it is negative.
    func truth(_ result: htri_t, _ operation: String, _ object: String) throws(FormatError) -> Bool {
        guard result >= 0 else { throw failure(operation, object) }
        return result > 0
    }

    // MARK: Types

    /// The IEEE half-precision little-endian type (HDF5 1.10 has no predefined one; this
    /// is the layout h5py uses for float16). The caller closes it.
    func makeFloat16Type() throws(FormatError) -> hid_t {
        try makeTwoByteFloatType(exponentPosition: 10, exponentSize: 5, mantissaSize: 10, bias: 15, name: "float16")
    }

    /// The bfloat16 little-endian type, for files that store BF16 as an HDF5 float. The
    /// caller closes it.
    func makeBFloat16Type() throws(FormatError) -> hid_t {
        try makeTwoByteFloatType(exponentPosition: 7, exponentSize: 8, mantissaSize: 7, bias: 127, name: "bfloat16")
    }

    private func makeTwoByteFloatType(
        exponentPosition: Int, exponentSize: Int, mantissaSize: Int, bias: Int, name: String
    ) throws(FormatError) -> hid_t {
        let object = "\(name) type"
        let type = try check(H5Tcopy(chdf5_ieee_f32le()), "H5Tcopy", object)
        do {
            try check(H5Tset_fields(type, 15, exponentPosition, exponentSize, 0, mantissaSize), "H5Tset_fields", object)
            try check(H5Tset_size(type, 2), "H5Tset_size", object)
            try check(H5Tset_ebias(type, bias), "H5Tset_ebias", object)
        } catch {
            H5Tclose(type)
            throw error
        }
        return type
    }

    /// A variable-length UTF-8 string type. The caller closes it.
    func makeVariableStringType() throws(FormatError) -> hid_t {
        let type = try check(H5Tcopy(chdf5_c_s1()), "H5Tcopy", "string type")
        do {
            try check(H5Tset_size(type, chdf5_variable()), "H5Tset_size", "string type")
            try check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", "string type")
        } catch {
            H5Tclose(type)
            throw error
        }
        return type
    }

    // MARK: String attributes

    /// Writes `text` as a scalar variable-length UTF-8 string attribute `name` on `object`.
    func writeStringAttribute(_ name: String, _ text: String, on object: hid_t) throws(FormatError) {
        let type = try makeVariableStringType()
        defer { H5Tclose(type) }
        let space = try check(H5Screate(H5S_SCALAR), "H5Screate", "attribute \(name)")
        defer { H5Sclose(space) }
        let attribute = try check(
            H5Acreate2(object, name, type, space, chdf5_p_default(), chdf5_p_default()), "H5Acreate2",
            "attribute \(name)")
        defer { H5Aclose(attribute) }
        let status = text.withCString { characters in
            var pointer: UnsafePointer<CChar>? = characters
            return H5Awrite(attribute, type, &pointer)
        }
        try check(status, "H5Awrite", "attribute \(name)")
    }

    /// Reads the string attribute `name` of `object` (variable- or fixed-length, scalar or
    /// a one-element array). Returns nil if the attribute is absent; throws `invalidField` if
    /// it is not a string.
    func readStringAttribute(_ name: String, of object: hid_t) throws(FormatError) -> String? {
        guard try truth(H5Aexists(object, name), "H5Aexists", "attribute \(name)") else { return nil }
        let attribute = try check(H5Aopen(object, name, chdf5_p_default()), "H5Aopen", "attribute \(name)")
        defer { H5Aclose(attribute) }
        let fileType = try check(H5Aget_type(attribute), "H5Aget_type", "attribute \(name)")
        defer { H5Tclose(fileType) }
        let space = try check(H5Aget_space(attribute), "H5Aget_space", "attribute \(name)")
        defer { H5Sclose(space) }
        guard H5Tget_class(fileType) == H5T_STRING else {
            throw .invalidField(path: path, field: name, detail: "attribute must be a string, found \(describe(fileType))")
        }
        guard H5Sget_simple_extent_npoints(space) == 1 else {
            throw .invalidField(path: path, field: name, detail: "attribute must hold exactly one string")
        }
        if try truth(H5Tis_variable_str(fileType), "H5Tis_variable_str", "attribute \(name)") {
            let memoryType = try makeVariableStringType()
            defer { H5Tclose(memoryType) }
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try check(H5Aread(attribute, memoryType, &pointer), "H5Aread", "attribute \(name)")
            guard let pointer else { return "" }
            defer { H5free_memory(pointer) }
            return String(cString: pointer)
        }
        let size = H5Tget_size(fileType)
        guard size > 0, size < Int.max else {
            throw .invalidField(path: path, field: name, detail: "string attribute has invalid size \(size)")
        }
        let memoryType = try check(H5Tcopy(chdf5_c_s1()), "H5Tcopy", "attribute \(name)")
        defer { H5Tclose(memoryType) }
        try check(H5Tset_size(memoryType, size), "H5Tset_size", "attribute \(name)")
        try check(H5Tset_strpad(memoryType, H5T_STR_NULLPAD), "H5Tset_strpad", "attribute \(name)")
        var buffer = [UInt8](repeating: 0, count: size)
        try check(H5Aread(attribute, memoryType, &buffer), "H5Aread", "attribute \(name)")
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Whether `object` has an attribute `name`.
    func hasAttribute(_ name: String, on object: hid_t) throws(FormatError) -> Bool {
        try truth(H5Aexists(object, name), "H5Aexists", "attribute \(name)")
    }

    /// A short description of an HDF5 datatype for error messages (e.g. "compound",
    /// "32-bit float").
    func describe(_ type: hid_t) -> String {
        let bits = H5Tget_size(type) * 8
        switch H5Tget_class(type) {
        case H5T_INTEGER: return "\(bits)-bit integer"
        case H5T_FLOAT: return "\(bits)-bit float"
        case H5T_STRING: return "string"
        case H5T_COMPOUND: return "compound"
        case H5T_ENUM: return "enum"
        case H5T_ARRAY: return "array"
        case H5T_VLEN: return "variable-length sequence"
        case H5T_OPAQUE: return "opaque"
        case H5T_REFERENCE: return "reference"
        case H5T_BITFIELD: return "bitfield"
        case H5T_TIME: return "time"
        default: return "unknown type"
        }
    }
}
