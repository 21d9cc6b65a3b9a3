using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Exports;

/// <summary>One data blob a manifest lists: its name as the manifest spells it, and the counts it promises (when given).</summary>
public sealed record ExportManifestBlob(string BlobName, long? ByteCount, long? DataRowCount);

/// <summary>
/// One export run, as its <c>manifest.json</c> (or the legacy <c>_manifest.json</c>) describes it: which export
/// (<c>exportConfig.resourceId</c>, the scope before <c>/providers/Microsoft.CostManagement/exports/</c>), which dataset
/// (<c>exportConfig.type</c>), which run (<c>runInfo.runId</c>, <c>submittedTime</c>) of which period
/// (<c>runInfo.startDate</c>/<c>endDate</c>), and its blobs with their byte and row counts.
/// </summary>
public sealed record ExportManifest
{
    public const string FileName = "manifest.json";
    public const string LegacyFileName = "_manifest.json";
    private const string ExportsSegment = "/providers/microsoft.costmanagement/exports/";

    /// <summary>Where the manifest was found (a container-relative blob name or a local path).</summary>
    public required string Location { get; init; }

    public string? ManifestVersion { get; init; }

    /// <summary>The export's resource id, normalised (lower case, one leading slash); its name when the manifest gives no id.</summary>
    public required string ExportId { get; init; }

    public required string ExportName { get; init; }

    /// <summary>The scope the export covers (normalised), taken from the resource id.</summary>
    public required string Scope { get; init; }

    /// <summary>The dataset as the manifest names it (ActualCost, AmortizedCost, Usage, FocusCost, PriceSheet, ...).</summary>
    public required string DatasetType { get; init; }

    public string? DataVersion { get; init; }

    public string? Granularity { get; init; }

    public string? FileFormat { get; init; }

    public string? CompressionMode { get; init; }

    public required string RunId { get; init; }

    public required DateTimeOffset SubmittedTime { get; init; }

    public required DateTime StartDate { get; init; }

    public required DateTime EndDate { get; init; }

    public long? ByteCount { get; init; }

    public long? DataRowCount { get; init; }

    public required IReadOnlyList<ExportManifestBlob> Blobs { get; init; }

    /// <summary>The first day of the month the run belongs to (the month of <see cref="StartDate"/>).</summary>
    public DateOnly Month => new(StartDate.Year, StartDate.Month, 1);

    public override string ToString() => $"{ExportName} {DatasetType} {Month:yyyy-MM} run {RunId} ({SubmittedTime.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC)";

