using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using Xunit;

namespace AzBillingPS.Tests.Orchestration;

/// <summary>The bounded stages every orchestration is made of: bounds, order, back-pressure, failure, cancellation.</summary>
public class FanOutTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task Runs_at_most_parallel_items_at_once_and_yields_in_input_order(int parallel)
    {
        var busy = new Concurrency();
        List<int> results = await Streams.All(FanOut.InInputOrder(Enumerable.Range(0, 12).ToList(), parallel, async (i, index, ct) =>
        {
            using (busy.Enter())
            {
                await Task.Delay(i % 3 == 0 ? 60 : 10, ct);
            }

            Assert.Equal(i, index);
            return i * 10;
        }, CancellationToken.None));
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i * 10), results);
        Assert.Equal(parallel, busy.Most);
    }

    [Fact]
    public async Task Yields_in_completion_order_with_the_input_index()
    {
        List<(int Index, string Result)> results = await Streams.All(FanOut.InCompletionOrder(FanOut.ToAsync(new[] { 200, 10, 100 }), 3, async (ms, i, ct) =>
        {
            await Task.Delay(ms, ct);
            return $"{ms}";
        }, 3, CancellationToken.None));
        Assert.Equal(new[] { 1, 2, 0 }, results.Select(r => r.Index));
        Assert.Equal(new[] { "10", "100", "200" }, results.Select(r => r.Result));
    }

    [Fact]
    public async Task A_chained_stage_holds_the_one_before_it_back()
    {
        // Stage one is fast, stage two slow with one slot: stage one may only run ahead by its own slot and queue.
        int started = 0;
        IAsyncEnumerable<(int, int)> first = FanOut.InCompletionOrder(FanOut.ToAsync(Enumerable.Range(0, 20)), 1, (i, _, _) =>
        {
            Interlocked.Increment(ref started);
            return Task.FromResult(i);
        }, 1, CancellationToken.None);
        int most = 0;
        await foreach ((int _, (int _, int item)) in FanOut.InCompletionOrder(Values(first), 1, async (x, _, ct) =>
        {
            most = Math.Max(most, Volatile.Read(ref started) - x.Item2);
            await Task.Delay(5, ct);
            return x;
        }, 1, CancellationToken.None))
        {
            Assert.InRange(item, 0, 19);
        }

        Assert.InRange(most, 1, 4);
        Assert.Equal(20, started);
    }

    [Fact]
    public async Task The_first_failure_stops_the_others_and_ends_the_stream_with_it()
    {
        int started = 0;
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Streams.All(FanOut.InInputOrder(Enumerable.Range(0, 50).ToList(), 2, async (i, _, ct) =>
        {
            Interlocked.Increment(ref started);
            await Task.Delay(10, ct);
            return i == 3 ? throw new InvalidOperationException("item 3") : i;
        }, CancellationToken.None)));
        Assert.Equal("item 3", e.Message);
        Assert.InRange(started, 4, 8);
    }

    [Fact]
    public async Task Cancellation_ends_the_stream_promptly()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Streams.All(FanOut.InInputOrder(Enumerable.Range(0, 10).ToList(), 2, async (i, _, ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
            return i;
        }, cts.Token)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Stopping_the_enumeration_cancels_the_work()
    {
        var cancelled = new TaskCompletionSource();
        await foreach (int i in FanOut.InInputOrder(Enumerable.Range(0, 10).ToList(), 2, async (i, _, ct) =>
        {
            if (i == 0)
            {
                return 0;
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(30), ct);
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult();
                throw;
            }

            return i;
        }, CancellationToken.None))
        {
            Assert.Equal(0, i);
            break;
        }

        Assert.True(cancelled.Task.IsCompleted);
    }

    private static async IAsyncEnumerable<(int, int)> Values(IAsyncEnumerable<(int Index, int Result)> source)
    {
        await foreach ((int index, int result) in source)
        {
            yield return (index, result);
        }
    }
}
