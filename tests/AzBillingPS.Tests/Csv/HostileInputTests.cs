using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Threading;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;
using Xunit;

namespace AzBillingPS.Tests.Csv;

/// <summary>Inputs that are not what they claim (issue 10 §3): bytes that are not text, compressed files, folders, gzip bombs.</summary>
public sealed class HostileInputTests : IDisposable
{
    private static readonly byte[] Header = Encoding.UTF8.GetBytes("Date,Cost,MeterName,Tags\r\n");
    private readonly string _dir = Directory.CreateTempSubdirectory("azb-hostile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteBytes(string name, params byte[][] parts)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, parts.SelectMany(p => p).ToArray());
        return path;
    }

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static int ReadAll(string file)
    {
        var headers = new[] { CostFileSchema.ReadHeader(file) };
        var columns = CostImporter.UnifyColumns(headers, SqliteDialect.Instance);
        using var reader = new CostDataReader(headers, columns, new LineageValues("/subscriptions/x", "ActualCost", new DateTime(2026, 3, 1), new DateTime(2026, 3, 31), Guid.NewGuid(), DateTime.UtcNow), CancellationToken.None);
        int rows = 0;
        while (reader.Read())
        {
            rows++;
        }

        return rows;
    }

    private static void AssertPrintable(string message)
    {
        foreach (char c in message)
        {
            Assert.False(char.IsControl(c) || c == '\uFFFD', $"The message carries U+{(int)c:X4}: {message}");
        }
    }

    [Fact]
    public void Invalid_utf8_in_a_field_names_file_line_column_and_bytes()
    {
        string f = WriteBytes("bad.csv", Header, B("03/01/2026,1,a,\"multi\nline\"\r\n03/02/2026,2,Transfer "), new byte[] { 0xC3, 0x28 }, B(",x\r\n"));
        var e = Assert.Throws<EngineException>(() => ReadAll(f));
        Assert.Equal(EngineErrorKind.CsvInvalidText, e.Kind);
        Assert.Equal(4, e.Line); // the quoted newline of row 1 puts row 2 on line 4
        Assert.Equal("MeterName", e.Column);
        Assert.Contains("bad.csv: line 4, column 'MeterName': the field is not valid UTF-8 (0xC3 0x28 at byte 10 of the field)", e.Message, StringComparison.Ordinal);
        AssertPrintable(e.Message);
    }

    [Fact]
    public void A_nul_character_names_the_line_inside_a_quoted_multi_line_field()
    {
        string f = WriteBytes("nul.csv", Header, B("03/01/2026,1,a,\"first\nsecond"), new byte[] { 0 }, B("\"\r\n"));
        var e = Assert.Throws<EngineException>(() => ReadAll(f));
        Assert.Equal(EngineErrorKind.CsvInvalidText, e.Kind);
        Assert.Equal(3, e.Line);
        Assert.Equal("Tags", e.Column);
        Assert.Contains("holds a NUL character (byte 0x00 at byte 14 of the field)", e.Message, StringComparison.Ordinal);
        AssertPrintable(e.Message);
    }

    [Fact]
    public void Overlong_and_surrogate_encodings_are_not_utf8()
    {
        foreach (byte[] bad in new[] { new byte[] { 0xC0, 0xAF }, new byte[] { 0xED, 0xA0, 0x80 }, new byte[] { 0xF8, 0x88, 0x80, 0x80 }, new byte[] { 0xE2, 0x82 } })
        {
            string f = WriteBytes("bad.csv", Header, B("03/01/2026,1,"), bad, B(",x\r\n"));
            Assert.Equal(EngineErrorKind.CsvInvalidText, Assert.Throws<EngineException>(() => ReadAll(f)).Kind);
        }
    }

    [Fact]
    public void Valid_utf8_text_loads_unchanged()
    {
        string f = WriteBytes("good.csv", new byte[] { 0xEF, 0xBB, 0xBF }, B("Date,Cost,MeterName,Tags\r\n03/01/2026,1,Ünïcödé € 数据 😀 \uFFFD,x\r\n"));
        Assert.Equal(1, ReadAll(f));
    }

    [Fact]
    public void A_header_that_is_not_utf8_is_refused_and_a_real_replacement_character_is_not()
    {
        string f = WriteBytes("header.csv", B("Date,Cost,Meter"), new byte[] { 0xFF }, B("Name\r\n03/01/2026,1,a\r\n"));
        var e = Assert.Throws<EngineException>(() => CostFileSchema.ReadHeader(f));
        Assert.Equal(EngineErrorKind.CsvInvalidText, e.Kind);
        Assert.Equal(1, e.Line);
        Assert.Contains("line 1, field 3 of the header: the field is not valid UTF-8 (0xFF 0x4E at byte 6 of the field)", e.Message, StringComparison.Ordinal);
        AssertPrintable(e.Message);

        string ok = WriteBytes("ok.csv", B("Date,Cost,Meter\uFFFDName\r\n03/01/2026,1,a\r\n"));
        Assert.Equal(1, ReadAll(ok));
    }

    [Fact]
    public void A_gzip_or_zip_file_given_as_csv_says_what_it_is()
    {
        using var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(Header);
        }

