#Requires -Version 7.4
<#
.SYNOPSIS
    Shared helpers for the AzBillingPS Pester tests and the benchmarks.
.DESCRIPTION
    Throw-away PostgreSQL clusters (Start-TestPostgres, Stop-TestPostgres, Invoke-TestPsql), child PowerShell
    processes that import the built module (Invoke-ChildPwsh), the test-data generator (Get-TestDataGenerator,
    New-TestCostFile) and an independent per-day cost sum of a CSV file (Get-CsvDailySum).

    Environment read: AZBILLING_REPO_ROOT (repository root; defaults to two folders above this file),
    AZBILLING_MODULE_PATH (the built AzBillingPS.psd1 that child processes import), AZBILLING_TEST_PG_BIN
    (folder holding initdb and pg_ctl; otherwise /usr/lib/postgresql/*/bin, newest first, then PATH).
#>
Set-StrictMode -Version 3.0

function Get-TestRepoRoot {
    if ($env:AZBILLING_REPO_ROOT) { return $env:AZBILLING_REPO_ROOT }
    return (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
}

function Test-TestIsRoot {
    if (-not $IsLinux -and -not $IsMacOS) { return $false }
    return ((& id -u) -eq '0')
}

#region PowerShell child processes

function Get-TestPwshCommand {
    <#
    .SYNOPSIS
        The executable (and leading arguments) that starts the same PowerShell as this one.
    .DESCRIPTION
        Under 'dotnet pwsh' (the repo's tool manifest) the process is dotnet itself, so the child must be started
        as 'dotnet <PSHOME>/pwsh.dll'.
    #>
    [CmdletBinding()]
    param()
    $process = [Environment]::ProcessPath
    if (-not $process) { $process = (Get-Process -Id $PID).Path }
    if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') {
        return [pscustomobject]@{ FilePath = $process; Arguments = @(Join-Path $PSHOME 'pwsh.dll') }
    }
    return [pscustomobject]@{ FilePath = $process; Arguments = @() }
}

function Get-TestPeakMemory {
    # Peak resident set (VmHWM) of a live process in bytes, or $null where /proc is not available.
    param([int] $ProcessId)
    $status = "/proc/$ProcessId/status"
    try {
        foreach ($line in [IO.File]::ReadAllLines($status)) {
            if ($line.StartsWith('VmHWM:')) {
                return [long]($line -replace '\D', '') * 1024
            }
        }
    }
    catch [System.IO.IOException], [System.UnauthorizedAccessException] { }
    return $null
}

function Invoke-ChildPwsh {
    <#
    .SYNOPSIS
        Runs a script in a fresh 'pwsh -NoProfile -NonInteractive' that first imports $env:AZBILLING_MODULE_PATH.
    .OUTPUTS
        ExitCode, StdOut, StdErr, Output (stdout lines), TimedOut, Duration, ProcessId,
        PeakWorkingSetBytes (peak resident set of the child, polled from /proc/<pid>/status VmHWM on Linux).
    .EXAMPLE
        $r = Invoke-ChildPwsh -Script 'Get-Command -Module AzBillingPS | Measure-Object | % Count'
        $r.ExitCode | Should -Be 0
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Script,
        # Variables to set (a $null value removes the variable) on top of this process's environment.
        [hashtable] $Environment = @{},
        [int] $TimeoutSeconds = 300,
        # Do not import the module first.
        [switch] $NoImport,
        [string] $WorkingDirectory = (Get-Location).ProviderPath
    )
    $pwsh = Get-TestPwshCommand
    $file = Join-Path ([IO.Path]::GetTempPath()) ("azb-child-$([guid]::NewGuid().ToString('N')).ps1")
    $prelude = if ($NoImport) { '' } else {
        "if (`$env:AZBILLING_MODULE_PATH) { Import-Module `$env:AZBILLING_MODULE_PATH -ErrorAction Stop }`n"
    }
    Set-Content -LiteralPath $file -Value ($prelude + $Script) -Encoding utf8NoBOM

    $psi = [Diagnostics.ProcessStartInfo]::new($pwsh.FilePath)
    foreach ($a in $pwsh.Arguments) { $psi.ArgumentList.Add($a) }
    foreach ($a in '-NoProfile', '-NonInteractive', '-File', $file) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.WorkingDirectory = $WorkingDirectory
    $psi.StandardOutputEncoding = [Text.UTF8Encoding]::new($false)
    $psi.StandardErrorEncoding = [Text.UTF8Encoding]::new($false)
    foreach ($k in $Environment.Keys) {
        if ($null -eq $Environment[$k]) { [void] $psi.Environment.Remove($k) }
        else { $psi.Environment[$k] = [string] $Environment[$k] }
    }

    $watch = [Diagnostics.Stopwatch]::StartNew()
    $p = [Diagnostics.Process]::Start($psi)
    try {
        $p.StandardInput.Close()
        $outTask = $p.StandardOutput.ReadToEndAsync()
        $errTask = $p.StandardError.ReadToEndAsync()
        $peak = $null
        $timedOut = $false
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        while (-not $p.WaitForExit(50)) {
            $m = Get-TestPeakMemory -ProcessId $p.Id
            if ($null -ne $m -and ($null -eq $peak -or $m -gt $peak)) { $peak = $m }
            if ([DateTime]::UtcNow -gt $deadline) {
                $timedOut = $true
                $p.Kill($true)
                [void] $p.WaitForExit(10000)
                break
            }
        }
        $p.WaitForExit()
        $watch.Stop()
        if ($null -eq $peak -and -not $IsLinux) {
            try { $peak = $p.PeakWorkingSet64 } catch { $peak = $null }
        }
        $stdout = $outTask.GetAwaiter().GetResult()
        $stderr = $errTask.GetAwaiter().GetResult()
        return [pscustomobject]@{
            ExitCode            = if ($timedOut) { -1 } else { $p.ExitCode }
            StdOut              = $stdout
            StdErr              = $stderr
            Output              = @($stdout -split '\r?\n' | Where-Object { $_ -ne '' })
            TimedOut            = $timedOut
            Duration            = $watch.Elapsed
            ProcessId           = $p.Id
            PeakWorkingSetBytes = $peak
        }
    }
    finally {
        $p.Dispose()
        Remove-Item -LiteralPath $file -ErrorAction SilentlyContinue
    }
}

#endregion

#region PostgreSQL

function Get-TestPgBin {
    <#
    .SYNOPSIS
        The folder holding initdb and pg_ctl, or $null.
    #>
    [CmdletBinding()]
    param()
    $candidates = @()
    if ($env:AZBILLING_TEST_PG_BIN) { $candidates += $env:AZBILLING_TEST_PG_BIN }
    $candidates += Get-ChildItem '/usr/lib/postgresql/*/bin' -Directory -ErrorAction SilentlyContinue |
        Sort-Object { [int]($_.Parent.Name -replace '\D', '') } -Descending | ForEach-Object FullName
    foreach ($c in $candidates) {
        if ((Test-Path (Join-Path $c 'initdb')) -and (Test-Path (Join-Path $c 'pg_ctl'))) { return $c }
    }
    $initdb = Get-Command initdb -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($initdb) { return (Split-Path $initdb.Source) }
    return $null
}

