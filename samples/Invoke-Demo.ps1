#Requires -Version 7.4
<#
.SYNOPSIS
    The main job on the embedded default, with no Azure account: loads the sample cost-details files into
    ./AzBilling.sqlite with Import-AzCostToSql, then runs Sync-AzBilling (sign-in, reports, blobs, loads, state)
    against the repository's test fixture standing in for Azure, and shows what landed (cost per month and service).
.DESCRIPTION
    Run it twice: the second run replaces each month instead of adding it again (RowsReplaced equals the
    rows of the first run, and the totals do not change).
#>
param(
    # The built module's manifest (build.ps1 -Task Demo passes it).
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/AzBillingPS/0.1.0/AzBillingPS.psd1'),

    # Where the SQLite database goes.
    [string] $DatabasePath = (Join-Path (Get-Location) 'AzBilling.sqlite')
)

$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force

$enrollment = '/providers/Microsoft.Billing/billingAccounts/8611537'                  # an EA enrollment
$mcaAccount = '/providers/Microsoft.Billing/billingAccounts/5e98e158-xxxx-xxxx-xxxx-xxxxxxxxxxxx:0c8fd5fb-xxxx-xxxx-xxxx-xxxxxxxxxxxx_2019-05-31'

Write-Host "Loading the sample files into $DatabasePath" -ForegroundColor Cyan

# EA files as they come from a Cost Management export: one file per month, named by -Path.
$results = @(
    Import-AzCostToSql -Path (Join-Path $PSScriptRoot 'ea-2026-09.csv') -Scope $enrollment -Metric ActualCost -DatabasePath $DatabasePath
    Import-AzCostToSql -Path (Join-Path $PSScriptRoot 'ea-2026-10.csv') -Scope $enrollment -Metric ActualCost -DatabasePath $DatabasePath

    # The MCA file the way Save-AzCostBlob hands files on: typed AzCostFile objects from the pipeline.
    [AzBillingPS.AzCostFile]::new((Join-Path $PSScriptRoot 'mca-2026-10.csv'), $mcaAccount, 'ActualCost',
        [datetime]'2026-10-01', [datetime]'2026-10-31', 1, 1) | Import-AzCostToSql -DatabasePath $DatabasePath
)
$results | Format-Table | Out-Host

Write-Host 'What landed: cost per month and service (Get-AzCostSummary)' -ForegroundColor Cyan
Get-AzCostSummary -DatabasePath $DatabasePath | Format-Table -AutoSize | Out-Host

# --- The whole job, as a schedule runs it: Sync-AzBilling signs in, requests each month's cost-details report,
# downloads its blobs and loads them exactly once, recording each month in the state table. "Azure" here is the
# repository's test fixture (tests/AzBillingPS.Fixture, built by build.ps1): it plays Entra ID and the Cost
# Management API over HTTPS on 127.0.0.1 and serves generated blobs, so no Azure account is needed. Only the
# endpoints differ from a real run.
$fixtureDll = Join-Path $PSScriptRoot '../out/AzBillingPS.Fixture/AzBillingPS.Fixture.dll'
if (-not (Test-Path $fixtureDll)) {
    Write-Host 'The test fixture is not built (build.ps1 -Task Build builds it); skipping the Sync-AzBilling part.' -ForegroundColor Yellow
    return
}

Import-Module (Join-Path $PSScriptRoot '../tests/pester/TestHelpers.psm1') -Force
$fixture = Start-TestAzureFixture
try {
    $subscription = '/subscriptions/0a1b2c3d-0000-4000-8000-000000000001'
    Write-Host "Sync-AzBilling: the last 3 months of $subscription from a local stand-in for Azure, into $DatabasePath" -ForegroundColor Cyan
    $syncScript = @'
param($ModulePath, $DatabasePath, $Scope)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force
# The stand-in answers at once: the module's test hook turns off the client-side pacing it keeps under Azure's limits.
[AzBillingPS.Internal.InternalHooks]::SetTestHook('PacingScale', 0)
$secret = ConvertTo-SecureString $env:AZB_CLIENT_SECRET -AsPlainText -Force
$signIn = @{ TenantId = $env:AZB_TENANT; ClientId = $env:AZB_CLIENT_ID; ClientSecret = $secret; AuthorityHost = $env:AZB_FIXTURE_HTTPS; ResourceManagerUrl = $env:AZB_FIXTURE_HTTPS }
Sync-AzBilling @signIn -Scope $Scope -DatabasePath $DatabasePath -PassThru | Out-Host
Write-Host 'Run again: only the open months are loaded again; the rest is skipped.' -ForegroundColor Cyan
Sync-AzBilling @signIn -Scope $Scope -DatabasePath $DatabasePath -PassThru | Out-Host
Write-Host 'The state table (Get-AzBillingSyncState)' -ForegroundColor Cyan
Get-AzBillingSyncState -DatabasePath $DatabasePath | Format-Table | Out-Host
'@
    $scriptFile = Join-Path $fixture.Dir 'demo-sync.ps1'
    Set-Content -LiteralPath $scriptFile -Value $syncScript
    # The child trusts the fixture's certificate (SSL_CERT_FILE).
    $saved = @{}
    foreach ($k in $fixture.ChildEnv.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, [string] $fixture.ChildEnv[$k]) }
    try {
        $pwsh = [Environment]::ProcessPath
        $pwshArgs = @()
        if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { $pwshArgs = @(Join-Path $PSHOME 'pwsh.dll') }
        & $pwsh @pwshArgs -NoProfile -NonInteractive -File $scriptFile -ModulePath (Resolve-Path $ModulePath).Path -DatabasePath $DatabasePath -Scope $subscription
        if ($LASTEXITCODE -ne 0) { throw "Sync-AzBilling failed (exit code $LASTEXITCODE)." }
    }
    finally {
        foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) }
    }
}
finally {
    Stop-TestAzureFixture $fixture
}

Write-Host 'What landed: cost per month and service (Get-AzCostSummary)' -ForegroundColor Cyan
Get-AzCostSummary -DatabasePath $DatabasePath | Format-Table -AutoSize | Out-Host
