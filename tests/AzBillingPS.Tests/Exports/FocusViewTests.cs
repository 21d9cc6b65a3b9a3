using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Exports;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;
using Microsoft.Data.Sqlite;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace AzBillingPS.Tests.Exports;

/// <summary>
/// The FOCUS view's SQL: every T-SQL statement parsed by ScriptDom; the open-data lookup tables; and, on a real SQLite
/// file, the resource type the view derives from ResourceId against a port of the FinOps toolkit's Split-AzureResourceId.
/// </summary>
public sealed class FocusViewTests : IDisposable
{
    private const string Scope = "/subscriptions/00000000-0000-0000-0000-0000000000aa";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "azb-focus-" + Guid.NewGuid().ToString("N"));

    public FocusViewTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static IReadOnlyList<TSqlStatement> ParseTSql(string sql)
    {
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        var fragment = parser.Parse(new StringReader(sql), out IList<ParseError> errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Line}:{e.Column} {e.Message}")) + "\n" + sql);
        return Assert.IsType<TSqlScript>(fragment).Batches.SelectMany(b => b.Statements).ToList();
    }

    /// <summary>The table's columns as SQL Server names their types (what the view generator reads from sys.columns).</summary>
    private static Dictionary<string, (string Name, string Type)> SqlServerColumns(bool lowerCaseSpelling)
        => FocusView.Reads.ToDictionary(
            n => n,
            n => (lowerCaseSpelling ? n.ToLowerInvariant() : n, CostColumnCatalog.Resolve(n).Type switch
            {
                CostColumnType.Decimal => "decimal",
                CostColumnType.Date => "date",
                CostColumnType.Guid => "uniqueidentifier",
                CostColumnType.Boolean => "bit",
                _ => "nvarchar",
            }),
            StringComparer.OrdinalIgnoreCase);

    [Fact]
    public void The_view_is_one_TSql_create_view_over_the_cost_table_and_the_four_lookup_tables()
    {
        var sql = FocusSql.For(DatabaseProvider.SqlServer);
        string text = FocusView.CreateView(sql, "billing", "Cost]Table", SqlServerColumns(lowerCaseSpelling: true));
        var view = Assert.IsType<CreateViewStatement>(Assert.Single(ParseTSql(text)));
        Assert.Equal("Cost]Table_Focus", view.SchemaObjectName.BaseIdentifier.Value);
        Assert.Equal("billing", view.SchemaObjectName.SchemaIdentifier.Value);

        var query = Assert.IsType<QuerySpecification>(view.SelectStatement.QueryExpression);
        var names = query.SelectElements.Cast<SelectScalarExpression>().Select(e => e.ColumnName.Value).ToList();
        Assert.Equal(FocusView.ViewColumns(), names);
        foreach (string mandatory in FocusCatalog.Mandatory)
        {
            Assert.Contains(mandatory, names);
        }

        // Every table the view reads: the cost table (twice, amortized and actual rows) and the lookups in the same schema.
        var tables = new TableCollector();
        view.Accept(tables);
        Assert.Equal(
            new[] { "billing.AzBillingPS_PricingUnits", "billing.AzBillingPS_Regions", "billing.AzBillingPS_ResourceTypes", "billing.AzBillingPS_Services", "billing.Cost]Table" },
            tables.Names.Distinct().OrderBy(n => n, StringComparer.Ordinal));
        Assert.Equal(2, tables.Names.Count(n => n == "billing.Cost]Table"));

        // The table's own spelling of a column is what the view reads.
        Assert.Contains("[chargetype] AS [ChargeType]", text, StringComparison.Ordinal);
        Assert.Contains("a.[SubscriptionId] AS [SubAccountId]", text, StringComparison.Ordinal); // ids are text (issue 11): read as they are
    }

    [Fact]
    public void Lookup_tables_their_inserts_and_the_drop_parse_as_TSql()
    {
        var sql = FocusSql.For(DatabaseProvider.SqlServer);
        foreach (OpenDataTable table in OpenData.Tables)
        {
            var statement = Assert.Single(ParseTSql(FocusView.CreateLookupTable(sql, "dbo", table)));
            var create = Assert.IsType<CreateTableStatement>(Assert.IsType<IfStatement>(statement).ThenStatement);
            Assert.Equal(table.Name, create.SchemaObjectName.BaseIdentifier.Value);
            Assert.Equal(table.Columns.Select(c => c.Name), create.Definition.ColumnDefinitions.Select(c => c.ColumnIdentifier.Value));
            var key = Assert.IsType<UniqueConstraintDefinition>(Assert.Single(create.Definition.TableConstraints));
            Assert.True(key.IsPrimaryKey);
            Assert.Equal(table.KeyColumns, key.Columns.Count);

            // SQL Server index keys are at most 900 bytes: the key columns' nvarchar sizes (2 bytes a character) fit, and so does every key.
            int keyBytes = Enumerable.Range(0, table.KeyColumns).Sum(i => 2 * FocusView.KeyLength(table, i));
            Assert.True(keyBytes <= 900, $"{table.Name}: {keyBytes} bytes of key");
            for (int i = 0; i < table.KeyColumns; i++)
            {
                Assert.All(table.Rows, r => Assert.True(((string)r[i]!).Length <= FocusView.KeyLength(table, i), $"{table.Name}: {r[i]}"));
            }

            int perStatement = 2_000 / table.Columns.Count;
            var insert = Assert.IsType<InsertStatement>(Assert.Single(ParseTSql(FocusView.InsertLookupRows(sql, "dbo", table, perStatement))));
            var values = Assert.IsType<ValuesInsertSource>(insert.InsertSpecification.InsertSource);
            Assert.Equal(perStatement, values.RowValues.Count);
            Assert.True(perStatement * table.Columns.Count <= 2_100);
        }

        Assert.IsType<DropViewStatement>(Assert.Single(ParseTSql(sql.DropViewIfExists("[dbo].[AzureCostDetails_Focus]"))));
        Assert.IsType<SelectStatement>(Assert.Single(ParseTSql(sql.ObjectKind)));
        Assert.IsType<SelectStatement>(Assert.Single(ParseTSql(sql.ColumnTypes)));
    }

    [Fact]
    public void Open_data_keys_are_unique_and_the_service_fallbacks_answer_only_when_unambiguous()
    {
        foreach (OpenDataTable table in OpenData.Tables)
        {
            Assert.NotEmpty(table.Rows);
            var keys = table.Rows.Select(r => string.Join("|", r.Take(table.KeyColumns))).ToList();
            Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
            Assert.All(table.Rows, r => Assert.Equal(table.Columns.Count, r.Length));
            Assert.All(keys, k => Assert.Equal(k.ToLowerInvariant().Trim(), k));
        }

        OpenDataTable services = OpenData.Tables.Single(t => t.Name == OpenData.ServicesTable);
        object?[]? Find(string consumed, string type) => services.Rows.SingleOrDefault(r => (string)r[0]! == consumed && (string)r[1]! == type);
        Assert.Equal("Virtual Machines", Find("microsoft.compute", "microsoft.compute/virtualmachines")![2]);
        Assert.Equal("Virtual Machine Scale Sets", Find("microsoft.compute", "microsoft.compute/virtualmachinescalesets")![2]);
        Assert.Equal("Virtual Machine Scale Sets", Find(string.Empty, "microsoft.compute/virtualmachinescalesets")![2]);

        // microsoft.web/sites is both Functions and App Service: no type-only answer; the consumed service's first row answers.
        Assert.Null(Find(string.Empty, "microsoft.web/sites"));
        Assert.NotNull(Find("microsoft.web", string.Empty));
        Assert.Equal("Azure Reservations", Find("microsoft.capacity", "microsoft.capacity/reservationorders")![2]);

        OpenDataTable units = OpenData.Tables.Single(t => t.Name == OpenData.PricingUnitsTable);
        object?[] tenK = units.Rows.Single(r => (string)r[0]! == "10k");
        Assert.Equal(10_000m, tenK[1]);
        Assert.Equal("Units", tenK[2]);
    }

    /// <summary>
    /// A port of the FinOps toolkit's Split-AzureResourceId (src/powershell/Private/Split-AzureResourceId.ps1): the type
    /// is the provider namespace after the last /providers/ (Microsoft.Resources when there is none) and the segments at
    /// odd positions after it; an id with an even number of segments loses its last one first.
    /// </summary>
    private static string? ToolkitResourceType(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return null;
        }

        if (!id.StartsWith('/'))
        {
            id = "/" + id;
        }

        string[] parts = id.TrimEnd('/').Split('/');
        while (parts.Length % 2 == 0)
        {
            parts = parts[..^1];
        }

        string[] leaf;
        if (parts.Length == 3 && parts[1].Equals("providers", StringComparison.OrdinalIgnoreCase))
        {
            leaf = new[] { "Microsoft.Resources" }.Concat(parts[1..]).ToArray();
        }
        else
        {
            string joined = string.Join('/', new[] { parts[0], "providers", "Microsoft.Resources" }.Concat(parts[1..]));
            joined = joined.Replace("/PROVIDERS/", "/providers/", StringComparison.Ordinal);
            string last = joined.Split("/providers/")[^1];
            leaf = last.Split('/');
        }

        var type = new List<string> { leaf[0] };
        for (int i = 1; i < leaf.Length; i += 2)
        {
            type.Add(leaf[i]);
        }

        return string.Join('/', type).ToLowerInvariant();
    }

    [Fact]
    public async Task The_resource_type_and_the_lookups_match_the_toolkit_on_SQLite()
    {
        string[] ids =
        {
            "/subscriptions/1caaa5a3-2b66-438e-8ab4-bce37d518c5d/resourceGroups/CapRes_Test/providers/Microsoft.Compute/virtualMachines/vm1",
            "/SUBSCRIPTIONS/64E355D7-997C-491D-B0C1-8414DCCFCF42/RESOURCEGROUPS/FTK-RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-1",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Sql/servers/sql1/databases/db1",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/0/networkInterfaces/nic/ipConfigurations/ip/publicIPAddresses/pip",
            "/providers/Microsoft.Capacity/reservationOrders/49ed0e4d-8e0c-4f1f-af2c-67c865056615/reservations/",
            "/providers/Microsoft.BillingBenefits/savingsPlanOrders/o1/savingsPlans/p1",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/providers/Microsoft.Insights/diagnosticSettings/d1",
            "/subscriptions/x/resourceGroups/rg",
            "/subscriptions/x",
            "/tenants/t1",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1/",
        };

        string csv = Path.Combine(_dir, "amortized.csv");
        var lines = new List<string> { "Date,ResourceId,ConsumedService,UnitOfMeasure,ResourceLocation,CostInBillingCurrency,ChargeType,PricingModel,Quantity" };
        lines.AddRange(ids.Select((id, i) => $"10/{i + 1:D2}/2026,{id},Microsoft.Compute,10K,EastUS2,1.5,Usage,OnDemand,0.0004"));
        lines.Add("10/20/2026,,,1 Hour,,2,Usage,OnDemand,1"); // no resource id
        File.WriteAllLines(csv, lines);

        SinkTarget target = SinkTarget.ForSqliteFile(Path.Combine(_dir, "focus.sqlite"), "Costs", null);
        Assert.Null(await FocusView.EnsureAsync(target, TimeSpan.FromSeconds(10), NullEngineLog.Instance, CancellationToken.None)); // no table yet

        var request = new ImportRequest(target, Scope, "AmortizedCost", new DateTime(2026, 10, 1), new DateTime(2026, 10, 31), new[] { csv });
        Assert.NotNull(await CostImporter.ImportAsync(request, (_, _) => Task.FromResult(true), NullEngineLog.Instance, null, 1, CancellationToken.None));

        FocusViewResult? first = await FocusView.EnsureAsync(target, TimeSpan.FromSeconds(10), NullEngineLog.Instance, CancellationToken.None);
        Assert.NotNull(first);
        Assert.False(first!.Replaced);
        Assert.Contains("PartnerName", first.ColumnsAdded);
        Assert.Contains("BillingProfileId", first.ColumnsAdded);
        Assert.DoesNotContain("ResourceId", first.ColumnsAdded);
        Assert.Equal(OpenData.Tables.Sum(t => t.Rows.Count), first.LookupRows);

        FocusViewResult? again = await FocusView.EnsureAsync(target, TimeSpan.FromSeconds(10), NullEngineLog.Instance, CancellationToken.None);
        Assert.True(again!.Replaced);
        Assert.Empty(again.ColumnsAdded);

        await using var connection = new SqliteConnection(target.ConnectionString);
        await connection.OpenAsync();
        await using SqliteCommand count = connection.CreateCommand();
        count.CommandText = "SELECT (SELECT count(*) FROM AzBillingPS_Services), (SELECT count(*) FROM AzBillingPS_Regions)";
        await using (SqliteDataReader r = await count.ExecuteReaderAsync())
        {
            Assert.True(await r.ReadAsync());
            Assert.Equal(OpenData.Tables.Single(t => t.Name == OpenData.ServicesTable).Rows.Count, r.GetInt32(0)); // refilled, not appended
            Assert.Equal(OpenData.Tables.Single(t => t.Name == OpenData.RegionsTable).Rows.Count, r.GetInt32(1));
        }

        await using SqliteCommand query = connection.CreateCommand();
        query.CommandText = "SELECT ResourceId, x_ResourceType, RegionName, RegionId, PricingUnit, x_PricingBlockSize, ConsumedQuantity, ServiceName, ChargePeriodStart, ChargePeriodEnd FROM Costs_Focus ORDER BY ChargePeriodStart";
        var seen = new List<string?>();
        await using (SqliteDataReader r = await query.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                string? id = r.IsDBNull(0) ? null : r.GetString(0);
                string? type = r.IsDBNull(1) ? null : r.GetString(1);
                seen.Add(id);
                Assert.True(ToolkitResourceType(id) == type, $"{id}: the view says {type}, the toolkit {ToolkitResourceType(id)}");
                if (id is null)
                {
                    continue;
                }

                Assert.Equal("East US 2", r.GetString(2));
                Assert.Equal("eastus2", r.GetString(3));
                Assert.Equal("Units", r.GetString(4));
                Assert.Equal(10_000d, r.GetDouble(5));
                Assert.Equal(4d, r.GetDouble(6), 9);
                Assert.EndsWith(" 00:00:00.000", r.GetString(8), StringComparison.Ordinal);
                Assert.True(string.CompareOrdinal(r.GetString(9), r.GetString(8)) > 0);
            }
        }

        Assert.Equal(ids.Length + 1, seen.Count);
        Assert.Equal("microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces/ipconfigurations/publicipaddresses", ToolkitResourceType(ids[3]));
        Assert.Equal("microsoft.capacity/reservationorders", ToolkitResourceType(ids[4]));
    }

    private sealed class TableCollector : TSqlFragmentVisitor
    {
        public List<string> Names { get; } = new();

        public override void ExplicitVisit(NamedTableReference node)
        {
            Names.Add($"{node.SchemaObject.SchemaIdentifier?.Value}.{node.SchemaObject.BaseIdentifier.Value}");
            base.ExplicitVisit(node);
        }
    }
}
