using System;
using System.Collections.Generic;
using System.Linq;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;

namespace AzBillingPS.Engine.Exports;

/// <summary>
/// One dataset an export writes and where it goes: the cost-details datasets (ActualCost, AmortizedCost, and Usage,
/// which is ActualCost) into the cost-details table as Import-AzCostToSql loads them; FocusCost into a FOCUS table;
/// the price sheet and the reservation datasets each into a table of its own. <see cref="Metric"/> is the value of the
/// _Metric lineage column; <see cref="ReplaceColumn"/> is the column a month's earlier rows are found by (Date for
/// cost details, so an export month replaces the same month loaded from the Cost Details API; the lineage column
/// _PeriodStart for the others, whose rows are replaced exactly as the earlier load of the month wrote them).
/// </summary>
public sealed record ExportDataset(string Type, string Metric, ColumnCatalog Catalog, string DefaultTable, string ReplaceColumn)
{
    public const string CostDetailsTable = "AzureCostDetails";

    /// <summary>True for ActualCost, AmortizedCost and Usage: rows go into the cost-details table.</summary>
    public bool IsCostDetails => ReferenceEquals(Catalog, CostColumnCatalog.Instance);

    public static ExportDataset ActualCost { get; } = new("ActualCost", "ActualCost", CostColumnCatalog.Instance, CostDetailsTable, CostColumnCatalog.DateColumn);

    public static ExportDataset AmortizedCost { get; } = new("AmortizedCost", "AmortizedCost", CostColumnCatalog.Instance, CostDetailsTable, CostColumnCatalog.DateColumn);

    public static ExportDataset FocusCost { get; } = new("FocusCost", "FocusCost", FocusCatalog.Instance, "AzureCostFocus", LineageColumns.PeriodStart);

    public static ExportDataset PriceSheet { get; } = new("PriceSheet", "PriceSheet", OtherCatalogs.PriceSheet, "AzurePriceSheet", LineageColumns.PeriodStart);

    public static ExportDataset ReservationDetails { get; } = new("ReservationDetails", "ReservationDetails", OtherCatalogs.ReservationDetails, "AzureReservationDetails", LineageColumns.PeriodStart);

    public static ExportDataset ReservationTransactions { get; } = new("ReservationTransactions", "ReservationTransactions", OtherCatalogs.ReservationTransactions, "AzureReservationTransactions", LineageColumns.PeriodStart);

    public static ExportDataset ReservationRecommendations { get; } = new("ReservationRecommendations", "ReservationRecommendations", OtherCatalogs.ReservationRecommendations, "AzureReservationRecommendations", LineageColumns.PeriodStart);

    public static IReadOnlyList<ExportDataset> All { get; } =
        [ActualCost, AmortizedCost, FocusCost, PriceSheet, ReservationDetails, ReservationTransactions, ReservationRecommendations];

    /// <summary>The dataset an export's <c>exportConfig.type</c> names (any case, stray spaces ignored; Usage is ActualCost).</summary>
    public static ExportDataset For(string type, string location)
    {
        ArgumentNullException.ThrowIfNull(type);
        string t = type.Trim();
        if (string.Equals(t, "Usage", StringComparison.OrdinalIgnoreCase))
        {
            return ActualCost;
        }

        return All.FirstOrDefault(d => string.Equals(d.Type, t, StringComparison.OrdinalIgnoreCase))
            ?? throw new EngineException(EngineErrorKind.ExportManifestInvalid,
                $"{location}: the export's dataset '{type}' is not one the module loads ({string.Join(", ", All.Select(d => d.Type))}, Usage).") { FilePath = location };
    }
}

/// <summary>
/// The FocusCost dataset (FOCUS 1.0, 1.0r2 and 1.2-preview as Cost Management exports them): money and quantities as
/// exact decimals, datetimes as UTC timestamps, Tags as its JSON object text, every x_ column kept (the known ones
/// typed, the others as text). Rows are dated by ChargePeriodStart.
/// </summary>
internal static class FocusCatalog
{
    public const string PeriodColumn = "ChargePeriodStart";

