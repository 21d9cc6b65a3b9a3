using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Parquet;
using Parquet.Schema;

namespace AzBillingPS.TestData;

/// <summary>
/// Writes Cost Management export runs the way exports lay them out in a container: each run a folder with its parts
/// (CSV, gzip CSV or Parquet written with Parquet.Net) and a manifest.json whose blobs, byte counts and row counts
/// describe them. The input is a JSON file: {"root": "...", "runs": [ { "folder": "exp/20260301-20260331/202603051200/&lt;runId&gt;",
/// "exportName", "scope", "dataset" (ActualCost|AmortizedCost|Usage|FocusCost|ReservationDetails|ReservationRecommendations), "kind" (Ea|Mca), "month" (yyyy-MM),
/// "submitted" (ISO), "runId", "format" (Csv|Gzip|Parquet), "rows", "blobs", "seed", "manifestName" (manifest.json or
/// _manifest.json), "legacy" (no manifestVersion/byteCount/dataRowCount, timestamps without Z), "rowGroupSize",
/// "breakManifest" (write a manifest that is not JSON), "partNames" (legacy: 000001.csv, ... instead of part_0_0001.csv) } ] }.
/// The dataset may also be ReservationDetails or ReservationRecommendations (<see cref="OtherDatasets"/>). Prints one JSON
/// line per run: folder, parts, rows, bytes, and for those two datasets the exact sums of their numeric columns.
/// </summary>
internal static class ExportLayout
{
    public static int Run(string specPath)
    {
        JsonNode spec = JsonNode.Parse(File.ReadAllText(specPath))!;
        string root = Path.GetFullPath((string?)spec["root"] ?? ".");
        foreach (JsonNode? run in spec["runs"]!.AsArray())
        {
            WriteRun(root, run!).GetAwaiter().GetResult();
        }

        return 0;
    }

    private static async Task WriteRun(string root, JsonNode run)
    {
        string folder = (string)run["folder"]!;
        string dir = Path.Combine(root, folder.Replace('/', Path.DirectorySeparatorChar));
        Directory.CreateDirectory(dir);
        string dataset = (string?)run["dataset"] ?? "ActualCost";
        bool focus = string.Equals(dataset, "FocusCost", StringComparison.OrdinalIgnoreCase);
        string format = (string?)run["format"] ?? "Csv";
        long rows = (long?)run["rows"] ?? 100;
        int blobs = (int?)run["blobs"] ?? 1;
        int seed = (int?)run["seed"] ?? 1;
        DateOnly month = DateOnly.ParseExact((string?)run["month"] ?? "2026-03", "yyyy-MM", CultureInfo.InvariantCulture);
        var kind = Enum.Parse<FileKind>((string?)run["kind"] ?? "Ea", ignoreCase: true);
        var o = new Options { Kind = kind, Rows = rows, Month = month, Seed = seed, Out = "x", Subscriptions = (int?)run["subscriptions"] ?? 3 };
        var generator = new Generator(o);
        OtherDatasets? other = OtherDatasets.For(dataset, seed, month);
        string[] header = other?.Header ?? (focus ? Focus.Header : Columns.Header(kind, seed));
        bool legacyNames = string.Equals((string?)run["partNames"], "legacy", StringComparison.OrdinalIgnoreCase);
        int rowGroup = (int?)run["rowGroupSize"] ?? 50_000;
        string ext = format.ToLowerInvariant() switch { "gzip" => ".csv.gz", "parquet" => ".parquet", _ => ".csv" };

        var parts = new List<(string Name, long Rows, long Bytes)>();
        long done = 0;
        for (int b = 1; b <= blobs; b++)
        {
            long here = rows / blobs + (b <= rows % blobs ? 1 : 0);
            string name = legacyNames
                ? string.Create(CultureInfo.InvariantCulture, $"{b:D6}{ext}") // the legacy layout's 000001.csv, ...
                : string.Create(CultureInfo.InvariantCulture, $"part_0_{b:D4}{ext}");
            string path = Path.Combine(dir, name);
            IEnumerable<string[]> Rows()
            {
                for (long r = 0; r < here; r++)
                {
                    if (other is not null)
                    {
                        yield return other.Row(done + r);
                        continue;
                    }

                    string[] v = generator.Row(done + r);
                    yield return focus ? Focus.Map(v, generator.Currency, month, kind) : Map(header, v);
                }
            }

            if (format.Equals("parquet", StringComparison.OrdinalIgnoreCase))
            {
                await WriteParquet(path, header, focus, Rows(), rowGroup);
            }
            else
            {
                Stream stream = new FileStream(path, FileMode.Create, FileAccess.Write);
                if (format.Equals("gzip", StringComparison.OrdinalIgnoreCase))
                {
                    stream = new GZipStream(stream, CompressionLevel.Fastest);
                }

                using var csv = new CsvOut(stream, "\r\n");
                foreach (string h in header) csv.Field(h);
                csv.EndRow();
                foreach (string[] row in Rows())
                {
                    foreach (string f in row) csv.Field(f);
                    csv.EndRow();
                }
            }

            done += here;
            parts.Add((name, here, new FileInfo(path).Length));
        }

        WriteManifest(dir, folder, run, dataset, month, parts);
        Console.WriteLine(JsonSerializer.Serialize(new { folder, rows, parts = parts.Select(p => new { p.Name, p.Rows, p.Bytes }), sums = other?.Sums }));
    }

