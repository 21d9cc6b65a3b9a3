using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
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

    /// <summary>Longest identifier the database keeps without truncating it, counted as <see cref="IdentifierLength"/> counts.</summary>
    public abstract int MaxIdentifierLength { get; }

    /// <summary>What the limit counts: UTF-8 bytes (PostgreSQL, SQLite) or UTF-16 characters (SQL Server's sysname).</summary>
    public virtual int IdentifierLength(string identifier) => Encoding.UTF8.GetByteCount(identifier);

    /// <summary>What <see cref="MaxIdentifierLength"/> counts, for messages.</summary>
    protected virtual string LengthUnit => "bytes";

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

        if (IdentifierLength(identifier) > MaxIdentifierLength)
        {
            throw new EngineException(EngineErrorKind.InvalidIdentifier,
                string.Create(CultureInfo.InvariantCulture, $"The name '{identifier}' is longer than {Provider} allows ({IdentifierLength(identifier)} {LengthUnit}; at most {MaxIdentifierLength}); it would be truncated. Choose a shorter -Table or -Schema."));
        }
    }

    /// <summary>
    /// A name the module derives from <paramref name="baseName"/> (an index, the sync state table): prefix + base +
    /// suffix when that fits the database's limit; otherwise the base is shortened and followed by '_' and eight hex
    /// digits of its SHA-256, so two long base names that share a beginning still get different names. The prefix and
    /// suffix are kept, so the name still says what it is.
    /// </summary>
    public string DeriveName(string prefix, string baseName, string suffix)
    {
        ArgumentNullException.ThrowIfNull(baseName);
        string full = prefix + baseName + suffix;
        if (IdentifierLength(full) <= MaxIdentifierLength)
        {
            return full;
        }

        string hash = "_" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(baseName)), 0, 4).ToLowerInvariant();
        int room = MaxIdentifierLength - IdentifierLength(prefix + hash + suffix);
        var kept = new StringBuilder();
        foreach (System.Text.Rune rune in baseName.EnumerateRunes())
        {
            if (IdentifierLength(kept.ToString() + rune.ToString()) > room)
            {
                break;
            }

            kept.Append(rune.ToString());
        }

        return prefix + kept + hash + suffix;
    }

    /// <summary>The name of the (scope, metric, date) index of a cost table.</summary>
    public string IndexName(string table) => DeriveName("IX_", table, "_ScopeMetricDate");

    public string QualifiedTable(string? schema, string table)
        => schema is null || DefaultSchema is null ? Quote(table) : Quote(schema) + "." + Quote(table);

    public abstract string TypeName(CostColumnType type);

    /// <summary>The type a column gets when the module creates it (its catalog name may size it; see SqlServerDialect).</summary>
    public virtual string ColumnTypeName(CostColumn column)
    {
        ArgumentNullException.ThrowIfNull(column);
        return TypeName(column.Type);
    }

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

    /// <summary>Lineage columns get narrow, indexable types; everything else <see cref="ColumnTypeName"/>.</summary>
    protected virtual string LineageTypeName(CostColumn column) => ColumnTypeName(column);

    /// <summary>The (scope, metric, date) index, built after the first load's rows are in (SQL Server: the clustered index, or a clustered columnstore index).</summary>
    public virtual string CreateIndex(string? schema, string table, string periodColumn = CostColumnCatalog.DateColumn, bool columnstore = false)
        => $"CREATE INDEX {Quote(IndexName(table))} ON {QualifiedTable(schema, table)} ({Quote(LineageColumns.Scope)}, {Quote(LineageColumns.Metric)}, {Quote(periodColumn)})";

    public string AddColumn(string? schema, string table, CostColumn column)
        => $"ALTER TABLE {QualifiedTable(schema, table)} ADD {Quote(column.Name)} {ColumnTypeName(column)}";

    /// <summary>Creates the schema when it does not exist (SQL Server: parameter <c>@schema</c>); null where the database has no schemas.</summary>
    public abstract string? CreateSchema(string schema);

    /// <summary>
    /// Whether a new table's (scope, metric, date) index is made before the first load's rows go in (kept up to date row
    /// by row, as for every later load) rather than built after them. PostgreSQL and SQLite: before. Measured on a
    /// 1,000,000-row EA file, the build after the load reads every row back and, on PostgreSQL, takes each tuple apart up
    /// to the lineage columns at the end of a 64-column row: 2.2 s of server CPU against 1.1 s for keeping the index up to
    /// date during the COPY (whole first load 7.4 s -> 6.2 s of server CPU, for 15% more WAL); SQLite 7.4 s -> 6.8 s of
    /// CPU and less memory (no sort). SQL Server builds its clustered index after the load.
    /// </summary>
    public virtual bool IndexBeforeFirstLoad => false;

    /// <summary>
    /// Statistics for a table the first load just filled (null where building the index made them, as on SQL Server):
    /// without them PostgreSQL plans the next load's DELETE as an index scan, which visits heap pages in key order,
    /// many times each, and logs a full-page image at each visit after a checkpoint (measured: 6 times the WAL).
    /// Only the columns that DELETE filters on are analyzed: the plan needs their statistics and the table's row count,
    /// which any ANALYZE sets, and the other columns' statistics cost the load several times more (a sample of every
    /// column, JSON text included). A column-list ANALYZE leaves the table's change counter as it was, so autovacuum
    /// analyzes the whole table after the load has committed.
    /// </summary>
    public virtual string? AnalyzeNewTable(string? schema, string table, string periodColumn = CostColumnCatalog.DateColumn) => null;

    /// <summary>How many schemas are named <c>@schema</c> (0 or 1): the check before creating one, which needs no privilege.</summary>
    public virtual string SchemaExists() => "SELECT count(*) FROM information_schema.schemata WHERE schema_name = @schema";

    /// <summary>Bounds every lock wait of the session that follows, in milliseconds (null where the connection does it: SQLite's busy timeout is a pragma).</summary>
    public abstract string SetLockTimeout(long milliseconds);

    /// <summary>
    /// Removes the rows of one scope and metric dated within a period (the rows a load replaces). The period column is
    /// Date for cost details; export datasets without a row date use the lineage column _PeriodStart (the month loaded).
    /// </summary>
    public string DeletePeriod(string? schema, string table, string periodColumn = CostColumnCatalog.DateColumn)
        => $"DELETE FROM {QualifiedTable(schema, table)} WHERE {Quote(LineageColumns.Scope)} = {Parameter("scope")} AND {Quote(LineageColumns.Metric)} = {Parameter("metric")} AND {Quote(periodColumn)} >= {Parameter("from")} AND {Quote(periodColumn)} <= {Parameter("to")}";

    /// <summary>A query naming the table's columns (parameters: schema, table).</summary>
    public abstract string ListColumns(string? schema, string table);

    /// <summary>
    /// Takes an application lock inside the current transaction, released when it ends (parameter: resource; SQL Server
    /// also mode and timeoutMs, and returns sp_getapplock's result).
    /// </summary>
    public abstract string Lock(bool sharedMode = false);

    public abstract string Parameter(string name);

    /// <summary>
    /// The table-wide lock's resource: taken, exclusively, only to create the table (for the whole first load) or to
    /// add columns (in its own short transaction). Loads of units never take it.
    /// </summary>
    public static string LockResource(string? schema, string table) => $"AzBillingPS:{schema}.{table}".ToUpperInvariant();

    /// <summary>
    /// The lock of one scope and metric in a table: every load takes it shared (and one covering more than
    /// <see cref="MaxMonthLocks"/> months exclusively), so that a load of many months and loads of single months of the
    /// same scope and metric never overlap.
    /// </summary>
    public static string UnitLockResource(string? schema, string table, string scope, string metric)
        => $"AzBillingPS:{schema}.{table}|{scope}|{metric}".ToUpperInvariant();

    /// <summary>
    /// The lock of one month of one scope and metric in a table, taken exclusively by every load whose period touches
    /// the month: two loads whose periods overlap share a month, so they run one after the other; loads of different
    /// scopes, metrics or months run at once.
    /// </summary>
    public static string MonthLockResource(string? schema, string table, string scope, string metric, DateTime month)
        => UnitLockResource(schema, table, scope, metric) + "|" + month.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    /// <summary>The lock taken while a schema is created, so two first loads into a new schema do not both create it.</summary>
    public static string SchemaLockResource(string schema) => $"AzBillingPS:schema:{schema}".ToUpperInvariant();

    /// <summary>A load whose period covers more months than this locks its whole scope and metric instead of each month.</summary>
    public const int MaxMonthLocks = 36;

}

