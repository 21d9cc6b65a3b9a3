using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using Microsoft.Data.SqlClient;

namespace AzBillingPS.Engine.Sinks;

/// <summary>
/// SQL Server and Azure SQL: SqlBulkCopy streaming from the reader inside the load's transaction, application locks
/// (sp_getapplock) per unit and per table, money as decimal(38,20), a clustered (or clustered columnstore) index.
/// </summary>
internal sealed partial class SqlServerSink(SinkTarget target) : CostSink(target)
{
    /// <summary>Rows per bulk-copy batch into a clustered columnstore index: a full rowgroup, compressed directly (never below 102,400, the delta-store threshold).</summary>
    public const int ColumnstoreBatchSize = 1_048_576;

    /// <summary>
    /// Azure SQL's transient errors (the documented list for retry logic): database unavailable or reconfiguring
    /// (40613, 40197, 40143, 40540, 4221), the service busy or throttling (40501, 49918, 49919, 49920, 10928, 10929),
    /// the database not yet open after a failover or serverless resume (4060), and a deadlock victim (1205).
    /// </summary>
    private static readonly HashSet<int> TransientNumbers = new() { 40613, 40197, 40143, 40540, 4221, 40501, 49918, 49919, 49920, 10928, 10929, 4060, 1205 };

    /// <summary>Errors that mean the connection was lost (only retried once the server was reached: a wrong server name fails at once).</summary>
    private static readonly HashSet<int> ConnectionLostNumbers = new() { 233, 64, 596, 10053, 10054, 10060, 121, 0 };

    public override bool SupportsConcurrentLoads => true;

    protected override bool SeparateSchemaChanges => true;

    protected override string WhoHoldsLocksHint => "The blocking session shows in sys.dm_exec_requests (blocking_session_id). ";

    public override string Describe()
    {
        var b = new SqlConnectionStringBuilder(Target.ConnectionString);
        return $"SQL Server {b.DataSource}/{b.InitialCatalog}";
    }

    /// <summary>One SqlClient token callback per token source, so every connection of a target shares one pool (SqlClient keys its pools by the callback).</summary>
    private static readonly ConditionalWeakTable<Func<CancellationToken, Task<Auth.AccessTokenInfo>>, Func<SqlAuthenticationParameters, CancellationToken, Task<SqlAuthenticationToken>>> Callbacks = new();

    static SqlServerSink() => Auth.EntraSqlAuthentication.Register();

    protected override DbConnection CreateConnection()
    {
        var b = new SqlConnectionStringBuilder(Target.ConnectionString);
        bool entraByConnectionString = Auth.EntraSqlAuthentication.Serves(b.Authentication);
        if (Target.AccessToken is { } getToken)
        {
            if (Target.Credential is not null || b.IntegratedSecurity || !string.IsNullOrEmpty(b.UserID) || !string.IsNullOrEmpty(b.Password) || b.Authentication != SqlAuthenticationMethod.NotSpecified)
            {
                throw new ArgumentException("Entra token sign-in to the database cannot be combined with Authentication=, User ID/Password or Integrated Security in the connection string: name only the server and database.");
            }

            EnsureTokenTransport(b);
            var connection = new SqlConnection(Target.ConnectionString);
            try
            {
                // SqlClient calls back whenever it opens a physical connection, so a long job keeps getting valid tokens.
                connection.AccessTokenCallback = Callbacks.GetValue(getToken, source => async (_, ct) =>
                {
                    AzBillingPS.Engine.Auth.AccessTokenInfo token = await source(ct).ConfigureAwait(false);
                    return new SqlAuthenticationToken(token.Token, token.ExpiresOn);
                });
            }
            catch (InvalidOperationException e)
            {
                connection.Dispose();
                throw new ArgumentException("Entra token sign-in to the database cannot be combined with Authentication=, User ID/Password or Integrated Security in the connection string: " + e.Message, e);
            }

            return connection;
        }

        if (entraByConnectionString)
        {
            EnsureTokenTransport(b);
        }
        else if (b.Authentication is not (SqlAuthenticationMethod.NotSpecified or SqlAuthenticationMethod.SqlPassword))
        {
            throw new EngineException(
                EngineErrorKind.InvalidArgument,
                $"The connection string for SQL Server is not valid: Authentication={b.Authentication} is not a sign-in the module provides to SQL Server. Use Active Directory Default, Managed Identity, Service Principal or Workload Identity in the connection string.")
            {
                Advice = EngineAdvice.SignInWithDatabaseToken,
            };
        }

        return new SqlConnection(Target.ConnectionString, TargetConnection.SqlServerCredential(Target.Credential));
    }