function Get-TestPsqlPath {
    param([string] $PgBin)
    if ($PgBin -and (Test-Path (Join-Path $PgBin 'psql'))) { return (Join-Path $PgBin 'psql') }
    $psql = Get-Command psql -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($psql) { return $psql.Source }
    return $null
}

function Get-FreeTcpPort {
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { return ([Net.IPEndPoint] $listener.LocalEndpoint).Port } finally { $listener.Stop() }
}

function Invoke-PgTool {
    # Runs a PostgreSQL server tool, as the 'postgres' system user when we are root (initdb and pg_ctl refuse root).
    param([string] $Tool, [string[]] $Arguments, [switch] $AsPostgres)
    if ($AsPostgres) {
        $out = & runuser -u postgres -- $Tool @Arguments 2>&1
    }
    else {
        $out = & $Tool @Arguments 2>&1
    }
    return [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out | Out-String) }
}

function Start-TestPostgres {
    <#
    .SYNOPSIS
        Starts a throw-away PostgreSQL cluster on a free loopback port; returns $null (with a warning) if it cannot.
    .OUTPUTS
        Port, DataDir, Root (temp folder), SocketDir, ConnectionString (Npgsql form), PsqlPath, PgBin, AsPostgres.
    .EXAMPLE
        $pg = Start-TestPostgres; try { Invoke-TestPsql $pg 'select 1' } finally { Stop-TestPostgres $pg }
    #>
    [CmdletBinding()]
    param(
        [string] $SharedBuffers = '32MB',
        [int] $TimeoutSeconds = 60,
        # Production durability (fsync, synchronous_commit and full_page_writes on), for benchmarks; tests run without.
        [switch] $Durable
    )
    $bin = Get-TestPgBin
    if (-not $bin) {
        Write-Warning 'PostgreSQL tests skipped: no initdb/pg_ctl (install the postgresql package or set AZBILLING_TEST_PG_BIN).'
        return $null
    }
    $asPostgres = Test-TestIsRoot
    if ($asPostgres) {
        $hasUser = $null -ne (& getent passwd postgres 2>$null)
        if (-not $hasUser -or -not (Get-Command runuser -ErrorAction SilentlyContinue)) {
            Write-Warning 'PostgreSQL tests skipped: running as root, and there is no postgres system user (or no runuser) to run initdb as.'
            return $null
        }
    }
    $psql = Get-TestPsqlPath -PgBin $bin

    $root = Join-Path ([IO.Path]::GetTempPath()) ("azb-pg-$([guid]::NewGuid().ToString('N').Substring(0, 12))")
    $data = Join-Path $root 'data'
    $sock = Join-Path $root 'sock'
    $log = Join-Path $root 'postgres.log'
    New-Item -ItemType Directory -Force -Path $root, $sock | Out-Null
    if ($asPostgres) { & chown -R postgres:postgres $root }

    $r = Invoke-PgTool (Join-Path $bin 'initdb') @('-D', $data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8',
        '--locale=C', '--no-sync') -AsPostgres:$asPostgres
    if ($r.ExitCode -ne 0) {
        Write-Warning "PostgreSQL tests skipped: initdb failed ($($r.ExitCode)): $($r.Output)"
        Remove-Item -Recurse -Force $root -ErrorAction SilentlyContinue
        return $null
    }

    for ($attempt = 1; $attempt -le 3; $attempt++) {
        $port = Get-FreeTcpPort
        # Appended settings win over earlier ones in postgresql.conf.
        $conf = @"

# Start-TestPostgres (attempt $attempt)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
fsync = $(if ($Durable) { 'on' } else { 'off' })
synchronous_commit = $(if ($Durable) { 'on' } else { 'off' })
full_page_writes = $(if ($Durable) { 'on' } else { 'off' })
shared_buffers = $SharedBuffers
max_connections = 40
max_wal_size = 1GB
logging_collector = off
"@
        Add-Content -LiteralPath (Join-Path $data 'postgresql.conf') -Value $conf -Encoding utf8NoBOM
        $r = Invoke-PgTool (Join-Path $bin 'pg_ctl') @('-D', $data, '-l', $log, '-w', '-t', "$TimeoutSeconds", '-s', 'start') -AsPostgres:$asPostgres
        if ($r.ExitCode -eq 0) {
            $pg = [pscustomobject]@{
                PSTypeName       = 'AzBillingPS.TestPostgres'
                Port             = $port
                Root             = $root
                DataDir          = $data
                SocketDir        = $sock
                LogPath          = $log
                ConnectionString = "Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
                PsqlPath         = $psql
                PgBin            = $bin
                AsPostgres       = $asPostgres
            }
            # pg_ctl -w already waited; make sure TCP answers too.
            $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
            $ready = Join-Path $bin 'pg_isready'
            while ((Test-Path $ready) -and [DateTime]::UtcNow -lt $deadline) {
                & $ready -q -h 127.0.0.1 -p $port -U postgres
                if ($LASTEXITCODE -eq 0) { break }
                Start-Sleep -Milliseconds 100
            }
            return $pg
        }
    }
    $tail = if (Test-Path $log) { (Get-Content $log -Tail 20) -join "`n" } else { $r.Output }
    Write-Warning "PostgreSQL tests skipped: pg_ctl start failed: $tail"
    Remove-Item -Recurse -Force $root -ErrorAction SilentlyContinue
    return $null
}

