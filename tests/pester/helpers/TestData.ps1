# Dot-sourced by ../TestHelpers.psm1 (which exports the functions): the test-data generator, export layouts, independent CSV sums and counts, reports built without the fixture.

function Get-TestDataGenerator {
    <#
    .SYNOPSIS
        Path of the generator (out/AzBillingPS.TestData/AzBillingPS.TestData.dll); throws if it has not been built.
    #>
    [CmdletBinding()]
    param()
    $dll = Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.TestData/AzBillingPS.TestData.dll'
    if (-not (Test-Path $dll)) { throw "The test-data generator is not built ($dll); run build.ps1 -Task Build." }
    return $dll
}

function New-TestCostFile {
    <#
    .SYNOPSIS
        Writes a realistic cost-details CSV with the generator; returns the FileInfo of each file written.
    .EXAMPLE
        $f = New-TestCostFile -Kind Ea -Rows 500 -Month 2026-03 -Path "$TestDrive/ea.csv"
        New-TestCostFile -Kind Mca -Rows 900 -Month 2026-03 -Path "$TestDrive/mca.csv" -Blobs 3   # mca_1of3.csv ...
    #>
    [CmdletBinding()]
    param(
        [ValidateSet('Ea', 'EaLegacy', 'Mca')] [string] $Kind = 'Ea',
        [long] $Rows = 500,
        [ValidatePattern('^\d{4}-\d{2}$')] [string] $Month = '2026-03',
        [Parameter(Mandatory)] [string] $Path,
        [int] $Seed = 42,
        [int] $Blobs = 1,
        [int] $Subscriptions = 0,
        # Also write {"yyyy-MM-dd":"sum"} computed by the generator (C# decimal).
        [string] $DailySumsPath,
        [switch] $LF,
        [string] $Currency
    )
    $argsList = @((Get-TestDataGenerator), '--kind', $Kind, '--rows', "$Rows", '--month', $Month, '--seed', "$Seed",
        '--out', $Path, '--blobs', "$Blobs")
    if ($Subscriptions -gt 0) { $argsList += '--subscriptions', "$Subscriptions" }
    if ($DailySumsPath) { $argsList += '--daily-sums', $DailySumsPath }
    if ($LF) { $argsList += '--lf' }
    if ($Currency) { $argsList += '--currency', $Currency }
    $out = & (Get-TestDotnet) @argsList 2>&1
    if ($LASTEXITCODE -ne 0) { throw "Test-data generator failed ($LASTEXITCODE): $($out | Out-String)" }
    foreach ($line in $out) {
        if ("$line" -match '^wrote (.+) rows=\d+ bytes=\d+$') { Get-Item -LiteralPath $Matches[1] }
    }
}

