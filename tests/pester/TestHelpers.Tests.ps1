#Requires -Version 7.4
# Proves the shared test helpers work: throw-away PostgreSQL, child pwsh, the data generator, independent sums.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoPostgres = -not (Get-TestPgBin)
    $script:NoGenerator = -not (Test-Path (Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.TestData/AzBillingPS.TestData.dll'))
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:DataDir = Join-Path (Get-TestRepoRoot) 'tests/data'
}

Describe 'Start-TestPostgres' -Tag 'Helpers' -Skip:$NoPostgres {
    BeforeAll {
        $script:pg = Start-TestPostgres
    }
    AfterAll {
        Stop-TestPostgres $script:pg
    }

    It 'starts a cluster on loopback and answers select 1' {
        $pg | Should -Not -BeNullOrEmpty
        $pg.Port | Should -BeGreaterThan 0
        $pg.ConnectionString | Should -Be "Host=127.0.0.1;Port=$($pg.Port);Username=postgres;Database=postgres"
        Invoke-TestPsql $pg 'select 1' | Should -Be '1'
    }

    It 'returns rows with | between fields, or split with -Split' {
        $rows = @(Invoke-TestPsql $pg "select g, 'x' || g from generate_series(1, 3) g")
        $rows | Should -Be @('1|x1', '2|x2', '3|x3')
        $split = @(Invoke-TestPsql $pg "select 'a', 'b'" -Split)
        $split[0][1] | Should -Be 'b'
    }

    It 'runs with fsync off' {
        Invoke-TestPsql $pg 'show fsync' | Should -Be 'off'
    }

    It 'throws when the SQL fails' {
        { Invoke-TestPsql $pg 'select * from no_such_table' } | Should -Throw '*no_such_table*'
    }

    It 'stops the cluster and removes its folder' {
        $other = Start-TestPostgres
        $other | Should -Not -BeNullOrEmpty
        Test-Path $other.DataDir | Should -BeTrue
        Stop-TestPostgres $other
        Test-Path $other.Root | Should -BeFalse
        { Invoke-TestPsql $other 'select 1' } | Should -Throw
    }
}

Describe 'Invoke-ChildPwsh' -Tag 'Helpers' {
    It 'returns exit code, stdout, stderr and peak memory of a fresh pwsh' {
        $r = Invoke-ChildPwsh -NoImport -Script @'
"hello $($PSVersionTable.PSVersion.Major)"
[Console]::Error.WriteLine('to stderr')
exit 3
'@
        $r.ExitCode | Should -Be 3
        $r.Output[0] | Should -Match '^hello \d+$'
        $r.StdErr | Should -Match 'to stderr'
        $r.TimedOut | Should -BeFalse
        if ($IsLinux) { $r.PeakWorkingSetBytes | Should -BeGreaterThan 10MB }
    }

    It 'passes environment variables and removes those set to $null' {
        $env:AZB_HELPER_REMOVE_ME = 'present'
        try {
            $r = Invoke-ChildPwsh -NoImport -Environment @{ AZB_HELPER_X = 'x-value'; AZB_HELPER_REMOVE_ME = $null } -Script '"$env:AZB_HELPER_X|$([bool]$env:AZB_HELPER_REMOVE_ME)"'
            $r.Output | Should -Be 'x-value|False'
        }
        finally { Remove-Item Env:AZB_HELPER_REMOVE_ME }
    }

    It 'kills a child that runs past the timeout' {
        $r = Invoke-ChildPwsh -NoImport -TimeoutSeconds 3 -Script 'Start-Sleep -Seconds 60'
        $r.TimedOut | Should -BeTrue
        $r.Duration.TotalSeconds | Should -BeLessThan 30
    }

    It 'imports the module under test first when AZBILLING_MODULE_PATH is set' -Skip:(-not $env:AZBILLING_MODULE_PATH) {
        $r = Invoke-ChildPwsh -Script '(Get-Module AzBillingPS).Name'
        $r.ExitCode | Should -Be 0 -Because $r.StdErr
        $r.Output | Should -Contain 'AzBillingPS'
    }
}

Describe 'Test-data generator' -Tag 'Helpers' -Skip:$NoGenerator {
    It 'writes <Kind> files whose row count and per-day sums agree with Get-CsvDailySum and --daily-sums' -ForEach @(
        @{ Kind = 'Ea'; Columns = 57; DateColumn = 'Date'; CostColumn = 'CostInBillingCurrency' }
        @{ Kind = 'EaLegacy'; Columns = 55; DateColumn = 'Date'; CostColumn = 'Cost' }
        @{ Kind = 'Mca'; Columns = 65; DateColumn = 'date'; CostColumn = 'costInBillingCurrency' }
    ) {
        $path = Join-Path $TestDrive "$Kind.csv"
        $json = Join-Path $TestDrive "$Kind.json"
        $files = @(New-TestCostFile -Kind $Kind -Rows 1500 -Month 2026-02 -Path $path -Seed 7 -DailySumsPath $json)
        $files.Count | Should -Be 1
        Test-Utf8Bom $path | Should -BeTrue
        Get-CsvRowCount $path | Should -Be 1500
        $header = @((Import-Csv $path | Select-Object -First 1).PSObject.Properties.Name)
        $header.Count | Should -Be $Columns

        $sums = Get-CsvDailySum -Path $path -DateColumn $DateColumn -CostColumn $CostColumn
        $sums.Keys.Count | Should -Be 28   # every day of February 2026
        @($sums.Keys)[0] | Should -Be '2026-02-01'
        @($sums.Keys)[-1] | Should -Be '2026-02-28'
        $fromGenerator = Get-Content -Raw $json | ConvertFrom-Json -AsHashtable
        $fromGenerator.Keys.Count | Should -Be 28
        foreach ($day in $sums.Keys) {
            [decimal]::Parse($fromGenerator[$day], [cultureinfo]::InvariantCulture) | Should -Be $sums[$day] -Because $day
        }
        # The default column names (EA) work for all kinds through the aliases.
        (Get-CsvDailySum -Path $path)['2026-02-14'] | Should -Be $sums['2026-02-14']
    }

    It 'is seed-stable and seed-sensitive' {
        $a = New-TestCostFile -Kind Ea -Rows 300 -Month 2026-03 -Path (Join-Path $TestDrive 'a.csv') -Seed 5
        $b = New-TestCostFile -Kind Ea -Rows 300 -Month 2026-03 -Path (Join-Path $TestDrive 'b.csv') -Seed 5
        $c = New-TestCostFile -Kind Ea -Rows 300 -Month 2026-03 -Path (Join-Path $TestDrive 'c.csv') -Seed 6
        (Get-FileHash $a).Hash | Should -Be (Get-FileHash $b).Hash
        (Get-FileHash $a).Hash | Should -Not -Be (Get-FileHash $c).Hash
    }

    It 'splits rows into blobs, each with its own header, adding up to the whole' {
        $whole = Join-Path $TestDrive 'whole.csv'
        New-TestCostFile -Kind Ea -Rows 1000 -Month 2026-03 -Path $whole -Seed 11 | Out-Null
        $blobs = @(New-TestCostFile -Kind Ea -Rows 1000 -Month 2026-03 -Path (Join-Path $TestDrive 'split.csv') -Seed 11 -Blobs 3)
        $blobs.Name | Should -Be @('split_1of3.csv', 'split_2of3.csv', 'split_3of3.csv')
        foreach ($b in $blobs) { Test-Utf8Bom $b.FullName | Should -BeTrue }
        Get-CsvRowCount $blobs.FullName | Should -Be 1000
        $sumBlobs = Get-CsvDailySum -Path $blobs.FullName
        $sumWhole = Get-CsvDailySum -Path $whole
        foreach ($day in $sumWhole.Keys) { $sumBlobs[$day] | Should -Be $sumWhole[$day] }
    }

    It 'writes the value forms a real file has' {
        $path = Join-Path $TestDrive 'forms.csv'
        New-TestCostFile -Kind Ea -Rows 20000 -Month 2026-03 -Path $path -Seed 42 | Out-Null
        $rows = Import-Csv $path
        $costs = $rows.CostInBillingCurrency
        @($costs | Where-Object { $_ -match 'E-\d\d$' }).Count | Should -BeGreaterThan 20
        @($costs | Where-Object { $_ -match '\.\d{20,28}$' }).Count | Should -BeGreaterThan 50
        @($costs | Where-Object { $_.StartsWith('-') }).Count | Should -BeGreaterThan 10
        @($costs | Where-Object { $_ -eq '0' }).Count | Should -BeGreaterThan 10
        @($rows.Date | Where-Object { $_ -match '^\d{1,2}/\d{1,2}/2026$' -and $_.Length -lt 10 }).Count | Should -BeGreaterThan 100
        @($rows.Tags | Where-Object { $_ -match "`n" }).Count | Should -BeGreaterThan 0
        @($rows.ResourceName | Where-Object { $_ -match ',' }).Count | Should -BeGreaterThan 0
        @($rows.IsAzureCreditEligible | Sort-Object -Unique -CaseSensitive) | Should -Be @('False', 'True', 'TRUE')
        @($rows.SubscriptionId | Sort-Object -Unique).Count | Should -Be 3
        [IO.File]::ReadAllText($path).Contains("`r`n") | Should -BeTrue
    }
}

Describe 'tests/data edge-case files' -Tag 'Helpers' {
    It '<File> has <Rows> rows and the per-day sums in tests/data/README.md' -ForEach @(
        @{ File = 'bom-iso-dates.csv'; Rows = 5; Sums = @{ '2026-01-01' = '2.4972'; '2026-01-02' = '2.304'; '2026-01-15' = '0.28275'; '2026-01-31' = '0.036' } }
        @{ File = 'md-dates.csv'; Rows = 7; Sums = @{ '2026-03-01' = '0.015'; '2026-03-05' = '3.456'; '2026-03-15' = '2.76'; '2026-03-31' = '6.5572' } }
        @{ File = 'exponent.csv'; Rows = 6; Sums = @{ '2026-04-01' = '0.0000684902'; '2026-04-02' = '-285'; '2026-04-03' = '0.000087' } }
        @{ File = 'long-decimals.csv'; Rows = 5; Sums = @{ '2026-05-01' = '0.9999999999999999999999999999'; '2026-05-02' = '2'; '2026-05-03' = '-0.3333333333333333333333333333' } }
        @{ File = 'quoted.csv'; Rows = 5; Sums = @{ '2026-06-01' = '2.3224'; '2026-06-02' = '4.146'; '2026-06-03' = '0.69' } }
        @{ File = 'bools.csv'; Rows = 5; Sums = @{ '2026-07-01' = '2.3224'; '2026-07-02' = '0.204'; '2026-07-03' = '6.0528' } }
        @{ File = 'evil-header.csv'; Rows = 3; Sums = @{ '2025-11-01' = '2.304'; '2025-11-02' = '0.0484' } }
        @{ File = 'drift-a.csv'; Rows = 3; Sums = @{ '2025-10-01' = '2.3224'; '2025-10-02' = '0.03' } }
        @{ File = 'drift-b.csv'; Rows = 4; Sums = @{ '2025-10-01' = '2.3224'; '2025-10-02' = '0.03'; '2025-10-03' = '6.0528' } }
        @{ File = 'empty-dates.csv'; Rows = 4; Sums = @{ '2025-09-01' = '2.3224'; '2025-09-02' = '0.03'; '2025-09-30' = '6.0528' } }
        @{ File = 'header-only.csv'; Rows = 0; Sums = @{} }
        @{ File = 'empty.csv'; Rows = 0; Sums = @{} }
    ) {
        $path = Join-Path $DataDir $File
        Get-CsvRowCount $path | Should -Be $Rows
        $sums = Get-CsvDailySum -Path $path
        @($sums.Keys) | Should -Be @($Sums.Keys | Sort-Object)
        foreach ($day in $Sums.Keys) { $sums[$day] | Should -Be ([decimal]::Parse($Sums[$day], [cultureinfo]::InvariantCulture)) -Because $day }
    }

    It 'bad-value.csv: the bad cost is on physical line 4 and the good rows sum as documented' {
        $path = Join-Path $DataDir 'bad-value.csv'
        ([IO.File]::ReadAllLines($path))[3] | Should -Match '"12,34abc"'
        { Get-CsvDailySum -Path $path } | Should -Throw '*12,34abc*'
        $sums = Get-CsvDailySum -Path $path -SkipInvalid
        $sums['2026-08-02'] | Should -Be 0.03
        ($sums.Values | Measure-Object -Sum).Sum | Should -Be 8.4052
    }

    It 'ragged.csv: physical line 4 has one field more than the header' {
        $lines = [IO.File]::ReadAllLines((Join-Path $DataDir 'ragged.csv'))
        $count = { param($l) @(($l -replace '"[^"]*"', 'q') -split ',').Count }
        (& $count $lines[3]) | Should -Be ((& $count $lines[0]) + 1)
        (& $count $lines[2]) | Should -Be (& $count $lines[0])
    }

    It 'every file but empty.csv starts with a BOM' {
        Get-ChildItem $DataDir -Filter '*.csv' | Where-Object Name -NE 'empty.csv' | ForEach-Object {
            Test-Utf8Bom $_.FullName | Should -BeTrue -Because $_.Name
        }
        (Get-Item (Join-Path $DataDir 'empty.csv')).Length | Should -Be 0
    }
}
