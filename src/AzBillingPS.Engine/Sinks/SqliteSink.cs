using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace AzBillingPS.Engine.Sinks;

/// <summary>
/// SQLite, the embedded default: one prepared INSERT in one IMMEDIATE transaction (which is also the
/// database's write lock). Money is REAL here (SQLite has no decimal type), dates ISO text.
/// </summary>
internal sealed class SqliteSink(SinkTarget target) : CostSink(target)
{
    public override string Describe()
    {
        var builder = new SqliteConnectionStringBuilder(Target.ConnectionString);
        return "SQLite " + builder.DataSource;
    }

    /// <summary>
    /// SQLite's start-up (the native library, the provider's statics, a connection and a prepared, stepped statement) on a
    /// database in memory: the file is not touched (-WhatIf, a missing file) and SQLite connections are not pooled.
    /// </summary>
    public override async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection("Data Source=:memory:");
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "CREATE TEMP TABLE warm_up (x TEXT); INSERT INTO warm_up VALUES ('x')";
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override DbConnection CreateConnection()
    {
        // No pooling: the file is released as soon as a load ends, so other processes can take it.
        var builder = new SqliteConnectionStringBuilder(Target.ConnectionString) { Pooling = false };
        return new SqliteConnection(builder.ToString());
    }