function Stop-TestPostgres {
    <#
    .SYNOPSIS
        Stops a cluster from Start-TestPostgres (pg_ctl stop -m immediate) and removes its folder.
    #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] [object] $Postgres)
    if ($null -eq $Postgres) { return }
    $null = Invoke-PgTool (Join-Path $Postgres.PgBin 'pg_ctl') @('-D', $Postgres.DataDir, '-m', 'immediate', '-s', '-w', 'stop') -AsPostgres:$Postgres.AsPostgres
    Remove-Item -Recurse -Force -LiteralPath $Postgres.Root -ErrorAction SilentlyContinue
}

function Invoke-TestPsql {
    <#
    .SYNOPSIS
        Runs SQL with psql -X -At -F '|' against a Start-TestPostgres cluster; returns the output rows as strings
        (fields separated by '|'), or arrays of fields with -Split. Throws when psql fails.
    .EXAMPLE
        Invoke-TestPsql $pg 'select count(*) from costs'
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [object] $Postgres,
        [Parameter(Mandatory, Position = 1)] [string] $Sql,
        [string] $Database = 'postgres',
        [switch] $Split
    )
    if (-not $Postgres.PsqlPath) { throw 'psql was not found next to initdb or on PATH.' }
    $out = & $Postgres.PsqlPath -X -q -h 127.0.0.1 -p $Postgres.Port -U postgres -d $Database -At -F '|' `
        -v ON_ERROR_STOP=1 -c $Sql 2>&1
    if ($LASTEXITCODE -ne 0) { throw "psql failed ($LASTEXITCODE): $($out | Out-String)" }
    foreach ($line in $out) {
        $s = [string] $line
        if ($Split) { , ($s -split '\|') } else { $s }
    }
}

#endregion

#region Test data

function Get-TestDotnet {
    $process = [Environment]::ProcessPath
    if ($process -and [IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { return $process }
    $cmd = Get-Command dotnet -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($cmd) { return $cmd.Source }
    if ($env:DOTNET_ROOT -and (Test-Path (Join-Path $env:DOTNET_ROOT 'dotnet'))) { return (Join-Path $env:DOTNET_ROOT 'dotnet') }
    throw 'dotnet was not found.'
}

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

#endregion

#region Azurite (Azure Storage emulator) for blob tests

# Azurite's well-known development account (public, documented by Microsoft for the emulator only).
$script:AzuriteAccount = 'devstoreaccount1'
$script:AzuriteKey = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
$script:AzuriteHttp = $null

function Get-TestAzuritePath {
    <#
    .SYNOPSIS
        The azurite-blob executable, or $null. $env:AZBILLING_TEST_AZURITE (azurite-blob, or azurite next to it) first,
        then out/node/node_modules/.bin/azurite-blob (tests/Prerequisites.ps1 and .ci/run install it there with npm).
    #>
    [CmdletBinding()]
    param()
    $candidates = @()
    if ($env:AZBILLING_TEST_AZURITE) {
        $candidates += $env:AZBILLING_TEST_AZURITE
        $candidates += Join-Path (Split-Path $env:AZBILLING_TEST_AZURITE) 'azurite-blob'
    }
    $candidates += Join-Path (Get-TestRepoRoot) 'out/node/node_modules/.bin/azurite-blob'
    foreach ($c in $candidates) {
        if ((Split-Path $c -Leaf) -eq 'azurite-blob' -and (Test-Path -LiteralPath $c)) { return (Resolve-Path -LiteralPath $c).Path }
    }
    return $null
}

function Get-TestAzuriteHttpClient {
    if (-not $script:AzuriteHttp) {
        $handler = [Net.Http.HttpClientHandler]::new()
        $handler.UseProxy = $false
        # The test's own uploads to a loopback Azurite (http, or https with a certificate made by Start-TestAzurite -OAuth).
        $handler.ServerCertificateCustomValidationCallback = [Net.Http.HttpClientHandler]::DangerousAcceptAnyServerCertificateValidator
        $script:AzuriteHttp = [Net.Http.HttpClient]::new($handler)
        $script:AzuriteHttp.Timeout = [TimeSpan]::FromMinutes(10)
    }
    return $script:AzuriteHttp
}

function Start-TestAzurite {
    <#
    .SYNOPSIS
        Starts Azurite's blob service on a free loopback port with its data in a new temporary folder; returns $null
        (with a warning) when Azurite is not installed or does not start.
    .OUTPUTS
        Process, Port, Endpoint (http://127.0.0.1:<port>/devstoreaccount1), Account, Key, Location.
    .EXAMPLE
        $az = Start-TestAzurite; try { New-TestBlob $az -Name a.csv -Path ./a.csv } finally { Stop-TestAzurite $az }
    #>
    [CmdletBinding()]
    param(
        [int] $TimeoutSeconds = 60,
        # Serve https with Entra token (OAuth) sign-in besides SAS: Azurite's --oauth basic, with a loopback certificate from
        # a CA made here. The result's CaPem is that CA (add it to a child's SSL_CERT_FILE bundle to trust Azurite).
        [switch] $OAuth
    )
    $bin = Get-TestAzuritePath
    if (-not $bin) {
        Write-Warning 'Blob tests skipped: Azurite is not installed (npm install in out/node from tests/package.json, or set AZBILLING_TEST_AZURITE).'
        return $null
    }
    $node = Get-Command node -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $node) {
        Write-Warning 'Blob tests skipped: node is not on PATH, so Azurite cannot run.'
        return $null
    }
    $lastError = $null
    for ($attempt = 1; $attempt -le 3; $attempt++) {
        $port = Get-FreeTcpPort
        $location = Join-Path ([IO.Path]::GetTempPath()) ("azb-azurite-$([guid]::NewGuid().ToString('N').Substring(0, 12))")
        New-Item -ItemType Directory -Force $location | Out-Null
        $extra = @()
        $caPem = $null
        if ($OAuth) {
            $ca = New-TestFixtureCertificate -Subject 'CN=AzBillingPS Azurite Test CA' -Ca
            $server = New-TestFixtureCertificate -Subject 'CN=127.0.0.1' -Server -Issuer $ca -NotAfterDays 1
            $certFile = Join-Path $location 'azurite-cert.pem'
            $keyFile = Join-Path $location 'azurite-key.pem'
            [IO.File]::WriteAllText($certFile, $server.ExportCertificatePem())
            [IO.File]::WriteAllText($keyFile, [Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($server).ExportPkcs8PrivateKeyPem())
            $caPem = $ca.ExportCertificatePem()
            $extra = @('--oauth', 'basic', '--cert', $certFile, '--key', $keyFile)
        }
        $psi = [Diagnostics.ProcessStartInfo]::new($node.Source)
        foreach ($a in @($bin, '--blobHost', '127.0.0.1', '--blobPort', "$port", '--location', $location, '--silent',
                '--skipApiVersionCheck', '--loose') + $extra) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.RedirectStandardInput = $true
        $p = [Diagnostics.Process]::Start($psi)
        $out = $p.StandardOutput.ReadToEndAsync()
        $err = $p.StandardError.ReadToEndAsync()
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
        $ready = $false
        while (-not $p.HasExited -and [DateTime]::UtcNow -lt $deadline) {
            $client = [Net.Sockets.TcpClient]::new()
            try { $client.Connect([Net.IPAddress]::Loopback, $port); $ready = $true } catch { } finally { $client.Dispose() }
            if ($ready) { break }
            Start-Sleep -Milliseconds 100
        }
        if ($ready) {
            return [pscustomobject]@{
                PSTypeName = 'AzBillingPS.TestAzurite'
                Process    = $p
                Port       = $port
                Endpoint   = "$(if ($OAuth) { 'https' } else { 'http' })://127.0.0.1:$port/$($script:AzuriteAccount)"
                Account    = $script:AzuriteAccount
                CaPem      = $caPem
                Key        = $script:AzuriteKey
                Location   = $location
                StdOut     = $out
                StdErr     = $err
            }
        }
        if (-not $p.HasExited) { $p.Kill($true); [void] $p.WaitForExit(5000) }
        $lastError = "exit code $(if ($p.HasExited) { $p.ExitCode } else { 'none (timed out)' }): $($err.GetAwaiter().GetResult()) $($out.GetAwaiter().GetResult())".Trim()
        $p.Dispose()
        Remove-Item -Recurse -Force -LiteralPath $location -ErrorAction SilentlyContinue
    }
    Write-Warning "Blob tests skipped: Azurite did not start ($lastError)."
    return $null
}

function Stop-TestAzurite {
    <#
    .SYNOPSIS
        Stops an Azurite started by Start-TestAzurite (its own process only) and removes its data folder.
    #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] [object] $Azurite)
    if ($null -eq $Azurite) { return }
    try {
        if (-not $Azurite.Process.HasExited) { $Azurite.Process.Kill($true); [void] $Azurite.Process.WaitForExit(10000) }
    }
    catch [InvalidOperationException] { }
    $Azurite.Process.Dispose()
    Remove-Item -Recurse -Force -LiteralPath $Azurite.Location -ErrorAction SilentlyContinue
}

function ConvertTo-TestSasTime([datetime] $Time) {
    return $Time.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [cultureinfo]::InvariantCulture)
}

function Get-TestHmacSignature([string] $Key, [string] $StringToSign) {
    $hmac = [Security.Cryptography.HMACSHA256]::new([Convert]::FromBase64String($Key))
    try { return [Convert]::ToBase64String($hmac.ComputeHash([Text.Encoding]::UTF8.GetBytes($StringToSign))) } finally { $hmac.Dispose() }
}

function Get-TestAccountSas {
    # An account SAS (version 2022-11-02) for the test's own uploads: every permission on containers and objects.
    param([object] $Azurite, [datetime] $Expiry = [DateTime]::UtcNow.AddHours(2))
    $sv = '2022-11-02'; $sp = 'rwdlacup'; $ss = 'b'; $srt = 'sco'; $se = ConvertTo-TestSasTime $Expiry
    $toSign = ($Azurite.Account, $sp, $ss, $srt, '', $se, '', '', $sv, '', '') -join "`n"
    $sig = Get-TestHmacSignature $Azurite.Key $toSign
    return "sv=$sv&ss=$ss&srt=$srt&sp=$sp&se=$([Uri]::EscapeDataString($se))&sig=$([Uri]::EscapeDataString($sig))"
}

