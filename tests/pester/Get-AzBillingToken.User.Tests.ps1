#Requires -Version 7.4
# Get-AzBillingToken as a person: -DeviceCode (through MSAL, against the fixture's device code endpoints), the token
# cache (session only without a keyring, the PlainFile opt-in, Clear-AzBillingTokenCache), -Interactive's no-browser
# error, -UseAzContext (a stand-in Az.Accounts module) and -UseAzureCli (a stand-in az first on PATH), and Sync-AzBilling
# with the same switches. Each run is a child pwsh; a device code case runs its command in a runspace of its own and plays
# the person from the outside: it reads the code from the warning stream, as a person reads the screen, and approves,
# denies, lets it expire or presses Ctrl+C (PowerShell.Stop(), what Ctrl+C does) through the fixture's control endpoints.
#
# Secrets: device codes, access, refresh and ID tokens must appear in no stream and no file (the PlainFile cache, 0600,
# is the one file allowed to hold them). The user code is the exception made for the person: it must appear exactly
# once, in the warning stream, and nowhere else (output, error, verbose, debug, information, other warnings, files).

BeforeDiscovery {
    $root = if ($env:AZBILLING_REPO_ROOT) { $env:AZBILLING_REPO_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:NoFixture = -not (Test-Path (Join-Path $root 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Dir = Join-Path ([IO.Path]::GetTempPath()) ('azb-user-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $Dir | Out-Null

    # One public client per device code case: MSAL's in-memory cache is per client, so each case starts signed out.
    $script:Pub = @{}
    foreach ($c in 'approve', 'slowdown', 'deny', 'declined', 'expire', 'lifetime', 'stop', 'sync', 'plain', 'link', 'protected') { $Pub[$c] = [guid]::NewGuid().ToString() }
    $script:UserUpn = 'ana@fixture.azbilling.test'
    # Retry-After 0 on the reports of the Sync and New-AzCostReport cases: nothing here measures the wait before a poll.
    # The approve client's tokens live 302 s, 2 s over the five-minute renewal window, so the renewal case waits 3 s (not 7)
    # for its token to have fewer than five minutes left (299 s, as before); the other clients' live 306 s.
    # Two fixtures, alike: run 1 (the device code cases, mostly waiting on polls) has one of its own, $DeviceFixture, and runs
    # in a thread job while runs 2-4 run one after another against $Fixture. Every count a case asserts (DeviceCodeRequests,
    # TokenRequests) is taken from its own fixture's counters, so no case of one run can count a request of another.
    $fixtureArgs = @{
        DefaultRetryAfter = 0; Users = @(@{ objectId = [guid]::NewGuid().ToString(); userPrincipalName = $UserUpn; displayName = 'Ana Lopes' })
        PublicClients = @($Pub.Keys | ForEach-Object { @{ clientId = $Pub[$_]; tokenLifetimeSeconds = $(if ($_ -eq 'approve') { 302 } else { 306 }) } }); DeviceCode = @{ intervalSeconds = 1; expiresInSeconds = 60 }
    }
    $script:Fixture = Start-TestAzureFixture @fixtureArgs
    $script:DeviceFixture = Start-TestAzureFixture @fixtureArgs
    $script:Fixtures = @($Fixture, $DeviceFixture)
    $script:Sub = [guid]::NewGuid().ToString()
    $script:CommonArgs = "-TenantId $($Fixture.TenantId) -AuthorityHost $($Fixture.Https) -ResourceManagerUrl $($Fixture.Https)"
    $DeviceArgs = "-TenantId $($DeviceFixture.TenantId) -AuthorityHost $($DeviceFixture.Https) -ResourceManagerUrl $($DeviceFixture.Https)"

    # What every child gets first: a runner that plays the person, and a leak-free record of every stream.
    $script:Prelude = @'
$ErrorActionPreference = 'Stop'
$Results = [ordered]@{}
function Get-Hash([string] $s) { [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($s))) }
function Invoke-Fixture([string] $Method, [string] $Path, $Body) {
    $p = @{ Method = $Method; Uri = "$env:AZB_FIXTURE_HTTP$Path"; Verbose = $false; Debug = $false }
    if ($null -ne $Body) { $p.Body = ($Body | ConvertTo-Json -Compress); $p.ContentType = 'application/json' }
    Invoke-RestMethod @p
}
function Get-Codes { (Invoke-Fixture GET '/_fixture/devicecode') | ForEach-Object { $_ } }   # Invoke-RestMethod writes a JSON array as one object
function Get-Code([string] $UserCode) { Get-Codes | Where-Object userCode -EQ $UserCode }
function Wait-Polls([string] $UserCode, [int] $Count, [string] $Answer = '*') {
    $deadline = [DateTime]::UtcNow.AddSeconds(40)
    while ([DateTime]::UtcNow -lt $deadline) {
        $c = Get-Code $UserCode
        if (@($c.polls | Where-Object answer -Like $Answer).Count -ge $Count) { return $c }
        Start-Sleep -Milliseconds 100
    }
    throw "fewer than $Count polls ($Answer) for the device code: $(Get-Code $UserCode | ConvertTo-Json -Compress -Depth 4)"
}
function Read-Stream($c) { @(for ($i = 0; $i -lt $c.Count; $i++) { $c[$i] }) }   # a PSDataCollection's enumerator waits while it is open
$Open = [Collections.Generic.List[powershell]]::new()
# -KeepOpen: the runspace's pipeline is disposed at the end of the run, not at the end of the case (the Ctrl+C case checks later that nothing polls after the stop).
function Invoke-Person([string] $Name, [string] $Command, [scriptblock] $Act, [int] $TimeoutSeconds = 60, [switch] $KeepOpen) {
    $ps = [powershell]::Create()
    [void] $ps.AddScript("`$ErrorActionPreference = 'Stop'; `$VerbosePreference = 'Continue'; `$DebugPreference = 'Continue'; `$InformationPreference = 'Continue'`nImport-Module `$env:AZBILLING_MODULE_PATH`ntry {`n$Command`n} catch { [pscustomobject]@{ AzbError = `$_ } }")
    $r = [ordered]@{ Ok = $false; Stopped = $false; TimedOut = $false; Id = $null; Category = $null; Message = $null; UserCode = $null }
    $before = @(Get-Codes).Count
    $requestsBefore = (Invoke-Fixture GET '/_fixture/issued').requests
    [Console]::Error.WriteLine("case $Name`: starting")
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $h = $ps.BeginInvoke()
    while (-not $h.IsCompleted -and $sw.Elapsed.TotalSeconds -lt $TimeoutSeconds) {
        $m = [regex]::Match(((Read-Stream $ps.Streams.Warning | ForEach-Object Message) -join "`n"), 'enter the code (\S+)\.')
        if ($m.Success) { $r.UserCode = $m.Groups[1].Value; break }
        Start-Sleep -Milliseconds 50
    }
    $r.CodeShownAfter = $sw.Elapsed.TotalSeconds
    if ($r.UserCode -and $Act) {
        try {
            $acted = & $Act $r.UserCode $ps
            if ($acted -is [Collections.IDictionary]) { foreach ($k in $acted.Keys) { $r[$k] = $acted[$k] } }
        }
        catch { $r.ActError = "$_"; $ps.Stop() }
    }
    if (-not $h.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($TimeoutSeconds))) { $r.TimedOut = $true; $ps.Stop() }
    $texts = [Collections.Generic.List[string]]::new()
    try {
        foreach ($o in $ps.EndInvoke($h)) {
            if ($o.PSObject.Properties['AzbError']) {
                $e = $o.AzbError
                $r.Id = $e.FullyQualifiedErrorId; $r.Category = "$($e.CategoryInfo.Category)"; $r.Message = $e.Exception.Message; $r.Detail = $e.ErrorDetails.RecommendedAction
                $texts.Add(($e | Out-String)); $texts.Add($e.Exception.ToString()); $texts.Add(($e | Format-List * -Force | Out-String)); $texts.Add(($e.Exception | Format-List * -Force | Out-String))
                continue
            }
            $r.Ok = $true
            $b = $o.PSObject.BaseObject
            if ($b -is [AzBillingPS.AzBillingToken]) {
                $texts.Add($b.ToString()); $texts.Add(($b | Format-List * -Force | Out-String)); $texts.Add(($b | ConvertTo-Json -Depth 3 -WarningAction SilentlyContinue))
                $r.AuthMethod = "$($b.AuthMethod)"; $r.UserName = $b.UserName; $r.TenantId = $b.TenantId; $r.ClientId = $b.ClientId; $r.Cloud = $b.Cloud
                $r.ResourceManagerUrl = "$($b.ResourceManagerUrl)"; $r.ExpiresOn = $b.ExpiresOn.ToUnixTimeSeconds(); $r.TokenHash = Get-Hash $b.GetAccessToken()
            }
            elseif ($b -is [Collections.IDictionary]) { foreach ($k in $b.Keys) { $r[$k] = $b[$k] }; $texts.Add(($b | Out-String)) }
            else {
                $texts.Add(($o | Format-List * -Force | Out-String)); $r.TypeName = $o.PSObject.TypeNames[0]
                foreach ($p in 'Loaded', 'Failed', 'Units') { if ($o.PSObject.Properties[$p]) { $r[$p] = $o.$p } }
            }
        }
    }
    catch {
        $inner = $_.Exception; while ($inner.InnerException -and $inner -isnot [Management.Automation.PipelineStoppedException]) { $inner = $inner.InnerException }
        $r.Stopped = $inner -is [Management.Automation.PipelineStoppedException]
        $texts.Add($_.Exception.ToString())
    }
    $r.Elapsed = $sw.Elapsed.TotalSeconds
    foreach ($e in Read-Stream $ps.Streams.Error) { $texts.Add(($e | Out-String)); $texts.Add($e.Exception.ToString()) }
    foreach ($s in 'Verbose', 'Debug', 'Information') { foreach ($x in Read-Stream $ps.Streams.$s) { $texts.Add("$s`: $x") } }
    $warnings = @(Read-Stream $ps.Streams.Warning | ForEach-Object Message)
    $r.Warnings = $warnings
    $r.CodeWarnings = @($warnings | Where-Object { $_ -match 'enter the code' }).Count
    $r.Verbose = @(Read-Stream $ps.Streams.Verbose | ForEach-Object Message)
    $r.Text = $texts -join "`n"
    $r.DeviceCodeRequests = @(Get-Codes).Count - $before
    $r.TokenRequests = (Invoke-Fixture GET '/_fixture/issued').requests - $requestsBefore
    if ($r.UserCode) { $r.Code = Get-Code $r.UserCode }
    if ($KeepOpen) { $Open.Add($ps) } else { $ps.Dispose() }
    $Results[$Name] = $r
    [Console]::Error.WriteLine("case $Name`: ok=$($r.Ok) stopped=$($r.Stopped) id=$($r.Id) act=$($r.ActError) $([int]$r.Elapsed) s")
}
'@

    function New-RunEnvironment($F, [hashtable] $Environment = @{}) {
        $envs = $F.ChildEnv.Clone()
        foreach ($k in 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'DISPLAY', 'WAYLAND_DISPLAY', 'SSH_CONNECTION', 'SSH_TTY', 'AZBILLING_TOKEN_CACHE', 'AUTOMATION_ASSET_ACCOUNTID') { $envs[$k] = $null }
        $envs.HOME = Join-Path $Dir 'home'; $envs.XDG_DATA_HOME = Join-Path $Dir 'data'
        foreach ($k in $Environment.Keys) { $envs[$k] = $Environment[$k] }
        New-Item -ItemType Directory -Force -Path $envs.HOME | Out-Null
        $envs
    }
    function Get-RunScript([string] $Script) { $Prelude + "`n" + $Script + "`n" + '"##RESULTS##" + ($Results | ConvertTo-Json -Depth 6 -Compress)' }
    function Invoke-Run([string] $Script, [hashtable] $Environment = @{}, [int] $TimeoutSeconds = 240) {
        Read-Run (Invoke-ChildPwsh -Script (Get-RunScript $Script) -Environment (New-RunEnvironment $Fixture $Environment) -TimeoutSeconds $TimeoutSeconds -WorkingDirectory $Dir)
    }
    function Read-Run($run) {
        $line = $run.Output | Where-Object { $_.StartsWith('##RESULTS##') } | Select-Object -Last 1
        if (-not $line) { throw "The child failed (exit $($run.ExitCode)):`n$($run.StdOut)`n$($run.StdErr)" }
        # AllText: what the child printed besides the results line (which carries the user codes on purpose).
        $printed = ($run.StdOut -split '\r?\n' | Where-Object { -not $_.StartsWith('##RESULTS##') }) -join "`n"
        [pscustomobject]@{ Results = ($line.Substring(11) | ConvertFrom-Json -AsHashtable); AllText = $printed + "`n" + $run.StdErr }
    }

    # Secrets the fixture issued that must never be seen, and the user codes (seen once, in the warning only).
    function Get-Secrets {
        @(foreach ($f in $Fixtures) { @(Get-TestFixtureSecrets $f) + @((Get-TestFixtureIssued $f).idTokens) }) | Where-Object { $_ } | Sort-Object -Unique
    }
    function Find-Secret([string] $Text) {
        foreach ($s in Get-Secrets) {
            $at = $Text.IndexOf($s)
            if ($at -ge 0) { return $s.Substring(0, [Math]::Min(12, $s.Length)) + '... in: ' + $Text.Substring([Math]::Max(0, $at - 300), [Math]::Min(300, $at)) }
            $sig = ($s -split '\.')[-1]
            if ($s.Length -gt 60 -and $sig.Length -gt 30 -and $Text.Contains($sig.Substring(0, 30))) { return 'a token signature' }
        }
        $null
    }
    function Get-FileTexts([string] $Root, [string[]] $Except = @()) {
        if (-not (Test-Path $Root)) { return '' }
        (Get-ChildItem -LiteralPath $Root -Recurse -File -Force | Where-Object { $_.FullName -notin $Except } | ForEach-Object { [IO.File]::ReadAllText($_.FullName) }) -join "`n"
    }

    $approveAfterPolls = {
        param($code)
        $c = Wait-Polls $code 2 'authorization_pending'
        Invoke-Fixture POST '/_fixture/devicecode/approve' @{ userCode = $code } | Out-Null
        @{ PendingBeforeApprove = @($c.polls).Count }
    }
    # Where no assertion counts the polls before the approval: one authorization_pending (Sync waits for the person), or none.
    $approveAfterPoll = {
        param($code)
        Wait-Polls $code 1 'authorization_pending' | Out-Null
        Invoke-Fixture POST '/_fixture/devicecode/approve' @{ userCode = $code } | Out-Null
    }
    $approveAtOnce = {
        param($code)
        Invoke-Fixture POST '/_fixture/devicecode/approve' @{ userCode = $code } | Out-Null
    }

    # --- Run 1: device code, no keyring (the session-only cache), Sync-AzBilling -DeviceCode, Clear-AzBillingTokenCache.
    # Against $DeviceFixture, in a thread job: runs 2-4 run meanwhile against $Fixture; Read-Run reads it at the end.
    $deviceScript = @"
`$approve = [scriptblock]::Create(@'
$($approveAfterPolls.ToString())
'@)
`$approveAfterPoll = [scriptblock]::Create(@'
$($approveAfterPoll.ToString())
'@)
Invoke-Person 'approve' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.approve) $DeviceArgs" `$approve
Invoke-Person 'cached' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.approve) $DeviceArgs"
Invoke-Person 'renew' @'
`$t = Get-AzBillingToken -DeviceCode -ClientId $($Pub.approve) $DeviceArgs
`$before = [int] (Invoke-RestMethod "`$env:AZB_FIXTURE_HTTP/_fixture/issued" -Verbose:`$false -Debug:`$false).grants.refresh_token
Start-Sleep -Seconds 3
`$null = `$t.GetAccessToken()
@{ RefreshBefore = `$before; RefreshAfter = [int] (Invoke-RestMethod "`$env:AZB_FIXTURE_HTTP/_fixture/issued" -Verbose:`$false -Debug:`$false).grants.refresh_token; UserName = `$t.UserName }
'@
Invoke-Person 'slowdown' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.slowdown) $DeviceArgs" {
    param(`$code)
    Invoke-Fixture POST '/_fixture/devicecode/slowdown' @{ userCode = `$code } | Out-Null
    Wait-Polls `$code 1 'slow_down' | Out-Null
    `$n = @((Get-Code `$code).polls | Where-Object answer -EQ 'authorization_pending').Count
    Wait-Polls `$code (`$n + 1) 'authorization_pending' | Out-Null   # one pending poll after the slow_down, then the person approves
    Invoke-Fixture POST '/_fixture/devicecode/approve' @{ userCode = `$code } | Out-Null
}
Invoke-Person 'deny' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.deny) $DeviceArgs" { param(`$code) Invoke-Fixture POST '/_fixture/devicecode/deny' @{ userCode = `$code; error = 'access_denied' } | Out-Null }
Invoke-Person 'declined' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.declined) $DeviceArgs" { param(`$code) Invoke-Fixture POST '/_fixture/devicecode/deny' @{ userCode = `$code; error = 'authorization_declined' } | Out-Null }
Invoke-Person 'expire' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.expire) $DeviceArgs" { param(`$code) Wait-Polls `$code 1 | Out-Null; Invoke-Fixture POST '/_fixture/devicecode/expire' @{ userCode = `$code } | Out-Null }
Invoke-Fixture POST '/_fixture/devicecode/settings' @{ expiresInSeconds = 3 } | Out-Null
Invoke-Person 'lifetime' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.lifetime) $DeviceArgs" -TimeoutSeconds 30
Invoke-Fixture POST '/_fixture/devicecode/settings' @{ expiresInSeconds = 60 } | Out-Null
Invoke-Person 'stop' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.stop) $DeviceArgs" -KeepOpen {
    param(`$code, `$ps)
    Wait-Polls `$code 1 | Out-Null
    `$sw = [Diagnostics.Stopwatch]::StartNew()
    `$ps.Stop()
    `$stopSeconds = `$sw.Elapsed.TotalSeconds
    @{ StopSeconds = `$stopSeconds; PollsAtStop = @((Get-Code `$code).polls).Count; StoppedAt = [Diagnostics.Stopwatch]::GetTimestamp() }
}
Invoke-Person 'sync' "Sync-AzBilling -DeviceCode -ClientId $($Pub.sync) $DeviceArgs -Scope /subscriptions/$Sub -Months 1 -DatabasePath '$(Join-Path $Dir 'sync.sqlite')' -WorkingPath '$(Join-Path $Dir 'work')'" `$approveAfterPoll
Invoke-Person 'clear' "Clear-AzBillingTokenCache"
Invoke-Person 'afterClear' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.approve) $DeviceArgs" { param(`$code, `$ps) `$ps.Stop() }
# The stopped code's polls at least 3 s after Ctrl+C (the cases above, with codes of their own, ran meanwhile; its pipeline is still open).
`$left = 3 - [Diagnostics.Stopwatch]::GetElapsedTime(`$Results['stop'].StoppedAt).TotalSeconds
if (`$left -gt 0) { Start-Sleep -Milliseconds ([int] [Math]::Ceiling(`$left * 1000)) }
`$Results['stop'].PollsAfter = @((Get-Code `$Results['stop'].UserCode).polls).Count
`$Results['stop'].PollsAfterSeconds = [Diagnostics.Stopwatch]::GetElapsedTime(`$Results['stop'].StoppedAt).TotalSeconds
foreach (`$p in `$Open) { `$p.Dispose() }
"@
    $script:DeviceJob = Start-ThreadJob -ArgumentList (Join-Path $PSScriptRoot 'TestHelpers.psm1'), (Get-RunScript $deviceScript), (New-RunEnvironment $DeviceFixture), $Dir -ScriptBlock {
        param($helpers, $script, $envs, $dir)
        Import-Module $helpers
        Invoke-ChildPwsh -Script $script -Environment $envs -TimeoutSeconds 240 -WorkingDirectory $dir
    }

    # --- Run 2: AZBILLING_TOKEN_CACHE=PlainFile, in two processes: the second signs in silently from the file; then the file is cleared.
    $plainData = Join-Path $Dir 'plain-data'
    $script:PlainFile = Join-Path $plainData 'AzBillingPS/msal.plaintext.cache'
    $plainEnv = @{ AZBILLING_TOKEN_CACHE = 'PlainFile'; XDG_DATA_HOME = $plainData }
    $script:Plain1 = Invoke-Run -Environment $plainEnv -Script @"
`$approve = [scriptblock]::Create(@'
$($approveAtOnce.ToString())
'@)
Invoke-Person 'first' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.plain) $CommonArgs" `$approve
`$Results['modes'] = @{ File = "`$((Get-Item -LiteralPath '$PlainFile').UnixFileMode)"; Folder = "`$((Get-Item -LiteralPath '$(Split-Path $PlainFile)').UnixFileMode)" }
"@
    $script:Plain2 = Invoke-Run -Environment $plainEnv -Script @"
Invoke-Person 'silent' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.plain) $CommonArgs"
Invoke-Person 'clear' "Clear-AzBillingTokenCache"
`$Results['afterClear'] = @{ FileExists = (Test-Path -LiteralPath '$PlainFile') }
Invoke-Person 'again' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.plain) $CommonArgs" { param(`$code, `$ps) `$ps.Stop() }
"@

    # --- Run 3: a symbolic link planted where the plain cache file goes: not read, not written through.
    $linkData = Join-Path $Dir 'link-data'
    New-Item -ItemType Directory -Path (Join-Path $linkData 'AzBillingPS') -Force | Out-Null
    [IO.File]::SetUnixFileMode((Join-Path $linkData 'AzBillingPS'), 'UserRead, UserWrite, UserExecute')
    $script:Victim = Join-Path $Dir 'victim.txt'
    Set-Content -LiteralPath $Victim -Value 'not a token cache' -NoNewline
    $script:LinkPath = Join-Path $linkData 'AzBillingPS/msal.plaintext.cache'
    New-Item -ItemType SymbolicLink -Path $LinkPath -Target $Victim | Out-Null
    $script:Link = Invoke-Run -Environment @{ AZBILLING_TOKEN_CACHE = 'PlainFile'; XDG_DATA_HOME = $linkData } -Script @"
