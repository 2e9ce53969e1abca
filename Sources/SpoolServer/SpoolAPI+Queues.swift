import Foundation
import Hummingbird
import SpoolCore

/// `/v1/queues`: list, pause, resume.
extension SpoolAPI {
    func addQueueRoutes(to routes: Routes) {
        routes.get("/v1/queues") { _, _ in
            JSONBody.response(["queues": try await store.queues().map(QueueDocument.init)])
        }
        routes.post("/v1/queues/:name/pause") { _, context in try await setPaused(try SpoolAPI.name(context, "name"), true) }
        routes.post("/v1/queues/:name/resume") { _, context in try await setPaused(try SpoolAPI.name(context, "name"), false) }
    }

    private func setPaused(_ queue: String, _ paused: Bool) async throws -> Response {
        try await store.setPaused(queue, paused: paused)
        events.publish(ServerEvent(paused ? .queuePaused : .queueResumed, queue: queue))
        let info = try await store.queues().first { $0.name == queue } ?? QueueInfo(name: queue, paused: paused, counts: [:])
        return JSONBody.response(QueueDocument(info))
    }
}

/// `/v1/quotas`: list, create or resize, remove.
extension SpoolAPI {
    func addQuotaRoutes(to routes: Routes) {
        routes.get("/v1/quotas") { _, _ in
            JSONBody.response(["quotas": try await store.quotas().map(QuotaDocument.init)])
        }
        routes.put("/v1/quotas/:name") { request, context in try await put(request, try SpoolAPI.name(context, "name")) }
        routes.delete("/v1/quotas/:name") { _, context in try await remove(try SpoolAPI.name(context, "name")) }
    }

    private func put(_ request: Request, _ name: String) async throws -> Response {
        var reader = try FieldReader(try await JSONBody.read(request, limit: configuration.maxBodyBytes), place: "quota")
        guard let size = try reader.int("size") else { throw APIError.invalidField("quota.size is required: how many jobs may run at once") }
        try reader.rejectUnknownFields()
        let (info, created) = try await createOrResize(name, size: size)
        events.publish(ServerEvent(.quotaChanged, quota: name))
        return JSONBody.response(QuotaDocument(info), status: created ? .created : .ok)
    }

    private func createOrResize(_ name: String, size: Int) async throws -> (QuotaInfo, Bool) {
        do {
            return (try await store.resizeQuota(name, size: size), false)
        } catch let error as SpoolError where error.code == .unknownQuota {
            do {
                return (try await store.createQuota(name, size: size), true)
            } catch let error as SpoolError where error.code == .quotaExists {
                return (try await store.resizeQuota(name, size: size), false)
            }
        }
    }

    private func remove(_ name: String) async throws -> Response {
        do {
            try await store.removeQuota(name)
        } catch let error as SpoolError where error.code == .unknownQuota {
            throw APIError(.notFound, "unknown_quota", error.message)
        }
        events.publish(ServerEvent(.quotaRemoved, quota: name))
        return Response(status: .noContent)
    }
}
