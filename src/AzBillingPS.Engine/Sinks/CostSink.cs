using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;

namespace AzBillingPS.Engine.Sinks;

/// <summary>Where a load goes: provider, connection string, schema and table.</summary>
public sealed record SinkTarget(DatabaseProvider Provider, string ConnectionString, string Table, string? Schema)
{
    public SqlDialect Dialect => SqlDialect.For(Provider);

    public string? EffectiveSchema => Schema ?? Dialect.DefaultSchema;

    public string QualifiedTable => Dialect.QualifiedTable(EffectiveSchema, Table);

    /// <summary>The table as people write it, unquoted: schema.table (table alone on SQLite), for messages and -WhatIf.</summary>
    public string DisplayTable => Dialect.DefaultSchema is null ? Table : $"{EffectiveSchema}.{Table}";

    /// <summary>A SQL Server or PostgreSQL login given apart from the connection string (-Credential), its password kept as a SecureString.</summary>
    public System.Net.NetworkCredential? Credential { get; init; }

    /// <summary>
    /// SQL Server / Azure SQL only: gets an Entra access token for the connection (scope
    /// https://database.windows.net/.default). Used as SqlConnection.AccessTokenCallback, so every new connection,
    /// however long the job runs, gets a token that is still valid. Null: the connection string's own authentication.
    /// </summary>
    public Func<CancellationToken, Task<Auth.AccessTokenInfo>>? AccessToken { get; init; }

    /// <summary>A SQLite file as a target (the connection string is built, so any path is safe).</summary>
    public static SinkTarget ForSqliteFile(string path, string table, string? schema)
        => new(DatabaseProvider.Sqlite, new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = path }.ToString(), table, schema);
}

/// <summary>What one load changed.</summary>
public sealed record SinkResult(long RowsInserted, long RowsReplaced, IReadOnlyList<string> ColumnsAdded, bool TableCreated);

/// <summary>
/// One interface, several databases, the same semantics on all: in one transaction take the table's load
/// lock, create the table or add the columns a file brings, delete the rows of the same scope and metric
/// dated within the period, bulk-insert the new rows, commit. Any failure (a bad row, a dropped connection,
/// Ctrl+C) rolls back, leaving the previous data exactly as it was.
/// </summary>
public abstract class CostSink
{
    protected CostSink(SinkTarget target)
    {
        Target = target;
        Dialect = target.Dialect;
    }

    public SinkTarget Target { get; }

    protected SqlDialect Dialect { get; }

    /// <summary>Server and database (or file) written to, without any credential.</summary>
    public abstract string Describe();

    public static CostSink Create(SinkTarget target) => target.Provider switch
    {
        DatabaseProvider.SqlServer => new SqlServerSink(target),
        DatabaseProvider.PostgreSql => new PostgreSqlSink(target),
        _ => new SqliteSink(target),
    };

    protected abstract DbConnection CreateConnection();

