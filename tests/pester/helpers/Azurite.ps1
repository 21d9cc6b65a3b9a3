# Dot-sourced by ../TestHelpers.psm1 (which exports the functions): Azurite (the Azure Storage emulator) for blob tests: start/stop, uploads, SAS links.

# Azurite's well-known development account (public, documented by Microsoft for the emulator only).
$script:AzuriteAccount = 'devstoreaccount1'
$script:AzuriteKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
$script:AzuriteHttp = $null

function Get-TestAzuritePath {
    <#
    .SYNOPSIS
        The azurite-blob executable, or $null. $env:AZBILLING_TEST_AZURITE (azurite-blob, or azurite next to it) first,
        then out/node/node_modules/.bin/azurite-blob (tests/Prerequisites.ps1 and .ci/run install it there with npm).
    #>
    [CmdletBinding()]
    param()
    $candidates = @()
    if ($env:AZBILLING_TEST_AZURITE) {
        $candidates += $env:AZBILLING_TEST_AZURITE
        $candidates += Join-Path (Split-Path $env:AZBILLING_TEST_AZURITE) 'azurite-blob'
    }
    $candidates += Join-Path (Get-TestRepoRoot) 'out/node/node_modules/.bin/azurite-blob'
    foreach ($c in $candidates) {
        if ((Split-Path $c -Leaf) -eq 'azurite-blob' -and (Test-Path -LiteralPath $c)) { return (Resolve-Path -LiteralPath $c).Path }
    }
    return $null
}

function Get-TestAzuriteHttpClient {
    if (-not $script:AzuriteHttp) {
        $handler = [Net.Http.HttpClientHandler]::new()
        $handler.UseProxy = $false
        # The test's own uploads to a loopback Azurite (http, or https with a certificate made by Start-TestAzurite -OAuth).
        $handler.ServerCertificateCustomValidationCallback = [Net.Http.HttpClientHandler]::DangerousAcceptAnyServerCertificateValidator
        $script:AzuriteHttp = [Net.Http.HttpClient]::new($handler)
        $script:AzuriteHttp.Timeout = [TimeSpan]::FromMinutes(10)
    }
    return $script:AzuriteHttp
}