    /// <summary>
    /// The busy timeout (SQLite waiting for another connection's lock) and Microsoft.Data.Sqlite's own retry of busy
    /// statements (the command timeout) both come from the lock timeout, so no wait on the file lasts longer: neither
    /// a writer's lock nor a reader's.
    /// </summary>
    protected override async Task PrepareSessionAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        var sqlite = (SqliteConnection)connection;
        sqlite.DefaultTimeout = CommandTimeoutSeconds(lockTimeout);
        await base.PrepareSessionAsync(connection, lockTimeout, cancellationToken).ConfigureAwait(false); // PRAGMA busy_timeout: needs no lock
    }

    protected override async Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var sqlite = (SqliteConnection)connection;
        DbTransaction transaction = sqlite.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock, or wait for it
        await ExecuteAsync(connection, transaction, "PRAGMA cache_size = -65536", cancellationToken).ConfigureAwait(false); // reads the schema: after the lock
        return transaction;
    }

    /// <summary>Microsoft.Data.Sqlite retries busy statements until the command timeout (whole seconds; 0 would mean for ever).</summary>
    private static int CommandTimeoutSeconds(TimeSpan lockTimeout) => Math.Max(1, (int)Math.Ceiling(lockTimeout.TotalSeconds));

    /// <summary>SQLite commands keep the connection's timeout: it bounds the retries of a busy statement, not its running time.</summary>
    protected override DbCommand NewCommand(DbConnection connection, DbTransaction? transaction, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    protected override bool IsBusy(Exception e) => e is SqliteException { SqliteErrorCode: 5 or 6 };

    private string File => new SqliteConnectionStringBuilder(Target.ConnectionString).DataSource;

    protected override EngineException WriterHoldsLock(TimeSpan lockTimeout, Exception? inner)
        => new(EngineErrorKind.LockTimeout,
            string.Create(CultureInfo.InvariantCulture, $"Another load into {Target.QualifiedTable}, or another program writing to the SQLite file {File}, held its write lock for more than {lockTimeout.TotalSeconds:0} seconds; nothing was changed. Try again later."),
            inner)
            {
                Advice = EngineAdvice.RaiseLockTimeout,
            };

    protected override EngineException ReaderHoldsLock(TimeSpan lockTimeout, Exception? inner)
        => new(EngineErrorKind.LockTimeoutReader,
            string.Create(CultureInfo.InvariantCulture, $"A reader held the SQLite file {File} for more than {lockTimeout.TotalSeconds:0} seconds (an open transaction in another program, for example the sqlite3 shell or a reporting tool), so the load could not write its rows; nothing was changed. Close the reader's transaction."),
            inner)
            {
                Advice = EngineAdvice.RaiseLockTimeout,
            };

    protected override EngineException ReadBlocked(TimeSpan lockTimeout, Exception? inner)
        => new(EngineErrorKind.LockTimeout,
            string.Create(CultureInfo.InvariantCulture, $"The SQLite file {File} was locked by another process writing to it (a load in progress, or a program holding a write transaction) for more than {lockTimeout.TotalSeconds:0} seconds; nothing was read. Try again when it has finished."),
            inner)
            {
                Advice = EngineAdvice.RaiseLockTimeout,
            };

    /// <summary>
    /// One prepared INSERT, bound and stepped through SQLite's own API: values go from the file's UTF-8 bytes
    /// to SQLite without a string or a parameter object per value. SQLite keeps a statement's bindings from one row to
    /// the next, so a value equal to the one the column had in the row before (a billing account, a currency, an empty
    /// field, the lineage columns) is not bound again: comparing a few bytes costs a fraction of a call into SQLite.
    /// </summary>
    protected override Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostRowReader reader, IReadOnlyDictionary<string, string> names, int batchSize, bool tableCreated, CancellationToken cancellationToken)
    {
        var sqlite = (SqliteConnection)connection;
        int n = reader.FieldCount;
        var quoted = new string[n];
        var values = new string[n];
        var types = new CostColumnType[n];
        for (int i = 0; i < n; i++)
        {
            string name = reader.Columns[i].Name;
            quoted[i] = Dialect.Quote(names.TryGetValue(name, out string? spelled) ? spelled : name);
            values[i] = "?" + (i + 1).ToString(CultureInfo.InvariantCulture);
            types[i] = reader.Columns[i].Type;
        }

        string sql = $"INSERT INTO {Target.QualifiedTable} ({string.Join(", ", quoted)}) VALUES ({string.Join(", ", values)})";
        sqlite3 db = sqlite.Handle!;
        Check(db, raw.sqlite3_prepare_v2(db, sql, out sqlite3_stmt statement));
        using (statement)
        {
            var bound = new BoundValues(n);
            Span<byte> buffer = stackalloc byte[64];
            long rows = 0;
            while (reader.Read())
            {
                for (int i = 0; i < n; i++)
                {
                    int p = i + 1;
                    if (reader.IsDBNull(i))
                    {
                        if (bound.SetNull(i))
                        {
                            Check(db, raw.sqlite3_bind_null(statement, p));
                        }

                        continue;
                    }

                    switch (types[i])
                    {
                        case CostColumnType.Decimal:
                            double number = (double)reader.GetDecimal(i);
                            if (bound.Set(i, BitConverter.DoubleToInt64Bits(number)))
                            {
                                Check(db, raw.sqlite3_bind_double(statement, p, number));
                            }

                            break;
                        case CostColumnType.Boolean:
                            long flag = reader.GetBoolean(i) ? 1 : 0;
                            if (bound.Set(i, flag))
                            {
                                Check(db, raw.sqlite3_bind_int64(statement, p, flag));
                            }

                            break;
                        case CostColumnType.Date:
                            DateTime date = reader.GetDateTime(i);
                            if (bound.Set(i, date.Ticks))
                            {
                                Check(db, raw.sqlite3_bind_text(statement, p, buffer[..IsoText.FormatDate(date, buffer)]));
                            }

                            break;
                        case CostColumnType.Timestamp:
                            DateTime timestamp = reader.GetDateTime(i);
                            if (bound.Set(i, timestamp.Ticks))
                            {
                                Check(db, raw.sqlite3_bind_text(statement, p, buffer[..IsoText.FormatTimestamp(timestamp, buffer)]));
                            }

                            break;
                        case CostColumnType.Guid:
                            Guid guid = reader.GetGuid(i);
                            if (bound.Set(i, guid))
                            {
                                guid.TryFormat(buffer, out int written, "D");
                                Check(db, raw.sqlite3_bind_text(statement, p, buffer[..written]));
                            }

                            break;
                        default: // text, and JSON as its normalised text
                            ReadOnlySpan<byte> text = reader.GetUtf8(i);
                            if (bound.Set(i, text))
                            {
                                Check(db, raw.sqlite3_bind_text(statement, p, text));
                            }

                            break;
                    }
                }

                int rc = raw.sqlite3_step(statement);
                if (rc != raw.SQLITE_DONE)
                {
                    Check(db, rc);
                }

                raw.sqlite3_reset(statement); // keeps the bindings
                rows++;
            }

            return Task.FromResult(rows);
        }
    }

    /// <summary>What each parameter of the INSERT is bound to now; each Set returns whether the new value must be bound.</summary>
    private sealed class BoundValues(int count)
    {
        /// <summary>Text longer than this is bound every time rather than kept for the comparison.</summary>
        private const int MaxKeptText = 4096;

        private readonly byte[] _state = new byte[count]; // 0 unbound, 1 NULL, 2 a number (_numbers), 3 text (_text), 4 a GUID (_guids)
        private readonly long[] _numbers = new long[count];
        private readonly Guid[] _guids = new Guid[count];
        private readonly byte[]?[] _text = new byte[]?[count];
        private readonly int[] _textLength = new int[count];

        public bool SetNull(int i)
        {
            if (_state[i] == 1)
            {
                return false;
            }

            _state[i] = 1;
            return true;
        }

        public bool Set(int i, long value)
        {
            if (_state[i] == 2 && _numbers[i] == value)
            {
                return false;
            }

            _state[i] = 2;
            _numbers[i] = value;
            return true;
        }

        public bool Set(int i, Guid value)
        {
            if (_state[i] == 4 && _guids[i] == value)
            {
                return false;
            }

            _state[i] = 4;
            _guids[i] = value;
            return true;
        }

        public bool Set(int i, ReadOnlySpan<byte> text)
        {
            if (_state[i] == 3 && _textLength[i] >= 0 && text.SequenceEqual(_text[i].AsSpan(0, _textLength[i])))
            {
                return false;
            }

            _state[i] = 3;
            if (text.Length > MaxKeptText)
            {
                _textLength[i] = -1; // never equal: bound again next row
                return true;
            }

            if (_text[i] is not { } kept || kept.Length < text.Length)
            {
                kept = _text[i] = new byte[Math.Max(64, text.Length)];
            }

            text.CopyTo(kept);
            _textLength[i] = text.Length;
            return true;
        }
    }

    private static void Check(sqlite3 db, int rc)
    {
        if (rc != raw.SQLITE_OK && rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW)
        {
            throw new SqliteException($"SQLite Error {rc}: '{raw.sqlite3_errmsg(db).utf8_to_string()}'.", rc);
        }
    }

    protected override void AddDateParameter(DbCommand command, string name, DateTime value)
        => AddParameter(command, name, value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
}
