#Requires -Version 7.4
# New-AzCostReport against the Azure test fixture (tests/AzBillingPS.Fixture): real MSAL sign-in, real HTTPS to a
# Cost Management API that follows the REST specification, with faults, delays and odd answers set per scope by
# rules. Two child pwsh runs hold every case (all six streams recorded); the fixture records every request it got,
# so the tests check what was sent (bodies, timings, concurrency) as well as what came out.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoFixture = -not (Test-Path (Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:F = Start-TestAzureFixture

    # ---- Dates, from today (UTC) so the file passes on any day.
    $today = [DateTime]::UtcNow.Date
    function Min([DateTime] $a, [DateTime] $b) { if ($a -lt $b) { $a } else { $b } }
    function D([DateTime] $d) { $d.ToString('yyyy-MM-dd') }
    $monthStart = [DateTime]::new($today.Year, $today.Month, 1)
    $lastMonthStart = $monthStart.AddMonths(-1)
    $y = $today.Year
    $yearEndTo = Min ([DateTime]::new($y, 1, 10)) $today
    # the latest February that is over (this year's once March has begun, else last year's)
    $fy = if ($today -gt [DateTime]::new($y, 2, [DateTime]::DaysInMonth($y, 2))) { $y } else { $y - 1 }
    $febTo = Min ([DateTime]::new($fy, 3, 5)) $today
    $oneDay = $today.AddDays(-3)
    $toOnly = Min ($lastMonthStart.AddDays(9)) $today

    $script:G = @{}
    foreach ($n in 'sub1', 'sub2', 'sub3', 'sub4', 'sub5', 'prop1', 'prop2', 'piped1', 'piped2', 'rg', 'mixed', 'mixedRg', 'yearEnd', 'february',
        'oneDay', 'clampedTo', 'toOnly', 'fromOnly', 'currentMonth', 'orderA', 'orderB', 'inv', 'bpf', 'json', 'api', 'table', 'noCall',
        'poll202', 'q429qpu', 'q429entity', 'q429tenant', 'q429client', 'q429consumption', 'q429plain', 's503', 's5xx', 'dropPost', 'dropPoll',
        'poll504', 'noContent', 'noData', 's422', 's403', 's404', 's400', 'failed', 'unknown', 'multi', 'explicitBlobs', 'compressed',
        'always500', 'slowAnswer', 'slowPolls', 'throttle', 'refresh', 'cancelWait', 'cancelHttp', 'pacing', 'pacingDefault') {
        $G[$n] = [guid]::NewGuid().ToString()
    }
    $script:Ids = @{
        Ea = '1234567'; Ea2 = '7654321'; Dept = 'D-100'; Dept2 = 'D-200'; Enroll = 'E-300'; Enroll2 = 'E-400'
        Mca = '12345678:0a1b2c3d-1111-2222-3333-444455556666_2019-05-31'; Profile = 'AB12-CD34-EF5-GH6'; Section = 'IJ78-KL90-MN1-OP2'; Customer = 'c0ffee00-1111-2222-3333-444455556666'
        Mca2 = '87654321:0a1b2c3d-9999-2222-3333-444455556666_2020-01-01'; Profile2 = 'QR12-ST34-UV5-WX6'; Customer2 = 'decade00-1111-2222-3333-444455556666'
    }
    $script:Dates = @{
        Today = D $today; MonthStart = D $monthStart; LastMonthStart = D $lastMonthStart; LastMonthYm = $lastMonthStart.ToString('yyyyMM')
        OldYm = $today.AddMonths(-15).ToString('yyyyMM'); YearEndFrom = "$($y - 1)-12-15"; YearEndTo = D $yearEndTo
        FebFrom = "$fy-01-20"; FebTo = D $febTo; FebDays = [DateTime]::DaysInMonth($fy, 2); FebYear = $fy
        OneDay = D $oneDay; BeforeOneDay = D $oneDay.AddDays(-5); FutureTo = D $today.AddDays(7); ToOnly = D $toOnly
        TooOld = D $today.AddMonths(-14); Future = D $today.AddDays(3); SixMonthsStart = D $monthStart.AddMonths(-5); ThreeMonthsStart = D $monthStart.AddMonths(-2)
    }
    # secrets of our own, in explicit manifest links: they must not show up either
    $script:OwnSigs = @('own' + [guid]::NewGuid().ToString('N'), 'own' + [guid]::NewGuid().ToString('N'))

    function Get-ScopeRequests([string] $Scope) {
        $s = $Scope.Trim('/')
        if ($s -match '^[0-9a-f-]{36}$') { $s = "subscriptions/$s" }
        @($Requests | Where-Object { $_.scope -and $_.scope.Trim('/') -ieq $s })
    }
    function Get-Posts([string] $Scope) { @(Get-ScopeRequests $Scope | Where-Object method -EQ 'POST') }
    function Get-Periods([string] $Scope) {
        # in period order: the reports of one command are requested in parallel
        @(Get-Posts $Scope | Where-Object status -In 200, 202, 204 | ForEach-Object {
                $b = $_.body | ConvertFrom-Json
                "$($b.timePeriod.start)..$($b.timePeriod.end)"
            } | Sort-Object)
    }

    # ---- The child prelude: each case runs with all six streams merged; reports, errors and warnings are summarised
    # and everything any stream showed (plus ToString, Format-List, Format-Table, ConvertTo-Json and ToJson of every
    # report, and every view of every error) is kept as text for the leak search.
    $script:Prelude = @'
