#Requires -Version 7.4
# Live SQL Server / Azure SQL tests: run when AZBILLING_TEST_SQLSERVER holds a connection string (a login that may
# create schemas and tables, and KILL sessions: sysadmin on a test server), reported as skipped otherwise. Every T-SQL
# statement the sink sends is also parsed by ScriptDom in the always-on xunit tests (TSqlParsingTests).
#
# AZBILLING_TEST_SQLSERVER_ENTRA, when set, is a connection string for Azure SQL that signs in with Entra ID through
# the module's provider (for example 'Server=tcp:x.database.windows.net;Database=billing;Authentication=Active Directory
# Default', with AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET in the environment); the Entra cases run only then.
#
# The cases follow issue 13: 1 Entra sign-in (connection string and token), 2 the certificate error, 3 a schema that
# does not exist, 4 column spelling, 5 totals of 10^12, 6 table design (clustered index, columnstore, sized columns),
# 7 waits bounded and named, 8 a killed session retried, 9 names checked before data moves; plus four units at once
# and drift committed apart from the load.

BeforeDiscovery {
    $script:NoSqlServer = -not $env:AZBILLING_TEST_SQLSERVER
    $script:NoEntra = -not $env:AZBILLING_TEST_SQLSERVER_ENTRA
}

BeforeAll {
    Import-Module $env:AZBILLING_MODULE_PATH -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Cs = $env:AZBILLING_TEST_SQLSERVER
    $script:Data = Join-Path $env:AZBILLING_REPO_ROOT 'tests/data'
    $script:Run = [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:Table = "AzbTest_$Run"
    $script:Scope = '/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f'
    $script:Seq = 0
    function New-Name([string] $Prefix) { $script:Seq++; "Azb${Prefix}_$($script:Seq)_$Run" }
    function Get-Total([string] $T = $Table) { (Get-AzCostSummary -ConnectionString $Cs -Table $T | Measure-Object Cost -Sum).Sum }

    # A second connection of the test's own, through the SqlClient the module loaded (its load context).
    function Get-SqlClientType([string] $Name) {
        $alc = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object { @($_.Assemblies | Where-Object { $_.GetName().Name -eq 'AzBillingPS.Engine' }).Count -gt 0 } | Select-Object -First 1
        if (-not $alc) { throw 'The module''s engine is not loaded yet.' }
        $alc.LoadFromAssemblyName([Reflection.AssemblyName]::new('Microsoft.Data.SqlClient')).GetType($Name, $true)
    }
    function New-TestSqlConnection([string] $ConnectionString = $Cs) {
        $c = [Activator]::CreateInstance((Get-SqlClientType 'Microsoft.Data.SqlClient.SqlConnection'), @([string] $ConnectionString))
        $c.Open()
        $c
    }
    function Invoke-TestSql($Connection, [string] $Sql) {
        # Each row as an array of values.
        $cmd = $Connection.CreateCommand()
        $cmd.CommandText = $Sql
        $cmd.CommandTimeout = 120
        $r = $cmd.ExecuteReader()
        try {
            do {
                while ($r.Read()) { , @(for ($i = 0; $i -lt $r.FieldCount; $i++) { $r.GetValue($i) }) }
            } while ($r.NextResult())
        }
        finally { $r.Dispose(); $cmd.Dispose() }
    }
    function Invoke-Scalar([string] $Sql) {
        $c = New-TestSqlConnection
        try { @(Invoke-TestSql $c $Sql)[0][0] } finally { $c.Dispose() }
    }
    function New-Csv([string] $Path, [string[]] $Days, [hashtable] $Extra = @{}, [string] $Cost = '1.25') {
        $names = @('Date', 'SubscriptionId', 'MeterCategory', 'CostInBillingCurrency', 'BillingCurrencyCode') + @($Extra.Keys)
        $lines = @($names -join ',')
        foreach ($d in $Days) { $lines += (@($d, '5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f', 'Storage', $Cost, 'JPY') + @($Extra.Values)) -join ',' }
        [IO.File]::WriteAllLines($Path, $lines)
        Get-Item -LiteralPath $Path
    }
    function Measure-Call([scriptblock] $Call) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $err = $null
        try { $null = & $Call } catch { $err = $_ }
        [pscustomobject]@{ Seconds = $sw.Elapsed.TotalSeconds; Error = $err }
    }
    function Start-Holder([string] $Sql) {
        # A session of the test's own that runs $Sql inside an open transaction and keeps it open (Stop-Holder rolls back).
        $c = New-TestSqlConnection
        $tx = $c.BeginTransaction()
        $cmd = $c.CreateCommand()
        $cmd.Transaction = $tx
        $cmd.CommandText = $Sql
        $cmd.CommandTimeout = 60
        $null = $cmd.ExecuteNonQuery()
        [pscustomobject]@{ Connection = $c; Transaction = $tx }
    }
    function Stop-Holder($h) { if ($h) { try { $h.Transaction.Rollback() } catch { }; $h.Connection.Dispose() } }
    function Get-AppLock([string] $Resource) {
        # The resource string the module gives sp_getapplock (names longer than 255 characters are hashed; these are not).
        "DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'$($Resource.Replace("'", "''"))', @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 10000; IF @r < 0 THROW 50000, 'no lock', 1;"
    }

    if ($Cs) {
        # Load the engine (and SqlClient) into the module's load context.
        $null = Import-AzCostToSql -Path (Join-Path $Data 'md-dates.csv') -Scope $Scope -ConnectionString $Cs -Table $Table -WhatIf
    }
}

