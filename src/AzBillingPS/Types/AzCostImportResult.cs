using System;

namespace AzBillingPS;

/// <summary>One loaded unit (a report's files, or one -Path invocation): what was replaced and inserted where.</summary>
public sealed class AzCostImportResult
{
    /// <summary>Provider and server/database (or file) written to; never a password.</summary>
    public string Target { get; set; } = string.Empty;

    public string Provider { get; set; } = string.Empty;

    /// <summary>The table's name as -Table takes it (unquoted), so Get-AzCostSummary -Table $result.Table reads it back.</summary>
    public string Table { get; set; } = string.Empty;

    /// <summary>The table's schema (dbo, public, ...); null on SQLite.</summary>
    public string? Schema { get; set; }

    public string Scope { get; set; } = string.Empty;

    public string Metric { get; set; } = string.Empty;

    public DateTime PeriodStart { get; set; }

    public DateTime PeriodEnd { get; set; }

    public string[] Files { get; set; } = Array.Empty<string>();

    public long RowsInserted { get; set; }

    /// <summary>Rows of an earlier load of the same scope, metric and period that this load replaced.</summary>
    public long RowsReplaced { get; set; }

    public long Bytes { get; set; }

    public TimeSpan Elapsed { get; set; }

    public double RowsPerSecond { get; set; }

    /// <summary>The lineage id written to every row of this load (column _ImportId).</summary>
    public Guid ImportId { get; set; }

    /// <summary>Columns this load added to the table.</summary>
    public string[] ColumnsAdded { get; set; } = Array.Empty<string>();

    public override string ToString() => $"{Scope} {Metric} {PeriodStart:yyyy-MM-dd}..{PeriodEnd:yyyy-MM-dd}: {RowsInserted} rows";
}
