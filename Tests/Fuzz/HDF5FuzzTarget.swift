import CHDF5
import Foundation
import QuantaFormats

extension FuzzTargets {
    /// HDF5 metadata: the input chooses an HDF5 structure (root attributes such as `config`
    /// and `quanta_layout_version`, datasets of any class, rank and extent with or without a
    /// `dtype` marker, groups, `quanta_files`), libhdf5 writes it to a tmpfs file, and
    /// `HDF5Reader` reads it. libhdf5's own binary parser is not fuzzed (a C library outside
    /// the project); our code that interprets what it returns is.
    static let hdf5 = FuzzTarget(
        name: "hdf5",
        summary:
            "structure-aware: an HDF5 file built by libhdf5 from the input's choices (core driver, written on close), "
            + "then HDF5Reader.read(path:) (and summary, tensorInfos for 1 input in 16)",
        maximumLength: 4096,
        run: { data in
            var input = FuzzInput(data)
            let path = FuzzScratch.directory + "/fuzz.h5"
            guard HDF5Structure.write(&input, to: path) else { return }
            // read(path:) covers what summary and tensorInfos check; they run on one input in 16.
            _ = try? HDF5Reader.read(path: path)
            if data.first.map({ $0 & 0x0F == 0 }) ?? false {
                _ = try? HDF5Reader.summary(path: path)
                _ = try? HDF5Reader.tensorInfos(path: path)
            }
        },
        seeds: {
            SeedModels.randomInputs(count: 16, maximumLength: 512) + [("config-first", HDF5Structure.configFirstSeed)]
        })
}

/// Builds an HDF5 file from fuzz choices with plain libhdf5 calls (errors silenced: a
/// structure libhdf5 refuses is simply skipped).
enum HDF5Structure {
    /// A seed that starts with a root `config` attribute holding a valid config and one dataset.
    static let configFirstSeed = Data([1, 1, 0, 2, 0, 1, 1, 0, 1, 2, 4, 4, 0, 0])

    static let attributeNames = [
        HDF5Layout.configAttribute, HDF5Layout.versionAttribute, "tokenizer", "tokenizer_config", "generation_config",
        HDF5Layout.dtypeAttribute,
    ]
    static let datasetNames = [
        "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "model.layers.0.mlp.up_proj.weight",
        HDF5Layout.filesGroup, "tokenizer.json",
    ]
    static let validConfig = String(
        decoding: ModelConfig(
            hiddenSize: 8, intermediateSize: 16, layerCount: 1, attentionHeads: 2, kvHeads: 1, vocabularySize: 4
        ).encodedJSON(),
        as: UTF8.self)

