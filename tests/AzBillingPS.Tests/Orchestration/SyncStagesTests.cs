using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Engine.Sync;
using Xunit;

namespace AzBillingPS.Tests.Orchestration;

/// <summary>
/// The pieces both sources of a Sync run share (the Cost Details API, and Cost Management exports, whose runs have no
/// request stage): the bounded stages and the hand-over of every unit in plan order.
/// </summary>
public sealed class SyncStagesTests : TempFolderTest
{
    public SyncStagesTests()
        : base("azb-stages-")
    {
    }

    private sealed class Work(SyncUnitOutcome unit, int position) : SyncWork(unit, position, Path.GetTempPath(), null)
    {
    }

    private static SyncUnitOutcome Unit(int index, SyncAction action = SyncAction.Pending) => new()
    {
        Key = new SyncUnitKey("/subscriptions/00000000-0000-0000-0000-0000000000aa", "ActualCost", new DateOnly(2026, 1 + index, 1)),
        Index = index,
        Action = action,
        Reason = "planned",
    };

    [Fact]
    public async Task Without_a_request_stage_fetches_overlap_loads_run_one_at_a_time_and_outcomes_come_in_plan_order()
    {
        List<SyncUnitOutcome> units = Enumerable.Range(0, 8).Select(i => Unit(i)).ToList();
        List<Work> work = units.Select((u, i) => new Work(u, i)).ToList();
        int fetching = 0, maxFetching = 0, loading = 0, maxLoading = 0;
        var loadOrder = new List<int>();
        static void Max(ref int max, int value)
        {
            int seen;
            while (value > (seen = Volatile.Read(ref max)) && Interlocked.CompareExchange(ref max, value, seen) != seen)
            {
            }
        }

        IAsyncEnumerable<SyncUnitOutcome> pipeline = SyncRunner.RunStagesAsync(work, new SyncSchedule(3, 3, 3, 1),
            request: null,
            async (w, ct) =>
            {
                Max(ref maxFetching, Interlocked.Increment(ref fetching));
                await Task.Delay(TimeSpan.FromMilliseconds(50 + (2 * (40 * (8 - w.Position) % 70))), ct); // not in plan order: unit 1 (50 ms) before unit 0 (130 ms)
                Interlocked.Decrement(ref fetching);
                return w;
            },
            async (w, ct) =>
            {
                Max(ref maxLoading, Interlocked.Increment(ref loading));
                lock (loadOrder)
                {
                    loadOrder.Add(w.Position);
                }

                await Task.Delay(5, ct);
                w.Unit.Action = SyncAction.Loaded;
                Interlocked.Decrement(ref loading);
                return w.Unit;
            },
            gate: null,
            NullEngineLog.Instance,
            CancellationToken.None);

        List<SyncUnitOutcome> outcomes = await Streams.All(pipeline);
        Assert.Equal(units, outcomes); // the same objects, in plan order
        Assert.All(outcomes, u => Assert.Equal(SyncAction.Loaded, u.Action));
        Assert.Equal(1, maxLoading);
        Assert.InRange(maxFetching, 2, 3);
        Assert.NotEqual(Enumerable.Range(0, 8), loadOrder); // loads took the units as their fetches finished
    }

    /// <summary>The schedule Sync-AzBilling -ThrottleLimit 4 runs with on PostgreSQL, a database that takes loads of different units at once.</summary>
    private static SyncSchedule PostgresThrottle4() => new SyncRunner(
        new SyncRequest
        {
            Target = new SinkTarget(DatabaseProvider.PostgreSql, "Host=127.0.0.1;Database=costs", "Costs", null),
            Scopes = ["/subscriptions/00000000-0000-0000-0000-0000000000aa"],
            Metrics = ["ActualCost"],
            Months = [new DateOnly(2026, 1, 1)],
            WorkingPath = Path.GetTempPath(),
            ThrottleLimit = 4,
            LockTimeout = TimeSpan.FromSeconds(30),
        },
        new FakeReportSource(),
        new FakeBlobSource()).Schedule;

