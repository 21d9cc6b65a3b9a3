using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Collections.Concurrent;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using Npgsql;

namespace AzBillingPS.Engine.Sinks;

/// <summary>PostgreSQL: binary COPY inside the load's transaction; money as numeric (exact, any scale); advisory locks per unit and per table.</summary>
internal sealed class PostgreSqlSink(SinkTarget target) : CostSink(target)
{
    /// <summary>
    /// SQLSTATEs worth trying the unit again for: serialization failure and deadlock (40001, 40P01), the server shutting
    /// down or starting (57P01 admin shutdown, which pg_terminate_backend sends too; 57P02, 57P03), too many connections
    /// (53300), and the connection exceptions (class 08).
    /// </summary>
    private static readonly HashSet<string> TransientStates = new(StringComparer.Ordinal) { "40001", "40P01", "57P01", "57P02", "57P03", "53300" };

    public override bool SupportsConcurrentLoads => true;

    protected override bool SeparateSchemaChanges => true;

    protected override string WhoHoldsLocksHint => "The blocking session shows in pg_stat_activity (pg_blocking_pids). ";

    public override string Describe()
    {
        var b = new NpgsqlConnectionStringBuilder(Target.ConnectionString);
        return string.Create(CultureInfo.InvariantCulture, $"PostgreSQL {b.Host}:{b.Port}/{b.Database}");
    }

    /// <summary>One data source (one pool, one password provider) per token source and connection string.</summary>
    private static readonly ConditionalWeakTable<Func<CancellationToken, Task<Auth.AccessTokenInfo>>, ConcurrentDictionary<string, NpgsqlDataSource>> DataSources = new();

    /// <summary>
    /// Npgsql's start-up (its type mappings, the connector) and the connection itself (TCP, TLS, authentication) are made
    /// while the files are read, and the connection goes back to Npgsql's pool for the load to take. Not with an Entra
    /// token: that connection asks the token provider, which is the load's to ask.
    /// </summary>
    public override async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        if (Target.AccessToken is null)
        {
            await using DbConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override DbConnection CreateConnection()
    {
        if (Target.AccessToken is not { } getToken)
        {
            return new NpgsqlConnection(TargetConnection.PostgreSqlWithCredential(Target.ConnectionString, Target.Credential));
        }

        string connectionString = TokenConnectionString(Target.ConnectionString, Target.Credential is not null);
        NpgsqlDataSource source = DataSources.GetValue(getToken, _ => new ConcurrentDictionary<string, NpgsqlDataSource>(StringComparer.Ordinal))
            .GetOrAdd(connectionString, cs => new NpgsqlDataSourceBuilder(cs)
                .UsePasswordProvider(_ => PasswordFor(getToken, CancellationToken.None).AsTask().GetAwaiter().GetResult(), (_, ct) => PasswordFor(getToken, ct))
                .Build());
        return source.CreateConnection();
    }

    /// <summary>
    /// Azure Database for PostgreSQL takes an Entra access token as the password. Npgsql asks for it whenever it opens
    /// a physical connection, so a long job always sends a token that is still valid (the token source renews it).
    /// </summary>
    internal static async ValueTask<string> PasswordFor(Func<CancellationToken, Task<Auth.AccessTokenInfo>> getToken, CancellationToken cancellationToken)
        => (await getToken(cancellationToken).ConfigureAwait(false)).Token;

    /// <summary>
    /// The connection string a token goes over: no password or login of its own, and TLS with the server's certificate
    /// and name checked (SSL Mode=VerifyFull, set when the string names no SSL mode) unless every host is on this machine.
    /// A weaker SSL mode is refused before any token is requested (issue 10 §1's rule, for the PostgreSQL protocol).
    /// </summary>
    internal static string TokenConnectionString(string connectionString, bool credential)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        if (credential || !string.IsNullOrEmpty(b.Password) || !string.IsNullOrEmpty(b.Passfile))
        {
            throw new ArgumentException("Entra token sign-in to PostgreSQL sends the token as the password: leave Password, Passfile and -Credential out (Username names the Entra user or group).");
        }

        string[] hosts = (b.Host ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(h => h.Split(':')[0]).ToArray();
        bool local = hosts.Length > 0 && hosts.All(h => TokenEndpoint.IsLoopback(h) || h.StartsWith('/'));
        bool named = connectionString.Contains("ssl mode", StringComparison.OrdinalIgnoreCase) || connectionString.Contains("sslmode", StringComparison.OrdinalIgnoreCase);
        if (!named && !local)
        {
            b.SslMode = SslMode.VerifyFull;
        }
        else if (b.SslMode != SslMode.VerifyFull && !local)
        {
            throw new AzBillingPS.Engine.Common.EngineException(AzBillingPS.Engine.Common.EngineErrorKind.TokenHostRefused,
                $"An Entra token goes to PostgreSQL only over TLS with the server's certificate and name checked, and the connection string for {b.Host} says SSL Mode={b.SslMode}: no token was requested or sent. Use SSL Mode=VerifyFull (or leave SSL Mode out).");
        }

        return b.ConnectionString;
    }

    protected override async Task AcquireAsync(DbConnection connection, DbTransaction transaction, string resource, bool sharedMode, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        await using DbCommand command = NewCommand(connection, transaction, Dialect.Lock(sharedMode));
        AddParameter(command, "resource", resource);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == "55P03")
        {
            throw new LockWaitTimedOutException(e); // lock_timeout bounds advisory lock waits too
        }
    }

