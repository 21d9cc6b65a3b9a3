#Requires -Version 7.4
# Issue 10: hostile answers and hostile neighbours, tried as an attacker would.
#  §1 The Resource Manager token goes only to the Resource Manager endpoint in use, over https: the test fixture's
#     "elsewhere" listeners (https and http on 127.0.0.2, https on another port of 127.0.0.1) record every request and
#     its Authorization header; Location, nextLink and redirects point at them, and none may ever get a request.
#  §2 Working folders belong to the user running the module: the tests run as root and plant folders, files and
#     links as another account (nobody) the way a hostile neighbour on a shared host would.
#  §3 Inputs that are not what they claim: bytes that are not text, a gzip file named .csv, a folder as -Path, a
#     header-only file over a loaded period, a gzip bomb; on SQLite and PostgreSQL (SQL Server: SqlServer.Tests.ps1).
# Each group runs in one child pwsh that imports the built module.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoFixture = -not (Test-Path (Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
    # Linux routes all of 127/8 to the loopback interface; elsewhere 127.0.0.2 may have to be configured first.
    $script:NoSecondLoopback = $true
    try {
        $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Parse('127.0.0.2'), 0)
        $l.Start(); $l.Stop(); $script:NoSecondLoopback = $false
    }
    catch { }
    $script:NoPg = -not (Get-TestPgBin)
    $script:NoSqlite3 = -not (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue)
    $script:NotRoot = -not ($IsLinux -or $IsMacOS) -or ((& id -u) -ne '0') -or -not (Get-Command chown -ErrorAction SilentlyContinue)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Folder = Join-Path ([IO.Path]::GetTempPath()) ('azb-security-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $Folder | Out-Null

    # The child side: Invoke-Case runs one command with every stream merged and records errors, warnings and text.
    $script:Prelude = @'
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$VerbosePreference = 'Continue'
$D = $env:AZB_CASES | ConvertFrom-Json -AsHashtable
$Results = [ordered]@{}
$Texts = [Collections.Generic.List[string]]::new()
$secret = ConvertTo-SecureString $env:AZB_CLIENT_SECRET -AsPlainText -Force
$SignIn = @{ TenantId = $env:AZB_TENANT; ClientId = $env:AZB_CLIENT_ID; ClientSecret = $secret; AuthorityHost = $env:AZB_FIXTURE_HTTPS; ResourceManagerUrl = $env:AZB_FIXTURE_HTTPS }
function Invoke-Control([string] $Method, [string] $Path, $Body) {
    $p = @{ Method = $Method; Uri = "$env:AZB_FIXTURE_HTTP$Path"; Verbose = $false }
    if ($null -ne $Body) { $p.Body = ($Body | ConvertTo-Json -Depth 10 -Compress); $p.ContentType = 'application/json' }
    Invoke-RestMethod @p
}
function Invoke-Case([string] $Name, [scriptblock] $Body) {
    $r = [ordered]@{ Errors = @(); Warnings = @(); Verbose = @(); Objects = @(); Terminating = $null; Ok = $false }
    try {
        $items = @(& $Body *>&1)
        $r.Ok = $?
        foreach ($i in $items) {
            $Texts.Add(($i | Format-List * -Force | Out-String -Width 500))
            if ($i -is [Management.Automation.ErrorRecord]) {
                $Texts.Add($i.Exception.ToString())
                $r.Errors += [ordered]@{ Id = $i.FullyQualifiedErrorId; Message = $i.Exception.Message; Category = "$($i.CategoryInfo.Category)"; Detail = "$($i.ErrorDetails.Message)" }
            }
            elseif ($i -is [Management.Automation.WarningRecord]) { $r.Warnings += $i.Message }
            elseif ($i -is [Management.Automation.VerboseRecord]) { $r.Verbose += $i.Message }
            elseif ($i -is [Management.Automation.InformationRecord]) { }
            else { $r.Objects += [ordered]@{ Type = $i.GetType().Name; Text = "$i"; Status = "$($i.Status)"; Scopes = $i.Scopes; Units = $i.Units } }
        }
    }
    catch {
        $Texts.Add(($_ | Format-List * -Force | Out-String -Width 500)); $Texts.Add($_.Exception.ToString())
        $r.Terminating = [ordered]@{ Id = $_.FullyQualifiedErrorId; Message = $_.Exception.Message; Category = "$($_.CategoryInfo.Category)" }
    }
    $Results[$Name] = $r
}
'@

    function Invoke-SecurityChild([string] $Script, [hashtable] $Cases = @{}, [hashtable] $Environment = @{}, [int] $TimeoutSeconds = 150) {
        $envs = @{} + $F.ChildEnv
        $envs.NO_COLOR = '1'
        $envs.AZB_CASES = $Cases | ConvertTo-Json -Depth 6 -Compress
        foreach ($k in $Environment.Keys) { $envs[$k] = $Environment[$k] }
        $end = "`n" + '"##RESULTS##" + (@{ Results = $Results; Text = ($Texts -join "`n") } | ConvertTo-Json -Depth 10 -Compress)'
        $run = Invoke-ChildPwsh -Script ($Prelude + "`n" + $Script + $end) -Environment $envs -TimeoutSeconds $TimeoutSeconds -WorkingDirectory $Folder
        $line = $run.Output | Where-Object { $_.StartsWith('##RESULTS##') } | Select-Object -Last 1
        if (-not $line) { throw "The child failed (exit $($run.ExitCode)):`n$($run.StdOut)`n$($run.StdErr)" }
        $parsed = $line.Substring(11) | ConvertFrom-Json -AsHashtable
        [pscustomobject]@{ Results = $parsed.Results; AllText = $run.StdOut + "`n" + $run.StdErr + "`n" + $parsed.Text }
    }
}

