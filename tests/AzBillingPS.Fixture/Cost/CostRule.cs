using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;

namespace AzBillingPS.Fixture.Cost;

/// <summary>A rule or fault the test wrote is wrong: the control endpoint answers 400 with this message.</summary>
internal sealed class RuleException(string message) : Exception(message);

/// <summary>
/// One fault answered instead of the real answer: a status (429, 503, 500, 502, 504) with optional Retry-After and
/// extra headers (the x-ms-ratelimit-*-retry-after forms), a delay, or a dropped connection.
/// </summary>
internal sealed class CostFault
{
    private static readonly string[] Known = ["status", "retryAfter", "headers", "delayMs", "drop"];

    public int Status { get; private init; }

    public int? RetryAfter { get; private init; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; private init; } = [];

    public int DelayMs { get; private init; }

    public bool Drop { get; private init; }

    /// <summary>The fault as the test wrote it (compact JSON), recorded as faultApplied.</summary>
    public string Raw { get; private init; } = string.Empty;

    public static CostFault Parse(JsonElement e, string where)
    {
        Json.RequireObject(e, where, Known);
        bool drop = Json.Bool(e, "drop", where) ?? false;
        int? status = Json.Int(e, "status", where);
        if (status is null && !drop)
        {
            throw new RuleException($"{where}: a fault needs 'status' (429, 503, 500, 502, 504 ...) or 'drop': true.");
        }

        if (status is not null && (status < 400 || status > 599))
        {
            throw new RuleException($"{where}: fault status {status} is not an error status.");
        }

        var headers = new List<KeyValuePair<string, string>>();
        if (Json.Prop(e, "headers") is JsonElement h && h.ValueKind != JsonValueKind.Null)
        {
            if (h.ValueKind != JsonValueKind.Object)
            {
                throw new RuleException($"{where}.headers must be an object of name: value.");
            }

            foreach (JsonProperty p in h.EnumerateObject())
            {
                headers.Add(new(p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText()));
            }
        }

        return new CostFault
        {
            Status = status ?? 0,
            RetryAfter = Json.Int(e, "retryAfter", where),
            Headers = headers,
            DelayMs = Json.Int(e, "delayMs", where) ?? 0,
            Drop = drop,
            Raw = e.GetRawText().Replace("\r", string.Empty, StringComparison.Ordinal).Replace("\n", string.Empty, StringComparison.Ordinal),
        };
    }
}

/// <summary>An explicit manifest blob (for example an Azurite SAS link).</summary>
internal sealed record RuleBlob(string BlobLink, long ByteCount);

/// <summary>
/// How the fixture answers the report requests it matches: the first rule whose filters (scope, metric, period)
/// match a POST governs that operation. Unset fields mean the happy path: 202 once with Retry-After 1, then
/// Completed with one generated blob.
/// </summary>
internal sealed class CostRule
{
    private static readonly string[] Known =
    [
        "scope", "metric", "period", "status", "postFaults", "noContent", "pollCount", "retryAfter", "pollFaults", "unknownStatus",
        "unknownCount", "result", "error", "blobs", "blobCount", "compressData", "validTillMinutes", "delayMs", "comment",
        "location", "redirect", "blobBase64", "generationMs",
    ];

    private int _redirectsUsed;

    private int _postFaultsUsed;

    public int Index { get; private init; }

    public string? Scope { get; private init; }

    public string? Metric { get; private init; }

    public string? Period { get; private init; }

    public int? Status { get; private init; }

    public IReadOnlyList<CostFault> PostFaults { get; private init; } = [];

    public bool NoContent { get; private init; }

    public int PollCount { get; private init; } = 1;

    /// <summary>Retry-After seconds on every 202; null leaves the header out.</summary>
    public int? RetryAfter { get; private init; } = 1;

    /// <summary>Whether the rule sets retryAfter; otherwise the configuration's defaultRetryAfter applies.</summary>
    public bool SetsRetryAfter { get; private init; }

    public IReadOnlyList<CostFault> PollFaults { get; private init; } = [];

    public string? UnknownStatus { get; private init; }

    public int UnknownCount { get; private init; }

    public string Result { get; private init; } = "Completed";

    public string? ErrorCode { get; private init; }

    public string? ErrorMessage { get; private init; }

    public IReadOnlyList<RuleBlob>? Blobs { get; private init; }

