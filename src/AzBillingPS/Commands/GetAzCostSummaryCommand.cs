using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Sums what a cost table holds by month, service, scope, resource group, tag or any column, never adding two metrics or two currencies together.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "AzCostSummary")]
[OutputType(typeof(AzCostSummary))]
public sealed class GetAzCostSummaryCommand : DatabaseTargetCmdlet
{
    private readonly List<string> _scopes = new();
    private SinkTarget? _target;

    /// <summary>What to group by besides metric and currency (which are always grouping keys).</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(GroupByCompleter))]
    public string[] GroupBy { get; set; } = { "Month", "Service" };

    /// <summary>Only these scopes (wildcards allowed; the same spellings as Import-AzCostToSql -Scope).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ScopeCompleter))]
    public string[]? Scope { get; set; }

    /// <summary>Only rows dated on or after this day.</summary>
    [Parameter]
    public DateTime? From { get; set; }

    /// <summary>Only rows dated on or before this day.</summary>
    [Parameter]
    public DateTime? To { get; set; }

    /// <summary>Only this metric (default: each metric shown separately).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public AzCostMetric[]? Metric { get; set; }

    /// <summary>Only the N costliest groups of each metric and currency (and of each month or day when grouped by one).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Top { get; set; }

    /// <summary>Seconds to wait for a lock on the table (or a SQLite file another process is writing to).</summary>
    [Parameter]
    [ValidateRange(0, 86_400)]
    public int LockTimeout { get; set; } = 30;

    protected override object? ErrorTarget => _target?.DisplayTable;

    protected override async Task BeginProcessingAsync()
    {
        _target = await OnPipelineAsync(() => ResolveTarget(readOnly: true)).ConfigureAwait(false);
        if (From is DateTime f && To is DateTime t && t.Date < f.Date)
        {
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException($"-To ({t:yyyy-MM-dd}) is before -From ({f:yyyy-MM-dd})."), ErrorIds.ParameterConflict, ErrorCategory.InvalidArgument, To));
        }
    }

    protected override Task ProcessRecordAsync()
    {
        if (Scope is not null)
        {
            foreach (string s in Scope)
            {
                string normal = AzFormat.ScopePattern(s);
                if (!_scopes.Contains(normal, StringComparer.Ordinal))
                {
                    _scopes.Add(normal);
                }
            }
        }

        return Task.CompletedTask;
    }

    protected override async Task EndProcessingAsync()
    {
        SummaryKey[] keys;
        try
        {
            keys = GroupBy.SelectMany(g => g.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Select(SummaryKey.Parse).ToArray();
        }
        catch (EngineException e)
        {
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException(e.Message, e), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, GroupBy));
        }

        var query = new CostSummaryQuery
        {
            Scopes = _scopes,
            From = From?.Date,
            To = To?.Date,
            Metrics = Metric?.Select(m => m.ToString()).Distinct().ToArray() ?? Array.Empty<string>(),
            GroupBy = keys,
            Top = Top,
        };
        WriteVerboseAsync($"Summarising {_target!.DisplayTable} by Metric, Currency{string.Concat(keys.Select(k => ", " + k.Label))}{(_scopes.Count == 0 ? string.Empty : " for " + string.Join(", ", _scopes))}.");
        CostSummaryResult result;
        try
        {
            result = await CostSummary.RunAsync(_target, query with { LockTimeout = TimeSpan.FromSeconds(LockTimeout) }, CancellationToken).ConfigureAwait(false);
        }
        catch (EngineException e) when (e.Kind == EngineErrorKind.InvalidArgument)
        {
            // With this command's advice (a connection string's sign-in the module does not provide names what to run instead).
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException(WithAdvice(e, GroupBy).Message, e), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, GroupBy));
        }

        foreach (CostSummaryRow row in result.Rows)
        {
            WriteObjectAsync(ToSummary(result.Keys, row));
        }
    }

    private static PSObject ToSummary(IReadOnlyList<SummaryKey> keys, CostSummaryRow row)
    {
        var summary = new AzCostSummary { Metric = row.Metric, Currency = row.Currency, Cost = row.Cost, Rows = row.Rows };
        var wrapped = PSObject.AsPSObject(summary);
        var group = new List<string>();
        for (int i = 0; i < keys.Count; i++)
        {
            SummaryKey key = keys[i];
            object? value = row.Keys[i];
            summary.Keys[key.Label] = value;
            string? text = value as string;
            switch (key.Kind)
            {
                case SummaryKeyKind.Month:
                    summary.Month = value as DateTime?;
                    continue;
                case SummaryKeyKind.Day:
                    summary.Day = value as DateTime?;
                    continue;
                case SummaryKeyKind.Scope:
                    summary.Scope = text;
                    group.Add(AzFormat.Scope(text, 24));
                    continue;
                case SummaryKeyKind.Subscription:
                    summary.SubscriptionId = text;
                    break;
                case SummaryKeyKind.ResourceGroup:
                    summary.ResourceGroup = text;
                    break;
                case SummaryKeyKind.Service:
                    summary.Service = text;
                    break;
                case SummaryKeyKind.Location:
                    summary.Location = text;
                    break;
                default:
                    if (wrapped.Properties[key.Label] is null)
                    {
                        wrapped.Properties.Add(new PSNoteProperty(key.Label, value));
                    }

                    break;
            }

            group.Add(string.IsNullOrEmpty(text) ? "(none)" : text);
        }

        summary.Group = string.Join(" | ", group);
        return wrapped;
    }

    /// <summary>Completes -GroupBy with the named dimensions and Tag:.</summary>
    private sealed class GroupByCompleter : IArgumentCompleter
    {
        private static readonly string[] Names = { "Month", "Day", "Scope", "Subscription", "ResourceGroup", "Service", "Location", "Tag:" };

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, System.Management.Automation.Language.CommandAst commandAst, System.Collections.IDictionary fakeBoundParameters)
            => Names.Where(n => n.StartsWith(wordToComplete ?? string.Empty, StringComparison.OrdinalIgnoreCase))
                .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n == "Tag:" ? "a tag, for example Tag:env" : n));
    }
}