`$approve = [scriptblock]::Create(@'
$($approveAtOnce.ToString())
'@)
Invoke-Person 'link' "Get-AzBillingToken -DeviceCode -ClientId $($Pub.link) $CommonArgs" `$approve
"@
    # --- Run 4: the sessions a person already has: a stand-in Az.Accounts (both Token shapes), a stand-in az first on PATH;
    # and -Interactive where no browser can be opened. Every case sets the stand-ins' switches itself (the environment is the process's).
    $azModule = New-Item -ItemType Directory -Force -Path (Join-Path $Dir 'azmods/Az.Accounts/3.0.0')
    Set-Content -LiteralPath (Join-Path $azModule 'Az.Accounts.psd1') -Value "@{ RootModule = 'Az.Accounts.psm1'; ModuleVersion = '3.0.0'; GUID = '$([guid]::NewGuid())'; FunctionsToExport = @('Get-AzContext', 'Get-AzAccessToken'); CmdletsToExport = @(); AliasesToExport = @(); VariablesToExport = @() }"
    Set-Content -LiteralPath (Join-Path $azModule 'Az.Accounts.psm1') -Value @'
# A stand-in for Az.Accounts (tests only): a signed-in context for the fixture's cloud, and Get-AzAccessToken returning a
# token the fixture issued, as a string (Az.Accounts 2.x) or a SecureString (3 and later), per $env:AZB_AZ_SHAPE.
function Get-AzContext {
    if ($env:AZB_AZ_SIGNEDIN -eq '0') { return $null }
    [pscustomobject]@{
        Account     = [pscustomobject]@{ Id = 'ana@fixture.azbilling.test'; Type = 'User' }
        Tenant      = [pscustomobject]@{ Id = $env:AZB_TENANT }
        Environment = [pscustomobject]@{ Name = 'AzBillingFixture'; ResourceManagerUrl = "$env:AZB_FIXTURE_HTTPS/"; ActiveDirectoryAuthority = "$env:AZB_FIXTURE_HTTPS/" }
    }
}
function Get-AzAccessToken {
    [CmdletBinding()]
    param([string] $ResourceUrl, [string] $TenantId, [switch] $AsSecureString)
    $global:AzbCalls = @($global:AzbCalls) + [pscustomobject]@{ Thread = [Threading.Thread]::CurrentThread.ManagedThreadId; ResourceUrl = $ResourceUrl; TenantId = $TenantId }
    $r = Invoke-RestMethod -Method Post -Uri "$env:AZB_FIXTURE_HTTPS/$TenantId/oauth2/v2.0/token" -Verbose:$false -Debug:$false -Body @{
        grant_type = 'client_credentials'; client_id = $env:AZB_CLIENT_ID; client_secret = $env:AZB_CLIENT_SECRET; scope = $ResourceUrl.TrimEnd('/') + '/.default' }
    $expires = if ($env:AZB_AZ_EXPIRING -eq '1' -and @($global:AzbCalls).Count -eq 1) { [DateTimeOffset]::UtcNow.AddMinutes(2) } else { [DateTimeOffset]::UtcNow.AddSeconds($r.expires_in) }
    $token = if ($env:AZB_AZ_SHAPE -eq 'SecureString') { ConvertTo-SecureString $r.access_token -AsPlainText -Force } else { $r.access_token }
    [pscustomobject]@{ Token = $token; ExpiresOn = $expires; TenantId = $TenantId; UserId = 'ana@fixture.azbilling.test'; Type = 'Bearer' }
}
'@
    $bin = New-Item -ItemType Directory -Force -Path (Join-Path $Dir 'bin')
    $az = Join-Path $bin 'az'
    Set-Content -LiteralPath $az -Value @'
