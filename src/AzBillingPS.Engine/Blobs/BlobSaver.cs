using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;

namespace AzBillingPS.Engine.Blobs;

/// <summary>How <see cref="BlobSaver"/> saves: the same rules for Save-AzCostBlob and Sync.</summary>
public sealed record BlobSaveOptions
{
    /// <summary>gzip blobs (reports with compressData) are decompressed to <c>.csv</c>; false keeps them as <c>.csv.gz</c>.</summary>
    public bool Decompress { get; init; } = true;

    /// <summary>Download again even when a complete file is already there (and ignore a leftover <c>.partial</c>).</summary>
    public bool Force { get; init; }

    /// <summary>Blobs downloading at once, across all the reports of the saver.</summary>
    public int ThrottleLimit { get; init; } = 4;

    /// <summary>Request a report again (through its plan's source) when its links have expired or are about to, once per report.</summary>
    public bool Refresh { get; init; }

    /// <summary>How a refresh is explained in the verbose stream (the caller's words, for example which parameter asked for it).</summary>
    public string RefreshNote { get; init; } = "requesting the report again";

    /// <summary>The activity of the overall progress bar (bytes, rate, files) that <see cref="BlobSaver.SaveAsync"/> reports.</summary>
    public string Activity { get; init; } = "Saving cost-details blobs";

    /// <summary>The id of that progress bar.</summary>
    public int ProgressId { get; init; } = 1;

    /// <summary>How long a refreshed report may take.</summary>
    public TimeSpan RefreshTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A link that expires sooner than this counts as expired when deciding to refresh.</summary>
    public TimeSpan ExpirySoon { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>One blob of a plan: the manifest's blob, the file it goes to, and whether it is decompressed there.</summary>
public sealed record PlannedBlob(CostReportBlob Blob, string Path, bool Decompress);

/// <summary>What will be saved of one report: its blobs (those confirmed), their files, and how to request it again.</summary>
public sealed class SavePlan
{
    public required CostReportResult Report { get; init; }

    public required string Folder { get; init; }

    public required IReadOnlyList<PlannedBlob> Blobs { get; init; }

    /// <summary>Requests the report again for fresh links (refresh); null when it cannot be.</summary>
    public ICostReportSource? Source { get; init; }

    /// <summary>Bytes on disk of this report's blobs as they are written (a per-report progress bar); optional.</summary>
    public IProgress<long>? Bytes { get; init; }

    /// <summary>Asked again about the files of a refreshed report whose blob count changed (their names change); null saves them all.</summary>
    public Func<string, string, Task<bool>>? ShouldProcess { get; init; }

    public string Description => CostDetailsClient.Describe(Report.Request);

    public long ByteCount => Blobs.Sum(b => Math.Max(0, b.Blob.ByteCount));
}

/// <summary>One file in place: the blob's index and count in its report, its path and bytes, and whether it was already there.</summary>
public sealed record SavedBlob(int Index, int Count, string Path, long Bytes, bool Skipped);

/// <summary>What saving one report did: its files in blob order, or its errors (then no file of it counts as saved).</summary>
public sealed record SaveOutcome(SavePlan Plan, CostReportResult Report, IReadOnlyList<SavedBlob> Files, IReadOnlyList<Exception> Errors)
{
    public bool Succeeded => Errors.Count == 0;
}

/// <summary>
/// Saves the blobs of reports: plans each report (status, manifest, file names, the caller's say on each file), then
/// downloads every blob through the <see cref="IBlobSource"/>, the blobs of one report in parallel and several reports
/// at once, at most <see cref="BlobSaveOptions.ThrottleLimit"/> blobs at a time in all; requests a report again once
/// when its links have expired or are about to (<see cref="BlobSaveOptions.Refresh"/>); counts the bytes and files in
/// place for progress. Outcomes stream in the order of the plans. One instance is one gate: a saver shared by
/// several callers (Sync's units) bounds their downloads together.
/// </summary>
public sealed class BlobSaver : IDisposable
{
    private readonly IBlobSource _blobs;
    private readonly SemaphoreSlim _gate;
    private long _bytesDone;
    private int _filesDone;

    public BlobSaver(IBlobSource blobs, BlobSaveOptions? options = null)
    {
        _blobs = blobs ?? throw new ArgumentNullException(nameof(blobs));
        Options = options ?? new BlobSaveOptions();
        if (Options.ThrottleLimit < 1)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "ThrottleLimit must be at least 1.");
        }

        _gate = new SemaphoreSlim(Options.ThrottleLimit, Options.ThrottleLimit);
    }