    private static string[] Map(string[] header, string[] v)
    {
        var row = new string[header.Length];
        for (int c = 0; c < header.Length; c++) row[c] = v[(int)Columns.FieldOf(header[c])];
        return row;
    }

    private static void WriteManifest(string dir, string folder, JsonNode run, string dataset, DateOnly month, List<(string Name, long Rows, long Bytes)> parts)
    {
        string name = (string?)run["manifestName"] ?? "manifest.json";
        string path = Path.Combine(dir, name);
        if ((bool?)run["breakManifest"] == true)
        {
            File.WriteAllText(path, "{ \"manifestVersion\": \"2024-04-01\", \"runInfo\": { \"runId\": ");
            return;
        }

        bool legacy = (bool?)run["legacy"] == true;
        string exportName = (string?)run["exportName"] ?? "costs";
        string scope = (string?)run["scope"] ?? "/subscriptions/00000000-0000-0000-0000-000000000001";
        string runId = (string?)run["runId"] ?? Guid.NewGuid().ToString();
        string submitted = (string?)run["submitted"] ?? DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture);
        DateOnly last = month.AddMonths(1).AddDays(-1);
        string Ts(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "T00:00:00" + (legacy ? string.Empty : "Z");
        string blobPrefix = (string?)run["blobPrefix"] ?? "container-root/" + folder; // as the service writes it: the root folder path first
        var blobArray = new JsonArray();
        foreach (var p in parts)
        {
            var b = new JsonObject { ["blobName"] = blobPrefix + "/" + p.Name };
            if (!legacy)
            {
                b["byteCount"] = (long?)run["lieAboutBytes"] is long lie && p.Name.EndsWith("0001" + Path.GetExtension(p.Name), StringComparison.Ordinal) ? p.Bytes + lie : p.Bytes;
                b["dataRowCount"] = (long?)run["lieAboutRows"] is long lieRows && p.Name.Contains("0001", StringComparison.Ordinal) ? p.Rows + lieRows : p.Rows;
            }

            blobArray.Add(b);
        }

        var manifest = new JsonObject();
        if (!legacy)
        {
            manifest["manifestVersion"] = "2024-04-01";
            manifest["byteCount"] = parts.Sum(p => p.Bytes);
            manifest["blobCount"] = parts.Count;
            manifest["dataRowCount"] = parts.Sum(p => p.Rows);
        }

        manifest["exportConfig"] = new JsonObject
        {
            ["exportName"] = exportName,
            ["resourceId"] = scope.TrimEnd('/') + "/providers/Microsoft.CostManagement/exports/" + exportName,
            ["dataVersion"] = dataset switch { "FocusCost" => "1.0r2", "ReservationDetails" => "2023-03-01", "ReservationRecommendations" => "2023-05-01", _ => "2024-08-01" },
            ["apiVersion"] = "2025-03-01",
            ["type"] = legacy ? " " + dataset.ToLowerInvariant() + " " : dataset,
            ["timeFrame"] = "MonthToDate",
            ["granularity"] = legacy ? null : "Daily",
        };
        manifest["deliveryConfig"] = new JsonObject
        {
            ["partitionData"] = true,
            ["dataOverwriteBehavior"] = "CreateNewReport",
            ["fileFormat"] = ((string?)run["format"] ?? "Csv").Equals("parquet", StringComparison.OrdinalIgnoreCase) ? "Parquet" : "Csv",
            ["compressionMode"] = ((string?)run["format"] ?? "Csv").ToLowerInvariant() switch { "gzip" => "gzip", "parquet" => "snappy", _ => "none" },
            ["containerUri"] = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/finops/providers/Microsoft.Storage/storageAccounts/finopsdata",
            ["rootFolderPath"] = "container-root",
        };
        manifest["runInfo"] = new JsonObject
        {
            ["executionType"] = "Scheduled",
            ["submittedTime"] = legacy ? submitted.TrimEnd('Z') : submitted,
            ["runId"] = legacy ? " " + runId + " " : runId,
            ["startDate"] = Ts(month),
            ["endDate"] = Ts(last),
        };
        manifest["blobs"] = blobArray;
        File.WriteAllText(path, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), new UTF8Encoding(false));
    }

    private static async Task WriteParquet(string path, string[] header, bool focus, IEnumerable<string[]> rows, int rowGroup)
    {
        // Types as the FocusCost and cost-details Parquet exports carry them: money and quantities as DECIMAL (FOCUS) or
        // DOUBLE (cost details), dates and datetimes as TIMESTAMP, the rest as strings.
        var fields = new DataField[header.Length];
        var kinds = new char[header.Length];
        for (int c = 0; c < header.Length; c++)
        {
            kinds[c] = focus ? Focus.TypeOf(header[c]) : CostTypeOf(header[c]);
            fields[c] = kinds[c] switch
            {
                'm' => new DecimalDataField(header[c], 38, 10, isNullable: true),
                'f' => new DataField<double?>(header[c]),
                't' => new DataField<DateTime?>(header[c]),
                'b' => new DataField<bool?>(header[c]),
                _ => new DataField<string>(header[c]),
            };
        }

        var schema = new ParquetSchema(fields);
        await using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        await using ParquetWriter writer = await ParquetWriter.CreateAsync(schema, stream, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy });
        var buffer = new List<string[]>(rowGroup);
        async Task Flush()
        {
            if (buffer.Count == 0) return;
            using ParquetRowGroupWriter g = writer.CreateRowGroup();
            for (int c = 0; c < header.Length; c++)
            {
                int col = c;
                switch (kinds[c])
                {
                    case 'm':
                        await g.WriteAsync<decimal>(fields[c], buffer.Select(r => r[col].Length == 0 ? (decimal?)null : Math.Round(decimal.Parse(r[col], NumberStyles.Float, CultureInfo.InvariantCulture), 10)).ToArray().AsMemory());
                        break;
                    case 'f':
                        await g.WriteAsync<double>(fields[c], buffer.Select(r => r[col].Length == 0 ? (double?)null : double.Parse(r[col], NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray().AsMemory());
                        break;
                    case 't':
                        await g.WriteAsync<DateTime>(fields[c], buffer.Select(r => r[col].Length == 0 ? (DateTime?)null : DateTime.SpecifyKind(DateTime.Parse(r[col], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), DateTimeKind.Utc)).ToArray().AsMemory());
                        break;
                    case 'b':
                        await g.WriteAsync<bool>(fields[c], buffer.Select(r => r[col].Length == 0 ? (bool?)null : bool.Parse(r[col])).ToArray().AsMemory());
                        break;
                    default:
                        await g.WriteAsync(fields[c], buffer.Select(r => r[col]).ToArray());
                        break;
                }
            }

            buffer.Clear();
        }

        foreach (string[] row in rows)
        {
            buffer.Add((string[])row.Clone());
            if (buffer.Count == rowGroup) await Flush();
        }

        await Flush();
    }

    private static char CostTypeOf(string column) => column.ToLowerInvariant() switch
    {
        "quantity" or "effectiveprice" or "costinbillingcurrency" or "cost" or "unitprice" or "paygprice" or "costinpricingcurrency" or "costinusd"
            or "paygcostinbillingcurrency" or "paygcostinusd" or "exchangeratepricingtobilling" => 'f',
        _ => 's',
    };
}

