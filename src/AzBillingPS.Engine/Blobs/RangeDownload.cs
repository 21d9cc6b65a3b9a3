using System;
using System.Buffers;
using System.Globalization;
using System.IO;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// One blob fetched into its <c>.partial</c> file, resumably: a dropped connection goes on with
/// <c>Range: bytes=&lt;written&gt;-</c> and <c>If-Match: &lt;ETag&gt;</c> (a bounded number of times), a <c>.partial</c>
/// left by a killed run is resumed when its state file says it is the same blob, 408/429/5xx answers and refused
/// connections are retried under the storage <see cref="RetryPolicy"/>, a blob that changed (412/416) starts again from
/// the first byte, and the length (and Content-MD5 when sent) is checked before the fetch counts as done.
/// </summary>
internal sealed class RangeDownload(HttpClient http, BlobDownloaderOptions options, BlobDownloadRequest request, string partial, string stateFile, string what, IEngineLog log, IProgress<long>? bytesWritten)
{
    private readonly Uri _link = request.Link;

    /// <summary>Fetches the blob into <c>partial</c>; returns how many times a dropped connection was resumed.</summary>
    public async Task<int> FetchAsync(CancellationToken ct)
    {
        RetryPolicy retry = options.Retry;
        string blobId = BlobLink.WithoutQuery(_link);
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
        byte[] buffer = ArrayPool<byte>.Shared.Rent(options.BufferSize);
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
                using var message = new HttpRequestMessage(HttpMethod.Get, _link);
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
                    endpoint.Check(_link, what);
                    endpoint.Authorize(message, await bearer(ct).ConfigureAwait(false), what);
                    message.Headers.TryAddWithoutValidation("x-ms-version", Exports.BlobContainerStore.ServiceVersion);
                }

                HttpResponseMessage response;
                using (var headersTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    headersTimeout.CancelAfter(options.ReadTimeout);
                    try
                    {
                        response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, headersTimeout.Token).ConfigureAwait(false);
                    }
                    catch (Exception e) when (RetryPolicy.IsTransient(e, ct))
                    {
                        retries++;
                        string reason = e is OperationCanceledException ? string.Create(CultureInfo.InvariantCulture, $"no answer within {options.ReadTimeout.TotalSeconds:N0} s") : BlobLink.Scrub(e.Message, _link);
                        if (!retry.Allows(retries))
                        {
                            throw new EngineException(
                                EngineErrorKind.ServiceError,
                                string.Create(CultureInfo.InvariantCulture, $"{what}: the storage service could not be reached after {retries} attempts ({reason}).{Kept(written, expected)}"),
                                SafeInner(e));
                        }

                        TimeSpan wait = retry.Delay(retries);
                        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: request failed ({reason}); retry {retries} of {retry.MaxRetries} in {wait.TotalSeconds:N1} s."));
                        await Task.Delay(wait, options.TimeProvider, ct).ConfigureAwait(false);
                        continue;
                    }
                }

                using (response)
                {
                    int status = (int)response.StatusCode;
                    string? requestId = StorageError.Header(response, "x-ms-request-id");
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

                    if (RetryPolicy.IsTransientStatus(status))
                    {
                        retries++;
                        string? code = StorageError.Header(response, "x-ms-error-code");
                        string answer = string.Create(CultureInfo.InvariantCulture, $"{status}{(code is null ? string.Empty : " " + code)}");
                        if (!retry.Allows(retries))
                        {
                            throw new EngineException(
                                EngineErrorKind.ServiceError,
                                string.Create(CultureInfo.InvariantCulture, $"{what}: the storage service answered {answer} to {retries} attempts in a row; giving up.{Kept(written, expected)}"))
                            { ServiceCode = code ?? status.ToString(CultureInfo.InvariantCulture), CorrelationId = requestId };
                        }

                        TimeSpan wait = retry.Delay(retries, StorageError.RetryAfter(response));
                        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: the storage service answered {answer}; retry {retries} of {retry.MaxRetries} in {wait.TotalSeconds:N1} s."));
                        await Task.Delay(wait, options.TimeProvider, ct).ConfigureAwait(false);
                        continue;
                    }

                    if (status is not (200 or 206))
                    {
                        throw await StorageError.FromAsync(response, request, what, options.TimeProvider.GetUtcNow(), ct).ConfigureAwait(false);
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

                    string? newEtag = StorageError.Header(response, "ETag");
                    if (newEtag is not null && (!stateWritten || !string.Equals(newEtag, etag, StringComparison.Ordinal)))
                    {
                        etag = newEtag;
                        if (expected > 0)
                        {
                            new PartialState(blobId, expected, etag).Write(stateFile);
                            stateWritten = true;
                        }
                    }

                    byte[]? md5 = StorageError.BlobMd5(response, status);
                    if (md5 is not null)
                    {
                        expectedMd5 = md5;
                    }

                    if (expectedMd5 is not null && hasher is null)
                    {
                        hasher = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
                        await HashingCopy.HashExistingAsync(partial, written, hasher, buffer, ct).ConfigureAwait(false);
                    }

                    long before = written;
                    string? dropReason;
                    Stream body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                    (written, dropReason) = await HashingCopy.CopyAsync(body, stream, hasher, written, expected, options.BufferSize, options.ReadTimeout, bytesWritten, _link, ct).ConfigureAwait(false);
                    if (dropReason == HashingCopy.TooLong)
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
                            string.Create(CultureInfo.InvariantCulture, $"{what}: the connection dropped {resumes} times (last: {dropReason}); giving up after {request.MaxResumes} resumes.{Kept(written, expected)}"))
                        { CorrelationId = requestId };
                    }

                    log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: the connection dropped after {written:N0} of {Describe(expected)} ({dropReason}); resuming from there ({resumes} of {request.MaxResumes})."));
                    if (written == before)
                    {
                        await Task.Delay(retry.Delay(resumes), options.TimeProvider, ct).ConfigureAwait(false);
                    }
                }
            }

            await stream.FlushAsync(ct).ConfigureAwait(false);
            if (options.FlushToDisk)
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
                BlobDownloader.DeleteQuietly(partial);
                BlobDownloader.DeleteQuietly(stateFile);
            }
        }
    }

    /// <summary>The inner exception when its text is free of the signature; otherwise a plain copy of its type and a scrubbed message.</summary>
    private Exception SafeInner(Exception e)
        => BlobLink.Reveals(e.ToString(), _link) ? new IOException(BlobLink.Scrub(e.Message, _link)) : e;

    private string Kept(long written, long expected)
        => written > 0
            ? string.Create(CultureInfo.InvariantCulture, $" {written:N0} of {Describe(expected)} are kept in {partial}; run the command again to resume from there.")
            : string.Empty;

    internal static string Describe(long bytes)
        => bytes >= 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} bytes") : "an unknown number of bytes";
}
