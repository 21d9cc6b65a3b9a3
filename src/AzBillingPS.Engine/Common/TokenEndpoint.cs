using System;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;

namespace AzBillingPS.Engine.Common;

/// <summary>
/// The one place that decides whether a request may carry a bearer token. A token is only ever sent to the endpoint
/// it was issued for, as configured (the <c>-Cloud</c> table's or an override such as <c>-ResourceManagerUrl</c>): the
/// same scheme, the exact host and the exact port. The endpoint itself must be https; plain http is accepted only when
/// the endpoint is a loopback address (a local stand-in). Whatever a service answers about where to go next (a
/// <c>Location</c>, a <c>nextLink</c>, a redirect) passes the same rule before a request with the token is made; a
/// relative link is resolved against the request it came with. Anything else is an <see cref="EngineException"/> of
/// kind <see cref="EngineErrorKind.TokenHostRefused"/> that names the host, and nothing is sent.
/// <para>Every token-carrying HTTP request sets its Authorization header through <see cref="Authorize"/>, on a
/// handler from <see cref="CreateHandler"/> (no automatic redirects: a redirect is an answer the caller checks here).
/// A token for a non-HTTP endpoint (a database over TDS) goes through <see cref="EnsureServer"/>.</para>
/// </summary>
internal sealed class TokenEndpoint
{
    private TokenEndpoint(Uri endpoint, string audience)
    {
        Endpoint = endpoint;
        Audience = audience;
    }

    /// <summary>The endpoint tokens may go to (scheme, host and port are what count).</summary>
    public Uri Endpoint { get; }

    /// <summary>What the endpoint is, for messages: "Resource Manager", "the storage account", "the database".</summary>
    public string Audience { get; }

    /// <summary>scheme://host:port of the endpoint, the port always written.</summary>
    public string Authority => AuthorityOf(Endpoint);

    /// <summary>The Resource Manager endpoint in use (Cost Management and the subscription list live there).</summary>
    public static TokenEndpoint ResourceManager(Uri resourceManagerUrl) => For(resourceManagerUrl, "Resource Manager", "ResourceManagerUrl");

    /// <summary>
    /// The endpoint a token for <paramref name="audience"/> may go to: <paramref name="endpoint"/> after
    /// <see cref="RequireEndpoint"/> (so a bad override is an InvalidArgument naming <paramref name="parameterName"/>).
    /// </summary>
    public static TokenEndpoint For(Uri endpoint, string audience, string parameterName)
    {
        ArgumentException.ThrowIfNullOrEmpty(audience);
        return new TokenEndpoint(RequireEndpoint(endpoint, parameterName), audience);
    }

    /// <summary>
    /// Checks an endpoint given by the user or a cloud table (<c>-ResourceManagerUrl</c>, a storage account URL, ...):
    /// absolute, https (http only for a loopback address), no user name or password in it. Returns it unchanged;
    /// throws InvalidArgument naming <paramref name="parameterName"/> otherwise.
    /// </summary>
    public static Uri RequireEndpoint(Uri? endpoint, string parameterName, bool allowLoopbackHttp = true)
    {
        string? why = null;
        if (endpoint is null || !endpoint.IsAbsoluteUri)
        {
            why = "it is not an absolute URL";
        }
        else if (endpoint.Scheme == Uri.UriSchemeHttp && !(allowLoopbackHttp && IsLoopback(endpoint.Host)))
        {
            why = allowLoopbackHttp ? "plain http is accepted only for a loopback address (127.0.0.1, ::1, localhost)" : "plain http is not accepted";
        }
        else if (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp)
        {
            why = $"the scheme '{endpoint.Scheme}' is not https";
        }
        else if (!string.IsNullOrEmpty(endpoint.UserInfo))
        {
            why = "it carries a user name";
        }

        if (why is not null)
        {
            string shown = endpoint is null ? "(none)" : endpoint.IsAbsoluteUri ? AuthorityOf(endpoint) : endpoint.OriginalString;
            throw new EngineException(
                EngineErrorKind.InvalidArgument,
                $"{parameterName} must be an https URL{(allowLoopbackHttp ? " (http only for a loopback address)" : string.Empty)}; got '{shown}': {why}. Tokens are sent only to the endpoint it names.");
        }

        return endpoint!;
    }