    /// <summary>
    /// The rule for a database token (issue 10 §1's rule, for TDS): it goes only to the server the target names, over an
    /// encrypted connection whose certificate SqlClient checks (Encrypt=True or Strict, TrustServerCertificate=False);
    /// a server on this machine (localhost, 127.0.0.1, ::1, "." or "(local)") is the one exception, as plain http is for
    /// a loopback endpoint. Anything else is refused before a token is requested.
    /// </summary>
    internal static void EnsureTokenTransport(SqlConnectionStringBuilder b)
    {
        string host = ServerHost(b.DataSource);
        bool optional = SqlConnectionEncryptOption.Optional.Equals(b.Encrypt);
        bool checkedTls = !optional && !b.TrustServerCertificate;
        if (checkedTls || IsLocal(host))
        {
            return;
        }

        throw new EngineException(EngineErrorKind.TokenHostRefused,
            $"An Entra token goes to a database only over an encrypted connection whose certificate is checked, and the connection string for {b.DataSource} says {(optional ? "Encrypt=False" : "TrustServerCertificate=True")}: no token was requested or sent. Remove it (Azure SQL's certificates are trusted everywhere), or use a server on this machine.");
    }

    /// <summary>The host of a SqlClient Data Source: without tcp:/np: prefixes, instance name and port.</summary>
    internal static string ServerHost(string dataSource)
    {
        string s = dataSource.Trim();
        int colon = s.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && colon < 6 && !s.StartsWith('['))
        {
            s = s[(colon + 1)..]; // tcp:, np:, lpc:, admin:
        }

