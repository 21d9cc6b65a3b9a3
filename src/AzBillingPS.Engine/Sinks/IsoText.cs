using System;

namespace AzBillingPS.Engine.Sinks;

/// <summary>
/// Dates and times as the ISO text SQLite stores (yyyy-MM-dd, and yyyy-MM-dd HH:mm:ss.fff with the milliseconds cut, not
/// rounded, as the "fff" format does), written as UTF-8 digits without a format string or culture lookup per value.
/// </summary>
internal static class IsoText
{
    /// <summary>Writes yyyy-MM-dd (10 bytes) and returns the length.</summary>
    public static int FormatDate(DateTime value, Span<byte> destination)
    {
        value.Deconstruct(out DateOnly date, out _);
        date.Deconstruct(out int year, out int month, out int day);
        Digits(destination, year, 4);
        destination[4] = (byte)'-';
        Digits(destination[5..], month, 2);
        destination[7] = (byte)'-';
        Digits(destination[8..], day, 2);
        return 10;
    }

    /// <summary>Writes yyyy-MM-dd HH:mm:ss.fff (23 bytes) and returns the length.</summary>
    public static int FormatTimestamp(DateTime value, Span<byte> destination)
    {
        FormatDate(value, destination);
        destination[10] = (byte)' ';
        Digits(destination[11..], value.Hour, 2);
        destination[13] = (byte)':';
        Digits(destination[14..], value.Minute, 2);
        destination[16] = (byte)':';
        Digits(destination[17..], value.Second, 2);
        destination[19] = (byte)'.';
        Digits(destination[20..], value.Millisecond, 3);
        return 23;
    }

    private static void Digits(Span<byte> destination, int value, int width)
    {
        for (int i = width - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }
}
