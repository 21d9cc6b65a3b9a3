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

    /// <summary>Azure SQL Database's (and Managed Instance's) Entra resource in this cloud: the audience of its tokens.</summary>
    public Uri SqlDatabaseResource => Name switch
    {
        AzureUSGovernment => new Uri("https://database.usgovcloudapi.net/"),
        AzureChina => new Uri("https://database.chinacloudapi.cn/"),
        _ => new Uri("https://database.windows.net/"),
    };

    /// <summary>Azure Database for PostgreSQL's Entra resource in this cloud (the token is sent as the password).</summary>
    public Uri PostgreSqlResource => Name switch
    {
        AzureUSGovernment => new Uri("https://ossrdbms-aad.database.usgovcloudapi.net/"),
        AzureChina => new Uri("https://ossrdbms-aad.database.chinacloudapi.cn/"),
        _ => new Uri("https://ossrdbms-aad.database.windows.net/"),
    };

    /// <summary>The scope of a token for a database of this cloud (SQL Server / Azure SQL, or PostgreSQL).</summary>
    public string DatabaseScope(bool postgreSql) => DefaultScope(postgreSql ? PostgreSqlResource : SqlDatabaseResource);

    /// <summary>True when <paramref name="scope"/> is a database scope of any known cloud (SQL or PostgreSQL as asked).</summary>
    public static bool IsDatabaseScope(string? scope, bool postgreSql)
        => scope is not null && Known.Any(c => string.Equals(c.DatabaseScope(postgreSql), scope.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The cloud an Entra sign-in host belongs to (login.windows.net and sts.windows.net are the public cloud's older
    /// names, as Azure SQL's FEDAUTHINFO gives them); null for a host the module does not know.
    /// </summary>
    public static CloudEndpoints? ForAuthorityHost(string host) => host?.ToLowerInvariant() switch
    {
        "login.microsoftonline.com" or "login.microsoft.com" or "login.windows.net" or "sts.windows.net" => Get(AzurePublic),
        "login.microsoftonline.us" or "login.usgovcloudapi.net" => Get(AzureUSGovernment),
        "login.chinacloudapi.cn" or "login.partner.microsoftonline.cn" => Get(AzureChina),
        _ => null,
    };

    /// <summary>The cloud whose database resource <paramref name="resource"/> is (trailing slashes ignored); null for any other resource.</summary>
    public static CloudEndpoints? ForDatabaseResource(string? resource, out bool postgreSql)
    {
        postgreSql = false;
        if (string.IsNullOrWhiteSpace(resource))
        {
            return null;
        }

        string r = resource.Trim().TrimEnd('/');
        foreach (CloudEndpoints c in Known)
        {
            if (string.Equals(c.SqlDatabaseResource.AbsoluteUri.TrimEnd('/'), r, StringComparison.OrdinalIgnoreCase))
            {
                return c;
            }

            if (string.Equals(c.PostgreSqlResource.AbsoluteUri.TrimEnd('/'), r, StringComparison.OrdinalIgnoreCase))
            {
                postgreSql = true;
                return c;
            }
        }

        return null;
    }

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