/// <summary>FocusCost rows (FOCUS 1.0r2 as Cost Management exports it), mapped from the generator's cost-details fields.</summary>
internal static class Focus
{
    public static readonly string[] Header =
    [
        "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency",
        "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
        "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
        "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
        "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory",
        "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId",
        "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId",
        "SubAccountName", "SubAccountType", "Tags", "x_AccountName", "x_BilledCostInUsd", "x_BillingExchangeRate",
        "x_BillingExchangeRateDate", "x_CostCenter", "x_EffectiveCostInUsd", "x_InvoiceSectionName", "x_PricingCurrency",
        "x_ResourceGroupName", "x_SkuIsCreditEligible", "x_SkuMeterCategory", "x_SkuMeterId", "x_SkuMeterName",
        "x_SkuMeterSubcategory", "x_SkuServiceFamily",
    ];

    private static readonly HashSet<string> Money = new(StringComparer.Ordinal)
    {
        "BilledCost", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "ListCost", "ListUnitPrice", "ConsumedQuantity",
        "PricingQuantity", "x_BilledCostInUsd", "x_BillingExchangeRate", "x_EffectiveCostInUsd",
    };

    private static readonly HashSet<string> Times = new(StringComparer.Ordinal)
    {
        "BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart", "x_BillingExchangeRateDate",
    };

