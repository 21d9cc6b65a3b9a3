using System;
using System.IO;
using System.Management.Automation;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Internal;

/// <summary>Turns engine exceptions into ErrorRecords with a stable id, a precise category and the input as target.</summary>
internal static class ErrorMapper
{
    public static ErrorRecord ToErrorRecord(Exception exception, object? target)
    {
        if (exception is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            exception = aggregate.InnerExceptions[0];
        }

        if (exception is EngineException engine)
        {
            (string id, ErrorCategory category) = Map(engine.Kind);

            // The target names what the error is about: the file it names when the input was paths, else the input.
            object? named = engine.FilePath is not null && target is null or string or string[] ? engine.FilePath : Readable(target);
            var record = new ErrorRecord(engine, id, category, named);
            record.CategoryInfo.Reason = engine.Kind.ToString();
            string? detail = Detail(engine);
            if (detail is not null)
            {
                record.ErrorDetails = new ErrorDetails(engine.Message) { RecommendedAction = detail };
            }

            return record;
        }

        target = Readable(target);
        return exception switch
        {
            FileNotFoundException => new ErrorRecord(exception, ErrorIds.FileNotFound, ErrorCategory.ObjectNotFound, target),
            DirectoryNotFoundException => new ErrorRecord(exception, ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, target),
            ArgumentException => new ErrorRecord(exception, ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, target),
            TimeoutException => new ErrorRecord(exception, ErrorIds.Timeout, ErrorCategory.OperationTimeout, target),
            UnauthorizedAccessException => new ErrorRecord(exception, ErrorIds.PermissionDenied, ErrorCategory.PermissionDenied, target),
            _ => new ErrorRecord(exception, ErrorIds.Unexpected, ErrorCategory.NotSpecified, target),
        };
    }

    /// <summary>A list of paths or names as one readable string (CategoryInfo.TargetName would say System.String[]).</summary>
    internal static object? Readable(object? target) => target switch
    {
        string[] { Length: 1 } one => one[0],
        string[] many => string.Join(", ", many),
        _ => target,
    };

    /// <summary>
    /// What to do about an engine error, in the words every command can use (a command may say more, see AsyncCmdlet.Advise).
    /// Advice that names a parameter is given only when <paramref name="hasParameter"/> says the command has it.
    /// </summary>
    public static string? CommonAdvice(EngineAdvice advice, Func<string, bool>? hasParameter = null) => advice switch
    {
        EngineAdvice.RequestReportAgain => "Request the report again (New-AzCostReport) for fresh blob links.",
        EngineAdvice.UseExports => "Load its costs from a Cost Management export instead: Import-AzCostExport reads the export's files (Import-AzCostToSql one file at a time).",
        EngineAdvice.LoadFirst => "Load it with Import-AzCostToSql or Sync-AzBilling, or name the database with -DatabasePath, -SqlInstance or -ConnectionString.",
        EngineAdvice.SignInAgainInteractive => "Sign in again with Get-AzBillingToken -Interactive and use the new token.",
        EngineAdvice.SignInAgainDeviceCode => "Sign in again with Get-AzBillingToken -DeviceCode (a new code) and use the new token.",
        EngineAdvice.RemoveTokenCache => "Clear-AzBillingTokenCache removes it.",
        EngineAdvice.SignInWithDatabaseToken => "Or sign in with Get-AzBillingToken (a certificate too: -CertificatePath) and give the token as -DatabaseToken.",
        EngineAdvice.RaiseLockTimeout when hasParameter?.Invoke("LockTimeout") == true => "Or raise -LockTimeout to wait longer.",
        EngineAdvice.RaiseTimeout when hasParameter?.Invoke("Timeout") == true => "Or raise -Timeout to wait longer.",
        EngineAdvice.RaiseGzipRatio when hasParameter?.Invoke("MaxGzipRatio") == true => "If it is genuine, run again with a larger -MaxGzipRatio.",
        EngineAdvice.CoverFilePeriod when hasParameter?.Invoke("From") == true => "Give -From/-To that cover the file, or leave them out to use the file's own dates.",
        EngineAdvice.RequestEachSubscription when hasParameter?.Invoke("AllSubscriptions") == true => "-AllSubscriptions requests every subscription the identity can read.",
        EngineAdvice.GiveCertificatePassword when hasParameter?.Invoke("CertificatePassword") == true => "Give it with -CertificatePassword.",
        _ => null,
    };

    /// <summary>The error with the common advice for its kind of trouble after its message (unchanged when there is none).</summary>
    public static Exception WithCommonAdvice(Exception exception)
        => exception is EngineException { Advice: not EngineAdvice.None } e && CommonAdvice(e.Advice) is string text ? WithAdvice(e, text) : exception;

    /// <summary>The same error with a command's advice after its message (the engine's exception kept as the inner one).</summary>
    public static EngineException WithAdvice(EngineException e, string advice)
        => new(e.Kind, e.Message.TrimEnd() + " " + advice, e)
        {
            ServiceCode = e.ServiceCode,
            CorrelationId = e.CorrelationId,
            FilePath = e.FilePath,
            Line = e.Line,
            Column = e.Column,
        };

