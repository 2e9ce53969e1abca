import Foundation
import Hummingbird
import NIOCore
import SpoolCore

/// An API failure: an HTTP status and the JSON body `{"error": {"code", "message"}}`.
///
/// Codes are stable strings: `invalid_json`, `invalid_body`, `invalid_field`, `unknown_field`, `invalid_id`,
/// `invalid_cursor`, `invalid_argument`, `unauthorized`, `forbidden_origin`, `unsupported_media_type`,
/// `not_found`, `job_not_found`, `unknown_quota`, `invalid_state`, `quota_exists`, `payload_too_large`, `upgrade_required`,
/// `store_unavailable`, `internal`, and the codes of ``SpoolError``.
public struct APIError: Error, HTTPResponseError, Sendable {
    /// The HTTP status.
    public let status: HTTPResponse.Status
    /// The stable, machine-readable code.
    public let code: String
    /// A sentence naming what is wrong.
    public let message: String
    /// Extra response headers, such as `WWW-Authenticate`.
    public let headers: HTTPFields

    /// Creates an error.
    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// The response with the JSON error body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONBody.response(ErrorDocument(error: .init(code: code, message: message)), status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    /// The JSON body's shape.
    struct ErrorDocument: Codable {
        struct Detail: Codable {
            var code: String
            var message: String
        }

        var error: Detail
    }

    /// A field of a request that is missing, of the wrong type or out of range.
    static func invalidField(_ message: String) -> APIError { APIError(.badRequest, "invalid_field", message) }

    /// The error for `error`, whatever it is: Spool's errors keep their code with a fitting
    /// status; anything unexpected is an internal error with a generic message.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as SpoolError:
            return APIError(status(of: error.code), "\(error.code)", error.message)
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "payload_too_large", "the request body is larger than the server accepts")
        case let error as HTTPError:
            let code = error.status == .notFound ? "not_found" : error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
            let message = error.status == .notFound ? "no such route" : (error.body ?? error.status.reasonPhrase)
            return APIError(error.status, code, message)
        default:
            return APIError(.internalServerError, "internal", "the server failed to handle the request; see its log")
        }
    }

    private static func status(of code: SpoolError.Code) -> HTTPResponse.Status {
        switch code {
        case .jobNotFound: .notFound
        case .unknownQuota: .unprocessableContent
        case .invalidState, .quotaExists: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .invalidJSON, .invalidArgument, .unknownJobName: .badRequest
        case .timedOut: .gatewayTimeout
        case .storeUnavailable, .storeReadOnly, .storeTooNew, .storeCorrupt: .serviceUnavailable
        default: .internalServerError
        }
    }
}
