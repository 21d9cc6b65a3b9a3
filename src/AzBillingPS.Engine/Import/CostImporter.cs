using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Import;

/// <summary>One load unit: the files of one report (all its blobs), or of one -Path invocation.</summary>
public sealed record ImportRequest(
    SinkTarget Target,
    string Scope,
    string Metric,
    DateTime? PeriodStart,
    DateTime? PeriodEnd,
    IReadOnlyList<string> Files)
{
    public int BatchSize { get; init; } = 50_000;

    /// <summary>The progress bar's activity (the caller's name for the load).</summary>
    public string Activity { get; init; } = "Loading cost details";

    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Runs inside the load's transaction just before it commits (Sync writes its state row there).</summary>
    public Func<ImportCommit, CancellationToken, Task>? BeforeCommit { get; init; }
}

/// <summary>A load about to commit: its open transaction, its import id and what it wrote.</summary>
public sealed record ImportCommit(System.Data.Common.DbConnection Connection, System.Data.Common.DbTransaction Transaction, Guid ImportId, long RowsInserted, long RowsReplaced, long Bytes);

/// <summary>What one load did.</summary>
public sealed record ImportOutcome(
    string Target,
    string Provider,
    string Table,
    string? Schema,
    string Scope,
    string Metric,
    DateTime PeriodStart,
    DateTime PeriodEnd,
    IReadOnlyList<string> Files,
    long RowsInserted,
    long RowsReplaced,
    long Bytes,
    TimeSpan Elapsed,
    Guid ImportId,
    IReadOnlyList<string> ColumnsAdded);