internal sealed class SqlServerDialect : SqlDialect
{
    public static readonly SqlServerDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.SqlServer;

    public override string? DefaultSchema => "dbo";

    /// <summary>sysname is nvarchar(128): 128 UTF-16 characters.</summary>
    public override int MaxIdentifierLength => 128;

    public override int IdentifierLength(string identifier) => identifier?.Length ?? 0;

    protected override string LengthUnit => "characters";

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

    /// <summary>
    /// Text columns whose values are known to be short get a sized nvarchar (an index key, a columnstore segment and a
    /// memory grant all work better with one); every other text column, and every column the catalog does not know,
    /// stays nvarchar(max). The sizes leave a wide margin over the published limits (currency codes are 3 letters,
    /// Azure resource names at most 260 characters); a longer value fails the load with an error naming file, line and
    /// column, and the column can be widened with ALTER TABLE ... ALTER COLUMN.
    /// </summary>
    public override string ColumnTypeName(CostColumn column)
    {
        ArgumentNullException.ThrowIfNull(column);
        return column.Type == CostColumnType.Text && TextLengths.TryGetValue(column.Name, out int length)
            ? string.Create(CultureInfo.InvariantCulture, $"nvarchar({length})")
            : TypeName(column.Type);
    }

    /// <summary>The sized text columns (see <see cref="ColumnTypeName"/>).</summary>
    public static IReadOnlyDictionary<string, int> TextLengths { get; } = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase)
    {
        // Codes and enumerations
        ["BillingCurrencyCode"] = 16, ["PricingCurrency"] = 16,
        ["ChargeType"] = 64, ["Frequency"] = 64, ["PricingModel"] = 64, ["PublisherType"] = 64, ["Term"] = 64, ["Provider"] = 64,
        ["AvailabilityZone"] = 64, ["UnitOfMeasure"] = 128, ["OfferId"] = 128, ["PartNumber"] = 128, ["ResellerMpnId"] = 128,
        ["InvoiceId"] = 128, ["PreviousInvoiceId"] = 128,
        ["ResourceLocation"] = 128, ["ResourceLocationNormalized"] = 128, ["Location"] = 128, ["MeterRegion"] = 128,

        // Ids (some are resource ids) and names
        ["InvoiceSectionId"] = 256, ["AccountOwnerId"] = 256, ["BillingAccountId"] = 256, ["BillingProfileId"] = 256,
        ["AccountId"] = 256, ["ProductId"] = 256, ["PublisherId"] = 256, ["SubscriptionId"] = 256, ["MeterId"] = 256,
        ["ReservationId"] = 512, ["ProductOrderId"] = 512, ["BenefitId"] = 512,
        ["AccountName"] = 256, ["SubscriptionName"] = 256, ["ResourceGroup"] = 256, ["InvoiceSectionName"] = 256,
        ["BillingAccountName"] = 256, ["BillingProfileName"] = 256, ["ResellerName"] = 256, ["CostCenter"] = 256,
        ["MeterCategory"] = 256, ["MeterSubCategory"] = 256, ["MeterName"] = 256, ["ServiceFamily"] = 256, ["ConsumedService"] = 256,
        ["PublisherName"] = 256, ["PlanName"] = 256, ["CostAllocationRuleName"] = 256,
        ["ResourceName"] = 512, ["ProductName"] = 512, ["ReservationName"] = 512, ["ProductOrderName"] = 512, ["BenefitName"] = 512,
    };

    protected override string LineageTypeName(CostColumn column) => column.Name switch
    {
        LineageColumns.Scope => "nvarchar(400) NOT NULL",
        LineageColumns.Metric => "nvarchar(32) NOT NULL",
        LineageColumns.SourceFile => "nvarchar(1024) NULL",
        _ => ColumnTypeName(column),
    };

    /// <summary>
    /// The clustered index on (_Scope, _Metric, Date) by default: the monthly delete of a unit then reads and frees
    /// whole pages of one range (a heap's emptied pages are not reclaimed under row versioning, Azure SQL's default);
    /// or a clustered columnstore index (SQL Server 2017+, Azure SQL) for analytics-heavy use.
    /// </summary>
    public override string CreateIndex(string? schema, string table, string periodColumn = CostColumnCatalog.DateColumn, bool columnstore = false)
        => columnstore
            ? $"CREATE CLUSTERED COLUMNSTORE INDEX {Quote(DeriveName("CCI_", table, string.Empty))} ON {QualifiedTable(schema, table)}"
            : $"CREATE CLUSTERED INDEX {Quote(IndexName(table))} ON {QualifiedTable(schema, table)} ({Quote(LineageColumns.Scope)}, {Quote(LineageColumns.Metric)}, {Quote(periodColumn)})";

    /// <summary>The kind of the table's clustered index or heap (sys.indexes.type of index 0 or 1: 0 heap, 1 clustered, 5 clustered columnstore; parameter: table, the quoted two-part name).</summary>
    public static string TableStorage()
        => "SELECT TOP (1) i.type FROM sys.indexes AS i WHERE i.object_id = OBJECT_ID(@table) AND i.index_id IN (0, 1)";

    public override string ListColumns(string? schema, string table)
        => "SELECT c.name FROM sys.columns AS c JOIN sys.tables AS t ON t.object_id = c.object_id JOIN sys.schemas AS s ON s.schema_id = t.schema_id WHERE s.name = @schema AND t.name = @table ORDER BY c.column_id";

    /// <summary>sp_getapplock's result: 0 or 1 granted, -1 timed out, -2 cancelled, -3 chosen as deadlock victim, -999 a parameter or other error.</summary>
    public override string Lock(bool sharedMode = false)
        => "DECLARE @result int; EXEC @result = sp_getapplock @Resource = @resource, @LockMode = @mode, @LockOwner = N'Transaction', @LockTimeout = @timeoutMs; SELECT @result;";

    /// <summary>CREATE SCHEMA must be alone in its batch: it runs through sp_executesql, its name quoted by QUOTENAME on the server.</summary>
    public override string? CreateSchema(string schema)
        => "IF SCHEMA_ID(@schema) IS NULL\nBEGIN\n  DECLARE @create nvarchar(300) = N'CREATE SCHEMA ' + QUOTENAME(@schema);\n  EXEC sys.sp_executesql @create;\nEND";

    public override string SetLockTimeout(long milliseconds)
        => string.Create(CultureInfo.InvariantCulture, $"SET LOCK_TIMEOUT {Math.Clamp(milliseconds, 0, int.MaxValue)}");

    public override string SchemaExists() => "SELECT COUNT(*) FROM sys.schemas WHERE name = @schema";

    public override string Parameter(string name) => "@" + name;
}

