#Requires -Version 7.4
# docs/queries.md, run as written: every ```sql sqlite block against a SQLite file and every ```sql postgresql block
# against a throw-away PostgreSQL cluster, both loaded with the sample files (the EA months as both metrics, the MCA
# month as actual cost). Each query must run and return rows; a few results are checked against sums computed here
# from the files. (The ```sql sqlserver blocks are parsed by ScriptDom in tests/AzBillingPS.Tests.)

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $doc = Get-Content -Raw (Join-Path (Get-TestRepoRoot) 'docs/queries.md')
    $script:Cases = @()
    $section = $null
    $n = @{}
    foreach ($m in [regex]::Matches($doc, '(?m)^## (?<title>[^\r\n]+)$|```sql (?<db>sqlite|postgresql|sqlserver)\r?\n(?<sql>.*?)```', 'Singleline')) {
        if ($m.Groups['title'].Success) { $section = $m.Groups['title'].Value.Trim(); continue }
        $db = $m.Groups['db'].Value
        if ($db -eq 'sqlserver') { continue }
        $key = "$section|$db"
        $n[$key] = 1 + [int]$n[$key]
        $script:Cases += @{ Section = $section; Db = $db; Index = $n[$key]; Sql = $m.Groups['sql'].Value; Name = "$section ($db, query $($n[$key]))" }
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $root = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) { $env:AZBILLING_MODULE_PATH = Join-Path $root 'out/AzBillingPS/0.1.0/AzBillingPS.psd1' }
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
    $script:Inv = [cultureinfo]::InvariantCulture
    $script:Sqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
    $script:Pg = Start-TestPostgres -WarningAction SilentlyContinue
    $script:Db = Join-Path $TestDrive 'queries.sqlite'
    $ea = '/providers/Microsoft.Billing/billingAccounts/8611537'
    $mca = '/providers/Microsoft.Billing/billingAccounts/3fc6bf9d-f9d4-41c5-b983-fa9881edd254:6ee9712a-49fd-4954-8e76-a3cbec00de4a_2019-05-31'
    $loads = @(
        @{ File = 'ea-2026-09.csv'; Scope = $ea; Metric = 'ActualCost' }, @{ File = 'ea-2026-09.csv'; Scope = $ea; Metric = 'AmortizedCost' }
        @{ File = 'ea-2026-10.csv'; Scope = $ea; Metric = 'ActualCost' }, @{ File = 'ea-2026-10.csv'; Scope = $ea; Metric = 'AmortizedCost' }
        @{ File = 'mca-2026-10.csv'; Scope = $mca; Metric = 'ActualCost' })
    $targets = @()
    if ($Sqlite3) { $targets += @{ DatabasePath = $Db } }
    if ($Pg) { $targets += @{ ConnectionString = $Pg.ConnectionString } }
    foreach ($t in $targets) {
        foreach ($l in $loads) { Import-AzCostToSql -Path (Join-Path $root "samples/$($l.File)") -Scope $l.Scope -Metric $l.Metric @t | Out-Null }
    }

    # Independent figures from the files: actual cost (decimal) per subscription and month, and per subscription, currency and month.
    $script:SubMonth = @{}
    foreach ($f in 'ea-2026-09.csv', 'ea-2026-10.csv', 'mca-2026-10.csv') {
        foreach ($r in Import-Csv (Join-Path $root "samples/$f") -Encoding utf8) {
            $month = [datetime]::ParseExact($r.Date, [string[]]@('MM/dd/yyyy', 'M/d/yyyy'), $Inv, 0).ToString('yyyy-MM')
            $currency = if ($r.PSObject.Properties['BillingCurrencyCode']) { $r.BillingCurrencyCode } else { $r.billingCurrency }
            $cost = [decimal]::Parse($r.CostInBillingCurrency, [Globalization.NumberStyles]::Float, $Inv)
            foreach ($k in "$($r.SubscriptionId)|$month", "$($r.SubscriptionId)|$currency|$month") { $SubMonth[$k] = [decimal]$SubMonth[$k] + $cost }
        }
    }

    function Invoke-Query([string] $Db, [string] $Sql) {
        # Rows as arrays of fields; the first row is the header.
        if ($Db -eq 'sqlite') {
            $out = & $Sqlite3 -batch -bail -header -separator '|' $script:Db $Sql 2>&1
            if ($LASTEXITCODE -ne 0) { throw "sqlite3 failed ($LASTEXITCODE): $($out | Out-String)" }
            foreach ($line in $out) { , ([string]$line -split '\|') }
        }
        else {
            $out = & $Pg.PsqlPath -X -q -h 127.0.0.1 -p $Pg.Port -U postgres -d postgres -A -F '|' -P footer=off -v ON_ERROR_STOP=1 -c $Sql 2>&1
            if ($LASTEXITCODE -ne 0) { throw "psql failed ($LASTEXITCODE): $($out | Out-String)" }
            foreach ($line in $out) { , ([string]$line -split '\|') }
        }
    }

    function ConvertTo-Rows([object[]] $Lines) {
        $header = $Lines[0]
        foreach ($l in ($Lines | Select-Object -Skip 1)) {
            $o = [ordered]@{}
            for ($i = 0; $i -lt $header.Count; $i++) { $o[$header[$i]] = $l[$i] }
            [pscustomobject]$o
        }
    }
}

