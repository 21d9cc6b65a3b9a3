using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Requests Cost Management cost-details reports: one per scope, metric and calendar month.</para>
/// <para type="description">Splits the period into months, requests each report, waits for it as the service asks and writes
/// one AzCostReport per (scope, metric, month) with its manifest, ready for Save-AzCostBlob.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "AzCostReport", DefaultParameterSetName = TimePeriodSet)]
[OutputType(typeof(AzCostReport))]
[OutputType(typeof(string))]
public sealed class NewAzCostReportCommand : AsyncCmdlet
{
    private const string TimePeriodSet = "TimePeriod";
    private const string BillingPeriodSet = "BillingPeriod";
    private const string InvoiceSet = "Invoice";

    private readonly List<(CostReportRequest Request, AzBillingToken Token)> _planned = new();
    private DateOnly _today;

    [Parameter(Mandatory = true, ValueFromPipeline = true, HelpMessage = "The token from Get-AzBillingToken.")]
    [ValidateNotNull]
    public AzBillingToken Token { get; set; } = null!;

    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[]? Scope { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? SubscriptionId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? BillingAccountId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? BillingProfileId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? InvoiceSectionId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CustomerId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DepartmentId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? EnrollmentAccountId { get; set; }

    [Parameter(ParameterSetName = TimePeriodSet)]
    public DateTime? From { get; set; }

    [Parameter(ParameterSetName = TimePeriodSet)]
    public DateTime? To { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = BillingPeriodSet)]
    [ValidatePattern(@"^\d{6}$")]
    public string BillingPeriod { get; set; } = string.Empty;

    [Parameter(Mandatory = true, ParameterSetName = InvoiceSet)]
    [ValidateNotNullOrEmpty]
    public string InvoiceId { get; set; } = string.Empty;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public AzCostMetric[] Metric { get; set; } = [AzCostMetric.ActualCost];

    [Parameter]
    [ValidatePattern(@"^\d{4}-\d{2}-\d{2}(-preview)?$")]
    public string ApiVersion { get; set; } = CostReportDefaults.ApiVersion;

    [Parameter]
    [ValidateRange(1, 16)]
    public int ThrottleLimit { get; set; } = 2;

    [Parameter]
    [SecondsTimeSpan]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromHours(1);

    [Parameter]
    public SwitchParameter AsJson { get; set; }

    protected override Task BeginProcessingAsync()
    {
        if (Timeout <= TimeSpan.Zero)
        {
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException("-Timeout must be positive."), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, Timeout));
        }

        // Period mistakes concern every scope: refuse them once, before anything is sent.
        _today = DateOnly.FromDateTime(DateTime.UtcNow);
        CostReportPlanner.PlanPeriods(DateOnlyOf(From), DateOnlyOf(To), NullIfEmpty(BillingPeriod), NullIfEmpty(InvoiceId), _today);
        return Task.CompletedTask;
    }

    protected override Task ProcessRecordAsync()
    {
        // A piped AzBillingToken's own Scope property (its OAuth scope, https://.../.default) binds to -Scope by property
        // name; it is never a cost scope. A short form the planner refuses, like no scope at all, ends the command.
        List<string> scopes = [.. (Scope ?? []).Where(s => !string.Equals(s, Token.Scope, StringComparison.OrdinalIgnoreCase)),
            .. CostReportPlanner.BuildScopes(new ScopeParts(SubscriptionId, BillingAccountId, BillingProfileId, InvoiceSectionId, CustomerId, DepartmentId, EnrollmentAccountId))];
        if (scopes.Count == 0)
        {
            throw new ArgumentException("Give the scope to report on: -Scope /subscriptions/{id} (or a billing scope), or a short form such as -SubscriptionId or -BillingAccountId.");
        }

        string[] metrics = Metric.Select(m => m.ToString()).ToArray();
        foreach (string scope in scopes)
        {
            try
            {
                _planned.AddRange(CostReportPlanner.Plan([scope], metrics, DateOnlyOf(From), DateOnlyOf(To), NullIfEmpty(BillingPeriod), NullIfEmpty(InvoiceId), ApiVersion, _today).Select(r => (r, Token)));
            }
            catch (EngineException e)
            {
                WriteItemError(e, scope);
            }
        }

        return Task.CompletedTask;
    }

    protected override async Task EndProcessingAsync()
    {
        IEngineLog log = CreateLog();
        using var sources = new CostReportSources(new CostDetailsOptions { Timeout = Timeout });
        var orders = _planned.Select(p => new ReportOrder(p.Request, sources.For(p.Token.Provider)) { State = p.Token });
        var requester = new ReportRequester(ThrottleLimit) { Activity = "New-AzCostReport" };
        await foreach (ReportOutcome outcome in requester.RequestAsync(orders, log, CreateProgress(), CancellationToken).ConfigureAwait(false))
        {
            if (outcome.Report is not CostReportResult report)
            {
                WriteItemError(outcome.Error!, outcome.Order.Request.Scope);
                continue;
            }

            if (report.Status == "NoDataFound")
            {
                log.Warning($"No cost data for {CostDetailsClient.Describe(report.Request)}: the report has no blobs.");
            }

            var written = new AzCostReport(report, (AzBillingToken)outcome.Order.State!);
            WriteObjectAsync(AsJson ? written.ToJson() : written);
        }
    }

    private static DateOnly? DateOnlyOf(DateTime? value) => value is DateTime d ? DateOnly.FromDateTime(d) : null;

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
