using System;

namespace AzBillingPS.Engine.Common;

/// <summary>What went wrong, in terms the cmdlet layer maps to an error id and an ErrorCategory.</summary>
public enum EngineErrorKind
{
    Unknown = 0,
    InvalidArgument,
    FileNotFound,
    CsvEmptyFile,
    CsvBadHeader,
    CsvDuplicateColumn,
    CsvRaggedRow,
    CsvBadValue,
    RowOutsidePeriod,
    InvalidIdentifier,
    DatabaseConnection,
    DatabaseCommand,
    LockTimeout,
    AuthenticationFailed,
    CertificateInvalid,
    CertificateNotFound,
    PermissionDenied,
    NotFound,
    Throttled,
    Timeout,
    ServiceError,
    Unsupported,

    /// <summary>A SAS link (a report's blob link) has expired or is about to: request the report again.</summary>
    LinkExpired,

    /// <summary>
    /// A lock wait timed out because a session that is not a load of the module held the table (a long query, an open
    /// transaction) or, on SQLite, a reader held the file (<see cref="LockTimeout"/> is another load's lock).
    /// </summary>
    LockTimeoutReader,

    /// <summary>A unit failed with transient database errors (failover, throttling, deadlock, dropped connection) every time it was tried; nothing was changed.</summary>
    TransientRetriesExhausted,

    /// <summary>A request would have carried a bearer token to an address that is not the token's endpoint; it was not sent.</summary>
    TokenHostRefused,

    /// <summary>A folder the module would write in belongs to another user or others can write to it; it was not used.</summary>
    UnsafeFolder,

    /// <summary>Something the module did not make (a symbolic link, another user's file) is where it would write or resume a file; it was left alone.</summary>
    UnsafeFile,

    /// <summary>A gzip stream inflated far beyond what cost CSV does; it was discarded.</summary>
    DecompressionLimit,

    /// <summary>A CSV field is not valid UTF-8 or holds a NUL character.</summary>
    CsvInvalidText,

    /// <summary>A file given as CSV is compressed (gzip, zip): it has to be decompressed first.</summary>
    CsvCompressedFile,

    /// <summary>A folder was given where a file was expected.</summary>
    PathIsFolder,

    /// <summary>An export's manifest.json is not JSON or lacks what a load needs.</summary>
    ExportManifestInvalid,

    /// <summary>A report that did not complete (Failed, or still running) has no blobs to save.</summary>
    ReportNotCompleted,

    /// <summary>An export run's blobs do not match its manifest (a part missing, a byte or row count that differs).</summary>
    ExportRunIncomplete,
}

/// <summary>
/// What the user can do about an error, named without a command: the cmdlet layer words it for the command that ran
/// (Save-AzCostBlob can offer -Refresh; Sync-AzBilling's next run requests the report again).
/// </summary>
public enum EngineAdvice
{
    None = 0,

    /// <summary>The report's blob links have expired or were refused: the report has to be requested again.</summary>
    RequestReportAgain,

    /// <summary>A gzip blob could not be decompressed: it can be kept as it came.</summary>
    KeepCompressed,

    /// <summary>The Cost Details API does not serve this scope: its costs come from a Cost Management export.</summary>
    UseExports,

    /// <summary>A database that nothing has been loaded into yet was named for reading.</summary>
    LoadFirst,

    /// <summary>A person's sign-in in the browser has to be done again (it was declined, cancelled, forgotten or can no longer be renewed).</summary>
    SignInAgainInteractive,

    /// <summary>A person's sign-in with a device code has to be done again, with a new code.</summary>
    SignInAgainDeviceCode,

    /// <summary>The token cache file is not safe to read (others can read or write it): it has to be removed.</summary>
    RemoveTokenCache,

    /// <summary>
    /// A sign-in to SQL Server that the connection string cannot express (a certificate, or a method the module does
    /// not provide): sign in on its own and give the database that token.
    /// </summary>
    SignInWithDatabaseToken,

    /// <summary>A lock wait ran out: try again later, or wait longer for locks.</summary>
    RaiseLockTimeout,

    /// <summary>A report did not complete in the time allowed: allow more time.</summary>
    RaiseTimeout,

    /// <summary>A gzip stream inflated past the limit on its ratio: if it is genuine, allow a larger ratio.</summary>
    RaiseGzipRatio,

    /// <summary>A row is dated outside the period being loaded: where the period was given, give one that covers the file.</summary>
    CoverFilePeriod,

    /// <summary>A management group was named: request each subscription under it (a command may list them itself).</summary>
    RequestEachSubscription,

    /// <summary>A certificate file or key needs a password that was not given.</summary>
    GiveCertificatePassword,
}

/// <summary>
/// The one exception type the engine throws on purpose. It carries what an operator needs to act:
/// the kind, a message that names the input (file, line, column, parameter), and the service's own
/// error code and correlation id when a service gave them. Messages never contain secrets.
/// </summary>
public sealed class EngineException : Exception
{
    public EngineException(EngineErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public EngineErrorKind Kind { get; }

    /// <summary>The service's error code (for example AADSTS7000215 or a Cost Management code).</summary>
    public string? ServiceCode { get; init; }

    /// <summary>The service's correlation or request id, for support cases.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>A file the error is about, when there is one.</summary>
    public string? FilePath { get; init; }

    /// <summary>1-based line in <see cref="FilePath"/>, when known.</summary>
    public long? Line { get; init; }

    /// <summary>The column (header name) the error is about, when known.</summary>
    public string? Column { get; init; }

    /// <summary>What the user can do, for the cmdlet layer to word.</summary>
    public EngineAdvice Advice { get; init; }
}
