using System.Collections.Generic;
using System.Management.Automation;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Shows what a cost table holds: cost per month, service and currency.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "AzCostSummary")]
[OutputType(typeof(AzCostSummary))]
public sealed class GetAzCostSummaryCommand : DatabaseTargetCmdlet
{
    /// <summary>Only this scope (same spellings as Import-AzCostToSql -Scope).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Scope { get; set; }

    /// <summary>Seconds to wait for a lock on the table (or a SQLite file another process is writing to).</summary>
    [Parameter]
    [ValidateRange(0, 86_400)]
    public int LockTimeout { get; set; } = 30;

    protected override async Task ProcessRecordAsync()
    {
        SinkTarget target = await OnPipelineAsync(() => ResolveTarget(readOnly: true)).ConfigureAwait(false);
        string? scope = Scope is null ? null : CostScope.Normalize(Scope);
        WriteVerboseAsync($"Summarising {target.QualifiedTable}{(scope is null ? string.Empty : " for " + scope)}.");
        IReadOnlyList<CostSummaryRow> rows = await CostSink.Create(target).SummarizeAsync(scope, System.TimeSpan.FromSeconds(LockTimeout), CancellationToken).ConfigureAwait(false);
        foreach (CostSummaryRow row in rows)
        {
            WriteObjectAsync(new AzCostSummary { Month = row.Month, Service = row.Service, Currency = row.Currency, Cost = row.Cost, Rows = row.Rows });
        }
    }
}
