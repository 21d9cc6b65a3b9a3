using System;
using System.Net.Http;
using System.Security.Authentication;
using System.Threading;

namespace AzBillingPS.Engine.Common;

/// <summary>
/// The one retry policy for calls to Azure (Cost Management and Storage): how many failed calls in a row are tolerated,
/// and how long to wait before each retry. The wait doubles from <see cref="BaseDelay"/> with each retry, with jitter
/// (half to all of it), is at least what the service asked for (Retry-After), and at most <see cref="MaxDelay"/>.
/// Client-chosen waits follow the policy's <see cref="Scale"/>, a test hook: the pacing scale
/// (<see cref="InternalHooks.PacingScale"/>) for Cost Management, the storage retry scale
/// (<see cref="InternalHooks.StorageRetryScale"/>) for blob downloads; a service's own Retry-After never does.
/// </summary>
internal sealed record RetryPolicy
{
    /// <summary>Blob downloads: 4 retries, 0.5 s doubling, at most 30 s, scaled by the storage retry scale.</summary>
    public static RetryPolicy Storage { get; } = new() { MaxRetries = 4, BaseDelay = TimeSpan.FromMilliseconds(500), MaxDelay = TimeSpan.FromSeconds(30), Scale = static () => InternalHooks.StorageRetryScale };

    /// <summary>Cost Management: 8 retries, 2 s doubling, at most a minute, paced.</summary>
    public static RetryPolicy CostManagement { get; } = new() { MaxRetries = 8, BaseDelay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromMinutes(1), Scale = static () => InternalHooks.PacingScale };

    /// <summary>How many failed calls in a row are retried before the operation fails.</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>The first wait; each retry doubles it.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest wait (a longer Retry-After is cut to this).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The test hook that scales client-chosen waits (read at each wait; 1 in production, and when none is given).</summary>
    public Func<double> Scale { get; init; } = static () => 1.0;

    /// <summary>True while <paramref name="retry"/> (1 for the first retry) is within <see cref="MaxRetries"/>.</summary>
    public bool Allows(int retry) => retry <= MaxRetries;

    /// <summary>The wait before retry <paramref name="retry"/> (1-based): jittered exponential back-off, at least <paramref name="retryAfter"/>, at most <see cref="MaxDelay"/>.</summary>
    public TimeSpan Delay(int retry, TimeSpan? retryAfter = null)
    {
        double ms = BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(Math.Max(retry, 1) - 1, 16));
        ms *= 0.5 + (Random.Shared.NextDouble() * 0.5);
        ms *= Scale();

        if (retryAfter is TimeSpan r && r.TotalMilliseconds > ms)
        {
            ms = r.TotalMilliseconds;
        }

        return TimeSpan.FromMilliseconds(Math.Min(ms, MaxDelay.TotalMilliseconds));
    }

    /// <summary>HTTP answers worth another try: 408, 429, 500, 502, 503, 504.</summary>
    public static bool IsTransientStatus(int status) => status is 408 or 429 or 500 or 502 or 503 or 504;

    /// <summary>
    /// A failed call worth another try: a dropped or refused connection, a timeout (not the caller's cancellation).
    /// A TLS failure is not: a certificate that does not check out will not on the next try either.
    /// </summary>
    public static bool IsTransient(Exception e, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (cancellation.IsCancellationRequested)
        {
            return false;
        }

        if (e is HttpRequestException h)
        {
            return h.HttpRequestError is not HttpRequestError.SecureConnectionError && h.InnerException is not AuthenticationException;
        }

        return e is System.IO.IOException or OperationCanceledException;
    }
}
