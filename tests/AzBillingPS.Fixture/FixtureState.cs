using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading;

namespace AzBillingPS.Fixture;

/// <summary>What the fixture remembers while it runs: issued tokens (for the tests' leak checks), used jti values, its signing key.</summary>
internal sealed class FixtureState
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _usedJti = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<IssuedToken> _issued = new();
    private readonly ConcurrentDictionary<string, IssuedToken> _byToken = new(StringComparer.Ordinal);
    private long _issuedCount;
    private long _revokedThrough;
    private readonly ConcurrentQueue<string> _assertions = new();
    private int _requests;

    public FixtureState(FixtureConfig config)
    {
        Config = config;
    }

    public FixtureConfig Config { get; }

    public RSA SigningKey { get; } = RSA.Create(2048);

    public string HttpsBase { get; set; } = string.Empty;

    public string HttpBase { get; set; } = string.Empty;

    public IReadOnlyCollection<IssuedToken> Issued => _issued.ToArray();

    public int TokenRequests => _requests;

    public void CountRequest() => Interlocked.Increment(ref _requests);

    /// <summary>Client assertions received (certificate-signed or federated), for the tests' leak checks.</summary>
    public IReadOnlyCollection<string> Assertions => _assertions.ToArray();

    public void RecordAssertion(string assertion) => _assertions.Enqueue(assertion);

    /// <summary>False when the jti was seen before (a replayed assertion).</summary>
    public bool UseJti(string jti, DateTimeOffset expires) => _usedJti.TryAdd(jti, expires);

    /// <summary>Device codes (the flow's pending sign-ins), by device code.</summary>
    public ConcurrentDictionary<string, DeviceCodeRecord> DeviceCodes { get; } = new(StringComparer.Ordinal);

    /// <summary>Refresh tokens issued to people, with who they sign in.</summary>
    public ConcurrentDictionary<string, RefreshGrant> RefreshTokens { get; } = new(StringComparer.Ordinal);

    private readonly ConcurrentQueue<string> _idTokens = new();
    private readonly ConcurrentDictionary<string, int> _grants = new(StringComparer.Ordinal);

    /// <summary>ID tokens issued (they name the person; the leak checks search for them too).</summary>
    public IReadOnlyCollection<string> IdTokens => _idTokens.ToArray();

    /// <summary>Tokens issued per grant type.</summary>
    public IReadOnlyDictionary<string, int> Grants => new Dictionary<string, int>(_grants);

    public void CountGrant(string grant) => _grants.AddOrUpdate(grant, 1, (_, n) => n + 1);

    /// <summary>The current device code settings (the configuration's, or what a test set).</summary>
    public DeviceCodeConfig DeviceCodeSettings { get; set; } = new();

    /// <summary>An ID token for a person (v2.0), signed with the fixture's key.</summary>
    public string IssueIdToken(string issuerBase, string tenantId, string clientId, UserConfig user, int lifetimeSeconds)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new Dictionary<string, object>
        {
            ["aud"] = clientId,
            ["iss"] = $"{issuerBase}/{tenantId}/v2.0",
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + lifetimeSeconds,
            ["name"] = user.DisplayName,
            ["oid"] = user.ObjectId,
            ["preferred_username"] = user.UserPrincipalName,
            ["sub"] = Jwt.Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes(user.ObjectId + clientId))),
            ["tid"] = tenantId,
            ["ver"] = "2.0",
        };
        string token = Sign(payload);
        _idTokens.Enqueue(token);
        return token;
    }

    private string Sign(Dictionary<string, object> payload)
    {
        var header = new Dictionary<string, object> { ["typ"] = "JWT", ["alg"] = "RS256", ["kid"] = "azbillingps-fixture" };
        string input = Jwt.Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Jwt.Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload));
        byte[] signature = SigningKey.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + Jwt.Base64Url(signature);
    }

    /// <summary>An access token shaped like Entra's (a v1 app token), signed with the fixture's key.</summary>
    public string IssueToken(string kind, string tenantId, string clientId, string objectId, string resource, int lifetimeSeconds)
        => IssueToken(kind, tenantId, clientId, objectId, resource, lifetimeSeconds, null);

    /// <summary>An access token; with <paramref name="user"/>, a delegated (user) token with upn, name and scp.</summary>
    public string IssueToken(string kind, string tenantId, string clientId, string objectId, string resource, int lifetimeSeconds, UserConfig? user)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new Dictionary<string, object> { ["typ"] = "JWT", ["alg"] = "RS256", ["kid"] = "azbillingps-fixture" };
        var payload = new Dictionary<string, object>
        {
            ["aud"] = resource,
            ["iss"] = $"https://sts.windows.net/{tenantId}/",
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + lifetimeSeconds,
            ["appid"] = clientId,
            ["appidacr"] = "2",
            ["idtyp"] = "app",
            ["oid"] = objectId,
            ["sub"] = objectId,
            ["tid"] = tenantId,
            ["uti"] = Jwt.Base64Url(RandomNumberGenerator.GetBytes(16)),
            ["ver"] = "1.0",
        };
        if (user is not null)
        {
            payload["idtyp"] = "user";
            payload["upn"] = user.UserPrincipalName;
            payload["unique_name"] = user.UserPrincipalName;
            payload["name"] = user.DisplayName;
            payload["scp"] = "user_impersonation";
            payload["appidacr"] = "0";
        }

        string input = Jwt.Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Jwt.Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload));
        byte[] signature = SigningKey.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        string token = input + "." + Jwt.Base64Url(signature);
        var issued = new IssuedToken(kind, clientId, token, DateTimeOffset.UtcNow.AddSeconds(lifetimeSeconds))
        {
            Sequence = Interlocked.Increment(ref _issuedCount),
            Resource = resource,
            TenantId = tenantId,
        };
        _byToken[token] = issued;
        _issued.Enqueue(issued);
        return token;
    }

    /// <summary>The token this fixture issued with exactly this text, or null.</summary>
    public IssuedToken? FindToken(string token) => _byToken.TryGetValue(token, out IssuedToken? t) ? t : null;

    /// <summary>Revokes every token issued so far (tokens issued later stay valid); returns how many are now revoked.</summary>
    public long RevokeAll()
    {
        long through = Interlocked.Read(ref _issuedCount);
        Interlocked.Exchange(ref _revokedThrough, through);
        return through;
    }

    public bool IsRevoked(IssuedToken token) => token.Sequence <= Interlocked.Read(ref _revokedThrough);
}