#!/bin/sh
# A stand-in for the Azure CLI (tests only): 'az account get-access-token' answered with the documented JSON.
printf '%s\n' "$*" >> "$AZB_AZ_LOG"
n=$(wc -l < "$AZB_AZ_LOG")
token=$(cat "$AZB_AZ_TOKEN_FILE")
exp=$(( $(date +%s) + 3600 ))
if [ "$AZB_AZ_EXPIRING" = 1 ] && [ "$n" -eq 1 ]; then exp=$(( $(date +%s) + 120 )); fi
local=$(date -d "@$exp" '+%Y-%m-%d %H:%M:%S.000000')
case "$AZB_AZ_MODE" in
  notloggedin) echo "ERROR: Please run 'az login' to setup account." >&2; exit 1 ;;
  leaky) echo "ERROR: AADSTS50000: the request failed for $token" >&2; exit 1 ;;
  garbage) echo "WARNING: not JSON $token"; exit 0 ;;
  local) printf '{"accessToken":"%s","expiresOn":"%s","subscription":"%s","tenant":"%s","tokenType":"Bearer"}\n' "$token" "$local" "$AZB_SUB" "$AZB_TENANT" ;;
  *) printf '{"accessToken":"%s","expiresOn":"%s","expires_on":%s,"subscription":"%s","tenant":"%s","tokenType":"Bearer"}\n' "$token" "$local" "$exp" "$AZB_SUB" "$AZB_TENANT" ;;
