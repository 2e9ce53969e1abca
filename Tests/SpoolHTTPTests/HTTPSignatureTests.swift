import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
@testable import SpoolHTTP
import SpoolCore
import Testing

/// The signature of `spool.http` requests and its verifier, without the network.
@Suite("spool.http signatures")
struct HTTPSignatureTests {
    static let keys = try! HTTPSigningKeys(parsing: "main:0123456789abcdef0123")
    static let now = Date(timeIntervalSince1970: 1_764_921_600)

    static func signed(method: String = "POST", target: String = "/work?id=7", body: String = #"{"a":1}"#,
                       keys: HTTPSigningKeys = keys, at date: Date = now, nonce: String = "00112233445566778899aabbccddeeff") -> String {
        HTTPSignature.sign(method: method, target: target, body: Array(body.utf8), keys: keys, at: date, nonce: nonce)
    }

    static func refusal(_ header: String?, verifier: HTTPSignatureVerifier = HTTPSignatureVerifier(keys: keys), method: String = "POST",
                        target: String = "/work?id=7", body: String = #"{"a":1}"#, at date: Date = now) -> HTTPSignatureRefusal? {
        do {
            try verifier.verify(header: header, method: method, target: target, body: Array(body.utf8), now: date)
            return nil
        } catch {
            return error
        }
    }

