import COpenBLAS

/// Which triangle of a square matrix holds (or receives) a triangular factor.
public enum Triangle: Sendable, Equatable {
    case lower
    case upper

    /// LAPACK's `uplo` character.
    var lapackCode: CChar { self == .lower ? CChar(UInt8(ascii: "L")) : CChar(UInt8(ascii: "U")) }
    /// The other triangle.
    var opposite: Triangle { self == .lower ? .upper : .lower }
}

/// The side a triangular matrix multiplies from in a solve.
public enum Side: Sendable, Equatable {
    /// `op(T) · X = B`.
    case left
    /// `X · op(T) = B`.
    case right
}

/// The floating-point precision LAPACK computes in. Inputs and outputs stay `Float`;
/// `.double` widens internally, which is more robust for ill-conditioned Hessians.
public enum FactorizationPrecision: Sendable, Equatable {
    case single
    case double
}

/// Dense factorizations and solves through LAPACKE (row-major). Every LAPACK failure
/// (`info != 0`) is thrown as `TensorError.factorizationFailed(routine:info:)`; nothing traps
/// on bad numerical input. Non-square inputs throw `shapeMismatch`.
public enum LinearAlgebra {
    /// The Cholesky factor of a symmetric positive-definite matrix: `L` with `A = L · Lᵀ`
    /// (`.lower`) or `U` with `A = Uᵀ · U` (`.upper`). Only the chosen triangle of `matrix`
    /// is read; the other triangle of the result is zero.
    public static func cholesky(
        _ matrix: Matrix, triangle: Triangle = .lower, precision: FactorizationPrecision = .single
    ) throws(TensorError) -> Matrix {
        try run([.factorize(triangle)], on: matrix, precision: precision, "LinearAlgebra.cholesky")
    }

    /// `(F · Fᵀ)⁻¹` for a lower factor, or `(Fᵀ · F)⁻¹` for an upper one, as a full symmetric
    /// matrix: the inverse of the matrix whose Cholesky factor is `factor` (LAPACK `potri`,
    /// like `torch.cholesky_inverse`). Only the `triangle` of `factor` is read.
    public static func choleskyInverse(
        factor: Matrix, triangle: Triangle = .lower, precision: FactorizationPrecision = .single
    ) throws(TensorError) -> Matrix {
        try run([.invertFromFactor(triangle)], on: factor, precision: precision, "LinearAlgebra.choleskyInverse")
    }

    /// The inverse of a symmetric positive-definite matrix (Cholesky, then `potri`).
    public static func inverseSymmetricPositiveDefinite(
        _ matrix: Matrix, precision: FactorizationPrecision = .single
    ) throws(TensorError) -> Matrix {
        try run(
            [.factorize(.lower), .invertFromFactor(.lower)], on: matrix, precision: precision,
            "LinearAlgebra.inverseSymmetricPositiveDefinite")
    }

    /// The upper Cholesky factor `U` of `H⁻¹` (so `Uᵀ · U = H⁻¹`) for a symmetric
    /// positive-definite `H`: the matrix GPTQ's column-by-column error feedback reads.
    ///
    /// Provenance: E. Frantar et al., "GPTQ: Accurate Post-Training Quantization for
    /// Generative Pre-trained Transformers", ICLR 2023, §3 "Step 3: Cholesky Reformulation";
    /// reference code `torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)),
    /// upper=True)` (github.com/IST-DASLab/gptq, gptq.py). Dampening `H` beforehand is the
    /// caller's job; a failure here means it was not enough.
    public static func upperCholeskyOfInverse(
        _ hessian: Matrix, precision: FactorizationPrecision = .single
    ) throws(TensorError) -> Matrix {
        try run(
            [.factorize(.lower), .invertFromFactor(.lower), .factorize(.upper)], on: hessian, precision: precision,
            "LinearAlgebra.upperCholeskyOfInverse")
    }

