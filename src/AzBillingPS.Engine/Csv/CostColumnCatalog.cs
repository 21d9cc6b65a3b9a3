using System;
using System.Collections.Generic;
using System.Collections.Frozen;

namespace AzBillingPS.Engine.Csv;

/// <summary>The database-neutral type of a cost-details column.</summary>
public enum CostColumnType
{
    /// <summary>Free text (also every column the catalog does not know).</summary>
    Text,

    /// <summary>A calendar date without time.</summary>
    Date,

    /// <summary>An exact decimal: money, prices, quantities, exchange rates.</summary>
    Decimal,

    /// <summary>True/False.</summary>
    Boolean,

    /// <summary>A GUID (the lineage column _ImportId; ids in the files are text).</summary>
    Guid,

    /// <summary>A UTC point in time (lineage: when a row was imported).</summary>
    Timestamp,

    /// <summary>A JSON object (Tags): jsonb on PostgreSQL, JSON-valid text on SQL Server and SQLite.</summary>
    Json,
}

/// <summary>One known column: the canonical name it is stored under and its type.</summary>
public sealed record CostColumn(string Name, CostColumnType Type);

/// <summary>
/// The known columns of EA (both header variants), MCA and pay-as-you-go cost-details files, matched
/// case-insensitively (MCA's camelCase and EA's PascalCase are the same column) with aliases for the names
/// that differ between datasets. Unknown columns are kept as text under their own header name.
/// </summary>
internal static class CostColumnCatalog
{
    /// <summary>The column every cost-details file has, whose value decides which period a row belongs to.</summary>
    public const string DateColumn = "Date";

    private static readonly (string Name, CostColumnType Type, string[] Aliases)[] Known =
    {
        // Dates
        ("Date", CostColumnType.Date, new[] { "UsageDate", "UsageDateTime" }),
        ("BillingPeriodStartDate", CostColumnType.Date, Array.Empty<string>()),
        ("BillingPeriodEndDate", CostColumnType.Date, Array.Empty<string>()),
        ("ServicePeriodStartDate", CostColumnType.Date, Array.Empty<string>()),
        ("ServicePeriodEndDate", CostColumnType.Date, Array.Empty<string>()),
        ("ExchangeRateDate", CostColumnType.Date, Array.Empty<string>()),

        // Money, prices, quantities
        ("Quantity", CostColumnType.Decimal, new[] { "ConsumedQuantity", "UsageQuantity" }),
        ("EffectivePrice", CostColumnType.Decimal, Array.Empty<string>()),
        ("CostInBillingCurrency", CostColumnType.Decimal, new[] { "Cost", "PreTaxCost" }),
        ("UnitPrice", CostColumnType.Decimal, Array.Empty<string>()),
        ("PayGPrice", CostColumnType.Decimal, Array.Empty<string>()),
        ("CostInPricingCurrency", CostColumnType.Decimal, Array.Empty<string>()),
        ("CostInUsd", CostColumnType.Decimal, Array.Empty<string>()),
        ("PaygCostInBillingCurrency", CostColumnType.Decimal, Array.Empty<string>()),
        ("PaygCostInUsd", CostColumnType.Decimal, Array.Empty<string>()),
        ("ExchangeRatePricingToBilling", CostColumnType.Decimal, Array.Empty<string>()),

        // Booleans
        ("IsAzureCreditEligible", CostColumnType.Boolean, Array.Empty<string>()),

        // Ids are text: files in the wild carry anonymised or malformed ids, and an id is no reason to refuse a file.
        ("SubscriptionId", CostColumnType.Text, new[] { "SubscriptionGuid" }),
        ("MeterId", CostColumnType.Text, Array.Empty<string>()),

        // Text, with the names that differ between EA variants and MCA
        ("ProductName", CostColumnType.Text, new[] { "Product" }),
        ("BillingCurrencyCode", CostColumnType.Text, new[] { "BillingCurrency", "Currency" }),
        ("InvoiceSectionName", CostColumnType.Text, new[] { "InvoiceSection" }),
        ("ResourceGroup", CostColumnType.Text, new[] { "ResourceGroupName" }),
        ("InvoiceSectionId", CostColumnType.Text, Array.Empty<string>()),
        ("AccountName", CostColumnType.Text, Array.Empty<string>()),
        ("AccountOwnerId", CostColumnType.Text, Array.Empty<string>()),
        ("SubscriptionName", CostColumnType.Text, Array.Empty<string>()),
        ("ResourceLocation", CostColumnType.Text, Array.Empty<string>()),
        ("MeterCategory", CostColumnType.Text, Array.Empty<string>()),
        ("MeterSubCategory", CostColumnType.Text, Array.Empty<string>()),
        ("MeterName", CostColumnType.Text, Array.Empty<string>()),
        ("MeterRegion", CostColumnType.Text, Array.Empty<string>()),
        ("UnitOfMeasure", CostColumnType.Text, Array.Empty<string>()),
        ("CostCenter", CostColumnType.Text, Array.Empty<string>()),
        ("ConsumedService", CostColumnType.Text, Array.Empty<string>()),
        ("ResourceId", CostColumnType.Text, new[] { "InstanceId" }),
        ("Tags", CostColumnType.Json, Array.Empty<string>()),
        ("OfferId", CostColumnType.Text, Array.Empty<string>()),
        ("AdditionalInfo", CostColumnType.Text, Array.Empty<string>()),
        ("ServiceInfo1", CostColumnType.Text, Array.Empty<string>()),
        ("ServiceInfo2", CostColumnType.Text, Array.Empty<string>()),
        ("ResourceName", CostColumnType.Text, Array.Empty<string>()),
        ("ReservationId", CostColumnType.Text, Array.Empty<string>()),
        ("ReservationName", CostColumnType.Text, Array.Empty<string>()),
        ("ProductOrderId", CostColumnType.Text, Array.Empty<string>()),
        ("ProductOrderName", CostColumnType.Text, Array.Empty<string>()),
        ("Term", CostColumnType.Text, Array.Empty<string>()),
        ("PublisherType", CostColumnType.Text, Array.Empty<string>()),
        ("PublisherName", CostColumnType.Text, Array.Empty<string>()),
        ("PublisherId", CostColumnType.Text, Array.Empty<string>()),
        ("ChargeType", CostColumnType.Text, Array.Empty<string>()),
        ("Frequency", CostColumnType.Text, Array.Empty<string>()),
        ("PricingModel", CostColumnType.Text, Array.Empty<string>()),
        ("AvailabilityZone", CostColumnType.Text, Array.Empty<string>()),
        ("BillingAccountId", CostColumnType.Text, Array.Empty<string>()),
        ("BillingAccountName", CostColumnType.Text, Array.Empty<string>()),
        ("BillingProfileId", CostColumnType.Text, Array.Empty<string>()),
        ("BillingProfileName", CostColumnType.Text, Array.Empty<string>()),
        ("PartNumber", CostColumnType.Text, Array.Empty<string>()),
        ("PlanName", CostColumnType.Text, Array.Empty<string>()),
        ("ServiceFamily", CostColumnType.Text, Array.Empty<string>()),
        ("CostAllocationRuleName", CostColumnType.Text, Array.Empty<string>()),
        ("BenefitId", CostColumnType.Text, Array.Empty<string>()),
        ("BenefitName", CostColumnType.Text, Array.Empty<string>()),
        ("AccountId", CostColumnType.Text, Array.Empty<string>()),
        ("ResourceLocationNormalized", CostColumnType.Text, Array.Empty<string>()),
        ("InvoiceId", CostColumnType.Text, Array.Empty<string>()),
        ("PreviousInvoiceId", CostColumnType.Text, Array.Empty<string>()),
        ("ResellerName", CostColumnType.Text, Array.Empty<string>()),
        ("ResellerMpnId", CostColumnType.Text, Array.Empty<string>()),
        ("ProductId", CostColumnType.Text, Array.Empty<string>()),
        ("Location", CostColumnType.Text, Array.Empty<string>()),
        ("PricingCurrency", CostColumnType.Text, Array.Empty<string>()),
        ("Provider", CostColumnType.Text, Array.Empty<string>()),
    };

