using System.Collections.Generic;
using System.IO;
using System.Linq;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Sinks;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace AzBillingPS.Tests.Sinks;

/// <summary>Every T-SQL statement the SQL Server sink sends is parsed by ScriptDom (the always-on SQL Server coverage).</summary>
public class TSqlParsingTests
{
    private static readonly SqlServerDialect Dialect = SqlServerDialect.Instance;

    private static readonly CostColumn[] Columns =
        CostColumnCatalog.Columns.Concat(new[] { new CostColumn("x]; DROP TABLE y; --", CostColumnType.Text), new CostColumn("a\"b[c", CostColumnType.Text) })
            .Concat(LineageColumns.All).ToArray();

    private static TSqlScript Parse(string sql)
    {
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        var fragment = parser.Parse(new StringReader(sql), out IList<ParseError> errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Line}:{e.Column} {e.Message}")) + "\n" + sql);
        return Assert.IsType<TSqlScript>(fragment);
    }

    private static IReadOnlyList<TSqlStatement> Statements(string sql) => Parse(sql).Batches.SelectMany(b => b.Statements).ToList();

    [Fact]
    public void Create_table_is_one_create_statement_with_every_column_quoted()
    {
        string sql = Dialect.CreateTable("dbo", "AzureCostDetails", Columns);
        var create = Assert.IsType<CreateTableStatement>(Assert.Single(Statements(sql)));
        Assert.Equal("AzureCostDetails", create.SchemaObjectName.BaseIdentifier.Value);
        Assert.Equal("dbo", create.SchemaObjectName.SchemaIdentifier.Value);
        var names = create.Definition.ColumnDefinitions.Select(c => c.ColumnIdentifier.Value).ToList();
        Assert.Equal(Columns.Select(c => c.Name), names);
        Assert.Contains("x]; DROP TABLE y; --", names);
    }

    [Fact]
    public void Money_is_decimal_38_20_and_dates_are_date()
    {
        var create = (CreateTableStatement)Statements(Dialect.CreateTable("dbo", "t", Columns)).Single();
        ColumnDefinition cost = create.Definition.ColumnDefinitions.Single(c => c.ColumnIdentifier.Value == "CostInBillingCurrency");
        var type = Assert.IsType<SqlDataTypeReference>(cost.DataType);
        Assert.Equal(SqlDataTypeOption.Decimal, type.SqlDataTypeOption);
        Assert.Equal(new[] { "38", "20" }, type.Parameters.Select(p => p.Value));
        ColumnDefinition date = create.Definition.ColumnDefinitions.Single(c => c.ColumnIdentifier.Value == "Date");
        Assert.Equal(SqlDataTypeOption.Date, ((SqlDataTypeReference)date.DataType).SqlDataTypeOption);
        ColumnDefinition sub = create.Definition.ColumnDefinitions.Single(c => c.ColumnIdentifier.Value == "SubscriptionId");
        Assert.Equal(SqlDataTypeOption.NVarChar, ((SqlDataTypeReference)sub.DataType).SqlDataTypeOption); // ids are text
    }

    [Fact]
    public void Hostile_names_stay_identifiers_in_alter_table()
    {
        string sql = Dialect.AddColumn("dbo", "Cost]Table", new CostColumn("x]; DROP TABLE y; --", CostColumnType.Text));
        var alter = Assert.IsType<AlterTableAddTableElementStatement>(Assert.Single(Statements(sql)));
        Assert.Equal("Cost]Table", alter.SchemaObjectName.BaseIdentifier.Value);
        Assert.Equal("x]; DROP TABLE y; --", alter.Definition.ColumnDefinitions.Single().ColumnIdentifier.Value);
    }