function Invoke-TestAzuriteRequest {
    param([object] $Azurite, [string] $Method, [string] $Url, [Net.Http.HttpContent] $Content, [hashtable] $Headers = @{}, [int[]] $Ok = @(200, 201, 202))
    $req = [Net.Http.HttpRequestMessage]::new([Net.Http.HttpMethod]::new($Method), $Url)
    $req.Headers.TryAddWithoutValidation('x-ms-version', '2022-11-02') | Out-Null
    foreach ($k in $Headers.Keys) { $req.Headers.TryAddWithoutValidation($k, [string]$Headers[$k]) | Out-Null }
    if ($Content) { $req.Content = $Content }
    $resp = (Get-TestAzuriteHttpClient).SendAsync($req).GetAwaiter().GetResult()
    try {
        if ([int]$resp.StatusCode -notin $Ok) {
            $body = $resp.Content.ReadAsStringAsync().GetAwaiter().GetResult()
            throw "Azurite $Method $($Url -replace 'sig=[^&]*', 'sig=REDACTED') answered $([int]$resp.StatusCode): $body"
        }
        return [int]$resp.StatusCode
    }
    finally { $resp.Dispose(); $req.Dispose() }
}

function New-TestBlob {
    <#
    .SYNOPSIS
        Uploads a block blob to Azurite (account SAS over REST): Put Blob when it fits in one block, otherwise Put Block
        for each block and Put Block List, streaming (never the whole blob in memory). The container is created when missing.
    .DESCRIPTION
        The content is a file (-Path), bytes (-Content), or -Length pseudo-random bytes from -Seed. -ContentMd5 stores
        the blob's MD5 (x-ms-blob-content-md5, which the service returns as Content-MD5); -Md5 stores a given (for
        example wrong) base64 MD5 instead. A single Put Blob always gets its MD5 from Azurite itself.
    .OUTPUTS
        Container, Name, Bytes, Md5 (base64, of the content), Sha256 (hex, of the content).
    .EXAMPLE
        New-TestBlob $az -Name big.bin -Length 300MB -Seed 7 -ContentMd5
    #>
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    param(
        [Parameter(Mandatory, Position = 0)] [object] $Azurite,
        [string] $Container = 'costs',
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory, ParameterSetName = 'Path')] [string] $Path,
        [Parameter(Mandatory, ParameterSetName = 'Content')] [byte[]] $Content,
        [Parameter(Mandatory, ParameterSetName = 'Length')] [long] $Length,
        [Parameter(ParameterSetName = 'Length')] [int] $Seed = 1,
        [int] $BlockSize = 8MB,
        [switch] $ContentMd5,
        [string] $Md5
    )
    $sas = Get-TestAccountSas $Azurite
    [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$($Azurite.Endpoint)/$Container`?restype=container&$sas" -Ok 201, 409)
    $blobUrl = "$($Azurite.Endpoint)/$Container/$([Uri]::EscapeDataString($Name).Replace('%2F', '/'))"

    switch ($PSCmdlet.ParameterSetName) {
        'Path' { $source = [IO.File]::OpenRead((Resolve-Path -LiteralPath $Path).Path); $total = $source.Length }
        'Content' { $source = [IO.MemoryStream]::new($Content, $false); $total = $Content.Length }
        'Length' { $source = $null; $total = $Length }
    }
    $random = [Random]::new($Seed)
    $md5Hash = [Security.Cryptography.IncrementalHash]::CreateHash('MD5')
    $shaHash = [Security.Cryptography.IncrementalHash]::CreateHash('SHA256')
    $buffer = [byte[]]::new([Math]::Max(1, [Math]::Min([long]$BlockSize, [Math]::Max($total, 1))))
    try {
        $ids = [Collections.Generic.List[string]]::new()
        $left = $total
        $block = 0
        $single = $total -le $BlockSize
        do {
            $n = [int][Math]::Min([long]$buffer.Length, $left)
            if ($source) {
                $got = 0
                while ($got -lt $n) { $r = $source.Read($buffer, $got, $n - $got); if ($r -le 0) { throw "$Path ended early" }; $got += $r }
            }
            else { $random.NextBytes($buffer); }
            $md5Hash.AppendData($buffer, 0, $n); $shaHash.AppendData($buffer, 0, $n)
            $body = [Net.Http.ByteArrayContent]::new($buffer, 0, $n)
            if ($single) {
                $headers = @{ 'x-ms-blob-type' = 'BlockBlob' }
                [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$blobUrl`?$sas" -Content $body -Headers $headers)
            }
            else {
                $id = [Convert]::ToBase64String([Text.Encoding]::ASCII.GetBytes(('block-{0:D8}' -f $block)))
                $ids.Add($id)
                [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$blobUrl`?comp=block&blockid=$([Uri]::EscapeDataString($id))&$sas" -Content $body)
            }
            $left -= $n
            $block++
        } while ($left -gt 0)
        $md5Value = [Convert]::ToBase64String($md5Hash.GetHashAndReset())
        $shaValue = [Convert]::ToHexString($shaHash.GetHashAndReset()).ToLowerInvariant()
        if (-not $single) {
            $xml = '<?xml version="1.0" encoding="utf-8"?><BlockList>' + (($ids | ForEach-Object { "<Latest>$_</Latest>" }) -join '') + '</BlockList>'
            $headers = @{}
            if ($Md5) { $headers['x-ms-blob-content-md5'] = $Md5 } elseif ($ContentMd5) { $headers['x-ms-blob-content-md5'] = $md5Value }
            [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$blobUrl`?comp=blocklist&$sas" -Content ([Net.Http.StringContent]::new($xml)) -Headers $headers)
        }
        elseif ($Md5) {
            [void] (Invoke-TestAzuriteRequest $Azurite 'PUT' "$blobUrl`?comp=properties&$sas" -Headers @{ 'x-ms-blob-content-md5' = $Md5 })
        }
    }
    finally {
        if ($source) { $source.Dispose() }
        $md5Hash.Dispose(); $shaHash.Dispose()
    }
    return [pscustomobject]@{ Container = $Container; Name = $Name; Bytes = $total; Md5 = $md5Value; Sha256 = $shaValue }
}