    static func write(_ input: inout FuzzInput, to path: String) -> Bool {
        H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
        defer { H5Eclear2(hid_t(H5E_DEFAULT)) }
        let creation = H5Pcreate(chdf5_p_file_create())
        defer { H5Pclose(creation) }
        if input.boolean() {
            H5Pset_link_creation_order(creation, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
        }
        // The core driver builds the file in memory and writes it once, on close.
        let access = H5Pcreate(chdf5_p_file_access())
        defer { H5Pclose(access) }
        H5Pset_fapl_core(access, 1 << 16, true)
        let file = H5Fcreate(path, chdf5_acc_trunc(), creation, access)
        guard file >= 0 else { return false }
        defer { H5Fclose(file) }
        var steps = 0
        while !input.isExhausted, steps < 12 {
            steps += 1
            switch input.integer(in: 0...5) {
            case 0, 1: attribute(&input, on: file)
            case 2, 3: dataset(&input, in: file)
            case 4: filesGroup(&input, in: file)
            default:
                let name = input.boolean() ? "group" : input.string(maximumLength: 8)
                let group = H5Gcreate2(file, name, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
                if group >= 0 { H5Gclose(group) }
            }
        }
        return true
    }

    /// A root attribute: a valid config, a string, an integer, a float or an integer array.
    static func attribute(_ input: inout FuzzInput, on object: hid_t) {
        let name = input.integer(in: 0...7) < 6 ? input.element(of: attributeNames) : input.string(maximumLength: 12)
        switch input.integer(in: 0...5) {
        case 0: stringAttribute(name, validConfig, variable: input.boolean(), on: object)
        case 1: stringAttribute(name, input.string(maximumLength: 300), variable: input.boolean(), on: object)
        case 2:
            numericAttribute(
                name, type: chdf5_native_int64(), count: 1, fill: Int64(input.integer(in: -2...3)), on: object)
        case 3: numericAttribute(name, type: chdf5_native_double(), count: 1, fill: 1.5, on: object)
        case 4:
            numericAttribute(
                name, type: chdf5_native_int32(), count: input.integer(in: 0...3), fill: Int32(1), on: object)
        default: numericAttribute(name, type: chdf5_native_uint8(), count: 1, fill: UInt8(input.byte()), on: object)
        }
    }

    static func stringAttribute(_ name: String, _ text: String, variable: Bool, on object: hid_t) {
        let type = H5Tcopy(chdf5_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, variable ? chdf5_variable() : max(text.utf8.count, 1))
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(object, name, type, space, chdf5_p_default(), chdf5_p_default())
        guard attribute >= 0 else { return }
        defer { H5Aclose(attribute) }
        text.withCString { characters in
            if variable {
                var pointer: UnsafePointer<CChar>? = characters
                _ = H5Awrite(attribute, type, &pointer)
            } else {
                _ = H5Awrite(attribute, type, characters)
            }
        }
    }

    static func numericAttribute<Value>(_ name: String, type: hid_t, count: Int, fill: Value, on object: hid_t) {
        var dimensions = [hsize_t(count)]
        let space = count == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dimensions, nil)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(object, name, type, space, chdf5_p_default(), chdf5_p_default())
        guard attribute >= 0 else { return }
        defer { H5Aclose(attribute) }
        let values = [Value](repeating: fill, count: max(count, 1))
        _ = values.withUnsafeBytes { H5Awrite(attribute, type, $0.baseAddress) }
    }

    /// A dataset of a fuzz-chosen type and extent (chunked, so huge extents cost nothing),
    /// partly written, with an optional `dtype` marker.
    static func dataset(_ input: inout FuzzInput, in location: hid_t, named chosen: String? = nil) {
        let name =
            chosen ?? (input.integer(in: 0...7) < 6 ? input.element(of: datasetNames) : input.string(maximumLength: 12))
        let (type, owned) = datasetType(&input)
        defer { if owned { H5Tclose(type) } }
        guard type >= 0 else { return }
        let rank = input.integer(in: 0...3)
        var dimensions = (0..<rank).map { _ in hsize_t(input.element(of: [0, 1, 2, 3, 4, 8, 64, 1 << 40])) }
        let space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(rank), &dimensions, nil)
        defer { H5Sclose(space) }
        let properties = H5Pcreate(chdf5_p_dataset_create())
        defer { H5Pclose(properties) }
        if rank > 0, dimensions.allSatisfy({ $0 > 0 }) {
            var chunk = dimensions.map { min($0, 4) }
            H5Pset_chunk(properties, Int32(rank), &chunk)
        }
        let dataset = H5Dcreate2(location, name, type, space, chdf5_p_default(), properties, chdf5_p_default())
        guard dataset >= 0 else { return }
        defer { H5Dclose(dataset) }
        let count = dimensions.reduce(hsize_t(1)) { $0.multipliedReportingOverflow(by: $1).overflow ? .max : $0 * $1 }
        if count <= 4096, H5Tget_class(type) != H5T_STRING {
            let bytes = (0..<(Int(count) * H5Tget_size(type))).map { _ in input.byte() }
            _ = bytes.withUnsafeBytes {
                H5Dwrite(dataset, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
            }
        }
        switch input.integer(in: 0...4) {
        case 0: stringAttribute(HDF5Layout.dtypeAttribute, "BF16", variable: input.boolean(), on: dataset)
        case 1: stringAttribute(HDF5Layout.dtypeAttribute, "BOOL", variable: input.boolean(), on: dataset)
        case 2: stringAttribute(HDF5Layout.dtypeAttribute, input.string(maximumLength: 8), variable: true, on: dataset)
        case 3:
            numericAttribute(
                HDF5Layout.dtypeAttribute, type: chdf5_native_int32(), count: 1, fill: Int32(7), on: dataset)
        default: break
        }
    }

    /// A file type: native numbers, IEEE half and bfloat16 layouts, odd floats, strings, compounds.
    static func datasetType(_ input: inout FuzzInput) -> (hid_t, owned: Bool) {
        switch input.integer(in: 0...15) {
        case 0: return (chdf5_native_float(), false)
        case 1: return (chdf5_native_double(), false)
        case 2: return (chdf5_native_int8(), false)
        case 3: return (chdf5_native_uint8(), false)
        case 4: return (chdf5_native_int16(), false)
        case 5: return (chdf5_native_uint16(), false)
        case 6: return (chdf5_native_int32(), false)
        case 7: return (chdf5_native_uint32(), false)
        case 8: return (chdf5_native_int64(), false)
        case 9: return (chdf5_native_uint64(), false)
        case 10: return (twoByteFloat(exponentPosition: 10, exponentSize: 5, mantissaSize: 10, bias: 15), true)
        case 11: return (twoByteFloat(exponentPosition: 7, exponentSize: 8, mantissaSize: 7, bias: 127), true)
        case 12:
            let type = H5Tcopy(chdf5_ieee_f32le())
            H5Tset_fields(type, 31, 23, 8, 0, input.integer(in: 1...23))
            return (type, true)
        case 13:
            let type = H5Tcopy(chdf5_c_s1())
            H5Tset_size(type, input.boolean() ? chdf5_variable() : 4)
            return (type, true)
        case 14:
            let type = H5Tcreate(H5T_COMPOUND, 8)
            H5Tinsert(type, "a", 0, chdf5_native_float())
            H5Tinsert(type, "b", 4, chdf5_native_int32())
            return (type, true)
        default:
            let type = H5Tcopy(chdf5_native_int32())
            H5Tset_order(type, H5T_ORDER_BE)
            return (type, true)
        }
    }

    static func twoByteFloat(exponentPosition: Int, exponentSize: Int, mantissaSize: Int, bias: Int) -> hid_t {
        let type = H5Tcopy(chdf5_ieee_f32le())
        H5Tset_fields(type, 15, exponentPosition, exponentSize, 0, mantissaSize)
        H5Tset_size(type, 2)
        H5Tset_ebias(type, bias)
        return type
    }

    /// `quanta_files` with an auxiliary file stored as a dataset of a fuzz-chosen type and shape.
    static func filesGroup(_ input: inout FuzzInput, in file: hid_t) {
        var group = H5Gopen2(file, HDF5Layout.filesGroup, chdf5_p_default())
        if group < 0 {
            group = H5Gcreate2(file, HDF5Layout.filesGroup, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
        }
        guard group >= 0 else { return }
        defer { H5Gclose(group) }
        let name = input.element(of: ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "other"])
        if input.integer(in: 0...3) == 0 {
            stringAttribute(name, "{}", variable: true, on: group)
            return
        }
        dataset(&input, in: group, named: name)
    }
}
