using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Sync;

/// <summary>One subscription the identity can see.</summary>
internal sealed record AzureSubscription(string SubscriptionId, string DisplayName, string State, string? TenantId)
{
    /// <summary>The cost scope of the subscription: /subscriptions/{id}, normalised.</summary>
    public string Scope => CostScope.Normalize(SubscriptionId);
}

/// <summary>
/// Lists the subscriptions an identity can read, for Sync-AzBilling -AllSubscriptions:
/// <c>GET {ResourceManagerUrl}/subscriptions?api-version=2022-12-01</c>, following <c>nextLink</c>, with the bearer
/// token of an <see cref="AccessTokenProvider"/>. Throttling (429) and server errors (5xx) are retried a few times
/// after the service's Retry-After; everything else is an <see cref="EngineException"/> naming the status and the
/// service's error code.
/// </summary>
internal sealed class SubscriptionLister : IDisposable
{
    public const string ApiVersion = "2022-12-01";

    /// <summary>States whose subscriptions are skipped: their costs cannot be read any more.</summary>
    public static readonly IReadOnlyList<string> SkippedStates = new[] { "Deleted" };

    private const int MaxAttempts = 4;
    private const int MaxPages = 1000;
    private readonly HttpClient _http;
    private readonly bool _ownsClient;

    public SubscriptionLister(HttpClient? http = null)
    {
        _ownsClient = http is null;
        _http = http ?? new HttpClient(TokenEndpoint.CreateHandler()) { Timeout = TimeSpan.FromSeconds(100) };
    }

