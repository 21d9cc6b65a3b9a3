using System;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;

namespace AzBillingPS.Engine.Auth;

/// <summary>How the module signs in.</summary>
public enum AuthMethod
{
    Certificate = 0,
    ClientSecret,
    ManagedIdentity,
    FederatedToken,

    /// <summary>A person, through MSAL's device code flow (a code to enter in a browser on any device).</summary>
    DeviceCode,

    /// <summary>A person, through MSAL's system-browser flow on this machine.</summary>
    Interactive,

    /// <summary>The signed-in Az PowerShell session (Get-AzAccessToken), asked again to renew.</summary>
    AzContext,

    /// <summary>The signed-in Azure CLI (az account get-access-token), asked again to renew.</summary>
    AzureCli,
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

    /// <summary>
    /// Device code sign-in: shows the code and the address to the person (the one place the code may appear). Called on
    /// MSAL's thread; the cmdlet layer marshals it to the pipeline thread.
    /// </summary>
    public Func<DeviceCodePrompt, CancellationToken, Task>? ShowDeviceCode { get; init; }

    /// <summary>Az PowerShell sign-in: gets a token from the session (the cmdlet layer runs Get-AzAccessToken on its pipeline thread).</summary>
    public Func<ExternalTokenRequest, CancellationToken, Task<ExternalToken>>? ExternalSource { get; init; }

    /// <summary>Interactive sign-in: the command runs in a remote PowerShell session, where no browser can be opened for the person.</summary>
    public bool RemoteSession { get; init; }

    /// <summary>Names the method and identity only: never the secret or certificate.</summary>
    public override string ToString() => $"TokenProviderOptions {{ Method = {Method}, TenantId = {TenantId}, ClientId = {ClientId}, Cloud = {Cloud} }}";
}

/// <summary>What a person needs to finish a device code sign-in. <see cref="ToString"/> never shows the code.</summary>
public sealed record DeviceCodePrompt(Uri VerificationUrl, string UserCode, DateTimeOffset ExpiresOn)
{
    /// <summary>The one message meant for the person: where to go and the code to enter.</summary>
    public string Message => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"To sign in, open {VerificationUrl} in a web browser on any device and enter the code {UserCode}. The code expires at {ExpiresOn.ToLocalTime():HH:mm} (in {Math.Max(1, (int)Math.Round((ExpiresOn - DateTimeOffset.UtcNow).TotalMinutes))} min); Ctrl+C cancels.");

    public override string ToString() => $"Device code prompt for {VerificationUrl} (expires {ExpiresOn:u})";
}

/// <summary>What an outside token source is asked for: the resource (not a scope) and, when given, the tenant.</summary>
public sealed record ExternalTokenRequest(Uri Resource, string? TenantId);

/// <summary>A token from an outside source (the Az PowerShell session, the Azure CLI). <see cref="ToString"/> never shows it.</summary>
public sealed class ExternalToken
{
    public ExternalToken(string token, DateTimeOffset expiresOn, string? tenantId, string source)
    {
        Token = token;
        ExpiresOn = expiresOn;
        TenantId = tenantId;
        Source = source;
    }

    public string Token { get; }

    public DateTimeOffset ExpiresOn { get; }

    public string? TenantId { get; }

    /// <summary>Where it came from, for messages: "Get-AzAccessToken", "az account get-access-token".</summary>
    public string Source { get; }

    public override string ToString() => $"Token from {Source} (expires {ExpiresOn:u})";
}
