using System;
using System.Collections.Generic;
using System.Linq;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Engine.Sync;
using Xunit;

namespace AzBillingPS.Tests.Sync;

public class SyncPlannerTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 16, 0, 0, TimeSpan.Zero);

    private static DateOnly M(int year, int month) => new(year, month, 1);

    private static SyncStateRow Row(DateOnly month, string status, bool final, DateTime? loadedAt, string? error = null)
        => new("/subscriptions/x", "ActualCost", month.ToString("yyyy-MM"), status, final, month, CostReportPlanner.LastOfMonth(month),
            loadedAt is null ? null : 10, loadedAt is null ? null : 100, 1, "op", loadedAt is null ? null : Guid.NewGuid(),
            loadedAt, loadedAt, loadedAt, error, Guid.NewGuid(), "host");

    private static DateTime At(int y, int m, int d, int h = 0) => new(y, m, d, h, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void A_load_is_final_from_00_00_UTC_on_the_5th_of_the_next_month()
    {
        Assert.Equal(new DateTimeOffset(2026, 11, 5, 0, 0, 0, TimeSpan.Zero), SyncPlanner.FinalFrom(M(2026, 10)));
        Assert.Equal(new DateTimeOffset(2026, 3, 5, 0, 0, 0, TimeSpan.Zero), SyncPlanner.FinalFrom(new DateOnly(2026, 2, 17)));
        Assert.Equal(new DateTimeOffset(2027, 1, 5, 0, 0, 0, TimeSpan.Zero), SyncPlanner.FinalFrom(M(2026, 12)));
        Assert.False(SyncPlanner.IsFinal(M(2026, 10), new DateTimeOffset(2026, 11, 4, 23, 59, 59, TimeSpan.Zero)));
        Assert.True(SyncPlanner.IsFinal(M(2026, 10), new DateTimeOffset(2026, 11, 5, 0, 0, 0, TimeSpan.Zero)));
        // A request time in another offset is compared as the same instant.
        Assert.False(SyncPlanner.IsFinal(M(2026, 10), new DateTimeOffset(2026, 11, 5, 0, 30, 0, TimeSpan.FromHours(1))));
    }

    [Fact]
    public void First_run_loads_every_month_of_the_window_oldest_first()
    {
        var d = SyncPlanner.DefaultPeriod(Now, 3, Array.Empty<SyncStateRow>());
        Assert.Equal(new[] { M(2026, 9), M(2026, 10), M(2026, 11) }, d.Select(x => x.Month));
        Assert.All(d, x => Assert.True(x.Load));
        Assert.Equal(new[] { SyncReason.NotLoaded, SyncReason.NotLoaded, SyncReason.CurrentMonth }, d.Select(x => x.Reason));
    }

    [Fact]
    public void Complete_months_are_skipped_and_open_ones_reloaded()
    {
        var state = new[]
        {
            Row(M(2026, 9), SyncStatus.Loaded, final: true, At(2026, 10, 6)),
            Row(M(2026, 10), SyncStatus.Loaded, final: false, At(2026, 11, 2)),
            Row(M(2026, 11), SyncStatus.Loaded, final: false, At(2026, 11, 24)),
        };
        var d = SyncPlanner.DefaultPeriod(Now, 3, state);
        Assert.Equal(new[] { false, true, true }, d.Select(x => x.Load));
        Assert.Equal(new[] { SyncReason.Complete, SyncReason.NotFinal, SyncReason.CurrentMonth }, d.Select(x => x.Reason));
        Assert.Contains("2026-11-05 00:00 UTC", d[1].Detail);
    }

    [Fact]
    public void A_failed_or_unfinished_month_is_retried_but_a_failed_reload_of_final_data_is_not()
    {
        var state = new[]
        {
            Row(M(2026, 8), SyncStatus.Failed, final: false, null, "AuthorizationFailed: no access\nmore"),
            Row(M(2026, 9), SyncStatus.Running, final: false, null),
            // A forced reload failed, but the table still holds the earlier final load.
            Row(M(2026, 10), SyncStatus.Failed, final: true, At(2026, 11, 6)) with { Error = "timeout" },
        };
        var d = SyncPlanner.DefaultPeriod(Now, 4, state);
        Assert.Equal(new[] { M(2026, 8), M(2026, 9), M(2026, 10), M(2026, 11) }, d.Select(x => x.Month));
        Assert.Equal(new[] { true, true, false, true }, d.Select(x => x.Load));
        Assert.Equal("not loaded yet: the last attempt failed (AuthorizationFailed: no access)", d[0].Detail);
        Assert.Contains("did not finish", d[1].Detail);
    }

    [Fact]
    public void Previous_month_is_loaded_until_final_even_with_a_one_month_window()
    {
        var open = SyncPlanner.DefaultPeriod(new DateTimeOffset(2026, 12, 3, 8, 0, 0, TimeSpan.Zero), 1,
            new[] { Row(M(2026, 11), SyncStatus.Loaded, final: false, At(2026, 12, 2)) });
        Assert.Equal(new[] { M(2026, 11), M(2026, 12) }, open.Select(x => x.Month));
        Assert.All(open, x => Assert.True(x.Load));

        var closed = SyncPlanner.DefaultPeriod(new DateTimeOffset(2026, 12, 6, 8, 0, 0, TimeSpan.Zero), 1,
            new[] { Row(M(2026, 11), SyncStatus.Loaded, final: true, At(2026, 12, 5, 1)) });
        Assert.Equal(new[] { M(2026, 12) }, closed.Select(x => x.Month));
    }

    [Fact]
    public void Window_crosses_the_year_and_stops_at_13_months()
    {
        var d = SyncPlanner.DefaultPeriod(new DateTimeOffset(2027, 2, 1, 0, 0, 0, TimeSpan.Zero), 13, Array.Empty<SyncStateRow>());
        Assert.Equal(13, d.Count);
        Assert.Equal(M(2026, 2), d[0].Month);
        Assert.Equal(M(2027, 2), d[^1].Month);
        Assert.Throws<EngineException>(() => SyncPlanner.DefaultPeriod(Now, 14, Array.Empty<SyncStateRow>()));
        Assert.Throws<EngineException>(() => SyncPlanner.DefaultPeriod(Now, 0, Array.Empty<SyncStateRow>()));
    }

    [Fact]
    public void Explicit_periods_cover_whole_months_and_refuse_what_the_API_does_not_serve()
    {
        var today = new DateOnly(2026, 11, 25);
        Assert.Equal(new[] { M(2025, 12), M(2026, 1), M(2026, 2) }, SyncPlanner.ExplicitMonths(new DateOnly(2025, 12, 15), new DateOnly(2026, 2, 1), today));
        Assert.Equal(new[] { M(2026, 10), M(2026, 11) }, SyncPlanner.ExplicitMonths(new DateOnly(2026, 10, 1), new DateOnly(2027, 3, 1), today));
        Assert.Equal(M(2025, 11), SyncPlanner.ExplicitMonths(new DateOnly(2025, 11, 30), today, today)[0]);
        var old = Assert.Throws<EngineException>(() => SyncPlanner.ExplicitMonths(new DateOnly(2025, 10, 31), today, today));
        Assert.Contains("2025-11", old.Message);
        var future = Assert.Throws<EngineException>(() => SyncPlanner.ExplicitMonths(new DateOnly(2026, 12, 1), new DateOnly(2026, 12, 31), today));
        Assert.Contains("future", future.Message);
        var reversed = Assert.Throws<EngineException>(() => SyncPlanner.ExplicitMonths(new DateOnly(2026, 9, 1), new DateOnly(2026, 8, 1), today));
        Assert.Equal(EngineErrorKind.InvalidArgument, reversed.Kind);
    }

    [Fact]
    public void Last_months_counts_the_current_one()
    {
        Assert.Equal(new[] { M(2026, 11) }, SyncPlanner.LastMonths(1, new DateOnly(2026, 11, 25)));
        Assert.Equal(new[] { M(2025, 12), M(2026, 1) }, SyncPlanner.LastMonths(2, new DateOnly(2026, 1, 31)));
    }
}
