using System;
using System.Globalization;
using System.Reflection;

namespace AzBillingPS.Engine.Common;

/// <summary>
/// Switches for tests and benchmarks, set through <see cref="SetTestHook"/> (the model is PSResourceGet's
/// InternalHooks): shipped code reads these fields, never an environment variable. Each hook keeps its production value
/// until a test sets it, for the life of the process.
/// </summary>
public static class InternalHooks
{
    /// <summary>
    /// Multiplies every client-chosen wait of the Cost Management client (pacing, the default poll interval, back-off):
    /// 1 in production, 0 turns them off (emulators and tests), 0.05 makes the published limits 20 times faster.
    /// </summary>
    internal static double PacingScale = 1.0;

    /// <summary>
    /// Multiplies the waits between tries of a database load after a transient failure (<see cref="AzBillingPS.Engine.Sinks.TransientRetryPolicy.Default"/>):
    /// 1 in production; the tests that kill a session mid-load use 0.1.
    /// </summary>
    internal static double DbRetryScale = 1.0;

    /// <summary>
    /// Multiplies the client-chosen waits between tries of a blob download (<see cref="RetryPolicy.Storage"/>'s back-off; a
    /// service's Retry-After is never scaled): 1 in production; the fault-proxy tests use 0.1.
    /// </summary>
    internal static double StorageRetryScale = 1.0;

    /// <summary>
    /// The maxresults of each List Blobs request an export container is listed with (<see cref="AzBillingPS.Engine.Exports.BlobContainerStore"/>):
    /// 5,000 in production (the service's largest page); the paging tests use 2 so a small container spans many pages.
    /// </summary>
    internal static int ListPageSize = 5000;

    /// <summary>Sets the hook named <paramref name="name"/> (a field of this class, for example PacingScale) to <paramref name="value"/>.</summary>
    public static void SetTestHook(string name, object? value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        FieldInfo field = typeof(InternalHooks).GetField(name, BindingFlags.Static | BindingFlags.NonPublic)
            ?? throw new ArgumentException($"There is no test hook named '{name}'.", nameof(name));
        object? converted = value is null ? null : Convert.ChangeType(value, field.FieldType, CultureInfo.InvariantCulture);
        if (field.FieldType == typeof(double) && converted is double d && (d < 0 || double.IsNaN(d) || double.IsInfinity(d)))
        {
            throw new ArgumentOutOfRangeException(nameof(value), "A scale is 0 or more.");
        }

        if (field.FieldType == typeof(int) && converted is int n && (n < 1 || n > 5000))
        {
            throw new ArgumentOutOfRangeException(nameof(value), "A page size is 1 to 5,000 (List Blobs returns at most 5,000 items a page).");
        }

        field.SetValue(null, converted);
    }
}
