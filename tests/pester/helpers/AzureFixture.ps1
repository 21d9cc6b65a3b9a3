# Dot-sourced by ../TestHelpers.psm1 (which exports the functions): the Azure test fixture (Entra ID, ARM, Cost Management, device code, blob fault proxy) and its control endpoints.

function New-TestFixtureCertificate {
    # An RSA certificate with its private key: self-signed, a CA (-Ca), a loopback server certificate (-Server),
    # or signed by -Issuer; valid from -NotBeforeDays to -NotAfterDays around now.
    param([string] $Subject, [int] $NotBeforeDays = -1, [int] $NotAfterDays = 2, $Issuer, [switch] $Ca, [switch] $Server)
    $key = [Security.Cryptography.RSA]::Create(2048)
    $req = [Security.Cryptography.X509Certificates.CertificateRequest]::new($Subject, $key, 'SHA256', [Security.Cryptography.RSASignaturePadding]::Pkcs1)
    if ($Ca) {
        $req.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
        $req.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509KeyUsageExtension]::new('KeyCertSign, CrlSign', $true))
    }
    if ($Server) {
        $san = [Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
        $san.AddIpAddress([Net.IPAddress]::Loopback)
        # the fixture's "elsewhere" listener (Start-TestAzureFixture -Elsewhere): a hostile host must not fail on TLS
        # alone, or a test that no token reaches it could never fail
        $san.AddIpAddress([Net.IPAddress]::Parse('127.0.0.2'))
        $san.AddDnsName('localhost')
        $req.CertificateExtensions.Add($san.Build())
        $eku = [Security.Cryptography.OidCollection]::new()
        [void] $eku.Add([Security.Cryptography.Oid]::new('1.3.6.1.5.5.7.3.1'))
        $req.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension]::new($eku, $false))
    }
    $nb = [DateTimeOffset]::UtcNow.AddDays($NotBeforeDays)
    $na = [DateTimeOffset]::UtcNow.AddDays($NotAfterDays)
    if ($Issuer) {
        $serial = [byte[]]::new(16); [Security.Cryptography.RandomNumberGenerator]::Fill($serial); $serial[0] = 1
        $cert = $req.Create($Issuer, $nb, $na, $serial)
        return [Security.Cryptography.X509Certificates.RSACertificateExtensions]::CopyWithPrivateKey($cert, $key)
    }
    return $req.CreateSelfSigned($nb, $na)
}