    /// <summary>True for the names a manifest has (manifest.json, legacy _manifest.json), case-insensitive.</summary>
    public static bool IsManifestName(string fileName)
        => string.Equals(fileName, FileName, StringComparison.OrdinalIgnoreCase) || string.Equals(fileName, LegacyFileName, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Parses a manifest leniently: property names in any case, stray spaces around values, enums in any case,
    /// timestamps with or without <c>Z</c> (no offset means UTC), counts as numbers or numeric strings, and the
    /// properties older API versions leave out (manifestVersion, byteCount, dataRowCount; granularity null).
    /// What a load cannot do without (the run id, period, submitted time, dataset, export, blob names) fails with a
    /// message naming the manifest and the property.
    /// </summary>
    public static ExportManifest Parse(string location, ReadOnlySpan<byte> json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 32 });
        }
        catch (JsonException e)
        {
            throw Bad(location, $"it is not valid JSON ({e.Message})", e);
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Bad(location, "it is not a JSON object");
            }

            JsonElement? exportConfig = Get(root, "exportConfig");
            JsonElement? deliveryConfig = Get(root, "deliveryConfig");
            JsonElement? runInfo = Get(root, "runInfo") ?? throw Bad(location, "it has no runInfo");

            string? resourceId = Text(exportConfig, "resourceId");
            string? exportName = Text(exportConfig, "exportName");
            if (resourceId is null && exportName is null)
            {
                throw Bad(location, "exportConfig names neither the export's resourceId nor its exportName");
            }

            string scope;
            string exportId;
            if (resourceId is not null)
            {
                string id = "/" + resourceId.Trim('/').ToLowerInvariant();
                int at = id.IndexOf(ExportsSegment, StringComparison.Ordinal);
                if (at <= 0)
                {
                    throw Bad(location, $"exportConfig.resourceId '{resourceId}' is not an export's resource id (…/providers/Microsoft.CostManagement/exports/<name>)");
                }

                scope = CostScope.Normalize(id[..at]);
                exportId = id;
                exportName ??= resourceId.Trim('/').Split('/')[^1];
            }
            else
            {
                throw Bad(location, "exportConfig.resourceId is missing, so the scope of the data is unknown");
            }

            string type = Text(exportConfig, "type") ?? throw Bad(location, "exportConfig.type (the dataset) is missing");
            string runId = Text(runInfo, "runId") ?? throw Bad(location, "runInfo.runId is missing");
            DateTimeOffset submitted = Time(location, runInfo, "submittedTime") ?? throw Bad(location, "runInfo.submittedTime is missing");
            DateTime start = (Time(location, runInfo, "startDate") ?? throw Bad(location, "runInfo.startDate is missing")).UtcDateTime.Date;
            DateTime end = (Time(location, runInfo, "endDate") ?? throw Bad(location, "runInfo.endDate is missing")).UtcDateTime.Date;
            if (end < start)
            {
                throw Bad(location, string.Create(CultureInfo.InvariantCulture, $"runInfo.endDate ({end:yyyy-MM-dd}) is before runInfo.startDate ({start:yyyy-MM-dd})"));
            }

            if (end.Year != start.Year || end.Month != start.Month)
            {
                throw Bad(location, string.Create(CultureInfo.InvariantCulture, $"the run covers {start:yyyy-MM-dd} to {end:yyyy-MM-dd}, more than one calendar month; exports write one run per month"));
            }

            var blobs = new List<ExportManifestBlob>();
            JsonElement? blobArray = Get(root, "blobs");
            if (blobArray is { ValueKind: JsonValueKind.Array } array)
            {
                int i = 0;
                foreach (JsonElement b in array.EnumerateArray())
                {
                    i++;
                    string name = Text(b, "blobName") ?? throw Bad(location, string.Create(CultureInfo.InvariantCulture, $"blobs[{i - 1}].blobName is missing"));
                    blobs.Add(new ExportManifestBlob(name, Number(location, b, "byteCount"), Number(location, b, "dataRowCount")));
                }
            }
            else if (blobArray is not null && blobArray.Value.ValueKind != JsonValueKind.Null)
            {
                throw Bad(location, "blobs is not an array");
            }

            if (blobs.Select(b => b.BlobName).Distinct(StringComparer.Ordinal).Count() != blobs.Count)
            {
                throw Bad(location, "blobs lists the same blob twice");
            }

            return new ExportManifest
            {
                Location = location,
                ManifestVersion = Text(root, "manifestVersion"),
                ExportId = exportId,
                ExportName = exportName,
                Scope = scope,
                DatasetType = type,
                DataVersion = Text(exportConfig, "dataVersion"),
                Granularity = Text(exportConfig, "granularity"),
                FileFormat = Text(deliveryConfig, "fileFormat") ?? Text(root, "dataFormat"),
                CompressionMode = Text(deliveryConfig, "compressionMode"),
                RunId = runId,
                SubmittedTime = submitted,
                StartDate = start,
                EndDate = end,
                ByteCount = Number(location, root, "byteCount"),
                DataRowCount = Number(location, root, "dataRowCount"),
                Blobs = blobs,
            };
        }
    }

    private static EngineException Bad(string location, string why, Exception? inner = null)
        => new(EngineErrorKind.ExportManifestInvalid, $"{location}: the export manifest cannot be used: {why}.", inner) { FilePath = location };

    private static JsonElement? Get(JsonElement? obj, string name)
    {
        if (obj is not { ValueKind: JsonValueKind.Object } o)
        {
            return null;
        }

        if (o.TryGetProperty(name, out JsonElement exact))
        {
            return exact;
        }

        foreach (JsonProperty p in o.EnumerateObject())
        {
            if (string.Equals(p.Name.Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return p.Value;
            }
        }

        return null;
    }

    private static string? Text(JsonElement? obj, string name)
    {
        JsonElement? v = Get(obj, name);
        string? text = v?.ValueKind switch
        {
            JsonValueKind.String => v.Value.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.Value.GetRawText(),
            _ => null,
        };
        text = text?.Trim();
        return string.IsNullOrEmpty(text) ? null : text;
    }

    private static long? Number(string location, JsonElement? obj, string name)
    {
        JsonElement? v = Get(obj, name);
        if (v is null || v.Value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.Value.ValueKind == JsonValueKind.Number && v.Value.TryGetInt64(out long n))
        {
            return n >= 0 ? n : throw Bad(location, $"{name} is negative");
        }

        string? s = Text(obj, name);
        if (s is not null && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long parsed) && parsed >= 0)
        {
            return parsed;
        }

        throw Bad(location, $"{name} '{v.Value.GetRawText()}' is not a count");
    }

    private static DateTimeOffset? Time(string location, JsonElement? obj, string name)
    {
        string? s = Text(obj, name);
        if (s is null)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset t))
        {
            return t;
        }

        throw Bad(location, $"{name} '{s}' is not a date and time");
    }
}
