using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Fixture.Cost;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AzBillingPS.Fixture.Endpoints;

/// <summary>
/// Cost Management's cost-details API as the REST specification describes it (generateCostDetailsReport POST,
/// costDetailsOperationResults GET, 202 + Location + Retry-After, 204, the final manifest), ARM's bearer-token
/// checks, and the test-driven rules that make it slow, throttled, failing or odd. HTTPS only, like ARM.
/// </summary>
internal static class CostEndpoints
{
    /// <summary>The stable api-versions of generateCostDetailsReport.</summary>
    public static readonly string[] ApiVersions = ["2022-05-01", "2022-10-01", "2023-03-01", "2023-08-01", "2023-09-01", "2023-11-01", "2024-08-01", "2025-03-01"];

    public const string PayloadInvalid = "Invalid Request Payload. Request payload provided is not in a json format or had an invalid member not accepted in the request payload.";
    public const string OnlyOnePeriod = "Invalid request payload: can only have either timePeriod or invoiceId or billingPeriod.";
    public const string RangeTooLong = "The maximum allowed date range is 1 months.";

    private const string Provider = "/providers/microsoft.costmanagement/";
    private const string OperationResults = "costDetailsOperationResults/";

    public static void Map(WebApplication app, FixtureState state, CostState cost)
    {
        app.MapMethods("/{**path}", ["GET", "POST"], (HttpContext c) => DispatchAsync(c, state, cost));
        app.MapGet("/subscriptions", (HttpContext c) => SubscriptionsAsync(c, state, cost));
        app.MapMethods("/_fixture/blob/{op}/{index:int}", ["GET", "HEAD"], (HttpContext c, string op, int index) => BlobAsync(c, cost, op, index));

        app.MapPost("/_fixture/cost/rules", async (HttpContext c) =>
        {
            JsonElement? body = await ReadControlBodyAsync(c);
            if (body is null)
            {
                return;
            }

            try
            {
                JsonElement rules = Json.Prop(body.Value, "rules") ?? throw new RuleException("The body must be {\"rules\": [...]}.");
                if (rules.ValueKind != JsonValueKind.Array)
                {
                    throw new RuleException("'rules' must be an array.");
                }

                List<CostRule> parsed = CostRule.ParseAll(rules.EnumerateArray());
                cost.SetRules(parsed);
                await WriteJsonAsync(c, 200, new JsonObject { ["count"] = parsed.Count });
            }
            catch (Exception e) when (e is RuleException or OverflowException)
            {
                await WriteJsonAsync(c, 400, new JsonObject { ["error"] = e.Message });
            }
        });
        app.MapGet("/_fixture/cost/requests", (HttpContext c) => WriteJsonAsync(c, 200, cost.RequestsJson()));
        app.MapGet("/_fixture/cost/operations", (HttpContext c) => WriteJsonAsync(c, 200, cost.OperationsJson()));
        app.MapPost("/_fixture/cost/reset", (HttpContext c) =>
        {
            cost.Reset();
            return WriteJsonAsync(c, 200, new JsonObject { ["reset"] = true });
        });
        app.MapPost("/_fixture/revoke", (HttpContext c) => WriteJsonAsync(c, 200, new JsonObject { ["revoked"] = state.RevokeAll() }));
        app.MapPost("/_fixture/subscriptions", async (HttpContext c) =>
        {
            JsonElement? body = await ReadControlBodyAsync(c);
            if (body is null)
            {
                return;
            }

            try
            {
                (List<JsonObject> subs, int pageSize) = ParseSubscriptions(body.Value, state);
                lock (cost.Gate)
                {
                    cost.Subscriptions = subs;
                    cost.SubscriptionPageSize = pageSize;
                    cost.SubscriptionNextLink = Json.Str(body.Value, "nextLink", "body");
                }

                await WriteJsonAsync(c, 200, new JsonObject { ["count"] = subs.Count, ["pageSize"] = pageSize });
            }
            catch (Exception e) when (e is RuleException or OverflowException)
            {
                await WriteJsonAsync(c, 400, new JsonObject { ["error"] = e.Message });
            }
        });
    }

    private static async Task<JsonElement?> ReadControlBodyAsync(HttpContext c)
    {
        try
        {
            using JsonDocument doc = await JsonDocument.ParseAsync(c.Request.Body, default, c.RequestAborted);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            await WriteJsonAsync(c, 400, new JsonObject { ["error"] = "The body is not JSON: " + e.Message });
            return null;
        }
    }

    private static Task WriteJsonAsync(HttpContext c, int status, JsonNode body)
    {
        c.Response.StatusCode = status;
        c.Response.ContentType = "application/json; charset=utf-8";
        return c.Response.WriteAsync(body.ToJsonString(CostRequestRecord.JsonOptions), c.RequestAborted);
    }

