using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.CostDetails;

/// <summary>Timeouts, waits and limits of <see cref="CostDetailsClient"/>. Client-chosen waits follow the pacing scale (<see cref="InternalHooks"/>).</summary>
public sealed class CostDetailsOptions
{
    /// <summary>How long one report may take from its first request to its manifest, waits included.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long one HTTP exchange may take before it counts as a dropped call and is retried.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>The poll interval when a 202 carries no Retry-After.</summary>
    public TimeSpan DefaultRetryAfter { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The longest poll interval taken from a 202's Retry-After.</summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How 5xx answers, timeouts and dropped connections are retried: the shared Cost Management policy by default.</summary>
    internal RetryPolicy Retry { get; init; } = RetryPolicy.CostManagement;

    // The published limits (a 2022 Microsoft draft; docs/runbook.md): report requests per scope, polls per operation,
    // subscription-scope requests per tenant (which stands for the billing account too: a subscription's account is not
    // known without another call), billing-scope requests per billing account, and every call of one client application.

    public double ScopeCallsPerMinute { get; init; } = 2;

    public int ScopeCallsPerHour { get; init; } = 10;

    public int ScopeCallsPerDay { get; init; } = 50;

    public double PollsPerMinute { get; init; } = 2;

    public double SubscriptionCallsPerMinutePerTenant { get; init; } = 10;

    public double BillingAccountCallsPerMinute { get; init; } = 5;

    public double ClientCallsPerMinute { get; init; } = 30;

    /// <summary>The pacer to share; the process-wide one by default.</summary>
    internal RequestPacer? Pacer { get; init; }

    /// <summary>For tests and proxies: the HTTP handler to use.</summary>
    public HttpMessageHandler? Handler { get; init; }
}

/// <summary>
/// The Cost Management cost-details client: POST generateCostDetailsReport, follow Location with the service's
/// Retry-After until the report is ready, and give back its manifest. Patient with the API: client-side pacing,
/// 429/503 waits that honour every retry-after header, jittered back-off on 5xx and dropped connections, one token
/// renewal on 401, and a deadline per report after which it fails instead of hanging.
/// </summary>
public sealed class CostDetailsClient : IDisposable
{
    private const string ProviderPath = "/providers/Microsoft.CostManagement/";
    private readonly AccessTokenProvider _tokens;
    private readonly CostDetailsOptions _options;
    private const int MaxRedirects = 5;
    private readonly HttpClient _http;
    private readonly RequestPacer _pacer;
    private readonly TokenEndpoint _endpoint;

