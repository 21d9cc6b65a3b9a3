using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Csv;
using Npgsql;
using NpgsqlTypes;

namespace AzBillingPS.Engine.Sinks;

/// <summary>PostgreSQL: binary COPY inside the load's transaction; money as numeric (exact, any scale).</summary>
internal sealed class PostgreSqlSink(SinkTarget target) : CostSink(target)
{
    public override string Describe()
    {
        var b = new NpgsqlConnectionStringBuilder(Target.ConnectionString);
        return string.Create(CultureInfo.InvariantCulture, $"PostgreSQL {b.Host}:{b.Port}/{b.Database}");
    }

    protected override DbConnection CreateConnection() => new NpgsqlConnection(TargetConnection.PostgreSqlWithCredential(Target.ConnectionString, Target.Credential));

    protected override async Task<DbTransaction> BeginAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        DbTransaction tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        long ms = (long)Math.Max(1, lockTimeout.TotalMilliseconds);
        await ExecuteAsync(connection, tx, string.Create(CultureInfo.InvariantCulture, $"SET LOCAL lock_timeout = {ms}"), cancellationToken).ConfigureAwait(false);
        return tx;
    }

    protected override async Task LockAsync(DbConnection connection, DbTransaction transaction, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Dialect.Lock();
        AddParameter(command, "resource", SqlDialect.LockResource(Target.EffectiveSchema, Target.Table));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override bool IsBusy(Exception e) => e is PostgresException { SqlState: "55P03" };

    protected override async Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostRowReader reader, int batchSize, CancellationToken cancellationToken)
    {
        var npgsql = (NpgsqlConnection)connection;
        string columns = string.Join(", ", reader.Columns.Select(c => Dialect.Quote(c.Name)));
        var types = reader.Columns.Select(c => c.Type).ToArray();

        // Tags go in as jsonb where the table has jsonb (tables of earlier versions have text there).
        IReadOnlyDictionary<string, string> tableTypes = await TableColumns.ReadAsync(Target, connection, transaction, cancellationToken).ConfigureAwait(false);
        bool[] jsonb = reader.Columns.Select(c => c.Type == CostColumnType.Json && tableTypes.TryGetValue(c.Name, out string? t) && t is "jsonb" or "json").ToArray();
        long rows = 0;
        using (NpgsqlBinaryImporter importer = npgsql.BeginBinaryImport($"COPY {Target.QualifiedTable} ({columns}) FROM STDIN (FORMAT BINARY)"))
        {
            using CancellationTokenRegistration stop = cancellationToken.Register(() => importer.Timeout = TimeSpan.FromMilliseconds(1));
            while (reader.Read())
            {
                importer.StartRow();
                for (int i = 0; i < types.Length; i++)
                {
                    if (reader.IsDBNull(i))
                    {
                        importer.WriteNull();
                        continue;
                    }

                    switch (types[i])
                    {
                        case CostColumnType.Decimal:
                            importer.Write(reader.GetDecimal(i), NpgsqlDbType.Numeric);
                            break;
                        case CostColumnType.Date:
                            importer.Write(DateOnly.FromDateTime(reader.GetDateTime(i)), NpgsqlDbType.Date);
                            break;
                        case CostColumnType.Timestamp:
                            importer.Write(DateTime.SpecifyKind(reader.GetDateTime(i), DateTimeKind.Utc), NpgsqlDbType.TimestampTz);
                            break;
                        case CostColumnType.Boolean:
                            importer.Write(reader.GetBoolean(i), NpgsqlDbType.Boolean);
                            break;
                        case CostColumnType.Guid:
                            importer.Write(reader.GetGuid(i), NpgsqlDbType.Uuid);
                            break;
                        case CostColumnType.Json when jsonb[i]:
                            importer.Write(reader.GetString(i), NpgsqlDbType.Jsonb); // always valid JSON (CostRowReader.ToJson)
                            break;
                        default:
                            importer.Write(reader.GetString(i), NpgsqlDbType.Text);
                            break;
                    }
                }

                rows++;
            }

            cancellationToken.ThrowIfCancellationRequested();
            importer.Complete();
        }

        return rows;
    }
}
