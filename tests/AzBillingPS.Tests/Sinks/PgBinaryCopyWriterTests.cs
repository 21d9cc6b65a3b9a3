using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Text;
using System.Threading;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;
using Xunit;

namespace AzBillingPS.Tests.Sinks;

/// <summary>
/// The binary COPY writer against the format as PostgreSQL documents it (sql-copy, "Binary Format"; numeric_send),
/// decoded here independently of the writer: header, tuples, NULLs, every type, the trailer.
/// </summary>
public sealed class PgBinaryCopyWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("azb-pgcopy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("0.05", 1, -1, 0, 2, new short[] { 500 })]
    [InlineData("81.507196", 3, 0, 0, 6, new short[] { 81, 5071, 9600 })]
    [InlineData("-12345.6", 3, 1, 0x4000, 1, new short[] { 1, 2345, 6000 })]
    [InlineData("10000", 1, 1, 0, 0, new short[] { 1 })]
    [InlineData("0.00001234", 1, -2, 0, 8, new short[] { 1234 })]
    [InlineData("0.000", 0, 0, 0, 3, new short[0])]
    [InlineData("1.50", 2, 0, 0, 2, new short[] { 1, 5000 })]
    public void Numerics_match_numeric_send(string text, int ndigits, int weight, int sign, int dscale, short[] digits)
    {
        byte[] bytes = new byte[PgBinaryCopyWriter.MaxNumericBytes];
        int n = PgBinaryCopyWriter.EncodeNumeric(decimal.Parse(text, CultureInfo.InvariantCulture), bytes);
        var span = bytes.AsSpan(0, n);
        Assert.Equal(ndigits, BinaryPrimitives.ReadInt16BigEndian(span));
        Assert.Equal(weight, BinaryPrimitives.ReadInt16BigEndian(span[2..]));
        Assert.Equal(sign, (ushort)BinaryPrimitives.ReadInt16BigEndian(span[4..]));
        Assert.Equal(dscale, BinaryPrimitives.ReadInt16BigEndian(span[6..]));
        Assert.Equal(digits, Enumerable.Range(0, ndigits).Select(i => BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(8 + (2 * i)))).ToArray());
        Assert.Equal(8 + (2 * ndigits), n);
    }

    [Fact]
    public void Every_decimal_comes_back_with_the_same_value_and_scale()
    {
        var random = new Random(16);
        var values = new List<decimal> { decimal.MaxValue, decimal.MinValue, 0m, -0.0m, 1m, -1m, 0.0000000000000000000000000001m, 9999.9999m, 10000.0001m, 79228162514264337593543950.335m };
        for (int i = 0; i < 20_000; i++)
        {
            // Random 96-bit mantissas of every length, with every scale and both signs.
            int bitsUsed = random.Next(1, 97);
            var m = new BigInteger(random.NextInt64()) << 64 | (ulong)random.NextInt64();
            m = BigInteger.Abs(m) & ((BigInteger.One << bitsUsed) - 1);
            byte[] raw = m.ToByteArray(isUnsigned: true, isBigEndian: false);
            Array.Resize(ref raw, 12);
            values.Add(new decimal(BitConverter.ToInt32(raw, 0), BitConverter.ToInt32(raw, 4), BitConverter.ToInt32(raw, 8), random.Next(2) == 0, (byte)random.Next(0, 29)));
        }

        byte[] bytes = new byte[PgBinaryCopyWriter.MaxNumericBytes];
        foreach (decimal value in values)
        {
            int n = PgBinaryCopyWriter.EncodeNumeric(value, bytes);
            string expected = value == 0 ? value.ToString(CultureInfo.InvariantCulture).TrimStart('-') : value.ToString(CultureInfo.InvariantCulture);
            Assert.Equal(expected, DecodeNumeric(bytes.AsSpan(0, n)));
        }
    }

    [Fact]
    public void Rows_carry_every_type_nulls_and_long_text_between_the_header_and_the_trailer()
    {
        string longText = new('x', 200_000); // larger than the writer's buffer: goes to the stream directly
        string path = Path.Combine(_dir, "a.csv");
        File.WriteAllText(path,
            "Date,CostInBillingCurrency,IsAzureCreditEligible,SubscriptionId,Tags,ResourceId\r\n" +
            $"03/01/2026,81.507196,True,6f1b2a4e-0f7c-4f39-9d0b-7a1c2e3d4f50,\"\"\"env\"\": \"\"pr€d\"\"\",{longText}\r\n" +
            "03/31/2026,-0.050,False,,,\r\n",
            new UTF8Encoding(false));
        var headers = new[] { CostFileSchema.ReadHeader(path) };
        var columns = CostImporter.UnifyColumns(headers, PostgreSqlDialect.Instance);
        var importedAt = new DateTime(2026, 4, 2, 10, 11, 12, DateTimeKind.Utc).AddTicks(1234567);
        var lineage = new LineageValues("/subscriptions/x", "ActualCost", new DateTime(2026, 3, 1), new DateTime(2026, 3, 31), Guid.Parse("00112233-4455-6677-8899-aabbccddeeff"), importedAt);
        using var reader = new CostDataReader(headers, columns, lineage, CancellationToken.None);
        CostColumnType[] types = reader.Columns.Select(c => c.Type).ToArray();

        var output = new MemoryStream();
        bool[] jsonb = types.Select(t => t == CostColumnType.Json).ToArray(); // Tags into jsonb
        Assert.Contains(true, jsonb);
        var writer = new PgBinaryCopyWriter(output, jsonb, bufferSize: 4096);
        while (reader.Read())
        {
            writer.WriteRow(reader, types);
        }

        writer.Complete();
        Assert.Equal(output.Length, writer.BytesWritten);

        List<byte[]?[]> rows = Decode(output.ToArray(), types.Length);
        Assert.Equal(2, rows.Count);
        byte[]?[] first = rows[0], second = rows[1];
        int Ordinal(string name) => reader.Columns.Select(c => c.Name).ToList().IndexOf(name);

        Assert.Equal(new DateOnly(2026, 3, 1).DayNumber - new DateOnly(2000, 1, 1).DayNumber, BinaryPrimitives.ReadInt32BigEndian(first[Ordinal("Date")]));
        Assert.Equal(new DateOnly(2026, 3, 31).DayNumber - new DateOnly(2000, 1, 1).DayNumber, BinaryPrimitives.ReadInt32BigEndian(second[Ordinal("Date")]));
        Assert.Equal("81.507196", DecodeNumeric(first[Ordinal("CostInBillingCurrency")]));
        Assert.Equal("-0.050", DecodeNumeric(second[Ordinal("CostInBillingCurrency")]));
        Assert.Equal(new byte[] { 1 }, first[Ordinal("IsAzureCreditEligible")]);
        Assert.Equal(new byte[] { 0 }, second[Ordinal("IsAzureCreditEligible")]);
        Assert.Equal("6f1b2a4e-0f7c-4f39-9d0b-7a1c2e3d4f50", Encoding.UTF8.GetString(first[Ordinal("SubscriptionId")]!)); // ids are text
        Assert.Null(second[Ordinal("SubscriptionId")]);
        // jsonb: the version byte, then the JSON text (EA's brace-less tags made an object).
        byte[] tags = first[Ordinal("Tags")]!;
        Assert.Equal(1, tags[0]);
        using (var json = System.Text.Json.JsonDocument.Parse(tags.AsMemory(1)))
        {
            Assert.Equal("pr€d", json.RootElement.GetProperty("env").GetString());
        }

        Assert.Null(second[Ordinal("Tags")]);
        Assert.Equal(longText, Encoding.UTF8.GetString(first[Ordinal("ResourceId")]!));

        Assert.Equal("/subscriptions/x", Encoding.UTF8.GetString(first[Ordinal(LineageColumns.Scope)]!));
        Assert.Equal("ActualCost", Encoding.UTF8.GetString(second[Ordinal(LineageColumns.Metric)]!));
        Assert.Equal(path, Encoding.UTF8.GetString(second[Ordinal(LineageColumns.SourceFile)]!));
        Assert.Equal(Convert.FromHexString("00112233445566778899aabbccddeeff"), first[Ordinal(LineageColumns.ImportId)]);
        // timestamptz: microseconds since 2000-01-01 UTC (the tick below a microsecond is dropped, as the server would).
        long micros = BinaryPrimitives.ReadInt64BigEndian(first[Ordinal(LineageColumns.ImportedAt)]);
        Assert.Equal(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks(micros * 10), importedAt.AddTicks(-(importedAt.Ticks % 10)));
    }

    /// <summary>Parses a binary COPY stream: signature, flags, extension, tuples of length-prefixed fields (-1 for NULL), trailer.</summary>
    private static List<byte[]?[]> Decode(byte[] data, int fieldCount)
    {
        byte[] signature = { (byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0 };
        Assert.Equal(signature, data[..11]);
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(11)));
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(15)));
        int at = 19;
        var rows = new List<byte[]?[]>();
        while (true)
        {
            short fields = BinaryPrimitives.ReadInt16BigEndian(data.AsSpan(at));
            at += 2;
            if (fields == -1)
            {
                Assert.Equal(data.Length, at); // the trailer ends the stream
                return rows;
            }

            Assert.Equal(fieldCount, fields);
            var row = new byte[]?[fields];
            for (int i = 0; i < fields; i++)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(at));
                at += 4;
                if (length >= 0)
                {
                    row[i] = data.AsSpan(at, length).ToArray();
                    at += length;
                }
            }

            rows.Add(row);
        }
    }

    /// <summary>numeric_recv's reading of the bytes, printed as PostgreSQL prints a numeric (its display scale of digits after the point).</summary>
    private static string DecodeNumeric(ReadOnlySpan<byte> bytes)
    {
        int ndigits = BinaryPrimitives.ReadInt16BigEndian(bytes);
        int weight = BinaryPrimitives.ReadInt16BigEndian(bytes[2..]);
        int sign = (ushort)BinaryPrimitives.ReadInt16BigEndian(bytes[4..]);
        int dscale = BinaryPrimitives.ReadInt16BigEndian(bytes[6..]);
        Assert.True(sign is 0 or 0x4000);
        BigInteger value = BigInteger.Zero; // in units of 10000^-(ndigits - 1 - weight)
        for (int i = 0; i < ndigits; i++)
        {
            short d = BinaryPrimitives.ReadInt16BigEndian(bytes[(8 + (2 * i))..]);
            Assert.InRange(d, (short)0, (short)9999);
            value = (value * 10_000) + d;
        }

        int exponent = 4 * (weight - (ndigits - 1)); // value * 10^exponent
        BigInteger scaled = exponent + dscale >= 0
            ? value * BigInteger.Pow(10, exponent + dscale)
            : BigInteger.DivRem(value, BigInteger.Pow(10, -(exponent + dscale)), out BigInteger rest) is var q && rest.IsZero ? q : throw new InvalidOperationException("digits below the display scale");
        string digits = scaled.ToString(CultureInfo.InvariantCulture).PadLeft(dscale + 1, '0');
        string text = dscale == 0 ? digits : digits[..^dscale] + "." + digits[^dscale..];
        return (sign == 0x4000 ? "-" : string.Empty) + text;
    }
}
