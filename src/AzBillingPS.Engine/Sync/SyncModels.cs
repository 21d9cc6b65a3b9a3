using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Sync;

/// <summary>What one Sync run does: which scopes, metrics and months go into which target, and how.</summary>
public sealed record SyncRequest
{
    public required SinkTarget Target { get; init; }

    /// <summary>Cost Management exports to load instead of requesting reports; the scopes and metrics are then the exports'.</summary>
    public SyncExportSource? Exports { get; init; }

    /// <summary>Scopes in the order given (any spelling; normalised and checked by the run).</summary>
    public required IReadOnlyList<string> Scopes { get; init; }

    /// <summary>ActualCost and/or AmortizedCost.</summary>
    public required IReadOnlyList<string> Metrics { get; init; }

    /// <summary>Months to load whatever the state says (first days), or null for the default period.</summary>
    public IReadOnlyList<DateOnly>? Months { get; init; }

    /// <summary>The default period's window, the current month included.</summary>
    public int LookbackMonths { get; init; } = SyncPlanner.DefaultLookbackMonths;

    /// <summary>The folder the run's files go to (a sub-folder per run and per unit is made in it).</summary>
    public required string WorkingPath { get; init; }

    /// <summary>
    /// True when <see cref="WorkingPath"/> is the user's default working folder (not -WorkingPath): then it must be the
    /// user's own and writable by no one else (see <see cref="Common.PrivateFiles.EnsureFolder"/>).
    /// </summary>
    public bool WorkingPathIsDefault { get; init; }

    /// <summary>Keep each unit's files after it is loaded.</summary>
    public bool KeepFiles { get; init; }

    /// <summary>
    /// Units downloading at once, blobs downloading at once across them, and loads at once where the database takes
    /// concurrent loads of different units (PostgreSQL, SQL Server; SQLite loads one at a time). Not reports in
    /// flight: those follow the API's published limits.
    /// </summary>
    public int ThrottleLimit { get; init; } = 4;

    /// <summary>The run's progress bar (the caller's name for it).</summary>
    public string Activity { get; init; } = "Cost sync";

    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public int BatchSize { get; init; } = 50_000;

    public string ApiVersion { get; init; } = CostReportDefaults.ApiVersion;

    public Guid RunId { get; init; } = Guid.NewGuid();

    /// <summary>The computer name recorded in the state table.</summary>
    public string Host { get; init; } = Environment.MachineName;
}

/// <summary>What a run does with a unit.</summary>
public enum SyncAction
{
    /// <summary>Planned to load; not loaded (yet).</summary>
    Pending,

    /// <summary>Loaded: its rows (or, for a report without data, none) replaced the month.</summary>
    Loaded,

    /// <summary>Complete in the state: not requested.</summary>
    Skipped,

    /// <summary>Failed: the table keeps what it held, the state says why, the next run tries again.</summary>
    Failed,
}

/// <summary>The outcome of one unit: one (scope, metric, month).</summary>
public sealed class SyncUnitOutcome
{
    public required SyncUnitKey Key { get; init; }

    /// <summary>Plan order (scope, metric, month), 0-based.</summary>
    public int Index { get; init; }

    public DateOnly PeriodStart { get; init; }

    public DateOnly PeriodEnd { get; init; }

    public SyncAction Action { get; set; }

    public string Reason { get; set; } = string.Empty;

    public long Rows { get; set; }

    public long RowsReplaced { get; set; }

    public long Bytes { get; set; }

    public int Blobs { get; set; }

    public bool IsFinal { get; set; }

    public string? OperationId { get; set; }

    public Guid? ImportId { get; set; }

    /// <summary>Why the unit failed; never carries a secret.</summary>
    public Exception? Error { get; set; }

    public TimeSpan ReportDuration { get; set; }

    public TimeSpan DownloadDuration { get; set; }

    public TimeSpan LoadDuration { get; set; }

    public TimeSpan Elapsed { get; set; }

    public override string ToString() => $"{Key}: {Action}";
}

/// <summary>The outcome of a run, with what the summary counts.</summary>
public sealed record SyncRunOutcome(
    Guid RunId,
    string Target,
    string Table,
    string StateTable,
    DateTime StartedAt,
    DateTime FinishedAt,
    int Scopes,
    IReadOnlyList<SyncUnitOutcome> Units)
{
    public int Loaded => Units.Count(u => u.Action == SyncAction.Loaded);

    public int Skipped => Units.Count(u => u.Action == SyncAction.Skipped);

    public int Failed => Units.Count(u => u.Action == SyncAction.Failed);

    public long Rows => Units.Sum(u => u.Rows);

    public long Bytes => Units.Sum(u => u.Bytes);

    /// <summary>True when no unit failed.</summary>
    public bool Success => Failed == 0;

    /// <summary>An empty run (nothing to sync) into <paramref name="table"/>.</summary>
    public static SyncRunOutcome Empty(Guid runId, string table) => new(runId, string.Empty, table, string.Empty, DateTime.UtcNow, DateTime.UtcNow, 0, Array.Empty<SyncUnitOutcome>());
}

/// <summary>Text for errors and the state table: SAS signatures redacted, in case any message ever carries a link.</summary>
public static class SyncText
{
    private static readonly System.Text.RegularExpressions.Regex Sig = new(@"(?i)([?&]sig=)[^&\s""'<>]+", System.Text.RegularExpressions.RegexOptions.Compiled | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    public static string Scrub(string? text) => string.IsNullOrEmpty(text) ? string.Empty : Sig.Replace(text, "$1" + SasRedactor.Placeholder);

    public static string Month(DateOnly month) => month.ToString("yyyy-MM", CultureInfo.InvariantCulture);
}