    protected abstract Task<DbTransaction> BeginAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken);

    protected abstract Task LockAsync(DbConnection connection, DbTransaction transaction, TimeSpan lockTimeout, CancellationToken cancellationToken);

    protected abstract Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostRowReader reader, int batchSize, CancellationToken cancellationToken);

    /// <summary>Opens a connection, mapping failures to a ConnectionError that names the target (never the password).</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        DbConnection connection;
        try
        {
            connection = CreateConnection();
        }
        catch (ArgumentException e)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The connection string for {Target.Provider} is not valid: {e.Message}", e);
        }

        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new EngineException(EngineErrorKind.DatabaseConnection, $"Cannot connect to {Describe()}: {e.Message}", e);
        }
    }

    public async Task<SinkResult> LoadAsync(
        IReadOnlyList<CostColumn> dataColumns,
        Func<CostRowReader> openReader,
        string scope,
        string metric,
        DateTime periodStart,
        DateTime periodEnd,
        int batchSize,
        TimeSpan lockTimeout,
        IEngineLog log,
        CancellationToken cancellationToken,
        Func<SinkCommit, CancellationToken, Task>? beforeCommit = null,
        string periodColumn = CostColumnCatalog.DateColumn)
    {
        return await RunLockedAsync(
            lockTimeout,
            async (connection, transaction, ct) =>
            {
                (bool created, List<string> added) = await EnsureTableAsync(connection, transaction, dataColumns, log, ct).ConfigureAwait(false);
                long replaced = await DeletePeriodAsync(connection, transaction, scope, metric, periodStart, periodEnd, periodColumn, ct).ConfigureAwait(false);
                log.Verbose(string.Create(CultureInfo.InvariantCulture, $"Removed {replaced:N0} earlier rows of {scope} {metric} dated {periodStart:yyyy-MM-dd} to {periodEnd:yyyy-MM-dd}."));

                long inserted;
                using (CostRowReader reader = openReader())
                {
                    inserted = await BulkInsertAsync(connection, transaction, reader, batchSize, ct).ConfigureAwait(false);
                }

                if (created)
                {
                    await ExecuteAsync(connection, transaction, Dialect.CreateIndex(Target.EffectiveSchema, Target.Table, periodColumn), ct).ConfigureAwait(false);
                    log.Verbose($"Indexed {Target.QualifiedTable} on (_Scope, _Metric, {periodColumn}).");
                }

                if (beforeCommit is not null)
                {
                    // Bookkeeping that must commit or roll back with the rows (Sync's state row).
                    await beforeCommit(new SinkCommit(connection, transaction, inserted, replaced), ct).ConfigureAwait(false);
                }

                return new SinkResult(inserted, replaced, added, created);
            },
            log,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Empties one period of one scope and metric (a report that came back with no data replaces the period with
    /// nothing), in one transaction under the table's load lock, with <paramref name="beforeCommit"/> run in the same
    /// transaction. A table that does not exist yet has nothing to remove. Returns the rows removed.
    /// </summary>
    public Task<long> ClearPeriodAsync(string scope, string metric, DateTime periodStart, DateTime periodEnd, TimeSpan lockTimeout, Func<SinkCommit, CancellationToken, Task>? beforeCommit, CancellationToken cancellationToken, string periodColumn = CostColumnCatalog.DateColumn)
        => RunLockedAsync(lockTimeout, async (connection, transaction, ct) =>
        {
            long removed = 0;
            if ((await ListColumnsAsync(connection, transaction, ct).ConfigureAwait(false)).Count > 0)
            {
                removed = await DeletePeriodAsync(connection, transaction, scope, metric, periodStart, periodEnd, periodColumn, ct).ConfigureAwait(false);
            }

            if (beforeCommit is not null)
            {
                await beforeCommit(new SinkCommit(connection, transaction, 0, removed), ct).ConfigureAwait(false);
            }

            return removed;
        }, cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction that holds this target's lock (the same lock a load of
    /// <see cref="SinkTarget.Table"/> takes), then commits; any failure rolls back. For short bookkeeping writes
    /// (Sync's state table uses a target naming the state table, so it never waits for a cost load's lock).
    /// </summary>
    public Task<T> RunLockedAsync<T>(TimeSpan lockTimeout, Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
        => RunLockedAsync(lockTimeout, work, null, cancellationToken);

    private async Task<T> RunLockedAsync<T>(TimeSpan lockTimeout, Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, IEngineLog? log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        await using DbConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        DbTransaction transaction;
        try
        {
            transaction = await BeginAsync(connection, lockTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException && IsBusy(e))
        {
            throw LockTimedOut(lockTimeout, e);
        }

        await using (transaction.ConfigureAwait(false))
        {
            try
            {
                log?.Debug($"Taking the load lock on {Target.QualifiedTable} (wait at most {lockTimeout.TotalSeconds:0} s).");
                await LockAsync(connection, transaction, lockTimeout, cancellationToken).ConfigureAwait(false);
                T result = await work(connection, transaction, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                return result;
            }
            catch (Exception e)
            {
                try
                {
                    await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception rollbackError) when (rollbackError is DbException or InvalidOperationException or System.IO.IOException)
                {
                    // The connection is gone; the server rolls the transaction back on its own.
                    log?.Debug($"Rollback after failure could not be sent ({rollbackError.Message}); the server discards the open transaction.");
                }

                throw Translate(e, lockTimeout);
            }
        }
    }

    /// <summary>Deletes the rows of one scope and metric whose <paramref name="periodColumn"/> lies within the period; returns how many.</summary>
    private async Task<long> DeletePeriodAsync(DbConnection connection, DbTransaction transaction, string scope, string metric, DateTime periodStart, DateTime periodEnd, string periodColumn, CancellationToken cancellationToken)
    {
        await using DbCommand delete = connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandTimeout = 0;
        delete.CommandText = Dialect.DeletePeriod(Target.EffectiveSchema, Target.Table, periodColumn);
        AddParameter(delete, "scope", scope);
        AddParameter(delete, "metric", metric);
        AddDateParameter(delete, "from", periodStart);
        AddDateParameter(delete, "to", periodEnd);
        return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private Exception Translate(Exception e, TimeSpan lockTimeout)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is EngineException or OperationCanceledException)
            {
                return x;
            }
        }

        if (e is DbException && IsBusy(e))
        {
            return LockTimedOut(lockTimeout, e);
        }

        if (e is DbException or InvalidOperationException or System.IO.IOException or TimeoutException)
        {
            return new EngineException(EngineErrorKind.DatabaseCommand, $"Loading into {Target.QualifiedTable} on {Describe()} failed; nothing was changed: {e.Message}", e);
        }

        return e;
    }

    private EngineException LockTimedOut(TimeSpan lockTimeout, Exception? inner)
        => new(EngineErrorKind.LockTimeout,
            string.Create(CultureInfo.InvariantCulture, $"Another load into {Target.QualifiedTable} on {Describe()} held its lock for more than {lockTimeout.TotalSeconds:0} seconds; nothing was changed. Try again later or raise -LockTimeout."),
            inner);

    /// <summary>True when a database error means "locked by someone else".</summary>
    protected virtual bool IsBusy(Exception e) => false;

    private async Task<(bool Created, List<string> Added)> EnsureTableAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<CostColumn> dataColumns, IEngineLog log, CancellationToken cancellationToken)
    {
        HashSet<string> existing = await ListColumnsAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        var wanted = dataColumns.Concat(LineageColumns.All).ToList();
        var added = new List<string>();
        if (existing.Count == 0)
        {
            // The (scope, metric, date) index is built after the first load's rows are in: one sorted build
            // instead of a random insert per row. Later loads keep it up to date (their DELETE needs it).
            await ExecuteAsync(connection, transaction, Dialect.CreateTable(Target.EffectiveSchema, Target.Table, wanted), cancellationToken).ConfigureAwait(false);
            log.Verbose($"Created table {Target.QualifiedTable} with {wanted.Count} columns.");
            return (true, added);
        }

        await TableColumns.UpgradeAsync(Target, connection, transaction, log, cancellationToken).ConfigureAwait(false);
        foreach (CostColumn column in wanted)
        {
            if (!existing.Contains(column.Name))
            {
                await ExecuteAsync(connection, transaction, Dialect.AddColumn(Target.EffectiveSchema, Target.Table, column), cancellationToken).ConfigureAwait(false);
                added.Add(column.Name);
            }
        }

        if (added.Count > 0)
        {
            log.Warning($"Added {added.Count} column(s) to {Target.QualifiedTable} that this file has and the table had not: {string.Join(", ", added)}.");
        }

        return (false, added);
    }

    /// <summary>The table's column names (empty when the table does not exist).</summary>
    public async Task<HashSet<string>> ListColumnsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Dialect.ListColumns(Target.EffectiveSchema, Target.Table);
        AddParameter(command, "schema", Target.EffectiveSchema ?? string.Empty);
        AddParameter(command, "table", Target.Table);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    protected static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    protected static void AddParameter(DbCommand command, string name, object? value)
    {
        DbParameter p = command.CreateParameter();
        p.ParameterName = "@" + name;
        p.Value = value ?? DBNull.Value;
        command.Parameters.Add(p);
    }

    protected virtual void AddDateParameter(DbCommand command, string name, DateTime value)
    {
        DbParameter p = command.CreateParameter();
        p.ParameterName = "@" + name;
        p.DbType = DbType.Date;
        p.Value = value.Date;
        command.Parameters.Add(p);
    }
}

/// <summary>The open load transaction just before it commits, with what the load wrote (for bookkeeping in the same transaction).</summary>
public sealed record SinkCommit(DbConnection Connection, DbTransaction Transaction, long RowsInserted, long RowsReplaced);
