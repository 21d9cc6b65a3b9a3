#Requires -Version 7.4
# Every output type's default table view, rendered at 80 and 120 columns (Out-String -Width) from objects the cmdlets
# really wrote: a token, reports and files from the Azure test fixture, loads and a summary in SQLite, Sync-AzBilling
# over four subscriptions (one of them refused with 403) and its state. Each view must keep its columns, fit the
# width, and show scopes in a short form that still tells four subscriptions apart.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoFixture = -not (Test-Path (Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))
    $script:Widths = @(@{ Width = 80 }, @{ Width = 120 })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    if (-not $env:AZBILLING_MODULE_PATH) { $env:AZBILLING_MODULE_PATH = Join-Path (Get-TestRepoRoot) 'out/AzBillingPS/0.1.0/AzBillingPS.psd1' }
    $script:Subs = '0a1b2c3d-0000-4000-8000-0000000000a1', '0a1b2c3d-0000-4000-8000-0000000000b2', '0a1b2c3d-0000-4000-8000-0000000000c3', '0a1b2c3d-0000-4000-8000-0000000000d4'
    $script:Rendered = $null
    if (-not $NoFixture) {
        # Retry-After 0 on its reports: nothing here measures the wait before a poll.
        $script:Fixture = Start-TestAzureFixture -DefaultRetryAfter 0 -CostRules @(@{ scope = "/subscriptions/$($Subs[3])"; status = 403 })
        $dir = Join-Path $TestDrive 'views'
        New-Item -ItemType Directory -Path $dir | Out-Null
        $envs = @{ NO_COLOR = '1' }
        foreach ($k in $Fixture.ChildEnv.Keys) { $envs[$k] = $Fixture.ChildEnv[$k] }
        $subList = ($Subs | ForEach-Object { "'$_'" }) -join ', '
        $run = Invoke-ChildPwsh -Environment $envs -TimeoutSeconds 240 -WorkingDirectory $dir -Script @"
`$ErrorActionPreference = 'Continue'
`$ProgressPreference = 'SilentlyContinue'
`$secret = ConvertTo-SecureString `$env:AZB_CLIENT_SECRET -AsPlainText -Force
`$signIn = @{ TenantId = `$env:AZB_TENANT; ClientId = `$env:AZB_CLIENT_ID; ClientSecret = `$secret; AuthorityHost = `$env:AZB_FIXTURE_HTTPS; ResourceManagerUrl = `$env:AZB_FIXTURE_HTTPS }
`$month = [datetime]::UtcNow.Date.AddDays(1 - [datetime]::UtcNow.Day).AddMonths(-1)
`$objects = [ordered]@{}
`$objects.Token = @(Get-AzBillingToken @signIn)
`$objects.Report = @(New-AzCostReport -Token `$objects.Token[0] -Scope @($subList)[0..2] -From `$month -To `$month.AddMonths(1).AddDays(-1))
`$objects.Blob = @(`$objects.Report[0].Blobs)
`$objects.File = @(`$objects.Report | Save-AzCostBlob -Path ./blobs)
`$objects.Import = @(`$objects.File | Import-AzCostToSql -DatabasePath ./views.sqlite -Confirm:`$false)
`$objects.Summary = @(Get-AzCostSummary -DatabasePath ./views.sqlite -GroupBy Month, Scope)
`$objects.SyncResult = @(Sync-AzBilling @signIn -Scope @($subList) -Months 2 -DatabasePath ./sync.sqlite -PassThru -ErrorAction SilentlyContinue)
`$passThru = `$objects.SyncResult
`$objects.SyncSummary = @(`$passThru | Where-Object { `$_ -is [AzBillingPS.AzBillingSyncSummary] })
`$objects.SyncResult = @(`$passThru | Where-Object { `$_ -is [AzBillingPS.AzBillingSyncResult] })
`$objects.SyncState = @(Get-AzBillingSyncState -DatabasePath ./sync.sqlite)
`$out = [ordered]@{}
foreach (`$k in `$objects.Keys) {
    foreach (`$w in 80, 120) {
        `$out["`$k`$w"] = `$objects[`$k] | Format-Table | Out-String -Width `$w
    }
    `$out["`$k.Count"] = `$objects[`$k].Count
    `$out["`$k.Type"] = "`$(`$objects[`$k][0].GetType().FullName)"
}
foreach (`$w in 80, 120) { `$out["PassThru`$w"] = `$passThru | Out-String -Width `$w }
`$out.SyncSummaryTable = `$objects.SyncSummary | Format-Table -View AzBillingPS.AzBillingSyncSummary.Table -Force | Out-String -Width 80
`$out.SyncSummaryList = `$objects.SyncSummary | Format-List * -Force | Out-String -Width 120
"##VIEWS##" + (`$out | ConvertTo-Json -Compress)
"@
        $line = $run.Output | Where-Object { $_.StartsWith('##VIEWS##') } | Select-Object -Last 1
        if (-not $line) { throw "The child failed (exit $($run.ExitCode)):`n$($run.StdOut)`n$($run.StdErr)" }
        $script:Rendered = $line.Substring(9) | ConvertFrom-Json -AsHashtable
    }

    function Get-View([string] $Name, [int] $Width) {
        $text = $Rendered["$Name$Width"]
        $lines = @($text -split "`r?`n" | Where-Object { $_.Trim() })
        [pscustomobject]@{ Text = $text; Lines = $lines; Header = $lines[0]; Rows = @($lines | Select-Object -Skip 2) }
    }

    function Assert-View([string] $Name, [int] $Width, [string[]] $Columns) {
        $v = Get-View $Name $Width
        $v.Header | Should -Match ('^' + (($Columns | ForEach-Object { [regex]::Escape($_) }) -join '\s+') + '\s*$') -Because "the $Name view shows $($Columns -join ', ') in that order at $Width columns"
        foreach ($l in $v.Lines) { $l.Length | Should -BeLessOrEqual $Width -Because "every line fits $Width columns: '$l'" }
        $v.Rows.Count | Should -Be $Rendered["$Name.Count"]
        $v
    }
}

AfterAll {
    if ($script:Fixture) { Stop-TestAzureFixture $Fixture }
}

Describe 'Table views at <Width> columns' -Tag 'Views' -ForEach $Widths -Skip:$NoFixture {
    It 'AzBillingToken: method, client, expiry, cloud, scope' {
        $Rendered['Token.Type'] | Should -Be 'AzBillingPS.AzBillingToken'
        $v = Assert-View Token $Width 'AuthMethod', 'ClientId', 'ExpiresOn (UTC)', 'Cloud', 'Scope'
        $v.Rows[0] | Should -Match 'ClientSecret'
    }

    It 'AzCostReport: period, metric, short scope, status, blobs, size and expiry of every report' {
        $v = Assert-View Report $Width 'Period', 'Metric', 'Scope', 'Status', 'Blobs', 'Size', 'ValidTill'
        foreach ($i in 0..2) { $v.Text | Should -Match ([regex]::Escape($Subs[$i].Substring(24))) -Because 'the scopes keep the tail of their id' }
        $v.Rows | ForEach-Object { $_ | Should -Match '^\d{4}-\d{2}\s+Actual\s+.+Completed\s+\d+\s+\d+ KB\s+\d{2}-\d{2} \d{2}:\d{2}' }
    }

    It 'AzCostReportBlob: index, size, redacted link' {
        $v = Assert-View Blob $Width 'Index', 'ByteCount', 'Link'
        $v.Rows[0] | Should -Match '^\s+1\s+[\d,]+\s+https://'
    }

    It 'AzCostFile: period, metric, blob, size, short scope, file name' {
        $v = Assert-View File $Width 'Period', 'Metric', 'Blob', 'Size', 'Scope', 'File'
        $v.Rows | ForEach-Object { $_ | Should -Match '\d+/\d+\s+\d+ KB\s+…[0-9a-f-]+\s+…\S*\.csv$' -Because 'the file name keeps its tail (metric, month, blob)' }
    }

    It 'AzCostImportResult: period, metric, short scope and the counts' {
        $v = Assert-View Import $Width 'Period', 'Metric', 'Scope', 'Files', 'Inserted', 'Replaced', 'Rows/s'
        foreach ($i in 0..2) { $v.Text | Should -Match ([regex]::Escape($Subs[$i].Substring(24))) }
        $v.Text | Should -Not -Match '/subsc' -Because 'a scope is its id, not a cut-off path'
    }

    It 'AzCostSummary: period, metric, currency, cost, rows and the group (here the short scope)' {
        $v = Assert-View Summary $Width 'Period', 'Metric', 'Currency', 'Cost', 'Rows', 'Group'
        foreach ($i in 0..2) { $v.Text | Should -Match ([regex]::Escape($Subs[$i].Substring(24))) }
    }

    It 'AzBillingSyncResult: month, metric, short scope, action, rows, final, seconds, reason or error' {
        $v = Assert-View SyncResult $Width 'Month', 'Metric', 'Scope', 'Action', 'Rows', 'Final', 'Sec', 'Reason'
        $Rendered['SyncResult.Count'] | Should -Be 8
        foreach ($s in $Subs) { @($v.Rows -match [regex]::Escape($s.Substring(24))).Count | Should -Be 2 -Because 'each subscription''s two months are told apart by the tail of its id' }
        @($v.Rows -match 'Failed\s').Count | Should -Be 2
        @($v.Rows -match 'Failed\s.*(Perm|403|Auth)').Count | Should -Be 2 -Because 'the failure''s reason starts right there'
    }

    It 'AzBillingSyncState: month, metric, short scope, status, final, rows, then when it loaded or why it failed' {
        $v = Assert-View SyncState $Width 'Month', 'Metric', 'Scope', 'Status', 'Final', 'Rows', 'Loaded / Error'
        foreach ($s in $Subs) { @($v.Rows -match [regex]::Escape($s.Substring(24))).Count | Should -Be 2 }
        @($v.Rows -match 'Loaded\s.*\d{4}-\d{2}-\d{2} \d{2}:\d{2}\s*$').Count | Should -Be 6
        @($v.Rows -match 'Failed\s.*(Perm|403|Auth)').Count | Should -Be 2
    }

    It 'Sync-AzBilling -PassThru: one results table in plan order and one summary line' {
        $text = $Rendered["PassThru$Width"]
        $lines = @($text -split "`r?`n" | Where-Object { $_.Trim() })
        @($lines -match '^Month\s+Metric\s+Scope').Count | Should -Be 1 -Because 'one table, one header'
        $text | Should -Not -Match 'Results\s*:' -Because 'no list with a wrapped Results property'
        $summary = @($lines | Where-Object { $_ -match '^Sync: ' })
        $summary.Count | Should -Be 1
        $summary[0] | Should -Match '^Sync: 6 loaded, 0 skipped, 2 failed \(4 scope\(s\)\); \d+ rows, \d+ KB in 00:00:\d\d$'
        $rows = @($lines | Where-Object { $_ -match '^\d{4}-\d{2}\s' })
        $order = @($rows | ForEach-Object { $s = $_; [array]::FindIndex([string[]]$Subs, [Predicate[string]] { param($x) $s.Contains($x.Substring(24)) }) })
        $order | Should -Be @(0, 0, 1, 1, 2, 2, 3, 3) -Because 'plan order: scope, then month'
        foreach ($l in $lines) { $l.Length | Should -BeLessOrEqual $Width }
    }
}

Describe 'AzBillingSyncSummary as a table' -Tag 'Views' -Skip:$NoFixture {
    It 'is one line wherever it is written; Format-Table -View ... -Force and Format-List * -Force show its properties (as for error records)' {
        $Rendered.SyncSummaryList | Should -Match 'RunId\s+: [0-9a-f-]{36}'
        $Rendered.SyncSummaryList | Should -Match 'FailedUnits\s+: \{/subscriptions/0a1b2c3d-0000-4000-8000-0000000000d4 ActualCost'
        foreach ($w in 80, 120) { @($Rendered["SyncSummary$w"] -split "`r?`n" | Where-Object { $_.Trim() }) | Should -HaveCount 1 }
        $lines = @($Rendered.SyncSummaryTable -split "`r?`n" | Where-Object { $_.Trim() })
        $lines[0] | Should -Match '^Scopes\s+Units\s+Loaded\s+Skipped\s+Failed\s+Rows\s+Size\s+Elapsed\s+Success\s+Table'
        $lines[2] | Should -Match '\s4\s+8\s+6\s+0\s+2\s.*False\s+AzureCos'
    }
}

Describe 'AzFormat' -Tag 'Views' {
    BeforeAll { Import-Module $env:AZBILLING_MODULE_PATH -Force }

    It 'shortens scopes to their id, tail kept, and names the kind of billing scopes' {
        [AzBillingPS.AzFormat]::Scope('/subscriptions/0a1b2c3d-0000-4000-8000-0000000000a1', 18) | Should -Be '…8000-0000000000a1'
        [AzBillingPS.AzFormat]::Scope('/subscriptions/0a1b2c3d-0000-4000-8000-0000000000a1', 40) | Should -Be '0a1b2c3d-0000-4000-8000-0000000000a1'
        [AzBillingPS.AzFormat]::Scope('/providers/microsoft.billing/billingaccounts/8611537', 18) | Should -Be 'ba 8611537'
        [AzBillingPS.AzFormat]::Scope('/providers/microsoft.billing/billingaccounts/1:2_2019-05-31/billingprofiles/ab12-cd34', 18) | Should -Be 'bp ab12-cd34'
        [AzBillingPS.AzFormat]::Scope('/subscriptions/0a1b2c3d-0000-4000-8000-0000000000a1/resourcegroups/rg-web-prod-westeurope', 18) | Should -Be 'rg …rod-westeurope'
        ([AzBillingPS.AzFormat]::Scope('/providers/microsoft.billing/billingaccounts/3fc6bf9d-f9d4-41c5-b983-fa9881edd254:6ee9712a-49fd-4954-8e76-a3cbec00de4a_2019-05-31', 18)).Length | Should -Be 18
    }

    It 'shows a whole month as yyyy-MM and a part as a range' {
        [AzBillingPS.AzFormat]::Period([datetime]'2026-02-01', [datetime]'2026-02-28') | Should -Be '2026-02'
        [AzBillingPS.AzFormat]::Period([datetime]'2026-02-01', [datetime]'2026-02-15') | Should -Be '2026-02-01..15'
        [AzBillingPS.AzFormat]::Period([datetime]'2026-01-05', [datetime]'2026-03-31') | Should -Be '2026-01-05..03-31'
    }
}
