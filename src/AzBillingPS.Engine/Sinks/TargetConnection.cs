using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Linq;
using System.Net;
using AzBillingPS.Engine.Common;
using Microsoft.Data.SqlClient;
using Npgsql;

namespace AzBillingPS.Engine.Sinks;

/// <summary>
/// How a target's connection is named the way SQL and PowerShell users name it: a SQL Server instance and database
/// (dbatools' -SqlInstance/-Database), a connection string whose provider is told by its keywords, a login kept as a
/// credential (never a plain-text password in a parameter), and a SQLite file.
/// </summary>
public static class TargetConnection
{
    // Keywords only one provider's connection string knows (compared without spaces and underscores, case-insensitively).
    // Shared ones (Database, Password, User ID, Pooling, Application Name, ...) say nothing about the provider.
    private static readonly Dictionary<string, DatabaseProvider> OwnKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        // PostgreSQL (Npgsql)
        ["host"] = DatabaseProvider.PostgreSql,
        ["username"] = DatabaseProvider.PostgreSql,
        ["port"] = DatabaseProvider.PostgreSql,
        ["sslmode"] = DatabaseProvider.PostgreSql,
        ["searchpath"] = DatabaseProvider.PostgreSql,
        ["passfile"] = DatabaseProvider.PostgreSql,
        ["rootcertificate"] = DatabaseProvider.PostgreSql,
        ["sslcertificate"] = DatabaseProvider.PostgreSql,
        ["sslkey"] = DatabaseProvider.PostgreSql,
        ["targetsessionattributes"] = DatabaseProvider.PostgreSql,
        ["includeerrordetail"] = DatabaseProvider.PostgreSql,
        ["keepalive"] = DatabaseProvider.PostgreSql,
        ["timezone"] = DatabaseProvider.PostgreSql,

        // SQL Server / Azure SQL (SqlClient)
        ["server"] = DatabaseProvider.SqlServer,
        ["address"] = DatabaseProvider.SqlServer,
        ["addr"] = DatabaseProvider.SqlServer,
        ["networkaddress"] = DatabaseProvider.SqlServer,
        ["initialcatalog"] = DatabaseProvider.SqlServer,
        ["integratedsecurity"] = DatabaseProvider.SqlServer,
        ["trustedconnection"] = DatabaseProvider.SqlServer,
        ["encrypt"] = DatabaseProvider.SqlServer,
        ["trustservercertificate"] = DatabaseProvider.SqlServer,
        ["hostnameincertificate"] = DatabaseProvider.SqlServer,
        ["servercertificate"] = DatabaseProvider.SqlServer,
        ["authentication"] = DatabaseProvider.SqlServer,
        ["uid"] = DatabaseProvider.SqlServer,
        ["multipleactiveresultsets"] = DatabaseProvider.SqlServer,
        ["multisubnetfailover"] = DatabaseProvider.SqlServer,
        ["applicationintent"] = DatabaseProvider.SqlServer,
        ["failoverpartner"] = DatabaseProvider.SqlServer,
        ["attachdbfilename"] = DatabaseProvider.SqlServer,
        ["connecttimeout"] = DatabaseProvider.SqlServer,
        ["connectretrycount"] = DatabaseProvider.SqlServer,
        ["packetsize"] = DatabaseProvider.SqlServer,

