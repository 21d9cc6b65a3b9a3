using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Exports;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Internal;

/// <summary>
/// The target parameters every cmdlet that reads or writes the cost table shares, named the way SQL and PowerShell
/// users name them: -SqlInstance and -Database for SQL Server (dbatools' names), -ConnectionString for any database
/// (the provider told by its keywords, or forced with -Provider), -DatabasePath for a SQLite file, -Credential for a
/// SQL Server or PostgreSQL login; with none of them, AzBilling.sqlite in the current location.
/// </summary>
public abstract class DatabaseTargetCmdlet : AsyncCmdlet
{
    public const string DefaultTable = "AzureCostDetails";
    public const string DefaultDatabaseFile = "AzBilling.sqlite";

    /// <summary>The parameters that name a target; a configuration file's members of this group yield to the command line's.</summary>
    internal static readonly string[] TargetGroup = { nameof(SqlInstance), nameof(Database), nameof(ConnectionString), nameof(Provider), nameof(DatabasePath) };

    /// <summary>The target keys a Sync-AzBilling configuration file may hold (Credential is a parameter only).</summary>
    internal static readonly string[] TargetKeys = TargetGroup.Concat(new[] { nameof(Table), nameof(Schema) }).ToArray();

    /// <summary>A SQL Server or Azure SQL instance: sql01, sql01\INSTANCE, sql01,1433, tcp:x.database.windows.net.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [Alias("ServerInstance")]
    public string? SqlInstance { get; set; }

    /// <summary>The database on -SqlInstance.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Database { get; set; }

    /// <summary>An ADO.NET connection string; the provider is told by its keywords unless -Provider names it.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConnectionString { get; set; }

    /// <summary>The database behind -ConnectionString, when its keywords do not tell.</summary>
    [Parameter]
    public AzBillingProvider? Provider { get; set; }

    /// <summary>A SQLite database file.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [Alias("SqlitePath")]
    public string? DatabasePath { get; set; }

    /// <summary>A SQL Server or PostgreSQL login (user name and password), so no password sits in a plain string.</summary>
    [Parameter]
    [ValidateNotNull]
    [Credential]
    [Alias("SqlCredential")]
    public PSCredential? Credential { get; set; }

    /// <summary>
    /// An Entra sign-in to the database: an AzBillingToken from Get-AzBillingToken. A token for another resource (Resource
    /// Manager, the default) is used for the database's resource in its cloud, with the same identity; renewed as needed.
    /// </summary>
    [Parameter]
    [ValidateNotNull]
    public AzBillingToken? DatabaseToken { get; set; }

    /// <summary>The cost table.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Table { get; set; } = DefaultTable;

    /// <summary>The table's schema (dbo on SQL Server, public on PostgreSQL when not given).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Schema { get; set; }

    /// <summary>True when the database sign-in is an Entra token (so -SqlInstance does not add Integrated Security).</summary>
    protected virtual bool DatabaseSignInByToken => DatabaseToken is not null;

    /// <summary>Resolves the target from the parameters; throws a terminating error for contradictions.</summary>
    /// <param name="readOnly">The command only reads: a SQLite file must exist already, and is opened read-only.</param>
    protected SinkTarget ResolveTarget(bool readOnly = false)
        => WithDatabaseToken(Resolve(
            new TargetParameters(SqlInstance, Database, ConnectionString, Provider, DatabasePath, Credential, Table, Schema, DatabaseSignInByToken),
            UnresolvedPath,
            readOnly));

    /// <summary>Adds -DatabaseToken's sign-in to the target (SQL Server, Azure SQL and PostgreSQL; not with -Credential).</summary>
    private SinkTarget WithDatabaseToken(SinkTarget target)
    {
        if (DatabaseToken is null)
        {
            return target;
        }

        if (target.Provider == DatabaseProvider.Sqlite)
        {
            throw Conflict("-DatabaseToken signs in to SQL Server, Azure SQL or PostgreSQL; a SQLite file has no sign-in.", DatabaseToken);
        }

        if (target.Credential is not null)
        {
            throw Conflict("-DatabaseToken and -Credential are two ways to sign in to the database; give one.", DatabaseToken);
        }

        return target with { AccessToken = DatabaseToken.DatabaseTokenSource(target.Provider == DatabaseProvider.PostgreSql) };
    }

    /// <summary>The target parameters' values, as a cmdlet has them bound (or tab completion has them typed).</summary>
    internal sealed record TargetParameters(
        string? SqlInstance,
        string? Database,
        string? ConnectionString,
        AzBillingProvider? Provider,
        string? DatabasePath,
        PSCredential? Credential,
        string Table,
        string? Schema,
        bool SignInByToken);

    /// <summary>Resolves a target; throws a TerminatingErrorException (ParameterConflict, PathNotFound, NotFound) naming what is wrong.</summary>
    internal static SinkTarget Resolve(TargetParameters p, Func<string, string> resolvePath, bool readOnly)
    {
        SinkTarget target = ResolveCore(p, resolvePath);
        if (!readOnly)
        {
            return target;
        }

        try
        {
            return TargetConnection.ForReading(target);
        }
        catch (EngineException e)
        {
            throw new TerminatingErrorException(ErrorMapper.ToErrorRecord(ErrorMapper.WithCommonAdvice(e), e.FilePath ?? (object?)target.DisplayTable));
        }
    }