AfterAll {
    if ($script:Cs) {
        try {
            $c = New-TestSqlConnection
            try {
                $drops = @(Invoke-TestSql $c "SELECT QUOTENAME(SCHEMA_NAME(schema_id)) + '.' + QUOTENAME(name) FROM sys.tables WHERE name LIKE '%$Run%'") | ForEach-Object { "DROP TABLE $($_[0]);" }
                if ($drops) { $null = Invoke-TestSql $c ($drops -join "`n") }
                $schemas = @(Invoke-TestSql $c "SELECT QUOTENAME(name) FROM sys.schemas WHERE name LIKE '%$Run%'") | ForEach-Object { "DROP SCHEMA $($_[0]);" }
                if ($schemas) { $null = Invoke-TestSql $c ($schemas -join "`n") }
            }
            finally { $c.Dispose() }
        }
        catch { Write-Warning "Cleanup of the test tables failed: $_" }
    }
}

Describe 'Import-AzCostToSql on SQL Server' -Tag 'SqlServer' -Skip:$NoSqlServer {
    It 'loads exact decimals and re-loads without duplicating' {
        $file = Join-Path $Data 'long-decimals.csv'
        $expected = [decimal]0; foreach ($v in (Get-CsvDailySum -Path $file).Values) { $expected += [decimal]::Round($v, 20, 'AwayFromZero') }
        $r1 = Import-AzCostToSql -Path $file -Scope $Scope -ConnectionString $Cs -Table $Table
        $r2 = Import-AzCostToSql -Path $file -Scope $Scope -ConnectionString $Cs -Table $Table
        $r2.RowsReplaced | Should -Be $r1.RowsInserted
        (Get-AzCostSummary -ConnectionString $Cs -Table $Table | Measure-Object Rows -Sum).Sum | Should -Be $r1.RowsInserted
        [decimal](Get-Total) | Should -Be $expected
    }

    It 'a bad value leaves the table as it was' {
        $before = Get-Total
        Import-AzCostToSql -Path (Join-Path $Data 'bad-value.csv') -Scope $Scope -ConnectionString $Cs -Table $Table -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'CsvBadValue*'
        Get-Total | Should -Be $before
    }
}

