using System;
using System.Collections.Generic;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.CostDetails;

/// <summary>
/// One generateCostDetailsReport request: a scope, a metric and exactly one way of naming the period
/// (a time period of at most one calendar month, an EA billing period yyyyMM, or an MCA invoice id).
/// </summary>
public sealed record CostReportRequest(string Scope, string Metric, DateOnly? Start, DateOnly? End, string? BillingPeriod = null, string? InvoiceId = null)
{
    /// <summary>The api-version to call; the newest stable one by default.</summary>
    public string ApiVersion { get; init; } = CostReportDefaults.ApiVersion;
}

public static class CostReportDefaults
{
    public const string ApiVersion = "2025-03-01";
}

/// <summary>One blob of a report's manifest. <see cref="Link"/> is a SAS URL: a secret; show it through <see cref="SasRedactor"/> only.</summary>
public sealed record CostReportBlob(int Index, Uri Link, long ByteCount)
{
    public override string ToString() => $"blob {Index}: {ByteCount} bytes, {SasRedactor.Redact(Link)}";
}

/// <summary>The outcome of one report request: its status and, when completed, its manifest.</summary>
public sealed class CostReportResult
{
    public required CostReportRequest Request { get; init; }

    /// <summary>Completed, NoDataFound or Failed (the service's status).</summary>
    public required string Status { get; init; }

    /// <summary>The operation id (the result's <c>name</c>), when the service gave one.</summary>
    public string? OperationId { get; init; }

    public DateTimeOffset RequestedAt { get; init; }

    public DateTimeOffset? CompletedAt { get; init; }

    public string? ManifestVersion { get; init; }

    public string? DataFormat { get; init; }

    public bool CompressData { get; init; }

    public int BlobCount { get; init; }

    public long ByteCount { get; init; }

    /// <summary>When the blob links expire (UTC).</summary>
    public DateTimeOffset? ValidTill { get; init; }

    public IReadOnlyList<CostReportBlob> Blobs { get; init; } = Array.Empty<CostReportBlob>();

    /// <summary>The service's final JSON answer with every SAS signature redacted (for keeping the manifest).</summary>
    public string? RedactedJson { get; init; }
}
