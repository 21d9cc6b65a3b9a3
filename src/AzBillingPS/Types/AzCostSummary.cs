namespace AzBillingPS;

/// <summary>Cost per month, service and currency in a cost table (Get-AzCostSummary).</summary>
public sealed class AzCostSummary
{
    /// <summary>yyyy-MM.</summary>
    public string Month { get; set; } = string.Empty;

    /// <summary>The service (MeterCategory).</summary>
    public string Service { get; set; } = string.Empty;

    public string Currency { get; set; } = string.Empty;

    public decimal Cost { get; set; }

    public long Rows { get; set; }

    public override string ToString() => $"{Month} {Service}: {Cost} {Currency}";
}
