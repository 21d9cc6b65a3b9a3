using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using Microsoft.Win32.SafeHandles;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// One large blob fetched as fixed-size ranges (<see cref="BlobDownloaderOptions.RangeSize"/>) over several connections
/// at once (<see cref="BlobDownloaderOptions.ConnectionsPerBlob"/>, each taken from the downloader's shared
/// <see cref="BlobDownloaderOptions.MaxConnections"/> while its range is fetched), as AzCopy does. Each range is written
/// in place in the <c>.partial</c> (its full length from the start); the state file records the blob, its ETag and which
/// ranges are complete, so a later run fetches only the others. Every range request carries <c>If-Match</c> with the
/// blob's ETag (a blob that changed starts again from the first byte, at most twice); a range whose connection drops
/// goes on from its last byte; 408/429/5xx answers and refused connections are retried under the storage
/// <see cref="RetryPolicy"/>. The whole blob's Content-MD5 (x-ms-blob-content-md5, sent with every range) is checked by
/// hashing the file in order as its complete prefix grows, beside the downloads, so it ends with the last range.
/// </summary>
internal sealed class ParallelRanges(HttpClient http, BlobDownloaderOptions options, BlobDownloadRequest request, string partial, string stateFile, string what, IEngineLog log, IProgress<long>? bytesWritten, SemaphoreSlim connections)
{
    private readonly object _gate = new();
    private readonly IProgress<long>? _progress = bytesWritten;
    private readonly long _expected = request.ExpectedBytes;
    private readonly long _rangeSize = options.RangeSize;
    private readonly string _blobId = BlobLink.WithoutQuery(request.Link);
    private bool[] _done = [];
    private string? _etag;
    private byte[]? _md5;
    private long _onDisk;
    private int _resumes;
    private bool _discard;

    /// <summary>True when <paramref name="request"/>'s blob is fetched in parallel ranges: its length is known and spans at least two ranges.</summary>
    public static bool Applies(BlobDownloaderOptions options, BlobDownloadRequest request)
        => options.ConnectionsPerBlob > 1 && request.ExpectedBytes >= 2L * options.RangeSize;

    private int Count => (int)((_expected + _rangeSize - 1) / _rangeSize);

    /// <summary>Fetches the blob into <c>partial</c>; returns how many times a dropped connection was resumed.</summary>
    public async Task<int> FetchAsync(CancellationToken ct)
    {
        _done = new bool[Count];
        PartialState? state = request.Force ? null : PartialState.Read(stateFile);
        bool leftover = PrivateFiles.RequireOwnedFile(partial, "resumed");
        if (leftover)
        {
            Resume(state, new FileInfo(partial).Length);
        }

        FileStream stream = leftover ? PrivateFiles.OpenOwned(partial, FileAccess.ReadWrite, FileShare.Read) : PrivateFiles.CreateNew(partial, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            stream.SetLength(_expected);
            long resumed = DoneBytes();
            if (resumed > 0)
            {
                _onDisk = resumed;
                _progress?.Report(resumed);
            }

            int restarts = 0;
            while (true)
            {
                try
                {
                    await RunAsync(stream.SafeFileHandle, ct).ConfigureAwait(false);
                    break;
                }
                catch (BlobChangedException e)
                {
                    restarts++;
                    if (restarts > 2)
                    {
                        throw new EngineException(EngineErrorKind.ServiceError, $"{what}: the blob kept changing while it was downloaded ({e.Status}); request the report again.") { CorrelationId = e.RequestId };
                    }

                    log.Warning($"{what}: the blob is not the one the partial download started from ({e.Status} {(e.Status == 412 ? "precondition failed: its ETag changed" : "range not satisfiable")}); starting again from the first byte.");
                    _progress?.Report(-Interlocked.Exchange(ref _onDisk, 0));
                    lock (_gate)
                    {
                        Array.Clear(_done);
                        _etag = null;
                        _md5 = null;
                    }
                }
            }

            await stream.FlushAsync(ct).ConfigureAwait(false);
            if (options.FlushToDisk)
            {
                stream.Flush(flushToDisk: true);
            }

            return _resumes;
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            if (_discard)
            {
                BlobDownloader.DeleteQuietly(partial);
                BlobDownloader.DeleteQuietly(stateFile);
            }
        }
    }