        int cut = s.IndexOfAny(HostEnd);
        return (cut >= 0 ? s[..cut] : s).Trim().Trim('[', ']');
    }

    private static readonly System.Buffers.SearchValues<char> HostEnd = System.Buffers.SearchValues.Create(",\\");

    private static bool IsLocal(string host)
        => host is "." or "(local)" || host.StartsWith("(localdb)", StringComparison.OrdinalIgnoreCase) || TokenEndpoint.IsLoopback(host);

    protected override async Task AcquireAsync(DbConnection connection, DbTransaction transaction, string resource, bool sharedMode, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        await using DbCommand command = NewCommand(connection, transaction, Dialect.Lock(sharedMode));
        AddParameter(command, "resource", AppLockResource(resource));
        AddParameter(command, "mode", sharedMode ? "Shared" : "Exclusive");
        AddParameter(command, "timeoutMs", (int)Math.Clamp(lockTimeout.TotalMilliseconds, 0, int.MaxValue));
        object? value;
        try
        {
            value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqlException e) when (e.Number == 1222)
        {
            throw new LockWaitTimedOutException(e);
        }

        if (AppLockFailure(Convert.ToInt32(value, CultureInfo.InvariantCulture), Describe()) is { } failure)
        {
            throw failure;
        }
    }

    /// <summary>
    /// What sp_getapplock's result means: null when the lock was granted (0, or 1 after waiting); a lock wait that timed
    /// out (-1, another load holds it); a transient failure (-3, chosen as a deadlock victim: the unit is tried again);
    /// an error (-2 cancelled, -999 a parameter or other error).
    /// </summary>
    internal static Exception? AppLockFailure(int result, string server) => result switch
    {
        >= 0 => null,
        -1 => new LockWaitTimedOutException(),
        -3 => new TransientDatabaseException("sp_getapplock chose this session as a deadlock victim"),
        _ => new EngineException(EngineErrorKind.DatabaseCommand,
            string.Create(CultureInfo.InvariantCulture, $"Taking the load lock on {server} failed: sp_getapplock returned {result} ({(result == -2 ? "the request was cancelled" : "a parameter or other error")}); nothing was changed.")),
    };

    /// <summary>sp_getapplock's resource is nvarchar(255): a longer name is replaced by a hash of it, so distinct names never truncate into one.</summary>
    internal static string AppLockResource(string resource)
        => resource.Length <= 255 ? resource : "AZBILLINGPS:#" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(resource)));

    protected override bool IsBusy(Exception e) => e is SqlException { Number: 1222 };

    protected override string? TransientReason(Exception e, bool connected)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case TransientDatabaseException t:
                    return t.Message;
                case SqlException sql:
                    foreach (SqlError error in sql.Errors)
                    {
                        if (TransientNumbers.Contains(error.Number))
                        {
                            return error.Number == 1205
                                ? "SQL Server error 1205: chosen as a deadlock victim"
                                : string.Create(CultureInfo.InvariantCulture, $"SQL Server error {error.Number}");
                        }
                    }

                    if (connected && (sql.Class >= 20 || ConnectionLostNumbers.Contains(sql.Number)) && !IsCertificateFailure(sql))
                    {
                        return string.Create(CultureInfo.InvariantCulture, $"the connection was lost (SQL Server error {sql.Number}, severity {sql.Class})");
                    }

                    break;
                case System.IO.IOException or System.Net.Sockets.SocketException when connected:
                    return "the connection was lost (" + x.GetType().Name + ")";
            }
        }

        return null;
    }

    protected override void ClearPoolOf(DbConnection connection) => SqlConnection.ClearPool((SqlConnection)connection);

    protected override EngineException ConnectFailed(Exception e)
    {
        if (CertificateProblem(e) is { } problem)
        {
            var b = new SqlConnectionStringBuilder(Target.ConnectionString);
            return new EngineException(EngineErrorKind.DatabaseConnection,
                $"Cannot connect to {Describe()}: the server's TLS certificate is not trusted by this machine (SqlClient encrypts every connection by default, and checks the certificate). "
                + $"Install the certificate of the authority that issued it (or the server's own, if it is self-signed) in this machine's trusted roots, and name the server as the certificate does ({b.DataSource}); "
                + $"only on a network you trust, add TrustServerCertificate=True to the connection string instead. ({problem})",
                e);
        }

        return base.ConnectFailed(e);
    }

    /// <summary>SEC_E_UNTRUSTED_ROOT and SEC_E_WRONG_PRINCIPAL: the numbers SqlClient reports for a certificate that does not validate.</summary>
    private static readonly HashSet<int> CertificateNumbers = new() { -2146893019, -2146893022 };

    /// <summary>True when the connection failed because the server's certificate did not validate (untrusted chain, name mismatch).</summary>
    internal static bool IsCertificateFailure(Exception e) => CertificateProblem(e) is not null;

    /// <summary>What was wrong with the server's certificate (the TLS layer's own words), or null when the failure was something else.</summary>
    private static string? CertificateProblem(Exception e)
    {
        bool numbered = false;
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            numbered |= x is SqlException sql && CertificateNumbers.Contains(sql.Number);
            string m = x.Message;
            if (m.Contains("certificate chain", StringComparison.OrdinalIgnoreCase)
                || m.Contains("chain validation", StringComparison.OrdinalIgnoreCase)
                || m.Contains("remote certificate", StringComparison.OrdinalIgnoreCase)
                || m.Contains("certificate name mismatch", StringComparison.OrdinalIgnoreCase)
                || m.Contains("target principal name is incorrect", StringComparison.OrdinalIgnoreCase))
            {
                return string.Join(" ", m.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return numbered ? e.Message : null;
    }

    protected override async Task<long> BulkInsertAsync(DbConnection connection, DbTransaction transaction, CostRowReader reader, IReadOnlyDictionary<string, string> names, int batchSize, bool tableCreated, CancellationToken cancellationToken)
    {
        reader.DecimalScale = SqlServerDialect.DecimalScale;
        bool columnstore = tableCreated ? Target.Columnstore : await IsColumnstoreAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        using var bulk = new SqlBulkCopy((SqlConnection)connection, SqlBulkCopyOptions.KeepNulls, (SqlTransaction)transaction)
        {
            DestinationTableName = Target.QualifiedTable,
            EnableStreaming = true,
            BatchSize = columnstore ? Math.Max(batchSize, ColumnstoreBatchSize) : batchSize,
            BulkCopyTimeout = 0,
        };
        for (int i = 0; i < reader.FieldCount; i++)
        {
            string name = reader.GetName(i);
            bulk.ColumnMappings.Add(name, names.TryGetValue(name, out string? spelled) ? spelled : name);
        }

        try
        {
            await bulk.WriteToServerAsync(reader, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or SqlException && e.Message.Contains("would be truncated", StringComparison.OrdinalIgnoreCase))
        {
            string column = TruncatedColumn().Match(e.Message) is { Success: true } m ? m.Groups[1].Value : "?";
            string file = reader.CurrentFile ?? "?";
            throw new EngineException(EngineErrorKind.CsvBadValue,
                string.Create(CultureInfo.InvariantCulture,
                    $"{file}: line {reader.CurrentLine}: the value of column '{column}' is longer than {Target.QualifiedTable} on {Describe()} allows; nothing was changed. Widen the column (ALTER TABLE {Target.QualifiedTable} ALTER COLUMN {Dialect.Quote(column)} nvarchar(max) NULL) and load again."),
                e)
            {
                FilePath = file,
                Line = reader.CurrentLine,
                Column = column,
            };
        }

        return reader.RowsRead;
    }

    private async Task<bool> IsColumnstoreAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using DbCommand command = NewCommand(connection, transaction, SqlServerDialect.TableStorage());
        AddParameter(command, "table", Target.QualifiedTable);
        object? type = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return type is not null and not DBNull && Convert.ToInt32(type, CultureInfo.InvariantCulture) == 5;
    }

    [GeneratedRegex(@"column '([^']*)'", RegexOptions.CultureInvariant)]
    private static partial Regex TruncatedColumn();
}
