#Requires -Version 7.4
# Get-AzBillingToken against the test fixture (tests/AzBillingPS.Fixture), which plays Entra ID over HTTPS on
# 127.0.0.1 with a certificate generated here and trusted only by the child processes (SSL_CERT_FILE), and the
# managed-identity endpoints over plain HTTP. Real MSAL, real HTTP; each environment runs in a child pwsh.

BeforeDiscovery {
    $root = if ($env:AZBILLING_REPO_ROOT) { $env:AZBILLING_REPO_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:NoFixture = -not (Test-Path (Join-Path $root 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Root = Get-TestRepoRoot
    $script:Dir = Join-Path ([IO.Path]::GetTempPath()) ("azb-token-" + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $Dir | Out-Null

    Add-Type -AssemblyName System.Security.Cryptography
    $X509 = 'System.Security.Cryptography.X509Certificates'

    function New-TestRsaCert {
        param([string] $Subject, [int] $NotBeforeDays = -1, [int] $NotAfterDays = 30, $Issuer, [switch] $Ca, [switch] $Server)
        $cert = New-TestFixtureCertificate -Subject $Subject -NotBeforeDays $NotBeforeDays -NotAfterDays $NotAfterDays -Issuer $Issuer -Ca:$Ca -Server:$Server
        [pscustomobject]@{ Cert = $cert; Key = [Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($cert) }
    }

    function Write-Text([string] $Name, [string] $Text) {
        $p = Join-Path $Dir $Name
        [IO.File]::WriteAllText($p, $Text)
        $p
    }

    function ConvertTo-Base64Url([byte[]] $Bytes) { [Convert]::ToBase64String($Bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_') }

    # --- TLS: a CA trusted only by the children (SSL_CERT_FILE = system bundle + this CA), a server certificate for 127.0.0.1.
    $ca = New-TestRsaCert -Subject 'CN=AzBillingPS Test CA' -Ca -NotAfterDays 2
    $server = New-TestRsaCert -Subject 'CN=127.0.0.1' -Server -Issuer $ca.Cert -NotAfterDays 1
    $script:TlsPassword = 'tls-' + [guid]::NewGuid().ToString('N')
    $tlsPfx = Join-Path $Dir 'server.pfx'
    [IO.File]::WriteAllBytes($tlsPfx, $server.Cert.Export('Pfx', $TlsPassword))
    $system = @('/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem') | Where-Object { Test-Path $_ } | Select-Object -First 1
    $bundleText = (($system) ? [IO.File]::ReadAllText($system) + "`n" : '') + $ca.Cert.ExportCertificatePem() + "`n"
    $script:Bundle = Write-Text 'ca-bundle.pem' $bundleText

    # --- Ids
    $script:Tenant = [guid]::NewGuid().ToString()
    $script:CertApp = [guid]::NewGuid().ToString()
    # One registration per certificate-loading case (same certificate): MSAL applications and their caches are kept
    # per client and credential, so each case's freshly loaded key must sign its own assertion.
    $script:CertApps = @{}
    foreach ($c in 'pemCombined', 'pemPkcs1', 'pemPkcs8', 'pemEncrypted', 'pfxNoPassword', 'object', 'thumbprint') { $CertApps[$c] = [guid]::NewGuid().ToString() }
    $script:SecretApp = [guid]::NewGuid().ToString()
    $script:SniApp = [guid]::NewGuid().ToString()
    $script:FedApp = [guid]::NewGuid().ToString()
    $script:ShortApp = [guid]::NewGuid().ToString()
    $script:MiSystem = [guid]::NewGuid().ToString()
    $script:MiUser = [guid]::NewGuid().ToString()
    $script:MiUserObject = [guid]::NewGuid().ToString()
    $script:MiUserResource = "/subscriptions/$([guid]::NewGuid())/resourceGroups/billing/providers/Microsoft.ManagedIdentity/userAssignedIdentities/billing-reader"

    # --- Secrets that must never show up in any stream
    $script:Secret = 'sec~' + [guid]::NewGuid().ToString('N')
    $script:ShortSecret = 'short~' + [guid]::NewGuid().ToString('N')
    $script:PfxPassword = 'pfx!' + [guid]::NewGuid().ToString('N')
    $script:IdentityHeader = 'hdr-' + [guid]::NewGuid().ToString('N')

    # --- App certificates
    $app = New-TestRsaCert -Subject 'CN=azbilling-app'
    $script:AppThumbprint = $app.Cert.Thumbprint
    $certPem = $app.Cert.ExportCertificatePem()
    $pkcs8 = $app.Key.ExportPkcs8PrivateKeyPem()
    $script:KeyMaterial = ($pkcs8 -split "`n")[2].Trim()   # a line of the private key's base64
    $script:AppPfx = Join-Path $Dir 'app.pfx'
    [IO.File]::WriteAllBytes($AppPfx, $app.Cert.Export('Pfx', $PfxPassword))
    $script:AppNoPasswordPfx = Join-Path $Dir 'app-nopw.pfx'
    [IO.File]::WriteAllBytes($AppNoPasswordPfx, $app.Cert.Export('Pfx'))
    $script:AppPublic = Write-Text 'app-cert.pem' $certPem
    $script:AppCombined = Write-Text 'app-combined.pem' ($certPem + "`n" + $pkcs8)
    $script:AppKeyPkcs1 = Write-Text 'app-key-pkcs1.pem' $app.Key.ExportRSAPrivateKeyPem()
    $script:AppKeyPkcs8 = Write-Text 'app-key-pkcs8.pem' $pkcs8
    $pbe = [Security.Cryptography.PbeParameters]::new('Aes256Cbc', 'SHA256', 10000)
    $script:AppKeyEncrypted = Write-Text 'app-key-enc.pem' $app.Key.ExportEncryptedPkcs8PrivateKeyPem($PfxPassword.ToCharArray(), $pbe)

    $expired = New-TestRsaCert -Subject 'CN=azbilling-expired' -NotBeforeDays -60 -NotAfterDays -1
    $script:ExpiredPfx = Join-Path $Dir 'expired.pfx'
    [IO.File]::WriteAllBytes($ExpiredPfx, $expired.Cert.Export('Pfx', $PfxPassword))
    $future = New-TestRsaCert -Subject 'CN=azbilling-future' -NotBeforeDays 2 -NotAfterDays 60
    $script:FuturePfx = Join-Path $Dir 'future.pfx'
    [IO.File]::WriteAllBytes($FuturePfx, $future.Cert.Export('Pfx', $PfxPassword))
    $other = New-TestRsaCert -Subject 'CN=azbilling-unregistered'
    $script:UnregisteredPfx = Join-Path $Dir 'unregistered.pfx'
    [IO.File]::WriteAllBytes($UnregisteredPfx, $other.Cert.Export('Pfx', $PfxPassword))
    $script:MismatchedPem = Write-Text 'mismatched.pem' ($certPem + "`n" + $other.Key.ExportPkcs8PrivateKeyPem())

    $ec = [Security.Cryptography.ECDsa]::Create([Security.Cryptography.ECCurve+NamedCurves]::nistP256)
    $ecReq = [Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=azbilling-ec', $ec, 'SHA256')
    $ecCert = $ecReq.CreateSelfSigned([DateTimeOffset]::UtcNow.AddDays(-1), [DateTimeOffset]::UtcNow.AddDays(30))
    $script:EcPem = Write-Text 'ec-combined.pem' ($ecCert.ExportCertificatePem() + "`n" + $ec.ExportECPrivateKeyPem())

    $sniCa = New-TestRsaCert -Subject 'CN=AzBillingPS SNI Issuer' -Ca -NotAfterDays 60
    $sni = New-TestRsaCert -Subject 'CN=sni.azbilling.test' -Issuer $sniCa.Cert
    $script:SniPfx = Join-Path $Dir 'sni.pfx'
    [IO.File]::WriteAllBytes($SniPfx, $sni.Cert.Export('Pfx', $PfxPassword))

    # --- Workload identity federation: an issuer key and a token as GitHub Actions or AKS would write it.
    $issuerKey = [Security.Cryptography.RSA]::Create(2048)
    $issuerPub = Write-Text 'issuer-public.pem' $issuerKey.ExportSubjectPublicKeyInfoPem()
    function New-FederatedToken([string] $Subject) {
        $now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
        $h = ConvertTo-Base64Url ([Text.Encoding]::UTF8.GetBytes((@{ alg = 'RS256'; typ = 'JWT'; kid = 'k1' } | ConvertTo-Json -Compress)))
        $p = ConvertTo-Base64Url ([Text.Encoding]::UTF8.GetBytes((@{ iss = 'https://issuer.azbilling.test'; sub = $Subject; aud = 'api://AzureADTokenExchange'; iat = $now; nbf = $now; exp = $now + 600; jti = [guid]::NewGuid().ToString() } | ConvertTo-Json -Compress)))
        $s = ConvertTo-Base64Url ($issuerKey.SignData([Text.Encoding]::ASCII.GetBytes("$h.$p"), 'SHA256', [Security.Cryptography.RSASignaturePadding]::Pkcs1))
        "$h.$p.$s"
    }
    $script:FedToken = New-FederatedToken 'repo:contoso/billing:ref:refs/heads/main'
    $script:FedTokenFile = Write-Text 'federated-token' $FedToken
    $script:FedWrongSubjectFile = Write-Text 'federated-wrong' (New-FederatedToken 'repo:contoso/other:ref:refs/heads/main')

    # --- Fixture configuration and start
    $config = @{
        tokenLifetimeSeconds = 3600
        resources            = @('https://management.azure.com', 'https://database.windows.net')
        tenants              = @(@{
                tenantId = $Tenant
                domain   = 'contoso.azbilling.test'
                apps     = @(
                    @{ clientId = $CertApp; certificates = @($AppPublic, (Write-Text 'expired.pem' $expired.Cert.ExportCertificatePem()), (Write-Text 'future.pem' $future.Cert.ExportCertificatePem())) }
                    foreach ($id in $CertApps.Values) { @{ clientId = $id; certificates = @($AppPublic) } }
                    @{ clientId = $SecretApp; secret = $Secret }
                    @{ clientId = $SniApp; sniSubject = 'CN=sni.azbilling.test' }
                    @{ clientId = $FedApp; federated = @(@{ issuer = 'https://issuer.azbilling.test'; subject = 'repo:contoso/billing:ref:refs/heads/main'; audience = 'api://AzureADTokenExchange'; publicKeyPath = $issuerPub }) }
                    @{ clientId = $ShortApp; secret = $ShortSecret; tokenLifetimeSeconds = 303 }
                )
            })
        managedIdentity      = @{
            identityHeader = $IdentityHeader
            tenantId       = $Tenant
            systemAssigned = @{ clientId = $MiSystem; objectId = [guid]::NewGuid().ToString() }
            userAssigned   = @(@{ clientId = $MiUser; objectId = $MiUserObject; resourceId = $MiUserResource })
        }
    }
    $configPath = Write-Text 'fixture.json' ($config | ConvertTo-Json -Depth 8)

    $fixtureDll = Join-Path $Root 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'
    $psi = [Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in $fixtureDll, '--config', $configPath, '--tls-pfx', $tlsPfx, '--tls-password', $TlsPassword, '--parent-pid', $PID) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $script:Fixture = [Diagnostics.Process]::Start($psi)
    $script:FixtureErr = $Fixture.StandardError.ReadToEndAsync()
    $lineTask = $Fixture.StandardOutput.ReadLineAsync()
    if (-not $lineTask.Wait(30000)) { throw 'The fixture did not start within 30 s.' }
    $ports = $lineTask.Result | ConvertFrom-Json
    $script:Https = $ports.https.TrimEnd('/')
    $script:Http = $ports.http.TrimEnd('/')

    function Get-Issued { Invoke-RestMethod "$Http/_fixture/issued" }

    # The child prelude: each case runs with all six streams merged and recorded as text, the token object
    # summarised (its raw token only as a SHA-256 hash), an error as id/category/message/details.
    $script:Prelude = @'
$ErrorActionPreference = 'Stop'
$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; $InformationPreference = 'Continue'; $WarningPreference = 'Continue'
$PSDefaultParameterValues['Get-AzBillingToken:Verbose'] = $true
$PSDefaultParameterValues['Get-AzBillingToken:Debug'] = $true
$Results = [ordered]@{}
function Get-Hash([string] $s) { [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($s))) }
function Get-Requests { (Invoke-RestMethod "$env:AZB_FIXTURE_HTTP/_fixture/issued" -Verbose:$false -Debug:$false).requests }
function Invoke-Case([string] $Name, [scriptblock] $Body) {
    $texts = [Collections.Generic.List[string]]::new()
    $r = [ordered]@{ Ok = $false; Id = $null; Category = $null; Message = $null; Detail = $null; Requests = 0; Verbose = 0; Debug = 0 }
    $before = Get-Requests
    try {
        & $Body *>&1 | ForEach-Object {
            $item = $_
            $texts.Add(($item | Out-String))
            if ($item -is [Management.Automation.VerboseRecord]) { $r.Verbose++ }
            elseif ($item -is [Management.Automation.DebugRecord]) { $r.Debug++ }
            elseif ($item -is [AzBillingPS.AzBillingToken]) {
                $texts.Add($item.ToString()); $texts.Add(($item | Format-List * -Force | Out-String)); $texts.Add(($item | ConvertTo-Json -Depth 3))
                foreach ($p in 'TenantId', 'ClientId', 'Cloud', 'Scope', 'CertificateThumbprint') { $r[$p] = $item.$p }
                $r.AuthMethod = "$($item.AuthMethod)"; $r.AuthorityHost = "$($item.AuthorityHost)"; $r.ResourceManagerUrl = "$($item.ResourceManagerUrl)"
                $r.ExpiresOn = $item.ExpiresOn.ToUnixTimeSeconds(); $r.TypeName = $item.PSObject.TypeNames[0]
                $r.TokenHash = Get-Hash $item.GetAccessToken()
            }
            elseif ($item -is [securestring]) { $r.TypeName = 'SecureString'; $r.TokenHash = Get-Hash ([Net.NetworkCredential]::new('', $item).Password) }
            elseif ($item -is [hashtable]) { foreach ($k in $item.Keys) { $r[$k] = $item[$k] } }
        }
        $r.Ok = $true
    }
    catch {
        $e = $_
        $r.Id = $e.FullyQualifiedErrorId; $r.Category = "$($e.CategoryInfo.Category)"; $r.Message = $e.Exception.Message
        $r.Detail = $e.ErrorDetails.RecommendedAction; $r.Target = "$($e.TargetObject)"
        $texts.Add(($e | Out-String)); $texts.Add($e.Exception.ToString()); $texts.Add(($e | Format-List * -Force | Out-String)); $texts.Add(($e.Exception | Format-List * -Force | Out-String))
    }
    $r.Requests = (Get-Requests) - $before
    $r.Text = $texts -join "`n"
    $Results[$Name] = $r
}
'@

    function Invoke-Cases([string] $Script, [hashtable] $Environment = @{}) {
        $envs = @{ AZB_FIXTURE_HTTP = $Http; AZB_HTTPS = $Https; AZB_TENANT = $Tenant; AZURE_FEDERATED_TOKEN_FILE = $null; AZURE_CLIENT_ID = $null; AZURE_TENANT_ID = $null; IDENTITY_ENDPOINT = $null; IDENTITY_HEADER = $null; IMDS_ENDPOINT = $null; MSI_ENDPOINT = $null; AZURE_POD_IDENTITY_AUTHORITY_HOST = $null }
        foreach ($k in $Environment.Keys) { $envs[$k] = $Environment[$k] }
        $run = Invoke-ChildPwsh -Script ($Prelude + "`n" + $Script + "`n" + '"##RESULTS##" + ($Results | ConvertTo-Json -Depth 5 -Compress)') -Environment $envs -TimeoutSeconds 120
        $line = $run.Output | Where-Object { $_.StartsWith('##RESULTS##') } | Select-Object -Last 1
        if (-not $line) { throw "The child failed (exit $($run.ExitCode)):`n$($run.StdOut)`n$($run.StdErr)" }
        $results = $line.Substring(11) | ConvertFrom-Json -AsHashtable
        [pscustomobject]@{ Results = $results; AllText = $run.StdOut + "`n" + $run.StdErr }
    }

    function Assert-NoSecret([string] $Text) {
        $issued = Get-Issued
        $secrets = @($Secret, $ShortSecret, $PfxPassword, $IdentityHeader, $TlsPassword, $KeyMaterial, $FedToken) + @($issued.tokens.accessToken) + @($issued.assertions)
        foreach ($s in $secrets) {
            if ($s -and $Text.Contains($s)) { throw "A secret leaked into the output: $($s.Substring(0, [Math]::Min(12, $s.Length)))..." }
            if ($s -and $s.Length -gt 60) {
                # also catch a token cut in pieces by line wrapping: search for its signature part
                $sig = ($s -split '\.')[-1]
                if ($sig.Length -gt 30 -and $Text.Contains($sig.Substring(0, 30))) { throw 'A token signature leaked into the output.' }
            }
        }
        $secrets.Count
    }

    $common = "-AuthorityHost `$env:AZB_HTTPS -ResourceManagerUrl `$env:AZB_HTTPS"

    # --- Run 1: certificate, secret and federated sign-in (trusting the test CA).
    $script:Main = Invoke-Cases -Environment @{ SSL_CERT_FILE = $Bundle } -Script @"
`$pw = ConvertTo-SecureString '$PfxPassword' -AsPlainText -Force
`$secret = ConvertTo-SecureString '$Secret' -AsPlainText -Force
`$t = `$env:AZB_TENANT
Invoke-Case 'pfx' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$AppPfx' -CertificatePassword `$pw $common }
Invoke-Case 'pemCombined' { Get-AzBillingToken -TenantId `$t -ClientId '$($CertApps.pemCombined)' -CertificatePath '$AppCombined' $common }
Invoke-Case 'pemPkcs1' { Get-AzBillingToken -TenantId `$t -ClientId '$($CertApps.pemPkcs1)' -CertificatePath '$AppPublic' -PrivateKeyPath '$AppKeyPkcs1' $common }
Invoke-Case 'pemPkcs8' { Get-AzBillingToken -TenantId `$t -ClientId '$($CertApps.pemPkcs8)' -CertificatePath '$AppPublic' -PrivateKeyPath '$AppKeyPkcs8' $common }
Invoke-Case 'pemEncrypted' { Get-AzBillingToken -TenantId `$t -ClientId '$($CertApps.pemEncrypted)' -CertificatePath '$AppPublic' -PrivateKeyPath '$AppKeyEncrypted' -CertificatePassword `$pw $common }
Invoke-Case 'pfxNoPassword' { Get-AzBillingToken -TenantId 'contoso.azbilling.test' -ClientId '$($CertApps.pfxNoPassword)' -CertificatePath '$AppNoPasswordPfx' $common }
Invoke-Case 'object' {
    `$c = [Security.Cryptography.X509Certificates.X509CertificateLoader]::LoadPkcs12FromFile('$AppPfx', '$PfxPassword')
    Get-AzBillingToken -TenantId `$t -ClientId '$($CertApps.object)' -Certificate `$c $common
}
Invoke-Case 'secret' { Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' -ClientSecret `$secret $common }
Invoke-Case 'secretCached' { Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' -ClientSecret `$secret $common }
Invoke-Case 'sqlScope' { Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' -ClientSecret `$secret $common -Scope 'https://database.windows.net/.default' }
Invoke-Case 'asSecureString' { Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' -ClientSecret `$secret $common -AsSecureString }
Invoke-Case 'federated' { Get-AzBillingToken -TenantId `$t -ClientId '$FedApp' -FederatedTokenFile '$FedTokenFile' $common }
Invoke-Case 'federatedEnv' {
    `$env:AZURE_FEDERATED_TOKEN_FILE = '$FedTokenFile'; `$env:AZURE_CLIENT_ID = '$FedApp'; `$env:AZURE_TENANT_ID = `$t
    try { Get-AzBillingToken $common } finally { Remove-Item Env:AZURE_FEDERATED_TOKEN_FILE, Env:AZURE_CLIENT_ID, Env:AZURE_TENANT_ID }
}
Invoke-Case 'sniWithX5c' { Get-AzBillingToken -TenantId `$t -ClientId '$SniApp' -CertificatePath '$SniPfx' -CertificatePassword `$pw -SendX5c $common }
Invoke-Case 'sniWithoutX5c' { Get-AzBillingToken -TenantId `$t -ClientId '$SniApp' -CertificatePath '$SniPfx' -CertificatePassword `$pw $common }
Invoke-Case 'pipelineShape' {
    `$tok = Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' -ClientSecret `$secret $common
    `$prov = `$tok.GetType().GetProperty('Provider', [Reflection.BindingFlags]'NonPublic,Instance').GetValue(`$tok)
    @{ ProviderContext = [Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$prov.GetType().Assembly).Name; PublicNames = (`$tok.PSObject.Properties.Name -join ',') }
}
Invoke-Case 'refresh' {
    `$s = ConvertTo-SecureString '$ShortSecret' -AsPlainText -Force
    `$tok = Get-AzBillingToken -TenantId `$t -ClientId '$ShortApp' -ClientSecret `$s $common
    `$e1 = `$tok.ExpiresOn
    `$a = Get-Hash `$tok.GetAccessToken(); `$b = Get-Hash `$tok.GetAccessToken()
    Start-Sleep -Seconds 4
    `$c = Get-Hash `$tok.GetAccessToken()
    @{ SameWithinMargin = (`$a -eq `$b); ChangedAfter = (`$a -ne `$c); ExpiryMoved = (`$tok.ExpiresOn -gt `$e1); Lifetime = [int](`$e1 - [DateTimeOffset]::UtcNow).TotalSeconds }
}
Invoke-Case 'wrongPassword' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$AppPfx' -CertificatePassword (ConvertTo-SecureString 'not-$PfxPassword' -AsPlainText -Force) $common }
Invoke-Case 'missingFile' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$Dir/no-such.pfx' $common }
Invoke-Case 'noPrivateKey' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$AppPublic' $common }
Invoke-Case 'expired' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$ExpiredPfx' -CertificatePassword `$pw $common }
Invoke-Case 'notYetValid' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$FuturePfx' -CertificatePassword `$pw $common }
Invoke-Case 'ecKey' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$EcPem' $common }
Invoke-Case 'mismatchedKey' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$MismatchedPem' $common }
Invoke-Case 'thumbprintMissing' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificateThumbprint ('0123456789ABCDEF0123456789ABCDEF01234567') $common }
Invoke-Case 'unregisteredCert' { Get-AzBillingToken -TenantId `$t -ClientId '$CertApp' -CertificatePath '$UnregisteredPfx' -CertificatePassword `$pw $common }
Invoke-Case 'wrongSecret' { Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' -ClientSecret (ConvertTo-SecureString 'wrong-$Secret' -AsPlainText -Force) $common }
Invoke-Case 'unknownApp' { Get-AzBillingToken -TenantId `$t -ClientId ([guid]::NewGuid()) -ClientSecret `$secret $common }
Invoke-Case 'unknownTenant' { Get-AzBillingToken -TenantId ([guid]::NewGuid()) -ClientId '$SecretApp' -ClientSecret `$secret $common }
Invoke-Case 'scopeWithoutDefault' { Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' -ClientSecret `$secret $common -Scope 'https://management.azure.com' }
Invoke-Case 'unknownResource' { Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' -ClientSecret `$secret $common -Scope 'https://unknown.azbilling.test/.default' }
Invoke-Case 'federatedWrongSubject' { Get-AzBillingToken -TenantId `$t -ClientId '$FedApp' -FederatedTokenFile '$FedWrongSubjectFile' $common }
Invoke-Case 'noMethod' { Get-AzBillingToken -TenantId `$t -ClientId '$SecretApp' $common }
"@

    # --- Run 2: the certificate store (a throw-away HOME, so the user's own store is untouched) and the table view.
    $script:Store = Invoke-Cases -Environment @{ SSL_CERT_FILE = $Bundle; HOME = (New-Item -ItemType Directory (Join-Path $Dir 'home')).FullName } -Script @"
`$c = [Security.Cryptography.X509Certificates.X509CertificateLoader]::LoadPkcs12FromFile('$AppPfx', '$PfxPassword', 'PersistKeySet,Exportable')
`$store = [Security.Cryptography.X509Certificates.X509Store]::new('My', 'CurrentUser'); `$store.Open('ReadWrite'); `$store.Add(`$c); `$store.Close()
Invoke-Case 'thumbprint' { Get-AzBillingToken -TenantId `$env:AZB_TENANT -ClientId '$($CertApps.thumbprint)' -CertificateThumbprint '$($AppThumbprint.ToLowerInvariant() -replace '(..)(?!$)', '$1 ')' $common }
Invoke-Case 'table' { @{ Table = (Get-AzBillingToken -TenantId `$env:AZB_TENANT -ClientId '$CertApp' -CertificateThumbprint '$AppThumbprint' $common | Format-Table | Out-String -Width 400) } }
"@

    # --- Run 3: App Service / Azure Automation managed identity (IDENTITY_ENDPOINT + IDENTITY_HEADER); no test CA trusted.
    $script:AppService = Invoke-Cases -Environment @{ IDENTITY_ENDPOINT = "$Http/msi/token"; IDENTITY_HEADER = $IdentityHeader } -Script @"
Invoke-Case 'system' { Get-AzBillingToken -ManagedIdentity -ResourceManagerUrl `$env:AZB_HTTPS }
Invoke-Case 'userClientId' { Get-AzBillingToken -ManagedIdentity -ClientId '$MiUser' }
Invoke-Case 'userResourceId' { Get-AzBillingToken -ManagedIdentity -ResourceId '$MiUserResource' }
Invoke-Case 'userObjectId' { Get-AzBillingToken -ManagedIdentity -ObjectId '$MiUserObject' }
Invoke-Case 'unknownIdentity' { Get-AzBillingToken -ManagedIdentity -ClientId ([guid]::NewGuid()) }
Invoke-Case 'untrustedTls' { Get-AzBillingToken -TenantId `$env:AZB_TENANT -ClientId '$SecretApp' -ClientSecret (ConvertTo-SecureString '$Secret' -AsPlainText -Force) $common }
"@

    # --- Run 4: the same identity with a wrong IDENTITY_HEADER, and IMDS (Azure VMs) through AZURE_POD_IDENTITY_AUTHORITY_HOST.
    $script:Imds = Invoke-Cases -Environment @{ AZURE_POD_IDENTITY_AUTHORITY_HOST = $Http } -Script @"
Invoke-Case 'imdsSystem' { Get-AzBillingToken -ManagedIdentity }
Invoke-Case 'imdsUser' { Get-AzBillingToken -ManagedIdentity -ClientId '$MiUser' -Scope 'https://database.windows.net/.default' }
Invoke-Case 'imdsUnknown' { Get-AzBillingToken -ManagedIdentity -ObjectId ([guid]::NewGuid()) }
`$env:AZURE_POD_IDENTITY_AUTHORITY_HOST = `$null
`$env:IDENTITY_ENDPOINT = "`$env:AZB_FIXTURE_HTTP/msi/token"; `$env:IDENTITY_HEADER = 'wrong-header'
Invoke-Case 'wrongHeader' { Get-AzBillingToken -ManagedIdentity -ResourceManagerUrl `$env:AZB_HTTPS }
"@
}

AfterAll {
    if ($script:Fixture) {
        if (-not $Fixture.HasExited) { $Fixture.Kill() }
        [void] $Fixture.WaitForExit(10000)
        $Fixture.Dispose()
    }
    if ($script:Dir) { Remove-Item -Recurse -Force $Dir -ErrorAction SilentlyContinue }
}

Describe 'Get-AzBillingToken sign-in methods' -Tag 'Auth' -Skip:$NoFixture {
    It 'signs in with <Case>' -TestCases @(
        @{ Case = 'pfx' }, @{ Case = 'pemCombined' }, @{ Case = 'pemPkcs1' }, @{ Case = 'pemPkcs8' }, @{ Case = 'pemEncrypted' },
        @{ Case = 'pfxNoPassword' }, @{ Case = 'object' }
    ) {
        $r = $Main.Results[$Case]
        $r.Message | Should -BeNullOrEmpty
        $r.Ok | Should -BeTrue
        $r.AuthMethod | Should -Be 'Certificate'
        $r.ClientId | Should -Be ($Case -eq 'pfx' ? $CertApp : $CertApps[$Case])
        $r.CertificateThumbprint | Should -Be $AppThumbprint
        $r.Requests | Should -Be 1
        $r.TokenHash | Should -Not -BeNullOrEmpty
    }

    It 'fills the token object: tenant, client, cloud, endpoints, default scope, expiry' {
        $r = $Main.Results['pfx']
        $r.TypeName | Should -Be 'AzBillingPS.AzBillingToken'
        $r.TenantId | Should -Be $Tenant
        $r.Cloud | Should -Be 'Custom'
        $r.AuthorityHost | Should -Be "$Https/"
        $r.ResourceManagerUrl | Should -Be "$Https/"
        $r.Scope | Should -Be "$Https/.default"
        $r.ExpiresOn | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(55).ToUnixTimeSeconds())
        $Main.Results['pfxNoPassword'].TenantId | Should -Be 'contoso.azbilling.test'
    }

    It 'signs in with a client secret, and -Scope asks for another resource' {
        $Main.Results['secret'].Ok | Should -BeTrue
        $Main.Results['secret'].AuthMethod | Should -Be 'ClientSecret'
        $Main.Results['sqlScope'].Ok | Should -BeTrue
        $Main.Results['sqlScope'].Scope | Should -Be 'https://database.windows.net/.default'
        $Main.Results['sqlScope'].TokenHash | Should -Not -Be $Main.Results['secret'].TokenHash
    }

    It 'reuses MSAL''s in-memory cache within the session' {
        $Main.Results['secretCached'].Ok | Should -BeTrue
        $Main.Results['secretCached'].Requests | Should -Be 0
        $Main.Results['secretCached'].TokenHash | Should -Be $Main.Results['secret'].TokenHash
    }

    It 'writes the raw token as a SecureString with -AsSecureString' {
        $r = $Main.Results['asSecureString']
        $r.TypeName | Should -Be 'SecureString'
        $r.TokenHash | Should -Be $Main.Results['secret'].TokenHash
    }

    It 'signs in with a federated token file, given or from AZURE_* variables' {
        $Main.Results['federated'].Ok | Should -BeTrue
        $Main.Results['federated'].AuthMethod | Should -Be 'FederatedToken'
        $Main.Results['federatedEnv'].Ok | Should -BeTrue
        $Main.Results['federatedEnv'].ClientId | Should -Be $FedApp
        $Main.Results['federatedEnv'].TenantId | Should -Be $Tenant
    }

    It 'sends x5c for a subject-name/issuer registration with -SendX5c, and fails without it' {
        $Main.Results['sniWithX5c'].Ok | Should -BeTrue
        $r = $Main.Results['sniWithoutX5c']
        $r.Id | Should -BeLike 'AzBillingAuthenticationFailed,*'
        $r.Message | Should -Match 'AADSTS700027'
    }

    It 'finds a certificate by thumbprint in CurrentUser\My (spaces and lower case allowed)' {
        $r = $Store.Results['thumbprint']
        $r.Message | Should -BeNullOrEmpty
        $r.Ok | Should -BeTrue
        $r.CertificateThumbprint | Should -Be $AppThumbprint
        $r.ClientId | Should -Be $CertApps.thumbprint
        $r.Requests | Should -Be 1
    }

    It 'signs in with a managed identity through IDENTITY_ENDPOINT/IDENTITY_HEADER (App Service, Azure Automation): <Case>' -TestCases @(
        @{ Case = 'system'; Client = 'MiSystem' }, @{ Case = 'userClientId'; Client = 'MiUser' }, @{ Case = 'userResourceId'; Client = 'MiUser' }, @{ Case = 'userObjectId'; Client = 'MiUser' }
    ) {
        $r = $AppService.Results[$Case]
        $r.Message | Should -BeNullOrEmpty
        $r.Ok | Should -BeTrue
        $r.AuthMethod | Should -Be 'ManagedIdentity'
        $r.ClientId | Should -Be (Get-Variable -Name $Client -ValueOnly)
        $r.TenantId | Should -Be $Tenant
    }

    It 'asks the managed identity for the Resource Manager URL given' {
        $AppService.Results['system'].Scope | Should -Be "$Https/.default"
        $AppService.Results['userClientId'].Scope | Should -Be 'https://management.azure.com/.default'
        $AppService.Results['userClientId'].Cloud | Should -Be 'AzurePublic'
    }

    It 'signs in with a managed identity through IMDS (Azure VMs)' {
        $Imds.Results['imdsSystem'].Ok | Should -BeTrue
        $Imds.Results['imdsSystem'].ClientId | Should -Be $MiSystem
        $Imds.Results['imdsUser'].Ok | Should -BeTrue
        $Imds.Results['imdsUser'].ClientId | Should -Be $MiUser
        $Imds.Results['imdsUser'].Scope | Should -Be 'https://database.windows.net/.default'
    }
}

Describe 'Get-AzBillingToken failures' -Tag 'Auth' -Skip:$NoFixture {
    It '<Case> fails before any network call with <Id> (<Category>)' -TestCases @(
        @{ Case = 'wrongPassword'; Id = 'AzBillingCertificateInvalid'; Category = 'InvalidArgument'; Pattern = 'could not be opened: the password is wrong' }
        @{ Case = 'missingFile'; Id = 'AzBillingFileNotFound'; Category = 'ObjectNotFound'; Pattern = 'no-such.pfx.*was not found' }
        @{ Case = 'noPrivateKey'; Id = 'AzBillingCertificateInvalid'; Category = 'InvalidArgument'; Pattern = 'has no private key' }
        @{ Case = 'expired'; Id = 'AzBillingCertificateInvalid'; Category = 'InvalidArgument'; Pattern = 'azbilling-expired.*expired on' }
        @{ Case = 'notYetValid'; Id = 'AzBillingCertificateInvalid'; Category = 'InvalidArgument'; Pattern = 'is not valid before' }
        @{ Case = 'ecKey'; Id = 'AzBillingCertificateInvalid'; Category = 'InvalidArgument'; Pattern = 'EC \(ECDSA\) key; Entra ID accepts client assertions signed with RSA keys only' }
        @{ Case = 'mismatchedKey'; Id = 'AzBillingCertificateInvalid'; Category = 'InvalidArgument'; Pattern = 'key does not belong to the certificate' }
        @{ Case = 'thumbprintMissing'; Id = 'AzBillingCertificateNotFound'; Category = 'ObjectNotFound'; Pattern = 'No certificate with thumbprint 0123456789ABCDEF0123456789ABCDEF01234567' }
        @{ Case = 'noMethod'; Id = 'AzBillingInvalidArgument'; Category = 'InvalidArgument'; Pattern = 'No sign-in method was given' }
    ) {
        $r = $Main.Results[$Case]
        $r.Ok | Should -BeFalse
        $r.Id | Should -Be "$Id,AzBillingPS.Commands.GetAzBillingTokenCommand"
        $r.Category | Should -Be $Category
        $r.Message | Should -Match $Pattern
        $r.Requests | Should -Be 0
    }

    It '<Case> gives <Code> as <Id> (<Category>) with the correlation id' -TestCases @(
        @{ Case = 'unregisteredCert'; Code = 'AADSTS700027'; Id = 'AzBillingAuthenticationFailed'; Category = 'AuthenticationError'; Pattern = 'invalid signature.*key was not found' }
        @{ Case = 'wrongSecret'; Code = 'AADSTS7000215'; Id = 'AzBillingAuthenticationFailed'; Category = 'AuthenticationError'; Pattern = 'Invalid client secret provided' }
        @{ Case = 'unknownApp'; Code = 'AADSTS700016'; Id = 'AzBillingNotFound'; Category = 'ObjectNotFound'; Pattern = 'was not found in the directory' }
        @{ Case = 'unknownTenant'; Code = 'AADSTS90002'; Id = 'AzBillingNotFound'; Category = 'ObjectNotFound'; Pattern = 'Tenant .* not found' }
        @{ Case = 'scopeWithoutDefault'; Code = 'AADSTS1002012'; Id = 'AzBillingInvalidArgument'; Category = 'InvalidArgument'; Pattern = '/.default' }
        @{ Case = 'unknownResource'; Code = 'AADSTS500011'; Id = 'AzBillingInvalidArgument'; Category = 'InvalidArgument'; Pattern = 'unknown.azbilling.test was not found' }
        @{ Case = 'federatedWrongSubject'; Code = 'AADSTS700213'; Id = 'AzBillingAuthenticationFailed'; Category = 'AuthenticationError'; Pattern = 'repo:contoso/other' }
    ) {
        $r = $Main.Results[$Case]
        $r.Ok | Should -BeFalse
        $r.Id | Should -Be "$Id,AzBillingPS.Commands.GetAzBillingTokenCommand"
        $r.Category | Should -Be $Category
        $r.Message | Should -Match $Code
        $r.Message | Should -Match $Pattern
        $r.Detail | Should -Match "Service error code: $Code; correlation id: [0-9a-f]{8}-[0-9a-f]{4}-"
        $r.Requests | Should -Be 1
    }

    It 'reports an unknown managed identity as ObjectNotFound' {
        foreach ($r in $AppService.Results['unknownIdentity'], $Imds.Results['imdsUnknown']) {
            $r.Message | Should -Match '(?s)managed identity \(user-assigned.*(No managed identity found|Identity not found)'
            $r.Id | Should -Be 'AzBillingNotFound,AzBillingPS.Commands.GetAzBillingTokenCommand'
            $r.Category | Should -Be 'ObjectNotFound'
        }
    }

    It 'reports a wrong IDENTITY_HEADER as an authentication failure' {
        $r = $Imds.Results['wrongHeader']
        $r.Id | Should -Be 'AzBillingAuthenticationFailed,AzBillingPS.Commands.GetAzBillingTokenCommand'
        $r.Category | Should -Be 'AuthenticationError'
        $r.Message | Should -Match 'X-IDENTITY-HEADER'
    }

    It 'reports an untrusted sign-in endpoint (no test CA in this child) as an authentication failure' {
        $r = $AppService.Results['untrustedTls']
        $r.Id | Should -Be 'AzBillingAuthenticationFailed,AzBillingPS.Commands.GetAzBillingTokenCommand'
        $r.Message | Should -Match 'Sign-in failed for client'
    }
}

Describe 'Get-AzBillingToken token object' -Tag 'Auth' -Skip:$NoFixture {
    It 'gets a fresh token when fewer than five minutes remain (the fixture issues 303-second tokens)' {
        $r = $Main.Results['refresh']
        $r.Message | Should -BeNullOrEmpty
        $r.SameWithinMargin | Should -BeTrue
        $r.ChangedAfter | Should -BeTrue
        $r.ExpiryMoved | Should -BeTrue
        $r.Requests | Should -Be 2
    }

    It 'carries what New-AzCostReport binds: the type, the endpoints, and an engine provider in the module''s load context' {
        $r = $Main.Results['pipelineShape']
        $r.ProviderContext | Should -Be 'AzBillingPS'
        $names = $r.PublicNames -split ','
        foreach ($n in 'TenantId', 'ClientId', 'Cloud', 'AuthorityHost', 'ResourceManagerUrl', 'Scope', 'AuthMethod', 'ExpiresOn') { $names | Should -Contain $n }
        $names | Should -Not -Contain 'Provider'
        $names | Should -Not -Contain 'AccessToken'
    }

    It 'shows the table view (AuthMethod, ClientId with its tail, ExpiresOn, Cloud, Scope)' {
        $t = $Store.Results['table'].Table
        $t | Should -Match 'AuthMethod\s+ClientId\s+ExpiresOn \(UTC\)\s+Cloud\s+Scope'
        $t | Should -Match ([regex]::Escape($CertApp.Substring(24)))
        $t | Should -Match 'Certificate'
    }

    It 'writes verbose and debug records (so the leak search below reads them)' {
        $Main.Results['pfx'].Verbose | Should -BeGreaterThan 1
        $Main.Results['pfx'].Debug | Should -BeGreaterThan 0
        $Main.Results['pfx'].Text | Should -Match 'Requesting a token for scope'
    }

    It 'never shows a token, secret, password, private key, identity header or assertion in any stream of <Run>' -TestCases @(
        @{ Run = 'Main' }, @{ Run = 'Store' }, @{ Run = 'AppService' }, @{ Run = 'Imds' }
    ) {
        $run = Get-Variable -Name $Run -ValueOnly
        $checked = Assert-NoSecret $run.AllText
        $checked | Should -BeGreaterThan 7
        # the search is meaningful: the fixture did issue tokens and received assertions
        (Get-Issued).count | Should -BeGreaterThan 10
        @((Get-Issued).assertions).Count | Should -BeGreaterThan 5
    }
}
