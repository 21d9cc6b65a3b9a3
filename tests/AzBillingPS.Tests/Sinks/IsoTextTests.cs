using System;
using System.Globalization;
using System.Text;
using AzBillingPS.Engine.Sinks;
using Xunit;

namespace AzBillingPS.Tests.Sinks;

public class IsoTextTests
{
    [Fact]
    public void Dates_and_timestamps_read_as_the_format_strings_write_them()
    {
        var random = new Random(16);
        var values = new[] { DateTime.MinValue, DateTime.MaxValue, new DateTime(2026, 3, 1), new DateTime(2024, 2, 29, 23, 59, 59, 999).AddTicks(9999) };
        Span<byte> buffer = stackalloc byte[32];
        for (int i = 0; i < 10_000; i++)
        {
            DateTime value = i < values.Length ? values[i] : new DateTime(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks));
            Assert.Equal(value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), Encoding.ASCII.GetString(buffer[..IsoText.FormatDate(value, buffer)]));
            Assert.Equal(value.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture), Encoding.ASCII.GetString(buffer[..IsoText.FormatTimestamp(value, buffer)]));
        }
    }
}