function Get-CsvDailySum {
    <#
    .SYNOPSIS
        Per-day sum of a cost column, computed independently of the module: Import-Csv, invariant [decimal] parsing.
    .DESCRIPTION
        Columns are found case-insensitively; when the named column is missing, the EA/MCA aliases are tried
        (cost: CostInBillingCurrency, Cost, costInBillingCurrency, PreTaxCost; date: Date, date, UsageDate).
        Dates may be MM/dd/yyyy, M/d/yyyy or yyyy-MM-dd. Several paths (the blobs of one report) add up together,
        in the order given. Returns an ordered hashtable 'yyyy-MM-dd' -> [decimal], sorted by day.
    .EXAMPLE
        Get-CsvDailySum -Path ./samples/ea-2026-09.csv
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [Alias('FullName')] [string[]] $Path,
        [string] $DateColumn = 'Date',
        [string] $CostColumn = 'CostInBillingCurrency',
        # Skip rows whose cost does not parse (for files with a deliberately bad value) instead of throwing.
        [switch] $SkipInvalid
    )
    begin {
        $sums = @{}
        $inv = [cultureinfo]::InvariantCulture
        $formats = [string[]] @('MM/dd/yyyy', 'M/d/yyyy', 'yyyy-MM-dd', 'yyyy-MM-ddTHH:mm:ss', 'yyyy-MM-ddTHH:mm:ssZ', 'MM/dd/yyyy HH:mm:ss')
        $costAliases = 'CostInBillingCurrency', 'Cost', 'PreTaxCost'
        $dateAliases = 'Date', 'UsageDate'
    }
    process {
        foreach ($p in $Path) {
            $rows = @(Import-Csv -LiteralPath $p -Encoding utf8)
            if ($rows.Count -eq 0) { continue }
            $names = @($rows[0].PSObject.Properties.Name)
            $find = {
                param([string] $wanted, [string[]] $aliases)
                foreach ($n in @($wanted) + $aliases) {
                    $hit = $names | Where-Object { $_ -ieq $n } | Select-Object -First 1
                    if ($hit) { return $hit }
                }
                throw "Column '$wanted' not found in $p (columns: $($names -join ', '))."
            }
            $dc = & $find $DateColumn $dateAliases
            $cc = & $find $CostColumn $costAliases
            $i = 0
            foreach ($row in $rows) {
                $i++
                $ds = $row.$dc
                $cs = $row.$cc
                $day = [datetime]::ParseExact($ds.Trim(), $formats, $inv, [Globalization.DateTimeStyles]::None).ToString('yyyy-MM-dd', $inv)
                $value = [decimal] 0
                if ([string]::IsNullOrWhiteSpace($cs)) { $value = [decimal] 0 }
                elseif (-not [decimal]::TryParse($cs, [Globalization.NumberStyles]::Float, $inv, [ref] $value)) {
                    if ($SkipInvalid) { continue }
                    throw "Row $i of ${p}: cost '$cs' is not a decimal."
                }
                if ($sums.ContainsKey($day)) { $sums[$day] = $sums[$day] + $value } else { $sums[$day] = $value }
            }
        }
    }
    end {
        $ordered = [ordered]@{}
        foreach ($k in ($sums.Keys | Sort-Object)) { $ordered[$k] = $sums[$k] }
        return $ordered
    }
}

function Get-CsvRowCount {
    <#
    .SYNOPSIS
        Data rows in one or more CSV files, counted with Import-Csv (quoted newlines count once).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)] [Alias('FullName')] [string[]] $Path)
    begin { $n = 0 }
    process { foreach ($p in $Path) { $n += @(Import-Csv -LiteralPath $p -Encoding utf8).Count } }
    end { return $n }
}

function Test-Utf8Bom {
    <#
    .SYNOPSIS
        True when the file starts with the UTF-8 byte order mark.
    #>
    param([Parameter(Mandatory, Position = 0)] [string] $Path)
    $fs = [IO.File]::OpenRead($Path)
    try {
        $b = [byte[]]::new(3)
        $n = $fs.Read($b, 0, 3)
        return ($n -eq 3 -and $b[0] -eq 0xEF -and $b[1] -eq 0xBB -and $b[2] -eq 0xBF)
    }
    finally { $fs.Dispose() }
}

function New-TestExportLayout {
    <#
    .SYNOPSIS
        Writes Cost Management export runs (parts and manifest.json, as exports lay them out) under -Root with the
        test-data generator; -Runs is a list of hashtables as tests/AzBillingPS.TestData/ExportLayout.cs describes.
        Returns one object per run: folder, rows, parts (Name, Rows, Bytes).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [object[]] $Runs)
    New-Item -ItemType Directory -Force $Root | Out-Null
    $spec = Join-Path $Root ('.layout-' + [guid]::NewGuid().ToString('N') + '.json')
    @{ root = $Root; runs = @($Runs) } | ConvertTo-Json -Depth 8 | Set-Content -LiteralPath $spec -Encoding utf8NoBOM
    try {
        $out = & (Get-TestDotnet) (Get-TestDataGenerator) --layout $spec 2>&1
        if ($LASTEXITCODE -ne 0) { throw "Test-data generator failed ($LASTEXITCODE): $($out | Out-String)" }
        foreach ($line in $out) { [string]$line | ConvertFrom-Json }
    }
    finally { Remove-Item -LiteralPath $spec -ErrorAction SilentlyContinue }
}