    private static Task DispatchAsync(HttpContext c, FixtureState state, CostState cost)
    {
        string path = c.Request.Path.Value ?? "/";
        int p = path.IndexOf(Provider, StringComparison.OrdinalIgnoreCase);
        if (p < 0)
        {
            c.Response.StatusCode = 404;
            return Task.CompletedTask;
        }

        string scope = path[..p].Trim('/');
        string rest = path[(p + Provider.Length)..].TrimEnd('/');
        if (HttpMethods.IsPost(c.Request.Method) && rest.Equals("generateCostDetailsReport", StringComparison.OrdinalIgnoreCase))
        {
            return PostAsync(c, state, cost, scope);
        }

        if (HttpMethods.IsGet(c.Request.Method) && rest.StartsWith(OperationResults, StringComparison.OrdinalIgnoreCase) && rest.Length > OperationResults.Length)
        {
            return PollAsync(c, state, cost, scope, rest[OperationResults.Length..]);
        }

        CostRequestRecord rec = cost.Begin(c.Request.Method, path, ApiVersionOf(c));
        string type = rest.Split('/')[0];
        return SendAsync(c, rec, 404, Error("InvalidResourceType", $"The resource type '{type}' could not be found in the namespace 'Microsoft.CostManagement' for api version '{ApiVersionOf(c)}'."));
    }

    private static string? ApiVersionOf(HttpContext c) => c.Request.Query.TryGetValue("api-version", out var v) ? v.ToString() : null;

    // ---------------------------------------------------------------- POST generateCostDetailsReport
    private static async Task PostAsync(HttpContext c, FixtureState state, CostState cost, string scope)
    {
        string? apiVersion = ApiVersionOf(c);
        CostRequestRecord rec = cost.Begin("POST", c.Request.Path.Value ?? string.Empty, apiVersion);
        using (var reader = new StreamReader(c.Request.Body, Encoding.UTF8))
        {
            rec.Body = await reader.ReadToEndAsync(c.RequestAborted);
        }

        rec.Scope = scope;
        if (!c.Request.IsHttps)
        {
            await SendAsync(c, rec, 404, null);
            return;
        }

        IssuedToken? token = await AuthorizeAsync(c, state, rec);
        if (token is null || !await CheckApiVersionAsync(c, rec, apiVersion))
        {
            return;
        }

        (string? kind, JsonObject? scopeError, int scopeStatus) = ClassifyScope(scope, apiVersion!);
        if (kind is null)
        {
            await SendAsync(c, rec, scopeStatus, scopeError);
            return;
        }

        DateOnly today = DateOnly.FromDateTime(DateTime.UtcNow);
        (JsonObject? body, string metric, List<string> keys, string? bodyError) = ParseBody(rec.Body, kind, today);
        if (body is null)
        {
            await SendAsync(c, rec, 400, Error("BadRequest", bodyError!));
            return;
        }

        rec.Metric = metric;
        rec.Period = keys[0];
        CostRule? rule = cost.Match(scope, metric, keys);
        rec.Rule = rule?.Index;
        if (rule is not null && !await DelayAsync(c, rec, rule.DelayMs))
        {
            return;
        }

        if (rule?.NextPostFault() is CostFault fault)
        {
            await FaultAsync(c, rec, fault);
            return;
        }

        if (rule?.NextRedirect() is (int redirectStatus, string redirectTo))
        {
            await SendAsync(c, rec, redirectStatus, null, [new("Location", Fill(redirectTo, scope, apiVersion!, string.Empty))]);
            return;
        }

        if (rule?.Status is int status)
        {
            (string code, string message) = DefaultError(status, scope, token, rule);
            await SendAsync(c, rec, status, Error(code, message));
            return;
        }

        if (rule is not null && rule.NoContent)
        {
            await SendAsync(c, rec, 204, null);
            return;
        }

        CostOperation op = CreateOperation(state, scope, apiVersion!, rule, body, metric, today, cost.DefaultRetryAfter);
        rec.OperationId = op.Id;
        cost.Add(op);
        await AnswerAsync(c, rec, cost, state, op);
    }

    // ---------------------------------------------------------------- GET costDetailsOperationResults
    private static async Task PollAsync(HttpContext c, FixtureState state, CostState cost, string scope, string operationId)
    {
        string? apiVersion = ApiVersionOf(c);
        CostRequestRecord rec = cost.Begin("GET", c.Request.Path.Value ?? string.Empty, apiVersion);
        rec.OperationId = operationId;
        rec.Scope = scope;
        if (!c.Request.IsHttps)
        {
            await SendAsync(c, rec, 404, null);
            return;
        }

        IssuedToken? token = await AuthorizeAsync(c, state, rec);
        if (token is null || !await CheckApiVersionAsync(c, rec, apiVersion))
        {
            return;
        }

        CostOperation? op = cost.Find(operationId);
        if (op is null || !string.Equals(CostRule.NormaliseScope(op.Scope), CostRule.NormaliseScope(scope), StringComparison.OrdinalIgnoreCase))
        {
            await SendAsync(c, rec, 404, Error("NotFound", $"The operation '{operationId}' was not found at scope '/{scope}'."));
            return;
        }

        rec.Rule = op.Rule?.Index;
        rec.Metric = op.RequestBody["metric"]?.ToString();
        if (!await DelayAsync(c, rec, op.Rule?.DelayMs ?? 0))
        {
            return;
        }

        CostFault? fault;
        lock (cost.Gate)
        {
            op.PollFaults.TryDequeue(out fault);
        }

        if (fault is not null)
        {
            await FaultAsync(c, rec, fault);
            return;
        }

        await AnswerAsync(c, rec, cost, state, op);
    }

