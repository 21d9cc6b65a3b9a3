namespace AzBillingPS.Internal;

/// <summary>
/// Switches for the module's own tests and benchmarks (the model is PSResourceGet's InternalHooks), for example
/// <c>[AzBillingPS.Internal.InternalHooks]::SetTestHook('PacingScale', 0)</c> to turn off the client-side pacing of
/// Cost Management calls against the test fixture. Shipped code reads no environment variable for them; a hook holds
/// for the rest of the session. Not for production use.
/// </summary>
public static class InternalHooks
{
    /// <summary>Sets the engine's test hook <paramref name="name"/> (PacingScale, DbRetryScale, StorageRetryScale, ListPageSize) to <paramref name="value"/>.</summary>
    public static void SetTestHook(string name, object? value) => AzBillingPS.Engine.Common.InternalHooks.SetTestHook(name, value);
}
