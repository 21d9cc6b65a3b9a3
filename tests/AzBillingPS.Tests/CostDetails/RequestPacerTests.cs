using System;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Tests.Common;
using Xunit;

namespace AzBillingPS.Tests.CostDetails;

/// <summary>The pacer's arithmetic on a clock the test moves: spaced rates, windowed quotas, several keys at once, peeking.</summary>
[Collection(PacingScaleSerial.Name)]
public sealed class RequestPacerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private DateTimeOffset _now = T0;

    private RequestPacer Pacer() => new(() => _now);

    [Fact]
    public void Spaces_a_per_minute_rate_evenly_and_counts_from_the_last_reservation()
    {
        RequestPacer pacer = Pacer();
        PaceLimit scope = PaceLimit.PerMinute("scope|a", 2);
        Assert.Equal(TimeSpan.Zero, pacer.Reserve([scope]));
        Assert.Equal(TimeSpan.FromSeconds(30), pacer.Reserve([scope]));
        Assert.Equal(TimeSpan.FromSeconds(60), pacer.Reserve([scope]));
        _now = T0.AddSeconds(70);
        Assert.Equal(TimeSpan.FromSeconds(20), pacer.Reserve([scope])); // the third call was reserved for T0+60
        Assert.Equal(TimeSpan.Zero, pacer.Reserve([PaceLimit.PerMinute("scope|b", 2)]));
    }

    [Fact]
    public void Lets_a_windowed_quota_go_in_a_burst_then_waits_for_the_window_since_the_oldest_call_it_counts()
    {
        RequestPacer pacer = Pacer();
        var hour = new PaceLimit("scope-hour|a", 10, TimeSpan.FromHours(1));
        for (int i = 0; i < 10; i++)
        {
            _now = T0.AddMinutes(i);
            Assert.Equal(TimeSpan.Zero, pacer.Reserve([hour]));
        }

        _now = T0.AddMinutes(10);
        Assert.Equal(TimeSpan.FromMinutes(50), pacer.Reserve([hour])); // the 11th call: an hour after the 1st
        Assert.Equal(TimeSpan.FromMinutes(51), pacer.Peek([hour]));    // the 12th: an hour after the 2nd
    }

    [Fact]
    public void Waits_for_the_latest_of_the_keys_named_and_reserves_that_time_on_each()
    {
        RequestPacer pacer = Pacer();
        PaceLimit scopeA = PaceLimit.PerMinute("scope|a", 2);
        PaceLimit scopeB = PaceLimit.PerMinute("scope|b", 2);
        PaceLimit tenant = PaceLimit.PerMinute("subscriptions|t", 10);
        PaceLimit client = PaceLimit.PerMinute("client|c", 30);
        Assert.Equal(TimeSpan.Zero, pacer.Reserve([scopeA, tenant, client]));
        Assert.Equal(TimeSpan.FromSeconds(6), pacer.Reserve([scopeB, tenant, client])); // the tenant's 10 a minute
        Assert.Equal(TimeSpan.FromSeconds(30), pacer.Reserve([scopeA, tenant, client])); // scope a's 2 a minute
        Assert.Equal(TimeSpan.FromSeconds(32), pacer.Peek([client]));                     // the client's last call + 2 s
    }

    [Fact]
    public void Peek_reserves_nothing_and_the_scale_multiplies_every_window()
    {
        RequestPacer pacer = Pacer();
        PaceLimit scope = PaceLimit.PerMinute("scope|a", 2);
        pacer.Reserve([scope]);
        Assert.Equal(TimeSpan.FromSeconds(30), pacer.Peek([scope]));
        Assert.Equal(TimeSpan.FromSeconds(30), pacer.Peek([scope]));
        try
        {
            InternalHooks.SetTestHook("PacingScale", 0.1);
            Assert.Equal(TimeSpan.FromSeconds(3), pacer.Peek([scope]));
            InternalHooks.SetTestHook("PacingScale", 0);
            Assert.Equal(TimeSpan.Zero, pacer.Reserve([scope]));
        }
        finally
        {
            InternalHooks.SetTestHook("PacingScale", 1.0);
        }

        Assert.Equal(TimeSpan.FromSeconds(30), pacer.Peek([scope]));
    }
}
