#Requires -Version 7.4
<#
.SYNOPSIS
    Import benchmarks: our Import-AzCostToSql against the practical ceilings (psql \copy, sqlite3 .import).
.DESCRIPTION
    Generates EA-shaped cost-details files (the large one, 1,000,000 rows by default, and a 100,000-row one) under
    out/bench/ with the test-data generator, then, in one run:
      PostgreSQL  a throw-away cluster (tests/pester/TestHelpers.psm1 Start-TestPostgres); our import's rows per
                  second against psql '\copy' of the same file into a table of text columns.
      SQLite      our import into a fresh database file against the sqlite3 shell's '.import' of the same file
                  into an untyped table.
    Each of our imports runs in a fresh child pwsh; its peak resident set (VmHWM, polled from /proc) is the
    "peak working set of the whole PowerShell process". Targets: at least 0.7 of the baseline's rate, and under
    300 MB peak for both file sizes (memory must not grow with the file).
      Blob        Azurite (tests/pester/TestHelpers.psm1 Start-TestAzurite) serves a 1 GB block blob (and the same
                  size with a stored Content-MD5, which Save-AzCostBlob verifies); Save-AzCostBlob in a fresh child
                  pwsh against 'curl -s -o file <link>' of the same SAS link, alternating, median of -BlobRuns each.
                  Targets: at least 0.9 of curl's MB/s, under 200 MB peak working set.
    Writes docs/benchmarks.md (overwritten) and out/bench/results.json.
.EXAMPLE
    dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench
.EXAMPLE
    ./bench/Invoke-Benchmarks.ps1 -ModulePath ./out/AzBillingPS/0.1.0/AzBillingPS.psd1 -Rows 200000 -SmallRows 20000
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # Rows in the large file (the issue asks for 1,000,000).
    [int] $Rows = 1000000,
    # Rows in the small file shown next to the large one for the memory comparison.
    [int] $SmallRows = 100000,
    [int] $Seed = 42,
    [string] $OutDir,
    [string] $ReportPath,
    [switch] $SkipPostgres,
    [switch] $SkipSqlite,
    # Skip the blob download benchmark (Azurite against curl).
    [switch] $SkipBlob,
    # Size of the benchmark blob in MB (the issue asks for 1 GB).
    [int] $BlobMB = 1024,
    # Runs of each download (ours and curl, alternating); the median of each is reported.
    [int] $BlobRuns = 5,
    # Seconds one of our imports may take before it is stopped.
    [int] $TimeoutSeconds = 1800
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$Root = Split-Path $PSScriptRoot -Parent
if (-not $OutDir) { $OutDir = Join-Path $Root 'out/bench' }
if (-not $ReportPath) { $ReportPath = Join-Path $Root 'docs/benchmarks.md' }
$env:AZBILLING_REPO_ROOT = $Root
$env:AZBILLING_MODULE_PATH = (Resolve-Path $ModulePath).Path
Import-Module (Join-Path $Root 'tests/pester/TestHelpers.psm1') -Force
New-Item -ItemType Directory -Force $OutDir | Out-Null

$Scope = '/subscriptions/00000000-0000-0000-0000-000000000000'
$Month = '2026-03'
$RateTarget = 0.7
$MemoryLimit = 300MB
$notes = [System.Collections.Generic.List[string]]::new()
$results = [System.Collections.Generic.List[object]]::new()
$blobResults = [System.Collections.Generic.List[object]]::new()
$BlobRateTarget = 0.9
$BlobMemoryLimit = 200MB

function Format-Rate([object] $v) { if ($null -eq $v) { 'n/a' } else { '{0:N0}' -f [double]$v } }
function Format-MB([object] $v) { if ($null -eq $v) { 'n/a' } else { '{0:N0} MB' -f ([double]$v / 1MB) } }
function Format-Sec([object] $v) { if ($null -eq $v) { 'n/a' } else { '{0:N1} s' -f [double]$v } }
function Format-Ratio([object] $v) { if ($null -eq $v) { 'n/a' } else { '{0:N2}' -f [double]$v } }

