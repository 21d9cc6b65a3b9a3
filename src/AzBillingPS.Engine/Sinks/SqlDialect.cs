using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;

namespace AzBillingPS.Engine.Sinks;

/// <summary>The databases the module loads into.</summary>
public enum DatabaseProvider
{
    Sqlite,
    PostgreSql,
    SqlServer,
}

/// <summary>
/// Every SQL statement a sink sends, generated in one place per database so it can be read, reviewed and
/// (for T-SQL) parsed by ScriptDom in the tests. Identifiers are always quoted; values are always parameters.
/// </summary>
public abstract class SqlDialect
{
    public abstract DatabaseProvider Provider { get; }

    /// <summary>The schema used when the caller names none (null where the database has no schemas).</summary>
    public abstract string? DefaultSchema { get; }

    /// <summary>Longest identifier the database keeps without truncating it.</summary>
    protected abstract int MaxIdentifierBytes { get; }

    public static SqlDialect For(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.SqlServer => SqlServerDialect.Instance,
        DatabaseProvider.PostgreSql => PostgreSqlDialect.Instance,
        _ => SqliteDialect.Instance,
    };

    /// <summary>Quotes an identifier, after checking the database can hold it as given.</summary>
    public string Quote(string identifier)
    {
        Validate(identifier);
        return QuoteCore(identifier);
    }

    protected abstract string QuoteCore(string identifier);

    public void Validate(string identifier)
    {
        if (string.IsNullOrWhiteSpace(identifier))
        {
            throw new EngineException(EngineErrorKind.InvalidIdentifier, "An empty name cannot be a table or column name.");
        }

        if (identifier.Contains('\0', StringComparison.Ordinal))
        {
            throw new EngineException(EngineErrorKind.InvalidIdentifier, $"The name '{identifier.Replace("\0", "\\0", StringComparison.Ordinal)}' contains a NUL character and cannot be a table or column name.");
        }

        if (Encoding.UTF8.GetByteCount(identifier) > MaxIdentifierBytes)
        {
            throw new EngineException(EngineErrorKind.InvalidIdentifier,
                string.Create(CultureInfo.InvariantCulture, $"The name '{identifier}' is longer than {Provider} allows ({MaxIdentifierBytes} bytes); it would be truncated."));
        }
    }

    public string QualifiedTable(string? schema, string table)
        => schema is null || DefaultSchema is null ? Quote(table) : Quote(schema) + "." + Quote(table);

    public abstract string TypeName(CostColumnType type);

    public string CreateTable(string? schema, string table, IEnumerable<CostColumn> columns)
    {
        var sb = new StringBuilder();
        sb.Append("CREATE TABLE ").Append(QualifiedTable(schema, table)).Append(" (");
        bool first = true;
        foreach (CostColumn c in columns)
        {
            sb.Append(first ? "\n  " : ",\n  ").Append(Quote(c.Name)).Append(' ').Append(LineageTypeName(c));
            first = false;
        }

        sb.Append("\n)");
        return sb.ToString();
    }

    /// <summary>Lineage columns get narrow, indexable types; everything else the type's general name.</summary>
    protected virtual string LineageTypeName(CostColumn column) => TypeName(column.Type);

    public string CreateIndex(string? schema, string table, string periodColumn = CostColumnCatalog.DateColumn)
        => $"CREATE INDEX {Quote("IX_" + table + "_ScopeMetricDate")} ON {QualifiedTable(schema, table)} ({Quote(LineageColumns.Scope)}, {Quote(LineageColumns.Metric)}, {Quote(periodColumn)})";

    public string AddColumn(string? schema, string table, CostColumn column)
        => $"ALTER TABLE {QualifiedTable(schema, table)} ADD {Quote(column.Name)} {TypeName(column.Type)}";

    /// <summary>
    /// Removes the rows of one scope and metric dated within a period (the rows a load replaces). The period column is
    /// Date for cost details; export datasets without a row date use the lineage column _PeriodStart (the month loaded).
    /// </summary>
    public string DeletePeriod(string? schema, string table, string periodColumn = CostColumnCatalog.DateColumn)
        => $"DELETE FROM {QualifiedTable(schema, table)} WHERE {Quote(LineageColumns.Scope)} = {Parameter("scope")} AND {Quote(LineageColumns.Metric)} = {Parameter("metric")} AND {Quote(periodColumn)} >= {Parameter("from")} AND {Quote(periodColumn)} <= {Parameter("to")}";

