#Requires -Version 7.4
# Get-AzBillingSyncState: what the state table says, filtered by scope (any spelling, wildcards), metric, status and
# completeness, the target from parameters or a Sync configuration file, scopes and metrics from the pipeline, and
# clear errors when there is nothing to read. One Sync-AzBilling run against the test fixture (one month refused)
# writes the state; the queries run in the same child pwsh.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoFixture = -not (Test-Path (Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Folder = Join-Path ([IO.Path]::GetTempPath()) ('azb-state-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $Folder | Out-Null
    $script:SubA = '5a5a0000-0000-0000-0000-00000000000a'
    $script:SubB = '5b5b0000-0000-0000-0000-00000000000b'
    $current = [datetime]::new([DateTime]::UtcNow.Year, [DateTime]::UtcNow.Month, 1)
    $script:This = $current.ToString('yyyy-MM')
    $script:Last = $current.AddMonths(-1).ToString('yyyy-MM')
    $script:LastIsFinal = [DateTime]::UtcNow -ge $current.AddDays(4)
    if (-not $NoFixture) {
        # Retry-After 0 on its reports: nothing here measures the wait before a poll.
        $script:Fixture = Start-TestAzureFixture -DefaultRetryAfter 0
        Set-TestCostRules $Fixture @(@{ scope = "/subscriptions/$SubB"; period = $Last; status = 403 })
        $db = Join-Path $Folder 'state.sqlite'
        Set-Content -LiteralPath (Join-Path $Folder 'sync.psd1') -Value "@{ DatabasePath = 'state.sqlite'; Table = 'Costs'; Scope = 'ignored by Get-AzBillingSyncState' }"
        $script:Run = Invoke-ChildPwsh -Environment $Fixture.ChildEnv -TimeoutSeconds 180 -WorkingDirectory $Folder -Script @"
`$ErrorActionPreference = 'Stop'
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
`$signIn = @{ TenantId = `$env:AZB_TENANT; ClientId = `$env:AZB_CLIENT_ID; ClientSecret = `$secret; AuthorityHost = `$env:AZB_FIXTURE_HTTPS; ResourceManagerUrl = `$env:AZB_FIXTURE_HTTPS }
`$units = @(Sync-AzBilling @signIn -Scope '$SubA', '$SubB' -Metric ActualCost, AmortizedCost -Months 2 -DatabasePath '$db' -Table Costs -PassThru -ErrorAction SilentlyContinue)
function Show(`$rows) { @(`$rows | ForEach-Object { [ordered]@{ Scope = `$_.Scope; Metric = `$_.Metric; Month = `$_.Month; Status = `$_.Status; IsFinal = `$_.IsFinal; Complete = `$_.Complete; Rows = `$_.Rows; HasLoad = `$null -ne `$_.LoadedAt; Error = `$_.Error; StateTable = `$_.StateTable; Type = `$_.GetType().FullName } }) }
`$r = [ordered]@{}
`$r.all = Show (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs)
`$r.bareGuid = Show (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs -Scope '$SubA')
`$r.otherSpelling = Show (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs -Scope '/SUBSCRIPTIONS/$($SubA.ToUpperInvariant())/')
`$r.wildcard = Show (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs -Scope '*5b5b*')
`$r.metric = Show (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs -Metric AmortizedCost)
`$r.failed = Show (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs -Status Failed)
`$r.loaded = Show (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs -Status loaded)
`$r.incomplete = Show (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs -Incomplete)
`$r.config = Show (Get-AzBillingSyncState -ConfigPath ./sync.psd1 -Metric ActualCost)
`$r.piped = Show (`$units | Where-Object { `$_.Scope -like '*5b5b*' -and `$_.Metric -eq 'ActualCost' } | Select-Object -First 1 | Get-AzBillingSyncState -DatabasePath '$db' -Table Costs)
`$r.view = (Get-AzBillingSyncState -DatabasePath '$db' -Table Costs | Format-Table | Out-String -Width 250)
try { Get-AzBillingSyncState -DatabasePath '$db' -Table NeverSynced -ErrorAction Stop } catch { `$r.noTable = [ordered]@{ Id = `$_.FullyQualifiedErrorId; Category = "`$(`$_.CategoryInfo.Category)"; Message = `$_.Exception.Message } }
try { Get-AzBillingSyncState -DatabasePath '$(Join-Path $Folder 'none.sqlite')' -ErrorAction Stop } catch { `$r.noDb = [ordered]@{ Id = `$_.FullyQualifiedErrorId; Message = `$_.Exception.Message } }
`$r.noDbFile = Test-Path '$(Join-Path $Folder 'none.sqlite')'
'##RESULTS##' + (`$r | ConvertTo-Json -Depth 6 -Compress)
"@
        $line = $Run.Output | Where-Object { $_.StartsWith('##RESULTS##') } | Select-Object -Last 1
        if (-not $line) { throw "The child failed (exit $($Run.ExitCode)):`n$($Run.StdOut)`n$($Run.StdErr)" }
        $script:R = $line.Substring(11) | ConvertFrom-Json -AsHashtable
    }
}

AfterAll {
    if ($script:Fixture) { Stop-TestAzureFixture $Fixture }
    Remove-Item -Recurse -Force $Folder -ErrorAction SilentlyContinue
}

Describe 'Get-AzBillingSyncState' -Tag 'SyncState' -Skip:$NoFixture {
    It 'returns one row per scope, metric and month the run tried, typed, with the state table it read' {
        $R.all.Count | Should -Be 8
        @($R.all | Where-Object Status -eq 'Loaded').Count | Should -Be 6
        $R.all | ForEach-Object { $_.Type | Should -Be 'AzBillingPS.AzBillingSyncState'; $_.StateTable | Should -BeExactly 'Costs_SyncState' }
        @($R.all | ForEach-Object { "$($_.Scope) $($_.Metric) $($_.Month)" } | Sort-Object -Unique).Count | Should -Be 8
        foreach ($row in $R.all | Where-Object Status -eq 'Loaded') { $row.Rows | Should -BeGreaterThan 0; $row.HasLoad | Should -BeTrue }
    }

    It 'finds a scope by any spelling Sync takes, and by wildcard' {
        $R.bareGuid.Count | Should -Be 4
        @($R.bareGuid.Scope | Sort-Object -Unique) | Should -Be "/subscriptions/$SubA"
        $R.otherSpelling.Count | Should -Be 4
        @($R.otherSpelling.Scope | Sort-Object -Unique) | Should -Be "/subscriptions/$SubA"
        @($R.wildcard.Scope | Sort-Object -Unique) | Should -Be "/subscriptions/$SubB"
    }

    It 'filters by metric and by status (any case)' {
        $R.metric.Count | Should -Be 4
        @($R.metric.Metric | Sort-Object -Unique) | Should -Be 'AmortizedCost'
        $R.loaded.Count | Should -Be 6
        $R.failed.Count | Should -Be 2
        foreach ($f in $R.failed) {
            $f.Scope | Should -Be "/subscriptions/$SubB"
            $f.Month | Should -Be $Last
            $f.Error | Should -Match '403|[Pp]ermission'
            $f.HasLoad | Should -BeFalse
            $f.Complete | Should -BeFalse
        }
    }

    It '-Incomplete lists what a default run would load again: not final, or without a load' {
        $expected = @($R.all | Where-Object { -not ($_.HasLoad -and $_.IsFinal) }).Count
        $R.incomplete.Count | Should -Be $expected
        @($R.incomplete | Where-Object Month -eq $This).Count | Should -Be 4 -Because 'the current month is never final'
        @($R.incomplete | Where-Object Status -eq 'Failed').Count | Should -Be 2
        if ($LastIsFinal) { @($R.incomplete | Where-Object { $_.Month -eq $Last -and $_.Status -eq 'Loaded' }).Count | Should -Be 0 }
        foreach ($row in $R.incomplete) { $row.Complete | Should -BeFalse }
    }

    It 'takes the target from a Sync configuration file (paths relative to it) and ignores its other keys' {
        $R.config.Count | Should -Be 4
        @($R.config.Metric | Sort-Object -Unique) | Should -Be 'ActualCost'
    }

    It 'takes scope and metric by property name from Sync-AzBilling -PassThru results' {
        $R.piped.Count | Should -Be 2
        @($R.piped | ForEach-Object { "$($_.Scope) $($_.Metric)" } | Sort-Object -Unique) | Should -Be "/subscriptions/$SubB ActualCost"
    }

    It 'shows a table of month, metric and status' {
        $header = ($R.view -split '\r?\n' | Where-Object { $_ -match '\bMonth\b' } | Select-Object -First 1)
        foreach ($column in 'Month', 'Metric', 'Status') { $header | Should -Match "\b$column\b" }
        $R.view | Should -Match ([regex]::Escape($This))
        $R.view | Should -Match 'Failed'
    }

    It 'says clearly when there is no state to read, and creates nothing' {
        $R.noTable.Id | Should -BeLike 'SyncStateNotFound*'
        $R.noTable.Category | Should -Be 'ObjectNotFound'
        $R.noTable.Message | Should -Match 'NeverSynced_SyncState'
        $R.noDb.Id | Should -BeLike 'AzBillingNotFound*'
        $R.noDb.Message | Should -Match 'No database at'
        $R.noDbFile | Should -BeFalse
    }
}
