using System;
using System.Management.Automation;
using System.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Signs in to Entra ID through MSAL and returns an AzBillingToken for the later cmdlets.</para>
/// <para type="description">As yourself (device code, a browser, the Az PowerShell session, the Azure CLI) or as an
/// application: certificate (file, store thumbprint or object), client secret, managed identity or workload identity
/// federation. The token object renews itself when fewer than five minutes remain.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "AzBillingToken", DefaultParameterSetName = FederatedTokenSet)]
[OutputType(typeof(AzBillingToken))]
[OutputType(typeof(SecureString))]
public sealed class GetAzBillingTokenCommand : AsyncCmdlet
{
    public const string CertificateFileSet = SignInParameters.CertificateFile;
    public const string CertificateThumbprintSet = SignInParameters.CertificateThumbprint;
    public const string CertificateObjectSet = SignInParameters.CertificateObject;
    public const string ClientSecretSet = SignInParameters.ClientSecret;
    public const string ManagedIdentitySet = SignInParameters.ManagedIdentity;
    public const string FederatedTokenSet = SignInParameters.FederatedToken;
    public const string DeviceCodeSet = SignInParameters.DeviceCode;
    public const string InteractiveSet = SignInParameters.Interactive;
    public const string AzContextSet = SignInParameters.AzContext;
    public const string AzureCliSet = SignInParameters.AzureCli;

    private string? _certificatePath;
    private string? _privateKeyPath;
    private string? _federatedTokenFile;

    /// <summary>The directory (tenant) id or domain.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CertificateFileSet, HelpMessage = "The directory (tenant) id or domain of the app registration.")]
    [Parameter(Mandatory = true, ParameterSetName = CertificateThumbprintSet, HelpMessage = "The directory (tenant) id or domain of the app registration.")]
    [Parameter(Mandatory = true, ParameterSetName = CertificateObjectSet, HelpMessage = "The directory (tenant) id or domain of the app registration.")]
    [Parameter(Mandatory = true, ParameterSetName = ClientSecretSet, HelpMessage = "The directory (tenant) id or domain of the app registration.")]
    [Parameter(ParameterSetName = FederatedTokenSet)]
    [Parameter(ParameterSetName = DeviceCodeSet)]
    [Parameter(ParameterSetName = InteractiveSet)]
    [Parameter(ParameterSetName = AzContextSet)]
    [Parameter(ParameterSetName = AzureCliSet)]
    [ValidateNotNullOrEmpty]
    [Alias("Tenant")]
    public string? TenantId { get; set; }

    /// <summary>The application (client) id; with -ManagedIdentity, a user-assigned identity's client id.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CertificateFileSet, HelpMessage = "The application (client) id of the app registration.")]
    [Parameter(Mandatory = true, ParameterSetName = CertificateThumbprintSet, HelpMessage = "The application (client) id of the app registration.")]
    [Parameter(Mandatory = true, ParameterSetName = CertificateObjectSet, HelpMessage = "The application (client) id of the app registration.")]
    [Parameter(Mandatory = true, ParameterSetName = ClientSecretSet, HelpMessage = "The application (client) id of the app registration.")]
    [Parameter(ParameterSetName = ManagedIdentitySet)]
    [Parameter(ParameterSetName = FederatedTokenSet)]
    [Parameter(ParameterSetName = DeviceCodeSet)]
    [Parameter(ParameterSetName = InteractiveSet)]
    [ValidateNotNullOrEmpty]
    [Alias("ApplicationId", "AppId")]
    public string? ClientId { get; set; }

    /// <summary>A PFX/P12 file, a PEM file with certificate and key, or a PEM certificate (key in -PrivateKeyPath).</summary>
    [Parameter(Mandatory = true, ParameterSetName = CertificateFileSet, HelpMessage = "Path of a PFX/P12 file, or of a PEM file holding the certificate (and its key unless -PrivateKeyPath is given).")]
    [ValidateNotNullOrEmpty]
    public string? CertificatePath
    {
        get => _certificatePath;
        set => _certificatePath = ResolvePath(value);
    }

    /// <summary>The PFX password, or the password of an encrypted PKCS#8 PEM key.</summary>
    [Parameter(ParameterSetName = CertificateFileSet)]
    public SecureString? CertificatePassword { get; set; }

    /// <summary>A PEM private key (PKCS#8, PKCS#1 RSA, SEC1 EC, or encrypted PKCS#8) for the PEM certificate.</summary>
    [Parameter(ParameterSetName = CertificateFileSet)]
    [ValidateNotNullOrEmpty]
    public string? PrivateKeyPath
    {
        get => _privateKeyPath;
        set => _privateKeyPath = ResolvePath(value);
    }

    /// <summary>SHA-1 thumbprint of a certificate in CurrentUser\My (then LocalMachine\My on Windows).</summary>
    [Parameter(Mandatory = true, ParameterSetName = CertificateThumbprintSet, HelpMessage = "SHA-1 thumbprint of a certificate with private key in CurrentUser\\My (or LocalMachine\\My on Windows).")]
    [ValidateNotNullOrEmpty]
    [Alias("Thumbprint")]
    public string? CertificateThumbprint { get; set; }

    /// <summary>A certificate object with its private key.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CertificateObjectSet, HelpMessage = "An X509Certificate2 with its private key.")]
    [ValidateNotNull]
    public X509Certificate2? Certificate { get; set; }

