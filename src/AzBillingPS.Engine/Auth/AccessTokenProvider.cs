using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using Microsoft.Identity.Client;
using Microsoft.Identity.Client.AppConfig;

namespace AzBillingPS.Engine.Auth;

/// <summary>
/// Gets access tokens through MSAL for one identity and scope, and gets a fresh one when fewer than
/// <see cref="RefreshMargin"/> remain. MSAL applications are kept per identity for the life of the process, so
/// their in-memory token cache is reused by every provider (and every cmdlet call) for the same identity.
/// Everything that can be checked locally (certificate, files, ids, URLs) is checked in <see cref="Create"/>,
/// before any network call. No message or log line carries a token, secret, password, key or assertion.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The semaphore never allocates a wait handle (no AvailableWaitHandle); the provider lives as long as the token object.")]
public sealed partial class AccessTokenProvider
{
    /// <summary>A token with less than this left is replaced by a fresh one.</summary>
    public static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);

    private static readonly ConcurrentDictionary<string, IConfidentialClientApplication> ConfidentialApps = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, IManagedIdentityApplication> ManagedIdentityApps = new(StringComparer.Ordinal);
    private static readonly byte[] FingerprintKey = RandomNumberGenerator.GetBytes(32);

    private readonly Func<bool, IEngineLog?, CancellationToken, Task<AcquiredToken>> _acquire;
    private readonly TokenProviderOptions _options;
    private readonly ConcurrentDictionary<string, AccessTokenProvider> _otherScopes = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private AccessTokenInfo? _current;
    private int _tokensFromService;

    private AccessTokenProvider(TokenProviderOptions options, string scope, Func<bool, IEngineLog?, CancellationToken, Task<AcquiredToken>> acquire)
    {
        Method = options.Method;
        TenantId = options.TenantId;
        ClientId = options.ClientId;
        Cloud = options.Cloud;
        AuthorityHost = options.AuthorityHost;
        ResourceManagerUrl = options.ResourceManagerUrl;
        Scope = scope;
        CertificateThumbprint = options.Certificate?.Thumbprint;
        CertificateSubject = options.Certificate?.Subject;
        _acquire = acquire;
        _options = options with { Scope = scope };
    }

    /// <summary>The named cloud whose table applies (database audiences), even when custom endpoints make <see cref="Cloud"/> Custom.</summary>
    public CloudEndpoints CloudTable => CloudEndpoints.Get(_options.CloudTable);

    /// <summary>
    /// The same identity, for another scope (a database's, derived from the cloud in use): one provider per scope, kept,
    /// so its tokens are cached and renewed like this one's. MSAL's application (and its token cache) is shared.
    /// </summary>
    public AccessTokenProvider ForScope(string scope)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        return string.Equals(scope.Trim(), Scope, StringComparison.OrdinalIgnoreCase)
            ? this
            : _otherScopes.GetOrAdd(scope.Trim(), s =>
            {
                AccessTokenProvider other = Create(_options with { Scope = s });
                other.TenantId ??= TenantId;
                other.ClientId ??= ClientId;
                return other;
            });
    }

    public AuthMethod Method { get; }

    /// <summary>The tenant; for managed identity, taken from the first token.</summary>
    public string? TenantId { get; private set; }

    /// <summary>The application (client) id; for a system-assigned managed identity, taken from the first token.</summary>
    public string? ClientId { get; private set; }

    public string Cloud { get; }

    public Uri AuthorityHost { get; }

    public Uri ResourceManagerUrl { get; }

    public string Scope { get; }

    public string? CertificateThumbprint { get; }

    public string? CertificateSubject { get; }

    /// <summary>When the current token expires; null before the first token.</summary>
    public DateTimeOffset? ExpiresOn => _current?.ExpiresOn;

    /// <summary>How many tokens this provider got from the service (not from MSAL's cache).</summary>
    public int TokensFromService => _tokensFromService;

    /// <summary>Checks everything that can be checked locally and prepares the MSAL application. No network call.</summary>
    public static AccessTokenProvider Create(TokenProviderOptions options) => Create(options, DateTimeOffset.UtcNow);

    internal static AccessTokenProvider Create(TokenProviderOptions options, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Endpoint overrides are https only (Resource Manager: plain http for a loopback stand-in too): tokens go nowhere else.
        TokenEndpoint.RequireEndpoint(options.AuthorityHost, "-AuthorityHost", allowLoopbackHttp: false);
        TokenEndpoint.RequireEndpoint(options.ResourceManagerUrl, "-ResourceManagerUrl");
        string scope = string.IsNullOrWhiteSpace(options.Scope) ? CloudEndpoints.DefaultScope(options.ResourceManagerUrl) : options.Scope.Trim();
        if (!Uri.TryCreate(scope, UriKind.Absolute, out _) && !scope.Contains("/.default", StringComparison.Ordinal))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The scope '{scope}' is not a resource URL with '/.default' (for example https://management.azure.com/.default).");
        }

        switch (options.Method)
        {
            case AuthMethod.ManagedIdentity:
                return CreateManagedIdentity(options, scope);
            case AuthMethod.DeviceCode or AuthMethod.Interactive:
                return CreateUser(options, scope);
            case AuthMethod.AzContext or AuthMethod.AzureCli:
                return CreateExternal(options, scope);
        }

        string tenant = RequireId(options.TenantId, "TenantId");
        string clientId = RequireId(options.ClientId, "ClientId");
        string authority = options.AuthorityHost.AbsoluteUri.TrimEnd('/') + "/" + tenant;
        string who = $"client {clientId} in tenant {tenant}";

        string credentialKey;
        Func<ConfidentialClientApplicationBuilder, ConfidentialClientApplicationBuilder> withCredential;
        switch (options.Method)
        {
            case AuthMethod.Certificate:
            {
                X509Certificate2 cert = options.Certificate
                    ?? throw new EngineException(EngineErrorKind.InvalidArgument, "No certificate was given.");
                CertificateLoader.Validate(cert, options.CertificateSource ?? "given", now);
                credentialKey = "cert:" + cert.GetCertHashString(HashAlgorithmName.SHA256) + ":x5c=" + options.SendX5c.ToString(CultureInfo.InvariantCulture);
                withCredential = b => b.WithCertificate(cert, new CertificateOptions { SendX5C = options.SendX5c });
                break;
            }

            case AuthMethod.ClientSecret:
            {
                if (options.ClientSecret is null || options.ClientSecret.Length == 0)
                {
                    throw new EngineException(EngineErrorKind.InvalidArgument, "The client secret is empty.");
                }

                string secret = Unprotect(options.ClientSecret);
                credentialKey = "secret:" + Convert.ToHexString(HMACSHA256.HashData(FingerprintKey, Encoding.UTF8.GetBytes(secret)));
                withCredential = b => b.WithClientSecret(secret);
                break;
            }

            case AuthMethod.FederatedToken:
            {
                string path = options.FederatedTokenFile ?? throw new EngineException(EngineErrorKind.InvalidArgument, "No federated token file was given.");
                _ = ReadFederatedToken(path); // fail early, before any network call
                credentialKey = "federated:" + Path.GetFullPath(path);
                withCredential = b => b.WithClientAssertion((AssertionRequestOptions _) => Task.FromResult(ReadFederatedToken(path)));
                break;
            }

            default:
                throw new EngineException(EngineErrorKind.InvalidArgument, $"Unknown sign-in method {options.Method}.");
        }

        bool knownHost = CloudEndpoints.IsKnownAuthorityHost(options.AuthorityHost);
        string key = string.Join('|', authority.ToUpperInvariant(), clientId.ToUpperInvariant(), credentialKey);
        IConfidentialClientApplication app = ConfidentialApps.GetOrAdd(key, _ =>
        {
            ConfidentialClientApplicationBuilder builder = ConfidentialClientApplicationBuilder.Create(clientId)
                .WithAuthority(authority, validateAuthority: knownHost);
            if (!knownHost)
            {
                // Azure Stack, private clouds and test fixtures: Entra's instance discovery does not know the host.
                builder = builder.WithInstanceDiscovery(false);
            }

            return withCredential(builder).Build();
        });

        string[] scopes = [scope];
        return new AccessTokenProvider(options, scope, async (force, _, ct) =>
        {
            try
            {
                return AcquiredToken.From(await app.AcquireTokenForClient(scopes).WithForceRefresh(force).ExecuteAsync(ct).ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw AuthErrors.Map(e, who);
            }
        })
        {
            Who = who,
        };
    }

    /// <summary>Who signs in, for messages: "client X in tenant Y" or "managed identity (...)".</summary>
    public string Who { get; private set; } = string.Empty;

    /// <summary>A token with at least <see cref="RefreshMargin"/> left: the current one, MSAL's cached one, or a new one.</summary>
    public Task<AccessTokenInfo> GetTokenAsync(CancellationToken cancellationToken) => GetTokenAsync(null, cancellationToken);

    /// <inheritdoc cref="GetTokenAsync(CancellationToken)"/>
    public Task<AccessTokenInfo> GetTokenAsync(IEngineLog? log, CancellationToken cancellationToken) => GetTokenAsync(log, rejected: null, cancellationToken);

    /// <summary>
    /// A token as <see cref="GetTokenAsync(CancellationToken)"/> gives, except that when <paramref name="rejected"/> is the
    /// current token (a service answered 401 to it), a new one is requested past MSAL's cache. Callers that race on the
    /// same rejected token get one renewal between them.
    /// </summary>
    public async Task<AccessTokenInfo> GetTokenAsync(IEngineLog? log, AccessTokenInfo? rejected, CancellationToken cancellationToken)
    {
        AccessTokenInfo? current = _current;
        if (current is not null && !ReferenceEquals(current, rejected) && current.ExpiresOn - DateTimeOffset.UtcNow > RefreshMargin)
        {
            return current;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            current = _current;
            bool force = rejected is not null && ReferenceEquals(current, rejected);
            if (current is not null && !force && current.ExpiresOn - DateTimeOffset.UtcNow > RefreshMargin)
            {
                return current;
            }

            log?.Verbose(current is null
                ? $"Requesting a token for scope {Scope} from {AuthorityOrSource()} as {Who}."
                : force
                    ? $"The service rejected the token for scope {Scope}; requesting a new one as {Who}."
                    : $"The token for scope {Scope} expires at {Format(current.ExpiresOn)}; requesting a fresh one as {Who}.");
            AcquiredToken result = await _acquire(force, log, cancellationToken).ConfigureAwait(false);
            if (!result.FromCache)
            {
                Interlocked.Increment(ref _tokensFromService);
            }

            var info = new AccessTokenInfo(result.AccessToken, result.ExpiresOn, result.FromCache);
            if (TenantId is null || ClientId is null)
            {
                (string? tid, string? appId) = ReadClaims(result.AccessToken);
                // MSAL reports the tenant of a managed-identity token as "managed_identity"; the token's tid claim is the real one.
                TenantId ??= tid ?? (string.IsNullOrEmpty(result.TenantId) || Method == AuthMethod.ManagedIdentity ? null : result.TenantId);
                ClientId ??= appId;
            }

            _current = info;
            log?.Verbose($"Token for scope {Scope} {result.Source}; expires at {Format(info.ExpiresOn)}.");
            if (result.Details is not null)
            {
                log?.Debug(result.Details);
            }

            return info;
        }
        finally
        {
            _gate.Release();
        }
    }

    private string AuthorityOrSource() => Method switch
    {
        AuthMethod.ManagedIdentity => "the managed identity endpoint",
        AuthMethod.AzContext => "the Az PowerShell session (Get-AzAccessToken)",
        AuthMethod.AzureCli => "the Azure CLI (az account get-access-token)",
        _ => AuthorityHost.AbsoluteUri,
    };

    private static AccessTokenProvider CreateManagedIdentity(TokenProviderOptions options, string scope)
    {
        int given = (string.IsNullOrEmpty(options.ClientId) ? 0 : 1) + (string.IsNullOrEmpty(options.ManagedIdentityResourceId) ? 0 : 1) + (string.IsNullOrEmpty(options.ManagedIdentityObjectId) ? 0 : 1);
        if (given > 1)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "Give at most one of -ClientId, -ResourceId and -ObjectId for a user-assigned managed identity.");
        }

        ManagedIdentityId id;
        string idText;
        if (!string.IsNullOrEmpty(options.ClientId))
        {
            id = ManagedIdentityId.WithUserAssignedClientId(RequireId(options.ClientId, "ClientId"));
            idText = "user-assigned, client id " + options.ClientId;
        }
        else if (!string.IsNullOrEmpty(options.ManagedIdentityResourceId))
        {
            if (!options.ManagedIdentityResourceId.StartsWith("/subscriptions/", StringComparison.OrdinalIgnoreCase))
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"'{options.ManagedIdentityResourceId}' is not an Azure resource id (/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/...).");
            }

            id = ManagedIdentityId.WithUserAssignedResourceId(options.ManagedIdentityResourceId);
            idText = "user-assigned, resource id " + options.ManagedIdentityResourceId;
        }
        else if (!string.IsNullOrEmpty(options.ManagedIdentityObjectId))
        {
            id = ManagedIdentityId.WithUserAssignedObjectId(RequireId(options.ManagedIdentityObjectId, "ObjectId"));
            idText = "user-assigned, object id " + options.ManagedIdentityObjectId;
        }
        else
        {
            id = ManagedIdentityId.SystemAssigned;
            idText = "system-assigned";
        }

        // MSAL picks the source (App Service / Azure Automation, Arc, Cloud Shell, Service Fabric, IMDS) from the
        // environment when the application is built; a changed environment gets a new application.
        string environment = string.Join(';',
            Environment.GetEnvironmentVariable("IDENTITY_ENDPOINT"),
            Environment.GetEnvironmentVariable("IMDS_ENDPOINT"),
            Environment.GetEnvironmentVariable("MSI_ENDPOINT"),
            Environment.GetEnvironmentVariable("AZURE_POD_IDENTITY_AUTHORITY_HOST"));
        string header = Environment.GetEnvironmentVariable("IDENTITY_HEADER") ?? string.Empty;
        string key = idText.ToUpperInvariant() + "|" + environment + "|" + Convert.ToHexString(HMACSHA256.HashData(FingerprintKey, Encoding.UTF8.GetBytes(header)));
        IManagedIdentityApplication app = ManagedIdentityApps.GetOrAdd(key, _ => ManagedIdentityApplicationBuilder.Create(id).Build());

        string resource = scope.EndsWith("/.default", StringComparison.Ordinal) ? scope[..^"/.default".Length] : scope;
        string who = "managed identity (" + idText + ")";
        return new AccessTokenProvider(options, scope, async (force, _, ct) =>
        {
            try
            {
                return AcquiredToken.From(await app.AcquireTokenForManagedIdentity(resource).WithForceRefresh(force).ExecuteAsync(ct).ConfigureAwait(false));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw AuthErrors.Map(e, who);
            }
        })
        {
            Who = who,
            TenantId = options.TenantId,
            ClientId = options.ClientId,
        };
    }

    private static string ReadFederatedToken(string path)
    {
        if (!File.Exists(path))
        {
            throw new EngineException(EngineErrorKind.FileNotFound, $"The federated token file '{path}' was not found.") { FilePath = path };
        }

        string token = File.ReadAllText(path).Trim();
        if (token.Length == 0)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The federated token file '{path}' is empty.") { FilePath = path };
        }

        return token;
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();

    private static string RequireId(string? value, string name)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"{name} is required.");
        }

        if (!IdPattern().IsMatch(value))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"'{value}' is not a valid {name}: expected a GUID or a domain name.");
        }

        return value;
    }

    /// <summary>The text of a SecureString secret (a client secret; a token another module handed over as a SecureString). Never log it.</summary>
    /// <summary>A read-only SecureString holding <paramref name="value"/> (a secret that must stay one).</summary>
    public static SecureString Protect(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var secure = new SecureString();
        foreach (char c in value)
        {
            secure.AppendChar(c);
        }

        secure.MakeReadOnly();
        return secure;
    }

    public static string Unprotect(SecureString value)
    {
        ArgumentNullException.ThrowIfNull(value);
        IntPtr p = Marshal.SecureStringToGlobalAllocUnicode(value);
        try
        {
            return Marshal.PtrToStringUni(p, value.Length);
        }
        finally
        {
            Marshal.ZeroFreeGlobalAllocUnicode(p);
        }
    }

    private static string Format(DateTimeOffset value) => value.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture);

    /// <summary>Reads tid and appid (or azp) from a JWT access token's payload, without validating it.</summary>
    internal static (string? TenantId, string? AppId) ReadClaims(string accessToken)
    {
        string[] parts = accessToken.Split('.');
        if (parts.Length != 3)
        {
            return (null, null);
        }

        try
        {
            string payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
            using var doc = JsonDocument.Parse(Convert.FromBase64String(payload));
            JsonElement root = doc.RootElement;
            return (Claim(root, "tid"), Claim(root, "appid") ?? Claim(root, "azp"));
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return (null, null);
        }
    }

    private static string? Claim(JsonElement root, string name)
        => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
