using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Engine.Sync;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Shows what Sync-AzBilling has loaded into a cost table: one row per scope, metric and month.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "AzBillingSyncState")]
[OutputType(typeof(AzBillingSyncState))]
public sealed class GetAzBillingSyncStateCommand : DatabaseTargetCmdlet
{
    private SinkTarget? _target;
    private SyncStateStore? _store;
    private IReadOnlyList<SyncStateRow>? _rows;

    /// <summary>Only these scopes (wildcards allowed; the same spellings as Sync-AzBilling -Scope).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(ScopeCompleter))]
    public string[]? Scope { get; set; }

    /// <summary>Only this metric.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public AzCostMetric[]? Metric { get; set; }

    /// <summary>Only rows whose last attempt has this status.</summary>
    [Parameter]
    [ValidateSet(SyncStatus.Loaded, SyncStatus.Failed, SyncStatus.Running, IgnoreCase = true)]
    public string[]? Status { get; set; }

    /// <summary>Only months that a default Sync would load again (not holding a final load).</summary>
    [Parameter]
    public SwitchParameter Incomplete { get; set; }

    /// <summary>A Sync-AzBilling configuration file: its target settings are used, its other keys ignored.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    /// <summary>Seconds to wait for a lock on the state table (or a SQLite file another process is writing to).</summary>
    [Parameter]
    [ValidateRange(0, 86_400)]
    public int LockTimeout { get; set; } = 30;

    protected override async Task BeginProcessingAsync()
    {
        await OnPipelineAsync(() =>
        {
            if (ConfigPath is not null)
            {
                string path = UnresolvedPath(ConfigPath);
                IReadOnlyList<ConfigSetting> settings = ConfigFile.Read(path)
                    .Where(s => TargetKeys.Contains(s.Key, StringComparer.OrdinalIgnoreCase))
                    .ToList();
                ConfigFile.Apply(this, path, settings, Array.Empty<string>(), Array.Empty<string>(), out HashSet<string> applied);
                ConfigFile.YieldToExplicit(this, applied, TargetGroup);
            }

            _target = ResolveTarget(readOnly: true);
            return true;
        }).ConfigureAwait(false);

        _store = new SyncStateStore(_target!);
    }

    protected override async Task ProcessRecordAsync()
    {
        if (_rows is null)
        {
            WriteVerboseAsync($"Reading {_store!.QualifiedTable} on {_store.Describe()}.");
            _rows = await _store.ReadAsync(null, TimeSpan.FromSeconds(LockTimeout), CancellationToken).ConfigureAwait(false)
                ?? throw new TerminatingErrorException(new ErrorRecord(
                    new ItemNotFoundException($"No Sync-AzBilling run has written to {_target!.QualifiedTable} on {_store.Describe()}: its state table {_store.QualifiedTable} does not exist."),
                    ErrorIds.SyncStateNotFound, ErrorCategory.ObjectNotFound, _store.QualifiedTable));
        }

        WildcardPattern[]? scopes = Scope?.Select(s => new WildcardPattern(AzFormat.ScopePattern(s), WildcardOptions.IgnoreCase)).ToArray();
        foreach (SyncStateRow row in _rows)
        {
            if (scopes is not null && !scopes.Any(p => p.IsMatch(row.Scope)))
            {
                continue;
            }

            if (Metric is not null && !Metric.Any(m => m.ToString().Equals(row.Metric, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            if (Status is not null && !Status.Contains(row.Status, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            bool complete = row.HasData && row.IsFinal;
            if (Incomplete && complete)
            {
                continue;
            }

            WriteObjectAsync(ToState(row, complete, _store!.StateTarget.Table));
        }
    }

    internal static AzBillingSyncState ToState(SyncStateRow row, bool complete, string stateTable) => new()
    {
        Scope = row.Scope,
        Metric = row.Metric,
        Month = row.Month,
        Status = row.Status,
        IsFinal = row.IsFinal,
        Complete = complete,
        PeriodStart = row.PeriodStart?.ToDateTime(TimeOnly.MinValue),
        PeriodEnd = row.PeriodEnd?.ToDateTime(TimeOnly.MinValue),
        Rows = row.Rows,
        Bytes = row.Bytes,
        Blobs = row.Blobs,
        OperationId = row.OperationId,
        ImportId = row.ImportId,
        StartedAt = row.StartedAt,
        FinishedAt = row.FinishedAt,
        LoadedAt = row.LoadedAt,
        Error = row.Error,
        RunId = row.RunId,
        Host = row.Host,
        StateTable = stateTable,
    };
}
