# Dot-sourced by ../TestHelpers.psm1 (which exports the functions): throw-away PostgreSQL clusters.

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
        # Durable settings, as production runs: fsync, synchronous_commit and full_page_writes on (the tests turn them off for speed).
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

function Start-TestPgHolder {
    <#
    .SYNOPSIS
        A psql session on a Start-TestPostgres cluster that runs $Sql (taking some lock) and then sleeps $Seconds;
        returns (Process, App: its application_name) once the session is sleeping. Stop-TestPgHolder ends it.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] [object] $Postgres, [Parameter(Mandatory, Position = 1)] [string] $Sql, [int] $Seconds = 30)
    $psi = [Diagnostics.ProcessStartInfo]::new($Postgres.PsqlPath)
    $app = 'azb-holder-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    foreach ($a in '-X', '-q', '-h', '127.0.0.1', '-p', "$($Postgres.Port)", '-U', 'postgres', '-d', 'postgres', '-c', "$Sql; SELECT pg_sleep($Seconds)") { $psi.ArgumentList.Add($a) }
    $psi.Environment['PGAPPNAME'] = $app
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [Diagnostics.Process]::Start($psi)
    $until = [DateTime]::UtcNow.AddSeconds(15)
    while ([DateTime]::UtcNow -lt $until -and (Invoke-TestPsql $Postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$app' AND wait_event = 'PgSleep'") -ne '1') { Start-Sleep -Milliseconds 50 }
    [pscustomobject]@{ Process = $p; App = $app }
}

function Stop-TestPgHolder {
    <#
    .SYNOPSIS
        Ends a holder: a Start-TestPgHolder session (on the server too: a killed psql leaves its backend sleeping,
        holding its locks), or any process.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0)] [object] $Postgres, [Parameter(Position = 1)] $Holder)
    if (-not $Holder) { return }
    $p = if ($Holder -is [System.Diagnostics.Process]) { $Holder } else { $Holder.Process }
    if ($Holder.PSObject.Properties['App']) {
        $null = Invoke-TestPsql $Postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$($Holder.App)'"
    }
    if ($p -and -not $p.HasExited) { $p.Kill(); $p.WaitForExit() }
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
