using System;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Sinks;

/// <summary>
/// How often and how long a unit is tried again after a transient database failure (an Azure SQL failover or throttling,
/// a deadlock, a dropped connection): bounded, with exponential back-off and jitter. A unit's delete, insert and state row
/// are one transaction, so trying the whole unit again is safe; the retry always starts from a new connection, never
/// inside an open transaction.
/// </summary>
public sealed class TransientRetryPolicy
{
    public TransientRetryPolicy(int maxRetries, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetries);
        MaxRetries = maxRetries;
        BaseDelay = baseDelay;
        MaxDelay = maxDelay;
    }

    /// <summary>
    /// Five retries after 2, 4, 8, 16 and 30 seconds (each between half and one and a half times that): about a minute in
    /// all, which covers an Azure SQL reconfiguration or failover. The test hook DbRetryScale (<see cref="InternalHooks"/>)
    /// scales the delays (the tests use 0.1).
    /// </summary>
    public static TransientRetryPolicy Default => new(5, TimeSpan.FromSeconds(2) * InternalHooks.DbRetryScale, TimeSpan.FromSeconds(30) * InternalHooks.DbRetryScale);

    public int MaxRetries { get; }

    public TimeSpan BaseDelay { get; }

    public TimeSpan MaxDelay { get; }

    /// <summary>The wait before retry number <paramref name="retry"/> (1-based), for a jitter in [0, 1).</summary>
    public TimeSpan DelayFor(int retry, double jitter)
    {
        double exponential = BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Max(0, retry - 1));
        double capped = Math.Min(exponential, MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + Math.Clamp(jitter, 0, 1)));
    }

    /// <summary>The wait before retry number <paramref name="retry"/>, with a random jitter.</summary>
    public TimeSpan DelayFor(int retry) => DelayFor(retry, RandomNumberGenerator.GetInt32(0, 1_000_000) / 1_000_000.0);
}

/// <summary>A failure that the module knows to be transient although the database did not say so (sp_getapplock's deadlock result).</summary>
public sealed class TransientDatabaseException : Exception
{
    public TransientDatabaseException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>Thrown inside an attempt when another session changed the table's columns after this load checked them: the attempt starts again.</summary>
internal sealed class TableChangedException : Exception
{
    public TableChangedException(string message)
        : base(message)
    {
    }
}
