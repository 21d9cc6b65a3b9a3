using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Exports;

/// <summary>One row of an export state table: the run of one export and month whose rows the data table holds.</summary>
internal sealed record ExportStateRow(string Export, string Month, string Scope, string Dataset, string RunId, DateTime SubmittedTime, string Manifest, long Rows, long Bytes, int Blobs, Guid ImportId, DateTime LoadedAt, string? Host);

/// <summary>
/// The state table next to each table exports load into (<c>&lt;table&gt;_ExportState</c>, in the same schema): one row
/// per (export, month) naming the run whose rows the table holds. It is created and written inside the load's own
/// transaction, so the rows and the state can never disagree; a run already recorded is skipped, a newer one replaces it.
/// </summary>
internal sealed class ExportStateStore
{
    public const string TableSuffix = "_ExportState";

    private static readonly string[] Key = ["Export", "Month"];
    private static readonly string[] Columns = ["Export", "Month", "Scope", "Dataset", "RunId", "SubmittedTime", "Manifest", "Rows", "Bytes", "Blobs", "ImportId", "LoadedAt", "Host"];

    private readonly SqlDialect _dialect;
    private readonly CostSink _sink;

    public ExportStateStore(SinkTarget dataTarget)
    {
        ArgumentNullException.ThrowIfNull(dataTarget);
        _dialect = dataTarget.Dialect;
        Table = _dialect.DeriveName(string.Empty, dataTarget.Table, TableSuffix); // shortened with a hash when too long for the database
        _dialect.Validate(Table);
        Target = dataTarget with { Table = Table };
        _sink = CostSink.Create(Target);
    }

    public string Table { get; }

    public SinkTarget Target { get; }

    public string QualifiedTable => Target.QualifiedTable;

    private string TypeOf(string column) => _dialect.Provider switch
    {
        DatabaseProvider.SqlServer => column switch
        {
            "Export" => "nvarchar(400) NOT NULL",
            "Month" => "char(7) NOT NULL",
            "Scope" => "nvarchar(400) NOT NULL",
            "Dataset" => "nvarchar(64) NOT NULL",
            "RunId" => "nvarchar(200) NOT NULL",
            "SubmittedTime" or "LoadedAt" => "datetime2(3) NOT NULL",
            "Rows" or "Bytes" => "bigint NOT NULL",
            "Blobs" => "int NOT NULL",
            "ImportId" => "uniqueidentifier NOT NULL",
            "Host" => "nvarchar(256) NULL",
            _ => "nvarchar(max) NOT NULL",
        },
        DatabaseProvider.PostgreSql => column switch
        {
            "SubmittedTime" or "LoadedAt" => "timestamptz NOT NULL",
            "Rows" or "Bytes" => "bigint NOT NULL",
            "Blobs" => "integer NOT NULL",
            "ImportId" => "uuid NOT NULL",
            "Host" => "text",
            _ => "text NOT NULL",
        },
        _ => column switch
        {
            "Rows" or "Bytes" or "Blobs" => "INTEGER NOT NULL",
            "Host" => "TEXT",
            _ => "TEXT NOT NULL",
        },
    };

    /// <summary>The CREATE TABLE of the state table, when it is missing (SQL Server: parameter @stateTable).</summary>
    public string CreateIfMissingSql()
    {
        var sb = new StringBuilder(_dialect.Provider == DatabaseProvider.SqlServer ? "IF OBJECT_ID(@stateTable, N'U') IS NULL CREATE TABLE " : "CREATE TABLE IF NOT EXISTS ");
        sb.Append(QualifiedTable).Append(" (");
        foreach (string c in Columns)
        {
            sb.Append("\n  ").Append(_dialect.Quote(c)).Append(' ').Append(TypeOf(c)).Append(',');
        }

        sb.Append("\n  PRIMARY KEY (").Append(string.Join(", ", Key.Select(_dialect.Quote))).Append(")\n)");
        return sb.ToString();
    }

    /// <summary>Insert or update the row of (Export, Month); every column is a parameter named after it.</summary>
    public string UpsertSql()
    {
        string insertColumns = string.Join(", ", Columns.Select(_dialect.Quote));
        string insertValues = string.Join(", ", Columns.Select(_dialect.Parameter));
        string[] rest = Columns.Except(Key).ToArray();
        if (_dialect.Provider == DatabaseProvider.SqlServer)
        {
            string set = string.Join(", ", rest.Select(c => $"{_dialect.Quote(c)} = {_dialect.Parameter(c)}"));
            string where = string.Join(" AND ", Key.Select(c => $"{_dialect.Quote(c)} = {_dialect.Parameter(c)}"));
            return $"UPDATE {QualifiedTable} WITH (UPDLOCK, SERIALIZABLE) SET {set} WHERE {where};\nIF @@ROWCOUNT = 0 INSERT INTO {QualifiedTable} ({insertColumns}) VALUES ({insertValues});";
        }

        string excluded = string.Join(", ", rest.Select(c => $"{_dialect.Quote(c)} = excluded.{_dialect.Quote(c)}"));
        return $"INSERT INTO {QualifiedTable} ({insertColumns}) VALUES ({insertValues}) ON CONFLICT ({string.Join(", ", Key.Select(_dialect.Quote))}) DO UPDATE SET {excluded}";
    }

    public string SelectSql() => $"SELECT {string.Join(", ", Columns.Select(_dialect.Quote))} FROM {QualifiedTable}";

