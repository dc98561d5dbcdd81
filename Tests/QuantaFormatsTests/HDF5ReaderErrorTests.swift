import CHDF5
import Foundation
import QuantaFormats
import Testing

/// Bad inputs: each error must name the file and the problem.
@Suite struct HDF5ReaderErrorTests {
    private static func readError(_ path: String) -> String {
        HDF5TestFiles.errorText { () throws(FormatError) in _ = try HDF5Reader.read(path: path) }
    }

    @Test func missingFileIsReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = files.path("absent.h5")
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("no such file"))
    }

    @Test func nonHDF5FileIsReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = files.path("model.h5")
        try Data(#"{"not": "hdf5"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("not an HDF5 file"))
    }

    @Test func truncatedCopyIsReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let valid = files.path("valid.h5")
        try HDF5Writer.write(try HDF5TestFiles.tinyCheckpoint(), to: valid)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: valid))
        let path = files.path("truncated.h5")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("truncated"))
        let infoText = HDF5TestFiles.errorText { () throws(FormatError) in _ = try HDF5Reader.tensorInfos(path: path) }
        #expect(infoText == text)
    }

    @Test func missingConfigIsReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFile("noconfig.h5") { file in
            try HDF5TestFiles.addFloatDataset("w", dimensions: [2], values: [1, 2], to: file)
        }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("missing required field 'config'"))
        // The tensor table does not need the config.
        #expect(try HDF5Reader.tensorInfos(path: path).map(\.name) == ["w"])
    }

    @Test func invalidConfigTextNamesTheAttribute() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFile("badconfig.h5") { file in
            try HDF5TestFiles.addStringAttribute("config", #"{"model_type": "llama"}"#, to: file)
            try HDF5TestFiles.addFloatDataset("w", dimensions: [2], values: [1, 2], to: file)
        }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("attribute 'config'") && text.contains("missing required field"))
    }

    @Test func configThatIsNotAStringIsReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFile("intconfig.h5") { file in
            let space = H5Screate(H5S_SCALAR)
            defer { H5Sclose(space) }
            let attribute = H5Acreate2(file, "config", chdf5_native_int32(), space, chdf5_p_default(), chdf5_p_default())
            try #require(attribute >= 0)
            defer { H5Aclose(attribute) }
            var value: Int32 = 3
            try #require(H5Awrite(attribute, chdf5_native_int32(), &value) >= 0)
            try HDF5TestFiles.addFloatDataset("w", dimensions: [2], values: [1, 2], to: file)
        }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("'config'") && text.contains("must be a string"))
    }

    @Test func fileWithoutTensorDatasetsIsReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFileWithConfig("empty.h5") { _ in }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("no tensor datasets"))
    }

    @Test(arguments: ["compound", "string"])
    func unsupportedDatasetTypeIsReported(kind: String) throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFileWithConfig("\(kind).h5") { file in
            try HDF5TestFiles.addFloatDataset("good.weight", dimensions: [1], values: [1], to: file)
            let type: hid_t
            if kind == "compound" {
                type = H5Tcreate(H5T_COMPOUND, 8)
                try #require(H5Tinsert(type, "real", 0, chdf5_native_float()) >= 0)
                try #require(H5Tinsert(type, "imaginary", 4, chdf5_native_float()) >= 0)
            } else {
                type = H5Tcopy(chdf5_c_s1())
                try #require(H5Tset_size(type, 4) >= 0)
            }
            defer { H5Tclose(type) }
            var dimensions: [hsize_t] = [3]
            let space = H5Screate_simple(1, &dimensions, nil)
            defer { H5Sclose(space) }
            let dataset = H5Dcreate2(file, "odd.weight", type, space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            try #require(dataset >= 0)
            H5Dclose(dataset)
        }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("'odd.weight'") && text.contains("unsupported dtype HDF5 \(kind)"))
    }

    @Test func mismatchedDtypeMarkerIsReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFileWithConfig("marker.h5") { file in
            try HDF5TestFiles.addFloatDataset("w", dimensions: [1], values: [1], to: file)
            let dataset = H5Dopen2(file, "w", chdf5_p_default())
            try #require(dataset >= 0)
            defer { H5Dclose(dataset) }
            try HDF5TestFiles.addStringAttribute("dtype", "BF16", to: dataset)
        }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("'w'") && text.contains("marked dtype 'BF16'"))
    }

    @Test func overflowingDataspaceIsReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFileWithConfig("huge.h5") { file in
            let properties = H5Pcreate(chdf5_p_dataset_create())
            defer { H5Pclose(properties) }
            var chunk: [hsize_t] = [1, 1]
            try #require(H5Pset_chunk(properties, 2, &chunk) >= 0)
            // 2^31 x 2^31 floats: 2^62 elements, 2^64 bytes.
            var dimensions: [hsize_t] = [1 << 31, 1 << 31]
            let space = H5Screate_simple(2, &dimensions, nil)
            try #require(space >= 0)
            defer { H5Sclose(space) }
            let dataset = H5Dcreate2(
                file, "huge.weight", chdf5_native_float(), space, chdf5_p_default(), properties, chdf5_p_default())
            try #require(dataset >= 0)
            H5Dclose(dataset)
        }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("'huge.weight'") && text.contains("more elements than fit"))
    }

    /// A valid but absurd extent (2^25 x 2^25 floats = 4 PiB, chunked so nothing is
    /// allocated) is listed, but reading it is refused instead of crashing the allocator.
    @Test func datasetLargerThanMemoryIsRefusedOnRead() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFileWithConfig("vast.h5") { file in
            let properties = H5Pcreate(chdf5_p_dataset_create())
            defer { H5Pclose(properties) }
            var chunk: [hsize_t] = [1, 1]
            try #require(H5Pset_chunk(properties, 2, &chunk) >= 0)
            var dimensions: [hsize_t] = [1 << 25, 1 << 25]
            let space = H5Screate_simple(2, &dimensions, nil)
            defer { H5Sclose(space) }
            let dataset = H5Dcreate2(
                file, "vast.weight", chdf5_native_float(), space, chdf5_p_default(), properties, chdf5_p_default())
            try #require(dataset >= 0)
            H5Dclose(dataset)
        }
        #expect(try HDF5Reader.tensorInfos(path: path).first?.shape == [1 << 25, 1 << 25])
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("'vast.weight'") && text.contains("more than this machine's memory"))
    }

    /// Found by `make fuzz` (hdf5 target): a chunked `quanta_files/tokenizer.json` of 2^40
    /// bytes was allocated before reading, which trapped; it is refused naming the dataset.
    @Test func auxiliaryFileLargerThanTheLimitIsRefused() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFileWithConfig("vast-tokenizer.h5") { file in
            try HDF5TestFiles.addFloatDataset("lm_head.weight", dimensions: [1], values: [1], to: file)
            let group = H5Gcreate2(file, "quanta_files", chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            try #require(group >= 0)
            defer { H5Gclose(group) }
            let properties = H5Pcreate(chdf5_p_dataset_create())
            defer { H5Pclose(properties) }
            var chunk: [hsize_t] = [1]
            try #require(H5Pset_chunk(properties, 1, &chunk) >= 0)
            var dimensions: [hsize_t] = [1 << 40]
            let space = H5Screate_simple(1, &dimensions, nil)
            defer { H5Sclose(space) }
            let dataset = H5Dcreate2(
                group, "tokenizer.json", chdf5_native_uint8(), space, chdf5_p_default(), properties, chdf5_p_default())
            try #require(dataset >= 0)
            H5Dclose(dataset)
        }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("quanta_files/tokenizer.json") && text.contains("1099511627776 bytes"))
    }

    @Test func datasetsInSubgroupsAreReported() throws {
        let files = try HDF5TestFiles()
        defer { files.remove() }
        let path = try files.makeFileWithConfig("nested.h5") { file in
            try HDF5TestFiles.addFloatDataset("lm_head.weight", dimensions: [1], values: [1], to: file)
            let group = H5Gcreate2(file, "model", chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            try #require(group >= 0)
            defer { H5Gclose(group) }
            try HDF5TestFiles.addFloatDataset("norm.weight", dimensions: [1], values: [1], to: group)
        }
        let text = Self.readError(path)
        #expect(text.contains(path) && text.contains("'model' is a group") && text.contains("not tensors"))
    }
}
