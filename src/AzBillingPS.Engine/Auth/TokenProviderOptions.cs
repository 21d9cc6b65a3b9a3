using System;
using System.Security;
using System.Security.Cryptography.X509Certificates;

namespace AzBillingPS.Engine.Auth;

/// <summary>How the module signs in.</summary>
public enum AuthMethod
{
    Certificate = 0,
    ClientSecret,
    ManagedIdentity,
    FederatedToken,
}

/// <summary>What <see cref="AccessTokenProvider.Create"/> needs. Secrets are SecureStrings and never logged.</summary>
public sealed record TokenProviderOptions
{
    public AuthMethod Method { get; init; }

    /// <summary>Directory (tenant) id or domain; required except for managed identity.</summary>
    public string? TenantId { get; init; }

    /// <summary>Application (client) id; for managed identity, the user-assigned identity's client id.</summary>
    public string? ClientId { get; init; }

    /// <summary>The cloud's name (for display); endpoints come from <see cref="AuthorityHost"/> and <see cref="ResourceManagerUrl"/>.</summary>
    public string Cloud { get; init; } = CloudEndpoints.AzurePublic;

    /// <summary>The named cloud whose table applies where no endpoint says otherwise (the database audiences): AzurePublic, AzureUSGovernment or AzureChina, even when <see cref="Cloud"/> is Custom.</summary>
    public string CloudTable { get; init; } = CloudEndpoints.AzurePublic;

    public Uri AuthorityHost { get; init; } = CloudEndpoints.Get(CloudEndpoints.AzurePublic).AuthorityHost;

    public Uri ResourceManagerUrl { get; init; } = CloudEndpoints.Get(CloudEndpoints.AzurePublic).ResourceManagerUrl;

    /// <summary>The scope to request; defaults to <c>&lt;ResourceManagerUrl&gt;/.default</c>.</summary>
    public string? Scope { get; init; }

    /// <summary>A certificate with its private key (Certificate method).</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Where the certificate came from, for messages (a path, "thumbprint ..." or "object").</summary>
    public string? CertificateSource { get; init; }

    /// <summary>Send the certificate (x5c) with the assertion, for subject-name/issuer app registrations.</summary>
    public bool SendX5c { get; init; }

    public SecureString? ClientSecret { get; init; }

    /// <summary>User-assigned managed identity by Azure resource id.</summary>
    public string? ManagedIdentityResourceId { get; init; }

    /// <summary>User-assigned managed identity by object (principal) id.</summary>
    public string? ManagedIdentityObjectId { get; init; }

    /// <summary>A file holding the federated token (workload identity); read again for every assertion.</summary>
    public string? FederatedTokenFile { get; init; }

    /// <summary>Names the method and identity only: never the secret or certificate.</summary>
    public override string ToString() => $"TokenProviderOptions {{ Method = {Method}, TenantId = {TenantId}, ClientId = {ClientId}, Cloud = {Cloud} }}";
}
