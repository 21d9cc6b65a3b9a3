using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// How a run's units flow through its stages: how many finished reports may wait for a download slot before no new
/// report is requested, how many units download at once (and how many blobs across them), and how many loads run at
/// once. Reports in flight are not counted: they start as fast as the API's published limits allow (the report
/// source's pacing, <see cref="ReportScheduler"/>). A stage takes its next unit when it has a free slot and the stage
/// after it has room, so each bound holds.
/// </summary>
internal sealed record SyncSchedule(int ReadyReports, int Downloads, int Blobs, int Loads)
{
    /// <summary>-ThrottleLimit units downloading and blobs at once, <paramref name="loads"/> loads; up to 4 x -ThrottleLimit (at least 16) finished reports waiting.</summary>
    public static SyncSchedule For(int throttleLimit, int loads) => new(Math.Max(16, 4 * throttleLimit), throttleLimit, throttleLimit, Math.Max(1, loads));
}

/// <summary>
/// One Sync run: plans the units (scope x metric x month) from the request and the state table, marks them Running,
/// then runs them through three stages joined by bounded queues (<see cref="SyncSchedule"/>): the report stage requests
/// the units' reports as fast as the source's pacing allows (per scope, tenant, billing account and client, not a slot
/// count: <see cref="ReportScheduler"/>) and waits for each (<see cref="ICostReportSource"/>); the download stage saves its blobs into the
/// unit's own folder with the same rules as Save-AzCostBlob (<see cref="BlobSaver"/>: names, parallel blobs, links
/// requested again when they expire); the load stage replaces the month (<see cref="CostImporter"/>) with its Loaded
/// state row in the load's transaction, and removes the unit's files; loads run -ThrottleLimit at once where the
/// database takes concurrent loads of different units (PostgreSQL, SQL Server; one at a time on SQLite), the first one
/// alone when the table does not exist yet (it creates the table). A unit goes on to the next stage as soon as it
/// is ready, so one unit's load overlaps others' downloads and reports; the outcomes are handed on in plan order. A
/// unit that fails is recorded as Failed and reported; the others go on. Cancellation stops everything: a load in
/// progress rolls back, and units not finished stay Running in the state, which the next run treats as not loaded.
/// A run over Cost Management exports (<see cref="SyncRequest.Exports"/>, <see cref="ExportSync"/>) plans its own units
/// and goes through the same pipeline (<see cref="RunStagesAsync"/>) and hand-over (<see cref="HandOverAsync"/>): its
/// download stage fetches a run's parts, its load stage loads them.
/// </summary>
public sealed class SyncRunner
{
    private const int ParentProgressId = SyncWork.ParentProgressId;
    private readonly SyncRequest _request;
    private readonly ICostReportSource _reports;
    private readonly IBlobSource _blobs;
    private readonly SyncStateStore _store;
    private readonly CostSink _sink;