function New-TestBlobSasLink {
    <#
    .SYNOPSIS
        A real service SAS link (sr=b, version 2022-11-02, HMAC-SHA256 over the string-to-sign) to read one blob.
    .DESCRIPTION
        -BaseUri replaces http://127.0.0.1:<port>/devstoreaccount1 (for example the fixture's /_proxy/devstoreaccount1);
        -Key signs with another key (the storage service then answers 403 AuthenticationFailed).
    .EXAMPLE
        $link = New-TestBlobSasLink $az -Container costs -Name a.csv -Expiry (Get-Date).AddMinutes(-5)
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [object] $Azurite,
        [string] $Container = 'costs',
        [Parameter(Mandatory)] [string] $Name,
        [datetime] $Expiry = [DateTime]::UtcNow.AddHours(1),
        [datetime] $Start = [DateTime]::UtcNow.AddMinutes(-15),
        [string] $Permissions = 'r',
        [string] $BaseUri,
        [string] $Key
    )
    $sv = '2022-11-02'
    $st = ConvertTo-TestSasTime $Start
    $se = ConvertTo-TestSasTime $Expiry
    $resource = "/blob/$($Azurite.Account)/$Container/$Name"
    # sp, st, se, canonicalized resource, si, sip, spr, sv, sr, snapshot time, encryption scope, rscc, rscd, rsce, rscl, rsct
    $toSign = ($Permissions, $st, $se, $resource, '', '', '', $sv, 'b', '', '', '', '', '', '', '') -join "`n"
    $sig = Get-TestHmacSignature $(if ($Key) { $Key } else { $Azurite.Key }) $toSign
    $base = if ($BaseUri) { $BaseUri.TrimEnd('/') } else { $Azurite.Endpoint }
    $path = "$Container/$([Uri]::EscapeDataString($Name).Replace('%2F', '/'))"
    return "$base/$path`?sv=$sv&st=$([Uri]::EscapeDataString($st))&se=$([Uri]::EscapeDataString($se))&sr=b&sp=$Permissions&sig=$([Uri]::EscapeDataString($sig))"
}

function New-TestContainerSasUrl {
    <#
    .SYNOPSIS
        A real container SAS URL (sr=c, version 2022-11-02) with read and list permissions (-Permissions to change).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] [object] $Azurite,
        [string] $Container = 'costs',
        [datetime] $Expiry = [DateTime]::UtcNow.AddHours(1),
        [string] $Permissions = 'rl',
        [string] $Key
    )
    $sv = '2022-11-02'
    $st = ConvertTo-TestSasTime ([DateTime]::UtcNow.AddMinutes(-15))
    $se = ConvertTo-TestSasTime $Expiry
    $resource = "/blob/$($Azurite.Account)/$Container"
    $toSign = ($Permissions, $st, $se, $resource, '', '', '', $sv, 'c', '', '', '', '', '', '', '') -join "`n"
    $sig = Get-TestHmacSignature $(if ($Key) { $Key } else { $Azurite.Key }) $toSign
    return "$($Azurite.Endpoint)/$Container`?sv=$sv&st=$([Uri]::EscapeDataString($st))&se=$([Uri]::EscapeDataString($se))&sr=c&sp=$Permissions&sig=$([Uri]::EscapeDataString($sig))"
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

