using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Downloads every blob of cost-details reports to a folder: streamed, parallel, resumable, verified.</para>
/// <para type="description">Takes AzCostReport objects from New-AzCostReport and writes one AzCostFile per blob, ready
/// for Import-AzCostToSql.</para>
/// </summary>
[Cmdlet(VerbsData.Save, "AzCostBlob", DefaultParameterSetName = PathSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(AzCostFile))]
public sealed class SaveAzCostBlobCommand : AsyncCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    private readonly List<AzCostReport> _reports = new();
    private readonly HashSet<AzCostReport> _seen = new(ReferenceEqualityComparer.Instance);

    /// <summary>Reports from New-AzCostReport.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, HelpMessage = "AzCostReport objects, as New-AzCostReport writes them.")]
    [ValidateNotNull]
    public AzCostReport[] Report { get; set; } = Array.Empty<AzCostReport>();

    /// <summary>The folder the files go to (created when missing); wildcards allowed when they match one folder.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, HelpMessage = "The folder to save the files in (created when missing).")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string Path { get; set; } = string.Empty;

    /// <summary>The folder the files go to, taken literally.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, HelpMessage = "The folder to save the files in, taken literally (created when missing).")]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = string.Empty;

    /// <summary>Decompress gzip blobs (reports with CompressData) to .csv; -Decompress:$false keeps .csv.gz.</summary>
    [Parameter]
    public SwitchParameter Decompress { get; set; } = true;

    /// <summary>Download again even when a complete file is already there.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How many blobs download at the same time, across all reports.</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int ThrottleLimit { get; set; } = 4;

    /// <summary>When a report's links have expired, request the report again with its token and go on.</summary>
    [Parameter]
    public SwitchParameter Refresh { get; set; }

    /// <summary>How many times its compressed size a gzip blob may inflate to before it is discarded (at least 64 MB).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int MaxGzipRatio { get; set; } = InflationLimit.DefaultMaxRatio;

    protected override Task ProcessRecordAsync()
    {
        foreach (AzCostReport report in Report)
        {
            if (report is not null && _seen.Add(report))
            {
                _reports.Add(report);
            }
        }

        return Task.CompletedTask;
    }

    protected override async Task EndProcessingAsync()
    {
        if (_reports.Count == 0)
        {
            return;
        }

        string folder = await OnPipelineAsync(() => OutputFolder.Resolve(this, ParameterSetName == LiteralPathSet ? null : Path, LiteralPath)).ConfigureAwait(false);
        IEngineLog log = CreateLog();
        using var downloader = new BlobDownloader(new BlobDownloaderOptions { Inflation = new InflationLimit(MaxGzipRatio) });
        using var saver = new BlobSaver(downloader, new BlobSaveOptions
        {
            Decompress = Decompress,
            Force = Force,
            ThrottleLimit = ThrottleLimit,
            Refresh = Refresh,
            RefreshNote = "-Refresh requests the report again",
            Activity = "Save-AzCostBlob",
        });

        // -Refresh requests a report again with the token it carries: one client per token.
        using var sources = new CostReportSources(new CostDetailsOptions { Timeout = saver.Options.RefreshTimeout });

        // What each report would write, and the user's say on each file (ShouldProcess runs on the pipeline thread).
        var plans = new List<SavePlan>();
        var reportOf = new Dictionary<SavePlan, AzCostReport>(ReferenceEqualityComparer.Instance);
        foreach (AzCostReport report in _reports)
        {
            try
            {
                ICostReportSource? source = Refresh && report.Token is AzBillingToken token ? sources.For(token.Provider) : null;
                if (await saver.PlanAsync(report.Result, folder, source, ShouldProcessAsync, log).ConfigureAwait(false) is SavePlan plan)
                {
                    plans.Add(plan);
                    reportOf[plan] = report;
                }
            }
            catch (EngineException e)
            {
                WriteItemError(e, report);
            }
        }

        if (plans.Count == 0)
        {
            return;
        }

        // Made private when missing; refused when another user owns it or can write to it (AzBillingUnsafeFolder).
        string parameter = ParameterSetName == LiteralPathSet ? "-LiteralPath" : "-Path";
        folder = PrivateFiles.EnsureFolder(folder, strict: false, parameter, parameter);
        WriteVerboseAsync(string.Create(CultureInfo.InvariantCulture, $"Saving {plans.Sum(p => p.Blobs.Count)} blob(s) of {plans.Count} report(s), {plans.Sum(p => p.ByteCount) / 1048576.0:N1} MB, to {folder}, at most {ThrottleLimit} at a time."));
        await foreach (SaveOutcome outcome in saver.SaveAsync(plans, log, CreateProgress(), CancellationToken).ConfigureAwait(false))
        {
            AzCostReport report = reportOf[outcome.Plan];
            foreach (Exception e in outcome.Errors)
            {
                WriteItemError(e, report);
            }

            foreach (SavedBlob f in outcome.Files)
            {
                CostReportRequest r = outcome.Report.Request;
                WriteObjectAsync(new AzCostFile(f.Path, r.Scope, r.Metric, r.Start?.ToDateTime(TimeOnly.MinValue) ?? default, r.End?.ToDateTime(TimeOnly.MinValue) ?? default, f.Index, f.Count)
                {
                    Bytes = f.Bytes,
                    OperationId = outcome.Report.OperationId,
                    Skipped = f.Skipped,
                });
            }
        }
    }

    /// <summary>What to do about an error, in this command's terms.</summary>
    protected override string? Advise(EngineAdvice advice, object? target) => advice switch
    {
        EngineAdvice.RequestReportAgain when Refresh && target is AzCostReport { Token: null } =>
            "-Refresh cannot request it again because the report carries no token (it was not made by New-AzCostReport with a token). Run New-AzCostReport again.",
        EngineAdvice.RequestReportAgain => "Request the report again (New-AzCostReport), or run Save-AzCostBlob with -Refresh to have it requested again with the report's token.",
        EngineAdvice.KeepCompressed => "Or use -Decompress:$false to keep the blob as it is.",
        _ => base.Advise(advice, target),
    };
}
