using System;
using System.Linq;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using Xunit;

namespace AzBillingPS.Tests.CostDetails;

public sealed class CostReportPlannerTests
{
    private const string Sub = "/subscriptions/00000000-0000-0000-0000-00000000000a";
    private static readonly DateOnly Today = new(2026, 11, 25);

    private static string[] Months(DateOnly? from, DateOnly? to, DateOnly? today = null)
        => CostReportPlanner.Plan([Sub], ["ActualCost"], from, to, null, null, CostReportDefaults.ApiVersion, today ?? Today)
            .Select(r => $"{r.Start:yyyy-MM-dd}..{r.End:yyyy-MM-dd}").ToArray();

    [Fact]
    public void SplitsAcrossAYearEndIntoCalendarMonths()
        => Assert.Equal(["2025-12-15..2025-12-31", "2026-01-01..2026-01-31", "2026-02-01..2026-02-10"], Months(new(2025, 12, 15), new(2026, 2, 10)));

    [Fact]
    public void LeapFebruaryEndsOnThe29th()
        => Assert.Equal(["2028-02-01..2028-02-29", "2028-03-01..2028-03-01"], Months(new(2028, 2, 1), new(2028, 3, 1), new DateOnly(2028, 6, 1)));

    [Fact]
    public void CommonFebruaryEndsOnThe28th()
        => Assert.Equal(["2026-02-01..2026-02-28"], Months(new(2026, 2, 1), new(2026, 2, 28)));

    [Fact]
    public void ToAfterTodayIsClampedAndDefaultIsTheCurrentMonth()
    {
        Assert.Equal(["2026-11-01..2026-11-25"], Months(new(2026, 11, 1), new(2026, 12, 31)));
        Assert.Equal(["2026-11-01..2026-11-25"], Months(null, null));
        Assert.Equal(["2026-10-01..2026-10-31", "2026-11-01..2026-11-25"], Months(new(2026, 10, 1), null));
    }

    [Fact]
    public void OneDayIsOneReport() => Assert.Equal(["2026-09-30..2026-09-30"], Months(new(2026, 9, 30), new(2026, 9, 30)));