    /// <summary>A query naming the table's columns (parameters: schema, table).</summary>
    public abstract string ListColumns(string? schema, string table);

    /// <summary>Takes the load lock for the table inside the current transaction (parameter: resource).</summary>
    public abstract string Lock();

    public abstract string Parameter(string name);

    /// <summary>The lock's resource name: one per table, so loads into one table never interleave.</summary>
    public static string LockResource(string? schema, string table) => $"AzBillingPS:{schema}.{table}".ToUpperInvariant();
}

public sealed class SqlServerDialect : SqlDialect
{
    public static readonly SqlServerDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.SqlServer;

    public override string? DefaultSchema => "dbo";

    protected override int MaxIdentifierBytes => 128; // characters in SQL Server; UTF-8 bytes is the stricter count

    protected override string QuoteCore(string identifier) => "[" + identifier.Replace("]", "]]", StringComparison.Ordinal) + "]";

    /// <summary>Decimal scale on SQL Server: decimal(38,20) keeps 18 integer digits (sums of a month do not overflow) and 20 fractional ones.</summary>
    public const int DecimalScale = 20;

    public override string TypeName(CostColumnType type) => type switch
    {
        CostColumnType.Date => "date",
        CostColumnType.Decimal => "decimal(38,20)",
        CostColumnType.Boolean => "bit",
        CostColumnType.Guid => "uniqueidentifier",
        CostColumnType.Timestamp => "datetime2(3)",
        _ => "nvarchar(max)",
    };

    protected override string LineageTypeName(CostColumn column) => column.Name switch
    {
        LineageColumns.Scope => "nvarchar(400) NOT NULL",
        LineageColumns.Metric => "nvarchar(32) NOT NULL",
        LineageColumns.SourceFile => "nvarchar(1024) NULL",
        _ => TypeName(column.Type),
    };

    public override string ListColumns(string? schema, string table)
        => "SELECT c.name FROM sys.columns AS c JOIN sys.tables AS t ON t.object_id = c.object_id JOIN sys.schemas AS s ON s.schema_id = t.schema_id WHERE s.name = @schema AND t.name = @table";

    public override string Lock()
        => "DECLARE @result int; EXEC @result = sp_getapplock @Resource = @resource, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = @timeoutMs; SELECT @result;";

    public override string Parameter(string name) => "@" + name;
}

public sealed class PostgreSqlDialect : SqlDialect
{
    public static readonly PostgreSqlDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.PostgreSql;

    public override string? DefaultSchema => "public";

    protected override int MaxIdentifierBytes => 63;

    protected override string QuoteCore(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public override string TypeName(CostColumnType type) => type switch
    {
        CostColumnType.Date => "date",
        CostColumnType.Decimal => "numeric",
        CostColumnType.Boolean => "boolean",
        CostColumnType.Guid => "uuid",
        CostColumnType.Timestamp => "timestamptz",
        CostColumnType.Json => "jsonb",
        _ => "text",
    };

    protected override string LineageTypeName(CostColumn column) => column.Name switch
    {
        LineageColumns.Scope or LineageColumns.Metric => "text NOT NULL",
        _ => TypeName(column.Type),
    };

    public override string ListColumns(string? schema, string table)
        => "SELECT column_name FROM information_schema.columns WHERE table_schema = @schema AND table_name = @table";

    public override string Lock() => "SELECT pg_advisory_xact_lock(hashtextextended(@resource, 0))";

    public override string Parameter(string name) => "@" + name;
}

public sealed class SqliteDialect : SqlDialect
{
    public static readonly SqliteDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    public override string? DefaultSchema => null;

    protected override int MaxIdentifierBytes => 1024;

    protected override string QuoteCore(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>
    /// SQLite has no decimal type: money is stored as REAL (IEEE 754 double, 15 to 17 significant digits).
    /// Dates are ISO text (yyyy-MM-dd), which sorts and compares correctly.
    /// </summary>
    public override string TypeName(CostColumnType type) => type switch
    {
        CostColumnType.Decimal => "REAL",
        CostColumnType.Boolean => "INTEGER",
        _ => "TEXT",
    };

    public override string ListColumns(string? schema, string table) => "SELECT name FROM pragma_table_info(@table)";

    public override string Lock() => string.Empty; // BEGIN IMMEDIATE takes the database's write lock

    public override string Parameter(string name) => "@" + name;
}
