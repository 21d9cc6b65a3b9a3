using System;
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace AzBillingPS.Engine.Csv;

/// <summary>
/// The text rule for cost files: every field is valid UTF-8 and holds no NUL character. CsvHelper hands the engine
/// the file's bytes as they are (it does not decode them), so a record is checked once, on its raw bytes, with two
/// vectorised scans; only a record that fails is looked at field by field to name the column and the bytes.
/// </summary>
internal static class CsvText
{
    /// <summary>
    /// True when <paramref name="bytes"/> are valid UTF-8 without a NUL byte (the fast path, once per record). Cost
    /// records are mostly ASCII: one vectorised scan for anything outside 0x01..0x7F settles those; the rest of a record
    /// from its first other byte is checked for NUL and UTF-8 validity.
    /// </summary>
    public static bool IsClean(ReadOnlySpan<byte> bytes)
    {
        int other = bytes.IndexOfAnyExceptInRange((byte)0x01, (byte)0x7F);
        if (other < 0)
        {
            return true;
        }

        ReadOnlySpan<byte> rest = bytes[other..];
        return rest.IndexOf((byte)0) < 0 && Utf8.IsValid(rest);
    }

    /// <summary>The first offending byte of <paramref name="bytes"/> and what is wrong there, or null when they are clean.</summary>
    public static (int Offset, string Problem)? FindProblem(ReadOnlySpan<byte> bytes)
    {
        int offset = 0;
        while (offset < bytes.Length)
        {
            OperationStatus status = Rune.DecodeFromUtf8(bytes[offset..], out Rune rune, out int consumed);
            if (status != OperationStatus.Done)
            {
                // The bytes that do not decode, and the one after them (which shows why: not a continuation byte).
                int shown = Math.Min(Math.Min(Math.Max(consumed, 1) + 1, 4), bytes.Length - offset);
                return (offset, $"is not valid UTF-8 ({Hex(bytes.Slice(offset, shown))} at byte {offset + 1} of the field)");
            }

            if (rune.Value == 0)
            {
                return (offset, $"holds a NUL character (byte 0x00 at byte {offset + 1} of the field)");
            }

            offset += consumed;
        }

        return null;
    }

    /// <summary>Bytes as "0xC3 0x28", for messages (never the bytes themselves).</summary>
    public static string Hex(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length * 5);
        foreach (byte b in bytes)
        {
            if (sb.Length > 0)
            {
                sb.Append(' ');
            }

            sb.Append(CultureInfo.InvariantCulture, $"0x{b:X2}");
        }

        return sb.ToString();
    }

    /// <summary>The number of line feeds in <paramref name="bytes"/> (lines a quoted field spans).</summary>
    public static int LineFeeds(ReadOnlySpan<byte> bytes) => bytes.Count((byte)'\n');

    /// <summary>
    /// <paramref name="value"/> made safe to show in a message: control characters, the replacement character and
    /// unpaired surrogates as escapes (\r, \n, \t, \x01, \uFFFD), so a message never carries binary bytes; cut to
    /// <paramref name="max"/> characters.
    /// </summary>
    public static string Printable(string? value, int max = int.MaxValue)
    {
        if (value is null)
        {
            return string.Empty;
        }

        var sb = new StringBuilder(Math.Min(value.Length, max) + 8);
        int i = 0;
        for (; i < value.Length && sb.Length < max; i++)
        {
            char c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                sb.Append(c).Append(value[++i]);
                continue;
            }

            switch (c)
            {
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                default:
                    if (char.IsControl(c) || char.IsSurrogate(c) || c == '\uFFFD' || c is '\u2028' or '\u2029' or '\uFEFF')
                    {
                        sb.Append(c <= '\u00FF' ? string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}") : string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}"));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return i < value.Length ? sb.ToString(0, Math.Min(sb.Length, max)) + "…" : sb.ToString();
    }
}
