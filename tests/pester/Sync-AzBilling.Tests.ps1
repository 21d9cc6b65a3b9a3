#Requires -Version 7.4
# Sync-AzBilling end to end: real sign-in (MSAL against the test fixture's Entra ID, client secret and the managed
# identity endpoint Azure Automation uses), real Cost Management calls (the fixture's cost-details API), real blob
# downloads (the fixture's SAS blobs, and Azurite for a large one), real databases (a SQLite file, a throw-away
# PostgreSQL cluster). Each group of cases runs in one child pwsh that imports the built module.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $root = Get-TestRepoRoot
    $script:NoFixture = -not (Test-Path (Join-Path $root 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
    $script:NoPg = $NoFixture -or -not (Get-TestPgBin)
    $script:NoSqlite3 = $NoFixture -or -not (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue)
    $script:NoAzurite = $NoPg -or -not (Get-Command Start-TestAzurite -ErrorAction SilentlyContinue) -or -not (Get-Command Get-TestAzuritePath -ErrorAction SilentlyContinue) -or -not (Get-TestAzuritePath)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Root = Get-TestRepoRoot
    $script:Folder = Join-Path ([IO.Path]::GetTempPath()) ("azb-sync-" + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $Folder | Out-Null
    $script:AllText = [Collections.Generic.List[string]]::new()

    # --- Dates: what the default period must do today (the rule: final from 00:00 UTC on the 5th of the next month).
    $script:Today = [DateTime]::UtcNow.Date
    $script:Current = [datetime]::new($Today.Year, $Today.Month, 1)
    function Get-Month([int] $Offset) { $Current.AddMonths($Offset).ToString('yyyy-MM') }
    function Get-Days([string] $Month) {
        $m = [datetime]::ParseExact($Month + '-01', 'yyyy-MM-dd', [cultureinfo]::InvariantCulture)
        if ($m -eq $Current) { return $Today.Day }
        [DateTime]::DaysInMonth($m.Year, $m.Month)
    }
    function Test-FinalNow([string] $Month) {
        $m = [datetime]::ParseExact($Month + '-01', 'yyyy-MM-dd', [cultureinfo]::InvariantCulture)
        [DateTime]::UtcNow -ge $m.AddMonths(1).AddDays(4)
    }
    # The fixture's generated blobs hold three rows per day of the requested period.
    function Get-ExpectedRows([string] $Month) { 3 * (Get-Days $Month) }

    $script:SubA = '5a000000-0000-0000-0000-00000000000a'
    $script:SubB = '5b000000-0000-0000-0000-00000000000b'

    if (-not $NoFixture) {
        $script:IdentityHeader = 'hdr-' + [guid]::NewGuid().ToString('N')
        # Retry-After 0 on the fixture's reports unless a rule sets it: no case here measures that wait (the one that
        # did, every report requested at once, is xunit's SyncPipelineTests.Requests_in_flight_exceed_the_throttle_limit_...),
        # and each of the file's Sync runs saved a second of polling.
        $script:Fixture = Start-TestAzureFixture -DefaultRetryAfter 0 -ManagedIdentity @{
            identityHeader = $IdentityHeader
            tenantId       = [guid]::NewGuid().ToString()
            systemAssigned = @{ clientId = [guid]::NewGuid().ToString(); objectId = [guid]::NewGuid().ToString() }
        }
        $script:BaseEnv = @{}
        foreach ($k in $Fixture.ChildEnv.Keys) { $BaseEnv[$k] = $Fixture.ChildEnv[$k] }
        $BaseEnv.NO_COLOR = '1'
        foreach ($k in 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'IMDS_ENDPOINT', 'MSI_ENDPOINT', 'AZURE_POD_IDENTITY_AUTHORITY_HOST') { $BaseEnv[$k] = $null }
        # Azure Automation's managed identity: an App Service-style endpoint and header.
        $script:MiEnv = @{ IDENTITY_ENDPOINT = "$($Fixture.Http)/msi/token"; IDENTITY_HEADER = $IdentityHeader }
    }
    $script:Pg = if (-not $NoPg) { Start-TestPostgres -WarningAction SilentlyContinue }
    $script:Sqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source

    # --- The child side: sign-in splat, and Invoke-Sync, which runs one Sync and records what came out of every stream.
    $script:Prelude = @'
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$secret = ConvertTo-SecureString $env:AZB_CLIENT_SECRET -AsPlainText -Force
$SignIn = @{ TenantId = $env:AZB_TENANT; ClientId = $env:AZB_CLIENT_ID; ClientSecret = $secret; AuthorityHost = $env:AZB_FIXTURE_HTTPS; ResourceManagerUrl = $env:AZB_FIXTURE_HTTPS }
$Results = [ordered]@{}
function Get-Requests { $all = Invoke-RestMethod "$env:AZB_FIXTURE_HTTP/_fixture/cost/requests"; $all }
function Set-Rules([object[]] $Rules) {
    $null = Invoke-RestMethod -Method Post "$env:AZB_FIXTURE_HTTP/_fixture/cost/rules" -ContentType 'application/json' -Body (@{ rules = @($Rules) } | ConvertTo-Json -Depth 8 -Compress)
}
function Invoke-Sync([string] $Name, [hashtable] $Parameters, [object[]] $Pipe) {
    $before = (Get-Requests).Count
    $r = [ordered]@{ Name = $Name; Ok = $false; Terminating = $null; Summary = $null; Results = @(); Errors = @(); Warnings = @(); Verbose = 0 }
    $items = @()
    try {
        if ($Pipe) { $items = @($Pipe | Sync-AzBilling @Parameters *>&1); $r.Ok = $? }
        else { $items = @(Sync-AzBilling @Parameters *>&1); $r.Ok = $? }
    }
    catch {
        $r.Terminating = [ordered]@{ Id = $_.FullyQualifiedErrorId; Message = $_.Exception.Message; Category = "$($_.CategoryInfo.Category)" }
        ($_ | Format-List * -Force | Out-String) | Write-Host
    }
    foreach ($i in $items) {
        if ($i -is [AzBillingPS.AzBillingSyncSummary]) {
            $r.Summary = [ordered]@{ Loaded = $i.Loaded; Skipped = $i.Skipped; Failed = $i.Failed; Units = $i.Units; Rows = $i.Rows; Bytes = $i.Bytes; Success = $i.Success; Scopes = $i.Scopes; Table = $i.Table; StateTable = $i.StateTable; FailedUnits = @($i.FailedUnits); RunId = "$($i.RunId)"; Results = @($i.Results).Count }
            ($i | Format-List * -Force | Out-String -Width 300), ($i | Format-Table | Out-String -Width 300), $i.ToString(), ($i | ConvertTo-Json -Depth 4) | Write-Host
        }
        elseif ($i -is [AzBillingPS.AzBillingSyncResult]) {
            $r.Results += [ordered]@{ Scope = $i.Scope; Metric = $i.Metric; Month = $i.Month; Action = "$($i.Action)"; Rows = $i.Rows; RowsReplaced = $i.RowsReplaced; Bytes = $i.Bytes; IsFinal = $i.IsFinal; Reason = $i.Reason; ImportId = "$($i.ImportId)"; OperationId = $i.OperationId; ErrorId = $i.ErrorId; PeriodEnd = $i.PeriodEnd.ToString('yyyy-MM-dd') }
            ($i | Format-List * | Out-String -Width 300), $i.ToString() | Write-Host
        }
        elseif ($i -is [Management.Automation.ErrorRecord]) {
            $r.Errors += [ordered]@{ Id = $i.FullyQualifiedErrorId; Message = "$($i.ErrorDetails.Message)"; Exception = $i.Exception.Message; Target = $i.TargetObject.GetType().Name; TargetMonth = $i.TargetObject.Month; Category = "$($i.CategoryInfo.Category)"; Recommended = $i.ErrorDetails.RecommendedAction }
            ($i | Format-List * -Force | Out-String -Width 300), $i.Exception.ToString() | Write-Host
        }
        elseif ($i -is [Management.Automation.WarningRecord]) { $r.Warnings += $i.Message; Write-Host $i.Message }
        elseif ($i -is [Management.Automation.VerboseRecord]) { $r.Verbose++; Write-Host $i.Message }
        else { Write-Host ($i | Out-String -Width 300) }
    }
    $r.Requests = @(Get-Requests | Select-Object -Skip $before | ForEach-Object { [ordered]@{ Method = $_.method; Path = $_.path; Body = $_.body; Status = $_.status } })
    $Results[$Name] = $r
}
'@

    function Invoke-SyncChild([string] $Script, [hashtable] $Environment = @{}, [string] $WorkingDirectory = $Folder, [int] $TimeoutSeconds = 150) {
        $envs = @{}
        foreach ($k in $BaseEnv.Keys) { $envs[$k] = $BaseEnv[$k] }
        foreach ($k in $Environment.Keys) { $envs[$k] = $Environment[$k] }
        $run = Invoke-ChildPwsh -Script ($Prelude + "`n" + $Script + "`n" + '"##RESULTS##" + ($Results | ConvertTo-Json -Depth 8 -Compress)') -Environment $envs -TimeoutSeconds $TimeoutSeconds -WorkingDirectory $WorkingDirectory
        $AllText.Add($run.StdOut + "`n" + $run.StdErr)
        $line = $run.Output | Where-Object { $_.StartsWith('##RESULTS##') } | Select-Object -Last 1
        if (-not $line) { throw "The child failed (exit $($run.ExitCode)):`n$($run.StdOut)`n$($run.StdErr)" }
        $line.Substring(11) | ConvertFrom-Json -AsHashtable
    }

    function Invoke-Sqlite([string] $Db, [string] $Sql) { & $Sqlite3 -separator '|' $Db $Sql }

    # Rows, distinct import ids and the import id per (scope, month) of a cost table, from the database itself.
    function Get-SqliteUnits([string] $Db, [string] $Table = 'AzureCostDetails') {
        $h = @{}
        foreach ($l in Invoke-Sqlite $Db "SELECT _Scope, substr(Date, 1, 7), count(*), count(DISTINCT _ImportId), min(_ImportId) FROM ""$Table"" GROUP BY 1, 2") {
            $f = $l -split '\|'
            $h["$($f[0])|$($f[1])"] = [pscustomobject]@{ Rows = [int]$f[2]; Imports = [int]$f[3]; ImportId = $f[4] }
        }
        $h
    }

    function Get-PgUnits([string] $Table) {
        $h = @{}
        foreach ($f in @(Invoke-TestPsql $Pg "SELECT ""_Scope"", to_char(""Date"", 'YYYY-MM'), count(*), count(DISTINCT ""_ImportId""), min(""_ImportId""::text) FROM ""$Table"" GROUP BY 1, 2" -Split)) {
            $h["$($f[0])|$($f[1])"] = [pscustomobject]@{ Rows = [int]$f[2]; Imports = [int]$f[3]; ImportId = $f[4] }
        }
        $h
    }

    function Get-PostBodies($Case) { @($Case.Requests | Where-Object Method -eq 'POST' | ForEach-Object { "$($_.Path.Split('/')[2])|$(($_.Body | ConvertFrom-Json).timePeriod.start)|$(($_.Body | ConvertFrom-Json).timePeriod.end)|$(($_.Body | ConvertFrom-Json).metric)" }) | Sort-Object }

    function Get-ExpectedBody([string] $Sub, [string] $Month, [string] $Metric = 'ActualCost') {
        $m = [datetime]::ParseExact($Month + '-01', 'yyyy-MM-dd', [cultureinfo]::InvariantCulture)
        $end = if ($m -eq $Current) { $Today } else { $m.AddMonths(1).AddDays(-1) }
        "$Sub|$($m.ToString('yyyy-MM-dd'))|$($end.ToString('yyyy-MM-dd'))|$Metric"
    }
}

AfterAll {
    if ($script:Fixture) { Stop-TestAzureFixture $Fixture }
    if ($script:Pg) { Stop-TestPostgres $Pg }
    Remove-Item -Recurse -Force $Folder -ErrorAction SilentlyContinue
}

Describe 'Sync-AzBilling' -Tag 'Sync' {
    Context 'SQLite: the default period, run after run' -Skip:$NoSqlite3 {
        BeforeAll {
            $script:Db1 = Join-Path $Folder 'first.sqlite'
            $script:Window = @((Get-Month -2), (Get-Month -1), (Get-Month 0))
            $script:Run = Invoke-SyncChild @"
Invoke-Sync 'first' (`$SignIn + @{ Scope = '$SubA', '/SUBSCRIPTIONS/$SubB/'; DatabasePath = '$Db1'; PassThru = `$true; Verbose = `$true; ThrottleLimit = 3 })
`$Results['afterFirst'] = @(Get-AzBillingSyncState -DatabasePath '$Db1' | ForEach-Object { [ordered]@{ Scope = `$_.Scope; Month = `$_.Month; Status = `$_.Status; IsFinal = `$_.IsFinal; Complete = `$_.Complete; Rows = `$_.Rows; ImportId = "`$(`$_.ImportId)"; LoadedAt = `$_.LoadedAt } })
Invoke-Sync 'second' (`$SignIn + @{ Scope = '$SubA', '$SubB'; DatabasePath = '$Db1'; PassThru = `$true })
`$Results['afterSecond'] = @(Get-AzBillingSyncState -DatabasePath '$Db1' | ForEach-Object { [ordered]@{ Scope = `$_.Scope; Month = `$_.Month; Status = `$_.Status; IsFinal = `$_.IsFinal; Rows = `$_.Rows; ImportId = "`$(`$_.ImportId)" } })
`$Results['incomplete'] = @(Get-AzBillingSyncState -DatabasePath '$Db1' -Incomplete | ForEach-Object Month)
`$Results['bySubA'] = @(Get-AzBillingSyncState -DatabasePath '$Db1' -Scope '$SubA' | ForEach-Object Scope | Sort-Object -Unique)
`$Results['stateView'] = (Get-AzBillingSyncState -DatabasePath '$Db1' | Format-Table | Out-String -Width 300)
# Progress: a parent bar over the units and child bars for each unit's stages.
`$ps = [powershell]::Create()
`$null = `$ps.AddCommand('Import-Module').AddArgument(`$env:AZBILLING_MODULE_PATH).AddStatement()
`$null = `$ps.AddCommand('Sync-AzBilling').AddParameters(`$SignIn).AddParameter('Scope', '$SubA').AddParameter('DatabasePath', '$(Join-Path $Folder 'progress.sqlite')')
`$null = `$ps.Invoke()
`$Results['progress'] = [ordered]@{
    Parent = @(`$ps.Streams.Progress | Where-Object { `$_.ActivityId -eq 1 -and `$_.ParentActivityId -lt 0 }).Count
    ParentCompleted = @(`$ps.Streams.Progress | Where-Object { `$_.ActivityId -eq 1 -and `$_.RecordType -eq 'Completed' }).Count
    Children = @(`$ps.Streams.Progress | Where-Object { `$_.ParentActivityId -eq 1 }).Count
    ChildActivities = @(`$ps.Streams.Progress | Where-Object { `$_.ParentActivityId -eq 1 } | ForEach-Object Activity | Sort-Object -Unique)
    Errors = `$ps.Streams.Error.Count
}
"@
            $script:First = $Run.first
            $script:Second = $Run.second
        }

        It 'the first run loads every month of the window for each scope, once, whole months' {
            $First.Terminating | Should -BeNullOrEmpty
            $First.Ok | Should -BeTrue
            $First.Errors | Should -BeNullOrEmpty
            $First.Summary.Loaded | Should -Be 6
            $First.Summary.Skipped | Should -Be 0
            $First.Summary.Failed | Should -Be 0
            $First.Summary.Scopes | Should -Be 2
            $First.Summary.Success | Should -BeTrue
            $First.Results.Count | Should -Be 6 -Because '-PassThru writes every unit'
            $expected = foreach ($s in $SubA, $SubB) { foreach ($m in $Window) { Get-ExpectedBody $s $m } }
            Get-PostBodies $First | Should -Be ($expected | Sort-Object) -Because 'one report per scope and month: whole months, the current one up to today'
            $units = Get-SqliteUnits $Db1
            foreach ($s in $SubA, $SubB) {
                foreach ($m in $Window) {
                    $u = $units["/subscriptions/$s|$m"]
                    $u.Rows | Should -Be (Get-ExpectedRows $m) -Because "$s $m"
                    $u.Imports | Should -Be 1
                }
            }
            $First.Summary.Rows | Should -Be (2 * ((Get-ExpectedRows $Window[0]) + (Get-ExpectedRows $Window[1]) + (Get-ExpectedRows $Window[2])))
            ($First.Results | Where-Object Month -eq $Window[2] | ForEach-Object IsFinal) | Should -Be @($false, $false)
            ($First.Results | Where-Object Month -eq $Window[1] | ForEach-Object IsFinal) | Should -Be @((Test-FinalNow $Window[1]), (Test-FinalNow $Window[1]))
            $First.Verbose | Should -BeGreaterThan 5
        }

        It 'the state table records each load with its rows, import id and final flag' {
            $state = $Run.afterFirst
            $state.Count | Should -Be 6
            $firstIds = @($First.Results | ForEach-Object ImportId)
            foreach ($row in $state) {
                $row.Status | Should -Be 'Loaded'
                $row.Rows | Should -Be (Get-ExpectedRows $row.Month)
                $row.ImportId | Should -BeIn $firstIds -Because 'the state names the import id of the load that wrote the rows'
                $row.IsFinal | Should -Be (Test-FinalNow $row.Month)
                $row.Complete | Should -Be (Test-FinalNow $row.Month)
            }
            Invoke-Sqlite $Db1 "SELECT count(*) FROM AzureCostDetails_SyncState WHERE Status = 'Loaded' AND LoadedAt IS NOT NULL AND Error IS NULL" | Should -Be '6'
        }

        It 'the second run loads only the open months and reports the rest as skipped' {
            $Second.Ok | Should -BeTrue
            $open = @($Window | Where-Object { -not (Test-FinalNow $_) })
            $closed = @($Window | Where-Object { Test-FinalNow $_ })
            $open | Should -Contain (Get-Month 0)
            $Second.Summary.Loaded | Should -Be (2 * $open.Count)
            $Second.Summary.Skipped | Should -Be (2 * $closed.Count)
            $expected = foreach ($s in $SubA, $SubB) { foreach ($m in $open) { Get-ExpectedBody $s $m } }
            Get-PostBodies $Second | Should -Be ($expected | Sort-Object) -Because 'complete months are not requested again'
            foreach ($r in $Second.Results | Where-Object Action -eq 'Skipped') {
                $r.Month | Should -BeIn $closed
                $r.Reason | Should -Match '^complete: final load of'
                $r.IsFinal | Should -BeTrue
            }
            foreach ($r in $Second.Results | Where-Object Action -eq 'Loaded') {
                $r.RowsReplaced | Should -Be (Get-ExpectedRows $r.Month) -Because 'the earlier load of the month is replaced, not added to'
            }
            # Every row once: each (scope, month) holds one load's rows, the one the state names; reloaded months have a new import id, skipped ones the old.
            $units = Get-SqliteUnits $Db1
            $units.Count | Should -Be 6
            foreach ($row in $Run.afterFirst) {
                $key = "$($row.Scope)|$($row.Month)"
                $u = $units[$key]
                $u.Rows | Should -Be (Get-ExpectedRows $row.Month)
                $u.Imports | Should -Be 1
                $now = $Run.afterSecond | Where-Object { "$($_.Scope)|$($_.Month)" -eq $key }
                $u.ImportId | Should -Be $now.ImportId
                if ($row.Month -in $closed) { $u.ImportId | Should -Be $row.ImportId } else { $u.ImportId | Should -Not -Be $row.ImportId }
            }
        }

        It 'Get-AzBillingSyncState filters by scope and shows what a default run loads again' {
            $Run.bySubA | Should -Be @("/subscriptions/$SubA")
            @($Run.incomplete | Sort-Object -Unique) | Should -Be @($Window | Where-Object { -not (Test-FinalNow $_) } | Sort-Object)
            $Run.stateView | Should -Match 'Month\s+Metric\s+Scope\s+Status'
            $Run.stateView | Should -Match ([regex]::Escape((Get-Month 0)))
        }

        It 'shows a parent progress bar over the units and child bars for their stages' {
            $p = $Run.progress
            $p.Errors | Should -Be 0
            $p.Parent | Should -BeGreaterThan 1
            $p.ParentCompleted | Should -Be 1
            $p.Children | Should -BeGreaterThan 2
            ($p.ChildActivities -join "`n") | Should -Match "Sync /subscriptions/$SubA ActualCost $(Get-Month 0)"
        }
    }

    Context 'PostgreSQL: a failed month is reported, the others load, and the next run retries it' -Skip:$NoPg {
        BeforeAll {
            $script:SubC = '5c000000-0000-0000-0000-00000000000c'
            $script:Failing = Get-Month -2
            $cs = $Pg.ConnectionString
            $script:Run2 = Invoke-SyncChild @"
Set-Rules @(@{ scope = '/subscriptions/$SubC'; period = '$Failing'; status = 403 })
Invoke-Sync 'failing' (`$SignIn + @{ Scope = '$SubC'; Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'Retried'; Metric = 'ActualCost', 'AmortizedCost'; PassThru = `$true })
`$Results['monthsAfterFailure'] = @(Get-AzCostSummary -Provider PostgreSql -ConnectionString '$cs' -Table Retried -GroupBy Month | ForEach-Object { `$_.Month.ToString('yyyy-MM') } | Sort-Object -Unique)
`$Results['failedState'] = @(Get-AzBillingSyncState -Provider PostgreSql -ConnectionString '$cs' -Table Retried -Status Failed | ForEach-Object { [ordered]@{ Month = `$_.Month; Metric = `$_.Metric; Error = `$_.Error; HasData = `$null -ne `$_.LoadedAt } })
Set-Rules @()
Invoke-Sync 'retry' (`$SignIn + @{ Scope = '$SubC'; Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'Retried'; Metric = 'ActualCost', 'AmortizedCost'; PassThru = `$true })
# The service now says the previous month has no ActualCost data: the month is replaced with nothing.
Set-Rules @(@{ scope = '/subscriptions/$SubC'; period = '$(Get-Month -1)'; metric = 'ActualCost'; result = 'NoDataFound' })
Invoke-Sync 'noData' (`$SignIn + @{ Scope = '$SubC'; From = '$(Get-Month -1)-01'; To = '$(Get-Month -1)-01'; Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'Retried'; PassThru = `$true })
`$Results['noDataState'] = @(Get-AzBillingSyncState -Provider PostgreSql -ConnectionString '$cs' -Table Retried -Metric ActualCost | Where-Object Month -eq '$(Get-Month -1)' | ForEach-Object { [ordered]@{ Status = `$_.Status; Rows = `$_.Rows; ImportId = `$_.ImportId } })
Set-Rules @()
"@
        }

        It 'reports the failed unit as a non-terminating error naming it, and loads the others' {
            $c = $Run2.failing
            $c.Terminating | Should -BeNullOrEmpty
            $c.Ok | Should -BeFalse -Because 'a failed unit makes $? false'
            $c.Summary.Failed | Should -Be 2 -Because 'both metrics of the month are refused'
            $c.Summary.Loaded | Should -Be 4
            $c.Summary.Success | Should -BeFalse
            $c.Summary.FailedUnits.Count | Should -Be 2
            $c.Summary.FailedUnits[0] | Should -Match "/subscriptions/$SubC (ActualCost|AmortizedCost) $Failing"
            $c.Errors.Count | Should -Be 2
            foreach ($e in $c.Errors) {
                $e.Id | Should -BeLike 'AzBillingPermissionDenied*'
                $e.Category | Should -Be 'PermissionDenied'
                $e.Target | Should -Be 'AzBillingSyncResult'
                $e.TargetMonth | Should -Be $Failing
                $e.Message | Should -Match "Sync of /subscriptions/$SubC (ActualCost|AmortizedCost) $Failing failed"
                $e.Recommended | Should -Match 'next run retries'
            }
            ($c.Results | Where-Object Action -eq 'Failed').ErrorId | Should -BeLike 'AzBillingPermissionDenied*'
            $Run2.monthsAfterFailure | Should -Be @((Get-Month -1), (Get-Month 0)) -Because 'the refused month has no rows, the others loaded'
        }

        It 'records the failure in the state table' {
            $Run2.failedState.Count | Should -Be 2
            foreach ($s in $Run2.failedState) {
                $s.Month | Should -Be $Failing
                $s.Error | Should -Match '403|AuthorizationFailed|permission'
                $s.HasData | Should -BeFalse
            }
        }

        It 'the next run loads the failed month, saying why' {
            $c = $Run2.retry
            $c.Ok | Should -BeTrue
            $c.Errors | Should -BeNullOrEmpty
            $retried = @($c.Results | Where-Object Month -eq $Failing)
            $retried.Count | Should -Be 2
            $retried.Action | Should -Be @('Loaded', 'Loaded')
            $retried[0].Reason | Should -Match 'last attempt failed'
            $units = Get-PgUnits 'Retried'
            $units["/subscriptions/$SubC|$Failing"].Rows | Should -Be (2 * (Get-ExpectedRows $Failing))
            $units["/subscriptions/$SubC|$Failing"].Imports | Should -Be 2 -Because 'one load per metric'
            @($c.Results | Where-Object Action -eq 'Loaded').Count | Should -BeGreaterOrEqual 2
        }

        It 'a report with no data replaces the month with nothing, and the state says so' {
            $c = $Run2.noData
            $c.Ok | Should -BeTrue
            $r = $c.Results[0]
            $r.Action | Should -Be 'Loaded'
            $r.Rows | Should -Be 0
            $r.RowsReplaced | Should -Be (Get-ExpectedRows (Get-Month -1)) -Because 'the ActualCost rows the retry run loaded'
            $r.Reason | Should -Match 'no data'
            $Run2.noDataState.Count | Should -Be 1
            $Run2.noDataState[0].Status | Should -Be 'Loaded'
            $Run2.noDataState[0].Rows | Should -Be 0
            $Run2.noDataState[0].ImportId | Should -BeNullOrEmpty
            $u = (Get-PgUnits 'Retried')["/subscriptions/$SubC|$(Get-Month -1)"]
            $u.Rows | Should -Be (Get-ExpectedRows (Get-Month -1)) -Because 'only the AmortizedCost rows are left'
            $u.Imports | Should -Be 1
            Invoke-TestPsql $Pg "SELECT count(*) FROM ""Retried"" WHERE ""_Metric"" = 'ActualCost' AND to_char(""Date"", 'YYYY-MM') = '$(Get-Month -1)'" | Should -Be '0'
            Invoke-TestPsql $Pg "SELECT count(*) FROM ""Retried_SyncState"" WHERE ""Status"" = 'Loaded'" | Should -Be '6'
        }
    }

    Context 'PostgreSQL: a new schema and a long table name; a run that cannot start marks nothing Running' -Skip:$NoPg {
        BeforeAll {
            $script:SubS = '5f500000-0000-0000-0000-00000000000f'
            $script:NewSchema = 'sync_' + [guid]::NewGuid().ToString('N').Substring(0, 8)
            # 58 bytes: fits PostgreSQL's 63, but "<table>_SyncState" would not.
            $script:LongTable = ('Long' + [guid]::NewGuid().ToString('N') + ('z' * 58)).Substring(0, 58)
            $cs = $Pg.ConnectionString
            $notAFolder = Join-Path $Folder 'not-a-folder.txt'
            Set-Content -LiteralPath $notAFolder -Value 'a file'
            $script:Run7 = Invoke-SyncChild @"
Invoke-Sync 'schema' (`$SignIn + @{ Scope = '$SubS'; Months = 1; Provider = 'PostgreSql'; ConnectionString = '$cs'; Schema = '$NewSchema'; Table = '$LongTable' })
Invoke-Sync 'okFirst' (`$SignIn + @{ Scope = '$SubS'; Months = 1; Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'NoRunning' })
Invoke-Sync 'badFolder' (`$SignIn + @{ Scope = '$SubS'; Months = 2; Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'NoRunning'; WorkingPath = '$notAFolder' })
"@
        }

        It 'creates the schema, the cost table and its state table (named with a hash) in it' {
            $Run7.schema.Terminating | Should -BeNullOrEmpty
            $Run7.schema.Ok | Should -BeTrue
            $Run7.schema.Summary.Loaded | Should -Be 1
            Invoke-TestPsql $Pg "SELECT count(*) FROM `"$NewSchema`".`"$LongTable`"" | Should -Be "$(Get-ExpectedRows (Get-Month 0))"
            $state = Invoke-TestPsql $Pg "SELECT table_name FROM information_schema.tables WHERE table_schema = '$NewSchema' AND table_name LIKE '%_SyncState'"
            $state | Should -Match '_[0-9a-f]{8}_SyncState$'
            [Text.Encoding]::UTF8.GetByteCount($state) | Should -Be 63
            $Run7.schema.Summary.StateTable | Should -Match ([regex]::Escape($state))
            Invoke-TestPsql $Pg "SELECT `"Status`" FROM `"$NewSchema`".`"$state`"" | Should -Be 'Loaded'
        }

        It 'a -WorkingPath that is a file fails before any unit starts, and no state row says Running' {
            $Run7.badFolder.Terminating.Id | Should -BeLike 'AzBillingInvalidArgument*'
            $Run7.badFolder.Terminating.Message | Should -Match 'not-a-folder\.txt'
            $Run7.okFirst.Ok | Should -BeTrue
            Invoke-TestPsql $Pg "SELECT `"Month`" || '=' || `"Status`" FROM `"NoRunning_SyncState`"" | Should -Be "$(Get-Month 0)=Loaded" -Because 'the failed run wrote nothing: no month is Running'
        }
    }

    Context 'A table whose lock another load holds' -Skip:$NoPg {
        BeforeAll {
            # Another session holds the table's load lock (the advisory lock every load of "public"."Locked" takes).
            $psi = [Diagnostics.ProcessStartInfo]::new($Pg.PsqlPath)
            foreach ($a in '-X', '-q', '-h', '127.0.0.1', '-p', "$($Pg.Port)", '-U', 'postgres', '-d', 'postgres', '-c', "SELECT pg_advisory_lock(hashtextextended('AZBILLINGPS:PUBLIC.LOCKED', 0)), pg_sleep(20)") { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $psi.RedirectStandardOutput = $true
            $script:Holder = [Diagnostics.Process]::Start($psi)
            $until = [DateTime]::UtcNow.AddSeconds(15)
            while ([DateTime]::UtcNow -lt $until -and (Invoke-TestPsql $Pg "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") -eq '0') { Start-Sleep -Milliseconds 100 }
            $cs = $Pg.ConnectionString
            $script:Run5 = Invoke-SyncChild "Invoke-Sync 'locked' (`$SignIn + @{ Scope = '5c100000-0000-0000-0000-000000000001'; Months = 1; Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'Locked'; LockTimeout = 1 })"
        }

        AfterAll { if ($script:Holder -and -not $Holder.HasExited) { $Holder.Kill(); $Holder.WaitForExit() } }

        It 'gives up after -LockTimeout with a clear message, changing nothing' {
            $c = $Run5.locked
            $c.Terminating | Should -BeNullOrEmpty
            $c.Ok | Should -BeFalse
            $c.Summary.Failed | Should -Be 1
            $c.Errors[0].Id | Should -BeLike 'SqlLockTimeout*'
            $c.Errors[0].Category | Should -Be 'ResourceBusy'
            $c.Errors[0].Message | Should -Match 'held its lock for more than 1 seconds; nothing was changed'
            Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.tables WHERE table_name = 'Locked'" | Should -Be '0'
            Invoke-TestPsql $Pg "SELECT ""Status"" FROM ""Locked_SyncState""" | Should -Be 'Failed'
        }
    }

    Context '-AllSubscriptions lists every page and honours -Exclude' -Skip:$NoSqlite3 {
        BeforeAll {
            $script:Subs = @(
                @{ subscriptionId = '5d000000-0000-0000-0000-000000000001'; displayName = 'Contoso Prod'; state = 'Enabled' }
                @{ subscriptionId = '5d000000-0000-0000-0000-000000000002'; displayName = 'Contoso Dev-sandbox'; state = 'Enabled' }
                @{ subscriptionId = '5d000000-0000-0000-0000-000000000003'; displayName = 'Old'; state = 'Deleted' }
                @{ subscriptionId = '5d000000-0000-0000-0000-000000000004'; displayName = 'Contoso Test'; state = 'Disabled' }
                @{ subscriptionId = '5d000000-0000-0000-0000-000000000005'; displayName = 'Contoso Shared'; state = 'Warned' }
            )
            Set-TestSubscriptions $Fixture $Subs -PageSize 2
            $db = Join-Path $Folder 'all.sqlite'
            $script:Run3 = Invoke-SyncChild @"
Invoke-Sync 'all' (`$SignIn + @{ AllSubscriptions = `$true; Exclude = '*sandbox', '5d000000-0000-0000-0000-000000000005'; Months = 1; DatabasePath = '$db'; Verbose = `$true })
"@
        }

        It 'syncs the listed subscriptions except deleted and excluded ones' {
            $c = $Run3.all
            $c.Ok | Should -BeTrue
            $c.Summary.Scopes | Should -Be 2
            $c.Summary.Loaded | Should -Be 2
            @($c.Requests | Where-Object { $_.Method -eq 'GET' -and $_.Path -eq '/subscriptions' }).Count | Should -Be 3 -Because 'five subscriptions, two per page'
            $posted = @($c.Requests | Where-Object Method -eq 'POST' | ForEach-Object { $_.Path.Split('/')[2] } | Sort-Object)
            $posted | Should -Be @('5d000000-0000-0000-0000-000000000001', '5d000000-0000-0000-0000-000000000004')
        }
    }

    Context 'Two Syncs at once on the same target' -Skip:($NoPg -or $NoSqlite3) {
        BeforeAll {
            $script:SubE = '5e000000-0000-0000-0000-00000000000e'
            # Slow reports, so both runs are in flight together.
            Set-TestCostRules $Fixture @(@{ scope = "/subscriptions/$SubE"; pollCount = 2; retryAfter = 1; delayMs = 300 })
            $db = Join-Path $Folder 'concurrent.sqlite'
            $cs = $Pg.ConnectionString
            # Two child processes, each running one Sync into PostgreSQL and one into SQLite at the same time (two runspaces):
            # on each target, two runs from two processes are in flight together.
            $prelude64 = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($Prelude))
            $script = @"
`$prelude = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('$prelude64'))
`$targets = @{ Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'Concurrent' }, @{ DatabasePath = '$db' }
`$jobs = foreach (`$target in `$targets) {
    Start-ThreadJob -ScriptBlock {
        param(`$prelude, `$target, `$module)
        Import-Module `$module
        . ([scriptblock]::Create(`$prelude))
        Invoke-Sync 'run' (`$SignIn + @{ Scope = '$SubE'; Months = 2; LockTimeout = 120 } + `$target)
        `$Results['run']
    } -ArgumentList `$prelude, `$target, `$env:AZBILLING_MODULE_PATH
}
`$Results['pg'] = `$jobs[0] | Receive-Job -Wait -AutoRemoveJob
`$Results['sqlite'] = `$jobs[1] | Receive-Job -Wait -AutoRemoveJob
"@
            $children = foreach ($n in 1, 2) {
                Start-ThreadJob -ScriptBlock {
                    param($helpers, $module, $root, $prelude, $script, $envs, $folder)
                    $env:AZBILLING_MODULE_PATH = $module; $env:AZBILLING_REPO_ROOT = $root
                    Import-Module $helpers
                    Invoke-ChildPwsh -Script ($prelude + "`n" + $script + "`n" + '"##RESULTS##" + ($Results | ConvertTo-Json -Depth 8 -Compress)') -Environment $envs -TimeoutSeconds 150 -WorkingDirectory $folder
                } -ArgumentList (Join-Path $PSScriptRoot 'TestHelpers.psm1'), $env:AZBILLING_MODULE_PATH, $Root, $Prelude, $script, $BaseEnv, $Folder
            }
            $script:Concurrent = foreach ($j in $children) {
                $run = $j | Receive-Job -Wait -AutoRemoveJob
                $AllText.Add($run.StdOut + "`n" + $run.StdErr)
                $line = $run.Output | Where-Object { $_.StartsWith('##RESULTS##') } | Select-Object -Last 1
                if (-not $line) { throw "A concurrent child failed (exit $($run.ExitCode)):`n$($run.StdOut)`n$($run.StdErr)" }
                $res = $line.Substring(11) | ConvertFrom-Json -AsHashtable
                $res.pg
                $res.sqlite
            }
            $script:ConcurrentDb = $db
            Set-TestCostRules $Fixture @()
        }

        It 'both runs load every unit, and every row is in the table once' {
            @($Concurrent).Count | Should -Be 4
            foreach ($c in $Concurrent) {
                $c.Terminating | Should -BeNullOrEmpty
                $c.Ok | Should -BeTrue
                $c.Summary.Loaded | Should -Be 2
            }
            foreach ($units in (Get-PgUnits 'Concurrent'), (Get-SqliteUnits $ConcurrentDb)) {
                foreach ($m in (Get-Month -1), (Get-Month 0)) {
                    $u = $units["/subscriptions/$SubE|$m"]
                    $u.Rows | Should -Be (Get-ExpectedRows $m) -Because "one load's rows for $m, not two"
                    $u.Imports | Should -Be 1
                }
            }
            Invoke-TestPsql $Pg "SELECT count(*) FROM ""Concurrent_SyncState"" WHERE ""Status"" = 'Loaded'" | Should -Be '2'
            Invoke-Sqlite $ConcurrentDb "SELECT count(*) FROM AzureCostDetails_SyncState WHERE Status = 'Loaded'" | Should -Be '2'
        }
    }

    Context 'Killing a Sync mid-load' -Skip:$NoAzurite {
        BeforeAll {
            $script:SubK = '5f000000-0000-0000-0000-00000000000f'
            # The current month: open, so the next default run loads it again whatever happened before.
            $script:KillMonth = Get-Month 0
            $cs = $Pg.ConnectionString
            # The first load: the fixture's small report.
            $script:Before = Invoke-SyncChild "Invoke-Sync 'small' (`$SignIn + @{ Scope = '$SubK'; Months = 1; Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'Killed' })"
            $script:OldUnits = Get-PgUnits 'Killed'

            # Then a large report for the same month, served by Azurite.
            $script:Azurite = Start-TestAzurite
            $big = (New-TestCostFile -Kind Ea -Rows 150000 -Month $KillMonth -Path (Join-Path $Folder 'big.csv') -Seed 5)[0]
            $blob = New-TestBlob $Azurite -Name 'sync/big.csv' -Path $big.FullName
            $link = New-TestBlobSasLink $Azurite -Container $blob.Container -Name $blob.Name
            Set-TestCostRules $Fixture @(@{ scope = "/subscriptions/$SubK"; period = $KillMonth; blobs = @(@{ blobLink = "$link"; byteCount = $blob.Bytes }) })
            $script:BigRows = 150000

            $cmd = Get-TestPwshCommand
            $scriptFile = Join-Path $Folder 'kill.ps1'
            Set-Content -LiteralPath $scriptFile -Encoding utf8NoBOM -Value @"
Import-Module '$env:AZBILLING_MODULE_PATH'
[AzBillingPS.Internal.InternalHooks]::SetTestHook('PacingScale', 0)
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
Sync-AzBilling -TenantId `$env:AZB_TENANT -ClientId `$env:AZB_CLIENT_ID -ClientSecret `$secret -AuthorityHost `$env:AZB_FIXTURE_HTTPS -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS -Scope '$SubK' -Months 1 -Provider PostgreSql -ConnectionString '$cs' -Table Killed -WorkingPath '$(Join-Path $Folder 'killwork')' -Verbose *>&1 | ForEach-Object { "`$_" }
"@
            $psi = [Diagnostics.ProcessStartInfo]::new($cmd.FilePath)
            foreach ($a in $cmd.Arguments) { $psi.ArgumentList.Add($a) }
            foreach ($a in '-NoProfile', '-NonInteractive', '-File', $scriptFile) { $psi.ArgumentList.Add($a) }
            foreach ($k in $BaseEnv.Keys) { if ($null -eq $BaseEnv[$k]) { [void] $psi.Environment.Remove($k) } else { $psi.Environment[$k] = [string] $BaseEnv[$k] } }
            $psi.RedirectStandardOutput = $true
            $psi.UseShellExecute = $false
            $p = [Diagnostics.Process]::Start($psi)
            $script:SawRows = $false
            $seen = [Text.StringBuilder]::new()
            $deadline = [DateTime]::UtcNow.AddSeconds(90)
            while ([DateTime]::UtcNow -lt $deadline -and -not $p.HasExited) {
                $line = $p.StandardOutput.ReadLine()
                [void] $seen.AppendLine($line)
                if ($line -match '50,000 rows') { $script:SawRows = $true; break }
            }
            $p.Kill($true); $p.WaitForExit()
            $AllText.Add($seen.ToString())
            # The server notices the dropped connection and rolls back; wait until its backend has gone.
            $until = [DateTime]::UtcNow.AddSeconds(30)
            while ([DateTime]::UtcNow -lt $until -and (Invoke-TestPsql $Pg "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid()") -ne '0') { Start-Sleep -Milliseconds 200 }
            $script:AfterKill = Get-PgUnits 'Killed'
            $script:StateAfterKill = @(Invoke-TestPsql $Pg "SELECT ""Status"", ""Rows"", ""ImportId""::text FROM ""Killed_SyncState""" -Split)

            $script:LeftByKill = @(Get-ChildItem (Join-Path $Folder 'killwork') -Recurse -File -Force -ErrorAction SilentlyContinue).Count
            $script:After = Invoke-SyncChild "Invoke-Sync 'next' (`$SignIn + @{ Scope = '$SubK'; LookbackMonths = 1; Provider = 'PostgreSql'; ConnectionString = '$cs'; Table = 'Killed'; WorkingPath = '$(Join-Path $Folder 'killwork')'; PassThru = `$true })"
            $script:LeftAfterNext = @(Get-ChildItem (Join-Path $Folder 'killwork') -Force -ErrorAction SilentlyContinue).Count
            Set-TestCostRules $Fixture @()
        }

        AfterAll { if ($script:Azurite) { Stop-TestAzurite $Azurite } }

        It 'leaves the month exactly as the last committed load left it' {
            $Before.small.Ok | Should -BeTrue
            $SawRows | Should -BeTrue -Because 'the child was loading rows when it was killed'
            $key = "/subscriptions/$SubK|$KillMonth"
            $AfterKill[$key].Rows | Should -Be $OldUnits[$key].Rows
            $AfterKill[$key].ImportId | Should -Be $OldUnits[$key].ImportId
            $AfterKill[$key].Imports | Should -Be 1
            $StateAfterKill[0] | Should -Be @('Running', "$($OldUnits[$key].Rows)", $OldUnits[$key].ImportId) -Because 'the killed attempt is Running; the loaded data it describes is still the old load'
        }

        It 'the next run completes the month' {
            $c = $After.next
            $c.Ok | Should -BeTrue
            $r = $c.Results | Where-Object Month -eq $KillMonth
            $r.Action | Should -Be 'Loaded'
            $r.Rows | Should -Be $BigRows
            $units = Get-PgUnits 'Killed'
            $units["/subscriptions/$SubK|$KillMonth"].Rows | Should -Be $BigRows
            $units["/subscriptions/$SubK|$KillMonth"].Imports | Should -Be 1
        }

        It 'the next run removes the files the killed run left behind' {
            $LeftByKill | Should -BeGreaterThan 0 -Because 'a killed process cannot clean up'
            $LeftAfterNext | Should -Be 0
        }
    }

    Context 'The sample runbook and the README, run as written' -Skip:$NoSqlite3 {
        BeforeAll {
            $script:SubR = '5a110000-0000-0000-0000-0000000000a1'
            $script:SubR2 = '5a220000-0000-0000-0000-0000000000a2'
            $runbook = Join-Path $Root 'samples/runbook/Sync-AzBillingRunbook.ps1'
            $db = Join-Path $Folder 'runbook.sqlite'
            $script:RunbookDb = $db
            $defaults = "`$PSDefaultParameterValues['Sync-AzBilling:ResourceManagerUrl'] = `$env:AZB_FIXTURE_HTTPS"
            Set-TestSubscriptions $Fixture @(@{ subscriptionId = $SubR; displayName = 'Runbook Prod'; state = 'Enabled' })
            $envs = @{}; foreach ($k in $BaseEnv.Keys) { $envs[$k] = $BaseEnv[$k] }; foreach ($k in $MiEnv.Keys) { $envs[$k] = $MiEnv[$k] }
            # The two runbook jobs run at once, as two Automation jobs would (the second's 403 concerns only its own scope).
            Set-TestCostRules $Fixture @(@{ scope = "/subscriptions/$SubR2"; status = 403 })
            $jobs = foreach ($extra in '', "-Scope '$SubR', '$SubR2'") {
                $script = "$defaults`n& '$runbook' -Provider Sqlite -ConnectionString 'Data Source=$db' $extra -LookbackMonths 1`nexit `$LASTEXITCODE"
                Start-ThreadJob -ScriptBlock {
                    param($helpers, $module, $root, $script, $envs)
                    $env:AZBILLING_MODULE_PATH = $module; $env:AZBILLING_REPO_ROOT = $root
                    Import-Module $helpers
                    Invoke-ChildPwsh -Environment $envs -TimeoutSeconds 120 -Script $script
                } -ArgumentList (Join-Path $PSScriptRoot 'TestHelpers.psm1'), $env:AZBILLING_MODULE_PATH, $Root, $script, $envs
            }
            $script:RunbookOk = $jobs[0] | Receive-Job -Wait -AutoRemoveJob
            $script:RunbookFail = $jobs[1] | Receive-Job -Wait -AutoRemoveJob
            $AllText.Add($RunbookOk.StdOut + $RunbookOk.StdErr)
            $AllText.Add($RunbookFail.StdOut + $RunbookFail.StdErr)
            Set-TestCostRules $Fixture @()

            # README: the first powershell block of the "Keeping a database current" section.
            $readmeText = Get-Content -Raw (Join-Path $Root 'README.md')
            $section = $readmeText.Substring($readmeText.IndexOf('## Keeping a database current'))
            $script:ReadmeBlock = [regex]::Match($section, '```powershell\r?\n(.*?)```', 'Singleline').Groups[1].Value
            $work = New-Item -ItemType Directory (Join-Path $Folder 'readme')
            Set-Content -LiteralPath (Join-Path $work 'sync.psd1') -Value "@{ ManagedIdentity = `$true; AllSubscriptions = `$true; DatabasePath = 'AzBilling.sqlite' }"
            $setup = @"
`$tenant = `$env:AZB_TENANT; `$app = `$env:AZB_CLIENT_ID; `$sub = '$SubR'
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
`$PSDefaultParameterValues['Sync-AzBilling:AuthorityHost'] = `$env:AZB_FIXTURE_HTTPS
`$PSDefaultParameterValues['Sync-AzBilling:ResourceManagerUrl'] = `$env:AZB_FIXTURE_HTTPS
"@
            Reset-TestCostFixture $Fixture
            $script:Readme = Invoke-ChildPwsh -Environment $envs -TimeoutSeconds 120 -WorkingDirectory $work.FullName -Script ($setup + "`n" + $ReadmeBlock + "`n'##README-DONE##'")
            $AllText.Add($Readme.StdOut + $Readme.StdErr)
            $script:ReadmeDb = Join-Path $work 'AzBilling.sqlite'
            $script:ReadmePosts = @(Get-TestCostRequests $Fixture | Where-Object method -eq 'POST')
        }

        It 'the runbook signs in with the managed identity, syncs every listed subscription and exits 0' {
            $RunbookOk.ExitCode | Should -Be 0 -Because "$($RunbookOk.StdOut)`n$($RunbookOk.StdErr)"
            $RunbookOk.StdOut | Should -Match 'Success\s*:\s*True'
            $RunbookOk.StdErr | Should -BeNullOrEmpty
            (Get-SqliteUnits $RunbookDb)["/subscriptions/$SubR|$(Get-Month 0)"].Rows | Should -Be (Get-ExpectedRows (Get-Month 0))
        }

        It 'the runbook exits 1 when a unit failed, with the failure in the error stream' {
            $RunbookFail.ExitCode | Should -Be 1
            $RunbookFail.StdOut | Should -Match "Failed: /subscriptions/$SubR2 ActualCost"
            $RunbookFail.StdErr | Should -Match "Sync of /subscriptions/$SubR2 ActualCost"
            $RunbookFail.StdErr | Should -Match 'Permission denied'
            (Get-SqliteUnits $RunbookDb)["/subscriptions/$SubR|$(Get-Month 0)"].Imports | Should -Be 1
        }

        It 'the README commands run as written' {
            $ReadmeBlock | Should -Match 'Sync-AzBilling -ConfigPath ./sync.psd1'
            $Readme.ExitCode | Should -Be 0 -Because "$($Readme.StdOut)`n$($Readme.StdErr)"
            $Readme.StdOut | Should -Match '##README-DONE##'
            $Readme.StdErr | Should -BeNullOrEmpty
            $window = @((Get-Month -2), (Get-Month -1), (Get-Month 0))
            $open = @($window | Where-Object { -not (Test-FinalNow $_) })
            $ReadmePosts.Count | Should -Be (3 + $open.Count) -Because 'the first command loads the window, the scheduled one only the open months'
            Invoke-Sqlite $ReadmeDb "SELECT count(*) FROM AzureCostDetails_SyncState WHERE Status = 'Loaded' AND Scope = '/subscriptions/$SubR'" | Should -Be '3'
            $Readme.StdOut | Should -Match ([regex]::Escape($SubR.Substring(20))) -Because 'the results table shows the subscription id, its tail kept'
        }
    }

    Context 'Parameters and the configuration file' -Skip:$NoSqlite3 {
        BeforeAll {
            $cfgDir = New-Item -ItemType Directory (Join-Path $Folder 'cfg')
            $script:CfgDb = Join-Path $cfgDir 'from-config.sqlite'
            $good = Join-Path $cfgDir 'good.psd1'
            Set-Content -LiteralPath $good -Value @"
@{
    # relative to this file's folder
    DatabasePath = 'from-config.sqlite'
    Table    = 'FromFile'
    Scope    = '5c0f0000-0000-0000-0000-000000000001'
    LookbackMonths = 2
    Metric   = 'ActualCost'
    # the command line's -ClientSecret replaces this way of signing in
    ManagedIdentity = `$true
    # the FOCUS view over the table, made after the run
    FocusView = `$true
}
"@
            $unknown = Join-Path $cfgDir 'unknown.psd1'
            Set-Content -LiteralPath $unknown -Value "@{`n    Scope = 'x'`n    Tabel = 'Typo'`n}"
            $secretKey = Join-Path $cfgDir 'secret.psd1'
            Set-Content -LiteralPath $secretKey -Value "@{ ClientSecret = 'nope' }"
            $code = Join-Path $cfgDir 'code.psd1'
            Set-Content -LiteralPath $code -Value "@{ DatabasePath = `$env:HOME }"
            $columnstore = Join-Path $cfgDir 'columnstore.psd1'
            Set-Content -LiteralPath $columnstore -Value "@{ Columnstore = `$true }"
            $script:WhatIfDb = Join-Path $Folder 'whatif.sqlite'
            $script:Run4 = Invoke-SyncChild @"
Invoke-Sync 'config' (`$SignIn + @{ ConfigPath = '$good'; Table = 'Explicit'; Months = 1; PassThru = `$true; Verbose = `$true })
Invoke-Sync 'unknownKey' (`$SignIn + @{ ConfigPath = '$unknown' })
Invoke-Sync 'secretKey' (`$SignIn + @{ ConfigPath = '$secretKey'; Scope = 'x' })
Invoke-Sync 'codeKey' (`$SignIn + @{ ConfigPath = '$code'; Scope = 'x' })
Invoke-Sync 'bothScopes' (`$SignIn + @{ Scope = '$SubA'; AllSubscriptions = `$true })
Invoke-Sync 'noScope' (`$SignIn + @{ DatabasePath = '$WhatIfDb' })
Invoke-Sync 'monthsAndFrom' (`$SignIn + @{ Scope = '$SubA'; Months = 2; From = '2026-01-01' })
Invoke-Sync 'resourceGroup' (`$SignIn + @{ Scope = '/subscriptions/$SubA/resourceGroups/rg1'; DatabasePath = '$WhatIfDb' })
Invoke-Sync 'tokenForSqlite' (`$SignIn + @{ Scope = '$SubA'; UseTokenForDatabase = `$true; DatabasePath = '$WhatIfDb' })
Invoke-Sync 'twoSignIns' (`$SignIn + @{ Scope = '$SubA'; ManagedIdentity = `$true; DatabasePath = '$WhatIfDb' })
Invoke-Sync 'tooOld' (`$SignIn + @{ Scope = '$SubA'; From = '2020-01-01'; DatabasePath = '$WhatIfDb' })
Invoke-Sync 'columnstoreKey' (`$SignIn + @{ ConfigPath = '$columnstore'; Scope = '$SubA'; DatabasePath = '$WhatIfDb' })
Invoke-Sync 'whatIf' (`$SignIn + @{ Scope = '$SubA'; DatabasePath = '$WhatIfDb'; WhatIf = `$true })
Invoke-Sync 'piped' (`$SignIn + @{ Months = 1; DatabasePath = '$(Join-Path $Folder 'piped.sqlite')' }) -Pipe @([pscustomobject]@{ Scope = '/subscriptions/5c0f0000-0000-0000-0000-000000000002' }, '5c0f0000-0000-0000-0000-000000000003')
# Stopping the pipeline (what Ctrl+C does) while reports are being polled.
Set-Rules @(@{ scope = '/subscriptions/5c0f0000-0000-0000-0000-000000000004'; pollCount = 8; retryAfter = 1 })
`$ps = [powershell]::Create()
`$null = `$ps.AddCommand('Import-Module').AddArgument(`$env:AZBILLING_MODULE_PATH).AddStatement()
`$null = `$ps.AddCommand('Sync-AzBilling').AddParameters(`$SignIn).AddParameter('Scope', '5c0f0000-0000-0000-0000-000000000004').AddParameter('Months', 3).AddParameter('DatabasePath', '$(Join-Path $Folder 'stopped.sqlite')').AddParameter('WorkingPath', '$(Join-Path $Folder 'stopwork')')
`$handle = `$ps.BeginInvoke()
`$deadline = [DateTime]::UtcNow.AddSeconds(30)
while ([DateTime]::UtcNow -lt `$deadline -and @(Get-Requests | Where-Object { `$_.method -eq 'GET' -and `$_.path -like '*5c0f0000-0000-0000-0000-000000000004*' }).Count -lt 3) { Start-Sleep -Milliseconds 100 }
`$sw = [Diagnostics.Stopwatch]::StartNew(); `$ps.Stop(); `$sw.Stop()
`$Results['stop'] = [ordered]@{ Seconds = `$sw.Elapsed.TotalSeconds; State = "`$(`$ps.InvocationStateInfo.State)"; Leftover = @(Get-ChildItem '$(Join-Path $Folder 'stopwork')' -Recurse -File -ErrorAction SilentlyContinue).Count; States = @(Get-AzBillingSyncState -DatabasePath '$(Join-Path $Folder 'stopped.sqlite')' | ForEach-Object Status) }
Set-Rules @()
`$Results['stateFromConfig'] = @(Get-AzBillingSyncState -ConfigPath '$good' -Table Explicit | ForEach-Object { "`$(`$_.Scope) `$(`$_.Month) `$(`$_.Status)" })
try { Get-AzBillingSyncState -DatabasePath '$WhatIfDb' -ErrorAction Stop } catch { `$Results['noState'] = [ordered]@{ Id = `$_.FullyQualifiedErrorId; Message = `$_.Exception.Message } }
`$Results['whatIfFile'] = Test-Path '$WhatIfDb'
"@
        }

        It 'reads settings from a .psd1 file, relative paths from its folder, explicit parameters first' {
            $c = $Run4.config
            $c.Terminating | Should -BeNullOrEmpty
            $c.Ok | Should -BeTrue
            $c.Summary.Table | Should -BeExactly 'Explicit' -Because 'the table as -Table takes it, unquoted'
            $c.Summary.StateTable | Should -BeExactly 'Explicit_SyncState'
            $c.Summary.Loaded | Should -Be 1
            $c.Results[0].Scope | Should -Be '/subscriptions/5c0f0000-0000-0000-0000-000000000001'
            Test-Path $CfgDb | Should -BeTrue
            Invoke-Sqlite $CfgDb 'SELECT count(*) FROM Explicit_SyncState' | Should -Be '1'
            Invoke-Sqlite $CfgDb "SELECT type FROM sqlite_master WHERE name = 'Explicit_Focus'" | Should -Be 'view' -Because 'FocusView = $true in the file makes the FOCUS view'
            Invoke-Sqlite $CfgDb 'SELECT count(*) FROM AzBillingPS_Services' | Should -BeGreaterThan 300
            $Run4.stateFromConfig | Should -Be @("/subscriptions/5c0f0000-0000-0000-0000-000000000001 $(Get-Month 0) Loaded") -Because 'Get-AzBillingSyncState takes the target from the same file'
        }

        It 'refuses an unknown key, naming the key, the file and the line' {
            $t = $Run4.unknownKey.Terminating
            $t.Id | Should -BeLike 'SyncConfigUnknownKey*'
            $t.Message | Should -Match "'Tabel'"
            $t.Message | Should -Match 'unknown\.psd1: line 3'
        }

        It 'refuses secrets and code in the file' {
            $Run4.secretKey.Terminating.Id | Should -BeLike 'SyncConfigInvalid*'
            $Run4.secretKey.Terminating.Message | Should -Match 'ClientSecret'
            $Run4.codeKey.Terminating.Id | Should -BeLike 'SyncConfigInvalid*'
            $Run4.codeKey.Terminating.Message | Should -Match 'not a constant'
        }

        It 'stops on contradictory or impossible parameters before any report is requested' {
            foreach ($n in 'bothScopes', 'noScope', 'monthsAndFrom', 'tokenForSqlite', 'twoSignIns') {
                $Run4[$n].Terminating.Id | Should -BeLike 'AzBillingParameterConflict*' -Because $n
            }
            $Run4.resourceGroup.Terminating.Id | Should -BeLike 'AzBillingUnsupported*'
            $Run4.resourceGroup.Terminating.Message | Should -Match 'resource group'
            $Run4.tooOld.Terminating.Id | Should -BeLike 'AzBillingInvalidArgument*'
            $Run4.tooOld.Terminating.Message | Should -Match 'older than'
            # The Columnstore key is read from the file (a SQL Server table option, refused for a SQLite file).
            $Run4.columnstoreKey.Terminating.Id | Should -BeLike 'AzBillingInvalidArgument*'
            $Run4.columnstoreKey.Terminating.Message | Should -Match '-Columnstore is for SQL Server and Azure SQL'
            foreach ($n in 'unknownKey', 'secretKey', 'codeKey', 'bothScopes', 'noScope', 'monthsAndFrom', 'resourceGroup', 'tokenForSqlite', 'twoSignIns', 'tooOld', 'columnstoreKey') {
                @($Run4[$n].Requests | Where-Object Method -eq 'POST').Count | Should -Be 0 -Because $n
            }
        }

        It 'takes scopes from the pipeline, by value and by property name' {
            $c = $Run4.piped
            $c.Ok | Should -BeTrue
            $c.Summary.Scopes | Should -Be 2
            @($c.Requests | Where-Object Method -eq 'POST' | ForEach-Object { $_.Path.Split('/')[2] } | Sort-Object) | Should -Be @('5c0f0000-0000-0000-0000-000000000002', '5c0f0000-0000-0000-0000-000000000003')
        }

        It 'stops promptly when the pipeline is stopped (Ctrl+C), leaving the units Running for the next run' {
            $s = $Run4.stop
            $s.State | Should -Be 'Stopped'
            $s.Seconds | Should -BeLessThan 5 -Because 'the cancellation reaches the poll waits'
            $s.States | Should -Be @('Running', 'Running', 'Running')
            $s.Leftover | Should -Be 0
        }

        It '-WhatIf requests nothing and writes nothing' {
            $c = $Run4.whatIf
            $c.Ok | Should -BeTrue
            @($c.Requests | Where-Object Method -eq 'POST').Count | Should -Be 0
            $c.Summary.Loaded | Should -Be 0
            $Run4.whatIfFile | Should -BeFalse
            $Run4.noState.Id | Should -BeLike 'AzBillingNotFound*' -Because 'reading never creates a database'
            $Run4.noState.Message | Should -Match ([regex]::Escape("No database at $WhatIfDb"))
        }
    }

    Context 'SQL Server (when AZBILLING_TEST_SQLSERVER names one)' -Skip:($NoFixture -or -not $env:AZBILLING_TEST_SQLSERVER) {
        BeforeAll {
            $table = 'AzbSync_' + [guid]::NewGuid().ToString('N').Substring(0, 8)
            $script:SqlRun = Invoke-SyncChild @"
`$cs = `$env:AZBILLING_TEST_SQLSERVER
Invoke-Sync 'first' (`$SignIn + @{ Scope = '$SubA'; Months = 2; ConnectionString = `$cs; Table = '$table' })
Invoke-Sync 'second' (`$SignIn + @{ Scope = '$SubA'; LookbackMonths = 2; ConnectionString = `$cs; Table = '$table'; PassThru = `$true })
`$Results['state'] = @(Get-AzBillingSyncState -ConnectionString `$cs -Table '$table' | ForEach-Object { [ordered]@{ Month = `$_.Month; Status = `$_.Status; Rows = `$_.Rows } })
`$Results['rows'] = (Get-AzCostSummary -ConnectionString `$cs -Table '$table' | Measure-Object Rows -Sum).Sum
"@ -Environment @{ AZBILLING_TEST_SQLSERVER = $env:AZBILLING_TEST_SQLSERVER }
        }

        It 'loads, records and reloads on SQL Server like on the others' {
            $SqlRun.first.Ok | Should -BeTrue
            $SqlRun.first.Summary.Loaded | Should -Be 2
            $SqlRun.second.Ok | Should -BeTrue
            $SqlRun.state.Count | Should -Be 2
            $SqlRun.state.Status | Should -Be @('Loaded', 'Loaded')
            $SqlRun.rows | Should -Be ((Get-ExpectedRows (Get-Month -1)) + (Get-ExpectedRows (Get-Month 0)))
        }
    }

    It 'never shows a secret: client secret, bearer tokens and SAS signatures are absent from every stream' -Skip:$NoFixture {
        $secrets = @(Get-TestFixtureSecrets $Fixture)
        $secrets.Count | Should -BeGreaterThan 5
        $text = $AllText -join "`n"
        $text.Length | Should -BeGreaterThan 10000
        foreach ($s in $secrets) {
            $text.Contains($s) | Should -BeFalse -Because 'no secret may reach any output'
            $text.Contains([Uri]::EscapeDataString($s)) | Should -BeFalse
        }
        $text | Should -Match 'sig=REDACTED'
    }
}
