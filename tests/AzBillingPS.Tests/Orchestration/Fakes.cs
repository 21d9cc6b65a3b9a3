using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;

namespace AzBillingPS.Tests.Orchestration;

/// <summary>Counts how many calls are in flight at once, and the most there ever were.</summary>
internal sealed class Concurrency
{
    private int _now;
    private int _most;

    public int Most => Volatile.Read(ref _most);

    public IDisposable Enter()
    {
        int now = Interlocked.Increment(ref _now);
        int most;
        while (now > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, now, most) != most)
        {
        }

        return new Leave(this);
    }

    private sealed class Leave(Concurrency owner) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref owner._now);
    }
}

/// <summary>
/// Cost Management in memory: every request completes after <see cref="Delay"/> (or its own), with <see cref="Blobs"/>
/// blobs whose links point at fake.blob.test and name the operation; a scope in <see cref="Failing"/> is refused, one in
/// <see cref="NoData"/> has none; <see cref="ValidTill"/> sets when links expire. Calls and concurrency are recorded.
/// </summary>
internal sealed class FakeReportSource : ICostReportSource
{
    private int _operations;

    public ConcurrentQueue<CostReportRequest> Calls { get; } = new();

    public ConcurrentQueue<CostReportRequest> Finished { get; } = new();

    public Concurrency InFlight { get; } = new();

    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(20);

    public Func<CostReportRequest, TimeSpan>? DelayOf { get; set; }

    /// <summary>What a request waits for after its delay, before it finishes (for an order that must not hang on timing).</summary>
    public Func<CostReportRequest, CancellationToken, Task>? Hold { get; set; }

    public int Blobs { get; set; } = 2;

    public bool Compressed { get; set; }

    /// <summary>The manifest's byteCount of every blob (0: unknown, so any complete file counts).</summary>
    public long ByteCount { get; set; }

    public HashSet<string> Failing { get; } = new(StringComparer.Ordinal);

    public HashSet<string> NoData { get; } = new(StringComparer.Ordinal);

    /// <summary>When the links of the n-th report (1-based) expire; later reports get a day.</summary>
    public Func<int, DateTimeOffset?> ValidTill { get; set; } = _ => DateTimeOffset.UtcNow.AddDays(1);

    /// <summary>Paces the requests as the Cost Details client does: a request waits for its slot on <see cref="LimitsOf"/>.</summary>
    public RequestPacer? Pacer { get; set; }

    /// <summary>The limits a request counts against (with <see cref="Pacer"/>).</summary>
    public Func<CostReportRequest, IReadOnlyList<PaceLimit>> LimitsOf { get; set; } = _ => [];

    /// <summary>
    /// The clock <see cref="Pacer"/> was made with, if a <see cref="PacerClock"/>: <see cref="Sent"/> then records the slot
    /// the pacer reserved exactly, not the clock read again after the reservation.
    /// </summary>
    public PacerClock? Clock { get; set; }

    /// <summary>Each request: when the pacing let it go out, and how long it had to wait for that when it started.</summary>
    public ConcurrentQueue<(CostReportRequest Request, DateTimeOffset At, TimeSpan Waited)> Sent { get; } = new();

    public TimeSpan NextRequestIn(CostReportRequest request) => Pacer?.Peek(LimitsOf(request)) ?? TimeSpan.Zero;

    public async Task<CostReportResult> RequestAsync(CostReportRequest request, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken cancellationToken)
    {
        TimeSpan wait = Pacer?.Reserve(LimitsOf(request)) ?? TimeSpan.Zero;
        Sent.Enqueue((request, (Clock?.LastOnThisThread ?? DateTimeOffset.UtcNow) + wait, wait));
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }

        Calls.Enqueue(request);
        int n = Interlocked.Increment(ref _operations);
        using (InFlight.Enter())
        {
            await Task.Delay(DelayOf?.Invoke(request) ?? Delay, cancellationToken);
            if (Hold is not null)
            {
                await Hold(request, cancellationToken);
            }
        }

        Finished.Enqueue(request);

        if (Failing.Contains(request.Scope))
        {
            throw new EngineException(EngineErrorKind.PermissionDenied, $"Permission denied on {request.Scope} (403).");
        }

        string op = "op-" + n.ToString(CultureInfo.InvariantCulture);
        if (NoData.Contains(request.Scope))
        {
            return new CostReportResult { Request = request, Status = "NoDataFound", OperationId = op, RequestedAt = DateTimeOffset.UtcNow };
        }

        var blobs = Enumerable.Range(1, Blobs)
            .Select(i => new CostReportBlob(i, new Uri($"https://fake.blob.test/{op}/part{i}.csv?se=2099-01-01T00%3A00%3A00Z&sig=s3cr3t{i}"), ByteCount))
            .ToList();
        return new CostReportResult
        {
            Request = request,
            Status = "Completed",
            OperationId = op,
            RequestedAt = DateTimeOffset.UtcNow,
            CompressData = Compressed,
            BlobCount = blobs.Count,
            ByteCount = blobs.Sum(b => b.ByteCount),
            ValidTill = ValidTill(n),
            Blobs = blobs,
        };
    }
}

/// <summary>
/// Storage in memory: writes a small cost CSV (three rows a day over the report's period, read from the link's
/// <see cref="Period"/>) to the destination, as the real downloader would: an existing complete file is kept unless
/// Force, an expired link fails with LinkExpired before anything is written, a link in <see cref="Failing"/> fails.
/// </summary>
internal sealed class FakeBlobSource : IBlobSource
{
    private int _downloads;

