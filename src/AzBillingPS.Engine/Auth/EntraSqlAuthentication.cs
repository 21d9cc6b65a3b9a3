using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using Microsoft.Data.SqlClient;

namespace AzBillingPS.Engine.Auth;

/// <summary>
/// The module's own <see cref="SqlAuthenticationProvider"/>, backed by the engine's MSAL sign-in
/// (<see cref="AccessTokenProvider"/>), for connection strings that say <c>Authentication=Active Directory ...</c>:
/// SqlClient 7 moved its Entra providers to a separate package the module does not ship. It serves Managed Identity
/// (system- or user-assigned: <c>User Id</c> = the identity's client id, or its resource id), Service Principal
/// (<c>User Id</c> = application id, <c>Password</c> = client secret), Workload Identity (the federated token file
/// AZURE_FEDERATED_TOKEN_FILE, with AZURE_CLIENT_ID / AZURE_TENANT_ID or <c>User Id</c>), and Default (the environment's
/// service principal: AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE with
/// AZURE_TENANT_ID and AZURE_CLIENT_ID; then the managed identity).
/// </summary>
/// <remarks>
/// The server says which resource and which authority a token must be for (FEDAUTHINFO). The module trusts neither
/// blindly: a token is requested only for a known database resource (Azure SQL's in a known cloud, so a server cannot
/// obtain a Resource Manager token), and only from the sign-in host of that resource's cloud (or AZURE_AUTHORITY_HOST,
/// https only, when set); the server's authority contributes only the tenant. Secrets (client secret, certificate
/// password) never appear in messages.
/// </remarks>
internal sealed class EntraSqlAuthentication : SqlAuthenticationProvider
{
    public static readonly SqlAuthenticationMethod[] Methods =
    {
        SqlAuthenticationMethod.ActiveDirectoryManagedIdentity,
        SqlAuthenticationMethod.ActiveDirectoryMSI,
        SqlAuthenticationMethod.ActiveDirectoryServicePrincipal,
        SqlAuthenticationMethod.ActiveDirectoryWorkloadIdentity,
        SqlAuthenticationMethod.ActiveDirectoryDefault,
    };

    private static readonly ConcurrentDictionary<string, AccessTokenProvider> Providers = new(StringComparer.Ordinal);
    private static readonly byte[] FingerprintKey = RandomNumberGenerator.GetBytes(32);
    private static int _registered;

    /// <summary>Registers the provider for every method it serves, once per process (SqlClient's registry is process-wide).</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1)
        {
            return;
        }

        var provider = new EntraSqlAuthentication();
        foreach (SqlAuthenticationMethod method in Methods)
        {
            try
            {
                // False when the application configured its own provider for the method (app.config): that one is used.
                _ = SqlAuthenticationProvider.SetProvider(method, provider);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
            {
                // SqlClient's registry refused it: the method then fails with SqlClient's own "no provider" error.
            }
        }
    }

    /// <summary>True for the Authentication= methods the module signs in with itself.</summary>
    public static bool Serves(SqlAuthenticationMethod method) => Array.IndexOf(Methods, method) >= 0;

    public override bool IsSupported(SqlAuthenticationMethod authenticationMethod) => Serves(authenticationMethod);

