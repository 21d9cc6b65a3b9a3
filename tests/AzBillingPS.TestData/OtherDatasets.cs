using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace AzBillingPS.TestData;

/// <summary>
/// Rows of the reservation datasets an export writes besides cost details, with the columns Microsoft documents for them
/// (Cost Management dataset schemas: reservation details 2023-03-01, reservation recommendations 2023-05-01, EA and MCA),
/// plus one column the documentation does not list (as a newer dataset version adds), with values a number type would
/// change, so a test sees that it is kept as text. Numbers carry up to 16 fractional digits, beyond what a double holds,
/// so a test can check that the loaded sums are exact; <see cref="Sums"/> are the exact decimal sums of the numeric columns.
/// </summary>
internal sealed class OtherDatasets
{
    private static readonly string[] DetailsHeader =
    [
        "InstanceFlexibilityGroup", "InstanceFlexibilityRatio", "InstanceId", "Kind", "ReservationOrderId", "ReservationId",
        "ReservedHours", "RIUsedHours", "SkuName", "TotalReservedQuantity", "UsageDate", "UsedHours", "BillingAccountId",
    ];

    private static readonly string[] DetailsNumbers = ["InstanceFlexibilityRatio", "ReservedHours", "RIUsedHours", "TotalReservedQuantity", "UsedHours"];

    private static readonly string[] RecommendationsHeader =
    [
        "SKU", "Location", "CostWithNoReservedInstances", "FirstUsageDate", "InstanceFlexibilityRatio", "InstanceFlexibilityGroup",
        "LookBackPeriod", "MeterId", "NetSavings", "NormalizedSize", "RecommendedQuantity", "RecommendedQuantityNormalized",
        "ResourceType", "Scope", "SkuProperties", "SubscriptionId", "Term", "TotalCostWithReservedInstances", "TotalHours",
    ];

    private static readonly string[] RecommendationsNumbers =
        ["CostWithNoReservedInstances", "InstanceFlexibilityRatio", "NetSavings", "RecommendedQuantity", "RecommendedQuantityNormalized", "TotalCostWithReservedInstances"];

    private static readonly string[] Skus = ["Standard_D2s_v3", "Standard_D4s_v3", "Standard_E8s_v5", "Standard_B2ms", "Standard_F16s_v2"];
    private static readonly string[] Groups = ["DSv3 Series", "DSv3 Series", "ESv5 Series", "BS Series", "FSv2 Series"];
    private static readonly string[] Ratios = ["1", "2", "4", "0.5", "8"];
    private static readonly string[] Regions = ["eastus", "westeurope", "northeurope", "uksouth"];

    private readonly Random _random;
    private readonly bool _details;
    private readonly DateOnly _month;
    private readonly Dictionary<string, decimal> _sums = new(StringComparer.Ordinal);

    private OtherDatasets(string dataset, int seed, DateOnly month)
    {
        _details = dataset.Equals("ReservationDetails", StringComparison.OrdinalIgnoreCase);
        _random = new Random(seed);
        _month = month;
        Header = _details ? DetailsHeader : RecommendationsHeader;
        Numbers = _details ? DetailsNumbers : RecommendationsNumbers;
        foreach (string n in Numbers)
        {
            _sums[n] = 0m;
        }
    }

    public string[] Header { get; }

    /// <summary>The documented numeric columns (the ones the module types as exact decimals).</summary>
    public string[] Numbers { get; }

    /// <summary>The exact sum of each numeric column over the rows written so far.</summary>
    public IReadOnlyDictionary<string, string> Sums => _sums.ToDictionary(p => p.Key, p => p.Value.ToString(CultureInfo.InvariantCulture), StringComparer.Ordinal);

    /// <summary>The dataset's generator, or null for the datasets the main generator writes.</summary>
    public static OtherDatasets? For(string dataset, int seed, DateOnly month)
        => dataset.Equals("ReservationDetails", StringComparison.OrdinalIgnoreCase) || dataset.Equals("ReservationRecommendations", StringComparison.OrdinalIgnoreCase)
            ? new OtherDatasets(dataset, seed, month)
            : null;

