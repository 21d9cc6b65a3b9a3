using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.CostDetails;

/// <summary>One report to request, and the source (one identity) to request it from.</summary>
public sealed record ReportOrder(CostReportRequest Request, ICostReportSource Source)
{
    /// <summary>The caller's own, handed back with the order's outcome (for example what the caller writes with the report).</summary>
    public object? State { get; init; }
}

/// <summary>What came back for one order: the report, or why there is none (never a cancellation).</summary>
public sealed record ReportOutcome(ReportOrder Order, CostReportResult? Report, Exception? Error);

/// <summary>
/// Requests many reports: the orders de-duplicated (the same request is sent once, whichever identity asked first),
/// at most <see cref="ThrottleLimit"/> in flight, each waited for as the service asks (the source's job), the outcomes
/// streamed in the order of the orders as soon as each and those before it are known. A report that fails is an
/// outcome with its error; the others go on. Used by New-AzCostReport, by the blob saver's refresh and by Sync.
/// </summary>
public sealed class ReportRequester
{
    private const int ParentId = 1;

    public ReportRequester(int throttleLimit)
    {
        if (throttleLimit < 1)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "ThrottleLimit must be at least 1.");
        }

        ThrottleLimit = throttleLimit;
    }

    /// <summary>Reports in flight at once.</summary>
    public int ThrottleLimit { get; }

    /// <summary>The progress bar's activity (the caller's name for the work).</summary>
    public string Activity { get; init; } = "Cost reports";

    /// <summary>The orders without repeats, in their order: the first order of each request stays.</summary>
    public static IReadOnlyList<ReportOrder> Distinct(IEnumerable<ReportOrder> orders)
    {
        ArgumentNullException.ThrowIfNull(orders);
        var seen = new HashSet<CostReportRequest>();
        var list = new List<ReportOrder>();
        foreach (ReportOrder o in orders)
        {
            if (seen.Add(o.Request))
            {
                list.Add(o);
            }
        }

        return list;
    }

    /// <summary>Requests every distinct order and streams the outcomes in order (see the class).</summary>
    public async IAsyncEnumerable<ReportOutcome> RequestAsync(IEnumerable<ReportOrder> orders, IEngineLog log, IProgress<EngineProgress>? progress, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        IReadOnlyList<ReportOrder> distinct = Distinct(orders);
        if (distinct.Count == 0)
        {
            yield break;
        }

        int finished = 0;
        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"Requesting {distinct.Count} report(s), at most {ThrottleLimit} at a time."));
        progress?.Report(new EngineProgress(ParentId, Activity, string.Create(CultureInfo.InvariantCulture, $"0 of {distinct.Count} reports"), 0));
        var child = progress is null ? null : new ChildProgress(progress, ParentId);
        try
        {
            await foreach (ReportOutcome outcome in FanOut.InInputOrder(distinct, ThrottleLimit, async (order, i, ct) =>
            {
                ReportOutcome result = await RequestOneAsync(order, log, child, 10 + (i % 1000), ct).ConfigureAwait(false);
                int done = Interlocked.Increment(ref finished);
                progress?.Report(new EngineProgress(ParentId, Activity, string.Create(CultureInfo.InvariantCulture, $"{done} of {distinct.Count} reports"), done * 100 / distinct.Count));
                return result;
            }, cancellationToken).ConfigureAwait(false))
            {
                yield return outcome;
            }
        }
        finally
        {
            progress?.Report(new EngineProgress(ParentId, Activity, "Done", 100, Completed: true));
        }
    }

    /// <summary>Requests one report; a failure (not a cancellation) is the outcome's error.</summary>
    public static async Task<ReportOutcome> RequestOneAsync(ReportOrder order, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        try
        {
            CostReportResult report = await order.Source.RequestAsync(order.Request, log, progress, progressId, cancellationToken).ConfigureAwait(false);
            return new ReportOutcome(order, report, null);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new ReportOutcome(order, null, e);
        }
    }

    /// <summary>
    /// Requests a report again from <paramref name="source"/> (the same scope, metric, period and api-version), for
    /// fresh blob links. Throws what the source throws.
    /// </summary>
    public static Task<CostReportResult> RequestAgainAsync(ICostReportSource source, CostReportResult report, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(log);
        log.Verbose($"Requesting the report for {CostDetailsClient.Describe(report.Request)} again for fresh blob links.");
        return source.RequestAsync(report.Request, log, progress, progressId, cancellationToken);
    }
}

/// <summary>Progress of one item under a parent bar.</summary>
internal sealed class ChildProgress(IProgress<EngineProgress>? inner, int parentId) : IProgress<EngineProgress>
{
    public void Report(EngineProgress value) => inner?.Report(value with { ParentActivityId = parentId });
}
