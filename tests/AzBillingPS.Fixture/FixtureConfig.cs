using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace AzBillingPS.Fixture;

/// <summary>The fixture's configuration (a JSON file given with --config). Public keys only: the tests keep the private ones.</summary>
internal sealed class FixtureConfig
{
    /// <summary>Lifetime of issued access tokens unless an app or identity says otherwise.</summary>
    public int TokenLifetimeSeconds { get; set; } = 3600;

    /// <summary>Resources (application id URIs) a scope may name, besides the fixture's own HTTPS base URL.</summary>
    public List<string> Resources { get; set; } = ["https://management.azure.com", "https://database.windows.net", "https://ossrdbms-aad.database.windows.net"];

    public List<TenantConfig> Tenants { get; set; } = [];

    public ManagedIdentityConfig? ManagedIdentity { get; set; }

    /// <summary>The device code flow's timing (Entra ID's defaults: 5 s between polls, codes valid 15 minutes).</summary>
    public DeviceCodeConfig DeviceCode { get; set; } = new();

    /// <summary>Cost Management rules in force from the start (the same shape as POST /_fixture/cost/rules takes).</summary>
    public List<System.Text.Json.JsonElement>? CostRules { get; set; }

    /// <summary>
    /// Retry-After seconds on the 202s of a report no rule governs, or whose rule does not set retryAfter (1 unless the
    /// configuration says otherwise; 0 is HTTP's "poll again now", for tests that do not measure the wait).
    /// </summary>
    public int DefaultRetryAfter { get; set; } = 1;
}

internal sealed class TenantConfig
{
    public string TenantId { get; set; } = string.Empty;

    /// <summary>Another name for the tenant (a domain) accepted in URLs.</summary>
    public string? Domain { get; set; }

    public List<AppConfig> Apps { get; set; } = [];

    /// <summary>People who can sign in (device code): the token's oid, upn and name.</summary>
    public List<UserConfig> Users { get; set; } = [];
}

internal sealed class UserConfig
{
    public string ObjectId { get; set; } = string.Empty;

    public string UserPrincipalName { get; set; } = string.Empty;

    public string DisplayName { get; set; } = string.Empty;
}

internal sealed class DeviceCodeConfig
{
    public int IntervalSeconds { get; set; } = 5;

    public int ExpiresInSeconds { get; set; } = 900;
}

internal sealed class AppConfig
{
    public string ClientId { get; set; } = string.Empty;

    /// <summary>The object id of the app's service principal (the oid claim).</summary>
    public string? ObjectId { get; set; }

    public string? Secret { get; set; }

    /// <summary>Registered certificates: paths of PEM or DER files (public certificates).</summary>
    public List<string> Certificates { get; set; } = [];

    /// <summary>Subject-name/issuer registration: the assertion must carry x5c with a certificate of this subject.</summary>
    public string? SniSubject { get; set; }

    public List<FederatedCredentialConfig> Federated { get; set; } = [];

    public int? TokenLifetimeSeconds { get; set; }

    /// <summary>A public client ("Allow public client flows"): device code sign-in without a secret or certificate.</summary>
    public bool PublicClient { get; set; }
}

internal sealed class FederatedCredentialConfig
{
    public string Issuer { get; set; } = string.Empty;

    public string Subject { get; set; } = string.Empty;

    public string Audience { get; set; } = "api://AzureADTokenExchange";

    /// <summary>Path of the issuer's RSA public key (PEM) or certificate, standing in for the issuer's JWKS.</summary>
    public string PublicKeyPath { get; set; } = string.Empty;
}

internal sealed class ManagedIdentityConfig
{
    /// <summary>The secret App Service / Azure Automation put in IDENTITY_HEADER.</summary>
    public string IdentityHeader { get; set; } = string.Empty;

    public string TenantId { get; set; } = string.Empty;

    /// <summary>The system-assigned identity; absent means the resource has none.</summary>
    public IdentityConfig? SystemAssigned { get; set; }

    public List<IdentityConfig> UserAssigned { get; set; } = [];

    public int? TokenLifetimeSeconds { get; set; }
}

internal sealed class IdentityConfig
{
    public string ClientId { get; set; } = string.Empty;

    public string ObjectId { get; set; } = string.Empty;

    public string? ResourceId { get; set; }
}

[JsonSerializable(typeof(FixtureConfig))]
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true)]
internal sealed partial class FixtureJsonContext : JsonSerializerContext
{
}
