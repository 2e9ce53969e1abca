import Foundation

/// Where an AWS client sends its requests and with which credentials, found the way the AWS
/// command line and SDKs find them.
///
/// Credentials: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; else the
/// profile `AWS_PROFILE` (or `default`) of the shared credentials file
/// (`AWS_SHARED_CREDENTIALS_FILE`, or `~/.aws/credentials`), then of the config file
/// (`AWS_CONFIG_FILE`, or `~/.aws/config`, where it is `[profile NAME]`). Region: `AWS_REGION`,
/// `AWS_DEFAULT_REGION`, else the profile's `region`. Endpoint: `AWS_ENDPOINT_URL_SQS`, else
/// `AWS_ENDPOINT_URL`, else the profile's `endpoint_url`, else AWS's own for the region.
public struct AWSConfiguration: Sendable {
    /// The credentials requests are signed with.
    public var credentials: AWSCredentials
    /// The region.
    public var region: String
    /// The endpoint requests go to, such as `https://sqs.eu-west-1.amazonaws.com`.
    public var endpoint: URL

    /// Creates a configuration.
    public init(credentials: AWSCredentials, region: String, endpoint: URL) {
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
    }

    /// The configuration of the SQS service from `environment` and the files it points to;
    /// `region` and `endpoint`, when given, win over what is found. Throws
    /// ``SQSError/Code-swift.struct/invalidConfiguration`` naming what is missing.
    public static func sqs(environment: [String: String] = ProcessInfo.processInfo.environment,
                           region: String? = nil, endpoint: String? = nil) throws -> AWSConfiguration {
        let profileName = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let home = environment["HOME"] ?? NSHomeDirectory()
        let credentialsFile = Self.ini(atPath: environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials")
        let configFile = Self.ini(atPath: environment["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config")
        let profile = (configFile[profileName == "default" ? "default" : "profile \(profileName)"] ?? [:])
            .merging(credentialsFile[profileName] ?? [:]) { _, credentials in credentials }
        func value(_ variable: String?, _ key: String?) -> String? {
            let found = variable.flatMap { environment[$0] } ?? key.flatMap { profile[$0] }
            return found.flatMap { $0.isEmpty ? nil : $0 }
        }

        let credentials: AWSCredentials
        if let key = value("AWS_ACCESS_KEY_ID", nil), let secret = value("AWS_SECRET_ACCESS_KEY", nil) {
            credentials = AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN", nil))
        } else if let key = value(nil, "aws_access_key_id"), let secret = value(nil, "aws_secret_access_key") {
            credentials = AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: value(nil, "aws_session_token"))
        } else {
            throw SQSError(.invalidConfiguration, """
                no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the profile '\(profileName)' \
                aws_access_key_id and aws_secret_access_key in the shared credentials file
                """)
        }
        guard let region = region ?? value("AWS_REGION", nil) ?? value("AWS_DEFAULT_REGION", "region") else {
            throw SQSError(.invalidConfiguration, "no AWS region: set AWS_REGION, or give the profile '\(profileName)' a region")
        }
        let endpointText = endpoint ?? value("AWS_ENDPOINT_URL_SQS", nil) ?? value("AWS_ENDPOINT_URL", "endpoint_url")
            ?? "https://sqs.\(region).amazonaws.com"
        guard let url = URL(string: endpointText), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw SQSError(.invalidConfiguration, "the SQS endpoint '\(endpointText)' is not an http or https URL")
        }
        return AWSConfiguration(credentials: credentials, region: region, endpoint: url)
    }

    /// The sections of an INI file (`[name]`, `key = value`, `#` and `;` comments); empty when
    /// the file cannot be read.
    static func ini(atPath path: String) -> [String: [String: String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        return ini(text)
    }

    static func ini(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#"), !line.hasPrefix(";") else { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}
