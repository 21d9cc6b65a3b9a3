using System;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// The blob downloader as a Sync blob source: every blob streamed to its file in the unit's folder, length checked,
/// decompressed when the report is gzip, always downloaded afresh (a run's files belong to its own reports).
/// </summary>
public sealed class BlobDownloaderSource : ISyncBlobSource, IDisposable
{
    private readonly BlobDownloader _downloader;

    public BlobDownloaderSource(BlobDownloaderOptions? options = null)
    {
        _downloader = new BlobDownloader(options);
    }

    public string FileName(CostReportResult report, CostReportBlob blob)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(blob);
        CostReportRequest r = report.Request;
        return BlobFileName.For(r.Scope, r.Metric, r.Start ?? DateOnly.MinValue, r.End ?? r.Start ?? DateOnly.MinValue, blob.Index, Math.Max(report.Blobs.Count, blob.Index), gzip: false);
    }

    public async Task<long> DownloadAsync(CostReportBlob blob, CostReportResult report, string destinationPath, IEngineLog log, IProgress<long>? bytesWritten, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(report);
        var request = new BlobDownloadRequest(blob.Link, destinationPath, blob.ByteCount, report.CompressData, Force: true)
        {
            ValidTill = report.ValidTill,
            Description = $"blob {blob.Index} of {report.Blobs.Count} of {CostDetailsClient.Describe(report.Request)}",
        };
        BlobDownloadOutcome outcome = await _downloader.DownloadAsync(request, log, bytesWritten, cancellationToken).ConfigureAwait(false);
        return outcome.Bytes;
    }

    public void Dispose() => _downloader.Dispose();
}
