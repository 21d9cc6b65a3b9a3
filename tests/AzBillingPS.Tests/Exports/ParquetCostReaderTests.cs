using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Threading.Tasks;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Exports;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;
using Parquet;
using Parquet.Schema;
using Xunit;

namespace AzBillingPS.Tests.Exports;

/// <summary>
/// The Parquet reader against Parquet.Net's own reading of files Parquet.Net writes: text taken as the file's UTF-8 bytes
/// (nulls, empty, repeated and non-ASCII values, dictionary and plain columns), decimals stored as fixed-length byte
/// arrays made exact without Parquet.Net's BigInteger arithmetic, INT32/INT64 decimals, timestamps, several row groups.
/// </summary>
public sealed class ParquetCostReaderTests : TempFolderTest
{
    public ParquetCostReaderTests()
        : base("azb-parquet-")
    {
    }

    [Fact]
    public void DecimalsFromBigEndianBytesAreExactAndAsParquetNetMakesThem()
    {
        var random = new Random(15);
        for (int n = 0; n < 20_000; n++)
        {
            int bits = random.Next(1, 97);
            var unscaled = new BigInteger(random.NextInt64()) * new BigInteger(random.NextInt64()) * (random.Next(2) == 0 ? 1 : -1);
            unscaled %= BigInteger.One << bits;
            if (n % 7 == 0)
            {
                unscaled *= BigInteger.Pow(10, random.Next(0, 6)); // trailing zeros
            }

            if (BigInteger.Abs(unscaled).GetBitLength() > 96)
            {
                continue;
            }

            int scale = random.Next(0, 29);
            byte[] minimal = unscaled.ToByteArray(isUnsigned: false, isBigEndian: true);
            byte[] fixed16 = new byte[16];
            byte pad = unscaled.Sign < 0 ? (byte)0xFF : (byte)0;
            Array.Fill(fixed16, pad);
            minimal.CopyTo(fixed16, 16 - minimal.Length);

            decimal expected = Expected(unscaled, scale);
            Assert.True(RawDecimalColumn.TryFromBigEndian(minimal, scale, out decimal a));
            Assert.True(RawDecimalColumn.TryFromBigEndian(fixed16, scale, out decimal b));
            Assert.Equal(expected, a);
            Assert.Equal(expected, b);
            // Without trailing zeros, as Parquet.Net's conversion gives it (and the text a CSV would hold).
            Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), a.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(expected.ToString(CultureInfo.InvariantCulture), b.ToString(CultureInfo.InvariantCulture));
        }

        // 20 bytes (beyond Int128) still read when the value fits.
        byte[] wide = new byte[20];
        wide[^1] = 0x7B; // 123
        Assert.True(RawDecimalColumn.TryFromBigEndian(wide, 2, out decimal w));
        Assert.Equal(1.23m, w);