function Start-TestAzureFixture {
    <#
    .SYNOPSIS
        Starts tests/AzBillingPS.Fixture (built into out/) with a fresh TLS certificate, one tenant and one
        client-secret app; returns what a test and its child processes need.
    .DESCRIPTION
        The fixture plays Entra ID, ARM's subscription list and Cost Management's cost-details API on HTTPS
        (127.0.0.1, a certificate from a CA made here), the managed-identity endpoints and a blob fault proxy on
        HTTP. Only children given ChildEnv trust the CA (SSL_CERT_FILE = system bundle + the CA); the test process
        itself talks to the control endpoints over HTTP. The fixture ends with this process (--parent-pid) or
        with Stop-TestAzureFixture.
    .OUTPUTS
        Process, Https, Http, CaFile, TenantId, ClientId, ClientSecret, ChildEnv (SSL_CERT_FILE, AZB_FIXTURE_HTTPS,
        AZB_FIXTURE_HTTP, AZB_TENANT, AZB_CLIENT_ID, AZB_CLIENT_SECRET, AZBILLING_TEST_PACING_SCALE=0: Invoke-ChildPwsh turns
        client-side pacing off through the module's test hook), Dir, ConfigPath.
    .EXAMPLE
        $f = Start-TestAzureFixture
        Set-TestCostRules $f @(@{ scope = "/subscriptions/$sub"; pollCount = 3 })
        Invoke-ChildPwsh -Environment $f.ChildEnv -Script '...'
        Stop-TestAzureFixture $f
    #>
    [CmdletBinding()]
    param(
        # Working folder for the certificate and configuration; a new temporary one by default (removed on stop).
        [string] $Dir,
        # Rules in force from the start (the config's costRules).
        [object[]] $CostRules,
        # Retry-After seconds on the 202s of a report whose rule (if any) does not set retryAfter (the fixture's default is 1).
        # 0 ("poll again now") for a file whose tests do not measure that wait: each report then takes no second of waiting.
        [int] $DefaultRetryAfter = 1,
        [int] $TokenLifetimeSeconds = 3600,
        # The managed-identity endpoints' configuration (identityHeader, tenantId, systemAssigned, userAssigned), as the fixture's config takes it.
        [hashtable] $ManagedIdentity,
        # People of the tenant who can sign in with a device code: @{ objectId; userPrincipalName; displayName }.
        [hashtable[]] $Users,
        # Public client applications of the tenant (device code sign-in): client ids, or @{ clientId; tokenLifetimeSeconds }.
        [object[]] $PublicClients,
        # The device code flow's timing: @{ intervalSeconds = 5; expiresInSeconds = 900 }.
        [hashtable] $DeviceCode,
        # Also listen "elsewhere" (https and http on 127.0.0.2, https on another port of 127.0.0.1): hosts a hostile answer
        # points to, which record every Authorization header they get (Get-TestElsewhereRequests).
        [switch] $Elsewhere
    )
    $dll = Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'
    if (-not (Test-Path $dll)) { throw "The Azure test fixture is not built ($dll); run build.ps1 -Task Build." }
    $ownDir = -not $Dir
    if ($ownDir) { $Dir = Join-Path ([IO.Path]::GetTempPath()) ('azb-fixture-' + [guid]::NewGuid().ToString('N')) }
    New-Item -ItemType Directory -Force -Path $Dir | Out-Null

    $ca = New-TestFixtureCertificate -Subject 'CN=AzBillingPS Test CA' -Ca
    $server = New-TestFixtureCertificate -Subject 'CN=127.0.0.1' -Server -Issuer $ca -NotAfterDays 1
    $tlsPassword = 'tls-' + [guid]::NewGuid().ToString('N')
    $pfx = Join-Path $Dir 'server.pfx'
    [IO.File]::WriteAllBytes($pfx, $server.Export('Pfx', $tlsPassword))
    $system = @('/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem') | Where-Object { Test-Path $_ } | Select-Object -First 1
    $caFile = Join-Path $Dir 'ca-bundle.pem'
    [IO.File]::WriteAllText($caFile, $(if ($system) { [IO.File]::ReadAllText($system) + "`n" } else { '' }) + $ca.ExportCertificatePem() + "`n")

    $tenant = [guid]::NewGuid().ToString()
    $client = [guid]::NewGuid().ToString()
    $secret = 'fx~' + [guid]::NewGuid().ToString('N')
    $config = [ordered]@{
        tokenLifetimeSeconds = $TokenLifetimeSeconds
        resources            = @('https://management.azure.com', 'https://database.windows.net', 'https://storage.azure.com', 'https://ossrdbms-aad.database.windows.net')
        tenants              = @(@{ tenantId = $tenant; domain = 'fixture.azbilling.test'; apps = @(@{ clientId = $client; secret = $secret }) })
    }
    if ($CostRules) { $config.costRules = @($CostRules) }
    if ($DefaultRetryAfter -ne 1) { $config.defaultRetryAfter = $DefaultRetryAfter }
    if ($ManagedIdentity) { $config.managedIdentity = $ManagedIdentity }
    if ($Users) { $config.tenants[0].users = @($Users) }
    foreach ($p in @($PublicClients | Where-Object { $_ })) {
        $app = if ($p -is [hashtable]) { $p.Clone() } else { @{ clientId = [string] $p } }
        $app.publicClient = $true
        $config.tenants[0].apps += $app
    }
    if ($DeviceCode) { $config.deviceCode = $DeviceCode }
    $configPath = Join-Path $Dir 'fixture.json'
    [IO.File]::WriteAllText($configPath, ($config | ConvertTo-Json -Depth 12))

    $psi = [Diagnostics.ProcessStartInfo]::new((Get-TestDotnet))
    foreach ($a in $dll, '--config', $configPath, '--tls-pfx', $pfx, '--tls-password', $tlsPassword, '--parent-pid', $PID) { $psi.ArgumentList.Add([string] $a) }
    if ($Elsewhere) { foreach ($a in '--elsewhere-ip', '127.0.0.2') { $psi.ArgumentList.Add($a) } }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $process = [Diagnostics.Process]::Start($psi)
    $stderr = $process.StandardError.ReadToEndAsync()
    $line = $process.StandardOutput.ReadLineAsync()
    if (-not $line.Wait(30000) -or -not $line.Result) {
        if (-not $process.HasExited) { $process.Kill() }
        throw "The Azure test fixture did not start within 30 s: $(if ($stderr.Wait(2000)) { $stderr.Result })"
    }
    $ports = $line.Result | ConvertFrom-Json
    $https = $ports.https.TrimEnd('/')
    $http = $ports.http.TrimEnd('/')
    [pscustomobject]@{
        PSTypeName   = 'AzBillingPS.Tests.AzureFixture'
        Process      = $process
        Https        = $https
        Http         = $http
        CaFile       = $caFile
        TenantId     = $tenant
        ClientId     = $client
        ClientSecret = $secret
        ChildEnv     = @{
            SSL_CERT_FILE          = $caFile
            AZB_FIXTURE_HTTPS      = $https
            AZB_FIXTURE_HTTP       = $http
            AZB_TENANT             = $tenant
            AZB_CLIENT_ID          = $client
            AZB_CLIENT_SECRET      = $secret
            AZBILLING_TEST_PACING_SCALE = '0'
        }
        Dir          = $Dir
        OwnDir       = $ownDir
        ConfigPath   = $configPath
        StdErr       = $stderr
        Elsewhere    = if ($ports.PSObject.Properties['elsewhere']) { $ports.elsewhere }
    }
}

function Get-TestElsewhereRequests {
    <#
    .SYNOPSIS
        Every request the fixture's "elsewhere" listeners got (Start-TestAzureFixture -Elsewhere): time, scheme, local,
        method, path, authorization (the header as received, or null).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/elsewhere'
    foreach ($x in $r.requests) { $x }
}

function Get-TestFixtureSyncEnv {
    <#
    .SYNOPSIS
        The environment of a child pwsh that runs Sync-AzBilling against the fixture (Get-TestFixtureSyncScript): the
        fixture's ChildEnv, NO_COLOR, and none of the Azure identity variables of this machine.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $e = @{ NO_COLOR = '1' }
    foreach ($k in $Fixture.ChildEnv.Keys) { $e[$k] = $Fixture.ChildEnv[$k] }
    foreach ($k in 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_FEDERATED_TOKEN_FILE', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'IMDS_ENDPOINT') { $e[$k] = $null }
    $e
}

function Get-TestFixtureSyncScript {
    <#
    .SYNOPSIS
        The start of a child script (run with Get-TestFixtureSyncEnv) that signs in to the fixture with its client secret
        and runs Sync-AzBilling with -PassThru and $Arguments, timed: afterwards $out holds what it wrote, $errs its
        errors and $watch its time.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] [string] $Arguments)
    @"
`$ErrorActionPreference = 'Stop'
`$ConfirmPreference = 'None'
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
`$errs = `$null
`$watch = [Diagnostics.Stopwatch]::StartNew()
`$out = @(Sync-AzBilling -TenantId `$env:AZB_TENANT -ClientId `$env:AZB_CLIENT_ID -ClientSecret `$secret -AuthorityHost `$env:AZB_FIXTURE_HTTPS -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS ``
    $Arguments -PassThru -ErrorAction Continue -ErrorVariable errs)
`$watch.Stop()

"@
}

function Stop-TestAzureFixture {
    <#
    .SYNOPSIS
        Ends the fixture process and removes the folder Start-TestAzureFixture made.
    #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] $Fixture)
    if (-not $Fixture) { return }
    $p = $Fixture.Process
    if ($p) {
        if (-not $p.HasExited) { try { $p.Kill() } catch [InvalidOperationException] { } }
        [void] $p.WaitForExit(10000)
        $p.Dispose()
    }
    if ($Fixture.OwnDir -and $Fixture.Dir) { Remove-Item -Recurse -Force $Fixture.Dir -ErrorAction SilentlyContinue }
}

function Invoke-TestFixtureControl {
    # A call to one of the fixture's /_fixture control endpoints (over HTTP); throws with the fixture's message on 400.
    param($Fixture, [string] $Method, [string] $Path, $Body)
    $params = @{ Uri = "$($Fixture.Http)$Path"; Method = $Method; SkipHttpErrorCheck = $true; StatusCodeVariable = 'status' }
    if ($null -ne $Body) {
        $params.Body = ($Body | ConvertTo-Json -Depth 16 -Compress)
        $params.ContentType = 'application/json'
    }
    $r = Invoke-RestMethod @params -Verbose:$false -Debug:$false
    if ($status -ge 400) { throw "Fixture $Method $Path answered $status`: $(if ($r.error) { $r.error } else { $r })" }
    , $r
}