    /// <summary>Takes the ranges a leftover <c>.partial</c> already holds, when its state says it is this blob.</summary>
    private void Resume(PartialState? state, long have)
    {
        if (state is null || !string.Equals(state.Blob, _blobId, StringComparison.Ordinal) || state.Bytes != _expected)
        {
            log.Verbose($"{what}: {partial} was left by an earlier run for another blob, or cannot be checked; starting from the first byte.");
            return;
        }

        if (state.RangeSize == _rangeSize && state.Done is string done)
        {
            if (have != _expected)
            {
                log.Verbose($"{what}: {partial} does not have the blob's length its state file says it was given; starting from the first byte.");
                return;
            }

            for (int i = 0; i < _done.Length; i++)
            {
                _done[i] = done[i] == '1';
            }
        }
        else if (state.RangeSize == 0)
        {
            // A single-stream download's .partial: its first bytes, as many as its length.
            for (int i = 0; i < _done.Length; i++)
            {
                _done[i] = Math.Min((i + 1) * _rangeSize, _expected) <= Math.Min(have, _expected);
            }
        }
        else
        {
            log.Verbose($"{what}: {partial} was written in ranges of another size; starting from the first byte.");
            return;
        }

        // A complete leftover fetches its last range again: that re-checks the ETag and gets the MD5.
        _done[^1] = false;
        _etag = state.ETag;
        int count = _done.Count(d => d);
        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: resuming {partial}: {count} of its {_done.Length} ranges ({DoneBytes():N0} of {_expected:N0} bytes) were complete (left by an earlier run)."));
    }

    private long DoneBytes()
    {
        long bytes = 0;
        for (int i = 0; i < _done.Length; i++)
        {
            if (_done[i])
            {
                bytes += RangeEnd(i) - (i * _rangeSize);
            }
        }

        return bytes;
    }

    private long RangeEnd(int index) => Math.Min((index + 1) * _rangeSize, _expected);

