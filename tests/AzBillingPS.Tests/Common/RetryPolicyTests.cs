using System;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using Xunit;

namespace AzBillingPS.Tests.Common;

[Collection(PacingScaleSerial.Name)]
public class RetryPolicyTests
{
    [Fact]
    public void Back_off_doubles_with_jitter_and_honours_retry_after_within_the_cap()
    {
        var d = new RetryPolicy { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(2) };
        for (int i = 0; i < 50; i++)
        {
            TimeSpan first = d.Delay(1);
            TimeSpan third = d.Delay(3);
            Assert.InRange(first.TotalMilliseconds, 50, 100);
            Assert.InRange(third.TotalMilliseconds, 200, 400);
            Assert.Equal(2000, d.Delay(20).TotalMilliseconds, 3);
            Assert.InRange(d.Delay(1, TimeSpan.FromMilliseconds(700)).TotalMilliseconds, 700, 700);
            Assert.Equal(2000, d.Delay(1, TimeSpan.FromSeconds(90)).TotalMilliseconds, 3);
        }
    }

    [Fact]
    public void Counts_failures_in_a_row_up_to_its_limit()
    {
        Assert.True(RetryPolicy.Storage.Allows(4));
        Assert.False(RetryPolicy.Storage.Allows(5));
        Assert.True(RetryPolicy.CostManagement.Allows(8));
        Assert.False(RetryPolicy.CostManagement.Allows(9));
        Assert.True(RetryPolicy.IsTransientStatus(503));
        Assert.True(RetryPolicy.IsTransientStatus(408));
        Assert.False(RetryPolicy.IsTransientStatus(501));
        Assert.False(RetryPolicy.IsTransientStatus(403));
    }

    [Fact]
    public void The_cost_management_policy_is_paced_and_the_storage_one_is_not()
    {
        try
        {
            InternalHooks.SetTestHook("PacingScale", 0);
            Assert.Equal(TimeSpan.Zero, RetryPolicy.CostManagement.Delay(3));
            Assert.InRange(RetryPolicy.Storage.Delay(1).TotalMilliseconds, 250, 500);
            Assert.Equal(1500, RetryPolicy.CostManagement.Delay(3, TimeSpan.FromMilliseconds(1500)).TotalMilliseconds, 3);
            InternalHooks.SetTestHook("PacingScale", 0.5);
            Assert.InRange(RetryPolicy.CostManagement.Delay(1).TotalMilliseconds, 500, 1000);
            Assert.Equal(0.5, RequestPacer.Scale);
        }
        finally
        {
            InternalHooks.SetTestHook("PacingScale", 1.0);
        }

        Assert.InRange(RetryPolicy.CostManagement.Delay(1).TotalMilliseconds, 1000, 2000);
    }

    [Fact]
    public void The_storage_retry_scale_shortens_the_storage_back_off_only_never_a_service_retry_after()
    {
        try
        {
            InternalHooks.SetTestHook("StorageRetryScale", 0.1);
            Assert.InRange(RetryPolicy.Storage.Delay(1).TotalMilliseconds, 25, 50);
            Assert.InRange(RetryPolicy.Storage.Delay(4).TotalMilliseconds, 200, 400);
            Assert.Equal(1500, RetryPolicy.Storage.Delay(1, TimeSpan.FromMilliseconds(1500)).TotalMilliseconds, 3);
            Assert.InRange(RetryPolicy.CostManagement.Delay(1).TotalMilliseconds, 1000, 2000);
        }
        finally
        {
            InternalHooks.SetTestHook("StorageRetryScale", 1.0);
        }

        Assert.InRange(RetryPolicy.Storage.Delay(1).TotalMilliseconds, 250, 500);
    }

    [Fact]
    public void Test_hooks_are_set_by_name_and_refuse_what_they_do_not_know()
    {
        Assert.Throws<ArgumentException>(() => InternalHooks.SetTestHook("NoSuchHook", 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => InternalHooks.SetTestHook("PacingScale", -1));
        Assert.Equal(1.0, RequestPacer.Scale);
    }
}

/// <summary>Tests that change the process-wide pacing scale run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PacingScaleSerial
{
    public const string Name = "Pacing scale";
}