    public override async Task<SqlAuthenticationToken> AcquireTokenAsync(SqlAuthenticationParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        AccessTokenProvider provider;
        try
        {
            // One provider (and its cached token) per sign-in: the key is what decides it, the secret as a keyed hash.
            provider = Providers.GetOrAdd(Key(parameters), _ => AccessTokenProvider.Create(OptionsFor(
                parameters.AuthenticationMethod, parameters.Resource, parameters.Authority, parameters.UserId, parameters.Password, Environment.GetEnvironmentVariable)));
        }
        catch (EngineException e)
        {
            throw new SignInFailed(parameters.AuthenticationMethod, e);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Clamp(parameters.ConnectionTimeout, 5, 600)));
        try
        {
            AccessTokenInfo token = await provider.GetTokenAsync(timeout.Token).ConfigureAwait(false);
            return new SqlAuthenticationToken(token.Token, token.ExpiresOn);
        }
        catch (EngineException e)
        {
            throw new SignInFailed(parameters.AuthenticationMethod, e);
        }
        catch (OperationCanceledException e)
        {
            throw new SignInFailed(parameters.AuthenticationMethod, new EngineException(EngineErrorKind.Timeout, $"Signing in to the database ({Name(parameters.AuthenticationMethod)}) took longer than the connection timeout.", e));
        }
    }

    /// <summary>
    /// The sign-in for one connection attempt: which identity, which tenant and authority host, which scope. Throws an
    /// EngineException (never naming a secret) for a resource or authority the module will not send a token to, and
    /// for missing settings. <paramref name="env"/> reads environment variables (the tests pass their own).
    /// </summary>
    internal static TokenProviderOptions OptionsFor(SqlAuthenticationMethod method, string? resource, string? authority, string? userId, string? password, Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        string name = Name(method);
        CloudEndpoints cloud = CloudEndpoints.ForDatabaseResource(resource, out bool postgreSql) is { } c && !postgreSql
            ? c
            : throw new EngineException(EngineErrorKind.AuthenticationFailed,
                $"The server asked for a token for '{resource}', which is not Azure SQL's resource in a cloud the module knows (for example https://database.windows.net/); no token was requested or sent.");
        string scope = cloud.DatabaseScope(postgreSql: false);

        // The authority the server names contributes its tenant; the sign-in host is the cloud's (or AZURE_AUTHORITY_HOST).
        string? tenant = null;
        Uri authorityHost = cloud.AuthorityHost;
        if (!string.IsNullOrWhiteSpace(authority))
        {
            if (!Uri.TryCreate(authority, UriKind.Absolute, out Uri? a) || a.Scheme != Uri.UriSchemeHttps)
            {
                throw new EngineException(EngineErrorKind.AuthenticationFailed, $"The server named the sign-in authority '{authority}', which is not an https URL; no token was requested.");
            }

            if (CloudEndpoints.ForAuthorityHost(a.Host) is not { } authorityCloud || authorityCloud.Name != cloud.Name)
            {
                throw new EngineException(EngineErrorKind.AuthenticationFailed,
                    $"The server named the sign-in host {a.Host}, which is not the Entra ID host of {cloud.Name} (the cloud of {cloud.SqlDatabaseResource}); no token was requested.");
            }

            string path = a.AbsolutePath.Trim('/');
            tenant = path.Length == 0 ? null : path.Split('/')[0];
        }

        if (Nonempty(env("AZURE_AUTHORITY_HOST")) is { } host)
        {
            authorityHost = TokenEndpoint.RequireEndpoint(Uri.TryCreate(host, UriKind.Absolute, out Uri? h) ? h : null, "AZURE_AUTHORITY_HOST", allowLoopbackHttp: false);
        }

        var basis = new TokenProviderOptions
        {
            Cloud = cloud.Name,
            CloudTable = cloud.Name,
            AuthorityHost = authorityHost,
            ResourceManagerUrl = cloud.ResourceManagerUrl,
            Scope = scope,
        };

        switch (method)
        {
            case SqlAuthenticationMethod.ActiveDirectoryManagedIdentity:
            case SqlAuthenticationMethod.ActiveDirectoryMSI:
                return ManagedIdentity(basis, Nonempty(userId));

            case SqlAuthenticationMethod.ActiveDirectoryServicePrincipal:
                if (Nonempty(userId) is null || string.IsNullOrEmpty(password))
                {
                    throw new EngineException(EngineErrorKind.InvalidArgument, $"{name} needs the application (client) id as User Id and its client secret as Password (in the connection string, or as the database login); a certificate sign-in goes through Active Directory Default with AZURE_CLIENT_CERTIFICATE_PATH.")
                    {
                        Advice = EngineAdvice.SignInWithDatabaseToken,
                    };
                }

                return basis with { Method = AuthMethod.ClientSecret, TenantId = Tenant(tenant, env, name), ClientId = userId, ClientSecret = AccessTokenProvider.Protect(password) };

            case SqlAuthenticationMethod.ActiveDirectoryWorkloadIdentity:
            {
                string file = Nonempty(env("AZURE_FEDERATED_TOKEN_FILE"))
                    ?? throw new EngineException(EngineErrorKind.InvalidArgument, $"{name} reads the federated token from the file AZURE_FEDERATED_TOKEN_FILE names, and it is not set.");
                string client = Nonempty(userId) ?? Nonempty(env("AZURE_CLIENT_ID"))
                    ?? throw new EngineException(EngineErrorKind.InvalidArgument, $"{name} needs the client id: User Id in the connection string, or AZURE_CLIENT_ID.");
                return basis with { Method = AuthMethod.FederatedToken, TenantId = Nonempty(env("AZURE_TENANT_ID")) ?? Tenant(tenant, env, name), ClientId = client, FederatedTokenFile = file };
            }

            case SqlAuthenticationMethod.ActiveDirectoryDefault:
            {
                // The environment's service principal first (as Azure.Identity's EnvironmentCredential reads it), then workload identity, then the managed identity.
                string? client = Nonempty(env("AZURE_CLIENT_ID"));
                string? envTenant = Nonempty(env("AZURE_TENANT_ID"));
                if (client is not null && envTenant is not null)
                {
                    if (Nonempty(env("AZURE_CLIENT_SECRET")) is { } secret)
                    {
                        return basis with { Method = AuthMethod.ClientSecret, TenantId = envTenant, ClientId = client, ClientSecret = AccessTokenProvider.Protect(secret) };
                    }

                    if (Nonempty(env("AZURE_CLIENT_CERTIFICATE_PATH")) is { } certificatePath)
                    {
                        string? certificatePassword = env("AZURE_CLIENT_CERTIFICATE_PASSWORD");
                        using System.Security.SecureString? securePassword = string.IsNullOrEmpty(certificatePassword) ? null : AccessTokenProvider.Protect(certificatePassword);
                        System.Security.Cryptography.X509Certificates.X509Certificate2 certificate;
                        try
                        {
                            certificate = CertificateLoader.LoadFromFile(certificatePath, securePassword);
                        }
                        catch (EngineException e) when (e.Advice == EngineAdvice.GiveCertificatePassword)
                        {
                            // The password of this sign-in is an environment variable, not a command's parameter.
                            throw new EngineException(e.Kind, e.Message + " Set AZURE_CLIENT_CERTIFICATE_PASSWORD to it.", e) { FilePath = e.FilePath };
                        }

                        return basis with { Method = AuthMethod.Certificate, TenantId = envTenant, ClientId = client, Certificate = certificate, CertificateSource = $"'{certificatePath}' (AZURE_CLIENT_CERTIFICATE_PATH)" };
                    }

                    if (Nonempty(env("AZURE_FEDERATED_TOKEN_FILE")) is { } federated)
                    {
                        return basis with { Method = AuthMethod.FederatedToken, TenantId = envTenant, ClientId = client, FederatedTokenFile = federated };
                    }
                }

                return ManagedIdentity(basis, Nonempty(userId) ?? client);
            }

            default:
                throw new EngineException(EngineErrorKind.Unsupported, $"{name} is not a sign-in the module provides.");
        }
    }

    private static TokenProviderOptions ManagedIdentity(TokenProviderOptions basis, string? id)
        => id is not null && id.StartsWith("/subscriptions/", StringComparison.OrdinalIgnoreCase)
            ? basis with { Method = AuthMethod.ManagedIdentity, ManagedIdentityResourceId = id }
            : basis with { Method = AuthMethod.ManagedIdentity, ClientId = id };

    private static string Tenant(string? fromAuthority, Func<string, string?> env, string name)
        => fromAuthority ?? Nonempty(env("AZURE_TENANT_ID"))
            ?? throw new EngineException(EngineErrorKind.InvalidArgument, $"{name}: the server named no tenant and AZURE_TENANT_ID is not set.");

    /// <summary>What decides the sign-in: the method, the server's resource and authority, the user id, and the environment variables read; secrets as keyed hashes, never themselves.</summary>
    private static string Key(SqlAuthenticationParameters p)
    {
        static string Hash(string? secret) => string.IsNullOrEmpty(secret) ? string.Empty : Convert.ToHexString(HMACSHA256.HashData(FingerprintKey, Encoding.UTF8.GetBytes(secret)));
        string[] environment =
        {
            "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_AUTHORITY_HOST",
        };
        return string.Join('|', p.AuthenticationMethod, p.Resource, p.Authority, p.UserId, Hash(p.Password), Hash(Environment.GetEnvironmentVariable("AZURE_CLIENT_SECRET")), Hash(Environment.GetEnvironmentVariable("AZURE_CLIENT_CERTIFICATE_PASSWORD")))
            + "|" + string.Join('|', environment.Select(Environment.GetEnvironmentVariable));
    }

    private static string? Nonempty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static string Name(SqlAuthenticationMethod method) => method switch
    {
        SqlAuthenticationMethod.ActiveDirectoryManagedIdentity or SqlAuthenticationMethod.ActiveDirectoryMSI => "Authentication=Active Directory Managed Identity",
        SqlAuthenticationMethod.ActiveDirectoryServicePrincipal => "Authentication=Active Directory Service Principal",
        SqlAuthenticationMethod.ActiveDirectoryWorkloadIdentity => "Authentication=Active Directory Workload Identity",
        SqlAuthenticationMethod.ActiveDirectoryDefault => "Authentication=Active Directory Default",
        _ => string.Create(CultureInfo.InvariantCulture, $"Authentication={method}"),
    };

    /// <summary>How a sign-in failure reaches SqlClient (which wraps it in a SqlException); the EngineException inside keeps its kind and message.</summary>
    internal sealed class SignInFailed : SqlAuthenticationProviderException
    {
        public SignInFailed(SqlAuthenticationMethod method, EngineException inner)
            : base(method, inner.ServiceCode ?? inner.Kind.ToString(), false, 0, inner.Message, inner)
        {
        }
    }
}
