using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Loads Azure cost-details CSV files into SQLite, PostgreSQL or SQL Server, each period exactly once.</para>
/// </summary>
[Cmdlet(VerbsData.Import, "AzCostToSql", DefaultParameterSetName = InputObjectSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(AzCostImportResult))]
public sealed class ImportAzCostToSqlCommand : DatabaseTargetCmdlet
{
    private const string InputObjectSet = "InputObject";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    private readonly Dictionary<string, PendingUnit> _pending = new(StringComparer.Ordinal);
    private readonly List<string> _paths = new();
    private readonly List<string> _unmatched = new();
    private string? _scope;
    private SinkTarget? _target;

    /// <summary>Files from Save-AzCostBlob (or built by hand); the blobs of one report load together.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet, HelpMessage = "AzCostFile objects, as Save-AzCostBlob writes them.")]
    [ValidateNotNull]
    public AzCostFile[] InputObject { get; set; } = Array.Empty<AzCostFile>();

    /// <summary>CSV files to load as one unit; wildcards allowed.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, HelpMessage = "Cost-details CSV files (wildcards allowed).")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>CSV files to load as one unit, taken literally.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true, HelpMessage = "Cost-details CSV files (no wildcards).")]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = Array.Empty<string>();

    /// <summary>The ARM scope the files hold, for example /subscriptions/{id} (or a bare subscription GUID).</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, HelpMessage = "The scope the files hold, for example /subscriptions/{id}.")]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, HelpMessage = "The scope the files hold, for example /subscriptions/{id}.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ScopeCompleter))]
    public string Scope { get; set; } = string.Empty;

    /// <summary>Which cost the files hold.</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public AzCostMetric Metric { get; set; } = AzCostMetric.ActualCost;

    /// <summary>First day of the period the files replace (default: the files' first date).</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public DateTime? From { get; set; }

    /// <summary>Last day (inclusive) of the period the files replace (default: the files' last date).</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public DateTime? To { get; set; }

    /// <summary>Rows between progress updates and verbose lines (and SqlBulkCopy's batch size).</summary>
    [Parameter]
    [ValidateRange(1, 10_000_000)]
    public int BatchSize { get; set; } = 50_000;

    /// <summary>Seconds to wait for another load of the same table to finish.</summary>
    [Parameter]
    [ValidateRange(0, 86_400)]
    public int LockTimeout { get; set; } = 300;

    /// <summary>SQL Server / Azure SQL: a new table gets a clustered columnstore index instead of the clustered (_Scope, _Metric, Date) index.</summary>
    [Parameter]
    public SwitchParameter Columnstore { get; set; }

    /// <summary>Creates or replaces the FOCUS view over the cost table (&lt;Table&gt;_Focus) after the load.</summary>
    [Parameter]
    public SwitchParameter FocusView { get; set; }

