#Requires -Version 7.4
<#
.SYNOPSIS
    Import benchmarks: our Import-AzCostToSql against the practical ceilings (psql \copy, sqlite3 .import);
    Save-AzCostBlob against curl; Sync-AzBilling (the whole job) against Import-AzCostToSql of the same files.
.DESCRIPTION
    Generates EA-shaped cost-details files (the large one, 1,000,000 rows by default, and the 200,000-row first file)
    under out/bench/ with the test-data generator, then, in one run:
      PostgreSQL  a throw-away cluster with production settings (Start-TestPostgres -Durable: fsync, synchronous_commit
                  and full_page_writes on); our import's time against psql '\copy' of the same file into a table of
                  text columns, and the CPU of both (the client's and the cluster's).
      SQLite      our import into a fresh database file against the sqlite3 shell's '.import' of the same file
                  into an untyped table.
    Each of our imports runs in a fresh child pwsh (the first file of a session: JIT and every cold start included);
    its peak resident set (VmHWM, polled from /proc) is the "peak working set of the whole PowerShell process", its
    debug and progress lines tell where the time went. -ImportRounds rounds of (ours, baseline), alternating; the
    median ratio and its spread. Targets (issue 16 section 3): the first file at least 0.7 x \copy and 0.9 x .import,
    the large one 0.9 x each, under 300 MB peak for both file sizes. One more run of the first file with a copy of the
    module without its ReadyToRun images (Dependencies/ReadyToRun) shows what they save. -ImportOnly runs just this part.
      Blob        (bench/Blob.Benchmarks.ps1, issue 16 section 4) Azurite (tests/pester/TestHelpers.psm1
                  Start-TestAzurite) serves a 1 GB block blob (and the same size with a stored Content-MD5, which
                  Save-AzCostBlob verifies); Save-AzCostBlob in a fresh child pwsh against 'curl -s -o file <link>' of
                  the same SAS link, alternating, median and spread of -BlobRuns each: at least 0.9 of curl's MB/s. Then
                  the Content-MD5 blob through the test fixture's blob proxy capped at -BlobCapMB MB/s per connection
                  (a long-distance link): curl over one connection against Save-AzCostBlob's parallel ranges, at least
                  3 x curl. Under 200 MB peak working set. -BlobOnly runs just this part.
      WAL         PostgreSQL's write-ahead log per unit, on a cluster with fsync, synchronous_commit and
                  full_page_writes on (as production runs): pg_current_wal_lsn() around our import of the -Rows file into
                  a new table (CREATE TABLE, COPY, index build, one transaction) and around a reload of the same unit
                  (DELETE of those rows, COPY, index maintenance); WAL bytes per million rows for each, beside the
                  table's size. docs/sqlserver.md derives the log space a large SQL Server unit needs from these.
      Sync        Sync-AzBilling, the whole job: the test fixture (Start-TestAzureFixture) plays Entra ID and Cost
                  Management, its manifests point at Azurite blobs; -SyncScopes subscriptions x the last closed month,
                  -SyncRows EA rows each (8 x 100,000: issue 16 section 2), into SQLite and PostgreSQL (production
                  durability, Start-TestPostgres -Durable) at each -SyncThrottleLimit (loads of different units run
                  -ThrottleLimit at once into PostgreSQL, one at a time into SQLite). Baseline: the same
                  files loaded one after another by Import-AzCostToSql -Path in one child pwsh. Every run's rows are
                  counted per subscription in the table and must equal the files'. Time ratio and memory ratio
                  against the baseline; -SyncRepeat rounds (mean time, highest peak). -SyncOnly runs just this part.
      Exports     Import-AzCostExport of one FocusCost run (-ExportRows rows in -ExportParts parts) written three ways by
                  the test-data generator, Parquet (row groups of -ExportRowGroup), gzip CSV and plain CSV, all from
                  Azurite through a container SAS URL, into PostgreSQL (a cluster with fsync, synchronous_commit and
                  full_page_writes on) and SQLite; each load a fresh child pwsh into a fresh table; -ExportRepeat rounds,
                  the order of the formats turned each round. Baseline: the plain CSV run of the same round. Targets:
                  Parquet at least as fast as CSV, peak working set under 300 MB. One more Parquet load per row-group size
                  (one group per part, one group per file) shows how memory follows the row-group size. -ExportsOnly runs just
                  this part and replaces only its section of the report.
      Schedule    bench/Measure-SyncSchedule.ps1: the fixture generates each report in 20 s; Sync-AzBilling of 40
                  subscriptions x 3 months with the published limits scaled by 0.15, against the floor those limits
                  impose (computed from the pacing rules and the generation time); target within 1.2 x. Also one
                  billing-account scope x 3 months. -ScheduleOnly runs just this part and replaces only its section.
    Writes docs/benchmarks.md (overwritten; with -ExportsOnly only its exports section) and out/bench/results.json.
.EXAMPLE
    dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench
.EXAMPLE
    ./bench/Invoke-Benchmarks.ps1 -ModulePath ./out/AzBillingPS/0.1.0/AzBillingPS.psd1 -Rows 200000 -SmallRows 20000.EXAMPLE
    ./bench/Invoke-Benchmarks.ps1 -ModulePath ./out/AzBillingPS/0.1.0/AzBillingPS.psd1 -ImportOnly -ImportRounds 5
.EXAMPLE
    ./bench/Invoke-Benchmarks.ps1 -ModulePath ./out/AzBillingPS/0.1.0/AzBillingPS.psd1 -SyncOnly -ReportPath ./out/bench/sync.md
.EXAMPLE
    ./bench/Invoke-Benchmarks.ps1 -ModulePath ./out/AzBillingPS/0.1.0/AzBillingPS.psd1 -WalOnly -ReportPath ./out/bench/wal.md
.EXAMPLE
    dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchExportsOnly
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # Rows in the large file (the issue asks for 1,000,000).
    [int] $Rows = 1000000,
    # Rows in the first file: a fresh pwsh loading it is issue 16's "first file" (0.7 x psql \copy, 0.9 x sqlite3 .import).
    [int] $SmallRows = 200000,
    # Import: rounds of (ours, baseline) per file and database, alternating; medians and the spread are reported.
    [int] $ImportRounds = 3,
    # Run only the import benchmarks (the first file and the -Rows file, PostgreSQL and SQLite); its section of -ReportPath
    # is replaced and the rest of the file kept.
    [switch] $ImportOnly,
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
    [int] $BlobRuns = 4,
    # Blob: the per-connection cap of the fixture's blob proxy, MB/s (curl takes about 43 s for 1 GB at 24 MB/s).
    [int] $BlobCapMB = 24,
    # Blob: runs of ours through the capped proxy (curl runs once: it takes the better part of a minute).
    [int] $BlobCapRuns = 2,
    # Run only the blob download benchmark; its section of -ReportPath is replaced and the rest of the file kept.
    [switch] $BlobOnly,
    # Seconds one of our imports may take before it is stopped.
    [int] $TimeoutSeconds = 1800,
    # Skip the Sync-AzBilling benchmark (test fixture + Azurite against Import-AzCostToSql of the same files).
    [switch] $SkipSync,
    # Run only the Sync-AzBilling benchmark (skip the import and blob benchmarks); -SkipPostgres still applies.
    [switch] $SyncOnly,
    # Sync: subscriptions (one report, one blob each, for one closed month): 8 units (issue 16 section 2).
    [int] $SyncScopes = 8,
    # Sync: rows in each subscription's blob.
    [int] $SyncRows = 100000,
    # Sync: the -ThrottleLimit values to run.
    [int[]] $SyncThrottleLimit = @(1, 2, 4),
    # Sync: rounds of (baseline, each -ThrottleLimit); time is the mean of the rounds, peak working set the highest.
    [int] $SyncRepeat = 2,
    # Skip the report scheduling benchmark (bench/Measure-SyncSchedule.ps1: Sync against the floor of the API's limits).
    [switch] $SkipSchedule,
    # Run only the report scheduling benchmark; its section of -ReportPath is replaced and the rest of the file kept.
    [switch] $ScheduleOnly,
    # Schedule: also run it with this module (for example one built from the commit before the scheduler), for comparison.
    [string] $ScheduleBaselineModulePath,
    # Skip the Cost Management exports benchmark (Import-AzCostExport of a FocusCost run from Azurite).
    [switch] $SkipExports,
    # Run only the exports benchmark; its section of -ReportPath is replaced and the rest of the file kept.
    [switch] $ExportsOnly,
    # Exports: rows of the FocusCost run (the issue asks for 1,000,000), written as Parquet, gzip CSV and CSV.
    [int] $ExportRows = 1000000,
    # Exports: parts (blobs) the run is split into, as large exports are.
    [int] $ExportParts = 4,
    # Exports: Parquet row-group size of the timed runs.
    [int] $ExportRowGroup = 100000,
    # Exports: rounds of (CSV, gzip CSV, Parquet) per database; rates are the mean, spread the lowest and highest.
    [int] $ExportRepeat = 4,
    # Skip the PostgreSQL WAL measurement (a cluster with fsync on: WAL bytes of a first load and of a reload).
    [switch] $SkipWal,
    # Run only the WAL measurement (with the -Rows file); -ReportPath names where it goes.
    [switch] $WalOnly
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
$BlobRateTarget = 0.9
$BlobMemoryLimit = 200MB

function Format-Rate([object] $v) { if ($null -eq $v) { 'n/a' } else { '{0:N0}' -f [double]$v } }
function Format-MB([object] $v) { if ($null -eq $v) { 'n/a' } else { '{0:N0} MB' -f ([double]$v / 1MB) } }
function Format-Sec([object] $v) { if ($null -eq $v) { 'n/a' } else { '{0:N1} s' -f [double]$v } }
function Format-Ratio([object] $v) { if ($null -eq $v) { 'n/a' } else { '{0:N2}' -f [double]$v } }

