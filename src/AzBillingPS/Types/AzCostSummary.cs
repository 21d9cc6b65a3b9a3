using System;
using System.Collections.Specialized;
using System.Globalization;

namespace AzBillingPS;

/// <summary>
/// One group of a cost table (Get-AzCostSummary): its metric and currency (never added across), the value of each
/// grouping key, the sum of CostInBillingCurrency and the number of rows.
/// </summary>
public sealed class AzCostSummary
{
    /// <summary>ActualCost or AmortizedCost (the _Metric the rows were loaded as).</summary>
    public string Metric { get; set; } = string.Empty;

    /// <summary>The billing currency (BillingCurrencyCode).</summary>
    public string Currency { get; set; } = string.Empty;

    /// <summary>The first day of the month, when grouped by Month.</summary>
    public DateTime? Month { get; set; }

    /// <summary>The day, when grouped by Day.</summary>
    public DateTime? Day { get; set; }

    /// <summary>The loaded scope (_Scope), when grouped by Scope.</summary>
    public string? Scope { get; set; }

    /// <summary>The SubscriptionId column, when grouped by Subscription.</summary>
    public string? SubscriptionId { get; set; }

    /// <summary>The ResourceGroup column, when grouped by ResourceGroup.</summary>
    public string? ResourceGroup { get; set; }

    /// <summary>The service (MeterCategory), when grouped by Service.</summary>
    public string? Service { get; set; }

    /// <summary>The resource location, when grouped by Location.</summary>
    public string? Location { get; set; }

    /// <summary>Every grouping key's value by its label (Month, Service, Tag:env, a column name ...), in -GroupBy order.</summary>
    public OrderedDictionary Keys { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The values of the keys other than Month and Day, joined with " | " (scopes in their short form), for the table view.</summary>
    public string Group { get; set; } = string.Empty;

    /// <summary>Sum of CostInBillingCurrency, exact in the database and rounded half away from zero to 6 decimals (SQLite: a REAL sum).</summary>
    public decimal Cost { get; set; }

    public long Rows { get; set; }

    public override string ToString()
    {
        string period = Day is DateTime d ? d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : Month is DateTime m ? m.ToString("yyyy-MM", CultureInfo.InvariantCulture) : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{period} {Metric} {Group}: {Cost} {Currency}").Trim();
    }
}
