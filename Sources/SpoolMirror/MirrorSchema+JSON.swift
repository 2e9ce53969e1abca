import Foundation
import SpoolCore

extension MirrorSchema {
    /// Reads a schema written as JSON, as `spool mirror` takes it:
    /// `{"types": [{"name": "Page", "key": "id", "fields": {"name": "string", "views": "integer"}}]}`
    /// (`key` defaults to `id`; field types: string, integer, double, bool, date, json, file).
    public init(json text: String) throws {
        guard case .object(let document) = try JSONValue.parse(text), case .array(let list)? = document["types"] else {
            throw SpoolError(.invalidArgument, "mirror schema: expected {\"types\": [...]}")
        }
        var types: [MirrorEntityType] = []
        for (index, item) in list.enumerated() {
            guard case .object(let entry) = item, let name = entry["name"]?.string, case .object(let fields)? = entry["fields"] else {
                throw SpoolError(.invalidArgument, "mirror schema types[\(index)]: needs a name and an object of fields")
            }
            var declared: [String: MirrorFieldType] = [:]
            for (field, value) in fields {
                guard let typeName = value.string, let type = MirrorFieldType(rawValue: typeName) else {
                    throw SpoolError(.invalidArgument, "mirror schema \(name).\(field): the type must be one of \(MirrorFieldType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                declared[field] = type
            }
            types.append(try MirrorEntityType(name, key: entry["key"]?.string ?? "id", fields: declared))
        }
        try self.init(types)
    }
}