function Copy-TestTreeToAzurite {
    <#
    .SYNOPSIS
        Uploads every file under -Root to the container, named by its path relative to -Root (with -Prefix before it).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] [object] $Azurite, [Parameter(Mandatory)] [string] $Root, [string] $Container = 'costs', [string] $Prefix = '')
    foreach ($f in Get-ChildItem -LiteralPath $Root -Recurse -File) {
        $name = [IO.Path]::GetRelativePath($Root, $f.FullName).Replace('\', '/')
        if ($name.StartsWith('.layout-')) { continue }
        [void] (New-TestBlob $Azurite -Container $Container -Name ($Prefix + $name) -Path $f.FullName)
    }
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

#endregion

Export-ModuleMember -Function Start-TestPostgres, Stop-TestPostgres, Invoke-TestPsql, Get-TestPgBin, Invoke-ChildPwsh,
    Get-TestPwshCommand, Get-TestDataGenerator, New-TestCostFile, Get-CsvDailySum, Get-CsvRowCount, Test-Utf8Bom,
    Get-TestRepoRoot, Get-TestDotnet, Get-FreeTcpPort,
    Get-TestAzuritePath, Start-TestAzurite, Stop-TestAzurite, New-TestBlob, New-TestBlobSasLink, Get-TestFileSha256, New-TestCostReport,
    New-TestContainerSasUrl, New-TestExportLayout, Copy-TestTreeToAzurite

#region Azure test fixture (Entra ID, ARM, Cost Management, blob fault proxy)

function New-TestFixtureCertificate {
    # An RSA certificate with its private key: self-signed, a CA (-Ca), a loopback server certificate (-Server),
    # or signed by -Issuer; valid from -NotBeforeDays to -NotAfterDays around now.
    param([string] $Subject, [int] $NotBeforeDays = -1, [int] $NotAfterDays = 2, $Issuer, [switch] $Ca, [switch] $Server)
    $key = [Security.Cryptography.RSA]::Create(2048)
    $req = [Security.Cryptography.X509Certificates.CertificateRequest]::new($Subject, $key, 'SHA256', [Security.Cryptography.RSASignaturePadding]::Pkcs1)
    if ($Ca) {
        $req.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
        $req.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509KeyUsageExtension]::new('KeyCertSign, CrlSign', $true))
    }
    if ($Server) {
        $san = [Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
        $san.AddIpAddress([Net.IPAddress]::Loopback)
        # the fixture's "elsewhere" listener (Start-TestAzureFixture -Elsewhere): a hostile host must not fail on TLS
        # alone, or a test that no token reaches it could never fail
        $san.AddIpAddress([Net.IPAddress]::Parse('127.0.0.2'))
        $san.AddDnsName('localhost')
        $req.CertificateExtensions.Add($san.Build())
        $eku = [Security.Cryptography.OidCollection]::new()
        [void] $eku.Add([Security.Cryptography.Oid]::new('1.3.6.1.5.5.7.3.1'))
        $req.CertificateExtensions.Add([Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension]::new($eku, $false))
    }
    $nb = [DateTimeOffset]::UtcNow.AddDays($NotBeforeDays)
    $na = [DateTimeOffset]::UtcNow.AddDays($NotAfterDays)
    if ($Issuer) {
        $serial = [byte[]]::new(16); [Security.Cryptography.RandomNumberGenerator]::Fill($serial); $serial[0] = 1
        $cert = $req.Create($Issuer, $nb, $na, $serial)
        return [Security.Cryptography.X509Certificates.RSACertificateExtensions]::CopyWithPrivateKey($cert, $key)
    }
    return $req.CreateSelfSigned($nb, $na)
}

