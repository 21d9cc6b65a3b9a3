using System;
using System.Collections.Generic;
using System.Linq;

namespace AzBillingPS.TestData;

/// <summary>The kinds of cost-details file the generator writes.</summary>
internal enum FileKind
{
    /// <summary>EA dataset 2024-08-01: 57 PascalCase columns in the documented order.</summary>
    Ea,
    /// <summary>Older EA header variant: Product/Cost/BillingCurrency/InvoiceSection, first 55 columns, shuffled.</summary>
    EaLegacy,
    /// <summary>MCA dataset 2021-10-01: 65 mostly camelCase columns.</summary>
    Mca,
}

/// <summary>Logical fields: the union of the EA and MCA columns (aliases fold onto one field).</summary>
internal enum F
{
    InvoiceSectionName, AccountName, AccountOwnerId, SubscriptionId, SubscriptionName, ResourceGroup,
    ResourceLocation, Date, ProductName, MeterCategory, MeterSubCategory, MeterId, MeterName, MeterRegion,
    UnitOfMeasure, Quantity, EffectivePrice, CostInBillingCurrency, CostCenter, ConsumedService, ResourceId,
    Tags, OfferId, AdditionalInfo, ServiceInfo1, ServiceInfo2, ResourceName, ReservationId, ReservationName,
    UnitPrice, ProductOrderId, ProductOrderName, Term, PublisherType, PublisherName, ChargeType, Frequency,
    PricingModel, AvailabilityZone, BillingAccountId, BillingAccountName, BillingCurrencyCode,
    BillingPeriodStartDate, BillingPeriodEndDate, BillingProfileId, BillingProfileName, InvoiceSectionId,
    IsAzureCreditEligible, PartNumber, PayGPrice, PlanName, ServiceFamily, CostAllocationRuleName, BenefitId,
    BenefitName, AccountId, ResourceLocationNormalized,
    // MCA only
    InvoiceId, PreviousInvoiceId, ResellerName, ResellerMpnId, ServicePeriodEndDate, ServicePeriodStartDate,
    ProductId, PublisherId, Location, PricingCurrency, CostInPricingCurrency, CostInUsd,
    PaygCostInBillingCurrency, PaygCostInUsd, ExchangeRatePricingToBilling, ExchangeRateDate, Provider,
    Count,
}

internal static class Columns
{
    /// <summary>EA dataset 2024-08-01, 57 columns, in the documented order.</summary>
    public static readonly string[] Ea =
    [
        "InvoiceSectionName", "AccountName", "AccountOwnerId", "SubscriptionId", "SubscriptionName", "ResourceGroup",
        "ResourceLocation", "Date", "ProductName", "MeterCategory", "MeterSubCategory", "MeterId", "MeterName",
        "MeterRegion", "UnitOfMeasure", "Quantity", "EffectivePrice", "CostInBillingCurrency", "CostCenter",
        "ConsumedService", "ResourceId", "Tags", "OfferId", "AdditionalInfo", "ServiceInfo1", "ServiceInfo2",
        "ResourceName", "ReservationId", "ReservationName", "UnitPrice", "ProductOrderId", "ProductOrderName", "Term",
        "PublisherType", "PublisherName", "ChargeType", "Frequency", "PricingModel", "AvailabilityZone",
        "BillingAccountId", "BillingAccountName", "BillingCurrencyCode", "BillingPeriodStartDate",
        "BillingPeriodEndDate", "BillingProfileId", "BillingProfileName", "InvoiceSectionId", "IsAzureCreditEligible",
        "PartNumber", "PayGPrice", "PlanName", "ServiceFamily", "CostAllocationRuleName", "benefitId", "benefitName",
        "AccountId", "ResourceLocationNormalized",
    ];

    /// <summary>MCA dataset 2021-10-01 (= 2023-12-01-preview), 65 columns.</summary>
    public static readonly string[] Mca =
    [
        "invoiceId", "previousInvoiceId", "billingAccountId", "billingAccountName", "billingProfileId",
        "billingProfileName", "invoiceSectionId", "invoiceSectionName", "resellerName", "resellerMpnId", "costCenter",
        "billingPeriodEndDate", "billingPeriodStartDate", "servicePeriodEndDate", "servicePeriodStartDate", "date",
        "serviceFamily", "productOrderId", "productOrderName", "consumedService", "meterId", "meterName",
        "meterCategory", "meterSubCategory", "meterRegion", "ProductId", "ProductName", "SubscriptionId",
        "subscriptionName", "publisherType", "publisherId", "publisherName", "resourceGroupName", "ResourceId",
        "resourceLocation", "location", "effectivePrice", "quantity", "unitOfMeasure", "chargeType", "billingCurrency",
        "pricingCurrency", "costInBillingCurrency", "costInPricingCurrency", "costInUsd", "paygCostInBillingCurrency",
        "paygCostInUsd", "exchangeRatePricingToBilling", "exchangeRateDate", "isAzureCreditEligible", "serviceInfo1",
        "serviceInfo2", "additionalInfo", "tags", "PayGPrice", "frequency", "term", "reservationId", "reservationName",
        "pricingModel", "unitPrice", "costAllocationRuleName", "benefitId", "benefitName", "provider",
    ];

    private static readonly Dictionary<string, string> LegacyNames = new(StringComparer.Ordinal)
    {
        ["ProductName"] = "Product",
        ["CostInBillingCurrency"] = "Cost",
        ["BillingCurrencyCode"] = "BillingCurrency",
        ["InvoiceSectionName"] = "InvoiceSection",
    };

    private static readonly Dictionary<string, F> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Product"] = F.ProductName,
        ["Cost"] = F.CostInBillingCurrency,
        ["BillingCurrency"] = F.BillingCurrencyCode,
        ["InvoiceSection"] = F.InvoiceSectionName,
        ["resourceGroupName"] = F.ResourceGroup,
    };

    /// <summary>The header of a file of this kind; EaLegacy's order is shuffled, stable for a seed.</summary>
    public static string[] Header(FileKind kind, int seed)
    {
        switch (kind)
        {
            case FileKind.Ea:
                return (string[])Ea.Clone();
            case FileKind.Mca:
                return (string[])Mca.Clone();
            default:
                var legacy = Ea.Take(55).Select(c => LegacyNames.TryGetValue(c, out var n) ? n : c).ToArray();
                var rng = new Random(unchecked(seed * 31 + 17));
                rng.Shuffle(legacy);
                return legacy;
        }
    }

    public static F FieldOf(string column)
    {
        if (Aliases.TryGetValue(column, out var f)) return f;
        if (Enum.TryParse(column, ignoreCase: true, out f) && f != F.Count) return f;
        throw new InvalidOperationException($"No logical field for column '{column}'.");
    }

    public static string CostColumn(FileKind kind) => kind switch
    {
        FileKind.Ea => "CostInBillingCurrency",
        FileKind.EaLegacy => "Cost",
        _ => "costInBillingCurrency",
    };

    public static string DateColumn(FileKind kind) => kind == FileKind.Mca ? "date" : "Date";
}