    public CostDetailsClient(AccessTokenProvider tokens, CostDetailsOptions? options = null)
    {
        _tokens = tokens ?? throw new ArgumentNullException(nameof(tokens));
        _options = options ?? new CostDetailsOptions();
        _pacer = _options.Pacer ?? RequestPacer.Shared;
        _endpoint = TokenEndpoint.ResourceManager(tokens.ResourceManagerUrl);
        HttpMessageHandler handler = _options.Handler ?? TokenEndpoint.CreateHandler();
        _http = new HttpClient(handler, disposeHandler: _options.Handler is null) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("AzBillingPS", typeof(CostDetailsClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A short description of a request for messages: scope, metric and period.</summary>
    public static string Describe(CostReportRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string period = request.InvoiceId is not null ? "invoice " + request.InvoiceId
            : request.BillingPeriod is not null ? "billing period " + request.BillingPeriod
            : string.Create(CultureInfo.InvariantCulture, $"{request.Start:yyyy-MM-dd}..{request.End:yyyy-MM-dd}");
        return $"{request.Scope} {request.Metric} {period}";
    }

    /// <summary>The request body the API takes for <paramref name="request"/>.</summary>
    public static string BuildBody(CostReportRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("metric", request.Metric);
            if (request.InvoiceId is not null)
            {
                w.WriteString("invoiceId", request.InvoiceId);
            }
            else if (request.BillingPeriod is not null)
            {
                w.WriteString("billingPeriod", request.BillingPeriod);
            }
            else if (request.Start is DateOnly s && request.End is DateOnly e)
            {
                w.WriteStartObject("timePeriod");
                w.WriteString("start", s.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                w.WriteString("end", e.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>
    /// How long the first call (the POST) for <paramref name="request"/> would wait for the pacing now, nothing reserved:
    /// a scheduler starts a report when this is zero, so reports are in flight as fast as the limits allow and no call
    /// holds a slot far ahead of others (a poll, whose wait keeps the limits too).
    /// </summary>
    public TimeSpan NextRequestIn(CostReportRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _pacer.Peek(PostLimits(request));
    }

    /// <summary>The limits a report request (POST) counts against: its scope's (per minute, hour and day), its tenant's or billing account's, its client's.</summary>
    private List<PaceLimit> PostLimits(CostReportRequest request)
    {
        string tenant = _tokens.TenantId ?? _tokens.ClientId ?? "tenant";
        string scope = request.Scope.ToLowerInvariant();
        var limits = new List<PaceLimit>
        {
            PaceLimit.PerMinute("scope|" + tenant + "|" + scope, _options.ScopeCallsPerMinute),
            new("scope-hour|" + tenant + "|" + scope, _options.ScopeCallsPerHour, TimeSpan.FromHours(1)),
            new("scope-day|" + tenant + "|" + scope, _options.ScopeCallsPerDay, TimeSpan.FromDays(1)),
            ClientLimit(),
        };
        string[] p = scope.TrimStart('/').Split('/');
        if (p.Length >= 2 && p[0] == "subscriptions")
        {
            limits.Add(PaceLimit.PerMinute("subscriptions|" + tenant, _options.SubscriptionCallsPerMinutePerTenant));
        }
        else
        {
            // A billing scope names its account (billingAccounts/{id}/...); an EA department or enrollment account does
            // not, so those count against one account per tenant.
            string account = p.Length >= 4 && p[0] == "providers" && p[2] == "billingaccounts" ? p[3] : "(unnamed)";
            limits.Add(PaceLimit.PerMinute("billing|" + tenant + "|" + account, _options.BillingAccountCallsPerMinute));
        }

        return limits;
    }

    /// <summary>Every call of the client application (report requests and polls alike), whichever tenant it calls.</summary>
    private PaceLimit ClientLimit() => PaceLimit.PerMinute("client|" + (_tokens.ClientId ?? _tokens.TenantId ?? "client"), _options.ClientCallsPerMinute);

    /// <summary>
    /// Requests one report and waits for it. Returns a Completed or NoDataFound result; throws EngineException
    /// (PermissionDenied, NotFound, Unsupported, ServiceError, AuthenticationFailed, Throttled, Timeout) otherwise.
    /// </summary>
    public async Task<CostReportResult> RequestAsync(CostReportRequest request, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(log);
        var run = new Run(this, request, log, progress, progressId, cancellationToken);
        return await run.ExecuteAsync().ConfigureAwait(false);
    }

    private sealed class Run(CostDetailsClient client, CostReportRequest request, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken ct)
    {
        private readonly string _what = Describe(request);
        private readonly string _activity = "Cost report " + Describe(request);
        private DateTimeOffset _requestedAt = DateTimeOffset.UtcNow;
        private DateTimeOffset _deadline = DateTimeOffset.MaxValue;

        /// <summary>Whether the first call has gone out: -Timeout counts from then, not from the wait for a pacing slot before it.</summary>
        private bool _started;
        private AccessTokenInfo? _token;
        private bool _refreshed;
        private int _transient;
        private string? _operationId;

        private CostDetailsOptions Options => client._options;

        public async Task<CostReportResult> ExecuteAsync()
        {
            Uri rm = client._tokens.ResourceManagerUrl;
            var post = new Uri(rm, EscapePath(request.Scope) + ProviderPath + "generateCostDetailsReport?api-version=" + Uri.EscapeDataString(request.ApiVersion));
            string body = BuildBody(request);
            Report("Requesting the report");
            log.Verbose($"POST {post.AbsoluteUri} {body}");
            HttpResponseMessage response = await SendAsync(HttpMethod.Post, post, body, client.PostLimits(request)).ConfigureAwait(false);
            Uri? location = null;
            int polls = 0;
            while (true)
            {
                using (response)
                {
                    HttpStatusCode code = response.StatusCode;
                    if (code == HttpStatusCode.NoContent)
                    {
                        log.Verbose($"Cost Management answered 204 No Content for {_what}: no data.");
                        return NoData(null);
                    }

                    if (code == HttpStatusCode.Accepted)
                    {
                        location = NextLocation(response, location, "202");
                        if (location is null)
                        {
                            throw Fail(EngineErrorKind.ServiceError, $"Cost Management accepted the report for {_what} but sent no Location header to poll.", response, null);
                        }

                        _operationId ??= OperationIdFrom(location);
                        TimeSpan wait = PollWait(response.Headers.RetryAfter, out string why);
                        polls++;
                        await WaitAsync(wait, $"Report being prepared (operation {_operationId}); next check in {Seconds(wait)} ({why}), check {polls}", warning: false).ConfigureAwait(false);
                    }
                    else if (code == HttpStatusCode.OK)
                    {
                        string json = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                        JsonNode? root = Parse(json, response);
                        string status = root?["status"]?.GetValue<string>() ?? string.Empty;
                        _operationId = root?["name"]?.GetValue<string>() ?? _operationId;
                        if (status.Equals("Completed", StringComparison.OrdinalIgnoreCase))
                        {
                            return Completed(root!);
                        }

                        if (status.Equals("NoDataFound", StringComparison.OrdinalIgnoreCase))
                        {
                            log.Verbose($"Cost Management found no data for {_what}.");
                            return NoData(root);
                        }

                        if (status.Equals("Failed", StringComparison.OrdinalIgnoreCase))
                        {
                            (string? ecode, string? emsg) = ErrorOf(root);
                            throw Fail(EngineErrorKind.ServiceError, $"The report for {_what} failed at Cost Management: {ecode ?? "(no code)"}: {emsg ?? "(no message)"}", response, ecode);
                        }

                        location = NextLocation(response, location, "200 (status '" + status + "')");
                        if (location is null)
                        {
                            throw Fail(EngineErrorKind.ServiceError, $"Cost Management answered status '{status}' for {_what} with no Location to poll.", response, null);
                        }

                        polls++;
                        TimeSpan wait = PollWait(response.Headers.RetryAfter, out string why);
                        await WaitAsync(wait, $"Report status '{status}' (operation {_operationId}); next check in {Seconds(wait)} ({why}), check {polls}", warning: false).ConfigureAwait(false);
                    }
                    else
                    {
                        throw await MapFailureAsync(response).ConfigureAwait(false);
                    }
                }

                log.Verbose($"GET {location.AbsoluteUri}");
                response = await SendAsync(HttpMethod.Get, location, null, PollLimits(location)).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// The address to poll after <paramref name="response"/>: its Location (resolved against the request when
        /// relative) once it passes the token rule, or the one polled so far when it sends none.
        /// </summary>
        private Uri? NextLocation(HttpResponseMessage response, Uri? current, string answer)
        {
            Uri? given = response.Headers.Location;
            if (given is null)
            {
                return current;
            }

            Uri requestUri = response.RequestMessage?.RequestUri ?? current ?? client._endpoint.Endpoint;
            try
            {
                return client._endpoint.Follow(requestUri, given, $"The Location of Cost Management's {answer} answer for {_what}");
            }
            catch (EngineException e)
            {
                throw Fail(e.Kind, e.Message, response, null);
            }
        }

        private List<PaceLimit> PollLimits(Uri location)
            => [PaceLimit.PerMinute("poll|" + location.GetLeftPart(UriPartial.Path).ToLowerInvariant(), Options.PollsPerMinute), client.ClientLimit()];

        /// <summary>Sends one call, retrying what is worth retrying: 429/503 after the service's wait, other 5xx and dropped calls with back-off, 401 once after a token renewal.</summary>
        private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, string? body, List<PaceLimit> limitList)
        {
            int redirects = 0;
            while (true)
            {
                TimeSpan paced = client._pacer.Reserve(limitList);
                if (paced > TimeSpan.Zero)
                {
                    if (_started && DateTimeOffset.UtcNow + paced > _deadline)
                    {
                        throw Fail(EngineErrorKind.Timeout, $"The report for {_what} did not complete within {Seconds(Options.Timeout)}; the next call would have to wait {Seconds(paced)} to stay under the API's rate limits.", null, null, EngineAdvice.RaiseTimeout);
                    }

                    log.Verbose($"Pacing: waiting {Seconds(paced)} before the next call for {request.Scope}, to stay under Cost Management's published rate limits.");
                    Report($"Pacing: next call in {Seconds(paced)}");
                    await Task.Delay(paced, ct).ConfigureAwait(false);
                }

                if (!_started)
                {
                    _started = true;
                    _requestedAt = DateTimeOffset.UtcNow;
                    _deadline = _requestedAt + Options.Timeout;
                }

                // The provider hands back its current token, renewed when fewer than five minutes remain.
                _token = await client._tokens.GetTokenAsync(log, ct).ConfigureAwait(false);

                using var message = new HttpRequestMessage(method, uri);
                try
                {
                    client._endpoint.Authorize(message, _token.Token, $"The {method} for {_what}");
                }
                catch (EngineException e)
                {
                    throw Fail(e.Kind, e.Message, null, null);
                }

                message.Headers.Add("x-ms-client-request-id", Guid.NewGuid().ToString());
                if (body is not null)
                {
                    message.Content = new StringContent(body, Encoding.UTF8, "application/json");
                }

                TimeSpan remaining = _deadline - DateTimeOffset.UtcNow;
                if (remaining <= TimeSpan.Zero)
                {
                    throw Fail(EngineErrorKind.Timeout, $"The report for {_what} did not complete within {Seconds(Options.Timeout)}.", null, null, EngineAdvice.RaiseTimeout);
                }

                TimeSpan attemptLimit = remaining < Options.RequestTimeout ? remaining : Options.RequestTimeout;
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(attemptLimit);
                HttpResponseMessage response;
                try
                {
                    response = await client._http.SendAsync(message, HttpCompletionOption.ResponseContentRead, attempt.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    if (DateTimeOffset.UtcNow >= _deadline)
                    {
                        throw Fail(EngineErrorKind.Timeout, $"The report for {_what} did not complete within {Seconds(Options.Timeout)}: Cost Management did not answer {method} in time.", null, null, EngineAdvice.RaiseTimeout);
                    }

                    await TransientAsync($"no answer to {method} within {Seconds(attemptLimit)}", null).ConfigureAwait(false);
                    continue;
                }
                catch (HttpRequestException e) when (!ct.IsCancellationRequested)
                {
                    await TransientAsync($"the connection failed ({e.HttpRequestError}: {e.Message})", null).ConfigureAwait(false);
                    continue;
                }
                catch (IOException e) when (!ct.IsCancellationRequested)
                {
                    await TransientAsync($"the connection dropped ({e.Message})", null).ConfigureAwait(false);
                    continue;
                }

                int status = (int)response.StatusCode;
                log.Debug($"{method} {uri.AbsolutePath}: {status}; x-ms-request-id {Header(response, "x-ms-request-id") ?? "-"}, x-ms-correlation-request-id {Header(response, "x-ms-correlation-request-id") ?? "-"}.");
                if (status == 401)
                {
                    if (_refreshed)
                    {
                        throw await MapFailureAsync(response).ConfigureAwait(false);
                    }

                    response.Dispose();
                    _refreshed = true;
                    log.Verbose($"Cost Management answered 401 for {_what}; renewing the token once and retrying.");
                    _token = await client._tokens.GetTokenAsync(log, _token, ct).ConfigureAwait(false);
                    continue;
                }

                _refreshed = false;
                if (TokenEndpoint.IsRedirect(response.StatusCode))
                {
                    using (response)
                    {
                        // Followed by hand (the handler never does): only to where the token may go.
                        if (response.Headers.Location is null || ++redirects > MaxRedirects)
                        {
                            throw Fail(EngineErrorKind.ServiceError, string.Create(CultureInfo.InvariantCulture, $"Cost Management answered {status} (a redirect) for {_what} {(response.Headers.Location is null ? "without a Location" : $"more than {MaxRedirects} times in a row")}."), response, null);
                        }

                        Uri next;
                        try
                        {
                            next = client._endpoint.Follow(uri, response.Headers.Location, string.Create(CultureInfo.InvariantCulture, $"The redirect ({status}) answered to the {method} for {_what}"));
                        }
                        catch (EngineException e)
                        {
                            throw Fail(e.Kind, e.Message, response, null);
                        }

                        log.Verbose($"{method} {uri.AbsolutePath}: redirected ({status}) to {next.AbsolutePath}.");
                        if (status == 303 || (status is 301 or 302 && method == HttpMethod.Post))
                        {
                            method = HttpMethod.Get;
                            body = null;
                        }

                        uri = next;
                    }

                    continue;
                }

                if (status == 429 || status == 503)
                {
                    (TimeSpan? asked, string header) = ServiceWait(response);
                    string code = status == 429 ? "429 Too Many Requests" : "503 Service Unavailable";
                    using (response)
                    {
                        if (asked is TimeSpan wait)
                        {
                            if (DateTimeOffset.UtcNow + wait > _deadline)
                            {
                                throw Fail(status == 429 ? EngineErrorKind.Throttled : EngineErrorKind.Timeout, $"Cost Management answered {code} for {_what} and asked to wait {Seconds(wait)} ({header}), past the {Seconds(Options.Timeout)} the report may take. Run again later.", response, status == 429 ? "TooManyRequests" : "ServiceUnavailable", EngineAdvice.RaiseTimeout);
                            }

                            await WaitAsync(wait + Jitter(wait), $"Cost Management answered {code} for {_what}; waiting {Seconds(wait)} as its {header} header asks", warning: true).ConfigureAwait(false);
                        }
                        else
                        {
                            await TransientAsync(code + " without a retry-after header", response).ConfigureAwait(false);
                        }
                    }

                    continue;
                }

                if (status >= 500 || status == 408)
                {
                    using (response)
                    {
                        await TransientAsync(string.Create(CultureInfo.InvariantCulture, $"{status} {response.ReasonPhrase}"), response).ConfigureAwait(false);
                    }

                    continue;
                }

                _transient = 0;
                return response;
            }
        }

        private async Task TransientAsync(string what, HttpResponseMessage? response)
        {
            _transient++;
            if (!Options.Retry.Allows(_transient))
            {
                throw Fail(EngineErrorKind.ServiceError, $"Cost Management failed {_transient} times in a row for {_what}; last: {what}. Try again later.", response, null);
            }

            TimeSpan wait = Options.Retry.Delay(_transient);
            if (DateTimeOffset.UtcNow + wait > _deadline)
            {
                throw Fail(EngineErrorKind.Timeout, $"The report for {_what} did not complete within {Seconds(Options.Timeout)}; last: {what}.", response, null, EngineAdvice.RaiseTimeout);
            }

            await WaitAsync(wait, $"Cost Management call for {_what} failed ({what}); retry {_transient} of {Options.Retry.MaxRetries} in {Seconds(wait)}", warning: true).ConfigureAwait(false);
        }

        private async Task WaitAsync(TimeSpan wait, string text, bool warning)
        {
            if (DateTimeOffset.UtcNow + wait > _deadline)
            {
                throw Fail(EngineErrorKind.Timeout, $"The report for {_what} did not complete within {Seconds(Options.Timeout)}; operation {_operationId ?? "(none)"} was still running.", null, null, EngineAdvice.RaiseTimeout);
            }

            if (warning)
            {
                log.Warning(text + ".");
            }
            else
            {
                log.Verbose(text + ".");
            }

            Report(text);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, ct).ConfigureAwait(false);
            }
        }

        private TimeSpan PollWait(RetryConditionHeaderValue? retryAfter, out string why)
        {
            TimeSpan? asked = retryAfter?.Delta ?? (retryAfter?.Date is DateTimeOffset d ? d - DateTimeOffset.UtcNow : null);
            TimeSpan wait;
            if (asked is TimeSpan a && a >= TimeSpan.Zero)
            {
                wait = a > Options.MaxPollInterval ? Options.MaxPollInterval : a;
                why = a > Options.MaxPollInterval ? $"Retry-After {Seconds(a)}, capped" : "Retry-After";
            }
            else
            {
                wait = RequestPacer.Scaled(Options.DefaultRetryAfter);
                why = "no Retry-After; default";
            }

            return wait + Jitter(wait);
        }

        private static TimeSpan Jitter(TimeSpan wait) => RequestPacer.Scaled(TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds * 0.1, 2000) * Random.Shared.NextDouble()));

        /// <summary>The largest wait any retry-after header asks for (Retry-After, x-ms-ratelimit-*-retry-after).</summary>
        private static (TimeSpan? Wait, string Header) ServiceWait(HttpResponseMessage response)
        {
            TimeSpan? best = null;
            string header = string.Empty;
            RetryConditionHeaderValue? ra = response.Headers.RetryAfter;
            TimeSpan? standard = ra?.Delta ?? (ra?.Date is DateTimeOffset d ? d - DateTimeOffset.UtcNow : null);
            if (standard is TimeSpan s)
            {
                best = s < TimeSpan.Zero ? TimeSpan.Zero : s;
                header = "Retry-After";
            }

            foreach (KeyValuePair<string, IEnumerable<string>> h in response.Headers)
            {
                if (h.Key.StartsWith("x-ms-ratelimit-", StringComparison.OrdinalIgnoreCase) && h.Key.EndsWith("retry-after", StringComparison.OrdinalIgnoreCase))
                {
                    foreach (string v in h.Value)
                    {
                        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0)
                        {
                            var t = TimeSpan.FromSeconds(seconds);
                            if (best is null || t > best)
                            {
                                best = t;
                                header = h.Key;
                            }
                        }
                    }
                }
            }

            return (best, header);
        }

        private async Task<EngineException> MapFailureAsync(HttpResponseMessage response)
        {
            int status = (int)response.StatusCode;
            string text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            JsonNode? root = null;
            try
            {
                root = string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text);
            }
            catch (JsonException)
            {
            }

            (string? code, string? message) = ErrorOf(root);
            string said = message is null ? string.Empty : $" The service said: {code}: {message}";
            return status switch
            {
                401 => Fail(EngineErrorKind.AuthenticationFailed, $"Cost Management rejected the token for {request.Scope} again after renewing it (401).{said} Check that the identity's tenant is the scope's tenant.", response, code),
                403 => Fail(EngineErrorKind.PermissionDenied, $"Permission denied on {request.Scope} (403).{said} The identity needs Cost Management Reader (or Reader) on a subscription scope, or a billing reader role (enrollment, department, account, billing profile or invoice section reader) on a billing scope.", response, code),
                404 => Fail(EngineErrorKind.NotFound, $"Scope {request.Scope} was not found (404).{said} Check the id and that it belongs to the token's tenant.", response, code),
                422 => Fail(EngineErrorKind.Unsupported, $"The Cost Details API does not support {request.Scope} (422).{said} Pay-as-you-go (WebDirect), MSDN and Visual Studio subscriptions are not supported: their costs come from a Cost Management export to a storage account.", response, code, EngineAdvice.UseExports),
                _ => Fail(EngineErrorKind.ServiceError, string.Create(CultureInfo.InvariantCulture, $"Cost Management refused the report for {_what} ({status} {response.ReasonPhrase}).{said}"), response, code),
            };
        }

        private EngineException Fail(EngineErrorKind kind, string message, HttpResponseMessage? response, string? code, EngineAdvice advice = EngineAdvice.None)
        {
            Report("Failed", completed: true);
            return new EngineException(kind, message)
            {
                ServiceCode = code,
                CorrelationId = response is null ? null : Header(response, "x-ms-correlation-request-id") ?? Header(response, "x-ms-request-id"),
                Advice = advice,
            };
        }

        private CostReportResult NoData(JsonNode? root)
        {
            Report("No data", completed: true);
            return new CostReportResult
            {
                Request = request,
                Status = "NoDataFound",
                OperationId = _operationId,
                RequestedAt = _requestedAt,
                CompletedAt = DateTimeOffset.UtcNow,
                ValidTill = ReadDate(root?["validTill"]),
                RedactedJson = root is null ? null : Redact(root),
            };
        }

        private CostReportResult Completed(JsonNode root)
        {
            JsonNode? manifest = root["manifest"];
            var blobs = new List<CostReportBlob>();
            if (manifest?["blobs"] is JsonArray array)
            {
                int index = 0;
                foreach (JsonNode? b in array)
                {
                    index++;
                    string? link = b?["blobLink"]?.GetValue<string>();
                    if (link is null || !Uri.TryCreate(link, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
                    {
                        throw Fail(EngineErrorKind.ServiceError, $"The manifest of {_what} has a blob {index} without a usable blobLink.", null, null);
                    }

                    blobs.Add(new CostReportBlob(index, uri, ReadLong(b?["byteCount"])));
                }
            }

            Report("Completed", completed: true);
            return new CostReportResult
            {
                Request = request,
                Status = "Completed",
                OperationId = _operationId,
                RequestedAt = _requestedAt,
                CompletedAt = DateTimeOffset.UtcNow,
                ManifestVersion = manifest?["manifestVersion"]?.GetValue<string>(),
                DataFormat = manifest?["dataFormat"]?.GetValue<string>(),
                CompressData = manifest?["compressData"] is JsonNode c && c.GetValueKind() == JsonValueKind.True,
                BlobCount = manifest?["blobCount"] is JsonNode n ? (int)ReadLong(n) : blobs.Count,
                ByteCount = manifest?["byteCount"] is JsonNode bc ? ReadLong(bc) : blobs.Sum(b => b.ByteCount),
                ValidTill = ReadDate(root["validTill"]),
                Blobs = blobs,
                RedactedJson = Redact(root),
            };
        }

        private JsonNode? Parse(string json, HttpResponseMessage response)
        {
            try
            {
                return JsonNode.Parse(json);
            }
            catch (JsonException e)
            {
                throw Fail(EngineErrorKind.ServiceError, $"Cost Management answered {_what} with a body that is not JSON ({e.Message}).", response, null);
            }
        }

        private void Report(string status, bool completed = false)
            => progress?.Report(new EngineProgress(progressId, _activity, status, -1, completed));
    }

    private static string Redact(JsonNode root)
    {
        JsonNode copy = root.DeepClone();
        if (copy["manifest"]?["blobs"] is JsonArray blobs)
        {
            foreach (JsonNode? b in blobs)
            {
                if (b is JsonObject o && o["blobLink"] is JsonNode link && link.GetValueKind() == JsonValueKind.String)
                {
                    o["blobLink"] = SasRedactor.Redact(link.GetValue<string>());
                }
            }
        }

        return copy.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static (string? Code, string? Message) ErrorOf(JsonNode? root)
    {
        JsonNode? error = root?["error"];
        if (error is JsonObject)
        {
            return (error["code"]?.ToString(), error["message"]?.ToString());
        }

        return (null, null);
    }

    private static long ReadLong(JsonNode? node)
        => node is null ? 0 : node.GetValueKind() == JsonValueKind.Number ? node.GetValue<long>() : long.TryParse(node.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : 0;

    private static DateTimeOffset? ReadDate(JsonNode? node)
        => node is not null && DateTimeOffset.TryParse(node.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset d) ? d : null;

    private static string? Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? values.FirstOrDefault() : null;

    private static string OperationIdFrom(Uri location)
    {
        string path = location.AbsolutePath.TrimEnd('/');
        return path[(path.LastIndexOf('/') + 1)..];
    }

    private static string Seconds(TimeSpan t)
        => t.TotalSeconds >= 10 || t.TotalSeconds == Math.Floor(t.TotalSeconds)
            ? string.Create(CultureInfo.InvariantCulture, $"{Math.Round(t.TotalSeconds)} s")
            : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.0} s");

    /// <summary>Escapes each segment of a normalised scope for a URL path (keeping the ':' of MCA ids).</summary>
    private static string EscapePath(string scope)
        => string.Join('/', scope.Split('/').Select(s => Uri.EscapeDataString(s).Replace("%3A", ":", StringComparison.Ordinal)));
}
