using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.CostDetails;

/// <summary>
/// One published limit on a key (a scope, an operation, a tenant's subscription calls, a billing account, a client
/// application): at most <see cref="Calls"/> calls in any <see cref="Window"/>. A per-minute rate is one call per
/// (60 / rate) seconds, evenly spaced (<see cref="PerMinute"/>); hourly and daily quotas are windows of several calls.
/// </summary>
internal readonly record struct PaceLimit(string Key, int Calls, TimeSpan Window)
{
    /// <summary><paramref name="perMinute"/> calls a minute on <paramref name="key"/>, evenly spaced.</summary>
    public static PaceLimit PerMinute(string key, double perMinute) => new(key, 1, TimeSpan.FromSeconds(60.0 / perMinute));
}

/// <summary>
/// Client-side pacing, shared by every caller in the process (one PowerShell session), so a large job stays under the
/// published limits instead of living on 429s. A caller reserves the earliest time every key it names allows (each key
/// remembers the calls reserved on it: the next may go once the window since the <c>Calls</c>-th latest has passed, and
/// never before the latest), then waits until then. <see cref="Peek"/> tells when that would be without reserving
/// anything, so a scheduler can start work only when it can go now. The pacing scale (<see cref="InternalHooks.PacingScale"/>,
/// a test hook) multiplies every window (1 in production; 0 turns pacing off, for emulators and tests).
/// </summary>
internal sealed class RequestPacer
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Queue<DateTimeOffset>> _calls = new(StringComparer.Ordinal);
    private readonly Func<DateTimeOffset> _clock;

    public RequestPacer(Func<DateTimeOffset>? clock = null)
    {
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
    }

    public static RequestPacer Shared { get; } = new();

    /// <summary>The multiplier for client-chosen waits (pacing, default Retry-After, back-off); never for a service's own Retry-After.</summary>
    public static double Scale => InternalHooks.PacingScale;

    /// <summary>Scales a client-chosen wait by <see cref="Scale"/>.</summary>
    public static TimeSpan Scaled(TimeSpan wait) => TimeSpan.FromTicks((long)(wait.Ticks * Scale));

    /// <summary>How long a call on <paramref name="limits"/> would have to wait now; nothing is reserved.</summary>
    public TimeSpan Peek(IEnumerable<PaceLimit> limits) => Take(limits, reserve: false);

    /// <summary>Reserves one call on every limit and returns how long the caller must wait first.</summary>
    public TimeSpan Reserve(IEnumerable<PaceLimit> limits) => Take(limits, reserve: true);

    /// <summary>Waits for a slot on every limit; returns the time waited.</summary>
    public async Task<TimeSpan> WaitAsync(IEnumerable<PaceLimit> limits, CancellationToken cancellationToken)
    {
        TimeSpan wait = Reserve(limits);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }

        return wait;
    }

    /// <summary>The wait before the next call on <paramref name="limits"/>, reserving that call on each when <paramref name="reserve"/>.</summary>
    private TimeSpan Take(IEnumerable<PaceLimit> limits, bool reserve)
    {
        ArgumentNullException.ThrowIfNull(limits);
        double scale = Scale;
        if (scale == 0)
        {
            return TimeSpan.Zero;
        }

        DateTimeOffset now = _clock();
        lock (_gate)
        {
            var list = new List<PaceLimit>(limits);
            DateTimeOffset slot = Earliest(list, now, scale);
            if (reserve)
            {
                foreach (PaceLimit limit in list)
                {
                    if (!_calls.TryGetValue(limit.Key, out Queue<DateTimeOffset>? times))
                    {
                        times = new Queue<DateTimeOffset>();
                        _calls[limit.Key] = times;
                    }

                    times.Enqueue(slot);
                    while (times.Count > Math.Max(1, limit.Calls))
                    {
                        times.Dequeue();
                    }
                }
            }

            return slot - now;
        }
    }

    /// <summary>The earliest time (not before <paramref name="now"/>) every limit allows one more call. Under the lock.</summary>
    private DateTimeOffset Earliest(IEnumerable<PaceLimit> limits, DateTimeOffset now, double scale)
    {
        DateTimeOffset slot = now;
        foreach (PaceLimit limit in limits)
        {
            if (!_calls.TryGetValue(limit.Key, out Queue<DateTimeOffset>? times) || times.Count == 0)
            {
                continue;
            }

            var window = TimeSpan.FromTicks((long)(limit.Window.Ticks * scale));
            int calls = Math.Max(1, limit.Calls);
            DateTimeOffset latest = default;
            DateTimeOffset nth = default;
            int i = 0;
            foreach (DateTimeOffset t in times)
            {
                // The queue holds at most `calls` times, oldest first: the first is the calls-th latest when it is full.
                if (i == 0)
                {
                    nth = t;
                }

                latest = t;
                i++;
            }

            DateTimeOffset allowed = calls == 1 ? latest + window : (i >= calls ? Max(nth + window, latest) : latest);
            slot = Max(slot, allowed);
        }

        return slot;
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
