using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Engine.Sync;
using Xunit;

namespace AzBillingPS.Tests.Orchestration;

/// <summary>
/// Sync's unit pipeline through the report and blob sources (in-memory fakes) into a real SQLite file: what the pipeline
/// tests share (<see cref="SyncPipelineTests"/>, and <see cref="SyncPipelinePacingTests"/> for the cases with a pacer).
/// </summary>
public abstract class SyncPipelineTest : TempFolderTest
{
    private static readonly DateOnly Today = DateOnly.FromDateTime(DateTime.UtcNow);
    protected static readonly DateOnly ThisMonth = new(Today.Year, Today.Month, 1);

    protected SyncPipelineTest()
        : base("azb-pipeline-")
    {
    }

    private protected SyncRequest Request(int throttle, params string[] subscriptions) => new()
    {
        Target = SinkTarget.ForSqliteFile(Path.Combine(Dir, "costs.sqlite"), "Costs", null),
        Scopes = subscriptions.Select(s => "/subscriptions/" + s).ToList(),
        Metrics = ["ActualCost"],
        Months = [ThisMonth.AddMonths(-2), ThisMonth.AddMonths(-1), ThisMonth],
        WorkingPath = Path.Combine(Dir, "work"),
        ThrottleLimit = throttle,
        LockTimeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>Blob contents dated within the unit's month (the fake reads it from the file name the saver chose).</summary>
    private protected static FakeBlobSource Blobs(TimeSpan? delay = null) => new()
    {
        Delay = delay ?? TimeSpan.FromMilliseconds(10),
        PeriodOf = r =>
        {
            string name = Path.GetFileName(r.DestinationPath);
            string period = name.Split('_')[2]; // <scope>_<metric>_<yyyyMMdd-yyyyMMdd>_<i>of<n>.csv
            DateOnly start = DateOnly.ParseExact(period[..8], "yyyyMMdd", null);
            return (start, start.AddDays(1));
        },
    };

    private protected static async Task<(SyncRunOutcome Outcome, List<SyncUnitOutcome> Seen)> Run(SyncRunner runner, CancellationToken ct = default)
    {
        var seen = new List<SyncUnitOutcome>();
        SyncRunOutcome outcome = await runner.RunAsync((_, _) => Task.FromResult(true), seen.Add, NullEngineLog.Instance, null, ct);
        return (outcome, seen);
    }
}

/// <summary>
/// Sync's unit pipeline without pacing: plan order, bounded downloads, refresh of expired links, partial failure of one
/// report, cancellation. (Outside the pacing scale's collection, so it runs beside the other classes.)
/// </summary>
public sealed class SyncPipelineTests : SyncPipelineTest
{
    [Fact]
    public async Task Loads_every_unit_and_hands_the_outcomes_on_in_plan_order_whatever_order_they_finish_in()
    {
        // The first scope's reports are the slowest: its units finish last and are still handed on first.
        var reports = new FakeReportSource { DelayOf = r => TimeSpan.FromMilliseconds(r.Scope.EndsWith("a1", StringComparison.Ordinal) ? 400 : 10) };
        var runner = new SyncRunner(Request(4, "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000b2"), reports, Blobs());
        (SyncRunOutcome outcome, List<SyncUnitOutcome> seen) = await Run(runner);
        Assert.Equal(6, outcome.Loaded);
        Assert.True(outcome.Success);
        Assert.Equal(Enumerable.Range(0, 6), seen.Select(u => u.Index));
        Assert.EndsWith("a1", reports.Finished.Last().Scope, StringComparison.Ordinal);
        Assert.All(seen, u => Assert.Equal(12, u.Rows)); // two blobs, two days, three rows a day
        Assert.Equal(72, outcome.Rows);
        IReadOnlyList<SyncStateRow> state = (await runner.State.ReadAsync(null, CancellationToken.None))!;
        Assert.Equal(6, state.Count(r => r.Status == SyncStatus.Loaded));
        Assert.False(Directory.EnumerateFileSystemEntries(Path.Combine(Dir, "work")).Any(), "the run's files are removed");
    }

