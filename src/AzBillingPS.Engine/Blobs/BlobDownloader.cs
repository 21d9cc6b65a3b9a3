using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Reflection;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// Puts report blobs on disk. Each download streams through one bounded buffer into <c>&lt;file&gt;.partial</c>,
/// checks the length against the manifest's byteCount (and the blob's Content-MD5 when the storage service sends one),
/// and only then renames the file into place, so a file with its final name is always complete. A dropped connection
/// is resumed with <c>Range: bytes=&lt;written&gt;-</c> and <c>If-Match: &lt;ETag&gt;</c> (a bounded number of times);
/// a <c>.partial</c> left by a killed run is resumed the same way; 500/502/503/504/408/429 answers are retried with
/// jittered exponential back-off (honouring Retry-After). gzip blobs are kept or decompressed (streaming) as asked.
/// One instance holds one HttpClient; it is thread-safe and meant to be reused for many downloads at once.
/// The link's SAS signature never appears in a message, a log line or a file.
/// </summary>
public sealed class BlobDownloader : IDisposable
{
    private const string PartialSuffix = ".partial";
    private const string StateSuffix = ".partial.state";
    private const string InflateSuffix = ".gunzip.partial";
    private const int MaxErrorBodyBytes = 16 * 1024;
    private const int HashRingDepth = 16;
    private const long ProgressStep = 1024 * 1024;
    private const string TooLong = "\u0000too-long";

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
    public async Task<BlobDownloadOutcome> DownloadAsync(BlobDownloadRequest request, IEngineLog log, IProgress<long>? bytesWritten, CancellationToken ct)
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
                log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: {final} is already there ({length:N0} bytes); skipped (-Force downloads it again)."));
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

        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: downloading {SasRedactor.Redact(request.Link)} ({Describe(request.ExpectedBytes)}) to {final}."));
        int resumes = await FetchAsync(request, partial, stateFile, what, log, bytesWritten, ct).ConfigureAwait(false);