esac
'@
    [IO.File]::SetUnixFileMode($az, 'UserRead, UserWrite, UserExecute')

    $reportArgs = "-Scope /subscriptions/$Sub -From ([datetime]::new((Get-Date).AddMonths(-1).Year, (Get-Date).AddMonths(-1).Month, 1)) -To ([datetime]::new((Get-Date).Year, (Get-Date).Month, 1).AddDays(-1))"
    $syncArgs = "-Scope /subscriptions/$Sub -Months 1 -WorkingPath '$(Join-Path $Dir 'work2')'"
    # Sync-AzBilling's configuration keys are its parameter names: a person's sign-in in the file, or on the command line
    # replacing the file's ManagedIdentity.
    $script:ConfigKey = Join-Path $Dir 'cli-key.psd1'
    Set-Content -LiteralPath $ConfigKey -Value "@{ UseAzureCli = `$true; ResourceManagerUrl = '$($Fixture.Https)'; Scope = '/subscriptions/$Sub'; Months = 1; DatabasePath = 'cfg1.sqlite'; WorkingPath = 'work3' }"
    $script:ConfigMi = Join-Path $Dir 'mi.psd1'
    Set-Content -LiteralPath $ConfigMi -Value "@{ ManagedIdentity = `$true; ResourceManagerUrl = '$($Fixture.Https)'; Scope = '/subscriptions/$Sub'; Months = 1; DatabasePath = 'cfg2.sqlite'; WorkingPath = 'work4' }"
    $reset = '$global:AzbCalls = @(); Remove-Item -LiteralPath $env:AZB_AZ_LOG -ErrorAction SilentlyContinue; $env:AZB_AZ_SHAPE = $null; $env:AZB_AZ_EXPIRING = $null; $env:AZB_AZ_SIGNEDIN = $null; $env:AZB_AZ_MODE = $null' + "`n"
    $calls = '@{ Calls = @($global:AzbCalls).Count; CallThreads = (@($global:AzbCalls.Thread | Sort-Object -Unique) -join ","); Main = [Threading.Thread]::CurrentThread.ManagedThreadId; Resources = (@($global:AzbCalls.ResourceUrl) -join ","); AzArgs = (Get-Content -LiteralPath $env:AZB_AZ_LOG -ErrorAction SilentlyContinue) -join "|"; AzRuns = @(Get-Content -LiteralPath $env:AZB_AZ_LOG -ErrorAction SilentlyContinue).Count }'
    $cases = [ordered]@{
        azString      = "Get-AzBillingToken -UseAzContext`n$calls"
        azSecure      = "`$env:AZB_AZ_SHAPE = 'SecureString'`nGet-AzBillingToken -UseAzContext`n$calls"
        azPipeline    = "`$env:AZB_AZ_SHAPE = 'SecureString'; `$env:AZB_AZ_EXPIRING = '1'`n`$t = Get-AzBillingToken -UseAzContext`n`$r = `$t | New-AzCostReport $reportArgs`n`$o = $calls; `$o.Status = `"`$(`$r.Status)`"; `$o"
        azSyncToken   = "`$env:AZB_AZ_EXPIRING = '1'`n`$t = Get-AzBillingToken -UseAzContext`nSync-AzBilling -Token `$t $syncArgs -DatabasePath '$(Join-Path $Dir 'az1.sqlite')'`n$calls"
        azSync        = "Sync-AzBilling -UseAzContext $syncArgs -DatabasePath '$(Join-Path $Dir 'az2.sqlite')'`n$calls"
        azMethod      = "`$env:AZB_AZ_EXPIRING = '1'`n`$t = Get-AzBillingToken -UseAzContext`n`$null = `$t.GetAccessToken()`n$calls"
        azNoPipeline  = "`$env:AZB_AZ_EXPIRING = '1'`n`$t = Get-AzBillingToken -UseAzContext`n`$p = `$t.GetType().GetProperty('Provider', [Reflection.BindingFlags]'NonPublic,Instance').GetValue(`$t)`ntry { `$null = `$p.GetTokenAsync([Threading.CancellationToken]::None).GetAwaiter().GetResult(); @{ NoPipeline = 'renewed' } } catch { @{ NoPipeline = `$_.Exception.GetBaseException().Message } }"
        azNotSignedIn = "`$env:AZB_AZ_SIGNEDIN = '0'`nGet-AzBillingToken -UseAzContext"
        cliEpoch      = "Get-AzBillingToken -UseAzureCli -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS`n$calls"
        cliTenant     = "Get-AzBillingToken -UseAzureCli -TenantId `$env:AZB_TENANT -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS`n$calls"
        cliLocal      = "`$env:AZB_AZ_MODE = 'local'`nGet-AzBillingToken -UseAzureCli -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS`n$calls"
        cliPipeline   = "`$env:AZB_AZ_EXPIRING = '1'`n`$t = Get-AzBillingToken -UseAzureCli -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS`n`$r = `$t | New-AzCostReport $reportArgs`n`$o = $calls; `$o.Status = `"`$(`$r.Status)`"; `$o"
        cliSync       = "Sync-AzBilling -UseAzureCli -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS $syncArgs -DatabasePath '$(Join-Path $Dir 'cli.sqlite')'`n$calls"
        cliConfigKey  = "Sync-AzBilling -ConfigPath '$ConfigKey'`n$calls"
        cliConfigSwitch = "Sync-AzBilling -ConfigPath '$ConfigMi' -UseAzureCli`n$calls"
        cliNotSignedIn = "`$env:AZB_AZ_MODE = 'notloggedin'`nGet-AzBillingToken -UseAzureCli -TenantId `$env:AZB_TENANT -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS"
        cliLeaky      = "`$env:AZB_AZ_MODE = 'leaky'`nGet-AzBillingToken -UseAzureCli -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS"
        cliGarbage    = "`$env:AZB_AZ_MODE = 'garbage'`nGet-AzBillingToken -UseAzureCli -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS"
        cliMissing    = "`$saved = `$env:PATH; `$env:PATH = (`$env:PATH -split ':' | Where-Object { `$_ -ne '$bin' }) -join ':'`ntry { Get-AzBillingToken -UseAzureCli -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS } finally { `$env:PATH = `$saved }"
        noDisplay     = "Get-AzBillingToken -Interactive $CommonArgs"
        automation    = "`$env:DISPLAY = ':99'; `$env:AUTOMATION_ASSET_ACCOUNTID = '$([guid]::NewGuid())'`ntry { Get-AzBillingToken -Interactive $CommonArgs } finally { `$env:DISPLAY = `$null; `$env:AUTOMATION_ASSET_ACCOUNTID = `$null }"
        azMissing     = "`$saved = `$env:PSModulePath; `$env:PSModulePath = (`$env:PSModulePath -split ':' | Where-Object { `$_ -notlike '*azmods*' }) -join ':'`ntry { Get-AzBillingToken -UseAzContext } finally { `$env:PSModulePath = `$saved }"
    }
    $casesJson = ($cases | ConvertTo-Json -Compress).Replace("'", "''")
    $script:Sessions = Invoke-Run -Environment @{
        PSModulePath = (Join-Path $Dir 'azmods') + [IO.Path]::PathSeparator + $env:PSModulePath
        PATH = "$bin$([IO.Path]::PathSeparator)$env:PATH"; TZ = 'America/New_York'
        AZB_AZ_LOG = (Join-Path $Dir 'az.log'); AZB_AZ_TOKEN_FILE = (Join-Path $Dir 'az-token'); AZB_SUB = $Sub
    } -Script @"
