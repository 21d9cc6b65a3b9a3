using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sync;
using Xunit;

namespace AzBillingPS.Tests.Orchestration;

/// <summary>
/// The pieces both sources of a Sync run share (the Cost Details API, and Cost Management exports, whose runs have no
/// request stage): the bounded stages and the hand-over of every unit in plan order.
/// </summary>
public sealed class SyncStagesTests
{
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
