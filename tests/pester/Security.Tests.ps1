#Requires -Version 7.4
# Issue 10: hostile answers and hostile neighbours, tried as an attacker would.
#  §1 The Resource Manager token goes only to the Resource Manager endpoint in use, over https: the test fixture's
#     "elsewhere" listeners (https and http on 127.0.0.2, https on another port of 127.0.0.1) record every request and
#     its Authorization header; Location, nextLink and redirects point at them, and none may ever get a request.
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
    if ($F) { Stop-TestAzureFixture $F }
    if ($Folder) { Remove-Item -Recurse -Force $Folder -ErrorAction SilentlyContinue }
}

Describe 'The Resource Manager token goes only to the Resource Manager endpoint, over https (issue 10 §1)' -Tag 'Security', 'CostReport' -Skip:($NoFixture -or $NoSecondLoopback) {
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
