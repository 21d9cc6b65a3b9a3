using System;
using System.IO;
using System.Linq;
using System.Reflection;
using AzBillingPS.Engine.Sinks;
using Npgsql;
using Xunit;

namespace AzBillingPS.Tests.Sinks;

/// <summary>Which failures retry a unit, and how long between tries (the live retry is tested by killing a session in Database.Tests.ps1 and SqlServer.Tests.ps1).</summary>
public class TransientRetryTests
{
    [Fact]
    public void Delays_grow_exponentially_within_half_and_one_and_a_half_times_and_stop_at_the_cap()
    {
        var policy = new TransientRetryPolicy(5, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromSeconds(1), policy.DelayFor(1, 0));
        Assert.Equal(TimeSpan.FromSeconds(3), policy.DelayFor(1, 1));
        Assert.Equal(TimeSpan.FromSeconds(8), policy.DelayFor(3, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(30), policy.DelayFor(5, 0.5)); // 32 s capped at 30
        Assert.Equal(TimeSpan.FromSeconds(45), policy.DelayFor(9, 1));
        for (int retry = 1; retry <= 5; retry++)
        {
            TimeSpan d = policy.DelayFor(retry);
            Assert.InRange(d, policy.DelayFor(retry, 0), policy.DelayFor(retry, 1));
        }

        Assert.Equal(5, TransientRetryPolicy.Default.MaxRetries);
    }

    [Fact]
    public void The_default_delays_are_scaled_by_the_DbRetryScale_test_hook_not_by_an_environment_variable()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), TransientRetryPolicy.Default.BaseDelay);
        Environment.SetEnvironmentVariable("AZBILLING_DB_RETRY_SCALE", "0.1");
        try
        {
            Assert.Equal(TimeSpan.FromSeconds(2), TransientRetryPolicy.Default.BaseDelay); // shipped code reads no environment variable
            AzBillingPS.Engine.Common.InternalHooks.SetTestHook("DbRetryScale", 0.1);
            Assert.Equal(TimeSpan.FromMilliseconds(200), TransientRetryPolicy.Default.BaseDelay);
            Assert.Equal(TimeSpan.FromSeconds(3), TransientRetryPolicy.Default.MaxDelay);
            Assert.Throws<ArgumentOutOfRangeException>(() => AzBillingPS.Engine.Common.InternalHooks.SetTestHook("DbRetryScale", -1.0));
        }
        finally
        {
            Environment.SetEnvironmentVariable("AZBILLING_DB_RETRY_SCALE", null);
            AzBillingPS.Engine.Common.InternalHooks.SetTestHook("DbRetryScale", 1.0);
        }
    }

    private static string? Reason(DatabaseProvider provider, Exception e, bool connected)
    {
        CostSink sink = CostSink.Create(new SinkTarget(provider, provider == DatabaseProvider.PostgreSql ? "Host=h;Database=d" : "Server=s;Database=d", "t", null));
        MethodInfo m = typeof(CostSink).GetMethod("TransientReason", BindingFlags.Instance | BindingFlags.NonPublic)!;
        return (string?)m.Invoke(sink, new object[] { e, connected });
    }

    [Theory]
    [InlineData("40001", true)]
    [InlineData("40P01", true)]
    [InlineData("57P01", true)]
    [InlineData("57P03", true)]
    [InlineData("08006", true)]
    [InlineData("53300", true)]
    [InlineData("55P03", false)] // lock_timeout: a lock timeout, not a retry
    [InlineData("23505", false)]
    [InlineData("42703", false)]
    public void PostgreSQL_states_that_retry(string state, bool transient)
    {
        var e = new PostgresException("message", "FATAL", "FATAL", state);
        Assert.Equal(transient, Reason(DatabaseProvider.PostgreSql, e, true) is not null);
        Assert.Equal(transient, Reason(DatabaseProvider.PostgreSql, new InvalidOperationException("wrapped", e), true) is not null);
    }

    [Fact]
    public void A_dropped_connection_retries_only_once_the_server_was_reached()
    {
        var dropped = new NpgsqlException("Exception while reading from stream", new EndOfStreamException());
        Assert.NotNull(Reason(DatabaseProvider.PostgreSql, dropped, connected: true));
        Assert.Null(Reason(DatabaseProvider.PostgreSql, dropped, connected: false)); // a wrong host fails at once
        Assert.NotNull(Reason(DatabaseProvider.SqlServer, new IOException("reset"), connected: true));
        Assert.Null(Reason(DatabaseProvider.SqlServer, new IOException("reset"), connected: false));
        Assert.NotNull(Reason(DatabaseProvider.SqlServer, new TransientDatabaseException("sp_getapplock chose this session as a deadlock victim"), connected: true));
        Assert.Null(Reason(DatabaseProvider.Sqlite, new IOException("x"), connected: true));
    }

    [Theory]
    [InlineData(40613, 16, false, true)]
    [InlineData(40501, 20, false, true)]
    [InlineData(49918, 16, false, true)]
    [InlineData(4060, 11, false, true)]
    [InlineData(10928, 20, false, true)]
    [InlineData(1205, 13, true, true)]
    [InlineData(596, 21, true, true)] // KILL: the session is in the kill state
    [InlineData(0, 20, true, true)] // a severe error: the connection is gone
    [InlineData(0, 20, false, false)] // ... on the first try: the server was never reached
    [InlineData(1222, 16, true, false)] // lock timeout
    [InlineData(2627, 14, true, false)] // a key violation
    [InlineData(18456, 14, false, false)] // login failed
    public void SQL_Server_errors_that_retry(int number, byte errorClass, bool connected, bool transient)
        => Assert.Equal(transient, Reason(DatabaseProvider.SqlServer, SqlExceptions.Create(number, errorClass, "message"), connected) is not null);

    [Fact]
    public void Sp_getapplock_results_are_told_apart_granted_timeout_deadlock_and_error()
    {
        Assert.Null(SqlServerSink.AppLockFailure(0, "s"));
        Assert.Null(SqlServerSink.AppLockFailure(1, "s")); // granted after waiting
        Assert.IsType<LockWaitTimedOutException>(SqlServerSink.AppLockFailure(-1, "s"));
        Exception deadlock = SqlServerSink.AppLockFailure(-3, "s")!;
        Assert.IsType<TransientDatabaseException>(deadlock);
        Assert.NotNull(Reason(DatabaseProvider.SqlServer, deadlock, connected: true)); // the unit is tried again
        foreach (int error in new[] { -2, -999 })
        {
            var e = Assert.IsType<AzBillingPS.Engine.Common.EngineException>(SqlServerSink.AppLockFailure(error, "SQL Server sql01/Billing"));
            Assert.Equal(AzBillingPS.Engine.Common.EngineErrorKind.DatabaseCommand, e.Kind);
            Assert.Contains($"sp_getapplock returned {error}", e.Message);
            Assert.Contains("sql01/Billing", e.Message);
            Assert.Null(Reason(DatabaseProvider.SqlServer, e, connected: true));
        }
    }

    [Fact]
    public void An_untrusted_certificate_is_never_retried()
        => Assert.Null(Reason(DatabaseProvider.SqlServer, SqlExceptions.Create(0, 20, "A connection was successfully established with the server, but then an error occurred during the pre-login handshake.", new System.Security.Authentication.AuthenticationException("The remote certificate was rejected by the provided RemoteCertificateValidationCallback.")), true));
}
