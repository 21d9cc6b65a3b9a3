using System.Data.Common;
using System.Reflection;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Tests.Sinks;

/// <summary>The connection a sink would open for a target, made without opening it (CostSink.CreateConnection).</summary>
internal static class SinkConnections
{
    public static DbConnection Create(SinkTarget target)
    {
        CostSink sink = CostSink.Create(target);
        MethodInfo create = typeof(CostSink).GetMethod("CreateConnection", BindingFlags.Instance | BindingFlags.NonPublic)!;
        try
        {
            return (DbConnection)create.Invoke(sink, null)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }
}