    internal static (string Id, ErrorCategory Category) Map(EngineErrorKind kind) => kind switch
    {
        EngineErrorKind.InvalidArgument => (ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument),
        EngineErrorKind.FileNotFound => (ErrorIds.FileNotFound, ErrorCategory.ObjectNotFound),
        EngineErrorKind.CsvEmptyFile => (ErrorIds.CsvEmptyFile, ErrorCategory.InvalidData),
        EngineErrorKind.CsvBadHeader => (ErrorIds.CsvBadHeader, ErrorCategory.ParserError),
        EngineErrorKind.CsvDuplicateColumn => (ErrorIds.CsvDuplicateColumn, ErrorCategory.InvalidData),
        EngineErrorKind.CsvRaggedRow => (ErrorIds.CsvRaggedRow, ErrorCategory.ParserError),
        EngineErrorKind.CsvBadValue => (ErrorIds.CsvBadValue, ErrorCategory.InvalidData),
        EngineErrorKind.RowOutsidePeriod => (ErrorIds.CsvRowOutsidePeriod, ErrorCategory.InvalidData),
        EngineErrorKind.InvalidIdentifier => (ErrorIds.SqlInvalidIdentifier, ErrorCategory.InvalidArgument),
        EngineErrorKind.DatabaseConnection => (ErrorIds.SqlConnectionFailed, ErrorCategory.ConnectionError),
        EngineErrorKind.DatabaseCommand => (ErrorIds.SqlCommandFailed, ErrorCategory.WriteError),
        EngineErrorKind.LockTimeout => (ErrorIds.SqlLockTimeout, ErrorCategory.ResourceBusy),
        EngineErrorKind.AuthenticationFailed => (ErrorIds.AuthenticationFailed, ErrorCategory.AuthenticationError),
        EngineErrorKind.CertificateInvalid => (ErrorIds.CertificateInvalid, ErrorCategory.InvalidArgument),
        EngineErrorKind.CertificateNotFound => (ErrorIds.CertificateNotFound, ErrorCategory.ObjectNotFound),
        EngineErrorKind.PermissionDenied => (ErrorIds.PermissionDenied, ErrorCategory.PermissionDenied),
        EngineErrorKind.NotFound => (ErrorIds.NotFound, ErrorCategory.ObjectNotFound),
        EngineErrorKind.Throttled => (ErrorIds.Throttled, ErrorCategory.LimitsExceeded),
        EngineErrorKind.Timeout => (ErrorIds.Timeout, ErrorCategory.OperationTimeout),
        EngineErrorKind.ServiceError => (ErrorIds.ServiceError, ErrorCategory.InvalidResult),
        EngineErrorKind.Unsupported => (ErrorIds.Unsupported, ErrorCategory.NotImplemented),
        EngineErrorKind.LinkExpired => (ErrorIds.BlobLinkExpired, ErrorCategory.ResourceUnavailable),
        EngineErrorKind.ReportNotCompleted => (ErrorIds.BlobReportNotCompleted, ErrorCategory.InvalidResult),
        EngineErrorKind.TokenHostRefused => (ErrorIds.TokenHostRefused, ErrorCategory.SecurityError),
        EngineErrorKind.LockTimeoutReader => (ErrorIds.LockTimeoutReader, ErrorCategory.ResourceBusy),
        EngineErrorKind.TransientRetriesExhausted => (ErrorIds.TransientRetriesExhausted, ErrorCategory.ResourceUnavailable),
        EngineErrorKind.UnsafeFolder => (ErrorIds.UnsafeFolder, ErrorCategory.SecurityError),
        EngineErrorKind.UnsafeFile => (ErrorIds.UnsafeFile, ErrorCategory.SecurityError),
        EngineErrorKind.DecompressionLimit => (ErrorIds.DecompressionLimit, ErrorCategory.InvalidData),
        EngineErrorKind.CsvInvalidText => (ErrorIds.CsvInvalidText, ErrorCategory.InvalidData),
        EngineErrorKind.CsvCompressedFile => (ErrorIds.CsvCompressedFile, ErrorCategory.InvalidData),
        EngineErrorKind.PathIsFolder => (ErrorIds.PathIsFolder, ErrorCategory.InvalidArgument),
        EngineErrorKind.ExportManifestInvalid => (ErrorIds.ExportManifestInvalid, ErrorCategory.InvalidData),
        EngineErrorKind.ExportRunIncomplete => (ErrorIds.ExportRunIncomplete, ErrorCategory.InvalidData),
        _ => (ErrorIds.Unexpected, ErrorCategory.NotSpecified),
    };

    private static string? Detail(EngineException e)
    {
        if (e.ServiceCode is null && e.CorrelationId is null)
        {
            return null;
        }

        return $"Service error code: {e.ServiceCode ?? "(none)"}; correlation id: {e.CorrelationId ?? "(none)"}.";
    }
}
