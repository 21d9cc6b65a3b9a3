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
/// and every run newer than what the table holds is fetched and loaded as one unit, with the same bounded parallelism,
/// one database load at a time, the same run folder and the same unit outcomes as a run over the Cost Details API.
/// What is new since the last run is loaded, and nothing twice: the state row commits with the rows, and is checked
/// again under the table's lock, so a second run at the same time rolls its copy back instead of loading it again.
/// </summary>
internal static class ExportSync
{
    public static async Task<SyncRunOutcome> RunAsync(
        SyncRequest request,
        SyncExportSource source,
        SemaphoreSlim loadGate,
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
        };

        var plan = await ExportImporter.PlanAsync(store, exportRequest, log, cancellationToken).ConfigureAwait(false);
        var stateTable = new ExportStateStore(r.Target);
        string target = $"{r.Target.DisplayTable} on {Sinks.CostSink.Create(r.Target).Describe()}";
        log.Verbose(string.Create(CultureInfo.InvariantCulture,
            $"Sync run {r.RunId} from {store.Describe()}: {plan.Count} export month(s), {plan.Count(p => p.Outcome.Action == ExportAction.Loaded)} with a run to load; state in {stateTable.QualifiedTable}."));

        var units = new List<(SyncUnitOutcome Unit, ExportRunOutcome Outcome, ExportManifest? Manifest, IReadOnlyList<string> Parts)>();
        var toLoad = new List<(SyncUnitOutcome Unit, ExportRunOutcome Outcome, ExportManifest Manifest, IReadOnlyList<string> Parts)>();
        foreach ((ExportRunOutcome outcome, ExportManifest? manifest, IReadOnlyList<string> parts) in plan)
        {
            SyncUnitOutcome unit = ToUnit(outcome, units.Count);
            units.Add((unit, outcome, manifest, parts));
            if (outcome.Action != ExportAction.Loaded || manifest is null)
            {
                log.Verbose($"{unit.Key}: {outcome.Action.ToString().ToLowerInvariant()}, {unit.Reason}.");
                onUnit(unit);
                continue;
            }

            string action = string.Create(CultureInfo.InvariantCulture, $"Replace {unit.Key.MonthText} {outcome.Dataset} for {outcome.Scope} with run {outcome.RunId} of export {outcome.ExportName} ({unit.Reason})");
            if (await shouldProcess(target, action).ConfigureAwait(false))
            {
                toLoad.Add((unit, outcome, manifest, parts));
            }
            else
            {
                units.RemoveAt(units.Count - 1);
            }
        }

        // The working folder is checked and the run's folder made (and earlier runs' leftovers removed) only when a run is loaded.
        await using (SyncRunFolder runFolder = SyncRunFolder.Claim(r, toLoad.Count > 0, log))
        {
            exportRequest = exportRequest with { WorkingPath = toLoad.Count > 0 ? runFolder.Path : r.WorkingPath };
            await SyncRunner.RunUnitsAsync(toLoad, async (item, ct) =>
            {
                (SyncUnitOutcome unit, ExportRunOutcome outcome, ExportManifest manifest, IReadOnlyList<string> parts) = item;
                try
                {
                    await ExportImporter.LoadAsync(store, exportRequest, outcome, manifest, parts, (_, _) => Task.FromResult(true), log, progress, 100 + (unit.Index % 10_000), ct,
                        async t =>
                        {
                            await loadGate.WaitAsync(t).ConfigureAwait(false);
                            return new Release(loadGate);
                        }).ConfigureAwait(false);
                    Fill(unit, outcome);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    unit.Action = SyncAction.Failed;
                    unit.Error = e;
                    unit.Reason = SyncText.Scrub(e.Message);
                    Fill(unit, outcome);
                    log.Verbose($"{unit.Key}: failed: {unit.Reason}");
                }

                return unit;
            }, "export month(s)", r.ThrottleLimit, onUnit, progress, cancellationToken).ConfigureAwait(false);
        }

        int scopes = units.Select(u => u.Unit.Key.Scope).Distinct(StringComparer.Ordinal).Count();
        return new SyncRunOutcome(r.RunId, Sinks.CostSink.Create(r.Target).Describe(), r.Target.Table, stateTable.Target.Table, started, DateTime.UtcNow, scopes, units.Select(u => u.Unit).ToList());
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
            Action = o.Action switch { ExportAction.Loaded => SyncAction.Loaded, ExportAction.Skipped => SyncAction.Skipped, _ => SyncAction.Failed },
            Reason = string.IsNullOrEmpty(o.ExportName) || o.ExportName == o.Manifest ? o.Reason : $"export {o.ExportName}: {o.Reason}",
            OperationId = string.IsNullOrEmpty(o.RunId) ? null : o.RunId,
            Blobs = o.Blobs,
            IsFinal = month != DateOnly.MinValue && o.SubmittedTime != default && SyncPlanner.IsFinal(month, o.SubmittedTime),
            Error = o.Error,
        };
    }

    private static void Fill(SyncUnitOutcome unit, ExportRunOutcome o)
    {
        if (unit.Action != SyncAction.Failed && o.Action == ExportAction.Skipped)
        {
            unit.Action = SyncAction.Skipped;
            unit.Reason = $"export {o.ExportName}: {o.Reason}";
        }

        unit.Rows = o.Rows;
        unit.RowsReplaced = o.RowsReplaced;
        unit.Bytes = o.Bytes;
        unit.ImportId = o.ImportId;
        unit.DownloadDuration = o.FetchDuration;
        unit.LoadDuration = o.LoadDuration;
        unit.Elapsed = o.Elapsed;
    }

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
