using System;
using System.IO;
using System.Management.Automation;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Internal;

/// <summary>
/// The target parameters every cmdlet that reads or writes the cost table shares: -ConnectionString with
/// -Provider, or -Database for a SQLite file; with neither, AzBilling.sqlite in the current location.
/// </summary>
public abstract class DatabaseTargetCmdlet : AsyncCmdlet
{
    public const string DefaultTable = "AzureCostDetails";
    public const string DefaultDatabaseFile = "AzBilling.sqlite";

    /// <summary>An ADO.NET connection string for -Provider (SqlServer when -Provider is not given).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConnectionString { get; set; }

    /// <summary>The database behind -ConnectionString.</summary>
    [Parameter]
    public AzBillingProvider? Provider { get; set; }

    /// <summary>A SQLite database file (created when missing).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Database { get; set; }

    /// <summary>The cost table.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Table { get; set; } = DefaultTable;

    /// <summary>The table's schema (dbo on SQL Server, public on PostgreSQL when not given).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Schema { get; set; }

    /// <summary>Resolves the target from the parameters; throws a terminating error for contradictions.</summary>
    protected SinkTarget ResolveTarget()
    {
        if (ConnectionString is not null && Database is not null)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException("Give either -ConnectionString (with -Provider) or -Database (a SQLite file), not both."),
                ErrorIds.ParameterConflict, ErrorCategory.InvalidArgument, null));
        }

        if (ConnectionString is not null)
        {
            AzBillingProvider provider = Provider ?? AzBillingProvider.SqlServer;
            return new SinkTarget(Map(provider), ConnectionString, Table, Schema);
        }

        if (Provider is not null and not AzBillingProvider.Sqlite)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException($"-Provider {Provider} needs -ConnectionString."),
                ErrorIds.ParameterConflict, ErrorCategory.InvalidArgument, Provider));
        }

        string file = GetUnresolvedProviderPathFromPSPath(Database ?? DefaultDatabaseFile);
        string? folder = Path.GetDirectoryName(file);
        if (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
        {
            ThrowTerminatingError(new ErrorRecord(
                new DirectoryNotFoundException($"The folder of the SQLite database does not exist: {folder}"),
                ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, Database));
        }

        return SinkTarget.ForSqliteFile(file, Table, Schema);
    }

    internal static DatabaseProvider Map(AzBillingProvider provider) => provider switch
    {
        AzBillingProvider.SqlServer => DatabaseProvider.SqlServer,
        AzBillingProvider.PostgreSql => DatabaseProvider.PostgreSql,
        _ => DatabaseProvider.Sqlite,
    };
}
