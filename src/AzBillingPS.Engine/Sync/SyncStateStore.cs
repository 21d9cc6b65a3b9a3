using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Sync;

/// <summary>What a state row says about the last attempt.</summary>
public static class SyncStatus
{
    public const string Running = "Running";
    public const string Loaded = "Loaded";
    public const string Failed = "Failed";
}

/// <summary>One (scope, metric, month) of the state table.</summary>
public sealed record SyncUnitKey(string Scope, string Metric, DateOnly Month)
{
    /// <summary>The month as stored: yyyy-MM.</summary>
    public string MonthText => Month.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    public override string ToString() => $"{Scope} {Metric} {MonthText}";
}

/// <summary>One row of the state table.</summary>
public sealed record SyncStateRow(
    string Scope,
    string Metric,
    string Month,
    string Status,
    bool IsFinal,
    DateOnly? PeriodStart,
    DateOnly? PeriodEnd,
    long? Rows,
    long? Bytes,
    int? Blobs,
    string? OperationId,
    Guid? ImportId,
    DateTime? StartedAt,
    DateTime? FinishedAt,
    DateTime? LoadedAt,
    string? Error,
    Guid? RunId,
    string? Host)
{
    /// <summary>The first day of <see cref="Month"/>.</summary>
    public DateOnly MonthStart => DateOnly.ParseExact(Month + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>True when the cost table holds a committed load of this month (whatever the last attempt did).</summary>
    public bool HasData => LoadedAt is not null;
}

/// <summary>What a committed load wrote, for its state row.</summary>
internal sealed record SyncLoadRecord(
    SyncUnitKey Key,
    DateOnly PeriodStart,
    DateOnly PeriodEnd,
    bool IsFinal,
    long Rows,
    long Bytes,
    int Blobs,
    string? OperationId,
    Guid? ImportId,
    DateTime StartedAt,
    DateTime FinishedAt,
    Guid RunId,
    string Host);

/// <summary>
/// Reads and writes the sync state table (<c>&lt;cost table&gt;_SyncState</c>, see <see cref="SyncStateSql"/>) through
/// the target's own sink: the same connection handling, quoting and lock mechanism as a load. Writes of a Running or
/// Failed attempt take the state table's own lock (never the cost table's); the Loaded row is written by the load
/// itself, in its transaction, so the state and the rows can never disagree.
/// </summary>
public sealed class SyncStateStore
{
    private readonly CostSink _sink;

    public SyncStateStore(SinkTarget costTarget)
    {
        ArgumentNullException.ThrowIfNull(costTarget);
        CostTarget = costTarget;
        Sql = new SyncStateSql(costTarget.Dialect, costTarget.EffectiveSchema, costTarget.Table);
        StateTarget = costTarget with { Table = Sql.Table };
        _sink = CostSink.Create(StateTarget);
    }

    public SinkTarget CostTarget { get; }

    public SinkTarget StateTarget { get; }

    internal SyncStateSql Sql { get; }

    /// <summary>The quoted state table name.</summary>
    public string QualifiedTable => Sql.QualifiedTable;

    /// <summary>Server and database (or file), without any credential.</summary>
    public string Describe() => _sink.Describe();

    /// <summary>Creates the state table (and its schema) when it is missing (under the state table's lock, so concurrent runs do not race).</summary>
    public Task EnsureAsync(TimeSpan lockTimeout, CancellationToken cancellationToken)
        => _sink.RunLockedAsync(lockTimeout, async (connection, transaction, ct) =>
        {
            await _sink.EnsureSchemaAsync(connection, transaction, lockTimeout, ct).ConfigureAwait(false);
            await using DbCommand command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Sql.CreateIfMissing();
            if (Sql.Dialect.Provider == DatabaseProvider.SqlServer)
            {
                Add(command, "stateTable", Sql.QualifiedTable);
            }

            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>The rows of the state table (optionally of one normalised scope); null when the table does not exist.</summary>
    public Task<IReadOnlyList<SyncStateRow>?> ReadAsync(string? scope, CancellationToken cancellationToken)
        => ReadAsync(scope, CostSink.DefaultReadLockTimeout, cancellationToken);

    /// <summary>The rows of the state table (optionally of one normalised scope); null when the table does not exist. Lock waits are bounded by <paramref name="lockTimeout"/>.</summary>
    public async Task<IReadOnlyList<SyncStateRow>?> ReadAsync(string? scope, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        if (StateTarget.Provider == DatabaseProvider.Sqlite)
        {
            // Opening a missing SQLite file would create it: a read (or -WhatIf) must leave no file behind.
            string file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(StateTarget.ConnectionString).DataSource;
            if (!string.IsNullOrEmpty(file) && !file.StartsWith(':') && !System.IO.File.Exists(file))
            {
                return null;
            }
        }

        return await _sink.ReadAsync<IReadOnlyList<SyncStateRow>?>(lockTimeout, async (connection, ct) =>
        {
            HashSet<string> columns = await _sink.ListColumnsAsync(connection, null, ct).ConfigureAwait(false);
            if (columns.Count == 0)
            {
                return null;
            }

            await using DbCommand command = connection.CreateCommand();
            command.CommandText = Sql.Select(scope is not null);
            if (scope is not null)
            {
                Add(command, "scope", scope);
            }

            var rows = new List<SyncStateRow>();
            await using DbDataReader reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                rows.Add(ReadRow(reader));
            }

            return rows;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks units as Running for a run (one short transaction): status, started, run and host; clears finished, operation id and error.</summary>
    public Task MarkRunningAsync(IReadOnlyCollection<SyncUnitKey> units, DateTime startedAt, Guid runId, string host, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(units);
        return units.Count == 0
            ? Task.CompletedTask
            : WriteAttemptAsync(units, SyncStatus.Running, startedAt, null, null, null, runId, host, lockTimeout, cancellationToken);
    }

    /// <summary>Records a failed attempt. The columns describing the loaded data (rows, import id, final flag, loaded at) keep their values: a failed load changed nothing.</summary>
    public Task MarkFailedAsync(SyncUnitKey unit, string error, string? operationId, DateTime startedAt, DateTime finishedAt, Guid runId, string host, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(unit);
        return WriteAttemptAsync([unit], SyncStatus.Failed, startedAt, finishedAt, operationId, error, runId, host, lockTimeout, cancellationToken);
    }

    /// <summary>Writes the columns that describe the last attempt (never those of the loaded data) for each unit, in one short transaction.</summary>
    private Task<bool> WriteAttemptAsync(IEnumerable<SyncUnitKey> units, string status, DateTime startedAt, DateTime? finishedAt, string? operationId, string? error, Guid runId, string host, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        string[] columns = { SyncStateColumns.Status, SyncStateColumns.StartedAt, SyncStateColumns.FinishedAt, SyncStateColumns.OperationId, SyncStateColumns.Error, SyncStateColumns.RunId, SyncStateColumns.Host };
        string sql = Sql.Upsert(columns);
        return _sink.RunLockedAsync(lockTimeout, async (connection, transaction, ct) =>
        {
            foreach (SyncUnitKey unit in units)
            {
                await using DbCommand command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = sql;
                AddKey(command, unit);
                Add(command, SyncStateColumns.Status, status);
                Add(command, SyncStateColumns.StartedAt, startedAt);
                Add(command, SyncStateColumns.FinishedAt, finishedAt);
                Add(command, SyncStateColumns.OperationId, operationId);
                Add(command, SyncStateColumns.Error, error);
                Add(command, SyncStateColumns.RunId, runId);
                Add(command, SyncStateColumns.Host, host);
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }

            return true;
        }, cancellationToken);
    }

    /// <summary>Records a committed load, inside the load's own transaction (before it commits).</summary>
    internal async Task MarkLoadedAsync(DbConnection connection, DbTransaction? transaction, SyncLoadRecord load, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(load);
        string[] columns =
        {
            SyncStateColumns.Status, SyncStateColumns.IsFinal, SyncStateColumns.PeriodStart, SyncStateColumns.PeriodEnd, SyncStateColumns.Rows,
            SyncStateColumns.Bytes, SyncStateColumns.Blobs, SyncStateColumns.OperationId, SyncStateColumns.ImportId, SyncStateColumns.StartedAt,
            SyncStateColumns.FinishedAt, SyncStateColumns.LoadedAt, SyncStateColumns.Error, SyncStateColumns.RunId, SyncStateColumns.Host,
        };
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Sql.Upsert(columns);
        AddKey(command, load.Key);
        Add(command, SyncStateColumns.Status, SyncStatus.Loaded);
        Add(command, SyncStateColumns.IsFinal, load.IsFinal);
        Add(command, SyncStateColumns.PeriodStart, load.PeriodStart);
        Add(command, SyncStateColumns.PeriodEnd, load.PeriodEnd);
        Add(command, SyncStateColumns.Rows, load.Rows);
        Add(command, SyncStateColumns.Bytes, load.Bytes);
        Add(command, SyncStateColumns.Blobs, load.Blobs);
        Add(command, SyncStateColumns.OperationId, load.OperationId);
        Add(command, SyncStateColumns.ImportId, load.ImportId);
        Add(command, SyncStateColumns.StartedAt, load.StartedAt);
        Add(command, SyncStateColumns.FinishedAt, load.FinishedAt);
        Add(command, SyncStateColumns.LoadedAt, load.FinishedAt);
        Add(command, SyncStateColumns.Error, null);
        Add(command, SyncStateColumns.RunId, load.RunId);
        Add(command, SyncStateColumns.Host, load.Host);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private void AddKey(DbCommand command, SyncUnitKey unit)
    {
        Add(command, SyncStateColumns.Scope, unit.Scope);
        Add(command, SyncStateColumns.Metric, unit.Metric);
        Add(command, SyncStateColumns.Month, unit.MonthText);
    }

    private void Add(DbCommand command, string name, object? value)
    {
        DbParameter p = command.CreateParameter();
        p.ParameterName = "@" + name;
        SyncStateColumnKind kind = SyncStateSql.Columns.Contains(name, StringComparer.Ordinal) ? SyncStateSql.KindOf(name) : SyncStateColumnKind.Text;
        DatabaseProvider provider = Sql.Dialect.Provider;
        if (value is null)
        {
            p.Value = DBNull.Value;
            p.DbType = kind switch
            {
                SyncStateColumnKind.Int64 => DbType.Int64,
                SyncStateColumnKind.Int32 => DbType.Int32,
                SyncStateColumnKind.Boolean => DbType.Boolean,
                SyncStateColumnKind.Date when provider != DatabaseProvider.Sqlite => DbType.Date,
                SyncStateColumnKind.Timestamp when provider == DatabaseProvider.SqlServer => DbType.DateTime2,
                SyncStateColumnKind.Timestamp when provider == DatabaseProvider.PostgreSql => DbType.DateTimeOffset,
                SyncStateColumnKind.Guid when provider != DatabaseProvider.Sqlite => DbType.Guid,
                _ => DbType.String,
            };
        }
        else if (provider == DatabaseProvider.Sqlite)
        {
            // SQLite: text dates and times (ISO, UTC), GUIDs as text, booleans as 0/1.
            p.Value = value switch
            {
                DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                DateTime t => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture),
                Guid g => g.ToString("D"),
                bool b => b ? 1L : 0L,
                _ => value,
            };
        }
        else
        {
            switch (value)
            {
                case DateOnly d:
                    p.DbType = DbType.Date;
                    p.Value = d.ToDateTime(TimeOnly.MinValue);
                    break;
                case DateTime t:
                    DateTime utc = DateTime.SpecifyKind(t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t, DateTimeKind.Utc);
                    if (provider == DatabaseProvider.SqlServer)
                    {
                        p.DbType = DbType.DateTime2;
                        p.Value = utc;
                    }
                    else
                    {
                        p.Value = utc; // timestamptz takes a UTC DateTime
                    }

                    break;
                default:
                    p.Value = value;
                    break;
            }
        }

        command.Parameters.Add(p);
    }

    private static SyncStateRow ReadRow(DbDataReader r) => new(
        Text(r, 0) ?? string.Empty,
        Text(r, 1) ?? string.Empty,
        Text(r, 2) ?? string.Empty,
        Text(r, 3) ?? string.Empty,
        Bool(r, 4),
        Date(r, 5),
        Date(r, 6),
        r.IsDBNull(7) ? null : Convert.ToInt64(r.GetValue(7), CultureInfo.InvariantCulture),
        r.IsDBNull(8) ? null : Convert.ToInt64(r.GetValue(8), CultureInfo.InvariantCulture),
        r.IsDBNull(9) ? null : Convert.ToInt32(r.GetValue(9), CultureInfo.InvariantCulture),
        Text(r, 10),
        Uuid(r, 11),
        Time(r, 12),
        Time(r, 13),
        Time(r, 14),
        Text(r, 15),
        Uuid(r, 16),
        Text(r, 17));

    private static string? Text(DbDataReader r, int i) => r.IsDBNull(i) ? null : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture)?.TrimEnd();

    private static bool Bool(DbDataReader r, int i) => !r.IsDBNull(i) && r.GetValue(i) switch
    {
        bool b => b,
        string s => s is "1" || s.Equals("true", StringComparison.OrdinalIgnoreCase),
        var v => Convert.ToInt64(v, CultureInfo.InvariantCulture) != 0,
    };

    private static Guid? Uuid(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetValue(i) switch
    {
        Guid g => g,
        var v => Guid.Parse(Convert.ToString(v, CultureInfo.InvariantCulture)!),
    };

    private static DateOnly? Date(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetValue(i) switch
    {
        DateOnly d => d,
        DateTime t => DateOnly.FromDateTime(t),
        var v => DateOnly.ParseExact(Convert.ToString(v, CultureInfo.InvariantCulture)!.Substring(0, 10), "yyyy-MM-dd", CultureInfo.InvariantCulture),
    };

    private static DateTime? Time(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetValue(i) switch
    {
        DateTime t => DateTime.SpecifyKind(t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t, DateTimeKind.Utc),
        DateTimeOffset o => o.UtcDateTime,
        var v => DateTime.SpecifyKind(DateTime.Parse(Convert.ToString(v, CultureInfo.InvariantCulture)!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), DateTimeKind.Utc),
    };
}
