namespace AzBillingPS.Internal;

/// <summary>
/// Every FullyQualifiedErrorId the module raises. Stable: scripts match on them (<c>$_.FullyQualifiedErrorId -like 'CsvBadValue*'</c>).
/// Each constant is named as its value reads, less the module's own <c>AzBilling</c> prefix.
/// </summary>
public static class ErrorIds
{
    public const string Unexpected = "AzBillingUnexpected";
    public const string InvalidArgument = "AzBillingInvalidArgument";
    public const string FileNotFound = "AzBillingFileNotFound";
    public const string CsvEmptyFile = "CsvEmptyFile";
    public const string CsvBadHeader = "CsvBadHeader";
    public const string CsvDuplicateColumn = "CsvDuplicateColumn";
    public const string CsvRaggedRow = "CsvRaggedRow";
    public const string CsvBadValue = "CsvBadValue";
    public const string CsvRowOutsidePeriod = "CsvRowOutsidePeriod";
    public const string SqlInvalidIdentifier = "SqlInvalidIdentifier";
    public const string SqlConnectionFailed = "SqlConnectionFailed";
    public const string SqlCommandFailed = "SqlCommandFailed";
    public const string SqlLockTimeout = "SqlLockTimeout";
    public const string AuthenticationFailed = "AzBillingAuthenticationFailed";
    public const string CertificateInvalid = "AzBillingCertificateInvalid";
    public const string CertificateNotFound = "AzBillingCertificateNotFound";
    public const string PermissionDenied = "AzBillingPermissionDenied";
    public const string NotFound = "AzBillingNotFound";
    public const string Throttled = "AzBillingThrottled";
    public const string Timeout = "AzBillingTimeout";
    public const string ServiceError = "AzBillingServiceError";
    public const string Unsupported = "AzBillingUnsupported";
    public const string PathNotFound = "AzBillingPathNotFound";
    public const string ParameterConflict = "AzBillingParameterConflict";
    public const string ImportIncompleteReport = "ImportIncompleteReport";
    public const string BlobLinkExpired = "BlobLinkExpired";
    public const string BlobReportNotCompleted = "BlobReportNotCompleted";
    public const string SyncConfigInvalid = "SyncConfigInvalid";
    public const string SyncConfigUnknownKey = "SyncConfigUnknownKey";
    public const string SyncStateNotFound = "SyncStateNotFound";

    // Issue 10 (docs/security.md lists these).
    public const string TokenHostRefused = "AzBillingTokenHostRefused";
    public const string UnsafeFolder = "AzBillingUnsafeFolder";
    public const string UnsafeFile = "AzBillingUnsafeFile";
    public const string DecompressionLimit = "AzBillingDecompressionLimit";
    public const string CsvInvalidText = "CsvInvalidText";
    public const string CsvCompressedFile = "CsvCompressedFile";
    public const string PathIsFolder = "AzBillingPathIsFolder";

    // Issue 10 §4-5 and issue 13 (docs/security.md and docs/sqlserver.md list these).
    public const string LockTimeoutReader = "SqlLockTimeoutReader";
    public const string TransientRetriesExhausted = "SqlTransientRetriesExhausted";

    // Issue 15: Cost Management exports.
    public const string ExportManifestInvalid = "ExportManifestInvalid";
    public const string ExportRunIncomplete = "ExportRunIncomplete";
}
