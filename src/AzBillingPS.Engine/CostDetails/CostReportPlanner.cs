using System;
using System.Collections.Generic;
using System.Globalization;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.CostDetails;

/// <summary>The scopes generateCostDetailsReport accepts.</summary>
public enum CostScopeKind
{
    Subscription,
    BillingAccount,
    Department,
    EnrollmentAccount,
    BillingProfile,
    InvoiceSection,
    Customer,
}

/// <summary>The parts of a scope given as short parameters (-SubscriptionId, -BillingAccountId, ...); null where not given.</summary>
public sealed record ScopeParts(
    IReadOnlyList<string>? SubscriptionIds = null,
    string? BillingAccountId = null,
    string? BillingProfileId = null,
    string? InvoiceSectionId = null,
    string? CustomerId = null,
    string? DepartmentId = null,
    string? EnrollmentAccountId = null);

/// <summary>
/// Turns what a user asked for (scopes, metrics, a date range, a billing period or an invoice) into the list of
/// report requests the API accepts: one per (scope, month, metric), in that order. Everything the service would
/// refuse is refused here, before any call, with a message that says what to do instead.
/// </summary>
public static class CostReportPlanner
{
    /// <summary>How far back the Cost Details API keeps data.</summary>
    public const int MonthsBack = 13;

