/// Minimal look at PEM text: only the first block's label, so key loaders can refuse the wrong
/// kind of document with a clear error before handing the text to the crypto library.
enum PEM {
    /// The label of the first `-----BEGIN <label>-----` line, if any.
    static func firstLabel(in text: String) -> String? {
        let marker = "-----BEGIN "
        guard let start = text.firstRange(of: marker) else { return nil }
        let rest = text[start.upperBound...]
        guard let end = rest.firstRange(of: "-----") else { return nil }
        return String(rest[..<end.lowerBound])
    }

    /// Whether the block is a legacy OpenSSL passphrase-encrypted one (`Proc-Type: 4,ENCRYPTED`).
    static func isLegacyEncrypted(_ text: String) -> Bool {
        text.contains("Proc-Type: 4,ENCRYPTED")
    }
}
