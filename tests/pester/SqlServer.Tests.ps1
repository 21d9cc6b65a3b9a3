# Live SQL Server / Azure SQL tests: run when AZBILLING_TEST_SQLSERVER holds a connection string, reported as
# skipped otherwise (the T-SQL the sink sends is parsed by ScriptDom in the always-on xunit tests).
BeforeDiscovery {
    $script:NoSqlServer = -not $env:AZBILLING_TEST_SQLSERVER
}

BeforeAll {
    Import-Module $env:AZBILLING_MODULE_PATH -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Cs = $env:AZBILLING_TEST_SQLSERVER
    $script:Data = Join-Path $env:AZBILLING_REPO_ROOT 'tests/data'
    $script:Table = "AzbTest_$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    $script:Scope = '/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f'
    function Get-Total { (Get-AzCostSummary -Provider SqlServer -ConnectionString $Cs -Table $Table | Measure-Object Cost -Sum).Sum }
}

Describe 'Import-AzCostToSql on SQL Server' -Tag 'SqlServer' -Skip:$NoSqlServer {
    It 'loads exact decimals and re-loads without duplicating' {
        $file = Join-Path $Data 'long-decimals.csv'
        $expected = [decimal]0; foreach ($v in (Get-CsvDailySum -Path $file).Values) { $expected += [decimal]::Round($v, 20, 'AwayFromZero') }
        $r1 = Import-AzCostToSql -Path $file -Scope $Scope -Provider SqlServer -ConnectionString $Cs -Table $Table
        $r2 = Import-AzCostToSql -Path $file -Scope $Scope -Provider SqlServer -ConnectionString $Cs -Table $Table
        $r2.RowsReplaced | Should -Be $r1.RowsInserted
        (Get-AzCostSummary -Provider SqlServer -ConnectionString $Cs -Table $Table | Measure-Object Rows -Sum).Sum | Should -Be $r1.RowsInserted
        [decimal](Get-Total) | Should -Be $expected
    }

    It 'a bad value leaves the table as it was' {
        $before = Get-Total
        Import-AzCostToSql -Path (Join-Path $Data 'bad-value.csv') -Scope $Scope -Provider SqlServer -ConnectionString $Cs -Table $Table -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvBadValue*'
        Get-Total | Should -Be $before
    }

    It 'a field that is not UTF-8 text, or holds a NUL, fails naming the line and column and leaves the table as it was (issue 10 §3)' {
        $before = Get-Total
        foreach ($case in @(@('invalid-utf8.csv', 5, 'MeterName'), @('nul-char.csv', 3, 'ResourceName'))) {
            Import-AzCostToSql -Path (Join-Path $Data $case[0]) -Scope $Scope -Provider SqlServer -ConnectionString $Cs -Table $Table -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvInvalidText*'
            $err[0].Exception.Message | Should -BeLike "*$($case[0]): line $($case[1]), column '$($case[2])'*"
        }
        Get-Total | Should -Be $before
    }
}