    /// <summary>The operation's next normal answer: 202 while polls remain, then the unknown statuses, then the final 200.</summary>
    private static Task AnswerAsync(HttpContext c, CostRequestRecord rec, CostState cost, FixtureState state, CostOperation op)
    {
        string kind;
        lock (cost.Gate)
        {
            if (op.Rule?.GenerationMs is int generation)
            {
                op.Remaining202 = DateTimeOffset.UtcNow < op.CreatedAt.AddMilliseconds(generation) ? 1 : 0;
            }

            if (op.Remaining202 > 0)
            {
                op.Remaining202--;
                kind = "202";
            }
            else if (op.RemainingUnknown > 0)
            {
                op.RemainingUnknown--;
                kind = "unknown";
            }
            else
            {
                op.FinishedAt ??= DateTimeOffset.UtcNow;
                kind = "final";
            }
        }

        var headers = new List<KeyValuePair<string, string>>();
        if (kind != "final")
        {
            headers.Add(new("Location", LocationOf(state, op)));
            if (op.RetryAfter >= 0)
            {
                headers.Add(new("Retry-After", op.RetryAfter.ToString(CultureInfo.InvariantCulture)));
            }
        }

        return kind switch
        {
            "202" => SendAsync(c, rec, 202, null, headers),
            "unknown" => SendAsync(c, rec, 200, new JsonObject { ["id"] = IdOf(op), ["name"] = op.Id, ["status"] = op.Rule!.UnknownStatus }, headers),
            _ => SendAsync(c, rec, 200, FinalBody(op)),
        };
    }

    private static string IdOf(CostOperation op) => "/" + op.Scope + "/providers/Microsoft.CostManagement/costDetailsOperationResults/" + op.Id;

    private static string LocationOf(FixtureState state, CostOperation op)
    {
        if (op.Rule?.Location is string given)
        {
            return Fill(given, op.Scope, op.ApiVersion, op.Id);
        }

        return $"{state.HttpsBase.TrimEnd('/')}/{EscapedScope(op.Scope)}/providers/Microsoft.CostManagement/costDetailsOperationResults/{op.Id}?api-version={op.ApiVersion}";
    }

    private static string EscapedScope(string scope)
        => string.Join('/', scope.Split('/').Select(s => Uri.EscapeDataString(s).Replace("%3A", ":", StringComparison.Ordinal)));

    /// <summary>A rule's URL template with {operationId}, {scope} (escaped, no leading slash) and {apiVersion} filled in.</summary>
    private static string Fill(string template, string scope, string apiVersion, string operationId)
        => template.Replace("{operationId}", operationId, StringComparison.Ordinal)
            .Replace("{scope}", EscapedScope(scope.Trim('/')), StringComparison.Ordinal)
            .Replace("{apiVersion}", apiVersion, StringComparison.Ordinal);

    private static JsonObject FinalBody(CostOperation op)
    {
        var body = new JsonObject { ["id"] = IdOf(op), ["name"] = op.Id, ["status"] = op.Result };
        if (op.Result == "Failed")
        {
            body["error"] = new JsonObject
            {
                ["code"] = op.Rule?.ErrorCode ?? "InternalServerError",
                ["message"] = op.Rule?.ErrorMessage ?? "The cost details report could not be generated. Please try again later.",
            };
            return body;
        }

        body["manifest"] = new JsonObject
        {
            ["manifestVersion"] = op.ApiVersion,
            ["dataFormat"] = "Csv",
            ["blobCount"] = op.Blobs.Count,
            ["byteCount"] = op.Blobs.Sum(b => b.ByteCount),
            ["compressData"] = op.Rule?.CompressData ?? false,
            ["requestContext"] = new JsonObject
            {
                ["requestScope"] = op.Scope,
                ["requestBody"] = op.RequestBody.DeepClone(),
            },
            ["blobs"] = new JsonArray(op.Blobs.Select(b => (JsonNode)new JsonObject { ["blobLink"] = b.Link, ["byteCount"] = b.ByteCount }).ToArray()),
        };
        body["validTill"] = op.ValidTill.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
        return body;
    }

