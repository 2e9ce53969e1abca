import Foundation
import Hummingbird
import SpoolCore
import SpoolMirror

/// Where `POST /v1/mirror/units` sends units: the declared entity types they are checked
/// against, the transport, and its destination (the one `spool mirror process` consumes).
public struct MirrorDestination: Sendable {
    /// The declared entity types.
    public var schema: MirrorSchema
    /// The transport units are published on.
    public var transport: any Transport
    /// The destination on it.
    public var destination: String

    /// Units checked against `schema` go to `destination` on `transport`.
    public init(schema: MirrorSchema, transport: any Transport, destination: String) {
        self.schema = schema
        self.transport = transport
        self.destination = destination
    }
}

/// `POST /v1/mirror/units`: one committed unit of work from an application in any language.
///
/// The body is a unit as the processor reads it, `{"unit"?: UUID, "operations": [{"op", "type",
/// "key", "fields"}]}` (docs/mirroring.md); without `unit` the server names one. The operations
/// are checked against the declared types (422 `invalid_unit` naming the first that does not
/// fit: an undeclared type or field, a value of the wrong type), collapsed as an operation buffer
/// collapses them, and published as one message: 202 `{"unit", "operations"}` with the number
/// published (0, and nothing sent, when they cancel out). A unit id sent again is applied once.
extension SpoolAPI {
    func addMirrorRoutes(to routes: Routes) {
        routes.post("/v1/mirror/units") { request, _ in try await publishUnit(request) }
    }

    private func publishUnit(_ request: Request) async throws -> Response {
        guard let mirror = configuration.mirror else {
            throw APIError(.notFound, "mirror_not_configured",
                           "this server publishes no mirror units: start it with --mirror-schema FILE --mirror-transport LOCATION")
        }
        guard case .object(var members) = try await JSONBody.read(request, limit: configuration.maxBodyBytes) else {
            throw APIError.invalidField("the body must be a unit: {\"operations\": [...]}")
        }
        if members["unit"] == nil { members["unit"] = .string(UUID().uuidString.lowercased()) }
        let unit: MirrorUnit
        var buffer = OperationBuffer(schema: mirror.schema)
        do {
            let given = try MirrorUnit(json: JSONValue.object(members).compactText, schema: mirror.schema)
            for operation in given.operations { try buffer.record(operation) }
            unit = MirrorUnit(id: given.id, operations: buffer.collapsed, committedAt: given.committedAt ?? Date())
        } catch let error as SpoolError {
            throw APIError(.unprocessableContent, "invalid_unit", error.message)
        }
        if !unit.operations.isEmpty { try await mirror.transport.publish(unit.message, to: mirror.destination) }
        var writer = JSONWriter(capacity: 80)
        writer.object { w in
            w.member("unit"); w.string(unit.id.uuidString.lowercased())
            w.member("operations"); w.int(unit.operations.count)
        }
        return JSONBody.response(json: writer.text, status: .accepted)
    }
}
