#Requires -Version 7.4
# A load that is interrupted (the process killed mid-load, or the pipeline stopped as Ctrl+C does) leaves the
# table exactly as it was: same rows, same import ids, same sums. Real PostgreSQL and a real SQLite file.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoPg = -not (Get-TestPgBin)
    $script:NoSqlite3 = -not (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module $env:AZBILLING_MODULE_PATH -Force
    $script:Folder = Join-Path ([IO.Path]::GetTempPath()) "azb-interrupt-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory $Folder | Out-Null
    $script:Scope = '/subscriptions/00000000-0000-0000-0000-00000000abcd'
    # A small first load, then a large file for the same month whose load gets interrupted.
    $script:Small = (New-TestCostFile -Kind Ea -Rows 300 -Month 2026-03 -Path (Join-Path $Folder 'small.csv') -Seed 1)[0].FullName
    $script:Large = (New-TestCostFile -Kind Ea -Rows 400000 -Month 2026-03 -Path (Join-Path $Folder 'large.csv') -Seed 2)[0].FullName
    $script:Pg = if (-not $NoPg) { Start-TestPostgres -WarningAction SilentlyContinue }
    $script:Sqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source

    function Start-ChildImport([string] $TargetArgs) {
        $cmd = Get-TestPwshCommand
        $script = "Import-Module '$env:AZBILLING_MODULE_PATH'; Import-AzCostToSql -LiteralPath '$Large' -Scope '$Scope' $TargetArgs -BatchSize 20000 -Verbose *>&1 | ForEach-Object { `"`$_`" }"
        $psi = [Diagnostics.ProcessStartInfo]::new($cmd.FilePath)
        foreach ($a in $cmd.Arguments) { $psi.ArgumentList.Add($a) }
        foreach ($a in '-NoProfile', '-NonInteractive', '-Command', $script) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true
        $psi.UseShellExecute = $false
        return [Diagnostics.Process]::Start($psi)
    }

    function Wait-ForRows([Diagnostics.Process] $Process) {
        # Read the child's verbose lines until a batch of rows has gone in, then return (the load is mid-way).
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        while ([DateTime]::UtcNow -lt $deadline -and -not $Process.HasExited) {
            $line = $Process.StandardOutput.ReadLine()
            if ($line -match '40,000 rows') { return $true }
        }
        return $false
    }
}

AfterAll {
    if ($Pg) { Stop-TestPostgres $Pg }
    Remove-Item -Recurse -Force $Folder -ErrorAction SilentlyContinue
}