function Set-TestCostRules {
    <#
    .SYNOPSIS
        Replaces the fixture's Cost Management rules (POST /_fixture/cost/rules). The first rule whose scope,
        metric and period match a report request governs it; no rule = 202 once, then Completed with one blob.
    .EXAMPLE
        Set-TestCostRules $f @(
            @{ scope = "/subscriptions/$sub"; period = '2026-01'; postFaults = @(@{ status = 429; headers = @{ 'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after' = '2' } }) }
            @{ metric = 'AmortizedCost'; result = 'NoDataFound' }
        )
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture, [Parameter(Position = 1)] [AllowEmptyCollection()] [object[]] $Rules = @())
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/cost/rules' @{ rules = @($Rules) })
}

function Get-TestCostRequests {
    <#
    .SYNOPSIS
        Every request the fixture received on its Cost Management and ARM endpoints, in arrival order:
        seq, time, timeMs, endTime, endTimeMs, method, path, apiVersion, body, scope, metric, period, operationId,
        status (0 = dropped, 499 = the client went away), authorization (none, valid, invalid), retryAfterSent,
        faultApplied, rule.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/cost/requests'
    foreach ($x in $r) { $x }
}

function Get-TestCostOperations {
    <#
    .SYNOPSIS
        The report operations the fixture created: id, scope, rule, requestBody, createdAt, finishedAt, result,
        validTill, blobs (index, blobLink, byteCount, sig).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/cost/operations'
    foreach ($x in $r) { $x }
}