/// <summary>One device code sign-in: what was asked, what the person did, and every poll with its answer.</summary>
internal sealed class DeviceCodeRecord
{
    public required string DeviceCode { get; init; }

    public required string UserCode { get; init; }

    public required string Tenant { get; init; }

    public required string ClientId { get; init; }

    public required string Scope { get; init; }

    public required int IntervalSeconds { get; init; }

    public DateTimeOffset CreatedAt { get; } = DateTimeOffset.UtcNow;

    public required DateTimeOffset ExpiresAt { get; set; }

    /// <summary>pending, approved, denied, redeemed.</summary>
    public string State { get; set; } = "pending";

    public string? DenyError { get; set; }

    public UserConfig? User { get; set; }

    public string? UserTenant { get; set; }

    /// <summary>slow_down answers still to give (a test asks for them).</summary>
    public int SlowDownsToSend { get; set; }

    /// <summary>Seconds added to the interval by slow_down answers so far.</summary>
    public int ExtraSeconds { get; set; }

    /// <summary>The earliest time the next poll is within the interval; an earlier poll gets slow_down.</summary>
    public DateTimeOffset? NotBefore { get; set; }

    public List<(DateTimeOffset Time, string Answer)> Polls { get; } = [];

    /// <summary>Polls that came before the interval (plus slow_down increases) had passed.</summary>
    public int TooFast { get; set; }
}

/// <summary>What a refresh token stands for.</summary>
internal sealed record RefreshGrant(string TenantId, string ClientId, UserConfig User, string Scope);

internal sealed record IssuedToken(string Kind, string ClientId, string AccessToken, DateTimeOffset ExpiresOn)
{
    public long Sequence { get; init; }

    public string Resource { get; init; } = string.Empty;

    public string TenantId { get; init; } = string.Empty;
}
