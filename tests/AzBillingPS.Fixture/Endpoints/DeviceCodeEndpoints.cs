using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AzBillingPS.Fixture.Endpoints;

/// <summary>
/// Entra ID's sign-in of a person through the OAuth 2.0 device authorization grant (RFC 8628, as the Microsoft identity
/// platform documents it): <c>POST /{tenant}/oauth2/v2.0/devicecode</c>, then the token endpoint's
/// <c>urn:ietf:params:oauth:grant-type:device_code</c> grant answering <c>authorization_pending</c>, <c>slow_down</c>
/// (also to a client that polls before the interval has passed), <c>expired_token</c>, <c>authorization_declined</c> or
/// <c>access_denied</c>, and the tokens once the person approved; the <c>refresh_token</c> grant for silent renewal.
/// The test plays the person through <c>/_fixture/devicecode/*</c>: approve, deny, expire, ask for slow_down answers.
/// </summary>
internal static class DeviceCodeEndpoints
{
    public const string DeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
    private static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(250);
    private static readonly char[] UserCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".ToCharArray();

    public static void Map(WebApplication app, FixtureState state)
    {
        state.DeviceCodeSettings = state.Config.DeviceCode;
        app.MapPost("/{tenant}/oauth2/v2.0/devicecode", (HttpContext c, string tenant) => c.Request.IsHttps ? DeviceCode(c, state, tenant) : Results.NotFound());
        app.MapGet("/_fixture/devicecode", () => Results.Json(state.DeviceCodes.Values.OrderBy(r => r.CreatedAt).Select(r => new
        {
            userCode = r.UserCode,
            clientId = r.ClientId,
            tenant = r.Tenant,
            scope = r.Scope,
            state = r.State,
            interval = r.IntervalSeconds,
            createdAt = r.CreatedAt,
            expiresAt = r.ExpiresAt,
            tooFast = r.TooFast,
            polls = r.Polls.Select(p => new { timeMs = p.Time.ToUnixTimeMilliseconds(), answer = p.Answer }).ToArray(),
        })));
        app.MapPost("/_fixture/devicecode/settings", async (HttpContext c) =>
        {
            JsonElement body = await JsonSerializer.DeserializeAsync<JsonElement>(c.Request.Body);
            var settings = new DeviceCodeConfig
            {
                IntervalSeconds = body.TryGetProperty("intervalSeconds", out JsonElement i) ? i.GetInt32() : state.DeviceCodeSettings.IntervalSeconds,
                ExpiresInSeconds = body.TryGetProperty("expiresInSeconds", out JsonElement e) ? e.GetInt32() : state.DeviceCodeSettings.ExpiresInSeconds,
            };
            state.DeviceCodeSettings = settings;
            return Results.Json(settings);
        });
        app.MapPost("/_fixture/devicecode/{action}", async (HttpContext c, string action) =>
        {
            JsonElement body = await JsonSerializer.DeserializeAsync<JsonElement>(c.Request.Body);
            string userCode = body.TryGetProperty("userCode", out JsonElement u) ? u.GetString() ?? string.Empty : string.Empty;
            DeviceCodeRecord? r = state.DeviceCodes.Values.FirstOrDefault(x => string.Equals(x.UserCode, userCode, StringComparison.OrdinalIgnoreCase));
            if (r is null)
            {
                return Results.Json(new { error = $"no device code with user code '{userCode}'" }, statusCode: 400);
            }

            lock (r)
            {
                switch (action)
                {
                    case "approve":
                    {
                        string? upn = body.TryGetProperty("user", out JsonElement who) ? who.GetString() : null;
                        (TenantConfig Tenant, UserConfig User)? found = state.Config.Tenants
                            .SelectMany(t => t.Users.Select(x => (Tenant: t, User: x)))
                            .Where(p => upn is null || string.Equals(p.User.UserPrincipalName, upn, StringComparison.OrdinalIgnoreCase))
                            .Select(p => ((TenantConfig, UserConfig)?)p)
                            .FirstOrDefault();
                        if (found is null)
                        {
                            return Results.Json(new { error = $"no user '{upn}'" }, statusCode: 400);
                        }

                        r.State = "approved";
                        r.User = found.Value.User;
                        r.UserTenant = found.Value.Tenant.TenantId;
                        break;
                    }

                    case "deny":
                        r.State = "denied";
                        r.DenyError = body.TryGetProperty("error", out JsonElement err) ? err.GetString() : "authorization_declined";
                        break;
                    case "expire":
                        r.ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(-1);
                        break;
                    case "slowdown":
                        r.SlowDownsToSend += body.TryGetProperty("count", out JsonElement n) ? n.GetInt32() : 1;
                        break;
                    default:
                        return Results.NotFound();
                }
            }

            return Results.Json(new { userCode = r.UserCode, state = r.State });
        });
    }