    [Fact]
    public async Task A_refused_report_fails_its_unit_only_and_the_state_says_why()
    {
        var reports = new FakeReportSource();
        reports.Failing.Add("/subscriptions/00000000-0000-0000-0000-0000000000c3");
        var runner = new SyncRunner(Request(2, "00000000-0000-0000-0000-0000000000c3", "00000000-0000-0000-0000-0000000000d4"), reports, Blobs());
        (SyncRunOutcome outcome, List<SyncUnitOutcome> seen) = await Run(runner);
        Assert.Equal(3, outcome.Failed);
        Assert.Equal(3, outcome.Loaded);
        Assert.False(outcome.Success);
        Assert.All(seen.Take(3), u => Assert.Equal(EngineErrorKind.PermissionDenied, Assert.IsType<EngineException>(u.Error).Kind));
        IReadOnlyList<SyncStateRow> state = (await runner.State.ReadAsync(null, CancellationToken.None))!;
        Assert.Equal(3, state.Count(r => r.Status == SyncStatus.Failed && r.Error!.Contains("403", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_blob_that_fails_fails_its_unit_and_a_report_without_data_replaces_the_month_with_nothing()
    {
        var reports = new FakeReportSource { Blobs = 2 };
        reports.NoData.Add("/subscriptions/00000000-0000-0000-0000-0000000000f6");
        var blobs = Blobs();
        blobs.Failing.Add("https://fake.blob.test/op-2/part2.csv"); // the second report's second blob
        var request = Request(1, "00000000-0000-0000-0000-0000000000e5", "00000000-0000-0000-0000-0000000000f6");
        (SyncRunOutcome outcome, List<SyncUnitOutcome> seen) = await Run(new SyncRunner(request, reports, blobs) { Schedule = new SyncSchedule(1, 1, 1, 1) });
        Assert.Equal(SyncAction.Failed, seen[1].Action);
        Assert.Contains("Blob 2 of 2", seen[1].Error!.Message, StringComparison.Ordinal);
        Assert.All(seen.Where(u => u.Index != 1), u => Assert.Equal(SyncAction.Loaded, u.Action));
        Assert.All(seen.Skip(3), u => Assert.Contains("no data", u.Reason, StringComparison.Ordinal));
        Assert.Equal(5, outcome.Loaded);
    }

    [Fact]
    public async Task Requests_a_unit_whose_links_expired_again_and_loads_it()
    {
        // The first report's links expired before its download started: the saver asks the report source again.
        var reports = new FakeReportSource { ValidTill = n => n == 1 ? DateTimeOffset.UtcNow.AddMinutes(-1) : DateTimeOffset.UtcNow.AddDays(1) };
        var request = Request(1, "00000000-0000-0000-0000-0000000000a7") with { Months = [ThisMonth] };
        (SyncRunOutcome outcome, List<SyncUnitOutcome> seen) = await Run(new SyncRunner(request, reports, Blobs()));
        Assert.True(outcome.Success);
        Assert.Equal(2, reports.Calls.Count);
        Assert.Equal("op-2", Assert.Single(seen).OperationId);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Requests_in_flight_exceed_the_throttle_limit_while_downloads_stay_within_it(int limit)
    {
        // Without pacing every report is requested at once: -ThrottleLimit bounds downloads (and loads), not waiting.
        // Each report stays in flight until all six are (or 5 s have passed), so none can finish before the last starts.
        var reports = new FakeReportSource { Delay = TimeSpan.FromMilliseconds(10), Hold = InFlightBarrier.Of(6, TimeSpan.FromSeconds(5)), Blobs = 3 };
        var blobs = Blobs(TimeSpan.FromMilliseconds(20));
        var request = Request(limit, "00000000-0000-0000-0000-0000000000b8", "00000000-0000-0000-0000-0000000000c9");
        (SyncRunOutcome outcome, _) = await Run(new SyncRunner(request, reports, blobs));
        Assert.True(outcome.Success);
        Assert.Equal(6, reports.InFlight.Most);
        Assert.InRange(blobs.InFlight.Most, 1, limit);
    }

    [Fact]
    public void Loads_one_at_a_time_on_SQLite_and_throttle_limit_at_once_where_the_database_takes_concurrent_loads()
    {
        var request = Request(4, "00000000-0000-0000-0000-0000000000d0");
        Assert.Equal(new SyncSchedule(16, 4, 4, 1), new SyncRunner(request, new FakeReportSource(), Blobs()).Schedule);
        var postgres = request with { Target = new SinkTarget(DatabaseProvider.PostgreSql, "Host=127.0.0.1;Database=costs", "Costs", null) };
        Assert.Equal(new SyncSchedule(16, 4, 4, 4), new SyncRunner(postgres, new FakeReportSource(), Blobs()).Schedule);
        Assert.Equal(40, new SyncRunner(postgres with { ThrottleLimit = 10 }, new FakeReportSource(), Blobs()).Schedule.ReadyReports);
    }

    [Fact]
    public async Task Cancellation_stops_the_run_and_leaves_the_units_Running_for_the_next_one()
    {
        // Stopped 50 ms after the third report went out (or after 5 s, when fewer are ever in flight at once).
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var reports = new FakeReportSource();
        reports.DelayOf = _ =>
        {
            if (reports.Calls.Count >= 3)
            {
                cts.CancelAfter(TimeSpan.FromMilliseconds(50));
            }

            return TimeSpan.FromSeconds(30);
        };
        var request = Request(2, "00000000-0000-0000-0000-0000000000f2");
        var runner = new SyncRunner(request, reports, Blobs());
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Run(runner, cts.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        Assert.Equal(3, reports.Calls.Count); // every report was in flight (-ThrottleLimit 2 bounds downloads, not waiting)
        IReadOnlyList<SyncStateRow> state = (await runner.State.ReadAsync(null, CancellationToken.None))!;
        Assert.Equal(3, state.Count(r => r.Status == SyncStatus.Running));
        Assert.False(Directory.EnumerateFileSystemEntries(Path.Combine(Dir, "work")).Any(), "the run's folder is removed");
    }
}

/// <summary>
/// Sync's unit pipeline with a pacer: reports started as the pacing allows, back-pressure from downloads, cancellation
/// while reports wait for their turn. (In the pacing scale's collection: a pacer's windows must not be scaled by another
/// test meanwhile.)
/// </summary>
[Collection(AzBillingPS.Tests.Common.PacingScaleSerial.Name)]
public sealed class SyncPipelinePacingTests : SyncPipelineTest
{
    [Fact]
    public async Task Starts_reports_as_the_pacing_allows_other_scopes_first_and_never_faster()
    {
        // The Cost Details client's shape of limits: every request counts against the tenant (here one per 20 ms) and
        // against its scope (one per 1.1 s: the first four go within 60 ms, which leaves a stalled dispatcher 1 s before a
        // scope's second month may rightly go first). A scope held back by its own limit does not hold the others back.
        // The first reports stay in flight until four are (or 5 s have passed), rather than for a fixed time.
        // Each request's time is the slot the pacer reserved for it (PacerClock), to the tick.
        var clock = new PacerClock();
        var pacer = new RequestPacer(clock.Now);
        var tenant = new PaceLimit("tenant", 1, TimeSpan.FromMilliseconds(20));
        var reports = new FakeReportSource
        {
            Delay = TimeSpan.FromMilliseconds(10),
            Hold = InFlightBarrier.Of(4, TimeSpan.FromSeconds(5)),
            Blobs = 1,
            Pacer = pacer,
            Clock = clock,
            LimitsOf = r => [tenant, new PaceLimit("scope|" + r.Scope, 1, TimeSpan.FromMilliseconds(1100))],
        };
        string[] subs = ["00000000-0000-0000-0000-0000000000e1", "00000000-0000-0000-0000-0000000000e2", "00000000-0000-0000-0000-0000000000e3", "00000000-0000-0000-0000-0000000000e4"];
        (SyncRunOutcome outcome, _) = await Run(new SyncRunner(Request(1, subs), reports, Blobs()));
        Assert.True(outcome.Success);
        var sent = reports.Sent.OrderBy(x => x.At).ToList();
        Assert.Equal(12, sent.Count);
        Assert.Equal(4, sent.Take(4).Select(x => x.Request.Scope).Distinct().Count()); // one of each scope first
        Assert.All(sent, x => Assert.Equal(TimeSpan.Zero, x.Waited)); // started only when it could go: no slot held ahead
        for (int i = 1; i < sent.Count; i++)
        {
            Assert.True(sent[i].At - sent[i - 1].At >= TimeSpan.FromMilliseconds(19), $"requests {i - 1} and {i} went {(sent[i].At - sent[i - 1].At).TotalMilliseconds} ms apart");
        }

        foreach (var scope in sent.GroupBy(x => x.Request.Scope))
        {
            var times = scope.Select(x => x.At).ToList();
            Assert.All(times.Skip(1).Zip(times), p => Assert.True(p.First - p.Second >= TimeSpan.FromMilliseconds(1099), scope.Key));
        }

        Assert.True(reports.InFlight.Most >= 4, $"reports in flight at most: {reports.InFlight.Most}"); // the first four held until all four are in flight
    }

    [Fact]
    public async Task Requests_no_more_reports_while_finished_ones_wait_for_a_download_slot()
    {
        // Reports come quickly (paced one per 50 ms), the first download slowly (one at a time, 400 ms): once two finished
        // reports wait, no new one is requested until a download slot takes one, so their links do not age in a queue.
        // (Only requests before the first download ended are counted: the later downloads take 10 ms.)
        var reports = new FakeReportSource { Delay = TimeSpan.FromMilliseconds(5), Blobs = 1, Pacer = new RequestPacer(), LimitsOf = _ => [new PaceLimit("tenant", 1, TimeSpan.FromMilliseconds(50))] };
        var blobs = Blobs(TimeSpan.FromMilliseconds(10));
        blobs.DelayOf = n => TimeSpan.FromMilliseconds(n == 1 ? 400 : 10);
        var request = Request(1, "00000000-0000-0000-0000-0000000000f1", "00000000-0000-0000-0000-0000000000f2", "00000000-0000-0000-0000-0000000000f3");
        (SyncRunOutcome outcome, _) = await Run(new SyncRunner(request, reports, blobs) { Schedule = new SyncSchedule(2, 1, 1, 1) });
        Assert.True(outcome.Success);
        DateTimeOffset firstDownloadEnded = blobs.Ended.Min();
        int requestedBefore = reports.Sent.Count(x => x.At < firstDownloadEnded);
        Assert.InRange(requestedBefore, 1, 4); // the one downloading, two waiting (and one in flight); unbounded it would be 8 or 9
    }

    [Fact]
    public async Task Cancellation_while_reports_wait_for_the_pacing_stops_at_once_and_requests_no_more()
    {
        // One request a minute for the tenant: the first goes, the others wait for their turn when the run is stopped.
        // Stopped 100 ms after the first report came back (or after 5 s, when none ever does).
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var reports = new FakeReportSource
        {
            Delay = TimeSpan.FromMilliseconds(50),
            Hold = (_, _) =>
            {
                cts.CancelAfter(TimeSpan.FromMilliseconds(100));
                return Task.CompletedTask;
            },
            Blobs = 1,
            Pacer = new RequestPacer(),
            LimitsOf = _ => [PaceLimit.PerMinute("tenant", 1)],
        };
        var runner = new SyncRunner(Request(2, "00000000-0000-0000-0000-0000000000f3", "00000000-0000-0000-0000-0000000000f4"), reports, Blobs());
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Run(runner, cts.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        Assert.Single(reports.Sent);
        IReadOnlyList<SyncStateRow> state = (await runner.State.ReadAsync(null, CancellationToken.None))!;
        Assert.InRange(state.Count(r => r.Status == SyncStatus.Loaded), 0, 1); // the first unit, if its load finished in time
        Assert.Equal(6, state.Count(r => r.Status is SyncStatus.Loaded or SyncStatus.Running));
    }
}