    /// Solves `op(T) · X = B` (`side: .left`) or `X · op(T) = B` (`side: .right`) for `X`,
    /// where `T` is triangular (only its `triangle` is read), `op` transposes when
    /// `transposed`, and `unitDiagonal` treats the diagonal as ones. A zero on the diagonal
    /// throws `factorizationFailed` (LAPACK `trtrs`, info > 0).
    public static func solveTriangular(
        _ triangular: Matrix, triangle: Triangle, transposed: Bool = false, unitDiagonal: Bool = false,
        side: Side = .left, rightHandSides: Matrix, precision: FactorizationPrecision = .single
    ) throws(TensorError) -> Matrix {
        let operation = "LinearAlgebra.solveTriangular"
        let size = try squareSize(triangular, operation)
        // X · op(T) = B  ⇔  op(T)ᵀ · Xᵀ = Bᵀ, so the right side reuses the left solve.
        let leftHandSides = side == .left ? rightHandSides : rightHandSides.transposed()
        let solveTransposed = side == .left ? transposed : !transposed
        guard leftHandSides.rows == size else {
            throw .shapeMismatch(
                operation: operation,
                detail: "T is \(size)x\(size) but B is \(rightHandSides.rows)x\(rightHandSides.columns) (side \(side))")
        }
        let count = leftHandSides.columns
        var solution: Matrix
        switch precision {
        case .single:
            var values = leftHandSides.values
            try solve(
                triangular.values, size: size, triangle: triangle, transposed: solveTransposed,
                unitDiagonal: unitDiagonal, rightHandSides: &values, count: count)
            solution = try Matrix(rows: size, columns: count, values: values)
        case .double:
            var values = leftHandSides.values.map(Double.init)
            try solve(
                triangular.values.map(Double.init), size: size, triangle: triangle, transposed: solveTransposed,
                unitDiagonal: unitDiagonal, rightHandSides: &values, count: count)
            solution = try Matrix(rows: size, columns: count, values: values.map(Float.init))
        }
        return side == .left ? solution : solution.transposed()
    }

    // MARK: - Generic kernels over Float / Double storage

    static func squareSize(_ matrix: Matrix, _ operation: String) throws(TensorError) -> Int {
        guard matrix.isSquare else {
            throw .shapeMismatch(operation: operation, detail: "needs a square matrix, got \(matrix.rows)x\(matrix.columns)")
        }
        return matrix.rows
    }

    static func check(_ info: Int32, _ routine: String) throws(TensorError) {
        guard info == 0 else { throw .factorizationFailed(routine: routine, info: Int(info)) }
    }

    /// potrf in place, then zeroes the triangle LAPACK left untouched.
    static func factorize<Scalar: LAPACKScalar>(_ values: inout [Scalar], size: Int, triangle: Triangle) throws(TensorError) {
        guard size > 0 else { return }
        let n = try BLAS.blasInt(size, "size", Scalar.potrfName)
        let info = values.withUnsafeMutableBufferPointer { Scalar.potrf(triangle.lapackCode, n, $0.baseAddress!, n) }
        try check(info, Scalar.potrfName)
        zeroTriangle(&values, size: size, triangle: triangle.opposite)
    }

    /// potri in place on a factor, then mirrors the result into a full symmetric matrix.
    static func invertFromFactor<Scalar: LAPACKScalar>(_ values: inout [Scalar], size: Int, triangle: Triangle) throws(TensorError) {
        guard size > 0 else { return }
        let n = try BLAS.blasInt(size, "size", Scalar.potriName)
        let info = values.withUnsafeMutableBufferPointer { Scalar.potri(triangle.lapackCode, n, $0.baseAddress!, n) }
        try check(info, Scalar.potriName)
        mirrorTriangle(&values, size: size, from: triangle)
    }

    /// One in-place LAPACK step on a square matrix.
    enum Step {
        /// potrf into `Triangle`, other triangle zeroed.
        case factorize(Triangle)
        /// potri from a factor in `Triangle`, result mirrored to a full symmetric matrix.
        case invertFromFactor(Triangle)
    }

    /// Runs `steps` in order on a copy of square `matrix`, computing in `precision`.
    static func run(
        _ steps: [Step], on matrix: Matrix, precision: FactorizationPrecision, _ operation: String
    ) throws(TensorError) -> Matrix {
        let size = try squareSize(matrix, operation)
        switch precision {
        case .single:
            var values = matrix.values
            try apply(steps, to: &values, size: size)
            return try Matrix(rows: size, columns: size, values: values)
        case .double:
            var values = matrix.values.map(Double.init)
            try apply(steps, to: &values, size: size)
            return try Matrix(rows: size, columns: size, values: values.map(Float.init))
        }
    }

    static func apply<Scalar: LAPACKScalar>(_ steps: [Step], to values: inout [Scalar], size: Int) throws(TensorError) {
        for step in steps {
            switch step {
            case .factorize(let triangle): try factorize(&values, size: size, triangle: triangle)
            case .invertFromFactor(let triangle): try invertFromFactor(&values, size: size, triangle: triangle)
            }
        }
    }