    public int BlobCount { get; private init; } = 1;

    public bool CompressData { get; private init; }

    public int ValidTillMinutes { get; private init; } = 60;

    public int DelayMs { get; private init; }

    /// <summary>
    /// How long the report takes to generate, from its POST: until then every answer for the operation is 202 (with
    /// Location and Retry-After), then the final one; <see cref="PollCount"/> does not apply. Null: by poll count.
    /// </summary>
    public int? GenerationMs { get; private init; }

    /// <summary>
    /// The Location header of the 202 and non-final 200 answers instead of the operation's own absolute https one: any
    /// URL, absolute or relative; <c>{operationId}</c>, <c>{scope}</c> and <c>{apiVersion}</c> are filled in.
    /// </summary>
    public string? Location { get; private init; }

    /// <summary>The bytes of every generated blob, as given (not compressed again), instead of generated CSV: odd or hostile content.</summary>
    public byte[]? BlobBytes { get; private init; }

    /// <summary>The first matching POST answers this redirect (<c>{status, location}</c>) instead; later POSTs go on normally.</summary>
    public (int Status, string Location)? Redirect { get; private init; }

    /// <summary>The redirect for the next POST, once per rule.</summary>
    public (int Status, string Location)? NextRedirect()
        => Redirect is { } r && System.Threading.Interlocked.Increment(ref _redirectsUsed) == 1 ? r : null;

    /// <summary>The next POST fault of this rule, or null when they are used up (shared by every POST the rule matches).</summary>
    public CostFault? NextPostFault()
    {
        int i = System.Threading.Interlocked.Increment(ref _postFaultsUsed) - 1;
        return i < PostFaults.Count ? PostFaults[i] : null;
    }

