using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
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
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
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

        _today = DateOnly.FromDateTime(DateTime.UtcNow);

        // Period mistakes concern every scope: refuse them once, before anything is sent.
        CostReportPlanner.PlanPeriods(DateOnlyOf(From), DateOnlyOf(To), NullIfEmpty(BillingPeriod), NullIfEmpty(InvoiceId), _today);
        return Task.CompletedTask;
    }

    protected override Task ProcessRecordAsync()
    {
        // A piped AzBillingToken has a Scope property of its own (the token's OAuth scope, https://.../.default) that
        // PowerShell binds to -Scope by property name; it is never a cost scope, so it is dropped here.
        List<string> scopes = [.. (Scope ?? []).Where(s => !string.Equals(s, Token.Scope, StringComparison.OrdinalIgnoreCase))];
        try
        {
            scopes.AddRange(ShortFormScopes());
        }
        catch (EngineException e)
        {
            throw new TerminatingErrorException(ErrorMapper.ToErrorRecord(e, null));
        }

        if (scopes.Count == 0)
        {
            throw new TerminatingErrorException(new ErrorRecord(
                new ArgumentException("Give the scope to report on: -Scope /subscriptions/{id} (or a billing scope), or a short form such as -SubscriptionId or -BillingAccountId."),
                ErrorIds.InvalidArgument,
                ErrorCategory.InvalidArgument,
                null));
        }

        string[] metrics = Metric.Select(m => m.ToString()).ToArray();
        foreach (string scope in scopes)
        {
            try
            {
                foreach (CostReportRequest r in CostReportPlanner.Plan([scope], metrics, DateOnlyOf(From), DateOnlyOf(To), NullIfEmpty(BillingPeriod), NullIfEmpty(InvoiceId), ApiVersion, _today))
                {
                    if (_seen.Add(r.Scope + "|" + r.Metric + "|" + r.Start + "|" + r.BillingPeriod + "|" + r.InvoiceId))
                    {
                        _planned.Add((r, Token));
                    }
                }
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
        if (_planned.Count == 0)
        {
            return;
        }

        IEngineLog log = CreateLog();
        IProgress<EngineProgress> progress = CreateProgress();
        var clients = new Dictionary<AzBillingToken, CostDetailsClient>(ReferenceEqualityComparer.Instance);
        foreach (AzBillingToken t in _planned.Select(p => p.Token).Distinct(ReferenceEqualityComparer.Instance).Cast<AzBillingToken>())
        {
            clients[t] = new CostDetailsClient(t.Provider, new CostDetailsOptions { Timeout = Timeout });
        }

        var outcomes = new object?[_planned.Count];
        var done = new bool[_planned.Count];
        int next = 0;
        int finished = 0;
        var order = new object();
        using var gate = new SemaphoreSlim(ThrottleLimit);
        const int ParentId = 1;
        WriteVerboseAsync($"Requesting {_planned.Count} report(s), at most {ThrottleLimit} at a time.");
        progress.Report(new EngineProgress(ParentId, "New-AzCostReport", $"0 of {_planned.Count} reports", 0));
        try
        {
            Task[] tasks = _planned.Select((p, i) => Task.Run(async () =>
            {
                await gate.WaitAsync(CancellationToken).ConfigureAwait(false);
                object outcome;
                try
                {
                    var childProgress = new Progress(progress, ParentId);
                    CostReportResult result = await clients[p.Token].RequestAsync(p.Request, log, childProgress, 10 + (i % 1000), CancellationToken).ConfigureAwait(false);
                    outcome = new AzCostReport(result, p.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    outcome = e;
                }
                finally
                {
                    gate.Release();
                }

                lock (order)
                {
                    outcomes[i] = outcome;
                    done[i] = true;
                    finished++;
                    progress.Report(new EngineProgress(ParentId, "New-AzCostReport", $"{finished} of {_planned.Count} reports", finished * 100 / _planned.Count));
                    while (next < outcomes.Length && done[next])
                    {
                        Emit(outcomes[next], _planned[next].Request, log);
                        outcomes[next] = null;
                        next++;
                    }
                }
            })).ToArray();
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            progress.Report(new EngineProgress(ParentId, "New-AzCostReport", "Done", 100, Completed: true));
            foreach (CostDetailsClient c in clients.Values)
            {
                c.Dispose();
            }
        }
    }

    /// <summary>
    /// Requests a report again with the token it carries (for Save-AzCostBlob -Refresh when its links have expired):
    /// the same scope, metric, period and api-version. Throws EngineException when the report has no token.
    /// </summary>
    internal static async Task<AzCostReport> RequestAgainAsync(AzCostReport report, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Token is null)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The report for {CostDetailsClient.Describe(report.Result.Request)} carries no token, so it cannot be requested again; run New-AzCostReport again.");
        }

        using var client = new CostDetailsClient(report.Token.Provider, new CostDetailsOptions { Timeout = timeout });
        log.Verbose($"Requesting the report for {CostDetailsClient.Describe(report.Result.Request)} again for fresh blob links.");
        CostReportResult result = await client.RequestAsync(report.Result.Request, log, progress, progressId, cancellationToken).ConfigureAwait(false);
        return new AzCostReport(result, report.Token);
    }

    private void Emit(object? outcome, CostReportRequest request, IEngineLog log)
    {
        switch (outcome)
        {
            case AzCostReport report:
                if (report.Status == "NoDataFound")
                {
                    log.Warning($"No cost data for {CostDetailsClient.Describe(request)}: the report has no blobs.");
                }

                WriteObjectAsync(AsJson ? report.ToJson() : report);
                break;
            case Exception e:
                WriteItemError(e, request.Scope);
                break;
        }
    }

    private IEnumerable<string> ShortFormScopes()
    {
        const string Billing = "/providers/Microsoft.Billing/";
        foreach (string id in SubscriptionId ?? [])
        {
            if (!Guid.TryParse(id, out Guid g))
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"-SubscriptionId '{id}' is not a subscription id (a GUID).");
            }

            yield return "/subscriptions/" + g.ToString("D");
        }

        bool under = BillingProfileId is not null || InvoiceSectionId is not null || CustomerId is not null;
        if (BillingAccountId is null)
        {
            if (under)
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, "-BillingProfileId, -InvoiceSectionId and -CustomerId need -BillingAccountId (they live under a billing account).");
            }

            if (DepartmentId is not null)
            {
                yield return Billing + "departments/" + DepartmentId;
            }

            if (EnrollmentAccountId is not null)
            {
                yield return Billing + "enrollmentAccounts/" + EnrollmentAccountId;
            }

            yield break;
        }

        string account = Billing + "billingAccounts/" + BillingAccountId;
        if (InvoiceSectionId is not null && BillingProfileId is null)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "-InvoiceSectionId needs -BillingProfileId (an invoice section lives under a billing profile).");
        }

        bool any = false;
        if (BillingProfileId is not null)
        {
            any = true;
            yield return InvoiceSectionId is null
                ? account + "/billingProfiles/" + BillingProfileId
                : account + "/billingProfiles/" + BillingProfileId + "/invoiceSections/" + InvoiceSectionId;
        }

        if (CustomerId is not null)
        {
            any = true;
            yield return account + "/customers/" + CustomerId;
        }

        if (DepartmentId is not null)
        {
            any = true;
            yield return account + "/departments/" + DepartmentId;
        }

        if (EnrollmentAccountId is not null)
        {
            any = true;
            yield return account + "/enrollmentAccounts/" + EnrollmentAccountId;
        }

        if (!any)
        {
            yield return account;
        }
    }

    private static DateOnly? DateOnlyOf(DateTime? value) => value is DateTime d ? DateOnly.FromDateTime(d) : null;

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    /// <summary>Child progress under the command's bar.</summary>
    private sealed class Progress(IProgress<EngineProgress> inner, int parentId) : IProgress<EngineProgress>
    {
        public void Report(EngineProgress value) => inner.Report(value with { ParentActivityId = parentId });
    }
}