    /// <summary>Send the certificate chain (x5c) for subject-name/issuer (SNI) app registrations.</summary>
    [Parameter(ParameterSetName = CertificateFileSet)]
    [Parameter(ParameterSetName = CertificateThumbprintSet)]
    [Parameter(ParameterSetName = CertificateObjectSet)]
    public SwitchParameter SendX5c { get; set; }

    /// <summary>The application's client secret.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ClientSecretSet, HelpMessage = "The client secret value (not its id), as a SecureString.")]
    [ValidateNotNull]
    public SecureString? ClientSecret { get; set; }

    /// <summary>Sign in as the managed identity of the Azure resource this runs on.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ManagedIdentitySet, HelpMessage = "Sign in with the managed identity of the Azure resource (Automation, App Service, VM, Arc).")]
    public SwitchParameter ManagedIdentity { get; set; }

    /// <summary>A user-assigned managed identity by Azure resource id.</summary>
    [Parameter(ParameterSetName = ManagedIdentitySet)]
    [ValidateNotNullOrEmpty]
    public string? ResourceId { get; set; }

    /// <summary>A user-assigned managed identity by object (principal) id.</summary>
    [Parameter(ParameterSetName = ManagedIdentitySet)]
    [ValidateNotNullOrEmpty]
    [Alias("PrincipalId")]
    public string? ObjectId { get; set; }

    /// <summary>A federated token file (workload identity); defaults to $env:AZURE_FEDERATED_TOKEN_FILE.</summary>
    [Parameter(ParameterSetName = FederatedTokenSet)]
    [ValidateNotNullOrEmpty]
    public string? FederatedTokenFile
    {
        get => _federatedTokenFile;
        set => _federatedTokenFile = ResolvePath(value);
    }

    /// <summary>Sign in as yourself with a code to enter in a browser on any device (MSAL's device code flow).</summary>
    [Parameter(Mandatory = true, ParameterSetName = DeviceCodeSet, HelpMessage = "Sign in as yourself: a code to enter at the sign-in page in a browser on any device.")]
    public SwitchParameter DeviceCode { get; set; }

    /// <summary>Sign in as yourself in a web browser on this machine (MSAL's system-browser flow).</summary>
    [Parameter(Mandatory = true, ParameterSetName = InteractiveSet, HelpMessage = "Sign in as yourself in a web browser on this machine.")]
    public SwitchParameter Interactive { get; set; }

    /// <summary>Take the token of the signed-in Az PowerShell session (Connect-AzAccount).</summary>
    [Parameter(Mandatory = true, ParameterSetName = AzContextSet, HelpMessage = "Use the signed-in Az PowerShell session (Connect-AzAccount).")]
    public SwitchParameter UseAzContext { get; set; }

    /// <summary>Take the token of the signed-in Azure CLI (az login).</summary>
    [Parameter(Mandatory = true, ParameterSetName = AzureCliSet, HelpMessage = "Use the signed-in Azure CLI (az login).")]
    public SwitchParameter UseAzureCli { get; set; }

    /// <summary>The cloud: sets the sign-in host and the Resource Manager URL.</summary>
    [Parameter]
    public AzureCloud Cloud { get; set; } = AzureCloud.AzurePublic;

    /// <summary>Overrides the cloud's sign-in host (Azure Stack, private clouds, tests).</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? AuthorityHost { get; set; }

    /// <summary>Overrides the cloud's Resource Manager URL.</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? ResourceManagerUrl { get; set; }

    /// <summary>The scope; defaults to &lt;ResourceManagerUrl&gt;/.default.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Scope { get; set; }

    /// <summary>Write the access token itself, as a SecureString, instead of the token object.</summary>
    [Parameter]
    public SwitchParameter AsSecureString { get; set; }

    protected override object? ErrorTarget => SignIn().ErrorTarget(ParameterSetName);

    protected override async Task ProcessRecordAsync()
    {
        IEngineLog log = CreateLog();
        SignInParameters signIn = SignIn();
        TokenProviderOptions options = await signIn.BuildAsync(ParameterSetName, log).ConfigureAwait(false);
        AccessTokenProvider provider = AccessTokenProvider.Create(options);
        AccessTokenInfo token = await provider.GetTokenAsync(log, CancellationToken).ConfigureAwait(false);
        if (AsSecureString)
        {
            WriteObjectAsync(AzBillingToken.ToSecureString(token.Token));
            return;
        }

        WriteObjectAsync(new AzBillingToken(provider, options.Cloud, (AzBillingAuthMethod)(int)provider.Method));
    }

    /// <summary>What to do about an error, in this command's terms: a person signs in again with this command.</summary>
    protected override string? Advise(EngineAdvice advice, object? target) => advice switch
    {
        EngineAdvice.SignInAgainInteractive => "Run Get-AzBillingToken -Interactive again to sign in.",
        EngineAdvice.SignInAgainDeviceCode => "Run Get-AzBillingToken -DeviceCode again for a new code.",
        _ => base.Advise(advice, target),
    };

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
        Scope = Scope,
    };

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
        catch (Exception e) when (e is ItemNotFoundException or DriveNotFoundException or ProviderNotFoundException or NotSupportedException or PSInvalidOperationException)
        {
            return path;
        }
    }
}
