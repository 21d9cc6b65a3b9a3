using System;
using System.Globalization;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;

namespace AzBillingPS;

/// <summary>
/// Who we are in Azure: tenant, client, cloud, endpoints, scope and expiry. Written by Get-AzBillingToken and taken
/// from the pipeline by the later cmdlets, which get a fresh access token from it whenever fewer than five minutes
/// remain (MSAL's in-memory cache is shared within the session). The raw token is only exposed on request, through
/// <see cref="GetAccessToken"/> or <see cref="GetAccessTokenAsSecureString"/>; no property, view or
/// <see cref="ToString"/> shows it.
/// </summary>
public sealed class AzBillingToken
{
    internal AzBillingToken(AccessTokenProvider provider, string cloud, AzBillingAuthMethod authMethod)
    {
        Provider = provider;
        Cloud = cloud;
        AuthMethod = authMethod;
    }

    /// <summary>The directory (tenant) id or domain.</summary>
    public string? TenantId => Provider.TenantId;

    /// <summary>The application (client) id, or the managed identity's client id.</summary>
    public string? ClientId => Provider.ClientId;

    /// <summary>The person signed in (device code and browser sign-in), for example ana@contoso.com.</summary>
    public string? UserName => Provider.UserName;

    /// <summary>AzurePublic, AzureUSGovernment, AzureChina, or Custom when -AuthorityHost/-ResourceManagerUrl moved an endpoint.</summary>
    public string Cloud { get; }

    /// <summary>The Entra ID sign-in host.</summary>
    public Uri AuthorityHost => Provider.AuthorityHost;

    /// <summary>The Resource Manager endpoint the Cost Management calls go to.</summary>
    public Uri ResourceManagerUrl => Provider.ResourceManagerUrl;

    /// <summary>The scope the token is for, for example https://management.azure.com/.default.</summary>
    public string Scope => Provider.Scope;

    public AzBillingAuthMethod AuthMethod { get; }

    /// <summary>The SHA-1 thumbprint of the sign-in certificate (certificate sign-in only).</summary>
    public string? CertificateThumbprint => Provider.CertificateThumbprint;

    /// <summary>When the current access token expires (UTC); it is renewed when fewer than five minutes remain.</summary>
    public DateTimeOffset ExpiresOn => Provider.ExpiresOn ?? DateTimeOffset.MinValue;

    /// <summary>The engine's token source, for the cmdlets of this module.</summary>
    internal AccessTokenProvider Provider { get; }

    private Func<CancellationToken, Task<AccessTokenInfo>>? _sqlToken;
    private Func<CancellationToken, Task<AccessTokenInfo>>? _postgreSqlToken;

    /// <summary>
    /// The token source a database target uses: this token when it is already for the database's resource (Azure SQL's,
    /// or Azure Database for PostgreSQL's), otherwise the same identity for that resource in this token's cloud. One
    /// source per token and kind, kept, so repeated commands share SqlClient's and Npgsql's connection pools.
    /// </summary>
    internal Func<CancellationToken, Task<AccessTokenInfo>> DatabaseTokenSource(bool postgreSql)
    {
        ref Func<CancellationToken, Task<AccessTokenInfo>>? slot = ref postgreSql ? ref _postgreSqlToken : ref _sqlToken;
        if (slot is null)
        {
            AccessTokenProvider database = DatabaseProvider(postgreSql);
            Interlocked.CompareExchange(ref slot, ct => database.GetTokenAsync(ct), null);
        }

        return slot;
    }

    /// <summary>The provider of <see cref="DatabaseTokenSource"/>: this one, or the same identity with the database scope of this token's cloud.</summary>
    internal AccessTokenProvider DatabaseProvider(bool postgreSql)
        => CloudEndpoints.IsDatabaseScope(Provider.Scope, postgreSql) ? Provider : Provider.ForScope(Provider.CloudTable.DatabaseScope(postgreSql));

    /// <summary>A current access token for the later cmdlets (renewed when fewer than five minutes remain).</summary>
    internal Task<AccessTokenInfo> GetTokenAsync(IEngineLog? log, CancellationToken cancellationToken)
        => Provider.GetTokenAsync(log, cancellationToken);

    /// <summary>The raw bearer token (renewed first when fewer than five minutes remain). Treat it as a secret.</summary>
    public string GetAccessToken() => Internal.PipelineHost.Run(() => Provider.GetTokenAsync(CancellationToken.None)).Token;

    /// <summary>The bearer token as a read-only SecureString (renewed first when fewer than five minutes remain).</summary>
    public SecureString GetAccessTokenAsSecureString() => ToSecureString(GetAccessToken());

    internal static SecureString ToSecureString(string value) => AccessTokenProvider.Protect(value);

    public override string ToString()
        => string.Create(
            CultureInfo.InvariantCulture,
            $"AzBillingToken: {AuthMethod} sign-in as {ClientId ?? "(unknown client)"} in tenant {TenantId ?? "(unknown tenant)"} ({Cloud}) for {Scope}, expires {ExpiresOn:u}");
}
