using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using Xunit;

namespace AzBillingPS.Tests.Orchestration;

/// <summary>Saving the blobs of reports through a blob source: plans, names, order, bounds, refresh, partial failure, cancellation.</summary>
public sealed class BlobSaverTests : TempFolderTest
{
    public BlobSaverTests()
        : base("azb-saver-")
    {
    }

    private static CostReportRequest March(string sub) => new("/subscriptions/" + sub, "ActualCost", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 31));

    private static async Task<CostReportResult> Report(FakeReportSource source, string sub)
        => await source.RequestAsync(March(sub), NullEngineLog.Instance, null, 0, CancellationToken.None);

    [Fact]
    public async Task Plans_each_blob_under_its_stable_name_and_keeps_gzip_blobs_compressed_when_asked()
    {
        var reports = new FakeReportSource { Blobs = 3, Compressed = true };
        CostReportResult report = await Report(reports, "11111111-1111-1111-1111-111111111111");
        using var inflate = new BlobSaver(new FakeBlobSource());
        SavePlan plan = (await inflate.PlanAsync(report, Dir, null, null, NullEngineLog.Instance))!;
        Assert.Equal(
            new[] { 1, 2, 3 }.Select(i => Path.Combine(Dir, $"subscriptions-11111111-1111-1111-1111-111111111111_ActualCost_20260301-20260331_{i}of3.csv")),
            plan.Blobs.Select(b => b.Path));
        Assert.All(plan.Blobs, b => Assert.True(b.Decompress));

        using var keep = new BlobSaver(new FakeBlobSource(), new BlobSaveOptions { Decompress = false });
        SavePlan kept = (await keep.PlanAsync(report, Dir, null, null, NullEngineLog.Instance))!;
        Assert.All(kept.Blobs, b => Assert.EndsWith("of3.csv.gz", b.Path, StringComparison.Ordinal));
        Assert.All(kept.Blobs, b => Assert.False(b.Decompress));
    }

    [Fact]
    public async Task Plans_nothing_for_no_data_refuses_an_unfinished_report_and_asks_about_each_file()
    {
        var reports = new FakeReportSource { Blobs = 2 };
        reports.NoData.Add("/subscriptions/empty");
        using var saver = new BlobSaver(new FakeBlobSource());
        Assert.Null(await saver.PlanAsync(await Report(reports, "empty"), Dir, null, null, NullEngineLog.Instance));

        var failed = new CostReportResult { Request = March("x"), Status = "Failed" };
        EngineException e = await Assert.ThrowsAsync<EngineException>(() => saver.PlanAsync(failed, Dir, null, null, NullEngineLog.Instance));
        Assert.Equal(EngineErrorKind.ReportNotCompleted, e.Kind);
        Assert.Equal(EngineAdvice.RequestReportAgain, e.Advice);
        Assert.DoesNotContain("New-AzCostReport", e.Message, StringComparison.Ordinal);

        var asked = new List<string>();
        var log = new ListLog();
        SavePlan plan = (await saver.PlanAsync(await Report(reports, "y"), Dir, null, (target, action) => { asked.Add(action); return Task.FromResult(action.StartsWith("Save blob 2", StringComparison.Ordinal)); }, log))!;
        Assert.Equal(2, asked.Count);
        Assert.Equal(2, Assert.Single(plan.Blobs).Blob.Index);
        Assert.Contains("1 of its 2 blobs were declined", log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streams_outcomes_in_plan_order_with_every_file_and_counts_the_bytes()
    {
        var reports = new FakeReportSource { Blobs = 3 };
        var blobs = new FakeBlobSource();
        using var saver = new BlobSaver(blobs, new BlobSaveOptions { ThrottleLimit = 4 });
        var plans = new List<SavePlan>();
        foreach (string sub in new[] { "a", "b", "c" })
        {
            plans.Add((await saver.PlanAsync(await Report(reports, sub), Path.Combine(Dir, sub), null, null, NullEngineLog.Instance))!);
        }

        var progress = new List<EngineProgress>();
        List<SaveOutcome> outcomes = await Streams.All(saver.SaveAsync(plans, NullEngineLog.Instance, new SyncProgress(p => { lock (progress) { progress.Add(p); } }), CancellationToken.None));
        Assert.Equal(plans, outcomes.Select(o => o.Plan));
        Assert.All(outcomes, o => Assert.Equal(new[] { 1, 2, 3 }, o.Files.Select(f => f.Index)));
        Assert.All(outcomes.SelectMany(o => o.Files), f => Assert.True(File.Exists(f.Path)));
        Assert.Equal(9, saver.FilesDone);
        Assert.Equal(outcomes.SelectMany(o => o.Files).Sum(f => f.Bytes), saver.BytesDone);
        Assert.True(progress.Last().Completed);
    }

    [Fact]
    public async Task Keeps_complete_files_unless_forced()
    {
        var reports = new FakeReportSource { Blobs = 2 };
        CostReportResult report = await Report(reports, "keep");
        var blobs = new FakeBlobSource();
        using (var saver = new BlobSaver(blobs))
        {
            SavePlan plan = (await saver.PlanAsync(report, Dir, null, null, NullEngineLog.Instance))!;
            Assert.All((await saver.SaveOneAsync(plan, NullEngineLog.Instance, CancellationToken.None)).Files, f => Assert.False(f.Skipped));
            Assert.All((await saver.SaveOneAsync(plan, NullEngineLog.Instance, CancellationToken.None)).Files, f => Assert.True(f.Skipped));
        }

        using var forced = new BlobSaver(blobs, new BlobSaveOptions { Force = true });
        SavePlan again = (await forced.PlanAsync(report, Dir, null, null, NullEngineLog.Instance))!;
        Assert.All((await forced.SaveOneAsync(again, NullEngineLog.Instance, CancellationToken.None)).Files, f => Assert.False(f.Skipped));
        Assert.All(blobs.Calls.TakeLast(2), c => Assert.True(c.Force));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Downloads_the_blobs_of_several_reports_in_parallel_at_most_the_throttle_limit_at_once(int limit)
    {
        var reports = new FakeReportSource { Blobs = 4 };
        var blobs = new FakeBlobSource { Delay = TimeSpan.FromMilliseconds(60) };
        using var saver = new BlobSaver(blobs, new BlobSaveOptions { ThrottleLimit = limit });
        var plans = new List<SavePlan>();
        foreach (string sub in new[] { "p", "q" })
        {
            plans.Add((await saver.PlanAsync(await Report(reports, sub), Path.Combine(Dir, sub), null, null, NullEngineLog.Instance))!);
        }

        List<SaveOutcome> outcomes = await Streams.All(saver.SaveAsync(plans, NullEngineLog.Instance, null, CancellationToken.None));
        Assert.All(outcomes, o => Assert.True(o.Succeeded));
        Assert.Equal(limit, blobs.InFlight.Most);
    }

    [Fact]
    public async Task Requests_a_report_whose_links_expired_again_once_and_saves_the_fresh_blobs()
    {
        // The first report's links are already expired; the one requested again is fine.
        var reports = new FakeReportSource { Blobs = 2, ValidTill = n => n == 1 ? DateTimeOffset.UtcNow.AddMinutes(-5) : DateTimeOffset.UtcNow.AddDays(1) };
        CostReportResult stale = await Report(reports, "r");
        var blobs = new FakeBlobSource();
        var log = new ListLog();
        using var saver = new BlobSaver(blobs, new BlobSaveOptions { Refresh = true, RefreshNote = "the caller's words" });
        SavePlan plan = (await saver.PlanAsync(stale, Dir, reports, null, log))!;
        SaveOutcome outcome = await saver.SaveOneAsync(plan, log, CancellationToken.None);
        Assert.True(outcome.Succeeded);
        Assert.Equal(2, reports.Calls.Count);
        Assert.Equal("op-2", outcome.Report.OperationId);
        Assert.All(blobs.Calls, c => Assert.Contains("/op-2/", c.Link.AbsolutePath, StringComparison.Ordinal));
        Assert.Contains("its blob links have expired or are about to; the caller's words", log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Expired_links_without_a_way_to_request_again_fail_the_report_once_not_once_per_blob()
    {
        var reports = new FakeReportSource { Blobs = 3, ValidTill = _ => DateTimeOffset.UtcNow.AddMinutes(-5) };
        using var saver = new BlobSaver(new FakeBlobSource(), new BlobSaveOptions { Refresh = true });
        SavePlan plan = (await saver.PlanAsync(await Report(reports, "s"), Dir, source: null, null, NullEngineLog.Instance))!;
        SaveOutcome outcome = await saver.SaveOneAsync(plan, NullEngineLog.Instance, CancellationToken.None);
        Exception e = Assert.Single(outcome.Errors);
        Assert.Equal(EngineAdvice.RequestReportAgain, Assert.IsType<EngineException>(e).Advice);
        Assert.Empty(outcome.Files);
        Assert.Single(reports.Calls);

        // With a source, but refreshing only once: a report whose fresh links are expired too fails, after one request.
        var always = new FakeReportSource { Blobs = 1, ValidTill = _ => DateTimeOffset.UtcNow.AddMinutes(-5) };
        SavePlan again = (await saver.PlanAsync(await Report(always, "t"), Dir, always, null, NullEngineLog.Instance))!;
        SaveOutcome failed = await saver.SaveOneAsync(again, NullEngineLog.Instance, CancellationToken.None);
        Assert.Equal(EngineErrorKind.LinkExpired, Assert.IsType<EngineException>(Assert.Single(failed.Errors)).Kind);
        Assert.Equal(2, always.Calls.Count);
    }

    [Fact]
    public async Task A_blob_that_fails_fails_its_report_and_the_other_reports_are_saved()
    {
        var reports = new FakeReportSource { Blobs = 2 };
        var blobs = new FakeBlobSource();
        using var saver = new BlobSaver(blobs);
        CostReportResult bad = await Report(reports, "bad");
        blobs.Failing.Add(BlobLink.WithoutQuery(bad.Blobs[1].Link));
        var plans = new List<SavePlan>();
        foreach (CostReportResult r in new[] { await Report(reports, "ok1"), bad, await Report(reports, "ok2") })
        {
            plans.Add((await saver.PlanAsync(r, Path.Combine(Dir, r.Request.Scope.Replace('/', '_')), null, null, NullEngineLog.Instance))!);
        }

        List<SaveOutcome> outcomes = await Streams.All(saver.SaveAsync(plans, NullEngineLog.Instance, null, CancellationToken.None));
        Assert.True(outcomes[0].Succeeded);
        Assert.False(outcomes[1].Succeeded);
        Assert.Empty(outcomes[1].Files);
        Assert.Contains("Blob 2 of 2", Assert.Single(outcomes[1].Errors).Message, StringComparison.Ordinal);
        Assert.True(outcomes[2].Succeeded);
    }

    [Fact]
    public async Task Cancellation_ends_the_saving_with_OperationCanceledException()
    {
        var reports = new FakeReportSource { Blobs = 4 };
        var blobs = new FakeBlobSource { Delay = TimeSpan.FromSeconds(30) };
        using var saver = new BlobSaver(blobs, new BlobSaveOptions { ThrottleLimit = 2 });
        SavePlan plan = (await saver.PlanAsync(await Report(reports, "u"), Dir, null, null, NullEngineLog.Instance))!;
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Streams.All(saver.SaveAsync([plan], NullEngineLog.Instance, null, cts.Token)));
        Assert.Equal(2, blobs.Calls.Count);
        Assert.Equal(0, saver.FilesDone);
    }
}