internal sealed class PostgreSqlDialect : SqlDialect
{
    public static readonly PostgreSqlDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.PostgreSql;

    public override string? DefaultSchema => "public";

    /// <summary>NAMEDATALEN - 1: longer names are truncated (with only a NOTICE).</summary>
    public override int MaxIdentifierLength => 63;

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

    public override string Lock(bool sharedMode = false)
        => sharedMode ? "SELECT pg_advisory_xact_lock_shared(hashtextextended(@resource, 0))" : "SELECT pg_advisory_xact_lock(hashtextextended(@resource, 0))";

    public override string? CreateSchema(string schema) => $"CREATE SCHEMA IF NOT EXISTS {Quote(schema)}";

    public override bool IndexBeforeFirstLoad => true;

    public override string? AnalyzeNewTable(string? schema, string table, string periodColumn = CostColumnCatalog.DateColumn)
        => $"ANALYZE {QualifiedTable(schema, table)} ({Quote(LineageColumns.Scope)}, {Quote(LineageColumns.Metric)}, {Quote(periodColumn)})";

    public override string SetLockTimeout(long milliseconds)
        => string.Create(CultureInfo.InvariantCulture, $"SET lock_timeout = {Math.Max(1, milliseconds)}");

    public override string Parameter(string name) => "@" + name;
}

internal sealed class SqliteDialect : SqlDialect
{
    public static readonly SqliteDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    public override string? DefaultSchema => null;

    public override int MaxIdentifierLength => 1024;

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

    public override bool IndexBeforeFirstLoad => true;

    public override string ListColumns(string? schema, string table) => "SELECT name FROM pragma_table_info(@table)";

    public override string Lock(bool sharedMode = false) => string.Empty; // BEGIN IMMEDIATE takes the database's write lock

    public override string? CreateSchema(string schema) => null;

    public override string SetLockTimeout(long milliseconds)
        => string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {Math.Clamp(milliseconds, 0, int.MaxValue)}");

    public override string Parameter(string name) => "@" + name;
}