        long bytes;
        if (request.Decompress)
        {
            bytes = await InflateAsync(partial, final, what, log, ct).ConfigureAwait(false);
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
            $"{what}: the report's blob link {when}, so the download was not started. Request the report again (New-AzCostReport), or run Save-AzCostBlob with -Refresh to have it requested again with the report's token.");
    }

    private async Task<int> FetchAsync(BlobDownloadRequest request, string partial, string stateFile, string what, IEngineLog log, IProgress<long>? bytesWritten, CancellationToken ct)
    {
        Uri link = request.Link;
        string blobId = BlobLink.WithoutQuery(link);
        long expected = request.ExpectedBytes > 0 ? request.ExpectedBytes : -1;
        long written = 0;
        string? etag = null;
        bool stateWritten = false;

        PartialState? state = request.Force ? null : PartialState.Read(stateFile);
        bool leftover = PrivateFiles.RequireOwnedFile(partial, "resumed");
        if (leftover)
        {
            long have = new FileInfo(partial).Length;
            if (state is not null && expected > 0 && have > 0 && have <= expected
                && string.Equals(state.Blob, blobId, StringComparison.Ordinal) && state.Bytes == expected)
            {
                // A complete-length leftover fetches its last byte again: that re-checks the ETag and gets the MD5.
                written = have == expected ? have - 1 : have;
                etag = state.ETag;
                stateWritten = true;
                log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: resuming {partial} from byte {written:N0} of {expected:N0} (left by an earlier run)."));
            }
            else
            {
                log.Verbose($"{what}: {partial} was left by an earlier run for another blob, or cannot be checked; starting from the first byte.");
            }
        }

        FileStream stream = leftover ? PrivateFiles.OpenOwned(partial, FileAccess.Write, FileShare.Read) : PrivateFiles.CreateNew(partial, FileAccess.Write, FileShare.Read);
        IncrementalHash? hasher = null;
        byte[]? expectedMd5 = null;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.BufferSize);
        int resumes = 0;
        int retries = 0;
        int restarts = 0;
        bool discard = false;
        try
        {
            stream.SetLength(written);
            stream.Position = written;
            if (written > 0)
            {
                bytesWritten?.Report(written);
            }

            while (true)
            {
                ct.ThrowIfCancellationRequested();
                using var message = new HttpRequestMessage(HttpMethod.Get, link);
                if (written > 0)
                {
                    message.Headers.Range = new RangeHeaderValue(written, null);
                    if (etag is not null)
                    {
                        message.Headers.TryAddWithoutValidation("If-Match", etag);
                    }
                }

                string clientRequestId = Guid.NewGuid().ToString("D");
                message.Headers.TryAddWithoutValidation("x-ms-client-request-id", clientRequestId);
                if (request.BearerToken is { } bearer)
                {
                    TokenEndpoint endpoint = request.TokenEndpoint ?? throw new EngineException(EngineErrorKind.InvalidArgument, "A bearer token needs the endpoint it belongs to.");
                    endpoint.Check(link, what);
                    endpoint.Authorize(message, await bearer(ct).ConfigureAwait(false), what);
                    message.Headers.TryAddWithoutValidation("x-ms-version", Exports.BlobContainerStore.ServiceVersion);
                }

                HttpResponseMessage response;
                using (var headersTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    headersTimeout.CancelAfter(_options.ReadTimeout);
                    try
                    {
                        response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, headersTimeout.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (IsTransient(e, ct))
                    {
                        retries++;
                        string reason = e is OperationCanceledException ? string.Create(CultureInfo.InvariantCulture, $"no answer within {_options.ReadTimeout.TotalSeconds:N0} s") : BlobLink.Scrub(e.Message, link);
                        if (retries > _options.MaxRetries)
                        {
                            throw new EngineException(
                                EngineErrorKind.ServiceError,
                                string.Create(CultureInfo.InvariantCulture, $"{what}: the storage service could not be reached after {retries} attempts ({reason}).{Kept(written, expected, partial)}"),
                                SafeInner(e, link));
                        }

                        TimeSpan wait = Backoff(retries, null);
                        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: request failed ({reason}); retry {retries} of {_options.MaxRetries} in {wait.TotalSeconds:N1} s."));
                        await Task.Delay(wait, _options.TimeProvider, ct).ConfigureAwait(false);
                        continue;
                    }
                }

                using (response)
                {
                    int status = (int)response.StatusCode;
                    string? requestId = Header(response, "x-ms-request-id");
                    log.Debug(string.Create(CultureInfo.InvariantCulture, $"{what}: GET {(written > 0 ? $"bytes={written}-" : "whole blob")} answered {status} (x-ms-request-id {requestId ?? "none"}, x-ms-client-request-id {clientRequestId})."));

                    if (status is 412 or 416)
                    {
                        // 412: the blob changed since the .partial was written (If-Match); 416: it is shorter than the .partial.
                        restarts++;
                        if (restarts > 2)
                        {
                            throw new EngineException(EngineErrorKind.ServiceError, $"{what}: the blob kept changing while it was downloaded ({status}); request the report again.") { CorrelationId = requestId };
                        }

                        log.Warning($"{what}: the blob is not the one the partial download started from ({status} {(status == 412 ? "precondition failed: its ETag changed" : "range not satisfiable")}); starting again from the first byte.");
                        bytesWritten?.Report(-written);
                        written = 0;
                        etag = null;
                        stateWritten = false;
                        stream.SetLength(0);
                        stream.Position = 0;
                        hasher?.Dispose();
                        hasher = null;
                        expectedMd5 = null;
                        continue;
                    }

                    if (status is 408 or 429 or 500 or 502 or 503 or 504)
                    {
                        retries++;
                        string? code = Header(response, "x-ms-error-code");
                        string answer = string.Create(CultureInfo.InvariantCulture, $"{status}{(code is null ? string.Empty : " " + code)}");
                        if (retries > _options.MaxRetries)
                        {
                            throw new EngineException(
                                EngineErrorKind.ServiceError,
                                string.Create(CultureInfo.InvariantCulture, $"{what}: the storage service answered {answer} to {retries} attempts in a row; giving up.{Kept(written, expected, partial)}"))
                            { ServiceCode = code ?? status.ToString(CultureInfo.InvariantCulture), CorrelationId = requestId };
                        }

                        TimeSpan wait = Backoff(retries, RetryAfter(response));
                        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: the storage service answered {answer}; retry {retries} of {_options.MaxRetries} in {wait.TotalSeconds:N1} s."));
                        await Task.Delay(wait, _options.TimeProvider, ct).ConfigureAwait(false);
                        continue;
                    }

                    if (status is not (200 or 206))
                    {
                        throw await ErrorFromAsync(response, request, what, ct).ConfigureAwait(false);
                    }

                    retries = 0; // "in a row": an answer with data ends a run of failures

                    long total;
                    if (status == 206)
                    {
                        ContentRangeHeaderValue? range = response.Content.Headers.ContentRange;
                        if (range is null || range.From != written || range.Length is null)
                        {
                            throw new EngineException(EngineErrorKind.ServiceError, string.Create(CultureInfo.InvariantCulture, $"{what}: asked for bytes {written}- and the storage service answered with the range '{range}'.")) { CorrelationId = requestId };
                        }

                        total = range.Length.Value;
                    }
                    else
                    {
                        if (written > 0)
                        {
                            log.Verbose($"{what}: the storage service sent the whole blob instead of the range asked for; writing it from the first byte.");
                            bytesWritten?.Report(-written);
                            written = 0;
                            stream.SetLength(0);
                            stream.Position = 0;
                            hasher?.Dispose();
                            hasher = null;
                        }

                        total = response.Content.Headers.ContentLength ?? expected;
                    }

                    if (expected > 0 && total >= 0 && total != expected)
                    {
                        discard = true;
                        throw new EngineException(
                            EngineErrorKind.ServiceError,
                            string.Create(CultureInfo.InvariantCulture, $"{what}: the blob has {total:N0} bytes but the report's manifest says {expected:N0}; nothing was saved. The report is out of date: request it again."))
                        { CorrelationId = requestId };
                    }

                    if (expected < 0 && total >= 0)
                    {
                        expected = total;
                    }

                    string? newEtag = Header(response, "ETag");
                    if (newEtag is not null && (!stateWritten || !string.Equals(newEtag, etag, StringComparison.Ordinal)))
                    {
                        etag = newEtag;
                        if (expected > 0)
                        {
                            new PartialState(blobId, expected, etag).Write(stateFile);
                            stateWritten = true;
                        }
                    }

                    byte[]? md5 = BlobMd5(response, status);
                    if (md5 is not null)
                    {
                        expectedMd5 = md5;
                    }

                    if (expectedMd5 is not null && hasher is null)
                    {
                        hasher = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
                        await HashExistingAsync(partial, written, hasher, buffer, ct).ConfigureAwait(false);
                    }

                    long before = written;
                    string? dropReason = null;
                    Stream body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                    (written, dropReason) = await CopyBodyAsync(body, stream, hasher, written, expected, bytesWritten, link, ct).ConfigureAwait(false);
                    if (dropReason == TooLong)
                    {
                        discard = true;
                        throw new EngineException(EngineErrorKind.ServiceError, string.Create(CultureInfo.InvariantCulture, $"{what}: the storage service sent more than the {expected:N0} bytes the blob has; nothing was saved.")) { CorrelationId = requestId };
                    }

                    if (dropReason is null && (expected < 0 || written == expected))
                    {
                        break;
                    }

                    dropReason ??= "the answer ended early";
                    resumes++;
                    if (resumes > request.MaxResumes)
                    {
                        throw new EngineException(
                            EngineErrorKind.ServiceError,
                            string.Create(CultureInfo.InvariantCulture, $"{what}: the connection dropped {resumes} times (last: {dropReason}); giving up after {request.MaxResumes} resumes.{Kept(written, expected, partial)}"))
                        { CorrelationId = requestId };
                    }

                    log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: the connection dropped after {written:N0} of {Describe(expected)} ({dropReason}); resuming from there ({resumes} of {request.MaxResumes})."));
                    if (written == before)
                    {
                        await Task.Delay(Backoff(resumes, null), _options.TimeProvider, ct).ConfigureAwait(false);
                    }
                }
            }

            await stream.FlushAsync(ct).ConfigureAwait(false);
            if (_options.FlushToDisk)
            {
                stream.Flush(flushToDisk: true);
            }

            if (expectedMd5 is not null && hasher is not null)
            {
                byte[] actual = hasher.GetHashAndReset();
                if (!actual.AsSpan().SequenceEqual(expectedMd5))
                {
                    discard = true;
                    throw new EngineException(
                        EngineErrorKind.ServiceError,
                        $"{what}: the downloaded bytes do not match the blob's Content-MD5 ({Convert.ToBase64String(expectedMd5)} expected, {Convert.ToBase64String(actual)} computed); the download was discarded. Run the command again.");
                }

                log.Debug($"{what}: Content-MD5 {Convert.ToBase64String(expectedMd5)} verified.");
            }

            return resumes;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            hasher?.Dispose();
            await stream.DisposeAsync().ConfigureAwait(false);
            if (discard)
            {
                DeleteQuietly(partial);
                DeleteQuietly(stateFile);
            }
        }
    }

    /// <summary>
    /// Copies one answer's body to the file in small reads (256 KB by default: the bytes are still in the CPU cache when
    /// they are written). When the blob has a Content-MD5, the hashing runs on another task over a bounded ring of
    /// buffers, so it does not hold up the socket. Returns the bytes in the file and, when the connection dropped or
    /// stalled, why (the bytes received before a drop are kept: resuming starts after them).
    /// </summary>
    private async Task<(long Written, string? DropReason)> CopyBodyAsync(Stream body, FileStream file, IncrementalHash? hasher, long written, long expected, IProgress<long>? bytesWritten, Uri link, CancellationToken ct)
    {
        int size = _options.BufferSize;
        int depth = hasher is null ? 1 : HashRingDepth;
        var rented = new List<byte[]>(depth);
        var free = Channel.CreateBounded<byte[]>(depth);
        for (int i = 0; i < depth; i++)
        {
            byte[] b = ArrayPool<byte>.Shared.Rent(size);
            rented.Add(b);
            free.Writer.TryWrite(b);
        }

        Channel<(byte[] Buffer, int Count)>? toHash = null;
        Task? hashing = null;
        if (hasher is not null)
        {
            toHash = Channel.CreateBounded<(byte[] Buffer, int Count)>(depth);
            ChannelReader<(byte[] Buffer, int Count)> reader = toHash.Reader;
            hashing = Task.Run(async () =>
            {
                await foreach ((byte[] buffer, int count) in reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    hasher.AppendData(buffer, 0, count);
                    free.Writer.TryWrite(buffer);
                }
            }, CancellationToken.None);
        }

        string? dropReason = null;
        long unreported = 0;
        try
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
            while (true)
            {
                byte[] buffer = toHash is null ? rented[0] : await free.Reader.ReadAsync(ct).ConfigureAwait(false);
                int n;
                try
                {
                    idle.CancelAfter(_options.ReadTimeout);
                    n = await body.ReadAsync(buffer.AsMemory(0, size), idle.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
                {
                    dropReason = e is OperationCanceledException
                        ? string.Create(CultureInfo.InvariantCulture, $"nothing received for {_options.ReadTimeout.TotalSeconds:N0} s")
                        : BlobLink.Scrub(e.Message, link);
                    break;
                }

                if (n == 0)
                {
                    break;
                }

                if (expected >= 0 && written + n > expected)
                {
                    dropReason = TooLong;
                    break;
                }

                // A plain write: the file is local and the call returns once the page cache has the bytes; the
                // asynchronous form would hop to another thread for every chunk.
                file.Write(buffer, 0, n);
                written += n;
                unreported += n;
                if (unreported >= ProgressStep)
                {
                    bytesWritten?.Report(unreported);
                    unreported = 0;
                }

                if (toHash is not null)
                {
                    await toHash.Writer.WriteAsync((buffer, n), ct).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            if (unreported > 0)
            {
                bytesWritten?.Report(unreported);
            }

            toHash?.Writer.TryComplete();
            try
            {
                if (hashing is not null)
                {
                    await hashing.ConfigureAwait(false);
                }
            }
            finally
            {
                foreach (byte[] b in rented)
                {
                    ArrayPool<byte>.Shared.Return(b);
                }
            }
        }

        return (written, dropReason);
    }

    private static async Task HashExistingAsync(string partial, long length, IncrementalHash hasher, byte[] buffer, CancellationToken ct)
    {
        if (length <= 0)
        {
            return;
        }

        FileStream read = PrivateFiles.OpenOwned(partial, FileAccess.Read, FileShare.ReadWrite, FileOptions.SequentialScan);
        await using (read.ConfigureAwait(false))
        {
            long left = length;
            while (left > 0)
            {
                int n = await read.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new IOException($"{partial} is shorter than expected.");
                }

                hasher.AppendData(buffer, 0, n);
                left -= n;
            }
        }
    }

    private async Task<long> InflateAsync(string partial, string final, string what, IEngineLog log, CancellationToken ct)
    {
        byte[] magic = new byte[2];
        int got;
        using (FileStream probe = PrivateFiles.OpenOwned(partial, FileAccess.Read, FileShare.Read))
        {
            got = await probe.ReadAsync(magic, ct).ConfigureAwait(false);
        }

        if (got < 2 || magic[0] != 0x1f || magic[1] != 0x8b)
        {
            log.Warning($"{what}: the report says its blobs are compressed, but this one is not gzip; it was saved as it came.");
            long plain = new FileInfo(partial).Length;
            File.Move(partial, final, overwrite: true);
            return plain;
        }

        string temp = final + InflateSuffix;
        PrivateFiles.DeleteOwned(temp);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.BufferSize);
        bool done = false;
        try
        {
            long bytes = 0;
            FileStream source = PrivateFiles.OpenOwned(partial, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            await using (source.ConfigureAwait(false))
            {
                // Bounded: a blob that inflates far past what cost CSV does (a gzip bomb) stops with DecompressionLimit.
                Stream gzip = _options.Inflation.Inflate(source, source.Length, what, leaveOpen: true);
                await using (gzip.ConfigureAwait(false))
                {
                    FileStream target = PrivateFiles.CreateNew(temp, FileAccess.Write, FileShare.None);
                    await using (target.ConfigureAwait(false))
                    {
                        try
                        {
                            while (true)
                            {
                                int n = await gzip.ReadAsync(buffer.AsMemory(0, _options.BufferSize), ct).ConfigureAwait(false);
                                if (n == 0)
                                {
                                    break;
                                }

                                await target.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                                bytes += n;
                            }
                        }
                        catch (InvalidDataException e)
                        {
                            DeleteQuietly(partial);
                            throw new EngineException(EngineErrorKind.ServiceError, $"{what}: the blob is not valid gzip ({e.Message}); the download was discarded. Run the command again, or use -Decompress:$false to keep the blob as it is.", e);
                        }
                        catch (EngineException e) when (e.Kind == EngineErrorKind.DecompressionLimit)
                        {
                            // Nothing of it is kept: not the inflated part, not the download, not its resume state.
                            DeleteQuietly(partial);
                            DeleteQuietly(final + StateSuffix);
                            throw;
                        }

                        await target.FlushAsync(ct).ConfigureAwait(false);
                        if (_options.FlushToDisk)
                        {
                            target.Flush(flushToDisk: true);
                        }
                    }
                }
            }

            File.Move(temp, final, overwrite: true);
            done = true;
            DeleteQuietly(partial);
            log.Debug(string.Create(CultureInfo.InvariantCulture, $"{what}: decompressed to {bytes:N0} bytes."));
            return bytes;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!done)
            {
                DeleteQuietly(temp);
            }
        }
    }

    private async Task<EngineException> ErrorFromAsync(HttpResponseMessage response, BlobDownloadRequest request, string what, CancellationToken ct)
    {
        int status = (int)response.StatusCode;
        Uri link = request.Link;
        string? requestId = Header(response, "x-ms-request-id");
        string? code = Header(response, "x-ms-error-code");
        string body = await ReadBoundedAsync(response, ct).ConfigureAwait(false);
        code ??= XmlElement(body, "Code");
        string? detail = XmlElement(body, "Message");
        if (detail is not null)
        {
            detail = detail.Split('\n')[0].Trim();
            if (detail.Length > 300)
            {
                detail = string.Concat(detail.AsSpan(0, 300), "...");
            }

            string? why = XmlElement(body, "AuthenticationErrorDetail");
            if (!string.IsNullOrEmpty(why))
            {
                detail = detail.TrimEnd('.') + ". " + (why.Length > 300 ? string.Concat(why.AsSpan(0, 300), "...") : why);
            }

            detail = BlobLink.Scrub(detail, link);
        }

        string answer = string.Create(CultureInfo.InvariantCulture, $"{status} {code ?? response.ReasonPhrase ?? string.Empty}").TrimEnd();
        string text = $"{what}: the storage service refused {SasRedactor.Redact(link)} with {answer}{(detail is null ? "." : $": {detail}")}";
        EngineErrorKind kind;
        switch (status)
        {
            case 401:
            case 403:
                DateTimeOffset? expiry = BlobLink.Expiry(link, request.ValidTill);
                bool expired = expiry is DateTimeOffset e && e <= _options.TimeProvider.GetUtcNow();
                kind = expired ? EngineErrorKind.LinkExpired
                    : string.Equals(code, "AuthenticationFailed", StringComparison.OrdinalIgnoreCase) || status == 401 ? EngineErrorKind.AuthenticationFailed
                    : EngineErrorKind.PermissionDenied;
                string till = expiry is DateTimeOffset x ? string.Create(CultureInfo.InvariantCulture, $" (valid till {x.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC)") : string.Empty;
                text += request.RefusedAdvice is { } refused
                    ? " " + refused
                    : $" The link is a shared-access signature{till}: when it has expired or was revoked, request the report again (New-AzCostReport), or run Save-AzCostBlob with -Refresh.";
                break;
            case 404:
                kind = EngineErrorKind.NotFound;
                text += " " + (request.NotFoundAdvice ?? "The blob is gone (reports are kept for a limited time): request the report again.");
                break;
            default:
                kind = EngineErrorKind.ServiceError;
                break;
        }

        return new EngineException(kind, text) { ServiceCode = code, CorrelationId = requestId };
    }

    private static async Task<string> ReadBoundedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            Stream s = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            byte[] buffer = new byte[MaxErrorBodyBytes];
            int total = 0;
            while (total < buffer.Length)
            {
                int n = await s.ReadAsync(buffer.AsMemory(total), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return Encoding.UTF8.GetString(buffer, 0, total);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return string.Empty;
        }
    }

    private static string? XmlElement(string body, string name)
    {
        Match m = Regex.Match(body, "<" + name + ">(.*?)</" + name + ">", RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        return m.Success ? WebUtility.HtmlDecode(m.Groups[1].Value).Trim() : null;
    }

    private static byte[]? BlobMd5(HttpResponseMessage response, int status)
    {
        // On a whole-blob answer Content-MD5 is the blob's MD5; on a range answer it would be the range's, so only
        // x-ms-blob-content-md5 (the whole blob's, sent with ranges) counts there.
        if (status == 200 && response.Content.Headers.ContentMD5 is { Length: 16 } whole)
        {
            return whole;
        }

        string? header = Header(response, "x-ms-blob-content-md5");
        if (header is null)
        {
            return null;
        }

        try
        {
            byte[] md5 = Convert.FromBase64String(header);
            return md5.Length == 16 ? md5 : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
        {
            string? v = values.FirstOrDefault();
            return string.IsNullOrEmpty(v) ? null : v;
        }

        return null;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        RetryConditionHeaderValue? retry = response.Headers.RetryAfter;
        if (retry?.Delta is TimeSpan delta)
        {
            return delta;
        }

        if (retry?.Date is DateTimeOffset date)
        {
            TimeSpan d = date - DateTimeOffset.UtcNow;
            return d > TimeSpan.Zero ? d : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>Exponential back-off with jitter (half to all of base * 2^(attempt-1)), at least Retry-After, at most MaxRetryDelay.</summary>
    internal TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        double ms = _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 16));
        ms *= 0.5 + (Random.Shared.NextDouble() * 0.5);
        if (retryAfter is TimeSpan r && r.TotalMilliseconds > ms)
        {
            ms = r.TotalMilliseconds;
        }

        return TimeSpan.FromMilliseconds(Math.Min(ms, _options.MaxRetryDelay.TotalMilliseconds));
    }

    private static bool IsTransient(Exception e, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
        {
            return false;
        }

        if (e is HttpRequestException h)
        {
            return h.HttpRequestError is not HttpRequestError.SecureConnectionError && h.InnerException is not AuthenticationException;
        }

        return e is IOException or OperationCanceledException;
    }

    /// <summary>The inner exception when its text is free of the signature; otherwise a plain copy of its type and a scrubbed message.</summary>
    private static Exception SafeInner(Exception e, Uri link)
        => BlobLink.Reveals(e.ToString(), link) ? new IOException(BlobLink.Scrub(e.Message, link)) : e;

    private static string Kept(long written, long expected, string partial)
        => written > 0
            ? string.Create(CultureInfo.InvariantCulture, $" {written:N0} of {Describe(expected)} are kept in {partial}; run the command again to resume from there.")
            : string.Empty;

    private static string Describe(long bytes)
        => bytes >= 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} bytes") : "an unknown number of bytes";

    private static void DeleteQuietly(string path)
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
}