function Start-TestAzureFixture {
    <#
    .SYNOPSIS
        Starts tests/AzBillingPS.Fixture (built into out/) with a fresh TLS certificate, one tenant and one
        client-secret app; returns what a test and its child processes need.
    .DESCRIPTION
        The fixture plays Entra ID, ARM's subscription list and Cost Management's cost-details API on HTTPS
        (127.0.0.1, a certificate from a CA made here), the managed-identity endpoints and a blob fault proxy on
        HTTP. Only children given ChildEnv trust the CA (SSL_CERT_FILE = system bundle + the CA); the test process
        itself talks to the control endpoints over HTTP. The fixture ends with this process (--parent-pid) or
        with Stop-TestAzureFixture.
    .OUTPUTS
        Process, Https, Http, CaFile, TenantId, ClientId, ClientSecret, ChildEnv (SSL_CERT_FILE, AZB_FIXTURE_HTTPS,
        AZB_FIXTURE_HTTP, AZB_TENANT, AZB_CLIENT_ID, AZB_CLIENT_SECRET, AZBILLING_PACING_SCALE=0), Dir, ConfigPath.
    .EXAMPLE
        $f = Start-TestAzureFixture
        Set-TestCostRules $f @(@{ scope = "/subscriptions/$sub"; pollCount = 3 })
        Invoke-ChildPwsh -Environment $f.ChildEnv -Script '...'
        Stop-TestAzureFixture $f
    #>
    [CmdletBinding()]
    param(
        # Working folder for the certificate and configuration; a new temporary one by default (removed on stop).
        [string] $Dir,
        # Rules in force from the start (the config's costRules).
        [object[]] $CostRules,
        [int] $TokenLifetimeSeconds = 3600,
        # The managed-identity endpoints' configuration (identityHeader, tenantId, systemAssigned, userAssigned), as the fixture's config takes it.
        [hashtable] $ManagedIdentity,
        # People of the tenant who can sign in with a device code: @{ objectId; userPrincipalName; displayName }.
        [hashtable[]] $Users,
        # Public client applications of the tenant (device code sign-in): client ids, or @{ clientId; tokenLifetimeSeconds }.
        [object[]] $PublicClients,
        # The device code flow's timing: @{ intervalSeconds = 5; expiresInSeconds = 900 }.
        [hashtable] $DeviceCode,
        # Also listen "elsewhere" (https and http on 127.0.0.2, https on another port of 127.0.0.1): hosts a hostile answer
        # points to, which record every Authorization header they get (Get-TestElsewhereRequests).
        [switch] $Elsewhere
    )
    $dll = Join-Path (Get-TestRepoRoot) 'out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'
    if (-not (Test-Path $dll)) { throw "The Azure test fixture is not built ($dll); run build.ps1 -Task Build." }
    $ownDir = -not $Dir
    if ($ownDir) { $Dir = Join-Path ([IO.Path]::GetTempPath()) ('azb-fixture-' + [guid]::NewGuid().ToString('N')) }
    New-Item -ItemType Directory -Force -Path $Dir | Out-Null

    $ca = New-TestFixtureCertificate -Subject 'CN=AzBillingPS Test CA' -Ca
    $server = New-TestFixtureCertificate -Subject 'CN=127.0.0.1' -Server -Issuer $ca -NotAfterDays 1
    $tlsPassword = 'tls-' + [guid]::NewGuid().ToString('N')
    $pfx = Join-Path $Dir 'server.pfx'
    [IO.File]::WriteAllBytes($pfx, $server.Export('Pfx', $tlsPassword))
    $system = @('/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem') | Where-Object { Test-Path $_ } | Select-Object -First 1
    $caFile = Join-Path $Dir 'ca-bundle.pem'
    [IO.File]::WriteAllText($caFile, $(if ($system) { [IO.File]::ReadAllText($system) + "`n" } else { '' }) + $ca.ExportCertificatePem() + "`n")

    $tenant = [guid]::NewGuid().ToString()
    $client = [guid]::NewGuid().ToString()
    $secret = 'fx~' + [guid]::NewGuid().ToString('N')
    $config = [ordered]@{
        tokenLifetimeSeconds = $TokenLifetimeSeconds
        resources            = @('https://management.azure.com', 'https://database.windows.net', 'https://storage.azure.com')
        tenants              = @(@{ tenantId = $tenant; domain = 'fixture.azbilling.test'; apps = @(@{ clientId = $client; secret = $secret }) })
    }
    if ($CostRules) { $config.costRules = @($CostRules) }
    if ($ManagedIdentity) { $config.managedIdentity = $ManagedIdentity }
    if ($Users) { $config.tenants[0].users = @($Users) }
    foreach ($p in @($PublicClients | Where-Object { $_ })) {
        $app = if ($p -is [hashtable]) { $p.Clone() } else { @{ clientId = [string] $p } }
        $app.publicClient = $true
        $config.tenants[0].apps += $app
    }
    if ($DeviceCode) { $config.deviceCode = $DeviceCode }
    $configPath = Join-Path $Dir 'fixture.json'
    [IO.File]::WriteAllText($configPath, ($config | ConvertTo-Json -Depth 12))

    $psi = [Diagnostics.ProcessStartInfo]::new((Get-TestDotnet))
    foreach ($a in $dll, '--config', $configPath, '--tls-pfx', $pfx, '--tls-password', $tlsPassword, '--parent-pid', $PID) { $psi.ArgumentList.Add([string] $a) }
    if ($Elsewhere) { foreach ($a in '--elsewhere-ip', '127.0.0.2') { $psi.ArgumentList.Add($a) } }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $process = [Diagnostics.Process]::Start($psi)
    $stderr = $process.StandardError.ReadToEndAsync()
    $line = $process.StandardOutput.ReadLineAsync()
    if (-not $line.Wait(30000) -or -not $line.Result) {
        if (-not $process.HasExited) { $process.Kill() }
        throw "The Azure test fixture did not start within 30 s: $(if ($stderr.Wait(2000)) { $stderr.Result })"
    }
    $ports = $line.Result | ConvertFrom-Json
    $https = $ports.https.TrimEnd('/')
    $http = $ports.http.TrimEnd('/')
    [pscustomobject]@{
        PSTypeName   = 'AzBillingPS.Tests.AzureFixture'
        Process      = $process
        Https        = $https
        Http         = $http
        CaFile       = $caFile
        TenantId     = $tenant
        ClientId     = $client
        ClientSecret = $secret
        ChildEnv     = @{
            SSL_CERT_FILE          = $caFile
            AZB_FIXTURE_HTTPS      = $https
            AZB_FIXTURE_HTTP       = $http
            AZB_TENANT             = $tenant
            AZB_CLIENT_ID          = $client
            AZB_CLIENT_SECRET      = $secret
            AZBILLING_PACING_SCALE = '0'
        }
        Dir          = $Dir
        OwnDir       = $ownDir
        ConfigPath   = $configPath
        StdErr       = $stderr
        Elsewhere    = if ($ports.PSObject.Properties['elsewhere']) { $ports.elsewhere }
    }
}

function Get-TestElsewhereRequests {
    <#
    .SYNOPSIS
        Every request the fixture's "elsewhere" listeners got (Start-TestAzureFixture -Elsewhere): time, scheme, local,
        method, path, authorization (the header as received, or null).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/elsewhere'
    foreach ($x in $r.requests) { $x }
}

function Stop-TestAzureFixture {
    <#
    .SYNOPSIS
        Ends the fixture process and removes the folder Start-TestAzureFixture made.
    #>
    [CmdletBinding()]
    param([Parameter(Position = 0)] $Fixture)
    if (-not $Fixture) { return }
    $p = $Fixture.Process
    if ($p) {
        if (-not $p.HasExited) { try { $p.Kill() } catch [InvalidOperationException] { } }
        [void] $p.WaitForExit(10000)
        $p.Dispose()
    }
    if ($Fixture.OwnDir -and $Fixture.Dir) { Remove-Item -Recurse -Force $Fixture.Dir -ErrorAction SilentlyContinue }
}

function Invoke-TestFixtureControl {
    # A call to one of the fixture's /_fixture control endpoints (over HTTP); throws with the fixture's message on 400.
    param($Fixture, [string] $Method, [string] $Path, $Body)
    $params = @{ Uri = "$($Fixture.Http)$Path"; Method = $Method; SkipHttpErrorCheck = $true; StatusCodeVariable = 'status' }
    if ($null -ne $Body) {
        $params.Body = ($Body | ConvertTo-Json -Depth 16 -Compress)
        $params.ContentType = 'application/json'
    }
    $r = Invoke-RestMethod @params -Verbose:$false -Debug:$false
    if ($status -ge 400) { throw "Fixture $Method $Path answered $status`: $(if ($r.error) { $r.error } else { $r })" }
    , $r
}

