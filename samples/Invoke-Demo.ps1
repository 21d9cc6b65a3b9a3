#Requires -Version 7.4
<#
.SYNOPSIS
    The main job on the embedded default, with no Azure account: loads the sample cost-details files into
    ./AzBilling.sqlite with Import-AzCostToSql and shows what landed (cost per month and service).
.DESCRIPTION
    Run it twice: the second run replaces each month instead of adding it again (RowsReplaced equals the
    rows of the first run, and the totals do not change).
#>
param(
    # The built module's manifest (build.ps1 -Task Demo passes it).
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/AzBillingPS/0.1.0/AzBillingPS.psd1'),

    # Where the SQLite database goes.
    [string] $Database = (Join-Path (Get-Location) 'AzBilling.sqlite')
)

$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force

$enrollment = '/providers/Microsoft.Billing/billingAccounts/8611537'                  # an EA enrollment
$mcaAccount = '/providers/Microsoft.Billing/billingAccounts/5e98e158-xxxx-xxxx-xxxx-xxxxxxxxxxxx:0c8fd5fb-xxxx-xxxx-xxxx-xxxxxxxxxxxx_2019-05-31'

Write-Host "Loading the sample files into $Database" -ForegroundColor Cyan

# EA files as they come from a Cost Management export: one file per month, named by -Path.
$results = @(
    Import-AzCostToSql -Path (Join-Path $PSScriptRoot 'ea-2026-09.csv') -Scope $enrollment -Metric ActualCost -Database $Database
    Import-AzCostToSql -Path (Join-Path $PSScriptRoot 'ea-2026-10.csv') -Scope $enrollment -Metric ActualCost -Database $Database

    # The MCA file the way Save-AzCostBlob hands files on: typed AzCostFile objects from the pipeline.
    [AzBillingPS.AzCostFile]::new((Join-Path $PSScriptRoot 'mca-2026-10.csv'), $mcaAccount, 'ActualCost',
        [datetime]'2026-10-01', [datetime]'2026-10-31', 1, 1) | Import-AzCostToSql -Database $Database
)
$results | Format-Table | Out-Host

Write-Host 'What landed: cost per month and service (Get-AzCostSummary)' -ForegroundColor Cyan
Get-AzCostSummary -Database $Database | Format-Table -AutoSize | Out-Host