    private static CostOperation CreateOperation(FixtureState state, string scope, string apiVersion, CostRule? rule, JsonObject body, string metric, DateOnly today, int defaultRetryAfter)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        string id = Guid.NewGuid().ToString();
        DateTimeOffset validTill = now.AddMinutes(rule?.ValidTillMinutes ?? 60);
        var blobs = new List<ManifestBlob>();
        string result = rule?.Result ?? "Completed";
        if (rule?.Blobs is IReadOnlyList<RuleBlob> given)
        {
            int i = 0;
            blobs.AddRange(given.Select(b => new ManifestBlob { Index = ++i, Link = b.BlobLink, ByteCount = b.ByteCount, Expires = validTill, Created = now }));
        }
        else if (result == "Completed")
        {
            int count = rule?.BlobCount ?? 1;
            (DateOnly start, DateOnly end) = BlobContent.PeriodOf(body, today);
            for (int i = 1; i <= count; i++)
            {
                byte[] content = rule?.BlobBytes is byte[] bytes ? bytes : BlobContent.Generate(scope, metric, start, end, i, count, id);
                if (rule?.CompressData == true && rule.BlobBytes is null)
                {
                    using var ms = new MemoryStream();
                    using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
                    {
                        gz.Write(content);
                    }

                    content = ms.ToArray();
                }

                string sig = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
                string se = validTill.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
                string link = $"{state.HttpsBase.TrimEnd('/')}/_fixture/blob/{id}/{i}?sv=2018-03-28&sr=b&sig={Uri.EscapeDataString(sig)}&se={Uri.EscapeDataString(se)}&sp=r";
                blobs.Add(new ManifestBlob
                {
                    Index = i,
                    Link = link,
                    ByteCount = content.Length,
                    Sig = sig,
                    Content = content,
#pragma warning disable CA5351 // Content-MD5 is Azure Storage's integrity header, not a security use
                    ContentMd5 = Convert.ToBase64String(MD5.HashData(content)),
#pragma warning restore CA5351
                    Compressed = rule?.CompressData == true,
                    Expires = validTill,
                    Created = now,
                });
            }
        }

