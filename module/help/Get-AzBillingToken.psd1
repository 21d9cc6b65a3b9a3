# Help source for Get-AzBillingToken. build/New-ModuleHelp.ps1 turns this into MAML.
@{
    Synopsis     = 'Signs in to Microsoft Entra ID and returns an AzBillingToken for the other AzBillingPS cmdlets.'

    Description  = @'
Get-AzBillingToken signs in a person (you, at the prompt), an application (service principal) or a managed identity through MSAL and returns an AzBillingToken object: tenant, client, cloud, endpoints, scope, sign-in method and expiry. The later cmdlets (New-AzCostReport, Sync-AzBilling) take it from the pipeline and get a fresh access token from it whenever fewer than five minutes remain, so long runs never fail on an expired token. The raw access token never appears in the object's properties, its table view or ToString(); ask for it explicitly with -AsSecureString or the object's GetAccessToken() method.

Sign-in methods (one parameter set each). As yourself, at a prompt:
- Device code (-DeviceCode): a warning shows an address and a code; open the address in a browser on any device (your phone, another computer), enter the code and sign in. The command waits until you have, until the code expires (15 minutes) or until Ctrl+C. Works over SSH, in containers and in remote sessions.
- Browser (-Interactive): opens the system's web browser on this machine. Where none can be opened (no display, an SSH or remote PowerShell session, Azure Automation) the error says to use -DeviceCode.
- The Az PowerShell session (-UseAzContext): the token of Connect-AzAccount, from Get-AzAccessToken (Az.Accounts), for the Resource Manager of the context's cloud and its tenant unless -TenantId or -Cloud says otherwise. Renewed by asking Get-AzAccessToken again.
- The Azure CLI (-UseAzureCli): the token of az login, from az account get-access-token. Renewed by running it again.
-DeviceCode and -Interactive sign in through the Azure CLI's public client application (04b07795-8ddb-461a-bbee-02f9e1bf7b46, a first-party Microsoft application pre-authorised for Resource Manager) unless -ClientId names your organisation's own public client. They are remembered across sessions in the operating system's protected storage (DPAPI on Windows, the Keychain on macOS, the Secret Service keyring on Linux) and renewed silently from it; Clear-AzBillingTokenCache forgets them. On Linux without a keyring the sign-in is kept for the session only, and a warning says so: set $env:AZBILLING_TOKEN_CACHE = 'PlainFile' to keep it in a file only you can read (0600, under ~/.local/share/AzBillingPS), or 'Memory' to never persist it.

As an application or a managed identity, for unattended jobs:
- Certificate file (-CertificatePath): a PFX/P12 file (with -CertificatePassword when protected), a PEM file holding certificate and key, or a PEM certificate with its key in -PrivateKeyPath.
- Certificate in the store (-CertificateThumbprint): CurrentUser\My, then LocalMachine\My on Windows.
- Certificate object (-Certificate): an X509Certificate2 with its private key, for example from Azure Key Vault.
- Client secret (-ClientSecret), as a SecureString.
- Managed identity (-ManagedIdentity): the system-assigned identity of the Azure resource this runs on (Azure Automation, App Service, Functions, VMs, Arc-enabled servers), or a user-assigned one chosen by -ClientId, -ResourceId or -ObjectId.
- Workload identity federation (the default set): a federated token file (-FederatedTokenFile, else $env:AZURE_FEDERATED_TOKEN_FILE) as set up by AKS workload identity or a CI system, with -TenantId/-ClientId or $env:AZURE_TENANT_ID/$env:AZURE_CLIENT_ID.

Clouds: -Cloud AzurePublic (default; login.microsoftonline.com, management.azure.com), AzureUSGovernment (login.microsoftonline.us, management.usgovcloudapi.net) or AzureChina (login.chinacloudapi.cn, management.chinacloudapi.cn). -AuthorityHost and -ResourceManagerUrl move either endpoint (Azure Stack, private clouds); the token's Cloud is then Custom.

The identity needs the Cost Management Reader role (or Reader, or an EA/MCA billing role) on the scopes it reads.

Errors: AzBillingAuthenticationFailed (Entra ID refused the sign-in, the AADSTS code in the message; the sign-in was declined in the browser; the Az PowerShell session or the Azure CLI is not signed in: the message names Connect-AzAccount or az login), AzBillingTimeout (the device code expired), AzBillingUnsupported (-Interactive where no browser can be opened), AzBillingNotFound (az is not on PATH), AzBillingCertificateNotFound, AzBillingCertificateInvalid (for example no private key, expired), AzBillingInvalidArgument (no sign-in method, or contradictory parameters). Secrets, certificate passwords, tokens and device codes never appear in errors, verbose or debug text; the device code's user code appears once, in the warning meant for you.
'@

    Parameters   = @{
        TenantId             = 'The directory (tenant) id or a verified domain of the tenant, for example contoso.onmicrosoft.com. Required for certificate and client-secret sign-in; for workload identity it defaults to $env:AZURE_TENANT_ID. With -DeviceCode and -Interactive it defaults to any organisation your account belongs to (organizations); with -UseAzContext to the context''s tenant; with -UseAzureCli to the CLI''s default tenant. Not used with -ManagedIdentity.'
        ClientId             = 'The application (client) id of the app registration. Required for certificate and client-secret sign-in; for workload identity it defaults to $env:AZURE_CLIENT_ID. With -DeviceCode and -Interactive, your organisation''s own public client application instead of the Azure CLI''s (04b07795-8ddb-461a-bbee-02f9e1bf7b46). With -ManagedIdentity it selects a user-assigned identity by its client id (give at most one of -ClientId, -ResourceId, -ObjectId). Not used with -UseAzContext and -UseAzureCli.'
        DeviceCode           = 'Signs you in with a code: a warning shows an address (https://microsoft.com/devicelogin) and a code to enter there in a browser on any device. The command waits until you have signed in, until the code expires or until Ctrl+C. The sign-in is remembered (see the description) and renewed silently.'
        Interactive          = 'Signs you in with the web browser of this machine (MSAL''s system-browser flow, redirect to http://localhost). Where no browser can be opened, the error says to use -DeviceCode. The sign-in is remembered (see the description) and renewed silently.'
        UseAzContext         = 'Uses the signed-in Az PowerShell session: the token comes from Get-AzAccessToken (Az.Accounts; the string and the SecureString Token shapes are both read) for the Resource Manager of the context''s cloud, and is renewed by calling Get-AzAccessToken again, from whichever AzBillingPS cmdlet is using the token. Run Connect-AzAccount first.'
        UseAzureCli          = 'Uses the signed-in Azure CLI: the token comes from az account get-access-token --resource <Resource Manager URL> [--tenant <TenantId>], and is renewed by running it again. az must be on PATH; run az login first.'
        CertificatePath      = 'Path of a PFX/P12 file, of a PEM file holding the certificate and its private key, or of a PEM certificate whose key is in -PrivateKeyPath. Relative paths resolve against the current location.'
        CertificatePassword  = 'The password of the PFX/P12 file, or of an encrypted PKCS#8 PEM key, as a SecureString (for example from Read-Host -AsSecureString or a SecretManagement vault).'
        PrivateKeyPath       = 'A PEM private key for the PEM certificate in -CertificatePath: PKCS#8, PKCS#1 RSA, SEC1 EC, or encrypted PKCS#8 (with -CertificatePassword).'
        CertificateThumbprint = 'The SHA-1 thumbprint of a certificate with a private key in the CurrentUser\My store (then LocalMachine\My on Windows). Spaces and case do not matter.'
        Certificate          = 'An X509Certificate2 object that has its private key, for example loaded from Azure Key Vault or built with [System.Security.Cryptography.X509Certificates.X509Certificate2]::new().'
        SendX5c              = 'Sends the certificate''s chain (x5c claim) with the sign-in, as app registrations set up for subject-name/issuer (SNI) authentication require.'
        ClientSecret         = 'The client secret''s value (not its id) as a SecureString. Prefer a certificate or a managed identity for unattended jobs.'
        ManagedIdentity      = 'Signs in as the managed identity of the Azure resource the command runs on: Azure Automation, App Service, Functions, virtual machines, Arc-enabled servers, Cloud Shell. System-assigned unless -ClientId, -ResourceId or -ObjectId chooses a user-assigned identity.'
        ResourceId           = 'A user-assigned managed identity by its Azure resource id: /subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}.'
        ObjectId             = 'A user-assigned managed identity by its object (principal) id.'
        FederatedTokenFile   = 'A file holding a federated token (a JWT issued by a trusted identity provider, such as AKS workload identity or a CI system) that is exchanged for an Entra ID token. Default: $env:AZURE_FEDERATED_TOKEN_FILE. The file is read again at every renewal, so rotated tokens are picked up.'
        Cloud                = 'The Azure cloud: AzurePublic (default), AzureUSGovernment or AzureChina. Sets the sign-in host and the Resource Manager URL.'
        AuthorityHost        = 'Overrides the cloud''s Entra ID sign-in host, for example for Azure Stack Hub or a private cloud. https only.'
        ResourceManagerUrl   = 'Overrides the cloud''s Resource Manager URL, where the Cost Management calls go. https only (plain http only for a loopback address, such as a local stand-in); the token is sent to this host and port only: a Location, nextLink or redirect that points elsewhere ends the call with AzBillingTokenHostRefused.'
        Scope                = 'The OAuth scope of the token. Default: the Resource Manager URL followed by .default, for example https://management.azure.com/.default.'
        AsSecureString       = 'Writes the access token itself, as a read-only SecureString, instead of the AzBillingToken object, for use with other tools (for example Invoke-RestMethod -Authentication Bearer -Token). The SecureString is not renewed.'
    }

    Examples     = @(
        @{
            Title   = 'Sign in as yourself with a device code'
            Code    = @'
$token = Get-AzBillingToken -DeviceCode
# WARNING: To sign in, open https://microsoft.com/devicelogin in a web browser on any device and enter the code ABCD1234. ...
$token | New-AzCostReport -Scope /subscriptions/$sub -BillingPeriod 202610 | Save-AzCostBlob -Path ./costs
'@
            Remarks = 'Works anywhere a person can read the warning: SSH, containers, remote sessions. The next session signs in silently from the protected token cache; Clear-AzBillingTokenCache forgets it.'
        }
        @{
            Title   = 'Sign in as yourself in a browser, in a given tenant'
            Code    = 'Get-AzBillingToken -Interactive -TenantId contoso.onmicrosoft.com'
            Remarks = 'Opens the system browser on this machine. Without a display (SSH, a remote session, Azure Automation) the error says to use -DeviceCode.'
        }
        @{
            Title   = 'Reuse the Az PowerShell session'
            Code    = @'
Connect-AzAccount
Get-AzBillingToken -UseAzContext | New-AzCostReport -Scope /subscriptions/$sub -From 2026-10-01 -To 2026-10-31
'@
            Remarks = 'The token comes from Get-AzAccessToken for the context''s cloud and tenant; New-AzCostReport asks Get-AzAccessToken again when it needs a fresh one.'
        }
        @{
            Title   = 'Reuse the Azure CLI sign-in'
            Code    = @'
az login
Sync-AzBilling -UseAzureCli -Scope /subscriptions/$sub
$token = Get-AzBillingToken -UseAzureCli -TenantId $tenantId
'@
            Remarks = 'Runs az account get-access-token again whenever the token needs renewing.'
        }
        @{
            Title   = 'Certificate file (PFX)'
            Code    = @'
$token = Get-AzBillingToken -TenantId contoso.onmicrosoft.com -ClientId $appId -CertificatePath ./billing-reader.pfx -CertificatePassword (Read-Host -AsSecureString 'PFX password')
$token
'@
            Remarks = 'Shows tenant, client, cloud, sign-in method and expiry; never the token.'
        }
        @{
            Title   = 'PEM certificate and separate key'
            Code    = 'Get-AzBillingToken -TenantId $tenantId -ClientId $appId -CertificatePath ./app.crt -PrivateKeyPath ./app.key -SendX5c'
            Remarks = 'For an app registration that trusts the certificate by subject name and issuer (SNI).'
        }
        @{
            Title   = 'Certificate from the certificate store'
            Code    = 'Get-AzBillingToken -TenantId $tenantId -ClientId $appId -CertificateThumbprint 0123456789ABCDEF0123456789ABCDEF01234567'
            Remarks = 'Looks in CurrentUser\My, then LocalMachine\My on Windows.'
        }
        @{
            Title   = 'Certificate object from a vault'
            Code    = @'
$cert = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([Convert]::FromBase64String($pfxBase64), [string]::Empty, 'EphemeralKeySet')
Get-AzBillingToken -TenantId $tenantId -ClientId $appId -Certificate $cert
'@
            Remarks = 'Any X509Certificate2 with a private key works, however it was obtained.'
        }
        @{
            Title   = 'Client secret'
            Code    = @'
$secret = Get-Secret -Name BillingReaderSecret   # SecretManagement returns a SecureString
Get-AzBillingToken -TenantId $tenantId -ClientId $appId -ClientSecret $secret
'@
            Remarks = 'The secret never appears in output or errors.'
        }
        @{
            Title   = 'Managed identity in an Azure Automation runbook'
            Code    = @'
Get-AzBillingToken -ManagedIdentity |
    New-AzCostReport -Scope /subscriptions/$sub -From (Get-Date).AddMonths(-1) -To (Get-Date) |
    Save-AzCostBlob -Path $env:TEMP |
    Import-AzCostToSql -ConnectionString $cs
'@
            Remarks = 'Uses the Automation account''s system-assigned identity. Add -ClientId, -ResourceId or -ObjectId for a user-assigned one.'
        }
        @{
            Title   = 'User-assigned managed identity by resource id'
            Code    = 'Get-AzBillingToken -ManagedIdentity -ResourceId /subscriptions/$sub/resourceGroups/ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/billing-reader'
            Remarks = 'Only one of -ClientId, -ResourceId and -ObjectId may be given.'
        }
        @{
            Title   = 'Workload identity federation (AKS, CI)'
            Code    = 'Get-AzBillingToken'
            Remarks = 'With AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID and AZURE_CLIENT_ID set (as AKS workload identity does), no parameters are needed. Otherwise give -FederatedTokenFile, -TenantId and -ClientId.'
        }
        @{
            Title   = 'Federated token file in Azure Government'
            Code    = 'Get-AzBillingToken -TenantId $tenantId -ClientId $appId -FederatedTokenFile ./oidc-token.jwt -Cloud AzureUSGovernment'
            Remarks = 'Signs in at login.microsoftonline.us for management.usgovcloudapi.net.'
        }
        @{
            Title   = 'Custom endpoints and a raw token for another tool'
            Code    = @'
$t = Get-AzBillingToken -TenantId $tenantId -ClientId $appId -ClientSecret $secret -AuthorityHost https://login.contoso-stack.local/ -ResourceManagerUrl https://management.contoso-stack.local/ -AsSecureString
Invoke-RestMethod -Uri https://management.contoso-stack.local/subscriptions?api-version=2022-12-01 -Authentication Bearer -Token $t
'@
            Remarks = 'The -Scope default follows -ResourceManagerUrl. -AsSecureString returns the token itself, which is not renewed.'
        }
    )

    Inputs       = @(
        @{ Type = 'None'; Description = 'This cmdlet takes no pipeline input.' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzBillingToken'; Description = 'TenantId, ClientId, UserName (for a person), Cloud, AuthorityHost, ResourceManagerUrl, Scope, AuthMethod, CertificateThumbprint, ExpiresOn; renews itself for the later cmdlets.' }
        @{ Type = 'System.Security.SecureString'; Description = 'With -AsSecureString: the access token itself.' }
    )

    Notes        = @'
- Application and managed-identity tokens are cached in memory for the session (MSAL), never on disk.
- A person's sign-in (-DeviceCode, -Interactive) is kept in the operating system's protected storage, or for the session only where there is none ($env:AZBILLING_TOKEN_CACHE: Protected, the default; Memory; PlainFile). Clear-AzBillingTokenCache forgets it.
- Which to use where: at a prompt -DeviceCode, -Interactive, -UseAzContext or -UseAzureCli; in Azure Automation -ManagedIdentity; in CI and on AKS workload identity federation (-FederatedTokenFile or the AZURE_* variables); elsewhere unattended a certificate. See about_AzBillingPS.
- Treat the output of -AsSecureString and of GetAccessToken() as a secret.
'@

    RelatedLinks = @(
        @{ Text = 'about_AzBillingPS' }
        @{ Text = 'Clear-AzBillingTokenCache' }
        @{ Text = 'Import-AzCostToSql' }
        @{ Text = 'Managed identities for Azure resources'; Uri = 'https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/overview' }
    )
}
