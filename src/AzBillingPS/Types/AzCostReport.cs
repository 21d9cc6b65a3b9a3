using System;
using System.Globalization;
using System.Linq;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;

namespace AzBillingPS;

/// <summary>
/// One Cost Management cost-details report: one (scope, metric, month). Written by New-AzCostReport, taken by
/// Save-AzCostBlob. It carries its manifest (the blobs and when their links expire) and the token it was requested
/// with, so a later stage can request it again. Blob links are SAS URLs: no property, view or ToString shows
/// their signature; <see cref="AzCostReportBlob.GetBlobLink"/> reveals one on request.
/// </summary>
public sealed class AzCostReport
{
    internal AzCostReport(CostReportResult result, AzBillingToken? token)
    {
        Result = result;
        Token = token;
        Blobs = result.Blobs.Select(b => new AzCostReportBlob(b)).ToArray();
    }

    /// <summary>The engine's answer this object wraps (for the module's own cmdlets).</summary>
    internal CostReportResult Result { get; }

    /// <summary>The ARM scope, normalised (lower-case, one leading slash).</summary>
    public string Scope => Result.Request.Scope;

    /// <summary>ActualCost or AmortizedCost.</summary>
    public string Metric => Result.Request.Metric;

    /// <summary>First day of the report's period (for -InvoiceId reports, the first day of the invoice's month when known).</summary>
    public DateTime PeriodStart => Result.Request.Start?.ToDateTime(TimeOnly.MinValue) ?? default;

    /// <summary>Last day of the report's period, inclusive.</summary>
    public DateTime PeriodEnd => Result.Request.End?.ToDateTime(TimeOnly.MinValue) ?? default;

    /// <summary>The EA billing period (yyyyMM) the report was requested by, if any.</summary>
    public string? BillingPeriod => Result.Request.BillingPeriod;

    /// <summary>The MCA invoice id the report was requested by, if any.</summary>
    public string? InvoiceId => Result.Request.InvoiceId;

    /// <summary>Completed, NoDataFound or Failed.</summary>
    public string Status => Result.Status;

    public string? OperationId => Result.OperationId;

    public DateTimeOffset RequestedAt => Result.RequestedAt;

    public DateTimeOffset? CompletedAt => Result.CompletedAt;

    public string ApiVersion => Result.Request.ApiVersion;

    public string? ManifestVersion => Result.ManifestVersion;

    public string? DataFormat => Result.DataFormat;

    public bool CompressData => Result.CompressData;

    public int BlobCount => Result.BlobCount;

    public long ByteCount => Result.ByteCount;

    /// <summary>When the blob links expire (UTC); request the report again after that.</summary>
    public DateTimeOffset? ValidTill => Result.ValidTill;

    public AzCostReportBlob[] Blobs { get; }

    /// <summary>The token the report was requested with; Save-AzCostBlob -Refresh uses it to request the report again.</summary>
    public AzBillingToken? Token { get; }

    /// <summary>The service's final answer as JSON, with every SAS signature replaced by REDACTED.</summary>
    public string ToJson() => Result.RedactedJson ?? System.Text.Json.JsonSerializer.Serialize(
        new { scope = Scope, metric = Metric, status = Status, operationId = OperationId, blobCount = BlobCount },
        Indented);

    private static readonly System.Text.Json.JsonSerializerOptions Indented = new() { WriteIndented = true };

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"{Scope} {Metric} {PeriodStart:yyyy-MM-dd}..{PeriodEnd:yyyy-MM-dd}: {Status}, {BlobCount} blob(s), {ByteCount} bytes");
}

/// <summary>One blob of a report's manifest. <see cref="Link"/> shows the SAS link with its signature redacted.</summary>
public sealed class AzCostReportBlob
{
    internal AzCostReportBlob(CostReportBlob blob)
    {
        Blob = blob;
    }

    internal CostReportBlob Blob { get; }

    /// <summary>1-based position of the blob in the manifest.</summary>
    public int Index => Blob.Index;

    public long ByteCount => Blob.ByteCount;

    /// <summary>The blob's link with the SAS signature replaced by REDACTED.</summary>
    public string Link => SasRedactor.Redact(Blob.Link);

    /// <summary>The full SAS link, signature included. Treat it as a secret.</summary>
    public Uri GetBlobLink() => Blob.Link;

    public override string ToString() => Link;
}
