using System;
using System.Data.Common;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Csv;
using Microsoft.Data.Sqlite;

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

    protected override Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostDataReader reader, int batchSize, CancellationToken cancellationToken)
    {
        using SqliteCommand insert = ((SqliteConnection)connection).CreateCommand();
        insert.Transaction = (SqliteTransaction)transaction;
        var names = new string[reader.FieldCount];
        var values = new string[reader.FieldCount];
        var parameters = new SqliteParameter[reader.FieldCount];
        var types = new CostColumnType[reader.FieldCount];
        for (int i = 0; i < reader.FieldCount; i++)
        {
            names[i] = Dialect.Quote(reader.Columns[i].Name);
            values[i] = "$p" + i.ToString(CultureInfo.InvariantCulture);
            types[i] = reader.Columns[i].Type;
            parameters[i] = insert.Parameters.Add(values[i], types[i] switch
            {
                CostColumnType.Decimal => SqliteType.Real,
                CostColumnType.Boolean => SqliteType.Integer,
                _ => SqliteType.Text,
            });
        }

        insert.CommandText = $"INSERT INTO {Target.QualifiedTable} ({string.Join(", ", names)}) VALUES ({string.Join(", ", values)})";
        insert.Prepare();

        long rows = 0;
        while (reader.Read())
        {
            for (int i = 0; i < parameters.Length; i++)
            {
                if (reader.IsDBNull(i))
                {
                    parameters[i].Value = DBNull.Value;
                    continue;
                }

                parameters[i].Value = types[i] switch
                {
                    CostColumnType.Decimal => (double)reader.GetDecimal(i),
                    CostColumnType.Date => reader.GetDateTime(i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    CostColumnType.Timestamp => reader.GetDateTime(i).ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture),
                    CostColumnType.Boolean => reader.GetBoolean(i) ? 1L : 0L,
                    CostColumnType.Guid => reader.GetGuid(i).ToString("D"),
                    _ => reader.GetString(i),
                };
            }

            insert.ExecuteNonQuery();
            rows++;
        }

        return Task.FromResult(rows);
    }

    protected override void AddDateParameter(DbCommand command, string name, DateTime value)
        => AddParameter(command, name, value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
}
