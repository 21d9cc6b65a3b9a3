using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AzBillingPS.Fixture.Endpoints;

/// <summary>
/// Entra ID as MSAL sees it: instance discovery, OpenID metadata and the v2.0 token endpoint for the client
/// credentials grant, with a client secret, a certificate-signed client assertion, or a federated assertion.
/// It verifies what the service verifies and answers with the service's error shapes.
/// </summary>
internal static class EntraEndpoints
{
    private const string JwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    public static void Map(WebApplication app, FixtureState state)
    {
        app.MapGet("/common/discovery/instance", (HttpContext c) => HttpsOnly(c) ?? InstanceDiscovery(c));
        app.MapGet("/{tenant}/discovery/instance", (HttpContext c) => HttpsOnly(c) ?? InstanceDiscovery(c));
        app.MapGet("/{tenant}/v2.0/.well-known/openid-configuration", (HttpContext c, string tenant) => HttpsOnly(c) ?? OpenIdConfiguration(c, state, tenant));
        app.MapPost("/{tenant}/oauth2/v2.0/token", (HttpContext c, string tenant) => HttpsOnly(c) ?? Token(c, state, tenant));
    }

    private static IResult? HttpsOnly(HttpContext c) => c.Request.IsHttps ? null : Results.NotFound();

    private static string Host(HttpContext c) => c.Request.Host.ToString();

    private static IResult InstanceDiscovery(HttpContext c)
    {
        string host = Host(c);
        string authorization = c.Request.Query["authorization_endpoint"].ToString();
        string tenant = "common";
        if (Uri.TryCreate(authorization, UriKind.Absolute, out Uri? uri) && uri.Segments.Length > 1)
        {
            tenant = uri.Segments[1].TrimEnd('/');
        }

        return Results.Json(new Dictionary<string, object>
        {
            ["tenant_discovery_endpoint"] = $"https://{host}/{tenant}/v2.0/.well-known/openid-configuration",
            ["api-version"] = "1.1",
            ["metadata"] = new[] { new Dictionary<string, object> { ["preferred_network"] = host, ["preferred_cache"] = host, ["aliases"] = new[] { host } } },
        });
    }

    private static IResult OpenIdConfiguration(HttpContext c, FixtureState state, string tenant)
    {
        TenantConfig? t = FindTenant(state, tenant);
        if (t is null && DeviceCodeEndpoints.IsAlias(tenant))
        {
            // organizations / common: Entra's multi-tenant metadata, with the {tenantid} placeholder in the issuer.
            string a = $"https://{Host(c)}/{tenant}";
            return Results.Json(new Dictionary<string, object>
            {
                ["token_endpoint"] = a + "/oauth2/v2.0/token",
                ["device_authorization_endpoint"] = a + "/oauth2/v2.0/devicecode",
                ["authorization_endpoint"] = a + "/oauth2/v2.0/authorize",
                ["jwks_uri"] = $"https://{Host(c)}/{tenant}/discovery/v2.0/keys",
                ["issuer"] = $"https://{Host(c)}/{{tenantid}}/v2.0",
                ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_post", "private_key_jwt", "client_secret_basic" },
                ["response_types_supported"] = new[] { "code", "id_token", "code id_token", "id_token token" },
                ["scopes_supported"] = new[] { "openid", "profile", "email", "offline_access" },
                ["tenant_region_scope"] = (object?)null!,
                ["cloud_instance_name"] = Host(c),
            });
        }

        if (t is null)
        {
            return EntraErrors.Error(c, 400, "invalid_tenant", 90002, $"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.");
        }

        string b = $"https://{Host(c)}/{t.TenantId}";
        return Results.Json(new Dictionary<string, object>
        {
            ["token_endpoint"] = b + "/oauth2/v2.0/token",
            ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_post", "private_key_jwt", "client_secret_basic" },
            ["jwks_uri"] = $"https://{Host(c)}/{t.TenantId}/discovery/v2.0/keys",
            ["response_modes_supported"] = new[] { "query", "fragment", "form_post" },
            ["subject_types_supported"] = new[] { "pairwise" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            ["response_types_supported"] = new[] { "code", "id_token", "code id_token", "id_token token" },
            ["scopes_supported"] = new[] { "openid", "profile", "email", "offline_access" },
            ["issuer"] = b + "/v2.0",
            ["authorization_endpoint"] = b + "/oauth2/v2.0/authorize",
            ["device_authorization_endpoint"] = b + "/oauth2/v2.0/devicecode",
            ["tenant_region_scope"] = "EU",
            ["cloud_instance_name"] = Host(c),
        });
    }

    private static TenantConfig? FindTenant(FixtureState state, string tenant)
        => state.Config.Tenants.FirstOrDefault(t => string.Equals(t.TenantId, tenant, StringComparison.OrdinalIgnoreCase)
            || (t.Domain is not null && string.Equals(t.Domain, tenant, StringComparison.OrdinalIgnoreCase)));

    private static IResult Token(HttpContext c, FixtureState state, string tenant)
    {
        state.CountRequest();
        TenantConfig? t = FindTenant(state, tenant);
        if (c.Request.HasFormContentType && (t is not null || DeviceCodeEndpoints.IsAlias(tenant)))
        {
            // A person's grants: the device code flow (Entra takes RFC 8628's URN and the short name MSAL sends) and silent
            // renewal with a refresh token.
            IFormCollection userForm = c.Request.ReadFormAsync().GetAwaiter().GetResult();
            string userGrant = userForm["grant_type"].ToString();
            if (userGrant is DeviceCodeEndpoints.DeviceCodeGrant or "device_code")
            {
                return DeviceCodeEndpoints.Poll(c, state, userForm);
            }

            if (userGrant == "refresh_token")
            {
                return DeviceCodeEndpoints.Refresh(c, state, userForm);
            }
        }

        if (t is null)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 90002, $"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.");
        }

