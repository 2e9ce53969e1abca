import Foundation
import SpoolCore
import SpoolTestSupport
import Testing

/// Values at the edges of what JSON numbers and ISO 8601 times can say, sent through the API to a
/// server whose dispatcher runs the jobs in this very process: a value that trapped would end
/// the test run.
@Suite("HTTP API: values at the edges")
struct HostileValuesTests {
    @Test("a runAt centuries back, a sleep of 1e17 seconds and a timeout beyond Int64 are refused or discarded, never a crash")
    func knownPoisons() async throws {
        try await withServer { server in
            for runAt in ["1000-01-01T00:00:00Z", "0711-05-01T00:00:00Z", "1969-12-31T23:59:59Z"] {
                let response = try await server.request("POST", "/v1/jobs", body: #"{"name":"spool.noop","runAt":"\#(runAt)"}"#)
                #expect(response.status == 400 && response.errorCode == "invalid_field", "\(runAt): \(response.text)")
                #expect(response.text.contains("whose date, as written, is from 1970-01-01 to 9999-12-31"), "\(response.text)")
            }
            for body in [#"{"name":"spool.noop","timeout":1e300}"#, #"{"name":"spool.noop","delay":1e17}"#] {
                let response = try await server.request("POST", "/v1/jobs", body: body)
                #expect(response.status == 400 && response.errorCode == "invalid_field", "\(body): \(response.text)")
            }
            let sleep = try await server.enqueue(#"{"name":"spool.sleep","payload":{"seconds":1e17}}"#)
            let done = try await server.request("GET", "/v1/jobs/\(sleep.id)?wait=30").decode(Job.self)
            #expect(done.state == .discarded, "\(done.state)")
            #expect(done.errors.first?.message.contains("spool.sleep needs a number of seconds from 0 to") == true, "\(done.errors)")
            let early = try await server.enqueue(#"{"name":"spool.noop","runAt":"1970-01-01T00:00:00Z"}"#)
            #expect(try await server.request("GET", "/v1/jobs/\(early.id)?wait=30").decode(Job.self).state == .completed,
                    "the earliest runAt there is runs at once")
        }
    }

    @Test("300 jobs with random values at the edges of Double, Int64 and the calendar: every answer is 2xx or 400, the worker runs on")
    func randomEdges() async throws {
        try await withServer { server in
            var random = SeededRandom(seed: 0x5EED_2026)
            func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
            let numbers = ["0", "-0", "1e-9", "5e-324", "0.5", "1", "-1", "3.1e9", "1e10", "1e17", "1.7976931348623157e308",
                           "-1.7976931348623157e308", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                           "18446744073709551616", "4.9e-324", "2.5"]
            let times = ["0000-01-01T00:00:00Z", "1000-01-01T00:00:00Z", "1582-10-10T00:00:00Z", "1969-12-31T23:59:59.999Z",
                         "1970-01-01T00:00:00Z", "2262-04-11T23:47:16.855Z", "9999-12-31T23:59:59.999Z", "2026-02-29T00:00:00Z",
                         "2024-02-29T12:00:00+14:00", "2024-01-01T00:00:00-23:59"]
            var stored: [JobID] = []
            for _ in 0..<300 {
                var fields = [#""name":"\#(pick(["spool.noop", "spool.echo", "spool.sleep", "spool.fail"]))""#]
                // Sleeps are refused beyond 100 years; the longest accepted ones would only hold the slots.
                let seconds = pick(["0", "-0", "1e-9", "5e-324", "0.5", "-1", "1e10", "1e17", "1.7976931348623157e308",
                                    "9223372036854775808", "3155760000.5", "\"soon\"", "null"])
                fields.append(#""payload":{"seconds":\#(seconds),"times":\#(pick(numbers)),"n":\#(pick(numbers))}"#)
                switch random.next() % 3 {
                case 0: fields.append(#""runAt":"\#(pick(times))""#)
                case 1: fields.append(#""delay":\#(pick(numbers))"#)
                default: break
                }
                if random.next() % 2 == 0 { fields.append(#""timeout":\#(pick(numbers))"#) }
                if random.next() % 2 == 0 { fields.append(#""maxAttempts":\#(pick(numbers))"#) }
                if random.next() % 2 == 0 { fields.append(#""priority":\#(pick(numbers))"#) }
                let body = "{" + fields.joined(separator: ",") + "}"
                let response = try await server.request("POST", "/v1/jobs", body: body)
                #expect([200, 201, 400].contains(response.status), "\(body) -> \(response.status) \(response.text)")
                if response.status == 201, let job = try? response.decode(Job.self), job.runAt < Date().addingTimeInterval(1) {
                    stored.append(job.id)
                }
            }
            #expect(stored.count > 20, "enough of the jobs were runnable: \(stored.count)")
            // Give every due job at most one attempt's worth of time (sleeps of up to 2.5 s and
            // retries make some linger); what matters is that the process runs on and answers.
            let deadline = Date().addingTimeInterval(20)
            var ended = 0
            while Date() < deadline {
                ended = 0
                for id in stored where try await server.store.job(id)?.attempt ?? 0 >= 1 { ended += 1 }
                if ended == stored.count { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(ended == stored.count, "every due job was run at least once: \(ended) of \(stored.count)")
            #expect(try await server.request("GET", "/v1/stats").status == 200, "the server answers")
            #expect(try await server.request("GET", "/metrics").status == 200, "the metrics render")
        }
    }
}
