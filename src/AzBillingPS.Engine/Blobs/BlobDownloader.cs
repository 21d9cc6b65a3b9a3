using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Blobs;

/// <summary>Puts one blob on disk (the blob downloader in production, an in-memory fake in tests).</summary>
public interface IBlobSource
{
    /// <summary>Downloads one blob to its destination; see <see cref="BlobDownloader.DownloadAsync"/>.</summary>
    Task<BlobDownloadOutcome> DownloadAsync(BlobDownloadRequest request, IEngineLog log, IProgress<long>? bytesWritten, CancellationToken cancellationToken);
}

/// <summary>
/// Puts report blobs on disk. Each download streams into <c>&lt;file&gt;.partial</c> (<see cref="RangeDownload"/>:
/// resumable, retried, length and Content-MD5 checked, hashing beside the copy), is decompressed when asked
/// (<see cref="GzipInflater"/>), and only then renamed into place, so a file with its final name is always complete.
/// Refusals are explained from the storage service's own error (<see cref="StorageError"/>). One instance holds one
/// HttpClient; it is thread-safe and meant to be reused for many downloads at once. The link's SAS signature never
/// appears in a message, a log line or a file.
/// </summary>
public sealed class BlobDownloader : IBlobSource, IDisposable
{
    private const string PartialSuffix = ".partial";
    private const string StateSuffix = ".partial.state";

    private readonly BlobDownloaderOptions _options;
    private readonly HttpClient _http;

    public BlobDownloader(BlobDownloaderOptions? options = null)
    {
        _options = options ?? new BlobDownloaderOptions();
        if (_options.BufferSize < 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "BufferSize must be at least 4096 bytes.");
        }

        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = _options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        };
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        string version = typeof(BlobDownloader).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("AzBillingPS", version));
    }

    /// <summary>The temporary file a download of <paramref name="destinationPath"/> writes before it is renamed.</summary>
    public static string PartialPathFor(string destinationPath) => destinationPath + PartialSuffix;

    /// <summary>
    /// Downloads one blob. Returns when the file is complete and verified under its final name, or when a complete file
    /// was already there (<see cref="BlobDownloadOutcome.Skipped"/>). <paramref name="bytesWritten"/> receives the number
    /// of bytes each write added (including, once, the bytes of a resumed <c>.partial</c>); it receives a negative
    /// number when a download has to start again from the first byte, so a running sum is always the bytes on disk.
    /// Throws <see cref="EngineException"/>: LinkExpired (expired or about to), AuthenticationFailed/PermissionDenied
    /// (storage 403, with the storage error code), NotFound, ServiceError (retries or resumes exhausted, length or MD5
    /// mismatch), InvalidArgument (a link that is not https); OperationCanceledException when cancelled. After a
    /// failure only <c>.partial</c> files remain, never a file under the final name.
    /// </summary>
    public async Task<BlobDownloadOutcome> DownloadAsync(BlobDownloadRequest request, IEngineLog log, IProgress<long>? bytesWritten, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(log);
        if (request.MaxResumes < 0)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "MaxResumes must be 0 or more.");
        }

        if (string.IsNullOrWhiteSpace(request.DestinationPath))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "The destination path is empty.");
        }

        var watch = Stopwatch.StartNew();
        BlobLink.EnsureAllowed(request.Link);
        string final = Path.GetFullPath(request.DestinationPath);
        string what = request.Description ?? Path.GetFileName(final);
        string partial = final + PartialSuffix;
        string stateFile = final + StateSuffix;

        // Only files this module made are kept, resumed or replaced: a link or another user's file at one of the
        // names stops the download (AzBillingUnsafeFile) and is left as it is.
        bool finalExists = PrivateFiles.RequireOwnedFile(final, "used");
        if (request.Force)
        {
            PrivateFiles.DeleteOwned(partial);
            PrivateFiles.DeleteOwned(stateFile);
        }
        else if (finalExists)
        {
            long length = new FileInfo(final).Length;
            if (IsComplete(request))
            {
                log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: {final} is already there ({length:N0} bytes); kept, not downloaded again."));
                return new BlobDownloadOutcome(final, length, true, 0, watch.Elapsed);
            }

            log.Warning(string.Create(CultureInfo.InvariantCulture, $"{what}: {final} has {length:N0} bytes but the report's manifest says {request.ExpectedBytes:N0}; downloading the blob again to replace it."));
        }

        CheckExpiry(request, what);
        string? folder = Path.GetDirectoryName(final);
        if (!string.IsNullOrEmpty(folder) && !PrivateFiles.Inspect(folder).Exists)
        {
            PrivateFiles.CreateFolderTree(folder);
        }

        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: downloading {SasRedactor.Redact(request.Link)} ({RangeDownload.Describe(request.ExpectedBytes)}) to {final}."));
        int resumes = await new RangeDownload(_http, _options, request, partial, stateFile, what, log, bytesWritten).FetchAsync(cancellationToken).ConfigureAwait(false);

        long bytes;
        if (request.Decompress)
        {
            bytes = await GzipInflater.InflateAsync(partial, final, stateFile, what, _options, log, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            bytes = new FileInfo(partial).Length;
            File.Move(partial, final, overwrite: true);
        }

        DeleteQuietly(stateFile);
        watch.Stop();
        double seconds = Math.Max(watch.Elapsed.TotalSeconds, 1e-6);
        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: saved {final} ({bytes:N0} bytes) in {watch.Elapsed.TotalSeconds:N1} s ({request.ExpectedBytes / 1048576.0 / seconds:N1} MB/s){(resumes > 0 ? $", resumed {resumes} time(s)" : string.Empty)}."));
        return new BlobDownloadOutcome(final, bytes, false, resumes, watch.Elapsed);
    }

    /// <summary>
    /// True when <see cref="DownloadAsync"/> would keep the file already at the destination: not <c>Force</c>, and the
    /// file exists with the manifest's length (a decompressed file, whose length the manifest does not know, counts as
    /// complete when it exists: files only ever get their final name once verified).
    /// </summary>
    public static bool IsComplete(BlobDownloadRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Force)
        {
            return false;
        }

        string path = Path.GetFullPath(request.DestinationPath);
        return PrivateFiles.IsOwnedFile(path) && (request.Decompress || request.ExpectedBytes <= 0 || new FileInfo(path).Length == request.ExpectedBytes);
    }

    public void Dispose() => _http.Dispose();

    internal static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private void CheckExpiry(BlobDownloadRequest request, string what)
    {
        DateTimeOffset? expiry = BlobLink.Expiry(request.Link, request.ValidTill);
        if (expiry is not DateTimeOffset e)
        {
            return;
        }

        DateTimeOffset now = _options.TimeProvider.GetUtcNow();
        if (e - now >= _options.ExpiryMargin)
        {
            return;
        }

        string when = e <= now
            ? string.Create(CultureInfo.InvariantCulture, $"expired at {e.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC")
            : string.Create(CultureInfo.InvariantCulture, $"expires at {e.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC, in less than {_options.ExpiryMargin.TotalSeconds:N0} seconds");
        throw new EngineException(
            EngineErrorKind.LinkExpired,
            $"{what}: the report's blob link {when}, so the download was not started; the report has to be requested again for fresh links.")
        {
            Advice = EngineAdvice.RequestReportAgain,
        };
    }
}
