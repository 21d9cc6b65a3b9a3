using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Engine.Sync;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Keeps a database's Azure cost details current: sign in, request, download and load every scope and month that is missing or still open, in one call.</para>
/// </summary>
[Cmdlet(VerbsData.Sync, "AzBilling", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(AzBillingSyncSummary))]
[OutputType(typeof(AzBillingSyncResult))]
public sealed class SyncAzBillingCommand : DatabaseTargetCmdlet
{
    /// <summary>Parameters a configuration file may not set: secrets and live objects are passed as parameters.</summary>
    private static readonly string[] NotInConfig = { "ConfigPath", "ClientSecret", "CertificatePassword", "Certificate", "Token", "DatabaseToken", "Credential" };

    private static readonly string[] DeferredFromConfig = { "Scope" };

    /// <summary>Sign-in parameters besides the method switches: none goes with -Token.</summary>
    private static readonly string[] SignInDetails = { "TenantId", "ClientId", "ResourceId", "ObjectId", "PrivateKeyPath", "CertificatePassword" };

    /// <summary>Alternatives: a member named on the command line replaces the members the configuration file set.</summary>
    private static readonly string[][] AlternativeGroups =
    {
        new[] { "Token", "CertificatePath", "PrivateKeyPath", "CertificatePassword", "CertificateThumbprint", "Certificate", "SendX5c", "ClientSecret", "ManagedIdentity", "ResourceId", "ObjectId", "FederatedTokenFile", "DeviceCode", "Interactive", "UseAzContext", "UseAzureCli" },
        TargetGroup,
        new[] { "Months", "From", "To", "LookbackMonths" },
        new[] { "UseTokenForDatabase", "DatabaseToken" },
    };

    private readonly List<string> _scopes = new();
    private Dictionary<string, object?> _deferred = new(StringComparer.OrdinalIgnoreCase);
    private string? _certificatePath;
    private string? _privateKeyPath;
    private string? _federatedTokenFile;
    private SinkTarget? _target;
    private string _signInMethod = SignInParameters.FederatedToken;

    // ---- Sign-in: the parameters of Get-AzBillingToken, or -Token.

