using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;

namespace AzBillingPS.Fixture.Cost;

/// <summary>One request received on a Cost Management (or ARM subscription-list) endpoint, as GET /_fixture/cost/requests lists it.</summary>
internal sealed class CostRequestRecord
{
    /// <summary>JSON as the services write it: '&amp;' and quotes in links and messages left as they are.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public long Seq { get; init; }

    public DateTimeOffset Time { get; init; }

    public DateTimeOffset? EndTime { get; set; }

    public string Method { get; init; } = string.Empty;

    public string Path { get; init; } = string.Empty;

    public string? ApiVersion { get; init; }

    public string? Body { get; set; }

    public string? Scope { get; set; }

    public string? Metric { get; set; }

    public string? Period { get; set; }

    public string? OperationId { get; set; }

    /// <summary>The status answered; 0 when the connection was dropped.</summary>
    public int Status { get; set; }

    /// <summary>none, valid or invalid (unknown, expired, revoked or for another audience).</summary>
    public string Authorization { get; set; } = "none";

    public int? RetryAfterSent { get; set; }

    public string? FaultApplied { get; set; }

    public int? Rule { get; set; }

    public JsonObject ToJson() => new()
    {
        ["seq"] = Seq,
        ["time"] = Iso(Time),
        ["endTime"] = EndTime is DateTimeOffset e ? Iso(e) : null,
        ["timeMs"] = Time.ToUnixTimeMilliseconds(),
        ["endTimeMs"] = EndTime?.ToUnixTimeMilliseconds(),
        ["method"] = Method,
        ["path"] = Path,
        ["apiVersion"] = ApiVersion,
        ["body"] = Body,
        ["scope"] = Scope,
        ["metric"] = Metric,
        ["period"] = Period,
        ["operationId"] = OperationId,
        ["status"] = Status,
        ["authorization"] = Authorization,
        ["retryAfterSent"] = RetryAfterSent,
        ["faultApplied"] = FaultApplied,
        ["rule"] = Rule,
    };

    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}

/// <summary>A manifest blob: a generated one served by the fixture itself, or one a rule names (Azurite).</summary>
internal sealed class ManifestBlob
{
    public int Index { get; init; }

    public string Link { get; init; } = string.Empty;

    public long ByteCount { get; init; }

    /// <summary>The SAS signature of a generated link (decoded), a secret the tests search every output for.</summary>
    public string? Sig { get; init; }

    public byte[]? Content { get; init; }

    public string ContentMd5 { get; init; } = string.Empty;

    public bool Compressed { get; init; }

    public DateTimeOffset Expires { get; init; }

    public DateTimeOffset Created { get; init; }
}

/// <summary>One generateCostDetailsReport operation: where it is in its life (202s, unknown statuses, final answer).</summary>
internal sealed class CostOperation
{
    public string Id { get; init; } = string.Empty;

    /// <summary>The scope as the request named it, without leading or trailing slash.</summary>
    public string Scope { get; init; } = string.Empty;

    public string ApiVersion { get; init; } = string.Empty;

    public CostRule? Rule { get; init; }

    public JsonObject RequestBody { get; init; } = [];

    public int Remaining202 { get; set; }

    public int RemainingUnknown { get; set; }

    public Queue<CostFault> PollFaults { get; init; } = new();

    public List<ManifestBlob> Blobs { get; init; } = [];

    public DateTimeOffset ValidTill { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; set; }

    public string Result => Rule?.Result ?? "Completed";

    /// <summary>The configuration's Retry-After for a report its rule (if any) does not set one for.</summary>
    public int DefaultRetryAfter { get; init; } = 1;

    public int RetryAfter => Rule is { SetsRetryAfter: true } ? Rule.RetryAfter ?? -1 : DefaultRetryAfter;
}

/// <summary>Everything the Cost Management side of the fixture remembers; one lock guards it.</summary>
internal sealed class CostState
{
    private readonly List<JsonElement> _configRules;
    private readonly List<CostRequestRecord> _requests = [];
    private readonly Dictionary<string, CostOperation> _operations = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ManifestBlob> _blobs = new(StringComparer.OrdinalIgnoreCase);
    private List<CostRule> _rules;
    private long _seq;

    public CostState(FixtureConfig config)
    {
        _configRules = config.CostRules ?? [];
        _rules = CostRule.ParseAll(_configRules);
        DefaultRetryAfter = Math.Max(0, config.DefaultRetryAfter);
    }

    /// <summary>Retry-After seconds of a report whose rule (if any) does not set one (the configuration's defaultRetryAfter).</summary>
    public int DefaultRetryAfter { get; }

    public object Gate { get; } = new();

    /// <summary>The subscriptions GET /subscriptions lists (ARM's shape) and its page size.</summary>
    public List<JsonObject> Subscriptions { get; set; } = [];

    public int SubscriptionPageSize { get; set; } = 100;

    /// <summary>The nextLink of every page instead of the fixture's own (a template: {skiptoken}, {apiVersion}); null for the fixture's own.</summary>
    public string? SubscriptionNextLink { get; set; }

