#Requires -Version 7.4
# What a load does to the database around the rows: schemas it creates, the names it derives, the spelling of the
# table's columns, the locks it takes and how long it waits for others', and how it survives a dropped session.
# Against a throw-away PostgreSQL cluster (Start-TestPostgres) and real SQLite files; the same cases on SQL Server are
# in SqlServer.Tests.ps1 (run when AZBILLING_TEST_SQLSERVER is set).
#
# Lock resources (docs/sqlserver.md): the table lock 'AZBILLINGPS:<SCHEMA>.<TABLE>', a unit's scope and metric
# 'AZBILLINGPS:<SCHEMA>.<TABLE>|<SCOPE>|<METRIC>' (shared) and each month '...|<METRIC>|<YYYY-MM>' (exclusive), all
# upper-case; on PostgreSQL the advisory key is hashtextextended(resource, 0).

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoSqlite3 = -not (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:RepoRoot = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) { $env:AZBILLING_MODULE_PATH = Join-Path $RepoRoot 'out/AzBillingPS/0.1.0/AzBillingPS.psd1' }
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
    $script:DataDir = Join-Path $RepoRoot 'tests/data'
    $script:Sqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
    $script:Pg = Start-TestPostgres -WarningVariable pgWarn -WarningAction SilentlyContinue
    $script:NoPgReason = if ($Pg) { $null } else { "no throw-away PostgreSQL cluster: $pgWarn" }
    $script:Holders = [System.Collections.Generic.List[System.Diagnostics.Process]]::new()
    $script:Seq = 0

    function New-Name([string] $Prefix = 'Db') { $script:Seq++; '{0}{1}_{2}' -f $Prefix, $script:Seq, [guid]::NewGuid().ToString('N').Substring(0, 6) }

    function New-Csv {
        # A small cost file: the header and one row per day given, cost 1.25 each; extra columns as name=value.
        param([string] $Path, [string[]] $Days, [hashtable] $Extra = @{})
        $names = @('Date', 'SubscriptionId', 'MeterCategory', 'CostInBillingCurrency', 'BillingCurrencyCode') + @($Extra.Keys)
        $lines = @($names -join ',')
        foreach ($d in $Days) { $lines += (@($d, '5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f', 'Storage', '1.25', 'EUR') + @($Extra.Values)) -join ',' }
        [IO.File]::WriteAllLines($Path, $lines)
        Get-Item -LiteralPath $Path
    }

    function Get-PgTarget([string] $Table, [string] $Schema) {
        $p = @{ Provider = 'PostgreSql'; ConnectionString = $Pg.ConnectionString; Table = $Table }
        if ($Schema) { $p.Schema = $Schema }
        $p
    }

    function Start-PgHolder([string] $Sql, [int] $Seconds = 30) { $h = Start-TestPgHolder $Pg $Sql -Seconds $Seconds; $script:Holders.Add($h.Process); $h }

    function Stop-Holder($Holder) { Stop-TestPgHolder $Pg $Holder }

    function Start-SqliteHolder {
        # The sqlite3 shell holding a transaction on $Db ($Begin: BEGIN, BEGIN IMMEDIATE or BEGIN EXCLUSIVE) for $Seconds.
        param([string] $Db, [string] $Begin, [int] $Seconds = 30)
        $psi = [Diagnostics.ProcessStartInfo]::new($Sqlite3)
        $psi.ArgumentList.Add($Db)
        $psi.UseShellExecute = $false
        $psi.RedirectStandardInput = $true
        $psi.RedirectStandardOutput = $true
        $p = [Diagnostics.Process]::Start($psi)
        $script:Holders.Add($p)
        $p.StandardInput.WriteLine("$Begin;")
        $p.StandardInput.WriteLine('SELECT count(*) FROM sqlite_master;')
        $p.StandardInput.WriteLine("SELECT 'holding';")
        $p.StandardInput.WriteLine(".shell sleep $Seconds")
        $p.StandardInput.Flush()
        $until = [DateTime]::UtcNow.AddSeconds(10)
        while ([DateTime]::UtcNow -lt $until) {
            $line = $p.StandardOutput.ReadLine()
            if ($line -eq 'holding' -or $null -eq $line) { break }
        }
        $p
    }

    function Measure-Call([scriptblock] $Call) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $err = $null
        try { & $Call } catch { $err = $_ }
        [pscustomobject]@{ Seconds = $sw.Elapsed.TotalSeconds; Error = $err }
    }
}

AfterAll {
    foreach ($h in $script:Holders) { if (-not $h.HasExited) { $h.Kill(); $h.WaitForExit() } }
    Stop-TestPostgres $script:Pg
}

