using System;
using System.Collections.Generic;
using System.Linq;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Auth;

/// <summary>
/// The sign-in (authority) host and the Resource Manager endpoint of one Azure cloud.
/// </summary>
public sealed record CloudEndpoints(string Name, Uri AuthorityHost, Uri ResourceManagerUrl)
{
    public const string AzurePublic = "AzurePublic";
    public const string AzureUSGovernment = "AzureUSGovernment";
    public const string AzureChina = "AzureChina";

    /// <summary>The clouds the module knows by name.</summary>
    public static IReadOnlyList<CloudEndpoints> Known { get; } =
    [
        new(AzurePublic, new Uri("https://login.microsoftonline.com/"), new Uri("https://management.azure.com/")),
        new(AzureUSGovernment, new Uri("https://login.microsoftonline.us/"), new Uri("https://management.usgovcloudapi.net/")),
        new(AzureChina, new Uri("https://login.chinacloudapi.cn/"), new Uri("https://management.chinacloudapi.cn/")),
    ];

    // Hosts that Entra's instance discovery knows; MSAL keeps its normal authority validation for them.
    private static readonly HashSet<string> KnownAuthorityHosts = new(StringComparer.OrdinalIgnoreCase)
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login.usgovcloudapi.net",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    };

    /// <summary>The endpoints of a named cloud.</summary>
    public static CloudEndpoints Get(string name)
    {
        CloudEndpoints? cloud = Known.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));
        return cloud ?? throw new EngineException(
            EngineErrorKind.InvalidArgument,
            $"Unknown cloud '{name}'. Known clouds: {string.Join(", ", Known.Select(c => c.Name))}.");
    }

    /// <summary>True when Entra's instance discovery knows the host (a public or national cloud).</summary>
    public static bool IsKnownAuthorityHost(Uri authorityHost)
    {
        ArgumentNullException.ThrowIfNull(authorityHost);
        return KnownAuthorityHosts.Contains(authorityHost.Host);
    }

    /// <summary>The default scope for a resource: its URL without a trailing slash, plus <c>/.default</c>.</summary>
    public static string DefaultScope(Uri resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.AbsoluteUri.TrimEnd('/') + "/.default";
    }
}
