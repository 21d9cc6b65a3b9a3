using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Engine.Exports;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// Cost Management exports as the source of a Sync run, instead of the Cost Details API: a folder, or a storage container
/// read by SAS URL or with a storage token. Which datasets and exports to take; the months are the run's.
/// </summary>
public sealed class SyncExportSource
{
    /// <summary>Opens the store the exports are read from (the run disposes it).</summary>
    public required Func<IExportStore> OpenStore { get; init; }

    /// <summary>Only these datasets (ActualCost, AmortizedCost, FocusCost, ...); all when empty.</summary>
    public IReadOnlyList<string> Datasets { get; init; } = Array.Empty<string>();

    /// <summary>Only exports whose name matches one of these (wildcards); all when empty.</summary>
    public IReadOnlyList<string> ExportNames { get; init; } = Array.Empty<string>();
}

/// <summary>
/// The exports step of a Sync run (what <see cref="SyncRunner"/> runs when the request names an exports source): the
/// export importer plans the newest run of every export and month against its state table (&lt;table&gt;_ExportState),
/// and every run newer than what the table holds is one unit of the run's pipeline (<see cref="SyncRunner.RunStagesAsync"/>,
/// the same bounds as a run over the Cost Details API): its download stage fetches the run's parts, its load stage loads
/// them (one load at a time); the same run folder, and the units handed over in plan order (<see cref="SyncRunner.HandOverAsync"/>).
/// What is new since the last run is loaded, and nothing twice: the state row commits with the rows, and is checked
/// again under the table's lock, so a second run at the same time rolls its copy back instead of loading it again.
/// </summary>
internal static class ExportSync
{
    public static async Task<SyncRunOutcome> RunAsync(
        SyncRequest request,
        SyncExportSource source,
        SyncSchedule schedule,
        Func<string, string, Task<bool>> shouldProcess,
        Action<SyncUnitOutcome> onUnit,
        IEngineLog log,
        IProgress<EngineProgress>? progress,
        CancellationToken cancellationToken)
    {
        DateTime started = DateTime.UtcNow;
        SyncRequest r = request;
        using IExportStore store = source.OpenStore();
        var exportRequest = new ExportImportRequest
        {
            Target = r.Target,
            Datasets = source.Datasets,
            ExportNames = source.ExportNames,
            Months = r.Months,
            BatchSize = r.BatchSize,
            LockTimeout = r.LockTimeout,
            Host = r.Host,
            WorkingPath = r.WorkingPath,
            KeepFiles = r.KeepFiles,
        };

        var plan = await ExportImporter.PlanAsync(store, exportRequest, log, cancellationToken).ConfigureAwait(false);
        var stateTable = new ExportStateStore(r.Target);
        string database = Sinks.CostSink.Create(r.Target).Describe();
        string target = $"{r.Target.DisplayTable} on {database}";
        log.Verbose(string.Create(CultureInfo.InvariantCulture,
            $"Sync run {r.RunId} from {store.Describe()}: {plan.Count} export month(s), {plan.Count(p => p.Outcome.Action == ExportAction.Loaded)} with a run to load; state in {stateTable.QualifiedTable}."));

        var reported = new List<SyncUnitOutcome>();
        var toLoad = new List<(SyncUnitOutcome Unit, ExportRunOutcome Outcome, ExportManifest Manifest, IReadOnlyList<string> Parts)>();
        foreach ((ExportRunOutcome outcome, ExportManifest? manifest, IReadOnlyList<string> parts) in plan)
        {
            SyncUnitOutcome unit = ToUnit(outcome, reported.Count);
            if (outcome.Action != ExportAction.Loaded || manifest is null)
            {
                log.Verbose($"{unit.Key}: {outcome.Action.ToString().ToLowerInvariant()}, {unit.Reason}.");
                reported.Add(unit);
                continue;
            }

            string action = string.Create(CultureInfo.InvariantCulture, $"Replace {unit.Key.MonthText} {outcome.Dataset} for {outcome.Scope} with run {outcome.RunId} of export {outcome.ExportName} ({unit.Reason})");
            if (await shouldProcess(target, action).ConfigureAwait(false))
            {
                reported.Add(unit);
                toLoad.Add((unit, outcome, manifest, parts));
            }
        }

        // The working folder is checked and the run's folder made (and earlier runs' leftovers removed) only when a run is loaded.
        await using (SyncRunFolder runFolder = SyncRunFolder.Claim(r, toLoad.Count > 0, log))
        {
            exportRequest = exportRequest with { WorkingPath = toLoad.Count > 0 ? runFolder.Path : r.WorkingPath };
            IReadOnlyList<ExportWork> work = toLoad.Select((t, i) => new ExportWork(t.Unit, i, runFolder.Path, progress, t.Outcome, t.Manifest, t.Parts)).ToList();
            IAsyncEnumerable<SyncUnitOutcome> pipeline = SyncRunner.RunStagesAsync(work, schedule,
                request: null, // the plan already holds every run to load
                (w, ct) => FetchStageAsync(w, store, exportRequest, log, ct),
                (w, ct) => LoadStageAsync(w, exportRequest, log, ct),
                gate: null,
                log,
                cancellationToken);
            await SyncRunner.HandOverAsync(reported, toLoad.Select(t => t.Unit).ToList(), pipeline, r.Activity, "export month(s)", onUnit, progress, cancellationToken).ConfigureAwait(false);
        }

        int scopes = reported.Select(u => u.Key.Scope).Distinct(StringComparer.Ordinal).Count();
        return new SyncRunOutcome(r.RunId, database, r.Target.Table, stateTable.Target.Table, started, DateTime.UtcNow, scopes, reported);
    }