    static func solve<Scalar: LAPACKScalar>(
        _ triangular: [Scalar], size: Int, triangle: Triangle, transposed: Bool, unitDiagonal: Bool,
        rightHandSides: inout [Scalar], count: Int
    ) throws(TensorError) {
        guard size > 0, count > 0 else { return }
        let n = try BLAS.blasInt(size, "size", Scalar.trtrsName)
        let columns = try BLAS.blasInt(count, "right-hand sides", Scalar.trtrsName)
        let transposeCode = CChar(UInt8(ascii: transposed ? "T" : "N"))
        let diagonalCode = CChar(UInt8(ascii: unitDiagonal ? "U" : "N"))
        let info = triangular.withUnsafeBufferPointer { triangularBuffer in
            rightHandSides.withUnsafeMutableBufferPointer { solutionBuffer in
                Scalar.trtrs(
                    triangle.lapackCode, transposeCode, diagonalCode, n, columns,
                    triangularBuffer.baseAddress!, n, solutionBuffer.baseAddress!, columns)
            }
        }
        try check(info, Scalar.trtrsName)
    }

    /// Sets the strict `triangle` of a row-major square matrix to zero.
    static func zeroTriangle<Scalar: LAPACKScalar>(_ values: inout [Scalar], size: Int, triangle: Triangle) {
        for row in 0..<size {
            let columns = triangle == .lower ? 0..<row : (row + 1)..<size
            for column in columns { values[row * size + column] = 0 }
        }
    }

    /// Copies the strict `triangle` of a row-major square matrix onto the other one.
    static func mirrorTriangle<Scalar: LAPACKScalar>(_ values: inout [Scalar], size: Int, from triangle: Triangle) {
        for row in 0..<size {
            for column in (row + 1)..<max(row + 1, size) {
                if triangle == .lower {
                    values[row * size + column] = values[column * size + row]
                } else {
                    values[column * size + row] = values[row * size + column]
                }
            }
        }
    }
}

/// The LAPACKE routines the factorizations need, for `Float` and `Double` (row-major).
protocol LAPACKScalar: BinaryFloatingPoint {
    static var potrfName: String { get }
    static var potriName: String { get }
    static var trtrsName: String { get }
    static func potrf(_ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32) -> Int32
    static func potri(_ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32) -> Int32
    static func trtrs(
        _ uplo: CChar, _ trans: CChar, _ diag: CChar, _ n: Int32, _ nrhs: Int32,
        _ a: UnsafePointer<Self>, _ lda: Int32, _ b: UnsafeMutablePointer<Self>, _ ldb: Int32) -> Int32
}

extension Float: LAPACKScalar {
    static var potrfName: String { "spotrf" }
    static var potriName: String { "spotri" }
    static var trtrsName: String { "strtrs" }
    static func potrf(_ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32) -> Int32 {
        LAPACKE_spotrf(LAPACK_ROW_MAJOR, uplo, n, a, lda)
    }
    static func potri(_ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32) -> Int32 {
        LAPACKE_spotri(LAPACK_ROW_MAJOR, uplo, n, a, lda)
    }
    static func trtrs(
        _ uplo: CChar, _ trans: CChar, _ diag: CChar, _ n: Int32, _ nrhs: Int32,
        _ a: UnsafePointer<Float>, _ lda: Int32, _ b: UnsafeMutablePointer<Float>, _ ldb: Int32
    ) -> Int32 {
        LAPACKE_strtrs(LAPACK_ROW_MAJOR, uplo, trans, diag, n, nrhs, a, lda, b, ldb)
    }
}

extension Double: LAPACKScalar {
    static var potrfName: String { "dpotrf" }
    static var potriName: String { "dpotri" }
    static var trtrsName: String { "dtrtrs" }
    static func potrf(_ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32) -> Int32 {
        LAPACKE_dpotrf(LAPACK_ROW_MAJOR, uplo, n, a, lda)
    }
    static func potri(_ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32) -> Int32 {
        LAPACKE_dpotri(LAPACK_ROW_MAJOR, uplo, n, a, lda)
    }
    static func trtrs(
        _ uplo: CChar, _ trans: CChar, _ diag: CChar, _ n: Int32, _ nrhs: Int32,
        _ a: UnsafePointer<Double>, _ lda: Int32, _ b: UnsafeMutablePointer<Double>, _ ldb: Int32
    ) -> Int32 {
        LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, uplo, trans, diag, n, nrhs, a, lda, b, ldb)
    }
}
