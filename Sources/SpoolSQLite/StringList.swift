/// JSON arrays of strings, written and read without Foundation's coders: quotas and tags are
/// read for every claimed job, so this stays off the allocation-heavy path.
enum StringList {
    static func encode(_ strings: [String]) -> String {
        var out = "["
        for (index, string) in strings.enumerated() {
            if index > 0 { out += "," }
            out += "\""
            for scalar in string.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        }
        return out + "]"
    }

    /// The strings of `text`, or `nil` when it is not a JSON array of strings.
    static func decode(_ text: String) -> [String]? {
        var scalars = text.unicodeScalars.makeIterator()
        var result: [String] = []
        func next() -> Unicode.Scalar? {
            while let scalar = scalars.next() {
                if scalar != " " && scalar != "\n" && scalar != "\t" && scalar != "\r" { return scalar }
            }
            return nil
        }
        guard next() == "[" else { return nil }
        var token = next()
        if token == "]" { return result }
        while token == "\"" {
            var string = String.UnicodeScalarView()
            while true {
                guard let scalar = scalars.next() else { return nil }
                if scalar == "\"" { break }
                if scalar != "\\" { string.append(scalar); continue }
                guard let escaped = scalars.next() else { return nil }
                switch escaped {
                case "n": string.append("\n")
                case "r": string.append("\r")
                case "t": string.append("\t")
                case "b": string.append("\u{08}")
                case "f": string.append("\u{0C}")
                case "u":
                    var hex = ""
                    for _ in 0..<4 { guard let digit = scalars.next() else { return nil }; hex.unicodeScalars.append(digit) }
                    guard let value = UInt32(hex, radix: 16), let decoded = Unicode.Scalar(value) else { return nil }
                    string.append(decoded)
                default: string.append(escaped)
                }
            }
            result.append(String(string))
            switch next() {
            case ","?: token = next()
            case "]"?: return result
            default: return nil
            }
        }
        return nil
    }
}
