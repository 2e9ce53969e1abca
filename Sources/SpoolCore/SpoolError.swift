/// An error Spool reports to its callers: a stable code and a message that names what is wrong.
///
/// New codes may be added in any release, so match on the static constants rather than
/// switching exhaustively.
public struct SpoolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable, machine-readable reason.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// A quota name that no quota has.
        public static let unknownQuota = Code("unknown_quota")
        /// A quota that already exists.
        public static let quotaExists = Code("quota_exists")
        /// A payload or result that is not valid JSON.
        public static let invalidJSON = Code("invalid_json")
        /// A payload larger than the configured limit.
        public static let payloadTooLarge = Code("payload_too_large")
        /// A field with a value outside its range.
        public static let invalidArgument = Code("invalid_argument")
        /// No job with the given id.
        public static let jobNotFound = Code("job_not_found")
        /// The job's state does not allow the operation.
        public static let invalidState = Code("invalid_state")
        /// No job is registered under the name.
        public static let unknownJobName = Code("unknown_job_name")
        /// The store could not be opened or used.
        public static let storeUnavailable = Code("store_unavailable")
        /// The store was written by a newer Spool.
        public static let storeTooNew = Code("store_too_new")
        /// The store file is damaged or not a Spool store.
        public static let storeCorrupt = Code("store_corrupt")
        /// The store refuses writes.
        public static let storeReadOnly = Code("store_read_only")
        /// Another live process acts as the dispatcher with this id.
        public static let dispatcherInUse = Code("dispatcher_in_use")
        /// A wait ended before the job did.
        public static let timedOut = Code("timed_out")

        public var description: String { name }
    }

    /// The stable reason.
    public let code: Code
    /// A human sentence naming what is wrong.
    public let message: String

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
