using System;
using System.Collections.Generic;
using System.Security;
using System.Linq;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Internal;

/// <summary>
/// The sign-in parameters of Get-AzBillingToken, shared with Sync-AzBilling: which method they name, and the
/// <see cref="TokenProviderOptions"/> they make. Get-AzBillingToken picks the method by parameter set; Sync-AzBilling
/// (whose settings may come from a configuration file, so nothing can be mandatory) infers it from the values given.
/// </summary>
internal sealed class SignInParameters
{
    public const string CertificateFile = "CertificateFile";
    public const string CertificateThumbprint = "CertificateThumbprint";
    public const string CertificateObject = "CertificateObject";
    public const string ClientSecret = "ClientSecret";
    public const string ManagedIdentity = "ManagedIdentity";
    public const string FederatedToken = "FederatedToken";
    public const string DeviceCode = "DeviceCode";
    public const string Interactive = "Interactive";
    public const string AzContext = "AzContext";
    public const string AzureCli = "AzureCli";

    /// <summary>The parameters that choose a way to sign in, for "give one" messages and the Sync configuration's alternatives.</summary>
    public static readonly string[] MethodParameters = { "CertificatePath", "CertificateThumbprint", "Certificate", "ClientSecret", "ManagedIdentity", "FederatedTokenFile", "DeviceCode", "Interactive", "UseAzContext", "UseAzureCli" };

    /// <summary>What to say when no way to sign in was given and no workload identity is set up.</summary>
    public const string NoMethodMessage =
        "No sign-in method was given. At a prompt, sign in as yourself: -DeviceCode (a code to enter in a browser on any device), -Interactive (a browser on this machine), -UseAzContext (after Connect-AzAccount) or -UseAzureCli (after az login). "
        + "Unattended: -ManagedIdentity (Azure Automation, Azure VMs), -CertificatePath, -CertificateThumbprint, -Certificate or -ClientSecret (an app registration), or -FederatedTokenFile (workload identity; AZURE_FEDERATED_TOKEN_FILE is not set).";

    public string? TenantId { get; set; }

    public string? ClientId { get; set; }

    public string? CertificatePath { get; set; }

    public SecureString? CertificatePassword { get; set; }

    public string? PrivateKeyPath { get; set; }

    public string? Thumbprint { get; set; }

    public X509Certificate2? Certificate { get; set; }

    public bool SendX5c { get; set; }

    public SecureString? Secret { get; set; }

    public bool UseManagedIdentity { get; set; }

    public string? ResourceId { get; set; }

    public string? ObjectId { get; set; }

    public string? FederatedTokenFile { get; set; }

    public bool UseDeviceCode { get; set; }

    public bool UseInteractive { get; set; }

    public bool UseAzContext { get; set; }

    public bool UseAzureCli { get; set; }

    public AzureCloud Cloud { get; set; } = AzureCloud.AzurePublic;

    /// <summary>-Cloud was given (with -UseAzContext the context's cloud is used otherwise).</summary>
    public bool CloudGiven { get; set; }

    /// <summary>The command runs in a remote PowerShell session (no browser for -Interactive).</summary>
    public bool RemoteSession { get; set; }

    public Uri? AuthorityHost { get; set; }

    public Uri? ResourceManagerUrl { get; set; }

    /// <summary>The token scope; null means &lt;ResourceManagerUrl&gt;/.default.</summary>
    public string? Scope { get; set; }

    /// <summary>The display name of the cloud (Custom when an endpoint was overridden).</summary>
    public string CloudName => AuthorityHost is null && ResourceManagerUrl is null ? CloudEndpoints.Get(Cloud.ToString()).Name : "Custom";