    private static IResult DeviceCode(HttpContext c, FixtureState state, string tenant)
    {
        bool alias = IsAlias(tenant);
        TenantConfig? t = alias ? null : state.Config.Tenants.FirstOrDefault(x => Matches(x, tenant));
        if (!alias && t is null)
        {
            return EntraErrors.Error(c, 400, "invalid_request", 90002, $"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.");
        }

        IFormCollection form = c.Request.ReadFormAsync().GetAwaiter().GetResult();
        string clientId = form["client_id"].ToString();
        AppConfig? app = (t is null ? state.Config.Tenants.SelectMany(x => x.Apps) : t.Apps).FirstOrDefault(a => string.Equals(a.ClientId, clientId, StringComparison.OrdinalIgnoreCase));
        if (app is null)
        {
            return EntraErrors.Error(c, 400, "unauthorized_client", 700016, $"Application with identifier '{clientId}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.");
        }

        if (!app.PublicClient)
        {
            return EntraErrors.Error(c, 400, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
        }

        string scope = form["scope"].ToString();
        string? resource = ResourceOf(scope);
        if (resource is null || !KnownResource(state, resource))
        {
            return EntraErrors.Error(c, 400, "invalid_scope", 70011, $"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '{scope}'.");
        }

        DeviceCodeConfig settings = state.DeviceCodeSettings;
        string userCode = new(Enumerable.Range(0, 9).Select(_ => UserCodeAlphabet[RandomNumberGenerator.GetInt32(UserCodeAlphabet.Length)]).ToArray());
        string deviceCode = "DAQABIQEAAAB" + Jwt.Base64Url(RandomNumberGenerator.GetBytes(96));
        var record = new DeviceCodeRecord
        {
            DeviceCode = deviceCode,
            UserCode = userCode,
            Tenant = tenant,
            ClientId = app.ClientId,
            Scope = scope,
            IntervalSeconds = settings.IntervalSeconds,
            ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(settings.ExpiresInSeconds),
        };
        state.DeviceCodes[deviceCode] = record;
        string verification = state.HttpsBase.TrimEnd('/') + "/devicelogin";
        Console.Error.WriteLine($"fixture: device code issued to {app.ClientId} for {resource}");
        return Results.Json(new Dictionary<string, object>
        {
            ["user_code"] = userCode,
            ["device_code"] = deviceCode,
            ["verification_uri"] = verification,
            ["expires_in"] = settings.ExpiresInSeconds,
            ["interval"] = settings.IntervalSeconds,
            ["message"] = $"To sign in, use a web browser to open the page {verification} and enter the code {userCode} to authenticate.",
        });
    }

    /// <summary>The token endpoint's device_code grant.</summary>
    public static IResult Poll(HttpContext c, FixtureState state, IFormCollection form)
    {
        string code = form["device_code"].ToString();
        if (!state.DeviceCodes.TryGetValue(code, out DeviceCodeRecord? r) || !string.Equals(r.ClientId, form["client_id"].ToString(), StringComparison.OrdinalIgnoreCase))
        {
            return EntraErrors.Error(c, 400, "bad_verification_code", 70000, "The provided value for the input parameter 'device_code' is not valid.");
        }

        lock (r)
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            string answer;
            IResult result;
            if (r.State == "redeemed")
            {
                answer = "invalid_grant";
                result = EntraErrors.Error(c, 400, "invalid_grant", 70000, "The provided value for the input parameter 'device_code' is not valid. It has already been redeemed.");
            }
            else if (now >= r.ExpiresAt)
            {
                answer = "expired_token";
                result = EntraErrors.Error(c, 400, "expired_token", 70020, "The provided value for the input parameter 'device_code' is not valid. This device code has expired.");
            }
            else if (r.NotBefore is DateTimeOffset notBefore && now < notBefore)
            {
                r.TooFast++;
                answer = SlowDown(r, now, out result, c);
            }
            else if (r.SlowDownsToSend > 0)
            {
                r.SlowDownsToSend--;
                answer = SlowDown(r, now, out result, c);
            }
            else if (r.State == "denied")
            {
                answer = r.DenyError ?? "authorization_declined";
                result = EntraErrors.Error(c, 400, answer, 70000, "The user has declined to authorize the device sign-in.");
            }
            else if (r.State == "approved")
            {
                answer = "token";
                r.State = "redeemed";
                state.CountGrant("device_code");
                result = UserTokens(c, state, r.UserTenant!, r.ClientId, r.User!, r.Scope);
            }
            else
            {
                answer = "authorization_pending";
                r.NotBefore = now + TimeSpan.FromSeconds(r.IntervalSeconds + r.ExtraSeconds) - Tolerance;
                result = EntraErrors.Error(c, 400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.");
            }

            r.Polls.Add((now, answer));
            return result;
        }
    }

    private static string SlowDown(DeviceCodeRecord r, DateTimeOffset now, out IResult result, HttpContext c)
    {
        r.ExtraSeconds += 5;
        r.NotBefore = now + TimeSpan.FromSeconds(r.IntervalSeconds + r.ExtraSeconds) - Tolerance;
        result = EntraErrors.Error(c, 400, "slow_down", 70016, "OAuth 2.0 device flow error. The client is polling too frequently: poll less often (add 5 seconds to the interval).");
        return "slow_down";
    }

    /// <summary>The token endpoint's refresh_token grant (a person's silent renewal).</summary>
    public static IResult Refresh(HttpContext c, FixtureState state, IFormCollection form)
    {
        string token = form["refresh_token"].ToString();
        if (!state.RefreshTokens.TryGetValue(token, out RefreshGrant? grant) || !string.Equals(grant.ClientId, form["client_id"].ToString(), StringComparison.OrdinalIgnoreCase))
        {
            return EntraErrors.Error(c, 400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid. The refresh token is not valid.");
        }

        string scope = form["scope"].ToString();
        if (ResourceOf(scope) is null)
        {
            scope = grant.Scope;
        }

        state.CountGrant("refresh_token");
        return UserTokens(c, state, grant.TenantId, grant.ClientId, grant.User, scope);
    }

    private static IResult UserTokens(HttpContext c, FixtureState state, string tenantId, string clientId, UserConfig user, string scope)
    {
        string resource = ResourceOf(scope)!;
        if (!KnownResource(state, resource))
        {
            return EntraErrors.Error(c, 400, "invalid_resource", 500011, $"The resource principal named {resource} was not found in the tenant named {tenantId}.");
        }

        AppConfig? app = state.Config.Tenants.SelectMany(t => t.Apps).FirstOrDefault(a => string.Equals(a.ClientId, clientId, StringComparison.OrdinalIgnoreCase));
        int lifetime = app?.TokenLifetimeSeconds ?? state.Config.TokenLifetimeSeconds;
        string accessToken = state.IssueToken("user", tenantId, clientId, user.ObjectId, resource, lifetime, user);
        string refreshToken = "1.AQ" + Jwt.Base64Url(RandomNumberGenerator.GetBytes(120));
        string resourceScope = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).First(s => s.EndsWith("/.default", StringComparison.Ordinal));
        state.RefreshTokens[refreshToken] = new RefreshGrant(tenantId, clientId, user, resourceScope);
        string host = "https://" + c.Request.Host;
        string idToken = state.IssueIdToken(host, tenantId, clientId, user, 3600);
        string clientInfo = Jwt.Base64Url(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { uid = user.ObjectId, utid = tenantId })));
        Console.Error.WriteLine($"fixture: user token issued to {user.UserPrincipalName} through {clientId} for {resource}, {lifetime} s");
        return Results.Json(new Dictionary<string, object>
        {
            ["token_type"] = "Bearer",
            ["scope"] = resourceScope,
            ["expires_in"] = lifetime,
            ["ext_expires_in"] = lifetime,
            ["access_token"] = accessToken,
            ["refresh_token"] = refreshToken,
            ["id_token"] = idToken,
            ["client_info"] = clientInfo,
        });
    }

    public static bool IsAlias(string tenant) => tenant is "organizations" or "common";

    private static bool Matches(TenantConfig t, string tenant)
        => string.Equals(t.TenantId, tenant, StringComparison.OrdinalIgnoreCase) || (t.Domain is not null && string.Equals(t.Domain, tenant, StringComparison.OrdinalIgnoreCase));

    private static string? ResourceOf(string scope)
    {
        string? first = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(s => s.EndsWith("/.default", StringComparison.Ordinal));
        return first?[..^"/.default".Length];
    }

    private static bool KnownResource(FixtureState state, string resource)
    {
        string r = resource.TrimEnd('/');
        return string.Equals(r, state.HttpsBase.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)
            || state.Config.Resources.Any(k => string.Equals(k.TrimEnd('/'), r, StringComparison.OrdinalIgnoreCase));
    }
}
