using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// The SQL of the sync state table, one statement per purpose and database, generated in one place so it can be
/// read and (for T-SQL) parsed by ScriptDom in the tests. Identifiers are quoted by the sink's dialect; values are
/// always parameters (named after their column).
/// </summary>
/// <remarks>
/// The state table is named <c>&lt;cost table&gt;_SyncState</c> and lives in the cost table's schema, so each cost
/// table has its own history. One row per (scope, metric, month): the columns that describe the data in the cost
/// table (<see cref="SyncStateColumns.IsFinal"/>, rows, bytes, import id, <see cref="SyncStateColumns.LoadedAt"/>) change
/// only when a load commits, in the load's own transaction; the columns that describe the last attempt (status,
/// started, finished, operation id, error, run id, host) change at every attempt.
/// </remarks>
internal sealed class SyncStateSql
{
    public const string TableSuffix = "_SyncState";

    public SyncStateSql(SqlDialect dialect, string? schema, string costTable)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        ArgumentNullException.ThrowIfNull(costTable);
        Dialect = dialect;
        Schema = schema ?? dialect.DefaultSchema;
        Table = StateTableName(dialect, costTable);
        dialect.Validate(Table);
    }

    public SqlDialect Dialect { get; }

    public string? Schema { get; }

    /// <summary>The state table's bare name.</summary>
    public string Table { get; }

    public string QualifiedTable => Dialect.QualifiedTable(Schema, Table);

    /// <summary>
    /// The state table of a cost table: <c>&lt;cost table&gt;_SyncState</c>, or, when that is longer than the database
    /// allows (PostgreSQL: 63 bytes; SQL Server: 128 characters), the cost table's name shortened and followed by '_' and
    /// eight hex digits of its hash, then <c>_SyncState</c>.
    /// </summary>
    public static string StateTableName(SqlDialect dialect, string costTable)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        return dialect.DeriveName(string.Empty, costTable, TableSuffix);
    }

    /// <summary>Every column, in table order, with its type per database.</summary>
    public static IReadOnlyList<string> Columns { get; } = new[]
    {
        SyncStateColumns.Scope, SyncStateColumns.Metric, SyncStateColumns.Month, SyncStateColumns.Status, SyncStateColumns.IsFinal,
        SyncStateColumns.PeriodStart, SyncStateColumns.PeriodEnd, SyncStateColumns.Rows, SyncStateColumns.Bytes, SyncStateColumns.Blobs,
        SyncStateColumns.OperationId, SyncStateColumns.ImportId, SyncStateColumns.StartedAt, SyncStateColumns.FinishedAt,
        SyncStateColumns.LoadedAt, SyncStateColumns.Error, SyncStateColumns.RunId, SyncStateColumns.Host,
    };

    private static readonly string[] Key = { SyncStateColumns.Scope, SyncStateColumns.Metric, SyncStateColumns.Month };

    /// <summary>The kind of value a column holds (drives its SQL type and how parameters are bound).</summary>
    public static SyncStateColumnKind KindOf(string column) => column switch
    {
        SyncStateColumns.IsFinal => SyncStateColumnKind.Boolean,
        SyncStateColumns.PeriodStart or SyncStateColumns.PeriodEnd => SyncStateColumnKind.Date,
        SyncStateColumns.Rows or SyncStateColumns.Bytes => SyncStateColumnKind.Int64,
        SyncStateColumns.Blobs => SyncStateColumnKind.Int32,
        SyncStateColumns.ImportId or SyncStateColumns.RunId => SyncStateColumnKind.Guid,
        SyncStateColumns.StartedAt or SyncStateColumns.FinishedAt or SyncStateColumns.LoadedAt => SyncStateColumnKind.Timestamp,
        _ => SyncStateColumnKind.Text,
    };

    private string TypeOf(string column)
    {
        SyncStateColumnKind kind = KindOf(column);
        return Dialect.Provider switch
        {
            DatabaseProvider.SqlServer => column switch
            {
                SyncStateColumns.Scope => "nvarchar(400) NOT NULL",
                SyncStateColumns.Metric => "nvarchar(32) NOT NULL",
                SyncStateColumns.Month => "char(7) NOT NULL",
                SyncStateColumns.Status => "nvarchar(16) NOT NULL",
                SyncStateColumns.IsFinal => "bit NOT NULL DEFAULT 0",
                SyncStateColumns.OperationId => "nvarchar(200) NULL",
                SyncStateColumns.Host => "nvarchar(256) NULL",
                _ => kind switch
                {
                    SyncStateColumnKind.Date => "date NULL",
                    SyncStateColumnKind.Int64 => "bigint NULL",
                    SyncStateColumnKind.Int32 => "int NULL",
                    SyncStateColumnKind.Guid => "uniqueidentifier NULL",
                    SyncStateColumnKind.Timestamp => "datetime2(3) NULL",
                    _ => "nvarchar(max) NULL",
                },
            },
            DatabaseProvider.PostgreSql => column switch
            {
                SyncStateColumns.Scope or SyncStateColumns.Metric or SyncStateColumns.Month or SyncStateColumns.Status => "text NOT NULL",
                SyncStateColumns.IsFinal => "boolean NOT NULL DEFAULT false",
                _ => kind switch
                {
                    SyncStateColumnKind.Date => "date",
                    SyncStateColumnKind.Int64 => "bigint",
                    SyncStateColumnKind.Int32 => "integer",
                    SyncStateColumnKind.Guid => "uuid",
                    SyncStateColumnKind.Timestamp => "timestamptz",
                    _ => "text",
                },
            },
            _ => column switch
            {
                SyncStateColumns.Scope or SyncStateColumns.Metric or SyncStateColumns.Month or SyncStateColumns.Status => "TEXT NOT NULL",
                SyncStateColumns.IsFinal => "INTEGER NOT NULL DEFAULT 0",
                _ => kind is SyncStateColumnKind.Int64 or SyncStateColumnKind.Int32 ? "INTEGER" : "TEXT",
            },
        };
    }

    /// <summary>Creates the state table when it does not exist (SQL Server: parameter <c>@stateTable</c>, the quoted two-part name).</summary>
    public string CreateIfMissing()
    {
        var sb = new StringBuilder();
        sb.Append(Dialect.Provider == DatabaseProvider.SqlServer
            ? "IF OBJECT_ID(@stateTable, N'U') IS NULL CREATE TABLE "
            : "CREATE TABLE IF NOT EXISTS ");
        sb.Append(QualifiedTable).Append(" (");
        foreach (string c in Columns)
        {
            sb.Append("\n  ").Append(Dialect.Quote(c)).Append(' ').Append(TypeOf(c)).Append(',');
        }

        sb.Append("\n  PRIMARY KEY (").Append(string.Join(", ", Key.Select(Dialect.Quote))).Append(")\n)");
        return sb.ToString();
    }

    /// <summary>
    /// Inserts the row of (Scope, Metric, Month), or updates the given columns of the existing one. Parameters: the
    /// key columns and <paramref name="columns"/>, each named after its column. SQL Server: UPDATE with UPDLOCK and
    /// SERIALIZABLE, then INSERT when no row was there (run it inside a transaction); the others: INSERT .. ON CONFLICT.
    /// </summary>
    public string Upsert(IReadOnlyList<string> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        foreach (string c in columns)
        {
            if (!Columns.Contains(c, StringComparer.Ordinal) || Key.Contains(c, StringComparer.Ordinal))
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"'{c}' is not an updatable column of the sync state table.");
            }
        }

        var all = Key.Concat(columns).ToList();
        string insertColumns = string.Join(", ", all.Select(Dialect.Quote));
        string insertValues = string.Join(", ", all.Select(Dialect.Parameter));
        if (Dialect.Provider == DatabaseProvider.SqlServer)
        {
            string set = string.Join(", ", columns.Select(c => $"{Dialect.Quote(c)} = {Dialect.Parameter(c)}"));
            string where = string.Join(" AND ", Key.Select(c => $"{Dialect.Quote(c)} = {Dialect.Parameter(c)}"));
            return $"UPDATE {QualifiedTable} WITH (UPDLOCK, SERIALIZABLE) SET {set} WHERE {where};\n"
                + $"IF @@ROWCOUNT = 0 INSERT INTO {QualifiedTable} ({insertColumns}) VALUES ({insertValues});";
        }

        string excluded = string.Join(", ", columns.Select(c => $"{Dialect.Quote(c)} = excluded.{Dialect.Quote(c)}"));
        return $"INSERT INTO {QualifiedTable} ({insertColumns}) VALUES ({insertValues}) ON CONFLICT ({string.Join(", ", Key.Select(Dialect.Quote))}) DO UPDATE SET {excluded}";
    }

    /// <summary>Every row (optionally of one scope: parameter <c>scope</c>), ordered by scope, metric and month.</summary>
    public string Select(bool byScope)
    {
        string where = byScope ? $" WHERE {Dialect.Quote(SyncStateColumns.Scope)} = {Dialect.Parameter("scope")}" : string.Empty;
        return $"SELECT {string.Join(", ", Columns.Select(Dialect.Quote))} FROM {QualifiedTable}{where} ORDER BY {string.Join(", ", Key.Select(Dialect.Quote))}";
    }
}

/// <summary>The state table's column names.</summary>
internal static class SyncStateColumns
{
    public const string Scope = "Scope";
    public const string Metric = "Metric";
    public const string Month = "Month";
    public const string Status = "Status";
    public const string IsFinal = "IsFinal";
    public const string PeriodStart = "PeriodStart";
    public const string PeriodEnd = "PeriodEnd";
    public const string Rows = "Rows";
    public const string Bytes = "Bytes";
    public const string Blobs = "Blobs";
    public const string OperationId = "OperationId";
    public const string ImportId = "ImportId";
    public const string StartedAt = "StartedAt";
    public const string FinishedAt = "FinishedAt";
    public const string LoadedAt = "LoadedAt";
    public const string Error = "Error";
    public const string RunId = "RunId";
    public const string Host = "Host";
}

internal enum SyncStateColumnKind
{
    Text,
    Boolean,
    Date,
    Int32,
    Int64,
    Guid,
    Timestamp,
}
