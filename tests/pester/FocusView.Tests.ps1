#Requires -Version 7.4
# The FOCUS view over the cost-details table (-FocusView), on a real SQLite file and a throw-away PostgreSQL cluster:
# - row by row on Microsoft's public EA samples (tests/data/finops-toolkit), against an independent PowerShell reading of
#   the mapping in the FinOps toolkit's docs-mslearn/focus/convert.md (and the README's notes where it is silent);
# - FOCUS requirements on generated EA and MCA pairs of actual and amortized files: mandatory columns, allowed values,
#   non-null columns, periods that end after they start, BilledCost summing to the actual cost and EffectiveCost to
#   the amortized cost of the month.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:NoSqlite = -not (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue)
    $script:Targets = @(@{ Kind = 'SQLite' }, @{ Kind = 'PostgreSQL' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:RepoRoot = Get-TestRepoRoot
    if (-not $env:AZBILLING_MODULE_PATH) { $env:AZBILLING_MODULE_PATH = Join-Path $RepoRoot 'out/AzBillingPS/0.1.0/AzBillingPS.psd1' }
    Import-Module $env:AZBILLING_MODULE_PATH -Force -ErrorAction Stop
    $script:Sqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
    $script:Work = Join-Path ([IO.Path]::GetTempPath()) ('azb-focus-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Force $Work | Out-Null
    $script:Pg = Start-TestPostgres -WarningAction SilentlyContinue
    $script:Inv = [cultureinfo]::InvariantCulture
    $script:Sep = [string][char]0x1f
    $script:NullText = '<null>'

    # ---- The open data, read here with Import-Csv (the module reads its embedded copy with its own code).
    $openData = Join-Path $RepoRoot 'src/AzBillingPS.Engine/Exports/OpenData'
    function K([string] $s) { if ($null -eq $s) { '' } else { $s.Trim().ToLowerInvariant() } }
    $script:Units = @{}; foreach ($r in Import-Csv (Join-Path $openData 'PricingUnits.csv')) { $k = K $r.UnitOfMeasure; if ($k -and -not $Units.ContainsKey($k)) { $Units[$k] = $r } }
    $script:Regions = @{}; foreach ($r in Import-Csv (Join-Path $openData 'Regions.csv')) { $k = K $r.OriginalValue; if ($k -and -not $Regions.ContainsKey($k)) { $Regions[$k] = $r } }
    $script:Types = @{}; foreach ($r in Import-Csv (Join-Path $openData 'ResourceTypes.csv')) { $k = K $r.ResourceType; if (-not $Types.ContainsKey($k)) { $Types[$k] = $r.SingularDisplayName } }
    $script:ServicePairs = @{}; $byType = @{}; $script:ServiceByConsumed = @{}
    foreach ($r in Import-Csv (Join-Path $openData 'Services.csv')) {
        $cs = K $r.ConsumedService; $rt = K $r.ResourceType
        if (-not $ServicePairs.ContainsKey("$cs|$rt")) { $ServicePairs["$cs|$rt"] = $r }
        if ($cs -and $rt) { if (-not $byType.ContainsKey($rt)) { $byType[$rt] = @() }; $byType[$rt] += $r }
        if ($cs -and -not $ServiceByConsumed.ContainsKey($cs)) { $ServiceByConsumed[$cs] = $r }
    }
    $script:ServiceByType = @{}
    foreach ($rt in $byType.Keys) {
        $distinct = @($byType[$rt] | ForEach-Object { "$($_.ServiceName)|$($_.ServiceCategory)|$($_.ServiceSubcategory)" } | Sort-Object -Unique)
        if ($distinct.Count -eq 1) { $ServiceByType[$rt] = $byType[$rt][0] }
    }

    function Get-ResourceType([string] $Id) {
        # The FinOps toolkit's Split-AzureResourceId (src/powershell/Private/Split-AzureResourceId.ps1), type only.
        if (-not $Id) { return $null }
        if (-not $Id.StartsWith('/')) { $Id = "/$Id" }
        $parts = $Id.TrimEnd('/').Split('/')
        while ($parts.Count % 2 -eq 0) { $parts = $parts[0..($parts.Count - 2)] }
        if ($parts.Count -eq 3 -and $parts[1] -eq 'providers') { $leaf = @('Microsoft.Resources') + $parts[1..2] }
        else {
            $joined = (@($parts[0], 'providers', 'Microsoft.Resources') + $parts[1..($parts.Count - 1)]) -join '/'
            $leaf = ($joined -replace '/PROVIDERS/', '/providers/').Split('/providers/')[-1].Split('/')
        }
        $type = @($leaf[0]) + @(for ($i = 1; $i -lt $leaf.Count; $i += 2) { $leaf[$i] })
        ($type -join '/').ToLowerInvariant()
    }

    function V([object] $Row, [string[]] $Names) {
        # A column by any of its names (EA PascalCase, MCA camelCase and the older aliases; PowerShell matches case-insensitively).
        foreach ($n in $Names) { if ($Row.PSObject.Properties[$n]) { return $Row.$n } }
        $null
    }
    function D([string] $s) { if ([string]::IsNullOrWhiteSpace($s)) { $null } else { [decimal]::Parse($s, [Globalization.NumberStyles]::Float, $Inv) } }
    function Day([string] $s) { if ([string]::IsNullOrWhiteSpace($s)) { $null } else { [datetime]::ParseExact($s.Trim(), [string[]]@('MM/dd/yyyy', 'M/d/yyyy', 'yyyy-MM-dd'), $Inv, 'None') } }
    function Stamp($d) { if ($null -eq $d) { $null } else { $d.ToString('yyyy-MM-dd HH:mm:ss', $Inv) } }
    function E([string] $s) { if ([string]::IsNullOrEmpty($s)) { $null } else { $s } }

    function Get-ExpectedFocus([object] $Row, [string] $Metric) {
        # The mapping as Microsoft documents it (convert.md), row by row, plus the README's notes where it is silent.
        $ct = "$(V $Row 'ChargeType')".ToLowerInvariant(); $pm = "$(V $Row 'PricingModel')".ToLowerInvariant()
        $committed = $pm -in 'reservation', 'savingsplan', 'savings plan'
        $unused = $ct -in 'unusedreservation', 'unusedsavingsplan'
        $account = V $Row 'BillingAccountId'; $profile = V $Row 'BillingProfileId'
        $mca = -not [string]::IsNullOrEmpty($profile) -and $profile -cne $account
        $cost = D (V $Row 'CostInBillingCurrency', 'Cost', 'PreTaxCost')
        $rate = if ($mca) { $x = D (V $Row 'ExchangeRatePricingToBilling'); if ($null -eq $x) { 1 } else { $x } } else { [decimal]1 }
        $quantity = D (V $Row 'Quantity', 'ConsumedQuantity', 'UsageQuantity')
        $date = Day (V $Row 'Date', 'UsageDate')
        $unit = $Units[(K (V $Row 'UnitOfMeasure'))]
        $block = if ($unit) { [decimal]::Parse($unit.PricingBlockSize, $Inv) } else { [decimal]1 }
        $location = E "$(V $Row 'ResourceLocation')".Trim()
        $region = if ($location) { $Regions[(K $location)] }
        $id = E (V $Row 'ResourceId', 'InstanceId')
        $type = Get-ResourceType $id
        $consumed = K (V $Row 'ConsumedService')
        $service = $null
        if ($type) { $service = $ServicePairs["$consumed|$type"] }
        if (-not $service -and $type) { $service = $ServiceByType[$type] }
        if (-not $service -and $consumed) { $service = $ServiceByConsumed[$consumed] }
        $benefit = "$(V $Row 'BenefitId')".ToLowerInvariant()
        $category = if ($benefit -like '*/microsoft.capacity/*') { 'Usage' } elseif ($benefit -like '*/microsoft.billingbenefits/*') { 'Spend' }
        $unitPrice = D (V $Row 'UnitPrice')
        $tags = V $Row 'Tags'
        $start = Day (V $Row 'BillingPeriodStartDate'); $end = Day (V $Row 'BillingPeriodEndDate')
        [ordered]@{
            x_SourceType               = $Metric
            ChargePeriodStart          = Stamp $date
            ChargePeriodEnd            = Stamp $date.AddDays(1)
            BillingPeriodStart         = Stamp $(if ($start) { $start } else { [datetime]::new($date.Year, $date.Month, 1) })
            BillingPeriodEnd           = Stamp $(if ($end) { $end.AddDays(1) } else { [datetime]::new($date.Year, $date.Month, 1).AddMonths(1) })
            BilledCost                 = if (($ct -eq 'usage' -and $committed) -or $unused) { [decimal]0 } else { $cost }
            EffectiveCost              = if ($ct -in 'purchase', 'refund' -and $committed) { [decimal]0 } else { $cost }
            BillingAccountId           = if ($mca) { $profile } else { $account }
            BillingAccountName         = if ($mca) { V $Row 'BillingProfileName' } else { V $Row 'BillingAccountName' }
            BillingAccountType         = if ($mca) { 'Billing Profile' } else { 'Billing Account' }
            BillingCurrency            = V $Row 'BillingCurrencyCode', 'BillingCurrency', 'Currency'
            ChargeCategory             = switch ($ct) { 'usage' { 'Usage' } 'purchase' { 'Purchase' } 'credit' { 'Credit' } 'tax' { 'Tax' } 'unusedreservation' { 'Usage' } 'unusedsavingsplan' { 'Usage' } 'refund' { 'Purchase' } default { 'Adjustment' } }
            ChargeClass                = if ($ct -eq 'refund') { 'Correction' }
            ChargeDescription          = E (V $Row 'ProductName', 'Product')
            ChargeFrequency            = switch ("$(V $Row 'Frequency')".ToLowerInvariant()) { 'onetime' { 'One-Time' } 'recurring' { 'Recurring' } 'usagebased' { 'Usage-Based' } default { 'Other' } }
            CommitmentDiscountCategory = $category
            CommitmentDiscountId       = E (V $Row 'BenefitId')
            CommitmentDiscountName     = E (V $Row 'BenefitName')
            CommitmentDiscountStatus   = if ($unused) { 'Unused' } elseif ($committed) { 'Used' }
            CommitmentDiscountType     = if ($category -eq 'Usage') { 'Reservation' } elseif ($category -eq 'Spend') { 'Savings Plan' }
            ConsumedQuantity           = if ($ct -eq 'usage') { $quantity * $block }
            ConsumedUnit               = if ($ct -eq 'usage') { if ($unit) { $unit.DistinctUnits } else { V $Row 'UnitOfMeasure' } }
            ContractedUnitPrice        = $unitPrice * $rate
            ContractedCost             = $unitPrice * $rate * $quantity
            ListUnitPrice              = (D (V $Row 'PayGPrice')) * $rate
            ListCost                   = if ($mca) { D (V $Row 'PaygCostInBillingCurrency') } else { (D (V $Row 'PayGPrice')) * $quantity }
            PricingCategory            = switch ($pm) { 'ondemand' { 'Standard' } 'spot' { 'Dynamic' } 'reservation' { 'Committed' } 'savingsplan' { 'Committed' } default { $null } }
            PricingCurrency            = if ($mca) { V $Row 'PricingCurrency' } else { V $Row 'BillingCurrencyCode', 'BillingCurrency', 'Currency' }
            PricingQuantity            = $quantity
            PricingUnit                = if ($unit) { $unit.DistinctUnits } else { V $Row 'UnitOfMeasure' }
            x_PricingBlockSize         = $block
            ProviderName               = 'Microsoft'
            PublisherName              = if (V $Row 'PublisherName') { V $Row 'PublisherName' } else { 'Microsoft' }
            InvoiceIssuerName          = 'Microsoft'
            RegionName                 = if ($region) { $region.RegionName } else { $location }
            RegionId                   = if ($region) { $region.RegionId } elseif ($location) { $location.Replace(' ', '').ToLowerInvariant() }
            ResourceId                 = $id
            ResourceName               = if (V $Row 'ResourceName') { V $Row 'ResourceName' } elseif ($id) { E $id.Split('/')[-1] }
            x_ResourceType             = $type
            ResourceType               = if ($type) { if ($Types.ContainsKey($type)) { $Types[$type] } else { $type } }
            ServiceName                = if ($service) { $service.ServiceName } elseif (V $Row 'MeterCategory') { V $Row 'MeterCategory' } else { 'Other' }
            ServiceCategory            = if ($service) { $service.ServiceCategory } else { 'Other' }
            ServiceSubcategory         = if ($service) { $service.ServiceSubcategory } else { 'Other (Other)' }
            SkuId                      = E (V $Row 'ProductId')
            SkuMeter                   = E (V $Row 'MeterName')
            SubAccountId               = E "$(V $Row 'SubscriptionId', 'SubscriptionGuid')".ToLowerInvariant()
            SubAccountName             = E (V $Row 'SubscriptionName')
            Tags                       = if ([string]::IsNullOrWhiteSpace($tags)) { $null } elseif ($tags.Trim().StartsWith('{')) { $tags } else { '{' + $tags + '}' }
        }
    }

    $script:Decimals = 'BilledCost', 'EffectiveCost', 'ConsumedQuantity', 'ContractedUnitPrice', 'ContractedCost', 'ListUnitPrice', 'ListCost', 'PricingQuantity', 'x_PricingBlockSize'
    $script:Stamps = 'ChargePeriodStart', 'ChargePeriodEnd', 'BillingPeriodStart', 'BillingPeriodEnd'

    function Get-FocusRows([string] $Kind, [object] $Target, [string[]] $Columns, [string] $View = 'AzureCostDetails_Focus', [string] $Where = '') {
        # The view's rows with each column as text: decimals in full, timestamps as yyyy-MM-dd HH:mm:ss UTC, nulls as <null>.
        if ($Kind -eq 'SQLite') {
            $list = foreach ($c in $Columns) { if ($c -in $Decimals) { "CASE WHEN ""$c"" IS NULL THEN NULL ELSE printf('%.17g', ""$c"") END" } elseif ($c -in $Stamps) { "substr(""$c"", 1, 19)" } else { """$c""" } }
            $sql = "select $($list -join ', ') from ""$View"" $Where"
            $out = & $Sqlite3 -batch -bail -nullvalue $NullText -separator $Sep $Target $sql 2>&1
            if ($LASTEXITCODE -ne 0) { throw "sqlite3 failed: $($out | Out-String)" }
        }
        else {
            $list = foreach ($c in $Columns) { if ($c -in $Decimals) { """$c""::text" } elseif ($c -in $Stamps) { "to_char(""$c"" at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')" } else { """$c""::text" } }
            $sql = "select $($list -join ', ') from ""$View"" $Where"
            $out = & $Target.PsqlPath -X -q -h 127.0.0.1 -p $Target.Port -U postgres -d postgres -At -F $Sep -P "null=$NullText" -v ON_ERROR_STOP=1 -c $sql 2>&1
            if ($LASTEXITCODE -ne 0) { throw "psql failed: $($out | Out-String)" }
        }
        foreach ($line in $out) {
            $values = "$line".Split($Sep)
            $o = [ordered]@{}
            for ($i = 0; $i -lt $Columns.Count; $i++) { $o[$Columns[$i]] = if ($values[$i] -eq $NullText) { $null } else { $values[$i] } }
            [pscustomobject]$o
        }
    }

    function ConvertTo-CanonicalJson($Text) {
        # Tags compared as JSON objects: PostgreSQL's jsonb keeps its own key order and spacing.
        if ($null -eq $Text -or "$Text" -eq '') { return $Text }
        try { $h = "$Text" | ConvertFrom-Json -AsHashtable -ErrorAction Stop } catch { return "$Text" }
        if ($h -isnot [System.Collections.IDictionary]) { return "$Text" }
        $sorted = [ordered]@{}
        foreach ($k in $h.Keys | Sort-Object -CaseSensitive) { $sorted[$k] = $h[$k] }
        return ($sorted | ConvertTo-Json -Compress -Depth 10)
    }

    function Test-Same([string] $Column, $Actual, $Expected, [string] $Kind) {
        # Decimals: exact on PostgreSQL (numeric), to 12 significant digits on SQLite (REAL, the documented exception).
        if ($null -eq $Expected -or $null -eq $Actual) { return ($null -eq $Expected) -and ($null -eq $Actual) }
        if ($Column -eq 'Tags') { return (ConvertTo-CanonicalJson $Actual) -ceq (ConvertTo-CanonicalJson $Expected) }
        if ($Column -in $Decimals) {
            if ($Kind -eq 'PostgreSQL') { return ([decimal]::Parse($Actual, [Globalization.NumberStyles]::Float, $Inv) -eq [decimal]$Expected) }
            $a = [double]::Parse($Actual, $Inv); $e = [double]$Expected
            return [Math]::Abs($a - $e) -le [Math]::Max([Math]::Abs($e), 1e-300) * 1e-12
        }
        return "$Actual" -ceq "$Expected"
    }

    function Get-ExpectedFocusRows([object[]] $Amortized, [object[]] $Actual) {
        # What the mapping makes of a month: every amortized row, and the actual rows that buy or refund a commitment.
        @($Amortized | ForEach-Object { [pscustomobject](Get-ExpectedFocus $_ 'AmortizedCost') }) +
            @($Actual | Where-Object { (V $_ 'ChargeType') -in 'Purchase', 'Refund' -and (V $_ 'PricingModel') -in 'Reservation', 'SavingsPlan', 'Savings Plan' } | ForEach-Object { [pscustomobject](Get-ExpectedFocus $_ 'ActualCost') })
    }

    function Compare-FocusRows([object[]] $Expected, [object[]] $Rows, [string[]] $Columns, [string] $Kind) {
        # Every column of every row of the view against the mapping's; the differences, one line each (none when equal).
        # Rows are paired by what tells them apart (identical source rows give identical FOCUS rows).
        function Key($r) {
            # Numbers to 6 places in one form (SQLite gives them as REAL text, the mapping as the file's digits).
            $q = if ($null -eq $r.PricingQuantity) { '' } else { [Math]::Round([decimal]::Parse("$($r.PricingQuantity)", [Globalization.NumberStyles]::Float, $Inv), 6).ToString('0.######', $Inv) }
            $b = if ($null -eq $r.BilledCost) { '' } else { [Math]::Round([decimal]::Parse("$($r.BilledCost)", [Globalization.NumberStyles]::Float, $Inv), 6).ToString('0.######', $Inv) }
            '{0}|{1}|{2}|{3}|{4}|{5}|{6}|{7}' -f $r.x_SourceType, $r.ChargePeriodStart, "$($r.ResourceId)".ToLowerInvariant(), $r.SkuMeter, $q, (ConvertTo-CanonicalJson $r.Tags), $r.ChargeCategory, $b
        }
        $exp = @($Expected | Sort-Object -Property @{ Expression = { Key $_ } })
        $act = @($Rows | Sort-Object -Property @{ Expression = { Key $_ } })
        if ($act.Count -ne $exp.Count) { return "the view has $($act.Count) rows, the mapping $($exp.Count)" }
        for ($i = 0; $i -lt $exp.Count; $i++) {
            foreach ($c in $Columns) {
                if (-not (Test-Same $c $act[$i].$c $exp[$i].$c $Kind)) { "row $i ($($exp[$i].ChargePeriodStart) $($exp[$i].SkuMeter)) ${c}: view '$($act[$i].$c)', mapping '$($exp[$i].$c)'" }
            }
        }
    }

    function ConvertTo-Scaled([string] $Text) {
        # An exact decimal as text (exponents allowed) as an integer count of 1e-40: sums of these are exact.
        $d = $Text.Trim()
        if ($d -match '[eE]') { $d = [decimal]::Parse($d, [Globalization.NumberStyles]::Float, $Inv).ToString($Inv) }
        $negative = $d.StartsWith('-'); $d = $d.TrimStart('-', '+')
        $parts = $d.Split('.')
        $fraction = if ($parts.Count -gt 1) { $parts[1] } else { '' }
        $n = [System.Numerics.BigInteger]::Parse($parts[0] + $fraction.PadRight(40, '0'), $Inv)
        if ($negative) { -$n } else { $n }
    }

    function Get-ExactSum([string] $Path) {
        # The cost column of a cost-details file summed exactly (no rounding at 28 digits as [decimal] sums do).
        $sum = [System.Numerics.BigInteger]::Zero
        foreach ($r in Import-Csv -LiteralPath $Path -Encoding utf8) {
            $v = V $r 'CostInBillingCurrency', 'Cost', 'PreTaxCost'
            if (-not [string]::IsNullOrWhiteSpace($v)) { $sum += ConvertTo-Scaled $v }
        }
        $sum
    }

    function New-Target([string] $Kind, [string] $Name) {
        # Import-AzCostToSql target arguments and what Get-FocusRows reads: a fresh SQLite file, or a fresh PostgreSQL schema.
        if ($Kind -eq 'SQLite') {
            $db = Join-Path $Work "$Name.sqlite"
            @{ Args = @{ DatabasePath = $db }; Read = $db }
        }
        else {
            Invoke-TestPsql $Pg "create schema ""$Name""" | Out-Null
            @{ Args = @{ ConnectionString = $Pg.ConnectionString; Schema = $Name }; Read = $Pg; Schema = $Name }
        }
    }
}

AfterAll {
    Stop-TestPostgres $Pg
    Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

Describe 'FOCUS view on the public EA samples, row by row (<Kind>)' -Tag 'Focus' -ForEach $Targets {
    BeforeAll {
        $script:Skip = if ($Kind -eq 'SQLite' -and -not $Sqlite3) { 'sqlite3 is not installed' } elseif ($Kind -eq 'PostgreSQL' -and -not $Pg) { 'no throw-away PostgreSQL cluster could be started' }
        if ($Skip) { return }
        $data = Join-Path $RepoRoot 'tests/data/finops-toolkit'
        $script:Scope = '/providers/Microsoft.Billing/billingAccounts/8611537'
        $script:Target = New-Target $Kind 'eaSamples'
        $common = @{ Scope = $Scope; From = '2023-09-01'; To = '2023-09-30' } + $Target.Args
        $script:Amortized = @(Import-Csv (Join-Path $data 'EA_AmortizedCost_Small.csv'))
        $script:Actual = @(Import-Csv (Join-Path $data 'EA_ActualCost_Small.csv'))
        $null = Import-AzCostToSql -Path (Join-Path $data 'EA_AmortizedCost_Small.csv') -Metric AmortizedCost @common
        $null = Import-AzCostToSql -Path (Join-Path $data 'EA_ActualCost_Small.csv') -Metric ActualCost @common -FocusView -WarningVariable fvWarnings -ErrorVariable fvErrors
        $script:FvWarnings = $fvWarnings; $script:FvErrors = $fvErrors
        $script:View = if ($Kind -eq 'SQLite') { 'AzureCostDetails_Focus' } else { 'eaSamples"."AzureCostDetails_Focus' }
        $script:Columns = @((Get-ExpectedFocus $Amortized[0] 'AmortizedCost').Keys)
        $script:Rows = @(Get-FocusRows $Kind $Target.Read $Columns -View $View)
    }

    It 'holds every amortized row and the actual reservation purchase, and nothing else' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        $FvErrors | Should -BeNullOrEmpty
        $FvWarnings | Should -BeNullOrEmpty
        $purchases = @($Actual | Where-Object { $_.ChargeType -in 'Purchase', 'Refund' -and $_.PricingModel -in 'Reservation', 'SavingsPlan' })
        $purchases.Count | Should -Be 1
        $Rows.Count | Should -Be ($Amortized.Count + 1)
        @($Rows | Where-Object x_SourceType -eq 'ActualCost').Count | Should -Be 1
    }

    It 'derives every FOCUS column of every row as the documented mapping does' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        $act = @(Compare-FocusRows (Get-ExpectedFocusRows $Amortized $Actual) $Rows $Columns $Kind)
        $act | Should -BeNullOrEmpty
    }

    It 'gives the documented values for the rows the mapping singles out' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        # The reservation purchase (actual cost): billed in full, no effective cost, a commitment of the reservation kind.
        $purchase = $Rows | Where-Object x_SourceType -eq 'ActualCost'
        $purchase.ChargeCategory | Should -Be 'Purchase'
        [decimal]$purchase.BilledCost | Should -Be 3.25
        [decimal]$purchase.EffectiveCost | Should -Be 0
        $purchase.CommitmentDiscountType | Should -Be 'Reservation'
        $purchase.CommitmentDiscountCategory | Should -Be 'Usage'
        $purchase.ServiceName | Should -Be 'Azure Reservations'
        $purchase.x_ResourceType | Should -Be 'microsoft.capacity/reservationorders'
        # Savings-plan usage (amortized): nothing billed, its amortized cost effective.
        $sp = $Rows | Where-Object CommitmentDiscountType -eq 'Savings Plan'
        [decimal]$sp.BilledCost | Should -Be 0
        [double]$sp.EffectiveCost | Should -BeGreaterThan 0
        $sp.CommitmentDiscountStatus | Should -Be 'Used'
        $sp.PricingCategory | Should -Be 'Committed'
        # A meter priced per 10,000 (UnitOfMeasure 10K): units, block size 10000, consumed quantity in units.
        $tenK = @($Rows | Where-Object { $_.ResourceId -like '*dbstoragewp6hglwvvrad2' })[0]
        $tenK.PricingUnit | Should -Be 'Units'
        [decimal]$tenK.x_PricingBlockSize | Should -Be 10000
        [double]$tenK.ConsumedQuantity | Should -Be 4
        $tenK.RegionName | Should -Be 'East US 2'
        $tenK.RegionId | Should -Be 'eastus2'
        $tenK.ServiceName | Should -Be 'Storage Accounts'
        # EA tags arrive without braces; the view's Tags are JSON objects.
        foreach ($r in $Rows | Where-Object Tags) { { $r.Tags | ConvertFrom-Json -ErrorAction Stop } | Should -Not -Throw -Because $r.Tags }
    }

    It 'is made again the same way, idempotently' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        $targetArgs = $Target.Args
        $null = Import-AzCostToSql -Path (Join-Path $RepoRoot 'tests/data/finops-toolkit/EA_ActualCost_Small.csv') -Metric ActualCost -Scope $Scope -From 2023-09-01 -To 2023-09-30 @targetArgs -FocusView -ErrorAction Stop
        $again = @(Get-FocusRows $Kind $Target.Read $Columns -View $View)
        ($again | ConvertTo-Json -Compress) | Should -Be ($Rows | ConvertTo-Json -Compress)
    }
}

Describe 'FOCUS requirements on generated EA and MCA months (<Kind>)' -Tag 'Focus' -ForEach $Targets {
    BeforeAll {
        $script:Skip = if ($Kind -eq 'SQLite' -and -not $Sqlite3) { 'sqlite3 is not installed' } elseif ($Kind -eq 'PostgreSQL' -and -not $Pg) { 'no throw-away PostgreSQL cluster could be started' }
        if ($Skip) { return }
        $script:Target = New-Target $Kind 'generated'
        $script:View = if ($Kind -eq 'SQLite') { 'AzureCostDetails_Focus' } else { 'generated"."AzureCostDetails_Focus' }
        $script:Pairs = @()
        foreach ($p in @(@{ Kind = 'Ea'; Seed = 71; Rows = 1500 }, @{ Kind = 'Mca'; Seed = 72; Rows = 1500 })) {
            $dir = Join-Path $Work "$Kind-$($p.Kind)"
            New-Item -ItemType Directory -Force $dir | Out-Null
            $actual = Join-Path $dir 'actual.csv'; $amortized = Join-Path $dir 'amortized.csv'
            $out = & (Get-TestDotnet) (Get-TestDataGenerator) --kind $p.Kind --rows $p.Rows --month 2026-10 --seed $p.Seed --out $actual --amortized $amortized 2>&1
            if ($LASTEXITCODE -ne 0) { throw "generator: $out" }
            $scope = "/providers/microsoft.billing/billingaccounts/$($p.Kind.ToLowerInvariant())"   # as the module writes scopes: lower case
            $common = @{ Scope = $scope; From = '2026-10-01'; To = '2026-10-31' } + $Target.Args
            $null = Import-AzCostToSql -Path $actual -Metric ActualCost @common -ErrorAction Stop
            $null = Import-AzCostToSql -Path $amortized -Metric AmortizedCost @common -ErrorAction Stop
            $script:Pairs += [pscustomobject]@{ Kind = $p.Kind; Scope = $scope; Actual = $actual; Amortized = $amortized }
        }
        $targetArgs = $Target.Args
        $null = Import-AzCostToSql -Path $Pairs[0].Actual -Metric ActualCost -Scope $Pairs[0].Scope -From 2026-10-01 -To 2026-10-31 @targetArgs -FocusView -ErrorAction Stop
        $script:All = @(Get-FocusRows $Kind $Target.Read @(
                'x_SourceType', '_Scope', 'BillingAccountType', 'ChargeCategory', 'ChargeClass', 'ChargeFrequency', 'PricingCategory', 'CommitmentDiscountStatus', 'CommitmentDiscountCategory',
                'CommitmentDiscountType', 'CommitmentDiscountId', 'ServiceCategory', 'ServiceName', 'ProviderName', 'PublisherName', 'InvoiceIssuerName', 'BillingCurrency', 'BillingAccountId',
                'PricingUnit', 'SubAccountType', 'ChargePeriodStart', 'ChargePeriodEnd', 'BillingPeriodStart', 'BillingPeriodEnd', 'BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost', 'PricingQuantity') -View $View)
    }

    It 'derives every FOCUS column of every generated MCA row as the documented mapping does' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        $mca = $Pairs | Where-Object Kind -eq 'Mca'
        $amortized = @(Import-Csv $mca.Amortized); $actual = @(Import-Csv $mca.Actual)
        $columns = @((Get-ExpectedFocus $amortized[0] 'AmortizedCost').Keys)
        $rows = @(Get-FocusRows $Kind $Target.Read $columns -View $View -Where "where ""_Scope"" = '$($mca.Scope)'")
        $expected = @(Get-ExpectedFocusRows $amortized $actual)
        # The generated month has what the mapping singles out: MCA billing profiles, commitment purchases and refunds.
        @($expected | Where-Object x_SourceType -eq 'ActualCost').Count | Should -BeGreaterThan 0
        @($expected | Where-Object BillingAccountType -eq 'Billing Profile').Count | Should -Be $expected.Count
        @(Compare-FocusRows $expected $rows $columns $Kind) | Should -BeNullOrEmpty
    }

    It 'has every mandatory FOCUS 1.0 column' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        $mandatory = 'BilledCost', 'BillingAccountId', 'BillingAccountName', 'BillingCurrency', 'BillingPeriodEnd', 'BillingPeriodStart', 'ChargeCategory', 'ChargeClass',
            'ChargeDescription', 'ChargeFrequency', 'ChargePeriodEnd', 'ChargePeriodStart', 'ContractedCost', 'EffectiveCost', 'InvoiceIssuerName', 'ListCost', 'PricingQuantity',
            'PricingUnit', 'ProviderName', 'PublisherName', 'ServiceCategory', 'ServiceName'
        $columns = if ($Kind -eq 'SQLite') { @(& $Sqlite3 $Target.Read "select name from pragma_table_info('AzureCostDetails_Focus')") }
        else { @(Invoke-TestPsql $Pg "select column_name from information_schema.columns where table_schema = 'generated' and table_name = 'AzureCostDetails_Focus'") }
        foreach ($m in $mandatory) { $columns | Should -Contain $m }
        $All.Count | Should -BeGreaterThan 2500
    }

    It 'uses only the values FOCUS allows' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        $allowed = @{
            ChargeCategory             = 'Usage', 'Purchase', 'Credit', 'Adjustment', 'Tax'
            ChargeClass                = @($null, 'Correction')
            ChargeFrequency            = 'One-Time', 'Recurring', 'Usage-Based'
            PricingCategory            = @($null, 'Standard', 'Dynamic', 'Committed', 'Other')
            CommitmentDiscountStatus   = @($null, 'Used', 'Unused')
            CommitmentDiscountCategory = @($null, 'Spend', 'Usage')
            CommitmentDiscountType     = @($null, 'Reservation', 'Savings Plan')
            ServiceCategory            = 'AI and Machine Learning', 'Analytics', 'Business Applications', 'Compute', 'Databases', 'Developer Tools', 'Multicloud', 'Identity',
                'Integration', 'Internet of Things', 'Management and Governance', 'Media', 'Migration', 'Mobile', 'Networking', 'Security', 'Storage', 'Web', 'Other'
            BillingAccountType         = 'Billing Account', 'Billing Profile'
            ProviderName               = @('Microsoft')
            SubAccountType             = @('Subscription')
        }
        foreach ($c in $allowed.Keys) {
            $bad = @($All | Where-Object { $_.$c -cnotin $allowed[$c] } | ForEach-Object { $_.$c } | Sort-Object -Unique)
            $bad | Should -BeNullOrEmpty -Because "$c takes only FOCUS values"
        }
        # Both kinds of account, both kinds of commitment, refunds as corrections and unused commitments are in the data.
        ($All.BillingAccountType | Sort-Object -Unique) | Should -Be @('Billing Account', 'Billing Profile')
        @($All | Where-Object ChargeClass -eq 'Correction').Count | Should -BeGreaterThan 0
        @($All | Where-Object CommitmentDiscountStatus -eq 'Unused').Count | Should -BeGreaterThan 0
        @($All | Where-Object CommitmentDiscountType -eq 'Savings Plan').Count | Should -BeGreaterThan 0
    }

    It 'leaves no mandatory value empty, and every charge and billing period ends after it starts' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        foreach ($c in 'BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost', 'PricingQuantity', 'ChargeCategory', 'ChargeFrequency', 'ChargePeriodStart', 'ChargePeriodEnd',
            'BillingPeriodStart', 'BillingPeriodEnd', 'BillingCurrency', 'BillingAccountId', 'ServiceCategory', 'ServiceName', 'ProviderName', 'PublisherName', 'InvoiceIssuerName', 'PricingUnit') {
            @($All | Where-Object { $null -eq $_.$c }).Count | Should -Be 0 -Because "$c is never null"
        }
        @($All | Where-Object { [datetime]$_.ChargePeriodEnd -le [datetime]$_.ChargePeriodStart }).Count | Should -Be 0
        @($All | Where-Object { ([datetime]$_.ChargePeriodEnd - [datetime]$_.ChargePeriodStart).TotalDays -ne 1 }).Count | Should -Be 0
        @($All | Where-Object { [datetime]$_.BillingPeriodEnd -le [datetime]$_.BillingPeriodStart }).Count | Should -Be 0
        @($All | Where-Object { [datetime]$_.ChargePeriodStart -lt [datetime]$_.BillingPeriodStart -or [datetime]$_.ChargePeriodEnd -gt [datetime]$_.BillingPeriodEnd }).Count | Should -Be 0
        @($All | Where-Object { ($null -eq $_.CommitmentDiscountId) -ne ($null -eq $_.CommitmentDiscountStatus) }).Count | Should -Be 0
    }

    It 'sums BilledCost to the actual cost and EffectiveCost to the amortized cost of the month, per billing account' {
        if ($Skip) { Set-ItResult -Skipped -Because $Skip; return }
        foreach ($p in $Pairs) {
            $actual = Get-ExactSum $p.Actual
            $amortized = Get-ExactSum $p.Amortized
            $rows = @($All | Where-Object _Scope -eq $p.Scope)
            $rows.Count | Should -BeGreaterThan 1000
            if ($Kind -eq 'PostgreSQL') {
                # numeric sums are exact, and so are these.
                $sums = Invoke-TestPsql $Pg "select sum(""BilledCost"")::text, sum(""EffectiveCost"")::text from generated.""AzureCostDetails_Focus"" where ""_Scope"" = '$($p.Scope)'" -Split
                (ConvertTo-Scaled $sums[0]) | Should -Be $actual -Because "$($p.Kind) BilledCost is exactly the actual cost"
                (ConvertTo-Scaled $sums[1]) | Should -Be $amortized -Because "$($p.Kind) EffectiveCost is exactly the amortized cost"
            }
            else {
                # SQLite keeps money as REAL (the documented exception): equal to 9 significant digits.
                $billed = ($rows | ForEach-Object { [double]$_.BilledCost } | Measure-Object -Sum).Sum
                $effective = ($rows | ForEach-Object { [double]$_.EffectiveCost } | Measure-Object -Sum).Sum
                $a = [double]$actual / 1e40; $m = [double]$amortized / 1e40
                [Math]::Abs($billed - $a) | Should -BeLessThan ([Math]::Abs($a) * 1e-9 + 1e-6)
                [Math]::Abs($effective - $m) | Should -BeLessThan ([Math]::Abs($m) * 1e-9 + 1e-6)
            }
            # The two differ: amortization moves the commitment purchases onto the usage they cover.
            $actual | Should -Not -Be $amortized
        }
    }
}