    /// <summary>A run of <paramref name="request"/>; <paramref name="reports"/> and <paramref name="blobs"/> may be null for an exports source.</summary>
    public SyncRunner(SyncRequest request, ICostReportSource? reports, IBlobSource? blobs)
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
        _sink = CostSink.Create(request.Target);
        _store = new SyncStateStore(request.Target);
        Schedule = SyncSchedule.For(request.ThrottleLimit, _sink.SupportsConcurrentLoads ? request.ThrottleLimit : 1);
    }

    public SyncStateStore State => _store;

    /// <summary>The stages' bounds (from the request; tests set their own).</summary>
    internal SyncSchedule Schedule { get; init; }

    /// <summary>The units of the run before anything is requested (also what -WhatIf shows): Pending to load, or Skipped.</summary>
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
                        Action = d.Load ? SyncAction.Pending : SyncAction.Skipped,
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
    /// <paramref name="onUnit"/> receives every unit's outcome (skipped ones included; declined ones not), in plan order,
    /// as soon as it and those before it are known. Throws only for what concerns the whole run (the database cannot be
    /// reached, the state table cannot be written, cancellation).
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
            // Cost Management exports instead of the Cost Details API: the export importer plans, the same pipeline fetches and loads.
            // Its loads go one at a time: each checks the export state under the table's lock.
            return await ExportSync.RunAsync(_request, exports, Schedule with { Loads = 1 }, shouldProcess, onUnit, log, progress, cancellationToken).ConfigureAwait(false);
        }

        DateTime started = DateTime.UtcNow;
        SyncRequest r = _request;
        string target = $"{r.Target.DisplayTable} on {_store.Describe()}";

        // Reading first: with -WhatIf (nothing to load) nothing is written, not even the state table.
        IReadOnlyList<SyncStateRow> state = await _store.ReadAsync(null, cancellationToken).ConfigureAwait(false) ?? Array.Empty<SyncStateRow>();
        IReadOnlyList<SyncUnitOutcome> units = Plan(r, state, DateTimeOffset.UtcNow);
        int scopes = units.Select(u => u.Key.Scope).Distinct(StringComparer.Ordinal).Count();
        log.Verbose(string.Create(CultureInfo.InvariantCulture,
            $"Sync run {r.RunId}: {units.Count} unit(s) over {scopes} scope(s), {units.Count(u => u.Action == SyncAction.Pending)} to load, {units.Count(u => u.Action == SyncAction.Skipped)} complete; state in {_store.QualifiedTable}."));

        var toLoad = new List<SyncUnitOutcome>();
        var reported = new List<SyncUnitOutcome>();
        foreach (SyncUnitOutcome unit in units)
        {
            if (unit.Action == SyncAction.Skipped)
            {
                log.Verbose($"{unit.Key}: skipped, {unit.Reason}.");
                reported.Add(unit);
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

        // With loads at once, the first one alone creates a table that does not exist yet; the others wait for it.
        FirstLoadGate? gate = await FirstLoadGate.ForAsync(_sink, Schedule, toLoad.Count, r.LockTimeout, cancellationToken).ConfigureAwait(false);
        await HandOverAsync(reported, toLoad, RunUnitsAsync(toLoad, runFolder.Path, gate, log, progress, cancellationToken), r.Activity, "unit(s)", onUnit, progress, cancellationToken).ConfigureAwait(false);
        return new SyncRunOutcome(r.RunId, _store.Describe(), r.Target.Table, _store.StateTarget.Table, started, DateTime.UtcNow, scopes, reported);
    }

    /// <summary>
    /// The pipeline: report stage (reports requested as the source's pacing allows: <see cref="ReportScheduler"/>),
    /// download stage, load stage, each bounded by <see cref="Schedule"/> and each taking units as the stage before
    /// finishes them; the units come out in the order of <paramref name="units"/>.
    /// </summary>
    internal IAsyncEnumerable<SyncUnitOutcome> RunUnitsAsync(IReadOnlyList<SyncUnitOutcome> units, string runFolder, FirstLoadGate? gate, IEngineLog log, IProgress<EngineProgress>? progress, CancellationToken cancellationToken)
    {
        SyncSchedule s = Schedule;
        var saver = new BlobSaver(_blobs, new BlobSaveOptions { ThrottleLimit = s.Blobs, Refresh = true, RefreshNote = "requesting the report again for fresh links" });
        IReadOnlyList<UnitWork> work = units.Select((u, i) => new UnitWork(u, i, runFolder, progress)).ToList();
        IAsyncEnumerable<SyncUnitOutcome> done = RunStagesAsync(work, s,
            all => Values(ReportScheduler.RunAsync(all, ReportRequestOf, _reports, (w, _, ct) => RequestStageAsync(w, log, ct), s.ReadyReports, cancellationToken)),
            (w, ct) => DownloadStageAsync(w, saver, log, ct),
            (w, ct) => LoadStageAsync(w, log, ct),
            gate,
            log,
            cancellationToken);
        return Disposing(done, saver, cancellationToken);
    }

    /// <summary>
    /// The stages of a run, whatever its source: <paramref name="request"/> (the units as their reports are ready; none
    /// for a source with nothing to request), <paramref name="download"/> and <paramref name="load"/>, each with the
    /// bounds of <paramref name="schedule"/> (the first load alone when <paramref name="gate"/> says the table is new),
    /// each taking units as the stage before hands them on (a stage records a unit's failure in it rather than throwing,
    /// and the later stages pass a failed unit through); the outcomes come out in the order of <paramref name="work"/>.
    /// </summary>
    internal static IAsyncEnumerable<SyncUnitOutcome> RunStagesAsync<TWork>(
        IReadOnlyList<TWork> work,
        SyncSchedule schedule,
        Func<IReadOnlyList<TWork>, IAsyncEnumerable<TWork>>? request,
        Func<TWork, CancellationToken, Task<TWork>> download,
        Func<TWork, CancellationToken, Task<SyncUnitOutcome>> load,
        FirstLoadGate? gate,
        IEngineLog log,
        CancellationToken cancellationToken)
        where TWork : SyncWork
    {
        IAsyncEnumerable<TWork> requested = request is null ? FanOut.ToAsync(work) : request(work);
        IAsyncEnumerable<TWork> downloaded = Values(FanOut.InCompletionOrder(requested, schedule.Downloads, (w, _, ct) => download(w, ct), schedule.Loads, cancellationToken));
        IAsyncEnumerable<(int, SyncUnitOutcome)> loaded = Values(FanOut.InCompletionOrder(downloaded, schedule.Loads,
            async (w, _, ct) => (w.Position, await (gate is null ? load(w, ct) : gate.LoadAsync(w, load, log, ct)).ConfigureAwait(false)), 1, cancellationToken));
        return FanOut.Reorder(loaded, cancellationToken);
    }

    /// <summary>
    /// Hands every unit of a run to <paramref name="onUnit"/> in plan order (<paramref name="reported"/>): a unit with
    /// nothing to do at once, a unit of <paramref name="toLoad"/> when <paramref name="pipeline"/> gives it back (in the
    /// same order), with the run's progress bar counting <paramref name="noun"/> done and failed. Shared by both sources.
    /// </summary>
    internal static async Task HandOverAsync(
        IReadOnlyList<SyncUnitOutcome> reported,
        IReadOnlyList<SyncUnitOutcome> toLoad,
        IAsyncEnumerable<SyncUnitOutcome> pipeline,
        string activity,
        string noun,
        Action<SyncUnitOutcome> onUnit,
        IProgress<EngineProgress>? progress,
        CancellationToken cancellationToken)
    {
        var loading = new HashSet<SyncUnitOutcome>(toLoad, ReferenceEqualityComparer.Instance);
        int finished = 0;
        int failed = 0;
        void Parent()
        {
            progress?.Report(new EngineProgress(ParentProgressId, activity,
                string.Create(CultureInfo.InvariantCulture, $"{finished} of {toLoad.Count} {noun} done, {failed} failed"),
                toLoad.Count == 0 ? 100 : finished * 100 / toLoad.Count));
        }

        Parent();
        try
        {
            await using IAsyncEnumerator<SyncUnitOutcome> done = pipeline.GetAsyncEnumerator(cancellationToken);
            foreach (SyncUnitOutcome unit in reported)
            {
                if (loading.Contains(unit))
                {
                    // The pipeline hands the units to load back in plan order, so the next one out is this one.
                    if (!await done.MoveNextAsync().ConfigureAwait(false) || !ReferenceEquals(done.Current, unit))
                    {
                        throw new InvalidOperationException("The sync pipeline handed back the units out of order.");
                    }

                    finished++;
                    failed += unit.Action == SyncAction.Failed ? 1 : 0;
                    Parent();
                }

                onUnit(unit);
            }
        }
        finally
        {
            progress?.Report(new EngineProgress(ParentProgressId, activity, "Done", 100, Completed: true));
        }
    }

    private CostReportRequest ReportRequestOf(UnitWork w)
        => new(w.Unit.Key.Scope, w.Unit.Key.Metric, w.Unit.PeriodStart, w.Unit.PeriodEnd) { ApiVersion = _request.ApiVersion };

    private async Task<UnitWork> RequestStageAsync(UnitWork w, IEngineLog log, CancellationToken ct)
    {
        SyncUnitOutcome unit = w.Unit;
        w.Status("Requesting the report");
        var stage = Stopwatch.StartNew();
        try
        {
            CostReportResult report = await _reports.RequestAsync(ReportRequestOf(w), log, w.Child, w.ProgressId, ct).ConfigureAwait(false);
            unit.ReportDuration = stage.Elapsed;
            Took(unit, report);
            w.Report = report;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await FailAsync(w, e, log, ct).ConfigureAwait(false);
        }

        return w;
    }

    private async Task<UnitWork> DownloadStageAsync(UnitWork w, BlobSaver saver, IEngineLog log, CancellationToken ct)
    {
        if (w.Unit.Action == SyncAction.Failed || w.Report is not { Blobs.Count: > 0 } report)
        {
            return w;
        }

        SyncUnitOutcome unit = w.Unit;
        var stage = Stopwatch.StartNew();
        try
        {
            PrivateFiles.CreateFolder(w.Folder);
            var bytes = new BytesProgress(w.Child, w.ProgressId, w.Activity, report.ByteCount);
            SavePlan? plan = await saver.PlanAsync(report, w.Folder, _reports, shouldProcess: null, log, bytes).ConfigureAwait(false);
            if (plan is not null)
            {
                SaveOutcome saved = await saver.SaveOneAsync(plan, log, ct).ConfigureAwait(false);
                if (!saved.Succeeded)
                {
                    throw saved.Errors.Count == 1 ? saved.Errors[0] : new AggregateException(saved.Errors);
                }

                if (!ReferenceEquals(saved.Report, report))
                {
                    Took(unit, saved.Report); // requested again for fresh links
                    w.Report = saved.Report;
                }

                w.Files = saved.Files.Select(f => f.Path).ToList();
                unit.Bytes = saved.Files.Sum(f => f.Bytes);
            }

            unit.DownloadDuration = stage.Elapsed;
            w.Status("Waiting for the database");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await FailAsync(w, e is AggregateException { InnerExceptions.Count: > 0 } a ? a.InnerExceptions[0] : e, log, ct).ConfigureAwait(false);
        }

        return w;
    }

    private async Task<SyncUnitOutcome> LoadStageAsync(UnitWork w, IEngineLog log, CancellationToken ct)
    {
        SyncUnitOutcome unit = w.Unit;
        if (unit.Action == SyncAction.Failed)
        {
            return unit;
        }

        SyncRequest r = _request;
        var stage = Stopwatch.StartNew();
        try
        {
            DateTime monthStart = unit.Key.Month.ToDateTime(TimeOnly.MinValue);
            DateTime monthEnd = CostReportPlanner.LastOfMonth(unit.Key.Month).ToDateTime(TimeOnly.MinValue); // the whole month is replaced
            if (w.Files.Count == 0)
            {
                // No data for the month: the month is replaced with nothing (rows of an earlier load, if any, are removed),
                // with its state row in the same transaction.
                unit.RowsReplaced = await CostSink.Create(r.Target).ClearPeriodAsync(
                    unit.Key.Scope, unit.Key.Metric, monthStart, monthEnd, r.LockTimeout,
                    (c, t) => _store.MarkLoadedAsync(c.Connection, c.Transaction, Record(unit, w.Started, null, 0, 0), t),
                    ct).ConfigureAwait(false);
                unit.LoadDuration = stage.Elapsed;
                unit.Reason += "; the report has no data";
                unit.Action = SyncAction.Loaded;
                log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{unit.Key}: the report has no data ({w.Report?.Status}); {unit.RowsReplaced:N0} earlier row(s) of the month removed."));
            }
            else
            {
                var import = new ImportRequest(r.Target, unit.Key.Scope, unit.Key.Metric, monthStart, monthEnd, w.Files)
                {
                    BatchSize = r.BatchSize,
                    LockTimeout = r.LockTimeout,
                    Activity = w.Activity,
                    BeforeCommit = (c, t) => _store.MarkLoadedAsync(c.Connection, c.Transaction, Record(unit, w.Started, c.ImportId, c.RowsInserted, c.Bytes), t),
                };
                ImportOutcome? outcome = await CostImporter.ImportAsync(import, (_, _) => Task.FromResult(true), log, w.Child, w.ProgressId, ct).ConfigureAwait(false);
                unit.LoadDuration = stage.Elapsed;
                if (outcome is not null)
                {
                    unit.Rows = outcome.RowsInserted;
                    unit.RowsReplaced = outcome.RowsReplaced;
                    unit.ImportId = outcome.ImportId;
                }

                unit.Action = SyncAction.Loaded;
                log.Verbose(string.Create(CultureInfo.InvariantCulture,
                    $"{unit.Key}: loaded {unit.Rows:N0} rows (replaced {unit.RowsReplaced:N0}) from {w.Files.Count} file(s), {unit.Bytes / 1048576.0:N1} MB{(unit.IsFinal ? ", final" : string.Empty)}."));
            }

            Finish(w, log);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await FailAsync(w, e, log, ct).ConfigureAwait(false);
        }

        return unit;
    }

    /// <summary>Records a unit as Failed (in the state too, when it can be written) and lets go of its files.</summary>
    private async Task FailAsync(UnitWork w, Exception e, IEngineLog log, CancellationToken ct)
    {
        SyncRequest r = _request;
        SyncUnitOutcome unit = w.Unit;
        unit.Action = SyncAction.Failed;
        unit.Error = e;
        string message = SyncText.Scrub(e.Message);
        log.Verbose($"{unit.Key}: failed: {message}");
        try
        {
            await _store.MarkFailedAsync(unit.Key, message, unit.OperationId, w.Started, DateTime.UtcNow, r.RunId, r.Host, r.LockTimeout, ct).ConfigureAwait(false);
        }
        catch (Exception stateError) when (stateError is not OperationCanceledException)
        {
            log.Warning($"{unit.Key}: the failure could not be recorded in {_store.QualifiedTable}: {SyncText.Scrub(stateError.Message)}");
        }

        Finish(w, log);
    }

    /// <summary>A unit leaves the pipeline: its time, its bar completed, its files removed (unless kept).</summary>
    private void Finish(UnitWork w, IEngineLog log)
    {
        w.Unit.Elapsed = w.Total.Elapsed;
        w.Child.Report(new EngineProgress(w.ProgressId, w.Activity, "Done", 100, Completed: true));
        if (!_request.KeepFiles)
        {
            DeleteFolder(w.Folder, log);
        }
    }

    private static void Took(SyncUnitOutcome unit, CostReportResult report)
    {
        unit.OperationId = report.OperationId;
        unit.IsFinal = SyncPlanner.IsFinal(unit.Key.Month, report.RequestedAt == default ? DateTimeOffset.UtcNow : report.RequestedAt);
        unit.Blobs = report.Blobs.Count;
    }

    private static async IAsyncEnumerable<T> Values<T>(IAsyncEnumerable<(int Index, T Result)> source)
    {
        await foreach ((int _, T value) in source.ConfigureAwait(false))
        {
            yield return value;
        }
    }

    private static async IAsyncEnumerable<T> Disposing<T>(IAsyncEnumerable<T> source, BlobSaver owned, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        try
        {
            await foreach (T value in source.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                yield return value;
            }
        }
        finally
        {
            owned.Dispose();
        }
    }

    /// <summary>A unit of the Cost Details API on its way through the stages: its report, then its files.</summary>
    private sealed class UnitWork(SyncUnitOutcome unit, int position, string runFolder, IProgress<EngineProgress>? progress)
        : SyncWork(unit, position, runFolder, progress)
    {
        public CostReportResult? Report { get; set; }

        public IReadOnlyList<string> Files { get; set; } = Array.Empty<string>();
    }

    /// <summary>Stands in for the report and blob sources of a run over exports, which uses neither.</summary>
    private sealed class NoReports : ICostReportSource, IBlobSource
    {
        public static readonly NoReports Instance = new();

        public Task<CostReportResult> RequestAsync(CostReportRequest request, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken cancellationToken)
            => throw new InvalidOperationException("A run over exports requests no reports.");

        public Task<BlobDownloadOutcome> DownloadAsync(BlobDownloadRequest request, IEngineLog log, IProgress<long>? bytesWritten, CancellationToken cancellationToken)
            => throw new InvalidOperationException("A run over exports downloads no report blobs.");
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

    /// <summary>Removes a run's or a unit's folder (never through a link).</summary>
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

    /// <summary>Download progress: bytes on disk of the unit's blobs against the report's byte count, at most a few updates a second.</summary>
    private sealed class BytesProgress(IProgress<EngineProgress> inner, int id, string activity, long total) : IProgress<long>
    {
        private long _bytes;
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
                string.Create(CultureInfo.InvariantCulture, $"Downloading blobs: {bytes / 1048576.0:N1} of {total / 1048576.0:N1} MB"), percent));
        }
    }
}