    public static IReadOnlyList<CostReportRequest> Plan(
        IReadOnlyList<string> scopes,
        IReadOnlyList<string> metrics,
        DateOnly? from,
        DateOnly? to,
        string? billingPeriod,
        string? invoiceId,
        string apiVersion,
        DateOnly todayUtc)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        ArgumentNullException.ThrowIfNull(metrics);
        var periods = PlanPeriods(from, to, billingPeriod, invoiceId, todayUtc);
        var normalised = new List<(string Scope, CostScopeKind Kind)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string s in scopes)
        {
            (string scope, CostScopeKind kind) = ParseScope(s);
            if (seen.Add(scope))
            {
                normalised.Add((scope, kind));
            }
        }

        var metricList = new List<string>();
        foreach (string m in metrics.Count == 0 ? ["ActualCost"] : metrics)
        {
            string metric = NormaliseMetric(m);
            if (!metricList.Contains(metric))
            {
                metricList.Add(metric);
            }
        }

        var requests = new List<CostReportRequest>();
        foreach ((string scope, CostScopeKind kind) in normalised)
        {
            CheckPeriodForScope(scope, kind, billingPeriod, invoiceId);
            foreach ((DateOnly? start, DateOnly? end) in periods)
            {
                foreach (string metric in metricList)
                {
                    requests.Add(new CostReportRequest(scope, metric, start, end, billingPeriod, invoiceId) { ApiVersion = apiVersion });
                }
            }
        }

        return requests;
    }

    public static string NormaliseMetric(string metric)
    {
        if (string.Equals(metric, "ActualCost", StringComparison.OrdinalIgnoreCase))
        {
            return "ActualCost";
        }

        if (string.Equals(metric, "AmortizedCost", StringComparison.OrdinalIgnoreCase))
        {
            return "AmortizedCost";
        }

        throw new EngineException(EngineErrorKind.InvalidArgument, $"-Metric '{metric}' is not a cost-details metric; use ActualCost or AmortizedCost.");
    }

    /// <summary>The calendar-month periods of a request; (null, null) for an invoice, whose dates the invoice decides.</summary>
    public static IReadOnlyList<(DateOnly? Start, DateOnly? End)> PlanPeriods(DateOnly? from, DateOnly? to, string? billingPeriod, string? invoiceId, DateOnly todayUtc)
    {
        int forms = (from is not null || to is not null ? 1 : 0) + (string.IsNullOrEmpty(billingPeriod) ? 0 : 1) + (string.IsNullOrEmpty(invoiceId) ? 0 : 1);
        if (forms > 1)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "Give only one of -From/-To, -BillingPeriod and -InvoiceId: the API takes one way of naming the period per report.");
        }

        DateOnly earliest = Earliest(todayUtc);
        if (!string.IsNullOrEmpty(invoiceId))
        {
            if (invoiceId.Trim().Length == 0 || invoiceId.IndexOfAny(['/', '?', '#', '"']) >= 0)
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"-InvoiceId '{invoiceId}' is not an invoice id (for example G012345678).");
            }

            return [(null, null)];
        }

        if (!string.IsNullOrEmpty(billingPeriod))
        {
            if (billingPeriod.Length != 6 || !DateOnly.TryParseExact(billingPeriod + "01", "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly first))
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"-BillingPeriod '{billingPeriod}' is not a billing period; write it as yyyyMM, for example {todayUtc:yyyyMM}.");
            }

            DateOnly last = LastOfMonth(first);
            if (first > todayUtc)
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"-BillingPeriod {billingPeriod} is in the future; the latest billing period is {todayUtc:yyyyMM}.");
            }

            if (last < earliest)
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"-BillingPeriod {billingPeriod} is more than {MonthsBack} months ago; the Cost Details API keeps data from {earliest:yyyy-MM-dd} on. Use Cost Management exports for older data.");
            }

            return [(first, last < todayUtc ? last : todayUtc)];
        }

        DateOnly start = from ?? new DateOnly(todayUtc.Year, todayUtc.Month, 1);
        DateOnly end = to ?? todayUtc; // -From alone means from that day to today
        if (from is null && to is not null)
        {
            start = new DateOnly(end.Year, end.Month, 1);
        }

        if (start > todayUtc)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"-From {start:yyyy-MM-dd} is in the future (today is {todayUtc:yyyy-MM-dd} UTC); cost details exist only for days that have begun.");
        }

        if (end > todayUtc)
        {
            end = todayUtc; // a -To of today (or later) is clamped to the last day with any data
        }

        if (end < start)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"-To {end:yyyy-MM-dd} is before -From {start:yyyy-MM-dd}.");
        }

        if (start < earliest)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"-From {start:yyyy-MM-dd} is more than {MonthsBack} months ago; the Cost Details API keeps data from {earliest:yyyy-MM-dd} on. Use Cost Management exports for older data.");
        }

        var periods = new List<(DateOnly?, DateOnly?)>();
        DateOnly s = start;
        while (s <= end)
        {
            DateOnly monthEnd = LastOfMonth(s);
            DateOnly e = monthEnd < end ? monthEnd : end;
            periods.Add((s, e));
            s = monthEnd.AddDays(1);
        }

        return periods;
    }

    /// <summary>The first day the API still has data for: 13 months before today.</summary>
    public static DateOnly Earliest(DateOnly todayUtc) => todayUtc.AddMonths(-MonthsBack);

    public static DateOnly LastOfMonth(DateOnly day) => new DateOnly(day.Year, day.Month, 1).AddMonths(1).AddDays(-1);

    /// <summary>
    /// The scopes named by the short parameters (the inverse of <see cref="ParseScope"/>): each subscription id as
    /// <c>/subscriptions/{id}</c>; a billing account alone, or with one billing profile (and invoice section), customer,
    /// department or enrollment account under it; or a department or enrollment account on its own (EA ids are unique).
    /// Throws InvalidArgument for a subscription id that is not a GUID, or a part without the part it lives under.
    /// </summary>
    public static IReadOnlyList<string> BuildScopes(ScopeParts parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        const string Billing = "/providers/Microsoft.Billing/";
        var scopes = new List<string>();
        foreach (string id in parts.SubscriptionIds ?? [])
        {
            if (!Guid.TryParse(id, out Guid g))
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"-SubscriptionId '{id}' is not a subscription id (a GUID).");
            }

            scopes.Add("/subscriptions/" + g.ToString("D"));
        }

        bool under = parts.BillingProfileId is not null || parts.InvoiceSectionId is not null || parts.CustomerId is not null;
        if (parts.BillingAccountId is null)
        {
            if (under)
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, "-BillingProfileId, -InvoiceSectionId and -CustomerId need -BillingAccountId (they live under a billing account).");
            }

            if (parts.DepartmentId is not null)
            {
                scopes.Add(Billing + "departments/" + parts.DepartmentId);
            }

            if (parts.EnrollmentAccountId is not null)
            {
                scopes.Add(Billing + "enrollmentAccounts/" + parts.EnrollmentAccountId);
            }

            return scopes;
        }

        string account = Billing + "billingAccounts/" + parts.BillingAccountId;
        if (parts.InvoiceSectionId is not null && parts.BillingProfileId is null)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "-InvoiceSectionId needs -BillingProfileId (an invoice section lives under a billing profile).");
        }

        int before = scopes.Count;
        if (parts.BillingProfileId is not null)
        {
            scopes.Add(parts.InvoiceSectionId is null
                ? account + "/billingProfiles/" + parts.BillingProfileId
                : account + "/billingProfiles/" + parts.BillingProfileId + "/invoiceSections/" + parts.InvoiceSectionId);
        }

        if (parts.CustomerId is not null)
        {
            scopes.Add(account + "/customers/" + parts.CustomerId);
        }

        if (parts.DepartmentId is not null)
        {
            scopes.Add(account + "/departments/" + parts.DepartmentId);
        }

        if (parts.EnrollmentAccountId is not null)
        {
            scopes.Add(account + "/enrollmentAccounts/" + parts.EnrollmentAccountId);
        }

        if (scopes.Count == before)
        {
            scopes.Add(account);
        }

        return scopes;
    }

    /// <summary>Normalises a scope and says what kind it is; refuses the scopes the API does not take.</summary>
    public static (string Scope, CostScopeKind Kind) ParseScope(string scope)
    {
        string s = CostScope.Normalize(scope);
        string[] p = s.TrimStart('/').Split('/');
        const string Billing = "microsoft.billing";
        if (p.Length >= 2 && p[0] == "subscriptions")
        {
            if (p.Length == 2)
            {
                if (!Guid.TryParse(p[1], out _))
                {
                    throw new EngineException(EngineErrorKind.InvalidArgument, $"Scope '{scope}': '{p[1]}' is not a subscription id (a GUID).");
                }

                return (s, CostScopeKind.Subscription);
            }

            if (p.Length >= 4 && p[2] == "resourcegroups")
            {
                throw new EngineException(
                    EngineErrorKind.Unsupported,
                    $"Scope '{scope}' is a resource group; the Cost Details API has not accepted resource groups since api-version 2023-08-01. Request the subscription (-Scope /subscriptions/{p[1]}) and filter on the ResourceGroup column in SQL.");
            }
        }

        if (p.Length >= 4 && p[0] == "providers" && p[1] == "microsoft.management" && p[2] == "managementgroups")
        {
            throw new EngineException(
                EngineErrorKind.Unsupported,
                $"Scope '{scope}' is a management group; the Cost Details API does not accept management groups. Request each subscription under it, or the EA billing account, department or enrollment account scope.")
            {
                Advice = EngineAdvice.RequestEachSubscription,
            };
        }

        if (p.Length >= 4 && p[0] == "providers" && p[1] == Billing)
        {
            CostScopeKind? kind = (p.Length, p[2], p.Length > 4 ? p[4] : null, p.Length > 6 ? p[6] : null) switch
            {
                (4, "billingaccounts", _, _) => CostScopeKind.BillingAccount,
                (4, "departments", _, _) => CostScopeKind.Department,
                (4, "enrollmentaccounts", _, _) => CostScopeKind.EnrollmentAccount,
                (6, "billingaccounts", "departments", _) => CostScopeKind.Department,
                (6, "billingaccounts", "enrollmentaccounts", _) => CostScopeKind.EnrollmentAccount,
                (6, "billingaccounts", "billingprofiles", _) => CostScopeKind.BillingProfile,
                (6, "billingaccounts", "customers", _) => CostScopeKind.Customer,
                (8, "billingaccounts", "billingprofiles", "invoicesections") => CostScopeKind.InvoiceSection,
                _ => null,
            };
            if (kind is CostScopeKind k && Array.TrueForAll(p, x => x.Length > 0))
            {
                return (s, k);
            }
        }

        throw new EngineException(
            EngineErrorKind.InvalidArgument,
            $"Scope '{scope}' is not one the Cost Details API accepts. Use /subscriptions/{{id}}, or under /providers/Microsoft.Billing: billingAccounts/{{id}}, billingAccounts/{{id}}/departments/{{id}}, billingAccounts/{{id}}/enrollmentAccounts/{{id}}, billingAccounts/{{id}}/billingProfiles/{{id}}[/invoiceSections/{{id}}] or billingAccounts/{{id}}/customers/{{id}}.");
    }

    private static void CheckPeriodForScope(string scope, CostScopeKind kind, string? billingPeriod, string? invoiceId)
    {
        if (!string.IsNullOrEmpty(invoiceId) && kind is not (CostScopeKind.BillingProfile or CostScopeKind.Customer))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"-InvoiceId works only for billing-profile or customer scopes (Microsoft Customer Agreement); '{scope}' is a {kind} scope. Use -From/-To instead.");
        }

        bool mca = kind is CostScopeKind.BillingProfile or CostScopeKind.InvoiceSection or CostScopeKind.Customer
            || (kind == CostScopeKind.BillingAccount && scope.Contains(':', StringComparison.Ordinal));
        if (!string.IsNullOrEmpty(billingPeriod) && mca)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"-BillingPeriod works only for Enterprise Agreement scopes; '{scope}' is a Microsoft Customer Agreement scope. Use -From/-To or -InvoiceId instead.");
        }
    }
}