function Set-TestCostRules {
    <#
    .SYNOPSIS
        Replaces the fixture's Cost Management rules (POST /_fixture/cost/rules). The first rule whose scope,
        metric and period match a report request governs it; no rule = 202 once, then Completed with one blob.
    .EXAMPLE
        Set-TestCostRules $f @(
            @{ scope = "/subscriptions/$sub"; period = '2026-01'; postFaults = @(@{ status = 429; headers = @{ 'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after' = '2' } }) }
            @{ metric = 'AmortizedCost'; result = 'NoDataFound' }
        )
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture, [Parameter(Position = 1)] [AllowEmptyCollection()] [object[]] $Rules = @())
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/cost/rules' @{ rules = @($Rules) })
}

function Get-TestCostRequests {
    <#
    .SYNOPSIS
        Every request the fixture received on its Cost Management and ARM endpoints, in arrival order:
        seq, time, timeMs, endTime, endTimeMs, method, path, apiVersion, body, scope, metric, period, operationId,
        status (0 = dropped, 499 = the client went away), authorization (none, valid, invalid), retryAfterSent,
        faultApplied, rule.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/cost/requests'
    foreach ($x in $r) { $x }
}

function Get-TestCostOperations {
    <#
    .SYNOPSIS
        The report operations the fixture created: id, scope, rule, requestBody, createdAt, finishedAt, result,
        validTill, blobs (index, blobLink, byteCount, sig).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/cost/operations'
    foreach ($x in $r) { $x }
}

function Reset-TestCostFixture {
    <#
    .SYNOPSIS
        Forgets recorded requests and operations and goes back to the configuration's rules (none by default).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/cost/reset')
}

function Revoke-TestFixtureTokens {
    <#
    .SYNOPSIS
        Revokes every token the fixture issued so far: the next Cost Management call with one answers 401; tokens issued later work.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/revoke')
}

function Get-TestFixtureIssued {
    <#
    .SYNOPSIS
        What the fixture issued: requests (token requests), tokens (accessToken, kind, clientId, expiresOn, resource,
        revoked), assertions received, sasSignatures (generated blob-link signatures, raw and URL-encoded).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    Invoke-TestFixtureControl $Fixture GET '/_fixture/issued'
}

function Get-TestFixtureSecrets {
    <#
    .SYNOPSIS
        Every secret a test must never find in output: issued access tokens, the app's client secret, generated SAS
        signatures, device codes, people's refresh and ID tokens. (User codes are shown once, to the person: a test checks them on its own.)
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $issued = Get-TestFixtureIssued $Fixture
    @($Fixture.ClientSecret) + @($issued.tokens | ForEach-Object accessToken) + @($issued.sasSignatures) +
        @($issued.deviceCodes) + @($issued.refreshTokens) + @($issued.idTokens) | Where-Object { $_ }
}

function Set-TestSubscriptions {
    <#
    .SYNOPSIS
        Sets what GET /subscriptions lists (ARM's shape, paged by -PageSize with nextLink).
    .EXAMPLE
        Set-TestSubscriptions $f @(@{ subscriptionId = $a; displayName = 'Prod' }, $b) -PageSize 1
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture, [Parameter(Position = 1)] [AllowEmptyCollection()] [object[]] $Subscriptions = @(), [int] $PageSize = 100,
        # Every page's nextLink instead of the fixture's own: a template with {skiptoken} and {apiVersion} (absolute or relative).
        [string] $NextLink)
    $body = @{ subscriptions = @($Subscriptions); pageSize = $PageSize }
    if ($NextLink) { $body.nextLink = $NextLink }
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/subscriptions' $body)
}

function Set-TestBlobProxy {
    <#
    .SYNOPSIS
        Points the blob fault proxy (http://<fixture>/_proxy/<path>?<query>) at -Upstream (Azurite) and queues
        -Faults, one per request: @{ cutAfterBytes = N }, @{ status = 503; retryAfter = 1 }, @{ delayMs = N }.
        Clears the proxy's request log.
    .OUTPUTS
        The proxy's base URL: a blob link's scheme://host:port replaced by it goes through the proxy.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture, [string] $Upstream, [AllowEmptyCollection()] [object[]] $Faults = @())
    $body = @{ faults = @($Faults) }
    if ($Upstream) { $body.upstream = $Upstream }
    [void] (Invoke-TestFixtureControl $Fixture POST '/_fixture/proxy' $body)
    "$($Fixture.Http)/_proxy"
}

function Get-TestBlobProxyRequests {
    <#
    .SYNOPSIS
        The requests the blob proxy handled since Set-TestBlobProxy: time, method, path, query (sig redacted), range, status, bytesSent, fault.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/proxy/requests'
    foreach ($x in $r) { $x }
}

function Get-TestDeviceCodes {
    <#
    .SYNOPSIS
        The device code sign-ins the fixture saw, oldest first: userCode, clientId, tenant, scope, state (pending, approved,
        denied, redeemed), interval, createdAt, expiresAt, tooFast (polls before the interval), polls (timeMs, answer).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] $Fixture)
    $r = Invoke-TestFixtureControl $Fixture GET '/_fixture/devicecode'
    foreach ($x in $r) { $x }
}

function Set-TestDeviceCode {
    <#
    .SYNOPSIS
        Plays the person of a device code sign-in: approve (as -User, the first configured user by default), deny (with
        -Error authorization_declined, Entra's answer, or access_denied, RFC 8628's), expire, or slowdown (-Count slow_down
        answers to the next polls).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)] $Fixture,
        [Parameter(Mandatory, Position = 1)] [ValidateSet('approve', 'deny', 'expire', 'slowdown')] [string] $Action,
        [Parameter(Mandatory, Position = 2)] [string] $UserCode,
        [string] $User, [string] $Error, [int] $Count = 1
    )
    $body = @{ userCode = $UserCode; count = $Count }
    if ($User) { $body.user = $User }
    if ($Error) { $body.error = $Error }
    [void] (Invoke-TestFixtureControl $Fixture POST "/_fixture/devicecode/$Action" $body)
}

#endregion

Export-ModuleMember -Function Get-TestDeviceCodes, Set-TestDeviceCode, New-TestFixtureCertificate, Start-TestAzureFixture, Stop-TestAzureFixture, Set-TestCostRules, Get-TestCostRequests, Get-TestCostOperations,
    Reset-TestCostFixture, Revoke-TestFixtureTokens, Get-TestFixtureIssued, Get-TestFixtureSecrets, Set-TestSubscriptions, Set-TestBlobProxy,
    Get-TestBlobProxyRequests, Get-TestElsewhereRequests