Describe 'An interrupted load leaves the previous data exactly as it was' -Tag 'Import', 'Interrupt' {
    It 'PostgreSQL: killing the process mid-COPY' -Skip:$NoPg {
        $table = 'Interrupted'
        $target = "-Provider PostgreSql -ConnectionString '$($Pg.ConnectionString)' -Table $table"
        Import-AzCostToSql -Path $Small -Scope $Scope -Provider PostgreSql -ConnectionString $Pg.ConnectionString -Table $table | Out-Null
        $before = Invoke-TestPsql $Pg "SELECT count(*), sum(""CostInBillingCurrency""), string_agg(DISTINCT ""_ImportId""::text, ',') FROM ""$table"""

        $p = Start-ChildImport $target
        Wait-ForRows $p | Should -BeTrue -Because 'the child reports its first batches before it is killed'
        $p.Kill($true); $p.WaitForExit()

        # The server notices the dropped connection and rolls back; wait until the backend has gone.
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ([DateTime]::UtcNow -lt $deadline -and (Invoke-TestPsql $Pg "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid()") -ne '0') { Start-Sleep -Milliseconds 200 }
        Invoke-TestPsql $Pg "SELECT count(*), sum(""CostInBillingCurrency""), string_agg(DISTINCT ""_ImportId""::text, ',') FROM ""$table""" | Should -Be $before
    }

    It 'SQLite: killing the process mid-insert' -Skip:$NoSqlite3 {
        $db = Join-Path $Folder 'killed.sqlite'
        Import-AzCostToSql -Path $Small -Scope $Scope -DatabasePath $db | Out-Null
        $query = 'SELECT count(*), printf(''%.6f'', sum(CostInBillingCurrency)), group_concat(DISTINCT _ImportId) FROM AzureCostDetails'
        $before = & $Sqlite3 $db $query

        $p = Start-ChildImport "-DatabasePath '$db'"
        Wait-ForRows $p | Should -BeTrue
        $p.Kill($true); $p.WaitForExit()

        & $Sqlite3 $db $query | Should -Be $before   # the hot journal is rolled back when the file is next opened
        & $Sqlite3 $db 'PRAGMA integrity_check' | Should -Be 'ok'
        # And the next load works.
        (Import-AzCostToSql -Path $Small -Scope $Scope -DatabasePath $db).RowsReplaced | Should -Be 300
    }

    It 'Stopping the pipeline (what Ctrl+C does) cancels promptly and rolls back' -Skip:$NoSqlite3 {
        $db = Join-Path $Folder 'stopped.sqlite'
        Import-AzCostToSql -Path $Small -Scope $Scope -DatabasePath $db | Out-Null
        $query = 'SELECT count(*), printf(''%.6f'', sum(CostInBillingCurrency)), group_concat(DISTINCT _ImportId) FROM AzureCostDetails'
        $before = & $Sqlite3 $db $query

        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$env:AZBILLING_MODULE_PATH'; Import-AzCostToSql -LiteralPath '$Large' -Scope '$Scope' -DatabasePath '$db' -BatchSize 20000 -Verbose")
        $handle = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ([DateTime]::UtcNow -lt $deadline -and -not ($ps.Streams.Verbose | Where-Object Message -match '40,000 rows')) { Start-Sleep -Milliseconds 50 }
        @($ps.Streams.Verbose.Message -match '40,000 rows').Count | Should -BeGreaterThan 0 -Because 'the load is under way'
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $ps.Stop()
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 10 -Because 'the cancellation reaches the row loop'
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $ps.Dispose()

        & $Sqlite3 $db $query | Should -Be $before
    }
}

