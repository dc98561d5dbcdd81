import QuantaTensor

/// Stochastic gradient descent on the orthogonal group with the Cayley transform: every
/// step keeps the rotation exactly orthogonal (up to float rounding), so no re-orthogonalizing
/// is needed between steps.
///
/// With Euclidean gradient `G` of the loss at `R`, the Riemannian direction is the skew matrix
/// `A = G Rᵀ − R Gᵀ` (so `A R = G − R Gᵀ R`, the gradient projected on the tangent space).
/// Momentum accumulates `M ← β M + A` (skew stays skew); the step is the Cayley transform
/// `R ← (I + (η/2) M)⁻¹ (I − (η/2) M) R`, orthogonal because `M` is skew-symmetric, and to
/// first order `R − η M R`. The step size is `η = min(lr, 1 / (‖M‖₁ + ε))` (the reference
/// code's adaptive bound, which keeps `η M` a contraction however large the gradient).
///
/// Provenance: J. Li, F. Li, S. Todorovic, "Efficient Riemannian Optimization on the Stiefel
/// Manifold via the Cayley Transform", ICLR 2020, eq. (4)–(6) (Cayley SGD with momentum; we
/// solve the Cayley system exactly instead of their fixed-point iteration); SpinQuant (Liu et
/// al., ICLR 2025) §3.2 optimizes R1/R2 with it.
public struct CayleySGD: Sendable {
    public var learningRate: Float
    public var momentum: Float
    /// The skew-symmetric momentum, `nil` before the first step.
    public private(set) var velocity: Matrix?

    public init(learningRate: Float, momentum: Float = 0.9) throws(AlgorithmError) {
        guard learningRate > 0, learningRate.isFinite else {
            throw .invalidInput(detail: "Cayley SGD learning rate \(learningRate) must be positive")
        }
        guard (0..<1).contains(momentum) else {
            throw .invalidInput(detail: "Cayley SGD momentum \(momentum) must be in [0, 1)")
        }
        self.learningRate = learningRate
        self.momentum = momentum
    }

    /// One descent step of `rotation` (square, orthogonal) along `gradient` (same shape).
    public mutating func step(rotation: inout Matrix, gradient: Matrix) throws(AlgorithmError) {
        let size = rotation.rows
        guard rotation.columns == size, gradient.rows == size, gradient.columns == size else {
            throw .shapeMismatch(
                detail: "Cayley step needs square rotation and gradient of one size, got \(rotation.rows)x\(rotation.columns) and \(gradient.rows)x\(gradient.columns)")
        }
        guard gradient.values.allSatisfy(\.isFinite) else {
            throw .invalidInput(detail: "the rotation gradient has NaN or infinite values")
        }
        do {
            // A = G Rᵀ − (G Rᵀ)ᵀ.
            let product = try BLAS.multiply(gradient, rotation, transposeB: true)
            var direction = product
            for row in 0..<size {
                for column in 0..<size {
                    direction.values[row * size + column] = product.values[row * size + column] - product.values[column * size + row]
                }
            }
            if var accumulated = velocity {
                for index in accumulated.values.indices {
                    accumulated.values[index] = momentum * accumulated.values[index] + direction.values[index]
                }
                direction = accumulated
            }
            velocity = direction
            var norm: Float = 0  // ‖M‖₁: the largest column sum of |M|.
            for column in 0..<size {
                var sum: Float = 0
                for row in 0..<size { sum += abs(direction.values[row * size + column]) }
                norm = max(norm, sum)
            }
            let half = min(learningRate, 1 / (norm + 1e-8)) / 2
            var left = Matrix.identity(size: size)
            var right = Matrix.identity(size: size)
            for index in direction.values.indices {
                left.values[index] += half * direction.values[index]
                right.values[index] -= half * direction.values[index]
            }
            rotation = try LinearAlgebra.solve(left, try BLAS.multiply(right, rotation))
        } catch {
            throw .invalidInput(detail: "Cayley step failed: \(error)")
        }
    }

    /// `‖RᵀR − I‖_max`: how far `rotation` is from orthogonal.
    public static func orthogonalityError(_ rotation: Matrix) -> Float {
        guard let gram = try? BLAS.multiply(rotation, transposeA: true, rotation) else { return .infinity }
        return gram.maximumAbsoluteDifference(to: .identity(size: rotation.rows))
    }
}
