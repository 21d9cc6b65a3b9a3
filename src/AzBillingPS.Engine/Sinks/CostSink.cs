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

    /// <summary>SQL Server / Azure SQL only: a new table gets a clustered columnstore index instead of the clustered (_Scope, _Metric, Date) index.</summary>
    public bool Columnstore { get; init; }

    /// <summary>A SQLite file as a target (the connection string is built, so any path is safe).</summary>
    public static SinkTarget ForSqliteFile(string path, string table, string? schema)
        => new(DatabaseProvider.Sqlite, new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = path }.ToString(), table, schema);

    /// <summary>
    /// Checks, before any data moves, that the target can work: the schema and table names fit the database (every
    /// name the module derives from them is shortened with a hash when needed), SQLite is given no schema, and
    /// -Columnstore names a SQL Server target.
    /// </summary>
    public void Validate()
    {
        if (Provider == DatabaseProvider.Sqlite && Schema is not null)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                $"SQLite has no schemas, so -Schema '{Schema}' cannot be used: leave it out (the table lives in the database file itself).");
        }

        if (Columnstore && Provider != DatabaseProvider.SqlServer)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"-Columnstore is for SQL Server and Azure SQL targets; {Provider} has no clustered columnstore index.");
        }

        SqlDialect dialect = Dialect;
        dialect.Validate(Table);
        if (EffectiveSchema is { } schema && dialect.DefaultSchema is not null)
        {
            dialect.Validate(schema);
        }
    }
}

/// <summary>What one load changed.</summary>
public sealed record SinkResult(long RowsInserted, long RowsReplaced, IReadOnlyList<string> ColumnsAdded, bool TableCreated);

/// <summary>
/// One interface, several databases, the same semantics on all: in one transaction lock the unit, create the table or
/// add the columns a file brings, delete the rows of the same scope and metric dated within the period, bulk-insert
/// the new rows, commit. Any failure (a bad row, a dropped connection, Ctrl+C) rolls back, leaving the previous data
/// exactly as it was; a transient failure (failover, throttling, deadlock, a dropped connection) tries the whole unit
/// again from a new connection, a bounded number of times.
/// </summary>
/// <remarks>
/// Locks (PostgreSQL and SQL Server): a load takes its scope and metric's lock shared and the lock of each month its
/// period touches exclusively, so loads of different units into one table run at once while two loads whose periods
/// overlap run one after the other. The table-wide lock is taken only to create the table (held for that first load)
/// or to add columns (in a short transaction of its own, after every row of the unit has been checked). SQLite has one
/// writer: BEGIN IMMEDIATE is the lock. Every lock wait, the module's own and the database's, is bounded by the lock
/// timeout.
/// </remarks>
public abstract class CostSink
{
    /// <summary>How long a read (Get-AzCostSummary, Get-AzBillingSyncState) waits for a lock when the caller does not say.</summary>
    public static readonly TimeSpan DefaultReadLockTimeout = TimeSpan.FromSeconds(30);

    protected CostSink(SinkTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        target.Validate();
        Target = target;
        Dialect = target.Dialect;
    }

    public SinkTarget Target { get; }

    protected SqlDialect Dialect { get; }

    /// <summary>Whether loads of different units into one table may run at the same time (not on SQLite, which has one writer).</summary>
    public virtual bool SupportsConcurrentLoads => false;

    /// <summary>The retry policy for transient failures (tests shorten it).</summary>
    public TransientRetryPolicy Retry { get; init; } = TransientRetryPolicy.Default;

    /// <summary>Whether columns for drift are added in their own short transaction (PostgreSQL, SQL Server) instead of inside the load's (SQLite).</summary>
    protected virtual bool SeparateSchemaChanges => false;

    /// <summary>Server and database (or file) written to, without any credential.</summary>
    public abstract string Describe();

    public static CostSink Create(SinkTarget target) => target.Provider switch
    {
        DatabaseProvider.SqlServer => new SqlServerSink(target),
        DatabaseProvider.PostgreSql => new PostgreSqlSink(target),
        _ => new SqliteSink(target),
    };

    protected abstract DbConnection CreateConnection();