`$tok = Invoke-RestMethod -Method Post -Uri "`$env:AZB_FIXTURE_HTTPS/`$env:AZB_TENANT/oauth2/v2.0/token" -Body @{ grant_type = 'client_credentials'; client_id = `$env:AZB_CLIENT_ID; client_secret = `$env:AZB_CLIENT_SECRET; scope = "`$env:AZB_FIXTURE_HTTPS/.default" }
[IO.File]::WriteAllText(`$env:AZB_AZ_TOKEN_FILE, `$tok.access_token)
`$cases = ConvertFrom-Json -AsHashtable '$casesJson'
foreach (`$name in '$(@($cases.Keys) -join "','")') { Invoke-Person `$name ('$($reset.Replace("'", "''"))' + `$cases[`$name]) }
"@
    $script:Device = Read-Run (Receive-Job $DeviceJob -Wait -AutoRemoveJob)
}

AfterAll {
    if ($script:DeviceJob) { Remove-Job $DeviceJob -Force -ErrorAction SilentlyContinue }
    Stop-TestAzureFixture $script:Fixture
    Stop-TestAzureFixture $script:DeviceFixture
    if ($script:Dir) { Remove-Item -Recurse -Force $Dir -ErrorAction SilentlyContinue }
}

Describe 'Get-AzBillingToken -DeviceCode' -Tag 'Auth', 'SignIn' -Skip:$NoFixture {
    It 'shows the code and address once, as a warning, waits through authorization_pending, and signs the person in' {
        $r = $Device.Results['approve']
        $r.Message | Should -BeNullOrEmpty
        $r.Ok | Should -BeTrue
        $r.AuthMethod | Should -Be 'DeviceCode'
        $r.UserName | Should -Be $UserUpn
        $r.TenantId | Should -Be $DeviceFixture.TenantId
        $r.ClientId | Should -Be $Pub.approve
        $r.CodeWarnings | Should -Be 1
        ($r.Warnings -join "`n") | Should -Match ([regex]::Escape("open $($DeviceFixture.Https)/devicelogin") + '.*' + [regex]::Escape("enter the code $($r.UserCode)."))
        $r.PendingBeforeApprove | Should -BeGreaterOrEqual 2
        $r.DeviceCodeRequests | Should -Be 1
        $answers = @($r.Code.polls.answer)
        $answers[-1] | Should -Be 'token'
        @($answers | Where-Object { $_ -eq 'authorization_pending' }).Count | Should -BeGreaterOrEqual 2
        $r.Code.tooFast | Should -Be 0 -Because 'MSAL waits the interval between polls'
        $r.Code.state | Should -Be 'redeemed'
    }

    It 'says, once, that the sign-in is kept for the session only where there is no keyring, and how to opt in' {
        $w = @($Device.Results['approve'].Warnings | Where-Object { $_ -match 'kept for this PowerShell session only' })
        $w.Count | Should -Be 1
        $w[0] | Should -Match 'AZBILLING_TOKEN_CACHE = ''PlainFile'''
        @($Device.Results['slowdown'].Warnings | Where-Object { $_ -match 'session only' }).Count | Should -Be 0 -Because 'the warning is given once per session'
    }

    It 'signs in silently from the cache the next time, without a code' {
        $r = $Device.Results['cached']
        $r.Ok | Should -BeTrue
        $r.UserName | Should -Be $UserUpn
        $r.UserCode | Should -BeNullOrEmpty
        $r.CodeWarnings | Should -Be 0
        $r.DeviceCodeRequests | Should -Be 0
    }

    It 'renews silently with the refresh token when fewer than five minutes remain' {
        $r = $Device.Results['renew']
        $r.Ok | Should -BeTrue
        $r.CodeWarnings | Should -Be 0
        $r.DeviceCodeRequests | Should -Be 0
        $r.RefreshAfter | Should -BeGreaterThan $r.RefreshBefore
        $r.UserName | Should -Be $UserUpn
    }

    It 'honours slow_down: adds five seconds to the interval for that poll and every later one, on the same code' {
        $r = $Device.Results['slowdown']
        $r.Message | Should -BeNullOrEmpty
        $r.Ok | Should -BeTrue
        $r.DeviceCodeRequests | Should -Be 1
        $polls = @($r.Code.polls)
        $i = [array]::FindIndex([object[]]$polls, [Predicate[object]] { param($p) $p.answer -eq 'slow_down' })
        $i | Should -BeGreaterOrEqual 0
        $after = @($polls | Select-Object -Skip ($i + 1))
        $after.Count | Should -BeGreaterOrEqual 2
        $gaps = for ($k = $i; $k -lt $polls.Count - 1; $k++) { ($polls[$k + 1].timeMs - $polls[$k].timeMs) / 1000 }
        foreach ($g in $gaps) { $g | Should -BeGreaterOrEqual 5.75 -Because 'interval (1 s) + 5 s, less the fixture''s 250 ms tolerance' }
        $r.Code.tooFast | Should -Be 0
        $polls[-1].answer | Should -Be 'token'
        ($r.Verbose -join "`n") | Should -Match 'slow_down.*every 6 s'
    }

    It 'reports a denial (<Case>) as an authentication failure that says to run it again' -TestCases @(
        @{ Case = 'deny'; Answer = 'access_denied' }, @{ Case = 'declined'; Answer = 'authorization_declined' }
    ) {
        $r = $Device.Results[$Case]
        $r.Ok | Should -BeFalse
        $r.Id | Should -Be 'AzBillingAuthenticationFailed,AzBillingPS.Commands.GetAzBillingTokenCommand'
        $r.Category | Should -Be 'AuthenticationError'
        $r.Message | Should -Match "declined in the browser \($Answer\).*Get-AzBillingToken -DeviceCode"
        $r.Code.polls[-1].answer | Should -Be $Answer
    }

    It 'reports expired_token as a timeout that says to get a new code' {
        $r = $Device.Results['expire']
        $r.Id | Should -Be 'AzBillingTimeout,AzBillingPS.Commands.GetAzBillingTokenCommand'
        $r.Category | Should -Be 'OperationTimeout'
        $r.Message | Should -Match 'device code expired.*\(expired_token\).*new code'
        $r.Code.polls[-1].answer | Should -Be 'expired_token'
    }

    It 'waits no longer than the code lives' {
        $r = $Device.Results['lifetime']
        $r.Id | Should -Be 'AzBillingTimeout,AzBillingPS.Commands.GetAzBillingTokenCommand'
        $r.Message | Should -Match 'device code expired'
        $r.Elapsed | Should -BeLessThan 12 -Because 'the code lives 3 s'
        $r.TimedOut | Should -BeFalse
    }

    It 'stops at Ctrl+C at once, and polls no more' {
        $r = $Device.Results['stop']
        $r.Stopped | Should -BeTrue
        $r.Ok | Should -BeFalse
        $r.StopSeconds | Should -BeLessThan 3
        $r.PollsAfterSeconds | Should -BeGreaterOrEqual 3
        $r.PollsAfter | Should -Be $r.PollsAtStop
    }

    It 'Sync-AzBilling -DeviceCode shows the code, waits for the person, and loads' {
        $r = $Device.Results['sync']
        $r.Message | Should -BeNullOrEmpty
        $r.CodeWarnings | Should -Be 1
        $r.Loaded | Should -Be 1
        $r.Failed | Should -Be 0
    }

    It 'Clear-AzBillingTokenCache forgets the sign-in: the next one asks for a code again' {
        $Device.Results['clear'].Ok | Should -BeFalse -Because 'it writes nothing'
        $Device.Results['clear'].Id | Should -BeNullOrEmpty
        ($Device.Results['clear'].Verbose -join ' ') | Should -Match "Forgot the sign-in of $([regex]::Escape($UserUpn))"
        $r = $Device.Results['afterClear']
        $r.UserCode | Should -Not -BeNullOrEmpty
        $r.DeviceCodeRequests | Should -Be 1
        $r.Stopped | Should -BeTrue
    }
}

