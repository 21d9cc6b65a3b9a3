using System;
using System.Globalization;

namespace AzBillingPS.Engine.Auth;

/// <summary>An access token and its expiry. <see cref="ToString"/> never shows the token.</summary>
public sealed class AccessTokenInfo
{
    public AccessTokenInfo(string token, DateTimeOffset expiresOn, bool fromCache)
    {
        Token = token;
        ExpiresOn = expiresOn;
        FromCache = fromCache;
    }

    /// <summary>The raw bearer token. Never log or display it.</summary>
    public string Token { get; }

    public DateTimeOffset ExpiresOn { get; }

    /// <summary>True when MSAL answered from its in-memory cache.</summary>
    public bool FromCache { get; }

    public override string ToString()
        => "Access token (expires " + ExpiresOn.ToString("u", CultureInfo.InvariantCulture) + ")";
}
