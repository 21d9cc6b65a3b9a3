using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;
using Microsoft.Data.SqlClient;
using Xunit;

namespace AzBillingPS.Tests.Sync;

/// <summary>-UseTokenForDatabase: the SQL Server sink hands SqlClient a token callback, and refuses connection strings that sign in some other way.</summary>
public class SqlServerTokenTests
{
    private static DbConnection Create(SinkTarget target) => AzBillingPS.Tests.Sinks.SinkConnections.Create(target);

    [Fact]
    public async Task The_callback_returns_the_provider_token_with_its_expiry()
    {
        int calls = 0;
        var expires = DateTimeOffset.UtcNow.AddMinutes(42);
        var target = new SinkTarget(DatabaseProvider.SqlServer, "Server=tcp:example.invalid;Database=billing;Encrypt=true", "t", null)
        {
            AccessToken = _ =>
            {
                Interlocked.Increment(ref calls);
                return Task.FromResult(new AccessTokenInfo("token-" + calls, expires, false));
            },
        };
        using var connection = (SqlConnection)Create(target);
        Assert.NotNull(connection.AccessTokenCallback);
        SqlAuthenticationToken first = await connection.AccessTokenCallback!(null!, CancellationToken.None); // the sink asks its provider whatever the parameters
        SqlAuthenticationToken second = await connection.AccessTokenCallback!(null!, CancellationToken.None); // the sink asks its provider whatever the parameters
        Assert.Equal("token-1", first.AccessToken);
        Assert.Equal("token-2", second.AccessToken); // asked again each time: a long job gets fresh tokens
        Assert.Equal(expires, first.ExpiresOn);
    }

    [Fact]
    public void Without_a_token_provider_the_connection_string_signs_in()
    {
        using var connection = (SqlConnection)Create(new SinkTarget(DatabaseProvider.SqlServer, "Server=sql01;Database=billing;Integrated Security=true", "t", null));
        Assert.Null(connection.AccessTokenCallback);
    }

    [Theory]
    [InlineData("Server=sql01;Database=billing;Integrated Security=true")]
    [InlineData("Server=sql01;Database=billing;User ID=loader;Password=secret-value")]
    [InlineData("Server=sql01;Database=billing;Authentication=ActiveDirectoryManagedIdentity")]
    public async Task A_connection_string_that_signs_in_otherwise_is_refused_without_showing_it(string connectionString)
    {
        var target = new SinkTarget(DatabaseProvider.SqlServer, connectionString, "t", null)
        {
            AccessToken = _ => Task.FromResult(new AccessTokenInfo("x", DateTimeOffset.UtcNow.AddHours(1), false)),
        };
        var e = await Assert.ThrowsAsync<EngineException>(() => CostSink.Create(target).OpenAsync(CancellationToken.None));
        Assert.Equal(EngineErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("Entra token sign-in", e.Message);
        Assert.DoesNotContain("secret-value", e.Message);
    }
}
