using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// One Sync run: plans the units (scope x metric x month) from the request and the state table, marks them Running,
/// then runs them with bounded parallelism. Each unit requests its report, downloads its blobs into its own folder,
/// loads them (loads of the target are serialised here and by the target's lock, so one unit's download overlaps
/// another's load) with its Loaded state row written in the load's transaction, and removes its files. A unit that
/// fails is recorded as Failed and reported; the others go on. Cancellation stops everything: a load in progress rolls
/// back, and units not finished stay Running in the state, which the next run treats as not loaded.
/// </summary>
public sealed class SyncRunner : IDisposable
{
    private const int ParentProgressId = 1;
    private const int UnitProgressBase = 100;
    private readonly SyncRequest _request;
    private readonly ISyncReportSource _reports;
    private readonly ISyncBlobSource _blobs;
    private readonly SyncStateStore _store;
    private readonly SemaphoreSlim _loadGate = new(1, 1);

    /// <summary>A run of <paramref name="request"/>; <paramref name="reports"/> and <paramref name="blobs"/> may be null for an exports source.</summary>
    public SyncRunner(SyncRequest request, ISyncReportSource? reports, ISyncBlobSource? blobs)
    {
        _request = request ?? throw new ArgumentNullException(nameof(request));
        _reports = reports ?? (request.Exports is null ? throw new ArgumentNullException(nameof(reports)) : NoReports.Instance);
        _blobs = blobs ?? (request.Exports is null ? throw new ArgumentNullException(nameof(blobs)) : NoReports.Instance);
        if (request.Scopes.Count == 0 && request.Exports is null)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "No scope to sync.");
        }

        if (request.ThrottleLimit < 1)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "ThrottleLimit must be at least 1.");
        }

        // Every name the run will create (cost table, index, state table, schema) is checked before anything is requested.
        _ = CostSink.Create(request.Target);
        _store = new SyncStateStore(request.Target);
    }

    public SyncStateStore State => _store;

    public void Dispose() => _loadGate.Dispose();

    /// <summary>The units of the run before anything is requested (also what -WhatIf shows).</summary>
    public static IReadOnlyList<SyncUnitOutcome> Plan(SyncRequest request, IReadOnlyList<SyncStateRow> state, DateTimeOffset nowUtc)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(state);
        DateOnly today = DateOnly.FromDateTime(nowUtc.UtcDateTime);
        var scopes = new List<string>();
        foreach (string s in request.Scopes)
        {
            string scope = CostReportPlanner.ParseScope(s).Scope;
            if (!scopes.Contains(scope, StringComparer.Ordinal))
            {
                scopes.Add(scope);
            }
        }

        var metrics = request.Metrics.Count == 0
            ? new List<string> { "ActualCost" }
            : request.Metrics.Select(CostReportPlanner.NormaliseMetric).Distinct(StringComparer.Ordinal).ToList();
        var units = new List<SyncUnitOutcome>();
        foreach (string scope in scopes)
        {
            foreach (string metric in metrics)
            {
                IEnumerable<SyncMonthDecision> decisions = request.Months is { } months
                    ? months.Select(m => new SyncMonthDecision(SyncPlanner.MonthOf(m), true, SyncReason.Requested, "requested"))
                    : SyncPlanner.DefaultPeriod(nowUtc, request.LookbackMonths, state.Where(r => r.Scope == scope && r.Metric == metric));
                foreach (SyncMonthDecision d in decisions)
                {
                    DateOnly last = CostReportPlanner.LastOfMonth(d.Month);
                    units.Add(new SyncUnitOutcome
                    {
                        Key = new SyncUnitKey(scope, metric, d.Month),
                        Index = units.Count,
                        PeriodStart = d.Month,
                        PeriodEnd = last < today ? last : today,
                        Action = d.Load ? SyncAction.Loaded : SyncAction.Skipped,
                        Reason = d.Detail,
                        IsFinal = d.Reason == SyncReason.Complete,
                    });
                }
            }
        }

        return units;
    }

    /// <summary>
    /// Runs the sync. <paramref name="shouldProcess"/> is asked once per unit to load, before anything is requested;
    /// <paramref name="onUnit"/> receives every unit's outcome as it is known (skipped ones first). Throws only for
    /// what concerns the whole run (the database cannot be reached, the state table cannot be written, cancellation).
    /// </summary>
    public async Task<SyncRunOutcome> RunAsync(
        Func<string, string, Task<bool>> shouldProcess,
        Action<SyncUnitOutcome> onUnit,
        IEngineLog log,
        IProgress<EngineProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shouldProcess);
        ArgumentNullException.ThrowIfNull(onUnit);
        ArgumentNullException.ThrowIfNull(log);
        if (_request.Exports is { } exports)
        {
            // Cost Management exports instead of the Cost Details API: the export importer plans and loads, in this run's folder.
            return await ExportSync.RunAsync(_request, exports, _loadGate, shouldProcess, onUnit, log, progress, cancellationToken).ConfigureAwait(false);
        }

        DateTime started = DateTime.UtcNow;
        SyncRequest r = _request;
        string target = $"{r.Target.DisplayTable} on {_store.Describe()}";

        // Reading first: with -WhatIf (nothing to load) nothing is written, not even the state table.
        IReadOnlyList<SyncStateRow> state = await _store.ReadAsync(null, cancellationToken).ConfigureAwait(false) ?? Array.Empty<SyncStateRow>();
        IReadOnlyList<SyncUnitOutcome> units = Plan(r, state, DateTimeOffset.UtcNow);
        int scopes = units.Select(u => u.Key.Scope).Distinct(StringComparer.Ordinal).Count();
        log.Verbose(string.Create(CultureInfo.InvariantCulture,
            $"Sync run {r.RunId}: {units.Count} unit(s) over {scopes} scope(s), {units.Count(u => u.Action == SyncAction.Loaded)} to load, {units.Count(u => u.Action == SyncAction.Skipped)} complete; state in {_store.QualifiedTable}."));

        var toLoad = new List<SyncUnitOutcome>();
        var reported = new List<SyncUnitOutcome>();
        foreach (SyncUnitOutcome unit in units)
        {
            if (unit.Action == SyncAction.Skipped)
            {
                log.Verbose($"{unit.Key}: skipped, {unit.Reason}.");
                reported.Add(unit);
                onUnit(unit);
                continue;
            }

            string action = string.Create(CultureInfo.InvariantCulture, $"Replace {unit.Key.MonthText} {unit.Key.Metric} for {unit.Key.Scope} ({unit.Reason})");
            if (await shouldProcess(target, action).ConfigureAwait(false))
            {
                toLoad.Add(unit);
                reported.Add(unit);
            }
        }

        // The working folder is checked (and this run's folder made) before any unit is marked Running.
        await using SyncRunFolder runFolder = SyncRunFolder.Claim(r, toLoad.Count > 0, log);
        try
        {
            if (toLoad.Count > 0)
            {
                await _store.EnsureAsync(r.LockTimeout, cancellationToken).ConfigureAwait(false);
                await _store.MarkRunningAsync(toLoad.Select(u => u.Key).ToList(), started, r.RunId, r.Host, r.LockTimeout, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await runFolder.ReleaseAsync(delete: true).ConfigureAwait(false);
            throw;
        }

        await RunUnitsAsync(toLoad, async (unit, ct) =>
        {
            await RunUnitAsync(unit, runFolder.Path, log, progress, ct).ConfigureAwait(false);
            return unit;
        }, "unit(s)", r.ThrottleLimit, onUnit, progress, cancellationToken).ConfigureAwait(false);

        return new SyncRunOutcome(r.RunId, _store.Describe(), r.Target.Table, _store.StateTarget.Table, started, DateTime.UtcNow, scopes, reported.OrderBy(u => u.Index).ToList());
    }

    /// <summary>
    /// Runs the units to load with bounded parallelism (<paramref name="throttle"/>), each through <paramref name="run"/>
    /// (which records a failure in the unit rather than throwing), hands every outcome to <paramref name="onUnit"/> as it
    /// is known and reports the run's progress (<paramref name="noun"/>: what is counted). Shared by the Cost Details API
    /// and the exports source.
    /// </summary>
    internal static async Task RunUnitsAsync<T>(
        IReadOnlyList<T> items,
        Func<T, CancellationToken, Task<SyncUnitOutcome>> run,
        string noun,
        int throttle,
        Action<SyncUnitOutcome> onUnit,
        IProgress<EngineProgress>? progress,
        CancellationToken cancellationToken)
    {
        int finished = 0;
        int failed = 0;
        void Parent()
        {
            int done = Volatile.Read(ref finished);
            progress?.Report(new EngineProgress(ParentProgressId, "Sync-AzBilling",
                string.Create(CultureInfo.InvariantCulture, $"{done} of {items.Count} {noun} done, {Volatile.Read(ref failed)} failed"),
                items.Count == 0 ? 100 : done * 100 / items.Count));
        }

        Parent();
        try
        {
            await Parallel.ForEachAsync(
                items,
                new ParallelOptions { MaxDegreeOfParallelism = throttle, CancellationToken = cancellationToken },
                async (item, ct) =>
                {
                    SyncUnitOutcome unit = await run(item, ct).ConfigureAwait(false);
                    if (unit.Action == SyncAction.Failed)
                    {
                        Interlocked.Increment(ref failed);
                    }

                    Interlocked.Increment(ref finished);
                    onUnit(unit);
                    Parent();
                }).ConfigureAwait(false);
        }
        finally
        {
            progress?.Report(new EngineProgress(ParentProgressId, "Sync-AzBilling", "Done", 100, Completed: true));
        }
    }

    private async Task RunUnitAsync(SyncUnitOutcome unit, string runFolder, IEngineLog log, IProgress<EngineProgress>? progress, CancellationToken ct)
    {
        SyncRequest r = _request;
        var total = Stopwatch.StartNew();
        DateTime started = DateTime.UtcNow;
        int progressId = UnitProgressBase + (unit.Index % 10_000);
        var child = new ChildProgress(progress, ParentProgressId);
        string activity = $"Sync {unit.Key}";
        string folder = Path.Combine(runFolder, string.Create(CultureInfo.InvariantCulture, $"{unit.Index + 1:D4}-{unit.Key.Metric}-{unit.Key.MonthText}"));
        var stage = Stopwatch.StartNew();
        try
        {
            child.Report(new EngineProgress(progressId, activity, "Requesting the report", -1));
            var reportRequest = new CostReportRequest(unit.Key.Scope, unit.Key.Metric, unit.PeriodStart, unit.PeriodEnd) { ApiVersion = r.ApiVersion };
            CostReportResult report = await _reports.RequestAsync(reportRequest, log, child, progressId, ct).ConfigureAwait(false);
            unit.ReportDuration = stage.Elapsed;
            unit.OperationId = report.OperationId;
            unit.IsFinal = SyncPlanner.IsFinal(unit.Key.Month, report.RequestedAt == default ? DateTimeOffset.UtcNow : report.RequestedAt);
            unit.Blobs = report.Blobs.Count;

            if (report.Blobs.Count == 0)
            {
                // No data for the month: the month is replaced with nothing (rows of an earlier load, if any, are removed),
                // with its state row in the same transaction.
                stage.Restart();
                await _loadGate.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    unit.RowsReplaced = await CostSink.Create(r.Target).ClearPeriodAsync(
                        unit.Key.Scope, unit.Key.Metric,
                        unit.Key.Month.ToDateTime(TimeOnly.MinValue), CostReportPlanner.LastOfMonth(unit.Key.Month).ToDateTime(TimeOnly.MinValue),
                        r.LockTimeout,
                        (c, t) => _store.MarkLoadedAsync(c.Connection, c.Transaction, Record(unit, started, null, 0, 0), t),
                        ct).ConfigureAwait(false);
                }
                finally
                {
                    _loadGate.Release();
                }

                unit.LoadDuration = stage.Elapsed;
                unit.Reason += "; the report has no data";
                log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{unit.Key}: the report has no data ({report.Status}); {unit.RowsReplaced:N0} earlier row(s) of the month removed."));
                return;
            }

            stage.Restart();
            PrivateFiles.CreateFolder(folder);
            var files = new List<string>(report.Blobs.Count);
            long bytesOnDisk = 0;
            foreach (CostReportBlob blob in report.Blobs.OrderBy(b => b.Index))
            {
                string path = Path.Combine(folder, _blobs.FileName(report, blob));
                long expected = report.ByteCount;
                var bytes = new BytesProgress(child, progressId, activity,
                    string.Create(CultureInfo.InvariantCulture, $"Downloading blob {blob.Index} of {report.Blobs.Count}"), bytesOnDisk, expected);
                bytesOnDisk += await _blobs.DownloadAsync(blob, report, path, log, bytes, ct).ConfigureAwait(false);
                files.Add(path);
            }

            unit.DownloadDuration = stage.Elapsed;
            unit.Bytes = bytesOnDisk;

            stage.Restart();
            child.Report(new EngineProgress(progressId, activity, "Waiting for the database", -1));
            await _loadGate.WaitAsync(ct).ConfigureAwait(false);
            ImportOutcome? outcome;
            try
            {
                var import = new ImportRequest(
                    r.Target, unit.Key.Scope, unit.Key.Metric,
                    unit.Key.Month.ToDateTime(TimeOnly.MinValue),
                    CostReportPlanner.LastOfMonth(unit.Key.Month).ToDateTime(TimeOnly.MinValue), // the whole month is replaced
                    files)
                {
                    BatchSize = r.BatchSize,
                    LockTimeout = r.LockTimeout,
                    BeforeCommit = (c, t) => _store.MarkLoadedAsync(c.Connection, c.Transaction, Record(unit, started, c.ImportId, c.RowsInserted, c.Bytes), t),
                };
                outcome = await CostImporter.ImportAsync(import, (_, _) => Task.FromResult(true), log, child, progressId, ct).ConfigureAwait(false);
            }
            finally
            {
                _loadGate.Release();
            }

            unit.LoadDuration = stage.Elapsed;
            if (outcome is not null)
            {
                unit.Rows = outcome.RowsInserted;
                unit.RowsReplaced = outcome.RowsReplaced;
                unit.ImportId = outcome.ImportId;
            }

            log.Verbose(string.Create(CultureInfo.InvariantCulture,
                $"{unit.Key}: loaded {unit.Rows:N0} rows (replaced {unit.RowsReplaced:N0}) from {files.Count} file(s), {unit.Bytes / 1048576.0:N1} MB{(unit.IsFinal ? ", final" : string.Empty)}."));
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            unit.Action = SyncAction.Failed;
            unit.Error = e;
            string message = SyncText.Scrub(e.Message);
            log.Verbose($"{unit.Key}: failed: {message}");
            try
            {
                await _store.MarkFailedAsync(unit.Key, message, unit.OperationId, started, DateTime.UtcNow, r.RunId, r.Host, r.LockTimeout, ct).ConfigureAwait(false);
            }
            catch (Exception stateError) when (stateError is not OperationCanceledException)
            {
                log.Warning($"{unit.Key}: the failure could not be recorded in {_store.QualifiedTable}: {SyncText.Scrub(stateError.Message)}");
            }
        }
        finally
        {
            unit.Elapsed = total.Elapsed;
            child.Report(new EngineProgress(progressId, activity, "Done", 100, Completed: true));
            if (!r.KeepFiles)
            {
                DeleteFolder(folder, log);
            }
        }
    }

    internal const string RunFolderPrefix = "sync-";
    private const string RunLockName = ".run.lock";

    /// <summary>The file the module writes into each run folder it makes; cleanup removes only folders that have it.</summary>
    public const string RunMarkerName = ".azbillingps-sync-run";

    /// <summary>
    /// Makes this run's folder (new, private: <c>sync-&lt;run id as 32 hex digits&gt;</c> with the module's marker file) and
    /// holds its lock file open (exclusively) while the run lives. First removes the folders of earlier runs that ended
    /// without cleaning up (a killed or restarted job): only folders with exactly that name, owned by the user, not a
    /// symbolic link, holding the marker, and whose lock file nobody holds (or, without a lock file, more than a day
    /// old: it may be a run that is just starting). Nothing else in the working folder is touched, and no link is followed.
    /// </summary>
    internal static FileStream ClaimRunFolder(string workingPath, string runFolder, SyncRequest request, IEngineLog log)
    {
        foreach (string dir in Directory.EnumerateFileSystemEntries(workingPath, RunFolderPrefix + "*"))
        {
            if (!IsRunFolderName(Path.GetFileName(dir))
                || PrivateFiles.Inspect(dir) is not { Kind: EntryKind.Directory, OwnedByUser: true }
                || !PrivateFiles.IsOwnedFile(Path.Combine(dir, RunMarkerName)))
            {
                continue; // not a run folder this module made
            }

            string lockPath = Path.Combine(dir, RunLockName);
            bool abandoned;
            if (PrivateFiles.IsOwnedFile(lockPath))
            {
                try
                {
                    using (PrivateFiles.OpenOwned(lockPath, FileAccess.ReadWrite, FileShare.None))
                    {
                    }

                    abandoned = true;
                }
                catch (IOException)
                {
                    abandoned = false; // a run in progress holds it
                }
            }
            else
            {
                abandoned = !PrivateFiles.Inspect(lockPath).Exists && Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddDays(-1);
            }

            if (abandoned)
            {
                log.Verbose($"Removing {dir}: the files of an earlier run that did not finish.");
                DeleteFolder(dir, log);
            }
        }

        PrivateFiles.CreateFolder(runFolder);
        using (FileStream marker = PrivateFiles.CreateNew(Path.Combine(runFolder, RunMarkerName)))
        {
            marker.Write(System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $"AzBillingPS Sync run folder: removed when the run ends, or by a later run when this one did not finish.\nrun={request.RunId}\nhost={request.Host}\nstarted={DateTime.UtcNow:O}\n")));
        }

        return PrivateFiles.CreateNew(Path.Combine(runFolder, RunLockName), FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
    }

    /// <summary>True for exactly <c>sync-</c> and 32 lower-case hex digits (a run id), the only names cleanup considers.</summary>
    internal static bool IsRunFolderName(string name)
    {
        if (name.Length != RunFolderPrefix.Length + 32 || !name.StartsWith(RunFolderPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (char c in name.AsSpan(RunFolderPrefix.Length))
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }

    private SyncLoadRecord Record(SyncUnitOutcome unit, DateTime started, Guid? importId, long rows, long bytes)
        => new(unit.Key, unit.PeriodStart, unit.PeriodEnd, unit.IsFinal, rows, bytes, unit.Blobs, unit.OperationId, importId, started, DateTime.UtcNow, _request.RunId, _request.Host);

    /// <summary>Removes a run's folder (never through a link).</summary>
    internal static void DeleteFolder(string folder, IEngineLog log)
    {
        try
        {
            PrivateFiles.DeleteTree(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning($"Could not remove {folder}: {e.Message}");
        }
    }

    /// <summary>Stands in for the report and blob sources of a run over exports, which uses neither.</summary>
    private sealed class NoReports : ISyncReportSource, ISyncBlobSource
    {
        public static readonly NoReports Instance = new();

        public Task<CostReportResult> RequestAsync(CostReportRequest request, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken cancellationToken)
            => throw new InvalidOperationException("A run over exports requests no reports.");

        public Task<long> DownloadAsync(CostReportBlob blob, CostReportResult report, string destinationPath, IEngineLog log, IProgress<long>? bytesWritten, CancellationToken cancellationToken)
            => throw new InvalidOperationException("A run over exports downloads no report blobs.");

        public string FileName(CostReportResult report, CostReportBlob blob) => string.Empty;
    }

    /// <summary>Stage progress under the run's bar.</summary>
    private sealed class ChildProgress(IProgress<EngineProgress>? inner, int parentId) : IProgress<EngineProgress>
    {
        public void Report(EngineProgress value) => inner?.Report(value with { ParentActivityId = parentId });
    }

    /// <summary>Download progress: bytes on disk of the unit's blobs against the report's byte count, at most a few updates a second.</summary>
    private sealed class BytesProgress(IProgress<EngineProgress> inner, int id, string activity, string status, long before, long total) : IProgress<long>
    {
        private long _bytes = before;
        private long _lastReport;

        public void Report(long value)
        {
            long bytes = Interlocked.Add(ref _bytes, value);
            long now = Environment.TickCount64;
            if (now - Interlocked.Read(ref _lastReport) < 250)
            {
                return;
            }

            Interlocked.Exchange(ref _lastReport, now);
            int percent = total > 0 ? (int)Math.Clamp(bytes * 100 / total, 0, 100) : -1;
            inner.Report(new EngineProgress(id, activity,
                string.Create(CultureInfo.InvariantCulture, $"{status}: {bytes / 1048576.0:N1} of {total / 1048576.0:N1} MB"), percent));
        }
    }
}