Describe 'Database targets' -Tag 'Database' {
    Context 'a -Schema that does not exist' {
        It 'PostgreSQL: the schema is created with the table, in the load''s transaction' {
            if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
            $schema = (New-Name 'sch').ToLowerInvariant()
            $PgT = Get-PgTarget 'Costs' $schema
            $r = Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f @PgT
            $r.RowsInserted | Should -Be 7
            Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '$schema'" | Should -Be '1'
            Invoke-TestPsql $Pg "SELECT count(*) FROM `"$schema`".`"Costs`"" | Should -Be '7'
        }

        It 'PostgreSQL: a failed first load leaves no schema behind' {
            if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
            $schema = (New-Name 'sch').ToLowerInvariant()
            $PgT = Get-PgTarget 'Costs' $schema
            Import-AzCostToSql -Path (Join-Path $DataDir 'bad-value.csv') -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f @PgT -ErrorVariable err -ErrorAction SilentlyContinue
            $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvBadValue*'
            Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '$schema'" | Should -Be '0'
        }

        It 'SQLite: -Schema is refused (SQLite has no schemas) and no file is created' {
            $db = Join-Path $TestDrive 'schema.sqlite'
            $e = Measure-Call { Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -DatabasePath $db -Schema billing -ErrorAction Stop }
            $e.Error | Should -Not -BeNullOrEmpty
            $e.Error.FullyQualifiedErrorId | Should -BeLike 'AzBillingInvalidArgument*'
            $e.Error.Exception.Message | Should -Match 'SQLite has no schemas'
            $e.Error.Exception.Message | Should -Match "-Schema 'billing'"
            Test-Path $db | Should -BeFalse
            $db2 = Join-Path $TestDrive 'schema2.sqlite'
            $null = Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -DatabasePath $db2
            { Get-AzCostSummary -DatabasePath $db2 -Schema billing -ErrorAction Stop } | Should -Throw -ExpectedMessage '*SQLite has no schemas*'
        }
    }

    Context 'columns keep the table''s spelling' {
        It '<Provider>: a column spelled Mixed in the table and mixed in the next file loads into Mixed' -ForEach @(@{ Provider = 'PostgreSQL' }, @{ Provider = 'SQLite' }) {
            if ($Provider -eq 'PostgreSQL' -and $NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
            if ($Provider -eq 'SQLite' -and $NoSqlite3) { Set-ItResult -Skipped -Because 'the sqlite3 CLI is not installed' }
            $table = New-Name 'Case'
            $db = Join-Path $TestDrive "$table.sqlite"
            $t = if ($Provider -eq 'PostgreSQL') { Get-PgTarget $table } else { @{ DatabasePath = $db; Table = $table } }
            $a = New-Csv (Join-Path $TestDrive "$table-a.csv") '2026-03-01', '2026-03-02' @{ Mixed = 'first' }
            $b = New-Csv (Join-Path $TestDrive "$table-b.csv") '2026-04-01' @{ mixed = 'second' }
            $null = Import-AzCostToSql -Path $a -Scope /subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f @t
            $r = Import-AzCostToSql -Path $b -Scope /subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f @t -WarningVariable warn -ErrorAction Stop
            $r.RowsInserted | Should -Be 1
            $r.ColumnsAdded | Should -BeNullOrEmpty
            $warn | Should -BeNullOrEmpty -Because 'no column is added: mixed is the table''s Mixed'
            if ($Provider -eq 'PostgreSQL') {
                Invoke-TestPsql $Pg "SELECT string_agg(`"Mixed`", ',' ORDER BY `"Date`") FROM `"$table`"" | Should -Be 'first,first,second'
                Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.columns WHERE table_name = '$table' AND lower(column_name) = 'mixed'" | Should -Be '1'
            }
            else {
                & $Sqlite3 $db "SELECT group_concat(Mixed, ',') FROM (SELECT Mixed FROM `"$table`" ORDER BY Date)" | Should -Be 'first,first,second'
            }
        }
    }

    Context 'names that cannot work are refused before data moves, long derived names are shortened' {
        It 'PostgreSQL: a 60-byte -Table loads; its index gets a shortened name with a hash' {
            if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
            $table = ('L' + [guid]::NewGuid().ToString('N') + 'x' * 60).Substring(0, 60)
            $PgT = Get-PgTarget $table
            $r = Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f @PgT
            $r.RowsInserted | Should -Be 7
            $index = Invoke-TestPsql $Pg "SELECT indexname FROM pg_indexes WHERE tablename = '$table'"
            $index | Should -Match '^IX_.+_[0-9a-f]{8}_ScopeMetricDate$'
            ([Text.Encoding]::UTF8.GetByteCount($index)) | Should -BeLessOrEqual 63
        }

        It 'PostgreSQL: a 64-byte -Table (or -Schema) is refused before the first row is read, naming the limit' {
            if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
            $table = 'T' * 64
            # bad-value.csv would fail on its 4th row: the name error must come first.
            foreach ($t in (Get-PgTarget $table), (Get-PgTarget 'Costs' ('s' * 64)), (Get-PgTarget ('é' * 32))) {
                $e = Measure-Call { Import-AzCostToSql -Path (Join-Path $DataDir 'bad-value.csv') -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f @t -ErrorAction Stop }
                $e.Error.FullyQualifiedErrorId | Should -BeLike 'SqlInvalidIdentifier*'
                $e.Error.Exception.Message | Should -Match 'at most 63'
            }
            Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'TTTT%'" | Should -Be '0'
        }
    }

    Context 'table design options' {
        It '-Columnstore is a SQL Server table option: refused on PostgreSQL and SQLite, creating nothing' {
            $db = Join-Path $TestDrive 'cci.sqlite'
            $e = Measure-Call { Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -DatabasePath $db -Columnstore -ErrorAction Stop }
            $e.Error.FullyQualifiedErrorId | Should -BeLike 'AzBillingInvalidArgument*'
            $e.Error.Exception.Message | Should -Match '-Columnstore is for SQL Server and Azure SQL'
            Test-Path $db | Should -BeFalse
            if (-not $NoPgReason) {
                $table = New-Name 'Cci'
                $PgT = Get-PgTarget $table
                $e = Measure-Call { Import-AzCostToSql -Path (Join-Path $DataDir 'md-dates.csv') -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f @PgT -Columnstore -ErrorAction Stop }
                $e.Error.Exception.Message | Should -Match 'PostgreSql has no clustered columnstore index'
                Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.tables WHERE table_name = '$table'" | Should -Be '0'
            }
        }
    }
}

Describe 'Locks and waits' -Tag 'Database' {
    Context 'PostgreSQL: units lock themselves, the table lock is only for creating the table or adding columns' {
        BeforeAll {
            if ($NoPgReason) { return }
            $script:LockTable = New-Name 'Locks'
            $script:ScopeA = '/subscriptions/aaaaaaaa-0000-0000-0000-00000000000a'
            $script:ScopeB = '/subscriptions/bbbbbbbb-0000-0000-0000-00000000000b'
            $script:March = New-Csv (Join-Path $TestDrive 'march.csv') '2026-03-01', '2026-03-02', '2026-03-31'
            $script:Drift = New-Csv (Join-Path $TestDrive 'drift.csv') '2026-03-05' @{ NewColumn = 'x' }
            $PgT = Get-PgTarget $LockTable
            foreach ($s in $ScopeA, $ScopeB) { $null = Import-AzCostToSql -Path $March -Scope $s @PgT }
            $script:Upper = "AZBILLINGPS:PUBLIC.$($LockTable.ToUpperInvariant())"
        }

        BeforeEach { if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason } }

        It 'while another session holds the month lock of scope A, scope B loads at once and scope A gives up after -LockTimeout, naming the unit' {
            $holder = Start-PgHolder "SELECT pg_advisory_lock(hashtextextended('$Upper|$($ScopeA.ToUpperInvariant())|ACTUALCOST|2026-03', 0))"
            try {
                $PgT = Get-PgTarget $LockTable
                $b = Measure-Call { Import-AzCostToSql -Path $March -Scope $ScopeB @PgT -LockTimeout 20 -ErrorAction Stop }
                $b.Error | Should -BeNullOrEmpty
                $b.Seconds | Should -BeLessThan 10 -Because 'a load of another unit does not wait for this one'
                $PgT = Get-PgTarget $LockTable
                $a = Measure-Call { Import-AzCostToSql -Path $March -Scope $ScopeA @PgT -LockTimeout 2 -ErrorAction Stop }
                $a.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeout,*'
                $a.Error.CategoryInfo.Category | Should -Be 'ResourceBusy'
                $a.Error.Exception.Message | Should -Match ([regex]::Escape("Another load of $ScopeA ActualCost 2026-03 into `"public`".`"$LockTable`" on PostgreSQL 127.0.0.1:$($Pg.Port)/postgres held its lock for more than 2 seconds; nothing was changed"))
                $a.Seconds | Should -BeLessThan 8
            }
            finally { Stop-Holder $holder }
            Invoke-TestPsql $Pg "SELECT count(*), count(DISTINCT `"_ImportId`") FROM `"$LockTable`" WHERE `"_Scope`" = '$ScopeA'" | Should -Be '3|1'
        }

        It 'a load that overlaps a held month by one day waits for it too (a -From/-To chunk and the month)' {
            $holder = Start-PgHolder "SELECT pg_advisory_lock(hashtextextended('$Upper|$($ScopeB.ToUpperInvariant())|ACTUALCOST|2026-03', 0))"
            try {
                $chunk = New-Csv (Join-Path $TestDrive 'chunk.csv') '2026-02-27', '2026-03-01'
                $PgT = Get-PgTarget $LockTable
                $e = Measure-Call { Import-AzCostToSql -Path $chunk -Scope $ScopeB @PgT -LockTimeout 1 -ErrorAction Stop }
                $e.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeout*'
                $e.Error.Exception.Message | Should -Match "$([regex]::Escape($ScopeB)) ActualCost 2026-02\.\.2026-03"
            }
            finally { Stop-Holder $holder }
        }

        It 'while another session holds the table lock, a load with the columns it needs goes ahead, and one that adds columns gives up, changing nothing' {
            $holder = Start-PgHolder "SELECT pg_advisory_lock(hashtextextended('$Upper', 0))"
            try {
                $PgT = Get-PgTarget $LockTable
                $ok = Measure-Call { Import-AzCostToSql -Path $March -Scope $ScopeB @PgT -LockTimeout 20 -ErrorAction Stop }
                $ok.Error | Should -BeNullOrEmpty
                $ok.Seconds | Should -BeLessThan 10
                $before = Invoke-TestPsql $Pg "SELECT count(*) FROM `"$LockTable`""
                $PgT = Get-PgTarget $LockTable
                $drift = Measure-Call { Import-AzCostToSql -Path $Drift -Scope $ScopeA @PgT -LockTimeout 1 -ErrorAction Stop -WarningAction SilentlyContinue }
                $drift.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeout,*'
                $drift.Error.Exception.Message | Should -Match "Another load into `"public`"\.`"$LockTable`" on PostgreSQL .* held its lock for more than 1 seconds; nothing was changed"
            }
            finally { Stop-Holder $holder }
            Invoke-TestPsql $Pg "SELECT count(*) FROM `"$LockTable`"" | Should -Be $before
            Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.columns WHERE table_name = '$LockTable' AND column_name = 'NewColumn'" | Should -Be '0'
        }

        It 'a reader in an open transaction blocks adding columns: the load gives up after -LockTimeout saying a session holds a lock on the table' {
            $holder = Start-PgHolder "BEGIN; SELECT count(*) FROM `"$LockTable`""
            try {
                $PgT = Get-PgTarget $LockTable
                $drift = Measure-Call { Import-AzCostToSql -Path $Drift -Scope $ScopeA @PgT -LockTimeout 1 -ErrorAction Stop -WarningAction SilentlyContinue }
                $drift.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeoutReader,*'
                $drift.Error.Exception.Message | Should -Match "A session on PostgreSQL 127\.0\.0\.1:$($Pg.Port)/postgres held a lock on `"public`"\.`"$LockTable`" for more than 1 seconds"
                $drift.Error.Exception.Message | Should -Match 'pg_stat_activity'
                $drift.Seconds | Should -BeLessThan 8
            }
            finally { Stop-Holder $holder }
        }

        It 'adding columns commits in its own short transaction: while the load waits for its unit, the column is there and readers are not blocked' {
            $drift2 = New-Csv (Join-Path $TestDrive 'drift2.csv') '2026-03-06' @{ NewColumn2 = 'y' }
            $holder = Start-PgHolder "SELECT pg_advisory_lock(hashtextextended('$Upper|$($ScopeA.ToUpperInvariant())|ACTUALCOST|2026-03', 0))"
            $cs = $Pg.ConnectionString
            $job = Start-ThreadJob -ArgumentList (Join-Path $PSScriptRoot 'TestHelpers.psm1'), $env:AZBILLING_MODULE_PATH, @"
`$r = Import-AzCostToSql -Path '$($drift2.FullName)' -Scope '$ScopeA' -Provider PostgreSql -ConnectionString '$cs' -Table '$LockTable' -LockTimeout 60 -WarningVariable w -ErrorAction Stop
"ADDED `$(`$r.ColumnsAdded -join ',')"
"@ -ScriptBlock {
                param($h, $m, $s)
                $env:AZBILLING_MODULE_PATH = $m
                Import-Module $h
                Invoke-ChildPwsh -Script $s -TimeoutSeconds 120
            }
            try {
                $until = [DateTime]::UtcNow.AddSeconds(60)
                while ([DateTime]::UtcNow -lt $until -and (Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.columns WHERE table_name = '$LockTable' AND column_name = 'NewColumn2'") -ne '1') { Start-Sleep -Milliseconds 100 }
                Invoke-TestPsql $Pg "SELECT count(*) FROM information_schema.columns WHERE table_name = '$LockTable' AND column_name = 'NewColumn2'" | Should -Be '1' -Because 'the column is committed before the load takes its unit lock'
                Invoke-TestPsql $Pg "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock(%'" | Should -Be '1' -Because 'the load is waiting for its month'
                Invoke-TestPsql $Pg "SET lock_timeout = 1000; SELECT count(*) > 0 FROM `"$LockTable`"" | Should -Be 't' -Because 'no schema lock is held while the load waits'
            }
            finally { Stop-Holder $holder }
            $run = $job | Wait-Job -Timeout 120 | Receive-Job
            $job | Remove-Job -Force
            $run.ExitCode | Should -Be 0 -Because $run.StdErr
            $run.Output | Should -Contain 'ADDED NewColumn2'
            Invoke-TestPsql $Pg "SELECT `"NewColumn2`" FROM `"$LockTable`" WHERE `"_Scope`" = '$ScopeA' AND `"Date`" = '2026-03-06'" | Should -Be 'y'
        }
    }

    Context 'PostgreSQL: four different units load at once into one table, every row once' {
        BeforeAll {
            if ($NoPgReason) { return }
            $script:ParTable = New-Name 'Par'
            $script:ParFile = New-TestCostFile -Kind Ea -Rows 4000 -Month 2026-05 -Path (Join-Path $TestDrive 'par.csv') -Seed 3
            # The table exists first (its creation is the one step that runs alone).
            $PgT = Get-PgTarget $ParTable
            $null = Import-AzCostToSql -Path $ParFile -Scope /subscriptions/00000000-0000-0000-0000-000000000000 @PgT
            $cs = $Pg.ConnectionString
            $jobs = foreach ($i in 1..4) {
                $scope = '/subscriptions/cccccccc-0000-0000-0000-00000000000' + $i
                $script = @"
`$ErrorActionPreference = 'Stop'
`$r = Import-AzCostToSql -Path '$($ParFile.FullName)' -Scope '$scope' -Provider PostgreSql -ConnectionString '$cs' -Table '$ParTable' -LockTimeout 120
"LOADED `$(`$r.RowsInserted)"
"@
                Start-ThreadJob -ArgumentList (Join-Path $PSScriptRoot 'TestHelpers.psm1'), $script, $env:AZBILLING_MODULE_PATH -ScriptBlock {
                    param($h, $s, $m)
                    $env:AZBILLING_MODULE_PATH = $m
                    Import-Module $h
                    Invoke-ChildPwsh -Script $s -TimeoutSeconds 240
                }
            }
            $script:ParResults = @($jobs | Wait-Job -Timeout 300 | Receive-Job)
            $jobs | Remove-Job -Force
        }

        BeforeEach { if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason } }

        It 'each load commits its rows, once per scope, with one import id' {
            $ParResults.Count | Should -Be 4
            $n = Get-CsvRowCount $ParFile.FullName
            foreach ($r in $ParResults) {
                $r.ExitCode | Should -Be 0 -Because $r.StdErr
                $r.Output | Should -Contain "LOADED $n"
            }
            $rows = Invoke-TestPsql $Pg "SELECT `"_Scope`", count(*), count(DISTINCT `"_ImportId`") FROM `"$ParTable`" GROUP BY 1 ORDER BY 1" -Split
            $rows.Count | Should -Be 5
            foreach ($row in $rows) { $row[1] | Should -Be "$n"; $row[2] | Should -Be '1' }
            $sums = Get-CsvDailySum $ParFile.FullName
            $daily = @(Invoke-TestPsql $Pg "SELECT `"_Scope`", `"Date`", sum(`"CostInBillingCurrency`") FROM `"$ParTable`" GROUP BY 1, 2" -Split)
            $daily.Count | Should -Be (5 * $sums.Count)
            foreach ($row in $daily) {
                # numeric sums are exact; the file's [decimal] sum is rounded at 28-29 significant digits, so compare at 15 places.
                [decimal]::Round([decimal]::Parse($row[2], [cultureinfo]::InvariantCulture), 15) | Should -Be ([decimal]::Round($sums[$row[1]], 15)) -Because "the sum of $($row[0]) on $($row[1]) is the file's"
            }
        }
    }

    Context 'PostgreSQL: a session killed mid-unit is tried again from a new connection' {
        BeforeAll {
            if ($NoPgReason) { return }
            $script:KillTable = New-Name 'Kill'
            $script:KillScope = '/subscriptions/dddddddd-0000-0000-0000-00000000000d'
            $file = New-Csv (Join-Path $TestDrive 'kill.csv') '2026-06-01', '2026-06-02'
            $PgT = Get-PgTarget $KillTable
            $null = Import-AzCostToSql -Path $file -Scope $KillScope @PgT
            $month = "AZBILLINGPS:PUBLIC.$($KillTable.ToUpperInvariant())|$($KillScope.ToUpperInvariant())|ACTUALCOST|2026-06"
            # The load waits on the month lock another session holds; while it waits (its transaction open), its
            # backend is terminated (pg_terminate_backend: 57P01); then the holder lets go and the retry finishes.
            $holder = Start-PgHolder "SELECT pg_advisory_lock(hashtextextended('$month', 0))" 60
            $cs = $Pg.ConnectionString
            $job = Start-ThreadJob -ArgumentList (Join-Path $PSScriptRoot 'TestHelpers.psm1'), $env:AZBILLING_MODULE_PATH, @"
`$r = Import-AzCostToSql -Path '$($file.FullName)' -Scope '$KillScope' -Provider PostgreSql -ConnectionString '$cs' -Table '$KillTable' -LockTimeout 60 -WarningVariable w -ErrorAction Stop
"LOADED `$(`$r.RowsInserted) REPLACED `$(`$r.RowsReplaced)"
foreach (`$x in `$w) { "WARNING `$x" }
"@ -ScriptBlock {
                param($h, $m, $s)
                $env:AZBILLING_MODULE_PATH = $m
                Import-Module $h
                Invoke-ChildPwsh -Script $s -TimeoutSeconds 120 -Environment @{ AZBILLING_TEST_DB_RETRY_SCALE = '0.1' }
            }
            $until = [DateTime]::UtcNow.AddSeconds(60)
            $script:Killed = '0'
            while ([DateTime]::UtcNow -lt $until) {
                $script:Killed = Invoke-TestPsql $Pg "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock(%' AND state = 'active' AND pid <> pg_backend_pid()"
                if ($Killed -ne '0') { break }
                Start-Sleep -Milliseconds 100
            }
            Start-Sleep -Milliseconds 500
            Stop-Holder $holder
            $script:KillRun = $job | Wait-Job -Timeout 120 | Receive-Job
            $job | Remove-Job -Force
        }

        BeforeEach { if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason } }

        It 'the unit succeeds after a warning naming the transient error, and the month holds its rows once' {
            $Killed | Should -Be '1'
            $KillRun.ExitCode | Should -Be 0 -Because $KillRun.StdErr
            $KillRun.Output | Should -Contain 'LOADED 2 REPLACED 2'
            ($KillRun.Output | Where-Object { $_ -like 'WARNING *' }) -join "`n" | Should -Match 'failed with a transient error \(PostgreSQL 57P01: terminating connection due to administrator command\); the transaction was rolled back\. Trying again in [\d.]+ s \(retry 1 of 5\)'
            Invoke-TestPsql $Pg "SELECT count(*), count(DISTINCT `"_ImportId`") FROM `"$KillTable`"" | Should -Be '2|1'
        }
    }

    Context 'SQLite: -LockTimeout bounds every wait, and the error says who holds the file' -Skip:$NoSqlite3 {
        BeforeAll {
            $script:LiteDb = Join-Path $TestDrive 'locked.sqlite'
            $script:LiteFile = Join-Path $DataDir 'md-dates.csv'
            $null = Import-AzCostToSql -Path $LiteFile -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -DatabasePath $LiteDb
            $script:Before = & $Sqlite3 $LiteDb 'SELECT count(*), group_concat(DISTINCT _ImportId) FROM AzureCostDetails'
        }

        It 'a reader''s open transaction: the load gives up after -LockTimeout saying a reader holds the file' {
            $h = Start-SqliteHolder $LiteDb 'BEGIN'
            try {
                $e = Measure-Call { Import-AzCostToSql -Path $LiteFile -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -DatabasePath $LiteDb -LockTimeout 2 -ErrorAction Stop }
            }
            finally { Stop-Holder $h }
            $e.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeoutReader,*'
            $e.Error.Exception.Message | Should -Match "A reader held the SQLite file $([regex]::Escape($LiteDb)) for more than 2 seconds"
            $e.Seconds | Should -BeLessThan 6
            & $Sqlite3 $LiteDb 'SELECT count(*), group_concat(DISTINCT _ImportId) FROM AzureCostDetails' | Should -Be $Before
        }

        It '<Begin>: the load gives up after -LockTimeout (not when the other lets go) saying another writer holds the file' -ForEach @(@{ Begin = 'BEGIN IMMEDIATE' }, @{ Begin = 'BEGIN EXCLUSIVE' }) {
            $h = Start-SqliteHolder $LiteDb $Begin
            try {
                $e = Measure-Call { Import-AzCostToSql -Path $LiteFile -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -DatabasePath $LiteDb -LockTimeout 2 -ErrorAction Stop }
            }
            finally { Stop-Holder $h }
            $e.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeout,*'
            $e.Error.Exception.Message | Should -Match "another program writing to the SQLite file $([regex]::Escape($LiteDb)), held its write lock for more than 2 seconds"
            $e.Seconds | Should -BeLessThan 6
        }

        It 'Get-AzCostSummary and Get-AzBillingSyncState on a locked file say so with the file name, after -LockTimeout' {
            $h = Start-SqliteHolder $LiteDb 'BEGIN EXCLUSIVE'
            try {
                $s = Measure-Call { Get-AzCostSummary -DatabasePath $LiteDb -LockTimeout 1 -ErrorAction Stop }
                $t = Measure-Call { Get-AzBillingSyncState -DatabasePath $LiteDb -LockTimeout 1 -ErrorAction Stop }
            }
            finally { Stop-Holder $h }
            foreach ($e in $s, $t) {
                $e.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeout,*'
                $e.Error.Exception.Message | Should -Match "The SQLite file $([regex]::Escape($LiteDb)) was locked by another process writing to it .* for more than 1 seconds"
                $e.Error.Exception.Message | Should -Not -Match 'SQLite Error 5'
                $e.Seconds | Should -BeLessThan 5
            }
        }
    }
}