    private static readonly string[] Decimals =
    [
        "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice", "ContractedUnitPrice", "ConsumedQuantity",
        "PricingQuantity", "CommitmentDiscountQuantity", "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice", "x_BilledCostInUsd", "x_BilledCostInPricingCurrency", "x_BilledUnitPrice",
        "x_BillingExchangeRate", "x_ContractedCostInUsd", "x_ContractedCostInPricingCurrency", "x_EffectiveCostInUsd",
        "x_EffectiveCostInPricingCurrency", "x_EffectiveUnitPrice", "x_ListCostInUsd", "x_ListCostInPricingCurrency",
        "x_PartnerCreditRate", "x_PricingBlockSize", "x_CommitmentDiscountNormalizedRatio", "x_CommitmentDiscountSpendEligibility",
        "x_SkuCoreCount", "x_BilledUnitPriceInUsd", "x_ContractedUnitPriceInUsd", "x_EffectiveUnitPriceInUsd", "x_ListUnitPriceInUsd",
    ];

    private static readonly string[] Timestamps =
    [
        "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd", "x_BillingExchangeRateDate",
        "x_ServicePeriodStart", "x_ServicePeriodEnd",
    ];

    private static readonly string[] Booleans = ["x_SkuIsCreditEligible", "x_PartnerCreditApplied"];

    private static readonly string[] Texts =
    [
        "AvailabilityZone", "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency", "CapacityReservationId",
        "CapacityReservationStatus", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "CommitmentDiscountCategory",
        "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType", "CommitmentDiscountUnit",
        "ConsumedUnit", "InvoiceId", "InvoiceIssuerName", "PricingCategory", "PricingCurrency", "PricingUnit", "ProviderName",
        "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName",
        "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName", "SubAccountType",
    ];

    /// <summary>The FOCUS columns a consumer may rely on: present in every FocusCost export since 1.0.</summary>
    public static IReadOnlyList<string> Mandatory { get; } =
    [
        "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
        "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
        "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit", "ProviderName",
        "PublisherName", "ServiceCategory", "ServiceName",
    ];

    public static ColumnCatalog Instance { get; } = new(
        "FocusCost",
        PeriodColumn,
        Decimals.Select(n => (n, CostColumnType.Decimal, Array.Empty<string>()))
            .Concat(Timestamps.Select(n => (n, CostColumnType.Timestamp, Array.Empty<string>())))
            .Concat(Booleans.Select(n => (n, CostColumnType.Boolean, Array.Empty<string>())))
            .Concat(Texts.Select(n => (n, CostColumnType.Text, Array.Empty<string>())))
            .Append(("Tags", CostColumnType.Json, Array.Empty<string>())) // a JSON object, jsonb on PostgreSQL, as in the cost-details table
            .ToArray());
}

/// <summary>The price sheet and reservation datasets: typed as far as their documented columns go, the rest kept as text.</summary>
internal static class OtherCatalogs
{
    public static ColumnCatalog PriceSheet { get; } = Make("PriceSheet",
        decimals: ["UnitPrice", "BasePrice", "MarketPrice", "TierMinimumUnits", "IncludedQuantity", "UnitOfMeasureQuantity"],
        dates: ["EffectiveStartDate", "EffectiveEndDate"]);

    public static ColumnCatalog ReservationDetails { get; } = Make("ReservationDetails",
        decimals: ["TotalReservedQuantity", "ReservedHours", "UsedHours", "RIUsedHours", "InstanceFlexibilityRatio"], // RIUsedHours: in the 2023-03-01 schema
        dates: ["UsageDate"]);

    public static ColumnCatalog ReservationTransactions { get; } = Make("ReservationTransactions",
        decimals: ["Quantity", "Amount", "MonetaryCommitment", "Overage"],
        dates: ["EventDate"]);

    public static ColumnCatalog ReservationRecommendations { get; } = Make("ReservationRecommendations",
        decimals: ["RecommendedQuantity", "RecommendedQuantityNormalized", "CostWithNoReservedInstances", "TotalCostWithReservedInstances", "NetSavings", "InstanceFlexibilityRatio", "CostWithNoBenefit", "TotalCostWithBenefit", "SavingsAmount", "SavingsPercentage", "AverageUtilizationPercentage"],
        dates: ["FirstUsageDate"]);

    private static ColumnCatalog Make(string dataset, string[] decimals, string[] dates)
        => new(dataset, null,
            decimals.Select(n => (n, CostColumnType.Decimal, Array.Empty<string>()))
                .Concat(dates.Select(n => (n, CostColumnType.Date, Array.Empty<string>())))
                .ToArray());
}