    public void SetRules(List<CostRule> rules)
    {
        lock (Gate)
        {
            _rules = rules;
        }
    }

    /// <summary>Back to the configuration's rules, with no requests or operations recorded.</summary>
    public void Reset()
    {
        lock (Gate)
        {
            _rules = CostRule.ParseAll(_configRules);
            _requests.Clear();
            _operations.Clear();
            _blobs.Clear();
        }
    }

    public CostRule? Match(string scope, string metric, IReadOnlyCollection<string> periodKeys)
    {
        lock (Gate)
        {
            return _rules.FirstOrDefault(r => r.Matches(scope, metric, periodKeys));
        }
    }

    public CostRequestRecord Begin(string method, string path, string? apiVersion)
    {
        var r = new CostRequestRecord
        {
            Seq = Interlocked.Increment(ref _seq),
            Time = DateTimeOffset.UtcNow,
            Method = method,
            Path = path,
            ApiVersion = apiVersion,
        };
        lock (Gate)
        {
            _requests.Add(r);
        }

        return r;
    }

    public JsonArray RequestsJson()
    {
        lock (Gate)
        {
            return new JsonArray(_requests.OrderBy(r => r.Seq).Select(r => (JsonNode)r.ToJson()).ToArray());
        }
    }

    public void Add(CostOperation op)
    {
        lock (Gate)
        {
            _operations[op.Id] = op;
            foreach (ManifestBlob b in op.Blobs.Where(b => b.Content is not null))
            {
                _blobs[op.Id + "/" + b.Index.ToString(CultureInfo.InvariantCulture)] = b;
            }
        }
    }

    public CostOperation? Find(string id)
    {
        lock (Gate)
        {
            return _operations.TryGetValue(id, out CostOperation? op) ? op : null;
        }
    }

    public ManifestBlob? FindBlob(string operationId, int index)
    {
        lock (Gate)
        {
            return _blobs.TryGetValue(operationId + "/" + index.ToString(CultureInfo.InvariantCulture), out ManifestBlob? b) ? b : null;
        }
    }

    /// <summary>Every generated SAS signature (decoded and URL-encoded) since the last reset, for the tests' leak checks.</summary>
    public IReadOnlyList<string> Signatures()
    {
        lock (Gate)
        {
            return _operations.Values.SelectMany(o => o.Blobs).Where(b => b.Sig is not null)
                .SelectMany(b => new[] { b.Sig!, Uri.EscapeDataString(b.Sig!) }).Distinct(StringComparer.Ordinal).ToList();
        }
    }

    public JsonArray OperationsJson()
    {
        lock (Gate)
        {
            return new JsonArray(_operations.Values.OrderBy(o => o.CreatedAt).Select(o => (JsonNode)new JsonObject
            {
                ["id"] = o.Id,
                ["scope"] = o.Scope,
                ["apiVersion"] = o.ApiVersion,
                ["rule"] = o.Rule?.Index,
                ["requestBody"] = o.RequestBody.DeepClone(),
                ["createdAt"] = CostRequestRecord.Iso(o.CreatedAt),
                ["finishedAt"] = o.FinishedAt is DateTimeOffset f ? CostRequestRecord.Iso(f) : null,
                ["result"] = o.Result,
                ["validTill"] = CostRequestRecord.Iso(o.ValidTill),
                ["blobs"] = new JsonArray(o.Blobs.Select(b => (JsonNode)new JsonObject
                {
                    ["index"] = b.Index,
                    ["blobLink"] = b.Link,
                    ["byteCount"] = b.ByteCount,
                    ["sig"] = b.Sig,
                }).ToArray()),
            }).ToArray());
        }
    }
}

/// <summary>The CSV of a generated blob: the EA cost-details columns, a few rows per day of the report's period.</summary>
internal static class BlobContent
{
    private static readonly string[] Header =
    [
        "InvoiceSectionName", "AccountName", "AccountOwnerId", "SubscriptionId", "SubscriptionName", "ResourceGroup", "ResourceLocation", "Date",
        "ProductName", "MeterCategory", "MeterSubCategory", "MeterId", "MeterName", "MeterRegion", "UnitOfMeasure", "Quantity", "EffectivePrice",
        "CostInBillingCurrency", "CostCenter", "ConsumedService", "ResourceId", "Tags", "OfferId", "AdditionalInfo", "ServiceInfo1", "ServiceInfo2",
        "ResourceName", "ReservationId", "ReservationName", "UnitPrice", "ProductOrderId", "ProductOrderName", "Term", "PublisherType", "PublisherName",
        "ChargeType", "Frequency", "PricingModel", "AvailabilityZone", "BillingAccountId", "BillingAccountName", "BillingCurrencyCode",
        "BillingPeriodStartDate", "BillingPeriodEndDate", "BillingProfileId", "BillingProfileName", "InvoiceSectionId", "IsAzureCreditEligible",
        "PartNumber", "PayGPrice", "PlanName", "ServiceFamily", "CostAllocationRuleName", "benefitId", "benefitName", "AccountId", "ResourceLocationNormalized",
    ];