    public ConcurrentQueue<BlobDownloadRequest> Calls { get; } = new();

    public Concurrency InFlight { get; } = new();

    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The delay of the n-th download (1-based, in the order they start); <see cref="Delay"/> when null.</summary>
    public Func<int, TimeSpan>? DelayOf { get; set; }

    /// <summary>When each download that wrote its file ended.</summary>
    public ConcurrentQueue<DateTimeOffset> Ended { get; } = new();

    /// <summary>Blob links (without query) that fail with a service error.</summary>
    public HashSet<string> Failing { get; } = new(StringComparer.Ordinal);

    /// <summary>The period whose days the written rows carry.</summary>
    public (DateOnly Start, DateOnly End) Period { get; set; } = (new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 3));

    /// <summary>The period of a request (Sync's units each have their own); <see cref="Period"/> when null.</summary>
    public Func<BlobDownloadRequest, (DateOnly Start, DateOnly End)>? PeriodOf { get; set; }

    public long Bytes => Calls.Count;

    public async Task<BlobDownloadOutcome> DownloadAsync(BlobDownloadRequest request, IEngineLog log, IProgress<long>? bytesWritten, CancellationToken cancellationToken)
    {
        Calls.Enqueue(request);
        if (BlobDownloader.IsComplete(request))
        {
            return new BlobDownloadOutcome(request.DestinationPath, new FileInfo(request.DestinationPath).Length, true, 0, TimeSpan.Zero);
        }

        if (BlobLink.Expiry(request.Link, request.ValidTill) is DateTimeOffset e && e < DateTimeOffset.UtcNow.AddMinutes(1))
        {
            throw new EngineException(EngineErrorKind.LinkExpired, $"{request.Description}: the report's blob link expired.") { Advice = EngineAdvice.RequestReportAgain };
        }

        int n = Interlocked.Increment(ref _downloads);
        using (InFlight.Enter())
        {
            await Task.Delay(DelayOf?.Invoke(n) ?? Delay, cancellationToken);
        }

        if (Failing.Contains(BlobLink.WithoutQuery(request.Link)))
        {
            throw new EngineException(EngineErrorKind.ServiceError, $"{request.Description}: the storage service answered 500 to 5 attempts in a row; giving up.");
        }

        (DateOnly start, DateOnly end) = PeriodOf?.Invoke(request) ?? Period;
        var text = new StringBuilder("Date,SubscriptionId,MeterCategory,CostInBillingCurrency,BillingCurrencyCode\n");
        for (DateOnly d = start; d <= end; d = d.AddDays(1))
        {
            for (int i = 1; i <= 3; i++)
            {
                text.Append(CultureInfo.InvariantCulture, $"{d:MM/dd/yyyy},00000000-0000-0000-0000-0000000000aa,Compute,{i}.25,EUR\n");
            }
        }

        byte[] bytes = Encoding.UTF8.GetBytes(text.ToString());
        Directory.CreateDirectory(Path.GetDirectoryName(request.DestinationPath)!);
        File.WriteAllBytes(request.DestinationPath, bytes);
        bytesWritten?.Report(bytes.Length);
        Ended.Enqueue(DateTimeOffset.UtcNow);
        return new BlobDownloadOutcome(request.DestinationPath, bytes.Length, false, 0, TimeSpan.Zero);
    }
}

/// <summary>
/// A <see cref="FakeReportSource.Hold"/> that keeps each request in flight until <paramref name="parties"/> requests have
/// reached it (those after pass at once), or <paramref name="timeout"/> has passed: "this many in flight at once" is then
/// proved without a report time a loaded machine could overrun, and a scheduler that keeps fewer in flight fails the
/// test after the timeout instead of hanging it.
/// </summary>
internal static class InFlightBarrier
{
    public static Func<CostReportRequest, CancellationToken, Task> Of(int parties, TimeSpan timeout)
    {
        int arrived = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return async (_, ct) =>
        {
            if (Interlocked.Increment(ref arrived) >= parties)
            {
                all.TrySetResult();
            }

            try
            {
                await all.Task.WaitAsync(timeout, ct);
            }
            catch (TimeoutException)
            {
            }
        };
    }
}

/// <summary>
/// The system clock for a test's <see cref="RequestPacer"/>, remembering on each thread the time it last gave: the slot a
/// reservation took is then that time plus the wait the pacer returned, exactly. (Reading the clock again after the
/// reservation adds whatever came between, such as the JIT of the pacer's first reservation or a preempted thread, to
/// one request's time and not the next one's: a loaded machine then shows a 20 ms spacing as 16 ms.)
/// </summary>
internal sealed class PacerClock
{
    [ThreadStatic]
    private static DateTimeOffset? t_last;

    /// <summary>The time this clock last gave on the calling thread (null if never).</summary>
    public DateTimeOffset? LastOnThisThread => t_last;

    public DateTimeOffset Now()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        t_last = now;
        return now;
    }
}

/// <summary>A log that keeps every line.</summary>
internal sealed class ListLog : IEngineLog
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public string Text => string.Join("\n", Lines);

    public void Verbose(string message) => Lines.Enqueue("VERBOSE: " + message);

    public void Debug(string message) => Lines.Enqueue("DEBUG: " + message);

    public void Warning(string message) => Lines.Enqueue("WARNING: " + message);
}

/// <summary>Helpers the orchestration tests share.</summary>
internal static class Streams
{
    /// <summary>Every item of an asynchronous stream, in order.</summary>
    public static async Task<List<T>> All<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (T item in items)
        {
            list.Add(item);
        }

        return list;
    }
}

