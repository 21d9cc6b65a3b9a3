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
        _issued.Enqueue(new IssuedToken(kind, clientId, token, DateTimeOffset.UtcNow.AddSeconds(lifetimeSeconds)));
        return token;
    }
}

internal sealed record IssuedToken(string Kind, string ClientId, string AccessToken, DateTimeOffset ExpiresOn);
