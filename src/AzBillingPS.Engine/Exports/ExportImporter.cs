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
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Exports;

/// <summary>What to load from an export root, and where.</summary>
public sealed record ExportImportRequest
{
    /// <summary>The database; its table is the cost-details table (the other datasets go to tables of their own).</summary>
    public required SinkTarget Target { get; init; }

    /// <summary>Only these datasets (ActualCost, AmortizedCost, FocusCost, ...); all when empty.</summary>
    public IReadOnlyList<string> Datasets { get; init; } = Array.Empty<string>();

    /// <summary>Only runs of these months (first days); all when null.</summary>
    public IReadOnlyList<DateOnly>? Months { get; init; }

    /// <summary>Only exports whose name matches one of these (wildcards * and ?); all when empty.</summary>
    public IReadOnlyList<string> ExportNames { get; init; } = Array.Empty<string>();

    /// <summary>Load the newest run of each month even when the state says it is loaded.</summary>
    public bool Force { get; init; }

    public int BatchSize { get; init; } = 50_000;

    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Where downloaded parts go while a run loads (a private folder is made in it and removed after each run).</summary>
    public string WorkingPath { get; init; } = Path.GetTempPath();

    /// <summary>Keep the parts downloaded from a container after the run is loaded or has failed (Sync -KeepFiles), for inspection.</summary>
    public bool KeepFiles { get; init; }

    public string Host { get; init; } = Environment.MachineName;

    /// <summary>The table a dataset goes to (the target's table for cost details, its own default table otherwise).</summary>
    public string TableFor(ExportDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return dataset.IsCostDetails ? Target.Table : dataset.DefaultTable;
    }
}

/// <summary>What happened to one export month.</summary>
public enum ExportAction
{
    Loaded,
    Skipped,
    Failed,
}

/// <summary>The outcome of one (export, month): its newest run and what the load did with it.</summary>
public sealed class ExportRunOutcome
{
    public required string Export { get; init; }

    public required string ExportName { get; init; }

    public string Scope { get; init; } = string.Empty;

    public string Dataset { get; init; } = string.Empty;

    public DateOnly Month { get; init; }

    public string RunId { get; init; } = string.Empty;

    public DateTimeOffset SubmittedTime { get; init; }

    public string Manifest { get; init; } = string.Empty;

    public int Blobs { get; init; }

    /// <summary>Older runs of the same export and month that the newest one superseded.</summary>
    public int OlderRuns { get; init; }

    public ExportAction Action { get; set; }

    public string Reason { get; set; } = string.Empty;

    public string Table { get; set; } = string.Empty;

    public string Target { get; set; } = string.Empty;

    public long Rows { get; set; }

    public long RowsReplaced { get; set; }

    public long Bytes { get; set; }

    public string Format { get; set; } = string.Empty;

    public Guid? ImportId { get; set; }

    public TimeSpan Elapsed { get; set; }

    /// <summary>Time spent fetching the parts (downloading them from a container) and checking them against the manifest.</summary>
    public TimeSpan FetchDuration { get; set; }

    /// <summary>Time spent loading into the database (waiting for its turn included).</summary>
    public TimeSpan LoadDuration { get; set; }

    public Exception? Error { get; set; }

    public override string ToString() => $"{ExportName} {Dataset} {Month:yyyy-MM}: {Action}";
}

/// <summary>
/// Loads Cost Management exports exactly once. Finds every manifest.json (and legacy _manifest.json) under the root,
/// groups the runs by export and month (runInfo.startDate), keeps the newest (runInfo.submittedTime) of each, skips the
/// ones the state table says are loaded, and loads each of the others as one unit: parts fetched (downloaded from a
/// container), checked against the manifest's byte counts, read as CSV, gzip CSV or Parquet into the dataset's table,
/// the month replaced as a whole in one transaction with its state row, and the manifest's row count checked before
/// the commit. A month that fails is reported and rolled back; the others go on.
/// </summary>
public static class ExportImporter
{
    private const long MaxManifestBytes = 16 * 1024 * 1024;