AfterAll {
    Stop-TestPostgres $script:Pg
}

Describe 'docs/queries.md' -Tag 'Queries' {
    It 'holds the cookbook: seven sections, each for SQLite, PostgreSQL and SQL Server' {
        $doc = Get-Content -Raw (Join-Path (Get-TestRepoRoot) 'docs/queries.md')
        foreach ($db in 'sqlite', 'postgresql', 'sqlserver') { ([regex]::Matches($doc, "``````sql $db\r?\n")).Count | Should -Be 8 -Because "every query has a $db version" }
        foreach ($t in 'per day and subscription', 'per resource group', 'per tag', 'amortized against actual', 'Month over month', 'Top movers') { $doc | Should -Match $t }
    }

    It 'the README''s query runs as written on SQLite and PostgreSQL' {
        $readme = Get-Content -Raw (Join-Path (Get-TestRepoRoot) 'README.md')
        $sql = [regex]::Match($readme, '```sql\r?\n(?<sql>.*?)```', 'Singleline').Groups['sql'].Value
        $sql | Should -Match 'FROM "AzureCostDetails"'
        foreach ($db in @(if ($Sqlite3) { 'sqlite' }) + @(if ($Pg) { 'postgresql' })) {
            $rows = @(ConvertTo-Rows @(Invoke-Query $db $sql))
            $rows.Count | Should -BeGreaterThan 0 -Because $db
            $rows[0].Date | Should -Be '2026-10-01'
        }
    }

    It '<Name> runs against the sample data and returns rows' -ForEach $Cases {
        if ($Db -eq 'sqlite' -and -not $Sqlite3) { Set-ItResult -Skipped -Because 'the sqlite3 CLI is not installed' }
        if ($Db -eq 'postgresql' -and -not $Pg) { Set-ItResult -Skipped -Because 'no throw-away PostgreSQL cluster could be started' }
        $lines = @(Invoke-Query $Db $Sql)
        $rows = @(ConvertTo-Rows $lines)
        $rows.Count | Should -BeGreaterThan 0
        switch -Wildcard ($Section) {
            '1. *' {
                # Per day and subscription: the days add up to each subscription's October (to the cent per row).
                foreach ($g in $rows | Group-Object SubscriptionId) {
                    $sum = [decimal]0; foreach ($r in $g.Group) { $sum += [decimal]::Parse($r.Cost, [Globalization.NumberStyles]::Float, $Inv) }
                    [Math]::Abs([double]($sum - $SubMonth["$($g.Name)|2026-10"])) | Should -BeLessOrEqual (0.005 * $g.Count + 1e-9)
                }
            }
            '3. *' { if ($Index -eq 1) { @($rows.env) | Should -Contain 'prod' } else { @($rows.Tag) | Should -Contain 'env' } }
            '4. *' {
                $usd = @($rows | Where-Object Currency -eq 'USD')
                $usd.Count | Should -BeGreaterThan 0
                foreach ($r in $usd) { $r.Actual | Should -Be $r.Amortized -Because 'the EA samples are loaded as both metrics from the same file' }
                @($rows | Where-Object Currency -eq 'EUR' | Where-Object { [decimal]::Parse($_.Amortized, $Inv) -ne 0 }).Count | Should -Be 0 -Because 'the MCA month is loaded as actual cost only'
            }
            '5. *' {
                $r = $rows | Where-Object { $_.Month -eq '2026-10' -and $_.Change } | Select-Object -First 1
                $want = $SubMonth["$($r.SubscriptionId)|$($r.Currency)|2026-10"] - $SubMonth["$($r.SubscriptionId)|$($r.Currency)|2026-09"]
                [Math]::Abs([double]([decimal]::Parse($r.Change, [Globalization.NumberStyles]::Float, $Inv) - $want)) | Should -BeLessOrEqual 0.0051
            }
            '6. *' { $rows.Count | Should -BeLessOrEqual 10 }
            '7. *' { @($rows | Where-Object { $_._Metric -eq 'AmortizedCost' }).Count | Should -Be 2 }
        }
    }
}