Describe 'Stopping Import-AzCostExport mid-load (Ctrl+C) leaves the data and the export state as they were' -Tag 'Import', 'Interrupt', 'Export' {
    BeforeAll {
        # An export whose March run is loaded, then a newer, large run of the same month whose load is stopped part-way.
        $script:ExportRoot = Join-Path $Folder 'exports'
        function New-Run([string] $Submitted, [int] $Rows, [int] $Seed) { New-TestExportRun daily ActualCost 2026-03 $Submitted Csv $Rows 2 $Seed -Scope $Scope }
        $script:OldRun = New-Run '2026-03-04T06:00:00Z' 500 31
        $script:NewRun = New-Run '2026-03-05T06:00:00Z' 300000 32
        $null = New-TestExportLayout -Root $ExportRoot -Runs @($OldRun)
        $script:PendingRoot = Join-Path $Folder 'pending'
        $null = New-TestExportLayout -Root $PendingRoot -Runs @($NewRun)

        function Stop-ExportMidLoad([string] $TargetArgs) {
            # The pipeline is stopped as Ctrl+C stops it, once the child has reported its first batches of the new run.
            $ps = [powershell]::Create()
            $null = $ps.AddScript("Import-Module '$env:AZBILLING_MODULE_PATH'; Import-AzCostExport -Path '$ExportRoot' $TargetArgs -BatchSize 20000 -Verbose")
            $handle = $ps.BeginInvoke()
            $deadline = [DateTime]::UtcNow.AddSeconds(90)
            while ([DateTime]::UtcNow -lt $deadline -and -not ($ps.Streams.Verbose | Where-Object Message -match '40,000 of 300,000 rows')) { Start-Sleep -Milliseconds 50 }
            $reached = @($ps.Streams.Verbose.Message -match '40,000 of 300,000 rows').Count -gt 0
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $result = [pscustomobject]@{ Reached = $reached; Seconds = $sw.Elapsed.TotalSeconds; State = "$($ps.InvocationStateInfo.State)" }
            $ps.Dispose()
            $result
        }
    }

    It 'SQLite: the month keeps the old run''s rows, and the state table still names the old run' -Skip:$NoSqlite3 {
        $db = Join-Path $Folder 'export-stopped.sqlite'
        (Import-AzCostExport -Path $ExportRoot -DatabasePath $db).RowsInserted | Should -Be 500
        $query = 'SELECT count(*), printf(''%.6f'', sum(CostInBillingCurrency)), group_concat(DISTINCT _ImportId) FROM AzureCostDetails'
        $before = & $Sqlite3 $db $query
        $state = & $Sqlite3 $db 'SELECT RunId, Rows, ImportId FROM AzureCostDetails_ExportState'

        Copy-Item -Recurse -Force (Join-Path $PendingRoot 'exports') $ExportRoot
        $stop = Stop-ExportMidLoad "-DatabasePath '$db'"
        $stop.Reached | Should -BeTrue -Because 'the new run is being loaded when the pipeline is stopped'
        $stop.Seconds | Should -BeLessThan 10 -Because 'the cancellation reaches the row loop'
        $stop.State | Should -Be 'Stopped'

        & $Sqlite3 $db $query | Should -Be $before
        & $Sqlite3 $db 'SELECT RunId, Rows, ImportId FROM AzureCostDetails_ExportState' | Should -Be $state
        ($state -split '\|')[0] | Should -Be $OldRun.runId
        & $Sqlite3 $db 'PRAGMA integrity_check' | Should -Be 'ok'
        # The next run loads the new run whole.
        $next = Import-AzCostExport -Path $ExportRoot -DatabasePath $db
        $next.RunId | Should -Be $NewRun.runId
        $next.RowsInserted | Should -Be 300000
        $next.RowsReplaced | Should -Be 500
        Remove-Item -Recurse -Force (Join-Path $ExportRoot "exports/daily/20260301-20260331/$(([datetime]$NewRun.submitted).ToUniversalTime().ToString('yyyyMMddHHmm'))")
    }

    It 'PostgreSQL: the transaction is rolled back; rows and export state as they were' -Skip:$NoPg {
        if (-not $Pg) { Set-ItResult -Skipped -Because 'no throw-away PostgreSQL cluster could be started'; return }
        $target = "-ConnectionString '$($Pg.ConnectionString)' -Table ExportStopped"
        (Import-AzCostExport -Path $ExportRoot -ConnectionString $Pg.ConnectionString -Table ExportStopped).RowsInserted | Should -Be 500
        $query = 'SELECT count(*), sum("CostInBillingCurrency"), string_agg(DISTINCT "_ImportId"::text, '','') FROM "ExportStopped"'
        $before = Invoke-TestPsql $Pg $query
        $state = Invoke-TestPsql $Pg 'SELECT "RunId", "Rows" FROM "ExportStopped_ExportState"'

        Copy-Item -Recurse -Force (Join-Path $PendingRoot 'exports') $ExportRoot
        $stop = Stop-ExportMidLoad $target
        $stop.Reached | Should -BeTrue
        $stop.State | Should -Be 'Stopped'
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ([DateTime]::UtcNow -lt $deadline -and (Invoke-TestPsql $Pg "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid()") -ne '0') { Start-Sleep -Milliseconds 200 }
        Invoke-TestPsql $Pg $query | Should -Be $before
        Invoke-TestPsql $Pg 'SELECT "RunId", "Rows" FROM "ExportStopped_ExportState"' | Should -Be $state
    }
}
