using System;
using System.Globalization;

namespace AzBillingPS;

/// <summary>
/// One row of a cost table's sync state (<c>&lt;table&gt;_SyncState</c>): one (scope, metric, month). Rows, bytes,
/// import id, IsFinal and LoadedAt describe the data the cost table holds (they change only when a load commits);
/// Status, StartedAt, FinishedAt, OperationId, Error, RunId and Host describe the last attempt.
/// </summary>
public sealed class AzBillingSyncState
{
    public string Scope { get; set; } = string.Empty;

    public string Metric { get; set; } = string.Empty;

    /// <summary>yyyy-MM.</summary>
    public string Month { get; set; } = string.Empty;

    /// <summary>The last attempt: Loaded, Failed, or Running (in progress, or a run that ended without finishing it).</summary>
    public string Status { get; set; } = string.Empty;

    /// <summary>The loaded data was requested after the month's costs were final (72 hours plus a day after the month ended).</summary>
    public bool IsFinal { get; set; }

    /// <summary>The table holds a final load of the month: a default Sync skips it.</summary>
    public bool Complete { get; set; }

    public DateTime? PeriodStart { get; set; }

    public DateTime? PeriodEnd { get; set; }

    /// <summary>Rows of the committed load (null before the first one).</summary>
    public long? Rows { get; set; }

    public long? Bytes { get; set; }

    public int? Blobs { get; set; }

    /// <summary>The Cost Management operation of the last attempt.</summary>
    public string? OperationId { get; set; }

    /// <summary>The _ImportId of the committed load's rows.</summary>
    public Guid? ImportId { get; set; }

    /// <summary>When the last attempt started (UTC).</summary>
    public DateTime? StartedAt { get; set; }

    /// <summary>When the last attempt ended (UTC); empty while it runs.</summary>
    public DateTime? FinishedAt { get; set; }

    /// <summary>When the committed load committed (UTC).</summary>
    public DateTime? LoadedAt { get; set; }

    /// <summary>Why the last attempt failed.</summary>
    public string? Error { get; set; }

    /// <summary>The Sync run of the last attempt (its summary's RunId).</summary>
    public Guid? RunId { get; set; }

    /// <summary>The computer the last attempt ran on.</summary>
    public string? Host { get; set; }

    /// <summary>The state table the row was read from (unquoted).</summary>
    public string StateTable { get; set; } = string.Empty;

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"{Scope} {Metric} {Month}: {Status}{(IsFinal ? ", final" : string.Empty)}{(Rows is null ? string.Empty : $", {Rows} rows")}");
}
