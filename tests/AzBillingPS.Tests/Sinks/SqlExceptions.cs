using System;
using System.Linq;
using System.Reflection;
using Microsoft.Data.SqlClient;

namespace AzBillingPS.Tests.Sinks;

/// <summary>
/// SqlException has no public constructor: tests build one the way SqlClient does (SqlError, SqlErrorCollection,
/// SqlException.CreateException), through reflection on SqlClient's own internal members.
/// </summary>
internal static class SqlExceptions
{
    public static SqlException Create(int number, byte errorClass, string message, Exception? inner = null)
    {
        ConstructorInfo errorCtor = typeof(SqlError).GetConstructors(BindingFlags.Instance | BindingFlags.NonPublic)
            .OrderByDescending(c => c.GetParameters().Length)
            .First(c => c.GetParameters().Length >= 7 && c.GetParameters()[0].ParameterType == typeof(int));
        object?[] args = errorCtor.GetParameters().Select(p => p.Name switch
        {
            "infoNumber" => (object)number,
            "errorState" => (byte)1,
            "errorClass" => errorClass,
            "server" => "server",
            "errorMessage" => message,
            "procedure" => string.Empty,
            "lineNumber" => 0,
            "win32ErrorCode" => 0,
            "exception" => inner,
            "batchIndex" => -1,
            _ => p.HasDefaultValue ? p.DefaultValue : (p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : null),
        }).ToArray();
        var error = (SqlError)errorCtor.Invoke(args);
        var errors = (SqlErrorCollection)Activator.CreateInstance(typeof(SqlErrorCollection), nonPublic: true)!;
        typeof(SqlErrorCollection).GetMethod("Add", BindingFlags.Instance | BindingFlags.NonPublic)!.Invoke(errors, new object[] { error });
        // CreateException(SqlErrorCollection, string serverVersion, Guid conId, Exception innerException, SqlBatchCommand batchCommand)
        MethodInfo create = typeof(SqlException).GetMethods(BindingFlags.Static | BindingFlags.NonPublic)
            .Where(m => m.Name == "CreateException")
            .Where(m => m.GetParameters().Select(p => p.ParameterType).Take(4).SequenceEqual(new[] { typeof(SqlErrorCollection), typeof(string), typeof(Guid), typeof(Exception) }))
            .OrderBy(m => m.GetParameters().Length)
            .First();
        object?[] createArgs = create.GetParameters().Select((p, i) => i switch { 0 => (object?)errors, 1 => "16.0", 2 => Guid.Empty, 3 => inner, _ => null }).ToArray();
        return (SqlException)create.Invoke(null, createArgs)!;
    }
}