AfterAll {
    if ($Folder) { Remove-Item -Recurse -Force $Folder -ErrorAction SilentlyContinue }
}

Describe 'The Resource Manager token goes only to the Resource Manager endpoint, over https (issue 10 §1)' -Tag 'Security', 'CostReport' -Skip:($NoFixture -or $NoSecondLoopback) {
    AfterAll { Stop-TestAzureFixture $F }

    BeforeAll {
        $script:F = Start-TestAzureFixture -Elsewhere
        $E = $F.Elsewhere
        $fixturePort = ([uri] $F.Https).Port
        $elsewherePort = ([uri] $E.https).Port
        $opPath = '/{scope}/providers/Microsoft.CostManagement/costDetailsOperationResults/{operationId}?api-version={apiVersion}'
        # Where each hostile answer points, and the host its error must name.
        $script:Hostile = [ordered]@{
            https    = @{ Url = $E.https + $opPath; Host = "127.0.0.2:$elsewherePort" }
            http     = @{ Url = $E.http + $opPath; Host = "127.0.0.2:$(([uri] $E.http).Port)" }
            port     = @{ Url = $E.sameHostHttps + $opPath; Host = "127.0.0.1:$(([uri] $E.sameHostHttps).Port)" }
            userinfo = @{ Url = "https://management.example@127.0.0.2:$elsewherePort" + $opPath; Host = "127.0.0.2:$elsewherePort" }
            plainHttp = @{ Url = $F.Http + $opPath; Host = "http://127.0.0.1:$(([uri] $F.Http).Port)" }
        }
        $script:Subs = @{}
        foreach ($k in @($Hostile.Keys) + 'relative', 'relativeUnknown', 'redirectAway', 'redirectSame') { $Subs[$k] = [guid]::NewGuid().ToString() }
        $rules = @(foreach ($k in $Hostile.Keys) { @{ scope = $Subs[$k]; location = $Hostile[$k].Url; retryAfter = 0 } })
        $rules += @{ scope = $Subs.relative; location = $opPath; retryAfter = 0 }
        # a non-final 200 whose Location is relative to the POST (today: AzBillingUnexpected)
        $rules += @{ scope = $Subs.relativeUnknown; pollCount = 0; unknownStatus = 'InProgress'; unknownCount = 1; location = 'costDetailsOperationResults/{operationId}?api-version={apiVersion}'; retryAfter = 0 }
        $rules += @{ scope = $Subs.redirectAway; redirect = @{ status = 307; location = $E.https + '/{scope}/providers/Microsoft.CostManagement/generateCostDetailsReport?api-version={apiVersion}' } }
        $rules += @{ scope = $Subs.redirectSame; redirect = @{ status = 307; location = '/{scope}/providers/Microsoft.CostManagement/generateCostDetailsReport?api-version={apiVersion}' }; retryAfter = 0 }
        Set-TestCostRules $F $rules

        # nextLink templates for the subscription list (two pages of one subscription each)
        $listPath = '/subscriptions?api-version={apiVersion}&%24skiptoken={skiptoken}'
        $next = [ordered]@{
            https     = $E.https + $listPath
            http      = $E.http + $listPath
            port      = $E.sameHostHttps + $listPath
            userinfo  = "https://management.example@127.0.0.2:$elsewherePort" + $listPath
            plainHttp = $F.Http + $listPath
            relative  = 'subscriptions?api-version={apiVersion}&%24skiptoken={skiptoken}'
        }
        $script:ListSubs = @('1a000000-0000-0000-0000-000000000001', '1a000000-0000-0000-0000-000000000002')
        $cases = @{ Subs = $Subs; Next = $next; ListSubs = $ListSubs; FixturePort = $fixturePort; FixtureHttpPort = ([uri] $F.Http).Port }
        $script:Run = Invoke-SecurityChild -Cases $cases @'
$Tok = Get-AzBillingToken @SignIn
foreach ($k in $D.Subs.Keys) {
    Invoke-Case "location-$k" { New-AzCostReport -Token $Tok -Scope "/subscriptions/$($D.Subs[$k])" }
}
foreach ($k in $D.Next.Keys) {
    $null = Invoke-Control POST '/_fixture/subscriptions' @{ subscriptions = $D.ListSubs; pageSize = 1; nextLink = $D.Next[$k] }
    Invoke-Case "nextLink-$k" { Sync-AzBilling @SignIn -AllSubscriptions -DatabasePath (Join-Path $PWD "next-$k.sqlite") -WhatIf }
}
# Endpoint overrides: https only, plain http only for a loopback address (nothing is requested for a refused one).
Invoke-Case 'override-http' { Get-AzBillingToken -TenantId $env:AZB_TENANT -ClientId $env:AZB_CLIENT_ID -ClientSecret $secret -AuthorityHost $env:AZB_FIXTURE_HTTPS -ResourceManagerUrl 'http://management.example/' }
Invoke-Case 'override-userinfo' { Get-AzBillingToken -TenantId $env:AZB_TENANT -ClientId $env:AZB_CLIENT_ID -ClientSecret $secret -AuthorityHost $env:AZB_FIXTURE_HTTPS -ResourceManagerUrl "https://management.example@127.0.0.1:$($D.FixturePort)/" }
Invoke-Case 'override-authority-http' { Get-AzBillingToken -TenantId $env:AZB_TENANT -ClientId $env:AZB_CLIENT_ID -ClientSecret $secret -AuthorityHost "http://127.0.0.1:$($D.FixtureHttpPort)" -ResourceManagerUrl $env:AZB_FIXTURE_HTTPS }
Invoke-Case 'override-sync' { Sync-AzBilling @SignIn -ResourceManagerUrl 'http://10.1.2.3:8080/' -Scope "/subscriptions/$($D.Subs.relative)" -DatabasePath (Join-Path $PWD 'override.sqlite') -WhatIf }
Invoke-Case 'override-loopback-http' { Get-AzBillingToken -TenantId $env:AZB_TENANT -ClientId $env:AZB_CLIENT_ID -ClientSecret $secret -AuthorityHost $env:AZB_FIXTURE_HTTPS -ResourceManagerUrl "http://127.0.0.1:$($D.FixtureHttpPort)" -Scope 'https://management.azure.com/.default' }
'@
        $script:R = $Run.Results
        $script:Requests = @(Get-TestCostRequests $F)
    }

    It 'sends no request at all, and so no token, to any other host, port or scheme' {
        # Every hostile case ran (the elsewhere listeners work: see the TLS and recording probe below) ...
        $R.Keys | Should -Contain 'location-https'
        $R.Keys | Should -Contain 'nextLink-https'
        # ... and none of them reached the listeners.
        $got = @(Get-TestElsewhereRequests $F)
        $got | ForEach-Object { "$($_.scheme) $($_.local) $($_.method) $($_.path) auth=$($null -ne $_.authorization)" } | Should -BeNullOrEmpty
    }

    It 'the elsewhere listeners do answer and record tokens (so the test above could fail)' {
        $probe = Invoke-ChildPwsh -NoImport -Environment $F.ChildEnv -Script "(Invoke-WebRequest '$($F.Elsewhere.https)/probe' -Headers @{ Authorization = 'Bearer probe-token' }).StatusCode"
        $probe.Output | Should -Contain '200'
        $got = @(Get-TestElsewhereRequests $F)
        $got.Count | Should -Be 1
        $got[0].authorization | Should -Be 'Bearer probe-token'
        $got[0].local | Should -BeLike '127.0.0.2:*'
    }

    It 'ends the report with AzBillingTokenHostRefused naming the host when Location points to <_>' -ForEach @('https', 'http', 'port', 'userinfo', 'plainHttp') {
        $case = $R["location-$_"]
        $case.Errors.Count | Should -Be 1
        $case.Errors[0].Id | Should -BeLike 'AzBillingTokenHostRefused,*'
        $case.Errors[0].Category | Should -Be 'SecurityError'
        $case.Errors[0].Message | Should -BeLike "*$($Hostile[$_].Host)*"
        $case.Errors[0].Message | Should -BeLike '*No request was sent there*'
        $case.Objects | Should -BeNullOrEmpty
        # the POST went to the fixture; no poll followed anywhere
        $sub = $Subs[$_]
        @($Requests | Where-Object { $_.scope -like "*$sub" -and $_.method -eq 'GET' }) | Should -BeNullOrEmpty
    }

    It 'follows a relative Location (on a 202 and on a non-final 200) to the same endpoint: <_>' -ForEach @('relative', 'relativeUnknown') {
        $case = $R["location-$_"]
        $case.Errors | Should -BeNullOrEmpty
        $case.Objects.Count | Should -Be 1
        $case.Objects[0].Status | Should -Be 'Completed'
        $sub = $Subs[$_]
        @($Requests | Where-Object { $_.scope -like "*$sub" -and $_.method -eq 'GET' -and $_.status -eq 200 }).Count | Should -BeGreaterOrEqual 1
    }

    It 'refuses a redirect to another host, and follows one to the same endpoint' {
        $away = $R['location-redirectAway']
        $away.Errors.Count | Should -Be 1
        $away.Errors[0].Id | Should -BeLike 'AzBillingTokenHostRefused,*'
        $away.Errors[0].Message | Should -BeLike '*redirect (307)*127.0.0.2*'
        $same = $R['location-redirectSame']
        $same.Errors | Should -BeNullOrEmpty
        $same.Objects[0].Status | Should -Be 'Completed'
        @($Requests | Where-Object { $_.scope -like "*$($Subs.redirectSame)" -and $_.method -eq 'POST' }).Count | Should -Be 2
    }

    It 'stops the subscription list when its nextLink points to <_>' -ForEach @('https', 'http', 'port', 'userinfo', 'plainHttp') {
        $case = $R["nextLink-$_"]
        $case.Terminating.Id | Should -BeLike 'AzBillingTokenHostRefused,*'
        $case.Terminating.Message | Should -BeLike '*nextLink of page 1*'
        $case.Terminating.Message | Should -BeLike "*$($Hostile[$_].Host)*"
    }

    It 'follows a relative nextLink on the same endpoint and lists every page' {
        $case = $R['nextLink-relative']
        $case.Terminating | Should -BeNullOrEmpty
        ($case.Verbose | Where-Object { $_ -like '-AllSubscriptions: 2 subscription(s) listed*' }) | Should -Not -BeNullOrEmpty
    }

    It 'takes -ResourceManagerUrl and -AuthorityHost over https only (http only for a loopback Resource Manager): <_>' -ForEach @('override-http', 'override-userinfo', 'override-authority-http', 'override-sync') {
        $case = $R[$_]
        $e = if ($case.Terminating) { $case.Terminating } else { $case.Errors[0] }
        $e.Id | Should -BeLike 'AzBillingInvalidArgument*'
        $e.Message | Should -Match '-(ResourceManagerUrl|AuthorityHost) must be an https URL'
        $case.Objects | Should -BeNullOrEmpty
    }

    It 'accepts a plain-http Resource Manager on a loopback address' {
        $case = $R['override-loopback-http']
        $case.Errors | Should -BeNullOrEmpty
        $case.Terminating.Message | Should -BeNullOrEmpty
        $case.Objects.Count | Should -Be 1
    }

    It 'shows no token or secret in any output' {
        foreach ($s in Get-TestFixtureSecrets $F) { $Run.AllText.Contains($s) | Should -BeFalse }
    }
}

