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
using AzBillingPS.Engine.Exports;
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
    private static readonly string[] NotInConfig = { "ConfigPath", "ClientSecret", "CertificatePassword", "Certificate", "Token", "DatabaseToken", "Credential", "ExportContainerSasUrl" };

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
        new[] { "ExportPath", "ExportContainerSasUrl", "ExportStorageAccount", "ExportContainer" },
    };

    private const string StorageScope = "https://storage.azure.com/.default";

    private readonly List<string> _scopes = new();
    private Dictionary<string, object?> _deferred = new(StringComparer.OrdinalIgnoreCase);
    private string? _certificatePath;
    private string? _privateKeyPath;
    private string? _federatedTokenFile;
    private SinkTarget? _target;
    private string _signInMethod = SignInParameters.FederatedToken;
    private bool _needsSignIn = true;

    private bool ExportSource => ExportPath is not null || ExportContainerSasUrl is not null || ExportStorageAccount is not null;

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

    // ---- Or Cost Management exports instead of the Cost Details API.

    /// <summary>A folder holding Cost Management exports (as azcopy sync or Storage Explorer leave a container).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ExportPath { get; set; }

    /// <summary>The SAS URL of the container the exports write to (read and list).</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? ExportContainerSasUrl { get; set; }

    /// <summary>The storage account the exports write to (name or blob endpoint), read with the sign-in identity's storage token.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ExportStorageAccount { get; set; }

    /// <summary>The container the exports write to, with -ExportStorageAccount.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ExportContainer { get; set; }

    /// <summary>A folder inside the container to read.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ExportPrefix { get; set; }

    /// <summary>Only exports whose name matches (wildcards).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[]? ExportName { get; set; }

    /// <summary>Only exports of these datasets.</summary>
    [Parameter]
    [ValidateSet("ActualCost", "AmortizedCost", "Usage", "FocusCost", "PriceSheet", "ReservationDetails", "ReservationTransactions", "ReservationRecommendations", IgnoreCase = true)]
    public string[]? ExportDataset { get; set; }

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
        string[] exportSources = new[] { (nameof(ExportPath), ExportPath is not null), (nameof(ExportContainerSasUrl), ExportContainerSasUrl is not null), (nameof(ExportStorageAccount), ExportStorageAccount is not null) }
            .Where(p => p.Item2).Select(p => "-" + p.Item1).ToArray();
        Conflict(exportSources.Length > 1, $"Give one exports source: -ExportPath (a folder), -ExportContainerSasUrl, or -ExportStorageAccount with -ExportContainer; not {string.Join(" and ", exportSources)}.", null);
        Conflict(ExportStorageAccount is not null && ExportContainer is null, "-ExportStorageAccount needs -ExportContainer (the container the exports write to).", ExportStorageAccount);
        Conflict(!ExportSource && (ExportContainer is not null || ExportPrefix is not null || ExportName is not null || ExportDataset is not null),
            "-ExportContainer, -ExportPrefix, -ExportName and -ExportDataset go with an exports source: -ExportPath, -ExportContainerSasUrl or -ExportStorageAccount.", null);
        Conflict(ExportPath is not null && ExportPrefix is not null, "-ExportPrefix is a folder inside a container; with -ExportPath, name that folder in the path.", ExportPrefix);
        if (ExportSource)
        {
            string? with = new[] { nameof(Scope), nameof(AllSubscriptions), nameof(Exclude), nameof(Metric), nameof(LookbackMonths) }
                .FirstOrDefault(p => MyInvocation.BoundParameters.ContainsKey(p) || (p == nameof(AllSubscriptions) && AllSubscriptions) || (p == nameof(LookbackMonths) && LookbackMonths is not null) || (p == nameof(Scope) && _deferred.ContainsKey("Scope")));
            Conflict(with is not null, $"-{with} does not go with an exports source: the exports' manifests say which scopes, datasets and months they hold (-ExportDataset and -ExportName choose among them, -Months or -From/-To the months).", null);
        }

        // An exports source read from a folder or by SAS URL needs no sign-in; a storage account or an Azure SQL token does.
        _needsSignIn = !ExportSource || ExportStorageAccount is not null || UseTokenForDatabase;
        if (Token is not null)
        {
            string[] signIn = SignInParameters.MethodParameters.Concat(SignInDetails).ToArray();
            string? also = signIn.FirstOrDefault(p => MyInvocation.BoundParameters.ContainsKey(p));
            Conflict(also is not null, $"-Token already says who signs in; leave out -{also}.", Token);
        }
        else if (_needsSignIn)
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
        bool exports = ExportSource;
        bool scopesGiven = _scopes.Count > 0;
        Conflict(exports && scopesGiven, "-Scope (here from the pipeline) does not go with an exports source: the exports' manifests say which scopes they hold.", null);
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

        Conflict(!exports && !all && _scopes.Count == 0, "Give the scopes to sync: -Scope /subscriptions/{id} (or a billing scope; several, or from the pipeline), or -AllSubscriptions.", null);

        // Sign in first: a wrong identity fails the command once, before any unit.
        AccessTokenProvider? tokens = null;
        TokenProviderOptions? options = null;
        if (Token is not null)
        {
            tokens = Token.Provider;
        }
        else if (_needsSignIn)
        {
            options = await SignIn().BuildAsync(_signInMethod, log).ConfigureAwait(false);
            tokens = AccessTokenProvider.Create(options);
        }

        if (tokens is not null)
        {
            // From a storage account the identity needs a storage token (with -Token, the token given must be one).
            AccessTokenProvider first = exports && ExportStorageAccount is not null && Token is null ? tokens.ForScope(StorageScope) : tokens;
            await first.GetTokenAsync(log, CancellationToken).ConfigureAwait(false);
            WriteVerboseAsync(first.Scope is string scope && scope.Contains("storage", StringComparison.OrdinalIgnoreCase) ? $"Signed in as {first.Who} for storage ({scope})." : $"Signed in as {first.Who} for {first.ResourceManagerUrl}.");
        }

        IReadOnlyList<string> scopes = Array.Empty<string>(); // an exports source: the exports' manifests name their scopes
        try
        {
            if (!exports)
            {
                scopes = await SyncScopes.ResolveAsync(_scopes, all, Excluded, tokens!, log, CancellationToken).ConfigureAwait(false);
            }
        }
        catch (EngineException e) when (!all)
        {
            throw new TerminatingErrorException(ErrorMapper.ToErrorRecord(WithAdvice(e, null), _scopes.Count == 1 ? _scopes[0] : _scopes.ToArray()));
        }

        SinkTarget target = _target!;
        if (UseTokenForDatabase)
        {
            // The same identity, for the database's resource in the cloud signed in to (its scope from the cloud table).
            AccessTokenProvider database = tokens!.ForScope(tokens.CloudTable.DatabaseScope(target.Provider == DatabaseProvider.PostgreSql));
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

        if (!exports && scopes.Count == 0)
        {
            WriteWarningAsync("No scope is left to sync after -Exclude; nothing was done.");
        }

        // The default working folder is the user's own (PrivateFiles.DefaultWorkingFolder); the runner checks it, or
        // -WorkingPath, before anything is written.
        string working = WorkingPath is null ? PrivateFiles.DefaultWorkingFolder() : await OnPipelineAsync(() => UnresolvedPath(WorkingPath)).ConfigureAwait(false);
        string? exportFolder = ExportPath is null ? null : await OnPipelineAsync(() => UnresolvedPath(ExportPath)).ConfigureAwait(false);
        var request = new SyncRequest
        {
            Target = target,
            Exports = exports ? ExportsFrom(tokens, exportFolder, log) : null,
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
        if (exports)
        {
            var runner = new SyncRunner(request, null, null);
            WriteVerboseAsync($"Sync run {request.RunId} from exports into {target.QualifiedTable} (export state in {target.Table}_ExportState); working folder {working}.");
            outcome = await runner.RunAsync(ShouldProcessAsync, OnUnit, log, CreateProgress(), CancellationToken).ConfigureAwait(false);
        }
        else if (scopes.Count == 0)
        {
            outcome = SyncRunOutcome.Empty(request.RunId, target.Table);
        }
        else
        {
            using var reports = new CostDetailsReportSource(tokens!);
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

    /// <summary>The exports source the parameters name: a folder (<paramref name="folder"/>, -ExportPath resolved on the pipeline thread), a container by SAS URL, or a storage account with a storage token.</summary>
    private SyncExportSource ExportsFrom(AccessTokenProvider? tokens, string? folder, IEngineLog log)
    {
        Func<IExportStore> open;
        if (folder is not null)
        {
            open = () => new LocalExportStore(folder);
        }
        else if (ExportContainerSasUrl is not null)
        {
            Uri sas = ExportContainerSasUrl;
            string? prefix = ExportPrefix;
            open = () => BlobContainerStore.FromSasUrl(sas, prefix);
        }
        else
        {
            AccessTokenProvider storage = Token is not null ? tokens! : tokens!.ForScope(StorageScope);
            Conflict(Token is not null && Token.Scope.IndexOf("storage", StringComparison.OrdinalIgnoreCase) < 0,
                $"-Token is for {Token?.Scope}; reading -ExportStorageAccount needs a storage token: Get-AzBillingToken ... -Scope {StorageScope} (or leave -Token out and sign in with the parameters).", Token);
            Uri endpoint = ImportAzCostExportCommand.StorageEndpoint(ExportStorageAccount!);
            string container = ExportContainer!;
            string? prefix = ExportPrefix;
            open = () => BlobContainerStore.WithToken(endpoint, container, prefix, async ct => (await storage.GetTokenAsync(log, ct).ConfigureAwait(false)).Token);
        }

        return new SyncExportSource { OpenStore = open, Datasets = ExportDataset ?? Array.Empty<string>(), ExportNames = ExportName ?? Array.Empty<string>() };
    }

    private void OnUnit(SyncUnitOutcome unit)
    {
        AzBillingSyncResult result = ToResult(unit);
        if (unit.Action == SyncAction.Failed && unit.Error is not null)
        {
            ErrorRecord record = ErrorMapper.ToErrorRecord(WithAdvice(unit.Error, result), result);
            string recommended = record.ErrorDetails?.RecommendedAction ?? string.Empty;
            string what = unit.Key.Month == DateOnly.MinValue ? unit.Key.Scope : unit.Key.ToString(); // an export manifest that names no month
            record.ErrorDetails = new ErrorDetails($"Sync of {what} failed; the table keeps what it held: {SyncText.Scrub(unit.Error.Message)}")
            {
                RecommendedAction = string.IsNullOrEmpty(recommended) ? "The next run retries the month." : recommended + " The next run retries the month.",
            };
            WriteErrorAsync(record);
        }
    }

    /// <summary>What to do about an error, in this command's terms: the next run requests reports again by itself; a person signs in again through this command unless -Token was given.</summary>
    protected override string? Advise(EngineAdvice advice, object? target) => advice switch
    {
        EngineAdvice.RequestReportAgain or EngineAdvice.KeepCompressed or EngineAdvice.CoverFilePeriod => null, // -From/-To name months here
        EngineAdvice.SignInAgainInteractive when Token is null => "Run Sync-AzBilling again with -Interactive to sign in again.",
        EngineAdvice.SignInAgainDeviceCode when Token is null => "Run Sync-AzBilling again with -DeviceCode to sign in with a new code.",
        _ => base.Advise(advice, target),
    };

    private static AzBillingSyncResult ToResult(SyncUnitOutcome u) => new()
    {
        Scope = u.Key.Scope,
        Metric = u.Key.Metric,
        Month = u.Key.Month == DateOnly.MinValue ? string.Empty : u.Key.MonthText,
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
