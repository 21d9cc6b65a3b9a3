using System;
using System.IO;
using AzBillingPS.Engine.Blobs;
using Xunit;

namespace AzBillingPS.Tests.Blobs;

/// <summary>The .partial.state file: what a later run reads back, and what it refuses to resume from.</summary>
public sealed class PartialStateTests : TempFolderTest
{
    public PartialStateTests()
        : base("azb-state-")
    {
    }

    [Fact]
    public void A_ranged_state_round_trips_with_its_range_size_and_complete_ranges()
    {
        string path = Path.Combine(Dir, "a.partial.state");
        new PartialState("https://acct.blob.core.windows.net/c/b.csv", 40L * 1024 * 1024, "\"0x8D\"", 16 * 1024 * 1024, "101").Write(path);
        PartialState? read = PartialState.Read(path);
        Assert.NotNull(read);
        Assert.Equal(16 * 1024 * 1024, read!.RangeSize);
        Assert.Equal("101", read.Done);
        Assert.Equal("\"0x8D\"", read.ETag);
    }

    [Fact]
    public void A_single_stream_state_has_no_ranges()
    {
        string path = Path.Combine(Dir, "b.partial.state");
        new PartialState("https://acct.blob.core.windows.net/c/b.csv", 1000, "\"e\"").Write(path);
        PartialState? read = PartialState.Read(path);
        Assert.NotNull(read);
        Assert.Equal(0, read!.RangeSize);
        Assert.Null(read.Done);
        Assert.DoesNotContain("ranges=", File.ReadAllText(path), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ranges=16777216\ndone=10\n")] // three ranges in 40 MiB, two flags
    [InlineData("ranges=16777216\ndone=1x1\n")] // not 0 or 1
    [InlineData("ranges=0\ndone=\n")] // no range size
    [InlineData("ranges=16777216\n")] // no done line
    public void A_ranged_state_that_does_not_add_up_is_not_resumed(string tail)
    {
        string path = Path.Combine(Dir, "c.partial.state");
        File.WriteAllText(path, "AzBillingPS partial download v1\nblob=https://acct.blob.core.windows.net/c/b.csv\nbytes=41943040\netag=\"e\"\n" + tail);
        Assert.Null(PartialState.Read(path));
    }
}