    /// <summary>Finds the newest run of every export and month under the store's root, and what the state says of it.</summary>
    public static async Task<IReadOnlyList<(ExportRunOutcome Outcome, ExportManifest? Manifest, IReadOnlyList<string> Parts)>> PlanAsync(
        IExportStore store, ExportImportRequest request, IEngineLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(log);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var manifests = new List<string>();
        await foreach (ExportStoreItem item in store.ListAsync(log, cancellationToken).ConfigureAwait(false))
        {
            names.Add(item.Name);
            if (ExportManifest.IsManifestName(item.Name[(item.Name.LastIndexOf('/') + 1)..]))
            {
                manifests.Add(item.Name);
            }
        }

        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{store.Describe()}: {names.Count:N0} file(s), {manifests.Count:N0} manifest(s)."));
        var results = new List<(ExportRunOutcome, ExportManifest?, IReadOnlyList<string>)>();
        var runs = new List<(ExportManifest Manifest, ExportDataset Dataset, string Name)>();
        foreach (string name in manifests.OrderBy(n => n, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                byte[] bytes = await store.ReadAllAsync(name, MaxManifestBytes, cancellationToken).ConfigureAwait(false);
                ExportManifest m = ExportManifest.Parse(name, bytes);
                runs.Add((m, ExportDataset.For(m.DatasetType, name), name));
            }
            catch (EngineException e) when (e.Kind is EngineErrorKind.ExportManifestInvalid)
            {
                log.Verbose(e.Message);
                results.Add((new ExportRunOutcome { Export = name, ExportName = name, Manifest = name, Action = ExportAction.Failed, Reason = e.Message, Error = e }, null, Array.Empty<string>()));
            }
        }

        var filtered = runs.Where(r =>
            (request.Datasets.Count == 0 || request.Datasets.Any(d => string.Equals(ExportDataset.For(d, "-Dataset").Type, r.Dataset.Type, StringComparison.Ordinal)))
            && (request.Months is null || request.Months.Contains(r.Manifest.Month))
            && (request.ExportNames.Count == 0 || request.ExportNames.Any(p => Wildcard(p, r.Manifest.ExportName)))).ToList();

        var stateByTable = new Dictionary<string, IReadOnlyList<ExportStateRow>>(StringComparer.Ordinal);
        foreach (var group in filtered.GroupBy(r => (r.Manifest.ExportId, r.Manifest.Month)).OrderBy(g => g.Key.ExportId, StringComparer.Ordinal).ThenBy(g => g.Key.Month))
        {
            var ordered = group.OrderByDescending(r => r.Manifest.SubmittedTime).ThenByDescending(r => r.Manifest.RunId, StringComparer.Ordinal).ToList();
            (ExportManifest m, ExportDataset dataset, string manifestName) = ordered[0];
            string table = request.TableFor(dataset);
            var outcome = new ExportRunOutcome
            {
                Export = m.ExportId,
                ExportName = m.ExportName,
                Scope = m.Scope,
                Dataset = dataset.Type,
                Month = m.Month,
                RunId = m.RunId,
                SubmittedTime = m.SubmittedTime,
                Manifest = manifestName,
                Blobs = m.Blobs.Count,
                OlderRuns = ordered.Count - 1,
                Table = request.Target.Dialect.QualifiedTable(request.Target.EffectiveSchema, table),
                Action = ExportAction.Loaded,
            };

            if (!stateByTable.TryGetValue(table, out IReadOnlyList<ExportStateRow>? state))
            {
                state = await new ExportStateStore(request.Target with { Table = table }).ReadAsync(cancellationToken).ConfigureAwait(false);
                stateByTable[table] = state;
            }

            string month = m.Month.ToString("yyyy-MM", CultureInfo.InvariantCulture);
            ExportStateRow? loaded = state.FirstOrDefault(s => s.Export == m.ExportId && s.Month == month);
            if (loaded is not null && !request.Force)
            {
                if (string.Equals(loaded.RunId, m.RunId, StringComparison.OrdinalIgnoreCase))
                {
                    outcome.Action = ExportAction.Skipped;
                    outcome.Reason = string.Create(CultureInfo.InvariantCulture, $"run {m.RunId} is already loaded ({loaded.Rows:N0} rows, {loaded.LoadedAt:yyyy-MM-dd HH:mm} UTC)");
                }
                else if (Truncate(loaded.SubmittedTime) > Truncate(m.SubmittedTime.UtcDateTime))
                {
                    outcome.Action = ExportAction.Skipped;
                    outcome.Reason = string.Create(CultureInfo.InvariantCulture, $"the table holds a newer run ({loaded.RunId}, submitted {loaded.SubmittedTime:yyyy-MM-dd HH:mm:ss} UTC)");
                }
                else
                {
                    outcome.Reason = string.Create(CultureInfo.InvariantCulture, $"run {m.RunId} of {m.SubmittedTime.UtcDateTime:yyyy-MM-dd HH:mm} UTC replaces run {loaded.RunId} of {loaded.SubmittedTime:yyyy-MM-dd HH:mm} UTC");
                }
            }
            else
            {
                outcome.Reason = loaded is null ? "not loaded yet" : "reloaded (forced)";
            }

            if (ordered.Count > 1)
            {
                outcome.Reason += string.Create(CultureInfo.InvariantCulture, $"; {ordered.Count - 1} older run(s) of the month ignored");
            }

            results.Add((outcome, m, ResolveParts(m, manifestName, names)));
        }

        return results;
    }

