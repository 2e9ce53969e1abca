/// Keeps secrets out of logs and messages.
public enum Redaction {
    /// `url` with the password of its `scheme://user:password@host…` part replaced by `***`;
    /// a URL without a password comes back unchanged.
    ///
    /// Works on the text alone, so it also redacts a URL too malformed to parse, which is exactly
    /// the URL an error message is about to print.
    public static func url(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let authorityEnd = url[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
        guard let at = url[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
              let colon = url[scheme.upperBound..<at].firstIndex(of: ":") else { return url }
        return url[..<url.index(after: colon)] + "***" + url[at...]
    }
}