        // SQLite (Microsoft.Data.Sqlite)
        ["filename"] = DatabaseProvider.Sqlite,
        ["mode"] = DatabaseProvider.Sqlite,
        ["cache"] = DatabaseProvider.Sqlite,
        ["foreignkeys"] = DatabaseProvider.Sqlite,
        ["recursivetriggers"] = DatabaseProvider.Sqlite,
        ["defaulttimeout"] = DatabaseProvider.Sqlite,
        ["vfs"] = DatabaseProvider.Sqlite,
    };

    private static readonly string[] SqliteExtensions = { ".sqlite", ".sqlite3", ".db", ".db3" };

    /// <summary>
    /// The provider a connection string is for, told by its keywords: Host=/Username=/Port= is PostgreSQL;
    /// Server=/Initial Catalog=/Integrated Security=/Encrypt= (or a Data Source that names a server) is SQL Server;
    /// a Data Source that names a file (a path or a .sqlite/.db name) or Mode=/Cache= is SQLite. Throws an
    /// InvalidArgument EngineException naming the keywords (never their values) when it cannot tell, or when keywords
    /// of two providers are mixed.
    /// </summary>
    public static DatabaseProvider InferProvider(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        DbConnectionStringBuilder builder;
        try
        {
            builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        }
        catch (ArgumentException e)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The connection string cannot be read as 'keyword=value;...' pairs: {e.Message}", e);
        }

        var votes = new Dictionary<DatabaseProvider, List<string>>();
        void Vote(DatabaseProvider p, string keyword)
        {
            if (!votes.TryGetValue(p, out List<string>? list))
            {
                votes[p] = list = new List<string>();
            }

            list.Add(keyword);
        }

        string? dataSource = null;
        string? dataSourceKey = null;
        foreach (string key in builder.Keys.Cast<string>())
        {
            string normal = Normal(key);
            if (normal is "datasource")
            {
                dataSource = builder[key]?.ToString();
                dataSourceKey = key;
            }
            else if (OwnKeywords.TryGetValue(normal, out DatabaseProvider p))
            {
                Vote(p, key);
            }
        }

        if (dataSource is not null)
        {
            // SQL Server and SQLite both say Data Source: its value tells a server from a file.
            DatabaseProvider? byValue = LooksLikeFile(dataSource) ? DatabaseProvider.Sqlite
                : LooksLikeServer(dataSource) ? DatabaseProvider.SqlServer
                : null;
            if (byValue is DatabaseProvider p)
            {
                Vote(p, dataSourceKey!);
            }
            else if (votes.Count == 0)
            {
                string[] others = builder.Keys.Cast<string>().Where(k => Normal(k) is "database" or "userid" or "user" or "password" or "pwd").ToArray();
                if (others.Length > 0)
                {
                    // A bare name with a database or a login: SQLite takes neither, so it is a server.
                    Vote(DatabaseProvider.SqlServer, dataSourceKey!);
                }
            }
        }

        if (votes.Count == 1)
        {
            return votes.Keys.Single();
        }

        if (votes.Count > 1)
        {
            string mixed = string.Join("; ", votes.OrderBy(v => v.Key).Select(v => $"{v.Key}: {string.Join(", ", v.Value)}"));
            throw new EngineException(EngineErrorKind.InvalidArgument,
                $"The connection string mixes keywords of different databases ({mixed}); name the database with -Provider SqlServer, PostgreSql or Sqlite.");
        }

        string keys = string.Join(", ", builder.Keys.Cast<string>());
        throw new EngineException(EngineErrorKind.InvalidArgument,
            $"Cannot tell which database the connection string is for from its keywords ({keys}): Host= is PostgreSQL, Server= or Initial Catalog= is SQL Server, a Data Source that is a file is SQLite. Name it with -Provider SqlServer, PostgreSql or Sqlite.");
    }

    /// <summary>A SQL Server connection string for an instance (server, server\instance, server,port, tcp:host) and database.</summary>
    /// <param name="integratedSecurity">Sign in as the current Windows or Kerberos identity (no -Credential and no token).</param>
    public static string ForSqlInstance(string instance, string? database, bool integratedSecurity)
    {
        ArgumentException.ThrowIfNullOrEmpty(instance);
        var builder = new SqlConnectionStringBuilder { DataSource = instance, ApplicationName = "AzBillingPS" };
        if (!string.IsNullOrEmpty(database))
        {
            builder.InitialCatalog = database;
        }

        if (integratedSecurity)
        {
            builder.IntegratedSecurity = true;
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// Checks a credential against the connection string before anything connects: SQLite has no logins, and a login
    /// given both ways is refused (which one would win is not obvious).
    /// </summary>
    public static void CheckCredential(DatabaseProvider provider, string connectionString, NetworkCredential? credential)
    {
        if (credential is null)
        {
            return;
        }

        if (provider == DatabaseProvider.Sqlite)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "-Credential is a SQL Server or PostgreSQL login; a SQLite file has none.");
        }

        var builder = new DbConnectionStringBuilder();
        try
        {
            builder.ConnectionString = connectionString;
        }
        catch (ArgumentException)
        {
            return; // the provider's own builder reports it when connecting
        }

        string[] login = builder.Keys.Cast<string>()
            .Where(k => Normal(k) is "userid" or "user" or "uid" or "username" or "password" or "pwd" or "integratedsecurity" or "trustedconnection" or "authentication")
            .ToArray();
        if (login.Length > 0)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                $"-Credential gives the login, and the connection string names one too ({string.Join(", ", login)}); give it one way only.");
        }
    }

    /// <summary>A SqlClient credential for a login (the password stays a SecureString).</summary>
    internal static SqlCredential? SqlServerCredential(NetworkCredential? credential)
    {
        if (credential is null)
        {
            return null;
        }

        System.Security.SecureString password = credential.SecurePassword.Copy();
        password.MakeReadOnly();
        return new SqlCredential(credential.UserName, password);
    }

    /// <summary>A PostgreSQL connection string with the login of <paramref name="credential"/> added (never shown: Npgsql drops the password after opening).</summary>
    internal static string PostgreSqlWithCredential(string connectionString, NetworkCredential? credential)
    {
        if (credential is null)
        {
            return connectionString;
        }

        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Username = credential.UserName, Password = credential.Password };
        return builder.ConnectionString;
    }

    /// <summary>
    /// The target as a command that only reads uses it: a SQLite file must already exist (reading never creates a
    /// database) and is opened read-only. Throws a NotFound EngineException naming the file when it does not exist.
    /// </summary>
    public static SinkTarget ForReading(SinkTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (target.Provider != DatabaseProvider.Sqlite)
        {
            return target;
        }

        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(target.ConnectionString);
        string file = builder.DataSource;
        if (string.IsNullOrEmpty(file) || file.Equals(":memory:", StringComparison.OrdinalIgnoreCase) || !System.IO.File.Exists(file))
        {
            throw new EngineException(EngineErrorKind.NotFound,
                $"No database at {(string.IsNullOrEmpty(file) ? "(no Data Source)" : System.IO.Path.GetFullPath(file))}: nothing has been loaded there yet.")
            {
                FilePath = file,
                Advice = EngineAdvice.LoadFirst,
            };
        }

        builder.Mode = Microsoft.Data.Sqlite.SqliteOpenMode.ReadOnly;
        return target with { ConnectionString = builder.ToString() };
    }

    private static string Normal(string key) => key.Replace(" ", string.Empty, StringComparison.Ordinal).Replace("_", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    private static bool LooksLikeFile(string value)
        => value.Equals(":memory:", StringComparison.OrdinalIgnoreCase)
        || value.Contains('/', StringComparison.Ordinal)
        || (value.Length > 2 && value[1] == ':' && (value[2] == '\\' || value[2] == '/'))
        || SqliteExtensions.Any(e => value.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    private static bool LooksLikeServer(string value)
        => value.StartsWith("tcp:", StringComparison.OrdinalIgnoreCase)
        || value.StartsWith("np:", StringComparison.OrdinalIgnoreCase)
        || value.StartsWith("lpc:", StringComparison.OrdinalIgnoreCase)
        || value.StartsWith("admin:", StringComparison.OrdinalIgnoreCase)
        || value.StartsWith("(localdb)", StringComparison.OrdinalIgnoreCase)
        || value.Contains(',', StringComparison.Ordinal)
        || value.Contains('\\', StringComparison.Ordinal)
        || value.EndsWith(".database.windows.net", StringComparison.OrdinalIgnoreCase)
        || value == ".";
}
