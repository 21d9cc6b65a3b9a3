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

    /// <summary>An access token shaped like Entra's (a v1 app token), signed with the fixture's key.</summary>
    public string IssueToken(string kind, string tenantId, string clientId, string objectId, string resource, int lifetimeSeconds)
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

internal sealed record IssuedToken(string Kind, string ClientId, string AccessToken, DateTimeOffset ExpiresOn)
{
    public long Sequence { get; init; }

    public string Resource { get; init; } = string.Empty;

    public string TenantId { get; init; } = string.Empty;
}