function Reset-TestCostFixture {
    <#
    .SYNOPSIS
        Forgets recorded requests and operations and goes back to the configuration's rules (none by default).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/cost/reset')
}

function Revoke-TestFixtureTokens {
    <#
    .SYNOPSIS
        Revokes every token the fixture issued so far: the next Cost Management call with one answers 401; tokens issued later work.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/revoke')
}

function Get-TestFixtureIssued {
    <#
    .SYNOPSIS
        What the fixture issued: requests (token requests), tokens (accessToken, kind, clientId, expiresOn, resource,
        revoked), assertions received, sasSignatures (generated blob-link signatures, raw and URL-encoded).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    Invoke-TestFixtureControl $Fixture GET '/_fixture/issued'
}

function Get-TestFixtureSecrets {
    <#
    .SYNOPSIS
        Every secret a test must never find in output: issued access tokens, the app's client secret, generated SAS
        signatures, device codes, people's refresh and ID tokens. (User codes are shown once, to the person: a test checks them on its own.)
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $issued = Get-TestFixtureIssued $Fixture
    @($Fixture.ClientSecret) + @($issued.tokens | ForEach-Object accessToken) + @($issued.sasSignatures) +
        @($issued.deviceCodes) + @($issued.refreshTokens) + @($issued.idTokens) | Where-Object { $_ }
}

