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
        $Run.StdOut | Should -Match 'Skipped'
        $Run.StdOut | Should -Match 'Run again'
    }
}
