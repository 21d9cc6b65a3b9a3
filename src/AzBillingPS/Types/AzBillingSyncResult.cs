using System;
using System.Globalization;

namespace AzBillingPS;

/// <summary>What Sync-AzBilling did with one unit.</summary>
public enum AzBillingSyncAction
{
    /// <summary>Requested, downloaded and loaded (a report with no data loads no rows).</summary>
    Loaded,

    /// <summary>Left alone: the state holds a final load of the month.</summary>
    Skipped,

    /// <summary>Failed; the table still holds what it held before (the error stream says why).</summary>
    Failed,
}

/// <summary>One unit of Sync-AzBilling: one (scope, metric, month), with what was done, why, and how long each stage took.</summary>
public sealed class AzBillingSyncResult
{
    public string Scope { get; set; } = string.Empty;

    public string Metric { get; set; } = string.Empty;

    /// <summary>yyyy-MM.</summary>
    public string Month { get; set; } = string.Empty;

    public DateTime PeriodStart { get; set; }

    public DateTime PeriodEnd { get; set; }

    public AzBillingSyncAction Action { get; set; }

    /// <summary>Why the unit was loaded or skipped (for example "the current month", "complete: final load of ...").</summary>
    public string Reason { get; set; } = string.Empty;

    /// <summary>Rows inserted.</summary>
    public long Rows { get; set; }

    /// <summary>Rows of an earlier load of the same month that this load replaced.</summary>
    public long RowsReplaced { get; set; }

    /// <summary>Bytes downloaded (the report's files).</summary>
    public long Bytes { get; set; }

    public int Blobs { get; set; }

    /// <summary>The loaded data holds the month's final costs.</summary>
    public bool IsFinal { get; set; }

    public string? OperationId { get; set; }

    /// <summary>The _ImportId of the loaded rows.</summary>
    public Guid? ImportId { get; set; }

    /// <summary>Why the unit failed (also written to the error stream).</summary>
    public string? Error { get; set; }

    /// <summary>The FullyQualifiedErrorId of the failure.</summary>
    public string? ErrorId { get; set; }

    /// <summary>Time to get the report (request and polling).</summary>
    public TimeSpan ReportDuration { get; set; }

    /// <summary>Time to download the report's blobs.</summary>
    public TimeSpan DownloadDuration { get; set; }

    /// <summary>Time to load into the database, waiting for its lock included.</summary>
    public TimeSpan LoadDuration { get; set; }

    /// <summary>Time for the whole unit.</summary>
    public TimeSpan Elapsed { get; set; }

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"{Scope} {Metric} {Month}: {Action}{(Action == AzBillingSyncAction.Loaded ? $", {Rows} rows" : string.Empty)}");
}