Describe 'SQL Server: ready for the first live run (issue 13)' -Tag 'SqlServer' -Skip:$NoSqlServer {
    Context '2. encryption: an untrusted certificate is a clear error' {
        It 'says to install the certificate, or TrustServerCertificate only on a trusted network' {
            $b = [Activator]::CreateInstance((Get-SqlClientType 'Microsoft.Data.SqlClient.SqlConnectionStringBuilder'), @([string] $Cs))
            $b['Encrypt'] = 'True'
            $b['TrustServerCertificate'] = $false
            $e = Measure-Call { Get-AzCostSummary -ConnectionString $b.ConnectionString -Table $Table -ErrorAction Stop }
            if (-not $e.Error -or $e.Error.FullyQualifiedErrorId -like 'AzBillingNotFound*') {
                Set-ItResult -Skipped -Because 'this server''s certificate is trusted by this machine (Azure SQL, or an installed certificate)'
                return
            }
            $e.Error.FullyQualifiedErrorId | Should -BeLike 'SqlConnectionFailed*'
            $e.Error.Exception.Message | Should -Match 'TLS certificate is not trusted'
            $e.Error.Exception.Message | Should -Match 'TrustServerCertificate=True'
        }
    }

    Context '3. a -Schema that does not exist' {
        It 'is created (its own batch, through sp_executesql) with the table, and the table loads into it' {
            $schema = New-Name 'Sch'
            $r = Import-AzCostToSql -Path (Join-Path $Data 'md-dates.csv') -Scope $Scope -ConnectionString $Cs -Schema $schema -Table 'Costs'
            $r.RowsInserted | Should -Be 7
            Invoke-Scalar "SELECT COUNT(*) FROM [$schema].[Costs]" | Should -Be 7
        }

        It 'a failed first load leaves no schema behind' {
            $schema = New-Name 'Sch'
            Import-AzCostToSql -Path (Join-Path $Data 'bad-value.csv') -Scope $Scope -ConnectionString $Cs -Schema $schema -Table 'Costs' -ErrorAction SilentlyContinue
            Invoke-Scalar "SELECT COUNT(*) FROM sys.schemas WHERE name = N'$schema'" | Should -Be 0
        }
    }

    Context '4. column names keep the table''s spelling' {
        It 'a column spelled Mixed in the table and mixed in the next file loads into Mixed' {
            $t = New-Name 'Case'
            $a = New-Csv (Join-Path $TestDrive "$t-a.csv") '2026-03-01' @{ Mixed = 'first' }
            $b = New-Csv (Join-Path $TestDrive "$t-b.csv") '2026-04-01' @{ mixed = 'second' }
            $null = Import-AzCostToSql -Path $a -Scope $Scope -ConnectionString $Cs -Table $t
            $r = Import-AzCostToSql -Path $b -Scope $Scope -ConnectionString $Cs -Table $t -WarningVariable w
            $r.RowsInserted | Should -Be 1
            $w | Should -BeNullOrEmpty
            Invoke-Scalar "SELECT STRING_AGG([Mixed], ',') WITHIN GROUP (ORDER BY [Date]) FROM dbo.[$t]" | Should -Be 'first,second'
        }
    }

    Context '5. summaries of very large totals' {
        It 'a month of JPY totals of 10^12 with 20 fractional digits sums without overflowing' {
            $t = New-Name 'Big'
            $days = 1..28 | ForEach-Object { '2026-02-{0:D2}' -f $_ }
            $f = New-Csv (Join-Path $TestDrive "$t.csv") $days -Cost '99999999999.12345678901234567891'
            $null = Import-AzCostToSql -Path $f -Scope $Scope -ConnectionString $Cs -Table $t
            $e = Measure-Call { $script:BigSummary = @(Get-AzCostSummary -ConnectionString $Cs -Table $t -ErrorAction Stop) }
            $e.Error | Should -BeNullOrEmpty -Because 'the sum is 2.8 x 10^12 with 20 fractional digits: more than decimal holds'
            $expected = [decimal]::Round([decimal]'99999999999.12345678901234567891' * 28, 6)
            [decimal]::Round([decimal]$BigSummary[0].Cost, 6) | Should -Be $expected
        }
    }

    Context '6. table design' {
        It 'a new table gets the clustered index on (_Scope, _Metric, Date) and sized text columns' {
            $t = New-Name 'Design'
            $null = Import-AzCostToSql -Path (Join-Path $Data 'md-dates.csv') -Scope $Scope -ConnectionString $Cs -Table $t
            $ix = @(Invoke-TestSql (New-TestSqlConnection) "SELECT i.type_desc, i.name FROM sys.indexes i WHERE i.object_id = OBJECT_ID(N'dbo.[$t]') AND i.index_id = 1")[0]
            $ix[0] | Should -Be 'CLUSTERED'
            $ix[1] | Should -Be "IX_${t}_ScopeMetricDate"
            Invoke-Scalar "SELECT STRING_AGG(c.name, ',') WITHIN GROUP (ORDER BY ic.key_ordinal) FROM sys.index_columns ic JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id WHERE ic.object_id = OBJECT_ID(N'dbo.[$t]') AND ic.index_id = 1" | Should -Be '_Scope,_Metric,Date'
            Invoke-Scalar "SELECT max_length FROM sys.columns WHERE object_id = OBJECT_ID(N'dbo.[$t]') AND name = N'BillingCurrencyCode'" | Should -Be 32
            Invoke-Scalar "SELECT max_length FROM sys.columns WHERE object_id = OBJECT_ID(N'dbo.[$t]') AND name = N'ResourceId'" | Should -Be -1
        }

        It '-Columnstore: a clustered columnstore index, rows bulk-copied straight into compressed rowgroups, reloads exactly once' {
            $t = New-Name 'Cci'
            $file = New-TestCostFile -Kind Ea -Rows 110000 -Month 2026-01 -Path (Join-Path $TestDrive "$t.csv") -Seed 5
            $r1 = Import-AzCostToSql -Path $file -Scope $Scope -ConnectionString $Cs -Table $t -Columnstore
            Invoke-Scalar "SELECT type_desc FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.[$t]') AND index_id = 1" | Should -Be 'CLUSTERED COLUMNSTORE'
            # 110,000 rows in one batch (at least 102,400): one compressed rowgroup, no delta store.
            Invoke-Scalar "SELECT COUNT(*) FROM sys.dm_db_column_store_row_group_physical_stats WHERE object_id = OBJECT_ID(N'dbo.[$t]') AND state_desc = 'OPEN'" | Should -Be 0
            $r2 = Import-AzCostToSql -Path $file -Scope $Scope -ConnectionString $Cs -Table $t
            $r2.RowsReplaced | Should -Be $r1.RowsInserted
            Invoke-Scalar "SELECT COUNT(*) FROM dbo.[$t]" | Should -Be $r1.RowsInserted
        }
    }

    Context '7. waits are bounded and say whose lock it was' {
        BeforeAll {
            $script:LockT = New-Name 'Lock'
            $script:ScopeA = '/subscriptions/aaaaaaaa-0000-0000-0000-00000000000a'
            $script:ScopeB = '/subscriptions/bbbbbbbb-0000-0000-0000-00000000000b'
            $script:March = New-Csv (Join-Path $TestDrive 'march.csv') '2026-03-01', '2026-03-31'
            foreach ($s in $ScopeA, $ScopeB) { $null = Import-AzCostToSql -Path $March -Scope $s -ConnectionString $Cs -Table $LockT }
            $script:Upper = "AZBILLINGPS:DBO.$($LockT.ToUpperInvariant())"
        }

        It 'another load of the same unit: SqlLockTimeout after -LockTimeout naming the unit; another unit loads meanwhile' {
            $h = Start-Holder (Get-AppLock "$Upper|$($ScopeA.ToUpperInvariant())|ACTUALCOST|2026-03")
            try {
                $b = Measure-Call { Import-AzCostToSql -Path $March -Scope $ScopeB -ConnectionString $Cs -Table $LockT -LockTimeout 20 -ErrorAction Stop }
                $b.Error | Should -BeNullOrEmpty
                $a = Measure-Call { Import-AzCostToSql -Path $March -Scope $ScopeA -ConnectionString $Cs -Table $LockT -LockTimeout 2 -ErrorAction Stop }
                $a.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeout,*'
                $a.Error.Exception.Message | Should -Match "Another load of $([regex]::Escape($ScopeA)) ActualCost 2026-03 into .* held its lock for more than 2 seconds"
                $a.Seconds | Should -BeLessThan 10
            }
            finally { Stop-Holder $h }
        }

        It 'a session holding the table (an open transaction): SET LOCK_TIMEOUT bounds the load''s wait, SqlLockTimeoutReader names it' {
            $h = Start-Holder "SELECT TOP (1) 1 FROM dbo.[$LockT] WITH (TABLOCKX, HOLDLOCK)"
            try {
                $e = Measure-Call { Import-AzCostToSql -Path $March -Scope $ScopeA -ConnectionString $Cs -Table $LockT -LockTimeout 2 -ErrorAction Stop }
            }
            finally { Stop-Holder $h }
            $e.Error.FullyQualifiedErrorId | Should -BeLike 'SqlLockTimeoutReader,*'
            $e.Error.Exception.Message | Should -Match 'A session on SQL Server .* held a lock on .* for more than 2 seconds'
            $e.Seconds | Should -BeLessThan 15
            Invoke-Scalar "SELECT COUNT(*) FROM dbo.[$LockT]" | Should -Be 4
        }

        It 'adding columns commits in its own short transaction: while the load waits for its unit, the column exists and readers go on' {
            $drift = New-Csv (Join-Path $TestDrive 'drift.csv') '2026-03-05' @{ NewColumn = 'x' }
            $h = Start-Holder (Get-AppLock "$Upper|$($ScopeA.ToUpperInvariant())|ACTUALCOST|2026-03")
            $job = Start-ThreadJob -ArgumentList $env:AZBILLING_MODULE_PATH, $drift.FullName, $ScopeA, $Cs, $LockT -ScriptBlock {
                param($m, $f, $s, $cs, $t)
                Import-Module $m
                (Import-AzCostToSql -Path $f -Scope $s -ConnectionString $cs -Table $t -LockTimeout 60 -WarningAction SilentlyContinue).ColumnsAdded
            }
            try {
                $until = [DateTime]::UtcNow.AddSeconds(60)
                while ([DateTime]::UtcNow -lt $until -and (Invoke-Scalar "SELECT COUNT(*) FROM sys.columns WHERE object_id = OBJECT_ID(N'dbo.[$LockT]') AND name = N'NewColumn'") -eq 0) { Start-Sleep -Milliseconds 200 }
                Invoke-Scalar "SELECT COUNT(*) FROM sys.columns WHERE object_id = OBJECT_ID(N'dbo.[$LockT]') AND name = N'NewColumn'" | Should -Be 1
                Invoke-Scalar "SET LOCK_TIMEOUT 2000; SELECT COUNT(*) FROM dbo.[$LockT]" | Should -BeGreaterThan 0 -Because 'no schema-modify lock is held while the load waits'
            }
            finally { Stop-Holder $h }
            ($job | Wait-Job -Timeout 120 | Receive-Job) | Should -Be 'NewColumn'
            $job | Remove-Job -Force
        }
    }

    Context '8. a session killed mid-unit (KILL from a second connection) is tried again from a new connection' {
        It 'the unit succeeds after a warning, and the month holds its rows once' {
            $t = New-Name 'Kill'
            $file = New-Csv (Join-Path $TestDrive "$t.csv") '2026-06-01', '2026-06-02'
            $null = Import-AzCostToSql -Path $file -Scope $Scope -ConnectionString $Cs -Table $t
            $h = Start-Holder (Get-AppLock "AZBILLINGPS:DBO.$($t.ToUpperInvariant())|$($Scope.ToUpperInvariant())|ACTUALCOST|2026-06")
            $job = Start-ThreadJob -ArgumentList $env:AZBILLING_MODULE_PATH, $file.FullName, $Scope, $Cs, $t -ScriptBlock {
                param($m, $f, $s, $cs, $tab)
                Import-Module $m
                [AzBillingPS.Internal.InternalHooks]::SetTestHook('DbRetryScale', 0.1)
                try { $r = Import-AzCostToSql -Path $f -Scope $s -ConnectionString $cs -Table $tab -LockTimeout 60 -WarningVariable w -ErrorAction Stop }
                finally { [AzBillingPS.Internal.InternalHooks]::SetTestHook('DbRetryScale', 1.0) }
                [pscustomobject]@{ Rows = $r.RowsInserted; Replaced = $r.RowsReplaced; Warnings = @($w | ForEach-Object { "$_" }) }
            }
            try {
                # The load waits for its unit's lock inside its transaction; its session is killed there.
                $killed = $false
                $until = [DateTime]::UtcNow.AddSeconds(60)
                while (-not $killed -and [DateTime]::UtcNow -lt $until) {
                    $spid = @(Invoke-TestSql (New-TestSqlConnection) "SELECT r.session_id FROM sys.dm_exec_requests r CROSS APPLY sys.dm_exec_sql_text(r.sql_handle) x WHERE x.text LIKE N'%sp_getapplock%' AND r.wait_type LIKE N'LCK_M%' AND r.session_id <> @@SPID")
                    if ($spid.Count -gt 0) { $null = Invoke-Scalar "KILL $($spid[0][0])"; $killed = $true } else { Start-Sleep -Milliseconds 200 }
                }
                $killed | Should -BeTrue
                Start-Sleep -Milliseconds 500
            }
            finally { Stop-Holder $h }
            $res = $job | Wait-Job -Timeout 120 | Receive-Job
            $job | Remove-Job -Force
            $res.Rows | Should -Be 2
            ($res.Warnings -join "`n") | Should -Match 'failed with a transient error .*; the transaction was rolled back\. Trying again'
            Invoke-Scalar "SELECT COUNT(*) FROM dbo.[$t]" | Should -Be 2
            Invoke-Scalar "SELECT COUNT(DISTINCT _ImportId) FROM dbo.[$t]" | Should -Be 1
        }
    }

    Context '9. names checked before data moves' {
        It 'a 128-character table loads (its index name shortened with a hash); 129 characters is refused before the first row' {
            $long = ("L$Run" + ('x' * 128)).Substring(0, 128)
            $r = Import-AzCostToSql -Path (Join-Path $Data 'md-dates.csv') -Scope $Scope -ConnectionString $Cs -Table $long
            $r.RowsInserted | Should -Be 7
            Invoke-Scalar "SELECT name FROM sys.indexes WHERE object_id = OBJECT_ID(N'dbo.[$long]') AND index_id = 1" | Should -Match '^IX_.+_[0-9a-f]{8}_ScopeMetricDate$'
            $e = Measure-Call { Import-AzCostToSql -Path (Join-Path $Data 'bad-value.csv') -Scope $Scope -ConnectionString $Cs -Table ($long + 'y') -ErrorAction Stop }
            $e.Error.FullyQualifiedErrorId | Should -BeLike 'SqlInvalidIdentifier*'
            $e.Error.Exception.Message | Should -Match 'at most 128'
        }
    }

    Context 'four different units load at once into one table' {
        It 'every row once' {
            $t = New-Name 'Par'
            $file = New-TestCostFile -Kind Ea -Rows 20000 -Month 2026-05 -Path (Join-Path $TestDrive "$t.csv") -Seed 3
            $null = Import-AzCostToSql -Path $file -Scope '/subscriptions/00000000-0000-0000-0000-000000000000' -ConnectionString $Cs -Table $t
            $jobs = foreach ($i in 1..4) {
                Start-ThreadJob -ArgumentList $env:AZBILLING_MODULE_PATH, $file.FullName, "/subscriptions/cccccccc-0000-0000-0000-00000000000$i", $Cs, $t -ScriptBlock {
                    param($m, $f, $s, $cs, $tab)
                    Import-Module $m
                    (Import-AzCostToSql -Path $f -Scope $s -ConnectionString $cs -Table $tab -LockTimeout 300 -ErrorAction Stop).RowsInserted
                }
            }
            $rows = @($jobs | Wait-Job -Timeout 600 | Receive-Job)
            $jobs | Remove-Job -Force
            $n = Get-CsvRowCount $file.FullName
            $rows | Should -Be (@($n) * 4)
            foreach ($r in Invoke-TestSql (New-TestSqlConnection) "SELECT _Scope, COUNT(*), COUNT(DISTINCT _ImportId) FROM dbo.[$t] GROUP BY _Scope") {
                $r[1] | Should -Be $n
                $r[2] | Should -Be 1
            }
        }
    }
}