# Why a child process (Invoke-ChildPwsh) failed: timed out or its exit code, and the first lines of what it wrote.
function Get-ChildError([object] $Child, [int] $Lines = 6) {
    $why = if ($Child.TimedOut) { "timed out after $TimeoutSeconds s" } else { "exit code $($Child.ExitCode)" }
    $err = (($Child.StdErr, ($Child.Output -join "`n")) | Where-Object { $_ }) -join "`n"
    "$why; $(($err -split "`n" | Where-Object { $_.Trim() } | Select-Object -First $Lines) -join ' / ')"
}

function Invoke-OurImport {
    # One Import-AzCostToSql in a fresh child pwsh; returns rows, seconds (the cmdlet's own Elapsed), wall, peak RSS, the
    # child's CPU seconds during the cmdlet, the methods it JIT-compiled meanwhile, and where the time went (the engine's
    # debug lines: each step of the load with its time; the verbose progress lines: when each batch of rows was read).
    param([string] $File, [string] $TargetArgs, [string] $Label)
    $script = @"
`$ErrorActionPreference = 'Stop'
`$ConfirmPreference = 'None'
`$PSStyle.OutputRendering = 'PlainText'
`$DebugPreference = 'Continue'
`$VerbosePreference = 'Continue'
`$process = [Diagnostics.Process]::GetCurrentProcess()
`$cpu0 = `$process.TotalProcessorTime
`$jit0 = [System.Runtime.JitInfo]::GetCompiledMethodCount(`$false)
`$jitTime0 = [System.Runtime.JitInfo]::GetCompilationTime(`$false)
`$r = Import-AzCostToSql -Path '$File' -Scope '$Scope' -Metric ActualCost $TargetArgs
`$process.Refresh()
`$r = @(`$r)
`$rows = (`$r | Measure-Object -Property RowsInserted -Sum).Sum
`$sec = (`$r | ForEach-Object { `$_.Elapsed.TotalSeconds } | Measure-Object -Sum).Sum
'BENCH-RESULT ' + (@{ Rows = `$rows; Seconds = `$sec; RowsPerSecond = @(`$r)[0].RowsPerSecond; CpuSeconds = (`$process.TotalProcessorTime - `$cpu0).TotalSeconds
    JitMethods = [System.Runtime.JitInfo]::GetCompiledMethodCount(`$false) - `$jit0; JitSeconds = ([System.Runtime.JitInfo]::GetCompilationTime(`$false) - `$jitTime0).TotalSeconds } | ConvertTo-Json -Compress)
"@
    Write-Host "  ours: $Label ..." -NoNewline
    $child = Invoke-ChildPwsh -Script $script -TimeoutSeconds $TimeoutSeconds -WorkingDirectory $OutDir
    $line = $child.Output | Where-Object { $_ -like 'BENCH-RESULT *' } | Select-Object -Last 1
    $res = [ordered]@{
        Rows = $null; Seconds = $null; RowsPerSecond = $null; WallSeconds = $child.Duration.TotalSeconds
        PeakBytes = $child.PeakWorkingSetBytes; CpuSeconds = $null; JitMethods = $null; JitSeconds = $null
        Steps = [ordered]@{}; Batches = @(); Error = $null
    }
    if ($child.ExitCode -eq 0 -and $line) {
        $j = $line.Substring('BENCH-RESULT '.Length) | ConvertFrom-Json
        $res.Rows = [long]$j.Rows
        $res.Seconds = [double]$j.Seconds
        $res.RowsPerSecond = if ($res.Seconds -gt 0) { $res.Rows / $res.Seconds } else { [double]$j.RowsPerSecond }
        $res.CpuSeconds = [double]$j.CpuSeconds
        $res.JitMethods = [long]$j.JitMethods
        $res.JitSeconds = [double]$j.JitSeconds
        foreach ($l in $child.Output) {
            # DEBUG: Read the header of 1 file(s) in 13 ms. / DEBUG: Read the dates of ... in 73 ms.
            # DEBUG: "public"."T": created the table and its index in 10 ms (127 ms into the load).
            if ($l -match '^DEBUG: Read the (header|dates) of .* in ([\d,]+) ms\.$') { $res.Steps[$(if ($Matches[1] -eq 'header') { 'read the header' } else { 'read the dates (the period)' })] = [double]($Matches[2] -replace ',') / 1000 }
            elseif ($l -match '^DEBUG: Waited ([\d,]+) ms for the database warm-up') { $res.Steps['waited for the database warm-up'] = [double]($Matches[1] -replace ',') / 1000 }
            elseif ($l -match '^DEBUG: .*: (.+?) in ([\d,]+) ms \([\d,]+ ms into the load\)\.$') { $res.Steps[($Matches[1] -replace '[\d,]+ rows', 'the rows')] = [double]($Matches[2] -replace ',') / 1000 }
            # VERBOSE: ea-200000.csv: 50,000 rows, 36.3 of 145.2 MB, 12,994 rows/s (rows/s since the cmdlet began)
            elseif ($l -match '^VERBOSE: .*: ([\d,]+) rows, .* ([\d,]+) rows/s$') {
                $n = [double]($Matches[1] -replace ','); $rate = [double]($Matches[2] -replace ',')
                if ($rate -gt 0) { $res.Batches += [pscustomobject]@{ Rows = $n; At = $n / $rate } }
            }
        }
        Write-Host (" {0:N0} rows in {1:N1} s ({2:N0} rows/s), CPU {3:N1} s, peak {4}" -f $res.Rows, $res.Seconds, $res.RowsPerSecond, $res.CpuSeconds, (Format-MB $res.PeakBytes))
    }
    else {
        $res.Error = Get-ChildError $child
        Write-Host " failed: $($res.Error)" -ForegroundColor Red
    }
    return [pscustomobject]$res
}

function Measure-NativeCpu {
    # Times a native command, with its CPU (user + system, through bash's time) where bash is there.
    param([string] $File, [string[]] $Arguments)
    $bash = Get-Command bash -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $bash) { $m = Measure-Native $File $Arguments; $m | Add-Member CpuSeconds $null; return $m }
    $quoted = ($File, $Arguments | ForEach-Object { $_ } | ForEach-Object { "'" + ($_ -replace "'", "'\''") + "'" }) -join ' '
    $timeFile = Join-Path $OutDir "time-$PID.txt"
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $out = & $bash.Source -c "TIMEFORMAT='%U %S'; { time $quoted >/dev/null 2>&1 ; } 2> '$timeFile'" 2>&1
    $exit = $LASTEXITCODE
    $watch.Stop()
    $cpu = $null
    if (Test-Path -LiteralPath $timeFile) {
        $t = ((Get-Content -LiteralPath $timeFile | Select-Object -Last 1) -split ' ') | ForEach-Object { [double]::Parse($_, [Globalization.CultureInfo]::InvariantCulture) }
        if (@($t).Count -eq 2) { $cpu = $t[0] + $t[1] }
        Remove-Item -LiteralPath $timeFile -ErrorAction SilentlyContinue
    }
    return [pscustomobject]@{ Seconds = $watch.Elapsed.TotalSeconds; ExitCode = $exit; Output = ($out | Out-String).Trim(); CpuSeconds = $cpu }
}

function Get-ClusterCpu {
    # CPU seconds (user + system) a throw-away PostgreSQL cluster has used: its live processes and the postmaster's
    # reaped children (a backend that served one connection). Linux only ($null elsewhere).
    param([object] $Pg)
    $pidFile = Join-Path $Pg.DataDir 'postmaster.pid'
    if (-not $IsLinux -or -not (Test-Path -LiteralPath $pidFile)) { return $null }
    $postmaster = [int]((Get-Content -LiteralPath $pidFile -TotalCount 1).Trim())
    $ticks = 0L
    foreach ($d in [IO.Directory]::EnumerateDirectories('/proc')) {
        $name = [IO.Path]::GetFileName($d)
        if ($name -notmatch '^\d+$') { continue }
        try { $stat = [IO.File]::ReadAllText("$d/stat") } catch { continue }
        $f = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        if ([int]$name -eq $postmaster) { $ticks += [long]$f[11] + [long]$f[12] + [long]$f[13] + [long]$f[14] }
        elseif ([int]$f[1] -eq $postmaster) { $ticks += [long]$f[11] + [long]$f[12] }
    }
    return $ticks / 100.0 # USER_HZ
}

function Get-Median([double[]] $Values) {
    $v = @($Values | Where-Object { $null -ne $_ } | Sort-Object)
    if (-not $v.Count) { return $null }
    if ($v.Count % 2) { return $v[($v.Count - 1) / 2] }
    return ($v[$v.Count / 2 - 1] + $v[$v.Count / 2]) / 2
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
$sizes = if ($SyncOnly -or $ExportsOnly) { @() } elseif ($WalOnly) { @($Rows) } else { @($SmallRows, $Rows) | Where-Object { $_ -gt 0 } | Sort-Object -Unique }
if ($WalOnly) { $SkipPostgres = $true; $SkipSqlite = $true; $SkipBlob = $true; $SkipSync = $true; $SkipExports = $true; $notes.Add('Import, blob, Sync and exports benchmarks: not run (-WalOnly).') }
if ($SyncOnly) { $notes.Add('Import and blob download benchmarks: not run (-SyncOnly).') }
if ($ImportOnly) { $SkipBlob = $true; $SkipSync = $true; $SkipExports = $true; $SkipWal = $true }
if ($BlobOnly) { $sizes = @(); $SkipPostgres = $true; $SkipSqlite = $true; $SkipSync = $true; $SkipExports = $true; $SkipWal = $true }
if ($SyncOnly) { $SkipExports = $true }
if ($ScheduleOnly) { $SkipPostgres = $true; $SkipSqlite = $true; $SkipBlob = $true; $SkipSync = $true; $SkipExports = $true; $SkipWal = $true; $sizes = @() }
if ($SyncOnly -or $ExportsOnly -or $ImportOnly -or $WalOnly -or $BlobOnly) { $SkipSchedule = $true }
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
$columnCount = if ($files.Count) { @((Get-Content -LiteralPath $files[0].Path -TotalCount 1).TrimStart([char]0xFEFF) -split ',').Count } else { $null }

# --- Import: ours against psql \copy and sqlite3 .import ------------------------------------------------------
# Issue 16 section 3: the -SmallRows file loaded by a fresh pwsh (the first file of a session) and the -Rows file, into
# PostgreSQL with production settings (fsync, synchronous_commit and full_page_writes on) and into SQLite. Each round runs
# ours and then the baseline on the same file, so a slow spell of this shared machine hits both; the ratio of a round is
# the baseline's time over ours, and the median of the rounds is reported with its spread.
$pgVersion = $null
$sqliteVersion = $null
$importTargets = @{ PostgreSQL = 0.7; SQLite = 0.9 } # the first file
$importLargeTarget = 0.9                            # the -Rows file, both databases
$importPg = $null
if ($SkipPostgres) { $notes.Add('PostgreSQL: skipped (-SkipPostgres).') }
elseif (-not $SyncOnly -and -not $ExportsOnly -and $files.Count) {
    $importPg = Start-TestPostgres -SharedBuffers '128MB' -Durable -WarningAction SilentlyContinue
    if (-not $importPg) { $notes.Add('PostgreSQL: skipped, no throw-away cluster could be started (initdb/pg_ctl missing or failing).') }
    elseif (-not $importPg.PsqlPath) { $notes.Add('PostgreSQL baseline: psql not found, \copy not measured.') }
    else { $pgVersion = (Invoke-TestPsql $importPg 'show server_version') -join '' }
}
# The same module without its ReadyToRun images (the portable IL that PowerShell 7.4 and 7.5, and platforms without
# images, load): one more run of the first file shows what the images save.
$portableModule = $null
$moduleDir = Split-Path $env:AZBILLING_MODULE_PATH
if ($files.Count -and -not $SyncOnly -and -not $ExportsOnly -and -not $WalOnly -and (Test-Path -LiteralPath (Join-Path $moduleDir 'Dependencies/ReadyToRun'))) {
    $portableDir = Join-Path $OutDir "portable-module/$(Split-Path $moduleDir -Leaf)"
    Remove-Item -Recurse -Force (Split-Path $portableDir) -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force (Split-Path $portableDir) | Out-Null
    Copy-Item -Recurse -LiteralPath $moduleDir -Destination $portableDir
    Remove-Item -Recurse -Force -LiteralPath (Join-Path $portableDir 'Dependencies/ReadyToRun')
    $portableModule = Join-Path $portableDir (Split-Path $env:AZBILLING_MODULE_PATH -Leaf)
}
$sqlite3 = Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
if ($SkipSqlite) { $notes.Add('SQLite: skipped (-SkipSqlite).') }
elseif (-not $sqlite3 -and $files.Count -and -not $SyncOnly -and -not $ExportsOnly) { $notes.Add('SQLite baseline: the sqlite3 shell was not found, .import not measured (install the sqlite3 package).') }
if ($sqlite3) { $sqliteVersion = ((& $sqlite3.Source --version) -split ' ')[0] }
try {
    foreach ($file in $files.Values) {
        foreach ($engine in 'PostgreSQL', 'SQLite') {
            if (($engine -eq 'PostgreSQL' -and -not $importPg) -or ($engine -eq 'SQLite' -and $SkipSqlite)) { continue }
            Write-Host ("{0}: {1:N0} rows, {2} round(s)" -f $engine, $file.Rows, [Math]::Max(1, $ImportRounds)) -ForegroundColor Cyan
            $rounds = [System.Collections.Generic.List[object]]::new()
            $db = Join-Path $OutDir "ours-$($file.Rows).sqlite"
            $targetArgs = if ($engine -eq 'PostgreSQL') { "-Provider PostgreSql -ConnectionString '{0}' -Table BenchCost" -f $importPg.ConnectionString } else { "-DatabasePath '$db'" }
            foreach ($round in 1..([Math]::Max(1, $ImportRounds))) {
                $base = $null
                if ($engine -eq 'PostgreSQL') {
                    Invoke-TestPsql $importPg 'drop table if exists "BenchCost"; drop table if exists bench_copy' | Out-Null
                    $s0 = Get-ClusterCpu $importPg
                    $ours = Invoke-OurImport -File $file.Path -Label "round $round" -TargetArgs $targetArgs
                    $s1 = Get-ClusterCpu $importPg
                    $ours | Add-Member ServerCpuSeconds $(if ($null -ne $s0 -and $null -ne $s1) { $s1 - $s0 } else { $null })
                    Invoke-TestPsql $importPg 'drop table if exists "BenchCost"' | Out-Null
                    $cols = (1..$columnCount | ForEach-Object { "c$_ text" }) -join ', '
                    Invoke-TestPsql $importPg "create table bench_copy ($cols);" | Out-Null
                    Write-Host '  psql \copy ...' -NoNewline
                    $copy = "\copy bench_copy from '$($file.Path)' with (format csv, header true)"
                    $s0 = Get-ClusterCpu $importPg
                    $m = Measure-NativeCpu $importPg.PsqlPath @('-X', '-q', '-h', '127.0.0.1', '-p', "$($importPg.Port)", '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', $copy)
                    $s1 = Get-ClusterCpu $importPg
                    if ($m.ExitCode -eq 0) {
                        $n = [long]((Invoke-TestPsql $importPg 'select count(*) from bench_copy') -join '')
                        $base = [pscustomobject]@{ Tool = 'psql \copy'; Rows = $n; Seconds = $m.Seconds; RowsPerSecond = $n / $m.Seconds; CpuSeconds = $m.CpuSeconds; ServerCpuSeconds = $(if ($null -ne $s0 -and $null -ne $s1) { $s1 - $s0 } else { $null }); Error = $null }
                    }
                    else { $base = [pscustomobject]@{ Tool = 'psql \copy'; Rows = $null; Seconds = $null; RowsPerSecond = $null; CpuSeconds = $null; ServerCpuSeconds = $null; Error = $m.Output } }
                    Invoke-TestPsql $importPg 'drop table if exists bench_copy' | Out-Null
                }
                else {
                    Remove-Item "$db*" -Force -ErrorAction SilentlyContinue
                    $ours = Invoke-OurImport -File $file.Path -Label "round $round" -TargetArgs $targetArgs
                    $ours | Add-Member ServerCpuSeconds $null
                    Remove-Item "$db*" -Force -ErrorAction SilentlyContinue
                    if ($sqlite3) {
                        $bdb = Join-Path $OutDir "baseline-$($file.Rows).sqlite"
                        Remove-Item "$bdb*" -Force -ErrorAction SilentlyContinue
                        Write-Host '  sqlite3 .import ...' -NoNewline
                        $m = Measure-NativeCpu $sqlite3.Source @($bdb, '.mode csv', ".import '$($file.Path)' t")
                        if ($m.ExitCode -eq 0) {
                            $n = [long]((& $sqlite3.Source $bdb 'select count(*) from t') -join '')
                            $base = [pscustomobject]@{ Tool = 'sqlite3 .import'; Rows = $n; Seconds = $m.Seconds; RowsPerSecond = $n / $m.Seconds; CpuSeconds = $m.CpuSeconds; ServerCpuSeconds = $null; Error = $null }
                        }
                        else { $base = [pscustomobject]@{ Tool = 'sqlite3 .import'; Rows = $null; Seconds = $null; RowsPerSecond = $null; CpuSeconds = $null; ServerCpuSeconds = $null; Error = $m.Output } }
                        Remove-Item "$bdb*" -Force -ErrorAction SilentlyContinue
                    }
                }
                if ($base -and -not $base.Error) { Write-Host (" {0:N0} rows in {1:N1} s ({2:N0} rows/s)" -f $base.Rows, $base.Seconds, $base.RowsPerSecond) }
                elseif ($base) { Write-Host " failed: $($base.Error)" -ForegroundColor Red }
                $ratio = if ($ours.Seconds -and $base -and $base.Seconds -and -not $base.Error) { $base.Seconds / $ours.Seconds } else { $null }
                $oursCpu = if ($null -ne $ours.CpuSeconds) { $ours.CpuSeconds + [double]$(if ($null -ne $ours.ServerCpuSeconds) { $ours.ServerCpuSeconds } else { 0 }) } else { $null }
                $baseCpu = if ($base -and $null -ne $base.CpuSeconds) { $base.CpuSeconds + [double]$(if ($null -ne $base.ServerCpuSeconds) { $base.ServerCpuSeconds } else { 0 }) } else { $null }
                $rounds.Add([pscustomobject]@{ Round = $round; Ours = $ours; Baseline = $base; Ratio = $ratio; OursCpu = $oursCpu; BaselineCpu = $baseCpu; CpuRatio = $(if ($oursCpu -and $baseCpu) { $baseCpu / $oursCpu } else { $null }) })
            }
            $portable = $null
            if ($file.Rows -eq $SmallRows -and $portableModule) {
                $savedModulePath = $env:AZBILLING_MODULE_PATH
                $env:AZBILLING_MODULE_PATH = $portableModule
                try {
                    if ($engine -eq 'PostgreSQL') { Invoke-TestPsql $importPg 'drop table if exists "BenchCost"' | Out-Null } else { Remove-Item "$db*" -Force -ErrorAction SilentlyContinue }
                    $portable = Invoke-OurImport -File $file.Path -Label 'without the ReadyToRun images' -TargetArgs $targetArgs
                    if ($engine -eq 'PostgreSQL') { Invoke-TestPsql $importPg 'drop table if exists "BenchCost"' | Out-Null } else { Remove-Item "$db*" -Force -ErrorAction SilentlyContinue }
                }
                finally { $env:AZBILLING_MODULE_PATH = $savedModulePath }
            }
            $ok = @($rounds | Where-Object { $null -ne $_.Ratio })
            $target = if ($file.Rows -eq $SmallRows) { $importTargets[$engine] } else { $importLargeTarget }
            $results.Add([pscustomobject]@{
                    Target = $engine; File = $file; Rounds = @($rounds); RateTarget = $target
                    Ours = $(if ($rounds.Count) { $rounds[0].Ours }); Baseline = $(if ($rounds.Count) { $rounds[0].Baseline })
                    Ratio = Get-Median @($ok.Ratio); RatioMin = ($ok | Measure-Object Ratio -Minimum).Minimum; RatioMax = ($ok | Measure-Object Ratio -Maximum).Maximum
                    CpuRatio = Get-Median @($rounds | Where-Object CpuRatio | ForEach-Object CpuRatio)
                    Seconds = Get-Median @($rounds | ForEach-Object { $_.Ours.Seconds }); BaselineSeconds = Get-Median @($rounds | Where-Object Baseline | ForEach-Object { $_.Baseline.Seconds })
                    WallSeconds = Get-Median @($rounds | ForEach-Object { $_.Ours.WallSeconds })
                    OursCpu = Get-Median @($rounds | ForEach-Object OursCpu); BaselineCpu = Get-Median @($rounds | ForEach-Object BaselineCpu)
                    PeakBytes = ($rounds | ForEach-Object { $_.Ours.PeakBytes } | Measure-Object -Maximum).Maximum
                    JitMethods = Get-Median @($rounds | ForEach-Object { $_.Ours.JitMethods }); Portable = $portable
                    CpuSeconds = Get-Median @($rounds | ForEach-Object { $_.Ours.CpuSeconds })
                    Errors = @($rounds | ForEach-Object { if ($_.Ours.Error) { "round $($_.Round), ours: $($_.Ours.Error)" }; if ($_.Baseline -and $_.Baseline.Error) { "round $($_.Round), baseline: $($_.Baseline.Error)" } })
                })
        }
    }
}
finally { if ($importPg) { Stop-TestPostgres $importPg } }

# --- Blob download -------------------------------------------------------------------------------------------
# Issue 16 section 4 (bench/Blob.Benchmarks.ps1): loopback against curl, and through a per-connection bandwidth cap.
. (Join-Path $PSScriptRoot 'Blob.Benchmarks.ps1')
$blobResult = $null
$azuriteVersion = $null
if ($SkipBlob) { $notes.Add('Blob download: skipped (-SkipBlob).') }
elseif (-not $SyncOnly -and -not $ExportsOnly) {
    $blobResult = Invoke-BlobBenchmark -Root $Root -OutDir $OutDir -Seed $Seed -BlobMB $BlobMB -BlobRuns $BlobRuns -CapMB $BlobCapMB -CapRuns $BlobCapRuns -TimeoutSeconds $TimeoutSeconds -Notes $notes
    if ($blobResult) { $azuriteVersion = $blobResult.AzuriteVersion }
}

# --- Sync-AzBilling ------------------------------------------------------------------------------------------
# The whole job in one call: sign-in (MSAL, client secret) and Cost Management against the test fixture, manifests
# pointing at Azurite blobs (real SAS links), downloads, loads and the state table, for $SyncScopes subscriptions x
# one closed month, at each -ThrottleLimit. Baseline: the same files, already on disk, loaded one after another with
# Import-AzCostToSql -Path in one child pwsh. Every run is checked against the files: rows per scope in the table.
$syncFiles = [System.Collections.Generic.List[object]]::new()
$syncResults = [System.Collections.Generic.List[object]]::new()
$syncRaw = [System.Collections.Generic.List[object]]::new()
$syncMonthStart = ([DateTime]::UtcNow.Date.AddDays(1 - [DateTime]::UtcNow.Day)).AddMonths(-1)
$SyncMonth = $syncMonthStart.ToString('yyyy-MM')
$syncFrom = $syncMonthStart.ToString('yyyy-MM-dd')
$syncTo = $syncMonthStart.AddMonths(1).AddDays(-1).ToString('yyyy-MM-dd')
$syncIdlePeak = $null
$syncSetupSeconds = $null
$SyncTimeoutSeconds = 900

function Get-SyncTableCounts {
    # Rows per _Scope (lower case) in a cost table, counted by the database's own shell; $null when it cannot count.
    param([string] $Target, [string] $Database, [string] $Table, [object] $Pg, [string] $Sqlite3Path)
    $h = @{}
    if ($Target -eq 'SQLite') {
        if (-not $Sqlite3Path -or -not (Test-Path -LiteralPath $Database)) { return $null }
        foreach ($l in & $Sqlite3Path -separator '|' $Database "SELECT _Scope, count(*) FROM ""$Table"" GROUP BY _Scope") {
            $f = "$l" -split '\|'; $h[$f[0].ToLowerInvariant()] = [long]$f[1]
        }
        if ($LASTEXITCODE -ne 0) { return $null }
    }
    else {
        foreach ($f in @(Invoke-TestPsql $Pg "SELECT ""_Scope"", count(*) FROM ""$Table"" GROUP BY 1" -Split)) { $h[$f[0].ToLowerInvariant()] = [long]$f[1] }
    }
    return $h
}

function Test-SyncLoaded {
    # Compares a table's rows per scope with the files' rows; returns $null when they match, else what differs.
    param([hashtable] $Counts)
    if ($null -eq $Counts) { return 'the table could not be counted' }
    $diff = foreach ($f in $syncFiles) {
        $n = if ($Counts.ContainsKey($f.Scope.ToLowerInvariant())) { $Counts[$f.Scope.ToLowerInvariant()] } else { 0 }
        if ($n -ne $f.Rows) { '{0}: {1:N0} rows in the table, {2:N0} in the file' -f $f.Scope, $n, $f.Rows }
    }
    $extra = @($Counts.Keys | Where-Object { $_ -notin @($syncFiles | ForEach-Object { $_.Scope.ToLowerInvariant() }) })
    if ($extra) { $diff = @($diff) + "rows of other scopes: $($extra -join ', ')" }
    if ($diff) { return ($diff -join '; ') }
    return $null
}

function Invoke-SyncChild {
    # One child pwsh (the module imported first); returns the BENCH-RESULT object, wall, peak RSS, or the error.
    param([string] $Script, [hashtable] $Environment, [string] $Label)
    Write-Host "  $Label ..." -NoNewline
    $child = Invoke-ChildPwsh -Script $Script -Environment $Environment -TimeoutSeconds $SyncTimeoutSeconds -WorkingDirectory $OutDir
    $line = $child.Output | Where-Object { $_ -like 'BENCH-RESULT *' } | Select-Object -Last 1
    $res = [ordered]@{ Result = $null; WallSeconds = $child.Duration.TotalSeconds; PeakBytes = $child.PeakWorkingSetBytes; Error = $null }
    if ($child.ExitCode -eq 0 -and $line) { $res.Result = $line.Substring('BENCH-RESULT '.Length) | ConvertFrom-Json }
    else {
        $why = if ($child.TimedOut) { "timed out after $SyncTimeoutSeconds s" } else { "exit code $($child.ExitCode)" }
        $err = (($child.StdErr, ($child.Output -join "`n")) | Where-Object { $_ }) -join "`n"
        $res.Error = "$why; $(($err -split "`n" | Where-Object { $_.Trim() } | Select-Object -First 6) -join ' / ')"
    }
    return [pscustomobject]$res
}

if ($ExportsOnly) { }
elseif ($SkipSync) { $notes.Add('Sync-AzBilling: skipped (-SkipSync).') }
else {
    Write-Host "Sync-AzBilling: $SyncScopes subscriptions x $SyncMonth, $SyncRows rows each (test fixture + Azurite)" -ForegroundColor Cyan
    $syncSqlite3 = (Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
    if ($syncSqlite3 -and -not $sqliteVersion) { $sqliteVersion = ((& $syncSqlite3 --version) -split ' ')[0] }
    $fixtureDll = Join-Path $Root 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'
    $syncAz = $null
    if (-not (Test-Path -LiteralPath $fixtureDll)) { $notes.Add('Sync-AzBilling: skipped, the test fixture is not built (build.ps1 -Task Build).') }
    else { $syncAz = Start-TestAzurite -WarningVariable syncAzWarn -WarningAction SilentlyContinue }
    if ((Test-Path -LiteralPath $fixtureDll) -and -not $syncAz) { $notes.Add("Sync-AzBilling: skipped, Azurite could not be started ($syncAzWarn).") }
    if ($syncAz) {
        $syncFixture = $null
        $syncPg = $null
        $syncDir = Join-Path $OutDir 'sync'
        Remove-Item -Recurse -Force -LiteralPath $syncDir -ErrorAction SilentlyContinue
        New-Item -ItemType Directory -Force $syncDir | Out-Null
        try {
            $setup = [Diagnostics.Stopwatch]::StartNew()
            for ($i = 1; $i -le $SyncScopes; $i++) {
                $sub = '5c{0:D6}-0000-4000-8000-{0:D12}' -f $i
                $path = Join-Path $OutDir ("sync-ea-{0}-{1}-{2}.csv" -f $SyncRows, $SyncMonth, $i)
                $gen = & (Get-TestDotnet) (Get-TestDataGenerator) --kind Ea --rows "$SyncRows" --month $SyncMonth --seed "$($Seed + $i)" --out $path 2>&1
                if ($LASTEXITCODE -ne 0) { throw "Test-data generator failed ($LASTEXITCODE): $($gen | Out-String)" }
                $wrote = @($gen | Where-Object { "$_" -match '^wrote (.+) rows=(\d+) bytes=(\d+)$' } | Select-Object -Last 1)
                if (-not $wrote -or "$($wrote[0])" -notmatch '^wrote (.+) rows=(\d+) bytes=(\d+)$') { throw "The test-data generator did not say what it wrote: $($gen | Out-String)" }
                $blob = New-TestBlob $syncAz -Name "sync/$SyncMonth/sub$i.csv" -Path $Matches[1] -BlockSize 32MB
                $link = New-TestBlobSasLink $syncAz -Container $blob.Container -Name $blob.Name -Expiry ([DateTime]::UtcNow.AddHours(3))
                $syncFiles.Add([pscustomobject]@{ Index = $i; Scope = "/subscriptions/$sub"; Path = $Matches[1]; Rows = [long]$Matches[2]; Bytes = [long]$Matches[3]; Link = $link })
            }
            $syncFixture = Start-TestAzureFixture
            # One rule per subscription: the month's report is Completed (after one 202 with Retry-After: 1) with one blob in Azurite.
            Set-TestCostRules $syncFixture @(foreach ($f in $syncFiles) { @{ scope = $f.Scope; period = $SyncMonth; blobs = @(@{ blobLink = $f.Link; byteCount = $f.Bytes }) } })
            $setup.Stop()
            $syncSetupSeconds = $setup.Elapsed.TotalSeconds
            Write-Host ("  {0} files ({1:N0} rows, {2:N0} MB) generated and uploaded to Azurite in {3:N1} s" -f $syncFiles.Count,
                ($syncFiles | Measure-Object Rows -Sum).Sum, (($syncFiles | Measure-Object Bytes -Sum).Sum / 1MB), $syncSetupSeconds)
            $childEnv = Get-TestFixtureSyncEnv $syncFixture

            # What a pwsh that only imports the module holds: the floor under every figure below.
            $idle = Invoke-SyncChild -Script "'BENCH-RESULT {}'" -Environment $childEnv -Label 'idle pwsh (module imported, nothing run)'
            $syncIdlePeak = $idle.PeakBytes
            Write-Host (" peak {0}" -f (Format-MB $syncIdlePeak))

            $targets = [System.Collections.Generic.List[object]]::new()
            if ($SkipSqlite) { $notes.Add('Sync-AzBilling, SQLite: skipped (-SkipSqlite).') }
            elseif (-not $syncSqlite3) { $notes.Add('Sync-AzBilling, SQLite: not run, the sqlite3 shell (which counts the loaded rows) was not found.') }
            else { $targets.Add('SQLite') }
            if ($SkipPostgres) { $notes.Add('Sync-AzBilling, PostgreSQL: skipped (-SkipPostgres).') }
            else {
                $syncPg = Start-TestPostgres -SharedBuffers '128MB' -Durable -WarningAction SilentlyContinue
                if (-not $syncPg -or -not $syncPg.PsqlPath) { $notes.Add('Sync-AzBilling, PostgreSQL: not run, no throw-away cluster (or no psql) could be had.') }
                else {
                    $targets.Add('PostgreSQL')
                    if (-not $pgVersion) { $pgVersion = (Invoke-TestPsql $syncPg 'show server_version') -join '' }
                }
            }
            $filesLiteral = ($syncFiles | ForEach-Object { "@{{ Path = '{0}'; Scope = '{1}' }}" -f $_.Path, $_.Scope }) -join ', '
            $scopesLiteral = ($syncFiles | ForEach-Object { "'$($_.Scope)'" }) -join ', '

            foreach ($target in $targets) {
                Write-Host "  $target" -ForegroundColor Cyan
                # Rounds of the baseline and each -ThrottleLimit, interleaved, so a slow spell of the machine hits all alike.
                $runs = foreach ($round in 1..([Math]::Max(1, $SyncRepeat))) {
                    @{ Kind = 'Baseline'; ThrottleLimit = $null; Round = $round }
                    foreach ($tl in $SyncThrottleLimit) { @{ Kind = 'Sync'; ThrottleLimit = $tl; Round = $round } }
                }
                foreach ($run in $runs) {
                    $name = if ($run.Kind -eq 'Baseline') { 'SyncBaseline' } else { "SyncThrottle$($run.ThrottleLimit)" }
                    $db = Join-Path $syncDir "$name.sqlite"
                    $table = if ($target -eq 'SQLite') { 'AzureCostDetails' } else { $name }
                    $targetArgs = if ($target -eq 'SQLite') { "-DatabasePath '$db'" } else { "-Provider PostgreSql -ConnectionString '$($syncPg.ConnectionString)' -Table '$table'" }
                    $work = Join-Path $syncDir "work-$name"
                    if ($run.Kind -eq 'Baseline') {
                        $label = "baseline: Import-AzCostToSql -Path, $($syncFiles.Count) files one after another"
                        $script = @"
`$ErrorActionPreference = 'Stop'
`$ConfirmPreference = 'None'
`$watch = [Diagnostics.Stopwatch]::StartNew()
`$r = @(foreach (`$f in @($filesLiteral)) { Import-AzCostToSql -Path `$f.Path -Scope `$f.Scope -Metric ActualCost $targetArgs })
`$watch.Stop()
'BENCH-RESULT ' + (@{ Seconds = `$watch.Elapsed.TotalSeconds; Rows = (`$r | Measure-Object -Property RowsInserted -Sum).Sum; Units = `$r.Count; Failed = 0 } | ConvertTo-Json -Compress)
"@
                    }
                    else {
                        $label = "Sync-AzBilling -ThrottleLimit $($run.ThrottleLimit)"
                        $script = (Get-TestFixtureSyncScript "-Scope $scopesLiteral -From '$syncFrom' -To '$syncTo' -ThrottleLimit $($run.ThrottleLimit) -WorkingPath '$work' $targetArgs") + @"
`$sum = `$out | Where-Object { `$_ -is [AzBillingPS.AzBillingSyncSummary] } | Select-Object -Last 1
`$units = @(`$out | Where-Object { `$_ -is [AzBillingPS.AzBillingSyncResult] })
function Get-Mean([string] `$p) { if (`$units.Count) { (`$units | ForEach-Object { `$_.`$p.TotalSeconds } | Measure-Object -Average).Average } }
'BENCH-RESULT ' + ([ordered]@{
    Seconds = `$watch.Elapsed.TotalSeconds; Elapsed = `$sum.Elapsed.TotalSeconds; Rows = `$sum.Rows; Bytes = `$sum.Bytes; Units = `$sum.Units
    Loaded = `$sum.Loaded; Failed = `$sum.Failed; Success = `$sum.Success
    Report = (Get-Mean ReportDuration); Download = (Get-Mean DownloadDuration); Load = (Get-Mean LoadDuration)
    Errors = @(`$errs | ForEach-Object { "`$_" } | Select-Object -First 4)
} | ConvertTo-Json -Compress)
"@
                    }
                    $c = Invoke-SyncChild -Script $script -Environment $childEnv -Label $label
                    $verifyError = $null
                    $counts = $null
                    if (-not $c.Error) {
                        $counts = Get-SyncTableCounts -Target $target -Database $db -Table $table -Pg $syncPg -Sqlite3Path $syncSqlite3
                        $verifyError = Test-SyncLoaded $counts
                        if (-not $verifyError -and $c.Result.Rows -ne ($syncFiles | Measure-Object Rows -Sum).Sum) { $verifyError = "the command reported $($c.Result.Rows) rows" }
                        if (-not $verifyError -and $run.Kind -eq 'Sync' -and ($c.Result.Failed -ne 0 -or $c.Result.Loaded -ne $syncFiles.Count)) { $verifyError = "$($c.Result.Loaded) unit(s) loaded, $($c.Result.Failed) failed: $($c.Result.Errors -join ' / ')" }
                    }
                    $left = @(Get-ChildItem -LiteralPath $work -Recurse -File -Force -ErrorAction SilentlyContinue | Where-Object Name -NE '.run.lock').Count
                    # Not $rows: PowerShell's names ignore case, and $Rows is the script's -Rows (the WAL part and the report read it).
                    $inTable = if ($counts) { ($counts.Values | Measure-Object -Sum).Sum } else { $null }
                    $r = [pscustomobject]@{
                        Target = $target; Kind = $run.Kind; ThrottleLimit = $run.ThrottleLimit; Round = $run.Round
                        Seconds = if ($c.Result) { [double]$c.Result.Seconds } else { $null }
                        WallSeconds = $c.WallSeconds; PeakBytes = $c.PeakBytes; RowsInTable = $inTable
                        RowsPerSecond = if ($c.Result -and $inTable) { $inTable / [double]$c.Result.Seconds } else { $null }
                        Report = if ($c.Result -and $c.Result.PSObject.Properties['Report']) { $c.Result.Report } else { $null }
                        Download = if ($c.Result -and $c.Result.PSObject.Properties['Download']) { $c.Result.Download } else { $null }
                        Load = if ($c.Result -and $c.Result.PSObject.Properties['Load']) { $c.Result.Load } else { $null }
                        FilesLeft = $left
                        Verified = -not $c.Error -and -not $verifyError
                        Error = if ($c.Error) { $c.Error } else { $verifyError }
                    }
                    $syncRaw.Add($r)
                    if ($r.Error) { Write-Host " failed: $($r.Error)" -ForegroundColor Red }
                    else { Write-Host (" {0:N0} rows (checked) in {1:N1} s, wall {2:N1} s ({3:N0} rows/s), peak {4}" -f $inTable, $r.Seconds, $r.WallSeconds, $r.RowsPerSecond, (Format-MB $r.PeakBytes)) }
                    # Free the disk before the next run (the cluster and the folder go at the end anyway).
                    if ($target -eq 'SQLite') { Remove-Item "$db*" -Force -ErrorAction SilentlyContinue }
                    else { Invoke-TestPsql $syncPg "DROP TABLE IF EXISTS ""$table"", ""$($table)_SyncState""" | Out-Null }
                }
            }
        }
        finally {
            # One line per (target, run): time and stages the mean of the rounds, peak working set the highest; a run
            # counts only when every round loaded exactly the files' rows.
            foreach ($g in @($syncRaw | Group-Object Target, Kind, ThrottleLimit)) {
                $rounds = @($g.Group)
                $ok = @($rounds | Where-Object Verified)
                $first = $rounds[0]
                $mean = { param($p) if ($ok.Count -eq $rounds.Count -and @($ok | Where-Object { $null -ne $_.$p }).Count) { ($ok | Measure-Object -Property $p -Average).Average } else { $null } }
                $syncResults.Add([pscustomobject]@{
                        Target = $first.Target; Kind = $first.Kind; ThrottleLimit = $first.ThrottleLimit; Rounds = $rounds.Count
                        Seconds = & $mean Seconds; WallSeconds = & $mean WallSeconds; Report = & $mean Report; Download = & $mean Download; Load = & $mean Load
                        PeakBytes = ($rounds | Where-Object PeakBytes | Measure-Object -Property PeakBytes -Maximum).Maximum
                        RowsInTable = $first.RowsInTable; RowsPerSecond = $null
                        FilesLeft = ($rounds | Measure-Object -Property FilesLeft -Sum).Sum
                        Verified = $ok.Count -eq $rounds.Count
                        Error = (@($rounds | Where-Object Error | ForEach-Object { "round $($_.Round): $($_.Error)" }) -join '; ')
                        Runs = $rounds; TimeRatio = $null; MemoryRatio = $null
                    })
            }
            foreach ($r in $syncResults) {
                if ($r.Seconds -and $r.RowsInTable) { $r.RowsPerSecond = $r.RowsInTable / $r.Seconds }
                $b = $syncResults | Where-Object { $_.Target -eq $r.Target -and $_.Kind -eq 'Baseline' } | Select-Object -First 1
                if ($r.Kind -eq 'Sync' -and $b -and $b.Seconds -and $r.Seconds) {
                    $r.TimeRatio = $r.Seconds / $b.Seconds
                    if ($r.PeakBytes -and $b.PeakBytes) { $r.MemoryRatio = $r.PeakBytes / $b.PeakBytes }
                }
            }
            if ($syncFixture) { Stop-TestAzureFixture $syncFixture }
            if ($syncPg) { Stop-TestPostgres $syncPg }
            Stop-TestAzurite $syncAz
            Remove-Item -Recurse -Force -LiteralPath $syncDir -ErrorAction SilentlyContinue
        }
    }
}

# --- Cost Management exports --------------------------------------------------------------------------------
# One FocusCost run written three ways (Parquet, gzip CSV, plain CSV: the same rows, seed and parts), uploaded to Azurite
# and loaded by Import-AzCostExport through a container SAS URL, each load in a fresh child pwsh into a fresh table
# (a new PostgreSQL schema, a new SQLite file). PostgreSQL runs with production durability (fsync, synchronous_commit,
# full_page_writes on). Rows per second are rows over the cmdlet's own Elapsed (download of the parts included). The
# baseline is the plain CSV load of the same round; the formats' order turns each round.
# --- Report scheduling against the API's limits (issue 16 section 1) -------------------------------------------
# bench/Measure-SyncSchedule.ps1: the fixture generates each report in a set time, Sync-AzBilling of 40 subscriptions x 3
# months runs with the pacing scaled down, and its wall time is set against the floor the limits impose.
$scheduleSection = $null
$scheduleResult = $null
if ($SkipSchedule) { if (-not ($SyncOnly -or $ExportsOnly -or $ImportOnly -or $WalOnly -or $BlobOnly)) { $notes.Add('Report scheduling: skipped (-SkipSchedule).') } }
elseif (-not (Test-Path -LiteralPath (Join-Path $Root 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'))) { $notes.Add('Report scheduling: skipped, the test fixture is not built (build.ps1 -Task Build).') }
else {
    Write-Host 'Sync-AzBilling: reports scheduled against the API''s limits (test fixture)' -ForegroundColor Cyan
    try {
        $scheduleArgs = @{ ModulePath = $ModulePath; OutDir = $OutDir }
        if ($ScheduleBaselineModulePath) { $scheduleArgs.BaselineModulePath = $ScheduleBaselineModulePath }
        $scheduleResult = & (Join-Path $PSScriptRoot 'Measure-SyncSchedule.ps1') @scheduleArgs
        $scheduleSection = $scheduleResult.Section
    }
    catch { $notes.Add("Report scheduling: failed: $_") }
}

$exportResults = [System.Collections.Generic.List[object]]::new()
$exportProbe = [System.Collections.Generic.List[object]]::new()
$exportInfo = $null
$expPgSettings = $null
if ($SkipExports) { if (-not $SyncOnly) { $notes.Add('Exports: skipped (-SkipExports).') } }
else {
    Write-Host "Cost Management exports: FocusCost, $ExportRows rows in $ExportParts parts, Parquet / gzip CSV / CSV from Azurite" -ForegroundColor Cyan
    $expDir = Join-Path $OutDir 'exports'
    Remove-Item -Recurse -Force -LiteralPath $expDir -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force $expDir | Out-Null
    $expMonth = '2026-03'
    $expScope = '/subscriptions/00000000-0000-0000-0000-00000000e0e0'
    function New-ExportRun([string] $Name, [string] $Format, [int] $Parts, [int] $RowGroup) {
        $id = [guid]::NewGuid().ToString()
        @{ folder = "bench/$Name/20260301-20260331/202603050600/$id"; exportName = $Name; scope = $expScope; dataset = 'FocusCost'; month = $expMonth
            submitted = '2026-03-05T06:00:00Z'; runId = $id; format = $Format; rows = $ExportRows; blobs = $Parts; seed = $Seed; rowGroupSize = $RowGroup }
    }
    $perPart = [int][Math]::Ceiling($ExportRows / [double]$ExportParts)
    $runs = @(
        New-ExportRun 'focus-csv' 'Csv' $ExportParts $ExportRowGroup
        New-ExportRun 'focus-gzip' 'Gzip' $ExportParts $ExportRowGroup
        New-ExportRun 'focus-parquet' 'Parquet' $ExportParts $ExportRowGroup
        New-ExportRun 'focus-parquet-part' 'Parquet' $ExportParts $perPart          # one row group per part
        New-ExportRun 'focus-parquet-file' 'Parquet' 1 $ExportRows                  # the whole run in one part, one row group
    )
    $setup = [Diagnostics.Stopwatch]::StartNew()
    $written = @(New-TestExportLayout -Root $expDir -Runs $runs)
    $genSeconds = $setup.Elapsed.TotalSeconds
    $bytes = @{}
    foreach ($w in $written) { $bytes[$w.folder.Split('/')[1]] = ($w.parts | Measure-Object Bytes -Sum).Sum }
    $az = Start-TestAzurite -WarningVariable azWarn -WarningAction SilentlyContinue
    $expPg = $null
    if (-not $az) { $notes.Add("Exports: not run, Azurite could not be started ($azWarn).") }
    else {
        try {
            if (-not $azuriteVersion) { $azuriteVersion = try { (Get-Content -Raw (Join-Path (Split-Path (Split-Path (Get-TestAzuritePath))) 'azurite/package.json') | ConvertFrom-Json).version } catch { $null } }
            Copy-TestTreeToAzurite $az -Root $expDir -Container exports
            $uploadSeconds = $setup.Elapsed.TotalSeconds - $genSeconds
            Remove-Item -Recurse -Force -LiteralPath (Join-Path $expDir 'bench') -ErrorAction SilentlyContinue   # the loads read Azurite only
            $sas = New-TestContainerSasUrl $az -Container exports
            Write-Host ("  generated in {0:N1} s, uploaded in {1:N1} s: CSV {2:N0} MB, gzip {3:N0} MB, Parquet {4:N0} MB" -f $genSeconds, $uploadSeconds, ($bytes['focus-csv'] / 1MB), ($bytes['focus-gzip'] / 1MB), ($bytes['focus-parquet'] / 1MB))
            $exportInfo = [pscustomobject]@{ Rows = $ExportRows; Parts = $ExportParts; RowGroup = $ExportRowGroup; GenerateSeconds = $genSeconds; UploadSeconds = $uploadSeconds; Bytes = $bytes; Month = $expMonth }

            $targets = @()
            if ($SkipPostgres) { $notes.Add('Exports, PostgreSQL: skipped (-SkipPostgres).') }
            else {
                $expPg = Start-TestPostgres -SharedBuffers '128MB' -Durable -WarningAction SilentlyContinue
                if (-not $expPg -or -not $expPg.PsqlPath) { $notes.Add('Exports, PostgreSQL: not run, no throw-away cluster (or no psql) could be had.') }
                else {
                    $targets += 'PostgreSQL'
                    if (-not $pgVersion) { $pgVersion = (Invoke-TestPsql $expPg 'show server_version') -join '' }
                    $expPgSettings = (Invoke-TestPsql $expPg "select string_agg(name || '=' || setting, ', ' order by name) from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers')") -join ''
                }
            }
            $expSqlite3 = Get-Command sqlite3 -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
            if ($SkipSqlite) { $notes.Add('Exports, SQLite: skipped (-SkipSqlite).') }
            else { $targets += 'SQLite' }

            $n = 0
            function Invoke-ExportLoad([string] $Target, [string] $Export, [string] $Label) {
                $script:expRunNo++
                if ($Target -eq 'SQLite') {
                    $db = Join-Path $OutDir "exports-$($script:expRunNo).sqlite"
                    Remove-Item "$db*" -Force -ErrorAction SilentlyContinue
                    $targetArgs = "-DatabasePath '$db'"
                }
                else {
                    $schema = "run$($script:expRunNo)"
                    Invoke-TestPsql $expPg "create schema $schema" | Out-Null
                    $targetArgs = "-ConnectionString '$($expPg.ConnectionString)' -Schema $schema"
                }
                $script = @"
`$ErrorActionPreference = 'Stop'
`$ConfirmPreference = 'None'
`$r = @(Import-AzCostExport -ContainerSasUrl '$sas' -Prefix bench -ExportName '$Export' $targetArgs)
'BENCH-RESULT ' + (@{ Rows = (`$r | Measure-Object -Property RowsInserted -Sum).Sum; Seconds = (`$r | ForEach-Object { `$_.Elapsed.TotalSeconds } | Measure-Object -Sum).Sum; Actions = (`$r.Action -join ','); Format = (`$r.Format -join ',') } | ConvertTo-Json -Compress)
"@
                Write-Host "  $Target, $Label ..." -NoNewline
                $child = Invoke-ChildPwsh -Script $script -TimeoutSeconds $TimeoutSeconds -WorkingDirectory $OutDir
                $line = $child.Output | Where-Object { $_ -like 'BENCH-RESULT *' } | Select-Object -Last 1
                $res = [ordered]@{ Target = $Target; Export = $Export; Rows = $null; Seconds = $null; RowsPerSecond = $null; WallSeconds = $child.Duration.TotalSeconds; PeakBytes = $child.PeakWorkingSetBytes; RowsInTable = $null; Error = $null }
                if ($child.ExitCode -eq 0 -and $line) {
                    $j = $line.Substring('BENCH-RESULT '.Length) | ConvertFrom-Json
                    $res.Rows = [long]$j.Rows; $res.Seconds = [double]$j.Seconds
                    $res.RowsPerSecond = if ($res.Seconds -gt 0) { $res.Rows / $res.Seconds } else { $null }
                    # Counted by the database itself.
                    $res.RowsInTable = if ($Target -eq 'SQLite') { if ($expSqlite3) { [long]((& $expSqlite3.Source $db 'select count(*) from AzureCostFocus') -join '') } }
                    else { [long]((Invoke-TestPsql $expPg "select count(*) from $schema.""AzureCostFocus""") -join '') }
                    if ($j.Actions -ne 'Loaded' -or $res.Rows -ne $ExportRows -or ($null -ne $res.RowsInTable -and $res.RowsInTable -ne $ExportRows)) {
                        $res.Error = "loaded $($res.Rows) rows ($($j.Actions)), $($res.RowsInTable) in the table; expected $ExportRows"
                    }
                    Write-Host (" {0:N0} rows in {1:N1} s ({2:N0} rows/s), peak {3}" -f $res.Rows, $res.Seconds, $res.RowsPerSecond, (Format-MB $res.PeakBytes))
                }
                else {
                    $res.Error = Get-ChildError $child
                    Write-Host " failed: $($res.Error)" -ForegroundColor Red
                }
                if ($Target -eq 'SQLite') { Remove-Item "$db*" -Force -ErrorAction SilentlyContinue }
                else { Invoke-TestPsql $expPg "drop schema $schema cascade" | Out-Null }
                [pscustomobject]$res
            }
            $script:expRunNo = 0
            $formats = @(@{ Format = 'CSV'; Export = 'focus-csv' }, @{ Format = 'gzip CSV'; Export = 'focus-gzip' }, @{ Format = 'Parquet'; Export = 'focus-parquet' })
            foreach ($target in $targets) {
                for ($round = 1; $round -le [Math]::Max(1, $ExportRepeat); $round++) {
                    $turn = ($round - 1) % $formats.Count
                    $order = @($formats[$turn..($formats.Count - 1)]) + @(if ($turn -gt 0) { $formats[0..($turn - 1)] })
                    foreach ($f in $order) {
                        $r = Invoke-ExportLoad $target $f.Export "$($f.Format), round $round"
                        $r | Add-Member -NotePropertyName Format -NotePropertyValue $f.Format
                        $r | Add-Member -NotePropertyName Round -NotePropertyValue $round
                        $exportResults.Add($r)
                    }
                }
                if ($target -eq 'SQLite') {
                    # Memory against the row-group size (SQLite, once each): one group per part, one group for the whole run.
                    foreach ($p in @(@{ Export = 'focus-parquet-part'; RowGroup = $perPart; Parts = $ExportParts }, @{ Export = 'focus-parquet-file'; RowGroup = $ExportRows; Parts = 1 })) {
                        $r = Invoke-ExportLoad $target $p.Export ("Parquet, row groups of {0:N0} rows" -f $p.RowGroup)
                        $r | Add-Member -NotePropertyName RowGroup -NotePropertyValue $p.RowGroup
                        $r | Add-Member -NotePropertyName Parts -NotePropertyValue $p.Parts
                        $exportProbe.Add($r)
                    }
                }
            }
        }
        finally {
            if ($expPg) { Stop-TestPostgres $expPg }
            Stop-TestAzurite $az
            Remove-Item -Recurse -Force -LiteralPath $expDir -ErrorAction SilentlyContinue
        }
    }
}

function Get-ExportsSection {
    # The report's section on the exports benchmark (also what -ExportsOnly puts into an existing report).
    $x = [System.Text.StringBuilder]::new()
    $null = $x.AppendLine('## Cost Management exports (Import-AzCostExport)').AppendLine()
    $null = $x.AppendLine("Run: $when, AzBillingPS $moduleVersion (source $commit), $([Environment]::ProcessorCount) cores.").AppendLine()
    if (-not $exportInfo) { $null = $x.AppendLine('Not run (see Notes).').AppendLine(); return $x.ToString() }
    $b = $exportInfo.Bytes
    $null = $x.AppendLine(("One FocusCost export run of {0:N0} rows (FOCUS 1.0 columns as the test-data generator writes them, seed {1}, month {2}) in {3} parts, written three ways with the same rows: Parquet (Parquet.Net, Snappy, row groups of {4:N0} rows; {5:N0} MB), gzip CSV ({6:N0} MB) and plain CSV ({7:N0} MB); generated in {8:N1} s and uploaded to Azurite {9} in {10:N1} s. Each load is ``Import-AzCostExport -ContainerSasUrl <sas> -Prefix bench -ExportName <run>`` in a fresh child pwsh into a fresh table (a new PostgreSQL schema, a new SQLite file): listing, manifest, download of the parts to ``-WorkingPath`` and the load in one transaction; rows/s is rows over the cmdlet's own Elapsed, which includes the download. PostgreSQL {11} runs with production durability ({12}). Every load was checked: {0:N0} rows reported and counted in the table. {13} rounds per database, the formats' order turned each round; rates are the mean of the rounds with the lowest and highest in brackets, ratios are each round's rate over the plain CSV rate of the same round (mean, lowest-highest), peak working set (the child's VmHWM) is the highest of the rounds." -f
            $exportInfo.Rows, $Seed, $exportInfo.Month, $exportInfo.Parts, $exportInfo.RowGroup, ($b['focus-parquet'] / 1MB), ($b['focus-gzip'] / 1MB), ($b['focus-csv'] / 1MB),
            $exportInfo.GenerateSeconds, $(if ($azuriteVersion) { $azuriteVersion } else { '' }), $exportInfo.UploadSeconds, $(if ($pgVersion) { $pgVersion } else { '' }), $(if ($expPgSettings) { $expPgSettings } else { 'fsync on' }), [Math]::Max(1, $ExportRepeat))).AppendLine()
    $null = $x.AppendLine('Targets (from the issue): Parquet at least as fast as CSV (ratio 1.0 or more); peak working set under 300 MB.').AppendLine()
    foreach ($engine in 'PostgreSQL', 'SQLite') {
        $rs = @($exportResults | Where-Object Target -EQ $engine)
        if (-not $rs) { continue }
        $null = $x.AppendLine("### $engine").AppendLine()
        $null = $x.AppendLine('| format | rows/s (lowest-highest) | time | peak working set | ratio to CSV (lowest-highest) | target | memory under 300 MB |')
        $null = $x.AppendLine('|---|---:|---:|---:|---:|:---:|:---:|')
        foreach ($fmt in 'CSV', 'gzip CSV', 'Parquet') {
            $ok = @($rs | Where-Object { $_.Format -eq $fmt -and -not $_.Error -and $_.RowsPerSecond })
            $failed = @($rs | Where-Object { $_.Format -eq $fmt -and $_.Error })
            if (-not $ok) { $null = $x.AppendLine("| $fmt | failed | | | | | |"); continue }
            $rates = $ok | ForEach-Object RowsPerSecond
            $ratios = @(foreach ($r in $ok) { $base = $rs | Where-Object { $_.Format -eq 'CSV' -and $_.Round -eq $r.Round -and -not $_.Error } | Select-Object -First 1; if ($base) { $r.RowsPerSecond / $base.RowsPerSecond } })
            $peak = ($rs | Where-Object { $_.Format -eq $fmt -and $_.PeakBytes } | Measure-Object PeakBytes -Maximum).Maximum
            $meanRatio = if ($ratios) { ($ratios | Measure-Object -Average).Average } else { $null }
            $target = if ($fmt -ne 'Parquet' -or $null -eq $meanRatio) { '' } elseif ($meanRatio -ge 1.0) { 'met' } else { 'NOT met' }
            $mem = if ($null -eq $peak) { 'n/a' } elseif ($peak -lt 300MB) { 'met' } else { 'NOT met' }
            $null = $x.AppendLine(("| {0} | {1} ({2}-{3}) | {4} | {5} | {6} | {7} | {8} |" -f $fmt, (Format-Rate (($rates | Measure-Object -Average).Average)), (Format-Rate (($rates | Measure-Object -Minimum).Minimum)), (Format-Rate (($rates | Measure-Object -Maximum).Maximum)),
                    (Format-Sec (($ok | Measure-Object Seconds -Average).Average)), (Format-MB $peak),
                    $(if ($fmt -eq 'CSV') { '1 (baseline)' } elseif ($ratios) { '{0} ({1}-{2})' -f (Format-Ratio $meanRatio), (Format-Ratio (($ratios | Measure-Object -Minimum).Minimum)), (Format-Ratio (($ratios | Measure-Object -Maximum).Maximum)) } else { 'n/a' }),
                    $target, $mem))
            foreach ($f in $failed) { $notes.Add("Exports, $engine, $fmt round $($f.Round): $($f.Error)") }
        }
        $null = $x.AppendLine()
        $every = foreach ($fmt in 'CSV', 'gzip CSV', 'Parquet') { '{0}: {1}' -f $fmt, (($rs | Where-Object Format -EQ $fmt | ForEach-Object { if ($_.Error) { 'failed' } else { '{0:N0} rows/s, {1}' -f $_.RowsPerSecond, (Format-MB $_.PeakBytes) } }) -join ' / ') }
        $null = $x.AppendLine("Every run, in round order: $($every -join '; ').").AppendLine()
    }
    if ($exportProbe.Count) {
        $null = $x.AppendLine('### Memory against the Parquet row-group size (SQLite, one load each)').AppendLine()
        $null = $x.AppendLine('The module reads these parts with its own page decoder. Parquet.Net writes each column chunk as a single page, so a page is a whole column of a row group: row groups whose decompressed pages fit in 32 MB are read straight from the pages, larger ones are decoded a column chunk at a time into a spool file and read back from it, so memory follows the largest column chunk (here ResourceId, about 140 bytes a row), not the row group.').AppendLine()
        $null = $x.AppendLine('| row group | parts | rows/s | peak working set |')
        $null = $x.AppendLine('|---:|---:|---:|---:|')
        $main = @($exportResults | Where-Object { $_.Target -eq 'SQLite' -and $_.Format -eq 'Parquet' -and $_.PeakBytes })
        if ($main) { $null = $x.AppendLine(("| {0:N0} rows | {1} | {2} | {3} |" -f $exportInfo.RowGroup, $exportInfo.Parts, (Format-Rate (($main | Measure-Object RowsPerSecond -Average).Average)), (Format-MB (($main | Measure-Object PeakBytes -Maximum).Maximum)))) }
        foreach ($p in $exportProbe) {
            $null = $x.AppendLine(("| {0:N0} rows | {1} | {2} | {3} |" -f $p.RowGroup, $p.Parts, $(if ($p.Error) { 'failed' } else { Format-Rate $p.RowsPerSecond }), (Format-MB $p.PeakBytes)))
            if ($p.Error) { $notes.Add("Exports, row groups of $($p.RowGroup): $($p.Error)") }
        }
        $null = $x.AppendLine()
    }
    $null = $x.AppendLine('Run only this part (it replaces this section of docs/benchmarks.md and keeps the rest): `dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchExportsOnly`.').AppendLine()
    return $x.ToString()
}

# --- PostgreSQL WAL per unit (fsync on) ------------------------------------------------------------------------
$walResults = [System.Collections.Generic.List[object]]::new()
$walVersion = $null
if ($SkipWal -or $SyncOnly -or $ExportsOnly) { if ($SkipWal) { $notes.Add('PostgreSQL WAL: skipped (-SkipWal).') } }
else {
    Write-Host 'PostgreSQL WAL (fsync on)' -ForegroundColor Cyan
    $walFile = $files["$Rows"]
    $wpg = Start-TestPostgres -SharedBuffers '128MB' -Durable -WarningAction SilentlyContinue
    if (-not $wpg -or -not $wpg.PsqlPath) { $notes.Add('PostgreSQL WAL: skipped, no durable throw-away cluster (or no psql).') }
    else {
        try {
            $walVersion = (Invoke-TestPsql $wpg 'show server_version') -join ''
            $settings = (Invoke-TestPsql $wpg "select string_agg(name || '=' || setting, ', ' order by name) from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'wal_compression')") -join ''
            foreach ($kind in 'first load (CREATE TABLE, COPY, index build)', 'reload of the same unit (DELETE, COPY, index kept up to date)') {
                Invoke-TestPsql $wpg 'checkpoint' | Out-Null
                $before = (Invoke-TestPsql $wpg 'select pg_current_wal_lsn()') -join ''
                $ours = Invoke-OurImport -File $walFile.Path -Label $kind -TargetArgs ("-ConnectionString '{0}' -Table WalCost" -f $wpg.ConnectionString)
                $bytes = [long]((Invoke-TestPsql $wpg "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$before')::bigint") -join '')
                $size = [long]((Invoke-TestPsql $wpg "select pg_total_relation_size('public.`"WalCost`"')") -join '')
                $heap = [long]((Invoke-TestPsql $wpg "select pg_relation_size('public.`"WalCost`"')") -join '')
                $walResults.Add([pscustomobject]@{ Kind = $kind; Rows = $ours.Rows; WalBytes = $bytes; WalPerMillion = if ($ours.Rows) { $bytes / $ours.Rows * 1e6 } else { $null }; TableBytes = $size; HeapBytes = $heap; Seconds = $ours.Seconds; RowsPerSecond = $ours.RowsPerSecond; Error = $ours.Error })
                Write-Host ('    WAL {0:N0} MB ({1:N0} MB per million rows); table with index {2:N0} MB' -f ($bytes / 1MB), ($bytes / [Math]::Max(1, $ours.Rows) * 1e6 / 1MB), ($size / 1MB))
            }
            $notes.Add("PostgreSQL WAL cluster: $settings.")
        }
        finally { Stop-TestPostgres $wpg }
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
$null = $md.AppendLine("- PostgreSQL $(if ($pgVersion) { $pgVersion } else { 'n/a' }) (throw-away clusters, shared_buffers 128MB: fsync, synchronous_commit and full_page_writes on in every part, as production runs), sqlite3 $(if ($sqliteVersion) { $sqliteVersion } else { 'n/a' })")
foreach ($f in $files.Values) {
    $null = $md.AppendLine(("- File: {0:N0} EA rows ({1} columns), {2:N0} MB, generated in {3:N1} s (``out/bench/ea-{4}.csv``, seed {5}, month {6})" -f $f.Rows, $columnCount, ($f.Bytes / 1MB), $f.GenerateSeconds, $f.Rows, $Seed, $Month))
}
$null = $md.AppendLine()
$importSection = $null
if ($results.Count) {
    # The report's section on the import benchmarks (also what -ImportOnly puts into an existing report).
    $x = [System.Text.StringBuilder]::new()
    $null = $x.AppendLine('## Import-AzCostToSql against psql \copy and sqlite3 .import').AppendLine()
    $null = $x.AppendLine(("Issue 16 section 3. Each of our imports is one ``Import-AzCostToSql -Path <file> -Scope <scope>`` (no -From/-To, so the files' dates are read first to find the period) in a fresh child pwsh that has only imported the module: the first file of a session, with every cold start that brings. Our time is the cmdlet's own ``Elapsed`` (wall adds starting pwsh and importing the module); the baselines are timed around the shell command: ``psql -c '\copy t from <file> with (format csv, header true)'`` into a table of {0} text columns (no index, no types, no lineage) and ``sqlite3 <db> '.mode csv' '.import <file> t'`` into an untyped table. PostgreSQL runs with production settings (fsync, synchronous_commit and full_page_writes on). Each round runs ours, then the baseline, on the same file; the ratio of a round is the baseline's time over ours (our rows/s over theirs), and the table shows the median of {1} rounds with the lowest and highest. CPU is user + system seconds: ours is the child pwsh during the cmdlet (JIT included) plus, on PostgreSQL, the cluster's processes; the baseline's is the shell tool plus the cluster. This machine is shared with other work: CPU seconds move less than wall time under load." -f $columnCount, [Math]::Max(1, $ImportRounds))).AppendLine()
    $null = $x.AppendLine(("Targets (issue 16): the {0:N0}-row first file at least 0.7 x psql \copy and 0.9 x sqlite3 .import; the {1:N0}-row file at least 0.9 x each; peak working set of the whole child pwsh under 300 MB." -f $SmallRows, $Rows)).AppendLine()
    $null = $x.AppendLine('| database | rows | ours: time (wall) | baseline: time | ratio: median (lowest-highest) | rate target | CPU: ours / baseline (ratio) | JIT-compiled methods | peak working set | memory target 300 MB |')
    $null = $x.AppendLine('|---|---:|---:|---:|---:|:---:|---:|---:|---:|:---:|')
    foreach ($r in $results) {
        $rateOk = if ($null -eq $r.Ratio) { 'n/a' } elseif ($r.Ratio -ge $r.RateTarget) { "$($r.RateTarget): met" } else { "$($r.RateTarget): NOT met" }
        $memOk = if ($null -eq $r.PeakBytes) { 'n/a' } elseif ($r.PeakBytes -lt $MemoryLimit) { 'met' } else { 'NOT met' }
        $null = $x.AppendLine(("| {0} | {1:N0} | {2} ({3}) | {4} | {5} ({6}-{7}) | {8} | {9:N1} s / {10:N1} s ({11}) | {12:N0} | {13} | {14} |" -f $r.Target, $r.File.Rows, (Format-Sec $r.Seconds), (Format-Sec $r.WallSeconds),
                (Format-Sec $r.BaselineSeconds), (Format-Ratio $r.Ratio), (Format-Ratio $r.RatioMin), (Format-Ratio $r.RatioMax), $rateOk,
                $r.OursCpu, $r.BaselineCpu, (Format-Ratio $r.CpuRatio), $r.JitMethods, (Format-MB $r.PeakBytes), $memOk))
    }
    $null = $x.AppendLine()
    foreach ($engine in 'PostgreSQL', 'SQLite') {
        $rs = @($results | Where-Object Target -EQ $engine)
        if ($rs.Count -gt 1 -and $rs[0].PeakBytes -and $rs[-1].PeakBytes) {
            $null = $x.AppendLine(('{0}: memory against file size: {1} at {2:N0} rows, {3} at {4:N0} rows ({5:N2}x the memory for {6:N0}x the rows).' -f $engine, (Format-MB $rs[0].PeakBytes),
                    $rs[0].File.Rows, (Format-MB $rs[-1].PeakBytes), $rs[-1].File.Rows, ($rs[-1].PeakBytes / $rs[0].PeakBytes), ($rs[-1].File.Rows / $rs[0].File.Rows))).AppendLine()
        }
    }
    $null = $x.AppendLine('Where our time goes (median of the rounds, seconds; the engine''s debug stream times each step of a load, and the progress lines tell when each batch of 50,000 rows had been read): reading the header and the dates happens before the database is touched; the rows step is the COPY (PostgreSQL) or the INSERTs (SQLite), the index of a new table kept up to date as they go in; PostgreSQL then analyzes the columns the next load''s DELETE filters on.').AppendLine()
    $steps = [System.Collections.Generic.List[string]]::new()
    foreach ($r in $results) { foreach ($rd in $r.Rounds) { foreach ($k in $rd.Ours.Steps.Keys) { if (-not $steps.Contains($k)) { $steps.Add($k) } } } }
    $null = $x.AppendLine('| database | rows | ' + (($steps | ForEach-Object { $_ }) -join ' | ') + ' | first 50,000 rows read at | each later 50,000 rows |')
    $null = $x.AppendLine('|---|---:|' + (($steps | ForEach-Object { '---:' }) -join '|') + '|---:|---:|')
    foreach ($r in $results) {
        $cells = foreach ($k in $steps) { $v = Get-Median @($r.Rounds | ForEach-Object { if ($_.Ours.Steps.Contains($k)) { $_.Ours.Steps[$k] } }); if ($null -eq $v) { '' } else { '{0:N2}' -f $v } }
        $first = Get-Median @($r.Rounds | ForEach-Object { if (@($_.Ours.Batches).Count) { @($_.Ours.Batches)[0].At } })
        $later = Get-Median @($r.Rounds | ForEach-Object { $b = @($_.Ours.Batches); for ($i = 1; $i -lt $b.Count; $i++) { $b[$i].At - $b[$i - 1].At } })
        $null = $x.AppendLine(("| {0} | {1:N0} | {2} | {3} | {4} |" -f $r.Target, $r.File.Rows, ($cells -join ' | '), $(if ($null -ne $first) { '{0:N2} s' -f $first } else { 'n/a' }), $(if ($null -ne $later) { '{0:N2} s' -f $later } else { 'n/a' })))
    }
    $null = $x.AppendLine()
    $portables = @($results | Where-Object Portable)
    if ($portables.Count) {
        $p = foreach ($r in $portables) {
            if ($r.Portable.Error) { '{0}: failed ({1})' -f $r.Target, $r.Portable.Error }
            else { '{0} {1} (client CPU {2:N1} s, {3:N0} methods JIT-compiled) against {4} (CPU {5:N1} s, {6:N0}) with them' -f $r.Target, (Format-Sec $r.Portable.Seconds), $r.Portable.CpuSeconds, $r.Portable.JitMethods, (Format-Sec $r.Seconds), $r.CpuSeconds, $r.JitMethods }
        }
        $null = $x.AppendLine(('The first file without the ReadyToRun images (one more run with a copy of the module without Dependencies/ReadyToRun: the portable assemblies, compiled by the JIT as they run, which is what PowerShell 7.4 and 7.5 and platforms without images load): {0}.' -f ($p -join '; '))).AppendLine()
    }
    $every = foreach ($r in $results) {
        '{0} {1:N0} rows: {2}' -f $r.Target, $r.File.Rows, (($r.Rounds | ForEach-Object { if ($_.Ours.Error -or -not $_.Baseline) { 'failed' } else { '{0:N2} s / {1:N2} s = {2:N2} (CPU {3:N1} / {4:N1} s)' -f $_.Ours.Seconds, $_.Baseline.Seconds, $_.Ratio, $_.OursCpu, $_.BaselineCpu } }) -join '; ')
    }
    $null = $x.AppendLine('Every round (ours / baseline = ratio): ' + ($every -join '. ') + '.').AppendLine()
    foreach ($r in $results) { foreach ($e in $r.Errors) { $null = $x.AppendLine("- $($r.Target), $($r.File.Rows) rows, $e") } }
    $null = $x.AppendLine('Run only this part (it replaces this section of docs/benchmarks.md and keeps the rest): `dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchImportOnly`.').AppendLine()
    $importSection = $x.ToString()
    $null = $md.Append($importSection)
}
$blobSection = $null
if ($blobResult) {
    $blobSection = Get-BlobSection $blobResult -RateTarget $BlobRateTarget -MemoryLimit $BlobMemoryLimit
    $null = $md.Append($blobSection)
}
if ($syncResults.Count) {
    $syncTotalRows = ($syncFiles | Measure-Object Rows -Sum).Sum
    $syncTotalBytes = ($syncFiles | Measure-Object Bytes -Sum).Sum
    $null = $md.AppendLine('## Sync-AzBilling (the whole job)').AppendLine()
    $null = $md.AppendLine(("{0} subscriptions x 1 closed month ({1}), one report of one blob each: {2:N0} EA rows per blob ({3:N0} rows, {4:N0} MB in all; seeds {5}..{6}). Sync-AzBilling signs in with a client secret (MSAL) and calls Cost Management on the test fixture over HTTPS; each report answers 202 once (Retry-After: 1) and then Completed with a manifest whose blob link is a service-SAS link into Azurite; the blobs are downloaded to ``-WorkingPath``, loaded, recorded in the state table and removed. Client-side API pacing is off (the module's PacingScale test hook set to 0), as in the tests. Each run is a fresh child pwsh into a fresh database (SQLite file, or a new PostgreSQL table), with ``-From {7} -To {8} -PassThru``. Baseline: the same {0} files, already on disk, loaded one after another by ``Import-AzCostToSql -Path`` in one child pwsh. Setup (generate and upload) took {9:N1} s." -f
            $syncFiles.Count, $SyncMonth, $SyncRows, $syncTotalRows, ($syncTotalBytes / 1MB), ($Seed + 1), ($Seed + $syncFiles.Count), $syncFrom, $syncTo, $syncSetupSeconds)).AppendLine()
    $null = $md.AppendLine('Time is the call itself (a stopwatch around `Sync-AzBilling`, or around the baseline''s imports: sign-in, reports, downloads and loads); wall adds starting pwsh and importing the module. Rows/s is rows over time. Every run is checked: rows per subscription counted in the table by the database''s own shell (sqlite3, psql) must equal the rows of that subscription''s file, and the command''s own row count must agree. Peak working set is the child''s VmHWM. Each run was repeated ' + "$([Math]::Max(1, $SyncRepeat))" + ' times (rounds of the baseline and each -ThrottleLimit in turn): times are the mean of the rounds, peak working set the highest. Per unit: mean seconds per (scope, month) for the report (request and polling), the download, and the load (waiting for a load slot included: `-ThrottleLimit` loads at once into PostgreSQL, whose cluster runs with production durability (fsync, synchronous_commit and full_page_writes on), one at a time into SQLite, which has one writer).').AppendLine()
    if ($syncIdlePeak) { $null = $md.AppendLine(("A child pwsh that only imports the module peaks at {0}." -f (Format-MB $syncIdlePeak))).AppendLine() }
    foreach ($engine in 'SQLite', 'PostgreSQL') {
        $rs = @($syncResults | Where-Object Target -EQ $engine)
        if (-not $rs) { continue }
        $null = $md.AppendLine("### $engine").AppendLine()
        $null = $md.AppendLine('| run | rows loaded (checked) | time (wall) | rows/s | peak working set | time vs baseline | memory vs baseline | per unit: report / download / load |')
        $null = $md.AppendLine('|---|---:|---:|---:|---:|---:|---:|---:|')
        foreach ($r in $rs) {
            $run = if ($r.Kind -eq 'Baseline') { "baseline: Import-AzCostToSql -Path x $($syncFiles.Count)" } else { "Sync-AzBilling -ThrottleLimit $($r.ThrottleLimit)" }
            $rowsText = if ($r.Error) { 'FAILED' } else { '{0:N0} (yes)' -f $r.RowsInTable }
            $stages = if ($r.Kind -eq 'Sync' -and $null -ne $r.Report) { '{0:N1} / {1:N1} / {2:N1} s' -f $r.Report, $r.Download, $r.Load } else { '' }
            $null = $md.AppendLine(("| {0} | {1} | {2} ({3}) | {4} | {5} | {6} | {7} | {8} |" -f $run, $rowsText, (Format-Sec $r.Seconds), (Format-Sec $r.WallSeconds),
                    (Format-Rate $r.RowsPerSecond), (Format-MB $r.PeakBytes), $(if ($r.Kind -eq 'Baseline') { '1' } else { Format-Ratio $r.TimeRatio }),
                    $(if ($r.Kind -eq 'Baseline') { '1' } else { Format-Ratio $r.MemoryRatio }), $stages))
        }
        $null = $md.AppendLine()
        $every = foreach ($r in $rs) {
            '{0}: {1}' -f $(if ($r.Kind -eq 'Baseline') { 'baseline' } else { "-ThrottleLimit $($r.ThrottleLimit)" }),
                (($r.Runs | ForEach-Object { if ($_.Error) { 'failed' } else { '{0:N1} s, {1}' -f $_.Seconds, (Format-MB $_.PeakBytes) } }) -join ' / ')
        }
        $null = $md.AppendLine("Every run: $($every -join '; ').").AppendLine()
        foreach ($r in $rs) {
            if ($r.Error) { $null = $md.AppendLine("- $engine, $(if ($r.Kind -eq 'Baseline') { 'baseline' } else { "-ThrottleLimit $($r.ThrottleLimit)" }): $($r.Error)") }
            if ($r.Kind -eq 'Sync' -and $r.FilesLeft) { $null = $md.AppendLine("- $engine, -ThrottleLimit $($r.ThrottleLimit): $($r.FilesLeft) file(s) left in the working folder after the run.") }
        }
        if (@($rs | Where-Object { $_.Error -or ($_.Kind -eq 'Sync' -and $_.FilesLeft) }).Count) { $null = $md.AppendLine() }
    }
}
if ($scheduleSection) {
    $i = $scheduleSection.IndexOf("`n`n")
    $scheduleSection = $scheduleSection.Substring(0, $i) + "`n`nRun: $when, AzBillingPS $moduleVersion (source $commit), $([Environment]::ProcessorCount) cores." + $scheduleSection.Substring($i)
    $null = $md.Append($scheduleSection)
}
$exportsSection = if (-not $SkipExports) { Get-ExportsSection }
if ($exportsSection) { $null = $md.Append($exportsSection) }
if ($walResults.Count) {
    $null = $md.AppendLine('## PostgreSQL write-ahead log per unit (fsync on)').AppendLine()
    $null = $md.AppendLine(("PostgreSQL {0}, a throw-away cluster with fsync, synchronous_commit and full_page_writes on (shared_buffers 128MB). Our import of the {1:N0}-row file (one unit, one transaction) into a new table, then the same unit again; WAL is ``pg_wal_lsn_diff`` of ``pg_current_wal_lsn()`` around each (a checkpoint before each, so full-page images count as in production). The table's size (heap, TOAST and the index) is measured after each load. docs/sqlserver.md uses these to size SQL Server's log for a large unit." -f $walVersion, $Rows)).AppendLine()
    $null = $md.AppendLine('| load | rows | WAL | WAL per million rows | table with index | WAL / table | time | rows/s |')
    $null = $md.AppendLine('|---|---:|---:|---:|---:|---:|---:|---:|')
    foreach ($w in $walResults) {
        $null = $md.AppendLine(("| {0} | {1:N0} | {2:N0} MB | {3:N0} MB | {4:N0} MB | {5} | {6} | {7} |" -f $w.Kind, $w.Rows, ($w.WalBytes / 1MB), ($w.WalPerMillion / 1MB), ($w.TableBytes / 1MB),
                $(if ($w.TableBytes) { Format-Ratio ($w.WalBytes / $w.TableBytes) } else { 'n/a' }), (Format-Sec $w.Seconds), (Format-Rate $w.RowsPerSecond)))
    }
    $null = $md.AppendLine()
    foreach ($w in $walResults) { if ($w.Error) { $null = $md.AppendLine("- $($w.Kind) failed: $($w.Error)") } }
}
if ($notes.Count) {
    $null = $md.AppendLine('## Notes').AppendLine()
    foreach ($n in $notes) { $null = $md.AppendLine("- $n") }
    $null = $md.AppendLine()
}
$null = $md.AppendLine('## How to run').AppendLine()
$null = $md.AppendLine('```powershell').AppendLine('dotnet tool restore').AppendLine('dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench            # 1,000,000 rows').AppendLine('dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchRows 200000').AppendLine('# only the Sync-AzBilling part (writes the report given, not this file):').AppendLine('dotnet pwsh -NoProfile -File ./bench/Invoke-Benchmarks.ps1 -ModulePath ./out/AzBillingPS/0.1.0/AzBillingPS.psd1 -SyncOnly -ReportPath ./out/bench/sync.md').AppendLine('# only the PostgreSQL WAL measurement:').AppendLine('dotnet pwsh -NoProfile -File ./bench/Invoke-Benchmarks.ps1 -ModulePath ./out/AzBillingPS/0.1.0/AzBillingPS.psd1 -WalOnly -ReportPath ./out/bench/wal.md').AppendLine('# only the import part, issue 16 section 3 (replaces its section of this file, keeps the rest):').AppendLine('dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchImportOnly').AppendLine('# only the blob download part, issue 16 section 4 (replaces its section of this file, keeps the rest):').AppendLine('dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchBlobOnly').AppendLine('# only the exports part (replaces its section of this file, keeps the rest):').AppendLine('dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchExportsOnly').AppendLine('# only the report scheduling part, issue 16 section 1 (replaces its section of this file, keeps the rest):').AppendLine('dotnet pwsh -NoProfile -File ./build.ps1 -Task Bench -BenchScheduleOnly').AppendLine('```')
New-Item -ItemType Directory -Force (Split-Path $ReportPath) | Out-Null
function Set-ReportSection {
    # Replaces one section of an existing report (the first of -Patterns that matches, up to the next '## '), or adds it
    # before the first heading matching -Before (at the end when none does); the other sections keep their run.
    param([string] $Path, [string] $Section, [string[]] $Patterns, [string] $Before)
    $old = Get-Content -Raw -LiteralPath $Path
    $m = $null
    foreach ($p in $Patterns) { $m = [regex]::Match($old, $p); if ($m.Success) { break } }
    $new = if ($m.Success) { $old.Substring(0, $m.Index) + $Section + "`n" + $old.Substring($m.Index + $m.Length) }
    else {
        $at = [regex]::Match($old, $Before)
        if ($at.Success) { $old.Substring(0, $at.Index) + $Section + "`n" + $old.Substring($at.Index) } else { $old.TrimEnd() + "`n`n" + $Section }
    }
    Set-Content -LiteralPath $Path -Value $new.TrimEnd() -Encoding utf8NoBOM
}

if ($ImportOnly -and $importSection -and (Test-Path -LiteralPath $ReportPath)) {
    # Only the import section is replaced (or added after the run lines).
    $section = $importSection.TrimEnd() + "`n"
    $importNotes = @($notes | Where-Object { $_ -notmatch 'skipped \(-Skip(Blob|Sync|Exports|Wal)\)' })
    if ($importNotes.Count) { $section += "`nNotes on this run: " + ($importNotes -join ' ') + "`n" }
    $section = $section.Replace('Issue 16 section 3.', "Issue 16 section 3; this section was run on its own: $when, AzBillingPS $moduleVersion (source $commit), PostgreSQL $pgVersion, sqlite3 $sqliteVersion, files of $(($files.Values | ForEach-Object { '{0:N0}' -f $_.Rows }) -join ' and ') EA rows.")
    # The second pattern is the layout before issue 16.
    Set-ReportSection $ReportPath $section @('(?ms)^## Import-AzCostToSql against psql.*?(?=^## |\z)', '(?ms)^## PostgreSQL\r?\n.*?^## SQLite\r?\n.*?(?=^## |\z)') '(?m)^## '
}
elseif ($BlobOnly -and $blobSection -and (Test-Path -LiteralPath $ReportPath)) {
    # Only the blob section is replaced (or added before Sync / Notes / How to run).
    $section = $blobSection.TrimEnd() + "`n"
    $blobNotes = @($notes | Where-Object { $_ -notmatch 'skipped \(-Skip(Postgres|Sqlite|Sync|Exports|Wal)\)' })
    if ($blobNotes.Count) { $section += "`nNotes on this run: " + ($blobNotes -join ' ') + "`n" }
    $section = $section.Replace('Issue 16 section 4.', "Issue 16 section 4; this section was run on its own: $when, AzBillingPS $moduleVersion (source $commit).")
    Set-ReportSection $ReportPath $section @('(?ms)^## Blob download \(Save-AzCostBlob\).*?(?=^## |\z)') '(?m)^## (Sync-AzBilling|Notes|How to run)'
}
elseif ($ScheduleOnly -and $scheduleSection -and (Test-Path -LiteralPath $ReportPath)) {
    # Only the scheduling section is replaced (or added before the exports, Notes or How to run); the others keep their run.
    $section = $scheduleSection.TrimEnd() + "`n"
    $scheduleNotes = @($notes | Where-Object { $_ -like 'Report scheduling*' })
    if ($scheduleNotes.Count) { $section += "`nNotes on this run: " + ($scheduleNotes -join ' ') + "`n" }
    Set-ReportSection $ReportPath $section @('(?ms)^## Sync-AzBilling: reports scheduled against the API''s limits.*?(?=^## |\z)') '(?m)^## (Cost Management exports|PostgreSQL write-ahead|Notes|How to run)'
}
elseif ($ExportsOnly -and (Test-Path -LiteralPath $ReportPath)) {
    # Only the exports section is replaced (or added before Notes / How to run).
    $section = $exportsSection.TrimEnd() + "`n"
    if ($notes.Count) { $section += "`nNotes on this run: " + ($notes -join ' ') + "`n" }
    Set-ReportSection $ReportPath $section @('(?ms)^## Cost Management exports \(Import-AzCostExport\).*?(?=^## |\z)') '(?m)^## (Notes|How to run)'
}
else {
    Set-Content -LiteralPath $ReportPath -Value $md.ToString().TrimEnd() -Encoding utf8NoBOM
}

$json = [ordered]@{
    When = $when; Module = $moduleVersion; Files = @($files.Values); Notes = @($notes)
    Results = @($results | ForEach-Object { [ordered]@{ Target = $_.Target; Rows = $_.File.Rows; Portable = $(if ($_.Portable) { $_.Portable | Select-Object * -ExcludeProperty Batches }); Ratio = $_.Ratio; RatioMin = $_.RatioMin; RatioMax = $_.RatioMax; CpuRatio = $_.CpuRatio; RateTarget = $_.RateTarget; PeakBytes = $_.PeakBytes; Rounds = @($_.Rounds | ForEach-Object { [ordered]@{ Round = $_.Round; Ratio = $_.Ratio; Ours = ($_.Ours | Select-Object * -ExcludeProperty Batches); Baseline = $_.Baseline; OursCpu = $_.OursCpu; BaselineCpu = $_.BaselineCpu } }) } })
    Blob = $blobResult
    Wal = @($walResults)
    Sync = [ordered]@{ Month = $SyncMonth; Files = @($syncFiles | Select-Object Index, Scope, Path, Rows, Bytes); IdlePeakBytes = $syncIdlePeak; Results = @($syncResults | Select-Object * -ExcludeProperty Runs); Runs = @($syncRaw) }
    Schedule = if ($scheduleResult) { [ordered]@{ Settings = $scheduleResult.Settings; Runs = @($scheduleResult.Runs) } }
    Exports = [ordered]@{ Info = $exportInfo; Results = @($exportResults); RowGroups = @($exportProbe) }
}
$json | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath (Join-Path $OutDir 'results.json') -Encoding utf8NoBOM
foreach ($n in $notes) { Write-Host $n -ForegroundColor Yellow }
Write-Host "Report: $ReportPath" -ForegroundColor Green