function Set-TestSubscriptions {
    <#
    .SYNOPSIS
        Sets what GET /subscriptions lists (ARM's shape, paged by -PageSize with nextLink).
    .EXAMPLE
        Set-TestSubscriptions $f @(@{ subscriptionId = $a; displayName = 'Prod' }, $b) -PageSize 1
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture, [Parameter(Position = 1)] [AllowEmptyCollection()] [object[]] $Subscriptions = @(), [int] $PageSize = 100,
        # Every page's nextLink instead of the fixture's own: a template with {skiptoken} and {apiVersion} (absolute or relative).
        [string] $NextLink)
    $body = @{ subscriptions = @($Subscriptions); pageSize = $PageSize }
    if ($NextLink) { $body.nextLink = $NextLink }
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/subscriptions' $body)
}

function Set-TestBlobProxy {
    <#
    .SYNOPSIS
        Points the blob fault proxy (http://<fixture>/_proxy/<path>?<query>) at -Upstream (Azurite) and queues
        -Faults, one per request: @{ cutAfterBytes = N }, @{ status = 503; retryAfter = 1 }, @{ delayMs = N }.
        -BytesPerSecond caps each connection's answer at that rate (a long-distance link; 0, the default, no cap).
        Clears the proxy's request log.
    .OUTPUTS
        The proxy's base URL: a blob link's scheme://host:port replaced by it goes through the proxy.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture, [string] $Upstream, [AllowEmptyCollection()] [object[]] $Faults = @(), [long] $BytesPerSecond = 0)
    $body = @{ faults = @($Faults); bytesPerSecond = $BytesPerSecond }
    if ($Upstream) { $body.upstream = $Upstream }
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/proxy' $body)
    "$($Fixture.Http)/_proxy"
}

function Get-TestBlobProxyRequests {
    <#
    .SYNOPSIS
        The requests the blob proxy handled since Set-TestBlobProxy: time, startMs, endMs (a monotonic clock), connection
        (Kestrel's connection id), method, path, query (sig redacted), range, ifMatch, status, bytesSent, fault.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/proxy/requests'
    foreach ($x in $r) { $x }
}

function Get-TestDeviceCodes {
    <#
    .SYNOPSIS
        The device code sign-ins the fixture saw, oldest first: userCode, clientId, tenant, scope, state (pending, approved,
        denied, redeemed), interval, createdAt, expiresAt, tooFast (polls before the interval), polls (timeMs, answer).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/devicecode'
    foreach ($x in $r) { $x }
}

function Set-TestDeviceCode {
    <#
    .SYNOPSIS
        Plays the person of a device code sign-in: approve (as -User, the first configured user by default), deny (with
        -Error authorization_declined, Entra's answer, or access_denied, RFC 8628's), expire, or slowdown (-Count slow_down
        answers to the next polls).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] $Fixture,
        [Parameter(Mandatory, Position = 1)] [ValidateSet('approve', 'deny', 'expire', 'slowdown')] [string] $Action,
        [Parameter(Mandatory, Position = 2)] [string] $UserCode,
        [string] $User, [string] $Error, [int] $Count = 1
    )
    $body = @{ userCode = $UserCode; count = $Count }
    if ($User) { $body.user = $User }
    if ($Error) { $body.error = $Error }
    [void] (Invoke-TestFixtureControl $Fixture POST "/_fixture/devicecode/$Action" $body)
}
