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
/// Sync's unit pipeline through the report and blob sources (in-memory fakes) into a real SQLite file: plan order,
/// bounded stages, refresh of expired links, partial failure of one report, cancellation.
/// </summary>
public sealed class SyncPipelineTests : TempFolderTest
{
    private static readonly DateOnly Today = DateOnly.FromDateTime(DateTime.UtcNow);
    private static readonly DateOnly ThisMonth = new(Today.Year, Today.Month, 1);
    public SyncPipelineTests()
        : base("azb-pipeline-")
    {
    }

    private SyncRequest Request(int throttle, params string[] subscriptions) => new()
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
    private static FakeBlobSource Blobs(TimeSpan? delay = null) => new()
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

    private static async Task<(SyncRunOutcome Outcome, List<SyncUnitOutcome> Seen)> Run(SyncRunner runner, CancellationToken ct = default)
    {
        var seen = new List<SyncUnitOutcome>();
        SyncRunOutcome outcome = await runner.RunAsync((_, _) => Task.FromResult(true), seen.Add, NullEngineLog.Instance, null, ct);
        return (outcome, seen);
    }

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
        (SyncRunOutcome outcome, List<SyncUnitOutcome> seen) = await Run(new SyncRunner(request, reports, blobs) { Schedule = new SyncSchedule(1, 1, 1, 1, 1) });
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
    public async Task Keeps_the_reports_and_blobs_in_flight_within_the_throttle_limit(int limit)
    {
        var reports = new FakeReportSource { Delay = TimeSpan.FromMilliseconds(80), Blobs = 3 };
        var blobs = Blobs(TimeSpan.FromMilliseconds(40));
        var request = Request(limit, "00000000-0000-0000-0000-0000000000b8", "00000000-0000-0000-0000-0000000000c9");
        (SyncRunOutcome outcome, _) = await Run(new SyncRunner(request, reports, blobs));
        Assert.True(outcome.Success);
        Assert.Equal(limit, reports.InFlight.Most);
        Assert.InRange(blobs.InFlight.Most, 1, limit);
    }

    [Fact]
    public void Loads_one_at_a_time_by_default_and_as_many_as_the_request_allows()
    {
        // The load stage is a FanOut stage bounded by Schedule.Loads (FanOutTests prove the bound holds).
        var request = Request(4, "00000000-0000-0000-0000-0000000000d0");
        Assert.Equal(new SyncSchedule(4, 4, 4, 4, 1), new SyncRunner(request, new FakeReportSource(), Blobs()).Schedule);
        Assert.Equal(3, new SyncRunner(request with { LoadConcurrency = 3 }, new FakeReportSource(), Blobs()).Schedule.Loads);
    }

    [Fact]
    public async Task Cancellation_stops_the_run_and_leaves_the_units_Running_for_the_next_one()
    {
        var reports = new FakeReportSource { Delay = TimeSpan.FromSeconds(30) };
        var request = Request(2, "00000000-0000-0000-0000-0000000000f2");
        var runner = new SyncRunner(request, reports, Blobs());
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Run(runner, cts.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        Assert.Equal(2, reports.Calls.Count);
        IReadOnlyList<SyncStateRow> state = (await runner.State.ReadAsync(null, CancellationToken.None))!;
        Assert.Equal(3, state.Count(r => r.Status == SyncStatus.Running));
        Assert.False(Directory.EnumerateFileSystemEntries(Path.Combine(Dir, "work")).Any(), "the run's folder is removed");
    }
}
