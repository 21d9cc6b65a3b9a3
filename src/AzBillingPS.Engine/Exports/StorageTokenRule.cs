using System;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Exports;

/// <summary>
/// Whether a storage request may carry the Entra token: only to the storage account endpoint the caller configured
/// (same scheme, host and port), over https; plain http only when that endpoint is itself a loopback address (Azurite).
/// Every request the exports reader sends with a token passes here first (listings, manifests, parts), so neither a
/// listing's continuation nor a redirect (never followed) can carry the token elsewhere.
/// </summary>
public static class StorageTokenRule
{
    /// <summary>The Blob service version the requests ask for (supports bearer tokens and List Blobs paging).</summary>
    public const string ServiceVersion = "2023-11-03";

    /// <summary>Throws unless a request to <paramref name="request"/> may carry the token of <paramref name="endpoint"/>.</summary>
    public static void EnsureAllowed(Uri request, Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!IsAllowed(request, endpoint))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                $"The storage token is only sent to {Origin(endpoint)} over https (plain http to a loopback endpoint only); a request to {Origin(request)} was refused before it was sent.");
        }
    }

    public static bool IsAllowed(Uri request, Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!request.IsAbsoluteUri || !endpoint.IsAbsoluteUri)
        {
            return false;
        }

        bool sameOrigin = string.Equals(request.Scheme, endpoint.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(request.IdnHost, endpoint.IdnHost, StringComparison.OrdinalIgnoreCase)
            && request.Port == endpoint.Port;
        if (!sameOrigin || !string.IsNullOrEmpty(request.UserInfo))
        {
            return false;
        }

        return string.Equals(request.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase)
            || (string.Equals(request.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase) && BlobLink.IsLoopback(endpoint));
    }

    private static string Origin(Uri u) => u.IsAbsoluteUri ? $"{u.Scheme}://{u.Authority}" : "(a relative address)";
}