    /// <summary>Bounds every lock wait of the new session (SQL Server LOCK_TIMEOUT, PostgreSQL lock_timeout, SQLite busy timeout).</summary>
    protected virtual async Task PrepareSessionAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken)
        => await ExecuteAsync(connection, null, Dialect.SetLockTimeout((long)lockTimeout.TotalMilliseconds), cancellationToken).ConfigureAwait(false);

    protected virtual async Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken)
        => await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Takes one application lock inside the transaction, waiting at most <paramref name="lockTimeout"/>; throws
    /// <see cref="LockWaitTimedOutException"/> when the wait times out. SQLite has none (its transaction is the lock).
    /// </summary>
    protected virtual Task AcquireAsync(DbConnection connection, DbTransaction transaction, string resource, bool sharedMode, TimeSpan lockTimeout, CancellationToken cancellationToken)
        => Task.CompletedTask;

    /// <summary>Inserts the rows; <paramref name="names"/> maps each reader column to the table's own spelling of it.</summary>
    protected abstract Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostRowReader reader, IReadOnlyDictionary<string, string> names, int batchSize, bool tableCreated, CancellationToken cancellationToken);

    /// <summary>A short description of <paramref name="e"/> when it is a transient failure worth trying the unit again for; else null.</summary>
    /// <param name="e">The failure.</param>
    /// <param name="connected">Whether this attempt (or an earlier one) reached the database: an unreachable server on the first try is not retried.</param>
    protected virtual string? TransientReason(Exception e, bool connected) => null;

    /// <summary>True when a database error means a lock wait timed out (lock_timeout, LOCK_TIMEOUT, SQLite busy).</summary>
    protected virtual bool IsBusy(Exception e) => false;

    /// <summary>Drops the pooled connections of this target after a transient failure, so the retry does not pick up a dead one.</summary>
    private void ClearPool(DbConnection? connection)
    {
        try
        {
            if (connection is not null)
            {
                ClearPoolOf(connection);
                return;
            }

            using DbConnection probe = CreateConnection(); // a connection object of the same pool, never opened
            ClearPoolOf(probe);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or EngineException)
        {
            // Nothing pooled for a target that cannot be connected to.
        }
    }

    /// <summary>Clears the provider's pool that <paramref name="connection"/> belongs to (SqlConnection.ClearPool, NpgsqlConnection.ClearPool).</summary>
    protected virtual void ClearPoolOf(DbConnection connection)
    {
    }

    /// <summary>Where a busy reader can be found, for lock-timeout messages.</summary>
    protected virtual string WhoHoldsLocksHint => string.Empty;

    /// <summary>
    /// Readies what the first load's connection needs (the provider's start-up, and where the provider pools connections,
    /// an open connection) without writing anything and without a lock, while the caller reads the files' header and dates.
    /// A failure is the load's to report: the caller ignores this one's. None by default.
    /// </summary>
    public virtual Task WarmUpAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Opens a connection whose lock waits are bounded by <see cref="DefaultReadLockTimeout"/>, mapping failures to a ConnectionError that names the target (never the password).</summary>
    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => OpenAsync(DefaultReadLockTimeout, cancellationToken);

    /// <summary>Opens a connection whose lock waits are bounded by <paramref name="lockTimeout"/>.</summary>
    public async Task<DbConnection> OpenAsync(TimeSpan lockTimeout, CancellationToken cancellationToken)
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
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw ConnectFailed(e);
        }

        try
        {
            await PrepareSessionAsync(connection, lockTimeout, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The error for a connection that could not be opened; sinks refine it (an untrusted certificate, a token refused).</summary>
    protected virtual EngineException ConnectFailed(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is EngineException engine)
            {
                return engine;
            }
        }

        return new EngineException(EngineErrorKind.DatabaseConnection, $"Cannot connect to {Describe()}: {e.Message}", e);
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
        ArgumentNullException.ThrowIfNull(dataColumns);
        ArgumentNullException.ThrowIfNull(openReader);
        ArgumentNullException.ThrowIfNull(log);
        var wanted = dataColumns.Concat(LineageColumns.All).ToList();
        UnitLocks unit = PlanUnitLocks(scope, metric, periodStart, periodEnd);
        string what = string.Create(CultureInfo.InvariantCulture, $"Loading {scope} {metric} {periodStart:yyyy-MM-dd}..{periodEnd:yyyy-MM-dd} into {Target.QualifiedTable}");
        bool checkedRows = false;
        bool upgraded = false;
        var addedEarlier = new List<string>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TimeSpan mark = TimeSpan.Zero;

        // Where a load's time goes, in the debug stream: each step's own time and the time since the load began.
        void Timed(string step)
        {
            TimeSpan now = clock.Elapsed;
            log.Debug(string.Create(CultureInfo.InvariantCulture, $"{Target.QualifiedTable}: {step} in {(now - mark).TotalMilliseconds:N0} ms ({now.TotalMilliseconds:N0} ms into the load)."));
            mark = now;
        }

        SinkResult result = await WithRetryAsync(what, log, async connected =>
        {
            bool tableLock = false;
            if (SeparateSchemaChanges)
            {
                // Look first, without any lock: loads of an existing table with the columns it needs never take the table lock.
                IReadOnlyList<string> existing = await ReadColumnNamesAsync(lockTimeout, connected, cancellationToken).ConfigureAwait(false);
                Timed("connected and read the table's columns");
                if (existing.Count == 0)
                {
                    tableLock = true; // the first load creates the table and holds the table lock until it commits
                }
                else if (!upgraded)
                {
                    // Id columns an earlier version typed as GUIDs become text, in a short transaction under the table lock.
                    await UpgradeColumnTypesAsync(what, lockTimeout, log, connected, cancellationToken).ConfigureAwait(false);
                    upgraded = true;
                }

                if (existing.Count > 0 && Missing(wanted, existing).Count > 0)
                {
                    if (!checkedRows)
                    {
                        // Columns are added (and committed) before the load so no schema lock is held across it; every row is
                        // checked first, so a bad file never leaves columns behind.
                        log.Verbose($"The file(s) bring {Missing(wanted, existing).Count} column(s) {Target.QualifiedTable} does not have; checking every row before adding them.");
                        using (CostRowReader check = openReader())
                        {
                            while (check.Read())
                            {
                            }
                        }

                        checkedRows = true;
                    }

                    addedEarlier.AddRange(await AddColumnsAsync(what, wanted, lockTimeout, log, connected, cancellationToken).ConfigureAwait(false));
                }
            }

            return await RunOnceAsync(what, lockTimeout, tableLock, unit, log, connected, async (connection, transaction, ct) =>
            {
                Timed("connected, began the transaction and took the locks");
                IReadOnlyList<string> names = await ListColumnNamesAsync(connection, transaction, ct).ConfigureAwait(false);
                bool created = false;
                var added = new List<string>(addedEarlier);
                if (names.Count == 0)
                {
                    if (!tableLock && SeparateSchemaChanges)
                    {
                        throw new TableChangedException($"{Target.QualifiedTable} disappeared after it was checked");
                    }

                    // The (scope, metric, date) index: later loads keep it up to date (their DELETE needs it). Where
                    // the dialect says so it is made with the empty table, so the first load fills it row by row as
                    // the later ones do; else it is built after the first load's rows are in (SQL Server's clustered index).
                    await CreateSchemaAsync(connection, transaction, lockTimeout, ct).ConfigureAwait(false);
                    await ExecuteAsync(connection, transaction, Dialect.CreateTable(Target.EffectiveSchema, Target.Table, wanted), ct).ConfigureAwait(false);
                    log.Verbose($"Created table {Target.QualifiedTable} with {wanted.Count} columns.");
                    if (Dialect.IndexBeforeFirstLoad)
                    {
                        await CreateIndexAsync(connection, transaction, periodColumn, log, ct).ConfigureAwait(false);
                    }

                    Timed(Dialect.IndexBeforeFirstLoad ? "created the table and its index" : "created the table");
                    created = true;
                    names = wanted.Select(c => c.Name).ToList();
                }
                else
                {
                    List<CostColumn> missing = Missing(wanted, names);
                    if (missing.Count > 0)
                    {
                        if (SeparateSchemaChanges && !tableLock)
                        {
                            throw new TableChangedException($"{Target.QualifiedTable} lost columns after they were checked");
                        }

                        foreach (CostColumn column in missing)
                        {
                            await ExecuteAsync(connection, transaction, Dialect.AddColumn(Target.EffectiveSchema, Target.Table, column), ct).ConfigureAwait(false);
                            added.Add(column.Name);
                        }

                        log.Warning($"Added {missing.Count} column(s) to {Target.QualifiedTable} that this file has and the table had not: {string.Join(", ", missing.Select(c => c.Name))}.");
                        names = names.Concat(missing.Select(c => c.Name)).ToList();
                    }
                }

                long replaced = created ? 0 : await DeletePeriodAsync(connection, transaction, scope, metric, periodStart, periodEnd, periodColumn, ct).ConfigureAwait(false);
                log.Verbose(string.Create(CultureInfo.InvariantCulture, $"Removed {replaced:N0} earlier rows of {scope} {metric} dated {periodStart:yyyy-MM-dd} to {periodEnd:yyyy-MM-dd}."));
                if (!created)
                {
                    Timed(string.Create(CultureInfo.InvariantCulture, $"removed {replaced:N0} earlier rows"));
                }

                IReadOnlyDictionary<string, string> spelling = Spelling(wanted, names);
                long inserted;
                using (CostRowReader reader = openReader())
                {
                    inserted = await BulkInsertAsync(connection, transaction, reader, spelling, batchSize, created, ct).ConfigureAwait(false);
                }

                Timed(string.Create(CultureInfo.InvariantCulture, $"inserted {inserted:N0} rows"));
                if (created)
                {
                    if (!Dialect.IndexBeforeFirstLoad)
                    {
                        await CreateIndexAsync(connection, transaction, periodColumn, log, ct).ConfigureAwait(false);
                        Timed("built the index");
                    }

                    if (Dialect.AnalyzeNewTable(Target.EffectiveSchema, Target.Table, periodColumn) is { } analyze)
                    {
                        await ExecuteAsync(connection, transaction, analyze, ct).ConfigureAwait(false);
                        Timed("analyzed the new table");
                    }
                }

                if (beforeCommit is not null)
                {
                    // Bookkeeping that must commit or roll back with the rows (Sync's state row).
                    await beforeCommit(new SinkCommit(connection, transaction, inserted, replaced), ct).ConfigureAwait(false);
                }

                return new SinkResult(inserted, replaced, added, created);
            }, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        Timed("committed");
        return result;
    }

    private async Task CreateIndexAsync(DbConnection connection, DbTransaction transaction, string periodColumn, IEngineLog log, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, Dialect.CreateIndex(Target.EffectiveSchema, Target.Table, periodColumn, Target.Columnstore), cancellationToken).ConfigureAwait(false);
        log.Verbose(Target.Columnstore ? $"Built the clustered columnstore index of {Target.QualifiedTable}." : $"Indexed {Target.QualifiedTable} on (_Scope, _Metric, {periodColumn}).");
    }

    /// <summary>
    /// Empties one period of one scope and metric (a report that came back with no data replaces the period with
    /// nothing), in one transaction under the unit's locks, with <paramref name="beforeCommit"/> run in the same
    /// transaction. A table that does not exist yet has nothing to remove. Returns the rows removed.
    /// </summary>
    public Task<long> ClearPeriodAsync(string scope, string metric, DateTime periodStart, DateTime periodEnd, TimeSpan lockTimeout, Func<SinkCommit, CancellationToken, Task>? beforeCommit, CancellationToken cancellationToken, string periodColumn = CostColumnCatalog.DateColumn)
    {
        UnitLocks unit = PlanUnitLocks(scope, metric, periodStart, periodEnd);
        string what = string.Create(CultureInfo.InvariantCulture, $"Clearing {scope} {metric} {periodStart:yyyy-MM-dd}..{periodEnd:yyyy-MM-dd} in {Target.QualifiedTable}");
        return WithRetryAsync(what, null, connected => RunOnceAsync(what, lockTimeout, false, unit, null, connected, async (connection, transaction, ct) =>
        {
            long removed = 0;
            if ((await ListColumnNamesAsync(connection, transaction, ct).ConfigureAwait(false)).Count > 0)
            {
                removed = await DeletePeriodAsync(connection, transaction, scope, metric, periodStart, periodEnd, periodColumn, ct).ConfigureAwait(false);
            }

            if (beforeCommit is not null)
            {
                await beforeCommit(new SinkCommit(connection, transaction, 0, removed), ct).ConfigureAwait(false);
            }

            return removed;
        }, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction that holds this target's table-wide lock (the lock a load that
    /// creates <see cref="SinkTarget.Table"/> takes), then commits; any failure rolls back, a transient one tries again.
    /// For short bookkeeping writes (Sync's state table uses a target naming the state table, so it never waits for a
    /// cost load's lock).
    /// </summary>
    public Task<T> RunLockedAsync<T>(TimeSpan lockTimeout, Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        string what = $"Writing to {Target.QualifiedTable}";
        return WithRetryAsync(what, null, connected => RunOnceAsync(what, lockTimeout, true, null, null, connected, work, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="read"/> on a connection of its own (no transaction), its lock waits bounded by
    /// <paramref name="lockTimeout"/>; a lock wait that times out says who holds the table (or the SQLite file), a
    /// transient failure tries again.
    /// </summary>
    public Task<T> ReadAsync<T>(TimeSpan lockTimeout, Func<DbConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        return WithRetryAsync($"Reading {Target.QualifiedTable}", null, async connected =>
        {
            await using DbConnection connection = await OpenAsync(lockTimeout, cancellationToken).ConfigureAwait(false);
            connected.Value = true;
            try
            {
                return await read(connection, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DbException && IsBusy(e))
            {
                throw ReadBlocked(lockTimeout, e);
            }
        }, cancellationToken);
    }

    private async Task<IReadOnlyList<string>> ReadColumnNamesAsync(TimeSpan lockTimeout, StrongBox connected, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await OpenAsync(lockTimeout, cancellationToken).ConfigureAwait(false);
        connected.Value = true;
        try
        {
            return await ListColumnNamesAsync(connection, null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException && IsBusy(e))
        {
            throw ReadBlocked(lockTimeout, e);
        }
    }

    /// <summary>
    /// Turns the id columns an earlier version created as GUIDs into text (<see cref="TableColumns.UpgradeAsync"/>), in a
    /// short transaction under the table-wide lock; a table without such columns is only looked at.
    /// </summary>
    private async Task UpgradeColumnTypesAsync(string what, TimeSpan lockTimeout, IEngineLog log, StrongBox connected, CancellationToken cancellationToken)
    {
        bool needed;
        await using (DbConnection connection = await OpenAsync(lockTimeout, cancellationToken).ConfigureAwait(false))
        {
            connected.Value = true;
            needed = TableColumns.NeedsUpgrade(await TableColumns.ReadAsync(Target, connection, null, cancellationToken).ConfigureAwait(false));
        }

        if (needed)
        {
            await RunOnceAsync(what, lockTimeout, true, null, log, connected, async (connection, transaction, ct) =>
            {
                await TableColumns.UpgradeAsync(Target, connection, transaction, log, ct).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Adds the columns of <paramref name="wanted"/> the table lacks, in a short transaction under the table-wide lock; returns their names.</summary>
    private Task<List<string>> AddColumnsAsync(string what, IReadOnlyList<CostColumn> wanted, TimeSpan lockTimeout, IEngineLog log, StrongBox connected, CancellationToken cancellationToken)
        => RunOnceAsync(what, lockTimeout, true, null, log, connected, async (connection, transaction, ct) =>
        {
            IReadOnlyList<string> names = await ListColumnNamesAsync(connection, transaction, ct).ConfigureAwait(false);
            List<CostColumn> missing = Missing(wanted, names);
            foreach (CostColumn column in missing)
            {
                await ExecuteAsync(connection, transaction, Dialect.AddColumn(Target.EffectiveSchema, Target.Table, column), ct).ConfigureAwait(false);
            }

            if (missing.Count > 0)
            {
                log.Warning($"Added {missing.Count} column(s) to {Target.QualifiedTable} that this file has and the table had not: {string.Join(", ", missing.Select(c => c.Name))}.");
            }

            return missing.Select(c => c.Name).ToList();
        }, cancellationToken);

    private async Task CreateSchemaAsync(DbConnection connection, DbTransaction transaction, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        string? schema = Target.EffectiveSchema;
        if (schema is null || Dialect.CreateSchema(schema) is not { } sql)
        {
            return;
        }

        // An existing schema is left alone (creating one needs a privilege a loader often lacks, even with IF NOT EXISTS).
        await using (DbCommand exists = NewCommand(connection, transaction, Dialect.SchemaExists()))
        {
            AddParameter(exists, "schema", schema);
            if (Convert.ToInt64(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture) > 0)
            {
                return;
            }
        }

        await AcquireOrExplainAsync(connection, transaction, SqlDialect.SchemaLockResource(schema), false, lockTimeout, $"Another load creating schema {Dialect.Quote(schema)} on {Describe()}", cancellationToken).ConfigureAwait(false);
        await using DbCommand command = NewCommand(connection, transaction, sql);
        AddParameter(command, "schema", schema);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the schema, when the target names one that does not exist, inside the caller's transaction (Sync's state table).</summary>
    public Task EnsureSchemaAsync(DbConnection connection, DbTransaction transaction, TimeSpan lockTimeout, CancellationToken cancellationToken)
        => CreateSchemaAsync(connection, transaction, lockTimeout, cancellationToken);

    /// <summary>One attempt: open, begin, lock, work, commit; any failure rolls back and is translated (the caller decides about retrying).</summary>
    private async Task<T> RunOnceAsync<T>(string what, TimeSpan lockTimeout, bool tableLock, UnitLocks? unit, IEngineLog? log, StrongBox connected, Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await OpenAsync(lockTimeout, cancellationToken).ConfigureAwait(false);
        connected.Value = true;
        DbTransaction transaction;
        try
        {
            transaction = await BeginAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException && IsBusy(e))
        {
            throw WriterHoldsLock(lockTimeout, e);
        }

        await using (transaction.ConfigureAwait(false))
        {
            try
            {
                if (tableLock)
                {
                    log?.Debug($"Taking the table lock of {Target.QualifiedTable} (wait at most {lockTimeout.TotalSeconds:0} s).");
                    await AcquireOrExplainAsync(connection, transaction, SqlDialect.LockResource(Target.EffectiveSchema, Target.Table), false, lockTimeout, $"Another load into {Target.QualifiedTable} on {Describe()}", cancellationToken).ConfigureAwait(false);
                }

                if (unit is not null)
                {
                    log?.Debug($"Taking the load lock of {unit.Describe} in {Target.QualifiedTable} (wait at most {lockTimeout.TotalSeconds:0} s).");
                    foreach ((string resource, bool shared) in unit.Locks)
                    {
                        await AcquireOrExplainAsync(connection, transaction, resource, shared, lockTimeout, $"Another load of {unit.Describe} into {Target.QualifiedTable} on {Describe()}", cancellationToken).ConfigureAwait(false);
                    }
                }

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

                if (TransientReason(e, true) is not null || e is TableChangedException)
                {
                    ClearPool(connection);
                    throw; // the retry loop decides, from the original exception
                }

                throw Translate(e, lockTimeout, what);
            }
        }
    }

    private async Task AcquireOrExplainAsync(DbConnection connection, DbTransaction transaction, string resource, bool shared, TimeSpan lockTimeout, string holder, CancellationToken cancellationToken)
    {
        try
        {
            await AcquireAsync(connection, transaction, resource, shared, lockTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (LockWaitTimedOutException e)
        {
            throw new EngineException(EngineErrorKind.LockTimeout,
                string.Create(CultureInfo.InvariantCulture, $"{holder} held its lock for more than {lockTimeout.TotalSeconds:0} seconds; nothing was changed. Try again later."),
                e.InnerException)
            {
                Advice = EngineAdvice.RaiseLockTimeout,
            };
        }
    }

    /// <summary>Runs attempts until one succeeds, a failure is not transient, or the retries are used up (warning before each retry).</summary>
    private async Task<T> WithRetryAsync<T>(string what, IEngineLog? log, Func<StrongBox, Task<T>> attempt, CancellationToken cancellationToken)
    {
        var connected = new StrongBox();
        int changes = 0;
        for (int retry = 1; ; retry++)
        {
            try
            {
                return await attempt(connected).ConfigureAwait(false);
            }
            catch (TableChangedException e)
            {
                if (++changes > 3)
                {
                    throw new EngineException(EngineErrorKind.DatabaseCommand, $"{what} on {Describe()} failed: {e.Message} three times in a row; nothing was changed.", e);
                }

                retry--; // another session changed the table between our look and our lock: look again
            }
            catch (Exception e) when (e is not OperationCanceledException && !cancellationToken.IsCancellationRequested && TransientReason(e, connected.Value) is { } reason)
            {
                ClearPool(null);
                if (retry > Retry.MaxRetries)
                {
                    throw new EngineException(EngineErrorKind.TransientRetriesExhausted,
                        string.Create(CultureInfo.InvariantCulture, $"{what} on {Describe()} failed {retry} times with transient errors (last: {reason}); nothing was changed. Try again later."), e);
                }

                TimeSpan delay = Retry.DelayFor(retry);
                string message = string.Create(CultureInfo.InvariantCulture,
                    $"{what} on {Describe()} failed with a transient error ({reason}); the transaction was rolled back. Trying again in {delay.TotalSeconds:0.0} s (retry {retry} of {Retry.MaxRetries}).");
                if (log is not null)
                {
                    log.Warning(message);
                }
                else
                {
                    WarningSink?.Invoke(message);
                }

                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or System.IO.IOException or TimeoutException)
            {
                throw Translate(e, TimeSpan.Zero, what);
            }
        }
    }

    /// <summary>Where warnings of callers without a log go (the state table writes); null drops them.</summary>
    public Action<string>? WarningSink { get; init; }

    /// <summary>Deletes the rows of one scope and metric whose <paramref name="periodColumn"/> lies within the period; returns how many.</summary>
    private async Task<long> DeletePeriodAsync(DbConnection connection, DbTransaction transaction, string scope, string metric, DateTime periodStart, DateTime periodEnd, string periodColumn, CancellationToken cancellationToken)
    {
        await using DbCommand delete = NewCommand(connection, transaction, Dialect.DeletePeriod(Target.EffectiveSchema, Target.Table, periodColumn));
        AddParameter(delete, "scope", scope);
        AddParameter(delete, "metric", metric);
        AddDateParameter(delete, "from", periodStart);
        AddDateParameter(delete, "to", periodEnd);
        return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private Exception Translate(Exception e, TimeSpan lockTimeout, string what)
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
            return ReaderHoldsLock(lockTimeout, e);
        }

        if (e is DbException or InvalidOperationException or System.IO.IOException or TimeoutException or TransientDatabaseException)
        {
            return new EngineException(EngineErrorKind.DatabaseCommand, $"{what} on {Describe()} failed; nothing was changed: {e.Message}", e);
        }

        return e;
    }

    /// <summary>A lock wait that timed out while taking the write lock (SQLite: another writer).</summary>
    protected virtual EngineException WriterHoldsLock(TimeSpan lockTimeout, Exception? inner) => ReaderHoldsLock(lockTimeout, inner);

    /// <summary>A database lock wait that timed out during the load (a session holding a lock on the table; SQLite: a reader holding the file).</summary>
    protected virtual EngineException ReaderHoldsLock(TimeSpan lockTimeout, Exception? inner)
        => new(EngineErrorKind.LockTimeoutReader,
            string.Create(CultureInfo.InvariantCulture, $"A session on {Describe()} held a lock on {Target.QualifiedTable} for more than {lockTimeout.TotalSeconds:0} seconds (a long query or an open transaction that reads or changes the table); nothing was changed. {WhoHoldsLocksHint}Try again later."),
            inner)
            {
                Advice = EngineAdvice.RaiseLockTimeout,
            };

    /// <summary>A read whose lock wait timed out.</summary>
    protected virtual EngineException ReadBlocked(TimeSpan lockTimeout, Exception? inner)
        => new(EngineErrorKind.LockTimeout,
            string.Create(CultureInfo.InvariantCulture, $"A session on {Describe()} held a lock on {Target.QualifiedTable} for more than {lockTimeout.TotalSeconds:0} seconds (a load creating the table or adding columns, or an open transaction); nothing was read. {WhoHoldsLocksHint}Try again later."),
            inner)
            {
                Advice = EngineAdvice.RaiseLockTimeout,
            };

    /// <summary>The locks of one unit: its scope and metric (shared), and each month of its period (exclusive); or the scope and metric exclusively for a very long period.</summary>
    private UnitLocks PlanUnitLocks(string scope, string metric, DateTime periodStart, DateTime periodEnd)
    {
        string? schema = Target.EffectiveSchema;
        var first = new DateTime(periodStart.Year, periodStart.Month, 1);
        var last = new DateTime(periodEnd.Year, periodEnd.Month, 1);
        int months = ((last.Year - first.Year) * 12) + last.Month - first.Month + 1;
        var locks = new List<(string, bool)>();
        string describe;
        if (months > SqlDialect.MaxMonthLocks || months < 1)
        {
            locks.Add((SqlDialect.UnitLockResource(schema, Target.Table, scope, metric), false));
            describe = $"{scope} {metric} (every month)";
        }
        else
        {
            locks.Add((SqlDialect.UnitLockResource(schema, Target.Table, scope, metric), true));
            for (DateTime m = first; m <= last; m = m.AddMonths(1))
            {
                locks.Add((SqlDialect.MonthLockResource(schema, Target.Table, scope, metric, m), false));
            }

            describe = months == 1
                ? string.Create(CultureInfo.InvariantCulture, $"{scope} {metric} {first:yyyy-MM}")
                : string.Create(CultureInfo.InvariantCulture, $"{scope} {metric} {first:yyyy-MM}..{last:yyyy-MM}");
        }

        return new UnitLocks(locks, describe);
    }

    private static List<CostColumn> Missing(IReadOnlyList<CostColumn> wanted, IReadOnlyCollection<string> names)
    {
        var have = new HashSet<string>(names, StringComparer.OrdinalIgnoreCase);
        return wanted.Where(c => !have.Contains(c.Name)).ToList();
    }

    /// <summary>Each wanted column's name as the table spells it (the same spelling first, else one that differs only in case).</summary>
    internal static IReadOnlyDictionary<string, string> Spelling(IReadOnlyList<CostColumn> wanted, IReadOnlyList<string> names)
    {
        var exact = new HashSet<string>(names, StringComparer.Ordinal);
        var byCase = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string n in names)
        {
            byCase.TryAdd(n, n);
        }

        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (CostColumn c in wanted)
        {
            map[c.Name] = exact.Contains(c.Name) ? c.Name : byCase.TryGetValue(c.Name, out string? spelled) ? spelled : c.Name;
        }

        return map;
    }

    /// <summary>The table's column names (empty when the table does not exist), case-insensitive.</summary>
    public async Task<HashSet<string>> ListColumnsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
        => new(await ListColumnNamesAsync(connection, transaction, cancellationToken).ConfigureAwait(false), StringComparer.OrdinalIgnoreCase);

    /// <summary>The table's column names as the table spells them, in table order (empty when the table does not exist).</summary>
    public async Task<IReadOnlyList<string>> ListColumnNamesAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        await using DbCommand command = NewCommand(connection, transaction, Dialect.ListColumns(Target.EffectiveSchema, Target.Table));
        AddParameter(command, "schema", Target.EffectiveSchema ?? string.Empty);
        AddParameter(command, "table", Target.Table);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    /// <summary>A command on the connection in the transaction, with the sink's command timeout (none on PostgreSQL and SQL Server; SQLite: its busy wait).</summary>
    protected virtual DbCommand NewCommand(DbConnection connection, DbTransaction? transaction, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.CommandTimeout = 0;
        return command;
    }

    protected async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using DbCommand command = NewCommand(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    protected static void AddParameter(DbCommand command, string name, object? value)
    {
        ArgumentNullException.ThrowIfNull(command);
        DbParameter p = command.CreateParameter();
        p.ParameterName = "@" + name;
        p.Value = value ?? DBNull.Value;
        command.Parameters.Add(p);
    }

    protected virtual void AddDateParameter(DbCommand command, string name, DateTime value)
    {
        ArgumentNullException.ThrowIfNull(command);
        DbParameter p = command.CreateParameter();
        p.ParameterName = "@" + name;
        p.DbType = DbType.Date;
        p.Value = value.Date;
        command.Parameters.Add(p);
    }

    /// <summary>A mutable flag shared by the attempts of one operation: whether the database was reached.</summary>
    protected sealed class StrongBox
    {
        public bool Value { get; set; }
    }

    private sealed record UnitLocks(IReadOnlyList<(string Resource, bool Shared)> Locks, string Describe);
}

/// <summary>An application lock whose wait timed out (the sink turns it into a message naming who holds it).</summary>
public sealed class LockWaitTimedOutException : Exception
{
    public LockWaitTimedOutException(Exception? inner = null)
        : base("The lock wait timed out.", inner)
    {
    }
}

/// <summary>The open load transaction just before it commits, with what the load wrote (for bookkeeping in the same transaction).</summary>
public sealed record SinkCommit(DbConnection Connection, DbTransaction Transaction, long RowsInserted, long RowsReplaced);
