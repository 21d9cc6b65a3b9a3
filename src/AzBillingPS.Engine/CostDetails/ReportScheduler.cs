using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace AzBillingPS.Engine.CostDetails;

/// <summary>
/// Starts report requests as fast as the source's pacing allows, not a fixed number at a time: Azure takes minutes to
/// generate a report, and a slot held while it does wastes the run. A request starts when the source says its first
/// call could go now (<see cref="ICostReportSource.NextRequestIn"/>, nothing reserved ahead, so polls of the reports
/// already in flight keep their turn); among the items still to start, the first of each scope in the items' order is
/// a candidate (a scope's own limit holds back only that scope). Every request in flight waits for its report on its
/// own (polls are paced too). Finished items come out as they finish; when <c>maxReady</c> of them wait for the reader
/// (the next stage has no free slot), no new request starts until one is taken, so finished reports do not pile up
/// while their links age. The work is expected to turn a failed report into its result; an exception (cancellation
/// included) stops every request and ends the stream with it.
/// </summary>
internal static class ReportScheduler
{
    /// <summary>The longest the dispatcher sleeps before it asks the pacing again (another run in the process may have changed it).</summary>
    private static readonly TimeSpan MaxNap = TimeSpan.FromSeconds(5);

    public static async IAsyncEnumerable<(int Index, TOut Result)> RunAsync<TIn, TOut>(
        IReadOnlyList<TIn> items,
        Func<TIn, CostReportRequest> requestOf,
        ICostReportSource source,
        Func<TIn, int, CancellationToken, Task<TOut>> work,
        int maxReady,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(requestOf);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(work);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxReady, 1);
        var ready = Channel.CreateUnbounded<(int, TOut)>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var taken = new Signal();
        Exception? failure = null;

        // Items still to start, by scope (in the order scopes first appear), each scope's in the items' order.
        var byScope = new List<(string Scope, Queue<(TIn Item, int Index, CostReportRequest Request)> Items)>();
        foreach ((TIn item, int index) in items.Select((x, i) => (x, i)))
        {
            CostReportRequest request = requestOf(item);
            int at = byScope.FindIndex(s => string.Equals(s.Scope, request.Scope, StringComparison.OrdinalIgnoreCase));
            if (at < 0)
            {
                byScope.Add((request.Scope, new Queue<(TIn, int, CostReportRequest)>()));
                at = byScope.Count - 1;
            }

            byScope[at].Items.Enqueue((item, index, request));
        }

        void Fail(Exception e)
        {
            Interlocked.CompareExchange(ref failure, e, null);
            stop.Cancel();
        }

        // One request in flight: never throws; its failure (a bug or cancellation: the work handles report errors) stops the rest.
        async Task RunOne(TIn item, int index)
        {
            try
            {
                TOut result = await work(item, index, stop.Token).ConfigureAwait(false);
                ready.Writer.TryWrite((index, result));
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        async Task Dispatch()
        {
            var running = new List<Task>();
            try
            {
                while (byScope.Count > 0)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    if (ready.Reader.Count >= maxReady)
                    {
                        await taken.Next.WaitAsync(stop.Token).ConfigureAwait(false);
                        continue;
                    }

                    TimeSpan soonest = TimeSpan.MaxValue;
                    int next = -1;
                    for (int s = 0; s < byScope.Count; s++)
                    {
                        TimeSpan wait = source.NextRequestIn(byScope[s].Items.Peek().Request);
                        if (wait <= TimeSpan.Zero)
                        {
                            next = s;
                            break;
                        }

                        soonest = wait < soonest ? wait : soonest;
                    }

                    if (next < 0)
                    {
                        await Task.Delay(soonest < MaxNap ? soonest : MaxNap, stop.Token).ConfigureAwait(false);
                        continue;
                    }

                    (TIn item, int index, _) = byScope[next].Items.Dequeue();
                    if (byScope[next].Items.Count == 0)
                    {
                        byScope.RemoveAt(next);
                    }

                    running.Add(RunOne(item, index));
                    running.RemoveAll(t => t.IsCompleted);
                }
            }
            catch (Exception e)
            {
                Fail(e);
            }

            await Task.WhenAll(running).ConfigureAwait(false);
            Exception? end = Volatile.Read(ref failure);
            ready.Writer.TryComplete(end is OperationCanceledException && cancellationToken.IsCancellationRequested ? new OperationCanceledException(cancellationToken) : end);
        }

        Task dispatch = Dispatch();
        try
        {
            await foreach ((int, TOut) result in ready.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                taken.Set();
                yield return result;
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await dispatch.ConfigureAwait(false);
        }
    }

    /// <summary>Wakes the dispatcher when the reader takes an item: <see cref="Next"/> completes at the next <see cref="Set"/>.</summary>
    private sealed class Signal
    {
        private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Next => Volatile.Read(ref _next).Task;

        public void Set() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}
