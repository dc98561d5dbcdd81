/// Unicode classes of the pre-tokenizer patterns, on Unicode scalars, with an ASCII fast path.
///
/// Provenance: Hugging Face `tokenizers` runs its `ByteLevel` and `Split` regexes through
/// Oniguruma (`SysRegex`, tokenizers/src/utils/onig.rs), where `\p{L}` is general category
/// L (Lu, Ll, Lt, Lm, Lo), `\p{N}` is N (Nd, Nl, No) and `\s` is the White_Space property
/// (0009–000D, 0020, 0085, 00A0, 1680, 2000–200A, 2028, 2029, 202F, 205F, 3000). The `Digits`
/// pre-tokenizer uses Rust's `char::is_numeric`, which is the same N category.
enum ScalarClass {
    /// General category L.
    @inline(__always)
    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            let folded = value | 0x20
            return folded >= 0x61 && folded <= 0x7A
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// General category N (Rust `char::is_numeric`).
    @inline(__always)
    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return value >= 0x30 && value <= 0x39 }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// The White_Space property (`\s` in Oniguruma and in Rust's `regex`).
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return value == 0x20 || (value >= 0x09 && value <= 0x0D) }
        return scalar.properties.isWhitespace
    }

    /// `[^\s\p{L}\p{N}]`: neither whitespace, letter nor number.
    @inline(__always)
    static func isOther(_ scalar: Unicode.Scalar) -> Bool {
        !isWhitespace(scalar) && !isLetter(scalar) && !isNumber(scalar)
    }

    /// `\r` or `\n`.
    @inline(__always)
    static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value == 0x0A || scalar.value == 0x0D
    }

    /// Rust `regex`'s Unicode `\w` (used by added tokens' `single_word`): alphabetic, marks,
    /// decimal numbers, connector punctuation and join controls (UTS #18 Annex C).
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
