extension DecodingError {
    /// One line naming where a decoded document is wrong, as `root.field[2].name`, and what is
    /// wrong there: for error messages that point a user at their mistake.
    public func summary(root: String) -> String {
        func path(_ context: Context) -> String {
            root + context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch self {
        case .keyNotFound(let key, let context): return "\(path(context)).\(key.stringValue) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(root): \(self)"
        }
    }
}