    /// <summary>
    /// The method the given values name (one of the constants), for callers without parameter sets. Throws an
    /// InvalidArgument EngineException naming the parameters when they name more than one method or do not fit it.
    /// </summary>
    public string InferMethod()
    {
        var given = new List<(string Method, string Parameter)>();
        if (CertificatePath is not null)
        {
            given.Add((CertificateFile, "-CertificatePath"));
        }

        if (Thumbprint is not null)
        {
            given.Add((CertificateThumbprint, "-CertificateThumbprint"));
        }

        if (Certificate is not null)
        {
            given.Add((CertificateObject, "-Certificate"));
        }

        if (Secret is not null)
        {
            given.Add((ClientSecret, "-ClientSecret"));
        }

        if (UseManagedIdentity)
        {
            given.Add((ManagedIdentity, "-ManagedIdentity"));
        }

        if (FederatedTokenFile is not null)
        {
            given.Add((FederatedToken, "-FederatedTokenFile"));
        }

        if (UseDeviceCode)
        {
            given.Add((DeviceCode, "-DeviceCode"));
        }

        if (UseInteractive)
        {
            given.Add((Interactive, "-Interactive"));
        }

        if (UseAzContext)
        {
            given.Add((AzContext, "-UseAzContext"));
        }

        if (UseAzureCli)
        {
            given.Add((AzureCli, "-UseAzureCli"));
        }

        if (given.Count > 1)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                $"Give one way to sign in, not several: {string.Join(", ", given.ConvertAll(g => g.Parameter))}.");
        }

        string method = given.Count == 1 ? given[0].Method : FederatedToken;
        void Refuse(bool present, string parameter, string needs)
        {
            if (present)
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, $"{parameter} only goes with {needs}.");
            }
        }

        Refuse(CertificatePassword is not null && method != CertificateFile, "-CertificatePassword", "-CertificatePath");
        Refuse(PrivateKeyPath is not null && method != CertificateFile, "-PrivateKeyPath", "-CertificatePath");
        Refuse(SendX5c && method is not (CertificateFile or CertificateThumbprint or CertificateObject), "-SendX5c", "a certificate sign-in");
        Refuse(ResourceId is not null && method != ManagedIdentity, "-ResourceId", "-ManagedIdentity");
        Refuse(ObjectId is not null && method != ManagedIdentity, "-ObjectId", "-ManagedIdentity");
        Refuse(TenantId is not null && method == ManagedIdentity, "-TenantId", "a sign-in other than -ManagedIdentity");
        Refuse(ClientId is not null && method is AzContext or AzureCli, "-ClientId", "a sign-in other than -UseAzContext and -UseAzureCli (their token is that session's)");
        return method;
    }

    /// <summary>
    /// The options for <paramref name="method"/> (a parameter-set name); loads the certificate when one is named. Runs in the
    /// cmdlet's async work: -UseAzContext reads the Az context on the pipeline thread through <see cref="PipelineHost"/>.
    /// </summary>
    public async Task<TokenProviderOptions> BuildAsync(string method, IEngineLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        switch (method)
        {
            case DeviceCode:
                return Options(AuthMethod.DeviceCode) with { ShowDeviceCode = ShowDeviceCodeAsync };

            case Interactive:
                return Options(AuthMethod.Interactive) with { RemoteSession = RemoteSession };

            case AzureCli:
                return Options(AuthMethod.AzureCli);

            case AzContext:
            {
                TokenProviderOptions options = Options(AuthMethod.AzContext) with { ExternalSource = AzContextTokenSource.GetAsync };
                if (!CloudGiven && ResourceManagerUrl is null)
                {
                    IPipelineHost host = PipelineHost.Current ?? throw new InvalidOperationException("No pipeline for -UseAzContext.");
                    (string? tenant, Uri? arm) = await host.OnPipelineAsync(AzContextTokenSource.ReadContext).ConfigureAwait(false);
                    if (arm is not null)
                    {
                        CloudEndpoints? known = CloudEndpoints.Known.FirstOrDefault(c => string.Equals(c.ResourceManagerUrl.Host, arm.Host, StringComparison.OrdinalIgnoreCase));
                        options = options with { ResourceManagerUrl = arm, Cloud = known?.Name ?? "Custom" };
                        log.Verbose($"The Az PowerShell context is signed in to {arm} (tenant {tenant}).");
                    }
                }

                return options;
            }

            case CertificateFile:
            {
                X509Certificate2 cert = CertificateLoader.LoadFromFile(CertificatePath!, CertificatePassword, PrivateKeyPath);
                log.Verbose($"Loaded certificate '{cert.Subject}' (thumbprint {cert.Thumbprint}) from '{CertificatePath}'.");
                return Options(AuthMethod.Certificate) with { Certificate = cert, CertificateSource = $"'{CertificatePath}'", SendX5c = SendX5c };
            }

            case CertificateThumbprint:
            {
                X509Certificate2 cert = CertificateLoader.FindInStore(Thumbprint!);
                log.Verbose($"Found certificate '{cert.Subject}' (thumbprint {cert.Thumbprint}) in the certificate store.");
                return Options(AuthMethod.Certificate) with { Certificate = cert, CertificateSource = "with thumbprint " + cert.Thumbprint, SendX5c = SendX5c };
            }

            case CertificateObject:
                return Options(AuthMethod.Certificate) with { Certificate = Certificate, CertificateSource = "given as -Certificate", SendX5c = SendX5c };

            case ClientSecret:
                return Options(AuthMethod.ClientSecret) with { ClientSecret = Secret };

            case ManagedIdentity:
                return Options(AuthMethod.ManagedIdentity) with { ManagedIdentityResourceId = ResourceId, ManagedIdentityObjectId = ObjectId };

            default:
            {
                string? file = FederatedTokenFile ?? NonEmpty(Environment.GetEnvironmentVariable("AZURE_FEDERATED_TOKEN_FILE"));
                if (file is null)
                {
                    throw new EngineException(EngineErrorKind.InvalidArgument, NoMethodMessage);
                }

                string? tenant = TenantId ?? NonEmpty(Environment.GetEnvironmentVariable("AZURE_TENANT_ID"));
                string? client = ClientId ?? NonEmpty(Environment.GetEnvironmentVariable("AZURE_CLIENT_ID"));
                if (tenant is null || client is null)
                {
                    throw new EngineException(
                        EngineErrorKind.InvalidArgument,
                        $"Workload identity sign-in needs {(tenant is null ? "-TenantId (or AZURE_TENANT_ID)" : string.Empty)}{(tenant is null && client is null ? " and " : string.Empty)}{(client is null ? "-ClientId (or AZURE_CLIENT_ID)" : string.Empty)}.");
                }

                return Options(AuthMethod.FederatedToken) with { TenantId = tenant, ClientId = client, FederatedTokenFile = file };
            }
        }
    }

    /// <summary>The input a sign-in error is about, for its ErrorRecord's target object.</summary>
    public object? ErrorTarget(string method) => method switch
    {
        CertificateFile => CertificatePath,
        CertificateThumbprint => Thumbprint,
        CertificateObject => Certificate,
        FederatedToken => FederatedTokenFile ?? (object?)TenantId,
        ManagedIdentity => ClientId ?? ResourceId ?? ObjectId ?? "system-assigned",
        _ => TenantId,
    };

    private TokenProviderOptions Options(AuthMethod method)
    {
        CloudEndpoints cloud = CloudEndpoints.Get(Cloud.ToString());
        return new TokenProviderOptions
        {
            Method = method,
            TenantId = TenantId,
            ClientId = ClientId,
            Cloud = CloudName,
            CloudTable = cloud.Name,
            AuthorityHost = AuthorityHost ?? cloud.AuthorityHost,
            ResourceManagerUrl = ResourceManagerUrl ?? cloud.ResourceManagerUrl,
            Scope = Scope,
        };
    }

    /// <summary>Shows the device code to the person: a warning from the cmdlet that is running, on its pipeline thread.</summary>
    private static Task ShowDeviceCodeAsync(DeviceCodePrompt prompt, System.Threading.CancellationToken cancellationToken)
    {
        IPipelineHost host = PipelineHost.Current ?? throw new EngineException(EngineErrorKind.AuthenticationFailed, "A device code sign-in needs a PowerShell prompt to show its code: run Get-AzBillingToken -DeviceCode at the prompt.");
        host.Tell(prompt.Message);
        return Task.CompletedTask;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