    /// <summary>The cost-details catalog as a <see cref="ColumnCatalog"/> (period column: Date).</summary>
    public static ColumnCatalog Instance { get; } = new("cost details", DateColumn, Known);

    /// <summary>All canonical columns, in catalog order.</summary>
    public static IEnumerable<CostColumn> Columns => Instance.Columns;

    /// <summary>The canonical column for a header name (case-insensitive, aliases included), or a text column of that name.</summary>
    public static CostColumn Resolve(string header) => Instance.Resolve(header);

    /// <summary>True when the header is one the catalog knows (by name or alias).</summary>
    public static bool IsKnown(string header) => Instance.IsKnown(header);
}

/// <summary>
/// The known columns of one dataset (cost details, FOCUS, price sheet, reservations), matched case-insensitively with
/// aliases, and the column (if any) whose value dates a row. Unknown columns are kept as text under their own name.
/// </summary>
public sealed class ColumnCatalog
{
    private readonly (string Name, CostColumnType Type, string[] Aliases)[] _known;
    private readonly FrozenDictionary<string, CostColumn> _byName;

    public ColumnCatalog(string dataset, string? periodColumn, (string Name, CostColumnType Type, string[] Aliases)[] known)
    {
        ArgumentNullException.ThrowIfNull(known);
        Dataset = dataset;
        PeriodColumn = periodColumn;
        _known = known;
        var map = new Dictionary<string, CostColumn>(StringComparer.OrdinalIgnoreCase);
        foreach ((string name, CostColumnType type, string[] aliases) in known)
        {
            var column = new CostColumn(name, type);
            map.Add(name, column);
            foreach (string alias in aliases)
            {
                map.Add(alias, column);
            }
        }

        _byName = map.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>What the files hold, for messages ("cost details", "FocusCost").</summary>
    public string Dataset { get; }

    /// <summary>The column every file of the dataset must have and whose value dates a row (checked against the period); null when rows carry no date.</summary>
    public string? PeriodColumn { get; }

    /// <summary>All canonical columns, in catalog order.</summary>
    public IEnumerable<CostColumn> Columns
    {
        get
        {
            foreach ((string name, CostColumnType type, _) in _known)
            {
                yield return new CostColumn(name, type);
            }
        }
    }

    /// <summary>The canonical column for a header name (case-insensitive, aliases included), or a text column of that name.</summary>
    public CostColumn Resolve(string header)
    {
        string trimmed = header.Trim();
        return _byName.TryGetValue(trimmed, out CostColumn? known) ? known : new CostColumn(trimmed, CostColumnType.Text);
    }

    /// <summary>True when the header is one the catalog knows (by name or alias).</summary>
    public bool IsKnown(string header) => _byName.ContainsKey(header.Trim());
}
