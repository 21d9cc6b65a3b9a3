using System;
using System.Globalization;
using Microsoft.Identity.Client;

namespace AzBillingPS.Engine.Auth;

/// <summary>
/// What one sign-in call gave: the token, its expiry, whether it came from a cache, and text for the verbose and debug
/// streams (never the token). MSAL results and tokens from outside sources (the Az PowerShell session, the Azure CLI)
/// come to <see cref="AccessTokenProvider"/> in this one shape.
/// </summary>
internal sealed record AcquiredToken(string AccessToken, DateTimeOffset ExpiresOn, bool FromCache, string? TenantId, string Source, string? Details)
{
    /// <summary>The token of an MSAL result; <see cref="Source"/> says whether MSAL's cache or the service answered.</summary>
    public static AcquiredToken From(AuthenticationResult result)
    {
        bool fromCache = result.AuthenticationResultMetadata?.TokenSource == TokenSource.Cache;
        return new AcquiredToken(
            result.AccessToken,
            result.ExpiresOn,
            fromCache,
            result.TenantId,
            fromCache ? "taken from MSAL's token cache" : "issued by the service",
            string.Create(CultureInfo.InvariantCulture, $"Sign-in correlation id: {result.CorrelationId}; token source: {result.AuthenticationResultMetadata?.TokenSource}; duration: {result.AuthenticationResultMetadata?.DurationTotalInMs} ms."));
    }
}