    private static readonly (string Category, string Meter, string Unit, decimal Price)[] Meters =
    [
        ("Virtual Machines", "D2s v3", "1 Hour", 0.096m),
        ("Storage", "LRS Data Stored", "1 GB/Month", 0.0184m),
        ("Bandwidth", "Standard Data Transfer Out", "1 GB", 0.087m),
    ];

    /// <summary>The period a request body names: its timePeriod, billing period (a month), invoice (last month) or the current month.</summary>
    public static (DateOnly Start, DateOnly End) PeriodOf(JsonObject body, DateOnly today)
    {
        if (body["timePeriod"] is JsonObject tp
            && DateOnly.TryParseExact(tp["start"]?.ToString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly s)
            && DateOnly.TryParseExact(tp["end"]?.ToString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly e))
        {
            return (s, e);
        }

        DateOnly first = new(today.Year, today.Month, 1);
        if (body["billingPeriod"]?.ToString() is string bp
            && DateOnly.TryParseExact(bp + "01", "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly b))
        {
            first = b;
        }
        else if (body["invoiceId"] is not null)
        {
            first = first.AddMonths(-1);
        }

        DateOnly last = first.AddMonths(1).AddDays(-1);
        return (first, last < today ? last : today);
    }

    public static byte[] Generate(string scope, string metric, DateOnly start, DateOnly end, int blobIndex, int blobCount, string seed)
    {
        var rng = new Random(StringComparer.Ordinal.GetHashCode(seed) ^ blobIndex);
        string[] parts = scope.Split('/');
        string subscription = parts.Length >= 2 && parts[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase) ? parts[1] : "00000000-0000-0000-0000-0000000000aa";
        var sb = new System.Text.StringBuilder();
        sb.Append('\uFEFF').AppendJoin(',', Header).Append("\r\n");
        int day = 0;
        for (DateOnly d = start; d <= end; d = d.AddDays(1), day++)
        {
            if (blobCount > 0 && day % blobCount != blobIndex - 1)
            {
                continue;
            }

            foreach ((string category, string meter, string unit, decimal price) in Meters)
            {
                decimal quantity = Math.Round((decimal)(rng.NextDouble() * 24), 6);
                decimal cost = Math.Round(quantity * price, 10);
                string rg = "rg-" + (rng.Next(3) + 1).ToString(CultureInfo.InvariantCulture);
                string resourceId = $"/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/vm{rng.Next(5)}";
                var row = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["InvoiceSectionName"] = "Default",
                    ["AccountName"] = "Fixture Account",
                    ["SubscriptionId"] = subscription,
                    ["SubscriptionName"] = "Fixture Subscription",
                    ["ResourceGroup"] = rg,
                    ["ResourceLocation"] = "westeurope",
                    ["Date"] = d.ToString("MM/dd/yyyy", CultureInfo.InvariantCulture),
                    ["ProductName"] = category + " " + meter,
                    ["MeterCategory"] = category,
                    ["MeterId"] = new Guid(meter.GetHashCode(StringComparison.Ordinal), 0x4d, 0x45, 0, 0, 0, 0, 0, 0, 0, (byte)metric.Length).ToString(),
                    ["MeterName"] = meter,
                    ["MeterRegion"] = "EU West",
                    ["UnitOfMeasure"] = unit,
                    ["Quantity"] = quantity.ToString(CultureInfo.InvariantCulture),
                    ["EffectivePrice"] = price.ToString(CultureInfo.InvariantCulture),
                    ["CostInBillingCurrency"] = cost.ToString(CultureInfo.InvariantCulture),
                    ["ConsumedService"] = "Microsoft.Compute",
                    ["ResourceId"] = resourceId,
                    ["Tags"] = "\"\"\"env\"\": \"\"fixture\"\"\"",
                    ["OfferId"] = "MS-AZR-0017P",
                    ["UnitPrice"] = price.ToString(CultureInfo.InvariantCulture),
                    ["ChargeType"] = "Usage",
                    ["Frequency"] = "UsageBased",
                    ["PricingModel"] = "OnDemand",
                    ["BillingCurrencyCode"] = "EUR",
                    ["BillingPeriodStartDate"] = new DateOnly(d.Year, d.Month, 1).ToString("MM/dd/yyyy", CultureInfo.InvariantCulture),
                    ["BillingPeriodEndDate"] = new DateOnly(d.Year, d.Month, 1).AddMonths(1).AddDays(-1).ToString("MM/dd/yyyy", CultureInfo.InvariantCulture),
                    ["IsAzureCreditEligible"] = "True",
                    ["PayGPrice"] = price.ToString(CultureInfo.InvariantCulture),
                    ["ResourceLocationNormalized"] = "westeurope",
                };
                sb.AppendJoin(',', Header.Select(h => row.TryGetValue(h, out string? v) ? v : string.Empty)).Append("\r\n");
            }
        }

        return System.Text.Encoding.UTF8.GetBytes(sb.ToString());
    }
}