    protected override bool IsBusy(Exception e) => e is PostgresException { SqlState: "55P03" };

    protected override string? TransientReason(Exception e, bool connected)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case TransientDatabaseException t:
                    return t.Message;
                case PostgresException pg when TransientStates.Contains(pg.SqlState) || pg.SqlState.StartsWith("08", StringComparison.Ordinal):
                    return $"PostgreSQL {pg.SqlState}: {pg.MessageText}";
                case PostgresException:
                    return null;
                case NpgsqlException npgsql when connected && npgsql.IsTransient:
                    return "the connection was lost (" + (npgsql.InnerException?.GetType().Name ?? npgsql.GetType().Name) + ")";
                case System.IO.IOException or System.Net.Sockets.SocketException when connected:
                    return "the connection was lost (" + x.GetType().Name + ")";
            }
        }

        return null;
    }

    protected override void ClearPoolOf(DbConnection connection) => NpgsqlConnection.ClearPool((NpgsqlConnection)connection);

    /// <summary>
    /// Binary COPY inside the load's transaction, the rows encoded by <see cref="PgBinaryCopyWriter"/> straight into
    /// Npgsql's raw COPY stream. A failure (a bad row, Ctrl+C, a dropped connection) cancels the COPY; the transaction
    /// then rolls back as for any failed load.
    /// </summary>
    protected override async Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostRowReader reader, IReadOnlyDictionary<string, string> names, int batchSize, bool tableCreated, CancellationToken cancellationToken)
    {
        var npgsql = (NpgsqlConnection)connection;
        string columns = string.Join(", ", reader.Columns.Select(c => Dialect.Quote(names.TryGetValue(c.Name, out string? spelled) ? spelled : c.Name)));
        CostColumnType[] types = reader.Columns.Select(c => c.Type).ToArray();

        // Tags go in as jsonb where the table has jsonb (tables of earlier versions have text there).
        IReadOnlyDictionary<string, string> tableTypes = await TableColumns.ReadAsync(Target, connection, transaction, cancellationToken).ConfigureAwait(false);
        bool[] jsonb = reader.Columns.Select(c => c.Type == CostColumnType.Json && tableTypes.TryGetValue(names.TryGetValue(c.Name, out string? spelled) ? spelled : c.Name, out string? t) && t == "jsonb").ToArray();
        long rows = 0;
        NpgsqlRawCopyStream stream = await npgsql.BeginRawBinaryCopyAsync($"COPY {Target.QualifiedTable} ({columns}) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        try
        {
            // A write the server does not take (a stalled connection) ends at once when the load is stopped.
            using CancellationTokenRegistration stop = cancellationToken.Register(() => stream.WriteTimeout = 1);
            var writer = new PgBinaryCopyWriter(stream, jsonb);
            while (reader.Read())
            {
                writer.WriteRow(reader, types);
                rows++;
            }

            cancellationToken.ThrowIfCancellationRequested();
            writer.Complete();
        }
        catch
        {
            try
            {
                stream.Cancel();
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or ObjectDisposedException or System.IO.IOException or TimeoutException)
            {
                // The connection is gone or the COPY already ended; the transaction rolls back either way.
            }

            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        await stream.DisposeAsync().ConfigureAwait(false); // ends the COPY: the server checks and stores the rows
        return rows;
    }
}