    private static SinkTarget ResolveCore(TargetParameters p, Func<string, string> resolvePath)
    {
        string[] named = new[] { (nameof(SqlInstance), p.SqlInstance), (nameof(ConnectionString), p.ConnectionString), (nameof(DatabasePath), p.DatabasePath) }
            .Where(x => x.Item2 is not null).Select(x => "-" + x.Item1).ToArray();
        if (named.Length > 1)
        {
            throw Conflict($"Give one target: -SqlInstance (SQL Server), -ConnectionString (any database) or -DatabasePath (a SQLite file), not {string.Join(" and ", named)}.", null);
        }

        if (p.Database is not null && p.SqlInstance is null)
        {
            string hint = p.ConnectionString is not null
                ? "name the database in the connection string (Database=...)"
                : $"a SQLite file is -DatabasePath (-Database named one in earlier versions): -DatabasePath '{p.Database}'";
            throw Conflict($"-Database '{p.Database}' names a database on a SQL Server instance and goes with -SqlInstance; {hint}.", p.Database);
        }

        NetworkCredential? credential = p.Credential is null || p.Credential == PSCredential.Empty ? null : new NetworkCredential(p.Credential.UserName, p.Credential.Password);
        if (p.SqlInstance is not null)
        {
            if (p.Provider is not null and not AzBillingProvider.SqlServer)
            {
                throw Conflict($"-SqlInstance is a SQL Server instance; -Provider {p.Provider} does not go with it (use -ConnectionString for PostgreSQL).", p.Provider);
            }

            string cs = TargetConnection.ForSqlInstance(p.SqlInstance, p.Database, integratedSecurity: credential is null && !p.SignInByToken);
            return new SinkTarget(DatabaseProvider.SqlServer, cs, p.Table, p.Schema) { Credential = credential };
        }

        if (p.ConnectionString is not null)
        {
            DatabaseProvider provider;
            try
            {
                provider = p.Provider is AzBillingProvider forced ? Map(forced) : TargetConnection.InferProvider(p.ConnectionString);
                TargetConnection.CheckCredential(provider, p.ConnectionString, credential);
            }
            catch (EngineException e)
            {
                throw Conflict(e.Message, "ConnectionString");
            }

            return new SinkTarget(provider, p.ConnectionString, p.Table, p.Schema) { Credential = credential };
        }

        if (p.Provider is not null and not AzBillingProvider.Sqlite)
        {
            throw Conflict($"-Provider {p.Provider} needs -ConnectionString{(p.Provider == AzBillingProvider.SqlServer ? " (or -SqlInstance)" : string.Empty)}.", p.Provider);
        }

        if (credential is not null)
        {
            throw Conflict("-Credential is a SQL Server or PostgreSQL login; a SQLite file has none.", p.Credential);
        }

        string file = resolvePath(p.DatabasePath ?? DefaultDatabaseFile);
        string? folder = Path.GetDirectoryName(file);
        if (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
        {
            throw new TerminatingErrorException(new ErrorRecord(
                new DirectoryNotFoundException($"The folder of the SQLite database does not exist: {folder}"),
                ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, file));
        }

        return SinkTarget.ForSqliteFile(file, p.Table, p.Schema);
    }

    /// <summary>
    /// -FocusView: creates (or replaces) the FOCUS view over the cost table, with the open-data lookup tables it joins,
    /// after the loads. A failure is a non-terminating error; the loads stand.
    /// </summary>
    protected async Task MakeFocusViewAsync(SinkTarget target, TimeSpan lockTimeout)
    {
        ArgumentNullException.ThrowIfNull(target);
        string view = FocusView.ViewName(target.Dialect, target.Table);
        string display = target.Dialect.DefaultSchema is null ? view : $"{target.EffectiveSchema}.{view}";
        string where = $"{display} on {CostSink.Create(target).Describe()}";
        if (!await ShouldProcessAsync(where, $"Create or replace the FOCUS view over {target.DisplayTable} (and refill its lookup tables)").ConfigureAwait(false))
        {
            return;
        }

        try
        {
            FocusViewResult? result = await FocusView.EnsureAsync(target, lockTimeout, CreateLog(), CancellationToken).ConfigureAwait(false);
            if (result is not null)
            {
                WriteVerboseAsync($"FOCUS view {where}: {(result.Replaced ? "replaced" : "created")}.");
            }
        }
        catch (EngineException e) when (e.Kind is not EngineErrorKind.DatabaseConnection)
        {
            WriteItemError(e, display);
        }
    }

    private static TerminatingErrorException Conflict(string message, object? target)
        => new(new ErrorRecord(new ArgumentException(message), ErrorIds.ParameterConflict, ErrorCategory.InvalidArgument, target));

    internal static DatabaseProvider Map(AzBillingProvider provider) => provider switch
    {
        AzBillingProvider.SqlServer => DatabaseProvider.SqlServer,
        AzBillingProvider.PostgreSql => DatabaseProvider.PostgreSql,
        _ => DatabaseProvider.Sqlite,
    };
}