Describe 'Remembering a person''s sign-in across sessions' -Tag 'Auth', 'SignIn' -Skip:$NoFixture {
    It 'AZBILLING_TOKEN_CACHE=PlainFile keeps it in a new 0600 file in a 0700 folder, without the session-only warning' {
        $r = $Plain1.Results['first']
        $r.Ok | Should -BeTrue
        @($r.Warnings | Where-Object { $_ -match 'session only' }).Count | Should -Be 0
        [IO.UnixFileMode] $Plain1.Results['modes'].File | Should -Be ([IO.UnixFileMode] 'UserRead, UserWrite')
        [IO.UnixFileMode] $Plain1.Results['modes'].Folder | Should -Be ([IO.UnixFileMode] 'UserRead, UserWrite, UserExecute')
    }

    It 'a new session signs in silently from the file' {
        $r = $Plain2.Results['silent']
        $r.Ok | Should -BeTrue
        $r.UserName | Should -Be $UserUpn
        $r.CodeWarnings | Should -Be 0
        $r.DeviceCodeRequests | Should -Be 0
    }

    It 'Clear-AzBillingTokenCache deletes the file, and the next sign-in asks for a code' {
        ($Plain2.Results['clear'].Verbose -join ' ') | Should -Match ([regex]::Escape($PlainFile))
        $Plain2.Results['afterClear'].FileExists | Should -BeFalse
        $Plain2.Results['again'].UserCode | Should -Not -BeNullOrEmpty
        $Plain2.Results['again'].DeviceCodeRequests | Should -Be 1
    }

    It 'never reads or writes through a symbolic link planted as the cache file' {
        $r = $Link.Results['link']
        $r.Ok | Should -BeTrue
        ($r.Warnings -join "`n") | Should -Match 'symbolic link'
        Get-Content -Raw -LiteralPath $Victim | Should -Be 'not a token cache'
        (Get-Item -LiteralPath $LinkPath).LinkType | Should -BeNullOrEmpty -Because 'the link was replaced by the module''s own file'
        (Get-Item -LiteralPath $LinkPath).UnixFileMode | Should -Be ([IO.UnixFileMode] 'UserRead, UserWrite')
    }
}

