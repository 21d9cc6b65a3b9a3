# Dot-sourced by build.ps1 -Task Test. Finds (and, where it can, installs) what the tests need, and says
# plainly which tests will be skipped when something cannot be had.

# The PostgreSQL binaries are found the same way the Pester helpers find them.
Import-Module (Join-Path $PSScriptRoot 'pester/TestHelpers.psm1') -Force

function Test-IsRoot { return ($IsLinux -and ((& id -u) -eq '0')) }

function Install-TestPrerequisites {
    $notes = [System.Collections.Generic.List[string]]::new()

    # PostgreSQL server binaries (initdb, pg_ctl): the tests start a throw-away cluster.
    $pgBin = Get-TestPgBin
    if (-not $pgBin -and (Test-IsRoot) -and (Get-Command apt-get -ErrorAction SilentlyContinue)) {
        Write-Host 'Installing PostgreSQL (apt-get install postgresql)...' -ForegroundColor Cyan
        & apt-get update -qq | Out-Null
        & env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql sqlite3 | Out-Null
        $pgBin = Get-TestPgBin
    }
    if (-not $pgBin) {
        $notes.Add('PostgreSQL tests: no initdb/pg_ctl found and they could not be installed (install the postgresql package, or set AZBILLING_TEST_PG_BIN).')
    }

    if (-not $env:AZBILLING_TEST_SQLSERVER) {
        $notes.Add('Live SQL Server tests: AZBILLING_TEST_SQLSERVER is not set (the generated T-SQL is still parsed by ScriptDom in xunit).')
    }

    # Azurite (Azure Storage emulator) for blob tests, from npm (tests/package.json, pinned by tests/package-lock.json),
    # into out/node; the tests start its blob service, azurite-blob.
    $azurite = Join-Path $Out 'node/node_modules/.bin/azurite-blob'
    if (-not (Test-Path $azurite) -and (Get-Command npm -ErrorAction SilentlyContinue) -and (Test-Path "$Root/tests/package.json")) {
        New-Item -ItemType Directory -Force (Join-Path $Out 'node') | Out-Null
        Copy-Item "$Root/tests/package.json" (Join-Path $Out 'node/package.json')
        if (Test-Path "$Root/tests/package-lock.json") { Copy-Item "$Root/tests/package-lock.json" (Join-Path $Out 'node/package-lock.json') }
        Push-Location (Join-Path $Out 'node')
        try { & npm install --no-audit --no-fund --silent 2>&1 | Out-Null } finally { Pop-Location }
    }
    if (Test-Path $azurite) { $env:AZBILLING_TEST_AZURITE = $azurite }
    elseif (Test-Path "$Root/tests/package.json") { $notes.Add('Blob tests: Azurite could not be installed with npm.') }

    return [pscustomobject]@{ PgBin = $pgBin; Notes = $notes }
}
