using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// One unit on its way through a run's stages (<see cref="SyncRunner.RunStagesAsync"/>): what every source carries from
/// one stage to the next (its outcome, its place in the output, its progress bar, its folder, its times); each source
/// adds what it needs (a report and its files, or an export run and its fetched parts).
/// </summary>
internal abstract class SyncWork
{
    /// <summary>The run's progress bar, which each unit's bar sits under.</summary>
    internal const int ParentProgressId = 1;

    private const int UnitProgressBase = 100;

    protected SyncWork(SyncUnitOutcome unit, int position, string runFolder, IProgress<EngineProgress>? progress)
    {
        Unit = unit;
        Position = position;
        ProgressId = UnitProgressBase + (unit.Index % 10_000);
        Activity = $"Sync {unit.Key}";
        Folder = Path.Combine(runFolder, string.Create(CultureInfo.InvariantCulture, $"{unit.Index + 1:D4}-{unit.Key.Metric}-{unit.Key.MonthText}"));
        Child = new ChildProgress(progress, ParentProgressId);
    }

    public SyncUnitOutcome Unit { get; }

    /// <summary>Position among the units to load (the pipeline's output order).</summary>
    public int Position { get; }

    public int ProgressId { get; }

    public string Activity { get; }

    /// <summary>The unit's own folder under the run's folder.</summary>
    public string Folder { get; }

    public ChildProgress Child { get; }

    public DateTime Started { get; } = DateTime.UtcNow;

    public Stopwatch Total { get; } = Stopwatch.StartNew();

    public void Status(string status) => Child.Report(new EngineProgress(ProgressId, Activity, status, -1));
}