Describe 'Person sign-in secrets' -Tag 'Auth', 'SignIn' -Skip:$NoFixture {
    It 'the fixtures issued what the search looks for: device codes, refresh and ID tokens' {
        $issued = @($Fixtures | ForEach-Object { Get-TestFixtureIssued $_ })
        @($issued.deviceCodes | Where-Object { $_ }).Count | Should -BeGreaterOrEqual 10
        @($issued.refreshTokens | Where-Object { $_ }).Count | Should -BeGreaterOrEqual 4
        @($issued.idTokens | Where-Object { $_ }).Count | Should -BeGreaterOrEqual 4
    }

    It 'no device code, token or ID token appears in any stream of <Run>, nor in its child''s output' -TestCases @(
        @{ Run = 'Device' }, @{ Run = 'Plain1' }, @{ Run = 'Plain2' }, @{ Run = 'Link' }, @{ Run = 'Sessions' }
    ) {
        $run = Get-Variable -Name $Run -ValueOnly
        foreach ($r in $run.Results.Values) {
            if ($r -is [Collections.IDictionary] -and $r.Contains('Text')) {
                Find-Secret ($r.Text + "`n" + ($r.Warnings -join "`n")) | Should -BeNullOrEmpty -Because "case $(@($run.Results.Keys)[@($run.Results.Values).IndexOf($r)])"
            }
        }
        Find-Secret $run.AllText | Should -BeNullOrEmpty
    }

    It 'the user code of <Run> appears once, in the warning meant for the person, and nowhere else' -TestCases @(
        @{ Run = 'Device' }, @{ Run = 'Plain1' }, @{ Run = 'Link' }
    ) {
        $run = Get-Variable -Name $Run -ValueOnly
        $cases = @($run.Results.Values | Where-Object { $_ -is [Collections.IDictionary] -and $_['UserCode'] })
        $cases.Count | Should -BeGreaterThan 0
        foreach ($r in $cases) {
            $r.Text | Should -Not -Match ([regex]::Escape($r.UserCode)) -Because 'output, errors, verbose, debug and information never show it'
            @($r.Warnings | Where-Object { $_.Contains($r.UserCode) }).Count | Should -Be 1
            ([regex]::Matches($run.AllText, [regex]::Escape($r.UserCode))).Count | Should -Be 0
        }
    }

    It 'no file the module wrote holds a secret or a user code, except the PlainFile cache' {
        $codes = @($Fixtures | ForEach-Object { (Get-TestDeviceCodes $_).userCode })
        $files = (Get-FileTexts (Join-Path $Dir 'data')) + (Get-FileTexts (Join-Path $Dir 'home')) + (Get-FileTexts (Join-Path $Dir 'plain-data') -Except $PlainFile) + (Get-FileTexts (Join-Path $Dir 'link-data') -Except $LinkPath)
        Find-Secret $files | Should -BeNullOrEmpty
        foreach ($c in $codes) { $files.Contains($c) | Should -BeFalse }
        # the search is meaningful: the PlainFile cache does hold a refresh token
        Find-Secret ([IO.File]::ReadAllText($LinkPath)) | Should -Not -BeNullOrEmpty
    }
}

