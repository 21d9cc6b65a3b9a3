@{
    RootModule           = 'AzBillingPS.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5b0c8f57-3d4e-4a4c-9a56-1f0e6c2d7a11'
    Author               = 'AzBillingPS contributors'
    CompanyName          = 'AzBillingPS contributors'
    Copyright            = '(c) AzBillingPS contributors. MIT License.'
    Description          = 'Downloads Azure cost details from Azure Cost Management and loads them into SQL Server, Azure SQL, PostgreSQL or SQLite: exact decimals, every month exactly once, streaming.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('AzBillingPS.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-AzBillingToken'
        'New-AzCostReport'
        'Save-AzCostBlob'
        'Import-AzCostToSql'
        'Import-AzCostExport'
        'Get-AzCostSummary'
        'Sync-AzBilling'
        'Get-AzBillingSyncState'
        'Clear-AzBillingTokenCache'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Azure', 'CostManagement', 'FinOps', 'Billing', 'SQL', 'PostgreSQL', 'SQLite')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ReleaseNotes = 'Import-AzCostToSql: cost-details CSV files into SQLite, PostgreSQL and SQL Server, exactly once.'
        }
    }
}
