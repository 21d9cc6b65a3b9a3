using System;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;
using Xunit;

namespace AzBillingPS.Tests.Auth;

public class CloudEndpointsTests
{
    [Theory]
    [InlineData("AzurePublic", "https://login.microsoftonline.com/", "https://management.azure.com/", "https://management.azure.com/.default")]
    [InlineData("AzureUSGovernment", "https://login.microsoftonline.us/", "https://management.usgovcloudapi.net/", "https://management.usgovcloudapi.net/.default")]
    [InlineData("AzureChina", "https://login.chinacloudapi.cn/", "https://management.chinacloudapi.cn/", "https://management.chinacloudapi.cn/.default")]
    public void Names_the_endpoints_of_each_cloud(string name, string authority, string arm, string scope)
    {
        CloudEndpoints cloud = CloudEndpoints.Get(name);
        Assert.Equal(new Uri(authority), cloud.AuthorityHost);
        Assert.Equal(new Uri(arm), cloud.ResourceManagerUrl);
        Assert.Equal(scope, CloudEndpoints.DefaultScope(cloud.ResourceManagerUrl));
        Assert.True(CloudEndpoints.IsKnownAuthorityHost(cloud.AuthorityHost));
    }

    [Fact]
    public void Custom_hosts_are_not_known_and_unknown_names_are_invalid()
    {
        Assert.False(CloudEndpoints.IsKnownAuthorityHost(new Uri("https://127.0.0.1:5001/")));
        Assert.Equal(EngineErrorKind.InvalidArgument, Assert.Throws<EngineException>(() => CloudEndpoints.Get("AzureGermany")).Kind);
        Assert.Equal("https://127.0.0.1:5001/.default", CloudEndpoints.DefaultScope(new Uri("https://127.0.0.1:5001")));
    }

    [Theory]
    [InlineData("AADSTS90002", EngineErrorKind.NotFound)]
    [InlineData("AADSTS700016", EngineErrorKind.NotFound)]
    [InlineData("AADSTS7000215", EngineErrorKind.AuthenticationFailed)]
    [InlineData("AADSTS700027", EngineErrorKind.AuthenticationFailed)]
    [InlineData("AADSTS1002012", EngineErrorKind.InvalidArgument)]
    [InlineData("AADSTS7000112", EngineErrorKind.PermissionDenied)]
    public void Maps_entra_codes_to_kinds(string code, EngineErrorKind kind) => Assert.Equal(kind, AuthErrors.KindOf(code));

    [Fact]
    public void Provider_checks_input_before_any_network_call()
    {
        var noTenant = new TokenProviderOptions { Method = AuthMethod.ClientSecret, ClientId = "c" };
        Assert.Equal(EngineErrorKind.InvalidArgument, Assert.Throws<EngineException>(() => AccessTokenProvider.Create(noTenant)).Kind);
        var badTenant = new TokenProviderOptions { Method = AuthMethod.ClientSecret, TenantId = "a/../b", ClientId = "c" };
        Assert.Contains("not a valid TenantId", Assert.Throws<EngineException>(() => AccessTokenProvider.Create(badTenant)).Message, StringComparison.Ordinal);
        var http = new TokenProviderOptions { Method = AuthMethod.ClientSecret, TenantId = "t", ClientId = "c", AuthorityHost = new Uri("http://127.0.0.1/") };
        Assert.Contains("https", Assert.Throws<EngineException>(() => AccessTokenProvider.Create(http)).Message, StringComparison.Ordinal);
        var twoIds = new TokenProviderOptions { Method = AuthMethod.ManagedIdentity, ClientId = "c", ManagedIdentityObjectId = "o" };
        Assert.Contains("at most one", Assert.Throws<EngineException>(() => AccessTokenProvider.Create(twoIds)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Token_info_and_options_never_print_secrets()
    {
        var info = new AccessTokenInfo("eyJ.secret-token.sig", DateTimeOffset.UtcNow, false);
        Assert.DoesNotContain("secret-token", info.ToString(), StringComparison.Ordinal);
        var secret = new System.Security.SecureString();
        foreach (char ch in "hunter2")
        {
            secret.AppendChar(ch);
        }

        var options = new TokenProviderOptions { Method = AuthMethod.ClientSecret, TenantId = "t", ClientId = "c", ClientSecret = secret };
        Assert.DoesNotContain("hunter2", options.ToString(), StringComparison.Ordinal);
    }
}