    /// <summary>
    /// Where each blob of a manifest is under the root: its name as the manifest spells it when the root has it, or else
    /// its path below the run's folder (the blobs' common folder) placed in the manifest's own folder, which is where
    /// exports write them (the root may be the container, a folder inside it, or a local copy of either).
    /// </summary>
    internal static IReadOnlyList<string> ResolveParts(ExportManifest manifest, string manifestName, IReadOnlySet<string> names)
    {
        string manifestFolder = manifestName.Contains('/', StringComparison.Ordinal) ? manifestName[..manifestName.LastIndexOf('/')] : string.Empty;
        string[] blobNames = manifest.Blobs.Select(b => b.BlobName.Replace('\\', '/').TrimStart('/')).ToArray();
        string common = CommonFolder(blobNames);
        var parts = new List<string>(blobNames.Length);
        foreach (string blob in blobNames)
        {
            if (names.Contains(blob))
            {
                parts.Add(blob);
                continue;
            }

            string below = common.Length == 0 ? blob : blob[(common.Length + 1)..];
            parts.Add(manifestFolder.Length == 0 ? below : manifestFolder + "/" + below);
        }

        return parts;
    }

    private static string CommonFolder(string[] names)
    {
        if (names.Length == 0)
        {
            return string.Empty;
        }

        string[] first = names[0].Split('/')[..^1];
        int n = first.Length;
        foreach (string name in names.Skip(1))
        {
            string[] segments = name.Split('/')[..^1];
            int k = 0;
            while (k < n && k < segments.Length && string.Equals(segments[k], first[k], StringComparison.Ordinal))
            {
                k++;
            }

            n = k;
        }

        return string.Join('/', first[..n]);
    }