Describe 'SQL Server: Entra sign-in (issue 13, 1)' -Tag 'SqlServer' -Skip:$NoEntra {
    It 'Authentication=Active Directory ... in the connection string signs in through the module''s provider' {
        $t = "AzbEntra_$Run"
        $r = Import-AzCostToSql -Path (Join-Path $Data 'md-dates.csv') -Scope $Scope -ConnectionString $env:AZBILLING_TEST_SQLSERVER_ENTRA -Table $t
        $r.RowsInserted | Should -Be 7
        (Get-AzCostSummary -ConnectionString $env:AZBILLING_TEST_SQLSERVER_ENTRA -Table $t | Measure-Object Rows -Sum).Sum | Should -Be 7
    }

    It '-DatabaseToken: a Resource Manager token from Get-AzBillingToken is used for Azure SQL''s resource' {
        $b = [Activator]::CreateInstance((Get-SqlClientType 'Microsoft.Data.SqlClient.SqlConnectionStringBuilder'), @([string] $env:AZBILLING_TEST_SQLSERVER_ENTRA))
        $null = $b.Remove('Authentication'); $null = $b.Remove('User ID'); $null = $b.Remove('Password')
        $secret = ConvertTo-SecureString $env:AZURE_CLIENT_SECRET -AsPlainText -Force
        $token = Get-AzBillingToken -TenantId $env:AZURE_TENANT_ID -ClientId $env:AZURE_CLIENT_ID -ClientSecret $secret
        $r = Import-AzCostToSql -Path (Join-Path $Data 'md-dates.csv') -Scope $Scope -ConnectionString $b.ConnectionString -DatabaseToken $token -Table "AzbEntraToken_$Run"
        $r.RowsInserted | Should -Be 7
    }
}