Describe 'Working folders and files belong to the user running the module (issue 10 §2)' -Tag 'Security', 'Sync', 'Blob' -Skip:($NoFixture -or $NotRoot) {
    AfterAll { Stop-TestAzureFixture $F }

    BeforeAll {
        $script:F = Start-TestAzureFixture
        $script:T = Join-Path $Folder 'neighbours'
        New-Item -ItemType Directory -Path $T | Out-Null
        function New-Dir([string] $Path, [string] $Mode = '700', [string] $Owner) {
            New-Item -ItemType Directory -Force -Path $Path | Out-Null
            & chmod $Mode $Path
            if ($Owner) { & chown $Owner $Path }
            $Path
        }
        function Set-Old([string] $Path) { (Get-Item -LiteralPath $Path -Force).LastWriteTimeUtc = [DateTime]::UtcNow.AddDays(-2) }
        function New-Hex { [guid]::NewGuid().ToString('N') }

        # Default working folders: pre-created by nobody, writable by all, absent; and the no-home fallback under temp.
        New-Dir "$T/cacheForeign" '755' | Out-Null
        New-Dir "$T/cacheForeign/AzBillingPS" '700' 'nobody' | Out-Null
        New-Dir "$T/cacheOpen" '755' | Out-Null
        New-Dir "$T/cacheOpen/AzBillingPS" '777' | Out-Null
        New-Dir "$T/tmpForeign" '1777' | Out-Null
        New-Dir "$T/tmpForeign/AzBillingPS-0" '777' 'nobody' | Out-Null
        # An explicit -WorkingPath made by nobody, with the link the issue's attack plants.
        New-Dir "$T/shared" '777' 'nobody' | Out-Null
        Set-Content -LiteralPath "$T/victim.txt" -Value 'victim' -NoNewline
        & chown nobody "$T/victim.txt"; & chmod 600 "$T/victim.txt"
        $script:VictimHash = Get-TestFileSha256 "$T/victim.txt"
        New-Item -ItemType SymbolicLink -Path "$T/shared/planted.partial.state.tmp" -Target "$T/victim.txt" | Out-Null
        & chown -h nobody "$T/shared/planted.partial.state.tmp"

        # Cleanup of earlier runs: only sync-<32 hex> folders with the module's marker, never through a link.
        $work = New-Dir "$T/work"
        $script:Keep = [ordered]@{}
        $Keep.photos = New-Dir "$work/sync-photos"
        Set-Content "$($Keep.photos)/photo.jpg" 'jpeg'
        $Keep.noMarker = New-Dir "$work/sync-$(New-Hex)"
        Set-Content "$($Keep.noMarker)/data.csv" 'x'
        Set-Old $Keep.noMarker
        $Keep.foreign = New-Dir "$work/sync-$(New-Hex)" '700' 'nobody'
        Set-Content "$($Keep.foreign)/.azbillingps-sync-run" 'marker'; Set-Content "$($Keep.foreign)/.run.lock" ''
        & chown -R nobody $Keep.foreign
        Set-Old $Keep.foreign
        $outside = New-Dir "$T/outside"
        Set-Content "$outside/.azbillingps-sync-run" 'marker'; Set-Content "$outside/.run.lock" ''; Set-Content "$outside/keep.csv" 'keep'
        $Keep.link = "$work/sync-$(New-Hex)"
        New-Item -ItemType SymbolicLink -Path $Keep.link -Target $outside | Out-Null
        $script:Outside = $outside
        $script:Abandoned = New-Dir "$work/sync-$(New-Hex)"
        Set-Content "$Abandoned/.azbillingps-sync-run" 'marker'; Set-Content "$Abandoned/.run.lock" ''; Set-Content "$Abandoned/left.csv" 'x'

        $script:Sub = [guid]::NewGuid().ToString()
        Set-TestCostRules $F @(@{ retryAfter = 0 })
        $cases = @{ T = $T; Sub = $Sub }
        $script:Run = Invoke-SecurityChild -Cases $cases @'
$T = $D.T
$Sync = @{ Scope = "/subscriptions/$($D.Sub)"; Months = 1 }
function Use-Home([string] $Cache, [string] $HomeDir = $env:HOME, [string] $Temp = $env:TMPDIR) { $env:XDG_CACHE_HOME = $Cache; $env:HOME = $HomeDir; $env:TMPDIR = $Temp }
$home0 = $env:HOME; $tmp0 = $env:TMPDIR
Use-Home "$T/cacheForeign"; Invoke-Case 'defaultForeign' { Sync-AzBilling @SignIn @Sync -DatabasePath "$T/a.sqlite" }
Use-Home "$T/cacheOpen"; Invoke-Case 'defaultOpen' { Sync-AzBilling @SignIn @Sync -DatabasePath "$T/b.sqlite" }
Use-Home $null '' "$T/tmpForeign"; Invoke-Case 'defaultTemp' { Sync-AzBilling @SignIn @Sync -DatabasePath "$T/c.sqlite" }
Use-Home "$T/cacheNew/deeper" $home0 $tmp0; Invoke-Case 'defaultNew' { Sync-AzBilling @SignIn @Sync -DatabasePath "$T/d.sqlite" -KeepFiles }
Invoke-Case 'explicitForeign' { Sync-AzBilling @SignIn @Sync -DatabasePath "$T/e.sqlite" -WorkingPath "$T/shared" }
Invoke-Case 'cleanup' { Sync-AzBilling @SignIn @Sync -DatabasePath "$T/f.sqlite" -WorkingPath "$T/work" }
$Results.state = [ordered]@{}
foreach ($db in 'a', 'b', 'e', 'f') {
    $rows = @(Get-AzBillingSyncState -DatabasePath "$T/$db.sqlite" -ErrorAction SilentlyContinue -ErrorVariable stateError)
    $Results.state[$db] = [ordered]@{ Rows = $rows.Count; Running = @($rows | Where-Object { "$($_.Status)" -eq 'Running' }).Count; Error = "$($stateError | Select-Object -First 1 | ForEach-Object FullyQualifiedErrorId)" }
}

# Save-AzCostBlob: learn the file name, then plant links and another user's file under the names it uses.
$Tok = Get-AzBillingToken @SignIn
$report = New-AzCostReport -Token $Tok -Scope "/subscriptions/$($D.Sub)"
$learned = @($report | Save-AzCostBlob -Path "$T/learn")
$name = Split-Path -Leaf $learned[0].Path
$Results.name = $name
$Results.learnMode = (Get-Item -LiteralPath "$T/learn").UnixMode
$Results.fileMode = (Get-Item -LiteralPath $learned[0].Path).UnixMode
$victim2 = "$T/victim2.csv"
Copy-Item $learned[0].Path $victim2
chown nobody $victim2
$plants = [ordered]@{
    state   = @{ Name = "$name.partial.state.tmp"; Target = "$T/victim.txt" }
    partial = @{ Name = "$name.partial"; Target = "$T/victim.txt" }
    final   = @{ Name = $name; Target = $victim2 }
}
foreach ($k in $plants.Keys) {
    $dir = New-Item -ItemType Directory -Force "$T/plant-$k"
    New-Item -ItemType SymbolicLink -Path (Join-Path $dir $plants[$k].Name) -Target $plants[$k].Target | Out-Null
    chown -h nobody (Join-Path $dir $plants[$k].Name)
    Invoke-Case "plant-$k" { $report | Save-AzCostBlob -Path $dir }
}
$dir = New-Item -ItemType Directory -Force "$T/plant-foreignPartial"
Set-Content -LiteralPath "$dir/$name.partial" -Value 'Date,Cost' -NoNewline
chown nobody "$dir/$name.partial"
Invoke-Case 'plant-foreignPartial' { $report | Save-AzCostBlob -Path $dir }
Invoke-Case 'savePathForeign' { $report | Save-AzCostBlob -Path "$T/shared" }
'@
        $script:R = $Run.Results
    }

    It 'refuses a default working folder that another user created first (<_>)' -ForEach @('defaultForeign', 'defaultTemp') {
        $case = $R[$_]
        $case.Terminating.Id | Should -BeLike 'AzBillingUnsafeFolder,*'
        $case.Terminating.Category | Should -Be 'SecurityError'
        $case.Terminating.Message | Should -BeLike '*The default working folder*belongs to uid 65534*'
        $case.Terminating.Message | Should -BeLike '*-WorkingPath*'
        @(Get-ChildItem -Force -LiteralPath $(if ($_ -eq 'defaultForeign') { "$T/cacheForeign/AzBillingPS" } else { "$T/tmpForeign/AzBillingPS-0" })) | Should -BeNullOrEmpty
    }

    It 'refuses a default working folder others can write to, and says what to do' {
        $case = $R.defaultOpen
        $case.Terminating.Id | Should -BeLike 'AzBillingUnsafeFolder,*'
        $case.Terminating.Message | Should -BeLike "*can be written by other users*chmod 700 $T/cacheOpen/AzBillingPS*"
    }

    It 'marks no unit Running when the working folder is refused (<_>)' -ForEach @('a', 'b', 'e') {
        $R.state[$_].Running | Should -Be 0
        $R.state[$_].Rows | Should -Be 0
    }

    It 'records the loaded unit when the working folder is fine' {
        $R.state.f.Rows | Should -Be 1
        $R.state.f.Running | Should -Be 0
    }

    It 'creates a missing default working folder (and its parents) private to the user' {
        $R.defaultNew.Terminating | Should -BeNullOrEmpty
        $R.defaultNew.Errors | Should -BeNullOrEmpty
        (Get-Item "$T/cacheNew/deeper/AzBillingPS").UnixMode | Should -Be 'drwx------'
        (Get-Item "$T/cacheNew").UnixMode | Should -Be 'drwx------'
        # -KeepFiles kept the run folder: private, marked, its CSV readable by the user only
        $run = @(Get-ChildItem -Directory "$T/cacheNew/deeper/AzBillingPS")
        $run.Count | Should -Be 1
        $run[0].Name | Should -Match '^sync-[0-9a-f]{32}$'
        $run[0].UnixMode | Should -Be 'drwx------'
        Test-Path -LiteralPath (Join-Path $run[0].FullName '.azbillingps-sync-run') | Should -BeTrue
        $csv = @(Get-ChildItem -Recurse -File -Filter '*.csv' $run[0].FullName)
        $csv.Count | Should -Be 1
        $csv[0].UnixMode | Should -Be '-rw-------'
    }

    It 'refuses a -WorkingPath another user owns; the planted link is not followed and its target is unchanged' {
        $case = $R.explicitForeign
        $case.Terminating.Id | Should -BeLike 'AzBillingUnsafeFolder,*'
        $case.Terminating.Message | Should -BeLike "*-WorkingPath '$T/shared' belongs to uid 65534*"
        Get-TestFileSha256 "$T/victim.txt" | Should -Be $VictimHash
        @(Get-ChildItem -Force "$T/shared").Name | Should -Be @('planted.partial.state.tmp')
    }

    It 'cleans up only folders it made: <_> survives' -ForEach @('photos', 'noMarker', 'foreign', 'link') {
        $R.cleanup.Terminating | Should -BeNullOrEmpty
        Test-Path -LiteralPath $Keep[$_] | Should -BeTrue
        if ($_ -eq 'link') {
            (Get-Item -Force -LiteralPath $Keep.link).LinkType | Should -Be 'SymbolicLink'
            @(Get-ChildItem -Force $Outside).Name | Sort-Object | Should -Be @('.azbillingps-sync-run', '.run.lock', 'keep.csv')
        }
        else {
            @(Get-ChildItem -Force -LiteralPath $Keep[$_]).Count | Should -BeGreaterThan 0
        }
    }

    It 'removes an abandoned run folder it made, and its own folder when done' {
        $R.cleanup.Errors | Should -BeNullOrEmpty
        Test-Path -LiteralPath $Abandoned | Should -BeFalse
        @(Get-ChildItem -Directory "$T/work" | Where-Object Name -Match '^sync-[0-9a-f]{32}$').Count | Should -Be 3
    }

    It 'creates a missing -Path private, and the downloaded file readable by the user only' {
        $R.learnMode | Should -Be 'drwx------'
        $R.fileMode | Should -Be '-rw-------'
    }

    It 'stops at a link planted as the <_> file: AzBillingUnsafeFile, the link left, its target unchanged' -ForEach @('state', 'partial', 'final') {
        $case = $R["plant-$_"]
        $case.Errors.Count | Should -Be 1
        $case.Errors[0].Id | Should -BeLike 'AzBillingUnsafeFile,*'
        $case.Errors[0].Message | Should -BeLike '*is a symbolic link, not a file this module made*'
        $case.Objects | Should -BeNullOrEmpty
        Get-TestFileSha256 "$T/victim.txt" | Should -Be $VictimHash
        $planted = @{ state = "$($R.name).partial.state.tmp"; partial = "$($R.name).partial"; final = $R.name }[$_]
        (Get-Item -Force -LiteralPath "$T/plant-$_/$planted").LinkType | Should -Be 'SymbolicLink'
    }

    It 'does not resume a .partial another user owns' {
        $case = $R['plant-foreignPartial']
        $case.Errors[0].Id | Should -BeLike 'AzBillingUnsafeFile,*'
        $case.Errors[0].Message | Should -BeLike '*a file owned by uid 65534*not resumed*'
        Get-Content -Raw "$T/plant-foreignPartial/$($R.name).partial" | Should -Be 'Date,Cost'
    }

    It 'refuses a -Path another user owns' {
        $R.savePathForeign.Terminating.Id | Should -BeLike 'AzBillingUnsafeFolder,*'
        $R.savePathForeign.Terminating.Message | Should -BeLike "*-Path '$T/shared' belongs to uid 65534*"
    }
}