Describe 'Get-AzBillingToken -UseAzContext' -Tag 'Auth', 'SignIn' -Skip:$NoFixture {
    It 'takes the token of the signed-in Az session (Token as <Shape>), for the context''s cloud and tenant, on the pipeline thread' -TestCases @(
        @{ Case = 'azString'; Shape = 'a string' }, @{ Case = 'azSecure'; Shape = 'a SecureString' }
    ) {
        $r = $Sessions.Results[$Case]
        $r.Message | Should -BeNullOrEmpty
        $r.AuthMethod | Should -Be 'AzContext'
        $r.TenantId | Should -Be $Fixture.TenantId
        $r.ClientId | Should -Be $Fixture.ClientId -Because 'the appid claim of the session''s token'
        $r.ResourceManagerUrl | Should -Be "$($Fixture.Https)/"
        $r.Cloud | Should -Be 'Custom'
        $r.Calls | Should -Be 1
        $r.Resources | Should -Be "$($Fixture.Https)/"
        $r.CallThreads | Should -Be "$($r.Main)"
        $r.TokenHash | Should -Not -BeNullOrEmpty
    }

    It 'asks Get-AzAccessToken again, from New-AzCostReport''s pipeline thread, when the token it has is about to expire' {
        $r = $Sessions.Results['azPipeline']
        $r.Message | Should -BeNullOrEmpty
        $r.Calls | Should -Be 2
        $r.CallThreads | Should -Be "$($r.Main)"
        $r.Status | Should -Be 'Completed'
    }

    It 'renews for Sync-AzBilling -Token, and Sync-AzBilling -UseAzContext loads' {
        $Sessions.Results['azSyncToken'].Loaded | Should -Be 1
        $Sessions.Results['azSyncToken'].Calls | Should -Be 2
        $Sessions.Results['azSync'].Loaded | Should -Be 1
        $Sessions.Results['azSync'].Failed | Should -Be 0
    }

    It 'renews through GetAccessToken() on the calling thread' {
        $Sessions.Results['azMethod'].Ok | Should -BeTrue
        $Sessions.Results['azMethod'].Calls | Should -Be 2
    }

    It 'fails clearly where no PowerShell pipeline can run Get-AzAccessToken' {
        $Sessions.Results['azNoPipeline'].NoPipeline | Should -Match 'renewed by calling Get-AzAccessToken in a PowerShell pipeline, and none is running here'
    }

    It 'says Connect-AzAccount when <Case>' -TestCases @(
        @{ Case = 'azNotSignedIn'; Pattern = 'not signed in.*Connect-AzAccount' }, @{ Case = 'azMissing'; Pattern = 'Az.Accounts is not available.*Connect-AzAccount' }
    ) {
        $r = $Sessions.Results[$Case]
        $r.Id | Should -Be 'AzBillingAuthenticationFailed,AzBillingPS.Commands.GetAzBillingTokenCommand'
        $r.Message | Should -Match $Pattern
        $r.TokenRequests | Should -Be 0
    }
}

Describe 'Get-AzBillingToken -UseAzureCli' -Tag 'Auth', 'SignIn' -Skip:$NoFixture {
    It 'runs az account get-access-token for the Resource Manager URL and reads expires_on' {
        $r = $Sessions.Results['cliEpoch']
        $r.Message | Should -BeNullOrEmpty
        $r.AuthMethod | Should -Be 'AzureCli'
        $r.AzArgs | Should -Be "account get-access-token --resource $($Fixture.Https)/ --output json"
        $r.TenantId | Should -Be $Fixture.TenantId
        [Math]::Abs($r.ExpiresOn - [DateTimeOffset]::UtcNow.AddHours(1).ToUnixTimeSeconds()) | Should -BeLessThan 600
        $Sessions.Results['cliTenant'].AzArgs | Should -Be "account get-access-token --resource $($Fixture.Https)/ --output json --tenant $($Fixture.TenantId)"
    }

    It 'reads the older expiresOn, in local time (TZ=America/New_York)' {
        $r = $Sessions.Results['cliLocal']
        $r.Ok | Should -BeTrue
        [Math]::Abs($r.ExpiresOn - [DateTimeOffset]::UtcNow.AddHours(1).ToUnixTimeSeconds()) | Should -BeLessThan 600 -Because 'read as UTC it would be hours off'
    }

    It 'runs az again when the token is about to expire, and Sync-AzBilling -UseAzureCli loads' {
        $Sessions.Results['cliPipeline'].AzRuns | Should -Be 2
        $Sessions.Results['cliPipeline'].Status | Should -Be 'Completed'
        $Sessions.Results['cliSync'].Loaded | Should -Be 1
    }

    It 'Sync-AzBilling takes UseAzureCli from its configuration file, or on the command line in place of the file''s ManagedIdentity' {
        foreach ($c in 'cliConfigKey', 'cliConfigSwitch') {
            $r = $Sessions.Results[$c]
            $r.Message | Should -BeNullOrEmpty -Because $c
            $r.Loaded | Should -Be 1 -Because $c
            $r.AzRuns | Should -BeGreaterOrEqual 1 -Because $c
        }
        ($Sessions.Results['cliConfigSwitch'].Verbose -join "`n") | Should -Match '-ManagedIdentity from the configuration file is not used'
    }

    It '<Case>: <Id> naming <Pattern>' -TestCases @(
        @{ Case = 'cliNotSignedIn'; Id = 'AzBillingAuthenticationFailed'; Pattern = "not signed in to tenant .*: run 'az login --tenant" }
        @{ Case = 'cliLeaky'; Id = 'AzBillingAuthenticationFailed'; Pattern = 'failed with exit code 1: ERROR: AADSTS50000: the request failed for \[removed\]' }
        @{ Case = 'cliGarbage'; Id = 'AzBillingServiceError'; Pattern = 'not JSON \(it is not shown' }
        @{ Case = 'cliMissing'; Id = 'AzBillingNotFound'; Pattern = "not found on PATH.*'az login'" }
    ) {
        $r = $Sessions.Results[$Case]
        $r.Ok | Should -BeFalse
        $r.Id | Should -Be "$Id,AzBillingPS.Commands.GetAzBillingTokenCommand"
        $r.Message | Should -Match $Pattern
    }
}

Describe 'Get-AzBillingToken -Interactive' -Tag 'Auth', 'SignIn' -Skip:$NoFixture {
    It 'where no browser can be opened (<Case>), fails before any network call and says to use -DeviceCode' -TestCases @(
        @{ Case = 'noDisplay'; Why = 'no graphical display' }, @{ Case = 'automation'; Why = 'Azure Automation job' }
    ) {
        $r = $Sessions.Results[$Case]
        $r.Id | Should -Be 'AzBillingUnsupported,AzBillingPS.Commands.GetAzBillingTokenCommand'
        $r.Message | Should -Match "$Why.*Use -DeviceCode instead"
        $r.TokenRequests | Should -Be 0
        $r.DeviceCodeRequests | Should -Be 0
    }
}
