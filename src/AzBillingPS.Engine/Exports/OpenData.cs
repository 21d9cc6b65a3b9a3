using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using AzBillingPS.Engine.Csv;
using CsvHelper;

namespace AzBillingPS.Engine.Exports;

/// <summary>One lookup table the FOCUS view joins: its name, columns (the first ones form the key) and rows.</summary>
internal sealed record OpenDataTable(string Name, IReadOnlyList<CostColumn> Columns, int KeyColumns, IReadOnlyList<object?[]> Rows);

/// <summary>
/// The FinOps toolkit's open data (MIT, src/open-data; see Exports/OpenData/NOTICE.txt), embedded in the engine, as the
/// lookup tables the FOCUS view joins. Keys are normalised the way the view normalises the cost columns it looks up
/// (trimmed, lower case), so each key has one row and a join never multiplies a cost row:
/// <list type="bullet">
/// <item>PricingUnits: UnitOfMeasure → PricingBlockSize, DistinctUnits (first row of a key wins; the file's duplicates agree).</item>
/// <item>Regions: OriginalValue (ResourceLocation) → RegionId, RegionName.</item>
/// <item>ResourceTypes: ResourceType → SingularDisplayName.</item>
/// <item>Services: (ConsumedService, ResourceType) → ServiceName, ServiceCategory, ServiceSubcategory; plus the view's two
///   fallbacks: rows with an empty ConsumedService answer for a resource type alone (only types that map to one
///   service), rows with an empty ResourceType for a consumed service alone (its first row in the file).</item>
/// </list>
/// </summary>
internal static class OpenData
{
    public const string PricingUnitsTable = "AzBillingPS_PricingUnits";
    public const string RegionsTable = "AzBillingPS_Regions";
    public const string ResourceTypesTable = "AzBillingPS_ResourceTypes";
    public const string ServicesTable = "AzBillingPS_Services";

    private static readonly Lazy<IReadOnlyList<OpenDataTable>> Loaded = new(Load);

    /// <summary>The four lookup tables, read once from the embedded files.</summary>
    public static IReadOnlyList<OpenDataTable> Tables => Loaded.Value;

    /// <summary>The key form the view and the tables share: trimmed and lower case (invariant).</summary>
    public static string Key(string? value) => (value ?? string.Empty).Trim().ToLowerInvariant();

    private static OpenDataTable[] Load()
    {
        var units = new List<object?[]>();
        var seenUnits = new HashSet<string>(StringComparer.Ordinal);
        foreach (string[] r in Read("PricingUnits", "UnitOfMeasure", "PricingBlockSize", "DistinctUnits"))
        {
            string key = Key(r[0]);
            if (key.Length > 0 && seenUnits.Add(key))
            {
                units.Add(new object?[] { key, decimal.Parse(r[1], NumberStyles.Float, CultureInfo.InvariantCulture), r[2] });
            }
        }

        var regions = new List<object?[]>();
        var seenRegions = new HashSet<string>(StringComparer.Ordinal);
        foreach (string[] r in Read("Regions", "OriginalValue", "RegionId", "RegionName"))
        {
            string key = Key(r[0]);
            if (key.Length > 0 && seenRegions.Add(key))
            {
                regions.Add(new object?[] { key, r[1], r[2] });
            }
        }

        var types = new List<object?[]>();
        var seenTypes = new HashSet<string>(StringComparer.Ordinal);
        foreach (string[] r in Read("ResourceTypes", "ResourceType", "SingularDisplayName"))
        {
            string key = Key(r[0]);
            if (key.Length > 0 && seenTypes.Add(key))
            {
                types.Add(new object?[] { key, r[1] });
            }
        }

        var services = new List<object?[]>();
        var pairs = new HashSet<(string, string)>();
        var byType = new Dictionary<string, List<string[]>>(StringComparer.Ordinal);
        var byConsumed = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (string[] r in Read("Services", "ConsumedService", "ResourceType", "ServiceName", "ServiceCategory", "ServiceSubcategory"))
        {
            string consumed = Key(r[0]);
            string type = Key(r[1]);
            if (pairs.Add((consumed, type)))
            {
                services.Add(new object?[] { consumed, type, r[2], r[3], r[4] });
            }

            if (type.Length > 0 && consumed.Length > 0)
            {
                if (!byType.TryGetValue(type, out List<string[]>? list))
                {
                    byType[type] = list = new List<string[]>();
                }

                list.Add(r);
            }

            if (consumed.Length > 0)
            {
                byConsumed.TryAdd(consumed, r);
            }
        }

        foreach ((string type, List<string[]> rows) in byType)
        {
            bool one = rows.Select(r => (r[2], r[3], r[4])).Distinct().Count() == 1;
            if (one && pairs.Add((string.Empty, type)))
            {
                services.Add(new object?[] { string.Empty, type, rows[0][2], rows[0][3], rows[0][4] });
            }
        }

        foreach ((string consumed, string[] r) in byConsumed)
        {
            if (pairs.Add((consumed, string.Empty)))
            {
                services.Add(new object?[] { consumed, string.Empty, r[2], r[3], r[4] });
            }
        }

        return new[]
        {
            new OpenDataTable(PricingUnitsTable, Columns(("UnitOfMeasure", CostColumnType.Text), ("PricingBlockSize", CostColumnType.Decimal), ("DistinctUnits", CostColumnType.Text)), 1, units),
            new OpenDataTable(RegionsTable, Columns(("OriginalValue", CostColumnType.Text), ("RegionId", CostColumnType.Text), ("RegionName", CostColumnType.Text)), 1, regions),
            new OpenDataTable(ResourceTypesTable, Columns(("ResourceType", CostColumnType.Text), ("SingularDisplayName", CostColumnType.Text)), 1, types),
            new OpenDataTable(ServicesTable, Columns(("ConsumedService", CostColumnType.Text), ("ResourceType", CostColumnType.Text), ("ServiceName", CostColumnType.Text), ("ServiceCategory", CostColumnType.Text), ("ServiceSubcategory", CostColumnType.Text)), 2, services),
        };
    }

    private static CostColumn[] Columns(params (string Name, CostColumnType Type)[] columns) => columns.Select(c => new CostColumn(c.Name, c.Type)).ToArray();

    /// <summary>The named columns of one embedded file, row by row.</summary>
    private static IEnumerable<string[]> Read(string file, params string[] columns)
    {
        string resource = $"AzBillingPS.Engine.OpenData.{file}.csv";
        using Stream stream = typeof(OpenData).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The engine was built without its open data ({resource}).");
        using CsvReader csv = CsvReader.Create(stream, new CsvReaderOptions { HasHeader = true, Separator = ',', Mode = CsvMode.Rfc4180 }, false);
        csv.ReadHeader();
        var headers = new List<string>();
        for (int i = 0; i < csv.Headers.Count; i++)
        {
            headers.Add(csv.Headers[i].Trim().TrimStart('\uFEFF'));
        }

        int[] index = columns.Select(c => headers.IndexOf(c)).ToArray();
        if (index.Any(i => i < 0))
        {
            throw new InvalidOperationException($"The embedded {file}.csv lacks a column the FOCUS view needs ({string.Join(", ", columns)}).");
        }

        while (csv.Read())
        {
            yield return index.Select(i => csv.GetString(i)).ToArray();
        }
    }
}
