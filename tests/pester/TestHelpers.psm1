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

    Each job lives in its own file under helpers/, dot-sourced here into this one module (so every test imports
    TestHelpers.psm1 as before and the helpers share one scope): ChildPwsh.ps1, Postgres.ps1, TestData.ps1,
    Azurite.ps1, AzureFixture.ps1. What several jobs use (repository root, root check, free port, dotnet) is here.
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

function Get-FreeTcpPort {
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { return ([Net.IPEndPoint] $listener.LocalEndpoint).Port } finally { $listener.Stop() }
}

function Get-TestDotnet {
    $process = [Environment]::ProcessPath
    if ($process -and [IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { return $process }
    $cmd = Get-Command dotnet -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($cmd) { return $cmd.Source }
    if ($env:DOTNET_ROOT -and (Test-Path (Join-Path $env:DOTNET_ROOT 'dotnet'))) { return (Join-Path $env:DOTNET_ROOT 'dotnet') }
    throw 'dotnet was not found.'
}

foreach ($job in 'ChildPwsh', 'Postgres', 'TestData', 'Azurite', 'AzureFixture') {
    . (Join-Path $PSScriptRoot "helpers/$job.ps1")
}

Export-ModuleMember -Function Start-TestPostgres, Stop-TestPostgres, Invoke-TestPsql, Start-TestPgHolder, Stop-TestPgHolder, Get-TestPgBin, Invoke-ChildPwsh,
    Get-TestPwshCommand, Get-TestDataGenerator, New-TestCostFile, Get-CsvDailySum, Get-CsvRowCount, Test-Utf8Bom,
    Get-TestRepoRoot, Get-TestDotnet, Get-FreeTcpPort,
    Get-TestAzuritePath, Start-TestAzurite, Stop-TestAzurite, New-TestBlob, New-TestBlobSasLink, Get-TestFileSha256, New-TestCostReport,
    New-TestContainerSasUrl, New-TestExportLayout, New-TestExportRun, Copy-TestTreeToAzurite

Export-ModuleMember -Function Get-TestDeviceCodes, Set-TestDeviceCode, New-TestFixtureCertificate, Start-TestAzureFixture, Stop-TestAzureFixture, Get-TestFixtureSyncEnv, Get-TestFixtureSyncScript, Set-TestCostRules, Get-TestCostRequests, Get-TestCostOperations,
    Reset-TestCostFixture, Revoke-TestFixtureTokens, Get-TestFixtureIssued, Get-TestFixtureSecrets, Set-TestSubscriptions, Set-TestBlobProxy,
    Get-TestBlobProxyRequests, Get-TestElsewhereRequests
