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
            # Topics, then what PSResourceGet searches: Find-PSResource -CommandName <cmdlet> looks for PSCommand_<cmdlet>.
            Tags         = @(
                'Azure', 'CostManagement', 'CostDetails', 'FinOps', 'Billing', 'Cost', 'SQL', 'SQLServer', 'AzureSQL', 'PostgreSQL', 'SQLite'
                'Linux', 'Windows', 'MacOS', 'PSEdition_Core', 'PSIncludes_Cmdlet'
                'PSCmdlet_Get-AzBillingToken', 'PSCommand_Get-AzBillingToken'
                'PSCmdlet_New-AzCostReport', 'PSCommand_New-AzCostReport'
                'PSCmdlet_Save-AzCostBlob', 'PSCommand_Save-AzCostBlob'
                'PSCmdlet_Import-AzCostToSql', 'PSCommand_Import-AzCostToSql'
                'PSCmdlet_Get-AzCostSummary', 'PSCommand_Get-AzCostSummary'
                'PSCmdlet_Sync-AzBilling', 'PSCommand_Sync-AzBilling'
                'PSCmdlet_Get-AzBillingSyncState', 'PSCommand_Get-AzBillingSyncState'
                'PSCmdlet_Import-AzCostExport', 'PSCommand_Import-AzCostExport'
                'PSCmdlet_Clear-AzBillingTokenCache', 'PSCommand_Clear-AzBillingTokenCache'
            )
            ProjectUri   = 'https://github.com/AzBillingPS/AzBillingPS'
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ReleaseNotes = @'
0.1.0, the first release:
- Sync-AzBilling: the whole job in one call (sign-in, Cost Details reports, blob downloads, exactly-once loads, a state table), for many scopes and months, from a shell, a schedule or an Azure Automation runbook; settings from a .psd1 file.
- Get-AzBillingToken: certificate, client secret, managed identity and workload identity federation sign-in (MSAL), public and sovereign clouds; at the prompt device code, interactive, Az PowerShell's or the Azure CLI's session, remembered in the operating system's protected storage until Clear-AzBillingTokenCache.
- New-AzCostReport and Save-AzCostBlob: cost-details reports per scope, metric and month, with polling, throttling and retries as the service asks; parallel, resumable, verified blob downloads.
- Import-AzCostToSql: cost-details CSV files into SQLite (the embedded default), PostgreSQL or SQL Server / Azure SQL, each period exactly once, streaming, exact decimals; tags stored as JSON, ids as text.
- Get-AzCostSummary and Get-AzBillingSyncState: what a table holds (by month, service, scope, resource group, tag or any column, never adding metrics or currencies together) and what the sync has loaded.
- Import-AzCostExport: Cost Management exports (storage or a local tree; CSV, gzip CSV or Parquet; cost details and FOCUS) through the same sinks, each month exactly once.
- Targets named as SQL and PowerShell users name them: -SqlInstance/-Database, -ConnectionString (provider told by its keywords), -DatabasePath, -Credential.
'@
        }
    }
}
