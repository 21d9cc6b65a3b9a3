using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.CostDetails;

/// <summary>
/// Client-side pacing, shared by every caller in the process (one PowerShell session): each key (a scope, an
/// operation, a tenant's subscription calls) gets evenly spaced slots at its rate, so a large job stays under the
/// published limits instead of living on 429s. A caller reserves the next free slot for every key it names, then
/// waits until the latest of them. The pacing scale (<see cref="InternalHooks.PacingScale"/>, a test hook) multiplies
/// every interval (1 in production; 0 turns pacing off, for emulators and tests).
/// </summary>
internal sealed class RequestPacer
{
    private readonly object _gate = new();
    private readonly Dictionary<string, DateTimeOffset> _next = new(StringComparer.Ordinal);

    public static RequestPacer Shared { get; } = new();

    /// <summary>The multiplier for client-chosen waits (pacing, default Retry-After, back-off); never for a service's own Retry-After.</summary>
    public static double Scale => InternalHooks.PacingScale;

    /// <summary>Scales a client-chosen wait by <see cref="Scale"/>.</summary>
    public static TimeSpan Scaled(TimeSpan wait) => TimeSpan.FromTicks((long)(wait.Ticks * Scale));

    /// <summary>Reserves one call on each (key, calls-per-minute) and returns how long the caller must wait first.</summary>
    public TimeSpan Reserve(IEnumerable<(string Key, double PerMinute)> limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        double scale = Scale;
        DateTimeOffset now = DateTimeOffset.UtcNow;
        if (scale == 0)
        {
            return TimeSpan.Zero;
        }

        lock (_gate)
        {
            DateTimeOffset slot = now;
            var keys = new List<(string, TimeSpan)>();
            foreach ((string key, double perMinute) in limits)
            {
                TimeSpan interval = TimeSpan.FromSeconds(60.0 / perMinute * scale);
                keys.Add((key, interval));
                if (_next.TryGetValue(key, out DateTimeOffset next) && next > slot)
                {
                    slot = next;
                }
            }

            foreach ((string key, TimeSpan interval) in keys)
            {
                _next[key] = slot + interval;
            }

            return slot - now;
        }
    }

    /// <summary>Waits for a slot on every key; returns the time waited.</summary>
    public async Task<TimeSpan> WaitAsync(IEnumerable<(string Key, double PerMinute)> limits, CancellationToken cancellationToken)
    {
        TimeSpan wait = Reserve(limits);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }

        return wait;
    }
}
