# Help source for Get-AzCostSummary. build/New-ModuleHelp.ps1 turns this into MAML.
@{
    Synopsis     = 'Shows what a cost table holds: cost per month, service and currency.'

    Description  = @'
Get-AzCostSummary reads a cost table written by Import-AzCostToSql and returns one AzCostSummary per month, service and currency: the sum of CostInBillingCurrency and the number of rows. The service is the MeterCategory column (ServiceFamily when the table has no MeterCategory), the currency is BillingCurrencyCode, and the month (yyyy-MM) comes from the Date column. Results are ordered by month, then by cost, highest first.

Use it to check a load at a glance (did March arrive, does the total match the invoice), or as a quick report in a runbook. It only reads and changes nothing; it waits at most -LockTimeout seconds for a table (or SQLite file) that another session has locked.

The target parameters are shared by every database cmdlet: -SqlInstance with -Database for SQL Server and Azure SQL (as dbatools names them), -ConnectionString for any database (PostgreSQL, SQL Server or SQLite, told by its keywords; -Provider when they do not tell), -DatabasePath for a SQLite file, -Credential (alias -SqlCredential) for a SQL Server or PostgreSQL login, and with none of them AzBilling.sqlite in the current location; -Table and -Schema name the table. It only reads: a SQLite file that does not exist is an error (AzBillingNotFound, "No database at ..."), never created; so is a table that does not exist. An unreachable database is SqlConnectionFailed.

On SQL Server and PostgreSQL the sums are exact decimals. On SQLite money is stored as REAL (double), so sums over many rows can differ from an exact sum in the last digits.
'@

    Parameters   = @{
        LockTimeout      = 'Seconds to wait when the table is locked (on SQLite: when another process is writing to the file, for example a load committing) before giving up with SqlLockTimeout, which names the table or file. Default 30; 0 to 86400.'
        Scope            = 'Summarise only this scope, for example /subscriptions/{id}; the same spellings as Import-AzCostToSql -Scope are accepted (a bare GUID means /subscriptions/{guid}; case and slashes do not matter). Binds from the pipeline by property name, so AzCostImportResult objects can be piped in. Default: all scopes in the table.'
        Table            = 'The cost table. Default: AzureCostDetails.'
        Schema           = 'The schema of the table. Default: dbo on SQL Server, public on PostgreSQL. Refused on SQLite, which has no schemas.'
    }

    Examples     = @(
        @{
            Title   = 'Summarise the default SQLite file'
            Code    = 'Get-AzCostSummary'
            Remarks = 'Reads AzureCostDetails in AzBilling.sqlite in the current location and shows cost per month, service and currency.'
        }
        @{
            Title   = 'Total per month for one subscription on SQL Server'
            Code    = @'
Get-AzCostSummary -Scope $sub -SqlInstance sql01 -Database Billing |
    Group-Object Month, Currency |
    ForEach-Object { [pscustomobject]@{ Month = $_.Group[0].Month; Currency = $_.Group[0].Currency; Cost = ($_.Group | Measure-Object Cost -Sum).Sum } }
'@
            Remarks = 'Adds the services up to one total per month and currency, to compare with the invoice.'
        }
        @{
            Title   = 'Check what a load wrote, straight after it'
            Code    = @'
Import-AzCostToSql -Path ./costs/*.csv -Scope /subscriptions/$sub -DatabasePath ./billing.sqlite |
    Get-AzCostSummary -DatabasePath ./billing.sqlite |
    Sort-Object Cost -Descending | Select-Object -First 10
'@
            Remarks = 'The Scope property of each AzCostImportResult binds to -Scope, so only the loaded scope is summarised.'
        }
        @{
            Title   = 'Top services in a PostgreSQL table in its own schema'
            Code    = 'Get-AzCostSummary -ConnectionString ''Host=pg01;Database=finops'' -Credential (Get-Credential) -Schema finops -Table cost_details | Where-Object Month -eq 2026-03'
            Remarks = 'Reads "finops"."cost_details" and keeps March 2026.'
        }
    )

    Inputs       = @(
        @{ Type = 'System.String'; Description = 'A scope, by property name Scope (for example AzCostImportResult or AzCostFile objects).' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzCostSummary'; Description = 'One per month, service and currency: Month (yyyy-MM), Service, Currency, Cost, Rows.' }
    )

    Notes        = 'Only reads the table; needs SELECT on it. Rows whose MeterCategory or currency is empty are grouped under an empty Service or Currency.'

    RelatedLinks = @(
        @{ Text = 'Import-AzCostToSql' }
        @{ Text = 'about_AzBillingPS' }
    )
}
