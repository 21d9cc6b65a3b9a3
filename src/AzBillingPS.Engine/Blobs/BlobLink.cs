using System;
using System.Globalization;
using System.Net;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Blobs;

/// <summary>Checks and facts about a SAS blob link that never reveal its signature.</summary>
internal static class BlobLink
{
    /// <summary>
    /// Throws unless the link is absolute https, or http to a loopback address (emulators and tests). The message
    /// shows the link with its signature redacted.
    /// </summary>
    public static void EnsureAllowed(Uri link)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (!link.IsAbsoluteUri)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The blob link '{SasRedactor.Redact(link)}' is not an absolute URL.");
        }

        if (string.Equals(link.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        if (string.Equals(link.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase) && IsLoopback(link))
        {
            return;
        }

        throw new EngineException(
            EngineErrorKind.InvalidArgument,
            $"The blob link '{SasRedactor.Redact(link)}' does not use https. Cost-details blobs are only downloaded over https (plain http is allowed to loopback addresses only, for emulators and tests), so the link's signature is never sent in clear text.");
    }

    /// <summary>True for localhost and 127.0.0.0/8 or ::1 addresses.</summary>
    public static bool IsLoopback(Uri link)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (link.IsLoopback)
        {
            return true;
        }

        return IPAddress.TryParse(link.DnsSafeHost, out IPAddress? address) && IPAddress.IsLoopback(address);
    }

    /// <summary>The link's own expiry (its SAS <c>se</c> parameter), when it has one that parses.</summary>
    public static DateTimeOffset? SignedExpiry(Uri link)
    {
        string? se = QueryValue(link, "se");
        if (se is not null && DateTimeOffset.TryParse(se, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset value))
        {
            return value;
        }

        return null;
    }

    /// <summary>The earlier of the report's validTill and the link's <c>se</c>.</summary>
    public static DateTimeOffset? Expiry(Uri link, DateTimeOffset? validTill)
    {
        DateTimeOffset? se = SignedExpiry(link);
        if (se is null)
        {
            return validTill;
        }

        return validTill is null || se < validTill ? se : validTill;
    }

    /// <summary>Replaces the link's signature (raw and URL-decoded) wherever it appears in <paramref name="text"/>.</summary>
    public static string Scrub(string? text, Uri link)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        string? raw = RawQueryValue(link, "sig");
        if (string.IsNullOrEmpty(raw))
        {
            return text;
        }

        string result = text.Replace(raw, SasRedactor.Placeholder, StringComparison.Ordinal);
        string decoded = Uri.UnescapeDataString(raw);
        if (decoded.Length > 0)
        {
            result = result.Replace(decoded, SasRedactor.Placeholder, StringComparison.Ordinal);
            string escaped = Uri.EscapeDataString(decoded);
            result = result.Replace(escaped, SasRedactor.Placeholder, StringComparison.Ordinal);
        }

        return result;
    }

    /// <summary>True when <paramref name="text"/> holds the link's signature in any spelling.</summary>
    public static bool Reveals(string? text, Uri link)
        => !string.IsNullOrEmpty(text) && !string.Equals(Scrub(text, link), text, StringComparison.Ordinal);

    /// <summary>The blob's identity without the query: scheme, host, port and path (safe to store and show).</summary>
    public static string WithoutQuery(Uri link)
    {
        ArgumentNullException.ThrowIfNull(link);
        return link.GetLeftPart(UriPartial.Path);
    }

    private static string? QueryValue(Uri link, string name)
    {
        string? raw = RawQueryValue(link, name);
        return raw is null ? null : Uri.UnescapeDataString(raw.Replace('+', ' '));
    }

    private static string? RawQueryValue(Uri link, string name)
    {
        ArgumentNullException.ThrowIfNull(link);
        string s = link.OriginalString;
        int q = s.IndexOf('?', StringComparison.Ordinal);
        if (q < 0)
        {
            return null;
        }

        int hash = s.IndexOf('#', q);
        string query = hash < 0 ? s.Substring(q + 1) : s.Substring(q + 1, hash - q - 1);
        foreach (string part in query.Split('&'))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? part : part.Substring(0, eq);
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return eq < 0 ? string.Empty : part.Substring(eq + 1);
            }
        }

        return null;
    }
}