    [Theory]
    [InlineData(2025, 10, 24, "more than 13 months ago")]
    [InlineData(2026, 11, 26, "in the future")]
    public void RefusesPeriodsTheApiWouldRefuse(int y, int m, int d, string expected)
    {
        var e = Assert.Throws<EngineException>(() => Months(new(y, m, d), null));
        Assert.Equal(EngineErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThirteenMonthsBackIsAllowed() => Assert.Equal(14, Months(new(2025, 10, 25), null).Length);

    [Fact]
    public void ToBeforeFromIsRefused()
        => Assert.Contains("before -From", Assert.Throws<EngineException>(() => Months(new(2026, 9, 10), new(2026, 9, 1))).Message, StringComparison.Ordinal);

    [Fact]
    public void OrderIsScopeThenMonthThenMetric()
    {
        var plan = CostReportPlanner.Plan([Sub, "00000000-0000-0000-0000-00000000000B"], ["AmortizedCost", "actualcost"], new DateOnly(2026, 9, 20), new DateOnly(2026, 10, 5), null, null, "2025-03-01", Today);
        Assert.Equal(
            [
                Sub + " AmortizedCost 2026-09-20", Sub + " ActualCost 2026-09-20", Sub + " AmortizedCost 2026-10-01", Sub + " ActualCost 2026-10-01",
                "/subscriptions/00000000-0000-0000-0000-00000000000b AmortizedCost 2026-09-20", "/subscriptions/00000000-0000-0000-0000-00000000000b ActualCost 2026-09-20",
                "/subscriptions/00000000-0000-0000-0000-00000000000b AmortizedCost 2026-10-01", "/subscriptions/00000000-0000-0000-0000-00000000000b ActualCost 2026-10-01",
            ],
            plan.Select(r => $"{r.Scope} {r.Metric} {r.Start:yyyy-MM-dd}"));
    }

    [Theory]
    [InlineData("/subscriptions/00000000-0000-0000-0000-00000000000A/", CostScopeKind.Subscription)]
    [InlineData("/providers/Microsoft.Billing/billingAccounts/1234567", CostScopeKind.BillingAccount)]
    [InlineData("providers/Microsoft.Billing/billingAccounts/1234567/departments/42", CostScopeKind.Department)]
    [InlineData("/providers/Microsoft.Billing/departments/42", CostScopeKind.Department)]
    [InlineData("/providers/Microsoft.Billing/billingAccounts/1234567/enrollmentAccounts/7", CostScopeKind.EnrollmentAccount)]
    [InlineData("/providers/Microsoft.Billing/enrollmentAccounts/7", CostScopeKind.EnrollmentAccount)]
    [InlineData("/providers/Microsoft.Billing/billingAccounts/12345678:abcd_2019-05-31/billingProfiles/ABCD-EFGH", CostScopeKind.BillingProfile)]
    [InlineData("/providers/Microsoft.Billing/billingAccounts/12345678:abcd_2019-05-31/billingProfiles/ABCD/invoiceSections/XYZ", CostScopeKind.InvoiceSection)]
    [InlineData("/providers/Microsoft.Billing/billingAccounts/12345678:abcd_2019-05-31/customers/c1", CostScopeKind.Customer)]
    public void RecognisesEveryScopeForm(string scope, CostScopeKind kind) => Assert.Equal(kind, CostReportPlanner.ParseScope(scope).Kind);

    [Theory]
    [InlineData("/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg1", EngineErrorKind.Unsupported, "/subscriptions/00000000-0000-0000-0000-00000000000a")]
    [InlineData("/providers/Microsoft.Management/managementGroups/mg1", EngineErrorKind.Unsupported, "Request each subscription under it")]
    [InlineData("/subscriptions/not-a-guid", EngineErrorKind.InvalidArgument, "not a subscription id")]
    [InlineData("/providers/Microsoft.Billing/billingAccounts/1/foo/2", EngineErrorKind.InvalidArgument, "not one the Cost Details API accepts")]
    public void RefusesScopesTheApiDoesNotTake(string scope, EngineErrorKind kind, string expected)
    {
        var e = Assert.Throws<EngineException>(() => CostReportPlanner.ParseScope(scope));
        Assert.Equal(kind, e.Kind);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        // A management group: Sync-AzBilling words -AllSubscriptions, a command without it adds nothing.
        Assert.Equal(scope.Contains("managementGroups", StringComparison.Ordinal) ? EngineAdvice.RequestEachSubscription : EngineAdvice.None, e.Advice);
    }

    [Fact]
    public void BillingPeriodAndInvoiceBodies()
    {
        var bp = CostReportPlanner.Plan(["/providers/Microsoft.Billing/billingAccounts/1234567"], ["ActualCost"], null, null, "202609", null, "2025-03-01", Today).Single();
        Assert.Equal("""{"metric":"ActualCost","billingPeriod":"202609"}""", CostDetailsClient.BuildBody(bp));
        Assert.Equal(new DateOnly(2026, 9, 30), bp.End);
        var inv = CostReportPlanner.Plan(["/providers/Microsoft.Billing/billingAccounts/1:2_2019-05-31/billingProfiles/P"], ["AmortizedCost"], null, null, null, "G012345678", "2025-03-01", Today).Single();
        Assert.Equal("""{"metric":"AmortizedCost","invoiceId":"G012345678"}""", CostDetailsClient.BuildBody(inv));
        Assert.Null(inv.Start);
        var tp = CostReportPlanner.Plan([Sub], ["ActualCost"], new DateOnly(2026, 2, 1), new DateOnly(2026, 2, 28), null, null, "2025-03-01", Today).Single();
        Assert.Equal("""{"metric":"ActualCost","timePeriod":{"start":"2026-02-01","end":"2026-02-28"}}""", CostDetailsClient.BuildBody(tp));
    }

    [Fact]
    public void RefusesPeriodFormsOnTheWrongScope()
    {
        Assert.Contains("billing-profile or customer", Assert.Throws<EngineException>(() => CostReportPlanner.Plan([Sub], ["ActualCost"], null, null, null, "G1", "2025-03-01", Today)).Message, StringComparison.Ordinal);
        Assert.Contains("Enterprise Agreement", Assert.Throws<EngineException>(() => CostReportPlanner.Plan(["/providers/Microsoft.Billing/billingAccounts/1:2_2019-05-31/billingProfiles/P"], ["ActualCost"], null, null, "202609", null, "2025-03-01", Today)).Message, StringComparison.Ordinal);
        Assert.Contains("only one of", Assert.Throws<EngineException>(() => CostReportPlanner.PlanPeriods(new DateOnly(2026, 9, 1), null, "202609", null, Today)).Message, StringComparison.Ordinal);
        Assert.Contains("yyyyMM", Assert.Throws<EngineException>(() => CostReportPlanner.PlanPeriods(null, null, "2026-9", null, Today)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://acct.blob.core.windows.net/c/b.csv?sv=2018-03-28&sr=b&sig=abc%2Bdef%3D&se=2026-11-25T12%3A00%3A00Z", "https://acct.blob.core.windows.net/c/b.csv?sv=2018-03-28&sr=b&sig=REDACTED&se=2026-11-25T12%3A00%3A00Z")]
    [InlineData("https://h/c/b?SIG=x", "https://h/c/b?SIG=REDACTED")]
    [InlineData("https://h/c/b", "https://h/c/b")]
    public void RedactsSasSignatures(string link, string expected) => Assert.Equal(expected, SasRedactor.Redact(link));
}