    public bool Matches(string scope, string metric, IReadOnlyCollection<string> periodKeys)
    {
        if (Scope is not null && !string.Equals(NormaliseScope(Scope), NormaliseScope(scope), StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (Metric is not null && !string.Equals(Metric, metric, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return Period is null || periodKeys.Contains(Period, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>A scope without leading or trailing slashes; a bare GUID means that subscription.</summary>
    public static string NormaliseScope(string scope)
    {
        string s = scope.Trim().Trim('/');
        return Guid.TryParse(s, out Guid g) ? "subscriptions/" + g.ToString("D") : s;
    }

    public static List<CostRule> ParseAll(IEnumerable<JsonElement> rules)
    {
        var list = new List<CostRule>();
        foreach (JsonElement r in rules)
        {
            list.Add(Parse(r, list.Count));
        }

        return list;
    }

    public static CostRule Parse(JsonElement e, int index)
    {
        string where = $"rules[{index}]";
        Json.RequireObject(e, where, Known);
        string result = Json.Str(e, "result", where) ?? "Completed";
        if (result is not ("Completed" or "NoDataFound" or "Failed"))
        {
            throw new RuleException($"{where}.result '{result}' must be Completed, NoDataFound or Failed.");
        }

        string? code = null;
        string? message = null;
        if (Json.Prop(e, "error") is JsonElement err && err.ValueKind != JsonValueKind.Null)
        {
            Json.RequireObject(err, where + ".error", ["code", "message"]);
            code = Json.Str(err, "code", where + ".error");
            message = Json.Str(err, "message", where + ".error");
        }

        List<RuleBlob>? blobs = null;
        if (Json.Prop(e, "blobs") is JsonElement b && b.ValueKind != JsonValueKind.Null)
        {
            if (b.ValueKind != JsonValueKind.Array)
            {
                throw new RuleException($"{where}.blobs must be an array of {{blobLink, byteCount}}.");
            }

            blobs = [];
            int i = 0;
            foreach (JsonElement x in b.EnumerateArray())
            {
                string bw = $"{where}.blobs[{i++}]";
                Json.RequireObject(x, bw, ["blobLink", "byteCount"]);
                string link = Json.Str(x, "blobLink", bw) ?? throw new RuleException($"{bw}.blobLink is required.");
                blobs.Add(new RuleBlob(link, Json.Long(x, "byteCount", bw) ?? 0));
            }
        }

        int? status = Json.Int(e, "status", where);
        if (status is not null && (status < 400 || status > 599))
        {
            throw new RuleException($"{where}.status {status} is not an error status (400-599).");
        }

        (int, string)? redirect = null;
        if (Json.Prop(e, "redirect") is JsonElement rd && rd.ValueKind != JsonValueKind.Null)
        {
            Json.RequireObject(rd, where + ".redirect", ["status", "location"]);
            int rs = Json.Int(rd, "status", where + ".redirect") ?? 307;
            if (rs is not (301 or 302 or 303 or 307 or 308))
            {
                throw new RuleException($"{where}.redirect.status {rs} is not a redirect status (301, 302, 303, 307, 308).");
            }

            redirect = (rs, Json.Str(rd, "location", where + ".redirect") ?? throw new RuleException($"{where}.redirect.location is required."));
        }

        bool hasRetry = Json.Prop(e, "retryAfter") is not null;
        return new CostRule
        {
            Index = index,
            Scope = Json.Str(e, "scope", where),
            Metric = Json.Str(e, "metric", where),
            Period = Json.Str(e, "period", where),
            Status = status,
            PostFaults = Faults(e, "postFaults", where),
            NoContent = Json.Bool(e, "noContent", where) ?? false,
            PollCount = Math.Max(0, Json.Int(e, "pollCount", where) ?? 1),
            RetryAfter = hasRetry ? Json.Int(e, "retryAfter", where) : 1,
            SetsRetryAfter = hasRetry,
            PollFaults = Faults(e, "pollFaults", where),
            UnknownStatus = Json.Str(e, "unknownStatus", where),
            UnknownCount = Math.Max(0, Json.Int(e, "unknownCount", where) ?? 0),
            Result = result,
            ErrorCode = code,
            ErrorMessage = message,
            Blobs = blobs,
            BlobCount = Math.Max(0, Json.Int(e, "blobCount", where) ?? 1),
            CompressData = Json.Bool(e, "compressData", where) ?? false,
            ValidTillMinutes = Json.Int(e, "validTillMinutes", where) ?? 60,
            DelayMs = Math.Max(0, Json.Int(e, "delayMs", where) ?? 0),
            GenerationMs = Json.Int(e, "generationMs", where) is int g ? Math.Max(0, g) : null,
            Location = Json.Str(e, "location", where),
            BlobBytes = Json.Str(e, "blobBase64", where) is string b64 ? Convert.FromBase64String(b64) : null,
            Redirect = redirect,
        };
    }

    private static List<CostFault> Faults(JsonElement e, string name, string where)
    {
        var list = new List<CostFault>();
        if (Json.Prop(e, name) is JsonElement a && a.ValueKind != JsonValueKind.Null)
        {
            if (a.ValueKind != JsonValueKind.Array)
            {
                throw new RuleException($"{where}.{name} must be an array of faults.");
            }

            foreach (JsonElement f in a.EnumerateArray())
            {
                list.Add(CostFault.Parse(f, $"{where}.{name}[{list.Count}]"));
            }
        }

        return list;
    }
}

/// <summary>Case-insensitive reading of the tests' JSON, with messages that name the member.</summary>
internal static class Json
{
    public static JsonElement? Prop(JsonElement e, string name)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (JsonProperty p in e.EnumerateObject())
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return p.Value;
            }
        }

        return null;
    }

    public static void RequireObject(JsonElement e, string where, string[] known)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new RuleException($"{where} must be a JSON object.");
        }

        foreach (JsonProperty p in e.EnumerateObject())
        {
            if (!known.Contains(p.Name, StringComparer.OrdinalIgnoreCase))
            {
                throw new RuleException($"{where}: unknown member '{p.Name}' (known: {string.Join(", ", known)}).");
            }
        }
    }

    public static string? Str(JsonElement e, string name, string where) => Prop(e, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        { ValueKind: JsonValueKind.Number } v => v.GetRawText(),
        _ => throw new RuleException($"{where}.{name} must be a string."),
    };

    public static long? Long(JsonElement e, string name, string where) => Prop(e, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out long n) => n,
        { ValueKind: JsonValueKind.String } v when long.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) => n,
        _ => throw new RuleException($"{where}.{name} must be an integer."),
    };

    public static int? Int(JsonElement e, string name, string where) => Long(e, name, where) is long l ? checked((int)l) : null;

    public static bool? Bool(JsonElement e, string name, string where) => Prop(e, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw new RuleException($"{where}.{name} must be true or false."),
    };
}
