/// Bytes as unpadded base64url text (RFC 4648 §5), and back: the form of Spool's tokens and
/// cursors, written and read without going through standard base64 and string replacements.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `bytes` as unpadded base64url, written straight into the string's storage.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        if let text = bytes.withContiguousStorageIfAvailable({ encode(UnsafeRawBufferPointer($0)) }) { return text }
        return Array(bytes).withUnsafeBytes { encode($0) }
    }

    /// The bytes at `input` as unpadded base64url: what the generic `encode(_:)` does, without
    /// reading the bytes one at a time through a generic sequence (as a MAC or a UUID's bytes
    /// from another module would be: the generic function is not specialised across modules).
    public static func encode(_ input: UnsafeRawBufferPointer) -> String {
        let count = (input.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: count) { out in
            var written = 0
            var index = 0
            while index < input.count {
                let chunk = min(3, input.count - index)
                var bits = UInt32(input[index]) << 16
                if chunk > 1 { bits |= UInt32(input[index + 1]) << 8 }
                if chunk > 2 { bits |= UInt32(input[index + 2]) }
                for position in 0...chunk {
                    out[written] = alphabet[Int(bits >> UInt32(18 - 6 * position)) & 0x3F]
                    written += 1
                }
                index += 3
            }
            return written
        }
    }

    /// The bytes of unpadded base64url `text`, or `nil` for a character outside the alphabet or
    /// a length no encoding has. The unused low bits of a last partial group are ignored, as
    /// Foundation's decoder ignores them.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count * 3 / 4)
        var index = 0
        while index < utf8.count {
            let chunk = min(4, utf8.count - index)
            var bits: UInt32 = 0
            for position in 0..<4 {
                guard position < chunk else { bits <<= 6; continue }
                guard let value = value(utf8[index + position]) else { return nil }
                bits = bits << 6 | UInt32(value)
            }
            let produced = chunk - 1
            for position in 0..<produced { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(16 - 8 * position))) }
            index += 4
        }
        return bytes
    }

    private static func value(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