        if (!c.Request.HasFormContentType)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.");
        }

        IFormCollection form = c.Request.ReadFormAsync().GetAwaiter().GetResult();
        string grant = form["grant_type"].ToString();
        if (grant.Length == 0)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.");
        }

        if (grant != "client_credentials")
        {
            return EntraErrors.Error(c, 400, "unsupported_grant_type", 70003, $"The app requested an unsupported grant type '{grant}'.");
        }

        string clientId = form["client_id"].ToString();
        if (clientId.Length == 0)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.");
        }

        AppConfig? app = t.Apps.FirstOrDefault(a => string.Equals(a.ClientId, clientId, StringComparison.OrdinalIgnoreCase));
        if (app is null)
        {
            return EntraErrors.Error(c, 400, "unauthorized_client", 700016, $"Application with identifier '{clientId}' was not found in the directory '{t.TenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.");
        }

        string tokenEndpoint = $"https://{Host(c)}{c.Request.Path}";
        IResult? failure = Authenticate(c, state, t, app, form, tokenEndpoint);
        if (failure is not null)
        {
            return failure;
        }

        string scope = form["scope"].ToString();
        if (scope.Length == 0)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.");
        }

        string[] scopes = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (scopes.Length != 1 || !scopes[0].EndsWith("/.default", StringComparison.Ordinal))
        {
            return EntraErrors.Error(c, 400, "invalid_scope", 1002012, $"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).");
        }

        string resource = scopes[0][..^"/.default".Length];
        if (!KnownResource(state, resource))
        {
            return EntraErrors.Error(c, 400, "invalid_resource", 500011, $"The resource principal named {resource} was not found in the tenant named {t.TenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.");
        }

        int lifetime = app.TokenLifetimeSeconds ?? state.Config.TokenLifetimeSeconds;
        string accessToken = state.IssueToken("entra", t.TenantId, app.ClientId, app.ObjectId ?? app.ClientId, resource, lifetime);
        Console.Error.WriteLine($"fixture: token issued to {app.ClientId} for {resource}, {lifetime} s");
        return Results.Json(new Dictionary<string, object>
        {
            ["token_type"] = "Bearer",
            ["expires_in"] = lifetime,
            ["ext_expires_in"] = lifetime,
            ["access_token"] = accessToken,
        });
    }

    private static bool KnownResource(FixtureState state, string resource)
    {
        string r = resource.TrimEnd('/');
        return string.Equals(r, state.HttpsBase.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)
            || state.Config.Resources.Any(k => string.Equals(k.TrimEnd('/'), r, StringComparison.OrdinalIgnoreCase));
    }

    private static IResult? Authenticate(HttpContext c, FixtureState state, TenantConfig t, AppConfig app, IFormCollection form, string tokenEndpoint)
    {
        string secret = form["client_secret"].ToString();
        string assertion = form["client_assertion"].ToString();
        if (secret.Length > 0)
        {
            bool ok = app.Secret is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(app.Secret));
            return ok ? null : EntraErrors.Error(c, 401, "invalid_client", 7000215, $"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{app.ClientId}'.");
        }

        if (assertion.Length == 0)
        {
            return EntraErrors.Error(c, 401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
        }

        if (form["client_assertion_type"].ToString() != JwtBearer)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_assertion_type'.");
        }

        state.RecordAssertion(assertion);
        Jwt? jwt = Jwt.TryParse(assertion);
        if (jwt is null)
        {
            return EntraErrors.Error(c, 401, "invalid_client", 50027, "JWT token is invalid or malformed.");
        }

        // A certificate assertion is issued by the app itself; anything else is a federated (workload identity) token.
        return string.Equals(jwt.Claim("iss"), app.ClientId, StringComparison.OrdinalIgnoreCase)
            ? CertificateAssertion(c, state, t, app, jwt, tokenEndpoint)
            : FederatedAssertion(c, app, jwt);
    }

    private static IResult? CertificateAssertion(HttpContext c, FixtureState state, TenantConfig t, AppConfig app, Jwt jwt, string tokenEndpoint)
    {
        string? alg = jwt.HeaderString("alg");
        RSASignaturePadding? padding = alg switch
        {
            "RS256" => RSASignaturePadding.Pkcs1,
            "PS256" => RSASignaturePadding.Pss,
            _ => null,
        };
        if (padding is null)
        {
            return EntraErrors.Error(c, 401, "invalid_client", 5002738, $"Invalid JWT token. '{alg}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, HS256, PS256'.");
        }

        string? x5t = jwt.HeaderString("x5t");
        string? x5tS256 = jwt.HeaderString("x5t#S256");
        List<X509Certificate2> registered = app.Certificates.Select(LoadCertificate).ToList();
        X509Certificate2? key = registered.FirstOrDefault(r =>
            (x5t is not null && x5t == Jwt.Base64Url(r.GetCertHash(HashAlgorithmName.SHA1)))
            || (x5tS256 is not null && x5tS256 == Jwt.Base64Url(r.GetCertHash(HashAlgorithmName.SHA256))));

        if (key is null && app.SniSubject is not null)
        {
            // Subject name/issuer registration: the key comes from the x5c chain the client sends.
            X509Certificate2? presented = FirstX5c(jwt);
            if (presented is not null && string.Equals(presented.Subject, app.SniSubject, StringComparison.OrdinalIgnoreCase)
                && ((x5t is not null && x5t == Jwt.Base64Url(presented.GetCertHash(HashAlgorithmName.SHA1)))
                    || (x5tS256 is not null && x5tS256 == Jwt.Base64Url(presented.GetCertHash(HashAlgorithmName.SHA256)))))
            {
                key = presented;
            }
        }

        if (key is null)
        {
            string thumb = x5t is not null ? Convert.ToHexString(Jwt.FromBase64Url(x5t)) : x5tS256 is not null ? Convert.ToHexString(Jwt.FromBase64Url(x5tS256)) : "(none)";
            return EntraErrors.Error(c, 401, "invalid_client", 700027, $"Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{thumb}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{app.ClientId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{app.ClientId}']");
        }

        using RSA? rsa = key.GetRSAPublicKey();
        if (rsa is null || !rsa.VerifyData(jwt.SigningInput, jwt.Signature, HashAlgorithmName.SHA256, padding))
        {
            return EntraErrors.Error(c, 401, "invalid_client", 700027, $"Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{key.Thumbprint}', Found key 'Start={key.NotBefore:MM/dd/yyyy HH:mm:ss}, End={key.NotAfter:MM/dd/yyyy HH:mm:ss}']");
        }

        string? aud = jwt.Claim("aud");
        var accepted = new[] { tokenEndpoint, $"https://{Host(c)}/{t.TenantId}/oauth2/v2.0/token", $"https://{Host(c)}/{t.TenantId}/oauth2/token" };
        if (aud is null || !accepted.Contains(aud, StringComparer.OrdinalIgnoreCase))
        {
            return EntraErrors.Error(c, 401, "invalid_client", 50012, $"Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials . (aud '{aud}')");
        }

        if (!string.Equals(jwt.Claim("sub"), app.ClientId, StringComparison.OrdinalIgnoreCase))
        {
            return EntraErrors.Error(c, 401, "invalid_client", 50027, "JWT token is invalid or malformed. The 'sub' claim of a client assertion must be the application (client) id.");
        }

        IResult? time = CheckTime(c, jwt);
        if (time is not null)
        {
            return time;
        }

        string? jti = jwt.Claim("jti");
        if (string.IsNullOrEmpty(jti))
        {
            return EntraErrors.Error(c, 401, "invalid_client", 50027, "JWT token is invalid or malformed. The client assertion has no 'jti' claim.");
        }

        if (!state.UseJti(jti, DateTimeOffset.FromUnixTimeSeconds(jwt.NumericClaim("exp") ?? 0)))
        {
            return EntraErrors.Error(c, 401, "invalid_client", 50027, $"JWT token is invalid or malformed. The client assertion with jti '{jti}' has already been used.");
        }

        return null;
    }

    private static IResult? FederatedAssertion(HttpContext c, AppConfig app, Jwt jwt)
    {
        string? iss = jwt.Claim("iss");
        List<FederatedCredentialConfig> byIssuer = app.Federated.Where(f => f.Issuer == iss).ToList();
        if (byIssuer.Count == 0)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 700211, $"No matching federated identity record found for presented assertion issuer '{iss}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation");
        }

        string? sub = jwt.Claim("sub");
        List<FederatedCredentialConfig> bySubject = byIssuer.Where(f => f.Subject == sub).ToList();
        if (bySubject.Count == 0)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 700213, $"No matching federated identity record found for presented assertion subject '{sub}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation");
        }

        string? aud = jwt.Claim("aud") ?? (jwt.Payload.TryGetProperty("aud", out var a) && a.ValueKind == System.Text.Json.JsonValueKind.Array && a.GetArrayLength() > 0 ? a[0].GetString() : null);
        FederatedCredentialConfig? match = bySubject.FirstOrDefault(f => f.Audience == aud);
        if (match is null)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 700212, $"No matching federated identity record found for presented assertion audience '{aud}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation");
        }

        using RSA rsa = LoadPublicKey(match.PublicKeyPath);
        RSASignaturePadding padding = jwt.HeaderString("alg") == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        if (!rsa.VerifyData(jwt.SigningInput, jwt.Signature, HashAlgorithmName.SHA256, padding))
        {
            return EntraErrors.Error(c, 400, "invalid_request", 50013, "Assertion failed signature validation. [Reason - The key was not found or the signature did not match.]");
        }

        return CheckTime(c, jwt);
    }

    private static IResult? CheckTime(HttpContext c, Jwt jwt)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        long? exp = jwt.NumericClaim("exp");
        long? nbf = jwt.NumericClaim("nbf");
        if (exp is null)
        {
            Console.Error.WriteLine("fixture: assertion payload without exp: " + string.Join(",", jwt.Payload.EnumerateObject().Select(p => p.Name + ":" + p.Value.ValueKind)));
            return EntraErrors.Error(c, 401, "invalid_client", 50027, "JWT token is invalid or malformed. The assertion has no 'exp' claim.");
        }

        DateTimeOffset expires = DateTimeOffset.FromUnixTimeSeconds(exp.Value);
        DateTimeOffset notBefore = nbf is null ? DateTimeOffset.MinValue : DateTimeOffset.FromUnixTimeSeconds(nbf.Value);
        if (now > expires + ClockSkew || now + ClockSkew < notBefore)
        {
            return EntraErrors.Error(c, 401, "invalid_client", 700024, $"Client assertion is not within its valid time range. Current time: {now:yyyy-MM-ddTHH:mm:ss.fffffffZ}, assertion valid from {notBefore:yyyy-MM-ddTHH:mm:ss.fffZ}, expiry time of assertion {expires:yyyy-MM-ddTHH:mm:ss.fffZ}. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .");
        }

        return null;
    }

    private static X509Certificate2? FirstX5c(Jwt jwt)
    {
        if (!jwt.Header.TryGetProperty("x5c", out var x5c))
        {
            return null;
        }

        string? first = x5c.ValueKind switch
        {
            System.Text.Json.JsonValueKind.Array when x5c.GetArrayLength() > 0 => x5c[0].GetString(),
            System.Text.Json.JsonValueKind.String => x5c.GetString(),
            _ => null,
        };
        try
        {
            return first is null ? null : X509CertificateLoader.LoadCertificate(Convert.FromBase64String(first));
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            return null;
        }
    }

    private static X509Certificate2 LoadCertificate(string path)
    {
        string text = System.IO.File.ReadAllText(path);
        return text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
            ? X509Certificate2.CreateFromPem(text)
            : X509CertificateLoader.LoadCertificateFromFile(path);
    }

    private static RSA LoadPublicKey(string path)
    {
        string text = System.IO.File.ReadAllText(path);
        if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            return X509Certificate2.CreateFromPem(text).GetRSAPublicKey()!;
        }

        var rsa = RSA.Create();
        rsa.ImportFromPem(text);
        return rsa;
    }
}