    [Fact]
    public void Delete_of_a_period_filters_scope_metric_and_date_with_parameters()
    {
        var delete = Assert.IsType<DeleteStatement>(Assert.Single(Statements(Dialect.DeletePeriod("dbo", "AzureCostDetails"))));
        string where = string.Concat(delete.DeleteSpecification.WhereClause.ScriptTokenStream
            .Skip(delete.DeleteSpecification.WhereClause.FirstTokenIndex)
            .Take(delete.DeleteSpecification.WhereClause.LastTokenIndex - delete.DeleteSpecification.WhereClause.FirstTokenIndex + 1)
            .Select(t => t.Text));
        foreach (string p in new[] { "@scope", "@metric", "@from", "@to", "[_Scope]", "[_Metric]", "[Date]" })
        {
            Assert.Contains(p, where);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lock_uses_sp_getapplock_owned_by_the_transaction_with_mode_and_timeout_as_parameters(bool shared)
    {
        var statements = Statements(Dialect.Lock(shared));
        var exec = statements.OfType<ExecuteStatement>().Single();
        var proc = Assert.IsType<ExecutableProcedureReference>(exec.ExecuteSpecification.ExecutableEntity);
        Assert.Equal("sp_getapplock", proc.ProcedureReference.ProcedureReference.Name.BaseIdentifier.Value);
        var names = proc.Parameters.Select(p => p.Variable.Name).ToList();
        Assert.Equal(new[] { "@Resource", "@LockMode", "@LockOwner", "@LockTimeout" }, names);
        var owner = (StringLiteral)proc.Parameters.Single(p => p.Variable.Name == "@LockOwner").ParameterValue;
        Assert.Equal("Transaction", owner.Value);
        Assert.Equal("@mode", Assert.IsType<VariableReference>(proc.Parameters.Single(p => p.Variable.Name == "@LockMode").ParameterValue).Name);
        Assert.Equal("@timeoutMs", Assert.IsType<VariableReference>(proc.Parameters.Single(p => p.Variable.Name == "@LockTimeout").ParameterValue).Name);
        Assert.Equal("@result", Assert.IsType<VariableReference>(exec.ExecuteSpecification.Variable).Name); // sp_getapplock's result is read back
    }

    [Fact]
    public void A_missing_schema_is_created_through_sp_executesql_with_QUOTENAME_when_SCHEMA_ID_is_null()
    {
        string sql = Dialect.CreateSchema("bill]ing")!;
        Assert.DoesNotContain("bill]ing", sql); // the name is a parameter, quoted by the server
        var ifStatement = Assert.IsType<IfStatement>(Assert.Single(Statements(sql)));
        var predicate = Assert.IsType<BooleanIsNullExpression>(ifStatement.Predicate);
        var call = Assert.IsType<FunctionCall>(predicate.Expression);
        Assert.Equal("SCHEMA_ID", call.FunctionName.Value, ignoreCase: true);
        var block = Assert.IsType<BeginEndBlockStatement>(ifStatement.ThenStatement);
        var declare = Assert.IsType<DeclareVariableStatement>(block.StatementList.Statements[0]);
        var concat = Assert.IsType<BinaryExpression>(declare.Declarations.Single().Value);
        Assert.Equal("QUOTENAME", Assert.IsType<FunctionCall>(concat.SecondExpression).FunctionName.Value, ignoreCase: true);
        var exec = Assert.IsType<ExecuteStatement>(block.StatementList.Statements[1]);
        var proc = Assert.IsType<ExecutableProcedureReference>(exec.ExecuteSpecification.ExecutableEntity);
        Assert.Equal("sp_executesql", proc.ProcedureReference.ProcedureReference.Name.BaseIdentifier.Value);

        // The check before it (creating needs CREATE SCHEMA even when the schema exists, so the module looks first).
        Assert.IsType<SelectStatement>(Assert.Single(Statements(Dialect.SchemaExists())));
        Assert.Contains("@schema", Dialect.SchemaExists());
    }

    [Theory]
    [InlineData(0L, "0")]
    [InlineData(300_000L, "300000")]
    [InlineData(10_000_000_000L, "2147483647")]
    public void Lock_timeout_is_one_SET_LOCK_TIMEOUT_in_milliseconds(long ms, string expected)
    {
        var set = Assert.IsType<SetCommandStatement>(Assert.Single(Statements(Dialect.SetLockTimeout(ms))));
        var command = Assert.IsType<GeneralSetCommand>(Assert.Single(set.Commands));
        Assert.Equal(GeneralSetCommandType.LockTimeout, command.CommandType);
        Assert.Equal(expected, Assert.IsType<IntegerLiteral>(command.Parameter).Value);
    }

    [Fact]
    public void The_index_is_clustered_on_scope_metric_date_or_a_clustered_columnstore_index()
    {
        var clustered = Assert.IsType<CreateIndexStatement>(Assert.Single(Statements(Dialect.CreateIndex("dbo", "AzureCostDetails"))));
        Assert.True(clustered.Clustered);
        Assert.Equal(new[] { "_Scope", "_Metric", "Date" }, clustered.Columns.Select(c => c.Column.MultiPartIdentifier.Identifiers.Last().Value));
        Assert.Equal("IX_AzureCostDetails_ScopeMetricDate", clustered.Name.Value);
        var columnstore = Assert.IsType<CreateColumnStoreIndexStatement>(Assert.Single(Statements(Dialect.CreateIndex("dbo", "AzureCostDetails", columnstore: true))));
        Assert.True(columnstore.Clustered);
        Assert.Equal("AzureCostDetails", columnstore.OnName.BaseIdentifier.Value);
        Assert.IsType<SelectStatement>(Assert.Single(Statements(SqlServerDialect.TableStorage())));
    }

    [Fact]
    public void Short_catalog_text_columns_are_sized_and_the_rest_stay_nvarchar_max()
    {
        var create = (CreateTableStatement)Statements(Dialect.CreateTable("dbo", "t", Columns)).Single();
        SqlDataTypeReference TypeOf(string name) => (SqlDataTypeReference)create.Definition.ColumnDefinitions.Single(c => c.ColumnIdentifier.Value == name).DataType;
        Assert.Equal("16", TypeOf("BillingCurrencyCode").Parameters.Single().Value);
        Assert.Equal("256", TypeOf("MeterCategory").Parameters.Single().Value);
        Assert.Equal("512", TypeOf("ResourceName").Parameters.Single().Value);
        foreach (string max in new[] { "Tags", "AdditionalInfo", "ResourceId", "x]; DROP TABLE y; --" })
        {
            Assert.Equal(SqlDataTypeOption.NVarChar, TypeOf(max).SqlDataTypeOption);
            Assert.IsType<MaxLiteral>(TypeOf(max).Parameters.Single());
        }

        // Every sized column is a text column of the catalog, so a sized name can only be a known short value.
        foreach (string sized in SqlServerDialect.TextLengths.Keys)
        {
            Assert.Equal(CostColumnType.Text, CostColumnCatalog.Columns.Single(c => c.Name == sized).Type);
        }

        // A column added for drift gets the same type as at creation.
        var alter = Assert.IsType<AlterTableAddTableElementStatement>(Assert.Single(Statements(Dialect.AddColumn("dbo", "t", new CostColumn("ChargeType", CostColumnType.Text)))));
        Assert.Equal("64", ((SqlDataTypeReference)alter.Definition.ColumnDefinitions.Single().DataType).Parameters.Single().Value);
    }

    [Fact]
    public void Index_and_list_columns_parse()
    {
        Assert.IsType<SelectStatement>(Assert.Single(Statements(Dialect.ListColumns("dbo", "AzureCostDetails"))));
        Assert.IsType<SelectStatement>(Assert.Single(Statements(TableColumns.Query(DatabaseProvider.SqlServer))));
        Assert.IsType<SelectStatement>(Assert.Single(Statements(CostSummary.ScopesSql(new SinkTarget(DatabaseProvider.SqlServer, "Server=x", "AzureCostDetails", null)))));
    }

    [Fact]
    public void Turning_an_old_uniqueidentifier_id_column_into_text_is_one_alter_column()
    {
        var target = new SinkTarget(DatabaseProvider.SqlServer, "Server=x", "AzureCostDetails", null);
        var alter = Assert.IsType<AlterTableAlterColumnStatement>(Assert.Single(Statements(TableColumns.IdColumnToText(target, "SubscriptionId")!)));
        Assert.Equal("SubscriptionId", alter.ColumnIdentifier.Value);
        Assert.Equal(SqlDataTypeOption.NVarChar, ((SqlDataTypeReference)alter.DataType).SqlDataTypeOption);
    }

    [Fact]
    public void Every_sql_server_query_of_the_cookbook_parses()
    {
        string? dir = System.AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "docs", "queries.md")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        Assert.NotNull(dir);
        string doc = File.ReadAllText(Path.Combine(dir!, "docs", "queries.md"));
        var blocks = System.Text.RegularExpressions.Regex.Matches(doc, "```sql sqlserver\\r?\\n(?<sql>.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline);
        Assert.Equal(8, blocks.Count);
        foreach (System.Text.RegularExpressions.Match block in blocks)
        {
            var statement = Assert.Single(Statements(block.Groups["sql"].Value));
            Assert.IsType<SelectStatement>(statement);
        }
    }

    public static TheoryData<string[], int?, bool> SummaryShapes => new()
    {
        { new[] { "Month", "Service" }, null, false },
        { new[] { "Day", "Scope", "Subscription" }, 5, true },
        { new[] { "ResourceGroup", "Location", "Tag:env", "Tag:cost \"center\"" }, 3, true },
        { new[] { "Month", "MeterSubCategory", "ChargeType" }, null, true },
        { System.Array.Empty<string>(), 1, false },
    };

    [Theory]
    [MemberData(nameof(SummaryShapes))]
    public void Summaries_parse_with_every_value_a_parameter_and_the_sum_cast_to_decimal_38_6(string[] groupBy, int? top, bool filtered)
    {
        var target = new SinkTarget(DatabaseProvider.SqlServer, "Server=x", "AzureCostDetails", null);
        var columns = CostColumnCatalog.Columns.Concat(LineageColumns.All).ToDictionary(c => c.Name, c => Dialect.TypeName(c.Type), System.StringComparer.OrdinalIgnoreCase);
        var query = new CostSummaryQuery
        {
            GroupBy = groupBy.Select(SummaryKey.Parse).ToArray(),
            Top = top,
            Scopes = filtered ? new[] { "/subscriptions/x", "/providers/microsoft.billing/billingaccounts/*_2019-05-31" } : System.Array.Empty<string>(),
            Metrics = filtered ? new[] { "ActualCost" } : System.Array.Empty<string>(),
            From = filtered ? new System.DateTime(2026, 1, 1) : null,
            To = filtered ? new System.DateTime(2026, 3, 31) : null,
        };
        (string sql, _, var parameters) = CostSummary.Build(target, columns, query);
        Assert.IsType<SelectStatement>(Assert.Single(Statements(sql)));
        Assert.Contains("CAST(ROUND(SUM([c]), 6) AS decimal(38,6))", sql, System.StringComparison.Ordinal);
        Assert.Contains("COUNT_BIG(*)", sql, System.StringComparison.Ordinal);
        foreach ((string name, _, _) in parameters)
        {
            Assert.Contains("@" + name, sql, System.StringComparison.Ordinal);
        }

        Assert.DoesNotContain("2026", sql, System.StringComparison.Ordinal);
        Assert.DoesNotContain("env", sql, System.StringComparison.Ordinal);
        Assert.DoesNotContain("/subscriptions/x", sql, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Bulk_copy_destination_name_is_a_two_part_name()
    {
        var target = new SinkTarget(DatabaseProvider.SqlServer, "Server=x", "Cost]s", "bill[ing");
        var select = Assert.IsType<SelectStatement>(Assert.Single(Statements("SELECT 1 FROM " + target.QualifiedTable)));
        var from = ((QuerySpecification)select.QueryExpression).FromClause.TableReferences.Single();
        var name = ((NamedTableReference)from).SchemaObject;
        Assert.Equal("Cost]s", name.BaseIdentifier.Value);
        Assert.Equal("bill[ing", name.SchemaIdentifier.Value);
    }

    [Fact]
    public void Sync_state_table_is_created_only_when_missing_with_its_key()
    {
        var sql = new AzBillingPS.Engine.Sync.SyncStateSql(Dialect, "bill]ing", "Cost]s");
        var statements = Statements(sql.CreateIfMissing());
        var ifStatement = Assert.IsType<IfStatement>(Assert.Single(statements));
        var create = Assert.IsType<CreateTableStatement>(ifStatement.ThenStatement);
        Assert.Equal("Cost]s_SyncState", create.SchemaObjectName.BaseIdentifier.Value);
        Assert.Equal("bill]ing", create.SchemaObjectName.SchemaIdentifier.Value);
        Assert.Equal(AzBillingPS.Engine.Sync.SyncStateSql.Columns, create.Definition.ColumnDefinitions.Select(c => c.ColumnIdentifier.Value));
        var key = Assert.IsType<UniqueConstraintDefinition>(Assert.Single(create.Definition.TableConstraints));
        Assert.True(key.IsPrimaryKey);
        Assert.Equal(new[] { "Scope", "Metric", "Month" }, key.Columns.Select(c => c.Column.MultiPartIdentifier.Identifiers.Last().Value));
        ColumnDefinition rows = create.Definition.ColumnDefinitions.Single(c => c.ColumnIdentifier.Value == "Rows");
        Assert.Equal(SqlDataTypeOption.BigInt, ((SqlDataTypeReference)rows.DataType).SqlDataTypeOption);
        ColumnDefinition started = create.Definition.ColumnDefinitions.Single(c => c.ColumnIdentifier.Value == "StartedAt");
        Assert.Equal(SqlDataTypeOption.DateTime2, ((SqlDataTypeReference)started.DataType).SqlDataTypeOption);
    }

    [Fact]
    public void Sync_state_upsert_updates_under_a_key_range_lock_then_inserts_when_no_row_was_there()
    {
        var sql = new AzBillingPS.Engine.Sync.SyncStateSql(Dialect, "dbo", "AzureCostDetails");
        string text = sql.Upsert(new[] { "Status", "Rows", "ImportId", "FinishedAt" });
        var statements = Statements(text);
        Assert.Equal(2, statements.Count);
        var update = Assert.IsType<UpdateStatement>(statements[0]);
        var target = Assert.IsType<NamedTableReference>(update.UpdateSpecification.Target);
        Assert.Equal("AzureCostDetails_SyncState", target.SchemaObject.BaseIdentifier.Value);
        Assert.Contains(target.TableHints, h => h.HintKind == TableHintKind.UpdLock);
        Assert.Contains(target.TableHints, h => h.HintKind == TableHintKind.Serializable);
        Assert.Equal(new[] { "Status", "Rows", "ImportId", "FinishedAt" },
            update.UpdateSpecification.SetClauses.Cast<AssignmentSetClause>().Select(c => c.Column.MultiPartIdentifier.Identifiers.Last().Value));
        var ifStatement = Assert.IsType<IfStatement>(statements[1]);
        var insert = Assert.IsType<InsertStatement>(ifStatement.ThenStatement);
        Assert.Equal(new[] { "Scope", "Metric", "Month", "Status", "Rows", "ImportId", "FinishedAt" },
            insert.InsertSpecification.Columns.Select(c => c.MultiPartIdentifier.Identifiers.Last().Value));
        foreach (string p in new[] { "@Scope", "@Metric", "@Month", "@Status", "@Rows", "@ImportId", "@FinishedAt" })
        {
            Assert.Contains(p, text);
        }
    }

    [Fact]
    public void Sync_state_select_parses_and_unknown_columns_are_refused()
    {
        var sql = new AzBillingPS.Engine.Sync.SyncStateSql(Dialect, null, "AzureCostDetails");
        Assert.IsType<SelectStatement>(Assert.Single(Statements(sql.Select(byScope: true))));
        Assert.IsType<SelectStatement>(Assert.Single(Statements(sql.Select(byScope: false))));
        Assert.Throws<AzBillingPS.Engine.Common.EngineException>(() => sql.Upsert(new[] { "Scope" }));
        Assert.Throws<AzBillingPS.Engine.Common.EngineException>(() => sql.Upsert(new[] { "x; DROP TABLE y" }));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a\0b")]
    public void Unusable_names_are_refused(string name)
    {
        var e = Assert.Throws<AzBillingPS.Engine.Common.EngineException>(() => Dialect.Quote(name));
        Assert.Equal(AzBillingPS.Engine.Common.EngineErrorKind.InvalidIdentifier, e.Kind);
    }

    [Fact]
    public void Names_longer_than_the_database_keeps_are_refused_not_truncated()
    {
        string name = new('c', 64);
        Assert.Equal("[" + name + "]", SqlServerDialect.Instance.Quote(name));
        var e = Assert.Throws<AzBillingPS.Engine.Common.EngineException>(() => PostgreSqlDialect.Instance.Quote(name));
        Assert.Contains("63", e.Message);

        // SQL Server counts characters (sysname is nvarchar(128)); PostgreSQL counts UTF-8 bytes.
        string accented = new('é', 128);
        Assert.Equal("[" + accented + "]", SqlServerDialect.Instance.Quote(accented));
        Assert.Throws<AzBillingPS.Engine.Common.EngineException>(() => SqlServerDialect.Instance.Quote(accented + "x"));
        Assert.Throws<AzBillingPS.Engine.Common.EngineException>(() => PostgreSqlDialect.Instance.Quote(new string('é', 32)));
    }

    [Theory]
    [InlineData(DatabaseProvider.SqlServer)]
    [InlineData(DatabaseProvider.PostgreSql)]
    public void Derived_names_fit_the_database_keep_prefix_and_suffix_and_differ_for_different_tables(DatabaseProvider provider)
    {
        SqlDialect dialect = SqlDialect.For(provider);
        int max = dialect.MaxIdentifierLength;
        Assert.Equal("IX_AzureCostDetails_ScopeMetricDate", dialect.IndexName("AzureCostDetails"));
        // The longest names the database takes, in ASCII, two-byte characters and with a surrogate pair.
        string[] tables = provider == DatabaseProvider.SqlServer
            ? new[] { new string('t', max), new string('é', max), "😀" + new string('ü', max - 2) }
            : new[] { new string('t', max), new string('é', max / 2), "😀" + new string('ü', (max - 4) / 2) };
        foreach (string table in tables)
        {
            dialect.Validate(table);
            string index = dialect.IndexName(table);
            string state = AzBillingPS.Engine.Sync.SyncStateSql.StateTableName(dialect, table);
            foreach (string derived in new[] { index, state })
            {
                Assert.True(dialect.IdentifierLength(derived) <= max, derived);
                dialect.Validate(derived); // no half surrogate, no overflow
                Assert.Matches("_[0-9a-f]{8}(_ScopeMetricDate|_SyncState)$", derived);
            }

            Assert.StartsWith("IX_", index, System.StringComparison.Ordinal);
            Assert.NotEqual(index, dialect.IndexName(table[..^1] + "x"));
        }
    }

    [Fact]
    public void Lock_resources_name_table_unit_and_month_and_long_ones_are_hashed_for_sp_getapplock()
    {
        Assert.Equal("AZBILLINGPS:DBO.AZURECOSTDETAILS", SqlDialect.LockResource("dbo", "AzureCostDetails"));
        Assert.Equal("AZBILLINGPS:DBO.AZURECOSTDETAILS|/SUBSCRIPTIONS/X|ACTUALCOST", SqlDialect.UnitLockResource("dbo", "AzureCostDetails", "/subscriptions/x", "ActualCost"));
        Assert.Equal("AZBILLINGPS:DBO.AZURECOSTDETAILS|/SUBSCRIPTIONS/X|ACTUALCOST|2026-03", SqlDialect.MonthLockResource("dbo", "AzureCostDetails", "/subscriptions/x", "ActualCost", new System.DateTime(2026, 3, 17)));
        string longOne = SqlDialect.MonthLockResource(new string('s', 128), new string('t', 128), "/providers/Microsoft.Billing/billingAccounts/1234", "AmortizedCost", new System.DateTime(2026, 3, 1));
        string applock = SqlServerSink.AppLockResource(longOne);
        Assert.True(applock.Length <= 255);
        Assert.NotEqual(applock, SqlServerSink.AppLockResource(longOne.Replace("2026-03", "2026-04", System.StringComparison.Ordinal)));
        Assert.Equal("AZBILLINGPS:DBO.T", SqlServerSink.AppLockResource("AZBILLINGPS:DBO.T"));
    }

    [Fact]
    public void Export_state_table_and_period_delete_parse_as_T_SQL()
    {
        var store = new AzBillingPS.Engine.Exports.ExportStateStore(new SinkTarget(DatabaseProvider.SqlServer, "Server=x;Database=y", "AzureCostFocus", null));
        Assert.Equal("[dbo].[AzureCostFocus_ExportState]", store.QualifiedTable);
        Assert.Single(Statements(store.CreateIfMissingSql()));
        Assert.Equal(2, Statements(store.UpsertSql()).Count);
        Assert.IsType<SelectStatement>(Statements(store.SelectSql()).Single());
        string delete = Dialect.DeletePeriod("dbo", "AzureCostFocus", LineageColumns.PeriodStart);
        Assert.IsType<DeleteStatement>(Statements(delete).Single());
        Assert.Contains("[_PeriodStart] >= @from", delete, System.StringComparison.Ordinal);
        Assert.IsType<CreateIndexStatement>(Statements(Dialect.CreateIndex("dbo", "AzureCostFocus", LineageColumns.PeriodStart)).Single());
    }
}