function Start-TestAzurite {
    <#
    .SYNOPSIS
        Starts Azurite's blob service on a free loopback port with its data in a new temporary folder; returns $null
        (with a warning) when Azurite is not installed or does not start.
    .OUTPUTS
        Process, Port, Endpoint (http://127.0.0.1:<port>/devstoreaccount1), Account, Key, Location.
    .EXAMPLE
        $az = Start-TestAzurite; try { New-TestBlob $az -Name a.csv -Path ./a.csv } finally { Stop-TestAzurite $az }
    #>
    [CmdletBinding()]
    param(
        [int] $TimeoutSeconds = 60,
        # Serve https with Entra token (OAuth) sign-in besides SAS: Azurite's --oauth basic, with a loopback certificate from
        # a CA made here. The result's CaPem is that CA (add it to a child's SSL_CERT_FILE bundle to trust Azurite).
        [switch] $OAuth
    )
    $bin = Get-TestAzuritePath
    if (-not $bin) {
        Write-Warning 'Blob tests skipped: Azurite is not installed (npm install in out/node from tests/package.json, or set AZBILLING_TEST_AZURITE).'
        return $null
    }
    $node = Get-Command node -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $node) {
        Write-Warning 'Blob tests skipped: node is not on PATH, so Azurite cannot run.'
        return $null
    }
    $lastError = $null
    for ($attempt = 1; $attempt -le 3; $attempt++) {
        $port = Get-FreeTcpPort
        $location = Join-Path ([IO.Path]::GetTempPath()) ("azb-azurite-$([guid]::NewGuid().ToString('N').Substring(0, 12))")
        New-Item -ItemType Directory -Force $location | Out-Null
        $extra = @()
        $caPem = $null
        if ($OAuth) {
            $ca = New-TestFixtureCertificate -Subject 'CN=AzBillingPS Azurite Test CA' -Ca
            $server = New-TestFixtureCertificate -Subject 'CN=127.0.0.1' -Server -Issuer $ca -NotAfterDays 1
            $certFile = Join-Path $location 'azurite-cert.pem'
            $keyFile = Join-Path $location 'azurite-key.pem'
            [IO.File]::WriteAllText($certFile, $server.ExportCertificatePem())
            [IO.File]::WriteAllText($keyFile, [Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($server).ExportPkcs8PrivateKeyPem())
            $caPem = $ca.ExportCertificatePem()
            $extra = @('--oauth', 'basic', '--cert', $certFile, '--key', $keyFile)
        }
        $psi = [Diagnostics.ProcessStartInfo]::new($node.Source)
        foreach ($a in @($bin, '--blobHost', '127.0.0.1', '--blobPort', "$port", '--location', $location, '--silent',
                '--skipApiVersionCheck', '--loose') + $extra) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.RedirectStandardInput = $true
        $p = [Diagnostics.Process]::Start($psi)
        $out = $p.StandardOutput.ReadToEndAsync()
        $err = $p.StandardError.ReadToEndAsync()
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        $ready = $false
        while (-not $p.HasExited -and [DateTime]::UtcNow -lt $deadline) {
            $client = [Net.Sockets.TcpClient]::new()
            try { $client.Connect([Net.IPAddress]::Loopback, $port); $ready = $true } catch { } finally { $client.Dispose() }
            if ($ready) { break }
            Start-Sleep -Milliseconds 100
        }
        if ($ready) {
            return [pscustomobject]@{
                PSTypeName = 'AzBillingPS.TestAzurite'
                Process    = $p
                Port       = $port
                Endpoint   = "$(if ($OAuth) { 'https' } else { 'http' })://127.0.0.1:$port/$($script:AzuriteAccount)"
                Account    = $script:AzuriteAccount
                CaPem      = $caPem
                Key        = $script:AzuriteKey
                Location   = $location
                StdOut     = $out
                StdErr     = $err
            }
        }
        if (-not $p.HasExited) { $p.Kill($true); [void] $p.WaitForExit(5000) }
        $lastError = "exit code $(if ($p.HasExited) { $p.ExitCode } else { 'none (timed out)' }): $($err.GetAwaiter().GetResult()) $($out.GetAwaiter().GetResult())".Trim()
        $p.Dispose()
        Remove-Item -Recurse -Force -LiteralPath $location -ErrorAction SilentlyContinue
    }
    Write-Warning "Blob tests skipped: Azurite did not start ($lastError)."
    return $null
}

function Stop-TestAzurite {
    <#
    .SYNOPSIS
        Stops an Azurite started by Start-TestAzurite (its own process only) and removes its data folder.
    #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] [object] $Azurite)
    if ($null -eq $Azurite) { return }
    try {
        if (-not $Azurite.Process.HasExited) { $Azurite.Process.Kill($true); [void] $Azurite.Process.WaitForExit(10000) }
    }
    catch [InvalidOperationException] { }
    $Azurite.Process.Dispose()
    Remove-Item -Recurse -Force -LiteralPath $Azurite.Location -ErrorAction SilentlyContinue
}

function ConvertTo-TestSasTime([datetime] $Time) {
    return $Time.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [cultureinfo]::InvariantCulture)
}

function Get-TestHmacSignature([string] $Key, [string] $StringToSign) {
    $hmac = [Security.Cryptography.HMACSHA256]::new([Convert]::FromBase64String($Key))
    try { return [Convert]::ToBase64String($hmac.ComputeHash([Text.Encoding]::UTF8.GetBytes($StringToSign))) } finally { $hmac.Dispose() }
}

function Get-TestAccountSas {
    # An account SAS (version 2022-11-02) for the test's own uploads: every permission on containers and objects.
    param([object] $Azurite, [datetime] $Expiry = [DateTime]::UtcNow.AddHours(2))
    $sv = '2022-11-02'; $sp = 'rwdlacup'; $ss = 'b'; $srt = 'sco'; $se = ConvertTo-TestSasTime $Expiry
    $toSign = ($Azurite.Account, $sp, $ss, $srt, '', $se, '', '', $sv, '', '') -join "`n"
    $sig = Get-TestHmacSignature $Azurite.Key $toSign
    return "sv=$sv&ss=$ss&srt=$srt&sp=$sp&se=$([Uri]::EscapeDataString($se))&sig=$([Uri]::EscapeDataString($sig))"
}

function Invoke-TestAzuriteRequest {
    param([object] $Azurite, [string] $Method, [string] $Url, [Net.Http.HttpContent] $Content, [hashtable] $Headers = @{}, [int[]] $Ok = @(200, 201, 202))
    $req = [Net.Http.HttpRequestMessage]::new([Net.Http.HttpMethod]::new($Method), $Url)
    $req.Headers.TryAddWithoutValidation('x-ms-version', '2022-11-02') | Out-Null
    foreach ($k in $Headers.Keys) { $req.Headers.TryAddWithoutValidation($k, [string]$Headers[$k]) | Out-Null }
    if ($Content) { $req.Content = $Content }
    $resp = (Get-TestAzuriteHttpClient).SendAsync($req).GetAwaiter().GetResult()
    try {
        if ([int]$resp.StatusCode -notin $Ok) {
            $body = $resp.Content.ReadAsStringAsync().GetAwaiter().GetResult()
            throw "Azurite $Method $($Url -replace 'sig=[^&]*', 'sig=REDACTED') answered $([int]$resp.StatusCode): $body"
        }
        return [int]$resp.StatusCode
    }
    finally { $resp.Dispose(); $req.Dispose() }
}

