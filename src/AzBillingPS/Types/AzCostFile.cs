using System;

namespace AzBillingPS;

/// <summary>
/// One cost-details file on disk: one blob of one report. Written by Save-AzCostBlob, read by Import-AzCostToSql,
/// which loads all <see cref="BlobCount"/> files of a report as one unit. Build one by hand for files from elsewhere.
/// </summary>
public sealed class AzCostFile
{
    public AzCostFile()
    {
    }

    public AzCostFile(string path, string scope, string metric, DateTime periodStart, DateTime periodEnd, int blobIndex = 1, int blobCount = 1)
    {
        Path = path;
        Scope = scope;
        Metric = metric;
        PeriodStart = periodStart;
        PeriodEnd = periodEnd;
        BlobIndex = blobIndex;
        BlobCount = blobCount;
    }

    /// <summary>Full path of the CSV file.</summary>
    public string Path { get; set; } = string.Empty;

    /// <summary>Size of the file in bytes.</summary>
    public long Bytes { get; set; }

    /// <summary>The ARM scope the costs belong to, for example /subscriptions/{id}.</summary>
    public string Scope { get; set; } = string.Empty;

    /// <summary>ActualCost or AmortizedCost.</summary>
    public string Metric { get; set; } = "ActualCost";

    /// <summary>First day of the report's period.</summary>
    public DateTime PeriodStart { get; set; }

    /// <summary>Last day of the report's period (inclusive).</summary>
    public DateTime PeriodEnd { get; set; }

    /// <summary>1-based index of this blob in its report.</summary>
    public int BlobIndex { get; set; } = 1;

    /// <summary>How many blobs the report has.</summary>
    public int BlobCount { get; set; } = 1;

    /// <summary>The Cost Management operation that produced the report, when known.</summary>
    public string? OperationId { get; set; }

    /// <summary>True when Save-AzCostBlob found the complete file already there and kept it instead of downloading it again.</summary>
    public bool Skipped { get; set; }

    public override string ToString() => Path;
}
