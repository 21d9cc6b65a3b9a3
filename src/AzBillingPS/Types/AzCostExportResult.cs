using System;

namespace AzBillingPS;

/// <summary>One export month: the newest run of one export for one month, and what Import-AzCostExport did with it.</summary>
public sealed class AzCostExportResult
{
    /// <summary>Loaded, Skipped or Failed.</summary>
    public string Action { get; set; } = string.Empty;

    /// <summary>Why: "not loaded yet", "run … is already loaded", "… replaces run …", or the error.</summary>
    public string Reason { get; set; } = string.Empty;

    public string ExportName { get; set; } = string.Empty;

    /// <summary>The export's resource id (lower case).</summary>
    public string Export { get; set; } = string.Empty;

    /// <summary>The scope the export covers (from the resource id), as stored in _Scope.</summary>
    public string Scope { get; set; } = string.Empty;

    /// <summary>ActualCost, AmortizedCost, FocusCost, PriceSheet, ReservationDetails, ReservationTransactions or ReservationRecommendations.</summary>
    public string Dataset { get; set; } = string.Empty;

    /// <summary>The month, yyyy-MM.</summary>
    public string Month { get; set; } = string.Empty;

    public string RunId { get; set; } = string.Empty;

    public DateTimeOffset SubmittedTime { get; set; }

    /// <summary>Where the run's manifest is, relative to the root.</summary>
    public string Manifest { get; set; } = string.Empty;

    /// <summary>Older runs of the same export and month that the newest one superseded.</summary>
    public int OlderRuns { get; set; }

    public int Parts { get; set; }

    /// <summary>Csv, Csv (gzip) or Parquet.</summary>
    public string Format { get; set; } = string.Empty;

    public string Target { get; set; } = string.Empty;

    public string Table { get; set; } = string.Empty;

    public long RowsInserted { get; set; }

    public long RowsReplaced { get; set; }

    public long Bytes { get; set; }

    public TimeSpan Elapsed { get; set; }

    public double RowsPerSecond { get; set; }

    public Guid? ImportId { get; set; }

    public override string ToString() => $"{ExportName} {Dataset} {Month}: {Action}";
}
