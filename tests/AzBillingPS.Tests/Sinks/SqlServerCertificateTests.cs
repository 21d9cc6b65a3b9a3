using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;
using Xunit;

namespace AzBillingPS.Tests.Sinks;

/// <summary>
/// SqlClient 4+ encrypts by default and checks the server's certificate, so the first connection to an on-premises
/// server with a self-signed certificate fails. Real SqlClient, real TLS, against <see cref="FakeTdsServer"/>.
/// </summary>
public class SqlServerCertificateTests
{
    private static async Task<EngineException> ConnectAsync(string connectionString)
        => await Assert.ThrowsAsync<EngineException>(() => CostSink.Create(new SinkTarget(DatabaseProvider.SqlServer, connectionString, "t", null)).OpenAsync(CancellationToken.None));

    [Theory]
    [InlineData("")] // Encrypt=Mandatory, SqlClient's default
    [InlineData("Encrypt=True;")]
    [InlineData("Encrypt=Strict;")] // TDS 8: TLS from the first byte
    public async Task An_untrusted_certificate_is_a_clear_error_that_says_what_to_do(string encrypt)
    {
        await using var server = new FakeTdsServer();
        EngineException e = await ConnectAsync($"Server=tcp:127.0.0.1,{server.Port};Database=Billing;User ID=loader;Password=Sup3rSecret;Connect Timeout=10;Pooling=false;{encrypt}");
        Assert.True(server.TlsAttempts > 0, "the handshake started");
        Assert.Equal(EngineErrorKind.DatabaseConnection, e.Kind);
        Assert.Contains("TLS certificate is not trusted", e.Message);
        Assert.Contains("Install the certificate", e.Message);
        Assert.Contains("TrustServerCertificate=True", e.Message);
        Assert.Contains("only on a network you trust", e.Message);
        Assert.Contains("127.0.0.1", e.Message);
        Assert.Matches("UntrustedRoot|not trusted|chain", e.Message[e.Message.IndexOf('(', System.StringComparison.Ordinal)..]); // the TLS layer's own words
        Assert.DoesNotContain("Sup3rSecret", e.Message);
    }

    [Fact]
    public async Task With_TrustServerCertificate_the_certificate_is_accepted_and_a_later_failure_is_not_blamed_on_it()
    {
        await using var server = new FakeTdsServer();
        EngineException e = await ConnectAsync($"Server=tcp:127.0.0.1,{server.Port};Database=Billing;User ID=loader;Password=Sup3rSecret;Connect Timeout=5;Pooling=false;TrustServerCertificate=True");
        Assert.Equal(EngineErrorKind.DatabaseConnection, e.Kind);
        Assert.DoesNotContain("certificate", e.Message, System.StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("Cannot connect to SQL Server tcp:127.0.0.1", e.Message, System.StringComparison.Ordinal);
    }
}