    /// <summary>Every subscription (of every page), in the service's order; those in <see cref="SkippedStates"/> are left out with a verbose line.</summary>
    public async Task<IReadOnlyList<AzureSubscription>> ListAsync(AccessTokenProvider tokens, IEngineLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(log);
        var result = new List<AzureSubscription>();
        TokenEndpoint endpoint = TokenEndpoint.ResourceManager(tokens.ResourceManagerUrl);
        Uri? next = new(tokens.ResourceManagerUrl.AbsoluteUri.TrimEnd('/') + "/subscriptions?api-version=" + ApiVersion);
        int pages = 0;
        while (next is not null)
        {
            if (++pages > MaxPages)
            {
                throw new EngineException(EngineErrorKind.ServiceError, $"The subscription list did not end after {MaxPages} pages; giving up.");
            }

            log.Verbose($"GET {next.GetLeftPart(UriPartial.Path)} (subscriptions, page {pages}).");
            (JsonDocument page, Uri answered) = await GetAsync(next, endpoint, tokens, log, cancellationToken).ConfigureAwait(false);
            using JsonDocument pageDocument = page;
            JsonElement root = page.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("value", out JsonElement value) || value.ValueKind != JsonValueKind.Array)
            {
                throw new EngineException(EngineErrorKind.ServiceError, $"The subscription list from {tokens.ResourceManagerUrl} has no 'value' array.");
            }

            foreach (JsonElement s in value.EnumerateArray())
            {
                string? id = Str(s, "subscriptionId") ?? LastSegment(Str(s, "id"));
                if (string.IsNullOrWhiteSpace(id))
                {
                    continue;
                }

                var sub = new AzureSubscription(id, Str(s, "displayName") ?? id, Str(s, "state") ?? "Unknown", Str(s, "tenantId"));
                if (SkippedStates.Contains(sub.State, StringComparer.OrdinalIgnoreCase))
                {
                    log.Verbose($"Skipping subscription {sub.SubscriptionId} ('{sub.DisplayName}'): its state is {sub.State}.");
                    continue;
                }

                result.Add(sub);
            }

            // The bearer token goes with every page: the next one only where the token may go.
            string? link = Str(root, "nextLink");
            next = string.IsNullOrEmpty(link) ? null : endpoint.Follow(answered, link, $"The nextLink of page {pages} of the subscription list");
        }

        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{result.Count} subscription(s) listed in {pages} page(s)."));
        return result;
    }

    /// <summary>One page (following same-endpoint redirects by hand) and the address that answered it.</summary>
    private async Task<(JsonDocument Page, Uri Answered)> GetAsync(Uri uri, TokenEndpoint endpoint, AccessTokenProvider tokens, IEngineLog log, CancellationToken cancellationToken)
    {
        int redirects = 0;
        for (int attempt = 1; ; attempt++)
        {
            AccessTokenInfo token = await tokens.GetTokenAsync(log, cancellationToken).ConfigureAwait(false);
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            endpoint.Authorize(request, token.Token, "The subscription list request");
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (attempt < MaxAttempts)
            {
                TimeSpan wait = TimeSpan.FromSeconds(Math.Pow(2, attempt));
                log.Warning($"Listing subscriptions failed ({e.Message}); retrying in {wait.TotalSeconds:0} s.");
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (HttpRequestException e)
            {
                throw new EngineException(EngineErrorKind.ServiceError, $"Cannot list subscriptions at {tokens.ResourceManagerUrl}: {e.Message}", e);
            }

            using (response)
            {
                string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                string? correlation = Header(response, "x-ms-correlation-request-id") ?? Header(response, "x-ms-request-id");
                if (response.IsSuccessStatusCode)
                {
                    try
                    {
                        return (JsonDocument.Parse(body), uri);
                    }
                    catch (JsonException e)
                    {
                        throw new EngineException(EngineErrorKind.ServiceError, $"The subscription list from {tokens.ResourceManagerUrl} is not JSON: {e.Message}", e) { CorrelationId = correlation };
                    }
                }

                int status = (int)response.StatusCode;
                if (TokenEndpoint.IsRedirect(response.StatusCode) && response.Headers.Location is Uri location && ++redirects <= MaxAttempts)
                {
                    uri = endpoint.Follow(uri, location, string.Create(CultureInfo.InvariantCulture, $"The redirect ({status}) answered to the subscription list request"));
                    attempt--;
                    continue;
                }

                if ((status == 429 || status >= 500) && attempt < MaxAttempts)
                {
                    TimeSpan wait = RetryAfter(response) ?? TimeSpan.FromSeconds(Math.Pow(2, attempt));
                    log.Warning(string.Create(CultureInfo.InvariantCulture, $"Listing subscriptions answered {status}; waiting {wait.TotalSeconds:0.#} s before retrying."));
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                (string? code, string? message) = ReadError(body);
                string text = string.Create(CultureInfo.InvariantCulture,
                    $"Listing subscriptions at {tokens.ResourceManagerUrl} as {tokens.Who} failed with {status} {response.ReasonPhrase}{(code is null ? string.Empty : ": " + code)}{(message is null ? string.Empty : ": " + message)}");
                EngineErrorKind kind = response.StatusCode switch
                {
                    HttpStatusCode.Unauthorized => EngineErrorKind.AuthenticationFailed,
                    HttpStatusCode.Forbidden => EngineErrorKind.PermissionDenied,
                    HttpStatusCode.NotFound => EngineErrorKind.NotFound,
                    HttpStatusCode.TooManyRequests => EngineErrorKind.Throttled,
                    _ => EngineErrorKind.ServiceError,
                };
                throw new EngineException(kind, text) { ServiceCode = code, CorrelationId = correlation };
            }
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        double best = -1;
        foreach (KeyValuePair<string, IEnumerable<string>> h in response.Headers)
        {
            if (h.Key.Equals("Retry-After", StringComparison.OrdinalIgnoreCase) || h.Key.EndsWith("-retry-after", StringComparison.OrdinalIgnoreCase))
            {
                foreach (string v in h.Value)
                {
                    if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > best)
                    {
                        best = s;
                    }
                }
            }
        }

        if (best < 0)
        {
            return null;
        }

        return TimeSpan.FromSeconds(Math.Min(best, 300));
    }

    private static (string? Code, string? Message) ReadError(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out JsonElement e) && e.ValueKind == JsonValueKind.Object)
            {
                return (Str(e, "code"), Str(e, "message"));
            }
        }
        catch (JsonException)
        {
        }

        return (null, null);
    }

    private static string? Header(HttpResponseMessage r, string name)
        => r.Headers.TryGetValues(name, out IEnumerable<string>? v) ? v.FirstOrDefault() : null;

    private static string? Str(JsonElement e, string name)
        => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string? LastSegment(string? id) => id?.TrimEnd('/').Split('/').LastOrDefault();

    public void Dispose()
    {
        if (_ownsClient)
        {
            _http.Dispose();
        }
    }
}
