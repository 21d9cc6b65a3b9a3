using System;
using System.Globalization;
using System.Management.Automation;
using AzBillingPS.Engine.Common;

namespace AzBillingPS;

/// <summary>
/// Short, readable forms for table views (AzBillingPS.Format.ps1xml): scopes as the id that tells them apart (its tail
/// kept when cut), periods as a month when they are one, metrics without the common suffix. The objects' properties
/// keep the full values; Format-List shows them.
/// </summary>
public static class AzFormat
{
    /// <summary>
    /// A scope in at most <paramref name="width"/> characters: its last id (a subscription's GUID; "ba 8611537",
    /// "bp …", "rg …" and so on for the others), cut from the front with "…" so the tail, which tells ids apart, stays.
    /// </summary>
    public static string Scope(string? scope, int width)
    {
        if (string.IsNullOrEmpty(scope))
        {
            return string.Empty;
        }

        string[] parts = scope.Trim('/').Split('/');
        string kind = string.Empty;
        string id = scope;
        for (int i = parts.Length - 2; i >= 0; i--)
        {
            string? prefix = parts[i].ToLowerInvariant() switch
            {
                "subscriptions" => string.Empty,
                "resourcegroups" => "rg ",
                "billingaccounts" => "ba ",
                "billingprofiles" => "bp ",
                "invoicesections" => "is ",
                "departments" => "dept ",
                "enrollmentaccounts" => "acct ",
                "managementgroups" => "mg ",
                "customers" => "cust ",
                _ => null,
            };
            if (prefix is not null)
            {
                kind = prefix;
                id = string.Join('/', parts[(i + 1)..]);
                break;
            }
        }

        return Tail(kind, id, width);
    }

    /// <summary>An id (a GUID, say) in at most <paramref name="width"/> characters, its tail kept.</summary>
    public static string Id(string? id, int width) => string.IsNullOrEmpty(id) ? string.Empty : Tail(string.Empty, id, width);

    /// <summary>A period: yyyy-MM for a whole month, yyyy-MM-dd..dd within a month, yyyy-MM-dd..MM-dd within a year.</summary>
    public static string Period(DateTime start, DateTime end)
    {
        if (start == default && end == default)
        {
            return string.Empty;
        }

        if (start.Year == end.Year && start.Month == end.Month)
        {
            return start.Day == 1 && end.Day == DateTime.DaysInMonth(end.Year, end.Month)
                ? start.ToString("yyyy-MM", CultureInfo.InvariantCulture)
                : start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + ".." + end.ToString("dd", CultureInfo.InvariantCulture);
        }

        return start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + ".."
            + end.ToString(start.Year == end.Year ? "MM-dd" : "yyyy-MM-dd", CultureInfo.InvariantCulture);
    }

    /// <summary>Actual or Amortized (ActualCost and AmortizedCost without the common suffix).</summary>
    public static string Metric(string? metric)
        => metric is not null && metric.EndsWith("Cost", StringComparison.Ordinal) && metric.Length > 4 ? metric[..^4] : metric ?? string.Empty;

    /// <summary>Bytes as KB, MB or GB in at most 8 characters.</summary>
    public static string Size(long bytes) => bytes switch
    {
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(bytes / 1024.0):N0} KB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:N1} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1073741824.0:N1} GB"),
    };

    /// <summary>A scope or scope pattern in the stored spelling (lower-case, one leading slash; a bare GUID is a subscription).</summary>
    internal static string ScopePattern(string scope)
        => WildcardPattern.ContainsWildcardCharacters(scope) ? "/" + scope.Trim().Trim('/').ToLowerInvariant() : CostScope.Normalize(scope);

    private static string Tail(string kind, string id, int width)
    {
        string text = kind + id;
        width = Math.Max(width, kind.Length + 4);
        return text.Length <= width ? text : kind + "…" + id[^(width - kind.Length - 1)..];
    }
}
