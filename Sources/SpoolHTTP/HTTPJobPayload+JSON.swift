import SpoolCore

extension HTTPJobPayload {
    /// Reads a payload from its parsed JSON, as its `Decodable` conformance does (unknown
    /// members are ignored, `null` is absent) but without a decoder: every `spool.http` run
    /// reads one. Throws naming the first member of the wrong shape.
    init(json: JSONValue) throws(HTTPJobPayloadError) {
        guard case .object(let members) = json else { throw HTTPJobPayloadError("the payload is not a JSON object") }
        self.init(method: try Self.string(members, "method"), url: try Self.string(members, "url"),
                  headers: try Self.strings(members, "headers"), body: try Self.string(members, "body"),
                  bodyBase64: try Self.string(members, "bodyBase64"), form: try Self.form(members["form"]),
                  cookies: try Self.strings(members, "cookies"), cookieHeader: try Self.string(members, "cookieHeader"),
                  authorization: try Self.string(members, "authorization"), task: try Self.string(members, "task"),
                  timeout: try Self.number(members, "timeout"), maxResultBytes: try Self.integer(members, "maxResultBytes"),
                  resultHeaders: try Self.list(members, "resultHeaders"))
    }

    private static func present(_ members: [String: JSONValue], _ name: String) -> JSONValue? {
        guard let value = members[name], value != .null else { return nil }
        return value
    }

    private static func string(_ members: [String: JSONValue], _ name: String, in place: String = "") throws(HTTPJobPayloadError) -> String? {
        guard let value = present(members, name) else { return nil }
        guard case .string(let text) = value else { throw HTTPJobPayloadError("\(place)\(name) must be a string") }
        return text
    }

    private static func number(_ members: [String: JSONValue], _ name: String) throws(HTTPJobPayloadError) -> Double? {
        guard let value = present(members, name) else { return nil }
        guard case .number(let number) = value else { throw HTTPJobPayloadError("\(name) must be a number") }
        return number
    }

    private static func integer(_ members: [String: JSONValue], _ name: String) throws(HTTPJobPayloadError) -> Int? {
        guard let number = try number(members, name) else { return nil }
        guard number.rounded() == number, abs(number) < 9e15 else { throw HTTPJobPayloadError("\(name) must be a whole number") }
        return Int(number)
    }

    private static func strings(_ members: [String: JSONValue], _ name: String, in place: String = "") throws(HTTPJobPayloadError) -> [String: String]? {
        guard let value = present(members, name) else { return nil }
        guard case .object(let entries) = value else { throw HTTPJobPayloadError("\(place)\(name) must be an object of strings") }
        var strings: [String: String] = [:]
        for (key, entry) in entries {
            guard case .string(let text) = entry else { throw HTTPJobPayloadError("\(place)\(name).\(key.prefix(64)) must be a string") }
            strings[key] = text
        }
        return strings
    }

    private static func list(_ members: [String: JSONValue], _ name: String) throws(HTTPJobPayloadError) -> [String]? {
        guard let value = present(members, name) else { return nil }
        guard case .array(let items) = value else { throw HTTPJobPayloadError("\(name) must be an array of strings") }
        var strings: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw HTTPJobPayloadError("\(name) must be an array of strings") }
            strings.append(text)
        }
        return strings
    }

    private static func form(_ value: JSONValue?) throws(HTTPJobPayloadError) -> Form? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value else { throw HTTPJobPayloadError("form must be an object") }
        var files: [File]?
        if let given = present(members, "files") {
            guard case .array(let items) = given else { throw HTTPJobPayloadError("form.files must be an array") }
            files = []
            for (index, item) in items.enumerated() {
                let place = "form.files[\(index)]."
                guard case .object(let file) = item else { throw HTTPJobPayloadError("form.files[\(index)] must be an object") }
                guard let field = try string(file, "field", in: place), let filename = try string(file, "filename", in: place),
                      let base64 = try string(file, "base64", in: place) else {
                    throw HTTPJobPayloadError("form.files[\(index)] needs field, filename and base64")
                }
                files?.append(File(field: field, filename: filename, contentType: try string(file, "contentType", in: place), base64: base64))
            }
        }
        return Form(fields: try strings(members, "fields", in: "form."), files: files)
    }
}
