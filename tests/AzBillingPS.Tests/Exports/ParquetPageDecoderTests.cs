using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Exports;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;
using Parquet;
using Parquet.Schema;
using Xunit;

namespace AzBillingPS.Tests.Exports;

/// <summary>
/// The module's own Parquet page decoder (Exports/ParquetPages.cs) against Parquet.Net reading the same files: every
/// column of every row decoded both ways and compared, in both of its modes (rows read straight from the pages, and
/// column chunks spooled one at a time). Files come from Parquet.Net's writer (one page per column chunk, every type the
/// exports carry, Snappy and uncompressed, several row groups) and from a small writer here that lays pages out as other
/// writers do (several pages per chunk, a dictionary page with a PLAIN fallback page after it, v1 and v2 data pages,
/// nulls at page boundaries, a page of nulls only), and from that writer with a broken page header or a cut page.
/// </summary>
public sealed class ParquetPageDecoderTests : TempFolderTest
{
    private static readonly DateTime March = new(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc);
    public ParquetPageDecoderTests()
        : base("azb-pages-")
    {
    }

    private enum Mode
    {
        ParquetNet,
        PagesSpooled,
        PagesDirect,
    }

    private readonly LineageValues _lineage = new("/subscriptions/s", "FocusCost", March, March.AddMonths(1).AddDays(-1), Guid.NewGuid(), DateTime.UtcNow);

    private ParquetCostReader Open(IReadOnlyList<string> paths, Mode mode)
    {
        CostFileHeader[] headers = paths.Select(p => ParquetCostReader.ReadHeader(p, FocusCatalog.Instance)).ToArray();
        return new ParquetCostReader(headers, CostImporter.UnifyColumns(headers, SqliteDialect.Instance), _lineage, default)
        {
            SpoolPath = Dir,
            UsePageDecoder = mode != Mode.ParquetNet,
            DirectBudget = mode == Mode.PagesDirect ? long.MaxValue : -1,
        };
    }

    /// <summary>Every value of every row (its type's own getter, and its text where it has one), with the reader's page-decoded file count.</summary>
    private (List<object?[]> Rows, int PageFiles) ReadAll(IReadOnlyList<string> paths, Mode mode)
    {
        using ParquetCostReader reader = Open(paths, mode);
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (int i = 0; i < reader.FieldCount; i++)
            {
                if (reader.IsDBNull(i))
                {
                    continue;
                }

                object value = reader.GetValue(i);
                // A decimal's scale is part of what reaches a text column or SQLite: compared as text too.
                row[i] = value is decimal d ? d.ToString(CultureInfo.InvariantCulture) + "|" + d.Scale : value is DateTime t ? t.ToString("O", CultureInfo.InvariantCulture) : value;
            }

            rows.Add(row);
        }

