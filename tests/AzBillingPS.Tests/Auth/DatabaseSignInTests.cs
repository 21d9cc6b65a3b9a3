using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;
using Microsoft.Data.SqlClient;
using Xunit;

namespace AzBillingPS.Tests.Auth;

/// <summary>
/// Entra sign-in to databases, the parts that need no server: the database audiences of each cloud, the module's
/// SqlClient authentication provider (which identity each Authentication= method means, and what a server may not ask
/// for), the rule that a database token goes only to the named server over a checked TLS connection, and one token
/// callback per target. The sign-ins themselves run for real against the test fixture in Database.Tests.ps1.
/// </summary>
public class DatabaseSignInTests
{
    private const string Tenant = "11111111-2222-3333-4444-555555555555";
    private const string Client = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    [Theory]
    [InlineData("AzurePublic", "https://database.windows.net/.default", "https://ossrdbms-aad.database.windows.net/.default")]
    [InlineData("AzureUSGovernment", "https://database.usgovcloudapi.net/.default", "https://ossrdbms-aad.database.usgovcloudapi.net/.default")]
    [InlineData("AzureChina", "https://database.chinacloudapi.cn/.default", "https://ossrdbms-aad.database.chinacloudapi.cn/.default")]
    public void The_cloud_table_owns_the_database_audiences(string cloud, string sql, string postgreSql)
    {
        CloudEndpoints c = CloudEndpoints.Get(cloud);
        Assert.Equal(sql, c.DatabaseScope(postgreSql: false));
        Assert.Equal(postgreSql, c.DatabaseScope(postgreSql: true));
        Assert.True(CloudEndpoints.IsDatabaseScope(sql, postgreSql: false));
        Assert.False(CloudEndpoints.IsDatabaseScope(sql, postgreSql: true));
        Assert.Same(CloudEndpoints.ForDatabaseResource(sql.Replace("/.default", "/", StringComparison.Ordinal), out bool pg)!.Name, c.Name);
        Assert.False(pg);
        Assert.Equal(c.Name, CloudEndpoints.ForAuthorityHost(c.AuthorityHost.Host)!.Name);
        Assert.False(CloudEndpoints.IsDatabaseScope("https://management.azure.com/.default", postgreSql: false));
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] values)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string n, string v) in values)
        {
            map[n] = v;
        }

        return name => map.TryGetValue(name, out string? v) ? v : null;
    }

    private static TokenProviderOptions Options(SqlAuthenticationMethod method, string? userId = null, string? password = null, Func<string, string?>? env = null,
        string resource = "https://database.windows.net/", string authority = "https://login.windows.net/" + Tenant)
        => EntraSqlAuthentication.OptionsFor(method, resource, authority, userId, password, env ?? Env());

    [Fact]
    public void Managed_identity_is_system_assigned_or_the_user_id_names_a_user_assigned_one()
    {
        TokenProviderOptions system = Options(SqlAuthenticationMethod.ActiveDirectoryManagedIdentity);
        Assert.Equal(AuthMethod.ManagedIdentity, system.Method);
        Assert.Null(system.ClientId);
        Assert.Equal("https://database.windows.net/.default", system.Scope);
        Assert.Equal(Client, Options(SqlAuthenticationMethod.ActiveDirectoryMSI, Client).ClientId);
        string resourceId = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/loader";
        Assert.Equal(resourceId, Options(SqlAuthenticationMethod.ActiveDirectoryManagedIdentity, resourceId).ManagedIdentityResourceId);
    }

    [Fact]
    public void Service_principal_takes_the_tenant_from_the_servers_authority_and_signs_in_at_the_clouds_host()
    {
        TokenProviderOptions sp = Options(SqlAuthenticationMethod.ActiveDirectoryServicePrincipal, Client, "s3cret");
        Assert.Equal(AuthMethod.ClientSecret, sp.Method);
        Assert.Equal(Tenant, sp.TenantId);
        Assert.Equal(Client, sp.ClientId);
        Assert.Equal(new Uri("https://login.microsoftonline.com/"), sp.AuthorityHost); // login.windows.net is the public cloud's older name
        Assert.Equal(6, sp.ClientSecret!.Length);
        var e = Assert.Throws<EngineException>(() => Options(SqlAuthenticationMethod.ActiveDirectoryServicePrincipal, Client, null));
        Assert.Contains("Password", e.Message);
        Assert.Contains("AZURE_CLIENT_CERTIFICATE_PATH", e.Message); // where a certificate sign-in goes in the connection string
        Assert.Equal(EngineAdvice.SignInWithDatabaseToken, e.Advice); // or through a token: the command words that (-DatabaseToken), the engine names no parameter
    }

    [Fact]
    public void Workload_identity_reads_the_federated_token_file_and_client_from_the_environment()
    {
        TokenProviderOptions wi = Options(SqlAuthenticationMethod.ActiveDirectoryWorkloadIdentity, env: Env(("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"), ("AZURE_CLIENT_ID", Client), ("AZURE_TENANT_ID", "t2")));
        Assert.Equal(AuthMethod.FederatedToken, wi.Method);
        Assert.Equal("/var/run/token", wi.FederatedTokenFile);
        Assert.Equal(Client, wi.ClientId);
        Assert.Equal("t2", wi.TenantId);
        Assert.Contains("AZURE_FEDERATED_TOKEN_FILE", Assert.Throws<EngineException>(() => Options(SqlAuthenticationMethod.ActiveDirectoryWorkloadIdentity, Client)).Message);
    }

    [Fact]
    public void Default_is_the_environments_service_principal_then_workload_identity_then_the_managed_identity()
    {
        var both = new[] { ("AZURE_CLIENT_ID", Client), ("AZURE_TENANT_ID", Tenant) };
        Assert.Equal(AuthMethod.ClientSecret, Options(SqlAuthenticationMethod.ActiveDirectoryDefault, env: Env([.. both, ("AZURE_CLIENT_SECRET", "x")])).Method);
        Assert.Equal(AuthMethod.FederatedToken, Options(SqlAuthenticationMethod.ActiveDirectoryDefault, env: Env([.. both, ("AZURE_FEDERATED_TOKEN_FILE", "/f")])).Method);
        TokenProviderOptions mi = Options(SqlAuthenticationMethod.ActiveDirectoryDefault, env: Env(("AZURE_CLIENT_ID", Client)));
        Assert.Equal(AuthMethod.ManagedIdentity, mi.Method);
        Assert.Equal(Client, mi.ClientId); // AZURE_CLIENT_ID names a user-assigned identity, as Azure.Identity reads it
        Assert.Equal(AuthMethod.ManagedIdentity, Options(SqlAuthenticationMethod.ActiveDirectoryDefault).Method);
        var missing = Assert.Throws<EngineException>(() => Options(SqlAuthenticationMethod.ActiveDirectoryDefault, env: Env([.. both, ("AZURE_CLIENT_CERTIFICATE_PATH", "/no/such.pfx")])));
        Assert.Equal(EngineErrorKind.FileNotFound, missing.Kind);
    }

    [Theory]
    [InlineData("https://management.azure.com/", "https://login.windows.net/" + Tenant, "not Azure SQL's resource")] // a server asking for a Resource Manager token
    [InlineData("https://ossrdbms-aad.database.windows.net/", "https://login.windows.net/" + Tenant, "not Azure SQL's resource")]
    [InlineData("https://vault.azure.net/", "https://login.windows.net/" + Tenant, "not Azure SQL's resource")]
    [InlineData("https://database.windows.net/", "https://login.attacker.example/" + Tenant, "not the Entra ID host of AzurePublic")]
    [InlineData("https://database.windows.net/", "https://login.microsoftonline.us/" + Tenant, "not the Entra ID host of AzurePublic")]
    [InlineData("https://database.windows.net/", "http://login.windows.net/" + Tenant, "not an https URL")]
    public void A_server_cannot_ask_for_another_resource_or_send_the_sign_in_elsewhere(string resource, string authority, string message)
    {
        var e = Assert.Throws<EngineException>(() => Options(SqlAuthenticationMethod.ActiveDirectoryDefault, resource: resource, authority: authority, env: Env(("AZURE_CLIENT_ID", Client), ("AZURE_TENANT_ID", Tenant), ("AZURE_CLIENT_SECRET", "x"))));
        Assert.Equal(EngineErrorKind.AuthenticationFailed, e.Kind);
        Assert.Contains(message, e.Message);
        Assert.Contains("no token was requested", e.Message);
    }

    [Fact]
    public void A_sovereign_servers_resource_signs_in_at_that_clouds_host_and_AZURE_AUTHORITY_HOST_overrides_it_https_only()
    {
        TokenProviderOptions gov = Options(SqlAuthenticationMethod.ActiveDirectoryManagedIdentity, resource: "https://database.usgovcloudapi.net/", authority: "https://login.microsoftonline.us/" + Tenant);
        Assert.Equal("https://database.usgovcloudapi.net/.default", gov.Scope);
        Assert.Equal(new Uri("https://login.microsoftonline.us/"), gov.AuthorityHost);
        Assert.Equal(new Uri("https://127.0.0.1:7443/"), Options(SqlAuthenticationMethod.ActiveDirectoryManagedIdentity, env: Env(("AZURE_AUTHORITY_HOST", "https://127.0.0.1:7443/"))).AuthorityHost);
        Assert.Equal(EngineErrorKind.InvalidArgument, Assert.Throws<EngineException>(() => Options(SqlAuthenticationMethod.ActiveDirectoryManagedIdentity, env: Env(("AZURE_AUTHORITY_HOST", "http://127.0.0.1:7080/")))).Kind);
    }

    [Fact]
    public void The_provider_is_registered_for_the_methods_it_serves_and_no_others()
    {
        _ = CostSink.Create(new SinkTarget(DatabaseProvider.SqlServer, "Server=x;Database=y", "t", null)); // the SQL Server sink registers it
        foreach (SqlAuthenticationMethod m in EntraSqlAuthentication.Methods)
        {
            Assert.IsType<EntraSqlAuthentication>(SqlAuthenticationProvider.GetProvider(m));
        }

        Assert.False(EntraSqlAuthentication.Serves(SqlAuthenticationMethod.ActiveDirectoryIntegrated));
    }

    private static DbConnection Connection(SinkTarget target)
    {
        MethodInfo create = typeof(CostSink).GetMethod("CreateConnection", BindingFlags.Instance | BindingFlags.NonPublic)!;
        try
        {
            return (DbConnection)create.Invoke(CostSink.Create(target), null)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    private static Task<AccessTokenInfo> Token(CancellationToken _) => Task.FromResult(new AccessTokenInfo("t", DateTimeOffset.UtcNow.AddHours(1), false));

    [Theory]
    [InlineData("Server=tcp:finops.database.windows.net,1433;Database=billing", true)]
    [InlineData("Server=finops.database.windows.net;Database=billing;Encrypt=Strict", true)]
    [InlineData("Server=finops.database.windows.net;Database=billing;Encrypt=False", false)]
    [InlineData("Server=finops.database.windows.net;Database=billing;TrustServerCertificate=True", false)]
    [InlineData("Server=localhost,14333;Database=billing;TrustServerCertificate=True", true)] // a server on this machine
    [InlineData("Server=tcp:127.0.0.1,1433;Database=billing;Encrypt=False", true)]
    [InlineData("Server=.\\SQLEXPRESS;Database=billing;Encrypt=False", true)]
    [InlineData("Server=sql01\\PROD;Database=billing;Encrypt=Optional", false)]
    public void A_SQL_Server_token_goes_only_over_a_checked_TLS_connection_or_to_this_machine(string connectionString, bool allowed)
    {
        var target = new SinkTarget(DatabaseProvider.SqlServer, connectionString, "t", null) { AccessToken = Token };
        if (allowed)
        {
            using DbConnection c = Connection(target);
            Assert.NotNull(((SqlConnection)c).AccessTokenCallback);
        }
        else
        {
            var e = Assert.Throws<EngineException>(() => Connection(target));
            Assert.Equal(EngineErrorKind.TokenHostRefused, e.Kind);
            Assert.Contains("no token was requested or sent", e.Message);
        }

        // The connection-string sign-in follows the same rule.
        var byString = new SinkTarget(DatabaseProvider.SqlServer, connectionString + ";Authentication=Active Directory Default", "t", null);
        if (allowed)
        {
            Connection(byString).Dispose();
        }
        else
        {
            Assert.Equal(EngineErrorKind.TokenHostRefused, Assert.Throws<EngineException>(() => Connection(byString)).Kind);
        }
    }

    [Fact]
    public void Sign_ins_the_module_does_not_provide_are_refused_with_what_to_use_instead()
    {
        var e = Assert.Throws<EngineException>(() => Connection(new SinkTarget(DatabaseProvider.SqlServer, "Server=x.database.windows.net;Database=y;Authentication=Active Directory Integrated", "t", null)));
        Assert.Equal(EngineErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("Authentication=ActiveDirectoryIntegrated is not a sign-in the module provides", e.Message);
        Assert.Contains("Active Directory Default", e.Message);
        Assert.Equal(EngineAdvice.SignInWithDatabaseToken, e.Advice); // a token of Get-AzBillingToken as -DatabaseToken, worded by the command
    }

    [Fact]
    public void Every_connection_of_a_target_shares_one_token_callback_so_they_share_one_pool()
    {
        var target = new SinkTarget(DatabaseProvider.SqlServer, "Server=tcp:finops.database.windows.net;Database=billing", "t", null) { AccessToken = Token };
        using var a = (SqlConnection)Connection(target);
        using var b = (SqlConnection)Connection(target with { Table = "t_SyncState" }); // the state table of the same target
        Assert.Same(a.AccessTokenCallback, b.AccessTokenCallback);
        using var other = (SqlConnection)Connection(target with { AccessToken = _ => Token(default) });
        Assert.NotSame(a.AccessTokenCallback, other.AccessTokenCallback);
    }

    [Theory]
    [InlineData("Host=pg.postgres.database.azure.com;Username=loader;Database=billing", "VerifyFull")]
    [InlineData("Host=pg.postgres.database.azure.com;Username=loader;Database=billing;SSL Mode=VerifyFull", "VerifyFull")]
    [InlineData("Host=127.0.0.1;Port=5432;Username=loader;Database=billing", "Prefer")]
    [InlineData("Host=localhost;Username=loader;Database=billing;SSL Mode=Disable", "Disable")]
    public void A_PostgreSQL_token_is_the_password_over_TLS_with_the_servers_name_checked(string connectionString, string sslMode)
    {
        var b = new Npgsql.NpgsqlConnectionStringBuilder(PostgreSqlSink.TokenConnectionString(connectionString, credential: false));
        Assert.Equal(sslMode, b.SslMode.ToString());
        Assert.Null(b.Password);
    }

    [Theory]
    [InlineData("Host=pg.postgres.database.azure.com;Username=loader;Database=billing;SSL Mode=Require")]
    [InlineData("Host=pg.postgres.database.azure.com;Username=loader;Database=billing;SslMode=Prefer")]
    [InlineData("Host=127.0.0.1,pg.example.com;Username=loader;Database=billing;SSL Mode=Disable")]
    public void A_PostgreSQL_token_is_refused_over_weaker_TLS_to_another_machine(string connectionString)
        => Assert.Equal(EngineErrorKind.TokenHostRefused, Assert.Throws<EngineException>(() => PostgreSqlSink.TokenConnectionString(connectionString, credential: false)).Kind);

    [Fact]
    public void A_PostgreSQL_token_does_not_go_with_a_password_or_login()
    {
        Assert.Throws<ArgumentException>(() => PostgreSqlSink.TokenConnectionString("Host=h;Username=u;Password=p", credential: false));
        Assert.Throws<ArgumentException>(() => PostgreSqlSink.TokenConnectionString("Host=h;Username=u", credential: true));
    }

    [Fact]
    public async Task The_PostgreSQL_password_is_asked_for_at_every_physical_connection_so_a_long_job_gets_fresh_tokens()
    {
        int calls = 0;
        Task<AccessTokenInfo> Source(CancellationToken _) => Task.FromResult(new AccessTokenInfo("token-" + Interlocked.Increment(ref calls), DateTimeOffset.UtcNow.AddHours(1), false));
        Assert.Equal("token-1", await PostgreSqlSink.PasswordFor(Source, CancellationToken.None));
        Assert.Equal("token-2", await PostgreSqlSink.PasswordFor(Source, CancellationToken.None));
    }
}