    /// <summary>Fetches every range not yet complete; the first one alone until its answer gives the ETag and the MD5.</summary>
    private async Task RunAsync(SafeFileHandle file, CancellationToken ct)
    {
        int[] pending = Enumerable.Range(0, _done.Length).Where(i => !_done[i]).ToArray();
        int next = 0;
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var progressed = new SemaphoreSlim(0);
        var hashing = new TaskCompletionSource<Task?>(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task WorkAsync(int worker)
        {
            try
            {
                if (worker > 0)
                {
                    await first.Task.WaitAsync(stop.Token).ConfigureAwait(false);
                }

                while (true)
                {
                    int k = Interlocked.Increment(ref next) - 1;
                    if (k >= pending.Length)
                    {
                        return;
                    }

                    int index = pending[k];
                    await connections.WaitAsync(stop.Token).ConfigureAwait(false);
                    try
                    {
                        await FetchRangeAsync(file, index, first, hashing, progressed, stop.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        connections.Release();
                    }

                    lock (_gate)
                    {
                        _done[index] = true;
                        new PartialState(_blobId, _expected, _etag!, _rangeSize, new string(_done.Select(d => d ? '1' : '0').ToArray())).Write(stateFile);
                    }

                    progressed.Release();
                }
            }
            catch
            {
                first.TrySetCanceled(CancellationToken.None);
                hashing.TrySetResult(null);
                await stop.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }

        int workers = Math.Min(options.ConnectionsPerBlob, pending.Length);
        var tasks = new List<Task>(workers + 1);
        for (int w = 0; w < workers; w++)
        {
            int worker = w;
            tasks.Add(Task.Run(() => WorkAsync(worker), CancellationToken.None));
        }

        Exception? failure = null;
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception)
        {
            failure = tasks.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions).FirstOrDefault(e => e is not OperationCanceledException)
                ?? tasks.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null) ?? new OperationCanceledException(ct);
        }

        hashing.TrySetResult(null);
        Task? hasher = await hashing.Task.ConfigureAwait(false);
        if (hasher is not null)
        {
            if (failure is not null)
            {
                await stop.CancelAsync().ConfigureAwait(false);
            }

            try
            {
                await hasher.ConfigureAwait(false);
            }
            catch (Exception e) when (failure is not null || (e is OperationCanceledException && ct.IsCancellationRequested))
            {
                failure ??= e;
            }
        }

        if (failure is not null)
        {
            if (failure is OperationCanceledException && ct.IsCancellationRequested)
            {
                ct.ThrowIfCancellationRequested();
            }

            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Fetches one range into its place in the file: retried, resumed within the range when its connection drops.</summary>
    private async Task FetchRangeAsync(SafeFileHandle file, int index, TaskCompletionSource first, TaskCompletionSource<Task?> hashing, SemaphoreSlim progressed, CancellationToken ct)
    {
        RetryPolicy retry = options.Retry;
        long from = index * _rangeSize;
        long end = RangeEnd(index);
        long at = from;
        int resumes = 0;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            string? etag;
            lock (_gate)
            {
                etag = _etag;
            }

            (HttpResponseMessage response, string? requestId) = await RangeDownload.SendAsync(
                http, options, request, at, end - 1, etag, what, string.Create(CultureInfo.InvariantCulture, $"bytes={at}-{end - 1}"), Kept, log, ct).ConfigureAwait(false);
            using (response)
            {
                int status = (int)response.StatusCode;
                if (status is 412 or 416)
                {
                    throw new BlobChangedException(status, requestId);
                }

                if (status == 200)
                {
                    throw new RangesNotHonouredException();
                }

                if (status != 206)
                {
                    throw await StorageError.FromAsync(response, request, what, options.TimeProvider.GetUtcNow(), ct).ConfigureAwait(false);
                }

                ContentRangeHeaderValue? range = response.Content.Headers.ContentRange;
                if (range?.Length is long total && total != _expected)
                {
                    _discard = true;
                    throw new EngineException(
                        EngineErrorKind.ServiceError,
                        string.Create(CultureInfo.InvariantCulture, $"{what}: the blob has {total:N0} bytes but the report's manifest says {_expected:N0}; nothing was saved. The report is out of date: request it again."))
                    { CorrelationId = requestId };
                }

                if (range is null || range.From != at || range.To != end - 1)
                {
                    throw new EngineException(EngineErrorKind.ServiceError, string.Create(CultureInfo.InvariantCulture, $"{what}: asked for bytes {at}-{end - 1} and the storage service answered with the range '{range}'.")) { CorrelationId = requestId };
                }

                if (!first.Task.IsCompleted)
                {
                    Started(response, etag, hashing, progressed, file, ct);
                    first.TrySetResult();
                }

                long before = at;
                Stream body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                (at, string? dropReason) = await HashingCopy.CopyAsync(body, file, null, at, end, options.BufferSize, options.ReadTimeout, new Counter(this), request.Link, ct).ConfigureAwait(false);
                if (dropReason == HashingCopy.TooLong)
                {
                    _discard = true;
                    throw new EngineException(EngineErrorKind.ServiceError, string.Create(CultureInfo.InvariantCulture, $"{what}: the storage service sent more than the {end - from:N0} bytes of range {from}-{end - 1}; nothing was saved.")) { CorrelationId = requestId };
                }

                if (dropReason is null && at == end)
                {
                    return;
                }

                dropReason ??= "the answer ended early";
                resumes++;
                Interlocked.Increment(ref _resumes);
                if (resumes > request.MaxResumes)
                {
                    throw new EngineException(
                        EngineErrorKind.ServiceError,
                        string.Create(CultureInfo.InvariantCulture, $"{what}: the connection for bytes {from:N0}-{end - 1:N0} dropped {resumes} times (last: {dropReason}); giving up after {request.MaxResumes} resumes.{Kept()}"))
                    { CorrelationId = requestId };
                }

                log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{what}: the connection for bytes {from:N0}-{end - 1:N0} dropped after {at - from:N0} of its {end - from:N0} ({dropReason}); resuming from there ({resumes} of {request.MaxResumes})."));
                if (at == before)
                {
                    await Task.Delay(retry.Delay(resumes), options.TimeProvider, ct).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>The first answer of a run: its ETag (then recorded in the state file) and MD5; starts the hashing when there is an MD5.</summary>
    private void Started(HttpResponseMessage response, string? sentEtag, TaskCompletionSource<Task?> hashing, SemaphoreSlim progressed, SafeFileHandle file, CancellationToken ct)
    {
        string? etag = StorageError.Header(response, "ETag") ?? sentEtag;
        byte[]? md5 = StorageError.BlobMd5(response, 206);
        lock (_gate)
        {
            _etag = etag;
            _md5 = md5;
            if (etag is not null)
            {
                new PartialState(_blobId, _expected, etag, _rangeSize, new string(_done.Select(d => d ? '1' : '0').ToArray())).Write(stateFile);
            }
        }

        hashing.TrySetResult(md5 is null ? null : Task.Run(() => HashAsync(file, md5, progressed, ct), CancellationToken.None));
    }

    /// <summary>Hashes the file in order as its complete prefix grows, then compares with the blob's MD5.</summary>
    private async Task HashAsync(SafeFileHandle file, byte[] expectedMd5, SemaphoreSlim progressed, CancellationToken ct)
    {
        using IncrementalHash hasher = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(options.BufferSize);
        try
        {
            long hashed = 0;
            while (hashed < _expected)
            {
                long ready;
                lock (_gate)
                {
                    int i = (int)(hashed / _rangeSize);
                    while (i < _done.Length && _done[i])
                    {
                        i++;
                    }

                    ready = i >= _done.Length ? _expected : i * _rangeSize;
                }

                if (ready <= hashed)
                {
                    await progressed.WaitAsync(ct).ConfigureAwait(false);
                    continue;
                }

                while (hashed < ready)
                {
                    int n = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(options.BufferSize, ready - hashed)), hashed);
                    if (n <= 0)
                    {
                        throw new IOException($"{partial} is shorter than expected.");
                    }

                    hasher.AppendData(buffer, 0, n);
                    hashed += n;
                }
            }

            byte[] actual = hasher.GetHashAndReset();
            if (!actual.AsSpan().SequenceEqual(expectedMd5))
            {
                _discard = true;
                throw new EngineException(
                    EngineErrorKind.ServiceError,
                    $"{what}: the downloaded bytes do not match the blob's Content-MD5 ({Convert.ToBase64String(expectedMd5)} expected, {Convert.ToBase64String(actual)} computed); the download was discarded. Run the command again.");
            }

            log.Debug($"{what}: Content-MD5 {Convert.ToBase64String(expectedMd5)} verified.");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private string Kept()
    {
        long done;
        lock (_gate)
        {
            done = DoneBytes();
        }

        return done > 0
            ? string.Create(CultureInfo.InvariantCulture, $" {done:N0} of {_expected:N0} bytes (complete ranges) are kept in {partial}; run the command again to resume from there.")
            : string.Empty;
    }

    /// <summary>Counts the bytes written (for the restart's negative report) and passes them on.</summary>
    private sealed class Counter(ParallelRanges owner) : IProgress<long>
    {
        public void Report(long value)
        {
            Interlocked.Add(ref owner._onDisk, value);
            owner._progress?.Report(value);
        }
    }

    /// <summary>412 or 416 to a range request: the blob changed since the download started.</summary>
    private sealed class BlobChangedException(int status, string? requestId) : Exception
    {
        public int Status { get; } = status;

        public string? RequestId { get; } = requestId;
    }
}

/// <summary>The storage service answered a range request with the whole blob (200): it does not serve ranges.</summary>
internal sealed class RangesNotHonouredException : Exception
{
}