        int files = reader.FilesReadByPages;
        reader.Close();
        Assert.Empty(Directory.GetDirectories(Dir, "azbillingps-parquet-*"));
        return (rows, files);
    }

    private void AssertSameAsParquetNet(IReadOnlyList<string> paths, int expectedRows)
    {
        (List<object?[]> expected, int none) = ReadAll(paths, Mode.ParquetNet);
        Assert.Equal(0, none);
        Assert.Equal(expectedRows, expected.Count);
        foreach (Mode mode in new[] { Mode.PagesSpooled, Mode.PagesDirect })
        {
            (List<object?[]> actual, int pageFiles) = ReadAll(paths, mode);
            Assert.Equal(paths.Count, pageFiles); // every file was read by the page decoder, none fell back
            Assert.Equal(expected.Count, actual.Count);
            for (int r = 0; r < expected.Count; r++)
            {
                Assert.True(expected[r].SequenceEqual(actual[r]), $"{mode}, row {r + 1}: [{string.Join(", ", expected[r])}] read as [{string.Join(", ", actual[r])}]");
            }
        }
    }

    [Theory]
    [InlineData(CompressionMethod.Snappy)]
    [InlineData(CompressionMethod.None)]
    public async Task EveryColumnOfParquetNetFilesDecodesAsParquetNetReadsIt(CompressionMethod codec)
    {
        const int rows = 3_000;
        var random = new Random(15);
        string[] words = { "Virtual Machines", "Storage", "Ünïcödé € 日本", string.Empty, "x", "{\"env\":\"prod\"}" };
        var fields = new DataField[]
        {
            new DataField<string>("ChargeDescription"),                                   // repeated words: a dictionary
            new DataField<string>("ResourceId"),                                          // unique: PLAIN
            new DataField<string>("Tags"),                                                // JSON
            new DecimalDataField("BilledCost", 38, 10, isNullable: true),                 // FIXED_LEN_BYTE_ARRAY
            new DecimalDataField("EffectiveCost", 38, 6, isNullable: false),              // FIXED_LEN_BYTE_ARRAY, required
            new DecimalDataField("ConsumedQuantity", 9, 2, isNullable: true),             // INT32
            new DecimalDataField("ListCost", 18, 3, isNullable: false),                   // INT64
            new DataField<DateTime>("ChargePeriodStart"),                                 // INT96, required
            new DateTimeDataField("ChargePeriodEnd", DateTimeFormat.DateAndTime, isNullable: true),        // INT64 millis
            new DateTimeDataField("BillingPeriodStart", DateTimeFormat.DateAndTimeMicros, isNullable: true), // INT64 micros
            new DataField<DateTime?>("x_BillingExchangeRateDate"),                        // INT96, optional
            new DataField<double?>("x_BillingExchangeRate"),                              // DOUBLE into a decimal
            new DataField<bool?>("x_SkuIsCreditEligible"),                                // BOOLEAN
            new DataField<int?>("x_SomeInt"),                                             // INT32 into text
            new DataField<long>("x_SomeLong"),                                            // INT64 into text
            new DataField<float?>("x_SomeFloat"),                                         // FLOAT into text
            new DataField<double>("x_SomeDouble"),                                        // DOUBLE into text
            new DataField<bool>("x_SomeBool"),                                            // BOOLEAN into text, required
        };
        string path = Path.Combine(Dir, "part_0_0001.parquet");
        await using (FileStream stream = File.Create(path))
        {
            var options = new ParquetOptions { CompressionMethod = codec, DictionaryEncodingThreshold = 0.9 };
            await using ParquetWriter writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream, options);
            for (int offset = 0; offset < rows; offset += 700)
            {
                int n = Math.Min(700, rows - offset);
                int[] at = Enumerable.Range(offset, n).ToArray();
                using ParquetRowGroupWriter group = writer.CreateRowGroup();
                await group.WriteAsync(fields[0], at.Select(i => i % 11 == 0 ? null : words[random.Next(words.Length)]).ToArray());
                await group.WriteAsync(fields[1], at.Select(i => i % 13 == 0 ? null : "/subscriptions/s/resourceGroups/rg/providers/p/t/r-" + i.ToString(CultureInfo.InvariantCulture)).ToArray());
                await group.WriteAsync(fields[2], at.Select(i => i % 3 == 0 ? null : i % 3 == 1 ? "{\"env\":\"prod\"}" : "\"cost-center\": \"" + (i % 7) + "\"").ToArray());
                await group.WriteAsync<decimal>(fields[3], at.Select(i => i % 17 == 0 ? (decimal?)null : Math.Round((decimal)(random.NextDouble() * 2000 - 1000), random.Next(0, 11))).ToArray().AsMemory());
                await group.WriteAsync<decimal>(fields[4], at.Select(i => Math.Round((decimal)random.NextDouble() * 100, 6)).ToArray().AsMemory());
                await group.WriteAsync<decimal>(fields[5], at.Select(i => i % 5 == 0 ? (decimal?)null : (decimal)random.Next(-1000, 100000) / 100).ToArray().AsMemory());
                await group.WriteAsync<decimal>(fields[6], at.Select(i => (decimal)random.Next() / 1000).ToArray().AsMemory());
                await group.WriteAsync<DateTime>(fields[7], at.Select(i => March.AddDays(i % 31).AddTicks(random.Next(0, 1_000_000) * 10L)).ToArray().AsMemory());
                await group.WriteAsync<DateTime>(fields[8], at.Select(i => i % 4 == 0 ? (DateTime?)null : March.AddDays(1 + (i % 30)).AddMilliseconds(random.Next(0, 86_400_000))).ToArray().AsMemory());
                await group.WriteAsync<DateTime>(fields[9], at.Select(i => i % 6 == 0 ? (DateTime?)null : March.AddTicks(random.NextInt64(0, TimeSpan.TicksPerDay * 28) / 10 * 10)).ToArray().AsMemory());
                await group.WriteAsync<DateTime>(fields[10], at.Select(i => i % 2 == 0 ? (DateTime?)null : March.AddDays(i % 28)).ToArray().AsMemory());
                await group.WriteAsync<double>(fields[11], at.Select(i => i % 9 == 0 ? (double?)null : random.NextDouble() * 3).ToArray().AsMemory());
                await group.WriteAsync<bool>(fields[12], at.Select(i => i % 10 == 0 ? (bool?)null : random.Next(2) == 0).ToArray().AsMemory());
                await group.WriteAsync<int>(fields[13], at.Select(i => i % 8 == 0 ? (int?)null : random.Next(int.MinValue, int.MaxValue)).ToArray().AsMemory());
                await group.WriteAsync<long>(fields[14], at.Select(i => random.NextInt64()).ToArray().AsMemory());
                await group.WriteAsync<float>(fields[15], at.Select(i => i % 7 == 0 ? (float?)null : (float)(random.NextDouble() * 1e6)).ToArray().AsMemory());
                await group.WriteAsync<double>(fields[16], at.Select(i => random.NextDouble() * 1e-3).ToArray().AsMemory());
                await group.WriteAsync<bool>(fields[17], at.Select(i => i % 3 == 0).ToArray().AsMemory());
            }
        }

        AssertSameAsParquetNet(new[] { path }, rows);
    }

    /// <summary>The files of a unit with the same columns in another order, and one more: each file's columns decode as their own.</summary>
    [Fact]
    public async Task FilesOfAUnitWithTheirColumnsInAnotherOrderDecodeAsParquetNetReadsThem()
    {
        async Task<string> Write(string name, DataField[] fields, int seed)
        {
            string path = Path.Combine(Dir, name);
            await using FileStream stream = File.Create(path);
            await using ParquetWriter writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream);
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            foreach (DataField field in fields)
            {
                switch (field.Name)
                {
                    case "ChargeDescription":
                        await group.WriteAsync(field, Enumerable.Range(0, 500).Select(i => i % 9 == 0 ? null : $"{name} {i}").ToArray());
                        break;
                    case "BilledCost":
                        await group.WriteAsync<decimal>(field, Enumerable.Range(0, 500).Select(i => i % 7 == 0 ? (decimal?)null : (seed * 1000 + i) / 100m).ToArray().AsMemory());
                        break;
                    case "x_SkuIsCreditEligible":
                        await group.WriteAsync<bool>(field, Enumerable.Range(0, 500).Select(i => i % 5 == 0 ? (bool?)null : i % 2 == 0).ToArray().AsMemory());
                        break;
                    default:
                        await group.WriteAsync<DateTime>(field, Enumerable.Range(0, 500).Select(i => March.AddDays(i % 28)).ToArray().AsMemory());
                        break;
                }
            }

            return path;
        }

        string a = await Write("a.parquet", new DataField[] { new DataField<string>("ChargeDescription"), new DecimalDataField("BilledCost", 38, 10, isNullable: true), new DataField<DateTime>("ChargePeriodStart") }, 1);
        string b = await Write("b.parquet", new DataField[] { new DecimalDataField("BilledCost", 38, 10, isNullable: true), new DataField<bool?>("x_SkuIsCreditEligible"), new DataField<DateTime>("ChargePeriodStart"), new DataField<string>("ChargeDescription") }, 2);
        AssertSameAsParquetNet(new[] { a, b, a }, 1_500);
    }

    [Fact]
    public async Task AFileWithAnotherCodecIsReadThroughParquetNet()
    {
        var fields = new DataField[] { new DataField<string>("ChargeDescription"), new DataField<DateTime>("ChargePeriodStart") };
        string path = Path.Combine(Dir, "gzip.parquet");
        await using (FileStream stream = File.Create(path))
        {
            await using ParquetWriter writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream, new ParquetOptions { CompressionMethod = CompressionMethod.Gzip });
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            await group.WriteAsync(fields[0], new[] { "a", "b", null });
            await group.WriteAsync<DateTime>(fields[1], new[] { March, March, March.AddDays(1) }.AsMemory());
        }

        foreach (Mode mode in new[] { Mode.ParquetNet, Mode.PagesDirect })
        {
            (List<object?[]> rows, int pageFiles) = ReadAll(new[] { path }, mode);
            Assert.Equal(0, pageFiles);
            Assert.Equal(new object?[] { "a", "b", null }, rows.Select(r => r[0]).ToArray());
        }
    }

    /// <summary>
    /// A chunk laid out as other writers lay them out: several pages, a dictionary page, dictionary-encoded v1 and v2
    /// pages with a PLAIN page between them (a writer whose dictionary grew too large), nulls as the last value of one
    /// page and the first of the next, a page of nulls only (no indices at all), bit-packed and run-length levels.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PagesAsOtherWritersLayThemOutDecodeAsParquetNetReadsThem(bool snappy)
    {
        string path = Path.Combine(Dir, snappy ? "pages-snappy.parquet" : "pages.parquet");
        (string?[] descriptions, decimal?[] costs, DateTime[] starts, bool?[] eligible) = WritePagedFile(path, snappy);
        AssertSameAsParquetNet(new[] { path }, descriptions.Length);

        // And the values are the ones written (not merely equal to Parquet.Net's reading).
        using ParquetCostReader reader = Open(new[] { path }, Mode.PagesDirect);
        int d = reader.GetOrdinal("ChargeDescription"), c = reader.GetOrdinal("BilledCost"), s = reader.GetOrdinal("ChargePeriodStart"), e = reader.GetOrdinal("x_SkuIsCreditEligible");
        int row = 0;
        while (reader.Read())
        {
            Assert.Equal(descriptions[row], reader.IsDBNull(d) ? null : reader.GetString(d));
            Assert.Equal(costs[row], reader.IsDBNull(c) ? null : reader.GetDecimal(c));
            Assert.Equal(starts[row], reader.GetDateTime(s));
            Assert.Equal(eligible[row], reader.IsDBNull(e) ? null : reader.GetBoolean(e));
            row++;
        }

        Assert.Equal(descriptions.Length, row);
    }

    [Theory]
    [InlineData("header", true)]
    [InlineData("header", false)]
    [InlineData("cut", true)]
    [InlineData("cut", false)]
    [InlineData("snappy", true)]
    [InlineData("snappy", false)]
    [InlineData("inflated", true)]
    [InlineData("inflated", false)]
    public void ABrokenPageIsAnErrorNamingTheFileAndColumn(string damage, bool direct)
    {
        string path = Path.Combine(Dir, $"broken-{damage}.parquet");
        WritePagedFile(path, snappy: true, damage);
        using ParquetCostReader reader = Open(new[] { path }, direct ? Mode.PagesDirect : Mode.PagesSpooled);
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var error = Assert.Throws<EngineException>(() =>
        {
            while (reader.Read())
            {
            }
        });
        Assert.Contains($"broken-{damage}.parquet", error.Message, StringComparison.Ordinal);
        Assert.Contains("column 'BilledCost'", error.Message, StringComparison.Ordinal);
        Assert.Contains(damage switch { "header" => "page header", "cut" => "runs past the end of its column chunk", "inflated" => "says it holds 1,073,741,824 bytes", _ => "Snappy" }, error.Message, StringComparison.Ordinal);

        // A page (and so its chunk, in the footer) claiming 1 GB from a few bytes sizes no buffer by that claim.
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - allocated < (256L << 20), "a buffer was sized by the page's claim");
        reader.Close();
        Assert.Empty(Directory.GetDirectories(Dir, "azbillingps-parquet-*"));
    }

    /// <summary>
    /// The module's Snappy block decoder gives back exactly what Snappier compressed (literals short and long, near and
    /// far back-references, overlapping runs), and refuses a block that is cut, whose length is wrong, or whose
    /// back-reference points before its start.
    /// </summary>
    [Fact]
    public void SnappyBlocksDecompressAsSnappierCompressedThem()
    {
        var random = new Random(15);
        var inputs = new List<byte[]>
        {
            Array.Empty<byte>(),
            new byte[] { 42 },
            Enumerable.Repeat((byte)'a', 100_000).ToArray(),                                                     // one overlapping run
            Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => "/subscriptions/s/resourceGroups/rg-" + (i % 37) + "/vm-" + random.Next(1000) + ";"))),
            Enumerable.Range(0, 300_000).Select(_ => (byte)random.Next(256)).ToArray(),                           // incompressible: long literals
        };
        byte[] mixed = new byte[200_000];
        for (int i = 0; i < mixed.Length; i++)
        {
            mixed[i] = i % 70_000 < 50 ? (byte)random.Next(256) : mixed[Math.Max(0, i - 1 - random.Next(Math.Min(i, 65_000) + 1))]; // back-references near and far
        }

        inputs.Add(mixed);
        foreach (byte[] input in inputs)
        {
            byte[] compressed = Snappier.Snappy.CompressToArray(input);
            byte[] output = new byte[input.Length];
            SnappyBlock.Decompress(compressed, output);
            Assert.Equal(input, output);
        }

        byte[] text = Snappier.Snappy.CompressToArray(inputs[3]);
        Assert.Throws<InvalidDataException>(() => SnappyBlock.Decompress(text.AsSpan(0, text.Length / 2), new byte[inputs[3].Length]));
        Assert.Throws<InvalidDataException>(() => SnappyBlock.Decompress(text, new byte[inputs[3].Length + 1]));
        byte[] before = { 8, 0x00, (byte)'x', 0x1D, 0x05 };                                                       // 8 bytes: "x", then a copy 5 back
        Assert.Throws<InvalidDataException>(() => SnappyBlock.Decompress(before, new byte[8]));
    }

    /// <summary>
    /// Writes a two-row-group file with the page layouts above; <paramref name="damage"/> breaks the second page of the
    /// BilledCost chunk of the first row group ("header": its header bytes, "cut": its size beyond the chunk, "snappy": its
    /// compressed bytes, "inflated": its size, 1 GB claimed for a few bytes). Returns the rows written.
    /// </summary>
    private static (string?[] Descriptions, decimal?[] Costs, DateTime[] Starts, bool?[] Eligible) WritePagedFile(string path, bool snappy, string? damage = null)
    {
        string[] dictionary = { "Virtual Machines", "Storage", "Ünïcödé € 日本" };
        var descriptions = new List<string?>();
        var costs = new List<decimal?>();
        var starts = new List<DateTime>();
        var eligible = new List<bool?>();
        var file = new MiniParquet(snappy);
        for (int g = 0; g < 2; g++)
        {
            var group = new List<byte[]>();
            int groupRows = 0;

            // ChargeDescription (BYTE_ARRAY UTF8, optional): dictionary page, v1 dictionary page (bit-packed indices,
            // nulls, a null last), PLAIN v1 page (a null first), v2 dictionary page (a run of one index), v2 page of nulls.
            var chunk = new MiniChunk(file, "ChargeDescription");
            chunk.Dictionary(dictionary.Select(w => Plain(w)).ToArray());
            string?[] p1 = { "Storage", null, "Virtual Machines", "Ünïcödé € 日本", "Storage", "Storage", null, "Virtual Machines", "Storage", null };
            chunk.DataV1(p1, IndicesOf(p1, dictionary, runLength: false), 8);
            string?[] p2 = { null, "not in the dictionary", "Ünïcödé € 日本", string.Empty, "x" };
            chunk.DataV1(p2, PlainOf(p2), 0);
            string?[] p3 = { "Storage", "Storage", "Storage", "Storage", "Storage", "Storage", "Storage", "Storage", "Storage" };
            chunk.DataV2(p3, IndicesOf(p3, dictionary, runLength: true), 8);
            string?[] p4 = { null, null, null };
            chunk.DataV2(p4, new byte[] { 2 }, 8); // the bit width of indices, and none
            descriptions.AddRange(p1.Concat(p2).Concat(p3).Concat(p4).Select(v => string.IsNullOrEmpty(v) ? null : v));
            groupRows = p1.Length + p2.Length + p3.Length + p4.Length;
            group.Add(chunk.Finish(type: 6));

            // BilledCost (FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38,10), optional): PLAIN pages of 7, 10, 10 values, v1 and v2.
            chunk = new MiniChunk(file, "BilledCost");
            var values = Enumerable.Range(0, groupRows).Select(i => i % 4 == 3 || i == 6 || i == 7 ? (decimal?)null : (g * 1000 + i) * 1.25m - 7.5m).ToArray();
            int at = 0;
            foreach ((int n, bool v2) in new[] { (7, false), (10, true), (10, false) })
            {
                decimal?[] page = values.Skip(at).Take(n).ToArray();
                byte[] encoded = page.Where(v => v is not null).SelectMany(v => Fixed16(v!.Value, 10)).ToArray();
                if (v2)
                {
                    chunk.DataV2(page.Cast<object?>().ToArray(), encoded, 0, damage: g == 0 ? damage : null);
                }
                else
                {
                    chunk.DataV1(page.Cast<object?>().ToArray(), encoded, 0);
                }

                at += n;
            }

            costs.AddRange(values);
            group.Add(chunk.Finish(type: 7));

            // ChargePeriodStart (INT64 TIMESTAMP_MICROS, required): two v1 pages, no levels.
            chunk = new MiniChunk(file, "ChargePeriodStart", required: true);
            DateTime[] times = Enumerable.Range(0, groupRows).Select(i => March.AddDays(g * 10 + (i % 9)).AddTicks(i * 10_010L)).ToArray();
            chunk.DataV1(times.Take(12).Cast<object?>().ToArray(), times.Take(12).SelectMany(t => Int64((t - DateTime.UnixEpoch).Ticks / 10)).ToArray(), 0);
            chunk.DataV1(times.Skip(12).Cast<object?>().ToArray(), times.Skip(12).SelectMany(t => Int64((t - DateTime.UnixEpoch).Ticks / 10)).ToArray(), 0);
            starts.AddRange(times);
            group.Add(chunk.Finish(type: 2));

            // x_SkuIsCreditEligible (BOOLEAN, optional): one v1 page of bit-packed PLAIN booleans.
            chunk = new MiniChunk(file, "x_SkuIsCreditEligible");
            bool?[] flags = Enumerable.Range(0, groupRows).Select(i => i % 5 == 0 ? (bool?)null : i % 3 == 0).ToArray();
            chunk.DataV1(flags.Cast<object?>().ToArray(), Bits(flags.Where(f => f is not null).Select(f => f!.Value ? 1 : 0).ToArray(), 1).Skip(1).ToArray(), 0); // PLAIN: the bits without a run header
            eligible.AddRange(flags);
            group.Add(chunk.Finish(type: 0));

            file.RowGroup(group, groupRows);
        }

        file.Save(path, new[]
        {
            ("ChargeDescription", 6, (int?)0, 1, 0, 0, 0),
            ("BilledCost", 7, (int?)5, 1, 16, 10, 38),
            ("ChargePeriodStart", 2, (int?)10, 0, 0, 0, 0),
            ("x_SkuIsCreditEligible", 0, (int?)null, 1, 0, 0, 0),
        });
        return (descriptions.ToArray(), costs.ToArray(), starts.ToArray(), eligible.ToArray());
    }

    private static byte[] Plain(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        return Int32(utf8.Length).Concat(utf8).ToArray();
    }

    private static byte[] PlainOf(string?[] values) => values.Where(v => v is not null).SelectMany(v => Plain(v!)).ToArray();

    private static byte[] IndicesOf(string?[] values, string[] dictionary, bool runLength)
    {
        int[] indices = values.Where(v => v is not null).Select(v => Array.IndexOf(dictionary, v)).ToArray();
        const int width = 2;
        if (runLength)
        {
            Assert.All(indices, i => Assert.Equal(indices[0], i));
            return new byte[] { width }.Concat(Varint((uint)indices.Length << 1)).Append((byte)indices[0]).ToArray();
        }

        return new byte[] { width }.Concat(Bits(indices, width)).ToArray();
    }

    /// <summary>Values bit-packed as the RLE/bit-packed hybrid writes them: one bit-packed run of groups of eight.</summary>
    internal static byte[] Bits(int[] values, int width)
    {
        int groups = (values.Length + 7) / 8;
        var packed = new byte[groups * width];
        for (int i = 0; i < values.Length; i++)
        {
            for (int b = 0; b < width; b++)
            {
                if (((values[i] >> b) & 1) != 0)
                {
                    int bit = (i * width) + b;
                    packed[bit / 8] |= (byte)(1 << (bit % 8));
                }
            }
        }

        return Varint(((uint)groups << 1) | 1).Concat(packed).ToArray();
    }

    private static byte[] Fixed16(decimal value, int scale)
    {
        var unscaled = new System.Numerics.BigInteger(value * (decimal)Math.Pow(10, scale));
        byte[] minimal = unscaled.ToByteArray(isUnsigned: false, isBigEndian: true);
        byte[] fixed16 = Enumerable.Repeat(unscaled.Sign < 0 ? (byte)0xFF : (byte)0, 16).ToArray();
        minimal.CopyTo(fixed16, 16 - minimal.Length);
        return fixed16;
    }

    private static byte[] Int32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] Int64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    internal static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return bytes.ToArray();
    }

    /// <summary>Thrift's compact protocol, as much of it as a Parquet footer and page header need.</summary>
    private sealed class Compact
    {
        private readonly List<byte> _bytes = new();
        private readonly Stack<short> _last = new();
        private short _field;

        public byte[] ToArray() => _bytes.ToArray();

        private void Header(short id, byte type)
        {
            int delta = id - _field;
            if (delta is > 0 and <= 15)
            {
                _bytes.Add((byte)((delta << 4) | type));
            }
            else
            {
                _bytes.Add(type);
                _bytes.AddRange(Varint(ZigZag(id)));
            }

            _field = id;
        }

        private static ulong ZigZag(long n) => (ulong)((n << 1) ^ (n >> 63));

        public Compact I32(short id, int value)
        {
            Header(id, 5);
            _bytes.AddRange(Varint(ZigZag(value)));
            return this;
        }

        public Compact I64(short id, long value)
        {
            Header(id, 6);
            _bytes.AddRange(Varint(ZigZag(value)));
            return this;
        }

        public Compact Binary(short id, byte[] value)
        {
            Header(id, 8);
            _bytes.AddRange(Varint((ulong)value.Length));
            _bytes.AddRange(value);
            return this;
        }

        public Compact Bool(short id, bool value)
        {
            Header(id, value ? (byte)1 : (byte)2);
            return this;
        }

        public Compact Struct(short id, Action<Compact> body)
        {
            Header(id, 12);
            Nested(body);
            return this;
        }

        private void Nested(Action<Compact> body)
        {
            _last.Push(_field);
            _field = 0;
            body(this);
            _bytes.Add(0);
            _field = _last.Pop();
        }

        public Compact List(short id, byte elementType, int count, Action<Compact> elements)
        {
            Header(id, 9);
            if (count < 15)
            {
                _bytes.Add((byte)((count << 4) | elementType));
            }
            else
            {
                _bytes.Add((byte)(0xF0 | elementType));
                _bytes.AddRange(Varint((ulong)count));
            }

            elements(this);
            return this;
        }

        /// <summary>A struct already written (with its stop) as a field.</summary>
        public Compact Written(short id, byte[] value)
        {
            Header(id, 12);
            _bytes.AddRange(value);
            return this;
        }

        public Compact StructElement(Action<Compact> body)
        {
            Nested(body);
            return this;
        }

        public Compact I32Element(int value)
        {
            _bytes.AddRange(Varint(ZigZag(value)));
            return this;
        }

        public Compact BinaryElement(byte[] value)
        {
            _bytes.AddRange(Varint((ulong)value.Length));
            _bytes.AddRange(value);
            return this;
        }

        public Compact Stop()
        {
            _bytes.Add(0);
            return this;
        }
    }

    /// <summary>A Parquet file written page by page: the bytes so far, the row groups' column chunks.</summary>
    private sealed class MiniParquet(bool snappy)
    {
        private readonly List<byte> _bytes = new(Encoding.ASCII.GetBytes("PAR1"));
        private readonly List<(List<byte[]> Chunks, int Rows)> _groups = new();

        public bool Snappy { get; } = snappy;

        public long Offset => _bytes.Count;

        public void Append(byte[] bytes) => _bytes.AddRange(bytes);

        public void RowGroup(List<byte[]> chunks, int rows) => _groups.Add((chunks, rows));

        public void Save(string path, (string Name, int Type, int? Converted, int Repetition, int Length, int Scale, int Precision)[] schema)
        {
            var meta = new Compact()
                .I32(1, 1)
                .List(2, 12, schema.Length + 1, l =>
                {
                    l.StructElement(s => s.Binary(4, Encoding.UTF8.GetBytes("schema")).I32(5, schema.Length));
                    foreach (var c in schema)
                    {
                        l.StructElement(s =>
                        {
                            s.I32(1, c.Type);
                            if (c.Length > 0)
                            {
                                s.I32(2, c.Length);
                            }

                            s.I32(3, c.Repetition).Binary(4, Encoding.UTF8.GetBytes(c.Name));
                            if (c.Converted is int converted)
                            {
                                s.I32(6, converted);
                            }

                            if (c.Precision > 0)
                            {
                                s.I32(7, c.Scale).I32(8, c.Precision);
                            }
                        });
                    }
                })
                .I64(3, _groups.Sum(g => g.Rows))
                .List(4, 12, _groups.Count, l =>
                {
                    foreach ((List<byte[]> chunks, int rows) in _groups)
                    {
                        l.StructElement(s =>
                        {
                            s.List(1, 12, chunks.Count, cl =>
                            {
                                foreach (byte[] chunk in chunks)
                                {
                                    cl.StructElement(c => c.I64(2, 0).Written(3, chunk));
                                }
                            });
                            s.I64(2, 0).I64(3, rows);
                        });
                    }
                })
                .Stop()
                .ToArray();
            _bytes.AddRange(meta);
            _bytes.AddRange(Int32(meta.Length));
            _bytes.AddRange(Encoding.ASCII.GetBytes("PAR1"));
            File.WriteAllBytes(path, _bytes.ToArray());
        }
    }

    /// <summary>One column chunk: its pages appended to the file, its ColumnMetaData made at the end.</summary>
    private sealed class MiniChunk(MiniParquet file, string name, bool required = false)
    {
        private readonly long _start = file.Offset;
        private long? _dictionaryOffset;
        private long? _dataOffset;
        private long _values;
        private long _uncompressed;
        private readonly SortedSet<int> _encodings = new() { 3 };

        public void Dictionary(byte[][] values)
        {
            _dictionaryOffset = file.Offset;
            _encodings.Add(0);
            Page(values.SelectMany(v => v).ToArray(), Array.Empty<byte>(), (h, u, c) => h.I32(1, 2).I32(2, u).I32(3, c).Struct(7, d => d.I32(1, values.Length).I32(2, 0)));
        }

        private byte[] Levels(object?[] values)
        {
            if (required)
            {
                return Array.Empty<byte>();
            }

            int[] defined = values.Select(v => v is null ? 0 : 1).ToArray();
            // A page of one kind only as one run; otherwise bit-packed.
            return defined.Distinct().Count() == 1 ? Varint((ulong)defined.Length << 1).Append((byte)defined[0]).ToArray() : Bits(defined, 1);
        }

        public void DataV1(object?[] values, byte[] encoded, int encoding)
        {
            _dataOffset ??= file.Offset;
            _encodings.Add(encoding);
            byte[] levels = Levels(values);
            byte[] body = (required ? Array.Empty<byte>() : Int32(levels.Length).Concat(levels)).Concat(encoded).ToArray();
            _values += values.Length;
            Page(body, Array.Empty<byte>(), (h, u, c) => h.I32(1, 0).I32(2, u).I32(3, c).Struct(5, d => d.I32(1, values.Length).I32(2, encoding).I32(3, 3).I32(4, 3)));
        }

        public void DataV2(object?[] values, byte[] encoded, int encoding, string? damage = null)
        {
            _dataOffset ??= file.Offset;
            _encodings.Add(encoding);
            byte[] levels = Levels(values);
            _values += values.Length;
            Page(encoded, levels, (h, u, c) => h.I32(1, 3).I32(2, u).I32(3, c).Struct(8, d => d.I32(1, values.Length).I32(2, values.Count(v => v is null)).I32(3, values.Length).I32(4, encoding).I32(5, levels.Length).I32(6, 0).Bool(7, file.Snappy)), damage);
        }

        /// <summary>Appends a page: its header, then <paramref name="levels"/> as they are and <paramref name="body"/> compressed when the file is.</summary>
        private void Page(byte[] body, byte[] levels, Func<Compact, int, int, Compact> header, string? damage = null)
        {
            byte[] stored = file.Snappy ? Snappier.Snappy.CompressToArray(body) : body;
            if (damage == "snappy")
            {
                stored = stored.Take(3).Concat(Enumerable.Repeat((byte)0xFE, stored.Length - 3)).ToArray();
            }

            int uncompressed = damage == "inflated" ? 1 << 30 : levels.Length + body.Length;
            int compressed = levels.Length + stored.Length;
            byte[] head = header(new Compact(), uncompressed, damage == "cut" ? compressed + 100_000 : compressed).Stop().ToArray();
            if (damage == "header")
            {
                head = Enumerable.Repeat((byte)0x0D, head.Length).ToArray(); // field headers of an unknown type
            }

            file.Append(head);
            file.Append(levels);
            file.Append(stored);
            _uncompressed += head.Length + uncompressed;
        }

        public byte[] Finish(int type)
        {
            long size = file.Offset - _start;
            var meta = new Compact();
            meta.I32(1, type)
                .List(2, 5, _encodings.Count, l =>
                {
                    foreach (int e in _encodings)
                    {
                        l.I32Element(e);
                    }
                })
                .List(3, 8, 1, l => l.BinaryElement(Encoding.UTF8.GetBytes(name)))
                .I32(4, file.Snappy ? 1 : 0)
                .I64(5, _values)
                .I64(6, _uncompressed)
                .I64(7, size)
                .I64(9, _dataOffset ?? _start);
            if (_dictionaryOffset is long d)
            {
                meta.I64(11, d);
            }

            return meta.Stop().ToArray();
        }
    }
}