    protected override async Task BeginProcessingAsync()
    {
        _target = await OnPipelineAsync(() => ResolveTarget() with { Columnstore = Columnstore }).ConfigureAwait(false);
        if (ParameterSetName is PathSet or LiteralPathSet)
        {
            try
            {
                _scope = CheckScope(Scope);
            }
            catch (EngineException e)
            {
                throw new TerminatingErrorException(new ErrorRecord(new ArgumentException(e.Message, e), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, Scope));
            }
        }

        if (From is DateTime f && To is DateTime t && t.Date < f.Date)
        {
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException($"-To ({t:yyyy-MM-dd}) is before -From ({f:yyyy-MM-dd})."), ErrorIds.ParameterConflict, ErrorCategory.InvalidArgument, To));
        }
    }

    protected override async Task ProcessRecordAsync()
    {
        switch (ParameterSetName)
        {
            case PathSet:
                foreach (string p in Path)
                {
                    foreach (string resolved in await ResolvePathAsync(p, literal: false).ConfigureAwait(false))
                    {
                        _paths.Add(resolved);
                    }
                }

                break;
            case LiteralPathSet:
                foreach (string p in LiteralPath)
                {
                    foreach (string resolved in await ResolvePathAsync(p, literal: true).ConfigureAwait(false))
                    {
                        _paths.Add(resolved);
                    }
                }

                break;
            default:
                foreach (AzCostFile file in InputObject)
                {
                    await AcceptAsync(file).ConfigureAwait(false);
                }

                break;
        }
    }

    protected override async Task EndProcessingAsync()
    {
        await EndLoadsAsync().ConfigureAwait(false);
        if (FocusView)
        {
            await MakeFocusViewAsync(_target!, TimeSpan.FromSeconds(LockTimeout)).ConfigureAwait(false);
        }
    }

    private async Task EndLoadsAsync()
    {
        if (ParameterSetName is PathSet or LiteralPathSet)
        {
            if (_unmatched.Count > 0)
            {
                // One -Path invocation is one unit: loading the files that did match would replace the period with part of it.
                WriteVerboseAsync($"Nothing was loaded: {string.Join(", ", _unmatched)} matched no file, and the files of one invocation load together or not at all.");
                return;
            }

            if (_paths.Count > 0)
            {
                DateTime? from = From?.Date;
                DateTime? to = To?.Date;
                await LoadAsync(new ImportRequest(_target!, _scope!, Metric.ToString(), from, to, _paths.Distinct(StringComparer.Ordinal).ToArray()), _paths.ToArray()).ConfigureAwait(false);
            }

            return;
        }

        foreach (PendingUnit unit in _pending.Values)
        {
            string message = string.Create(CultureInfo.InvariantCulture,
                $"The report for {unit.Scope} {unit.Metric} {unit.PeriodStart:yyyy-MM-dd}..{unit.PeriodEnd:yyyy-MM-dd} has {unit.BlobCount} blob(s) but only {unit.Files.Count} reached Import-AzCostToSql ({string.Join(", ", unit.Files.Keys.OrderBy(k => k))}); it was not loaded, so the table still holds the earlier data for that period.");
            WriteErrorAsync(new ErrorRecord(new InvalidOperationException(message), ErrorIds.ImportIncompleteReport, ErrorCategory.InvalidData, string.Join(", ", unit.Files.Values)));
        }
    }

    private async Task AcceptAsync(AzCostFile file)
    {
        if (string.IsNullOrWhiteSpace(file.Path) || string.IsNullOrWhiteSpace(file.Scope) || file.BlobCount < 1 || file.BlobIndex < 1 || file.BlobIndex > file.BlobCount)
        {
            WriteErrorAsync(new ErrorRecord(
                new ArgumentException($"The AzCostFile '{file.Path}' needs Path, Scope, Metric, PeriodStart, PeriodEnd and a BlobIndex between 1 and BlobCount ({file.BlobIndex} of {file.BlobCount})."),
                ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, file));
            return;
        }

        string scope;
        try
        {
            scope = CheckScope(file.Scope);
        }
        catch (EngineException e)
        {
            WriteItemError(e, file);
            return;
        }

        string key = string.Create(CultureInfo.InvariantCulture, $"{scope}|{file.Metric}|{file.PeriodStart:yyyy-MM-dd}|{file.PeriodEnd:yyyy-MM-dd}|{file.OperationId}");
        if (!_pending.TryGetValue(key, out PendingUnit? unit))
        {
            unit = new PendingUnit(scope, file.Metric, file.PeriodStart.Date, file.PeriodEnd.Date, file.BlobCount);
            _pending.Add(key, unit);
        }

        // Resolved on the pipeline thread: session state ($PWD, PSDrives) is only safe there.
        string path = await OnPipelineAsync(() => UnresolvedPath(file.Path)).ConfigureAwait(false);
        if (unit.Files.TryGetValue(file.BlobIndex, out string? already) && !string.Equals(already, path, StringComparison.Ordinal))
        {
            WriteErrorAsync(new ErrorRecord(
                new ArgumentException($"Blob {file.BlobIndex} of the report for {scope} {file.Metric} {file.PeriodStart:yyyy-MM-dd} arrived twice ('{already}' and '{path}')."),
                ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, file));
            return;
        }

        unit.Files[file.BlobIndex] = path;
        if (unit.Files.Count == unit.BlobCount)
        {
            _pending.Remove(key);
            string[] files = unit.Files.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToArray();
            await LoadAsync(new ImportRequest(_target!, unit.Scope, unit.Metric, unit.PeriodStart == default ? null : unit.PeriodStart, unit.PeriodEnd == default ? null : unit.PeriodEnd, files), files).ConfigureAwait(false);
        }
    }

    private async Task LoadAsync(ImportRequest request, object errorTarget)
    {
        request = request with { BatchSize = BatchSize, LockTimeout = TimeSpan.FromSeconds(LockTimeout), Activity = "Import-AzCostToSql" };
        try
        {
            ImportOutcome? outcome = await CostImporter.ImportAsync(request, ShouldProcessAsync, CreateLog(), CreateProgress(), 1, CancellationToken).ConfigureAwait(false);
            if (outcome is not null)
            {
                if (outcome.RowsInserted == 0)
                {
                    // Files without rows and a period (-From/-To, or the report's): the period is now empty.
                    WriteWarningAsync(string.Create(CultureInfo.InvariantCulture,
                        $"{string.Join(", ", outcome.Files)}: no rows, so {outcome.PeriodStart:yyyy-MM-dd}..{outcome.PeriodEnd:yyyy-MM-dd} {outcome.Metric} for {outcome.Scope} was replaced with nothing: {outcome.RowsReplaced:N0} row(s) loaded earlier were removed from {outcome.Table}."));
                }

                WriteObjectAsync(ToResult(outcome));
            }
        }
        catch (EngineException e) when (e.Kind is not (EngineErrorKind.DatabaseConnection or EngineErrorKind.InvalidArgument))
        {
            // One unit failed and was rolled back; the others go on.
            WriteItemError(e, errorTarget);
        }
    }

    private static AzCostImportResult ToResult(ImportOutcome o) => new()
    {
        Target = o.Target,
        Provider = o.Provider,
        Table = o.Table,
        Schema = o.Schema,
        Scope = o.Scope,
        Metric = o.Metric,
        PeriodStart = o.PeriodStart,
        PeriodEnd = o.PeriodEnd,
        Files = o.Files.ToArray(),
        RowsInserted = o.RowsInserted,
        RowsReplaced = o.RowsReplaced,
        Bytes = o.Bytes,
        Elapsed = o.Elapsed,
        RowsPerSecond = o.Elapsed.TotalSeconds > 0 ? Math.Round(o.RowsInserted / o.Elapsed.TotalSeconds, 1) : 0,
        ImportId = o.ImportId,
        ColumnsAdded = o.ColumnsAdded.ToArray(),
    };

    private async Task<IReadOnlyList<string>> ResolvePathAsync(string path, bool literal)
    {
        return await OnPipelineAsync<IReadOnlyList<string>>(() =>
        {
            if (literal)
            {
                return new[] { UnresolvedPath(path) };
            }

            try
            {
                var resolved = GetResolvedProviderPathFromPSPath(path, out ProviderInfo provider);
                if (!string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase))
                {
                    throw new ArgumentException($"'{path}' is not a file-system path.");
                }

                if (resolved.Count == 0)
                {
                    // Like Get-Item: a pattern that matches nothing is a non-terminating error, so $? is false in a job.
                    _unmatched.Add(path);
                    WriteError(new ErrorRecord(
                        new ItemNotFoundException($"No file matches '{path}'; nothing of this Import-AzCostToSql call was loaded."),
                        ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, path));
                }

                return resolved.ToArray();
            }
            catch (ItemNotFoundException)
            {
                // A missing file fails the unit with a message naming it (the engine checks existence).
                return new[] { UnresolvedPath(path) };
            }
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// A scope in one of the forms the report planner knows (a bare subscription GUID too), in the stored spelling.
    /// Resource groups and management groups are accepted here (files from exports can hold them) though the Cost
    /// Details API does not serve them; anything else is refused with the list of forms.
    /// </summary>
    private static string CheckScope(string scope)
    {
        try
        {
            return Engine.CostDetails.CostReportPlanner.ParseScope(scope).Scope;
        }
        catch (EngineException e) when (e.Kind == EngineErrorKind.Unsupported)
        {
            return CostScope.Normalize(scope);
        }
        catch (EngineException e) when (e.Kind == EngineErrorKind.InvalidArgument)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                $"Scope '{scope}' is not a cost scope. Use /subscriptions/{{id}} (or the subscription's GUID alone); under /providers/Microsoft.Billing: billingAccounts/{{id}}, billingAccounts/{{id}}/departments/{{id}}, billingAccounts/{{id}}/enrollmentAccounts/{{id}}, billingAccounts/{{id}}/billingProfiles/{{id}}[/invoiceSections/{{id}}] or billingAccounts/{{id}}/customers/{{id}}; for files from exports also /subscriptions/{{id}}/resourceGroups/{{name}} or /providers/Microsoft.Management/managementGroups/{{id}}.", e);
        }
    }

    private sealed class PendingUnit(string scope, string metric, DateTime start, DateTime end, int blobCount)
    {
        public string Scope { get; } = scope;

        public string Metric { get; } = metric;

        public DateTime PeriodStart { get; } = start;

        public DateTime PeriodEnd { get; } = end;

        public int BlobCount { get; } = blobCount;

        public SortedDictionary<int, string> Files { get; } = new();
    }
}