$ErrorActionPreference = 'Continue'
$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'; $InformationPreference = 'Continue'; $WarningPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$PSDefaultParameterValues['New-AzCostReport:Verbose'] = $true
$PSDefaultParameterValues['New-AzCostReport:Debug'] = $true
# -Debug alone would make warnings Inquire (and prompt, which fails in a non-interactive child)
$PSDefaultParameterValues['New-AzCostReport:WarningAction'] = 'Continue'
$PSDefaultParameterValues['Invoke-RestMethod:Verbose'] = $false
$PSDefaultParameterValues['Invoke-RestMethod:Debug'] = $false
$D = $env:AZB_CASES | ConvertFrom-Json -AsHashtable
$S = $D.G
$Results = [ordered]@{}
$Texts = [Collections.Generic.List[string]]::new()
function Get-Hash([string] $s) { [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($s))) }
function Get-Fixture([string] $Path) { Invoke-RestMethod "$env:AZB_FIXTURE_HTTP$Path" }
function Get-CostRequestCount { $all = Get-Fixture '/_fixture/cost/requests'; @($all).Count }
function Get-TokenRequestCount { (Get-Fixture '/_fixture/issued').requests }
$ClientSecret = ConvertTo-SecureString $env:AZB_CLIENT_SECRET -AsPlainText -Force
$Tok = Get-AzBillingToken -TenantId $env:AZB_TENANT -ClientId $env:AZB_CLIENT_ID -ClientSecret $ClientSecret -AuthorityHost $env:AZB_FIXTURE_HTTPS -ResourceManagerUrl $env:AZB_FIXTURE_HTTPS
function Get-ReportSummary($r) {
    $Texts.Add($r.ToString()); $Texts.Add(($r | Format-List * -Force | Out-String -Width 500)); $Texts.Add(($r | Format-Table | Out-String -Width 500))
    $Texts.Add(($r | ConvertTo-Json -Depth 4 -WarningAction SilentlyContinue)); $Texts.Add(($r.Blobs | Format-List * -Force | Out-String -Width 500)); $Texts.Add($r.ToJson())
    [ordered]@{
        Type = $r.PSObject.TypeNames[0]; Scope = $r.Scope; Metric = $r.Metric
        PeriodStart = $r.PeriodStart.ToString('yyyy-MM-dd'); PeriodEnd = $r.PeriodEnd.ToString('yyyy-MM-dd'); BillingPeriod = $r.BillingPeriod; InvoiceId = $r.InvoiceId
        Status = $r.Status; OperationId = $r.OperationId; ApiVersion = $r.ApiVersion; ManifestVersion = $r.ManifestVersion; DataFormat = $r.DataFormat
        CompressData = $r.CompressData; BlobCount = $r.BlobCount; ByteCount = $r.ByteCount
        ValidTill = if ($null -ne $r.ValidTill) { $r.ValidTill.ToUnixTimeSeconds() }
        RequestedAt = $r.RequestedAt.ToUnixTimeMilliseconds(); CompletedAt = if ($null -ne $r.CompletedAt) { $r.CompletedAt.ToUnixTimeMilliseconds() }
        Blobs = @($r.Blobs | ForEach-Object { [ordered]@{ Index = $_.Index; ByteCount = $_.ByteCount; Link = $_.Link; Shown = "$_"; LinkHash = Get-Hash $_.GetBlobLink().OriginalString } })
        HasToken = $null -ne $r.Token; Json = $r.ToJson()
    }
}
function Get-ErrorSummary($e) {
    $Texts.Add(($e | Out-String -Width 500)); $Texts.Add($e.Exception.ToString()); $Texts.Add(($e | Format-List * -Force | Out-String -Width 500))
    $Texts.Add(($e.Exception | Format-List * -Force | Out-String -Width 500))
    [ordered]@{ Id = $e.FullyQualifiedErrorId; Category = "$($e.CategoryInfo.Category)"; Message = $e.Exception.Message; Target = "$($e.TargetObject)"; Detail = $e.ErrorDetails.RecommendedAction }
}
function Invoke-Case([string] $Name, [scriptblock] $Body) {
    $r = [ordered]@{ Reports = [Collections.ArrayList]::new(); Errors = [Collections.ArrayList]::new(); Warnings = [Collections.ArrayList]::new(); Strings = [Collections.ArrayList]::new(); Verbose = 0; Debug = 0; Terminating = $null }
    $before = Get-CostRequestCount
    $tokens = Get-TokenRequestCount
    $r.Started = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()
    $sw = [Diagnostics.Stopwatch]::StartNew()
    try {
        & $Body *>&1 | ForEach-Object {
            $item = $_
            $Texts.Add(($item | Out-String -Width 500))
            if ($item -is [Management.Automation.ErrorRecord]) { [void] $r.Errors.Add((Get-ErrorSummary $item)) }
            elseif ($item -is [Management.Automation.WarningRecord]) { [void] $r.Warnings.Add($item.Message) }
            elseif ($item -is [Management.Automation.VerboseRecord]) { $r.Verbose++ }
            elseif ($item -is [Management.Automation.DebugRecord]) { $r.Debug++ }
            elseif ($item -is [AzBillingPS.AzCostReport]) { [void] $r.Reports.Add((Get-ReportSummary $item)) }
            elseif ($item -is [string]) { [void] $r.Strings.Add($item) }
            elseif ($item -is [hashtable]) { foreach ($k in $item.Keys) { $r[$k] = $item[$k] } }
        }
    }
    catch { $r.Terminating = Get-ErrorSummary $_ }
    $r.Seconds = $sw.Elapsed.TotalSeconds
    $r.Requests = (Get-CostRequestCount) - $before
    $r.TokenRequests = (Get-TokenRequestCount) - $tokens
    $Results[$Name] = $r
}
'@

    function Invoke-ReportRun([string] $Script, [hashtable] $Environment = @{}) {
        $envs = @{} + $F.ChildEnv
        $envs.AZB_CASES = @{ G = $G } + $Ids + $Dates + @{ OwnSigs = $OwnSigs } | ConvertTo-Json -Depth 5 -Compress
        foreach ($k in $Environment.Keys) { $envs[$k] = $Environment[$k] }
        $end = "`n" + '"##RESULTS##" + (@{ Results = $Results; Text = ($Texts -join "`n") } | ConvertTo-Json -Depth 10 -Compress)'
        $run = Invoke-ChildPwsh -Script ($Prelude + "`n" + $Script + $end) -Environment $envs -TimeoutSeconds 150
        $line = $run.Output | Where-Object { $_.StartsWith('##RESULTS##') } | Select-Object -Last 1
        if (-not $line) { throw "The child failed (exit $($run.ExitCode), $([int]$run.Duration.TotalSeconds) s):`n$($run.StdOut)`n$($run.StdErr)" }
        $parsed = $line.Substring(11) | ConvertFrom-Json -AsHashtable
        [pscustomobject]@{ Results = $parsed.Results; AllText = $run.StdOut + "`n" + $run.StdErr + "`n" + $parsed.Text; Duration = $run.Duration }
    }

    # ---- Run 1: scopes, periods, bodies, refusals. Answers come at once (Retry-After 0) except where a case needs otherwise.
    Set-TestCostRules $F @(
        @{ scope = $G.orderA; metric = 'ActualCost'; period = $lastMonthStart.ToString('yyyy-MM'); delayMs = 1500; retryAfter = 0 }
        @{ retryAfter = 0 }
    )
    $script:Main = Invoke-ReportRun @'