function New-TestExportRun {
    <#
    .SYNOPSIS
        One run for New-TestExportLayout -Runs: a run of export -Export (-Dataset, -Month as yyyy-MM, submitted at
        -Submitted), in the folder Cost Management gives it (exports/<export>/<first>-<last day>/<submitted>/<run id>),
        -Blobs parts of -Rows rows in all. -More adds or overrides keys (legacy, kind, breakManifest, ...).
    #>
    param([string] $Export, [string] $Dataset, [string] $Month, [string] $Submitted, [string] $Format = 'Csv', [int] $Rows = 200, [int] $Blobs = 1, [int] $Seed = 1,
        [hashtable] $More = @{}, [Parameter(Mandatory)] [string] $Scope, [int] $RowGroupSize = 64)
    $runId = [guid]::NewGuid().ToString()
    $m = [datetime]::ParseExact($Month, 'yyyy-MM', [cultureinfo]::InvariantCulture)
    $range = '{0:yyyyMMdd}-{1:yyyyMMdd}' -f $m, $m.AddMonths(1).AddDays(-1)
    $stamp = ([datetime]$Submitted).ToUniversalTime().ToString('yyyyMMddHHmm')
    $spec = @{ folder = "exports/$Export/$range/$stamp/$runId"; exportName = $Export; scope = $Scope; dataset = $Dataset; month = $Month
        submitted = $Submitted; runId = $runId; format = $Format; rows = $Rows; blobs = $Blobs; seed = $Seed; rowGroupSize = $RowGroupSize }
    foreach ($k in $More.Keys) { $spec[$k] = $More[$k] }
    $spec
}

function New-TestCostReport {
    <#
    .SYNOPSIS
        An AzBillingPS.AzCostReport built directly (through its internal constructor) around blob links, for tests
        that need a report without the Cost Management fixture. The module must be imported first.
    .EXAMPLE
        New-TestCostReport -Scope /subscriptions/$sub -Start 2026-03-01 -End 2026-03-31 -Blob @(@{ Link = $l1; Bytes = 123 })
    #>
    [CmdletBinding()]
    param(
        [string] $Scope = '/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f',
        [string] $Metric = 'ActualCost',
        [datetime] $Start = '2026-03-01',
        [datetime] $End = '2026-03-31',
        # Each @{ Link = <SAS URL>; Bytes = <byteCount> }, in manifest order.
        [object[]] $Blob = @(),
        [string] $Status = 'Completed',
        [string] $OperationId = ([guid]::NewGuid().ToString()),
        [switch] $CompressData,
        [Nullable[DateTimeOffset]] $ValidTill
    )
    $reportType = [AzBillingPS.AzCostReport]
    $engine = $reportType.GetProperty('Result', [Reflection.BindingFlags]'NonPublic,Instance').PropertyType.Assembly
    $requestType = $engine.GetType('AzBillingPS.Engine.CostDetails.CostReportRequest', $true)
    $blobType = $engine.GetType('AzBillingPS.Engine.CostDetails.CostReportBlob', $true)
    $resultType = $engine.GetType('AzBillingPS.Engine.CostDetails.CostReportResult', $true)
    $normalize = $engine.GetType('AzBillingPS.Engine.Common.CostScope', $true).GetMethod('Normalize')
    $request = [Activator]::CreateInstance($requestType, @($normalize.Invoke($null, @($Scope)), $Metric, [DateOnly]::FromDateTime($Start), [DateOnly]::FromDateTime($End), $null, $null))
    $blobs = [Array]::CreateInstance($blobType, $Blob.Count)
    for ($i = 0; $i -lt $Blob.Count; $i++) {
        $blobs[$i] = [Activator]::CreateInstance($blobType, @(($i + 1), [Uri] $Blob[$i].Link, [long] $Blob[$i].Bytes))
    }
    $result = [Activator]::CreateInstance($resultType)
    $values = @{
        Request = $request; Status = $Status; OperationId = $OperationId; RequestedAt = [DateTimeOffset]::UtcNow
        CompressData = [bool] $CompressData; BlobCount = $Blob.Count; ByteCount = [long]($Blob | ForEach-Object { [long]$_.Bytes } | Measure-Object -Sum).Sum
        Blobs = $blobs; ValidTill = $ValidTill
    }
    foreach ($k in $values.Keys) { $resultType.GetProperty($k).SetValue($result, $values[$k]) }
    $ctor = $reportType.GetConstructors([Reflection.BindingFlags]'NonPublic,Instance') | Select-Object -First 1
    return $ctor.Invoke(@($result, $null))
}

function Get-TestFileSha256 {
    # Hex SHA-256 of a file (lower case).
    param([Parameter(Mandatory, Position = 0)] [string] $Path)
    return (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
}