    /// <summary>
    /// The download stage: the run's parts fetched into the unit's own folder under the run's folder, as the Cost Details
    /// source does (removed when the unit is done, kept with -KeepFiles); a failure is recorded in the unit.
    /// </summary>
    private static async Task<ExportWork> FetchStageAsync(ExportWork w, IExportStore store, ExportImportRequest request, IEngineLog log, CancellationToken ct)
    {
        try
        {
            w.Fetched = await ExportImporter.FetchAsync(store, request, w.Outcome, w.Manifest, w.Parts, log, w.Child, w.ProgressId, ct, w.Folder).ConfigureAwait(false);
            w.Status("Waiting for the database");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Fail(w, e, log);
        }

        return w;
    }

    /// <summary>The load stage: the fetched parts loaded into the dataset's table (a failure is recorded in the unit).</summary>
    private static async Task<SyncUnitOutcome> LoadStageAsync(ExportWork w, ExportImportRequest request, IEngineLog log, CancellationToken ct)
    {
        if (w.Fetched is not { } fetched)
        {
            return w.Unit; // failed while fetching
        }

        try
        {
            await ExportImporter.LoadFetchedAsync(request, w.Outcome, w.Manifest, w.Parts, fetched, log, w.Child, w.ProgressId, ct).ConfigureAwait(false);
            Fill(w.Unit, w.Outcome);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Fail(w, e, log);
        }

        return w.Unit;
    }

    private static void Fail(ExportWork w, Exception e, IEngineLog log)
    {
        SyncUnitOutcome unit = w.Unit;
        unit.Action = SyncAction.Failed;
        unit.Error = e;
        unit.Reason = SyncText.Scrub(e.Message);
        Fill(unit, w.Outcome);
        log.Verbose($"{unit.Key}: failed: {unit.Reason}");
    }

    /// <summary>An export run on its way through the stages: its plan, then its fetched parts.</summary>
    private sealed class ExportWork(SyncUnitOutcome unit, int position, string runFolder, IProgress<EngineProgress>? progress, ExportRunOutcome outcome, ExportManifest manifest, IReadOnlyList<string> parts)
        : SyncWork(unit, position, runFolder, progress)
    {
        public ExportRunOutcome Outcome { get; } = outcome;

        public ExportManifest Manifest { get; } = manifest;

        public IReadOnlyList<string> Parts { get; } = parts;

        public ExportFetch? Fetched { get; set; }
    }

    /// <summary>A unit for one export month: scope, dataset (as the metric) and month; the run id as its operation id.</summary>
    private static SyncUnitOutcome ToUnit(ExportRunOutcome o, int index)
    {
        DateOnly month = o.Month == default ? DateOnly.MinValue : o.Month;
        string scope = string.IsNullOrEmpty(o.Scope) ? o.Manifest : o.Scope;
        return new SyncUnitOutcome
        {
            Key = new SyncUnitKey(scope, string.IsNullOrEmpty(o.Dataset) ? "manifest" : o.Dataset, month),
            Index = index,
            PeriodStart = month,
            PeriodEnd = month == DateOnly.MinValue ? month : CostReportPlanner.LastOfMonth(month),
            Action = o.Action switch { ExportAction.Loaded => SyncAction.Pending, ExportAction.Skipped => SyncAction.Skipped, _ => SyncAction.Failed },
            Reason = string.IsNullOrEmpty(o.ExportName) || o.ExportName == o.Manifest ? o.Reason : $"export {o.ExportName}: {o.Reason}",
            OperationId = string.IsNullOrEmpty(o.RunId) ? null : o.RunId,
            Blobs = o.Blobs,
            IsFinal = month != DateOnly.MinValue && o.SubmittedTime != default && SyncPlanner.IsFinal(month, o.SubmittedTime),
            Error = o.Error,
        };
    }

    /// <summary>What the load did, into the unit: Loaded, or Skipped when another run loaded the run meanwhile.</summary>
    private static void Fill(SyncUnitOutcome unit, ExportRunOutcome o)
    {
        if (unit.Action != SyncAction.Failed && o.Action == ExportAction.Skipped)
        {
            unit.Action = SyncAction.Skipped;
            unit.Reason = $"export {o.ExportName}: {o.Reason}";
        }
        else if (unit.Action == SyncAction.Pending)
        {
            unit.Action = SyncAction.Loaded;
        }

        unit.Rows = o.Rows;
        unit.RowsReplaced = o.RowsReplaced;
        unit.Bytes = o.Bytes;
        unit.ImportId = o.ImportId;
        unit.DownloadDuration = o.FetchDuration;
        unit.LoadDuration = o.LoadDuration;
        unit.Elapsed = o.Elapsed;
    }
}