    public static char TypeOf(string column) => Money.Contains(column) ? 'm' : Times.Contains(column) ? 't' : column == "x_SkuIsCreditEligible" ? 'b' : 's';

    public static string[] Map(string[] v, string currency, DateOnly month, FileKind kind)
    {
        DateOnly day = DateOnly.ParseExact(v[(int)F.Date], ["MM/dd/yyyy", "M/d/yyyy"], CultureInfo.InvariantCulture);
        string T(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + "T00:00:00Z";
        string chargeType = v[(int)F.ChargeType];
        string pricing = v[(int)F.PricingModel];
        string cost = Round(v[(int)F.CostInBillingCurrency]);
        string qty = Round(v[(int)F.Quantity]);
        string tags = v[(int)F.Tags].Length == 0 ? string.Empty : "{" + v[(int)F.Tags].Replace("\n", " ", StringComparison.Ordinal) + "}";
        bool commitment = pricing is "Reservation" or "SavingsPlan";
        var row = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["AvailabilityZone"] = v[(int)F.AvailabilityZone],
            ["BilledCost"] = cost,
            ["BillingAccountId"] = v[(int)F.BillingAccountId],
            ["BillingAccountName"] = v[(int)F.BillingAccountName],
            ["BillingAccountType"] = kind == FileKind.Mca ? "Billing Profile" : "Billing Account",
            ["BillingCurrency"] = currency,
            ["BillingPeriodEnd"] = T(month.AddMonths(1)),
            ["BillingPeriodStart"] = T(month),
            ["ChargeCategory"] = chargeType == "Usage" ? "Usage" : chargeType == "Refund" ? "Purchase" : "Purchase",
            ["ChargeClass"] = chargeType == "Refund" ? "Correction" : string.Empty,
            ["ChargeDescription"] = v[(int)F.MeterName],
            ["ChargeFrequency"] = chargeType == "Usage" ? "Usage-Based" : v[(int)F.Frequency] == "Recurring" ? "Recurring" : "One-Time",
            ["ChargePeriodEnd"] = T(day.AddDays(1)),
            ["ChargePeriodStart"] = T(day),
            ["CommitmentDiscountCategory"] = commitment ? (pricing == "Reservation" ? "Usage" : "Spend") : string.Empty,
            ["CommitmentDiscountId"] = v[(int)F.BenefitId],
            ["CommitmentDiscountName"] = v[(int)F.BenefitName],
            ["CommitmentDiscountStatus"] = commitment && chargeType == "Usage" ? "Used" : string.Empty,
            ["CommitmentDiscountType"] = commitment ? (pricing == "Reservation" ? "Reservation" : "Savings Plan") : string.Empty,
            ["ConsumedQuantity"] = chargeType == "Usage" ? qty : string.Empty,
            ["ConsumedUnit"] = chargeType == "Usage" ? v[(int)F.UnitOfMeasure] : string.Empty,
            ["ContractedCost"] = cost,
            ["ContractedUnitPrice"] = Round(v[(int)F.UnitPrice]),
            ["EffectiveCost"] = cost,
            ["InvoiceIssuerName"] = "Microsoft",
            ["ListCost"] = cost,
            ["ListUnitPrice"] = Round(v[(int)F.PayGPrice]),
            ["PricingCategory"] = pricing == "OnDemand" ? "Standard" : "Committed",
            ["PricingQuantity"] = qty,
            ["PricingUnit"] = v[(int)F.UnitOfMeasure],
            ["ProviderName"] = "Microsoft",
            ["PublisherName"] = "Microsoft",
            ["RegionId"] = v[(int)F.ResourceLocationNormalized],
            ["RegionName"] = v[(int)F.Location].Length > 0 ? v[(int)F.Location] : v[(int)F.ResourceLocation],
            ["ResourceId"] = v[(int)F.ResourceId].ToLowerInvariant(),
            ["ResourceName"] = v[(int)F.ResourceName],
            ["ResourceType"] = v[(int)F.ConsumedService],
            ["ServiceCategory"] = "Compute",
            ["ServiceName"] = v[(int)F.MeterCategory],
            ["SkuId"] = v[(int)F.PartNumber],
            ["SkuPriceId"] = v[(int)F.PartNumber],
            ["SubAccountId"] = "/subscriptions/" + v[(int)F.SubscriptionId],
            ["SubAccountName"] = v[(int)F.SubscriptionName],
            ["SubAccountType"] = "Subscription",
            ["Tags"] = tags,
            ["x_AccountName"] = v[(int)F.AccountName],
            ["x_BilledCostInUsd"] = cost,
            ["x_BillingExchangeRate"] = "1",
            ["x_BillingExchangeRateDate"] = T(month),
            ["x_CostCenter"] = v[(int)F.CostCenter],
            ["x_EffectiveCostInUsd"] = cost,
            ["x_InvoiceSectionName"] = v[(int)F.InvoiceSectionName],
            ["x_PricingCurrency"] = "USD",
            ["x_ResourceGroupName"] = v[(int)F.ResourceGroup],
            ["x_SkuIsCreditEligible"] = v[(int)F.IsAzureCreditEligible].Equals("true", StringComparison.OrdinalIgnoreCase) ? "True" : "False",
            ["x_SkuMeterCategory"] = v[(int)F.MeterCategory],
            ["x_SkuMeterId"] = v[(int)F.MeterId],
            ["x_SkuMeterName"] = v[(int)F.MeterName],
            ["x_SkuMeterSubcategory"] = v[(int)F.MeterSubCategory],
            ["x_SkuServiceFamily"] = v[(int)F.ServiceFamily],
        };
        return Header.Select(h => row[h]).ToArray();
    }

    /// <summary>FOCUS exports carry money with at most 10 fractional digits here, so CSV and Parquet (DECIMAL(38,10)) hold the same values.</summary>
    private static string Round(string value)
        => value.Length == 0 ? value : Math.Round(decimal.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture), 10).ToString(CultureInfo.InvariantCulture);
}