        string f = WriteBytes("costs.csv", gz.ToArray());
        var e = Assert.Throws<EngineException>(() => CostFileSchema.ReadHeader(f));
        Assert.Equal(EngineErrorKind.CsvCompressedFile, e.Kind);
        Assert.Contains("costs.csv: the file looks gzip-compressed", e.Message, StringComparison.Ordinal);
        AssertPrintable(e.Message);

        string zip = WriteBytes("costs2.csv", new byte[] { 0x50, 0x4B, 0x03, 0x04, 0x14, 0, 0, 0 });
        Assert.Contains("a zip archive", Assert.Throws<EngineException>(() => CostFileSchema.ReadHeader(zip)).Message, StringComparison.Ordinal);

        // Named for what it is, gzip is read (decompressed, bounded).
        string named = WriteBytes("costs.csv.gz", gz.ToArray());
        Assert.Equal(4, CostFileSchema.ReadHeader(named).Columns.Count);
    }

    [Fact]
    public void A_gzip_bomb_named_csv_gz_stops_at_the_limit_when_read()
    {
        using var bomb = new MemoryStream();
        using (var z = new GZipStream(bomb, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(Header);
            byte[] row = B("03/01/2026,1," + new string('a', 1000) + ",x\r\n"); // 1,017 bytes: few rows to parse on the way
            for (int i = 0; i < 67_000; i++)
            {
                z.Write(row); // 68 MB of one repeated row (about 190 KB of gzip), past the 64 MB floor
            }
        }

        string f = WriteBytes("bomb.csv.gz", bomb.ToArray());
        var e = Assert.Throws<EngineException>(() => ReadAll(f));
        Assert.Equal(EngineErrorKind.DecompressionLimit, e.Kind);
        Assert.Contains("decompress it yourself if you trust it", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_given_as_a_file_says_it_is_a_folder()
    {
        var e = Assert.Throws<EngineException>(() => CostFileSchema.ReadHeader(_dir));
        Assert.Equal(EngineErrorKind.PathIsFolder, e.Kind);
        Assert.Contains("is a folder, not a cost file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_value_with_control_characters_is_shown_escaped()
    {
        string f = WriteBytes("ctl.csv", Header, B("03/01/2026,1\u0001\u001b[2J,a,x\r\n"));
        var e = Assert.Throws<EngineException>(() => ReadAll(f));
        Assert.Equal(EngineErrorKind.CsvBadValue, e.Kind);
        Assert.Contains("'1\\x01\\x1B[2J' is not a decimal number", e.Message, StringComparison.Ordinal);
        AssertPrintable(e.Message);
    }

    [Theory]
    [InlineData("a\u0000b", "a\\x00b")]
    [InlineData("tab\there", "tab\\there")]
    [InlineData("bad \uFFFD", "bad \\uFFFD")]
    [InlineData("ok 😀 é", "ok 😀 é")]
    public void Printable_escapes_what_is_not_text(string value, string expected) => Assert.Equal(expected, CsvText.Printable(value));

    [Fact]
    public void Printable_escapes_a_lone_surrogate_and_cuts_long_values()
    {
        Assert.Equal("\\uD800x", CsvText.Printable(new string(new[] { (char)0xD800, 'x' })));
        Assert.Equal("abc…", CsvText.Printable("abcdef", 3));
        Assert.Equal("\\x01…", CsvText.Printable("\u0001\u0002", 4));
    }

    [Fact]
    public void A_gzip_bomb_stops_at_the_limit_and_real_data_passes()
    {
        using var bomb = new MemoryStream();
        using (var z = new GZipStream(bomb, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            z.Write(new byte[80 * 1024 * 1024]); // 80 MB of zeros: about 80 KB of gzip
        }

        var limit = InflationLimit.Default;
        Assert.Equal(InflationLimit.FloorBytes, limit.MaxBytesFor(bomb.Length));
        bomb.Position = 0;
        using Stream inflating = limit.Inflate(bomb, bomb.Length, "blob 1 of 1");
        var e = Assert.Throws<EngineException>(() => inflating.CopyTo(Stream.Null));
        Assert.Equal(EngineErrorKind.DecompressionLimit, e.Kind);
        Assert.Contains("blob 1 of 1: the gzip data inflates past 67,108,864 bytes", e.Message, StringComparison.Ordinal);
        Assert.Equal(EngineAdvice.RaiseGzipRatio, e.Advice); // the command words it (-MaxGzipRatio where it has one)
        Assert.DoesNotContain("If it is genuine", e.Message, StringComparison.Ordinal);

        // A higher ratio lets it through; so does anything below the floor.
        bomb.Position = 0;
        using Stream allowed = new InflationLimit(2000).Inflate(bomb, bomb.Length, "blob");
        var sink = new MemoryStream();
        allowed.CopyTo(sink);
        Assert.Equal(80 * 1024 * 1024, sink.Length);

        Assert.Equal(long.MaxValue, new InflationLimit(int.MaxValue).MaxBytesFor(long.MaxValue / 2));
        Assert.Equal(100L * 1024 * 1024 * 1024, new InflationLimit(100).MaxBytesFor(1024L * 1024 * 1024));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InflationLimit(0));
    }
}