        return new CostOperation
        {
            Id = id,
            Scope = scope,
            ApiVersion = apiVersion,
            Rule = rule,
            RequestBody = body,
            Remaining202 = rule?.PollCount ?? 1,
            RemainingUnknown = rule?.UnknownStatus is null ? 0 : Math.Max(rule.UnknownCount, 1),
            PollFaults = new Queue<CostFault>(rule?.PollFaults ?? []),
            Blobs = blobs,
            ValidTill = validTill,
            CreatedAt = now,
            DefaultRetryAfter = defaultRetryAfter,
        };
    }

    // ---------------------------------------------------------------- validation
    private static async Task<IssuedToken?> AuthorizeAsync(HttpContext c, FixtureState state, CostRequestRecord rec)
    {
        string header = c.Request.Headers.Authorization.ToString();
        string? code = null;
        string? message = null;
        IssuedToken? token = null;
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
        {
            rec.Authorization = "none";
            code = "AuthenticationFailed";
            message = "Authentication failed. The 'Authorization' header is missing.";
        }
        else
        {
            rec.Authorization = "invalid";
            DateTimeOffset now = DateTimeOffset.UtcNow;
            token = state.FindToken(header[7..].Trim());
            if (token is null)
            {
                code = "InvalidAuthenticationToken";
                message = "The access token is invalid.";
            }
            else if (state.IsRevoked(token))
            {
                code = "InvalidAuthenticationToken";
                message = "The access token is invalid. It has been revoked.";
            }
            else if (token.ExpiresOn <= now)
            {
                code = "ExpiredAuthenticationToken";
                message = string.Create(CultureInfo.InvariantCulture, $"The access token expiry UTC time '{token.ExpiresOn.UtcDateTime:M/d/yyyy h:mm:ss tt}' is earlier than current UTC time '{now.UtcDateTime:M/d/yyyy h:mm:ss tt}'.");
            }
            else
            {
                string aud = token.Resource.TrimEnd('/');
                string[] allowed = [state.HttpsBase.TrimEnd('/'), "https://management.azure.com", "https://management.core.windows.net"];
                if (!allowed.Contains(aud, StringComparer.OrdinalIgnoreCase))
                {
                    code = "InvalidAuthenticationTokenAudience";
                    message = $"The access token has been obtained for wrong audience or resource '{token.Resource}'. It should exactly match with one of the allowed audiences '{string.Join("/','", allowed)}/'.";
                }
            }
        }

        if (code is null)
        {
            rec.Authorization = "valid";
            return token;
        }

        string description = code == "AuthenticationFailed" ? "The authentication failed because of missing 'Authorization' header." : message!;
        var headers = new List<KeyValuePair<string, string>>
        {
            new("WWW-Authenticate", $"Bearer authorization_uri=\"{state.HttpsBase.TrimEnd('/')}/\", error=\"invalid_token\", error_description=\"{description}\""),
        };
        await SendAsync(c, rec, 401, Error(code, message!), headers);
        return null;
    }

    private static async Task<bool> CheckApiVersionAsync(HttpContext c, CostRequestRecord rec, string? apiVersion)
    {
        if (string.IsNullOrEmpty(apiVersion))
        {
            await SendAsync(c, rec, 400, Error("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."));
            return false;
        }

        if (!ApiVersions.Contains(apiVersion, StringComparer.Ordinal))
        {
            await SendAsync(c, rec, 400, Error("InvalidApiVersionParameter", $"The api-version '{apiVersion}' is invalid. The supported versions are '{string.Join(",", ApiVersions)}'."));
            return false;
        }

        return true;
    }

    /// <summary>The scope's kind (Subscription, BillingAccount, ...), or an error answer.</summary>
    private static (string? Kind, JsonObject? Error, int Status) ClassifyScope(string scope, string apiVersion)
    {
        string[] p = scope.Split('/');
        string[] l = scope.ToLowerInvariant().Split('/');
        if (l.Length >= 2 && l[0] == "subscriptions")
        {
            if (!Guid.TryParse(p[1], out _))
            {
                return (null, Error("InvalidSubscriptionId", $"The provided subscription identifier '{p[1]}' is malformed or invalid."), 400);
            }

            if (l.Length == 2)
            {
                return ("Subscription", null, 0);
            }

            if (l.Length == 4 && l[2] == "resourcegroups")
            {
                return string.CompareOrdinal(apiVersion, "2023-08-01") >= 0
                    ? (null, Error("BadRequest", $"Cost details reports are not supported at the resource group scope '/{scope}' for api-version {apiVersion}. Request the subscription scope instead."), 400)
                    : ("ResourceGroup", null, 0);
            }
        }

        if (l.Length == 4 && l[0] == "providers" && l[1] == "microsoft.management" && l[2] == "managementgroups")
        {
            return (null, Error("BadRequest", $"Cost details reports are not supported at the management group scope '/{scope}'."), 400);
        }

        if (l.Length >= 4 && l[0] == "providers" && l[1] == "microsoft.billing" && l.All(s => s.Length > 0))
        {
            string? kind = (l.Length, l[2], l.Length > 4 ? l[4] : null, l.Length > 6 ? l[6] : null) switch
            {
                (4, "billingaccounts", _, _) => "BillingAccount",
                (4, "departments", _, _) => "Department",
                (4, "enrollmentaccounts", _, _) => "EnrollmentAccount",
                (6, "billingaccounts", "departments", _) => "Department",
                (6, "billingaccounts", "enrollmentaccounts", _) => "EnrollmentAccount",
                (6, "billingaccounts", "billingprofiles", _) => "BillingProfile",
                (6, "billingaccounts", "customers", _) => "Customer",
                (8, "billingaccounts", "billingprofiles", "invoicesections") => "InvoiceSection",
                _ => null,
            };
            if (kind is not null)
            {
                return (kind, null, 0);
            }
        }

        return (null, Error("BadRequest", $"The scope '/{scope}' is not a valid scope for cost details reports."), 400);
    }

    /// <summary>The request body checked as the service checks it; the normalised body, metric and the period keys rules match on.</summary>
    private static (JsonObject? Body, string Metric, List<string> Keys, string? Error) ParseBody(string? text, string scopeKind, DateOnly today)
    {
        var none = (default(JsonObject), string.Empty, new List<string>(), PayloadInvalid);
        JsonElement root;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(text) ? "null" : text);
            root = doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return none;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return none;
        }

        string[] known = ["metric", "timePeriod", "billingPeriod", "invoiceId"];
        if (root.EnumerateObject().Any(p => !known.Contains(p.Name, StringComparer.OrdinalIgnoreCase)))
        {
            return none;
        }

        JsonElement? metricEl = Json.Prop(root, "metric");
        JsonElement? tp = Json.Prop(root, "timePeriod") is { ValueKind: not JsonValueKind.Null } t ? t : null;
        JsonElement? bp = Json.Prop(root, "billingPeriod") is { ValueKind: not JsonValueKind.Null } b ? b : null;
        JsonElement? inv = Json.Prop(root, "invoiceId") is { ValueKind: not JsonValueKind.Null } i ? i : null;
        string metric = "ActualCost";
        if (metricEl is { ValueKind: not JsonValueKind.Null } m)
        {
            string? v = m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            if (string.Equals(v, "ActualCost", StringComparison.OrdinalIgnoreCase))
            {
                metric = "ActualCost";
            }
            else if (string.Equals(v, "AmortizedCost", StringComparison.OrdinalIgnoreCase))
            {
                metric = "AmortizedCost";
            }
            else
            {
                return none;
            }
        }

        if ((tp is null ? 0 : 1) + (bp is null ? 0 : 1) + (inv is null ? 0 : 1) > 1)
        {
            return (null, string.Empty, [], OnlyOnePeriod);
        }

        DateOnly earliest = new DateOnly(today.Year, today.Month, 1).AddMonths(-13);
        string tooOld = $"Start date must be after {earliest.AddDays(-1):yyyy-MM-dd}.";
        var body = new JsonObject { ["metric"] = metric };
        var keys = new List<string>();
        if (tp is JsonElement period)
        {
            if (period.ValueKind != JsonValueKind.Object
                || period.EnumerateObject().Any(x => !x.Name.Equals("start", StringComparison.OrdinalIgnoreCase) && !x.Name.Equals("end", StringComparison.OrdinalIgnoreCase))
                || !TryDate(Json.Prop(period, "start"), out DateOnly start)
                || !TryDate(Json.Prop(period, "end"), out DateOnly end))
            {
                return none;
            }

            if (end < start)
            {
                return (null, string.Empty, [], "Invalid request payload: the timePeriod end date must not be before its start date.");
            }

            if (end >= start.AddMonths(1))
            {
                return (null, string.Empty, [], RangeTooLong);
            }

            if (start < earliest)
            {
                return (null, string.Empty, [], tooOld);
            }

            body["timePeriod"] = new JsonObject { ["start"] = start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), ["end"] = end.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) };
            keys.Add(start.ToString("yyyy-MM", CultureInfo.InvariantCulture));
            keys.Add(start.ToString("yyyyMM", CultureInfo.InvariantCulture));
        }
        else if (bp is JsonElement billing)
        {
            string? v = billing.ValueKind == JsonValueKind.String ? billing.GetString() : null;
            if (v is null || v.Length != 6 || !DateOnly.TryParseExact(v + "01", "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly first))
            {
                return none;
            }

            if (first < earliest)
            {
                return (null, string.Empty, [], tooOld);
            }

            body["billingPeriod"] = v;
            keys.Add(v);
            keys.Add(first.ToString("yyyy-MM", CultureInfo.InvariantCulture));
        }
        else if (inv is JsonElement invoice)
        {
            string? v = invoice.ValueKind == JsonValueKind.String ? invoice.GetString() : null;
            if (string.IsNullOrWhiteSpace(v))
            {
                return none;
            }

            if (scopeKind is not ("BillingProfile" or "Customer"))
            {
                return (null, string.Empty, [], "Invalid request payload: invoiceId can only be used at the billing profile or customer scope.");
            }

            body["invoiceId"] = v;
            keys.Add(v);
        }
        else
        {
            keys.Add(today.ToString("yyyy-MM", CultureInfo.InvariantCulture));
            keys.Add(today.ToString("yyyyMM", CultureInfo.InvariantCulture));
        }

        return (body, metric, keys, null);
    }

    private static bool TryDate(JsonElement? e, out DateOnly date)
    {
        date = default;
        if (e is not { ValueKind: JsonValueKind.String } s)
        {
            return false;
        }

        string text = s.GetString()!;
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date))
        {
            return true;
        }

        // the service also takes an ISO date-time and uses its date
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset t) && text.Contains('T', StringComparison.Ordinal))
        {
            date = DateOnly.FromDateTime(t.UtcDateTime);
            return true;
        }

        return false;
    }

    // ---------------------------------------------------------------- answers
    public static JsonObject Error(string code, string message) => new() { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } };

    private static (string Code, string Message) DefaultError(int status, string scope, IssuedToken token, CostRule rule)
    {
        if (rule.ErrorCode is not null || rule.ErrorMessage is not null)
        {
            return (rule.ErrorCode ?? StatusCode(status), rule.ErrorMessage ?? $"The request failed with status {status}.");
        }

        string[] p = scope.Split('/');
        return status switch
        {
            401 => ("InvalidAuthenticationToken", "The access token is invalid."),
            403 => ("AuthorizationFailed", $"The client '{token.ClientId}' with object id '{token.ClientId}' does not have authorization to perform action 'Microsoft.CostManagement/generateCostDetailsReport/action' over scope '/{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."),
            404 when p.Length == 2 && p[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase) => ("SubscriptionNotFound", $"The subscription '{p[1]}' could not be found."),
            404 => ("ResourceNotFound", $"The resource '/{scope}' was not found."),
            422 => ("Unsupported", $"Cost details are not supported for the scope '/{scope}': its offer MS-AZR-0003P (pay-as-you-go, agreement type WebDirect) is not supported by the Cost Details API."),
            400 => ("BadRequest", "Invalid request."),
            _ => (StatusCode(status), DefaultMessage(status, null)),
        };
    }

    private static string StatusCode(int status) => status switch
    {
        400 => "BadRequest",
        401 => "InvalidAuthenticationToken",
        403 => "AuthorizationFailed",
        404 => "NotFound",
        409 => "Conflict",
        422 => "Unsupported",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => status.ToString(CultureInfo.InvariantCulture),
    };

    private static string DefaultMessage(int status, int? retryAfter)
    {
        string after = retryAfter is int r ? string.Create(CultureInfo.InvariantCulture, $" Please retry after {r} seconds.") : " Please retry.";
        return status switch
        {
            429 => "Too many requests." + after,
            503 => "The service is temporarily unavailable." + after,
            500 => "An internal server error occurred." + after,
            502 => "The gateway received an invalid response from the upstream server.",
            504 => "The gateway did not receive a response from the upstream server in time.",
            _ => $"The request failed with status {status}.",
        };
    }

    private static async Task FaultAsync(HttpContext c, CostRequestRecord rec, CostFault fault)
    {
        rec.FaultApplied = fault.Raw;
        if (!await DelayAsync(c, rec, fault.DelayMs))
        {
            return;
        }

        if (fault.Drop)
        {
            rec.Status = 0;
            rec.EndTime = DateTimeOffset.UtcNow;
            c.Abort();
            return;
        }

        var headers = new List<KeyValuePair<string, string>>();
        if (fault.RetryAfter is int ra)
        {
            headers.Add(new("Retry-After", ra.ToString(CultureInfo.InvariantCulture)));
        }

        headers.AddRange(fault.Headers);
        await SendAsync(c, rec, fault.Status, Error(StatusCode(fault.Status), DefaultMessage(fault.Status, fault.RetryAfter)), headers);
    }

    /// <summary>Waits; false (recorded as status 499) when the client went away meanwhile.</summary>
    private static async Task<bool> DelayAsync(HttpContext c, CostRequestRecord rec, int ms)
    {
        if (ms <= 0)
        {
            return true;
        }

        try
        {
            await Task.Delay(ms, c.RequestAborted);
            return true;
        }
        catch (OperationCanceledException)
        {
            rec.Status = 499;
            rec.EndTime = DateTimeOffset.UtcNow;
            return false;
        }
    }

    private static async Task SendAsync(HttpContext c, CostRequestRecord rec, int status, JsonNode? body, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        c.Response.StatusCode = status;
        string correlation = c.Request.Headers["x-ms-correlation-request-id"].ToString();
        c.Response.Headers["x-ms-request-id"] = Guid.NewGuid().ToString();
        c.Response.Headers["x-ms-correlation-request-id"] = Guid.TryParse(correlation, out Guid g) ? g.ToString() : Guid.NewGuid().ToString();
        c.Response.Headers.CacheControl = "no-cache";
        foreach (KeyValuePair<string, string> h in headers ?? [])
        {
            c.Response.Headers[h.Key] = h.Value;
            if (h.Key.Equals("Retry-After", StringComparison.OrdinalIgnoreCase) && int.TryParse(h.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int ra))
            {
                rec.RetryAfterSent = ra;
            }
        }

        rec.Status = status;
        try
        {
            if (body is not null)
            {
                c.Response.ContentType = "application/json; charset=utf-8";
                await c.Response.WriteAsync(body.ToJsonString(CostRequestRecord.JsonOptions), c.RequestAborted);
            }
            else if (status != 204)
            {
                c.Response.ContentLength = 0;
            }

            await c.Response.CompleteAsync();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // the client went away; the record keeps what was answered
        }

        rec.EndTime = DateTimeOffset.UtcNow;
    }

    // ---------------------------------------------------------------- GET /subscriptions
    private static async Task SubscriptionsAsync(HttpContext c, FixtureState state, CostState cost)
    {
        string? apiVersion = ApiVersionOf(c);
        CostRequestRecord rec = cost.Begin("GET", c.Request.Path.Value ?? string.Empty, apiVersion);
        if (!c.Request.IsHttps)
        {
            await SendAsync(c, rec, 404, null);
            return;
        }

        if (await AuthorizeAsync(c, state, rec) is null)
        {
            return;
        }

        if (string.IsNullOrEmpty(apiVersion))
        {
            await SendAsync(c, rec, 400, Error("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."));
            return;
        }

        if (!System.Text.RegularExpressions.Regex.IsMatch(apiVersion, @"^\d{4}-\d{2}-\d{2}(-preview)?$"))
        {
            await SendAsync(c, rec, 400, Error("InvalidApiVersionParameter", $"The api-version '{apiVersion}' is invalid. The supported versions are '2022-12-01,2021-01-01,2020-01-01,2019-11-01,2016-06-01'."));
            return;
        }

        int skip = int.TryParse(c.Request.Query["$skiptoken"].ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) && s > 0 ? s : 0;
        JsonObject body;
        lock (cost.Gate)
        {
            List<JsonObject> page = cost.Subscriptions.Skip(skip).Take(cost.SubscriptionPageSize).ToList();
            body = new JsonObject { ["value"] = new JsonArray(page.Select(x => (JsonNode)x.DeepClone()).ToArray()) };
            int next = skip + page.Count;
            if (next < cost.Subscriptions.Count)
            {
                string skipToken = next.ToString(CultureInfo.InvariantCulture);
                body["nextLink"] = cost.SubscriptionNextLink is string template
                    ? template.Replace("{skiptoken}", skipToken, StringComparison.Ordinal).Replace("{apiVersion}", Uri.EscapeDataString(apiVersion), StringComparison.Ordinal)
                    : $"{state.HttpsBase.TrimEnd('/')}/subscriptions?api-version={Uri.EscapeDataString(apiVersion)}&%24skiptoken={skipToken}";
            }

            body["count"] = new JsonObject { ["type"] = "Total", ["value"] = cost.Subscriptions.Count };
        }

        await SendAsync(c, rec, 200, body);
    }

    private static (List<JsonObject> Subscriptions, int PageSize) ParseSubscriptions(JsonElement body, FixtureState state)
    {
        Json.RequireObject(body, "body", ["subscriptions", "pageSize", "nextLink"]);
        int pageSize = Json.Int(body, "pageSize", "body") ?? 100;
        if (pageSize < 1)
        {
            throw new RuleException("pageSize must be at least 1.");
        }

        string defaultTenant = state.Config.Tenants.FirstOrDefault()?.TenantId ?? Guid.Empty.ToString();
        var list = new List<JsonObject>();
        if (Json.Prop(body, "subscriptions") is JsonElement subs && subs.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement s in subs.EnumerateArray())
            {
                string where = $"subscriptions[{list.Count}]";
                string? id;
                string? name = null;
                string? st = null;
                string? tenant = null;
                string? quota = null;
                if (s.ValueKind == JsonValueKind.String)
                {
                    id = s.GetString();
                }
                else
                {
                    Json.RequireObject(s, where, ["subscriptionId", "displayName", "state", "tenantId", "quotaId"]);
                    id = Json.Str(s, "subscriptionId", where);
                    name = Json.Str(s, "displayName", where);
                    st = Json.Str(s, "state", where);
                    tenant = Json.Str(s, "tenantId", where);
                    quota = Json.Str(s, "quotaId", where);
                }

                if (id is null || !Guid.TryParse(id, out Guid g))
                {
                    throw new RuleException($"{where}.subscriptionId must be a GUID.");
                }

                list.Add(new JsonObject
                {
                    ["id"] = "/subscriptions/" + g.ToString("D"),
                    ["authorizationSource"] = "RoleBased",
                    ["managedByTenants"] = new JsonArray(),
                    ["subscriptionId"] = g.ToString("D"),
                    ["tenantId"] = tenant ?? defaultTenant,
                    ["displayName"] = name ?? $"Subscription {list.Count + 1}",
                    ["state"] = st ?? "Enabled",
                    ["subscriptionPolicies"] = new JsonObject
                    {
                        ["locationPlacementId"] = "Public_2014-09-01",
                        ["quotaId"] = quota ?? "EnterpriseAgreement_2014-09-01",
                        ["spendingLimit"] = "Off",
                    },
                });
            }
        }

        return (list, pageSize);
    }

    // ---------------------------------------------------------------- generated blobs (Azure Storage's answers)
    private static async Task BlobAsync(HttpContext c, CostState cost, string operationId, int index)
    {
        ManifestBlob? blob = cost.FindBlob(operationId, index);
        c.Response.Headers["x-ms-request-id"] = Guid.NewGuid().ToString();
        c.Response.Headers["x-ms-version"] = "2018-03-28";
        if (blob?.Content is null)
        {
            await StorageErrorAsync(c, 404, "BlobNotFound", "The specified blob does not exist.", null);
            return;
        }

        string sig = c.Request.Query["sig"].ToString();
        if (sig.Length == 0 || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(sig), Encoding.UTF8.GetBytes(blob.Sig!)))
        {
            await StorageErrorAsync(c, 403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.", "Signature did not match.");
            return;
        }

        DateTimeOffset now = DateTimeOffset.UtcNow;
        if (now > blob.Expires)
        {
            await StorageErrorAsync(c, 403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
                string.Create(CultureInfo.InvariantCulture, $"Signature not valid in the specified time frame: Start [{blob.Created.UtcDateTime:ddd, dd MMM yyyy HH:mm:ss 'GMT'}] - Expiry [{blob.Expires.UtcDateTime:ddd, dd MMM yyyy HH:mm:ss 'GMT'}] - Current [{now.UtcDateTime:ddd, dd MMM yyyy HH:mm:ss 'GMT'}]"));
            return;
        }

        byte[] content = blob.Content;
        long from = 0;
        long to = content.Length - 1;
        string range = c.Request.Headers["x-ms-range"].ToString() is { Length: > 0 } xr ? xr : c.Request.Headers.Range.ToString();
        bool partial = false;
        if (range.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            string[] parts = range[6..].Split('-');
            if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out from) || from >= content.Length)
            {
                c.Response.Headers.ContentRange = $"bytes */{content.Length}";
                await StorageErrorAsync(c, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.", null);
                return;
            }

            if (parts[1].Length > 0 && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long end))
            {
                to = Math.Min(end, content.Length - 1);
            }

            partial = true;
        }

        c.Response.StatusCode = partial ? 206 : 200;
        c.Response.ContentType = blob.Compressed ? "application/octet-stream" : "text/csv";
        c.Response.ContentLength = to - from + 1;
        c.Response.Headers.ETag = "\"0x8D" + blob.ContentMd5.GetHashCode(StringComparison.Ordinal).ToString("X8", CultureInfo.InvariantCulture) + "\"";
        c.Response.Headers.LastModified = blob.Created.UtcDateTime.ToString("R", CultureInfo.InvariantCulture);
        c.Response.Headers.AcceptRanges = "bytes";
        c.Response.Headers["x-ms-blob-type"] = "BlockBlob";
        if (partial)
        {
            c.Response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {from}-{to}/{content.Length}");
        }
        else
        {
            c.Response.Headers["Content-MD5"] = blob.ContentMd5;
        }

        if (!HttpMethods.IsHead(c.Request.Method))
        {
            await c.Response.Body.WriteAsync(content.AsMemory((int)from, (int)(to - from + 1)), c.RequestAborted);
        }
    }

    public static Task StorageErrorAsync(HttpContext c, int status, string code, string message, string? detail)
    {
        c.Response.StatusCode = status;
        c.Response.ContentType = "application/xml";
        c.Response.Headers["x-ms-error-code"] = code;
        string requestId = c.Response.Headers["x-ms-request-id"].ToString();
        string text = $"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:{requestId}\nTime:{DateTime.UtcNow:yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'}</Message>"
            + (detail is null ? string.Empty : $"<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>") + "</Error>";
        return HttpMethods.IsHead(c.Request.Method) ? Task.CompletedTask : c.Response.WriteAsync(text, c.RequestAborted);
    }
}
