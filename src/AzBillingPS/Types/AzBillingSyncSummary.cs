using System;
using System.Globalization;

namespace AzBillingPS;

/// <summary>The outcome of one Sync-AzBilling run: totals, the failed units and why, and every unit's result.</summary>
public sealed class AzBillingSyncSummary
{
    /// <summary>This run's id (RunId in the state table).</summary>
    public Guid RunId { get; set; }

    /// <summary>Provider and server/database (or file); never a password.</summary>
    public string Target { get; set; } = string.Empty;

    /// <summary>The cost table's name as -Table takes it (unquoted).</summary>
    public string Table { get; set; } = string.Empty;

    /// <summary>The state table's name (unquoted): the cost table's name followed by _SyncState.</summary>
    public string StateTable { get; set; } = string.Empty;

    public DateTime StartedAt { get; set; }

    public DateTime FinishedAt { get; set; }

    public TimeSpan Elapsed { get; set; }

    public int Scopes { get; set; }

    public int Units { get; set; }

    public int Loaded { get; set; }

    public int Skipped { get; set; }

    public int Failed { get; set; }

    /// <summary>Rows inserted by this run.</summary>
    public long Rows { get; set; }

    /// <summary>Bytes downloaded by this run.</summary>
    public long Bytes { get; set; }

    /// <summary>True when no unit failed.</summary>
    public bool Success { get; set; }

    /// <summary>"scope metric month: reason" for each failed unit.</summary>
    public string[] FailedUnits { get; set; } = Array.Empty<string>();

    /// <summary>Every unit's result, in plan order (scope, metric, month).</summary>
    public AzBillingSyncResult[] Results { get; set; } = Array.Empty<AzBillingSyncResult>();

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"Sync {RunId}: {Loaded} loaded, {Skipped} skipped, {Failed} failed; {Rows} rows in {Elapsed.TotalSeconds:0.0} s");
}
