using System;
using System.Data.Common;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
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

    protected override DbConnection CreateConnection()
    {
        // No pooling: the file is released as soon as a load ends, so other processes can take it.
        var builder = new SqliteConnectionStringBuilder(Target.ConnectionString) { Pooling = false };
        return new SqliteConnection(builder.ToString());
    }

    protected override async Task<DbTransaction> BeginAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        var sqlite = (SqliteConnection)connection;
        int ms = (int)Math.Clamp(lockTimeout.TotalMilliseconds, 0, int.MaxValue);
        sqlite.DefaultTimeout = Math.Max(1, (int)Math.Ceiling(lockTimeout.TotalSeconds));
        await ExecuteAsync(connection, null, string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {ms}"), cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "PRAGMA cache_size = -65536", cancellationToken).ConfigureAwait(false);
        return sqlite.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock, or wait for it
    }

    protected override Task LockAsync(DbConnection connection, DbTransaction transaction, TimeSpan lockTimeout, CancellationToken cancellationToken)
        => Task.CompletedTask;

    protected override bool IsBusy(Exception e) => e is SqliteException { SqliteErrorCode: 5 or 6 };

    /// <summary>
    /// One prepared INSERT, bound and stepped through SQLite's own API: values go from the file's UTF-8 bytes
    /// to SQLite without a string or a parameter object per value.
    /// </summary>
    protected override Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostRowReader reader, int batchSize, CancellationToken cancellationToken)
    {
        var sqlite = (SqliteConnection)connection;
        int n = reader.FieldCount;
        var names = new string[n];
        var values = new string[n];
        var types = new CostColumnType[n];
        for (int i = 0; i < n; i++)
        {
            names[i] = Dialect.Quote(reader.Columns[i].Name);
            values[i] = "?" + (i + 1).ToString(CultureInfo.InvariantCulture);
            types[i] = reader.Columns[i].Type;
        }

        string sql = $"INSERT INTO {Target.QualifiedTable} ({string.Join(", ", names)}) VALUES ({string.Join(", ", values)})";
        sqlite3 db = sqlite.Handle!;
        Check(db, raw.sqlite3_prepare_v2(db, sql, out sqlite3_stmt statement));
        using (statement)
        {
            Span<byte> buffer = stackalloc byte[64];
            long rows = 0;
            while (reader.Read())
            {
                for (int i = 0; i < n; i++)
                {
                    int p = i + 1;
                    if (reader.IsDBNull(i))
                    {
                        Check(db, raw.sqlite3_bind_null(statement, p));
                        continue;
                    }

                    int written;
                    switch (types[i])
                    {
                        case CostColumnType.Decimal:
                            Check(db, raw.sqlite3_bind_double(statement, p, (double)reader.GetDecimal(i)));
                            break;
                        case CostColumnType.Boolean:
                            Check(db, raw.sqlite3_bind_int64(statement, p, reader.GetBoolean(i) ? 1 : 0));
                            break;
                        case CostColumnType.Date:
                            reader.GetDateTime(i).TryFormat(buffer, out written, "yyyy-MM-dd", CultureInfo.InvariantCulture);
                            Check(db, raw.sqlite3_bind_text(statement, p, buffer[..written]));
                            break;
                        case CostColumnType.Timestamp:
                            reader.GetDateTime(i).TryFormat(buffer, out written, "yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
                            Check(db, raw.sqlite3_bind_text(statement, p, buffer[..written]));
                            break;
                        case CostColumnType.Guid:
                            reader.GetGuid(i).TryFormat(buffer, out written, "D");
                            Check(db, raw.sqlite3_bind_text(statement, p, buffer[..written]));
                            break;
                        case CostColumnType.Json:
                            Check(db, raw.sqlite3_bind_text(statement, p, reader.GetString(i)));
                            break;
                        default:
                            Check(db, raw.sqlite3_bind_text(statement, p, reader.GetUtf8(i)));
                            break;
                    }
                }

                int rc = raw.sqlite3_step(statement);
                if (rc != raw.SQLITE_DONE)
                {
                    Check(db, rc);
                }

                raw.sqlite3_reset(statement);
                rows++;
            }

            return Task.FromResult(rows);
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