    @Test("the documented example: header, canonical text and signature (docs/http-jobs.md)")
    func documentedVector() {
        let header = Self.signed()
        #expect(header == "v=1,k=main,t=1764921600,n=00112233445566778899aabbccddeeff,s=\(DocumentedVector.signature)")
        #expect(HTTPSignature.canonical(timestamp: 1_764_921_600, nonce: "00112233445566778899aabbccddeeff", method: "post",
                                        target: "/work?id=7", body: Array(#"{"a":1}"#.utf8)) == DocumentedVector.canonical)
    }

    @Test("a signed request is accepted once; the same request again is a replay")
    func acceptedOnceThenReplayed() {
        let verifier = HTTPSignatureVerifier(keys: Self.keys)
        let header = Self.signed()
        #expect(Self.refusal(header, verifier: verifier) == nil)
        #expect(Self.refusal(header, verifier: verifier) == .replayed)
        #expect(Self.refusal(Self.signed(nonce: "ffeeddccbbaa99887766554433221100"), verifier: verifier) == nil, "another nonce passes")
    }

    @Test("any change on the way, another secret, an unknown key, or a missing header is refused, each with its reason")
    func refused() {
        let header = Self.signed()
        #expect(Self.refusal(header, method: "PUT") == .wrong)
        #expect(Self.refusal(header, target: "/work?id=8") == .wrong)
        #expect(Self.refusal(header, body: #"{"a":2}"#) == .wrong)
        #expect(Self.refusal(Self.signed(keys: try! HTTPSigningKeys(parsing: "main:another-secret-of-16")), body: #"{"a":1}"#) == .wrong)
        #expect(Self.refusal(Self.signed(keys: try! HTTPSigningKeys(parsing: "old:0123456789abcdef0123"))) == .unknownKey("old"))
        #expect(Self.refusal(nil) == .missing)
        #expect(HTTPSignatureRefusal.missing.reason == "missing X-Spool-Signature")
        #expect(HTTPSignatureRefusal.wrong.reason == "wrong signature")
    }

    @Test("a signature is good for five minutes either way of the receiver's clock, and not a second more")
    func window() {
        for (offset, accepted) in [(-300.0, true), (300, true), (-301, false), (301, false)] {
            let refusal = Self.refusal(Self.signed(at: Self.now.addingTimeInterval(offset)))
            #expect((refusal == nil) == accepted, "\(offset): \(String(describing: refusal))")
        }
        #expect(Self.refusal(Self.signed(at: Self.now.addingTimeInterval(-400)))?.reason == "expired: signed 400 s ago")
        let short = HTTPSignatureVerifier(keys: Self.keys, configuration: .init(window: .seconds(10)))
        #expect(Self.refusal(Self.signed(at: Self.now.addingTimeInterval(-11)), verifier: short) == .expired(secondsOff: -11))
    }

    @Test("malformed headers are refused naming what is wrong, whatever they hold")
    func malformed() {
        let good = Self.signed()
        let cases: [(String, String)] = [
            ("", "version"), ("v=2,k=main,t=1,n=00112233445566778899,s=\(String(repeating: "a", count: 64))", "version"),
            (good.replacingOccurrences(of: "k=main", with: "k=ma in"), "key id"),
            (good.replacingOccurrences(of: "t=1764921600", with: "t=soon"), "timestamp"),
            (good.replacingOccurrences(of: "n=00112233445566778899aabbccddeeff", with: "n=short"), "nonce"),
            (good.replacingOccurrences(of: ",s=", with: ",s=X"), "signature"),
            (good + ",k=other", "NAME=VALUE"), (String(repeating: "v=1,", count: 200), "512"),
        ]
        for (header, named) in cases {
            guard case .malformed(let what)? = Self.refusal(header) else {
                Issue.record("\(header.prefix(60)) was not refused as malformed")
                continue
            }
            #expect(what.contains(named), "\(header.prefix(60)): \(what)")
        }
        var random = SeededRandom(seed: 0x51_6E)
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...120, using: &random)).map { _ in UInt8.random(in: 0...127, using: &random) }
            #expect(Self.refusal(String(decoding: bytes, as: UTF8.self)) != nil)
        }
    }

    @Test("rotation: a receiver with the new and the old key accepts both; the sender signs with the first")
    func rotation() throws {
        let rotated = try HTTPSigningKeys(parsing: "k2:the-new-secret-1234, k1:0123456789abcdef0123")
        #expect(rotated.keys.map(\.id) == ["k2", "k1"])
        let verifier = HTTPSignatureVerifier(keys: rotated)
        #expect(Self.refusal(Self.signed(keys: try HTTPSigningKeys(parsing: "k1:0123456789abcdef0123")), verifier: verifier) == nil)
        let new = Self.signed(keys: rotated, nonce: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        #expect(new.contains("k=k2,"))
        #expect(Self.refusal(new, verifier: verifier) == nil)
    }

    @Test("SPOOL_HTTP_SECRET: one secret or ID:SECRET entries; short, duplicate or malformed ones are refused without showing the secret")
    func secrets() throws {
        #expect(try HTTPSigningKeys(parsing: "0123456789abcdef").keys.map(\.id) == ["default"])
        #expect(try HTTPSigningKeys.fromEnvironment(["SPOOL_HTTP_SECRET": ""]) == nil)
        for (text, named) in [("short", "at least 16"), ("a:0123456789abcdef,a:fedcba9876543210", "appears twice"),
                              ("b@d:0123456789abcdef", "key id"), ("0123456789abcdef,k:0123456789abcdef", "ID:SECRET")] {
            let error = #expect(throws: SpoolError.self) { _ = try HTTPSigningKeys(parsing: text) }
            #expect(error?.message.contains(named) == true && error?.message.contains("0123456789abcdef") == false, "\(String(describing: error))")
        }
    }

    @Test("the nonce cache is bounded: beyond its capacity the oldest go first, counted; expired ones go at once")
    func nonceCache() {
        let cache = NonceCache(capacity: 3)
        for nonce in ["a", "b", "c", "d"] { #expect(cache.insert(nonce, expiry: 100, now: 0)) }
        #expect(cache.count == 3 && cache.evictedEarly == 1)
        #expect(!cache.insert("d", expiry: 100, now: 0), "still remembered")
        #expect(cache.insert("e", expiry: 200, now: 150) && cache.count == 1, "the expired ones are gone")
    }
}

/// The worked example in docs/http-jobs.md, checked by the test above and by the Python verifier.
enum DocumentedVector {
    static let canonical = """
        spool-http-v1
        1764921600
        00112233445566778899aabbccddeeff
        POST
        /work?id=7
        015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862
        """
    static let signature = "81148d6c4cc556c5be8194189e1e6b31cd3f21bc2198c2a1bbe54d130597a7d8"
}

/// The Swift sender helper.
@Suite("spool.http sender")
struct HTTPJobSenderTests {
    @Test("a job built from a user's request forwards their Cookie and Authorization and resolves the path on the worker")
    func forwarding() throws {
        let incoming = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "app", path: "/start",
                                                 headerFields: [.cookie: "session=abc; theme=dark", .authorization: "Bearer user-token"]),
                               body: RequestBody(buffer: ByteBuffer()))
        let sender = HTTPJobSender(workerBaseURL: URL(string: "http://workers.internal:8080/"))
        let job = try sender.job(forwarding: incoming, HTTPJobPayload(url: "reports/7", task: "reports"), options: NewJob(name: "ignored", queue: "web"))
        #expect(job.name == HTTPJobs.name && job.queue == "web")
        let payload = try job.payload.decode(HTTPJobPayload.self)
        #expect(payload.url == "http://workers.internal:8080/reports/7" && payload.cookieHeader == "session=abc; theme=dark"
            && payload.authorization == "Bearer user-token" && payload.task == "reports")
        let error = #expect(throws: SpoolError.self) { _ = try HTTPJobSender(workerBaseURL: nil).job(HTTPJobPayload(url: "reports/7")) }
        #expect(error?.message.contains("no base URL") == true)
    }
}