    public BlobSaveOptions Options { get; }

    /// <summary>Bytes on disk so far (a restarted download takes its bytes back; a kept file counts once).</summary>
    public long BytesDone => Interlocked.Read(ref _bytesDone);

    /// <summary>Files in place so far.</summary>
    public int FilesDone => Volatile.Read(ref _filesDone);

    public void Dispose() => _gate.Dispose();

    /// <summary>
    /// The files of a report's blobs in <paramref name="folder"/>, in blob order. Throws ServiceError when the manifest's
    /// blob indexes are not 1 to its blob count.
    /// </summary>
    public static IReadOnlyList<PlannedBlob> Name(CostReportResult report, string folder, bool decompress)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(folder);
        int count = report.Blobs.Count;
        bool gzip = report.CompressData;
        bool inflate = gzip && decompress;
        CostReportRequest r = report.Request;
        var list = new List<PlannedBlob>(count);
        foreach (CostReportBlob blob in report.Blobs.OrderBy(b => b.Index))
        {
            if (blob.Index < 1 || blob.Index > count || list.Any(b => b.Blob.Index == blob.Index))
            {
                throw new EngineException(EngineErrorKind.ServiceError, $"{CostDetailsClient.Describe(r)}: the manifest's blob indexes are not 1 to {count}; request the report again.")
                {
                    Advice = EngineAdvice.RequestReportAgain,
                };
            }

            string name = r.Start is DateOnly start && r.End is DateOnly end
                ? BlobFileName.For(r.Scope, r.Metric, start, end, blob.Index, count, gzip && !inflate)
                : BlobFileName.ForInvoice(r.Scope, r.Metric, r.InvoiceId ?? report.OperationId ?? "unknown", blob.Index, count, gzip && !inflate);
            list.Add(new PlannedBlob(blob, Path.Combine(folder, name), inflate));
        }

