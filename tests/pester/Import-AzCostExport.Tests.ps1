#Requires -Version 7.4
# Import-AzCostExport against export trees laid out as Cost Management writes them (the test-data generator writes the
# parts, CSV, gzip CSV and Parquet through Parquet.Net, and their manifest.json), read from a local folder, from Azurite
# by container SAS URL, and from Azurite over https with an Entra token from the Azure test fixture. Loaded into real
# SQLite files (read back with sqlite3) and a throw-away PostgreSQL cluster.

BeforeDiscovery {
    $script:NoSqlite = -not (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:RepoRoot = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) { $env:AZBILLING_MODULE_PATH = Join-Path $RepoRoot 'out/AzBillingPS/0.1.0/AzBillingPS.psd1' }
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
    $script:Sqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
    $script:Sub = '/subscriptions/7a0c1f52-3b1e-4d6f-9a2b-4c5d6e7f8091'
    $script:Work = Join-Path ([IO.Path]::GetTempPath()) ('azb-export-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Force $Work | Out-Null

    function Q([string] $Db, [string] $Sql) {
        $out = & $Sqlite3 -batch -bail -separator '|' $Db $Sql 2>&1
        if ($LASTEXITCODE -ne 0) { throw "sqlite3 failed: $($out | Out-String)" }
        $out
    }

    # Export, dataset, month, submitted, format, rows, parts, seed[, more keys]
    function New-RunSpec { New-TestExportRun @args -Scope $Sub }
}

AfterAll {
    Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

Describe 'Import-AzCostExport from a local export tree' -Tag 'Export' {
    BeforeAll {
        $script:Root = Join-Path $Work 'local'
        # Two exports of March (FocusCost in Parquet, ActualCost gzip CSV in the legacy layout), several runs each, and a
        # previous-month run of February written on March 2nd; AmortizedCost multi-part Parquet with many row groups.
        $script:Runs = @(
            New-RunSpec focus FocusCost 2026-03 '2026-03-04T06:00:00Z' Parquet 300 2 11
            New-RunSpec focus FocusCost 2026-03 '2026-03-05T06:00:00Z' Parquet 420 3 12          # newest of March
            New-RunSpec focus FocusCost 2026-03 '2026-03-04T18:00:00Z' Csv 310 1 13
            New-RunSpec focus FocusCost 2026-02 '2026-03-02T06:00:00Z' Parquet 250 1 14          # previous-month run
            New-RunSpec actual ActualCost 2026-03 '2026-03-05T07:00:00Z' Gzip 150 1 21 @{ legacy = $true; manifestName = '_manifest.json' }
            New-RunSpec actual ActualCost 2026-03 '2026-03-05T08:00:00Z' Gzip 180 2 22 @{ legacy = $true; manifestName = '_manifest.json' }   # newest
            New-RunSpec amortized AmortizedCost 2026-03 '2026-03-05T09:00:00Z' Parquet 500 3 31 @{ kind = 'Mca' }
        )
        $script:Written = @(New-TestExportLayout -Root $Root -Runs $Runs)
        $script:Db = Join-Path $Work 'local.sqlite'
        $script:First = @(Import-AzCostExport -Path $Root -DatabasePath $Db -ErrorVariable firstErrors -ErrorAction SilentlyContinue)
        $script:FirstErrors = $firstErrors
    }

    It 'loads the newest run of each export and month, and only that' -Skip:$NoSqlite {
        $FirstErrors | Should -BeNullOrEmpty
        $First.Count | Should -Be 4
        ($First | Where-Object Action -ne 'Loaded') | Should -BeNullOrEmpty
        $march = $First | Where-Object { $_.ExportName -eq 'focus' -and $_.Month -eq '2026-03' }
        $march.RunId | Should -Be $Runs[1].runId
        $march.OlderRuns | Should -Be 2
        $march.Format | Should -Be 'Parquet'
        $march.RowsInserted | Should -Be 420
        (Q $Db "select count(*) from AzureCostFocus where _PeriodStart = '2026-03-01'") | Should -Be '420'
        (Q $Db "select count(*) from AzureCostFocus where _PeriodStart = '2026-02-01'") | Should -Be '250'
        (Q $Db "select count(*) from AzureCostDetails where _Metric = 'ActualCost'") | Should -Be '180'
        (Q $Db "select count(*) from AzureCostDetails where _Metric = 'AmortizedCost'") | Should -Be '500'
        (Q $Db "select distinct _Scope from AzureCostFocus") | Should -Be $Sub
        ($First | Where-Object ExportName -eq 'actual').Format | Should -Be 'Csv (gzip)'
    }

    It 'records each loaded run in a state table next to its data' -Skip:$NoSqlite {
        $state = @(Q $Db "select Month, RunId, Rows, Dataset from AzureCostFocus_ExportState order by Month")
        $state | Should -Be @("2026-02|$($Runs[3].runId)|250|FocusCost", "2026-03|$($Runs[1].runId)|420|FocusCost")
        (Q $Db "select RunId from AzureCostDetails_ExportState where Export like '%/exports/actual'") | Should -Be $Runs[5].runId
    }

    It 'keeps FOCUS types: decimals, UTC datetimes inside the month, x_ columns' -Skip:$NoSqlite {
        (Q $Db "select count(*) from AzureCostFocus where ChargePeriodStart < '2026-03-01' and _PeriodStart = '2026-03-01'") | Should -Be '0'
        (Q $Db "select typeof(BilledCost), typeof(ChargePeriodStart), typeof(x_SkuMeterId) from AzureCostFocus limit 1") | Should -Be 'real|text|text'
        (Q $Db "select ChargePeriodStart from AzureCostFocus where _PeriodStart = '2026-03-01' order by 1 limit 1") | Should -Match '^2026-03-01 00:00:00'
    }

    It 'loads nothing on a rerun' -Skip:$NoSqlite {
        $again = @(Import-AzCostExport -Path $Root -DatabasePath $Db)
        $again.Action | Sort-Object -Unique | Should -Be 'Skipped'
        ($again | Where-Object ExportName -eq 'focus' | Select-Object -First 1).Reason | Should -Match 'already loaded'
        (Q $Db "select count(*) from AzureCostFocus") | Should -Be '670'
    }

    It 'replaces the month when a newer run arrives, and ignores an older one' -Skip:$NoSqlite {
        $newer = New-RunSpec focus FocusCost 2026-03 '2026-03-06T06:00:00Z' Csv 390 2 15
        $older = New-RunSpec actual ActualCost 2026-03 '2026-03-01T06:00:00Z' Csv 999 1 23
        $null = New-TestExportLayout -Root $Root -Runs @($newer, $older)
        $r = @(Import-AzCostExport -Path $Root -DatabasePath $Db)
        $focus = $r | Where-Object { $_.ExportName -eq 'focus' -and $_.Month -eq '2026-03' }
        $focus.Action | Should -Be 'Loaded'
        $focus.RowsReplaced | Should -Be 420
        $focus.Reason | Should -Match "replaces run $($Runs[1].runId)"
        ($r | Where-Object ExportName -eq 'actual').Action | Should -Be 'Skipped'
        (Q $Db "select count(*) from AzureCostFocus where _PeriodStart = '2026-03-01'") | Should -Be '390'
        (Q $Db "select count(*) from AzureCostDetails where _Metric = 'ActualCost'") | Should -Be '180'
    }
}

Describe 'Import-AzCostExport: a broken run fails its month only' -Tag 'Export' {
    BeforeAll {
        $script:Root = Join-Path $Work 'broken'
        $script:Db = Join-Path $Work 'broken.sqlite'
        $script:Good = New-RunSpec good ActualCost 2026-03 '2026-03-03T06:00:00Z' Csv 120 1 41
        $script:Base = New-RunSpec rows ActualCost 2026-02 '2026-03-01T06:00:00Z' Csv 100 2 42
        $null = New-TestExportLayout -Root $Root -Runs @($Good, $Base)
        $null = Import-AzCostExport -Path $Root -DatabasePath $Db
        $script:Before = (Q $Db "select _Metric, count(*), printf('%.10f', sum(CostInBillingCurrency)) from AzureCostDetails group by 1") -join ';'
    }

    It 'a row-count mismatch rolls the month back, other months load' -Skip:$NoSqlite {
        $lie = New-RunSpec rows ActualCost 2026-02 '2026-03-02T06:00:00Z' Csv 130 2 43 @{ lieAboutRows = 1 }
        $fresh = New-RunSpec other AmortizedCost 2026-03 '2026-03-03T06:00:00Z' Csv 60 1 44
        $null = New-TestExportLayout -Root $Root -Runs @($lie, $fresh)
        $r = @(Import-AzCostExport -Path $Root -DatabasePath $Db -ErrorVariable errs -ErrorAction SilentlyContinue)
        ($r | Where-Object ExportName -eq 'rows').Action | Should -Be 'Failed'
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'ExportRunIncomplete*'
        $errs[0].Exception.Message | Should -Match 'parts hold 130 rows but the manifest says 131'
        ($r | Where-Object ExportName -eq 'other').Action | Should -Be 'Loaded'
        (Q $Db "select _Metric, count(*), printf('%.10f', sum(CostInBillingCurrency)) from AzureCostDetails where _Metric = 'ActualCost' group by 1") -join ';' | Should -Be $Before
        (Q $Db "select RunId from AzureCostDetails_ExportState where Export like '%/exports/rows'") | Should -Be $Base.runId
        Remove-Item -Recurse -Force (Join-Path $Root ($lie.folder))
    }

    It 'a missing part fails the month with the part named, the table unchanged' -Skip:$NoSqlite {
        $missing = New-RunSpec rows ActualCost 2026-02 '2026-03-04T06:00:00Z' Csv 90 3 45
        $null = New-TestExportLayout -Root $Root -Runs @($missing)
        Remove-Item (Join-Path $Root "$($missing.folder)/part_0_0002.csv")
        $r = @(Import-AzCostExport -Path $Root -DatabasePath $Db -Dataset ActualCost -ErrorVariable errs -ErrorAction SilentlyContinue)
        ($r | Where-Object ExportName -eq 'rows').Action | Should -Be 'Failed'
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'ExportRunIncomplete*'
        $errs[0].Exception.Message | Should -Match 'part_0_0002\.csv'
        (Q $Db "select _Metric, count(*), printf('%.10f', sum(CostInBillingCurrency)) from AzureCostDetails where _Metric = 'ActualCost' group by 1") -join ';' | Should -Be $Before
        Remove-Item -Recurse -Force (Join-Path $Root ($missing.folder))
    }

    It 'a byte-count mismatch fails the month before the database is touched' -Skip:$NoSqlite {
        $bytes = New-RunSpec rows ActualCost 2026-02 '2026-03-04T07:00:00Z' Csv 90 1 46 @{ lieAboutBytes = 7 }
        $null = New-TestExportLayout -Root $Root -Runs @($bytes)
        $r = @(Import-AzCostExport -Path $Root -DatabasePath $Db -ExportName rows -ErrorVariable errs -ErrorAction SilentlyContinue)
        $r.Action | Should -Be 'Failed'
        $errs[0].Exception.Message | Should -Match 'says \d[\d,]*'
        (Q $Db "select RunId from AzureCostDetails_ExportState where Export like '%/exports/rows'") | Should -Be $Base.runId
        Remove-Item -Recurse -Force (Join-Path $Root ($bytes.folder))
    }

    It 'a manifest that is not JSON is an error naming it; the rest loads' -Skip:$NoSqlite {
        $bad = New-RunSpec broken ActualCost 2026-03 '2026-03-04T06:00:00Z' Csv 10 1 47 @{ breakManifest = $true }
        $null = New-TestExportLayout -Root $Root -Runs @($bad)
        $r = @(Import-AzCostExport -Path $Root -DatabasePath $Db -ErrorVariable errs -ErrorAction SilentlyContinue)
        $failed = @($r | Where-Object Action -eq 'Failed')
        $failed.Count | Should -Be 1
        $failed[0].Manifest | Should -BeLike '*broken*manifest.json'
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'ExportManifestInvalid*'
        $errs[0].Exception.Message | Should -Match 'not valid JSON'
    }
}

Describe 'Import-AzCostExport: price sheet and reservation datasets' -Tag 'Export' {
    BeforeAll {
        $script:Root = Join-Path $Work 'datasets'
        $script:Db = Join-Path $Work 'datasets.sqlite'
        $billing = '/providers/Microsoft.Billing/billingAccounts/8611537'
        function New-DatasetRun([string] $Export, [string] $Type, [string] $Submitted, [string[]] $Lines, [string] $Month = '2026-03') {
            # A run as Cost Management writes it: the part and manifest.json in <export>/<range>/<run id> (no run-time folder).
            $runId = [guid]::NewGuid().ToString()
            $dir = Join-Path $Root "$Export/20260301-20260331/$runId"
            New-Item -ItemType Directory -Force $dir | Out-Null
            $part = Join-Path $dir 'part_0_0001.csv'
            [IO.File]::WriteAllText($part, (($Lines -join "`n") + "`n"), [Text.UTF8Encoding]::new($false))
            @{ manifestVersion = '2024-04-01'; byteCount = (Get-Item $part).Length; blobCount = 1; dataRowCount = $Lines.Count - 1
                exportConfig = @{ exportName = $Export; resourceId = "$billing/providers/Microsoft.CostManagement/exports/$Export"; dataVersion = '2023-05-01'; type = $Type; timeFrame = 'TheCurrentMonth'; granularity = $null }
                deliveryConfig = @{ partitionData = $true; dataOverwriteBehavior = 'CreateNewReport'; fileFormat = 'Csv'; compressionMode = 'None'; containerName = 'exports'; rootFolderPath = '' }
                runInfo = @{ executionType = 'Scheduled'; submittedTime = $Submitted; runId = $runId; startDate = "$Month-01T00:00:00"; endDate = "$Month-31T00:00:00" }
                blobs = @(@{ blobName = "$Export/20260301-20260331/$runId/part_0_0001.csv"; byteCount = (Get-Item $part).Length; dataRowCount = $Lines.Count - 1 })
            } | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath (Join-Path $dir 'manifest.json') -Encoding utf8NoBOM
        }
        New-DatasetRun prices PriceSheet '2026-03-02T05:00:00Z' @(
            'BasePrice,Currency,EffectiveEndDate,EffectiveStartDate,IncludedQuantity,MarketPrice,MeterCategory,MeterId,MeterName,PriceType,Term,TierMinimumUnits,UnitOfMeasure,UnitPrice'
            '0.0208,USD,03/31/2026,03/01/2026,0,0.0208,Virtual Machines,00c2b8bd-8a38-4f63-9b16-1a7b2a7c5e13,B1s,Consumption,,0,1 Hour,0.0208'
            '123.456789012,USD,03/31/2026,03/01/2026,0,150,Virtual Machines,00c2b8bd-8a38-4f63-9b16-1a7b2a7c5e13,B1s,ReservedInstance,P1Y,0,1 Hour,123.456789012')
        New-DatasetRun reservations ReservationTransactions '2026-03-03T05:00:00Z' @(
            'Amount,Currency,EventDate,EventType,Quantity,ReservationOrderId,ReservationOrderName'
            '3.25,USD,03/14/2026,Purchase,1,4c5d6e7f-8091-4a0c-9f52-3b1e4d6f9a2b,VM_RI_03-14-2026_10-00'
            '-1.10,USD,03/20/2026,Refund,1,4c5d6e7f-8091-4a0c-9f52-3b1e4d6f9a2b,VM_RI_03-14-2026_10-00')
        $script:First = @(Import-AzCostExport -Path $Root -DatabasePath $Db)
    }

    It 'loads each dataset into its own table, typed as documented and the rest kept as text' -Skip:$NoSqlite {
        ($First | Sort-Object Table | ForEach-Object { "$($_.Table.Trim([char]34)):$($_.Action):$($_.RowsInserted)" }) -join ';' | Should -Be 'AzurePriceSheet:Loaded:2;AzureReservationTransactions:Loaded:2'
        $types = @{}; foreach ($line in Q $Db "select name, type from pragma_table_info('AzurePriceSheet') union all select name, type from pragma_table_info('AzureReservationTransactions')") { $n, $t = $line.Split('|'); $types[$n] = $t }
        $decimalType = $types['UnitPrice']; $dateType = $types['EffectiveStartDate']; $textType = $types['MeterName']
        $decimalType | Should -Not -Be $textType
        foreach ($c in 'BasePrice', 'MarketPrice', 'TierMinimumUnits', 'IncludedQuantity', 'Amount', 'Quantity') { $types[$c] | Should -Be $decimalType -Because "$c is a documented number" }
        $types['EventDate'] | Should -Be $dateType
        foreach ($c in 'PriceType', 'Term', 'UnitOfMeasure', 'MeterId', 'EventType', 'ReservationOrderId') { $types[$c] | Should -Be $textType -Because "$c is kept as text" }
        # Dates read as dates (the export's MM/dd/yyyy stored as ISO dates), numbers as numbers.
        (Q $Db "select printf('%.9f', sum(UnitPrice)), min(EffectiveStartDate), max(EffectiveEndDate), count(*) from AzurePriceSheet") | Should -Be '123.477589012|2026-03-01|2026-03-31|2'
        (Q $Db "select printf('%.2f', sum(Amount)), group_concat(EventType, ','), group_concat(EventDate, ',') from AzureReservationTransactions") | Should -Be '2.15|Purchase,Refund|2026-03-14,2026-03-20'
        (Q $Db "select typeof(Term), Term is null from AzurePriceSheet where PriceType = 'ReservedInstance'") | Should -Be 'text|0'
        (Q $Db "select distinct _Scope from AzureReservationTransactions") | Should -Be '/providers/microsoft.billing/billingaccounts/8611537'
    }

    It 'replaces a dataset''s month when a newer run arrives, leaving the other dataset as it was' -Skip:$NoSqlite {
        New-DatasetRun prices PriceSheet '2026-03-09T05:00:00Z' @(
            'Currency,EffectiveEndDate,EffectiveStartDate,MeterId,MeterName,UnitOfMeasure,UnitPrice'
            'USD,2026-03-31,2026-03-01,00c2b8bd-8a38-4f63-9b16-1a7b2a7c5e13,B1s,1 Hour,0.0199')
        $again = @(Import-AzCostExport -Path $Root -DatabasePath $Db)
        ($again | Sort-Object Table | ForEach-Object { "$($_.Table.Trim([char]34)):$($_.Action)" }) -join ';' | Should -Be 'AzurePriceSheet:Loaded;AzureReservationTransactions:Skipped'
        (Q $Db "select count(*), printf('%.4f', sum(UnitPrice)) from AzurePriceSheet") | Should -Be '1|0.0199'
        (Q $Db "select count(*) from AzureReservationTransactions") | Should -Be '2'
    }
}

Describe 'Import-AzCostExport: reservation details and recommendations' -Tag 'Export' {
    BeforeAll {
        # Generated runs with the columns Microsoft documents for these datasets (reservation details 2023-03-01, reservation
        # recommendations 2023-05-01) and one column it does not (BillingAccountId, TotalHours: values with a leading zero);
        # numbers with up to 16 fractional digits. The generator prints the exact sums of the numeric columns.
        $script:Root = Join-Path $Work 'reservations'
        $script:Db = Join-Path $Work 'reservations.sqlite'
        $script:Billing = '/providers/Microsoft.Billing/billingAccounts/8611537'
        function New-ReservationRun { New-TestExportRun @args -Scope $Billing }
        $script:ResRuns = @(
            New-ReservationRun rdetails ReservationDetails 2026-03 '2026-03-03T05:00:00Z' Csv 70 1 90                # older run: ignored
            New-ReservationRun rdetails ReservationDetails 2026-03 '2026-03-04T05:00:00Z' Csv 120 2 91
            New-ReservationRun rrecs ReservationRecommendations 2026-03 '2026-03-04T05:30:00Z' Gzip 40 1 92
        )
        $script:ResWritten = @(New-TestExportLayout -Root $Root -Runs $ResRuns)
        $script:Pg = Start-TestPostgres -WarningAction SilentlyContinue
        $script:First = @(Import-AzCostExport -Path $Root -DatabasePath $Db)
        if ($Pg) { $script:FirstPg = @(Import-AzCostExport -Path $Root -ConnectionString $Pg.ConnectionString) }
        $script:DetailsNumbers = 'InstanceFlexibilityRatio', 'ReservedHours', 'RIUsedHours', 'TotalReservedQuantity', 'UsedHours'
        $script:RecsNumbers = 'CostWithNoReservedInstances', 'InstanceFlexibilityRatio', 'NetSavings', 'RecommendedQuantity', 'RecommendedQuantityNormalized', 'TotalCostWithReservedInstances'
        function Test-ExactSums($Pg, [string] $Table, [string[]] $Columns, $Sums) {
            foreach ($c in $Columns) {
                $got = Invoke-TestPsql $Pg "select sum(""$c"")::text from ""$Table"""
                [decimal]::Parse($got, [cultureinfo]::InvariantCulture) | Should -Be ([decimal]::Parse($Sums.$c, [cultureinfo]::InvariantCulture)) -Because "$Table.$c sums exactly"
            }
        }
    }
    AfterAll { Stop-TestPostgres $Pg }

    It 'loads each into its own table, the newest run, documented numbers as numbers, dates as ISO dates and the rest as text as written' -Skip:$NoSqlite {
        ($First | Sort-Object Table | ForEach-Object { "$($_.Table.Trim([char]34)):$($_.Dataset):$($_.Action):$($_.RowsInserted):$($_.OlderRuns)" }) -join ';' |
            Should -Be 'AzureReservationDetails:ReservationDetails:Loaded:120:1;AzureReservationRecommendations:ReservationRecommendations:Loaded:40:0'
        ($First | Where-Object ExportName -eq rdetails).RunId | Should -Be $ResRuns[1].runId
        $types = @{}
        foreach ($line in Q $Db "select 'd.' || name, type from pragma_table_info('AzureReservationDetails') union all select 'r.' || name, type from pragma_table_info('AzureReservationRecommendations')") { $n, $t = $line.Split('|'); $types[$n] = $t }
        foreach ($c in $DetailsNumbers) { $types["d.$c"] | Should -Be 'REAL' -Because "ReservationDetails $c is a documented number" }
        foreach ($c in $RecsNumbers) { $types["r.$c"] | Should -Be 'REAL' -Because "ReservationRecommendations $c is a documented number" }
        foreach ($c in 'InstanceFlexibilityGroup', 'InstanceId', 'Kind', 'ReservationOrderId', 'ReservationId', 'SkuName', 'UsageDate', 'BillingAccountId') { $types["d.$c"] | Should -Be 'TEXT' -Because "ReservationDetails $c is text (UsageDate as an ISO date)" }
        foreach ($c in 'SKU', 'Location', 'FirstUsageDate', 'InstanceFlexibilityGroup', 'LookBackPeriod', 'MeterId', 'NormalizedSize', 'ResourceType', 'Scope', 'SkuProperties', 'SubscriptionId', 'Term', 'TotalHours') {
            $types["r.$c"] | Should -Be 'TEXT' -Because "ReservationRecommendations $c is text"
        }
        # Dates read as dates (MM/dd/yyyy and ISO datetimes stored as yyyy-MM-dd); values stored as numbers, not text.
        (Q $Db "select min(UsageDate), max(UsageDate), count(distinct UsageDate), typeof(UsedHours), typeof(RIUsedHours), sum(TotalReservedQuantity) = cast(sum(TotalReservedQuantity) as integer) from AzureReservationDetails") |
            Should -Be "2026-03-01|2026-03-31|31|real|real|1"
        (Q $Db "select min(FirstUsageDate), max(FirstUsageDate), typeof(NetSavings) from AzureReservationRecommendations") | Should -Be '2026-01-30|2026-02-05|real'
        # The columns the documentation does not list are kept exactly as written (a number type would drop the leading 0).
        (Q $Db "select distinct typeof(BillingAccountId), BillingAccountId like '0861153_' from AzureReservationDetails") | Should -Be 'text|1'
        (Q $Db "select distinct typeof(TotalHours) || '|' || TotalHours from AzureReservationRecommendations") | Should -Be 'text|0720'
        (Q $Db "select count(*) from AzureReservationRecommendations where json_valid(SkuProperties) and SkuProperties like '[{""name"":""Cores"",%'") | Should -Be '40'
        (Q $Db "select count(*), sum(SubscriptionId is null) from AzureReservationRecommendations where Scope = 'Shared'") | Should -Be '14|14'
        (Q $Db "select distinct _Scope, _Metric from AzureReservationRecommendations") | Should -Be '/providers/microsoft.billing/billingaccounts/8611537|ReservationRecommendations'
    }

    It 'keeps every documented number exact on PostgreSQL (numeric), dates as date, the rest as text' {
        if (-not $Pg) { Set-ItResult -Skipped -Because 'no throw-away PostgreSQL cluster could be started'; return }
        ($FirstPg | Sort-Object Table | ForEach-Object { "$($_.Action):$($_.RowsInserted)" }) -join ';' | Should -Be 'Loaded:120;Loaded:40'
        $detail = @{}; foreach ($line in Invoke-TestPsql $Pg "select column_name, data_type from information_schema.columns where table_name = 'AzureReservationDetails'") { $n, $t = $line.Split('|'); $detail[$n] = $t }
        $recs = @{}; foreach ($line in Invoke-TestPsql $Pg "select column_name, data_type from information_schema.columns where table_name = 'AzureReservationRecommendations'") { $n, $t = $line.Split('|'); $recs[$n] = $t }
        foreach ($c in $DetailsNumbers) { $detail[$c] | Should -Be 'numeric' -Because "ReservationDetails $c is a documented number" }
        foreach ($c in $RecsNumbers) { $recs[$c] | Should -Be 'numeric' -Because "ReservationRecommendations $c is a documented number" }
        $detail['UsageDate'] | Should -Be 'date'
        $recs['FirstUsageDate'] | Should -Be 'date'
        foreach ($c in 'InstanceFlexibilityGroup', 'InstanceId', 'Kind', 'ReservationOrderId', 'ReservationId', 'SkuName', 'BillingAccountId') { $detail[$c] | Should -Be 'text' -Because "ReservationDetails $c is text" }
        foreach ($c in 'SKU', 'Location', 'LookBackPeriod', 'MeterId', 'NormalizedSize', 'ResourceType', 'Scope', 'SkuProperties', 'SubscriptionId', 'Term', 'TotalHours') { $recs[$c] | Should -Be 'text' -Because "ReservationRecommendations $c is text" }
        # Sums with more digits than a double holds, equal to the generator's exact decimal sums.
        ($ResWritten[1].sums.UsedHours -replace '\D', '').Length | Should -BeGreaterThan 17 -Because 'the check could fail if the values went through a double'
        Test-ExactSums $Pg AzureReservationDetails $DetailsNumbers $ResWritten[1].sums
        Test-ExactSums $Pg AzureReservationRecommendations $RecsNumbers $ResWritten[2].sums
        Invoke-TestPsql $Pg 'select count(*) from "AzureReservationRecommendations" where "NetSavings" <> "CostWithNoReservedInstances" - "TotalCostWithReservedInstances"' | Should -Be '0'
        Invoke-TestPsql $Pg 'select distinct "TotalHours" from "AzureReservationRecommendations"' | Should -Be '0720'
        Invoke-TestPsql $Pg 'select min("BillingAccountId") from "AzureReservationDetails"' | Should -Be '08611537'
    }

    It 'replaces the month of one dataset as a whole when a newer run arrives, leaving the other as it was' -Skip:$NoSqlite {
        $newer = New-ReservationRun rdetails ReservationDetails 2026-03 '2026-03-09T05:00:00Z' Csv 60 1 93
        $written = New-TestExportLayout -Root $Root -Runs @($newer)
        $again = @(Import-AzCostExport -Path $Root -DatabasePath $Db)
        ($again | Sort-Object Table | ForEach-Object { "$($_.Table.Trim([char]34)):$($_.Action):$($_.RowsInserted):$($_.RowsReplaced)" }) -join ';' |
            Should -Be 'AzureReservationDetails:Loaded:60:120;AzureReservationRecommendations:Skipped:0:0'
        (Q $Db "select count(*), count(distinct _ImportId) from AzureReservationDetails") | Should -Be '60|1'
        (Q $Db "select RunId, Rows from AzureReservationDetails_ExportState") | Should -Be "$($newer.runId)|60"
        (Q $Db "select count(*) from AzureReservationRecommendations") | Should -Be '40'
        if ($Pg) {
            $pgAgain = @(Import-AzCostExport -Path $Root -ConnectionString $Pg.ConnectionString)
            ($pgAgain | Where-Object Action -eq 'Loaded').RowsReplaced | Should -Be 120
            Invoke-TestPsql $Pg 'select count(*) from "AzureReservationDetails"' | Should -Be '60'
            Test-ExactSums $Pg AzureReservationDetails $DetailsNumbers $written.sums
            Test-ExactSums $Pg AzureReservationRecommendations $RecsNumbers $ResWritten[2].sums
        }
    }
}

Describe 'Import-AzCostExport: Parquet and CSV of the same rows load the same values' -Tag 'Export' {
    BeforeAll {
        $script:Pg = Start-TestPostgres -WarningAction SilentlyContinue
    }
    AfterAll { Stop-TestPostgres $Pg }

    It 'FocusCost as Parquet (DECIMAL) and as CSV sum to the same exact BilledCost per day on PostgreSQL, with the same Tags as jsonb'  {
        if (-not $Pg) { Set-ItResult -Skipped -Because 'no throw-away PostgreSQL cluster could be started'; return }
        $root1 = Join-Path $Work 'pq'; $root2 = Join-Path $Work 'csv'
        $null = New-TestExportLayout -Root $root1 -Runs @(New-RunSpec same FocusCost 2026-03 '2026-03-05T06:00:00Z' Parquet 800 2 77)
        $null = New-TestExportLayout -Root $root2 -Runs @(New-RunSpec same FocusCost 2026-03 '2026-03-05T06:00:00Z' Csv 800 2 77)
        $cs = $Pg.ConnectionString
        Invoke-TestPsql $Pg 'create schema if not exists pqside; create schema if not exists csvside'
        $null = Import-AzCostExport -Path $root1 -ConnectionString $cs -Schema pqside
        $null = Import-AzCostExport -Path $root2 -ConnectionString $cs -Schema csvside
        $sql = 'select "ChargePeriodStart"::date, sum("BilledCost")::text, sum("EffectiveCost")::text, count(*), sum(("Tags" is null)::int), md5(string_agg("Tags"::text, '','' order by "Tags"::text)), sum(("x_SkuIsCreditEligible")::int) from "{0}"."AzureCostFocus" group by 1 order by 1'
        $pq = @(Invoke-TestPsql $Pg ($sql -f 'pqside'))
        $csv = @(Invoke-TestPsql $Pg ($sql -f 'csvside'))
        $pq.Count | Should -BeGreaterThan 20
        $pq | Should -Be $csv
        (Invoke-TestPsql $Pg "select data_type from information_schema.columns where table_schema = 'pqside' and table_name = 'AzureCostFocus' and column_name = 'ChargePeriodStart'") | Should -Be 'timestamp with time zone'
        # Tags are JSON objects, jsonb as in the cost-details table, the same from Parquet and from CSV (compared above).
        (Invoke-TestPsql $Pg "select data_type from information_schema.columns where table_schema = 'pqside' and table_name = 'AzureCostFocus' and column_name = 'Tags'") | Should -Be 'jsonb'
        (Invoke-TestPsql $Pg "select count(*) from pqside.""AzureCostFocus"" where ""Tags"" is not null and jsonb_typeof(""Tags"") <> 'object'") | Should -Be '0'
    }
}

Describe 'Import-AzCostToSql reads gzip CSV directly' -Tag 'Export', 'Import' {
    It 'loads a .csv.gz exactly as the same file uncompressed' -Skip:$NoSqlite {
        $csv = Join-Path $Work 'plain.csv'
        $null = New-TestCostFile -Kind Ea -Rows 400 -Month 2026-03 -Path $csv -Seed 5
        $gz = "$csv.gz"
        $in = [IO.File]::OpenRead($csv); $out = [IO.File]::Create($gz)
        $zip = [IO.Compression.GZipStream]::new($out, [IO.Compression.CompressionLevel]::Optimal)
        $in.CopyTo($zip); $zip.Dispose(); $in.Dispose()
        $a = Join-Path $Work 'plain.sqlite'; $b = Join-Path $Work 'gz.sqlite'
        $r1 = Import-AzCostToSql -Path $csv -Scope $Sub -DatabasePath $a
        $r2 = Import-AzCostToSql -Path $gz -Scope $Sub -DatabasePath $b
        $r2.RowsInserted | Should -Be 400
        $r2.PeriodStart | Should -Be $r1.PeriodStart
        $q = "select Date, printf('%.15g', sum(CostInBillingCurrency)), count(*) from AzureCostDetails group by 1 order by 1"
        (Q $b $q) | Should -Be (Q $a $q)
    }
}

Describe 'Import-AzCostExport from Azurite' -Tag 'Export', 'Blob' {
    BeforeAll {
        $script:Az = Start-TestAzurite
        $script:Root = Join-Path $Work 'blob'
        if ($Az) {
            $script:Runs = @(
                New-RunSpec focus FocusCost 2026-03 '2026-03-04T06:00:00Z' Parquet 150 2 51
                New-RunSpec focus FocusCost 2026-03 '2026-03-05T06:00:00Z' Gzip 170 2 52
                New-RunSpec actual ActualCost 2026-03 '2026-03-05T06:00:00Z' Csv 90 1 53
            )
            $null = New-TestExportLayout -Root $Root -Runs $Runs
            Copy-TestTreeToAzurite $Az -Root $Root -Container costs -Prefix 'finops/'
            # An unrelated blob and a second folder the prefix excludes.
            [void] (New-TestBlob $Az -Container costs -Name 'other/readme.txt' -Content ([Text.Encoding]::UTF8.GetBytes('not an export')))
        }
    }
    AfterAll { Stop-TestAzurite $Az }

    It 'lists and loads through a container SAS URL, never showing its signature' -Skip:$NoSqlite {
        if (-not $Az) { Set-ItResult -Skipped -Because 'Azurite is not installed or did not start'; return }
        $sas = New-TestContainerSasUrl $Az -Container costs
        $sig = [Uri]::UnescapeDataString(([regex]::Match($sas, 'sig=([^&]+)')).Groups[1].Value)
        $db = Join-Path $Work 'sas.sqlite'
        $all = Import-AzCostExport -ContainerSasUrl $sas -Prefix finops -DatabasePath $db -Verbose *>&1 | Out-String -Width 400
        $all | Should -Not -Match ([regex]::Escape($sig))
        (Q $db "select count(*) from AzureCostFocus") | Should -Be '170'
        (Q $db "select count(*) from AzureCostDetails") | Should -Be '90'
        (Q $db "select Manifest from AzureCostFocus_ExportState") | Should -BeLike 'finops/exports/focus/*/manifest.json'
        $again = @(Import-AzCostExport -ContainerSasUrl $sas -Prefix finops -DatabasePath $db)
        $again.Action | Sort-Object -Unique | Should -Be 'Skipped'
    }

    It 'a SAS signed with the wrong key is a clear 403 error'  {
        if (-not $Az) { Set-ItResult -Skipped -Because 'Azurite is not installed or did not start'; return }
        $bad = New-TestContainerSasUrl $Az -Container costs -Key ([Convert]::ToBase64String([byte[]](1..64)))
        { Import-AzCostExport -ContainerSasUrl $bad -DatabasePath (Join-Path $Work 'bad.sqlite') -ErrorAction Stop } |
            Should -Throw -ExpectedMessage '*403*SAS URL*'
    }

    It 'a bearer token that storage refuses is a clear error naming the role'  {
        if (-not $Az) { Set-ItResult -Skipped -Because 'Azurite is not installed or did not start'; return }
        # This Azurite runs without OAuth, so it refuses any bearer token (403); http is allowed because the endpoint is loopback.
        $f = Start-TestAzureFixture
        try {
            $script = @"
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
`$t = Get-AzBillingToken -TenantId `$env:AZB_TENANT -ClientId `$env:AZB_CLIENT_ID -ClientSecret `$secret -AuthorityHost `$env:AZB_FIXTURE_HTTPS -Scope https://storage.azure.com/.default
try { Import-AzCostExport -StorageAccount '$($Az.Endpoint)' -Container costs -Token `$t -DatabasePath '$(Join-Path $Work 'refused.sqlite')' -ErrorAction Stop; 'no error' }
catch { "ERR `$(`$_.FullyQualifiedErrorId) `$(`$_.Exception.Message)" }
"@
            $r = Invoke-ChildPwsh -Script $script -Environment $f.ChildEnv -TimeoutSeconds 120
            $r.StdOut | Should -Match 'ERR AzBillingPermissionDenied'
            $r.StdOut | Should -Match 'Storage Blob Data Reader'
            foreach ($s in Get-TestFixtureSecrets $f) { $r.StdOut + $r.StdErr | Should -Not -Match ([regex]::Escape($s)) }
        }
        finally { Stop-TestAzureFixture $f }
    }
}

Describe 'Import-AzCostExport: a container listing that spans several pages' -Tag 'Export', 'Blob' {
    BeforeAll {
        # Azurite behind the fixture's blob proxy, which logs every request (path, query with sig redacted, status) and can
        # fail one. The test hook ListPageSize makes List Blobs ask for pages of 2, so these 11 blobs take 6 pages (sorted):
        #   p1: alpha/manifest.json, alpha/part_0_0001   p2: parts 2, 3   p3: parts 4, 5   (alpha's manifest on page 1, parts up to page 3)
        #   p4: notes.txt, zulu/000001.csv   p5: zulu/000002, 000003   p6: zulu/_manifest.json (a legacy run's manifest alone on the last page)
        $script:Az = Start-TestAzurite -WarningAction SilentlyContinue
        $script:Fx = if ($Az) { Start-TestAzureFixture }
        if ($Az -and $Fx) {
            $root = Join-Path $Work 'paged'
            $script:PagedRuns = @(
                New-RunSpec alpha FocusCost 2026-03 '2026-03-05T06:00:00Z' Csv 50 5 81
                New-RunSpec zulu ActualCost 2026-03 '2026-03-05T06:00:00Z' Csv 30 3 82 @{ legacy = $true; manifestName = '_manifest.json'; partNames = 'legacy' }
            )
            $null = New-TestExportLayout -Root $root -Runs $PagedRuns
            Copy-TestTreeToAzurite $Az -Root $root -Container paged
            [void] (New-TestBlob $Az -Container paged -Name 'exports/notes.txt' -Content ([Text.Encoding]::UTF8.GetBytes('not an export')))
            $script:ProxyBase = Set-TestBlobProxy $Fx -Upstream "http://127.0.0.1:$($Az.Port)"
            $sas = New-TestContainerSasUrl $Az -Container paged
            $script:PagedSig = [Uri]::UnescapeDataString(([regex]::Match($sas, 'sig=([^&]+)')).Groups[1].Value)
            $script:ProxySas = $sas -replace '^http://127\.0\.0\.1:\d+', $ProxyBase
        }
        function Get-ListRequests { @(Get-TestBlobProxyRequests $Fx | Where-Object { $_.query -match '(^|&)comp=list(&|$)' }) }
    }
    AfterAll {
        [AzBillingPS.Internal.InternalHooks]::SetTestHook('ListPageSize', 5000)
        Stop-TestAzureFixture $Fx; Stop-TestAzurite $Az
    }

    It 'finds manifests and parts on every page, follows the marker (through a failed page), and never shows the signature' -Skip:$NoSqlite {
        if (-not ($Az -and $Fx)) { Set-ItResult -Skipped -Because 'Azurite or the Azure test fixture did not start'; return }
        $db = Join-Path $Work 'paged.sqlite'
        # The first List request of page 3 fails (503) and is retried: the retry must ask for the same page again.
        $null = Set-TestBlobProxy $Fx -Faults @(@{ delayMs = 1 }, @{ delayMs = 1 }, @{ status = 503 })
        [AzBillingPS.Internal.InternalHooks]::SetTestHook('ListPageSize', 2)
        try { $all = Import-AzCostExport -ContainerSasUrl $ProxySas -DatabasePath $db -Verbose *>&1 }
        finally { [AzBillingPS.Internal.InternalHooks]::SetTestHook('ListPageSize', 5000) }
        $results = @($all | Where-Object { $_ -is [AzBillingPS.AzCostExportResult] })
        ($results | Sort-Object ExportName | ForEach-Object { "$($_.ExportName):$($_.Action):$($_.RowsInserted)" }) -join ';' | Should -Be 'alpha:Loaded:50;zulu:Loaded:30'
        (Q $db 'select count(*) from AzureCostFocus') | Should -Be '50'
        (Q $db 'select count(*) from AzureCostDetails') | Should -Be '30'
        (Q $db 'select Manifest from AzureCostDetails_ExportState') | Should -BeLike 'exports/zulu/*/_manifest.json'

        $lists = Get-ListRequests
        $lists.Count | Should -Be 7 -Because '11 blobs in pages of 2 are 6 pages, and page 3 was asked twice'
        foreach ($l in $lists) {
            $l.path | Should -Be '/devstoreaccount1/paged' -Because 'every page continues the same container listing at the same account'
            $l.query | Should -Match '(^|&)maxresults=2(&|$)'
            $l.query | Should -Match 'sig=REDACTED'
        }
        $markers = @($lists | ForEach-Object { [regex]::Match($_.query, '(?:^|&)marker=([^&]*)').Groups[1].Value })
        $markers[0] | Should -BeNullOrEmpty -Because 'the first page has no marker'
        @($markers[1..6] | Where-Object { $_ }).Count | Should -Be 6 -Because 'every later page continues from the previous NextMarker'
        $markers[3] | Should -Be $markers[2] -Because 'the retried page asks for the same page again'
        @($markers[1..6] | Select-Object -Unique).Count | Should -Be 5
        @($lists.status) | Should -Be @(200, 200, 503, 200, 200, 200, 200)
        # Every manifest and part was read from the pages it was listed on: 2 manifests and 8 parts.
        @(Get-TestBlobProxyRequests $Fx | Where-Object { $_.query -notmatch 'comp=list' -and $_.path -like '/devstoreaccount1/paged/*' } | Select-Object -ExpandProperty path -Unique).Count | Should -Be 10
        ($all | Out-String -Width 400) | Should -Not -Match ([regex]::Escape($PagedSig))
        ($all | Out-String -Width 400) | Should -Not -Match ([regex]::Escape([Uri]::EscapeDataString($PagedSig)))
        (Q $db 'select group_concat(Manifest) from AzureCostFocus_ExportState') | Should -Not -Match 'sig='
    }

    It 'asks for one page of up to 5,000 blobs without the test hook' -Skip:$NoSqlite {
        if (-not ($Az -and $Fx)) { Set-ItResult -Skipped -Because 'Azurite or the Azure test fixture did not start'; return }
        $null = Set-TestBlobProxy $Fx
        $again = @(Import-AzCostExport -ContainerSasUrl $ProxySas -DatabasePath (Join-Path $Work 'paged.sqlite'))
        $again.Action | Sort-Object -Unique | Should -Be 'Skipped'
        $lists = Get-ListRequests
        $lists.Count | Should -Be 1
        $lists[0].query | Should -Match '(^|&)maxresults=5000(&|$)'
        $lists[0].query | Should -Not -Match 'marker='
    }
}

Describe 'Import-AzCostExport with an Entra token (Azurite over https with OAuth)' -Tag 'Export', 'Blob', 'Auth' {
    BeforeAll {
        $script:AzO = Start-TestAzurite -OAuth
        $script:Fx = if ($AzO) { Start-TestAzureFixture }
        $script:Root = Join-Path $Work 'oauth'
        if ($AzO) {
            $null = New-TestExportLayout -Root $Root -Runs @(
                New-RunSpec amort AmortizedCost 2026-02 '2026-03-02T06:00:00Z' Parquet 140 2 61
                New-RunSpec amort AmortizedCost 2026-03 '2026-03-05T06:00:00Z' Csv 60 1 62)
            Copy-TestTreeToAzurite $AzO -Root $Root -Container exports
            # Trust both test CAs in the child: the fixture's (Entra) and Azurite's.
            $script:Bundle = Join-Path $Work 'bundle.pem'
            [IO.File]::WriteAllText($Bundle, [IO.File]::ReadAllText($Fx.CaFile) + "`n" + $AzO.CaPem + "`n")
        }
    }
    AfterAll { Stop-TestAzureFixture $Fx; Stop-TestAzurite $AzO }

    It 'loads with a storage token sent only to the account, and keeps the token out of every stream' -Skip:$NoSqlite {
        if (-not $AzO) { Set-ItResult -Skipped -Because 'Azurite (https, OAuth) is not installed or did not start'; return }
        $db = Join-Path $Work 'oauth.sqlite'
        $envs = $Fx.ChildEnv.Clone(); $envs.SSL_CERT_FILE = $Bundle
        $script = @"
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
`$t = Get-AzBillingToken -TenantId `$env:AZB_TENANT -ClientId `$env:AZB_CLIENT_ID -ClientSecret `$secret -AuthorityHost `$env:AZB_FIXTURE_HTTPS -Scope https://storage.azure.com/.default
Import-AzCostExport -StorageAccount '$($AzO.Endpoint)' -Container exports -Token `$t -DatabasePath '$db' -Verbose *>&1 | ForEach-Object { "`$_" }
`$arm = Get-AzBillingToken -TenantId `$env:AZB_TENANT -ClientId `$env:AZB_CLIENT_ID -ClientSecret `$secret -AuthorityHost `$env:AZB_FIXTURE_HTTPS -ResourceManagerUrl `$env:AZB_FIXTURE_HTTPS
try { Import-AzCostExport -StorageAccount '$($AzO.Endpoint)' -Container exports -Token `$arm -DatabasePath '$db' -ErrorAction Stop } catch { "ARM: `$(`$_.Exception.Message)" }
"@
        $r = Invoke-ChildPwsh -Script $script -Environment $envs -TimeoutSeconds 180
        $r.ExitCode | Should -Be 0 -Because $r.StdErr
        (Q $db "select _PeriodStart, count(*) from AzureCostDetails group by 1 order by 1") | Should -Be @('2026-02-01|140', '2026-03-01|60')
        $r.StdOut | Should -Match 'ARM: -Token is for .*storage token'
        foreach ($s in Get-TestFixtureSecrets $Fx) { $r.StdOut + $r.StdErr | Should -Not -Match ([regex]::Escape($s)) }
    }
}