function New-TestBlob {
    <#
    .SYNOPSIS
        Uploads a block blob to Azurite (account SAS over REST): Put Blob when it fits in one block, otherwise Put Block
        for each block and Put Block List, streaming (never the whole blob in memory). The container is created when missing.
    .DESCRIPTION
        The content is a file (-Path), bytes (-Content), or -Length pseudo-random bytes from -Seed. -ContentMd5 stores
        the blob's MD5 (x-ms-blob-content-md5, which the service returns as Content-MD5); -Md5 stores a given (for
        example wrong) base64 MD5 instead. A single Put Blob always gets its MD5 from Azurite itself.
    .OUTPUTS
        Container, Name, Bytes, Md5 (base64, of the content), Sha256 (hex, of the content).
    .EXAMPLE
        New-TestBlob $az -Name big.bin -Length 300MB -Seed 7 -ContentMd5
    #>
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(Mandatory, Position = 0)] [object] $Azurite,
        [string] $Container = 'costs',
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory, ParameterSetName = 'Path')] [string] $Path,
        [Parameter(Mandatory, ParameterSetName = 'Content')] [byte[]] $Content,
        [Parameter(Mandatory, ParameterSetName = 'Length')] [long] $Length,
        [Parameter(ParameterSetName = 'Length')] [int] $Seed = 1,
        [int] $BlockSize = 8MB,
        [switch] $ContentMd5,
        [string] $Md5
    )
    $sas = Get-TestAccountSas $Azurite
    [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$($Azurite.Endpoint)/$Container`?restype=container&$sas" -Ok 201, 409)
    $blobUrl = "$($Azurite.Endpoint)/$Container/$([Uri]::EscapeDataString($Name).Replace('%2F', '/'))"

    switch ($PSCmdlet.ParameterSetName) {
        'Path' { $source = [IO.File]::OpenRead((Resolve-Path -LiteralPath $Path).Path); $total = $source.Length }
        'Content' { $source = [IO.MemoryStream]::new($Content, $false); $total = $Content.Length }
        'Length' { $source = $null; $total = $Length }
    }
    $random = [Random]::new($Seed)
    $md5Hash = [Security.Cryptography.IncrementalHash]::CreateHash('MD5')
    $shaHash = [Security.Cryptography.IncrementalHash]::CreateHash('SHA256')
    $buffer = [byte[]]::new([Math]::Max(1, [Math]::Min([long]$BlockSize, [Math]::Max($total, 1))))
    try {
        $ids = [Collections.Generic.List[string]]::new()
        $left = $total
        $block = 0
        $single = $total -le $BlockSize
        do {
            $n = [int][Math]::Min([long]$buffer.Length, $left)
            if ($source) {
                $got = 0
                while ($got -lt $n) { $r = $source.Read($buffer, $got, $n - $got); if ($r -le 0) { throw "$Path ended early" }; $got += $r }
            }
            else { $random.NextBytes($buffer); }
            $md5Hash.AppendData($buffer, 0, $n); $shaHash.AppendData($buffer, 0, $n)
            $body = [Net.Http.ByteArrayContent]::new($buffer, 0, $n)
            if ($single) {
                $headers = @{ 'x-ms-blob-type' = 'BlockBlob' }
                [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$blobUrl`?$sas" -Content $body -Headers $headers)
            }
            else {
                $id = [Convert]::ToBase64String([Text.Encoding]::ASCII.GetBytes(('block-{0:D8}' -f $block)))
                $ids.Add($id)
                [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$blobUrl`?comp=block&blockid=$([Uri]::EscapeDataString($id))&$sas" -Content $body)
            }
            $left -= $n
            $block++
        } while ($left -gt 0)
        $md5Value = [Convert]::ToBase64String($md5Hash.GetHashAndReset())
        $shaValue = [Convert]::ToHexString($shaHash.GetHashAndReset()).ToLowerInvariant()
        if (-not $single) {
            $xml = '<?xml version="1.0" encoding="utf-8"?><BlockList>' + (($ids | ForEach-Object { "<Latest>$_</Latest>" }) -join '') + '</BlockList>'
            $headers = @{}
            if ($Md5) { $headers['x-ms-blob-content-md5'] = $Md5 } elseif ($ContentMd5) { $headers['x-ms-blob-content-md5'] = $md5Value }
            [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$blobUrl`?comp=blocklist&$sas" -Content ([Net.Http.StringContent]::new($xml)) -Headers $headers)
        }
        elseif ($Md5) {
            [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$blobUrl`?comp=properties&$sas" -Headers @{ 'x-ms-blob-content-md5' = $Md5 })
        }
    }
    finally {
        if ($source) { $source.Dispose() }
        $md5Hash.Dispose(); $shaHash.Dispose()
    }
    return [pscustomobject]@{ Container = $Container; Name = $Name; Bytes = $total; Md5 = $md5Value; Sha256 = $shaValue }
}

function New-TestBlobSasLink {
    <#
    .SYNOPSIS
        A real service SAS link (sr=b, version 2022-11-02, HMAC-SHA256 over the string-to-sign) to read one blob.
    .DESCRIPTION
        -BaseUri replaces http://127.0.0.1:<port>/devstoreaccount1 (for example the fixture's /_proxy/devstoreaccount1);
        -Key signs with another key (the storage service then answers 403 AuthenticationFailed).
    .EXAMPLE
        $link = New-TestBlobSasLink $az -Container costs -Name a.csv -Expiry (Get-Date).AddMinutes(-5)
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [object] $Azurite,
        [string] $Container = 'costs',
        [Parameter(Mandatory)] [string] $Name,
        [datetime] $Expiry = [DateTime]::UtcNow.AddHours(1),
        [datetime] $Start = [DateTime]::UtcNow.AddMinutes(-15),
        [string] $Permissions = 'r',
        [string] $BaseUri,
        [string] $Key
    )
    $sv = '2022-11-02'
    $st = ConvertTo-TestSasTime $Start
    $se = ConvertTo-TestSasTime $Expiry
    $resource = "/blob/$($Azurite.Account)/$Container/$Name"
    # sp, st, se, canonicalized resource, si, sip, spr, sv, sr, snapshot time, encryption scope, rscc, rscd, rsce, rscl, rsct
    $toSign = ($Permissions, $st, $se, $resource, '', '', '', $sv, 'b', '', '', '', '', '', '', '') -join "`n"
    $sig = Get-TestHmacSignature $(if ($Key) { $Key } else { $Azurite.Key }) $toSign
    $base = if ($BaseUri) { $BaseUri.TrimEnd('/') } else { $Azurite.Endpoint }
    $path = "$Container/$([Uri]::EscapeDataString($Name).Replace('%2F', '/'))"
    return "$base/$path`?sv=$sv&st=$([Uri]::EscapeDataString($st))&se=$([Uri]::EscapeDataString($se))&sr=b&sp=$Permissions&sig=$([Uri]::EscapeDataString($sig))"
}

function New-TestContainerSasUrl {
    <#
    .SYNOPSIS
        A real container SAS URL (sr=c, version 2022-11-02) with read and list permissions (-Permissions to change).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [object] $Azurite,
        [string] $Container = 'costs',
        [datetime] $Expiry = [DateTime]::UtcNow.AddHours(1),
        [string] $Permissions = 'rl',
        [string] $Key
    )
    $sv = '2022-11-02'
    $st = ConvertTo-TestSasTime ([DateTime]::UtcNow.AddMinutes(-15))
    $se = ConvertTo-TestSasTime $Expiry
    $resource = "/blob/$($Azurite.Account)/$Container"
    $toSign = ($Permissions, $st, $se, $resource, '', '', '', $sv, 'c', '', '', '', '', '', '', '') -join "`n"
    $sig = Get-TestHmacSignature $(if ($Key) { $Key } else { $Azurite.Key }) $toSign
    return "$($Azurite.Endpoint)/$Container`?sv=$sv&st=$([Uri]::EscapeDataString($st))&se=$([Uri]::EscapeDataString($se))&sr=c&sp=$Permissions&sig=$([Uri]::EscapeDataString($sig))"
}

function Copy-TestTreeToAzurite {
    <#
    .SYNOPSIS
        Uploads every file under -Root to the container, named by its path relative to -Root (with -Prefix before it).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] [object] $Azurite, [Parameter(Mandatory)] [string] $Root, [string] $Container = 'costs', [string] $Prefix = '')
    foreach ($f in Get-ChildItem -LiteralPath $Root -Recurse -File) {
        $name = [IO.Path]::GetRelativePath($Root, $f.FullName).Replace('\', '/')
        if ($name.StartsWith('.layout-')) { continue }
        [void] (New-TestBlob $Azurite -Container $Container -Name ($Prefix + $name) -Path $f.FullName)
    }
}
