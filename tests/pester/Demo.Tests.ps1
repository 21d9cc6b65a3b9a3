#Requires -Version 7.4
# README command 1's main job (samples/Invoke-Demo.ps1, what build.ps1 -Task Demo runs after building): the sample
# files loaded with Import-AzCostToSql, then Sync-AzBilling twice against the test fixture standing in for Azure,
# all into one SQLite file. Runs the script as written, in a child pwsh, in an empty folder.

BeforeDiscovery {
    $root = if ($env:AZBILLING_REPO_ROOT) { $env:AZBILLING_REPO_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    $script:NoFixture = -not (Test-Path (Join-Path $root 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
}

Describe 'The demo (README command 1)' -Tag 'Demo' -Skip:$NoFixture {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
        $script:Root = Get-TestRepoRoot
        Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
        $script:Dir = Join-Path ([IO.Path]::GetTempPath()) ('azb-demo-' + [guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory -Path $Dir | Out-Null
        $demo = Join-Path $Root 'samples/Invoke-Demo.ps1'
        $script:Run = Invoke-ChildPwsh -NoImport -WorkingDirectory $Dir -TimeoutSeconds 240 -Script "& '$demo' -ModulePath `$env:AZBILLING_MODULE_PATH"
        $script:Db = Join-Path $Dir 'AzBilling.sqlite'
    }

    AfterAll {
        Remove-Item -Recurse -Force $Dir -ErrorAction SilentlyContinue
    }

    It 'runs to the end without an error' {
        $Run.TimedOut | Should -BeFalse
        $Run.ExitCode | Should -Be 0 -Because ($Run.StdErr + "`n" + $Run.StdOut)
        $Run.StdErr | Should -BeNullOrEmpty
    }

    It 'loads the sample files and the synced subscription into ./AzBilling.sqlite' {
        Test-Path $Db | Should -BeTrue
        $months = @(Get-AzCostSummary -DatabasePath $Db -GroupBy Month | ForEach-Object { $_.Month.ToString('yyyy-MM') } | Select-Object -Unique)
        $months | Should -Contain '2026-09' -Because 'samples/ea-2026-09.csv is loaded'
        $state = @(Get-AzBillingSyncState -DatabasePath $Db)
        $state.Count | Should -Be 3 -Because 'Sync-AzBilling loads the current month and the two before it by default'
        @($state | Where-Object Status -ne 'Loaded') | Should -BeNullOrEmpty
        @($state.Scope | Sort-Object -Unique) | Should -Be '/subscriptions/0a1b2c3d-0000-4000-8000-000000000001'
        ($state | Measure-Object Rows -Sum).Sum | Should -BeGreaterThan 0
    }

    It 'skips the final months on the second Sync run and loads the open one again' {
        # Each state row names the run that last loaded its month: the month two back is always final by the second
        # run, so it keeps the first run's id; the current month is open, so the second run loaded it again.
        $state = @(Get-AzBillingSyncState -DatabasePath $Db | Sort-Object Month)
        $state.Count | Should -Be 3
        $state[0].IsFinal | Should -BeTrue -Because "$($state[0].Month) ended more than four days ago"
        $state[2].IsFinal | Should -BeFalse -Because 'the current month is still open'
        @($state.RunId | Sort-Object -Unique).Count | Should -Be 2 -Because 'two runs wrote the state: the second one skipped what was final'
        $state[0].RunId | Should -Not -Be $state[2].RunId
        $state[0].LoadedAt | Should -BeLessThan $state[2].LoadedAt
        # And the demo said so on its way: the second run's -PassThru output has the final month as Skipped.
        @($Run.Output | Where-Object { $_ -match "^\s*$([regex]::Escape($state[0].Month))\b" -and $_ -match '\bSkipped\b' }).Count | Should -Be 1
    }

    It 'holds each synced month once, the rows of its last load' -Skip:(-not (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue)) {
        $state = @(Get-AzBillingSyncState -DatabasePath $Db)
        $counts = @{}
        foreach ($line in & sqlite3 -separator '|' $Db "SELECT substr(Date, 1, 7), count(*), count(DISTINCT _ImportId) FROM AzureCostDetails WHERE _Scope = '$($state[0].Scope)' GROUP BY 1") {
            $f = $line -split '\|'; $counts[$f[0]] = @([long] $f[1], [int] $f[2])
        }
        $counts.Count | Should -Be 3
        foreach ($row in $state) {
            $counts[$row.Month][0] | Should -Be $row.Rows -Because "$($row.Month) holds one load's rows, not two"
            $counts[$row.Month][1] | Should -Be 1
        }
    }
}
