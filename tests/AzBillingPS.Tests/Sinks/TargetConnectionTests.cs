using System;
using System.Data.Common;
using System.IO;
using System.Net;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;
using Microsoft.Data.SqlClient;
using Xunit;

namespace AzBillingPS.Tests.Sinks;

/// <summary>Targets named the way SQL and PowerShell users name them: the provider from a connection string's keywords, SQL Server instances, logins as credentials.</summary>
public class TargetConnectionTests
{
    [Theory]
    [InlineData("Host=db;Username=cost;Database=finops", DatabaseProvider.PostgreSql)]
    [InlineData("host=127.0.0.1;port=5432;database=postgres", DatabaseProvider.PostgreSql)]
    [InlineData("Host=db;Database=finops;Password=x;SSL Mode=Require", DatabaseProvider.PostgreSql)]
    [InlineData("Server=sql01;Database=Billing;Integrated Security=true", DatabaseProvider.SqlServer)]
    [InlineData("Server=tcp:finops.database.windows.net;Database=billing;Encrypt=true", DatabaseProvider.SqlServer)]
    [InlineData("Data Source=sql01;Initial Catalog=Billing;Integrated Security=SSPI", DatabaseProvider.SqlServer)]
    [InlineData("Data Source=sql01,1433;Database=Billing;User ID=loader;Password=x", DatabaseProvider.SqlServer)]
    [InlineData("Data Source=sql01\\SQLEXPRESS", DatabaseProvider.SqlServer)]
    [InlineData("Data Source=sql01;Database=Billing", DatabaseProvider.SqlServer)]
    [InlineData("Data Source=./AzBilling.sqlite", DatabaseProvider.Sqlite)]
    [InlineData("Data Source=billing.db", DatabaseProvider.Sqlite)]
    [InlineData("Data Source=/var/lib/cost/AzBilling", DatabaseProvider.Sqlite)]
    [InlineData("Data Source=C:\\cost\\billing;Mode=ReadWriteCreate", DatabaseProvider.Sqlite)]
    [InlineData("Filename=cost.sqlite", DatabaseProvider.Sqlite)]
    public void The_provider_is_told_by_the_keywords(string connectionString, DatabaseProvider expected)
        => Assert.Equal(expected, TargetConnection.InferProvider(connectionString));

    [Theory]
    [InlineData("Data Source=sql01")]
    [InlineData("Database=billing;Password=s3cret-value")]
    public void An_ambiguous_string_asks_for_Provider_without_showing_values(string connectionString)
    {
        var e = Assert.Throws<EngineException>(() => TargetConnection.InferProvider(connectionString));
        Assert.Equal(EngineErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("-Provider", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-value", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sql01", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Keywords_of_two_databases_are_refused_naming_them()
    {
        var e = Assert.Throws<EngineException>(() => TargetConnection.InferProvider("Host=db;Initial Catalog=x;Password=s3cret-value"));
        Assert.Contains("PostgreSql: host", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("SqlServer: initial catalog", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("s3cret-value", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sql_instance_becomes_server_and_database_with_integrated_security_only_without_a_login()
    {
        var windows = new SqlConnectionStringBuilder(TargetConnection.ForSqlInstance("sql01\\PROD", "Billing", integratedSecurity: true));
        Assert.Equal("sql01\\PROD", windows.DataSource);
        Assert.Equal("Billing", windows.InitialCatalog);
        Assert.True(windows.IntegratedSecurity);

        var login = new SqlConnectionStringBuilder(TargetConnection.ForSqlInstance("sql01", null, integratedSecurity: false));
        Assert.False(login.IntegratedSecurity);
        Assert.Equal(string.Empty, login.InitialCatalog);
    }

    [Fact]
    public void A_credential_reaches_SqlClient_as_a_SqlCredential_never_in_the_connection_string()
    {
        var credential = new NetworkCredential("loader", "s3cret-value");
        var target = new SinkTarget(DatabaseProvider.SqlServer, TargetConnection.ForSqlInstance("sql01", "Billing", false), "t", null) { Credential = credential };
        using var connection = (SqlConnection)Create(target);
        Assert.NotNull(connection.Credential);
        Assert.Equal("loader", connection.Credential!.UserId);
        Assert.True(connection.Credential.Password.IsReadOnly());
        Assert.DoesNotContain("s3cret-value", connection.ConnectionString, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-value", target.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DatabaseProvider.PostgreSql, "Host=db;Username=postgres")]
    [InlineData(DatabaseProvider.SqlServer, "Server=sql01;Integrated Security=true")]
    [InlineData(DatabaseProvider.SqlServer, "Server=sql01;User ID=sa;Password=s3cret-value")]
    [InlineData(DatabaseProvider.Sqlite, "Data Source=x.sqlite")]
    public void A_credential_and_a_login_in_the_string_or_a_sqlite_file_are_refused(DatabaseProvider provider, string connectionString)
    {
        var e = Assert.Throws<EngineException>(() => TargetConnection.CheckCredential(provider, connectionString, new NetworkCredential("u", "p")));
        Assert.Contains("-Credential", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-value", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_never_creates_a_sqlite_file()
    {
        string file = Path.Combine(Path.GetTempPath(), "azb-" + Guid.NewGuid().ToString("N") + ".sqlite");
        var target = SinkTarget.ForSqliteFile(file, "t", null);
        var e = Assert.Throws<EngineException>(() => TargetConnection.ForReading(target));
        Assert.Equal(EngineErrorKind.NotFound, e.Kind);
        Assert.Contains("No database at " + file, e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(file));
    }

    [Fact]
    public void The_display_name_is_unquoted()
    {
        Assert.Equal("dbo.AzureCostDetails", new SinkTarget(DatabaseProvider.SqlServer, "Server=x", "AzureCostDetails", null).DisplayTable);
        Assert.Equal("finops.cost", new SinkTarget(DatabaseProvider.PostgreSql, "Host=x", "cost", "finops").DisplayTable);
        Assert.Equal("AzureCostDetails", SinkTarget.ForSqliteFile("x.sqlite", "AzureCostDetails", null).DisplayTable);
    }

    private static DbConnection Create(SinkTarget target) => SinkConnections.Create(target);
}
