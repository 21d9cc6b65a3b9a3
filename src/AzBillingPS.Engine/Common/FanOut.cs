using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace AzBillingPS.Engine.Common;

/// <summary>
/// Bounded parallel work over a stream of items: at most <c>parallel</c> items in work at once, started in the order
/// they come, results streamed as they finish (<see cref="InCompletionOrder"/>) or in the order of the input
/// (<see cref="InInputOrder"/>). A stage only takes its next item when a worker is free and its output has room, so
/// chained stages hold each other back (back-pressure) instead of piling work up. The first exception a worker throws
/// (cancellation included) stops the others and ends the stream with it; stopping the enumeration cancels the work.
/// </summary>
internal static class FanOut
{
    /// <summary>Runs <paramref name="work"/> over <paramref name="source"/>, yielding (input index, result) as each finishes.</summary>
    /// <param name="outputCapacity">Finished results held for a slow reader before the workers wait (at least 1).</param>
    public static async IAsyncEnumerable<(int Index, TOut Result)> InCompletionOrder<TIn, TOut>(
        IAsyncEnumerable<TIn> source,
        int parallel,
        Func<TIn, int, CancellationToken, Task<TOut>> work,
        int outputCapacity,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(work);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallel, 1);
        var output = Channel.CreateBounded<(int, TOut)>(new BoundedChannelOptions(Math.Max(1, outputCapacity)) { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var take = new SemaphoreSlim(1, 1);
        IAsyncEnumerator<TIn> items = source.GetAsyncEnumerator(stop.Token);
        int next = -1;

        async Task Worker()
        {
            while (true)
            {
                TIn item;
                int index;
                await take.WaitAsync(stop.Token).ConfigureAwait(false);
                try
                {
                    if (!await items.MoveNextAsync().ConfigureAwait(false))
                    {
                        return;
                    }

                    item = items.Current;
                    index = ++next;
                }
                finally
                {
                    take.Release();
                }

                TOut result = await work(item, index, stop.Token).ConfigureAwait(false);
                await output.Writer.WriteAsync((index, result), stop.Token).ConfigureAwait(false);
            }
        }

        async Task RunAll()
        {
            Task[] workers = Enumerable.Range(0, parallel).Select(_ => Task.Run(Worker, CancellationToken.None)).ToArray();
            Exception? failure = null;
            while (workers.Length > 0)
            {
                Task finished = await Task.WhenAny(workers).ConfigureAwait(false);
                workers = workers.Where(w => w != finished).ToArray();
                if (finished.Exception is { } e && failure is null)
                {
                    failure = e.InnerExceptions.Count == 1 ? e.InnerExceptions[0] : e;
                    await stop.CancelAsync().ConfigureAwait(false);
                }
                else if (finished.IsCanceled && failure is null)
                {
                    failure = new OperationCanceledException(stop.Token);
                    await stop.CancelAsync().ConfigureAwait(false);
                }
            }

            output.Writer.TryComplete(failure);
        }

        Task all = RunAll();
        try
        {
            await foreach ((int, TOut) result in output.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return result;
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await all.ConfigureAwait(false);
            }
            finally
            {
                await items.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> over <paramref name="items"/>, yielding the results in the order of the items.</summary>
    public static async IAsyncEnumerable<TOut> InInputOrder<TIn, TOut>(
        IReadOnlyList<TIn> items,
        int parallel,
        Func<TIn, int, CancellationToken, Task<TOut>> work,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        await foreach (TOut result in Reorder(InCompletionOrder(ToAsync(items), Math.Min(parallel, Math.Max(items.Count, 1)), work, parallel, cancellationToken), cancellationToken).ConfigureAwait(false))
        {
            yield return result;
        }
    }

    /// <summary>Puts (index, result) pairs back into index order (0, 1, 2, ...), holding each until those before it came.</summary>
    public static async IAsyncEnumerable<TOut> Reorder<TOut>(IAsyncEnumerable<(int Index, TOut Result)> results, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(results);
        var held = new Dictionary<int, TOut>();
        int want = 0;
        await foreach ((int index, TOut result) in results.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            held[index] = result;
            while (held.Remove(want, out TOut? ready))
            {
                want++;
                yield return ready;
            }
        }
    }

    /// <summary>A list as an asynchronous stream.</summary>
    public static async IAsyncEnumerable<T> ToAsync<T>(IEnumerable<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (T item in items)
        {
            yield return item;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}
