#Requires -Version 7.4
# Get-AzCostSummary against real databases (a SQLite file and a throw-away PostgreSQL cluster), compared with sums this
# test computes itself from the CSV files with [decimal]: two metrics (one file loaded as both), two currencies (USD EA
# files, an EUR MCA file), three scopes, tags (EA's brace-less bodies, key=value text, a value with a line break).
# PostgreSQL and SQL Server sums are exact, then rounded half away from zero to 6 decimals, so they must equal the
# expected figure; SQLite sums REAL values, so there they agree within 2e-6 (plus 1e-12 relative). SQL Server runs where
# AZBILLING_TEST_SQLSERVER holds a connection string, and is reported as skipped otherwise.

BeforeDiscovery {
    $script:Providers = @(@{ Provider = 'SQLite' }, @{ Provider = 'PostgreSQL' }, @{ Provider = 'SQL Server' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:RepoRoot = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) {
        $env:AZBILLING_MODULE_PATH = Join-Path $RepoRoot 'out/AzBillingPS/0.1.0/AzBillingPS.psd1'
    }
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
    $script:Inv = [cultureinfo]::InvariantCulture
    $script:Pg = Start-TestPostgres -WarningVariable pgWarn -WarningAction SilentlyContinue
    $script:NoPgReason = if ($Pg) { $null } else { "no throw-away PostgreSQL cluster: $pgWarn" }

    $script:Ea = '/providers/microsoft.billing/billingaccounts/8611537'
    $script:Mca = '/providers/microsoft.billing/billingaccounts/3fc6bf9d-f9d4-41c5-b983-fa9881edd254:6ee9712a-49fd-4954-8e76-a3cbec00de4a_2019-05-31'
    $script:Sub = '/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f'
    $script:Loads = @(
        @{ Path = Join-Path $RepoRoot 'samples/ea-2026-09.csv'; Scope = $Ea; Metric = 'ActualCost' }
        @{ Path = Join-Path $RepoRoot 'samples/ea-2026-09.csv'; Scope = $Ea; Metric = 'AmortizedCost' }
        @{ Path = Join-Path $RepoRoot 'samples/ea-2026-10.csv'; Scope = $Ea; Metric = 'ActualCost' }
        @{ Path = Join-Path $RepoRoot 'samples/mca-2026-10.csv'; Scope = $Mca; Metric = 'ActualCost' }
        @{ Path = Join-Path $RepoRoot 'tests/data/quoted.csv'; Scope = $Sub; Metric = 'ActualCost' }
    )

    function Get-Field([object] $Row, [string[]] $Names) {
        foreach ($n in $Names) { $p = $Row.PSObject.Properties[$n]; if ($p) { return [string]$p.Value } }
        return $null
    }

    # Every row of every load, with the values a summary groups by, read straight from the files.
    $script:Expected = foreach ($l in $Loads) {
        foreach ($r in Import-Csv -LiteralPath $l.Path -Encoding utf8) {
            $tags = Get-Field $r 'Tags'
            $env = $null
            if ($tags) {
                $t = $tags.Trim()
                if (-not $t.StartsWith('{')) { $t = '{' + $t + '}' }
                try { $env = ($t.Replace("`r", '\r').Replace("`n", '\n') | ConvertFrom-Json -AsHashtable -ErrorAction Stop)['env'] } catch { $env = $null }
            }
            $date = [datetime]::ParseExact((Get-Field $r 'Date'), [string[]]@('MM/dd/yyyy', 'M/d/yyyy', 'yyyy-MM-dd'), $Inv, 0)
            [pscustomobject]@{
                Metric        = $l.Metric
                Currency      = Get-Field $r 'BillingCurrencyCode', 'billingCurrency'
                Scope         = $l.Scope
                Month         = $date.ToString('yyyy-MM-01')
                Day           = $date.ToString('yyyy-MM-dd')
                Service       = Get-Field $r 'MeterCategory'
                ResourceGroup = Get-Field $r 'ResourceGroup', 'resourceGroupName'
                Location      = Get-Field $r 'ResourceLocation'
                Subscription  = Get-Field $r 'SubscriptionId'
                ChargeType    = Get-Field $r 'ChargeType'
                'Tag:env'     = $env
                Cost          = [decimal]::Parse((Get-Field $r 'CostInBillingCurrency'), [Globalization.NumberStyles]::Float, $Inv)
            }
        }
    }

    function Get-DecimalSum([object[]] $Values) {
        # Measure-Object sums as double; money is summed as [decimal] here.
        $sum = [decimal]0
        foreach ($v in $Values) { $sum += [decimal]$v }
        return $sum
    }

    function Get-ExpectedSummary {
        # Groups the file rows the way the summary must: metric and currency always, then the keys.
        param([object[]] $Rows, [string[]] $Keys)
        $Rows | Group-Object -Property (@('Metric', 'Currency') + $Keys) | ForEach-Object {
            $first = $_.Group[0]
            $key = (@('Metric', 'Currency') + $Keys | ForEach-Object { [string]$first.$_ }) -join '|'
            [pscustomobject]@{ Key = $key; Cost = [decimal]::Round((Get-DecimalSum $_.Group.Cost), 6, [MidpointRounding]::AwayFromZero); Rows = $_.Count
                Partition = "$($first.Metric)|$($first.Currency)" }
        }
    }

    function ConvertTo-SummaryKey {
        param([object] $Summary, [string[]] $Keys)
        $values = foreach ($k in $Keys) {
            $v = $Summary.Keys[$k]
            if ($v -is [datetime]) { $v.ToString('yyyy-MM-dd') } else { [string]$v }
        }
        ((@($Summary.Metric, $Summary.Currency) + @($values)) -join '|')
    }

    function Assert-Summary {
        # The summary has exactly the expected groups, each with the expected row count and cost.
        param([object[]] $Actual, [object[]] $Expected, [string[]] $Keys, [string] $Provider)
        $byKey = @{}
        foreach ($a in $Actual) { $byKey[(ConvertTo-SummaryKey $a $Keys)] = $a }
        @($byKey.Keys | Sort-Object) | Should -Be @($Expected.Key | Sort-Object) -Because 'the summary has one row per metric, currency and key, no more'
        foreach ($e in $Expected) {
            $a = $byKey[$e.Key]
            $a.Rows | Should -Be $e.Rows -Because "rows of $($e.Key)"
            $a.Cost | Should -BeOfType ([decimal])
            if ($Provider -ne 'SQLite') {
                $a.Cost | Should -Be $e.Cost -Because "numeric and decimal sums are exact ($($e.Key))"
            }
            else {
                [Math]::Abs([double]($a.Cost - $e.Cost)) | Should -BeLessOrEqual (2e-6 + [Math]::Abs([double]$e.Cost) * 1e-12) -Because "REAL sums agree ($($e.Key): $($a.Cost) vs $($e.Cost))"
            }
        }
    }
}

AfterAll {
    Stop-TestPostgres $script:Pg
}

Describe 'Get-AzCostSummary on <Provider>' -Tag 'Summary' -ForEach $Providers {
    BeforeAll {
        $script:Skip = switch ($Provider) {
            'PostgreSQL' { $NoPgReason }
            'SQL Server' { if (-not $env:AZBILLING_TEST_SQLSERVER) { 'AZBILLING_TEST_SQLSERVER is not set (the summary''s T-SQL is still parsed by ScriptDom in xunit)' } }
            default { $null }
        }
        function New-SummaryTarget([string] $Name) {
            switch ($Provider) {
                'SQLite' { @{ DatabasePath = (Join-Path $TestDrive "$Name.sqlite") } }
                'PostgreSQL' { @{ ConnectionString = $Pg.ConnectionString; Table = $Name + [guid]::NewGuid().ToString('N').Substring(0, 6) } }
                default { @{ ConnectionString = $env:AZBILLING_TEST_SQLSERVER; Provider = 'SqlServer'; Table = 'Azb' + $Name + [guid]::NewGuid().ToString('N').Substring(0, 6) } }
            }
        }
        if (-not $Skip) {
            $script:Target = New-SummaryTarget 'Summary'
            foreach ($l in $Loads) {
                Import-AzCostToSql -Path $l.Path -Scope $l.Scope -Metric $l.Metric @Target -WarningAction SilentlyContinue | Out-Null
            }
        }
    }

    BeforeEach {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip }
    }

    It 'by default sums per metric, currency, month and service: a file loaded as both metrics is not counted twice' {
        $s = @(Get-AzCostSummary @Target)
        Assert-Summary $s (Get-ExpectedSummary $Expected 'Month', 'Service') 'Month', 'Service' $Provider
        $storage = @($s | Where-Object { $_.Service -eq 'Storage' -and $_.Month -eq [datetime]'2026-09-01' })
        $storage.Metric | Sort-Object | Should -Be @('ActualCost', 'AmortizedCost')
        $storage[0].Cost | Should -Be $storage[1].Cost -Because 'each metric shows the file''s own total, never the two added'
        @($s.Currency | Sort-Object -Unique) | Should -Be @('EUR', 'USD')
        $s[0].Month | Should -BeOfType ([datetime])
        $s[0].Rows | Should -BeOfType ([long])
    }

    It '-Metric, -Scope (wildcards), -From/-To and -GroupBy Scope filter and group as asked' {
        $rows = $Expected | Where-Object { $_.Metric -eq 'ActualCost' -and $_.Scope -like '*billingaccounts*' -and $_.Day -ge '2026-09-10' -and $_.Day -le '2026-10-05' }
        $s = @(Get-AzCostSummary @Target -Metric ActualCost -Scope '/providers/Microsoft.Billing/billingAccounts/*' -From 2026-09-10 -To 2026-10-05 -GroupBy Scope, Day)
        Assert-Summary $s (Get-ExpectedSummary $rows 'Scope', 'Day') 'Scope', 'Day' $Provider
        @($s.Scope | Sort-Object -Unique) | Should -Be @($Ea, $Mca | Sort-Object)

        $one = @(Get-AzCostSummary @Target -Scope '5F1C3A2E-8D4B-4C6A-9E7F-0A1B2C3D4E5F' -GroupBy Scope)
        $one.Scope | Should -Be @($Sub) -Because 'a bare subscription GUID in any case is that subscription''s scope'
    }

    It '-GroupBy Tag:env reads the tags as JSON (EA bodies without braces included)' {
        $s = @(Get-AzCostSummary @Target -GroupBy Tag:env)
        Assert-Summary $s (Get-ExpectedSummary $Expected 'Tag:env') 'Tag:env' $Provider
        ($s | Where-Object { $_.'Tag:env' -eq 'prod' }).Count | Should -BeGreaterThan 0
        $s[0].PSObject.Properties['Tag:env'] | Should -Not -BeNullOrEmpty
    }

    It '-GroupBy ResourceGroup -Top 3 keeps the three costliest of each metric and currency' {
        $expected = Get-ExpectedSummary $Expected 'ResourceGroup' | Group-Object Partition | ForEach-Object { $_.Group | Sort-Object Cost -Descending | Select-Object -First 3 }
        $s = @(Get-AzCostSummary @Target -GroupBy ResourceGroup -Top 3)
        Assert-Summary $s $expected 'ResourceGroup' $Provider
        $s.Count | Should -Be 9 -Because 'ActualCost USD, AmortizedCost USD and ActualCost EUR, three each'
    }

    It '-GroupBy Month, Subscription, Location and a column of the table' {
        $s = @(Get-AzCostSummary @Target -GroupBy Month, Subscription, Location, ChargeType)
        Assert-Summary $s (Get-ExpectedSummary $Expected 'Month', 'Subscription', 'Location', 'ChargeType') 'Month', 'Subscription', 'Location', 'ChargeType' $Provider
        $s[0].ChargeType | Should -Not -BeNullOrEmpty
    }

    It 'tab completion of -Scope offers the scopes the target table holds' {
        $targetText = ($Target.GetEnumerator() | ForEach-Object { "-$($_.Key) '$($_.Value)'" }) -join ' '
        foreach ($cmd in 'Get-AzCostSummary', 'Get-AzBillingSyncState', 'Import-AzCostToSql -Path x.csv') {
            $line = "$cmd $targetText -Scope "
            $all = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
            @($all) | Should -Be @($Ea, $Mca, $Sub | Sort-Object) -Because "$cmd completes the table's scopes"
            $line = "$cmd $targetText -Scope 8611"
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @($Ea)
        }
        $line = "Get-AzCostSummary -DatabasePath '$(Join-Path $TestDrive 'missing.sqlite')' -Scope "
        @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches) | Should -HaveCount 0
        Test-Path (Join-Path $TestDrive 'missing.sqlite') | Should -BeFalse -Because 'completion never creates a database'
    }

    It 'an unknown -GroupBy column is an error that lists the columns' {
        $e = $null
        try { Get-AzCostSummary @Target -GroupBy NoSuchColumn } catch { $e = $_ }
        $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingInvalidArgument*'
        $e.Exception.Message | Should -Match 'NoSuchColumn'
        $e.Exception.Message | Should -Match 'MeterCategory'
    }

    It 'totals of 10^12 and more fit: the sum is rounded and cast in SQL' {
        $file = Join-Path $TestDrive "large-$Provider.csv"
        $lines = @('Date,MeterCategory,CostInBillingCurrency,BillingCurrencyCode')
        $values = '999999999999.123456789012345678', '1234567890123.987654321098765432', '987654321987.000000000000000001'
        foreach ($v in $values) { $lines += "03/01/2026,Compute,$v,JPY" }
        Set-Content -LiteralPath $file -Value $lines -Encoding utf8BOM
        $big = New-SummaryTarget 'Large'
        Import-AzCostToSql -Path $file -Scope $Sub @big | Out-Null
        $s = @(Get-AzCostSummary @big)
        $s.Count | Should -Be 1
        $want = [decimal]::Round((Get-DecimalSum ($values | ForEach-Object { [decimal]::Parse($_, $Inv) })), 6, [MidpointRounding]::AwayFromZero)
        $want | Should -BeGreaterThan 3e12
        if ($Provider -ne 'SQLite') { $s[0].Cost | Should -Be $want }
        else { [Math]::Abs([double]($s[0].Cost - $want)) / [double]$want | Should -BeLessThan 1e-12 }
    }
}

Describe 'Get-AzCostSummary reads only' -Tag 'Summary' {
    It 'names a missing database instead of creating an empty file' {
        $dir = Join-Path $TestDrive 'none'
        New-Item -ItemType Directory -Path $dir | Out-Null
        Push-Location $dir
        try {
            $e = $null
            try { Get-AzCostSummary } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingNotFound*'
            $e.Exception.Message | Should -Match ([regex]::Escape("No database at $(Join-Path $dir 'AzBilling.sqlite')"))
            $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $e.TargetObject | Should -Be (Join-Path $dir 'AzBilling.sqlite')
            $e = $null
            try { Get-AzBillingSyncState -DatabasePath ./other.sqlite } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -BeLike 'AzBillingNotFound*'
        }
        finally { Pop-Location }
        @(Get-ChildItem -LiteralPath $dir).Count | Should -Be 0 -Because 'reading never creates a database file'
    }
}