    public string[] Row(long index)
    {
        var row = new Dictionary<string, string>(StringComparer.Ordinal);
        int sku = _random.Next(Skus.Length);
        if (_details)
        {
            int days = _month.AddMonths(1).AddDays(-1).Day;
            DateOnly day = _month.AddDays((int)(index % days));
            int quantity = 1 + _random.Next(10);
            string reserved = index % 7 == 0 ? "11" : "24"; // a reservation bought at 1 PM reserves 11 hours that day
            row["InstanceFlexibilityGroup"] = Groups[sku];
            row["InstanceFlexibilityRatio"] = Ratios[sku];
            row["InstanceId"] = $"/subscriptions/{Guid(1)}/resourcegroups/rg-{index % 5}/providers/microsoft.compute/virtualmachines/vm-{index}";
            row["Kind"] = "reservation";
            row["ReservationOrderId"] = Guid(2);
            row["ReservationId"] = Guid(3);
            row["ReservedHours"] = reserved;
            row["RIUsedHours"] = Fraction(reserved == "11" ? 11 : 24, 14);
            row["SkuName"] = Skus[sku];
            row["TotalReservedQuantity"] = quantity.ToString(CultureInfo.InvariantCulture);
            row["UsageDate"] = day.ToString("MM/dd/yyyy", CultureInfo.InvariantCulture);
            row["UsedHours"] = Fraction(reserved == "11" ? 11 : 24, 16);
            row["BillingAccountId"] = "0" + (8611537 + (index % 3)).ToString(CultureInfo.InvariantCulture); // not documented: text, as written
        }
        else
        {
            decimal without = decimal.Parse(Fraction(90000, 16), CultureInfo.InvariantCulture);
            decimal with = Math.Round(without * (0.40m + (decimal)_random.Next(40) / 100m), 13);
            bool shared = index % 3 == 0;
            row["SKU"] = Skus[sku];
            row["Location"] = Regions[_random.Next(Regions.Length)];
            row["CostWithNoReservedInstances"] = without.ToString(CultureInfo.InvariantCulture);
            row["FirstUsageDate"] = _month.AddDays(-30 + (int)(index % 7)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "T00:00:00Z";
            row["InstanceFlexibilityRatio"] = Ratios[sku];
            row["InstanceFlexibilityGroup"] = Groups[sku];
            row["LookBackPeriod"] = "Last30Days";
            row["MeterId"] = Guid(4);
            row["NetSavings"] = (without - with).ToString(CultureInfo.InvariantCulture);
            row["NormalizedSize"] = Skus[sku];
            row["RecommendedQuantity"] = (1 + _random.Next(12)).ToString(CultureInfo.InvariantCulture);
            row["RecommendedQuantityNormalized"] = Fraction(40, 3);
            row["ResourceType"] = "virtualmachines";
            row["Scope"] = shared ? "Shared" : "Single";
            row["SkuProperties"] = $"[{{\"name\":\"Cores\",\"value\":\"{2 << sku}\"}},{{\"name\":\"MemoryGB\",\"value\":\"{8 << sku}\"}}]";
            row["SubscriptionId"] = shared ? string.Empty : Guid(5);
            row["Term"] = index % 2 == 0 ? "P1Y" : "P3Y";
            row["TotalCostWithReservedInstances"] = with.ToString(CultureInfo.InvariantCulture);
            row["TotalHours"] = "0720"; // not documented: text, as written
        }

        foreach (string n in Numbers)
        {
            _sums[n] += decimal.Parse(row[n], NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return Header.Select(h => row[h]).ToArray();
    }

    /// <summary>A number below <paramref name="max"/> with exactly <paramref name="digits"/> random fractional digits.</summary>
    private string Fraction(int max, int digits)
    {
        var sb = new StringBuilder();
        sb.Append(_random.Next(max).ToString(CultureInfo.InvariantCulture)).Append('.');
        for (int i = 0; i < digits; i++)
        {
            sb.Append((char)('0' + (i == digits - 1 ? 1 + _random.Next(9) : _random.Next(10))));
        }

        return sb.ToString();
    }

    private string Guid(int salt)
    {
        byte[] b = new byte[16];
        _random.NextBytes(b);
        b[0] = (byte)salt;
        return new System.Guid(b).ToString();
    }
}