    /// <summary>Every state row; empty when the table (or the SQLite file) does not exist yet.</summary>
    public async Task<IReadOnlyList<ExportStateRow>> ReadAsync(CancellationToken cancellationToken)
    {
        if (Target.Provider == DatabaseProvider.Sqlite)
        {
            string file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(Target.ConnectionString).DataSource;
            if (!string.IsNullOrEmpty(file) && !file.StartsWith(':') && !System.IO.File.Exists(file))
            {
                return Array.Empty<ExportStateRow>();
            }
        }

        await using DbConnection connection = await _sink.OpenAsync(cancellationToken).ConfigureAwait(false);
        if ((await _sink.ListColumnsAsync(connection, null, cancellationToken).ConfigureAwait(false)).Count == 0)
        {
            return Array.Empty<ExportStateRow>();
        }

        await using DbCommand command = connection.CreateCommand();
        command.CommandText = SelectSql();
        var rows = new List<ExportStateRow>();
        try
        {
            await using DbDataReader r = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(new ExportStateRow(
                    Text(r, 0), Text(r, 1), Text(r, 2), Text(r, 3), Text(r, 4), Time(r, 5), Text(r, 6),
                    Convert.ToInt64(r.GetValue(7), CultureInfo.InvariantCulture), Convert.ToInt64(r.GetValue(8), CultureInfo.InvariantCulture),
                    Convert.ToInt32(r.GetValue(9), CultureInfo.InvariantCulture),
                    r.GetValue(10) is Guid g ? g : Guid.Parse(Text(r, 10)), Time(r, 11), r.IsDBNull(12) ? null : Text(r, 12)));
            }
        }
        catch (DbException e)
        {
            throw new EngineException(EngineErrorKind.DatabaseCommand, $"Reading {QualifiedTable} on {_sink.Describe()} failed: {e.Message}", e);
        }

        return rows;
    }

    /// <summary>The run recorded for one export and month (parameters: Export, Month).</summary>
    public string SelectRunSql() => $"SELECT {_dialect.Quote("RunId")}, {_dialect.Quote("SubmittedTime")} FROM {QualifiedTable} WHERE {_dialect.Quote("Export")} = {_dialect.Parameter("Export")} AND {_dialect.Quote("Month")} = {_dialect.Parameter("Month")}";

    /// <summary>Inside a load's transaction: the run the table holds for one export and month, or null (the table may not exist yet).</summary>
    public async Task<(string RunId, DateTime SubmittedTime)?> ReadRunAsync(DbConnection connection, DbTransaction transaction, string export, string month, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if ((await _sink.ListColumnsAsync(connection, transaction, cancellationToken).ConfigureAwait(false)).Count == 0)
        {
            return null;
        }

        await using DbCommand select = connection.CreateCommand();
        select.Transaction = transaction;
        select.CommandText = SelectRunSql();
        Add(select, "Export", export);
        Add(select, "Month", month);
        await using DbDataReader r = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await r.ReadAsync(cancellationToken).ConfigureAwait(false) ? (Text(r, 0), Time(r, 1)) : null;
    }

    /// <summary>Creates the state table when missing and records <paramref name="row"/>, inside the load's transaction.</summary>
    public async Task RecordAsync(DbConnection connection, DbTransaction transaction, ExportStateRow row, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(row);
        await using (DbCommand create = connection.CreateCommand())
        {
            create.Transaction = transaction;
            create.CommandText = CreateIfMissingSql();
            if (_dialect.Provider == DatabaseProvider.SqlServer)
            {
                Add(create, "stateTable", QualifiedTable);
            }

            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using DbCommand upsert = connection.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = UpsertSql();
        Add(upsert, "Export", row.Export);
        Add(upsert, "Month", row.Month);
        Add(upsert, "Scope", row.Scope);
        Add(upsert, "Dataset", row.Dataset);
        Add(upsert, "RunId", row.RunId);
        Add(upsert, "SubmittedTime", row.SubmittedTime);
        Add(upsert, "Manifest", row.Manifest);
        Add(upsert, "Rows", row.Rows);
        Add(upsert, "Bytes", row.Bytes);
        Add(upsert, "Blobs", row.Blobs);
        Add(upsert, "ImportId", row.ImportId);
        Add(upsert, "LoadedAt", row.LoadedAt);
        Add(upsert, "Host", row.Host);
        await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Add(DbCommand command, string name, object? value)
    {
        DbParameter p = command.CreateParameter();
        p.ParameterName = "@" + name;
        DatabaseProvider provider = _dialect.Provider;
        switch (value)
        {
            case null:
                p.Value = DBNull.Value;
                p.DbType = DbType.String;
                break;
            case DateTime t when provider == DatabaseProvider.Sqlite:
                p.Value = Utc(t).ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
                break;
            case DateTime t:
                p.Value = Utc(t);
                if (provider == DatabaseProvider.SqlServer)
                {
                    p.DbType = DbType.DateTime2;
                }

                break;
            case Guid g when provider == DatabaseProvider.Sqlite:
                p.Value = g.ToString("D");
                break;
            default:
                p.Value = value;
                break;
        }

        command.Parameters.Add(p);
    }

    private static DateTime Utc(DateTime t) => DateTime.SpecifyKind(t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t, DateTimeKind.Utc);

    private static string Text(DbDataReader r, int i) => Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture)?.TrimEnd() ?? string.Empty;

    private static DateTime Time(DbDataReader r, int i) => r.GetValue(i) switch
    {
        DateTime t => Utc(t),
        DateTimeOffset o => o.UtcDateTime,
        var v => DateTime.SpecifyKind(DateTime.Parse(Convert.ToString(v, CultureInfo.InvariantCulture)!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), DateTimeKind.Utc),
    };
}
