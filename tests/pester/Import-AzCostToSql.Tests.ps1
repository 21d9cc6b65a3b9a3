#Requires -Version 7.4
# Import-AzCostToSql against real databases: SQLite files (read back with the sqlite3 CLI) and a throw-away
# PostgreSQL cluster (Start-TestPostgres). The same tests run on both; the PostgreSQL ones are skipped (never
# passed) when no cluster can be started.
#
# Sums: PostgreSQL stores money as numeric, so per-day sums must equal Get-CsvDailySum's [decimal] sums exactly.
# SQLite stores money as REAL (IEEE double, 15-17 significant digits), so there they are compared within a
# relative tolerance of 1e-6 (absolute floor 1e-12), on values read back with printf('%.17g').

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Providers = @(@{ Provider = 'SQLite' }, @{ Provider = 'PostgreSQL' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:RepoRoot = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) {
        $env:AZBILLING_MODULE_PATH = Join-Path $RepoRoot 'out/AzBillingPS/0.1.0/AzBillingPS.psd1'
    }
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop

    $script:DataDir = Join-Path $RepoRoot 'tests/data'
    $script:Sub = '5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f'
    $script:Scope = "/subscriptions/$Sub"
    $script:Inv = [cultureinfo]::InvariantCulture

    $script:Sqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
    $script:NoSqliteReason = if ($Sqlite3) { $null } else { 'the sqlite3 CLI is not installed, so the SQLite file cannot be read back' }

    $script:Pg = Start-TestPostgres -WarningVariable pgWarn -WarningAction SilentlyContinue
    $script:NoPgReason = if ($Pg) { $null } else { "no throw-away PostgreSQL cluster: $pgWarn" }
    $script:TargetSeq = 0

    function New-TestTarget {
        # A fresh, empty target: a new SQLite file, or a new table name on the cluster.
        param([string] $Provider, [string] $Folder)
        $script:TargetSeq++
        $name = 'Cost{0}_{1}' -f $script:TargetSeq, [guid]::NewGuid().ToString('N').Substring(0, 8)
        if ($Provider -eq 'SQLite') {
            $db = Join-Path $Folder "$name.sqlite"
            return [pscustomobject]@{ Provider = 'SQLite'; Db = $db; Table = 'AzureCostDetails'; Schema = $null
                Ref = '"AzureCostDetails"'; Params = @{ DatabasePath = $db } }
        }
        return [pscustomobject]@{ Provider = 'PostgreSQL'; Db = $null; Table = $name; Schema = 'public'
            Ref = "`"public`".`"$name`""; Params = @{ ConnectionString = $Pg.ConnectionString; Provider = 'PostgreSql'; Table = $name } }
    }

    function Invoke-TargetSql {
        # Runs one query; returns each row as an array of fields ('|'-separated output).
        param([object] $Target, [string] $Sql)
        if ($Target.Provider -eq 'SQLite') {
            $out = & $Sqlite3 -batch -bail -separator '|' $Target.Db $Sql 2>&1
            if ($LASTEXITCODE -ne 0) { throw "sqlite3 failed ($LASTEXITCODE): $($out | Out-String)" }
            foreach ($line in $out) { , ([string]$line -split '\|') }
        }
        else {
            Invoke-TestPsql $Pg $Sql -Split
        }
    }

    function Test-TargetTable {
        param([object] $Target, [string] $Table = $Target.Table)
        if ($Target.Provider -eq 'SQLite') {
            if (-not (Test-Path -LiteralPath $Target.Db)) { return $false }
            $n = @(Invoke-TargetSql $Target "select count(*) from sqlite_master where type = 'table' and name = '$Table'")[0][0]
            return $n -eq '1'
        }
        $n = @(Invoke-TargetSql $Target "select count(*) from information_schema.tables where table_schema = '$($Target.Schema)' and table_name = '$Table'")[0][0]
        return $n -eq '1'
    }

    function Get-TargetColumns {
        param([object] $Target)
        if ($Target.Provider -eq 'SQLite') {
            return @(Invoke-TargetSql $Target "select name from pragma_table_info('$($Target.Table)')" | ForEach-Object { $_[0] })
        }
        return @(Invoke-TargetSql $Target "select column_name from information_schema.columns where table_schema = '$($Target.Schema)' and table_name = '$($Target.Table)' order by ordinal_position" | ForEach-Object { $_[0] })
    }

    function Get-DbDailySum {
        # Per-day sum of CostInBillingCurrency and row count from the database: day -> @{ Sum (string); Rows }.
        param([object] $Target, [string] $Where = '1 = 1')
        $sum = if ($Target.Provider -eq 'SQLite') { "printf('%.17g', sum(`"CostInBillingCurrency`"))" } else { 'sum("CostInBillingCurrency")::text' }
        $result = [ordered]@{}
        foreach ($r in Invoke-TargetSql $Target "SELECT `"Date`", $sum, count(*) FROM $($Target.Ref) WHERE $Where GROUP BY 1 ORDER BY 1") {
            $result[$r[0]] = [pscustomobject]@{ Sum = $r[1]; Rows = [int]$r[2] }
        }
        return $result
    }

    function Get-TargetState {
        # Everything a failed load must leave alone, as one comparable string: rows, per-day sums and counts, import ids.
        param([object] $Target)
        if (-not (Test-TargetTable $Target)) { return '<no table>' }
        $daily = Get-DbDailySum $Target
        $ids = @(Invoke-TargetSql $Target "SELECT DISTINCT `"_ImportId`" FROM $($Target.Ref) ORDER BY 1" | ForEach-Object { $_[0] })
        $count = @(Invoke-TargetSql $Target "SELECT count(*) FROM $($Target.Ref)")[0][0]
        $days = ($daily.Keys | ForEach-Object { "$_=$($daily[$_].Sum)/$($daily[$_].Rows)" }) -join ';'
        return "rows=$count; days=$days; ids=$($ids -join ',')"
    }

    function Assert-DailySum {
        # Database per-day sums against Get-CsvDailySum: exact [decimal] on PostgreSQL, within 1e-6 relative on SQLite (REAL).
        param([object] $Target, [System.Collections.IDictionary] $Expected, [string] $Where = '1 = 1')
        $actual = Get-DbDailySum $Target -Where $Where
        @($actual.Keys) | Should -Be @($Expected.Keys) -Because 'the database holds exactly the days of the file(s)'
        foreach ($day in $Expected.Keys) {
            $want = [decimal] $Expected[$day]
            if ($Target.Provider -eq 'PostgreSQL') {
                [decimal]::Parse($actual[$day].Sum, [Globalization.NumberStyles]::Float, $Inv) | Should -Be $want -Because "numeric sums are exact (${day})"
            }
            else {
                $got = [double]::Parse($actual[$day].Sum, $Inv)
                $tol = [Math]::Max([Math]::Abs([double]$want) * 1e-6, 1e-12)
                [Math]::Abs($got - [double]$want) | Should -BeLessOrEqual $tol -Because "SQLite REAL sums agree within 1e-6 relative (${day}: $got vs $want)"
            }
        }
    }

    function Get-RowCount {
        param([object] $Target, [string] $Where = '1 = 1')
        return [int]@(Invoke-TargetSql $Target "SELECT count(*) FROM $($Target.Ref) WHERE $Where")[0][0]
    }

    function Split-CostFileByDate {
        # Writes the rows of a cost file dated before $Cut to $Before and the others to $After (same header, BOM).
        param([string] $Path, [datetime] $Cut, [string] $Before, [string] $After)
        $rows = @(Import-Csv -LiteralPath $Path -Encoding utf8)
        $dateCol = @($rows[0].PSObject.Properties.Name | Where-Object { $_ -ieq 'Date' })[0]
        $fmt = [string[]]@('MM/dd/yyyy', 'M/d/yyyy', 'yyyy-MM-dd')
        $a = $rows | Where-Object { [datetime]::ParseExact($_.$dateCol, $fmt, $Inv, 0) -lt $Cut }
        $b = $rows | Where-Object { [datetime]::ParseExact($_.$dateCol, $fmt, $Inv, 0) -ge $Cut }
        $a | Export-Csv -LiteralPath $Before -Encoding utf8BOM -UseQuotes AsNeeded
        $b | Export-Csv -LiteralPath $After -Encoding utf8BOM -UseQuotes AsNeeded
    }

    function ConvertTo-PsLiteral([string] $s) { "'" + $s.Replace("'", "''") + "'" }
}

AfterAll {
    Stop-TestPostgres $script:Pg
}

Describe 'Import-AzCostToSql on <Provider>' -Tag 'Import' -ForEach $Providers {
    BeforeAll {
        $script:Gen = Join-Path $TestDrive 'gen'
        New-Item -ItemType Directory -Force -Path $Gen | Out-Null
        # Generated files shared by the tests of this provider (small: a few hundred rows each).
        $script:Ea = New-TestCostFile -Kind Ea -Rows 600 -Month 2026-03 -Path (Join-Path $Gen 'ea-2026-03.csv')
        $script:EaLegacy = New-TestCostFile -Kind EaLegacy -Rows 400 -Month 2026-03 -Path (Join-Path $Gen 'ealegacy-2026-03.csv') -Seed 7
        $script:Mca = New-TestCostFile -Kind Mca -Rows 400 -Month 2026-03 -Path (Join-Path $Gen 'mca-2026-03.csv') -Seed 9
        $script:McaBlobs = @(New-TestCostFile -Kind Mca -Rows 900 -Month 2026-02 -Path (Join-Path $Gen 'report.csv') -Blobs 3 -Seed 11)
        $script:Ea08 = New-TestCostFile -Kind Ea -Rows 300 -Month 2026-08 -Path (Join-Path $Gen 'ea-2026-08.csv') -Seed 5
        $script:Ea12 = New-TestCostFile -Kind Ea -Rows 300 -Month 2025-12 -Path (Join-Path $Gen 'ea-2025-12.csv') -Seed 6
    }

    BeforeEach {
        if ($Provider -eq 'PostgreSQL' -and $NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
        if ($Provider -eq 'SQLite' -and $NoSqliteReason) { Set-ItResult -Skipped -Because $NoSqliteReason }
        $script:T = New-TestTarget -Provider $Provider -Folder $TestDrive
        $script:P = $T.Params
    }

    Context 'parameter sets' {
        It 'Path: loads a file, returns one AzCostImportResult and writes the lineage columns on every row' {
            $file = Join-Path $DataDir 'md-dates.csv'
            $r = @(Import-AzCostToSql -Path $file -Scope $Scope @P)
            $r.Count | Should -Be 1
            $r[0] | Should -BeOfType ([AzBillingPS.AzCostImportResult])
            $r[0].RowsInserted | Should -Be 7
            $r[0].RowsReplaced | Should -Be 0
            @($r[0].Files) | Should -Be @($file)
            $r[0].ImportId | Should -Not -Be ([guid]::Empty)
            $r[0].Elapsed | Should -BeGreaterThan ([timespan]::Zero)
            $r[0].RowsPerSecond | Should -BeGreaterThan 0
            @($r[0].ColumnsAdded).Count | Should -Be 0
            $r[0].Table | Should -Match ([regex]::Escape($T.Table))
            $r[0].Scope | Should -Be $Scope
            $r[0].PeriodStart | Should -Be ([datetime]'2026-03-01')
            $r[0].PeriodEnd | Should -Be ([datetime]'2026-03-31')

            Assert-DailySum $T (Get-CsvDailySum $file)
            $lineage = @(Invoke-TargetSql $T "SELECT `"_Scope`", `"_Metric`", `"_PeriodStart`", `"_PeriodEnd`", `"_SourceFile`", `"_ImportId`", count(*), count(`"_ImportedAt`") FROM $($T.Ref) GROUP BY 1, 2, 3, 4, 5, 6")
            $lineage.Count | Should -Be 1 -Because 'one load writes the same lineage on every row'
            $lineage[0][0..5] | Should -Be @($Scope, 'ActualCost', '2026-03-01', '2026-03-31', $file, $r[0].ImportId.ToString())
            $lineage[0][6] | Should -Be '7'
            $lineage[0][7] | Should -Be '7' -Because '_ImportedAt is set on every row'
        }

        It 'Path: wildcards load every matching file as one unit' {
            $dir = Join-Path $TestDrive "wild-$($T.Table)"
            New-Item -ItemType Directory -Path $dir | Out-Null
            Split-CostFileByDate -Path $Ea.FullName -Cut '2026-03-16' -Before (Join-Path $dir 'part-a.csv') -After (Join-Path $dir 'part-b.csv')
            $r = @(Import-AzCostToSql -Path (Join-Path $dir 'part-*.csv') -Scope $Scope -Confirm:$false @P)
            $r.Count | Should -Be 1
            @($r[0].Files).Count | Should -Be 2
            $r[0].RowsInserted | Should -Be (Get-CsvRowCount $Ea.FullName)
            Assert-DailySum $T (Get-CsvDailySum $Ea.FullName)
        }

        It 'LiteralPath: takes a name with wildcard characters literally, and Get-ChildItem pipes in through PSPath' {
            $dir = Join-Path $TestDrive "lit-$($T.Table)"
            New-Item -ItemType Directory -Path $dir | Out-Null
            $odd = Join-Path $dir 'costs[1].csv'
            Copy-Item -LiteralPath (Join-Path $DataDir 'bools.csv') -Destination $odd
            $r = @(Import-AzCostToSql -LiteralPath $odd -Scope $Scope @P)
            $r.Count | Should -Be 1
            $r[0].RowsInserted | Should -Be 5
            @($r[0].Files) | Should -Be @($odd)

            Copy-Item -LiteralPath (Join-Path $DataDir 'quoted.csv') -Destination (Join-Path $dir 'quoted.csv')
            $r2 = @(Get-ChildItem -LiteralPath $dir -Filter '*.csv' | Import-AzCostToSql -Scope $Scope @P)
            $r2.Count | Should -Be 1 -Because 'the piped files form one unit'
            @($r2[0].Files).Count | Should -Be 2
            $r2[0].RowsReplaced | Should -Be 5 -Because 'bools.csv (2026-07) was loaded before and is replaced'
            $r2[0].RowsInserted | Should -Be 10
            Get-RowCount $T | Should -Be 10
        }

        It 'Path: -Metric AmortizedCost is kept apart from ActualCost of the same period' {
            $file = Join-Path $DataDir 'md-dates.csv'
            $null = Import-AzCostToSql -Path $file -Scope $Scope @P
            $r = Import-AzCostToSql -Path $file -Scope $Scope -Metric AmortizedCost @P
            $r.RowsReplaced | Should -Be 0
            $r.Metric | Should -Be 'AmortizedCost'
            Get-RowCount $T -Where "`"_Metric`" = 'AmortizedCost'" | Should -Be 7
            Get-RowCount $T -Where "`"_Metric`" = 'ActualCost'" | Should -Be 7
        }

        It 'InputObject: a hand-built AzCostFile loads with the period it carries' {
            $f = [AzBillingPS.AzCostFile]::new($Ea.FullName, $Scope, 'ActualCost', [datetime]'2026-03-01', [datetime]'2026-03-31', 1, 1)
            $r = @($f | Import-AzCostToSql @P)
            $r.Count | Should -Be 1
            $r[0].PeriodStart | Should -Be ([datetime]'2026-03-01')
            $r[0].PeriodEnd | Should -Be ([datetime]'2026-03-31')
            $r[0].RowsInserted | Should -Be (Get-CsvRowCount $Ea.FullName)
            Assert-DailySum $T (Get-CsvDailySum $Ea.FullName)
        }

        It 'InputObject: the three blobs of one report load as one unit, in whatever order they arrive' {
            $McaBlobs.Count | Should -Be 3
            $files = foreach ($i in 2, 3, 1) {
                New-Object AzBillingPS.AzCostFile -Property @{
                    Path = $McaBlobs[$i - 1].FullName; Scope = $Scope; Metric = 'ActualCost'; OperationId = 'op-1'
                    PeriodStart = [datetime]'2026-02-01'; PeriodEnd = [datetime]'2026-02-28'; BlobIndex = $i; BlobCount = 3
                }
            }
            $r = @($files | Import-AzCostToSql @P)
            $r.Count | Should -Be 1 -Because 'one report is one unit'
            @($r[0].Files) | Should -Be @($McaBlobs.FullName) -Because 'the files are loaded in blob order'
            $r[0].RowsInserted | Should -Be (Get-CsvRowCount $McaBlobs.FullName)
            Assert-DailySum $T (Get-CsvDailySum $McaBlobs.FullName)
            @(Invoke-TargetSql $T "SELECT DISTINCT `"_ImportId`" FROM $($T.Ref)").Count | Should -Be 1
            foreach ($blob in $McaBlobs) {
                Get-RowCount $T -Where "`"_SourceFile`" = '$($blob.FullName)'" | Should -Be (Get-CsvRowCount $blob.FullName) -Because '_SourceFile names the blob each row came from'
            }
        }

        It 'InputObject: an incomplete report gives ImportIncompleteReport and loads nothing, while a complete one in the same pipeline loads' {
            $before = Get-TargetState $T
            $partial = foreach ($i in 1, 2) {
                [AzBillingPS.AzCostFile]::new($McaBlobs[$i - 1].FullName, $Scope, 'ActualCost', [datetime]'2026-02-01', [datetime]'2026-02-28', $i, 3)
            }
            $complete = [AzBillingPS.AzCostFile]::new((Join-Path $DataDir 'bools.csv'), $Scope, 'ActualCost', [datetime]'2026-07-01', [datetime]'2026-07-31', 1, 1)
            $r = @(@($partial[0], $complete, $partial[1]) | Import-AzCostToSql @P -ErrorVariable err -ErrorAction SilentlyContinue)
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'ImportIncompleteReport*'
            $err[0].Exception.Message | Should -Match '3 blob'
            $r.Count | Should -Be 1
            $r[0].RowsInserted | Should -Be 5
            Get-RowCount $T -Where "`"Date`" < '2026-03-01'" | Should -Be 0 -Because 'no row of the incomplete February report is loaded'
            Get-RowCount $T | Should -Be 5
            $before | Should -Be '<no table>'
        }
    }

    Context 'exactly once' {
        It 'a second load of the same file replaces the first: same rows, same per-day sums, only the new import id' {
            $first = Import-AzCostToSql -Path $Ea.FullName -Scope $Scope @P
            $state1 = Get-DbDailySum $T
            $second = Import-AzCostToSql -Path $Ea.FullName -Scope $Scope @P
            $second.RowsReplaced | Should -Be $first.RowsInserted
            $second.RowsInserted | Should -Be $first.RowsInserted
            Get-RowCount $T | Should -Be $first.RowsInserted
            (Get-DbDailySum $T | ConvertTo-Json) | Should -Be ($state1 | ConvertTo-Json)
            @(Invoke-TargetSql $T "SELECT DISTINCT `"_ImportId`" FROM $($T.Ref)" | ForEach-Object { $_[0] }) | Should -Be @($second.ImportId.ToString())
            Assert-DailySum $T (Get-CsvDailySum $Ea.FullName)
        }

        It 're-loading the month in two half-month chunks (-From/-To) gives the same rows and sums' {
            $whole = Import-AzCostToSql -Path $Ea.FullName -Scope $Scope @P
            $expected = Get-CsvDailySum $Ea.FullName
            $a = Join-Path $TestDrive "half-a-$($T.Table).csv"
            $b = Join-Path $TestDrive "half-b-$($T.Table).csv"
            Split-CostFileByDate -Path $Ea.FullName -Cut '2026-03-16' -Before $a -After $b
            $ra = Import-AzCostToSql -Path $a -Scope $Scope -From 2026-03-01 -To 2026-03-15 @P
            $rb = Import-AzCostToSql -Path $b -Scope $Scope -From 2026-03-16 -To 2026-03-31 @P
            ($ra.RowsReplaced + $rb.RowsReplaced) | Should -Be $whole.RowsInserted
            ($ra.RowsInserted + $rb.RowsInserted) | Should -Be $whole.RowsInserted
            Get-RowCount $T | Should -Be $whole.RowsInserted
            Assert-DailySum $T $expected
            # And back to one whole-month load.
            $again = Import-AzCostToSql -Path $Ea.FullName -Scope $Scope @P
            $again.RowsReplaced | Should -Be $whole.RowsInserted
            Get-RowCount $T | Should -Be $whole.RowsInserted
            Assert-DailySum $T $expected
        }

        It 'a load replaces only its own period: a half-month chunk leaves the other half alone' {
            $null = Import-AzCostToSql -Path $Ea.FullName -Scope $Scope @P
            $secondHalf = Get-DbDailySum $T -Where "`"Date`" >= '2026-03-16'"
            $a = Join-Path $TestDrive "only-a-$($T.Table).csv"
            $b = Join-Path $TestDrive "only-b-$($T.Table).csv"
            Split-CostFileByDate -Path $Ea.FullName -Cut '2026-03-16' -Before $a -After $b
            $null = Import-AzCostToSql -Path $a -Scope $Scope -From 2026-03-01 -To 2026-03-15 @P
            (Get-DbDailySum $T -Where "`"Date`" >= '2026-03-16'" | ConvertTo-Json) | Should -Be ($secondHalf | ConvertTo-Json)
            Assert-DailySum $T (Get-CsvDailySum $Ea.FullName)
        }

        It 'scope normalisation: a bare GUID and the full scope in other case and with a trailing slash hit the same rows' {
            $file = Join-Path $DataDir 'bom-iso-dates.csv'
            $r1 = Import-AzCostToSql -Path $file -Scope $Sub.ToUpperInvariant() @P
            $r1.Scope | Should -Be $Scope
            $r2 = Import-AzCostToSql -Path $file -Scope "/Subscriptions/$($Sub.ToUpperInvariant())/" @P
            $r2.RowsReplaced | Should -Be 5
            $f = [AzBillingPS.AzCostFile]::new($file, "SUBSCRIPTIONS/$Sub", 'ActualCost', [datetime]'2026-01-01', [datetime]'2026-01-31', 1, 1)
            $r3 = $f | Import-AzCostToSql @P
            $r3.RowsReplaced | Should -Be 5
            Get-RowCount $T | Should -Be 5
            @(Invoke-TargetSql $T "SELECT DISTINCT `"_Scope`" FROM $($T.Ref)" | ForEach-Object { $_[0] }) | Should -Be @($Scope)
        }

        It 'header-only file with -From/-To deletes that period; without them warns and changes nothing' {
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope $Scope @P
            $before = Get-TargetState $T
            $none = @(Import-AzCostToSql -Path (Join-Path $DataDir 'header-only.csv') -Scope $Scope @P -WarningVariable warn -WarningAction SilentlyContinue)
            $none.Count | Should -Be 0
            ($warn -join ' ') | Should -Match 'header-only\.csv'
            Get-TargetState $T | Should -Be $before

            $r = Import-AzCostToSql -Path (Join-Path $DataDir 'header-only.csv') -Scope $Scope -From 2026-03-01 -To 2026-03-15 @P
            $r.RowsInserted | Should -Be 0
            $r.RowsReplaced | Should -Be 5
            Get-RowCount $T | Should -Be 2
            @((Get-DbDailySum $T).Keys) | Should -Be @('2026-03-31')
        }
    }

    Context 'columns and values' {
        It 'EA, EA legacy header (aliases) and MCA files share one table under canonical column names' {
            $scopes = @{ Ea = '/subscriptions/11111111-1111-1111-1111-111111111111'; Legacy = '/subscriptions/22222222-2222-2222-2222-222222222222'; Mca = '/subscriptions/33333333-3333-3333-3333-333333333333' }
            $null = Import-AzCostToSql -Path $Ea.FullName -Scope $scopes.Ea @P
            $rl = Import-AzCostToSql -Path $EaLegacy.FullName -Scope $scopes.Legacy @P -WarningVariable wl -WarningAction SilentlyContinue
            @($rl.ColumnsAdded).Count | Should -Be 0 -Because 'Cost, Product, BillingCurrency and InvoiceSection are aliases of columns the EA file created'
            $rm = Import-AzCostToSql -Path $Mca.FullName -Scope $scopes.Mca @P -WarningVariable wm -WarningAction SilentlyContinue
            @($rm.ColumnsAdded) | Should -Contain 'InvoiceId'
            @($rm.ColumnsAdded) | Should -Not -Contain 'Date'
            @($rm.ColumnsAdded) | Should -Not -Contain 'ResourceGroup'
            ($wm -join ' ') | Should -Match 'InvoiceId'

            $cols = Get-TargetColumns $T
            foreach ($c in 'Date', 'CostInBillingCurrency', 'ProductName', 'BillingCurrencyCode', 'InvoiceSectionName', 'ResourceGroup', 'CostInUsd', 'BenefitId') {
                $cols -ccontains $c | Should -BeTrue -Because "column $c is there with this exact case"
            }
            foreach ($alias in 'Cost', 'Product', 'BillingCurrency', 'InvoiceSection', 'resourceGroupName', 'date', 'costInBillingCurrency', 'benefitId') {
                $cols -ccontains $alias | Should -BeFalse -Because "no column is named exactly $alias"
            }
            @($cols | Group-Object { $_.ToLowerInvariant() } | Where-Object Count -GT 1).Count | Should -Be 0 -Because 'no column appears twice in different case'

            # Each file's own spelling of a column lands in the canonical column: as many non-null values as the file has.
            $spellings = @{
                ProductName         = 'ProductName', 'Product'
                BillingCurrencyCode = 'BillingCurrencyCode', 'BillingCurrency'
                InvoiceSectionName  = 'InvoiceSectionName', 'InvoiceSection'
                ResourceGroup       = 'ResourceGroup', 'resourceGroupName'
                Date                = 'Date'
            }
            foreach ($k in 'Ea', 'Legacy', 'Mca') {
                $file = @{ Ea = $Ea; Legacy = $EaLegacy; Mca = $Mca }[$k]
                Assert-DailySum $T (Get-CsvDailySum $file.FullName) -Where "`"_Scope`" = '$($scopes[$k])'"
                $rows = @(Import-Csv -LiteralPath $file.FullName -Encoding utf8)
                $names = @($rows[0].PSObject.Properties.Name)
                foreach ($canonical in $spellings.Keys) {
                    $src = @($names | Where-Object { $_ -in $spellings[$canonical] })
                    $src.Count | Should -Be 1 -Because "the $k file spells $canonical once"
                    $want = @($rows | Where-Object { $_.($src[0]) -ne '' }).Count
                    $want | Should -BeGreaterThan 0
                    Get-RowCount $T -Where "`"_Scope`" = '$($scopes[$k])' AND `"$canonical`" IS NOT NULL" |
                        Should -Be $want -Because "the $k file's column '$($src[0])' is stored as $canonical"
                }
            }
        }

        It 'stores typed values: dates, decimals, booleans, GUIDs, nulls and quoted text' {
            foreach ($n in 'bools.csv', 'quoted.csv', 'empty-dates.csv', 'long-decimals.csv', 'exponent.csv') {
                $null = Import-AzCostToSql -Path (Join-Path $DataDir $n) -Scope $Scope @P
            }
            $bools = @(Invoke-TargetSql $T "SELECT `"IsAzureCreditEligible`" FROM $($T.Ref) WHERE `"Date`" BETWEEN '2026-07-01' AND '2026-07-31' ORDER BY `"Date`", `"_SourceFile`"" | ForEach-Object { $_[0] })
            $bools.Count | Should -Be 5
            $true_, $false_ = if ($T.Provider -eq 'SQLite') { '1', '0' } else { 't', 'f' }
            ($bools | Where-Object { $_ -eq $true_ }).Count | Should -Be 2
            ($bools | Where-Object { $_ -eq $false_ }).Count | Should -Be 2
            ($bools | Where-Object { $_ -eq '' }).Count | Should -Be 1 -Because 'an empty boolean is NULL'

            Get-RowCount $T -Where "`"ResourceName`" = 'st,web,01'" | Should -BeGreaterThan 0
            Get-RowCount $T -Where "`"MeterName`" = 'P1 v3 `"App`"'" | Should -BeGreaterThan 0
            Get-RowCount $T -Where "`"Date`" BETWEEN '2025-09-01' AND '2025-09-30' AND `"BillingPeriodStartDate`" IS NULL" | Should -Be 3
            Get-RowCount $T -Where "`"Date`" BETWEEN '2025-09-01' AND '2025-09-30' AND `"BillingPeriodEndDate`" IS NULL" | Should -Be 2

            if ($T.Provider -eq 'PostgreSQL') {
                $types = @{}
                Invoke-TargetSql $T "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '$($T.Table)'" |
                    ForEach-Object { $types[$_[0]] = $_[1] }
                $types['Date'] | Should -Be 'date'
                $types['CostInBillingCurrency'] | Should -Be 'numeric'
                $types['Quantity'] | Should -Be 'numeric'
                $types['SubscriptionId'] | Should -Be 'text' -Because 'ids are text: a malformed id does not refuse a file'
                $types['IsAzureCreditEligible'] | Should -Be 'boolean'
                $types['_ImportId'] | Should -Be 'uuid'
                $types['_ImportedAt'] | Should -Be 'timestamp with time zone'
                $types['Tags'] | Should -Be 'jsonb'
                # 28 fractional digits survive exactly.
                @(Invoke-TargetSql $T "SELECT sum(`"CostInBillingCurrency`")::text FROM $($T.Ref) WHERE `"Date`" BETWEEN '2026-05-01' AND '2026-05-31'")[0][0] |
                    Should -Be '2.6666666666666666666666666666'
            }
            else {
                $stored = @(Invoke-TargetSql $T "SELECT DISTINCT typeof(`"CostInBillingCurrency`"), typeof(`"Date`"), typeof(`"IsAzureCreditEligible`") FROM $($T.Ref) WHERE `"Date`" BETWEEN '2026-07-01' AND '2026-07-31' AND `"IsAzureCreditEligible`" IS NOT NULL")
                $stored.Count | Should -Be 1
                $stored[0] | Should -Be @('real', 'text', 'integer')
                Get-RowCount $T -Where "`"Date`" NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'" | Should -Be 0 -Because 'dates are yyyy-MM-dd text'
            }
        }

        It 'per-day sums of every edge-case file match the independent decimal sums' {
            foreach ($n in 'bom-iso-dates.csv', 'md-dates.csv', 'exponent.csv', 'long-decimals.csv', 'quoted.csv', 'bools.csv', 'empty-dates.csv', 'drift-b.csv') {
                $file = Join-Path $DataDir $n
                $r = Import-AzCostToSql -Path $file -Scope $Scope @P -WarningAction SilentlyContinue
                $r.RowsInserted | Should -Be (Get-CsvRowCount $file)
                $expected = Get-CsvDailySum $file
                $first = @($expected.Keys)[0]
                $last = @($expected.Keys)[-1]
                Assert-DailySum $T $expected -Where "`"Date`" BETWEEN '$first' AND '$last'"
            }
            # Figures from tests/data/README.md, as a check on Get-CsvDailySum itself.
            $md = Get-CsvDailySum (Join-Path $DataDir 'md-dates.csv')
            $md['2026-03-31'] | Should -Be ([decimal]'6.5572')
            $ex = Get-CsvDailySum (Join-Path $DataDir 'exponent.csv')
            $ex['2026-04-02'] | Should -Be ([decimal]'-285')
        }

        It 'schema drift: drift-a then drift-b adds the new columns with a warning; drift-a again keeps them (null)' {
            $ra = Import-AzCostToSql -Path (Join-Path $DataDir 'drift-a.csv') -Scope $Scope @P
            $ra.RowsInserted | Should -Be 3
            $rb = Import-AzCostToSql -Path (Join-Path $DataDir 'drift-b.csv') -Scope $Scope @P -WarningVariable warn -WarningAction SilentlyContinue
            $rb.RowsReplaced | Should -Be 3
            $rb.RowsInserted | Should -Be 4
            @($rb.ColumnsAdded | Sort-Object) | Should -Be @('CostAllocationRuleName', 'NewColumnA')
            ($warn -join ' ') | Should -Match 'NewColumnA'
            ($warn -join ' ') | Should -Match 'CostAllocationRuleName'
            $cols = Get-TargetColumns $T
            $cols -ccontains 'NewColumnA' | Should -BeTrue -Because "column 'NewColumnA' is there with this exact case"
            $cols -ccontains 'CostAllocationRuleName' | Should -BeTrue -Because "column 'CostAllocationRuleName' is there with this exact case"
            $cols -ccontains 'costAllocationRuleName' | Should -BeFalse -Because "no column is named exactly 'costAllocationRuleName'"
            Assert-DailySum $T (Get-CsvDailySum (Join-Path $DataDir 'drift-b.csv'))

            # The files' own dates would make drift-a's period 2025-10-01..02 and keep b's 10-03 row; the month is replaced with -From/-To.
            $ra2 = Import-AzCostToSql -Path (Join-Path $DataDir 'drift-a.csv') -Scope $Scope -From 2025-10-01 -To 2025-10-31 @P -WarningVariable warn2 -WarningAction SilentlyContinue
            $ra2.RowsReplaced | Should -Be 4
            @($ra2.ColumnsAdded).Count | Should -Be 0
            (Get-TargetColumns $T) -ccontains 'NewColumnA' | Should -BeTrue
            Get-RowCount $T | Should -Be 3
            Get-RowCount $T -Where "`"NewColumnA`" IS NOT NULL OR `"CostAllocationRuleName`" IS NOT NULL" | Should -Be 0
            Assert-DailySum $T (Get-CsvDailySum (Join-Path $DataDir 'drift-a.csv'))
        }

        It 'an evil header becomes a harmless column: the table and other tables stay' {
            if ($T.Provider -eq 'SQLite') {
                Invoke-TargetSql $T 'CREATE TABLE y (id INTEGER); INSERT INTO y VALUES (1); CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1);' | Out-Null
            }
            else {
                Invoke-TargetSql $T "CREATE TABLE y_$($T.Table) (id int); INSERT INTO y_$($T.Table) VALUES (1);" | Out-Null
            }
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope $Scope @P
            $file = Join-Path $DataDir 'evil-header.csv'
            $r = Import-AzCostToSql -Path $file -Scope $Scope @P -WarningAction SilentlyContinue
            $r.RowsInserted | Should -Be 3
            @($r.ColumnsAdded) | Should -Contain 'x]; DROP TABLE y; --'
            @($r.ColumnsAdded) | Should -Contain 'a"b'
            Test-TargetTable $T | Should -BeTrue
            Get-RowCount $T | Should -Be 10 -Because 'md-dates (7 rows, another month) and evil-header (3 rows) are both there'
            Get-RowCount $T -Where "`"x]; DROP TABLE y; --`" = '''; DELETE FROM t; --'" | Should -BeGreaterThan 0
            Get-RowCount $T -Where "`"a`"`"b`" = 'quote`"value'" | Should -Be 1
            if ($T.Provider -eq 'SQLite') {
                @(Invoke-TargetSql $T 'SELECT count(*) FROM y')[0][0] | Should -Be '1'
                @(Invoke-TargetSql $T 'SELECT count(*) FROM t')[0][0] | Should -Be '1'
            }
            else {
                @(Invoke-TargetSql $T "SELECT count(*) FROM y_$($T.Table)")[0][0] | Should -Be '1'
            }
            Assert-DailySum $T (Get-CsvDailySum $file) -Where "`"Date`" < '2026-01-01'"
        }
    }

    Context 'data that is easy to query' {
        It 'tags are a JSON object the database''s own JSON functions read; a value that cannot be one is kept as its text in a JSON string and counted' {
            $file = Join-Path $DataDir 'quoted.csv'
            $r = Import-AzCostToSql -Path $file -Scope $Scope @P -WarningVariable warn -WarningAction SilentlyContinue
            $r.RowsInserted | Should -Be 5
            @($warn | Where-Object { $_ -match 'Tags' }).Count | Should -Be 1
            ($warn -join "`n") | Should -Match '^1 Tags value\(s\) could not be made a JSON object'
            ($warn -join "`n") | Should -Match ([regex]::Escape("$file`: line 3, column 'Tags'"))
            $env = if ($T.Provider -eq 'SQLite') { "json_extract(`"Tags`", '$.env')" } else { "`"Tags`"->>'env'" }
            $org = if ($T.Provider -eq 'SQLite') { "json_extract(`"Tags`", '$.org')" } else { "`"Tags`"->>'org'" }
            $note = if ($T.Provider -eq 'SQLite') { "json_extract(`"Tags`", '$.note')" } else { "`"Tags`"->>'note'" }
            @(Invoke-TargetSql $T "SELECT $env, count(*) FROM $($T.Ref) WHERE $env IS NOT NULL GROUP BY 1") | ForEach-Object { $_ -join '=' } | Should -Be @('prod=2')
            @(Invoke-TargetSql $T "SELECT $org FROM $($T.Ref) WHERE $org IS NOT NULL")[0][0] | Should -Be 'finance, EMEA'
            (@(Invoke-TargetSql $T "SELECT $note FROM $($T.Ref) WHERE $note IS NOT NULL") | ForEach-Object { $_ -join '|' }) -join "`n" | Should -Match '^line one\r?\nline two$' -Because 'a raw line break inside a value is escaped, not lost'
            if ($T.Provider -eq 'SQLite') {
                @(Invoke-TargetSql $T "SELECT json_type(`"Tags`"), count(*) FROM $($T.Ref) WHERE `"Tags`" IS NOT NULL GROUP BY 1 ORDER BY 1") | ForEach-Object { $_ -join '=' } | Should -Be @('object=3', 'text=1')
                @(Invoke-TargetSql $T "SELECT json_extract(`"Tags`", '$') FROM $($T.Ref) WHERE json_type(`"Tags`") = 'text'")[0][0] | Should -Be 'env=prod;team=x'
            }
            else {
                @(Invoke-TargetSql $T "SELECT jsonb_typeof(`"Tags`"), count(*) FROM $($T.Ref) WHERE `"Tags`" IS NOT NULL GROUP BY 1 ORDER BY 1") | ForEach-Object { $_ -join '=' } | Should -Be @('object=3', 'string=1')
                @(Invoke-TargetSql $T "SELECT `"Tags`" #>> '{}' FROM $($T.Ref) WHERE jsonb_typeof(`"Tags`") = 'string'")[0][0] | Should -Be 'env=prod;team=x'
            }
        }

        It 'ids are text: a file with malformed subscription and meter ids loads' {
            $file = Join-Path $TestDrive "ids-$($T.Table).csv"
            Set-Content -LiteralPath $file -Encoding utf8BOM -Value @(
                'Date,SubscriptionId,MeterId,MeterCategory,CostInBillingCurrency,BillingCurrencyCode'
                '03/01/2026,5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f0,abc,Storage,1.25,USD'
                '03/02/2026,5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e,00000000-0000-0000-0000-000000000001,Storage,2.5,USD'
                '03/03/2026,xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx,,Storage,3,USD')
            $r = Import-AzCostToSql -Path $file -Scope $Scope @P
            $r.RowsInserted | Should -Be 3
            @(Invoke-TargetSql $T "SELECT `"SubscriptionId`" FROM $($T.Ref) ORDER BY `"Date`"") | ForEach-Object { $_[0] } |
                Should -Be @('5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f0', '5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e', 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx')
        }
    }

    Context 'bad input leaves the table exactly as it was' {
        It 'bad value: CsvBadValue naming file, line 4, column and value; no partial load of the period' {
            $null = Import-AzCostToSql -Path $Ea08.FullName -Scope $Scope @P
            $before = Get-TargetState $T
            $file = Join-Path $DataDir 'bad-value.csv'
            $out = @(Import-AzCostToSql -Path $file -Scope $Scope @P -ErrorVariable err -ErrorAction SilentlyContinue)
            $out.Count | Should -Be 0
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvBadValue*'
            $m = $err[0].Exception.Message
            $m | Should -Match ([regex]::Escape($file))
            $m | Should -Match '\bline 4\b'
            $m | Should -Match 'CostInBillingCurrency'
            $m | Should -Match ([regex]::Escape('12,34abc'))
            $err[0].TargetObject | Should -Be $file -Because 'the error names the file, not System.String[]'
            $err[0].CategoryInfo.TargetName | Should -Be $file
            $err[0].CategoryInfo.Reason | Should -Be 'CsvBadValue'
            $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
            Get-TargetState $T | Should -Be $before
        }

        It 'ragged row: CsvRaggedRow naming file and line 4' {
            $null = Import-AzCostToSql -Path $Ea12.FullName -Scope $Scope @P
            $before = Get-TargetState $T
            $file = Join-Path $DataDir 'ragged.csv'
            Import-AzCostToSql -Path $file -Scope $Scope @P -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvRaggedRow*'
            $err[0].Exception.Message | Should -Match ([regex]::Escape($file))
            $err[0].Exception.Message | Should -Match '\bline 4\b'
            Get-TargetState $T | Should -Be $before
        }

        It 'empty file: CsvEmptyFile naming the file' {
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope $Scope @P
            $before = Get-TargetState $T
            $file = Join-Path $DataDir 'empty.csv'
            Import-AzCostToSql -Path $file -Scope $Scope -From 2026-03-01 -To 2026-03-31 @P -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvEmptyFile*'
            $err[0].Exception.Message | Should -Match ([regex]::Escape($file))
            Get-TargetState $T | Should -Be $before
        }

        It 'missing file (by path and by AzCostFile): AzBillingFileNotFound naming the file' {
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope $Scope @P
            $before = Get-TargetState $T
            $file = Join-Path $TestDrive 'no-such-file.csv'
            Import-AzCostToSql -LiteralPath $file -Scope $Scope @P -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'AzBillingFileNotFound*'
            $err[0].Exception.Message | Should -Match ([regex]::Escape($file))

            $f = [AzBillingPS.AzCostFile]::new($file, $Scope, 'ActualCost', [datetime]'2026-03-01', [datetime]'2026-03-31', 1, 1)
            $f | Import-AzCostToSql @P -ErrorVariable err2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err2.Count | Should -Be 1
            $err2[0].FullyQualifiedErrorId | Should -BeLike 'AzBillingFileNotFound*'
            $err2[0].Exception.Message | Should -Match ([regex]::Escape($file))
            Get-TargetState $T | Should -Be $before
        }

        It 'row outside an explicit -From/-To: CsvRowOutsidePeriod naming the file and the line' {
            $file = Join-Path $DataDir 'md-dates.csv'
            $null = Import-AzCostToSql -Path $file -Scope $Scope @P
            $before = Get-TargetState $T
            # The first data line dated 2026-03-01 is the first one outside 2026-03-02..2026-03-31.
            $lines = [IO.File]::ReadAllLines($file)
            $line = 1 + [Array]::FindIndex($lines, [Predicate[string]] { param($l) $l -match '^\uFEFF?(0?3/0?1/2026|2026-03-01),' })
            $line | Should -BeGreaterThan 1
            Import-AzCostToSql -Path $file -Scope $Scope -From 2026-03-02 -To 2026-03-31 @P -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvRowOutsidePeriod*'
            $err[0].Exception.Message | Should -Match ([regex]::Escape($file))
            $err[0].Exception.Message | Should -Match "\bline $line\b"
            $err[0].Exception.Message | Should -BeLike "*outside the period being loaded (2026-03-02 to 2026-03-31). Give -From/-To that cover the file, or leave them out to use the file's own dates."
            Get-TargetState $T | Should -Be $before
        }

        It 'a failed load that would have added columns leaves the columns as they were too' {
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'drift-a.csv') -Scope $Scope @P
            $before = Get-TargetState $T
            $columnsBefore = (Get-TargetColumns $T) -join ','
            # drift-b (two new columns) with a bad cost on its last line.
            $lines = [IO.File]::ReadAllLines((Join-Path $DataDir 'drift-b.csv'))
            $cells = $lines[-1] -split ','
            $costIndex = [Array]::IndexOf(($lines[0].TrimStart([char]0xFEFF) -split ','), 'CostInBillingCurrency')
            $costIndex | Should -BeGreaterThan 0
            $cells[$costIndex] = 'n/a'
            $lines[-1] = $cells -join ','
            $bad = Join-Path $TestDrive "drift-b-bad-$($T.Table).csv"
            [IO.File]::WriteAllLines($bad, $lines, [Text.UTF8Encoding]::new($true))
            Import-AzCostToSql -Path $bad -Scope $Scope @P -ErrorVariable err -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Should -BeNullOrEmpty
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvBadValue*'
            $err[0].Exception.Message | Should -Match "\bline $($lines.Count)\b"
            $err[0].Exception.Message | Should -Match ([regex]::Escape("'n/a'"))
            Get-TargetState $T | Should -Be $before
            (Get-TargetColumns $T) -join ',' | Should -Be $columnsBefore -Because 'the ALTER TABLE is rolled back with the rest'
        }

        It 'a row outside the period an AzCostFile carries: CsvRowOutsidePeriod, nothing loaded' {
            $file = Join-Path $DataDir 'md-dates.csv'
            $null = Import-AzCostToSql -Path $file -Scope $Scope @P
            $before = Get-TargetState $T
            $f = [AzBillingPS.AzCostFile]::new($file, $Scope, 'ActualCost', [datetime]'2026-03-01', [datetime]'2026-03-15', 1, 1)
            $f | Import-AzCostToSql @P -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvRowOutsidePeriod*'
            $err[0].Exception.Message | Should -Match ([regex]::Escape($file))
            $err[0].Exception.Message | Should -Match '\bline \d+\b'
            Get-TargetState $T | Should -Be $before
        }

        It 'errors are per unit: a bad report does not stop the next one in the pipeline' {
            $bad = [AzBillingPS.AzCostFile]::new((Join-Path $DataDir 'bad-value.csv'), $Scope, 'ActualCost', [datetime]'2026-08-01', [datetime]'2026-08-31', 1, 1)
            $good = [AzBillingPS.AzCostFile]::new((Join-Path $DataDir 'bools.csv'), $Scope, 'ActualCost', [datetime]'2026-07-01', [datetime]'2026-07-31', 1, 1)
            $r = @($bad, $good | Import-AzCostToSql @P -ErrorVariable err -ErrorAction SilentlyContinue)
            $err.Count | Should -Be 1
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvBadValue*'
            $r.Count | Should -Be 1
            Get-RowCount $T | Should -Be 5
            Get-RowCount $T -Where "`"Date`" >= '2026-08-01'" | Should -Be 0
        }
    }

    Context 'ShouldProcess' {
        It '-WhatIf writes nothing (no SQLite file, no PostgreSQL table)' {
            $r = @(Import-AzCostToSql -Path $Ea.FullName -Scope $Scope @P -WhatIf)
            $r.Count | Should -Be 0
            if ($T.Provider -eq 'SQLite') {
                Test-Path -LiteralPath $T.Db | Should -BeFalse
            }
            else {
                @(Invoke-TargetSql $T "SELECT coalesce(to_regclass('$($T.Ref.Replace("'", "''"))')::text, 'none')")[0][0] | Should -Be 'none'
            }
        }

        It 'starts the database side while it reads the files, and a -WhatIf run waits for none of it' {
            # The debug stream says how long the load waited for the warm-up (the provider's start-up and, on PostgreSQL,
            # a pooled connection), after the files' dates were read; -WhatIf stops before the load and says nothing of it.
            $DebugPreference = 'Continue'
            $lines = @(Import-AzCostToSql -Path $Ea.FullName -Scope $Scope @P -WhatIf 5>&1 | ForEach-Object { "$_" })
            @($lines -match 'database warm-up') | Should -BeNullOrEmpty
            $lines = @(Import-AzCostToSql -Path $Ea.FullName -Scope $Scope @P 5>&1 | ForEach-Object { "$_" })
            $dates = [array]::FindIndex([string[]]$lines, [Predicate[string]] { param($l) $l -match '^Read the dates of' })
            $waited = [array]::FindIndex([string[]]$lines, [Predicate[string]] { param($l) $l -match '^Waited \d[\d,]* ms for the database warm-up' })
            $dates | Should -BeGreaterOrEqual 0
            $waited | Should -BeGreaterThan $dates
            @($lines -match 'warm-up did not finish') | Should -BeNullOrEmpty
            Get-RowCount $T | Should -Be (Get-CsvRowCount $Ea.FullName)
        }

        It '-WhatIf on an existing table changes nothing' {
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope $Scope @P
            $before = Get-TargetState $T
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'header-only.csv') -Scope $Scope -From 2026-03-01 -To 2026-03-31 @P -WhatIf
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'drift-b.csv') -Scope $Scope @P -WhatIf
            Get-TargetState $T | Should -Be $before
            Get-TargetColumns $T | Should -Not -Contain 'NewColumnA'
        }
    }

    Context 'concurrency' {
        It 'two processes loading into the same table at once leave every row exactly once' {
            $shared = $Scope
            $own = @('/subscriptions/aaaaaaaa-0000-0000-0000-00000000000a', '/subscriptions/bbbbbbbb-0000-0000-0000-00000000000b')
            $target = ($T.Params.GetEnumerator() | ForEach-Object { "$($_.Key) = $(ConvertTo-PsLiteral ([string]$_.Value))" }) -join '; '
            $scripts = foreach ($s in $own) {
                @"
`$ErrorActionPreference = 'Stop'
`$t = @{ $target }
foreach (`$i in 1..3) {
    `$r = Import-AzCostToSql -Path $(ConvertTo-PsLiteral $Ea.FullName) -Scope $(ConvertTo-PsLiteral $shared) -LockTimeout 120 -Confirm:`$false @t
    "LOADED `$(`$r.RowsInserted)"
}
`$r = Import-AzCostToSql -Path $(ConvertTo-PsLiteral $Ea.FullName) -Scope $(ConvertTo-PsLiteral $s) -LockTimeout 120 @t
"LOADED `$(`$r.RowsInserted)"
"@
            }
            $helpers = Join-Path $PSScriptRoot 'TestHelpers.psm1'
            $jobs = foreach ($script in $scripts) {
                Start-ThreadJob -ArgumentList $helpers, $script -ScriptBlock {
                    param($h, $s)
                    Import-Module $h
                    Invoke-ChildPwsh -Script $s -TimeoutSeconds 240
                }
            }
            $results = @($jobs | Wait-Job -Timeout 300 | Receive-Job)
            $jobs | Remove-Job -Force
            $results.Count | Should -Be 2
            $n = Get-CsvRowCount $Ea.FullName
            foreach ($res in $results) {
                $res.ExitCode | Should -Be 0 -Because $res.StdErr
                $loaded = @($res.Output | Where-Object { $_ -like 'LOADED *' })
                $loaded | Should -Be (@("LOADED $n") * 4) -Because "each child loads four units (stdout: $($res.StdOut) stderr: $($res.StdErr))"
            }
            Get-RowCount $T | Should -Be (3 * $n)
            foreach ($s in @($shared) + $own) {
                Get-RowCount $T -Where "`"_Scope`" = '$s'" | Should -Be $n
                @(Invoke-TargetSql $T "SELECT DISTINCT `"_ImportId`" FROM $($T.Ref) WHERE `"_Scope`" = '$s'").Count | Should -Be 1
                Assert-DailySum $T (Get-CsvDailySum $Ea.FullName) -Where "`"_Scope`" = '$s'"
            }
        }
    }
}

Describe 'Import-AzCostToSql targets' -Tag 'Import' {
    BeforeAll {
        $script:File = Join-Path $DataDir 'md-dates.csv'
    }

    It 'with no target parameter writes AzBilling.sqlite in the current location' {
        $dir = Join-Path $TestDrive 'default-target'
        New-Item -ItemType Directory -Path $dir | Out-Null
        Push-Location $dir
        try {
            $r = Import-AzCostToSql -Path $File -Scope $Scope
        }
        finally { Pop-Location }
        $r.RowsInserted | Should -Be 7
        Test-Path (Join-Path $dir 'AzBilling.sqlite') | Should -BeTrue
        $r.Target | Should -Match ([regex]::Escape((Join-Path $dir 'AzBilling.sqlite')))
    }

    It '-ConnectionString with -Provider Sqlite and a custom -Table' {
        if ($NoSqliteReason) { Set-ItResult -Skipped -Because $NoSqliteReason }
        $db = Join-Path $TestDrive 'cs.sqlite'
        $r = Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString "Data Source=$db" -Provider Sqlite -Table 'MyCosts'
        $r.RowsInserted | Should -Be 7
        $t = [pscustomobject]@{ Provider = 'SQLite'; Db = $db; Table = 'MyCosts'; Ref = '"MyCosts"' }
        Test-TargetTable $t | Should -BeTrue
        Test-TargetTable $t -Table 'AzureCostDetails' | Should -BeFalse
        Get-RowCount $t | Should -Be 7
    }

    It '-Schema and -Table on PostgreSQL; the result names the target without the password' {
        if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
        Invoke-TestPsql $Pg 'CREATE SCHEMA IF NOT EXISTS billing' | Out-Null
        $cs = $Pg.ConnectionString + ';Password=Sup3rSecretPw'
        $r = Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString $cs -Provider PostgreSql -Schema billing -Table 'Costs'
        $r.RowsInserted | Should -Be 7
        $r.Table | Should -BeExactly 'Costs'
        $r.Schema | Should -BeExactly 'billing'
        $r.Target | Should -Not -Match 'Sup3rSecretPw'
        ($r | Out-String) | Should -Not -Match 'Sup3rSecretPw'
        (Invoke-TestPsql $Pg 'SELECT count(*) FROM billing."Costs"') | Should -Be '7'
        (Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'Costs'") | Should -Be '0'
    }

    It 'a SQL Server sign-in the module does not provide is refused before connecting, and the error says what to run instead' {
        # The engine's message names no command; the command adds its own advice (Get-AzBillingToken, -DatabaseToken).
        $cs = 'Server=tcp:127.0.0.1,1;Database=billing;Authentication=Active Directory Integrated;Connect Timeout=1'
        $e = $null
        try { Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString $cs -ErrorAction Stop } catch { $e = $_ }
        $e | Should -Not -BeNullOrEmpty
        $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingInvalidArgument*'
        $e.Exception.Message | Should -Match 'Authentication=ActiveDirectoryIntegrated is not a sign-in the module provides to SQL Server\. Use Active Directory Default, .* in the connection string\. Or sign in with Get-AzBillingToken \(a certificate too: -CertificatePath\) and give the token as -DatabaseToken\.$'
        $s = $null
        try { Get-AzCostSummary -ConnectionString $cs -ErrorAction Stop } catch { $s = $_ }
        $s.Exception.Message | Should -BeLike '*Or sign in with Get-AzBillingToken*-DatabaseToken.'
    }

    It 'both -DatabasePath and -ConnectionString is a terminating AzBillingParameterConflict' {
        $db = Join-Path $TestDrive 'conflict.sqlite'
        { Import-AzCostToSql -Path $File -Scope $Scope -DatabasePath $db -ConnectionString "Data Source=$db" -ErrorAction SilentlyContinue } |
            Should -Throw -ErrorId 'AzBillingParameterConflict*'
        Test-Path $db | Should -BeFalse
    }

    It 'an unreachable database is a terminating SqlConnectionFailed that does not show the password' {
        $port = Get-FreeTcpPort
        $cs = "Host=127.0.0.1;Port=$port;Username=postgres;Password=Sup3rSecretPw;Timeout=3"
        $e = $null
        try { Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString $cs -Provider PostgreSql -ErrorAction SilentlyContinue }
        catch { $e = $_ }
        $e | Should -Not -BeNullOrEmpty -Because 'a connection failure stops the command even with -ErrorAction SilentlyContinue'
        $e.FullyQualifiedErrorId | Should -BeLike 'SqlConnectionFailed*'
        $e.Exception.Message | Should -Not -Match 'Sup3rSecretPw'
    }

    It 'without -Provider a Server= connection string means SQL Server' {
        $port = Get-FreeTcpPort
        $cs = "Server=tcp:127.0.0.1,$port;Database=x;User ID=sa;Password=Sup3rSecretPw;Connect Timeout=3;Encrypt=false"
        $e = $null
        try { Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString $cs -ErrorAction SilentlyContinue }
        catch { $e = $_ }
        $e | Should -Not -BeNullOrEmpty
        $e.FullyQualifiedErrorId | Should -BeLike 'SqlConnectionFailed*'
        $e.Exception.Message | Should -Match 'SQL ?Server'
        $e.Exception.Message | Should -Not -Match 'Sup3rSecretPw'
    }

    It '-Database without -SqlInstance is refused, pointing to -DatabasePath, and creates no file' {
        $dir = Join-Path $TestDrive 'old-database'
        New-Item -ItemType Directory -Path $dir | Out-Null
        Push-Location $dir
        try {
            $e = $null
            try { Import-AzCostToSql -Path $File -Scope $Scope -Database Billing -ErrorAction SilentlyContinue } catch { $e = $_ }
        }
        finally { Pop-Location }
        $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingParameterConflict*'
        $e.Exception.Message | Should -Match '-SqlInstance'
        $e.Exception.Message | Should -Match ([regex]::Escape("-DatabasePath 'Billing'"))
        @(Get-ChildItem -LiteralPath $dir).Count | Should -Be 0 -Because 'no SQLite file named Billing is created'
    }

    It '-SqlInstance and -Database name a SQL Server target (dbatools style); -WhatIf shows it without doubled quotes' {
        $r = Invoke-ChildPwsh @"
Import-AzCostToSql -Path '$File' -Scope '$Scope' -SqlInstance 'sql01\PROD' -Database Billing -WhatIf
Import-AzCostToSql -Path '$File' -Scope '$Scope' -DatabasePath '$(Join-Path $TestDrive 'whatif.sqlite')' -WhatIf
"@
        $r.ExitCode | Should -Be 0 -Because $r.StdErr
        $r.StdOut | Should -Match ([regex]::Escape('on target "dbo.AzureCostDetails on SQL Server sql01\PROD/Billing"'))
        $r.StdOut | Should -Match ([regex]::Escape("on target `"AzureCostDetails on SQLite $(Join-Path $TestDrive 'whatif.sqlite')`""))
        $r.StdOut | Should -Not -Match '""'
        Test-Path (Join-Path $TestDrive 'whatif.sqlite') | Should -BeFalse
    }

    It '-SqlInstance with -Provider PostgreSql, or two targets at once, is a conflict' {
        { Import-AzCostToSql -Path $File -Scope $Scope -SqlInstance sql01 -Provider PostgreSql } | Should -Throw -ErrorId 'AzBillingParameterConflict*'
        { Import-AzCostToSql -Path $File -Scope $Scope -SqlInstance sql01 -ConnectionString 'Server=sql02' } | Should -Throw -ErrorId 'AzBillingParameterConflict*'
        { Import-AzCostToSql -Path $File -Scope $Scope -Credential ([pscredential]::new('u', (ConvertTo-SecureString 'p' -AsPlainText -Force))) -DatabasePath (Join-Path $TestDrive 'c.sqlite') } |
            Should -Throw -ErrorId 'AzBillingParameterConflict*'
    }

    It 'a connection string whose keywords do not tell the database asks for -Provider, without showing the password' {
        $e = $null
        try { Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString 'Database=x;Password=Sup3rSecretPw' } catch { $e = $_ }
        $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingParameterConflict*'
        $e.Exception.Message | Should -Match '-Provider'
        $e.Exception.Message | Should -Not -Match 'Sup3rSecretPw'
    }

    It 'a configuration file names targets with the same keys: DatabasePath from its folder; the old Database key is refused' {
        $dir = Join-Path $TestDrive 'cfg-target'
        New-Item -ItemType Directory -Path $dir | Out-Null
        Import-AzCostToSql -Path $File -Scope $Scope -DatabasePath (Join-Path $dir 'cfg.sqlite') | Out-Null
        Set-Content -LiteralPath (Join-Path $dir 'new.psd1') -Value "@{ DatabasePath = 'cfg.sqlite' }"
        Set-Content -LiteralPath (Join-Path $dir 'old.psd1') -Value "@{ Database = 'cfg.sqlite' }"
        $e = $null
        try { Get-AzBillingSyncState -ConfigPath (Join-Path $dir 'new.psd1') } catch { $e = $_ }
        $e.FullyQualifiedErrorId | Should -BeLike 'SyncStateNotFound*' -Because 'the file was found and read: it has no state table'
        $e = $null
        try { Get-AzBillingSyncState -ConfigPath (Join-Path $dir 'old.psd1') } catch { $e = $_ }
        $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingParameterConflict*'
        $e.Exception.Message | Should -Match ([regex]::Escape("-DatabasePath 'cfg.sqlite'"))
    }

    It 'a -Path wildcard that matches nothing is a non-terminating error ($? false) and loads nothing of the call' {
        $db = Join-Path $TestDrive 'nomatch.sqlite'
        $r = Invoke-ChildPwsh @"
`$out = Import-AzCostToSql -Path '$(Join-Path $TestDrive 'no-such-*.csv')', '$File' -Scope '$Scope' -DatabasePath '$db' -ErrorVariable errs -ErrorAction SilentlyContinue
"ok=`$? count=`$(@(`$out).Count) errors=`$(`$errs.Count)"
`$errs | ForEach-Object { "id=`$(`$_.FullyQualifiedErrorId) category=`$(`$_.CategoryInfo.Category) target=`$(`$_.TargetObject)" }
"@
        $r.ExitCode | Should -Be 0 -Because $r.StdErr
        $r.StdOut | Should -Match 'ok=False count=0 errors=1'
        $r.StdOut | Should -Match 'id=AzBillingPathNotFound'
        $r.StdOut | Should -Match 'category=ObjectNotFound'
        $r.StdOut | Should -Match ([regex]::Escape("target=$(Join-Path $TestDrive 'no-such-*.csv')"))
        Test-Path $db | Should -BeFalse -Because 'the files of one call load together or not at all'
    }

    It '-Scope takes the report planner''s forms and a bare GUID; anything else is refused with the list of forms' {
        $db = Join-Path $TestDrive 'scopes.sqlite'
        (Import-AzCostToSql -Path $File -Scope '5F1C3A2E-8D4B-4C6A-9E7F-0A1B2C3D4E5F' -DatabasePath $db).Scope | Should -Be $Scope
        (Import-AzCostToSql -Path $File -Scope '/providers/Microsoft.Billing/billingAccounts/8611537/' -DatabasePath $db).Scope | Should -Be '/providers/microsoft.billing/billingaccounts/8611537'
        (Import-AzCostToSql -Path $File -Scope "$Scope/resourceGroups/RG-Web" -DatabasePath $db).Scope | Should -Be "$Scope/resourcegroups/rg-web" -Because 'exports can hold a resource group'
        foreach ($bad in 'x', '/subscriptions/not-a-guid', '/providers/Microsoft.Billing/nothing/1') {
            $e = $null
            try { Import-AzCostToSql -Path $File -Scope $bad -DatabasePath $db } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingInvalidArgument*' -Because $bad
            $e.Exception.Message | Should -Match 'billingAccounts/\{id\}' -Because $bad
            $e.TargetObject | Should -Be $bad
        }
        @(Get-AzCostSummary -DatabasePath $db -GroupBy Scope).Scope | Should -Not -Contain '/x'
    }

    Context 'PostgreSQL named by its own keywords and logins as credentials' {
        BeforeAll {
            if (-not $NoPgReason) {
                # One login that must give its password (scram), ahead of the cluster's trust rule.
                $hba = Join-Path $Pg.DataDir 'pg_hba.conf'
                $rules = Get-Content -LiteralPath $hba
                Set-Content -LiteralPath $hba -Value (@('host all azb_login 127.0.0.1/32 scram-sha-256') + $rules)
                Invoke-TestPsql $Pg "SET password_encryption = 'scram-sha-256'; CREATE ROLE azb_login LOGIN PASSWORD 'C0rrectHorse'; GRANT CREATE ON SCHEMA public TO azb_login; SELECT pg_reload_conf();" | Out-Null
                $script:LoginCs = "Host=127.0.0.1;Port=$($Pg.Port);Database=postgres"
            }
        }

        BeforeEach {
            if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
        }

        It 'Host= without -Provider loads into PostgreSQL; .Table reads back with Get-AzCostSummary' {
            $r = Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString $Pg.ConnectionString -Table 'Inferred'
            $r.Provider | Should -Be 'PostgreSql'
            $r.Table | Should -BeExactly 'Inferred'
            $r.Schema | Should -BeExactly 'public'
            (Invoke-TestPsql $Pg 'SELECT count(*) FROM public."Inferred"') | Should -Be '7'
            $sum = Get-AzCostSummary -ConnectionString $Pg.ConnectionString -Schema $r.Schema -Table $r.Table
            ($sum | Measure-Object Rows -Sum).Sum | Should -Be 7
        }

        It '-Credential signs in with the login; a wrong password fails without showing it' {
            $good = [pscredential]::new('azb_login', (ConvertTo-SecureString 'C0rrectHorse' -AsPlainText -Force))
            $r = Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString $LoginCs -Credential $good -Table 'ByLogin'
            $r.RowsInserted | Should -Be 7
            (Invoke-TestPsql $Pg "SELECT tableowner FROM pg_tables WHERE tablename = 'ByLogin'") | Should -Be 'azb_login'

            $bad = [pscredential]::new('azb_login', (ConvertTo-SecureString 'Wr0ngHorse' -AsPlainText -Force))
            $e = $null
            try { Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString $LoginCs -SqlCredential $bad -Table 'ByLogin' } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -BeLike 'SqlConnectionFailed*'
            $e.Exception.Message | Should -Match 'password authentication failed'
            ($e | Out-String) | Should -Not -Match 'Wr0ngHorse'
            (Invoke-TestPsql $Pg 'SELECT count(*) FROM public."ByLogin"') | Should -Be '7'
        }

        It 'a table an earlier version made with GUID id columns is changed to text, with a warning, and then loads any id' {
            # PostgreSQL only: SQLite always stored ids as text (SQL Server's uniqueidentifier is changed by the same statement, parsed in xunit).
            $T = [pscustomobject]@{ Provider = 'PostgreSQL'; Table = 'OldIds'; Ref = '"public"."OldIds"' }
            $P = @{ ConnectionString = $Pg.ConnectionString; Table = 'OldIds' }
            Invoke-TargetSql $T "CREATE TABLE $($T.Ref) (`"Date`" date, `"SubscriptionId`" uuid, `"MeterCategory`" text, `"CostInBillingCurrency`" numeric, `"BillingCurrencyCode`" text, `"_Scope`" text NOT NULL, `"_Metric`" text NOT NULL, `"_PeriodStart`" date, `"_PeriodEnd`" date, `"_SourceFile`" text, `"_ImportId`" uuid, `"_ImportedAt`" timestamptz); INSERT INTO $($T.Ref) VALUES ('2026-02-01', '5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f', 'Storage', 1, 'USD', '$Scope', 'ActualCost', '2026-02-01', '2026-02-28', 'old.csv', '00000000-0000-0000-0000-000000000001', now());" | Out-Null
            $file = Join-Path $TestDrive "old-ids-$($T.Table).csv"
            Set-Content -LiteralPath $file -Encoding utf8BOM -Value @('Date,SubscriptionId,MeterCategory,CostInBillingCurrency,BillingCurrencyCode', '03/01/2026,not-a-guid,Storage,1.25,USD')
            $r = Import-AzCostToSql -Path $file -Scope $Scope @P -WarningVariable warn -WarningAction SilentlyContinue
            $r.RowsInserted | Should -Be 1
            ($warn -join "`n") | Should -Match 'Changed SubscriptionId of public\.\w+ from GUID to text'
            @(Invoke-TargetSql $T "SELECT data_type FROM information_schema.columns WHERE table_name = '$($T.Table)' AND column_name = 'SubscriptionId'")[0][0] | Should -Be 'text'
            @(Invoke-TargetSql $T "SELECT `"SubscriptionId`" FROM $($T.Ref) ORDER BY `"Date`"") | ForEach-Object { $_[0] } | Should -Be @('5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f', 'not-a-guid')
        }

        It '-Credential and a login in the connection string at once is refused' {
            $good = [pscredential]::new('azb_login', (ConvertTo-SecureString 'C0rrectHorse' -AsPlainText -Force))
            { Import-AzCostToSql -Path $File -Scope $Scope -ConnectionString $Pg.ConnectionString -Credential $good } | Should -Throw -ErrorId 'AzBillingParameterConflict*'
        }
    }
}