    /// <summary>A token from Get-AzBillingToken, instead of the sign-in parameters.</summary>
    [Parameter]
    [ValidateNotNull]
    public AzBillingToken? Token { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [Alias("Tenant")]
    public string? TenantId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [Alias("ApplicationId", "AppId")]
    public string? ClientId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CertificatePath
    {
        get => _certificatePath;
        set => _certificatePath = ResolvePath(value);
    }

    [Parameter]
    public SecureString? CertificatePassword { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PrivateKeyPath
    {
        get => _privateKeyPath;
        set => _privateKeyPath = ResolvePath(value);
    }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [Alias("Thumbprint")]
    public string? CertificateThumbprint { get; set; }

    [Parameter]
    [ValidateNotNull]
    public X509Certificate2? Certificate { get; set; }

    [Parameter]
    public SwitchParameter SendX5c { get; set; }

    [Parameter]
    [ValidateNotNull]
    public SecureString? ClientSecret { get; set; }

    [Parameter]
    public SwitchParameter ManagedIdentity { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ResourceId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [Alias("PrincipalId")]
    public string? ObjectId { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? FederatedTokenFile
    {
        get => _federatedTokenFile;
        set => _federatedTokenFile = ResolvePath(value);
    }

    [Parameter]
    public SwitchParameter DeviceCode { get; set; }

    [Parameter]
    public SwitchParameter Interactive { get; set; }

    [Parameter]
    public SwitchParameter UseAzContext { get; set; }

    [Parameter]
    public SwitchParameter UseAzureCli { get; set; }

    [Parameter]
    public AzureCloud Cloud { get; set; } = AzureCloud.AzurePublic;

    [Parameter]
    [ValidateNotNull]
    public Uri? AuthorityHost { get; set; }

    [Parameter]
    [ValidateNotNull]
    public Uri? ResourceManagerUrl { get; set; }

    // ---- What to sync.

    /// <summary>Cost scopes (subscriptions, billing accounts, ...); from the pipeline too.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ScopeCompleter))]
    public string[]? Scope { get; set; }

    /// <summary>Every subscription the identity can list.</summary>
    [Parameter]
    public SwitchParameter AllSubscriptions { get; set; }

    /// <summary>Subscriptions or scopes to leave out: ids, names or scopes, wildcards allowed.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[]? Exclude { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public AzCostMetric[] Metric { get; set; } = { AzCostMetric.ActualCost };

    // ---- Period.

    [Parameter]
    public DateTime? From { get; set; }

    [Parameter]
    public DateTime? To { get; set; }

    [Parameter]
    [ValidateRange(1, SyncPlanner.MaxLookbackMonths)]
    public int? Months { get; set; }

    [Parameter]
    [ValidateRange(1, SyncPlanner.MaxLookbackMonths)]
    public int? LookbackMonths { get; set; }

    // ---- How.

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? WorkingPath { get; set; }

    [Parameter]
    public SwitchParameter KeepFiles { get; set; }

    /// <summary>How many times its compressed size a gzip blob may inflate to before it is discarded (at least 64 MB).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int MaxGzipRatio { get; set; } = InflationLimit.DefaultMaxRatio;

    [Parameter]
    [ValidateRange(1, 16)]
    public int ThrottleLimit { get; set; } = 4;

    [Parameter]
    [ValidateRange(0, 86_400)]
    public int LockTimeout { get; set; } = 300;

    /// <summary>SQL Server / Azure SQL: a new cost table gets a clustered columnstore index.</summary>
    [Parameter]
    public SwitchParameter Columnstore { get; set; }

    /// <summary>SQL Server, Azure SQL or PostgreSQL: sign in to the database with the same identity (Entra token for the database's resource, refreshed as needed).</summary>
    [Parameter]
    public SwitchParameter UseTokenForDatabase { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Creates or replaces the FOCUS view over the cost table (&lt;Table&gt;_Focus) after the load.</summary>
    [Parameter]
    public SwitchParameter FocusView { get; set; }


    protected override bool DatabaseSignInByToken => UseTokenForDatabase || base.DatabaseSignInByToken;

    protected override object? ErrorTarget => Token is not null ? Token : SignIn().ErrorTarget(_signInMethod);

    protected override async Task BeginProcessingAsync()
    {
        _target = await OnPipelineAsync(() =>
        {
            if (ConfigPath is not null)
            {
                string path = UnresolvedPath(ConfigPath);
                IReadOnlyList<ConfigSetting> settings = ConfigFile.Read(path);
                _deferred = ConfigFile.Apply(this, path, settings, NotInConfig, DeferredFromConfig, out HashSet<string> applied);
                ConfigFile.YieldToExplicit(this, applied, AlternativeGroups);

                WriteVerbose($"Read {settings.Count} setting(s) from {path}; parameters given on the command line override them.");
            }

            return ResolveTarget() with { Columnstore = Columnstore };
        }).ConfigureAwait(false);

        Conflict(Months is not null && (From is not null || To is not null), "Give -Months or -From/-To, not both.", Months);
        Conflict(LookbackMonths is not null && (Months is not null || From is not null || To is not null),
            "-LookbackMonths sets the default period's window; it does not go with -Months or -From/-To, which load the months they name.", LookbackMonths);
        Conflict(From is DateTime f && To is DateTime t && t.Date < f.Date, $"-To ({To:yyyy-MM-dd}) is before -From ({From:yyyy-MM-dd}).", To);
        Conflict(UseTokenForDatabase && DatabaseToken is not null, "Give -UseTokenForDatabase or -DatabaseToken, not both.", DatabaseToken);
        Conflict(UseTokenForDatabase && _target!.Provider == DatabaseProvider.Sqlite,
            "-UseTokenForDatabase signs in to SQL Server, Azure SQL or PostgreSQL; a SQLite file has no sign-in.", _target!.Provider);
        Conflict(UseTokenForDatabase && _target!.Credential is not null, "-UseTokenForDatabase and -Credential are two ways to sign in to the database; give one.", Credential);
        if (Token is not null)
        {
            string[] signIn = SignInParameters.MethodParameters.Concat(SignInDetails).ToArray();
            string? also = signIn.FirstOrDefault(p => MyInvocation.BoundParameters.ContainsKey(p));
            Conflict(also is not null, $"-Token already says who signs in; leave out -{also}.", Token);
        }
        else
        {
            try
            {
                _signInMethod = SignIn().InferMethod();
            }
            catch (EngineException e)
            {
                throw new TerminatingErrorException(new ErrorRecord(new ArgumentException(e.Message, e), ErrorIds.ParameterConflict, ErrorCategory.InvalidArgument, null));
            }
        }
    }

    protected override Task ProcessRecordAsync()
    {
        if (Scope is not null)
        {
            _scopes.AddRange(Scope);
        }

        return Task.CompletedTask;
    }

    protected override async Task EndProcessingAsync()
    {
        IEngineLog log = CreateLog();
        bool scopesGiven = _scopes.Count > 0;
        if (!scopesGiven && _deferred.TryGetValue("Scope", out object? fromFile) && fromFile is string[] configured)
        {
            _scopes.AddRange(configured);
        }

        bool all = AllSubscriptions.IsPresent;
        if (all && _scopes.Count > 0)
        {
            bool allExplicit = MyInvocation.BoundParameters.ContainsKey(nameof(AllSubscriptions));
            Conflict(allExplicit == scopesGiven, "Give -Scope or -AllSubscriptions, not both.", AllSubscriptions);
            all = allExplicit; // what the command line says wins over the file
            if (!all)
            {
                WriteVerboseAsync("-Scope given: the configuration file's AllSubscriptions is not used.");
            }
            else
            {
                _scopes.Clear();
            }
        }

        Conflict(!all && _scopes.Count == 0, "Give the scopes to sync: -Scope /subscriptions/{id} (or a billing scope; several, or from the pipeline), or -AllSubscriptions.", null);

        // Sign in first: a wrong identity fails the command once, before any unit.
        AccessTokenProvider tokens;
        TokenProviderOptions? options = null;
        if (Token is not null)
        {
            tokens = Token.Provider;
        }
        else
        {
            options = await SignIn().BuildAsync(_signInMethod, log).ConfigureAwait(false);
            tokens = AccessTokenProvider.Create(options);
        }

        await tokens.GetTokenAsync(log, CancellationToken).ConfigureAwait(false);
        WriteVerboseAsync($"Signed in as {tokens.Who} for {tokens.ResourceManagerUrl}.");

        IReadOnlyList<string> scopes;
        try
        {
            scopes = await SyncScopes.ResolveAsync(_scopes, all, Excluded, tokens, log, CancellationToken).ConfigureAwait(false);
        }
        catch (EngineException e) when (!all)
        {
            throw new TerminatingErrorException(ErrorMapper.ToErrorRecord(WithAdvice(e, null), _scopes.Count == 1 ? _scopes[0] : _scopes.ToArray()));
        }

        SinkTarget target = _target!;
        if (UseTokenForDatabase)
        {
            // The same identity, for the database's resource in the cloud signed in to (its scope from the cloud table).
            AccessTokenProvider database = tokens.ForScope(tokens.CloudTable.DatabaseScope(target.Provider == DatabaseProvider.PostgreSql));
            target = target with { AccessToken = ct => database.GetTokenAsync(log, ct) };
            WriteVerboseAsync($"Signing in to the database as {database.Who} with scope {database.Scope}.");
        }

        IReadOnlyList<DateOnly>? months;
        try
        {
            months = SyncScopes.Months(Months, From is DateTime f ? DateOnly.FromDateTime(f) : null, To is DateTime t ? DateOnly.FromDateTime(t) : null, DateOnly.FromDateTime(DateTime.UtcNow));
        }
        catch (EngineException e)
        {
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException(e.Message, e), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, (object?)From ?? To));
        }

        if (scopes.Count == 0)
        {
            WriteWarningAsync("No scope is left to sync after -Exclude; nothing was done.");
        }

        // The default working folder is the user's own (PrivateFiles.DefaultWorkingFolder); the runner checks it, or
        // -WorkingPath, before anything is written.
        string working = WorkingPath is null ? PrivateFiles.DefaultWorkingFolder() : await OnPipelineAsync(() => UnresolvedPath(WorkingPath)).ConfigureAwait(false);
        var request = new SyncRequest
        {
            Target = target,
            Scopes = scopes,
            Metrics = Metric.Select(m => m.ToString()).ToArray(),
            Months = months,
            LookbackMonths = LookbackMonths ?? SyncPlanner.DefaultLookbackMonths,
            WorkingPath = working,
            WorkingPathIsDefault = WorkingPath is null,
            KeepFiles = KeepFiles,
            ThrottleLimit = ThrottleLimit,
            LockTimeout = TimeSpan.FromSeconds(LockTimeout),
            Activity = "Sync-AzBilling",
        };

        SyncRunOutcome outcome;
        if (scopes.Count == 0)
        {
            outcome = SyncRunOutcome.Empty(request.RunId, target.Table);
        }
        else
        {
            using var reports = new CostDetailsReportSource(tokens);
            using var blobs = new BlobDownloader(new BlobDownloaderOptions { Inflation = new InflationLimit(MaxGzipRatio), MaxConnections = Math.Max(BlobDownloaderOptions.DefaultMaxConnections, ThrottleLimit) });
            var runner = new SyncRunner(request, reports, blobs);
            WriteVerboseAsync($"Sync run {request.RunId} into {target.QualifiedTable} ({runner.State.Describe()}); working folder {working}.");
            outcome = await runner.RunAsync(ShouldProcessAsync, OnUnit, log, CreateProgress(), CancellationToken).ConfigureAwait(false);
        }

        if (FocusView)
        {
            await MakeFocusViewAsync(target, TimeSpan.FromSeconds(LockTimeout)).ConfigureAwait(false);
        }

        if (PassThru)
        {
            // One results table in plan order (scope, metric, month), then the summary line.
            foreach (SyncUnitOutcome unit in outcome.Units)
            {
                WriteObjectAsync(ToResult(unit));
            }
        }

        WriteObjectAsync(Summary(outcome));
    }

    private void OnUnit(SyncUnitOutcome unit)
    {
        AzBillingSyncResult result = ToResult(unit);
        if (unit.Action == SyncAction.Failed && unit.Error is not null)
        {
            ErrorRecord record = ErrorMapper.ToErrorRecord(WithAdvice(unit.Error, result), result);
            string recommended = record.ErrorDetails?.RecommendedAction ?? string.Empty;
            record.ErrorDetails = new ErrorDetails($"Sync of {unit.Key} failed; the table keeps what it held: {SyncText.Scrub(unit.Error.Message)}")
            {
                RecommendedAction = string.IsNullOrEmpty(recommended) ? "The next run retries the month." : recommended + " The next run retries the month.",
            };
            WriteErrorAsync(record);
        }
    }

    /// <summary>What to do about an error, in this command's terms: the next run requests reports again by itself.</summary>
    protected override string? Advise(EngineAdvice advice, object? target) => advice switch
    {
        EngineAdvice.RequestReportAgain or EngineAdvice.KeepCompressed => null,
        _ => base.Advise(advice, target),
    };

    private static AzBillingSyncResult ToResult(SyncUnitOutcome u) => new()
    {
        Scope = u.Key.Scope,
        Metric = u.Key.Metric,
        Month = u.Key.MonthText,
        PeriodStart = u.PeriodStart.ToDateTime(TimeOnly.MinValue),
        PeriodEnd = u.PeriodEnd.ToDateTime(TimeOnly.MinValue),
        Action = u.Action switch
        {
            SyncAction.Loaded => AzBillingSyncAction.Loaded,
            SyncAction.Skipped => AzBillingSyncAction.Skipped,
            _ => AzBillingSyncAction.Failed, // a unit handed back is done: Loaded, Skipped or Failed
        },
        Reason = u.Reason,
        Rows = u.Rows,
        RowsReplaced = u.RowsReplaced,
        Bytes = u.Bytes,
        Blobs = u.Blobs,
        IsFinal = u.IsFinal,
        OperationId = u.OperationId,
        ImportId = u.ImportId,
        Error = u.Error is null ? null : SyncText.Scrub(u.Error.Message),
        ErrorId = u.Error is null ? null : ErrorMapper.ToErrorRecord(u.Error, null).FullyQualifiedErrorId,
        ReportDuration = u.ReportDuration,
        DownloadDuration = u.DownloadDuration,
        LoadDuration = u.LoadDuration,
        Elapsed = u.Elapsed,
    };

    private static AzBillingSyncSummary Summary(SyncRunOutcome o)
    {
        AzBillingSyncResult[] results = o.Units.Select(ToResult).ToArray();
        return new AzBillingSyncSummary
        {
            RunId = o.RunId,
            Target = o.Target,
            Table = o.Table,
            StateTable = o.StateTable,
            StartedAt = o.StartedAt,
            FinishedAt = o.FinishedAt,
            Elapsed = o.FinishedAt - o.StartedAt,
            Scopes = o.Scopes,
            Units = o.Units.Count,
            Loaded = o.Loaded,
            Skipped = o.Skipped,
            Failed = o.Failed,
            Rows = o.Rows,
            Bytes = o.Bytes,
            Success = o.Success,
            FailedUnits = results.Where(r => r.Action == AzBillingSyncAction.Failed).Select(r => $"{r.Scope} {r.Metric} {r.Month}: {r.Error}").ToArray(),
            Results = results,
        };
    }

    private bool Excluded(string scope, string id, string? name)
    {
        if (Exclude is null)
        {
            return false;
        }

        foreach (string e in Exclude)
        {
            var pattern = new WildcardPattern(e.Trim(), WildcardOptions.IgnoreCase);
            var scopePattern = new WildcardPattern("/" + e.Trim().Trim('/'), WildcardOptions.IgnoreCase);
            if (pattern.IsMatch(id) || (name is not null && pattern.IsMatch(name)) || scopePattern.IsMatch(scope))
            {
                return true;
            }
        }

        return false;
    }

    private SignInParameters SignIn() => new()
    {
        TenantId = TenantId,
        ClientId = ClientId,
        CertificatePath = CertificatePath,
        CertificatePassword = CertificatePassword,
        PrivateKeyPath = PrivateKeyPath,
        Thumbprint = CertificateThumbprint,
        Certificate = Certificate,
        SendX5c = SendX5c,
        Secret = ClientSecret,
        UseManagedIdentity = ManagedIdentity,
        ResourceId = ResourceId,
        ObjectId = ObjectId,
        FederatedTokenFile = FederatedTokenFile,
        UseDeviceCode = DeviceCode,
        UseInteractive = Interactive,
        UseAzContext = UseAzContext,
        UseAzureCli = UseAzureCli,
        Cloud = Cloud,
        CloudGiven = MyInvocation.BoundParameters.ContainsKey(nameof(Cloud)),
        RemoteSession = string.Equals(Host?.Name, "ServerRemoteHost", StringComparison.Ordinal),
        AuthorityHost = AuthorityHost,
        ResourceManagerUrl = ResourceManagerUrl,
    };

    private static void Conflict(bool condition, string message, object? target)
    {
        if (condition)
        {
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException(message), ErrorIds.ParameterConflict, ErrorCategory.InvalidArgument, target));
        }
    }

    // Paths are resolved while binding, on the pipeline thread, so $PWD and PSDrives behave.
    private string? ResolvePath(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return path;
        }

        try
        {
            return SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        }
        catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSInvalidOperationException)
        {
            return path;
        }
    }
}