Describe 'FOCUS view: where it cannot be made' -Tag 'Focus' {
    It 'says so and changes nothing when the cost table does not exist yet, or with -WhatIf' -Skip:$NoSqlite {
        $db = Join-Path $Work 'nothing.sqlite'
        $root = Join-Path $Work 'focusonly'
        $runId = [guid]::NewGuid().ToString()
        $null = New-TestExportLayout -Root $root -Runs @(@{ folder = "exports/f/20261001-20261031/202610050600/$runId"; exportName = 'f'; scope = '/subscriptions/7a0c1f52-3b1e-4d6f-9a2b-4c5d6e7f8091'
                dataset = 'FocusCost'; month = '2026-10'; submitted = '2026-10-05T06:00:00Z'; runId = $runId; format = 'Csv'; rows = 20; blobs = 1; seed = 3 })
        $null = Import-AzCostExport -Path $root -DatabasePath $db -FocusView -WarningVariable w -WarningAction SilentlyContinue
        "$w" | Should -Match 'AzureCostDetails does not exist yet'
        (& $Sqlite3 $db "select count(*) from AzureCostFocus") | Should -Be '20'
        @(& $Sqlite3 $db "select name from sqlite_master where name like 'AzureCostDetails%' or name like 'AzBillingPS_%'") | Should -BeNullOrEmpty

        $csv = (New-TestCostFile -Kind Ea -Rows 30 -Month 2026-10 -Path (Join-Path $Work 'whatif.csv') -Seed 4)[0].FullName
        $null = Import-AzCostToSql -Path $csv -Scope '/subscriptions/7a0c1f52-3b1e-4d6f-9a2b-4c5d6e7f8091' -DatabasePath $db
        $null = Import-AzCostToSql -Path $csv -Scope '/subscriptions/7a0c1f52-3b1e-4d6f-9a2b-4c5d6e7f8091' -DatabasePath $db -FocusView -WhatIf
        @(& $Sqlite3 $db "select name from sqlite_master where name like 'AzureCostDetails_Focus' or name like 'AzBillingPS_%'") | Should -BeNullOrEmpty
    }

    It 'does not replace a table that has the view''s name; the load itself stands' -Skip:$NoSqlite {
        $db = Join-Path $Work 'taken.sqlite'
        $csv = (New-TestCostFile -Kind Ea -Rows 40 -Month 2026-10 -Path (Join-Path $Work 'taken.csv') -Seed 5)[0].FullName
        & $Sqlite3 $db 'create table AzureCostDetails_Focus (mine text); insert into AzureCostDetails_Focus values (''keep'')'
        $r = Import-AzCostToSql -Path $csv -Scope '/subscriptions/7a0c1f52-3b1e-4d6f-9a2b-4c5d6e7f8091' -DatabasePath $db -FocusView -ErrorVariable errs -ErrorAction SilentlyContinue
        $r.RowsInserted | Should -Be 40
        $errs.Count | Should -Be 1
        "$($errs[0])" | Should -Match 'is not a view; the FOCUS view was not made'
        & $Sqlite3 $db 'select mine from AzureCostDetails_Focus' | Should -Be 'keep'
    }

    It 'is made again over the text columns when a load changes the GUID id columns of a table an earlier version made (PostgreSQL)' {
        if (-not $Pg) { Set-ItResult -Skipped -Because 'no throw-away PostgreSQL cluster could be started'; return }
        # PostgreSQL refuses to change the type of a column a view reads: the load drops the view and makes it again, in its transaction.
        $sub = '/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f'
        Invoke-TestPsql $Pg ('create schema oldids; CREATE TABLE oldids."AzureCostDetails" ("Date" date, "SubscriptionId" uuid, "MeterCategory" text, "CostInBillingCurrency" numeric, "BillingCurrencyCode" text, ' +
            '"_Scope" text NOT NULL, "_Metric" text NOT NULL, "_PeriodStart" date, "_PeriodEnd" date, "_SourceFile" text, "_ImportId" uuid, "_ImportedAt" timestamptz); ' +
            "INSERT INTO oldids.""AzureCostDetails"" VALUES ('2026-09-01', '5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f', 'Storage', 1, 'USD', '$sub', 'AmortizedCost', '2026-09-01', '2026-09-30', 'old.csv', '00000000-0000-0000-0000-000000000001', now())") | Out-Null
        $typeOf = "select data_type from information_schema.columns where table_schema = 'oldids' and table_name = 'AzureCostDetails' and column_name = 'SubscriptionId'"
        # The view made over the old table (by an export load, which does not touch that table).
        $root = Join-Path $Work 'oldids-exports'
        $null = New-TestExportLayout -Root $root -Runs @(New-TestExportRun f FocusCost 2026-09 '2026-10-02T06:00:00Z' Csv 10 1 6 -Scope $sub)
        $null = Import-AzCostExport -Path $root -ConnectionString $Pg.ConnectionString -Schema oldids -FocusView
        (Invoke-TestPsql $Pg $typeOf) | Should -Be 'uuid'
        (Invoke-TestPsql $Pg 'select count(*) from oldids."AzureCostDetails_Focus"') | Should -Be '1'

        $csv = (New-TestCostFile -Kind Ea -Rows 25 -Month 2026-10 -Path (Join-Path $Work 'oldids.csv') -Seed 8)[0].FullName
        $r = Import-AzCostToSql -Path $csv -Scope $sub -Metric AmortizedCost -ConnectionString $Pg.ConnectionString -Schema oldids -WarningVariable w -WarningAction SilentlyContinue
        $r.RowsInserted | Should -Be 25
        "$w" | Should -Match 'Changed SubscriptionId of oldids\.\w+ from GUID to text'
        (Invoke-TestPsql $Pg $typeOf) | Should -Be 'text'
        (Invoke-TestPsql $Pg 'select count(*) from oldids."AzureCostDetails_Focus"') | Should -Be '26'
        (Invoke-TestPsql $Pg "select ""SubAccountId"" from oldids.""AzureCostDetails_Focus"" where ""ChargePeriodStart"" < '2026-10-01'") | Should -Be '5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f'
    }
}