function Invoke-OurImport {
    # One Import-AzCostToSql in a fresh child pwsh; returns rows, seconds (the cmdlet's own Elapsed), wall, peak RSS.
    param([string] $File, [string] $TargetArgs, [string] $Label)
    $script = @"
`$ErrorActionPreference = 'Stop'
`$ConfirmPreference = 'None'
`$r = Import-AzCostToSql -Path '$File' -Scope '$Scope' -Metric ActualCost $TargetArgs
`$r = @(`$r)
`$rows = (`$r | Measure-Object -Property RowsInserted -Sum).Sum
`$sec = (`$r | ForEach-Object { `$_.Elapsed.TotalSeconds } | Measure-Object -Sum).Sum
'BENCH-RESULT ' + (@{ Rows = `$rows; Seconds = `$sec; RowsPerSecond = @(`$r)[0].RowsPerSecond } | ConvertTo-Json -Compress)
"@
    Write-Host "  ours: $Label ..." -NoNewline
    $child = Invoke-ChildPwsh -Script $script -TimeoutSeconds $TimeoutSeconds -WorkingDirectory $OutDir
    $line = $child.Output | Where-Object { $_ -like 'BENCH-RESULT *' } | Select-Object -Last 1
    $res = [ordered]@{
        Rows = $null; Seconds = $null; RowsPerSecond = $null; WallSeconds = $child.Duration.TotalSeconds
        PeakBytes = $child.PeakWorkingSetBytes; Error = $null
    }
    if ($child.ExitCode -eq 0 -and $line) {
        $j = $line.Substring('BENCH-RESULT '.Length) | ConvertFrom-Json
        $res.Rows = [long]$j.Rows
        $res.Seconds = [double]$j.Seconds
        $res.RowsPerSecond = if ($res.Seconds -gt 0) { $res.Rows / $res.Seconds } else { [double]$j.RowsPerSecond }
        Write-Host (" {0:N0} rows in {1:N1} s ({2:N0} rows/s), peak {3}" -f $res.Rows, $res.Seconds, $res.RowsPerSecond, (Format-MB $res.PeakBytes))
    }
    else {
        $why = if ($child.TimedOut) { "timed out after $TimeoutSeconds s" } else { "exit code $($child.ExitCode)" }
        $err = (($child.StdErr, ($child.Output -join "`n")) | Where-Object { $_ }) -join "`n"
        $res.Error = "$why; $(($err -split "`n" | Where-Object { $_.Trim() } | Select-Object -First 6) -join ' / ')"
        Write-Host " failed: $($res.Error)" -ForegroundColor Red
    }
    return [pscustomobject]$res
}

function Measure-Native {
    # Times a native command; returns seconds and exit code (output kept for the error message).
    param([string] $File, [string[]] $Arguments)
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $out = & $File @Arguments 2>&1
    $watch.Stop()
    return [pscustomobject]@{ Seconds = $watch.Elapsed.TotalSeconds; ExitCode = $LASTEXITCODE; Output = ($out | Out-String).Trim() }
}

# --- Files ---------------------------------------------------------------------------------------------------
$sizes = @($SmallRows, $Rows) | Where-Object { $_ -gt 0 } | Sort-Object -Unique
$files = [ordered]@{}
foreach ($n in $sizes) {
    $path = Join-Path $OutDir "ea-$n.csv"
    Write-Host "Generating $n EA rows -> $path"
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $f = New-TestCostFile -Kind Ea -Rows $n -Month $Month -Path $path -Seed $Seed
    $watch.Stop()
    $files["$n"] = [pscustomobject]@{ Rows = $n; Path = $f.FullName; Bytes = $f.Length; GenerateSeconds = $watch.Elapsed.TotalSeconds }
    Write-Host ("  {0:N0} bytes in {1:N1} s" -f $f.Length, $watch.Elapsed.TotalSeconds)
}
$columnCount = @((Get-Content -LiteralPath $files[0].Path -TotalCount 1).TrimStart([char]0xFEFF) -split ',').Count

# --- PostgreSQL ----------------------------------------------------------------------------------------------
$pgVersion = $null
if ($SkipPostgres) { $notes.Add('PostgreSQL: skipped (-SkipPostgres).') }
else {
    Write-Host 'PostgreSQL' -ForegroundColor Cyan
    $pg = Start-TestPostgres -SharedBuffers '128MB'
    if (-not $pg) { $notes.Add('PostgreSQL: skipped, no throw-away cluster could be started (initdb/pg_ctl missing or failing).') }
    else {
        try {
            if ($pg.PsqlPath) { $pgVersion = (Invoke-TestPsql $pg 'show server_version') -join '' }
            foreach ($file in $files.Values) {
                $ours = Invoke-OurImport -File $file.Path -Label "$($file.Rows) rows" -TargetArgs ("-Provider PostgreSql -ConnectionString '{0}' -Table BenchCost" -f $pg.ConnectionString)
                $base = $null
                if (-not $pg.PsqlPath) { $notes.Add('PostgreSQL baseline: psql not found, \copy not measured.') }
                else {
                    $cols = (1..$columnCount | ForEach-Object { "c$_ text" }) -join ', '
                    Invoke-TestPsql $pg "drop table if exists bench_copy; create table bench_copy ($cols);" | Out-Null
                    Write-Host '  psql \copy ...' -NoNewline
                    $copy = "\copy bench_copy from '$($file.Path)' with (format csv, header true)"
                    $m = Measure-Native $pg.PsqlPath @('-X', '-q', '-h', '127.0.0.1', '-p', "$($pg.Port)", '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', $copy)
                    if ($m.ExitCode -eq 0) {
                        $n = [long]((Invoke-TestPsql $pg 'select count(*) from bench_copy') -join '')
                        $base = [pscustomobject]@{ Tool = 'psql \copy'; Rows = $n; Seconds = $m.Seconds; RowsPerSecond = $n / $m.Seconds; Error = $null }
                        Write-Host (" {0:N0} rows in {1:N1} s ({2:N0} rows/s)" -f $n, $m.Seconds, $base.RowsPerSecond)
                    }
                    else {
                        $base = [pscustomobject]@{ Tool = 'psql \copy'; Rows = $null; Seconds = $null; RowsPerSecond = $null; Error = $m.Output }
                        Write-Host " failed: $($m.Output)" -ForegroundColor Red
                    }
                    Invoke-TestPsql $pg 'drop table if exists bench_copy' | Out-Null
                }
                $results.Add([pscustomobject]@{ Target = 'PostgreSQL'; File = $file; Ours = $ours; Baseline = $base })
            }
        }
        finally { Stop-TestPostgres $pg }
    }
}

# --- SQLite --------------------------------------------------------------------------------------------------
$sqliteVersion = $null
if ($SkipSqlite) { $notes.Add('SQLite: skipped (-SkipSqlite).') }
else {
    Write-Host 'SQLite' -ForegroundColor Cyan
    $sqlite3 = Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $sqlite3) { $notes.Add('SQLite baseline: the sqlite3 shell was not found, .import not measured (install the sqlite3 package).') }
    else { $sqliteVersion = ((& $sqlite3.Source --version) -split ' ')[0] }
    foreach ($file in $files.Values) {
        $db = Join-Path $OutDir "ours-$($file.Rows).sqlite"
        Remove-Item "$db*" -Force -ErrorAction SilentlyContinue
        $ours = Invoke-OurImport -File $file.Path -Label "$($file.Rows) rows" -TargetArgs "-Database '$db'"
        Remove-Item "$db*" -Force -ErrorAction SilentlyContinue
        $base = $null
        if ($sqlite3) {
            $bdb = Join-Path $OutDir "baseline-$($file.Rows).sqlite"
            Remove-Item "$bdb*" -Force -ErrorAction SilentlyContinue
            Write-Host '  sqlite3 .import ...' -NoNewline
            $m = Measure-Native $sqlite3.Source @($bdb, '.mode csv', ".import '$($file.Path)' t")
            if ($m.ExitCode -eq 0) {
                $n = [long]((& $sqlite3.Source $bdb 'select count(*) from t') -join '')
                $base = [pscustomobject]@{ Tool = 'sqlite3 .import'; Rows = $n; Seconds = $m.Seconds; RowsPerSecond = $n / $m.Seconds; Error = $null }
                Write-Host (" {0:N0} rows in {1:N1} s ({2:N0} rows/s)" -f $n, $m.Seconds, $base.RowsPerSecond)
            }
            else {
                $base = [pscustomobject]@{ Tool = 'sqlite3 .import'; Rows = $null; Seconds = $null; RowsPerSecond = $null; Error = $m.Output }
                Write-Host " failed: $($m.Output)" -ForegroundColor Red
            }
            Remove-Item "$bdb*" -Force -ErrorAction SilentlyContinue
        }
        $results.Add([pscustomobject]@{ Target = 'SQLite'; File = $file; Ours = $ours; Baseline = $base })
    }
}

# --- Blob download -------------------------------------------------------------------------------------------
$curlVersion = $null
$azuriteVersion = $null
if ($SkipBlob) { $notes.Add('Blob download: skipped (-SkipBlob).') }
else {
    Write-Host 'Blob download (Azurite)' -ForegroundColor Cyan
    $curl = Get-Command curl -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    $az = Start-TestAzurite -WarningVariable azWarn -WarningAction SilentlyContinue
    if (-not $az) { $notes.Add("Blob download: skipped, Azurite could not be started ($azWarn).") }
    elseif (-not $curl) { $notes.Add('Blob download: skipped, curl was not found (install the curl package).'); Stop-TestAzurite $az }
    else {
        $curlVersion = ((& $curl.Source --version | Select-Object -First 1) -split ' ')[1]
        $azuriteVersion = try { (Get-Content -Raw (Join-Path (Split-Path (Split-Path (Get-TestAzuritePath))) 'azurite/package.json') | ConvertFrom-Json).version } catch { $null }
        $blobDir = Join-Path $OutDir 'blob'
        New-Item -ItemType Directory -Force $blobDir | Out-Null
        try {
            # A 64 MB blob each warm child saves first, so the timed download runs the steady-state (JIT-compiled) code.
            $warm = New-TestBlob $az -Name 'bench/warm-up.bin' -Length 64MB -Seed $Seed -BlockSize 64MB
            $warmLink = New-TestBlobSasLink $az -Name 'bench/warm-up.bin' -Expiry ([DateTime]::UtcNow.AddHours(3))
            foreach ($case in @(@{ Label = 'no Content-MD5'; Name = 'bench/plain.bin'; Md5 = $false }, @{ Label = 'Content-MD5 verified'; Name = 'bench/md5.bin'; Md5 = $true })) {
                Write-Host "  uploading $BlobMB MB ($($case.Label)) ..." -NoNewline
                $watch = [Diagnostics.Stopwatch]::StartNew()
                $blob = New-TestBlob $az -Name $case.Name -Length ([long]$BlobMB * 1MB) -Seed $Seed -BlockSize 64MB -ContentMd5:$case.Md5
                $watch.Stop()
                Write-Host (" {0:N1} s" -f $watch.Elapsed.TotalSeconds)
                $link = New-TestBlobSasLink $az -Name $case.Name -Expiry ([DateTime]::UtcNow.AddHours(3))
                $oursRuns = [System.Collections.Generic.List[object]]::new()
                $curlRuns = [System.Collections.Generic.List[object]]::new()
                $verified = $null
                $cold = $null
                # Run 0: our first download in a fresh pwsh (cold); then warm runs alternating with curl.
                for ($run = 0; $run -le $BlobRuns; $run++) {
                  if ($run -gt 0) {
                    $curlFile = Join-Path $blobDir 'curl.bin'
                    Remove-Item -LiteralPath $curlFile -ErrorAction SilentlyContinue
                    Write-Host "  curl run $run ..." -NoNewline
                    $m = Measure-Native $curl.Source @('-s', '-o', $curlFile, $link)
                    $len = if (Test-Path -LiteralPath $curlFile) { (Get-Item -LiteralPath $curlFile).Length } else { 0 }
                    if ($m.ExitCode -eq 0 -and $len -eq $blob.Bytes) {
                        $curlRuns.Add([pscustomobject]@{ Seconds = $m.Seconds; MBps = $blob.Bytes / 1MB / $m.Seconds; Error = $null })
                        Write-Host (" {0:N1} s ({1:N0} MB/s)" -f $m.Seconds, ($blob.Bytes / 1MB / $m.Seconds))
                    }
                    else {
                        $curlRuns.Add([pscustomobject]@{ Seconds = $null; MBps = $null; Error = "exit $($m.ExitCode), $len bytes" })
                        Write-Host " failed (exit $($m.ExitCode), $len bytes)" -ForegroundColor Red
                    }
                    Remove-Item -LiteralPath $curlFile -ErrorAction SilentlyContinue
                  }

                    $oursDir = Join-Path $blobDir 'ours'
                    Remove-Item -Recurse -Force -LiteralPath $oursDir -ErrorAction SilentlyContinue
                    Write-Host $(if ($run -eq 0) { '  Save-AzCostBlob cold run ...' } else { "  Save-AzCostBlob run $run ..." }) -NoNewline
                    $warmUp = if ($run -eq 0) { '' } else { "`$null = New-TestCostReport -Blob @(@{ Link = '$warmLink'; Bytes = $($warm.Bytes) }) | Save-AzCostBlob -LiteralPath '$oursDir/warm-up'" }
                    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Join-Path $Root 'tests/pester/TestHelpers.psm1')'
$warmUp
`$report = New-TestCostReport -Blob @(@{ Link = '$link'; Bytes = $($blob.Bytes) })
`$watch = [Diagnostics.Stopwatch]::StartNew()
`$file = `$report | Save-AzCostBlob -LiteralPath '$oursDir'
`$watch.Stop()
'BENCH-RESULT ' + (@{ Seconds = `$watch.Elapsed.TotalSeconds; Path = `$file.Path; Bytes = `$file.Bytes } | ConvertTo-Json -Compress)
"@
                    $child = Invoke-ChildPwsh -Script $script -TimeoutSeconds $TimeoutSeconds -WorkingDirectory $OutDir
                    $line = $child.Output | Where-Object { $_ -like 'BENCH-RESULT *' } | Select-Object -Last 1
                    if ($child.ExitCode -eq 0 -and $line) {
                        $j = $line.Substring('BENCH-RESULT '.Length) | ConvertFrom-Json
                        if ($null -eq $verified) { $verified = (Get-TestFileSha256 $j.Path) -eq $blob.Sha256 }
                        $one = [pscustomobject]@{ Seconds = [double]$j.Seconds; MBps = $blob.Bytes / 1MB / [double]$j.Seconds; WallSeconds = $child.Duration.TotalSeconds; PeakBytes = $child.PeakWorkingSetBytes; Error = $null }
                        if ($run -eq 0) { $cold = $one } else { $oursRuns.Add($one) }
                        Write-Host (" {0:N1} s ({1:N0} MB/s), peak {2}" -f [double]$j.Seconds, ($blob.Bytes / 1MB / [double]$j.Seconds), (Format-MB $child.PeakWorkingSetBytes))
                    }
                    else {
                        $why = if ($child.TimedOut) { "timed out after $TimeoutSeconds s" } else { "exit code $($child.ExitCode)" }
                        $err = (($child.StdErr, ($child.Output -join "`n")) | Where-Object { $_ }) -join "`n"
                        $one = [pscustomobject]@{ Seconds = $null; MBps = $null; WallSeconds = $child.Duration.TotalSeconds; PeakBytes = $child.PeakWorkingSetBytes; Error = "$why; $(($err -split "`n" | Where-Object { $_.Trim() } | Select-Object -First 4) -join ' / ')" }
                        if ($run -eq 0) { $cold = $one } else { $oursRuns.Add($one) }
                        Write-Host " failed: $why" -ForegroundColor Red
                    }
                    Remove-Item -Recurse -Force -LiteralPath $oursDir -ErrorAction SilentlyContinue
                }
                # The median run of each (Azurite's own speed varies a lot from run to run on a 2-core machine).
                $ok = @($oursRuns | Where-Object MBps | Sort-Object MBps); $bestOurs = if ($ok) { $ok[[int][Math]::Floor(($ok.Count - 1) / 2)] } else { $null }
                $ok = @($curlRuns | Where-Object MBps | Sort-Object MBps); $bestCurl = if ($ok) { $ok[[int][Math]::Floor(($ok.Count - 1) / 2)] } else { $null }
                $blobResults.Add([pscustomobject]@{
                        Label = $case.Label; Bytes = $blob.Bytes; UploadSeconds = $watch.Elapsed.TotalSeconds; Verified = $verified
                        Ours = $bestOurs; Curl = $bestCurl; OursRuns = @($oursRuns); CurlRuns = @($curlRuns); Cold = $cold
                        PeakBytes = (@($oursRuns) + @($cold) | Where-Object { $_ -and $_.PeakBytes } | Measure-Object -Property PeakBytes -Maximum).Maximum
                        ColdRatio = if ($cold -and $cold.MBps -and $bestCurl) { $cold.MBps / $bestCurl.MBps } else { $null }
                        Ratio = if ($bestOurs -and $bestCurl) { $bestOurs.MBps / $bestCurl.MBps } else { $null }
                    })
            }
        }
        finally {
            Stop-TestAzurite $az
            Remove-Item -Recurse -Force -LiteralPath $blobDir -ErrorAction SilentlyContinue
        }
    }
}

# --- Report --------------------------------------------------------------------------------------------------
$when = [DateTime]::UtcNow.ToString('yyyy-MM-dd HH:mm') + ' UTC'
$cpu = try { ((Get-Content /proc/cpuinfo -ErrorAction Stop | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -split ':', 2)[1].Trim() } catch { 'unknown CPU' }
$moduleVersion = (Import-PowerShellDataFile $env:AZBILLING_MODULE_PATH).ModuleVersion
$commit = try { $c = (& git -C $Root rev-parse --short HEAD 2>$null); if ($LASTEXITCODE -eq 0 -and $c) { $dirty = (& git -C $Root status --porcelain -- src 2>$null); if ($dirty) { "$c + uncommitted changes in src/" } else { "$c" } } else { 'unknown' } } catch { 'unknown' }
$md = [System.Text.StringBuilder]::new()
$null = $md.AppendLine('# Benchmarks').AppendLine()
$null = $md.AppendLine("Written by ``bench/Invoke-Benchmarks.ps1`` (``build.ps1 -Task Bench``); this file is overwritten on every run.").AppendLine()
$null = $md.AppendLine("- Run: $when, AzBillingPS $moduleVersion (source $commit), PowerShell $($PSVersionTable.PSVersion), $([Environment]::ProcessorCount) cores ($cpu), $([Runtime.InteropServices.RuntimeInformation]::OSDescription)")
$null = $md.AppendLine("- PostgreSQL $(if ($pgVersion) { $pgVersion } else { 'n/a' }) (throw-away cluster: fsync off, shared_buffers 128MB), sqlite3 $(if ($sqliteVersion) { $sqliteVersion } else { 'n/a' })")
foreach ($f in $files.Values) {
    $null = $md.AppendLine(("- File: {0:N0} EA rows ({1} columns), {2:N0} MB, generated in {3:N1} s (``out/bench/ea-{4}.csv``, seed {5}, month {6})" -f $f.Rows, $columnCount, ($f.Bytes / 1MB), $f.GenerateSeconds, $f.Rows, $Seed, $Month))
}
$null = $md.AppendLine().AppendLine('Targets (from the issue): our rate at least 0.7 of the baseline; peak working set of the whole child pwsh under 300 MB for both file sizes.').AppendLine()
$null = $md.AppendLine('Our rate is rows inserted over the cmdlet''s own `Elapsed`; "wall" adds starting pwsh and importing the module. Baselines are timed around the shell command. Peak working set is the child process''s VmHWM.').AppendLine()

foreach ($engine in 'PostgreSQL', 'SQLite') {
    $rs = @($results | Where-Object Target -EQ $engine)
    if (-not $rs) { continue }
    $baseName = if ($engine -eq 'PostgreSQL') { 'psql \copy' } else { 'sqlite3 .import' }
    $null = $md.AppendLine("## $engine").AppendLine()
    $null = $md.AppendLine("| rows | ours: rows/s | ours: time (wall) | ours: peak working set | ${baseName}: rows/s | time | ratio | rate target 0.7 | memory target 300 MB |")
    $null = $md.AppendLine('|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|')
    foreach ($r in $rs) {
        $o = $r.Ours; $b = $r.Baseline
        $ratio = if ($o.RowsPerSecond -and $b -and $b.RowsPerSecond) { $o.RowsPerSecond / $b.RowsPerSecond } else { $null }
        $r | Add-Member -NotePropertyName Ratio -NotePropertyValue $ratio -Force
        $rateOk = if ($null -eq $ratio) { 'n/a' } elseif ($ratio -ge $RateTarget) { 'met' } else { 'NOT met' }
        $memOk = if ($null -eq $o.PeakBytes -or $o.Error) { 'n/a' } elseif ($o.PeakBytes -lt $MemoryLimit) { 'met' } else { 'NOT met' }
        $oursRate = if ($o.Error) { 'failed' } else { Format-Rate $o.RowsPerSecond }
        $null = $md.AppendLine(("| {0:N0} | {1} | {2} ({3}) | {4} | {5} | {6} | {7} | {8} | {9} |" -f $r.File.Rows, $oursRate, (Format-Sec $o.Seconds), (Format-Sec $o.WallSeconds),
                (Format-MB $o.PeakBytes), $(if ($b) { if ($b.Error) { 'failed' } else { Format-Rate $b.RowsPerSecond } } else { 'not run' }),
                $(if ($b) { Format-Sec $b.Seconds } else { 'n/a' }), (Format-Ratio $ratio), $rateOk, $memOk))
    }
    $null = $md.AppendLine()
    $small = $rs | Select-Object -First 1; $large = $rs | Select-Object -Last 1
    if ($rs.Count -gt 1 -and $small.Ours.PeakBytes -and $large.Ours.PeakBytes) {
        $line = 'Memory against file size: {0} at {1:N0} rows, {2} at {3:N0} rows ({4:N2}x the memory for {5:N0}x the rows).' -f (Format-MB $small.Ours.PeakBytes),
            $small.File.Rows, (Format-MB $large.Ours.PeakBytes), $large.File.Rows, ($large.Ours.PeakBytes / $small.Ours.PeakBytes), ($large.File.Rows / $small.File.Rows)
        $null = $md.AppendLine($line)
    }
    foreach ($r in $rs) {
        if ($r.Ours.Error) { $null = $md.AppendLine("- Our import of $($r.File.Rows) rows failed: $($r.Ours.Error)") }
        if ($r.Baseline -and $r.Baseline.Error) { $null = $md.AppendLine("- Baseline for $($r.File.Rows) rows failed: $($r.Baseline.Error)") }
    }
    $null = $md.AppendLine()
}
if ($blobResults.Count) {
    $null = $md.AppendLine('## Blob download (Save-AzCostBlob)').AppendLine()
    $null = $md.AppendLine(("Azurite {0} on loopback serves a {1:N0} MB block blob (64 MB blocks) through a service-SAS link; Save-AzCostBlob runs in a fresh child pwsh (rate over the cmdlet's own time, wall adds starting pwsh), curl {2} runs ``curl -s -o file <link>``. Each runs {3} time(s), alternating, and the median run of each is shown; in those runs the child first saves a 64 MB blob, so the timed download runs JIT-compiled code, as every download after the first does in a real run. Cold is one more run of ours: the whole blob as the first download of a fresh pwsh. Wall is the whole child. Targets (from the issue): at least {4} of curl's MB/s, peak working set under 200 MB." -f $(if ($azuriteVersion) { $azuriteVersion } else { '(version unknown)' }), $BlobMB, $curlVersion, $BlobRuns, $BlobRateTarget)).AppendLine()
    $null = $md.AppendLine('| blob | ours: MB/s | ours: time (wall) | ours: peak working set | curl: MB/s | curl: time | ratio | rate target 0.9 | memory target 200 MB | ours cold: MB/s (ratio) | bytes identical |')
    $null = $md.AppendLine('|---|---:|---:|---:|---:|---:|---:|:---:|:---:|---:|:---:|')
    foreach ($b in $blobResults) {
        $rateOk = if ($null -eq $b.Ratio) { 'n/a' } elseif ($b.Ratio -ge $BlobRateTarget) { 'met' } else { 'NOT met' }
        $memOk = if ($null -eq $b.PeakBytes) { 'n/a' } elseif ($b.PeakBytes -lt $BlobMemoryLimit) { 'met' } else { 'NOT met' }
        $o = $b.Ours; $c = $b.Curl
        $coldText = if ($b.Cold -and $b.Cold.MBps) { '{0} ({1})' -f (Format-Rate $b.Cold.MBps), (Format-Ratio $b.ColdRatio) } else { 'n/a' }
        $null = $md.AppendLine(("| {0:N0} MB, {1} | {2} | {3} ({4}) | {5} | {6} | {7} | {8} | {9} | {10} | {12} | {11} |" -f ($b.Bytes / 1MB), $b.Label,
                $(if ($o) { Format-Rate $o.MBps } else { 'failed' }), $(if ($o) { Format-Sec $o.Seconds } else { 'n/a' }), $(if ($o) { Format-Sec $o.WallSeconds } else { 'n/a' }),
                (Format-MB $b.PeakBytes), $(if ($c) { Format-Rate $c.MBps } else { 'failed' }), $(if ($c) { Format-Sec $c.Seconds } else { 'n/a' }),
                (Format-Ratio $b.Ratio), $rateOk, $memOk, $(if ($null -eq $b.Verified) { 'n/a' } elseif ($b.Verified) { 'yes (SHA-256)' } else { 'NO' }), $coldText))
    }
    $null = $md.AppendLine()
    $runs = foreach ($b in $blobResults) { '{0}: ours {1} MB/s, curl {2} MB/s' -f $b.Label, (($b.OursRuns | ForEach-Object { if ($_.MBps) { '{0:N0}' -f $_.MBps } else { 'failed' } }) -join ' / '), (($b.CurlRuns | ForEach-Object { if ($_.MBps) { '{0:N0}' -f $_.MBps } else { 'failed' } }) -join ' / ') }
    $null = $md.AppendLine("Every run: $($runs -join '; ').").AppendLine()
    $null = $md.AppendLine('With a stored Content-MD5 the cmdlet hashes every byte to verify it (MD5 runs at about 490 MB/s on one core of this CPU, on a second task so it does not hold up the socket); on this 2-core machine Azurite itself takes one core, so that row is bound by the CPU, not by the download. Files are not flushed to the storage device before the rename (curl does not either); a file under its final name is complete whenever the process stops.').AppendLine()
    foreach ($b in $blobResults) {
        foreach ($r in (@($b.OursRuns) + @($b.CurlRuns) + @($b.Cold) | Where-Object { $_ })) { if ($r.Error) { $null = $md.AppendLine("- $($b.Label): a run failed: $($r.Error)") } }
    }
}
if ($notes.Count) {
    $null = $md.AppendLine('## Notes').AppendLine()
    foreach ($n in $notes) { $null = $md.AppendLine("- $n") }
    $null = $md.AppendLine()
}
$null = $md.AppendLine('## How to run').AppendLine()
$null = $md.AppendLine('```powershell').AppendLine('dotnet tool restore').AppendLine('dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench            # 1,000,000 rows').AppendLine('dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchRows 200000').AppendLine('```')
New-Item -ItemType Directory -Force (Split-Path $ReportPath) | Out-Null
Set-Content -LiteralPath $ReportPath -Value $md.ToString().TrimEnd() -Encoding utf8NoBOM

$json = [ordered]@{
    When = $when; Module = $moduleVersion; Files = @($files.Values); Notes = @($notes)
    Results = @($results | ForEach-Object { [ordered]@{ Target = $_.Target; Rows = $_.File.Rows; Ours = $_.Ours; Baseline = $_.Baseline; Ratio = $_.Ratio } })
    Blob = @($blobResults)
}
$json | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath (Join-Path $OutDir 'results.json') -Encoding utf8NoBOM
foreach ($n in $notes) { Write-Host $n -ForegroundColor Yellow }
Write-Host "Report: $ReportPath" -ForegroundColor Green