Invoke-Case 'forms' { New-AzCostReport -Token $Tok -Scope "/subscriptions/$($S.sub1)", $S.sub2, "/SUBSCRIPTIONS/$($S.sub3.ToUpperInvariant())/" -SubscriptionId $S.sub4, $S.sub5 -ThrottleLimit 16 }
Invoke-Case 'formsEa' { New-AzCostReport -Token $Tok -BillingAccountId $D.Ea -DepartmentId $D.Dept -EnrollmentAccountId $D.Enroll -ThrottleLimit 8 }
Invoke-Case 'formsEaAlone' { New-AzCostReport -Token $Tok -BillingAccountId $D.Ea }
Invoke-Case 'formsDeptAlone' { New-AzCostReport -Token $Tok -DepartmentId $D.Dept2 }
Invoke-Case 'formsEnrollAlone' { New-AzCostReport -Token $Tok -EnrollmentAccountId $D.Enroll2 }
Invoke-Case 'formsMca' { New-AzCostReport -Token $Tok -BillingAccountId $D.Mca -BillingProfileId $D.Profile -InvoiceSectionId $D.Section -CustomerId $D.Customer -ThrottleLimit 8 }
Invoke-Case 'formsProfile' { New-AzCostReport -Token $Tok -BillingAccountId $D.Mca -BillingProfileId $D.Profile }
Invoke-Case 'byPropertyName' { [pscustomobject]@{ Scope = "/subscriptions/$($S.prop1)" }, [pscustomobject]@{ Scope = $S.prop2 } | New-AzCostReport -Token $Tok -ThrottleLimit 4 }
Invoke-Case 'tokenPiped' { $Tok | New-AzCostReport -Scope "/subscriptions/$($S.piped1)" }
Invoke-Case 'tokenPipedShortForm' { $Tok | New-AzCostReport -SubscriptionId $S.piped2 }
Invoke-Case 'resourceGroup' { New-AzCostReport -Token $Tok -Scope "/subscriptions/$($S.rg)/resourceGroups/billing" }
Invoke-Case 'managementGroup' { New-AzCostReport -Token $Tok -Scope '/providers/Microsoft.Management/managementGroups/contoso' }
Invoke-Case 'badScope' { New-AzCostReport -Token $Tok -Scope '/subscriptions/not-a-guid' }
Invoke-Case 'mixedScopes' { New-AzCostReport -Token $Tok -Scope "/subscriptions/$($S.mixedRg)/resourceGroups/x", "/subscriptions/$($S.mixed)" }
Invoke-Case 'badSubscriptionId' { New-AzCostReport -Token $Tok -SubscriptionId 'nope' }
Invoke-Case 'sectionWithoutProfile' { New-AzCostReport -Token $Tok -BillingAccountId $D.Mca -InvoiceSectionId $D.Section }
Invoke-Case 'profileWithoutAccount' { New-AzCostReport -Token $Tok -BillingProfileId $D.Profile }
Invoke-Case 'noScope' { New-AzCostReport -Token $Tok }
Invoke-Case 'yearEnd' { New-AzCostReport -Token $Tok -Scope $S.yearEnd -From $D.YearEndFrom -To $D.YearEndTo }
Invoke-Case 'february' { New-AzCostReport -Token $Tok -Scope $S.february -From $D.FebFrom -To $D.FebTo -ThrottleLimit 4 }
Invoke-Case 'oneDay' { New-AzCostReport -Token $Tok -Scope $S.oneDay -From $D.OneDay -To $D.OneDay }
Invoke-Case 'clampedTo' { New-AzCostReport -Token $Tok -Scope $S.clampedTo -From $D.MonthStart -To $D.FutureTo }
Invoke-Case 'toOnly' { New-AzCostReport -Token $Tok -Scope $S.toOnly -To $D.ToOnly }
Invoke-Case 'fromOnly' { New-AzCostReport -Token $Tok -Scope $S.fromOnly -From $D.LastMonthStart }
Invoke-Case 'currentMonth' { New-AzCostReport -Token $Tok -Scope $S.currentMonth }
Invoke-Case 'tooOld' { New-AzCostReport -Token $Tok -Scope $S.noCall -From $D.TooOld }
Invoke-Case 'future' { New-AzCostReport -Token $Tok -Scope $S.noCall -From $D.Future }
Invoke-Case 'toBeforeFrom' { New-AzCostReport -Token $Tok -Scope $S.noCall -From $D.OneDay -To $D.BeforeOneDay }
Invoke-Case 'order' { New-AzCostReport -Token $Tok -Scope $S.orderA, $S.orderB -Metric ActualCost, AmortizedCost -From $D.LastMonthStart -ThrottleLimit 8 }
Invoke-Case 'billingPeriod' { New-AzCostReport -Token $Tok -BillingAccountId $D.Ea2 -BillingPeriod $D.LastMonthYm }
Invoke-Case 'invoiceProfile' { New-AzCostReport -Token $Tok -BillingAccountId $D.Mca2 -BillingProfileId $D.Profile2 -InvoiceId 'G012345678' }
Invoke-Case 'invoiceCustomer' { New-AzCostReport -Token $Tok -BillingAccountId $D.Mca2 -CustomerId $D.Customer2 -InvoiceId 'G087654321' }
Invoke-Case 'invoiceOnSubscription' { New-AzCostReport -Token $Tok -SubscriptionId $S.inv -InvoiceId 'G012345678' }
Invoke-Case 'billingPeriodOnMca' { New-AzCostReport -Token $Tok -BillingAccountId $D.Mca2 -BillingProfileId $D.Profile2 -BillingPeriod $D.LastMonthYm }
Invoke-Case 'billingPeriodAndFrom' { New-AzCostReport -Token $Tok -Scope $S.bpf -BillingPeriod $D.LastMonthYm -From $D.OneDay }
Invoke-Case 'billingPeriodFormat' { New-AzCostReport -Token $Tok -Scope $S.bpf -BillingPeriod '2026-01' }
Invoke-Case 'billingPeriodOld' { New-AzCostReport -Token $Tok -BillingAccountId $D.Ea2 -BillingPeriod $D.OldYm }
Invoke-Case 'asJson' { New-AzCostReport -Token $Tok -Scope $S.json -AsJson }
Invoke-Case 'apiVersion' { New-AzCostReport -Token $Tok -Scope $S.api -ApiVersion '2023-08-01' -Metric AmortizedCost }
Invoke-Case 'table' { @{ Table = (New-AzCostReport -Token $Tok -Scope $S.table | Format-Table | Out-String -Width 300) } }
'@

    # ---- Run 2: the service's faults, slowness, token renewal, cancellation, concurrency and pacing.
    $ratelimit = 'x-ms-ratelimit-microsoft.costmanagement'
    Set-TestCostRules $F @(
        @{ scope = $G.poll202; pollCount = 3; retryAfter = 1 }
        @{ scope = $G.q429qpu; postFaults = @(@{ status = 429; headers = @{ "$ratelimit-qpu-retry-after" = '2' } }); retryAfter = 0 }
        @{ scope = $G.q429entity; postFaults = @(@{ status = 429; retryAfter = 1; headers = @{ "$ratelimit-entity-retry-after" = '2' } }); retryAfter = 0 }
        @{ scope = $G.q429tenant; postFaults = @(@{ status = 429; retryAfter = 1; headers = @{ "$ratelimit-tenant-retry-after" = '2'; "$ratelimit-qpu-retry-after" = '1' } }); retryAfter = 0 }
        @{ scope = $G.q429client; postFaults = @(@{ status = 429; headers = @{ "$ratelimit-clienttype-retry-after" = '2' } }); retryAfter = 0 }
        @{ scope = $G.q429consumption; pollFaults = @(@{ status = 429; headers = @{ 'x-ms-ratelimit-microsoft.consumption-retry-after' = '2' } }); retryAfter = 0 }
        @{ scope = $G.q429plain; postFaults = @(@{ status = 429; retryAfter = 2 }); retryAfter = 0 }
        @{ scope = $G.s503; postFaults = @(@{ status = 503; retryAfter = 1 }); retryAfter = 0 }
        @{ scope = $G.s5xx; postFaults = @(@{ status = 500 }, @{ status = 502 }); retryAfter = 0 }
        @{ scope = $G.dropPost; postFaults = @(@{ drop = $true }); retryAfter = 0 }
        @{ scope = $G.dropPoll; pollFaults = @(@{ drop = $true }); retryAfter = 0 }
        @{ scope = $G.poll504; pollFaults = @(@{ status = 504 }); retryAfter = 0 }
        @{ scope = $G.noContent; noContent = $true }
        @{ scope = $G.noData; result = 'NoDataFound'; retryAfter = 0 }
        @{ scope = $G.s422; status = 422 }
        @{ scope = $G.s403; status = 403 }
        @{ scope = $G.s404; status = 404 }
        @{ scope = $G.s400; status = 400; error = @{ code = 'BadRequest'; message = 'Invalid request payload: the scope has no cost data configuration.' } }
        @{ scope = $G.failed; result = 'Failed'; error = @{ code = 'ReportGenerationFailed'; message = 'The report could not be generated (fixture).' }; retryAfter = 0 }
        @{ scope = $G.unknown; unknownStatus = 'Running'; unknownCount = 2; retryAfter = 0 }
        @{ scope = $G.multi; blobCount = 3; retryAfter = 0 }
        @{ scope = $G.explicitBlobs; retryAfter = 0; blobs = @(
                @{ blobLink = "http://127.0.0.1:10000/devstoreaccount1/costs/part1.csv?sv=2021-08-06&se=2030-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=$($OwnSigs[0])"; byteCount = 1000 }
                @{ blobLink = "http://127.0.0.1:10000/devstoreaccount1/costs/part2.csv?sv=2021-08-06&se=2030-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=$($OwnSigs[1])"; byteCount = 234 }
            ) 
        }
        @{ scope = $G.compressed; compressData = $true; retryAfter = 0 }
        @{ scope = $G.always500; status = 500 }
        @{ scope = $G.slowAnswer; delayMs = 6000 }
        @{ scope = $G.slowPolls; pollCount = 100; retryAfter = 1 }
        @{ scope = $G.throttle; delayMs = 400; retryAfter = 0 }
        @{ scope = $G.cancelWait; pollCount = 100; retryAfter = 30 }
        @{ scope = $G.cancelHttp; delayMs = 30000 }
        @{ scope = $G.pacing; pollCount = 2; retryAfter = 0 }
        @{ scope = $G.pacingDefault; retryAfter = $null }
        @{ retryAfter = 0 }
    )
    $script:FaultNames = 'poll202', 'q429qpu', 'q429entity', 'q429tenant', 'q429client', 'q429consumption', 'q429plain', 's503', 's5xx', 'dropPost', 'dropPoll',
    'poll504', 'noContent', 'noData', 's422', 's403', 's404', 's400', 'failed', 'unknown', 'multi', 'explicitBlobs', 'compressed', 'always500'
    $script:Behaviour = Invoke-ReportRun (@"
`$faultScopes = @($(($FaultNames | ForEach-Object { "'$($G[$_])'" }) -join ', '))

"@ + @'
Invoke-Case 'faults' { New-AzCostReport -Token $Tok -Scope $faultScopes -ThrottleLimit 16 }
Invoke-Case 'timeout' { New-AzCostReport -Token $Tok -Scope $S.slowAnswer, $S.slowPolls -Timeout 2 -ThrottleLimit 2 }
Invoke-Case 'throttle' { New-AzCostReport -Token $Tok -Scope $S.throttle -From $D.SixMonthsStart -ThrottleLimit 2 }
Invoke-Case 'refresh' {
    Invoke-RestMethod -Method Post "$env:AZB_FIXTURE_HTTP/_fixture/revoke" | Out-Null
    New-AzCostReport -Token $Tok -Scope $S.refresh
}
Invoke-Case 'cancel' {
    $ps = [powershell]::Create()
    [void] $ps.AddScript('param($t, $s) Import-Module $env:AZBILLING_MODULE_PATH; New-AzCostReport -Token $t -Scope $s -ThrottleLimit 2').AddArgument($Tok).AddArgument(@($S.cancelWait, $S.cancelHttp))
    $handle = $ps.BeginInvoke()
    $deadline = [DateTime]::UtcNow.AddSeconds(20)
    # wait until both calls are in flight: the waiting report polled once, the slow one's POST sent
    while ([DateTime]::UtcNow -lt $deadline) {
        $all = Get-Fixture '/_fixture/cost/requests'
        $seen = @($all | Where-Object { $_.scope -match "$($S.cancelWait)|$($S.cancelHttp)" })
        if (@($seen | Where-Object { $_.scope -match $S.cancelWait -and $_.status -eq 202 }).Count -ge 1 -and @($seen | Where-Object { $_.scope -match $S.cancelHttp }).Count -ge 1) { break }
        Start-Sleep -Milliseconds 100
    }
    Start-Sleep -Milliseconds 300
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $ps.Stop()
    $stop = $sw.Elapsed.TotalSeconds
    $state = "$($ps.InvocationStateInfo.State)"
    $ps.Dispose()
    Start-Sleep -Milliseconds 500
    @{ StopSeconds = $stop; State = $state }
}
Invoke-Case 'pacing' {
    [AzBillingPS.Internal.InternalHooks]::SetTestHook('PacingScale', 0.05)
    try { New-AzCostReport -Token $Tok -Scope $S.pacing -From $D.ThreeMonthsStart -ThrottleLimit 3 ; New-AzCostReport -Token $Tok -Scope $S.pacingDefault }
    finally { [AzBillingPS.Internal.InternalHooks]::SetTestHook('PacingScale', 0) }
}
'@)
    $script:Requests = @(Get-TestCostRequests $F)
    $script:Operations = @(Get-TestCostOperations $F)

    function Get-Case([string] $Run, [string] $Name) {
        $r = (Get-Variable -Name $Run -ValueOnly).Results[$Name]
        if (-not $r) { throw "No results for case $Run/$Name." }
        $r
    }
    function Get-Report([string] $Name, [string] $Scope) {
        $s = if ($Scope -match '^[0-9a-f-]{36}$') { "/subscriptions/$Scope" } else { $Scope }
        @((Get-Case Behaviour faults).Reports | Where-Object { $_.Scope -eq $s })
    }
    function Get-FaultError([string] $Scope) {
        @((Get-Case Behaviour faults).Errors | Where-Object { $_.Target -eq "/subscriptions/$Scope" })
    }
    function Get-FaultWarnings([string] $Scope) {
        @((Get-Case Behaviour faults).Warnings | Where-Object { $_ -match $Scope })
    }
    function Get-Gaps([object[]] $Reqs) {
        for ($i = 1; $i -lt $Reqs.Count; $i++) { ($Reqs[$i].timeMs - $Reqs[$i - 1].timeMs) / 1000.0 }
    }
}

AfterAll {
    Stop-TestAzureFixture $script:F
}

Describe 'New-AzCostReport scopes' -Tag 'CostReport' -Skip:$NoFixture {
    It 'takes full scopes, a bare GUID, any case and slashes, and -SubscriptionId; writes them lower-case' {
        $r = Get-Case Main forms
        $r.Errors | Should -BeNullOrEmpty
        $r.Terminating | Should -BeNullOrEmpty
        $r.Requests | Should -Be 10
        @($r.Reports.Scope) | Should -Be @(foreach ($n in 'sub1', 'sub2', 'sub3', 'sub4', 'sub5') { "/subscriptions/$($G[$n])" })
        foreach ($n in 'sub1', 'sub2', 'sub3', 'sub4', 'sub5') {
            $posts = Get-Posts $G[$n]
            $posts.Count | Should -Be 1
            $posts[0].path | Should -Be "/subscriptions/$($G[$n])/providers/Microsoft.CostManagement/generateCostDetailsReport"
            $posts[0].apiVersion | Should -Be '2025-03-01'
        }
    }

    It 'builds billing scopes from the short forms: <Case>' -TestCases @(
        @{ Case = 'formsEa'; Expected = @('/providers/microsoft.billing/billingaccounts/1234567/departments/d-100', '/providers/microsoft.billing/billingaccounts/1234567/enrollmentaccounts/e-300') }
        @{ Case = 'formsEaAlone'; Expected = @('/providers/microsoft.billing/billingaccounts/1234567') }
        @{ Case = 'formsDeptAlone'; Expected = @('/providers/microsoft.billing/departments/d-200') }
        @{ Case = 'formsEnrollAlone'; Expected = @('/providers/microsoft.billing/enrollmentaccounts/e-400') }
        @{ Case = 'formsMca'; Expected = @(
                '/providers/microsoft.billing/billingaccounts/12345678:0a1b2c3d-1111-2222-3333-444455556666_2019-05-31/billingprofiles/ab12-cd34-ef5-gh6/invoicesections/ij78-kl90-mn1-op2'
                '/providers/microsoft.billing/billingaccounts/12345678:0a1b2c3d-1111-2222-3333-444455556666_2019-05-31/customers/c0ffee00-1111-2222-3333-444455556666') 
        }
        @{ Case = 'formsProfile'; Expected = @('/providers/microsoft.billing/billingaccounts/12345678:0a1b2c3d-1111-2222-3333-444455556666_2019-05-31/billingprofiles/ab12-cd34-ef5-gh6') }
    ) {
        $r = Get-Case Main $Case
        $r.Errors | Should -BeNullOrEmpty
        $r.Terminating | Should -BeNullOrEmpty
        @($r.Reports.Scope) | Should -Be $Expected
        @($r.Reports.Status) | Should -Be @($Expected | ForEach-Object { 'Completed' })
        foreach ($s in $Expected) {
            $p = Get-Posts $s
            $p.Count | Should -Be 1
            $p[0].path | Should -Be "$s/providers/Microsoft.CostManagement/generateCostDetailsReport"
        }
    }

    It 'binds -Scope by property name from piped objects' {
        $r = Get-Case Main byPropertyName
        $r.Errors | Should -BeNullOrEmpty
        @($r.Reports.Scope) | Should -Be @("/subscriptions/$($G.prop1)", "/subscriptions/$($G.prop2)")
    }

    It 'takes the token from the pipeline with -Scope' {
        $r = Get-Case Main tokenPiped
        $r.Errors | Should -BeNullOrEmpty
        @($r.Reports.Scope) | Should -Be @("/subscriptions/$($G.piped1)")
    }

    It 'takes the token from the pipeline with a short form only (the token''s own Scope property must not bind to -Scope)' {
        # Get-AzBillingToken ... | New-AzCostReport -BillingAccountId ... is the help's own example.
        $r = Get-Case Main tokenPipedShortForm
        @($r.Reports.Scope) | Should -Be @("/subscriptions/$($G.piped2)")
        @($r.Errors | ForEach-Object Message) | Should -BeNullOrEmpty
    }

    It 'refuses <Case> before any call with <Id>' -TestCases @(
        @{ Case = 'resourceGroup'; Id = 'AzBillingUnsupported'; Pattern = 'resource group.*2023-08-01.*-Scope /subscriptions/' }
        @{ Case = 'managementGroup'; Id = 'AzBillingUnsupported'; Pattern = '^(?!.*-AllSubscriptions).*management group.*Request each subscription under it' } # Sync-AzBilling's parameter, not this command's
        @{ Case = 'badScope'; Id = 'AzBillingInvalidArgument'; Pattern = "'not-a-guid' is not a subscription id" }
        @{ Case = 'badSubscriptionId'; Id = 'AzBillingInvalidArgument'; Pattern = "-SubscriptionId 'nope'" }
        @{ Case = 'sectionWithoutProfile'; Id = 'AzBillingInvalidArgument'; Pattern = '-InvoiceSectionId needs -BillingProfileId' }
        @{ Case = 'profileWithoutAccount'; Id = 'AzBillingInvalidArgument'; Pattern = 'need -BillingAccountId' }
        @{ Case = 'noScope'; Id = 'AzBillingInvalidArgument'; Pattern = 'Give the scope' }
    ) {
        $r = Get-Case Main $Case
        $e = @($r.Errors) + @($r.Terminating) | Where-Object { $_ } | Select-Object -First 1
        $e | Should -Not -BeNullOrEmpty
        $e.Id | Should -BeLike "$Id,AzBillingPS.Commands.NewAzCostReportCommand"
        $e.Message | Should -Match $Pattern
        @($r.Reports).Count | Should -Be 0
        $r.Requests | Should -Be 0
    }

    It 'reports a refused scope as a non-terminating error and still requests the others' {
        $r = Get-Case Main mixedScopes
        $r.Terminating | Should -BeNullOrEmpty
        @($r.Errors).Count | Should -Be 1
        $r.Errors[0].Id | Should -BeLike 'AzBillingUnsupported,*'
        $r.Errors[0].Target | Should -Match $G.mixedRg
        @($r.Reports.Scope) | Should -Be @("/subscriptions/$($G.mixed)")
        (Get-ScopeRequests "subscriptions/$($G.mixedRg)/resourceGroups/x").Count | Should -Be 0
    }
}

Describe 'New-AzCostReport periods and request bodies' -Tag 'CostReport' -Skip:$NoFixture {
    It 'splits a range across the year end into calendar months (exact bodies, -To inclusive)' {
        $r = Get-Case Main yearEnd
        $r.Errors | Should -BeNullOrEmpty
        $y = [int] $Dates.YearEndFrom.Substring(0, 4)
        $expected = @("$y-12-15..$y-12-31", "$($y + 1)-01-01..$($Dates.YearEndTo)")
        Get-Periods $G.yearEnd | Should -Be $expected
        @($r.Reports | ForEach-Object { "$($_.PeriodStart)..$($_.PeriodEnd)" }) | Should -Be $expected
    }

    It 'ends February on its last day (28, or 29 in a leap year)' {
        $fy = $Dates.FebYear
        $expected = @("$fy-01-20..$fy-01-31", "$fy-02-01..$fy-02-$($Dates.FebDays)", "$fy-03-01..$($Dates.FebTo)")
        Get-Periods $G.february | Should -Be $expected
        @((Get-Case Main february).Reports | ForEach-Object { "$($_.PeriodStart)..$($_.PeriodEnd)" }) | Should -Be $expected
    }

    It 'sends one day as start = end, and clamps a -To after today to today' {
        Get-Periods $G.oneDay | Should -Be @("$($Dates.OneDay)..$($Dates.OneDay)")
        Get-Periods $G.clampedTo | Should -Be @("$($Dates.MonthStart)..$($Dates.Today)")
    }

    It 'reads -To alone as its month up to -To, -From alone as up to today, neither as this month to date' {
        $to = [DateTime]::Parse($Dates.ToOnly, [Globalization.CultureInfo]::InvariantCulture)
        Get-Periods $G.toOnly | Should -Be @("$($to.ToString('yyyy-MM'))-01..$($Dates.ToOnly)")
        $lastEnd = [DateTime]::Parse($Dates.MonthStart, [Globalization.CultureInfo]::InvariantCulture).AddDays(-1).ToString('yyyy-MM-dd')
        Get-Periods $G.fromOnly | Should -Be @("$($Dates.LastMonthStart)..$lastEnd", "$($Dates.MonthStart)..$($Dates.Today)")
        Get-Periods $G.currentMonth | Should -Be @("$($Dates.MonthStart)..$($Dates.Today)")
        ((Get-Posts $G.currentMonth)[0].body | ConvertFrom-Json).metric | Should -Be 'ActualCost'
    }

    It 'refuses <Case> before any call, naming the problem' -TestCases @(
        @{ Case = 'tooOld'; Pattern = 'more than 13 months ago' }
        @{ Case = 'future'; Pattern = 'in the future' }
        @{ Case = 'toBeforeFrom'; Pattern = '-To .* is before -From' }
        @{ Case = 'billingPeriodOld'; Pattern = 'more than 13 months ago' }
    ) {
        $r = Get-Case Main $Case
        $r.Terminating.Id | Should -Be 'AzBillingInvalidArgument,AzBillingPS.Commands.NewAzCostReportCommand'
        $r.Terminating.Category | Should -Be 'InvalidArgument'
        $r.Terminating.Message | Should -Match $Pattern
        $r.Requests | Should -Be 0
    }

    It 'writes reports in scope, month, metric order whatever order they finish in' {
        $r = Get-Case Main order
        $r.Errors | Should -BeNullOrEmpty
        $months = @($Dates.LastMonthStart, $Dates.MonthStart)
        $expected = foreach ($s in $G.orderA, $G.orderB) { foreach ($m in $months) { foreach ($k in 'ActualCost', 'AmortizedCost') { "/subscriptions/$s|$m|$k" } } }
        @($r.Reports | ForEach-Object { "$($_.Scope)|$($_.PeriodStart)|$($_.Metric)" }) | Should -Be @($expected)
        # the first one was made slow by the fixture: it finished last, yet came out first
        $r.Reports[0].CompletedAt | Should -Be (($r.Reports | ForEach-Object CompletedAt | Measure-Object -Maximum).Maximum)
        @(Get-Posts $G.orderA | ForEach-Object { ($_.body | ConvertFrom-Json).metric } | Sort-Object -Unique) | Should -Be @('ActualCost', 'AmortizedCost')
    }

    It 'sends -BillingPeriod and -InvoiceId as the body''s only period' {
        $bp = Get-Posts '/providers/microsoft.billing/billingaccounts/7654321'
        $bp.Count | Should -Be 1
        $b = $bp[0].body | ConvertFrom-Json -AsHashtable
        @($b.Keys | Sort-Object) | Should -Be @('billingPeriod', 'metric')
        $b.billingPeriod | Should -Be $Dates.LastMonthYm
        (Get-Case Main billingPeriod).Reports[0].BillingPeriod | Should -Be $Dates.LastMonthYm

        $mca = '/providers/microsoft.billing/billingaccounts/87654321:0a1b2c3d-9999-2222-3333-444455556666_2020-01-01'
        foreach ($case in @(@{ Name = 'invoiceProfile'; Scope = "$mca/billingprofiles/qr12-st34-uv5-wx6"; Invoice = 'G012345678' }, @{ Name = 'invoiceCustomer'; Scope = "$mca/customers/decade00-1111-2222-3333-444455556666"; Invoice = 'G087654321' })) {
            $p = Get-Posts $case.Scope
            $p.Count | Should -Be 1
            $b = $p[0].body | ConvertFrom-Json -AsHashtable
            @($b.Keys | Sort-Object) | Should -Be @('invoiceId', 'metric')
            $b.invoiceId | Should -Be $case.Invoice
            $rep = (Get-Case Main $case.Name).Reports
            @($rep).Count | Should -Be 1
            $rep[0].InvoiceId | Should -Be $case.Invoice
            $rep[0].Status | Should -Be 'Completed'
        }
    }

    It 'refuses a period the scope cannot take (<Case>) before any call' -TestCases @(
        @{ Case = 'invoiceOnSubscription'; Id = 'AzBillingInvalidArgument'; Pattern = '-InvoiceId works only for billing-profile or customer scopes' }
        @{ Case = 'billingPeriodOnMca'; Id = 'AzBillingInvalidArgument'; Pattern = '-BillingPeriod works only for Enterprise Agreement scopes' }
        @{ Case = 'billingPeriodAndFrom'; Id = 'AmbiguousParameterSet'; Pattern = 'Parameter set cannot be resolved' }
        @{ Case = 'billingPeriodFormat'; Id = 'ParameterArgumentValidationError'; Pattern = 'BillingPeriod' }
    ) {
        $r = Get-Case Main $Case
        $e = @($r.Errors) + @($r.Terminating) | Where-Object { $_ } | Select-Object -First 1
        $e.Id | Should -BeLike "$Id,*"
        $e.Message | Should -Match $Pattern
        @($r.Reports).Count | Should -Be 0
        $r.Requests | Should -Be 0
    }

    It 'uses -ApiVersion and -Metric in the call, and the manifest''s version comes back' {
        $p = Get-Posts $G.api
        $p[0].apiVersion | Should -Be '2023-08-01'
        ($p[0].body | ConvertFrom-Json).metric | Should -Be 'AmortizedCost'
        $rep = (Get-Case Main apiVersion).Reports[0]
        $rep.ApiVersion | Should -Be '2023-08-01'
        $rep.ManifestVersion | Should -Be '2023-08-01'
        $rep.Metric | Should -Be 'AmortizedCost'
        @(Get-ScopeRequests $G.api | Where-Object method -EQ 'GET' | ForEach-Object apiVersion) | Should -Be @('2023-08-01')
    }

    It 'fills the report from the manifest' {
        $rep = (Get-Case Main currentMonth).Reports[0]
        $op = $Operations | Where-Object id -EQ $rep.OperationId
        $op | Should -Not -BeNullOrEmpty
        $rep.Type | Should -Be 'AzBillingPS.AzCostReport'
        $rep.Status | Should -Be 'Completed'
        $rep.DataFormat | Should -Be 'Csv'
        $rep.BlobCount | Should -Be 1
        $rep.ByteCount | Should -Be $op.blobs[0].byteCount
        $rep.ByteCount | Should -BeGreaterThan 100
        $v = $op.validTill
        $validTill = if ($v -is [datetime]) { [DateTimeOffset]::new($v.ToUniversalTime()) } else { [DateTimeOffset]::Parse($v, [Globalization.CultureInfo]::InvariantCulture) }
        $rep.ValidTill | Should -Be $validTill.ToUnixTimeSeconds()
        $rep.HasToken | Should -BeTrue
        $rep.RequestedAt | Should -BeLessOrEqual $rep.CompletedAt
        $rep.Blobs[0].Index | Should -Be 1
        $rep.Blobs[0].Link | Should -Match 'sig=REDACTED'
        $rep.Blobs[0].Shown | Should -Be $rep.Blobs[0].Link
        $rep.Blobs[0].LinkHash | Should -Be ([Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($op.blobs[0].blobLink))))
    }

    It 'writes JSON with redacted links with -AsJson, and a table view' {
        $r = Get-Case Main asJson
        @($r.Reports).Count | Should -Be 0
        @($r.Strings).Count | Should -Be 1
        $j = $r.Strings[0] | ConvertFrom-Json
        $j.status | Should -Be 'Completed'
        $j.manifest.blobs[0].blobLink | Should -Match '[?&]sig=REDACTED(&|$)'
        $j.manifest.requestContext.requestScope | Should -Be "subscriptions/$($G.json)"
        (Get-Case Main table).Table | Should -Match "Period\s+Metric\s+Scope\s+Status\s+Blobs\s+Size\s+ValidTill"
        (Get-Case Main table).Table | Should -Match ([regex]::Escape($G.table.Substring(21))) -Because 'the scope shows as the subscription id, its tail kept'
    }
}

Describe 'New-AzCostReport and the service''s answers' -Tag 'CostReport' -Skip:$NoFixture {
    It 'polls the Location of each 202 after its Retry-After' {
        $req = @(Get-ScopeRequests $G.poll202)
        @($req | ForEach-Object { "$($_.method) $($_.status)" }) | Should -Be @('POST 202', 'GET 202', 'GET 202', 'GET 200')
        foreach ($gap in Get-Gaps $req) { $gap | Should -BeGreaterOrEqual 0.8 }
        $req[1].path | Should -Match "/costDetailsOperationResults/$($req[0].operationId)$"
        (Get-Report faults $G.poll202).Status | Should -Be 'Completed'
    }

    It 'waits as a 429 asks (<Case>: <Seconds> s), with a warning naming the wait' -TestCases @(
        @{ Case = 'q429qpu'; Seconds = 2; Header = 'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after' }
        @{ Case = 'q429entity'; Seconds = 2; Header = 'x-ms-ratelimit-microsoft.costmanagement-entity-retry-after' }
        @{ Case = 'q429tenant'; Seconds = 2; Header = 'x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after' }
        @{ Case = 'q429client'; Seconds = 2; Header = 'x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after' }
        @{ Case = 'q429consumption'; Seconds = 2; Header = 'x-ms-ratelimit-microsoft.consumption-retry-after' }
        @{ Case = 'q429plain'; Seconds = 2; Header = 'Retry-After' }
        @{ Case = 's503'; Seconds = 1; Header = 'Retry-After' }
    ) {
        $req = @(Get-ScopeRequests $G[$Case])
        $i = [array]::FindIndex([object[]] $req, [Predicate[object]] { param($x) $x.status -in 429, 503 })
        $i | Should -BeGreaterOrEqual 0
        $req.Count | Should -BeGreaterThan ($i + 1)
        ($req[$i + 1].timeMs - $req[$i].timeMs) / 1000.0 | Should -BeGreaterOrEqual ($Seconds - 0.2)
        (Get-Report faults $G[$Case]).Status | Should -Be 'Completed'
        $w = @(Get-FaultWarnings $G[$Case])
        $w.Count | Should -Be 1
        $w[0] | Should -Match "$Seconds s"
        $w[0] | Should -Match ([regex]::Escape($Header))
    }

    It 'retries 500, 502, 504 and dropped connections, warning once per retry' -TestCases @(
        @{ Case = 's5xx'; Statuses = @('POST 500', 'POST 502', 'POST 202', 'GET 200') }
        @{ Case = 'dropPost'; Statuses = @('POST 0', 'POST 202', 'GET 200') }
        @{ Case = 'dropPoll'; Statuses = @('POST 202', 'GET 0', 'GET 200') }
        @{ Case = 'poll504'; Statuses = @('POST 202', 'GET 504', 'GET 200') }
    ) {
        @(Get-ScopeRequests $G[$Case] | ForEach-Object { "$($_.method) $($_.status)" }) | Should -Be $Statuses
        (Get-Report faults $G[$Case]).Status | Should -Be 'Completed'
        @(Get-FaultWarnings $G[$Case]).Count | Should -Be @($Statuses | Where-Object { $_ -match ' (0|5\d\d)$' }).Count
        Get-FaultError $G[$Case] | Should -BeNullOrEmpty
    }

    It 'gives up after repeated 5xx answers with AzBillingServiceError' {
        $e = @(Get-FaultError $G.always500)
        $e.Count | Should -Be 1
        $e[0].Id | Should -BeLike 'AzBillingServiceError,*'
        $e[0].Message | Should -Match 'failed \d+ times in a row'
        (Get-Posts $G.always500).Count | Should -Be 9
    }

    It 'writes a NoDataFound report with no blobs and a warning for <Case>' -TestCases @(@{ Case = 'noContent'; Last = 'POST 204' }, @{ Case = 'noData'; Last = 'GET 200' }) {
        $rep = @(Get-Report faults $G[$Case])
        $rep.Count | Should -Be 1
        $rep[0].Status | Should -Be 'NoDataFound'
        $rep[0].BlobCount | Should -Be 0
        @($rep[0].Blobs).Count | Should -Be 0
        $w = @(Get-FaultWarnings $G[$Case])
        $w.Count | Should -Be 1
        $w[0] | Should -Match 'No cost data'
        $req = @(Get-ScopeRequests $G[$Case])
        "$($req[-1].method) $($req[-1].status)" | Should -Be $Last
    }

    It 'maps <Case> to <Id> (<Category>), naming the scope, as a non-terminating error' -TestCases @(
        @{ Case = 's403'; Id = 'AzBillingPermissionDenied'; Category = 'PermissionDenied'; Pattern = 'Cost Management Reader'; Code = 'AuthorizationFailed' }
        @{ Case = 's404'; Id = 'AzBillingNotFound'; Category = 'ObjectNotFound'; Pattern = 'not found'; Code = 'SubscriptionNotFound' }
        @{ Case = 's422'; Id = 'AzBillingUnsupported'; Category = 'NotImplemented'; Pattern = 'pay-as-you-go|WebDirect'; Code = 'Unsupported' }
        @{ Case = 's400'; Id = 'AzBillingServiceError'; Category = 'InvalidResult'; Pattern = 'BadRequest.*no cost data configuration'; Code = 'BadRequest' }
        @{ Case = 'failed'; Id = 'AzBillingServiceError'; Category = 'InvalidResult'; Pattern = 'ReportGenerationFailed.*could not be generated'; Code = 'ReportGenerationFailed' }
    ) {
        $e = @(Get-FaultError $G[$Case])
        $e.Count | Should -Be 1
        $e[0].Id | Should -Be "$Id,AzBillingPS.Commands.NewAzCostReportCommand"
        $e[0].Category | Should -Be $Category
        $e[0].Message | Should -Match ([regex]::Escape("/subscriptions/$($G[$Case])"))
        $e[0].Message | Should -Match $Pattern
        $e[0].Detail | Should -Match "Service error code: $Code; correlation id: [0-9a-f]{8}-"
        @(Get-Report faults $G[$Case]).Count | Should -Be 0
    }

    It 'keeps polling through an unknown status' {
        @(Get-ScopeRequests $G.unknown | ForEach-Object { "$($_.method) $($_.status)" }) | Should -Be @('POST 202', 'GET 200', 'GET 200', 'GET 200')
        (Get-Report faults $G.unknown).Status | Should -Be 'Completed'
    }

    It 'reads manifests with several blobs, explicit links and compressed data' {
        $m = Get-Report faults $G.multi
        $op = $Operations | Where-Object id -EQ $m.OperationId
        $m.BlobCount | Should -Be 3
        @($m.Blobs.Index) | Should -Be @(1, 2, 3)
        @($m.Blobs.ByteCount) | Should -Be @($op.blobs.byteCount)
        $m.ByteCount | Should -Be ($op.blobs.byteCount | Measure-Object -Sum).Sum

        $x = Get-Report faults $G.explicitBlobs
        $x.BlobCount | Should -Be 2
        $x.ByteCount | Should -Be 1234
        $x.Blobs[1].Link | Should -Be 'http://127.0.0.1:10000/devstoreaccount1/costs/part2.csv?sv=2021-08-06&se=2030-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=REDACTED'
        (Get-Report faults $G.compressed).CompressData | Should -BeTrue
        (Get-Report faults $G.multi).CompressData | Should -BeFalse
    }

    It 'writes every report that succeeded, in input order, despite the others'' errors' {
        $r = Get-Case Behaviour faults
        $r.Terminating | Should -BeNullOrEmpty
        $ok = $FaultNames | Where-Object { $_ -notin 's403', 's404', 's422', 's400', 'failed', 'always500' }
        @($r.Reports.Scope) | Should -Be @($ok | ForEach-Object { "/subscriptions/$($G[$_])" })
        @($r.Errors).Count | Should -Be 6
    }
}

Describe 'New-AzCostReport timing, tokens, cancellation and concurrency' -Tag 'CostReport' -Skip:$NoFixture {
    It 'fails a slow report with AzBillingTimeout after -Timeout instead of hanging' {
        $r = Get-Case Behaviour timeout
        @($r.Reports).Count | Should -Be 0
        @($r.Errors).Count | Should -Be 2
        foreach ($e in $r.Errors) {
            $e.Id | Should -Be 'AzBillingTimeout,AzBillingPS.Commands.NewAzCostReportCommand'
            $e.Category | Should -Be 'OperationTimeout'
        }
        $r.Seconds | Should -BeLessThan 4.5
        $r.Seconds | Should -BeGreaterOrEqual 1.8
        # the slow answer's call was abandoned, not waited out
        (Get-Posts $G.slowAnswer)[0].status | Should -Be 499
    }

    It 'renews the token once after a 401 and retries' {
        $r = Get-Case Behaviour refresh
        $r.Errors | Should -BeNullOrEmpty
        @($r.Reports.Status) | Should -Be @('Completed')
        $r.TokenRequests | Should -Be 1
        $p = Get-Posts $G.refresh
        @($p | ForEach-Object { "$($_.status) $($_.authorization)" }) | Should -Be @('401 invalid', '202 valid')
    }

    It 'stops promptly when the pipeline is stopped, cancelling waits and calls in flight' {
        $r = Get-Case Behaviour cancel
        $r.State | Should -Be 'Stopped'
        $r.StopSeconds | Should -BeLessThan 2
        # the slow call was cancelled (the fixture saw the client go away), the waiting report polled no more
        (Get-Posts $G.cancelHttp)[0].status | Should -Be 499
        @(Get-ScopeRequests $G.cancelWait).Count | Should -Be 1
    }

    It 'has at most -ThrottleLimit reports in flight (2 of 6), and does use them' {
        $r = Get-Case Behaviour throttle
        @($r.Reports).Count | Should -Be 6
        @($r.Reports.PeriodStart) | Should -Be @($r.Reports.PeriodStart | Sort-Object)
        $ops = Get-ScopeRequests $G.throttle | Where-Object operationId | Group-Object operationId | ForEach-Object {
            [pscustomobject]@{ Start = ($_.Group.timeMs | Measure-Object -Minimum).Minimum; End = ($_.Group.endTimeMs | Measure-Object -Maximum).Maximum }
        }
        @($ops).Count | Should -Be 6
        $events = foreach ($o in $ops) { [pscustomobject]@{ T = $o.Start; D = 1 }; [pscustomobject]@{ T = $o.End; D = -1 } }
        $now = 0; $max = 0
        foreach ($e in $events | Sort-Object T, D) { $now += $e.D; if ($now -gt $max) { $max = $now } }
        $max | Should -Be 2
    }

    It 'paces calls per scope and polls per report when the pacing scale test hook is set (0.05: one per 1.5 s)' {
        $posts = @(Get-Posts $G.pacing)
        $posts.Count | Should -Be 3
        foreach ($gap in Get-Gaps $posts) { $gap | Should -BeGreaterOrEqual 1.3 }
        foreach ($op in Get-ScopeRequests $G.pacing | Where-Object method -EQ 'GET' | Group-Object operationId) {
            $op.Count | Should -Be 2
            foreach ($gap in Get-Gaps $op.Group) { $gap | Should -BeGreaterOrEqual 1.3 }
        }
        # a 202 without Retry-After waits the default (20 s) scaled: 1 s
        $d = @(Get-ScopeRequests $G.pacingDefault)
        $d.Count | Should -Be 2
        $d[0].retryAfterSent | Should -BeNullOrEmpty
        ($d[1].timeMs - $d[0].timeMs) / 1000.0 | Should -BeGreaterOrEqual 0.9
        (Get-Case Behaviour pacing).Errors | Should -BeNullOrEmpty
        # without pacing (the other cases) the same calls went out back to back
        foreach ($gap in Get-Gaps @(Get-Posts $G.s5xx)) { $gap | Should -BeLessThan 1.3 }
    }
}

Describe 'New-AzCostReport secrets' -Tag 'CostReport' -Skip:$NoFixture {
    It 'never shows a bearer token, the client secret or a SAS signature in any stream, view or JSON of <Run>' -TestCases @(@{ Run = 'Main' }, @{ Run = 'Behaviour' }) {
        $text = (Get-Variable -Name $Run -ValueOnly).AllText
        $issued = Get-TestFixtureIssued $F
        $secrets = @(Get-TestFixtureSecrets $F) + $OwnSigs
        # the search is meaningful: tokens were issued (and renewed), signatures generated, reports written
        @($issued.tokens).Count | Should -BeGreaterOrEqual 3
        @($issued.sasSignatures).Count | Should -BeGreaterThan 20
        $text.Length | Should -BeGreaterThan 10000
        $text | Should -Match 'sig=REDACTED'
        foreach ($s in $secrets) {
            $text.Contains($s) | Should -BeFalse -Because "secret $($s.Substring(0, 6))... must not leak"
            if ($s.Length -gt 60) { $text.Contains(($s -split '\.')[-1].Substring(0, 30)) | Should -BeFalse -Because 'no piece of a token signature may leak' }
        }
    }
}