    private sealed record Span(int Position, DateTimeOffset Start, DateTimeOffset End);

    /// <summary>Runs four units through the stages with <paramref name="load"/> (after its start is recorded) and records each load's span.</summary>
    private static async Task<(List<SyncUnitOutcome> Outcomes, List<Span> Spans)> RunFour(SyncSchedule schedule, FirstLoadGate? gate, IEngineLog log, Func<Work, CancellationToken, Task> load)
    {
        List<Work> work = Enumerable.Range(0, 4).Select(i => new Work(Unit(i), i)).ToList();
        var spans = new List<Span>();
        IAsyncEnumerable<SyncUnitOutcome> pipeline = SyncRunner.RunStagesAsync(work, schedule,
            request: null,
            (w, _) => Task.FromResult(w),
            async (w, ct) =>
            {
                DateTimeOffset start = DateTimeOffset.UtcNow;
                await load(w, ct);
                lock (spans)
                {
                    spans.Add(new Span(w.Position, start, DateTimeOffset.UtcNow));
                }

                w.Unit.Action = SyncAction.Loaded;
                return w.Unit;
            },
            gate,
            log,
            CancellationToken.None);
        List<SyncUnitOutcome> outcomes = await Streams.All(pipeline).WaitAsync(TimeSpan.FromSeconds(60));
        return (outcomes, spans);
    }

