using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using Microsoft.Identity.Client;

namespace AzBillingPS.Engine.Auth;

/// <summary>
/// The HTTP client of the module's public-client (user) sign-ins. It adds what MSAL's device code flow lacks: RFC 8628's
/// <c>slow_down</c> answer. MSAL waits <c>interval</c> seconds after <c>authorization_pending</c> but fails on
/// <c>slow_down</c>; here a <c>slow_down</c> answer adds five seconds to the interval "for this and all subsequent requests"
/// of that device code, waits, and polls again, so MSAL only ever sees the other answers. Nothing is logged that holds the
/// device code: it is the key of the state, never text.
/// </summary>
internal sealed class DeviceCodePolling : DelegatingHandler, IMsalHttpClientFactory
{
    private const string DeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
    private static readonly TimeSpan SlowDownStep = TimeSpan.FromSeconds(5);

    /// <summary>The log of the sign-in in progress (set by the provider around MSAL's call; flows with it).</summary>
    internal static readonly AsyncLocal<IEngineLog?> Log = new();

    private readonly ConcurrentDictionary<string, PollState> _codes = new(StringComparer.Ordinal);
    private readonly HttpClient _client;

    private DeviceCodePolling()
        : base(new HttpClientHandler())
    {
        _client = new HttpClient(this, disposeHandler: false) { MaxResponseContentBufferSize = 1024 * 1024 };
    }

    /// <summary>One for the process, like MSAL's own default client.</summary>
    public static DeviceCodePolling Instance { get; } = new();

    public HttpClient GetHttpClient() => _client;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method != HttpMethod.Post || request.Content is null)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        byte[] body = await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        string? deviceCode = DeviceCodeOf(body);
        if (deviceCode is null)
        {
            HttpResponseMessage other = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (request.RequestUri?.AbsolutePath.EndsWith("/devicecode", StringComparison.OrdinalIgnoreCase) == true && other.IsSuccessStatusCode)
            {
                await RememberAsync(other, cancellationToken).ConfigureAwait(false);
            }

            return other;
        }

        PollState state = _codes.GetOrAdd(deviceCode, _ => new PollState(TimeSpan.FromSeconds(5), DateTimeOffset.MaxValue));
        if (state.Extra > TimeSpan.Zero)
        {
            // MSAL waited the interval; the slow_down increase comes on top, for every later poll of this code.
            await Task.Delay(state.Extra, cancellationToken).ConfigureAwait(false);
        }

        HttpRequestMessage attempt = request;
        while (true)
        {
            HttpResponseMessage response = await base.SendAsync(attempt, cancellationToken).ConfigureAwait(false);
            string? error = await ErrorOfAsync(response, cancellationToken).ConfigureAwait(false);
            if (error != "slow_down")
            {
                if (error != "authorization_pending")
                {
                    _codes.TryRemove(deviceCode, out _); // answered for good: success or a final error
                }

                return response;
            }

            state.Extra += SlowDownStep;
            TimeSpan wait = state.Interval + state.Extra;
            if (DateTimeOffset.UtcNow + wait >= state.ExpiresOn)
            {
                _codes.TryRemove(deviceCode, out _);
                return response; // MSAL reports it; the code is about to expire anyway
            }

            Log.Value?.Verbose(string.Create(CultureInfo.InvariantCulture, $"Entra ID asked to poll more slowly (slow_down): polling every {wait.TotalSeconds:0} s from now on."));
            response.Dispose();
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            attempt = Copy(request, body);
        }
    }

    private async Task RememberAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await response.Content.LoadIntoBufferAsync().ConfigureAwait(false);
            using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            JsonElement root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("device_code", out JsonElement code) && code.ValueKind == JsonValueKind.String)
            {
                int interval = Number(root, "interval") ?? 5;
                int expiresIn = Number(root, "expires_in") ?? 900;
                if (_codes.Count > 64)
                {
                    foreach (string stale in _codes.Where(c => c.Value.ExpiresOn < DateTimeOffset.UtcNow).Select(c => c.Key).ToList())
                    {
                        _codes.TryRemove(stale, out _);
                    }
                }

                _codes[code.GetString()!] = new PollState(TimeSpan.FromSeconds(Math.Max(1, interval)), DateTimeOffset.UtcNow.AddSeconds(expiresIn));
            }
        }
        catch (JsonException)
        {
            // MSAL reports a malformed answer itself.
        }
    }

    private static int? Number(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out JsonElement v))
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.Number when v.TryGetInt32(out int n) => n,
            JsonValueKind.String when int.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) => s,
            _ => null,
        };
    }

    private static string? DeviceCodeOf(byte[] body)
    {
        string form = Encoding.UTF8.GetString(body);
        string? grant = null;
        string? code = null;
        foreach (string pair in form.Split('&'))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            string name = WebUtility.UrlDecode(pair[..eq]);
            if (name == "grant_type")
            {
                grant = WebUtility.UrlDecode(pair[(eq + 1)..]);
            }
            else if (name == "device_code")
            {
                code = WebUtility.UrlDecode(pair[(eq + 1)..]);
            }
        }

        return grant is DeviceCodeGrant or "device_code" ? code : null; // MSAL sends the short name
    }

    private static async Task<string?> ErrorOfAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if ((int)response.StatusCode < 400 || response.Content is null)
        {
            return null;
        }

        try
        {
            await response.Content.LoadIntoBufferAsync().ConfigureAwait(false);
            using JsonDocument doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out JsonElement e) && e.ValueKind == JsonValueKind.String
                ? e.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static HttpRequestMessage Copy(HttpRequestMessage request, byte[] body)
    {
        var copy = new HttpRequestMessage(request.Method, request.RequestUri) { Version = request.Version, VersionPolicy = request.VersionPolicy };
        foreach (var header in request.Headers)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        var content = new ByteArrayContent(body);
        foreach (var header in request.Content!.Headers)
        {
            content.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        copy.Content = content;
        return copy;
    }

    private sealed class PollState(TimeSpan interval, DateTimeOffset expiresOn)
    {
        public TimeSpan Interval { get; } = interval;

        public DateTimeOffset ExpiresOn { get; } = expiresOn;

        public TimeSpan Extra { get; set; }
    }
}