Describe 'Inputs that are not what they claim (issue 10 §3)' -Tag 'Security', 'Import', 'Blob' -Skip:($NoFixture -or $NoPg -or $NoSqlite3) {
    AfterAll {
        Stop-TestAzureFixture $F
        Stop-TestPostgres $Pg
    }

    BeforeAll {
        $script:F = Start-TestAzureFixture
        $script:Pg = Start-TestPostgres -WarningAction SilentlyContinue
        $script:T = Join-Path $Folder 'inputs'
        New-Item -ItemType Directory -Path $T | Out-Null
        $data = Join-Path (Get-TestRepoRoot) 'tests/data'
        # Good twins of the two bad files: the same rows with the offending bytes made text, loaded first.
        # (Latin-1 maps every byte to one character and back, so a string replace is a byte replace.)
        $latin1 = [Text.Encoding]::Latin1
        foreach ($pair in @(@('invalid-utf8.csv', "$([char]0xC3)(", '(('), @('nul-char.csv', "$([char]0)", '0'))) {
            $text = $latin1.GetString([IO.File]::ReadAllBytes((Join-Path $data $pair[0])))
            if (-not $text.Contains($pair[1])) { throw "$($pair[0]) does not hold the bytes the test replaces." }
            [IO.File]::WriteAllBytes((Join-Path $T "good-$($pair[0])"), $latin1.GetBytes($text.Replace($pair[1], $pair[2])))
        }
        # A gzip file named .csv (a real cost file inside), and a folder.
        $gz = [IO.File]::Create((Join-Path $T 'costs-2026-02.csv'))
        $z = [IO.Compression.GZipStream]::new($gz, [IO.Compression.CompressionLevel]::Fastest)
        $z.Write([IO.File]::ReadAllBytes((Join-Path $T 'good-invalid-utf8.csv'))); $z.Dispose(); $gz.Dispose()
        New-Item -ItemType Directory -Path (Join-Path $T 'a-folder') | Out-Null
        Copy-Item (Join-Path $T 'good-invalid-utf8.csv') (Join-Path $T 'a-folder/in-it.csv')
        # A gzip bomb: 80 MB of zeros in about 80 KB (cost CSV compresses 10 to 25 times).
        $ms = [IO.MemoryStream]::new()
        $z = [IO.Compression.GZipStream]::new($ms, [IO.Compression.CompressionLevel]::SmallestSize, $true)
        $zeros = [byte[]]::new(1MB); for ($i = 0; $i -lt 80; $i++) { $z.Write($zeros, 0, $zeros.Length) }; $z.Dispose()
        $script:BombBytes = $ms.Length
        $script:BombSub = [guid]::NewGuid().ToString()
        Set-TestCostRules $F @(@{ scope = $BombSub; compressData = $true; blobBase64 = [Convert]::ToBase64String($ms.ToArray()); retryAfter = 0 }, @{ retryAfter = 0 })

        $cases = @{ T = $T; Data = $data; Pg = $Pg.ConnectionString; Psql = $Pg.PsqlPath; PgPort = $Pg.Port; BombSub = $BombSub }
        $script:Run = Invoke-SecurityChild -Cases $cases @'
$T = $D.T; $Data = $D.Data
$sub = '/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f'
$targets = [ordered]@{ Sqlite = @{ DatabasePath = "$T/costs.sqlite" }; PostgreSql = @{ Provider = 'PostgreSql'; ConnectionString = $D.Pg; Table = 'HostileInputs' } }
# Rows and cost of a period, read by the database's own client (not by the module).
function Get-Period([string] $Target, [string] $From, [string] $To) {
    $out = if ($Target -eq 'Sqlite') {
        sqlite3 -separator '|' "$T/costs.sqlite" ('SELECT count(*), coalesce(sum(CostInBillingCurrency), 0) FROM AzureCostDetails WHERE Date BETWEEN ''{0}'' AND ''{1}''' -f $From, $To)
    }
    else {
        & $D.Psql -X -q -h 127.0.0.1 -p $D.PgPort -U postgres -d postgres -At -F '|' -c ('SELECT count(*), coalesce(sum("CostInBillingCurrency"), 0) FROM "HostileInputs" WHERE "Date" BETWEEN ''{0}'' AND ''{1}''' -f $From, $To) 2>&1
    }
    "$out"
}
$Results.periods = [ordered]@{}
foreach ($target in $targets.Keys) {
    $to = $targets[$target]
    Invoke-Case "$target-baseline" { Import-AzCostToSql -Path "$T/good-invalid-utf8.csv" -Scope $sub -From 2026-02-01 -To 2026-02-28 @to; Import-AzCostToSql -Path "$T/good-nul-char.csv" -Scope $sub -From 2025-08-01 -To 2025-08-31 @to }
    $Results.periods["$target-before"] = @{ Feb = Get-Period $target '2026-02-01' '2026-02-28'; Aug = Get-Period $target '2025-08-01' '2025-08-31' }
    Invoke-Case "$target-invalid-utf8" { Import-AzCostToSql -Path "$Data/invalid-utf8.csv" -Scope $sub -From 2026-02-01 -To 2026-02-28 @to }
    Invoke-Case "$target-nul" { Import-AzCostToSql -Path "$Data/nul-char.csv" -Scope $sub @to }
    $Results.periods["$target-afterBad"] = @{ Feb = Get-Period $target '2026-02-01' '2026-02-28'; Aug = Get-Period $target '2025-08-01' '2025-08-31' }
    Invoke-Case "$target-gzip" { Import-AzCostToSql -Path "$T/costs-2026-02.csv" -Scope $sub @to }
    Invoke-Case "$target-folder" { Import-AzCostToSql -Path "$T/a-folder" -Scope $sub @to }
    Invoke-Case "$target-headerOnly" { Import-AzCostToSql -Path "$Data/header-only.csv" -Scope $sub -From 2026-02-01 -To 2026-02-28 @to }
    Invoke-Case "$target-headerOnlyNoPeriod" { Import-AzCostToSql -Path "$Data/header-only.csv" -Scope $sub @to }
    $Results.periods["$target-afterHeaderOnly"] = @{ Feb = Get-Period $target '2026-02-01' '2026-02-28'; Aug = Get-Period $target '2025-08-01' '2025-08-31' }
}

# The gzip bomb, through Save-AzCostBlob and Sync-AzBilling.
$Tok = Get-AzBillingToken @SignIn
$bomb = New-AzCostReport -Token $Tok -Scope "/subscriptions/$($D.BombSub)"
Invoke-Case 'bomb-save' { $bomb | Save-AzCostBlob -Path "$T/bomb" }
$Results.bombLeft = @(Get-ChildItem -Force -Name "$T/bomb")
Invoke-Case 'bomb-save-allowed' { $bomb | Save-AzCostBlob -Path "$T/bomb-allowed" -MaxGzipRatio 2000 }
$Results.allowedBytes = @(Get-ChildItem -File "$T/bomb-allowed" | ForEach-Object Length)
Invoke-Case 'bomb-sync' { Sync-AzBilling @SignIn -Scope "/subscriptions/$($D.BombSub)" -Months 1 -DatabasePath "$T/bomb.sqlite" -WorkingPath "$T/bomb-work" }
$Results.syncLeft = @(Get-ChildItem -Force -Recurse -Name "$T/bomb-work")
'@
        $script:R = $Run.Results
        $script:P = $R.periods
    }

    It 'loads the good twins first (<_>)' -ForEach @('Sqlite', 'PostgreSql') {
        $R["$_-baseline"].Errors | Should -BeNullOrEmpty
        $R["$_-baseline"].Objects.Count | Should -Be 2
    }

    It 'refuses a field that is not UTF-8, naming file, line, column and the bytes, and leaves the period as it was (<_>)' -ForEach @('Sqlite', 'PostgreSql') {
        $e = $R["$_-invalid-utf8"].Errors
        $e.Count | Should -Be 1
        $e[0].Id | Should -BeLike 'CsvInvalidText,*'
        $e[0].Category | Should -Be 'InvalidData'
        $e[0].Message | Should -BeLike "*invalid-utf8.csv: line 5, column 'MeterName': the field is not valid UTF-8 (0xC3 0x28 at byte 28 of the field)*"
        $R["$_-invalid-utf8"].Objects | Should -BeNullOrEmpty
        ($P["$_-before"].Feb -split '\|')[0] | Should -Be '4'
        $P["$_-afterBad"].Feb | Should -Be $P["$_-before"].Feb
    }

    It 'refuses a NUL character, naming file, line and column, and leaves the period as it was (<_>)' -ForEach @('Sqlite', 'PostgreSql') {
        $e = $R["$_-nul"].Errors
        $e.Count | Should -Be 1
        $e[0].Id | Should -BeLike 'CsvInvalidText,*'
        $e[0].Message | Should -BeLike "*nul-char.csv: line 3, column 'ResourceName': the field holds a NUL character*"
        ($P["$_-before"].Aug -split '\|')[0] | Should -Be '3'
        $P["$_-afterBad"].Aug | Should -Be $P["$_-before"].Aug
    }

    It 'says a gzip file given as .csv looks gzip-compressed (<_>)' -ForEach @('Sqlite', 'PostgreSql') {
        $e = $R["$_-gzip"].Errors
        $e[0].Id | Should -BeLike 'CsvCompressedFile,*'
        $e[0].Message | Should -BeLike '*costs-2026-02.csv: the file looks gzip-compressed*'
    }

    It 'says a folder given as -Path is a folder (<_>)' -ForEach @('Sqlite', 'PostgreSql') {
        $e = $R["$_-folder"].Errors
        $e[0].Id | Should -BeLike 'AzBillingPathIsFolder,*'
        $e[0].Message | Should -BeLike '*a-folder is a folder, not a cost file*'
    }

    It 'warns that a header-only file with -From/-To removed the period''s rows, and how many (<_>)' -ForEach @('Sqlite', 'PostgreSql') {
        $c = $R["$_-headerOnly"]
        $c.Errors | Should -BeNullOrEmpty
        $c.Warnings.Count | Should -Be 1
        $c.Warnings[0] | Should -BeLike '*header-only.csv: no rows, so 2026-02-01..2026-02-28 ActualCost for /subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f was replaced with nothing: 4 row(s) loaded earlier were removed*'
        ($P["$_-afterHeaderOnly"].Feb -split '\|')[0] | Should -Be '0'
        $P["$_-afterHeaderOnly"].Aug | Should -Be $P["$_-before"].Aug
        # without a period there is nothing to replace: a warning, and no load
        $R["$_-headerOnlyNoPeriod"].Warnings[0] | Should -BeLike '*no rows and no -From/-To*'
        $R["$_-headerOnlyNoPeriod"].Objects | Should -BeNullOrEmpty
    }

    It 'never echoes binary bytes in a message' {
        foreach ($k in $R.Keys) {
            foreach ($m in @($R[$k].Errors | ForEach-Object Message) + @($R[$k].Warnings) + @($R[$k].Terminating.Message)) {
                if ($m) { $m | Should -Not -Match '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F\uFFFD]' }
            }
        }
    }

    It 'stops a gzip bomb at the limit and keeps nothing of it (Save-AzCostBlob)' {
        $c = $R['bomb-save']
        $c.Errors.Count | Should -Be 1
        $c.Errors[0].Id | Should -BeLike 'AzBillingDecompressionLimit,*'
        $c.Errors[0].Message | Should -BeLike "*inflates past 67,108,864 bytes*100 times its $($BombBytes.ToString('N0', [cultureinfo]::InvariantCulture)) compressed bytes*-MaxGzipRatio*"
        $c.Objects | Should -BeNullOrEmpty
        $R.bombLeft | Should -BeNullOrEmpty
    }

    It 'lets -MaxGzipRatio raise the limit' {
        $R['bomb-save-allowed'].Errors | Should -BeNullOrEmpty
        $R.allowedBytes | Should -Be @(80MB)
    }

    It 'fails the Sync unit of a gzip bomb with the same id and removes its files' {
        $c = $R['bomb-sync']
        $c.Errors.Count | Should -Be 1
        $c.Errors[0].Id | Should -BeLike 'AzBillingDecompressionLimit,*'
        $R.syncLeft | Should -BeNullOrEmpty
    }
}
