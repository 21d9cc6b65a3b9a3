using System;
using System.Data;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using Microsoft.Data.SqlClient;

namespace AzBillingPS.Engine.Sinks;

/// <summary>
/// SQL Server and Azure SQL: SqlBulkCopy streaming from the reader inside the load's transaction, an
/// application lock (sp_getapplock) per table, money as decimal(38,20).
/// </summary>
internal sealed class SqlServerSink(SinkTarget target) : CostSink(target)
{
    public override string Describe()
    {
        var b = new SqlConnectionStringBuilder(Target.ConnectionString);
        return $"SQL Server {b.DataSource}/{b.InitialCatalog}";
    }

    protected override DbConnection CreateConnection()
    {
        var connection = new SqlConnection(Target.ConnectionString, TargetConnection.SqlServerCredential(Target.Credential));
        if (Target.AccessToken is { } getToken)
        {
            var b = new SqlConnectionStringBuilder(Target.ConnectionString);
            if (Target.Credential is not null || b.IntegratedSecurity || !string.IsNullOrEmpty(b.UserID) || !string.IsNullOrEmpty(b.Password) || b.Authentication != SqlAuthenticationMethod.NotSpecified)
            {
                connection.Dispose();
                throw new ArgumentException("Entra token sign-in to the database cannot be combined with Authentication=, User ID/Password or Integrated Security in the connection string: name only the server and database.");
            }

            // SqlClient calls back whenever it opens a physical connection, so a long job keeps getting valid tokens.
            try
            {
                connection.AccessTokenCallback = async (_, ct) =>
                {
                    AzBillingPS.Engine.Auth.AccessTokenInfo token = await getToken(ct).ConfigureAwait(false);
                    return new SqlAuthenticationToken(token.Token, token.ExpiresOn);
                };
            }
            catch (InvalidOperationException e)
            {
                connection.Dispose();
                throw new ArgumentException("Entra token sign-in to the database cannot be combined with Authentication=, User ID/Password or Integrated Security in the connection string: " + e.Message, e);
            }
        }

        return connection;
    }

    protected override async Task<DbTransaction> BeginAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken)
        => await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

    protected override async Task LockAsync(DbConnection connection, DbTransaction transaction, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandTimeout = 0;
        command.CommandText = Dialect.Lock();
        AddParameter(command, "resource", SqlDialect.LockResource(Target.EffectiveSchema, Target.Table));
        AddParameter(command, "timeoutMs", (int)Math.Clamp(lockTimeout.TotalMilliseconds, 0, int.MaxValue));
        object? result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        if (Convert.ToInt32(result, System.Globalization.CultureInfo.InvariantCulture) < 0)
        {
            throw new EngineException(EngineErrorKind.LockTimeout,
                $"Another load into {Target.QualifiedTable} on {Describe()} held its lock for more than {lockTimeout.TotalSeconds:0} seconds; nothing was changed. Try again later or raise -LockTimeout.");
        }
    }

    protected override bool IsBusy(Exception e) => e is SqlException { Number: 1222 };

    protected override async Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostRowReader reader, int batchSize, CancellationToken cancellationToken)
    {
        reader.DecimalScale = SqlServerDialect.DecimalScale;
        using var bulk = new SqlBulkCopy((SqlConnection)connection, SqlBulkCopyOptions.KeepNulls, (SqlTransaction)transaction)
        {
            DestinationTableName = Target.QualifiedTable,
            EnableStreaming = true,
            BatchSize = batchSize,
            BulkCopyTimeout = 0,
        };
        for (int i = 0; i < reader.FieldCount; i++)
        {
            bulk.ColumnMappings.Add(reader.GetName(i), reader.GetName(i));
        }

        await bulk.WriteToServerAsync(reader, cancellationToken).ConfigureAwait(false);
        return reader.RowsRead;
    }
}