        return list;
    }

    /// <summary>
    /// What saving <paramref name="report"/> into <paramref name="folder"/> would write, each file confirmed through
    /// <paramref name="shouldProcess"/> (target: the file; null confirms all). Null when there is nothing to save: no
    /// data, or every file declined. Throws ReportNotCompleted for a report that did not complete, ServiceError for a
    /// manifest whose blob indexes do not add up.
    /// </summary>
    public async Task<SavePlan?> PlanAsync(CostReportResult report, string folder, ICostReportSource? source, Func<string, string, Task<bool>>? shouldProcess, IEngineLog log, IProgress<long>? bytes = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(log);
        string what = CostDetailsClient.Describe(report.Request);
        bool completed = string.Equals(report.Status, "Completed", StringComparison.OrdinalIgnoreCase);
        if (string.Equals(report.Status, "NoDataFound", StringComparison.OrdinalIgnoreCase) || (completed && report.Blobs.Count == 0))
        {
            log.Verbose($"{what}: no cost data (status {report.Status}, no blobs); nothing to save.");
            return null;
        }

        if (!completed)
        {
            throw new EngineException(EngineErrorKind.ReportNotCompleted, $"{what}: the report's status is {report.Status}, so it has no blobs to save; request it again.")
            {
                Advice = EngineAdvice.RequestReportAgain,
            };
        }

        IReadOnlyList<PlannedBlob> blobs = Name(report, folder, Options.Decompress);
        IReadOnlyList<PlannedBlob> confirmed = await ConfirmAsync(blobs, report, shouldProcess, again: false).ConfigureAwait(false);
        if (confirmed.Count == 0)
        {
            return null;
        }

        if (confirmed.Count < blobs.Count)
        {
            log.Warning($"{what}: {blobs.Count - confirmed.Count} of its {blobs.Count} blobs were declined; the files saved do not make a whole report, so it will not load as one.");
        }

        return new SavePlan { Report = report, Folder = folder, Blobs = confirmed, Source = source, Bytes = bytes, ShouldProcess = shouldProcess };
    }

    /// <summary>
    /// Saves every plan, streaming the outcomes in the order of the plans, and reports overall progress (bytes, rate,
    /// files) every half second under <see cref="BlobSaveOptions.Activity"/>.
    /// </summary>
    public async IAsyncEnumerable<SaveOutcome> SaveAsync(IReadOnlyList<SavePlan> plans, IEngineLog log, IProgress<EngineProgress>? progress, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plans);
        ArgumentNullException.ThrowIfNull(log);
        if (plans.Count == 0)
        {
            yield break;
        }

        int blobTotal = plans.Sum(p => p.Blobs.Count);
        long byteTotal = plans.Sum(p => p.ByteCount);
        var watch = Stopwatch.StartNew();
        using var ticker = new CancellationTokenSource();
        Task ticking = progress is null ? Task.CompletedTask : TickAsync(progress, byteTotal, blobTotal, watch, ticker.Token);
        try
        {
            await foreach (SaveOutcome outcome in FanOut.InInputOrder(plans, Options.ThrottleLimit, (plan, _, ct) => SaveOneAsync(plan, log, ct), cancellationToken).ConfigureAwait(false))
            {
                yield return outcome;
            }
        }
        finally
        {
            await ticker.CancelAsync().ConfigureAwait(false);
            await ticking.ConfigureAwait(false);
            progress?.Report(new EngineProgress(Options.ProgressId, Options.Activity, "Done", 100, Completed: true));
            watch.Stop();
            log.Verbose(string.Create(CultureInfo.InvariantCulture, $"Done in {watch.Elapsed.TotalSeconds:N1} s: {FilesDone} of {blobTotal} file(s), {BytesDone / 1048576.0:N1} of {byteTotal / 1048576.0:N1} MB in place."));
        }
    }

    /// <summary>
    /// Saves one plan: its blobs in parallel under the saver's gate; when its links have expired or are about to (before
    /// or during the downloads) and refresh is on, the report is requested again once and the blobs saved from it.
    /// Failures are the outcome's errors (expired links once for the report, not once per blob); only cancellation throws.
    /// </summary>
    public async Task<SaveOutcome> SaveOneAsync(SavePlan plan, IEngineLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(log);
        CostReportResult report = plan.Report;
        IReadOnlyList<PlannedBlob> blobs = plan.Blobs;
        bool refreshed = false;
        try
        {
            while (true)
            {
                if (!refreshed && Options.Refresh && plan.Source is not null && IsExpiring(report, blobs))
                {
                    (report, blobs) = await RefreshAsync(plan, report, log, cancellationToken).ConfigureAwait(false);
                    refreshed = true;
                }

                var results = new object[blobs.Count];
                int count = report.Blobs.Count;
                await Task.WhenAll(blobs.Select((b, k) => Task.Run(
                    async () => results[k] = await DownloadAsync(plan, report, b, count, log, cancellationToken).ConfigureAwait(false),
                    CancellationToken.None))).ConfigureAwait(false);

                Exception[] failures = results.OfType<Exception>().ToArray();
                if (failures.Length == 0)
                {
                    return new SaveOutcome(plan, report, results.Cast<SavedBlob>().OrderBy(f => f.Index).ToList(), Array.Empty<Exception>());
                }

                bool expired = failures.Any(e => e is EngineException { Kind: EngineErrorKind.LinkExpired });
                if (expired && !refreshed && Options.Refresh && plan.Source is not null)
                {
                    (report, blobs) = await RefreshAsync(plan, report, log, cancellationToken).ConfigureAwait(false);
                    refreshed = true;
                    continue;
                }

                // Expired links fail every blob the same way: one error for the report says it.
                IReadOnlyList<Exception> errors = failures.All(e => e is EngineException { Kind: EngineErrorKind.LinkExpired }) ? failures.Take(1).ToArray() : failures;
                return new SaveOutcome(plan, report, Array.Empty<SavedBlob>(), errors);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new SaveOutcome(plan, report, Array.Empty<SavedBlob>(), [e]);
        }
    }

    private async Task<object> DownloadAsync(SavePlan plan, CostReportResult report, PlannedBlob b, int count, IEngineLog log, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ct.ThrowIfCancellationRequested(); // a slot freed by a cancelled download starts nothing
            var request = new BlobDownloadRequest(b.Blob.Link, b.Path, b.Blob.ByteCount, b.Decompress, Options.Force)
            {
                ValidTill = report.ValidTill,
                Description = string.Create(CultureInfo.InvariantCulture, $"Blob {b.Blob.Index} of {count} of {CostDetailsClient.Describe(report.Request)}"),
            };
            var bytes = new ByteCounter(this, plan.Bytes);
            BlobDownloadOutcome outcome = await _blobs.DownloadAsync(request, log, bytes, ct).ConfigureAwait(false);
            if (outcome.Skipped)
            {
                bytes.Report(Math.Max(0, b.Blob.ByteCount)); // counted as in place, as the manifest sizes it
            }

            Interlocked.Increment(ref _filesDone);
            return new SavedBlob(b.Blob.Index, count, outcome.Path, outcome.Bytes, outcome.Skipped);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return e;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<(CostReportResult Report, IReadOnlyList<PlannedBlob> Blobs)> RefreshAsync(SavePlan plan, CostReportResult report, IEngineLog log, CancellationToken ct)
    {
        string what = CostDetailsClient.Describe(report.Request);
        log.Verbose($"{what}: its blob links have expired or are about to; {Options.RefreshNote}.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.RefreshTimeout);
        CostReportResult fresh;
        try
        {
            fresh = await ReportRequester.RequestAgainAsync(plan.Source!, report, log, null, 0, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new EngineException(EngineErrorKind.Timeout, string.Create(CultureInfo.InvariantCulture, $"{what}: requested again for fresh links, the report did not come back within {Options.RefreshTimeout.TotalMinutes:N0} minutes."));
        }

        if (!string.Equals(fresh.Status, "Completed", StringComparison.OrdinalIgnoreCase) || fresh.Blobs.Count == 0)
        {
            throw new EngineException(EngineErrorKind.ServiceError, $"{what}: requested again for fresh links, the report came back {fresh.Status} with {fresh.Blobs.Count} blob(s); nothing was saved.");
        }

        IReadOnlyList<PlannedBlob> blobs = Name(fresh, plan.Folder, Options.Decompress);
        if (fresh.Blobs.Count != report.Blobs.Count)
        {
            // The report now has another number of blobs: every file name changes; confirm the new ones.
            return (fresh, await ConfirmAsync(blobs, fresh, plan.ShouldProcess, again: true).ConfigureAwait(false));
        }

        var wanted = new HashSet<int>(plan.Blobs.Select(b => b.Blob.Index));
        return (fresh, blobs.Where(b => wanted.Contains(b.Blob.Index)).ToList());
    }

    private bool IsExpiring(CostReportResult report, IReadOnlyList<PlannedBlob> blobs)
    {
        DateTimeOffset soon = DateTimeOffset.UtcNow + Options.ExpirySoon;
        foreach (PlannedBlob b in blobs)
        {
            DateTimeOffset? expiry = BlobLink.Expiry(b.Blob.Link, report.ValidTill);
            if (expiry is DateTimeOffset e && e < soon && !BlobDownloader.IsComplete(new BlobDownloadRequest(b.Blob.Link, b.Path, b.Blob.ByteCount, b.Decompress, Options.Force)))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<IReadOnlyList<PlannedBlob>> ConfirmAsync(IReadOnlyList<PlannedBlob> blobs, CostReportResult report, Func<string, string, Task<bool>>? shouldProcess, bool again)
    {
        if (shouldProcess is null)
        {
            return blobs;
        }

        var confirmed = new List<PlannedBlob>(blobs.Count);
        foreach (PlannedBlob b in blobs)
        {
            string action = string.Create(CultureInfo.InvariantCulture, $"Save blob {b.Blob.Index} of {blobs.Count} ({b.Blob.ByteCount:N0} bytes{(b.Decompress ? ", gzip, decompressed" : string.Empty)}) of the {CostDetailsClient.Describe(report.Request)} report{(again ? " (requested again)" : string.Empty)}");
            if (await shouldProcess(b.Path, action).ConfigureAwait(false))
            {
                confirmed.Add(b);
            }
        }

        return confirmed;
    }

    private async Task TickAsync(IProgress<EngineProgress> progress, long byteTotal, int blobTotal, Stopwatch watch, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                long done = BytesDone;
                double mb = done / 1048576.0;
                double rate = mb / Math.Max(watch.Elapsed.TotalSeconds, 1e-3);
                int percent = byteTotal > 0 ? (int)Math.Clamp(done * 100 / byteTotal, 0, 100) : -1;
                progress.Report(new EngineProgress(
                    Options.ProgressId,
                    Options.Activity,
                    string.Create(CultureInfo.InvariantCulture, $"{mb:N1} of {byteTotal / 1048576.0:N1} MB, {rate:N1} MB/s, {FilesDone} of {blobTotal} files"),
                    percent));
                await Task.Delay(TimeSpan.FromMilliseconds(500), stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Adds a download's byte counts (negative on a restart) to the saver's total and to its plan's bar.</summary>
    private sealed class ByteCounter(BlobSaver owner, IProgress<long>? plan) : IProgress<long>
    {
        public void Report(long value)
        {
            Interlocked.Add(ref owner._bytesDone, value);
            plan?.Report(value);
        }
    }
}
