using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Exports;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Loads Cost Management exports (CSV, gzip CSV, Parquet) from a folder or a storage container into SQL, each export month exactly once.</para>
/// </summary>
[Cmdlet(VerbsData.Import, "AzCostExport", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(AzCostExportResult))]
public sealed class ImportAzCostExportCommand : DatabaseTargetCmdlet
{
    private const string PathSet = "Path";
    private const string SasSet = "ContainerSasUrl";
    private const string TokenSet = "StorageAccount";

    private SinkTarget? _target;

    /// <summary>A local folder holding exports (as azcopy sync or Storage Explorer leave them).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true, HelpMessage = "A folder holding Cost Management exports.")]
    [Alias("PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    /// <summary>A container SAS URL (read and list permissions).</summary>
    [Parameter(Mandatory = true, ParameterSetName = SasSet, HelpMessage = "The container's SAS URL (https://account.blob.core.windows.net/container?sv=...&sig=...).")]
    [ValidateNotNull]
    public Uri? ContainerSasUrl { get; set; }

    /// <summary>The storage account: its name, or its blob endpoint URL.</summary>
    [Parameter(Mandatory = true, ParameterSetName = TokenSet, HelpMessage = "The storage account name, or its blob endpoint URL.")]
    [ValidateNotNullOrEmpty]
    public string StorageAccount { get; set; } = string.Empty;

    /// <summary>The container the exports write to.</summary>
    [Parameter(Mandatory = true, ParameterSetName = TokenSet, HelpMessage = "The container the exports write to.")]
    [ValidateNotNullOrEmpty]
    public string Container { get; set; } = string.Empty;

    /// <summary>An Entra token for storage, from Get-AzBillingToken -Scope https://storage.azure.com/.default.</summary>
    [Parameter(Mandatory = true, ParameterSetName = TokenSet, HelpMessage = "A storage token: Get-AzBillingToken ... -Scope https://storage.azure.com/.default.")]
    [ValidateNotNull]
    public AzBillingToken? Token { get; set; }

    /// <summary>A folder inside the container to look under (the export's root folder path).</summary>
    [Parameter(ParameterSetName = SasSet)]
    [Parameter(ParameterSetName = TokenSet)]
    [ValidateNotNullOrEmpty]
    public string? Prefix { get; set; }

    /// <summary>Only these datasets.</summary>
    [Parameter]
    [ValidateSet("ActualCost", "AmortizedCost", "Usage", "FocusCost", "PriceSheet", "ReservationDetails", "ReservationTransactions", "ReservationRecommendations", IgnoreCase = true)]
    public string[] Dataset { get; set; } = Array.Empty<string>();

    /// <summary>Only these export names (wildcards allowed).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] ExportName { get; set; } = Array.Empty<string>();

    /// <summary>Only runs of these months (any day of the month).</summary>
    [Parameter]
    public DateTime[]? Month { get; set; }

    /// <summary>Load the newest run of each month even when the state table says it is loaded.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Rows between progress updates and verbose lines (and SqlBulkCopy's batch size).</summary>
    [Parameter]
    [ValidateRange(1, 10_000_000)]
    public int BatchSize { get; set; } = 50_000;

    /// <summary>Seconds to wait for another load of the same table to finish.</summary>
    [Parameter]
    [ValidateRange(0, 86_400)]
    public int LockTimeout { get; set; } = 300;

    /// <summary>Creates or replaces the FOCUS view over the cost table (&lt;Table&gt;_Focus) after the load.</summary>
    [Parameter]
    public SwitchParameter FocusView { get; set; }

    protected override async Task BeginProcessingAsync()
    {
        _target = await OnPipelineAsync(() => ResolveTarget()).ConfigureAwait(false);
    }

    protected override async Task ProcessRecordAsync()
    {
        IExportStore store = await OnPipelineAsync(OpenStore).ConfigureAwait(false);
        using (store)
        {
            var request = new ExportImportRequest
            {
                Target = _target!,
                Datasets = Dataset,
                ExportNames = ExportName,
                Months = Month?.Select(m => new DateOnly(m.Year, m.Month, 1)).Distinct().ToArray(),
                Force = Force,
                BatchSize = BatchSize,
                LockTimeout = TimeSpan.FromSeconds(LockTimeout),
            };
            IEngineLog log = CreateLog();
            IProgress<EngineProgress> progress = CreateProgress();
            var plan = await ExportImporter.PlanAsync(store, request, log, CancellationToken).ConfigureAwait(false);
            log.Verbose(string.Create(CultureInfo.InvariantCulture, $"{store.Describe()}: {plan.Count} export month(s), {plan.Count(p => p.Outcome.Action == ExportAction.Loaded)} to load."));
            foreach ((ExportRunOutcome outcome, ExportManifest? manifest, IReadOnlyList<string> parts) in plan)
            {
                if (outcome.Action == ExportAction.Loaded && manifest is not null)
                {
                    try
                    {
                        await ExportImporter.LoadAsync(store, request, outcome, manifest, parts, ShouldProcessAsync, log, progress, 1, CancellationToken).ConfigureAwait(false);
                    }
                    catch (EngineException e) when (e.Kind is not (EngineErrorKind.DatabaseConnection or EngineErrorKind.InvalidArgument))
                    {
                        outcome.Action = ExportAction.Failed;
                        outcome.Reason = e.Message;
                        outcome.Error = e;
                    }

                    if (outcome.Action == ExportAction.Skipped && outcome.Reason.StartsWith("not confirmed", StringComparison.Ordinal))
                    {
                        continue; // -WhatIf: ShouldProcess has said what would happen
                    }
                }
                else
                {
                    log.Verbose($"{outcome}: {outcome.Reason}");
                }

                AzCostExportResult result = ToResult(outcome);
                if (outcome.Error is not null)
                {
                    WriteItemError(outcome.Error, result);
                }

                WriteObjectAsync(result);
            }
        }
    }

    protected override async Task EndProcessingAsync()
    {
        if (FocusView)
        {
            await MakeFocusViewAsync(_target!, TimeSpan.FromSeconds(LockTimeout)).ConfigureAwait(false);
        }
    }

    private IExportStore OpenStore()
    {
        switch (ParameterSetName)
        {
            case SasSet:
                return BlobContainerStore.FromSasUrl(ContainerSasUrl!, Prefix);
            case TokenSet:
                if (Token!.Scope.IndexOf("storage", StringComparison.OrdinalIgnoreCase) < 0)
                {
                    ThrowTerminatingError(new ErrorRecord(
                        new ArgumentException($"-Token is for {Token.Scope}; reading a storage account needs a storage token: Get-AzBillingToken ... -Scope https://storage.azure.com/.default."),
                        ErrorIds.ParameterConflict, ErrorCategory.InvalidArgument, Token));
                }

                Uri endpoint = StorageEndpoint(StorageAccount);
                AzBillingToken token = Token;
                return BlobContainerStore.WithToken(endpoint, Container, Prefix, async ct => (await token.GetTokenAsync(null, ct).ConfigureAwait(false)).Token);
            default:
                string folder = UnresolvedPath(Path);
                return new LocalExportStore(folder);
        }
    }

    /// <summary>A storage account's blob endpoint: the URL given, or https://&lt;name&gt;.blob.core.windows.net/ for a name.</summary>
    internal static Uri StorageEndpoint(string account)
        => Uri.TryCreate(account, UriKind.Absolute, out Uri? url) && (url.Scheme == Uri.UriSchemeHttps || url.Scheme == Uri.UriSchemeHttp)
            ? url
            : new Uri($"https://{account.Trim().ToLowerInvariant()}.blob.core.windows.net/");

    private static AzCostExportResult ToResult(ExportRunOutcome o) => new()
    {
        Action = o.Action.ToString(),
        Reason = o.Reason,
        ExportName = o.ExportName,
        Export = o.Export,
        Scope = o.Scope,
        Dataset = o.Dataset,
        Month = o.Month == default ? string.Empty : o.Month.ToString("yyyy-MM", CultureInfo.InvariantCulture),
        RunId = o.RunId,
        SubmittedTime = o.SubmittedTime,
        Manifest = o.Manifest,
        OlderRuns = o.OlderRuns,
        Parts = o.Blobs,
        Format = o.Format,
        Target = o.Target,
        Table = o.Table,
        RowsInserted = o.Rows,
        RowsReplaced = o.RowsReplaced,
        Bytes = o.Bytes,
        Elapsed = o.Elapsed,
        RowsPerSecond = o.Elapsed.TotalSeconds > 0 && o.Rows > 0 ? Math.Round(o.Rows / o.Elapsed.TotalSeconds, 1) : 0,
        ImportId = o.ImportId,
    };
}
