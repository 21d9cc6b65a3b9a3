using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Downloads every blob of cost-details reports to a folder: streamed, parallel, resumable, verified.</para>
/// <para type="description">Takes AzCostReport objects from New-AzCostReport and writes one AzCostFile per blob, ready
/// for Import-AzCostToSql.</para>
/// </summary>
[Cmdlet(VerbsData.Save, "AzCostBlob", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(AzCostFile))]
public sealed class SaveAzCostBlobCommand : AsyncCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const int ProgressId = 1;
    private static readonly TimeSpan RefreshTimeout = TimeSpan.FromHours(1);

    private readonly List<AzCostReport> _reports = new();
    private readonly HashSet<AzCostReport> _seen = new(ReferenceEqualityComparer.Instance);
    private long _bytesDone;

    /// <summary>Reports from New-AzCostReport.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, HelpMessage = "AzCostReport objects, as New-AzCostReport writes them.")]
    [ValidateNotNull]
    public AzCostReport[] Report { get; set; } = Array.Empty<AzCostReport>();

    /// <summary>The folder the files go to (created when missing); wildcards allowed when they match one folder.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, HelpMessage = "The folder to save the files in (created when missing).")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string Path { get; set; } = string.Empty;

    /// <summary>The folder the files go to, taken literally.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, HelpMessage = "The folder to save the files in, taken literally (created when missing).")]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = string.Empty;

    /// <summary>Decompress gzip blobs (reports with CompressData) to .csv; -Decompress:$false keeps .csv.gz.</summary>
    [Parameter]
    public SwitchParameter Decompress { get; set; } = true;

    /// <summary>Download again even when a complete file is already there.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How many blobs download at the same time, across all reports.</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int ThrottleLimit { get; set; } = 4;

    /// <summary>When a report's links have expired, request the report again with its token and go on.</summary>
    [Parameter]
    public SwitchParameter Refresh { get; set; }

    /// <summary>How many times its compressed size a gzip blob may inflate to before it is discarded (at least 64 MB).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int MaxGzipRatio { get; set; } = InflationLimit.DefaultMaxRatio;

    protected override Task ProcessRecordAsync()
    {
        foreach (AzCostReport report in Report)
        {
            if (report is not null && _seen.Add(report))
            {
                _reports.Add(report);
            }
        }

        return Task.CompletedTask;
    }

    protected override async Task EndProcessingAsync()
    {
        if (_reports.Count == 0)
        {
            return;
        }

        string folder = await OnPipelineAsync(ResolveFolder).ConfigureAwait(false);
        IEngineLog log = CreateLog();
        IProgress<EngineProgress> progress = CreateProgress();

        // What each report would write, and the user's say on each file (ShouldProcess runs on the pipeline thread).
        var plans = new ReportPlan?[_reports.Count];
        int blobTotal = 0;
        long byteTotal = 0;
        for (int i = 0; i < _reports.Count; i++)
        {
            plans[i] = await PlanAsync(_reports[i], folder, log).ConfigureAwait(false);
            if (plans[i] is ReportPlan p)
            {
                blobTotal += p.Blobs.Count;
                byteTotal += p.Blobs.Sum(b => Math.Max(0, b.Blob.ByteCount));
            }
        }

        if (blobTotal == 0)
        {
            return;
        }

        // Made private when missing; refused when another user owns it or can write to it (AzBillingUnsafeFolder).
        string parameter = ParameterSetName == LiteralPathSet ? "-LiteralPath" : "-Path";
        folder = PrivateFiles.EnsureFolder(folder, strict: false, parameter, parameter);
        WriteVerboseAsync(string.Create(CultureInfo.InvariantCulture, $"Saving {blobTotal} blob(s) of {plans.Count(p => p is not null)} report(s), {byteTotal / 1048576.0:N1} MB, to {folder}, at most {ThrottleLimit} at a time."));

        using var downloader = new BlobDownloader(new BlobDownloaderOptions { Inflation = new InflationLimit(MaxGzipRatio) });
        using var gate = new SemaphoreSlim(ThrottleLimit);
        var outcomes = new object?[plans.Length];
        var done = new bool[plans.Length];
        int next = 0;
        int filesDone = 0;
        var order = new object();
        var watch = Stopwatch.StartNew();
        var bytes = new ByteCounter(this);
        using var ticker = new CancellationTokenSource();
        Task progressLoop = ReportProgressAsync(progress, byteTotal, blobTotal, () => Volatile.Read(ref filesDone), watch, ticker.Token);
        try
        {
            Task[] tasks = plans.Select((plan, i) => Task.Run(async () =>
            {
                object? outcome = null;
                if (plan is not null)
                {
                    try
                    {
                        outcome = await SaveReportAsync(plan, downloader, gate, bytes, log, () => Interlocked.Increment(ref filesDone)).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        outcome = new ReportFailure(plan.Report, [e]);
                    }
                }

                lock (order)
                {
                    outcomes[i] = outcome;
                    done[i] = true;
                    while (next < outcomes.Length && done[next])
                    {
                        Emit(outcomes[next]);
                        outcomes[next] = null;
                        next++;
                    }
                }
            })).ToArray();
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            await ticker.CancelAsync().ConfigureAwait(false);
            await progressLoop.ConfigureAwait(false);
            progress.Report(new EngineProgress(ProgressId, "Save-AzCostBlob", "Done", 100, Completed: true));
        }

        watch.Stop();
        WriteVerboseAsync(string.Create(CultureInfo.InvariantCulture, $"Done in {watch.Elapsed.TotalSeconds:N1} s: {Volatile.Read(ref filesDone)} of {blobTotal} file(s), {Interlocked.Read(ref _bytesDone) / 1048576.0:N1} of {byteTotal / 1048576.0:N1} MB in place."));
    }

    private string ResolveFolder()
    {
        string folder;
        if (ParameterSetName == LiteralPathSet)
        {
            folder = SessionState.Path.GetUnresolvedProviderPathFromPSPath(LiteralPath, out ProviderInfo provider, out _);
            EnsureFileSystem(provider, LiteralPath);
        }
        else if (WildcardPattern.ContainsWildcardCharacters(Path))
        {
            Collection resolved;
            try
            {
                resolved = new Collection(GetResolvedProviderPathFromPSPath(Path, out ProviderInfo provider), provider);
            }
            catch (ItemNotFoundException e)
            {
                throw new TerminatingErrorException(new ErrorRecord(new DirectoryNotFoundException($"-Path '{Path}' matches no folder; give an existing folder or a plain path to create.", e), ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, Path));
            }

            EnsureFileSystem(resolved.Provider, Path);
            if (resolved.Paths.Count == 0)
            {
                throw new TerminatingErrorException(new ErrorRecord(new DirectoryNotFoundException($"-Path '{Path}' matches no folder; give an existing folder or a plain path to create."), ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, Path));
            }

            if (resolved.Paths.Count != 1)
            {
                throw new TerminatingErrorException(new ErrorRecord(new ArgumentException($"-Path '{Path}' matches {resolved.Paths.Count} folders; give exactly one."), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, Path));
            }

            folder = resolved.Paths[0];
        }
        else
        {
            // No wildcard left: a path to create, with any escaped wildcard characters (`[) taken literally.
            folder = SessionState.Path.GetUnresolvedProviderPathFromPSPath(WildcardPattern.Unescape(Path), out ProviderInfo provider, out _);
            EnsureFileSystem(provider, Path);
        }

        if (File.Exists(folder))
        {
            throw new TerminatingErrorException(new ErrorRecord(new IOException($"'{folder}' is a file; -Path and -LiteralPath name the folder the blobs are saved in."), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, folder));
        }

        return folder;
    }

    private static void EnsureFileSystem(ProviderInfo provider, string path)
    {
        if (!string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase))
        {
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException($"'{path}' is not a file-system path (provider {provider.Name})."), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, path));
        }
    }

    /// <summary>The blobs of a report that are to be saved (each confirmed through ShouldProcess), or null for none.</summary>
    private async Task<ReportPlan?> PlanAsync(AzCostReport report, string folder, IEngineLog log)
    {
        if (string.Equals(report.Status, "NoDataFound", StringComparison.OrdinalIgnoreCase) || (report.Blobs.Length == 0 && string.Equals(report.Status, "Completed", StringComparison.OrdinalIgnoreCase)))
        {
            log.Verbose($"{Describe(report)}: no cost data (status {report.Status}, no blobs); nothing to save.");
            return null;
        }

        if (!string.Equals(report.Status, "Completed", StringComparison.OrdinalIgnoreCase))
        {
            WriteErrorAsync(new ErrorRecord(
                new InvalidOperationException($"{Describe(report)}: the report's status is {report.Status}, so it has no blobs to save; request it again with New-AzCostReport."),
                ErrorIds.BlobReportNotCompleted, ErrorCategory.InvalidResult, report));
            return null;
        }

        List<PlannedBlob> blobs;
        try
        {
            blobs = BlobsOf(report, folder);
        }
        catch (EngineException e)
        {
            WriteItemError(e, report);
            return null;
        }

        var confirmed = new List<PlannedBlob>(blobs.Count);
        foreach (PlannedBlob b in blobs)
        {
            string action = string.Create(CultureInfo.InvariantCulture, $"Save blob {b.Blob.Index} of {blobs.Count} ({b.Blob.ByteCount:N0} bytes{(b.Decompress ? ", gzip, decompressed" : string.Empty)}) of the {Describe(report)} report");
            if (await ShouldProcessAsync(b.Path, action).ConfigureAwait(false))
            {
                confirmed.Add(b);
            }
        }

        if (confirmed.Count == 0)
        {
            return null;
        }

        if (confirmed.Count < blobs.Count)
        {
            log.Warning($"{Describe(report)}: {blobs.Count - confirmed.Count} of its {blobs.Count} blobs were declined; the files saved do not make a whole report, so Import-AzCostToSql will not load it.");
        }

        return new ReportPlan(report, folder, confirmed);
    }

    private List<PlannedBlob> BlobsOf(AzCostReport report, string folder)
    {
        int count = report.Blobs.Length;
        bool gzip = report.CompressData;
        bool decompress = gzip && Decompress.IsPresent;
        var list = new List<PlannedBlob>(count);
        foreach (AzCostReportBlob blob in report.Blobs.OrderBy(b => b.Index))
        {
            CostDetailsBlob b = new(blob.Blob.Index, blob.Blob.Link, blob.Blob.ByteCount);
            string name = report.Result.Request.Start is DateOnly start && report.Result.Request.End is DateOnly end
                ? BlobFileName.For(report.Scope, report.Metric, start, end, b.Index, count, gzip && !decompress)
                : BlobFileName.ForInvoice(report.Scope, report.Metric, report.InvoiceId ?? report.OperationId ?? "unknown", b.Index, count, gzip && !decompress);
            list.Add(new PlannedBlob(b, System.IO.Path.Combine(folder, name), decompress));
        }

        if (list.Select(b => b.Blob.Index).Distinct().Count() != count || list.Any(b => b.Blob.Index < 1 || b.Blob.Index > count))
        {
            throw new EngineException(EngineErrorKind.ServiceError, $"{Describe(report)}: the manifest's blob indexes are not 1 to {count}; request the report again.");
        }

        return list;
    }

    /// <summary>Downloads a report's blobs (in parallel, under the shared gate); requests it again once when its links expire and -Refresh allows.</summary>
    private async Task<object> SaveReportAsync(ReportPlan plan, BlobDownloader downloader, SemaphoreSlim gate, ByteCounter bytes, IEngineLog log, Action fileDone)
    {
        AzCostReport report = plan.Report;
        IReadOnlyList<PlannedBlob> blobs = plan.Blobs;
        bool refreshed = false;
        while (true)
        {
            bool expiring = IsExpiring(report, blobs);
            if (expiring && Refresh.IsPresent && !refreshed && report.Token is not null)
            {
                (report, blobs) = await RefreshAsync(report, plan, log).ConfigureAwait(false);
                refreshed = true;
            }

            var results = new object[blobs.Count];
            await Task.WhenAll(blobs.Select((b, k) => Task.Run(async () =>
            {
                await gate.WaitAsync(CancellationToken).ConfigureAwait(false);
                try
                {
                    var request = new BlobDownloadRequest(b.Blob.Link, b.Path, b.Blob.ByteCount, b.Decompress, Force.IsPresent)
                    {
                        ValidTill = report.ValidTill,
                        Description = string.Create(CultureInfo.InvariantCulture, $"Blob {b.Blob.Index} of {blobs.Count} of {Describe(report)}"),
                    };
                    BlobDownloadOutcome outcome = await downloader.DownloadAsync(request, log, bytes, CancellationToken).ConfigureAwait(false);
                    if (outcome.Skipped)
                    {
                        bytes.Skipped(Math.Max(0, b.Blob.ByteCount));
                    }

                    fileDone();
                    results[k] = outcome;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    results[k] = e;
                }
                finally
                {
                    gate.Release();
                }
            }))).ConfigureAwait(false);

            Exception[] failures = results.OfType<Exception>().ToArray();
            if (failures.Length == 0)
            {
                return ToFiles(report, blobs, results.Cast<BlobDownloadOutcome>().ToArray());
            }

            bool linkExpired = failures.Any(e => e is EngineException { Kind: EngineErrorKind.LinkExpired });
            if (linkExpired && Refresh.IsPresent && !refreshed && report.Token is not null)
            {
                (report, blobs) = await RefreshAsync(report, plan, log).ConfigureAwait(false);
                refreshed = true;
                continue;
            }

            if (linkExpired && Refresh.IsPresent && report.Token is null)
            {
                return new ReportFailure(report, [new EngineException(EngineErrorKind.LinkExpired, $"{Describe(report)}: the report's blob links have expired and -Refresh cannot request it again because the report carries no token (it was not made by New-AzCostReport with a token). Run New-AzCostReport again.", failures[0])]);
            }

            return new ReportFailure(report, failures);
        }
    }

    private async Task<(AzCostReport Report, IReadOnlyList<PlannedBlob> Blobs)> RefreshAsync(AzCostReport report, ReportPlan plan, IEngineLog log)
    {
        log.Verbose($"{Describe(report)}: its blob links have expired or are about to; -Refresh requests the report again.");
        AzCostReport fresh = await Commands.NewAzCostReportCommand.RequestAgainAsync(report, log, null, 0, RefreshTimeout, CancellationToken).ConfigureAwait(false);
        if (!string.Equals(fresh.Status, "Completed", StringComparison.OrdinalIgnoreCase) || fresh.Blobs.Length == 0)
        {
            throw new EngineException(EngineErrorKind.ServiceError, $"{Describe(report)}: requested again for fresh links, the report came back {fresh.Status} with {fresh.Blobs.Length} blob(s); nothing was saved.");
        }

        List<PlannedBlob> blobs = BlobsOf(fresh, plan.Folder);
        if (fresh.Blobs.Length != report.Blobs.Length)
        {
            // The report now has another number of blobs: every file name changes; confirm the new ones.
            var confirmed = new List<PlannedBlob>(blobs.Count);
            foreach (PlannedBlob b in blobs)
            {
                if (await ShouldProcessAsync(b.Path, string.Create(CultureInfo.InvariantCulture, $"Save blob {b.Blob.Index} of {blobs.Count} ({b.Blob.ByteCount:N0} bytes) of the {Describe(fresh)} report (requested again)")).ConfigureAwait(false))
                {
                    confirmed.Add(b);
                }
            }

            return (fresh, confirmed);
        }

        var wanted = new HashSet<int>(plan.Blobs.Select(b => b.Blob.Index));
        return (fresh, blobs.Where(b => wanted.Contains(b.Blob.Index)).ToList());
    }

    private static bool IsExpiring(AzCostReport report, IReadOnlyList<PlannedBlob> blobs)
    {
        DateTimeOffset soon = DateTimeOffset.UtcNow.AddMinutes(1);
        foreach (PlannedBlob b in blobs)
        {
            DateTimeOffset? expiry = BlobLink.Expiry(b.Blob.Link, report.ValidTill);
            if (expiry is DateTimeOffset e && e < soon && !BlobDownloader.IsComplete(new BlobDownloadRequest(b.Blob.Link, b.Path, b.Blob.ByteCount, b.Decompress, false)))
            {
                return true;
            }
        }

        return false;
    }

    private static AzCostFile[] ToFiles(AzCostReport report, IReadOnlyList<PlannedBlob> blobs, BlobDownloadOutcome[] outcomes)
    {
        var files = new AzCostFile[blobs.Count];
        for (int k = 0; k < blobs.Count; k++)
        {
            files[k] = new AzCostFile(outcomes[k].Path, report.Scope, report.Metric, report.PeriodStart, report.PeriodEnd, blobs[k].Blob.Index, report.Blobs.Length)
            {
                Bytes = outcomes[k].Bytes,
                OperationId = report.OperationId,
                Skipped = outcomes[k].Skipped,
            };
        }

        return files.OrderBy(f => f.BlobIndex).ToArray();
    }

    private void Emit(object? outcome)
    {
        switch (outcome)
        {
            case AzCostFile[] files:
                foreach (AzCostFile f in files)
                {
                    WriteObjectAsync(f);
                }

                break;
            case ReportFailure failure:
                // Expired links fail every blob the same way: one error for the report says it.
                IEnumerable<Exception> errors = failure.Errors.All(e => e is EngineException { Kind: EngineErrorKind.LinkExpired }) ? failure.Errors.Take(1) : failure.Errors;
                foreach (Exception e in errors)
                {
                    WriteItemError(e, failure.Report);
                }

                break;
        }
    }

    private async Task ReportProgressAsync(IProgress<EngineProgress> progress, long byteTotal, int blobTotal, Func<int> filesDone, Stopwatch watch, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                long doneBytes = Interlocked.Read(ref _bytesDone);
                double mb = doneBytes / 1048576.0;
                double rate = mb / Math.Max(watch.Elapsed.TotalSeconds, 1e-3);
                int percent = byteTotal > 0 ? (int)Math.Min(100, doneBytes * 100 / byteTotal) : -1;
                progress.Report(new EngineProgress(
                    ProgressId,
                    "Save-AzCostBlob",
                    string.Create(CultureInfo.InvariantCulture, $"{mb:N1} of {byteTotal / 1048576.0:N1} MB, {rate:N1} MB/s, {filesDone()} of {blobTotal} files"),
                    percent));
                await Task.Delay(TimeSpan.FromMilliseconds(500), stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string Describe(AzCostReport report)
        => report.Result.Request.Start is not null
            ? string.Create(CultureInfo.InvariantCulture, $"{report.Scope} {report.Metric} {report.PeriodStart:yyyy-MM-dd}..{report.PeriodEnd:yyyy-MM-dd}")
            : $"{report.Scope} {report.Metric} invoice {report.InvoiceId}";

    private sealed record CostDetailsBlob(int Index, Uri Link, long ByteCount);

    private sealed record PlannedBlob(CostDetailsBlob Blob, string Path, bool Decompress);

    private sealed record ReportPlan(AzCostReport Report, string Folder, IReadOnlyList<PlannedBlob> Blobs);

    private sealed record ReportFailure(AzCostReport Report, IReadOnlyList<Exception> Errors);

    private sealed record Collection(System.Collections.ObjectModel.Collection<string> Paths, ProviderInfo Provider);

    /// <summary>Adds every download's byte counts (negative on a restart) to the command's total.</summary>
    private sealed class ByteCounter(SaveAzCostBlobCommand owner) : IProgress<long>
    {
        public void Report(long value) => Interlocked.Add(ref owner._bytesDone, value);

        public void Skipped(long value) => Interlocked.Add(ref owner._bytesDone, value);
    }
}
