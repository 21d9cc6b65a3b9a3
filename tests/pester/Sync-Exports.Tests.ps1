#Requires -Version 7.4
# Sync-AzBilling with an exports source (-ExportPath, -ExportContainerSasUrl): the same incremental, state-tracked job
# over Cost Management exports, with the same result and summary objects. Export trees are written by the test-data
# generator as Cost Management lays them out; real SQLite files, a throw-away PostgreSQL cluster and Azurite.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoSqlite = -not (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:RepoRoot = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) { $env:AZBILLING_MODULE_PATH = Join-Path $RepoRoot 'out/AzBillingPS/0.1.0/AzBillingPS.psd1' }
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
    $script:Sqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
    $script:Sub = '/subscriptions/6b1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5'
    $script:Work = Join-Path ([IO.Path]::GetTempPath()) ('azb-syncexp-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Force $Work | Out-Null
    $script:Sync = Join-Path $Work 'working'

    function Q([string] $Db, [string] $Sql) { & $Sqlite3 -batch -separator '|' $Db $Sql }

    # Export, dataset, month, submitted, format, rows, parts, seed[, more keys]
    function New-RunSpec { New-TestExportRun @args -Scope $Sub -RowGroupSize 50 }
}

AfterAll {
    Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

Describe 'Sync-AzBilling from an exports folder' -Tag 'Sync', 'Export' {
    BeforeAll {
        $script:Root = Join-Path $Work 'tree'
        $script:Runs = @(
            New-RunSpec actual ActualCost 2026-02 '2026-03-02T06:00:00Z' Csv 140 2 11           # the previous month's run
            New-RunSpec actual ActualCost 2026-03 '2026-03-04T06:00:00Z' Csv 100 2 12
            New-RunSpec actual ActualCost 2026-03 '2026-03-05T06:00:00Z' Gzip 130 2 13          # newest of March
            New-RunSpec focus FocusCost 2026-03 '2026-03-05T07:00:00Z' Parquet 90 2 14
            New-RunSpec broken ActualCost 2026-03 '2026-03-05T08:00:00Z' Csv 10 2 15 @{ breakManifest = $true }
        )
        $null = New-TestExportLayout -Root $Root -Runs $Runs
        $script:Db = Join-Path $Work 'sync.sqlite'
        $script:First = Sync-AzBilling -ExportPath $Root -DatabasePath $Db -WorkingPath $Sync -PassThru -ErrorVariable firstErrors -ErrorAction SilentlyContinue
        $script:FirstErrors = $firstErrors
    }

    It 'loads the newest run of every export and month, one unit each, with the usual result objects' -Skip:$NoSqlite {
        $summary = $First | Where-Object { $_ -is [AzBillingPS.AzBillingSyncSummary] }
        $results = @($First | Where-Object { $_ -is [AzBillingPS.AzBillingSyncResult] })
        $summary.Units | Should -Be 4
        $summary.Loaded | Should -Be 3
        $summary.Failed | Should -Be 1
        $summary.Success | Should -BeFalse
        $summary.Rows | Should -Be (140 + 130 + 90)
        $summary.Table | Should -Be 'AzureCostDetails'
        $summary.StateTable | Should -Be 'AzureCostDetails_ExportState'
        $march = $results | Where-Object { $_.Metric -eq 'ActualCost' -and $_.Month -eq '2026-03' -and $_.Action -eq 'Loaded' }
        $march.Scope | Should -Be $Sub
        $march.OperationId | Should -Be $Runs[2].runId
        $march.Rows | Should -Be 130
        $march.Blobs | Should -Be 2
        $march.Reason | Should -Match 'export actual: not loaded yet; 1 older run'
        ($results | Where-Object Metric -eq 'FocusCost').Rows | Should -Be 90
        (Q $Db "select _PeriodStart, count(*) from AzureCostDetails group by 1 order by 1") | Should -Be @('2026-02-01|140', '2026-03-01|130')
        (Q $Db 'select count(*) from AzureCostFocus') | Should -Be '90'
        @(Get-ChildItem -LiteralPath $Sync -Recurse -File -ErrorAction SilentlyContinue).Count | Should -Be 0 -Because 'the run folder is removed'
    }

    It 'reports a manifest that is not JSON as a failed unit and a non-terminating error' -Skip:$NoSqlite {
        $FirstErrors.Count | Should -Be 1
        $FirstErrors[0].FullyQualifiedErrorId | Should -BeLike 'ExportManifestInvalid*'
        $failed = $First | Where-Object { $_ -is [AzBillingPS.AzBillingSyncResult] -and $_.Action -eq 'Failed' }
        $failed.Error | Should -Match 'not valid JSON'
    }

    It 'loads nothing again on the next run, and only the newer run when one arrives' -Skip:$NoSqlite {
        $again = Sync-AzBilling -ExportPath $Root -DatabasePath $Db -WorkingPath $Sync -ExportName actual, focus -ErrorAction SilentlyContinue
        $again.Loaded | Should -Be 0
        $again.Skipped | Should -Be 3
        $newer = New-RunSpec actual ActualCost 2026-03 '2026-03-06T06:00:00Z' Csv 150 2 16
        $null = New-TestExportLayout -Root $Root -Runs @($newer)
        $third = Sync-AzBilling -ExportPath $Root -DatabasePath $Db -WorkingPath $Sync -ExportDataset ActualCost -PassThru -ErrorAction SilentlyContinue
        $loaded = @($third | Where-Object { $_ -is [AzBillingPS.AzBillingSyncResult] -and $_.Action -eq 'Loaded' })
        $loaded.Count | Should -Be 1
        $loaded[0].OperationId | Should -Be $newer.runId
        $loaded[0].RowsReplaced | Should -Be 130
        (Q $Db "select count(*) from AzureCostDetails where _PeriodStart = '2026-03-01'") | Should -Be '150'
        (Q $Db "select RunId from AzureCostDetails_ExportState where Month = '2026-03'") | Should -Be $newer.runId
    }

    It 'shows with -WhatIf what it would load and writes nothing' -Skip:$NoSqlite {
        $db = Join-Path $Work 'whatif.sqlite'
        $null = Sync-AzBilling -ExportPath $Root -DatabasePath $db -WorkingPath $Sync -WhatIf -ExportName actual -ErrorAction SilentlyContinue
        Test-Path $db | Should -BeFalse
    }

    It 'takes its settings from a configuration file, the folder relative to it, and never a SAS URL' -Skip:$NoSqlite {
        $cfg = Join-Path $Root 'exports.psd1'
        Set-Content -LiteralPath $cfg -Value "@{ ExportPath = '.'; ExportDataset = 'FocusCost'; DatabasePath = 'from-config.sqlite'; FocusView = `$false }"
        $r = Sync-AzBilling -ConfigPath $cfg -WorkingPath $Sync -ErrorAction SilentlyContinue
        $r.Loaded | Should -Be 1
        (Q (Join-Path $Root 'from-config.sqlite') 'select count(*) from AzureCostFocus') | Should -Be '90'
        Set-Content -LiteralPath $cfg -Value "@{ ExportContainerSasUrl = 'https://a.blob.core.windows.net/c?sig=x' }"
        { Sync-AzBilling -ConfigPath $cfg -ErrorAction Stop } | Should -Throw -ExpectedMessage '*ExportContainerSasUrl*'
    }

    It 'refuses -Scope, -Metric or a second source next to an exports source, before anything is read' {
        { Sync-AzBilling -ExportPath $Root -Scope $Sub -DatabasePath (Join-Path $Work 'x.sqlite') -ErrorAction Stop } | Should -Throw -ExpectedMessage '*-Scope does not go with an exports source*'
        { Sync-AzBilling -ExportPath $Root -Metric AmortizedCost -DatabasePath (Join-Path $Work 'x.sqlite') -ErrorAction Stop } | Should -Throw -ExpectedMessage '*-Metric does not go with an exports source*'
        { Sync-AzBilling -ExportPath $Root -ExportContainerSasUrl 'https://a.blob.core.windows.net/c?sig=x' -DatabasePath (Join-Path $Work 'x.sqlite') -ErrorAction Stop } | Should -Throw -ExpectedMessage '*Give one exports source*'
        Test-Path (Join-Path $Work 'x.sqlite') | Should -BeFalse
    }
}

Describe 'Two Sync-AzBilling runs over the same exports at once' -Tag 'Sync', 'Export' {
    BeforeAll {
        $script:Pg = Start-TestPostgres -WarningAction SilentlyContinue
        $script:Root2 = Join-Path $Work 'together'
        $script:Together = @(
            New-RunSpec a ActualCost 2026-03 '2026-03-05T06:00:00Z' Csv 3000 2 21
            New-RunSpec b AmortizedCost 2026-03 '2026-03-05T06:00:00Z' Csv 3000 2 22
            New-RunSpec c ActualCost 2026-02 '2026-03-02T06:00:00Z' Csv 3000 2 23
        )
        $null = New-TestExportLayout -Root $Root2 -Runs $Together
    }
    AfterAll { Stop-TestPostgres $Pg }

    It 'loads every export month once: the state and the rows show one run each' {
        if (-not $Pg) { Set-ItResult -Skipped -Because 'no throw-away PostgreSQL cluster could be started'; return }
        $cs = $Pg.ConnectionString
        $shells = foreach ($i in 1, 2) {
            $ps = [powershell]::Create()
            $null = $ps.AddScript("Import-Module '$env:AZBILLING_MODULE_PATH'; Sync-AzBilling -ExportPath '$Root2' -ConnectionString '$cs' -WorkingPath '$(Join-Path $Work "w$i")' -ThrottleLimit 3 -PassThru")
            [pscustomobject]@{ Shell = $ps; Handle = $ps.BeginInvoke() }
        }
        $outputs = foreach ($s in $shells) { , @($s.Shell.EndInvoke($s.Handle)); $s.Shell.Streams.Error | Should -BeNullOrEmpty; $s.Shell.Dispose() }
        $results = @($outputs | ForEach-Object { $_ } | Where-Object { $_.PSObject.TypeNames -contains 'AzBillingPS.AzBillingSyncResult' -or $_.PSObject.TypeNames -contains 'Deserialized.AzBillingPS.AzBillingSyncResult' })
        $results.Count | Should -Be 6
        @($results | Where-Object Action -eq 'Failed').Count | Should -Be 0
        foreach ($run in $Together) {
            $mine = @($results | Where-Object OperationId -eq $run.runId)
            @($mine | Where-Object Action -eq 'Loaded').Count | Should -Be 1 -Because "run $($run.exportName) $($run.month) is loaded by one of the two"
            @($mine | Where-Object Action -eq 'Skipped').Count | Should -Be 1
        }
        Invoke-TestPsql $Pg 'select "_Metric", "_PeriodStart", count(*), count(distinct "_ImportId") from "AzureCostDetails" group by 1, 2 order by 1, 2' |
            Should -Be @('ActualCost|2026-02-01|3000|1', 'ActualCost|2026-03-01|3000|1', 'AmortizedCost|2026-03-01|3000|1')
        Invoke-TestPsql $Pg 'select count(*) from "AzureCostDetails_ExportState"' | Should -Be '3'
    }
}

Describe 'Sync-AzBilling from an exports container by SAS URL' -Tag 'Sync', 'Export', 'Blob' {
    BeforeAll {
        $script:Az = Start-TestAzurite -WarningAction SilentlyContinue
        if ($Az) {
            $script:BlobRoot = Join-Path $Work 'blob'
            $script:BlobRuns = @(
                New-RunSpec amort AmortizedCost 2026-03 '2026-03-05T06:00:00Z' Parquet 80 2 31
                New-RunSpec actual ActualCost 2026-03 '2026-03-05T06:00:00Z' Gzip 70 2 32
            )
            $null = New-TestExportLayout -Root $BlobRoot -Runs $BlobRuns
            Copy-TestTreeToAzurite $Az -Root $BlobRoot -Container costs -Prefix 'finops/'
        }
    }
    AfterAll { Stop-TestAzurite $Az }

    It 'loads through the SAS URL, never showing its signature, and makes the FOCUS view' -Skip:$NoSqlite {
        if (-not $Az) { Set-ItResult -Skipped -Because 'Azurite is not installed or did not start'; return }
        $sas = New-TestContainerSasUrl $Az -Container costs
        $sig = [Uri]::UnescapeDataString(([regex]::Match($sas, 'sig=([^&]+)')).Groups[1].Value)
        $db = Join-Path $Work 'blob.sqlite'
        $all = Sync-AzBilling -ExportContainerSasUrl $sas -ExportPrefix finops -DatabasePath $db -WorkingPath $Sync -FocusView -PassThru -Verbose *>&1 | Out-String -Width 400
        $all | Should -Not -Match ([regex]::Escape($sig))
        (Q $db 'select _Metric, count(*) from AzureCostDetails group by 1 order by 1') | Should -Be @('ActualCost|70', 'AmortizedCost|80')
        (Q $db "select type from sqlite_master where name = 'AzureCostDetails_Focus'") | Should -Be 'view'
        (Sync-AzBilling -ExportContainerSasUrl $sas -ExportPrefix finops -DatabasePath $db -WorkingPath $Sync).Skipped | Should -Be 2
    }

    It 'keeps the parts it fetched with -KeepFiles, in each unit''s own private folder of the run''s folder, as with Cost Details' -Skip:$NoSqlite {
        if (-not $Az) { Set-ItResult -Skipped -Because 'Azurite is not installed or did not start'; return }
        $sas = New-TestContainerSasUrl $Az -Container costs
        $sig = [Uri]::UnescapeDataString(([regex]::Match($sas, 'sig=([^&]+)')).Groups[1].Value)
        $keep = Join-Path $Work 'keep'
        $r = Sync-AzBilling -ExportContainerSasUrl $sas -ExportPrefix finops -DatabasePath (Join-Path $Work 'keep.sqlite') -WorkingPath $keep -KeepFiles
        $r.Loaded | Should -Be 2
        $run = @(Get-ChildItem -Force -LiteralPath $keep)
        $run.Count | Should -Be 1
        $run[0].Name | Should -Match '^sync-[0-9a-f]{32}$'
        $run[0].UnixMode | Should -Be 'drwx------'
        Test-Path -LiteralPath (Join-Path $run[0].FullName '.azbillingps-sync-run') | Should -BeTrue -Because 'a later run may clean it up as the module''s own'
        Test-Path -LiteralPath (Join-Path $run[0].FullName '.run.lock') | Should -BeFalse -Because 'the run has ended'
        $units = @(Get-ChildItem -Directory -LiteralPath $run[0].FullName | Sort-Object Name)
        ($units.Name -replace '^\d{4}-', '' | Sort-Object) -join ',' | Should -Be 'ActualCost-2026-03,AmortizedCost-2026-03'
        foreach ($u in $units) {
            $u.UnixMode | Should -Be 'drwx------'
            $kept = @(Get-ChildItem -Force -LiteralPath $u.FullName)
            $kept.Count | Should -Be 2 -Because "$($u.Name) keeps its run's two parts, nothing else"
            foreach ($f in $kept) {
                $f.UnixMode | Should -Be '-rw-------'
                $f.Name | Should -Not -Match ([regex]::Escape($sig))
            }
        }
        # Byte for byte the parts in the container (the tree they were uploaded from).
        $sourceParts = @(Get-ChildItem -Recurse -File -LiteralPath $BlobRoot | Where-Object Name -like 'part_*' | ForEach-Object { Get-TestFileSha256 $_.FullName } | Sort-Object)
        $keptParts = @(Get-ChildItem -Recurse -File -LiteralPath $run[0].FullName | Where-Object Name -ne '.azbillingps-sync-run' | ForEach-Object { Get-TestFileSha256 $_.FullName } | Sort-Object)
        $sourceParts.Count | Should -Be 4
        $keptParts | Should -Be $sourceParts

        # Without -KeepFiles the same run leaves nothing behind.
        $clean = Join-Path $Work 'nokeep'
        (Sync-AzBilling -ExportContainerSasUrl $sas -ExportPrefix finops -DatabasePath (Join-Path $Work 'nokeep.sqlite') -WorkingPath $clean).Loaded | Should -Be 2
        @(Get-ChildItem -Force -Recurse -LiteralPath $clean).Count | Should -Be 0
    }
}