    /// <summary>True for 127.0.0.0/8, ::1 and localhost.</summary>
    public static bool IsLoopback(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        string h = host.Trim('[', ']');
        if (h.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(h, out IPAddress? ip) && IPAddress.IsLoopback(ip);
    }

    /// <summary>True when a request to <paramref name="target"/> may carry the token.</summary>
    public bool Allows(Uri target) => Refusal(target) is null;

    /// <summary>Returns <paramref name="target"/> when it may carry the token; throws TokenHostRefused otherwise. <paramref name="what"/> says where the address came from.</summary>
    public Uri Check(Uri target, string what)
    {
        ArgumentNullException.ThrowIfNull(target);
        string? why = Refusal(target);
        if (why is not null)
        {
            throw Refused(target, what, why);
        }

        return target;
    }

    /// <summary>
    /// A link from a service's answer (a Location, a nextLink): resolved against <paramref name="requestUri"/> when
    /// relative, then checked. <paramref name="what"/> names the answer for messages ("the Location of a 202 answer").
    /// </summary>
    public Uri Follow(Uri requestUri, Uri link, string what)
    {
        ArgumentNullException.ThrowIfNull(requestUri);
        ArgumentNullException.ThrowIfNull(link);
        Uri target = link.IsAbsoluteUri ? link : new Uri(requestUri, link);
        return Check(target, what);
    }

    /// <inheritdoc cref="Follow(Uri, Uri, string)"/>
    public Uri Follow(Uri requestUri, string link, string what)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (!Uri.TryCreate(link, UriKind.RelativeOrAbsolute, out Uri? parsed)
            || (!parsed.IsAbsoluteUri && !Uri.TryCreate(requestUri, parsed, out parsed)))
        {
            throw new EngineException(EngineErrorKind.ServiceError, $"{what} is not a usable URL; not following it.");
        }

        return Follow(requestUri, parsed, what);
    }

    /// <summary>
    /// Puts the bearer token on <paramref name="request"/> after checking its address; throws TokenHostRefused (and
    /// leaves the request without a token) when the address is not this endpoint.
    /// </summary>
    public void Authorize(HttpRequestMessage request, string token, string what)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(token);
        Uri target = request.RequestUri ?? throw new ArgumentException("The request has no address.", nameof(request));
        request.Headers.Authorization = null;
        Check(target, what);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>
    /// For a token sent over another protocol (a database over TDS): <paramref name="host"/> and <paramref name="port"/>
    /// must be this endpoint's, and the connection encrypted unless this endpoint is a loopback http one.
    /// </summary>
    public void EnsureServer(string host, int port, bool encrypted, string what)
    {
        ArgumentNullException.ThrowIfNull(host);
        var target = new UriBuilder(encrypted ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, host.Trim('[', ']'), port).Uri;
        Check(target, what);
    }

    /// <summary>True for the statuses that carry a Location to go to instead (301, 302, 303, 307, 308).</summary>
    public static bool IsRedirect(HttpStatusCode status) => (int)status is 301 or 302 or 303 or 307 or 308;

    /// <summary>
    /// The handler for token-carrying clients: no automatic redirects (the caller follows a redirect only through
    /// <see cref="Follow(Uri, Uri, string)"/>), no cookies, decompression of gzip/deflate/brotli answers.
    /// </summary>
    public static SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.All,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    };

    /// <summary>scheme://host:port of an absolute URI (never its path, query or user info).</summary>
    public static string AuthorityOf(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri)
        {
            return uri.OriginalString;
        }

        string host = uri.HostNameType == UriHostNameType.IPv6 ? "[" + uri.IdnHost.Trim('[', ']') + "]" : uri.IdnHost;
        return string.Create(CultureInfo.InvariantCulture, $"{uri.Scheme}://{host}:{uri.Port}");
    }

    private string? Refusal(Uri target)
    {
        if (!target.IsAbsoluteUri)
        {
            return "it is a relative address";
        }

        if (!string.Equals(target.Scheme, Endpoint.Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return target.Scheme == Uri.UriSchemeHttp ? "it is plain http" : $"its scheme is {target.Scheme}, not {Endpoint.Scheme}";
        }

        if (!string.Equals(target.IdnHost, Endpoint.IdnHost, StringComparison.OrdinalIgnoreCase))
        {
            return string.IsNullOrEmpty(target.UserInfo) ? "it is another host" : $"it is another host, behind a user name '{target.UserInfo}@'";
        }

        if (target.Port != Endpoint.Port)
        {
            return "it is another port";
        }

        if (!string.IsNullOrEmpty(target.UserInfo))
        {
            return "it carries a user name before the host";
        }

        return null;
    }

    private EngineException Refused(Uri target, string what, string why)
        => new(
            EngineErrorKind.TokenHostRefused,
            $"{what} points to {AuthorityOf(target)} ({why}); the {Audience} token is sent only to {Authority}, the endpoint in use. No request was sent there.");
}