    [Fact]
    public async Task With_loads_at_once_the_first_load_into_a_new_table_goes_alone_and_the_others_load_together_after_it()
    {
        // Was Sync-AzBilling.Tests.ps1 'PostgreSQL: loads of different units at once' / 'the first load creates a new
        // table alone, the others load after it' (four units, -ThrottleLimit 4, a table that did not exist).
        SyncSchedule schedule = PostgresThrottle4();
        Assert.Equal(4, schedule.Loads);
        CostSink sink = CostSink.Create(SinkTarget.ForSqliteFile(Path.Combine(Dir, "new.sqlite"), "Costs", null));
        FirstLoadGate? gate = await FirstLoadGate.ForAsync(sink, schedule, 4, TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.NotNull(gate); // the table does not exist: the first load creates it alone
        var log = new ListLog();
        (List<SyncUnitOutcome> outcomes, List<Span> spans) = await RunFour(schedule, gate, log, (_, ct) => Task.Delay(300, ct));

        Assert.Equal(Enumerable.Range(0, 4), outcomes.Select(u => u.Index));
        Assert.All(outcomes, u => Assert.Equal(SyncAction.Loaded, u.Action));
        Span first = spans.OrderBy(x => x.Start).First();
        List<Span> others = spans.Where(x => x != first).ToList();
        Assert.All(others, x => Assert.True(x.Start >= first.End, $"unit {x.Position} started loading before the first load (unit {first.Position}) ended"));
        Assert.True(others.Max(x => x.Start) < others.Min(x => x.End), "the three others load at once after the first"); // 300 ms each
        Assert.Equal(3, log.Lines.Count(l => l.Contains("loads after the first load of the run, which creates Costs.", StringComparison.Ordinal)));

        // Once the table exists, there is no gate: every load goes at once.
        await using (System.Data.Common.DbConnection connection = await sink.OpenAsync(TimeSpan.FromSeconds(30), CancellationToken.None))
        {
            await using System.Data.Common.DbCommand create = connection.CreateCommand();
            create.CommandText = "CREATE TABLE \"Costs\" (\"Date\" TEXT)";
            await create.ExecuteNonQueryAsync();
        }

        Assert.Null(await FirstLoadGate.ForAsync(sink, schedule, 4, TimeSpan.FromSeconds(30), CancellationToken.None));
    }

    [Fact]
    public async Task Loads_of_different_units_go_at_once_so_three_load_while_the_fourth_waits_for_its_lock_then_it_loads_too()
    {
        // Was Sync-AzBilling.Tests.ps1 'PostgreSQL: loads of different units at once' / 'with -ThrottleLimit 4, three
        // units load while the fourth waits for its lock; then it loads too' (another session held the first unit's lock).
        // The lock itself (PostgreSQL's per-unit advisory lock) is Database.Tests.ps1's 'units lock themselves'.
        var othersLoaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int loadedOthers = 0;
        bool othersLoadedWhileHeld = false;
        (List<SyncUnitOutcome> outcomes, List<Span> spans) = await RunFour(PostgresThrottle4(), gate: null, NullEngineLog.Instance, async (w, ct) =>
        {
            if (w.Position == 0)
            {
                // The first unit's lock is held elsewhere until the three others have loaded (at most 5 s).
                othersLoadedWhileHeld = await Task.WhenAny(othersLoaded.Task, Task.Delay(TimeSpan.FromSeconds(5), ct)) == othersLoaded.Task;
                return;
            }

            await Task.Delay(20, ct);
            if (Interlocked.Increment(ref loadedOthers) == 3)
            {
                othersLoaded.TrySetResult();
            }
        });

        Assert.True(othersLoadedWhileHeld, "the three other units load while the first waits for its lock");
        Assert.Equal(Enumerable.Range(0, 4), outcomes.Select(u => u.Index)); // still handed on in plan order, the first first
        Assert.All(outcomes, u => Assert.Equal(SyncAction.Loaded, u.Action));
        Span held = spans.Single(x => x.Position == 0);
        Assert.All(spans.Where(x => x.Position != 0), x => Assert.True(x.End <= held.End, $"unit {x.Position} loaded after the held one"));
    }

    [Fact]
    public async Task Hands_every_unit_over_in_plan_order_and_counts_the_loads_whatever_they_became()
    {
        // Planned: a complete month, a run to load, a manifest that failed at planning, another run to load.
        SyncUnitOutcome skipped = Unit(0, SyncAction.Skipped), first = Unit(1), broken = Unit(2, SyncAction.Failed), second = Unit(3);
        var reported = new List<SyncUnitOutcome> { skipped, first, broken, second };
        var toLoad = new List<SyncUnitOutcome> { first, second };
        IAsyncEnumerable<SyncUnitOutcome> pipeline = SyncRunner.RunStagesAsync(toLoad.Select((u, i) => new Work(u, i)).ToList(), new SyncSchedule(2, 2, 2, 1),
            request: null,
            (w, _) => Task.FromResult(w),
            (w, _) =>
            {
                // The first was loaded by another run meanwhile (Skipped), the second failed.
                w.Unit.Action = w.Unit == first ? SyncAction.Skipped : SyncAction.Failed;
                return Task.FromResult(w.Unit);
            },
            gate: null,
            NullEngineLog.Instance,
            CancellationToken.None);
        var seen = new List<SyncUnitOutcome>();
        var records = new List<EngineProgress>();

        await SyncRunner.HandOverAsync(reported, toLoad, pipeline, "Sync-AzBilling", "export month(s)", seen.Add, new SyncProgress(records.Add), CancellationToken.None);

        Assert.Equal(reported, seen);
        Assert.Equal("0 of 2 export month(s) done, 0 failed", records[0].Status);
        EngineProgress last = records[^2];
        Assert.Equal("2 of 2 export month(s) done, 1 failed", last.Status);
        Assert.Equal(100, last.PercentComplete);
        Assert.True(records[^1].Completed);
        Assert.All(records, r => Assert.Equal("Sync-AzBilling", r.Activity));
    }

    [Fact]
    public async Task A_pipeline_that_hands_back_another_unit_than_the_next_in_plan_order_is_an_error_not_a_wrong_result()
    {
        SyncUnitOutcome a = Unit(0), b = Unit(1);
        static async IAsyncEnumerable<SyncUnitOutcome> Backwards(SyncUnitOutcome x, SyncUnitOutcome y)
        {
            await Task.Yield();
            yield return y;
            yield return x;
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            SyncRunner.HandOverAsync([a, b], [a, b], Backwards(a, b), "Sync-AzBilling", "unit(s)", _ => { }, null, CancellationToken.None));
    }
}
