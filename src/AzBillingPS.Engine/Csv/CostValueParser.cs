using System;
using System.Globalization;

namespace AzBillingPS.Engine.Csv;

/// <summary>
/// Culture-invariant parsing of the values cost-details files really contain: MM/dd/yyyy, M/d/yyyy and ISO
/// dates (with or without a time part), decimals with '.' and exponents and up to 28 fractional digits,
/// True/TRUE/false booleans, GUIDs. An empty field is NULL for every type.
/// </summary>
internal static class CostValueParser
{
    private static readonly string[] IsoFormats =
    {
        "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'",
        "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd HH:mm:ss", "M/d/yyyy h:mm:ss tt", "M/d/yyyy H:mm:ss", "yyyyMMdd",
    };

    public static bool TryParseDate(ReadOnlySpan<char> s, out DateTime value)
    {
        s = s.Trim();
        // Fast paths: M/d/yyyy or MM/dd/yyyy, and yyyy-MM-dd.
        int slash1 = s.IndexOf('/');
        if (slash1 is 1 or 2)
        {
            int rest = s[(slash1 + 1)..].IndexOf('/');
            if (rest is 1 or 2)
            {
                int slash2 = slash1 + 1 + rest;
                ReadOnlySpan<char> yearPart = s[(slash2 + 1)..];
                if (yearPart.Length == 4
                    && TryDigits(s[..slash1], out int month)
                    && TryDigits(s[(slash1 + 1)..slash2], out int day)
                    && TryDigits(yearPart, out int year))
                {
                    return TryMake(year, month, day, out value);
                }
            }
        }
        else if (s.Length == 10 && s[4] == '-' && s[7] == '-'
            && TryDigits(s[..4], out int y) && TryDigits(s.Slice(5, 2), out int m) && TryDigits(s.Slice(8, 2), out int d))
        {
            return TryMake(y, m, d, out value);
        }

        if (DateTime.TryParseExact(s, IsoFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime parsed))
        {
            value = parsed.Date;
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>
    /// A point in time (FOCUS datetimes such as ChargePeriodStart): ISO 8601 with or without a time, fraction and
    /// offset or Z, or the date forms <see cref="TryParseDate(ReadOnlySpan{char}, out DateTime)"/> takes. A value
    /// without an offset is UTC (FOCUS datetimes are UTC). The result is UTC.
    /// </summary>
    public static bool TryParseTimestamp(ReadOnlySpan<char> s, out DateTime value)
    {
        s = s.Trim();
        if (s.Length >= 19 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ')
            && DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime parsed))
        {
            value = DateTime.SpecifyKind(parsed, DateTimeKind.Utc);
            return true;
        }

        if (TryParseDate(s, out DateTime date))
        {
            value = DateTime.SpecifyKind(date, DateTimeKind.Utc);
            return true;
        }

        value = default;
        return false;
    }

    /// <summary>UTF-8 overload of <see cref="TryParseTimestamp(ReadOnlySpan{char}, out DateTime)"/>.</summary>
    public static bool TryParseTimestamp(ReadOnlySpan<byte> s, out DateTime value)
    {
        if (s.Length > 64)
        {
            value = default;
            return false;
        }

        Span<char> chars = stackalloc char[s.Length];
        int n = System.Text.Encoding.UTF8.GetChars(s, chars);
        return TryParseTimestamp(chars[..n], out value);
    }

    private static bool TryMake(int year, int month, int day, out DateTime value)
    {
        if (year is >= 1 and <= 9999 && month is >= 1 and <= 12 && day >= 1 && day <= DateTime.DaysInMonth(year, month))
        {
            value = new DateTime(year, month, day, 0, 0, 0, DateTimeKind.Unspecified);
            return true;
        }

        value = default;
        return false;
    }

    private static bool TryDigits(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        if (s.IsEmpty)
        {
            return false;
        }

        foreach (char c in s)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }

    /// <summary>UTF-8 overload: the fast paths run on the bytes, anything else is decoded and parsed as text.</summary>
    public static bool TryParseDate(ReadOnlySpan<byte> s, out DateTime value)
    {
        s = s.Trim((byte)' ');
        if (s.Length is >= 8 and <= 10)
        {
            int slash1 = s.IndexOf((byte)'/');
            if (slash1 is 1 or 2)
            {
                int rest = s[(slash1 + 1)..].IndexOf((byte)'/');
                if (rest is 1 or 2)
                {
                    int slash2 = slash1 + 1 + rest;
                    ReadOnlySpan<byte> yearPart = s[(slash2 + 1)..];
                    if (yearPart.Length == 4
                        && TryDigits(s[..slash1], out int month)
                        && TryDigits(s[(slash1 + 1)..slash2], out int day)
                        && TryDigits(yearPart, out int year))
                    {
                        return TryMake(year, month, day, out value);
                    }
                }
            }
            else if (s.Length == 10 && s[4] == (byte)'-' && s[7] == (byte)'-'
                && TryDigits(s[..4], out int y) && TryDigits(s.Slice(5, 2), out int m) && TryDigits(s.Slice(8, 2), out int d))
            {
                return TryMake(y, m, d, out value);
            }
        }

        if (s.Length > 64)
        {
            value = default;
            return false;
        }

        Span<char> chars = stackalloc char[s.Length];
        int n = System.Text.Encoding.UTF8.GetChars(s, chars);
        return TryParseDate(chars[..n], out value);
    }

    private static bool TryDigits(ReadOnlySpan<byte> s, out int value)
    {
        value = 0;
        if (s.IsEmpty)
        {
            return false;
        }

        foreach (byte c in s)
        {
            if (c is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }

    public static bool TryParseDecimal(ReadOnlySpan<byte> s, out decimal value)
    {
        s = s.Trim((byte)' ');
        return TryParsePlainDecimal(s, out value)
            || decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>
    /// The form nearly every cost value has, [+-]digits[.digits] with at most 19 digits, read straight into the decimal's
    /// mantissa and scale: the same value, scale and sign (negative zero included) as decimal.Parse gives, at a fraction
    /// of its cost. Anything else (exponents, more digits, other characters) is left to decimal.TryParse.
    /// </summary>
    internal static bool TryParsePlainDecimal(ReadOnlySpan<byte> s, out decimal value)
    {
        value = default;
        int i = 0;
        bool negative = false;
        if (s.Length > 0 && (s[0] == (byte)'-' || s[0] == (byte)'+'))
        {
            negative = s[0] == (byte)'-';
            i = 1;
        }

        ulong mantissa = 0;
        int digits = 0;
        int scale = -1; // -1 until the decimal point
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d <= 9)
            {
                if (++digits > 19)
                {
                    return false;
                }

                mantissa = (mantissa * 10) + d;
                if (scale >= 0)
                {
                    scale++;
                }
            }
            else if (s[i] == (byte)'.' && scale < 0)
            {
                scale = 0;
            }
            else
            {
                return false;
            }
        }

        if (digits == 0)
        {
            return false;
        }

        value = new decimal((int)(uint)mantissa, (int)(uint)(mantissa >> 32), 0, negative, (byte)Math.Max(scale, 0));
        return true;
    }

    public static bool TryParseBoolean(ReadOnlySpan<byte> s, out bool value)
    {
        if (s.Length > 16)
        {
            value = false;
            return false;
        }

        Span<char> chars = stackalloc char[s.Length];
        int n = System.Text.Encoding.UTF8.GetChars(s, chars);
        return TryParseBoolean(chars[..n], out value);
    }

    public static bool TryParseGuid(ReadOnlySpan<byte> s, out Guid value)
    {
        if (s.Length > 80)
        {
            value = default;
            return false;
        }

        Span<char> chars = stackalloc char[s.Length];
        int n = System.Text.Encoding.UTF8.GetChars(s, chars);
        return Guid.TryParse(chars[..n].Trim(), out value);
    }

    public static bool TryParseDecimal(ReadOnlySpan<char> s, out decimal value)
        => decimal.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    public static bool TryParseBoolean(ReadOnlySpan<char> s, out bool value)
    {
        s = s.Trim();
        if (s.Equals("true", StringComparison.OrdinalIgnoreCase) || s.Equals("1", StringComparison.Ordinal) || s.Equals("yes", StringComparison.OrdinalIgnoreCase))
        {
            value = true;
            return true;
        }

        if (s.Equals("false", StringComparison.OrdinalIgnoreCase) || s.Equals("0", StringComparison.Ordinal) || s.Equals("no", StringComparison.OrdinalIgnoreCase))
        {
            value = false;
            return true;
        }

        value = false;
        return false;
    }

    public static bool TryParseGuid(ReadOnlySpan<char> s, out Guid value) => Guid.TryParse(s.Trim(), out value);
}
