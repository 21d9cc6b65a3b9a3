using System;
using System.Net.Http;
using AzBillingPS.Engine.Common;
using Xunit;

namespace AzBillingPS.Tests.Common;

/// <summary>The one rule for where a bearer token may go (issue 10 §1).</summary>
public class TokenEndpointTests
{
    private static readonly TokenEndpoint Arm = TokenEndpoint.ResourceManager(new Uri("https://management.azure.com/"));
    private static readonly TokenEndpoint Local = TokenEndpoint.ResourceManager(new Uri("https://127.0.0.1:5001/"));
    private static readonly TokenEndpoint LocalHttp = TokenEndpoint.ResourceManager(new Uri("http://127.0.0.1:5002"));

    [Theory]
    [InlineData("https://management.azure.com/subscriptions/x/providers/Microsoft.CostManagement/costDetailsOperationResults/1?api-version=2025-03-01", true)]
    [InlineData("https://MANAGEMENT.AZURE.COM:443/subscriptions?api-version=2022-12-01", true)]
    [InlineData("http://management.azure.com/subscriptions", false)]
    [InlineData("https://management.azure.com:8443/subscriptions", false)]
    [InlineData("https://management.azure.com.evil.example/subscriptions", false)]
    [InlineData("https://evil.example/subscriptions", false)]
    [InlineData("https://management.azure.com@evil.example/", false)]
    [InlineData("https://user@management.azure.com/", false)]
    [InlineData("ftp://management.azure.com/", false)]
    public void Allows_only_the_exact_https_endpoint(string target, bool allowed)
        => Assert.Equal(allowed, Arm.Allows(new Uri(target)));

    [Theory]
    [InlineData("https://127.0.0.1:5001/x", true)]
    [InlineData("https://127.0.0.2:5001/x", false)]
    [InlineData("https://127.0.0.1:5003/x", false)]
    [InlineData("http://127.0.0.1:5001/x", false)]
    [InlineData("https://localhost:5001/x", false)]
    [InlineData("https://management.example@127.0.0.2:5001/", false)]
    public void A_loopback_endpoint_is_matched_exactly_too(string target, bool allowed)
        => Assert.Equal(allowed, Local.Allows(new Uri(target)));

    [Theory]
    [InlineData("http://127.0.0.1:5002/x", true)]
    [InlineData("https://127.0.0.1:5002/x", false)]
    [InlineData("http://127.0.0.2:5002/x", false)]
    public void A_loopback_http_endpoint_takes_http_to_itself_only(string target, bool allowed)
        => Assert.Equal(allowed, LocalHttp.Allows(new Uri(target)));

    [Theory]
    [InlineData("http://management.azure.com/")]
    [InlineData("http://10.0.0.1:8080/")]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("https://user:pw@management.azure.com/")]
    public void Endpoint_overrides_are_https_only_loopback_excepted(string endpoint)
    {
        var e = Assert.Throws<EngineException>(() => TokenEndpoint.RequireEndpoint(new Uri(endpoint), "-ResourceManagerUrl"));
        Assert.Equal(EngineErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("-ResourceManagerUrl", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pw", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5002/")]
    [InlineData("http://[::1]:5002/")]
    [InlineData("http://localhost:5002/")]
    [InlineData("https://management.usgovcloudapi.net/")]
    public void Loopback_http_and_any_https_endpoint_are_accepted(string endpoint)
        => Assert.Equal(new Uri(endpoint), TokenEndpoint.RequireEndpoint(new Uri(endpoint), "-ResourceManagerUrl"));

    [Fact]
    public void The_authority_host_takes_no_plain_http_even_on_loopback()
        => Assert.Equal(EngineErrorKind.InvalidArgument, Assert.Throws<EngineException>(() => TokenEndpoint.RequireEndpoint(new Uri("http://127.0.0.1:5002/"), "-AuthorityHost", allowLoopbackHttp: false)).Kind);

    [Fact]
    public void A_relative_link_is_resolved_against_the_request_and_then_checked()
    {
        var request = new Uri("https://management.azure.com/subscriptions/s/providers/Microsoft.CostManagement/generateCostDetailsReport?api-version=2025-03-01");
        Assert.Equal(
            new Uri("https://management.azure.com/subscriptions/s/providers/Microsoft.CostManagement/costDetailsOperationResults/op?api-version=2025-03-01"),
            Arm.Follow(request, "costDetailsOperationResults/op?api-version=2025-03-01", "the Location"));
        Assert.Equal(new Uri("https://management.azure.com/subscriptions?x=1"), Arm.Follow(request, new Uri("/subscriptions?x=1", UriKind.Relative), "the Location"));

        // A scheme-relative link leaves the host: refused.
        var e = Assert.Throws<EngineException>(() => Arm.Follow(request, "//evil.example/x", "The Location of a 202 answer"));
        Assert.Equal(EngineErrorKind.TokenHostRefused, e.Kind);
        Assert.Contains("evil.example", e.Message, StringComparison.Ordinal);
        Assert.StartsWith("The Location of a 202 answer points to https://evil.example:443", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Authorize_sets_no_token_on_a_refused_request()
    {
        using var refused = new HttpRequestMessage(HttpMethod.Get, "https://127.0.0.2:5001/x");
        refused.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "left-over");
        var e = Assert.Throws<EngineException>(() => Local.Authorize(refused, "secret-token", "The GET"));
        Assert.Equal(EngineErrorKind.TokenHostRefused, e.Kind);
        Assert.Null(refused.Headers.Authorization);
        Assert.DoesNotContain("secret-token", e.Message, StringComparison.Ordinal);

        using var allowed = new HttpRequestMessage(HttpMethod.Get, "https://127.0.0.1:5001/x");
        Local.Authorize(allowed, "secret-token", "The GET");
        Assert.Equal("Bearer secret-token", allowed.Headers.Authorization!.ToString());
    }

    [Fact]
    public void The_handler_never_follows_redirects_by_itself()
    {
        using var handler = TokenEndpoint.CreateHandler();
        Assert.False(handler.AllowAutoRedirect);
        Assert.False(handler.UseCookies);
    }

    [Fact]
    public void A_storage_or_database_endpoint_follows_the_same_rule()
    {
        TokenEndpoint storage = TokenEndpoint.For(new Uri("https://acct.blob.core.windows.net/"), "storage account", "-StorageAccountUrl");
        Assert.True(storage.Allows(new Uri("https://acct.blob.core.windows.net/c/b.csv")));
        Assert.False(storage.Allows(new Uri("https://other.blob.core.windows.net/c/b.csv")));

        TokenEndpoint database = TokenEndpoint.For(new Uri("https://sql01.database.windows.net:1433"), "database", "-ConnectionString");
        database.EnsureServer("sql01.database.windows.net", 1433, encrypted: true, "The connection");
        Assert.Equal(EngineErrorKind.TokenHostRefused, Assert.Throws<EngineException>(() => database.EnsureServer("sql01.database.windows.net", 1433, encrypted: false, "The connection")).Kind);
        Assert.Equal(EngineErrorKind.TokenHostRefused, Assert.Throws<EngineException>(() => database.EnsureServer("sql02.database.windows.net", 1433, encrypted: true, "The connection")).Kind);
    }
}
