using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using Xunit;

namespace AzBillingPS.Tests.Orchestration;

/// <summary>Requesting many reports through a report source: order, de-duplication, bounds, partial failure, cancellation.</summary>
public class ReportRequesterTests
{
    private static CostReportRequest Month(string sub, int month, string metric = "ActualCost")
        => new("/subscriptions/" + sub, metric, new DateOnly(2026, month, 1), new DateOnly(2026, month, 1).AddMonths(1).AddDays(-1));

    [Fact]
    public async Task Streams_the_outcomes_in_the_order_of_the_orders_whatever_order_they_finish_in()
    {
        // The first report is the slowest: it finishes last (it waits until the five others have finished, not for a
        // time a loaded machine could overrun), and still comes out first.
        var source = new FakeReportSource { Delay = TimeSpan.FromMilliseconds(10) };
        source.Hold = async (r, ct) =>
        {
            while (r.Start!.Value.Month == 1 && source.Finished.Count < 5)
            {
                await Task.Delay(10, ct);
            }
        };
        var orders = Enumerable.Range(1, 6).Select(m => new ReportOrder(Month("a", m), source)).ToList();
        List<ReportOutcome> outcomes = await Streams.All(new ReportRequester(3).RequestAsync(orders, NullEngineLog.Instance, null, CancellationToken.None));
        Assert.Equal(orders.Select(o => o.Request), outcomes.Select(o => o.Report!.Request));
        Assert.Equal(1, source.Finished.Last().Start!.Value.Month); // it did finish last
        Assert.True(outcomes.All(o => o.Error is null && o.Report!.Status == "Completed"));
    }

    [Fact]
    public async Task Sends_the_same_request_once_whichever_identity_asked_first()
    {
        var first = new FakeReportSource();
        var second = new FakeReportSource();
        var orders = new List<ReportOrder>
        {
            new(Month("a", 1), first),
            new(Month("a", 2), first),
            new(Month("a", 1), second),          // the same request from another identity
            new(Month("a", 1, "AmortizedCost"), second),
            new(Month("a", 2), first),           // a repeat
        };
        List<ReportOutcome> outcomes = await Streams.All(new ReportRequester(2).RequestAsync(orders, NullEngineLog.Instance, null, CancellationToken.None));
        Assert.Equal(3, outcomes.Count);
        Assert.Equal(2, first.Calls.Count);
        Assert.Single(second.Calls);
        Assert.Equal("AmortizedCost", second.Calls.Single().Metric);
        Assert.Same(orders[0], outcomes[0].Order);
        Assert.Same(orders[3], outcomes[2].Order);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Keeps_at_most_the_throttle_limit_in_flight_and_uses_it(int limit)
    {
        var source = new FakeReportSource { Delay = TimeSpan.FromMilliseconds(60) };
        var orders = Enumerable.Range(1, 9).Select(m => new ReportOrder(Month("b", m), source)).ToList();
        List<ReportOutcome> outcomes = await Streams.All(new ReportRequester(limit).RequestAsync(orders, NullEngineLog.Instance, null, CancellationToken.None));
        Assert.Equal(9, outcomes.Count);
        Assert.Equal(limit, source.InFlight.Most);
    }

    [Fact]
    public async Task A_refused_report_is_an_outcome_with_its_error_and_the_others_complete()
    {
        var source = new FakeReportSource();
        source.Failing.Add("/subscriptions/bad");
        var orders = new[] { Month("good", 1), Month("bad", 1), Month("good", 2) }.Select(r => new ReportOrder(r, source)).ToList();
        List<ReportOutcome> outcomes = await Streams.All(new ReportRequester(2).RequestAsync(orders, NullEngineLog.Instance, null, CancellationToken.None));
        Assert.Equal(3, outcomes.Count);
        Assert.NotNull(outcomes[0].Report);
        Assert.Null(outcomes[1].Report);
        Assert.Equal(EngineErrorKind.PermissionDenied, Assert.IsType<EngineException>(outcomes[1].Error).Kind);
        Assert.NotNull(outcomes[2].Report);
    }

    [Fact]
    public async Task Cancellation_stops_the_requests_in_flight_and_those_not_started()
    {
        var source = new FakeReportSource { Delay = TimeSpan.FromSeconds(30) };
        var orders = Enumerable.Range(1, 8).Select(m => new ReportOrder(Month("c", m), source)).ToList();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Streams.All(new ReportRequester(2).RequestAsync(orders, NullEngineLog.Instance, null, cts.Token)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        Assert.Equal(2, source.Calls.Count);
    }

    [Fact]
    public async Task Reports_a_parent_bar_over_the_reports_with_a_completed_record()
    {
        var source = new FakeReportSource();
        var seen = new System.Collections.Concurrent.ConcurrentQueue<EngineProgress>();
        var progress = new SyncProgress(seen.Enqueue);
        var orders = Enumerable.Range(1, 3).Select(m => new ReportOrder(Month("d", m), source)).ToList();
        await Streams.All(new ReportRequester(2) { Activity = "Reports" }.RequestAsync(orders, NullEngineLog.Instance, progress, CancellationToken.None));
        Assert.Contains(seen, p => p.ActivityId == 1 && p.Status == "3 of 3 reports" && p.PercentComplete == 100);
        Assert.Equal("Reports", seen.Last().Activity);
        Assert.True(seen.Last().Completed);
    }
}

/// <summary>Progress delivered on the reporting thread (Progress&lt;T&gt; would post it later).</summary>
internal sealed class SyncProgress(Action<EngineProgress> report) : IProgress<EngineProgress>
{
    public void Report(EngineProgress value) => report(value);
}