        // Beyond 96 bits, or a scale over 28 that cannot be reduced: refused, never rounded.
        byte[] big = (BigInteger.One << 100).ToByteArray(isUnsigned: false, isBigEndian: true);
        Assert.False(RawDecimalColumn.TryFromBigEndian(big, 0, out _));
        Assert.False(RawDecimalColumn.TryFromBigEndian(new byte[] { 0x07 }, 29, out _));
        Assert.True(RawDecimalColumn.TryFromBigEndian(new byte[] { 0x0A }, 29, out decimal tiny)); // 10e-29 = 1e-28
        Assert.Equal(0.0000000000000000000000000001m, tiny);
    }

    private static decimal Expected(BigInteger unscaled, int scale)
    {
        string digits = BigInteger.Abs(unscaled).ToString(CultureInfo.InvariantCulture).PadLeft(scale + 1, '0');
        string text = (unscaled.Sign < 0 ? "-" : string.Empty) + (scale == 0 ? digits : digits[..^scale] + "." + digits[^scale..]);
        decimal d = decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return d / 1.0000000000000000000000000000m; // trailing zeros dropped
    }

    [Fact]
    public async Task RowsReadAsParquetNetReadsThem()
    {
        const int rows = 2_500;
        var chargeStart = new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        string[] words = { "Virtual Machines", "Storage", "Ünïcödé € 日本", string.Empty, "x" };
        var random = new Random(7);
        string?[] description = Enumerable.Range(0, rows).Select(i => i % 11 == 0 ? null : words[random.Next(words.Length)]).ToArray();
        string?[] resourceId = Enumerable.Range(0, rows).Select(i => i % 13 == 0 ? null : "/subscriptions/s/resourceGroups/rg/providers/p/t/r-" + Guid.NewGuid().ToString("N")).ToArray(); // plain, not a dictionary
        decimal?[] billed = Enumerable.Range(0, rows).Select(i => i % 17 == 0 ? (decimal?)null : Math.Round((decimal)(random.NextDouble() * 2000 - 1000), random.Next(0, 11))).ToArray();
        decimal[] effective = Enumerable.Range(0, rows).Select(i => Math.Round((decimal)random.NextDouble() * 100, 6)).ToArray();
        decimal?[] quantity = Enumerable.Range(0, rows).Select(i => i % 5 == 0 ? (decimal?)null : (decimal)random.Next(-1000, 100000) / 100).ToArray();
        decimal[] listCost = Enumerable.Range(0, rows).Select(i => (decimal)random.Next() / 1000).ToArray();
        DateTime[] start = Enumerable.Range(0, rows).Select(i => chargeStart.AddDays(i % 31)).ToArray();

        var fields = new DataField[]
        {
            new DataField<string>("ChargeDescription"),
            new DataField<string>("ResourceId"),
            new DecimalDataField("BilledCost", 38, 10, isNullable: true),          // FIXED_LEN_BYTE_ARRAY
            new DecimalDataField("EffectiveCost", 38, 6, isNullable: false),       // FIXED_LEN_BYTE_ARRAY, required
            new DecimalDataField("ConsumedQuantity", 9, 2, isNullable: true),      // INT32
            new DecimalDataField("ListCost", 18, 3, isNullable: false),            // INT64
            new DataField<DateTime>("ChargePeriodStart"),
        };
        var schema = new ParquetSchema(fields);
        string path = Path.Combine(Dir, "part_0_0001.parquet");
        await using (FileStream stream = File.Create(path))
        {
            await using ParquetWriter writer = await ParquetWriter.CreateAsync(schema, stream, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy });
            for (int offset = 0; offset < rows; offset += 1000)
            {
                int n = Math.Min(1000, rows - offset);
                using ParquetRowGroupWriter group = writer.CreateRowGroup();
                await group.WriteAsync(fields[0], description.Skip(offset).Take(n).ToArray());
                await group.WriteAsync(fields[1], resourceId.Skip(offset).Take(n).ToArray());
                await group.WriteAsync<decimal>(fields[2], billed.AsMemory(offset, n));
                await group.WriteAsync<decimal>(fields[3], effective.AsMemory(offset, n));
                await group.WriteAsync<decimal>(fields[4], quantity.AsMemory(offset, n));
                await group.WriteAsync<decimal>(fields[5], listCost.AsMemory(offset, n));
                await group.WriteAsync<DateTime>(fields[6], start.AsMemory(offset, n));
            }
        }

        CostFileHeader header = ParquetCostReader.ReadHeader(path, FocusCatalog.Instance);
        IReadOnlyList<CostColumn> columns = CostImporter.UnifyColumns(new[] { header }, SqliteDialect.Instance);
        var lineage = new LineageValues("/subscriptions/s", "FocusCost", chargeStart, chargeStart.AddMonths(1).AddDays(-1), Guid.NewGuid(), DateTime.UtcNow);
        using var reader = new ParquetCostReader(new[] { header }, columns, lineage, default) { SpoolPath = Dir };
        int o(string name) => columns.Select((c, i) => (c, i)).Single(x => x.c.Name == name).i;
        int row = 0;
        while (reader.Read())
        {
            // An empty text is a null, as an empty CSV field is.
            Assert.Equal(string.IsNullOrEmpty(description[row]) ? null : description[row], reader.IsDBNull(o("ChargeDescription")) ? null : reader.GetString(o("ChargeDescription")));
            Assert.Equal(resourceId[row], reader.IsDBNull(o("ResourceId")) ? null : reader.GetString(o("ResourceId")));
            Assert.Equal(billed[row], reader.IsDBNull(o("BilledCost")) ? null : reader.GetDecimal(o("BilledCost")));
            Assert.Equal(effective[row], reader.GetDecimal(o("EffectiveCost")));
            Assert.Equal(quantity[row], reader.IsDBNull(o("ConsumedQuantity")) ? null : reader.GetDecimal(o("ConsumedQuantity")));
            Assert.Equal(listCost[row], reader.GetDecimal(o("ListCost")));
            Assert.Equal(start[row], reader.GetDateTime(o("ChargePeriodStart")));
            if (billed[row] is decimal b)
            {
                // Exactly the digits written, no trailing zeros added by the scale of the column.
                Assert.Equal((b / 1.0000000000000000000000000000m).ToString(CultureInfo.InvariantCulture), reader.GetDecimal(o("BilledCost")).ToString(CultureInfo.InvariantCulture));
            }

            row++;
        }

        Assert.Equal(rows, row);
        reader.Close();
        Assert.Empty(Directory.GetDirectories(Dir, "azbillingps-parquet-*")); // the spool goes with the reader
    }

    [Fact]
    public async Task FilesOfAUnitReadInTurnWithTheNextOneDecodedAheadAndItsErrorRaisedWhenReached()
    {
        var start = new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        async Task<string> Write(string name, bool withResource, int rows, int perGroup, int seed)
        {
            var fields = new List<DataField> { new DataField<string>("ChargeDescription"), new DecimalDataField("BilledCost", 38, 10, isNullable: true), new DataField<DateTime>("ChargePeriodStart") };
            if (withResource)
            {
                fields.Add(new DataField<string>("ResourceId"));
            }

            string path = Path.Combine(Dir, name);
            await using FileStream stream = File.Create(path);
            // Snappy, as exports write them, and the last file uncompressed (the other codec exports may use).
            var options = new ParquetOptions { CompressionMethod = name == "c.parquet" ? CompressionMethod.None : CompressionMethod.Snappy };
            await using ParquetWriter writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream, options);
            for (int offset = 0; offset < rows; offset += perGroup)
            {
                int n = Math.Min(perGroup, rows - offset);
                using ParquetRowGroupWriter group = writer.CreateRowGroup();
                await group.WriteAsync(fields[0], Enumerable.Range(offset, n).Select(i => $"{name} row {i}").ToArray());
                await group.WriteAsync<decimal>(fields[1], Enumerable.Range(offset, n).Select(i => (decimal?)(seed * 1000 + i) / 100).ToArray().AsMemory());
                await group.WriteAsync<DateTime>(fields[2], Enumerable.Range(offset, n).Select(i => start.AddDays(i % 28)).ToArray().AsMemory());
                if (withResource)
                {
                    await group.WriteAsync(fields[3], Enumerable.Range(offset, n).Select(i => $"/subscriptions/s/r{i}").ToArray());
                }
            }

            return path;
        }

        string[] paths = { await Write("a.parquet", true, 700, 300, 1), await Write("b.parquet", false, 250, 250, 2), await Write("c.parquet", true, 10, 4, 3) };
        var lineage = new LineageValues("/subscriptions/s", "FocusCost", start, start.AddMonths(1).AddDays(-1), Guid.NewGuid(), DateTime.UtcNow);
        CostRowReader Open(IEnumerable<string> files)
        {
            CostFileHeader[] headers = files.Select(f => ParquetCostReader.ReadHeader(f, FocusCatalog.Instance)).ToArray();
            return new ParquetCostReader(headers, CostImporter.UnifyColumns(headers, SqliteDialect.Instance), lineage, default) { SpoolPath = Dir };
        }

        using (CostRowReader reader = Open(paths))
        {
            int description = reader.GetOrdinal("ChargeDescription"), billed = reader.GetOrdinal("BilledCost"), resource = reader.GetOrdinal("ResourceId"), source = reader.GetOrdinal("_SourceFile");
            var seen = new List<(string Description, decimal Billed, string? Resource, string Source)>();
            while (reader.Read())
            {
                seen.Add((reader.GetString(description), reader.GetDecimal(billed), reader.IsDBNull(resource) ? null : reader.GetString(resource), reader.GetString(source)));
            }

            Assert.Equal(960, seen.Count);
            var expected = Enumerable.Range(0, 700).Select(i => ($"a.parquet row {i}", (1000m + i) / 100, (string?)$"/subscriptions/s/r{i}", paths[0]))
                .Concat(Enumerable.Range(0, 250).Select(i => ($"b.parquet row {i}", (2000m + i) / 100, (string?)null, paths[1])))
                .Concat(Enumerable.Range(0, 10).Select(i => ($"c.parquet row {i}", (3000m + i) / 100, (string?)$"/subscriptions/s/r{i}", paths[2])));
            Assert.Equal(expected, seen);
        }

        // A file after the first that cannot be read: every row of the first is read, then the error names that file.
        string broken = Path.Combine(Dir, "broken.parquet");
        File.Copy(paths[1], broken);
        CostRowReader second = Open(new[] { paths[0], broken });
        using (FileStream s = new(broken, FileMode.Open, FileAccess.ReadWrite))
        {
            s.SetLength(s.Length / 2); // its footer gone
        }

        int read = 0;
        var error = Assert.Throws<AzBillingPS.Engine.Common.EngineException>(() =>
        {
            while (second.Read())
            {
                read++;
            }
        });
        second.Close();
        Assert.Equal(700, read);
        Assert.Contains("broken.parquet", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetDirectories(Dir, "azbillingps-parquet-*"));
    }

    /// <summary>
    /// The FocusCost catalog takes the headers of the three dataset versions Cost Management exports: 1.0 (FOCUS 1.0 and
    /// the x_ columns of the time), 1.0r2 (the same columns) and 1.2-preview (FOCUS 1.2 columns added, x_ columns
    /// renamed or new): every FOCUS money and quantity column exact decimal, periods UTC timestamps, Tags JSON, the x_
    /// columns kept (known ones typed, unknown ones as text), nothing refused.
    /// </summary>
    [Theory]
    [InlineData("1.0", "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingAccountType,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,CommitmentDiscountCategory,CommitmentDiscountId,CommitmentDiscountName,CommitmentDiscountStatus,CommitmentDiscountType,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,EffectiveCost,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,PricingQuantity,PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,ResourceName,ResourceType,ServiceCategory,ServiceName,SkuId,SkuPriceId,SubAccountId,SubAccountName,SubAccountType,Tags,x_AccountId,x_BilledCostInUsd,x_BillingExchangeRate,x_BillingExchangeRateDate,x_EffectiveCostInUsd,x_PricingBlockSize,x_ResourceGroupName,x_SkuDetails")]
    [InlineData("1.0r2", "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingAccountType,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,CommitmentDiscountCategory,CommitmentDiscountId,CommitmentDiscountName,CommitmentDiscountStatus,CommitmentDiscountType,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,EffectiveCost,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,PricingQuantity,PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,ResourceName,ResourceType,ServiceCategory,ServiceName,SkuId,SkuPriceId,SubAccountId,SubAccountName,SubAccountType,Tags,x_AccountId,x_BilledCostInUsd,x_BillingExchangeRate,x_BillingExchangeRateDate,x_EffectiveCostInUsd,x_PricingBlockSize,x_ResourceGroupName,x_SkuDetails,x_SkuIsCreditEligible,x_ServicePeriodStart,x_ServicePeriodEnd")]
    [InlineData("1.2-preview", "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingAccountType,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,CapacityReservationId,CapacityReservationStatus,ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,CommitmentDiscountCategory,CommitmentDiscountId,CommitmentDiscountName,CommitmentDiscountQuantity,CommitmentDiscountStatus,CommitmentDiscountType,CommitmentDiscountUnit,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,EffectiveCost,InvoiceId,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,PricingCurrency,PricingCurrencyContractedUnitPrice,PricingCurrencyEffectiveCost,PricingCurrencyListUnitPrice,PricingQuantity,PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,ResourceName,ResourceType,ServiceCategory,ServiceName,ServiceSubcategory,SkuId,SkuMeter,SkuPriceDetails,SkuPriceId,SubAccountId,SubAccountName,SubAccountType,Tags,x_AmortizationClass,x_BilledCostInUsd,x_BillingExchangeRate,x_CommitmentDiscountNormalizedRatio,x_EffectiveCostInUsd,x_PricingBlockSize,x_ServiceModel,x_SkuCoreCount")]
    public void FocusCostHeadersOfEveryDatasetVersionResolve(string version, string header)
    {
        string[] names = header.Split(',');
        CostFileHeader h = CostFileSchema.Resolve($"focus-{version}.csv", names, FocusCatalog.Instance);
        var types = h.Columns.ToDictionary(c => c.Name, c => c.Type, StringComparer.Ordinal);
        Assert.Equal(names.Length, types.Count);
        foreach (string money in new[] { "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice", "ContractedUnitPrice", "PricingQuantity", "ConsumedQuantity" })
        {
            Assert.Equal(CostColumnType.Decimal, types[money]);
        }

        foreach (string period in new[] { "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd" })
        {
            Assert.Equal(CostColumnType.Timestamp, types[period]);
        }

        Assert.Equal(CostColumnType.Json, types["Tags"]);
        Assert.Equal(CostColumnType.Text, types["ChargeCategory"]);
        Assert.All(FocusCatalog.Mandatory, m => Assert.Contains(m, types.Keys));
        Assert.Equal(CostColumnType.Decimal, types["x_BilledCostInUsd"]);
        foreach (string x in names.Where(n => n.StartsWith("x_", StringComparison.Ordinal)))
        {
            Assert.True(types.ContainsKey(x), $"{version}: {x} kept");
        }

        if (version == "1.2-preview")
        {
            Assert.Equal(CostColumnType.Decimal, types["CommitmentDiscountQuantity"]);
            Assert.Equal(CostColumnType.Decimal, types["PricingCurrencyEffectiveCost"]);
            Assert.Equal(CostColumnType.Text, types["x_ServiceModel"]); // not in the catalog: kept as text
        }
    }
}