    private static DateTime Truncate(DateTime t) => new(t.Ticks - (t.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);

    private static bool Wildcard(string pattern, string text)
    {
        string regex = "^" + System.Text.RegularExpressions.Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$";
        return System.Text.RegularExpressions.Regex.IsMatch(text, regex, System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
    }

    /// <summary>
    /// Loads one planned run (outcome Action Loaded) into its dataset's table: fetches its parts (<see cref="FetchAsync"/>),
    /// then loads them (<see cref="LoadFetchedAsync"/>). Sets the outcome's rows, bytes, import id and elapsed time; throws
    /// EngineException when the month cannot be loaded (nothing changed), OperationCanceledException on Ctrl+C (the
    /// transaction rolls back). <paramref name="shouldProcess"/> is asked first; false leaves the outcome Skipped.
    /// </summary>
    public static async Task LoadAsync(
        IExportStore store,
        ExportImportRequest request,
        ExportRunOutcome outcome,
        ExportManifest manifest,
        IReadOnlyList<string> parts,
        Func<string, string, Task<bool>> shouldProcess,
        IEngineLog log,
        IProgress<EngineProgress>? progress,
        int progressId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shouldProcess);
        ExportDataset dataset = ExportDataset.For(manifest.DatasetType, outcome.Manifest);
        SinkTarget target = request.Target with { Table = request.TableFor(dataset) };
        string action = string.Create(CultureInfo.InvariantCulture,
            $"Replace {manifest.Month:yyyy-MM} {dataset.Metric} for {manifest.Scope} with run {manifest.RunId} of export {manifest.ExportName} ({manifest.Blobs.Count} part(s){(manifest.DataRowCount is long r ? $", {r:N0} rows" : string.Empty)})");
        if (!await shouldProcess($"{target.QualifiedTable} on {CostSink.Create(target).Describe()}", action).ConfigureAwait(false))
        {
            outcome.Action = ExportAction.Skipped;
            outcome.Reason = "not confirmed (what-if, or declined)";
            return;
        }

        ExportFetch fetched = await FetchAsync(store, request, outcome, manifest, parts, log, progress, progressId, cancellationToken).ConfigureAwait(false);
        await LoadFetchedAsync(request, outcome, manifest, parts, fetched, log, progress, progressId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The first half of a load: fetches the run's parts (when the store downloads, into <paramref name="folder"/>, made
    /// new and private, or else into a new private folder under the request's working folder), checking each part's length
    /// against the manifest; sets the outcome's bytes and fetch time. On failure the folder is removed (unless the request
    /// keeps the files) and the outcome's time and progress are finished.
    /// </summary>
    internal static async Task<ExportFetch> FetchAsync(
        IExportStore store,
        ExportImportRequest request,
        ExportRunOutcome outcome,
        ExportManifest manifest,
        IReadOnlyList<string> parts,
        IEngineLog log,
        IProgress<EngineProgress>? progress,
        int progressId,
        CancellationToken cancellationToken,
        string? folder = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(log);
        var fetched = new ExportFetch(Stopwatch.StartNew(), $"Import export {manifest.ExportName} {ExportDataset.For(manifest.DatasetType, outcome.Manifest).Type} {manifest.Month:yyyy-MM}") { Keep = request.KeepFiles };
        try
        {
            if (store.Downloads && folder is not null)
            {
                PrivateFiles.CreateFolder(folder); // new, private to the user; fails if anything is already there
                fetched.Work = folder;
            }
            else if (store.Downloads)
            {
                fetched.Work = PrivateFolder.Create(request.WorkingPath, "azbillingps-export-");
            }

            for (int i = 0; i < parts.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                ExportManifestBlob blob = manifest.Blobs[i];
                progress?.Report(new EngineProgress(progressId, fetched.Activity, string.Create(CultureInfo.InvariantCulture, $"Fetching part {i + 1} of {parts.Count}"), parts.Count == 0 ? -1 : i * 50 / parts.Count));
                string path = await store.FetchAsync(parts[i], blob.ByteCount, fetched.Work ?? string.Empty, log, null, cancellationToken).ConfigureAwait(false);
                long length = new FileInfo(path).Length;
                if (blob.ByteCount is long expected && expected != length)
                {
                    throw new EngineException(EngineErrorKind.ExportRunIncomplete,
                        string.Create(CultureInfo.InvariantCulture, $"{parts[i]}: the part has {length:N0} bytes but the manifest ({outcome.Manifest}) says {expected:N0}; the month {manifest.Month:yyyy-MM} was not loaded.")) { FilePath = path };
                }

                fetched.Bytes += length;
                fetched.Files.Add(path);
            }

            outcome.Bytes = fetched.Bytes;
            outcome.FetchDuration = fetched.Watch.Elapsed;
            return fetched;
        }
        catch
        {
            Finish(outcome, fetched, log, progress, progressId);
            throw;
        }
    }

    /// <summary>
    /// The second half of a load: loads the fetched parts into the dataset's table, the export state row written in the
    /// same transaction and checked again under the table's lock (a run loaded meanwhile leaves the outcome Skipped and
    /// the table as it was). Removes the fetched files and finishes the outcome's time and progress, whatever happens.
    /// </summary>
    internal static async Task LoadFetchedAsync(
        ExportImportRequest request,
        ExportRunOutcome outcome,
        ExportManifest manifest,
        IReadOnlyList<string> parts,
        ExportFetch fetched,
        IEngineLog log,
        IProgress<EngineProgress>? progress,
        int progressId,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(outcome);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(fetched);
        ArgumentNullException.ThrowIfNull(log);
        Stopwatch watch = fetched.Watch;
        string activity = fetched.Activity;
        List<string> files = fetched.Files;
        long bytes = fetched.Bytes;
        string? work = fetched.Work;
        ExportDataset dataset = ExportDataset.For(manifest.DatasetType, outcome.Manifest);
        SinkTarget target = request.Target with { Table = request.TableFor(dataset) };
        CostSink sink = CostSink.Create(target);
        outcome.Target = sink.Describe();
        DateTime start = manifest.Month.ToDateTime(TimeOnly.MinValue);
        DateTime end = manifest.Month.AddMonths(1).AddDays(-1).ToDateTime(TimeOnly.MinValue);
        try
        {
            long? expectedRows = manifest.Blobs.Count > 0 && manifest.Blobs.All(b => b.DataRowCount is not null)
                ? manifest.Blobs.Sum(b => b.DataRowCount!.Value)
                : manifest.DataRowCount;
            var lineage = new LineageValues(manifest.Scope, dataset.Metric, start, end, Guid.NewGuid(), DateTime.UtcNow);
            var state = new ExportStateStore(target);

            Func<SinkCommit, CancellationToken, Task> beforeCommit = async (commit, ct) =>
            {
                if (expectedRows is long want && commit.RowsInserted != want)
                {
                    throw new EngineException(EngineErrorKind.ExportRunIncomplete,
                        string.Create(CultureInfo.InvariantCulture, $"{outcome.Manifest}: the run's parts hold {commit.RowsInserted:N0} rows but the manifest says {want:N0}; the month {manifest.Month:yyyy-MM} was not loaded (the table is unchanged)."));
                }

                // Checked again under the table's lock: another run (a second Sync or Import-AzCostExport at the same time) may
                // have loaded this run, or a newer one, since the plan was made; then these rows roll back.
                if (!request.Force && await state.ReadRunAsync(commit.Connection, commit.Transaction, manifest.ExportId, manifest.Month.ToString("yyyy-MM", CultureInfo.InvariantCulture), ct).ConfigureAwait(false) is { } now
                    && (string.Equals(now.RunId, manifest.RunId, StringComparison.OrdinalIgnoreCase) || Truncate(now.SubmittedTime) > Truncate(manifest.SubmittedTime.UtcDateTime)))
                {
                    throw new LoadedMeanwhileException(now.RunId);
                }

                await state.RecordAsync(commit.Connection, commit.Transaction, new ExportStateRow(
                    manifest.ExportId, manifest.Month.ToString("yyyy-MM", CultureInfo.InvariantCulture), manifest.Scope, dataset.Type, manifest.RunId,
                    manifest.SubmittedTime.UtcDateTime, outcome.Manifest, commit.RowsInserted, bytes, parts.Count, lineage.ImportId, DateTime.UtcNow, request.Host), ct).ConfigureAwait(false);
            };

            SinkResult result;
            if (files.Count == 0)
            {
                outcome.Format = "none";
                long removed = await sink.ClearPeriodAsync(manifest.Scope, dataset.Metric, start, end, request.LockTimeout,
                    (c, ct) => beforeCommit(c, ct), cancellationToken, dataset.ReplaceColumn).ConfigureAwait(false);
                result = new SinkResult(0, removed, Array.Empty<string>(), false);
            }
            else
            {
                bool[] parquet = files.Select(ParquetCostReader.IsParquet).ToArray();
                if (parquet.Distinct().Count() > 1)
                {
                    throw new EngineException(EngineErrorKind.ExportRunIncomplete, $"{outcome.Manifest}: the run mixes Parquet and CSV parts; the month was not loaded.");
                }

                bool isParquet = parquet[0];
                outcome.Format = isParquet ? "Parquet" : files.Any(CostFileSchema.IsGzip) ? "Csv (gzip)" : "Csv";
                var headers = files.Select(f => isParquet ? ParquetCostReader.ReadHeader(f, dataset.Catalog) : CostFileSchema.ReadHeader(f, dataset.Catalog)).ToList();
                IReadOnlyList<CostColumn> columns = CostImporter.UnifyColumns(headers, target.Dialect);
                long total = expectedRows ?? 0;

                void Report(long rows, string? file)
                {
                    string status = string.Create(CultureInfo.InvariantCulture, $"{rows:N0}{(total > 0 ? $" of {total:N0}" : string.Empty)} rows, {rows / Math.Max(0.001, watch.Elapsed.TotalSeconds):N0} rows/s");
                    log.Verbose($"{Path.GetFileName(file)}: {status}");
                    progress?.Report(new EngineProgress(progressId, activity, status, total > 0 ? (int)Math.Min(99, 50 + (rows * 50 / total)) : -1));
                }

                CostRowReader? opened = null;
                CostRowReader Open() => opened = isParquet
                    ? new ParquetCostReader(headers, columns, lineage, cancellationToken) { NotifyAfter = Math.Max(1, request.BatchSize), OnRows = r => Report(r.RowsRead, r.CurrentFile), SpoolPath = work ?? request.WorkingPath }
                    : new CostDataReader(headers, columns, lineage, cancellationToken) { NotifyAfter = Math.Max(1, request.BatchSize), OnRows = r => Report(r.RowsRead, r.CurrentFile) };

                progress?.Report(new EngineProgress(progressId, activity, $"Loading into {sink.Describe()}", 50));
                result = await sink.LoadAsync(columns, Open, manifest.Scope, dataset.Metric, start, end, request.BatchSize, request.LockTimeout, log, cancellationToken, beforeCommit, dataset.ReplaceColumn).ConfigureAwait(false);
                CostRowReader.WarnJsonKeptAsText(opened, log);
            }

            outcome.Rows = result.RowsInserted;
            outcome.RowsReplaced = result.RowsReplaced;
            outcome.ImportId = lineage.ImportId;
            log.Verbose(string.Create(CultureInfo.InvariantCulture,
                $"{outcome}: loaded run {manifest.RunId}: {result.RowsInserted:N0} rows ({outcome.Format}, {parts.Count} part(s), {bytes / 1048576.0:N1} MB), replaced {result.RowsReplaced:N0}."));
        }
        catch (LoadedMeanwhileException e)
        {
            outcome.Action = ExportAction.Skipped;
            outcome.Reason = $"run {e.RunId} was loaded by another run meanwhile (this one's rows were rolled back)";
            outcome.Rows = 0;
            log.Verbose($"{outcome}: {outcome.Reason}.");
        }
        finally
        {
            Finish(outcome, fetched, log, progress, progressId);
        }
    }

    /// <summary>A load ends (done, failed or cancelled): its times, its bar completed, its fetched files removed (unless kept).</summary>
    private static void Finish(ExportRunOutcome outcome, ExportFetch fetched, IEngineLog log, IProgress<EngineProgress>? progress, int progressId)
    {
        outcome.Elapsed = fetched.Watch.Elapsed;
        outcome.LoadDuration = fetched.Watch.Elapsed - outcome.FetchDuration;
        progress?.Report(new EngineProgress(progressId, fetched.Activity, "Done", 100, Completed: true));
        if (fetched.Work is not null && !fetched.Keep)
        {
            PrivateFolder.Delete(fetched.Work, log);
            fetched.Work = null;
        }
    }
}

/// <summary>The parts of an export run fetched for loading (<see cref="ExportImporter.FetchAsync"/>): local files, in a private folder when the store downloads.</summary>
internal sealed class ExportFetch
{
    public ExportFetch(Stopwatch watch, string activity)
    {
        Watch = watch;
        Activity = activity;
    }

    /// <summary>The part files, in the manifest's order.</summary>
    public List<string> Files { get; } = new();

    /// <summary>Their bytes.</summary>
    public long Bytes { get; set; }

    public Stopwatch Watch { get; }

    public string Activity { get; }

    /// <summary>The private folder the parts were downloaded into (removed when the load ends unless <see cref="Keep"/>), or null.</summary>
    public string? Work { get; set; }

    /// <summary>Leave the downloaded parts where they are when the load ends (Sync -KeepFiles).</summary>
    public bool Keep { get; init; }
}

/// <summary>Another run loaded the same run of the month (or a newer one) while this one was loading it.</summary>
internal sealed class LoadedMeanwhileException(string runId) : Exception($"Run {runId} was loaded meanwhile.")
{
    public string RunId { get; } = runId;
}

/// <summary>A folder the module makes for itself through <see cref="PrivateFiles"/>: new (never an existing one), private to the user, removed when done.</summary>
internal static class PrivateFolder
{
    public static string Create(string parent, string prefix)
    {
        PrivateFiles.EnsureFolder(parent, strict: false, "The working folder", "WorkingPath");
        string path = Path.Combine(parent, prefix + Guid.NewGuid().ToString("N"));
        PrivateFiles.CreateFolder(path); // new, private to the user; fails if anything is already there
        return path;
    }

    public static void Delete(string path, IEngineLog log)
    {
        try
        {
            PrivateFiles.DeleteTree(path); // never through a link
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning($"Could not remove {path}: {e.Message}");
        }
    }
}