/// <summary>
/// Loads one unit exactly once: reads every file's header first (a missing, empty or unusable file fails the
/// unit before the database is touched), settles the period, asks the caller's should-process, then lets the
/// sink replace the period in one transaction while rows stream from the files.
/// </summary>
public static class CostImporter
{
    public static async Task<ImportOutcome?> ImportAsync(
        ImportRequest request,
        Func<string, string, Task<bool>> shouldProcess,
        IEngineLog log,
        IProgress<EngineProgress>? progress,
        int progressId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(shouldProcess);
        ArgumentNullException.ThrowIfNull(log);
        if (request.Files.Count == 0)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "No files to load.");
        }

        string scope = CostScope.Normalize(request.Scope);

        // Every name the load will create (table, index, schema) is checked before the first row is read.
        CostSink sink = CostSink.Create(request.Target);
        var stopwatch = Stopwatch.StartNew();

        // The database side's start-up runs beside the reading of the headers and dates, and is awaited before the load.
        using var warmUpCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task warmUp = Task.Run(() => sink.WarmUpAsync(warmUpCancel.Token), warmUpCancel.Token);
        try
        {
            return await ImportAsync(request, sink, scope, stopwatch, warmUp, shouldProcess, log, progress, progressId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await warmUpCancel.CancelAsync().ConfigureAwait(false);
            await SettleAsync(warmUp, log).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the warm-up; its failure is only noted (the load's own connection reports what is wrong), its cancellation (a run that stopped before the load) not even that.</summary>
    private static async Task SettleAsync(Task warmUp, IEngineLog log)
    {
        try
        {
            await warmUp.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            log.Debug($"The database warm-up did not finish: {e.GetType().Name}.");
        }
    }

    private static async Task<ImportOutcome?> ImportAsync(
        ImportRequest request,
        CostSink sink,
        string scope,
        Stopwatch stopwatch,
        Task warmUp,
        Func<string, string, Task<bool>> shouldProcess,
        IEngineLog log,
        IProgress<EngineProgress>? progress,
        int progressId,
        CancellationToken cancellationToken)
    {
        var headers = new List<CostFileHeader>(request.Files.Count);
        long totalBytes = 0;
        foreach (string file in request.Files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            headers.Add(CostFileSchema.ReadHeader(file));
            totalBytes += new FileInfo(file).Length;
        }

        log.Debug(string.Create(CultureInfo.InvariantCulture, $"Read the header of {headers.Count} file(s) in {stopwatch.Elapsed.TotalMilliseconds:N0} ms."));
        IReadOnlyList<CostColumn> columns = UnifyColumns(headers, request.Target.Dialect);
        foreach (CostFileHeader h in headers)
        {
            foreach (string unknown in h.UnknownNames)
            {
                log.Debug($"{h.Path}: column '{unknown}' is not a known cost-details column; it is kept as text.");
            }
        }

        DateTime start, end;
        if (request.PeriodStart is DateTime from && request.PeriodEnd is DateTime to)
        {
            (start, end) = (from.Date, to.Date);
        }
        else
        {
            progress?.Report(new EngineProgress(progressId, request.Activity, $"Reading the dates of {headers.Count} file(s)", -1));
            TimeSpan scanStart = stopwatch.Elapsed;
            (DateTime First, DateTime Last)? range = CostFileSchema.ScanDateRange(headers, cancellationToken);
            log.Debug(string.Create(CultureInfo.InvariantCulture, $"Read the dates of {headers.Count} file(s) for the period in {(stopwatch.Elapsed - scanStart).TotalMilliseconds:N0} ms."));
            if (range is null && request.PeriodStart is null && request.PeriodEnd is null)
            {
                log.Warning($"{string.Join(", ", request.Files)}: no rows and no -From/-To, so there is no period to replace; nothing was loaded.");
                return null;
            }

            start = request.PeriodStart?.Date ?? range!.Value.First;
            end = request.PeriodEnd?.Date ?? range!.Value.Last;
        }

        if (end < start)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                string.Create(CultureInfo.InvariantCulture, $"The period ends ({end:yyyy-MM-dd}) before it starts ({start:yyyy-MM-dd})."));
        }

        string target = $"{request.Target.DisplayTable} on {sink.Describe()}";
        string action = string.Create(CultureInfo.InvariantCulture,
            $"Replace {start:yyyy-MM-dd}..{end:yyyy-MM-dd} {request.Metric} for {scope} with {headers.Count} file(s), {totalBytes / 1048576.0:N1} MB");
        if (!await shouldProcess(target, action).ConfigureAwait(false))
        {
            return null;
        }

        Guid importId = Guid.NewGuid();
        var lineage = new LineageValues(scope, request.Metric, start, end, importId, DateTime.UtcNow);
        string activity = string.Create(CultureInfo.InvariantCulture, $"Import {scope} {request.Metric} {start:yyyy-MM-dd}..{end:yyyy-MM-dd}");

        void OnRows(CostRowReader r)
        {
            int percent = totalBytes > 0 ? (int)Math.Min(99, r.BytesRead * 100 / totalBytes) : -1;
            string status = string.Create(CultureInfo.InvariantCulture,
                $"{r.RowsRead:N0} rows, {r.BytesRead / 1048576.0:N1} of {totalBytes / 1048576.0:N1} MB, {r.RowsRead / Math.Max(0.001, stopwatch.Elapsed.TotalSeconds):N0} rows/s");
            log.Verbose($"{Path.GetFileName(r.CurrentFile)}: {status}");
            progress?.Report(new EngineProgress(progressId, activity, status, percent));
        }

        CostDataReader? opened = null;
        CostDataReader OpenReader() => opened = new(headers, columns, lineage, cancellationToken)
        {
            NotifyAfter = Math.Max(1, request.BatchSize),
            OnRows = OnRows,
        };

        progress?.Report(new EngineProgress(progressId, activity, $"Connecting to {sink.Describe()}", 0));
        TimeSpan waitStart = stopwatch.Elapsed;
        await SettleAsync(warmUp, log).ConfigureAwait(false);
        log.Debug(string.Create(CultureInfo.InvariantCulture, $"Waited {(stopwatch.Elapsed - waitStart).TotalMilliseconds:N0} ms for the database warm-up ({stopwatch.Elapsed.TotalMilliseconds:N0} ms into the import)."));
        SinkResult result;
        try
        {
            Func<SinkCommit, CancellationToken, Task>? beforeCommit = request.BeforeCommit is { } hook
                ? (c, ct) => hook(new ImportCommit(c.Connection, c.Transaction, importId, c.RowsInserted, c.RowsReplaced, totalBytes), ct)
                : null;
            result = await sink.LoadAsync(columns, OpenReader, scope, request.Metric, start, end, request.BatchSize, request.LockTimeout, log, cancellationToken, beforeCommit).ConfigureAwait(false);
        }
        finally
        {
            progress?.Report(new EngineProgress(progressId, activity, "Done", 100, Completed: true));
        }

        stopwatch.Stop();
        CostRowReader.WarnJsonKeptAsText(opened, log);

        return new ImportOutcome(
            sink.Describe(),
            request.Target.Provider.ToString(),
            request.Target.Table,
            request.Target.Dialect.DefaultSchema is null ? null : request.Target.EffectiveSchema,
            scope,
            request.Metric,
            start,
            end,
            request.Files.Select(Path.GetFullPath).ToArray(),
            result.RowsInserted,
            result.RowsReplaced,
            totalBytes,
            stopwatch.Elapsed,
            importId,
            result.ColumnsAdded);
    }

    /// <summary>The union of the files' columns (first file's order, then new ones as they appear), checked against the database's identifier rules.</summary>
    public static IReadOnlyList<CostColumn> UnifyColumns(IReadOnlyList<CostFileHeader> headers, SqlDialect dialect)
    {
        var columns = new List<CostColumn>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var lineage = new HashSet<string>(LineageColumns.All.Select(c => c.Name), StringComparer.OrdinalIgnoreCase);
        foreach (CostFileHeader header in headers)
        {
            for (int i = 0; i < header.Columns.Count; i++)
            {
                CostColumn column = header.Columns[i];
                if (lineage.Contains(column.Name))
                {
                    throw new EngineException(EngineErrorKind.CsvBadHeader,
                        $"{header.Path}: line 1: column '{CsvText.Printable(header.RawNames[i])}' has the name of a lineage column the module adds itself.")
                    {
                        FilePath = header.Path,
                        Line = 1,
                        Column = header.RawNames[i],
                    };
                }

                if (seen.Add(column.Name))
                {
                    try
                    {
                        dialect.Validate(column.Name);
                    }
                    catch (EngineException e)
                    {
                        throw new EngineException(EngineErrorKind.InvalidIdentifier, $"{header.Path}: line 1: {CsvText.Printable(e.Message)}", e)
                        {
                            FilePath = header.Path,
                            Line = 1,
                            Column = header.RawNames[i],
                        };
                    }

                    columns.Add(column);
                }
            }
        }

        return columns;
    }
}