Describe 'Entra sign-in to the database' -Tag 'Database' {
    # Real sign-ins (MSAL over HTTPS against the test fixture's Entra ID and managed-identity endpoints), real Npgsql
    # and PostgreSQL: the role's password is set to the token the fixture issued, as Azure Database for PostgreSQL
    # checks it. SQL Server cannot run here: its sign-ins are called through SqlClient's own provider registry.
    BeforeAll {
        $script:NoFixture = -not (Test-Path (Join-Path $RepoRoot 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
        if ($NoFixture -or $NoPgReason) { return }
        $script:IdentityHeader = 'hdr-' + [guid]::NewGuid().ToString('N')
        $script:MiClient = [guid]::NewGuid().ToString()
        $script:Fixture = Start-TestAzureFixture -ManagedIdentity @{
            identityHeader = $IdentityHeader
            tenantId       = [guid]::NewGuid().ToString()
            systemAssigned = @{ clientId = $MiClient; objectId = [guid]::NewGuid().ToString() }
        }
        # A role that signs in with a password over TCP (the cluster trusts everyone else): the token will be that password.
        Invoke-TestPsql $Pg 'CREATE ROLE azb_entra LOGIN; GRANT CREATE ON SCHEMA public TO azb_entra' | Out-Null
        $hba = Join-Path $Pg.DataDir 'pg_hba.conf'
        [IO.File]::WriteAllText($hba, "host all azb_entra 127.0.0.1/32 scram-sha-256`n" + [IO.File]::ReadAllText($hba))
        Invoke-TestPsql $Pg 'SELECT pg_reload_conf()' | Out-Null
        $env = @{}
        foreach ($k in $Fixture.ChildEnv.Keys) { $env[$k] = $Fixture.ChildEnv[$k] }
        foreach ($k in 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_AUTHORITY_HOST', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'IMDS_ENDPOINT') { $env[$k] = $null }
        $env.NO_COLOR = '1'
        $env.PSQL = $Pg.PsqlPath
        $env.PGPORT_TEST = "$($Pg.Port)"
        $script:ChildEnv = $env
        $file = Join-Path $DataDir 'md-dates.csv'

        $script:PgRun = Invoke-ChildPwsh -Environment $env -TimeoutSeconds 180 -Script @"
`$ErrorActionPreference = 'Stop'
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
`$common = @{ TenantId = `$env:AZB_TENANT; ClientId = `$env:AZB_CLIENT_ID; ClientSecret = `$secret; AuthorityHost = `$env:AZB_FIXTURE_HTTPS; ResourceManagerUrl = `$env:AZB_FIXTURE_HTTPS }
`$db = Get-AzBillingToken @common -Scope 'https://ossrdbms-aad.database.windows.net/.default'
`$arm = Get-AzBillingToken @common
function Set-Password([string] `$p) { & `$env:PSQL -X -q -h 127.0.0.1 -p `$env:PGPORT_TEST -U postgres -d postgres -c "ALTER ROLE azb_entra PASSWORD '`$p'" | Out-Null }
`$cs = "Host=127.0.0.1;Port=`$env:PGPORT_TEST;Username=azb_entra;Database=postgres"
function Try-Run([string] `$name, [scriptblock] `$s) {
    try { `$r = & `$s; "`$name OK `$(`$r | Select-Object -First 1 | ForEach-Object { if (`$_.PSObject.Properties['RowsInserted']) { `$_.RowsInserted } else { `$_.Rows } })" }
    catch { "`$name ERR `$(`$_.FullyQualifiedErrorId) :: `$(`$_.Exception.Message)" }
}
Set-Password `$db.GetAccessToken()
Try-Run 'load' { Import-AzCostToSql -Path '$file' -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -ConnectionString `$cs -DatabaseToken `$db -Table EntraPg }
Try-Run 'derived' { Import-AzCostToSql -Path '$file' -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -ConnectionString `$cs -DatabaseToken `$arm -Table EntraPg }
Try-Run 'summary' { Get-AzCostSummary -ConnectionString `$cs -DatabaseToken `$db -Table EntraPg }
Try-Run 'state' { Get-AzBillingSyncState -ConnectionString `$cs -DatabaseToken `$db -Table EntraPg }
Set-Password ('not-the-token-' + [guid]::NewGuid())
# A new physical connection (no pool) signs in again, and the server now refuses the token.
Try-Run 'wrong' { Import-AzCostToSql -Path '$file' -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -ConnectionString "`$cs;Pooling=false" -DatabaseToken `$db -Table EntraPg }
Try-Run 'pgWeakTls' { Import-AzCostToSql -Path '$file' -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -ConnectionString 'Host=pg.example.invalid;Username=u;Database=d;SSL Mode=Require' -DatabaseToken `$arm }
Try-Run 'sqlUnchecked' { Import-AzCostToSql -Path '$file' -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -ConnectionString 'Server=sql.example.invalid;Database=billing;TrustServerCertificate=True' -DatabaseToken `$arm }
Try-Run 'sqlite' { Import-AzCostToSql -Path '$file' -Scope 5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f -DatabasePath ./x.sqlite -DatabaseToken `$arm }
"@
        $script:Issued = Get-TestFixtureIssued $Fixture
        $script:Lines = @{}
        foreach ($l in $PgRun.Output) { if ($l -match '^(\w+) (OK|ERR) ?(.*)$') { $Lines[$Matches[1]] = [pscustomobject]@{ Ok = $Matches[2] -eq 'OK'; Text = $Matches[3] } } }
    }

    AfterAll { if ($script:Fixture) { Stop-TestAzureFixture $Fixture } }

    BeforeEach {
        if ($NoPgReason) { Set-ItResult -Skipped -Because $NoPgReason }
        elseif ($NoFixture) { Set-ItResult -Skipped -Because 'the Azure test fixture is not built' }
    }

    It 'PostgreSQL: -DatabaseToken signs in with the Entra token as the password (a token for the database, or the same identity''s Resource Manager token, derived)' {
        $Lines.load.Ok | Should -BeTrue -Because "$($Lines.load.Text) $($PgRun.StdErr)"
        $Lines.load.Text | Should -Be '7'
        $Lines.derived.Ok | Should -BeTrue -Because $Lines.derived.Text
        $Lines.summary.Ok | Should -BeTrue -Because $Lines.summary.Text
        $Lines.state.Text | Should -Match '^SyncStateNotFound' -Because 'signed in and read: no Sync has run here'
        Invoke-TestPsql $Pg "SELECT tableowner FROM pg_tables WHERE tablename = 'EntraPg'" | Should -Be 'azb_entra'
        @($Issued.tokens | Where-Object resource -eq 'https://ossrdbms-aad.database.windows.net').Count | Should -BeGreaterThan 0
    }

    It 'PostgreSQL: a token the server does not accept is SqlConnectionFailed, and no stream shows the token' {
        $Lines.wrong.Ok | Should -BeFalse
        $Lines.wrong.Text | Should -Match '^SqlConnectionFailed.*password authentication failed for user "azb_entra"'
        foreach ($s in Get-TestFixtureSecrets $Fixture) {
            $PgRun.StdOut | Should -Not -Match ([regex]::Escape($s))
            $PgRun.StdErr | Should -Not -Match ([regex]::Escape($s))
        }
    }

    It 'a database token goes only over TLS with the certificate checked (or to this machine): refused before any token is requested' {
        $Lines.pgWeakTls.Text | Should -Match '^AzBillingTokenHostRefused.*SSL Mode=Require: no token was requested or sent'
        $Lines.sqlUnchecked.Text | Should -Match '^AzBillingTokenHostRefused.*TrustServerCertificate=True: no token was requested or sent'
        @($Issued.tokens | Where-Object resource -eq 'https://database.windows.net').Count | Should -Be 0
        $Lines.sqlite.Text | Should -Match '^AzBillingParameterConflict.*a SQLite file has no sign-in'
    }

    It 'SQL Server: Authentication=Active Directory ... in a connection string signs in through the module''s provider (Default, Managed Identity, Service Principal), for Azure SQL''s resource only' {
        $env = @{}
        foreach ($k in $ChildEnv.Keys) { $env[$k] = $ChildEnv[$k] }
        $env.AZURE_AUTHORITY_HOST = $Fixture.Https
        $env.IDENTITY_ENDPOINT = "$($Fixture.Http)/msi/token"
        $env.IDENTITY_HEADER = $IdentityHeader
        $run = Invoke-ChildPwsh -Environment $env -TimeoutSeconds 120 -Script @"
# The SQL Server sink registers the provider (a connection attempt to a closed port is enough).
`$null = Get-AzCostSummary -ConnectionString 'Server=tcp:127.0.0.1,1;Database=x;Authentication=Active Directory Default;Connect Timeout=1' -ErrorAction SilentlyContinue 2>&1
`$alc = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object { @(`$_.Assemblies | Where-Object { `$_.GetName().Name -eq 'AzBillingPS.Engine' }).Count -gt 0 }
`$abs = @(`$alc.Assemblies | Where-Object { `$_.GetName().Name -eq 'Microsoft.Data.SqlClient.Extensions.Abstractions' })[0]
`$providerType = `$abs.GetType('Microsoft.Data.SqlClient.SqlAuthenticationProvider')
`$methodType = `$abs.GetType('Microsoft.Data.SqlClient.SqlAuthenticationMethod')
`$paramsType = `$abs.GetType('Microsoft.Data.SqlClient.SqlAuthenticationParameters')
`$issued = { (Invoke-RestMethod "`$env:AZB_FIXTURE_HTTP/_fixture/issued").tokens }
function Test-Method([string] `$name, [string] `$method, [string] `$resource, [string] `$user, [string] `$password) {
    `$m = [Enum]::Parse(`$methodType, `$method)
    `$provider = `$providerType.GetMethod('GetProvider').Invoke(`$null, @(`$m))
    `$p = [Activator]::CreateInstance(`$paramsType, @(`$m, 'finops.database.windows.net', 'billing', `$resource, "https://login.windows.net/`$env:AZB_TENANT", `$user, `$password, [guid]::NewGuid(), 30))
    try {
        `$token = `$provider.AcquireTokenAsync(`$p).GetAwaiter().GetResult()
        `$t = & `$issued | Where-Object accessToken -eq `$token.AccessToken
        "`$name PROVIDER=`$(`$provider.GetType().Name) RESOURCE=`$(`$t.resource) KIND=`$(`$t.kind)"
    }
    catch { "`$name ERR `$(`$_.Exception.GetBaseException().Message)" }
}
`$env:AZURE_TENANT_ID = `$env:AZB_TENANT; `$env:AZURE_CLIENT_ID = `$env:AZB_CLIENT_ID; `$env:AZURE_CLIENT_SECRET = `$env:AZB_CLIENT_SECRET
Test-Method 'default' 'ActiveDirectoryDefault' 'https://database.windows.net/'
Test-Method 'notSql' 'ActiveDirectoryDefault' 'https://management.azure.com/'
Remove-Item env:AZURE_CLIENT_SECRET, env:AZURE_CLIENT_ID, env:AZURE_TENANT_ID
Test-Method 'sp' 'ActiveDirectoryServicePrincipal' 'https://database.windows.net/' `$env:AZB_CLIENT_ID `$env:AZB_CLIENT_SECRET
Test-Method 'mi' 'ActiveDirectoryManagedIdentity' 'https://database.windows.net/'
Test-Method 'defaultMi' 'ActiveDirectoryDefault' 'https://database.windows.net/'
"@
        $out = @{}
        foreach ($l in $run.Output) { if ($l -match '^(\w+) (.*)$') { $out[$Matches[1]] = $Matches[2] } }
        $out.default | Should -Be 'PROVIDER=EntraSqlAuthentication RESOURCE=https://database.windows.net KIND=entra' -Because "$($run.StdOut) $($run.StdErr)"
        $out.sp | Should -Be 'PROVIDER=EntraSqlAuthentication RESOURCE=https://database.windows.net KIND=entra'
        $out.mi | Should -Match '^PROVIDER=EntraSqlAuthentication RESOURCE=https://database.windows.net KIND=appservice'
        $out.defaultMi | Should -Match '^PROVIDER=EntraSqlAuthentication RESOURCE=https://database.windows.net KIND=appservice'
        $out.notSql | Should -Match "^ERR The server asked for a token for 'https://management.azure.com/', which is not Azure SQL's resource.*no token was requested or sent"
        $run.StdOut | Should -Not -Match ([regex]::Escape($Fixture.ClientSecret))
    }
}
