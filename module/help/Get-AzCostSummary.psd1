# Help source for Get-AzCostSummary. build/New-ModuleHelp.ps1 turns this into MAML.
@{
    Synopsis     = 'Sums what a cost table holds by month, service, scope, resource group, tag or any column, never adding two metrics or two currencies together.'

    Description  = @'
Get-AzCostSummary reads a cost table written by Import-AzCostToSql or Sync-AzBilling and returns one AzCostSummary per group: the sum of CostInBillingCurrency and the number of rows. Metric (ActualCost, AmortizedCost) and Currency (BillingCurrencyCode) are always grouping keys, so a table holding both metrics, or several billing currencies, never shows them added together. By default the groups are Month and Service; -GroupBy names others.

GROUPING. -GroupBy takes one or more of: Month (the first day of the month, a DateTime), Day, Scope (the loaded scope, _Scope), Subscription (the SubscriptionId column), ResourceGroup, Service (MeterCategory; ServiceFamily when the table has no MeterCategory), Location (ResourceLocation), Tag:<name> (a tag's value from the Tags JSON, for example Tag:env), or the name of any column of the table (for example ChargeType or PricingModel). Values of a Tag or column key also appear as properties named after it (Tag:env, ChargeType), and every key's value is in the Keys dictionary.

FILTERS. -Scope keeps only the named scopes (several, wildcards allowed, the same spellings as Import-AzCostToSql -Scope; tab completion offers the scopes the table holds). -From and -To keep rows dated within those days. -Metric keeps one metric (or both, still shown separately). -Top N keeps the N costliest groups of each metric and currency, and of each month or day when grouped by one: -GroupBy Month, Service -Top 5 is the five costliest services of each month.

OUTPUT. Results are ordered by month or day (when grouped by one), metric, currency, then cost, highest first. Cost is a decimal: on SQL Server and PostgreSQL the sum is exact in the database, then rounded half away from zero to 6 decimals and cast there (decimal(38,6) or numeric(38,6)), so a total of any size fits; on SQLite money is stored as REAL (double), so sums over many rows can differ from an exact sum in the last digits. The table view shows the period, metric, currency, the other keys joined in one Group column (scopes in a short form), cost and rows; Format-List shows every property.

It only reads and changes nothing; it waits at most -LockTimeout seconds for a table (or SQLite file) that another session has locked. A SQLite file that does not exist is an error (AzBillingNotFound, "No database at ..."), never created; so is a table that does not exist. An unreachable database is SqlConnectionFailed.
'@

    Parameters   = @{
        GroupBy = 'What to group by besides Metric and Currency, in order: Month, Day, Scope, Subscription, ResourceGroup, Service, Location, Tag:<name>, or any column of the table. Several at once. Default: Month, Service. Positional (position 0): Get-AzCostSummary ResourceGroup -Top 10.'
        Scope   = 'Summarise only these scopes, for example /subscriptions/{id} or /providers/Microsoft.Billing/billingAccounts/*: several, wildcards (* and ?) allowed, the same spellings as Import-AzCostToSql -Scope (a bare GUID means /subscriptions/{guid}; case and slashes do not matter). Binds from the pipeline by property name, so AzCostImportResult and AzBillingSyncResult objects can be piped in; the scopes of every piped object are summarised together. Tab completion offers the scopes the target table holds. Default: all scopes in the table.'
        From    = 'Only rows dated on or after this day (the Date column). Time of day is ignored.'
        To      = 'Only rows dated on or before this day (inclusive). Time of day is ignored.'
        Metric  = 'Only this metric: ActualCost or AmortizedCost (both may be given; they are still shown separately). Default: every metric in the table, each on its own rows.'
        Top     = 'Keep only the N costliest groups of each metric and currency, and of each month or day when Month or Day is a grouping key.'
        LockTimeout = 'Seconds to wait when the table is locked (on SQLite: when another process is writing to the file, for example a load committing) before giving up with SqlLockTimeout, which names the table or file. Default 30; 0 to 86400.'
        Schema  = 'The schema of the table. Default: dbo on SQL Server, public on PostgreSQL. Refused on SQLite, which has no schemas.'
    }

    Examples     = @(
        @{
            Title   = 'Summarise the default SQLite file'
            Code    = 'Get-AzCostSummary'
            Remarks = 'Reads AzureCostDetails in AzBilling.sqlite in the current location and shows cost per metric, currency, month and service.'
        }
        @{
            Title   = 'The five costliest resource groups of each month, actual cost only, on SQL Server'
            Code    = 'Get-AzCostSummary -GroupBy Month, ResourceGroup -Top 5 -Metric ActualCost -SqlInstance sql01 -Database Billing'
            Remarks = 'Signs in with integrated security; add -Credential (Get-Credential) for a SQL login.'
        }
        @{
            Title   = 'Cost per environment tag and subscription for one quarter'
            Code    = 'Get-AzCostSummary -GroupBy Subscription, Tag:env -From 2026-01-01 -To 2026-03-31 -ConnectionString ''Host=pg01;Database=finops'' -Credential $login'
            Remarks = 'Tags are stored as a JSON object (jsonb on PostgreSQL), so Tag:env reads the env tag of every row; rows without it are grouped under an empty value.'
        }
        @{
            Title   = 'Check what a load wrote, straight after it'
            Code    = @'
Import-AzCostToSql -Path ./costs/*.csv -Scope /subscriptions/$sub -DatabasePath ./billing.sqlite |
    Get-AzCostSummary -DatabasePath ./billing.sqlite -GroupBy Month
'@
            Remarks = 'The Scope property of each AzCostImportResult binds to -Scope, so only the loaded scope is summarised: one total per month, metric and currency, to compare with the invoice.'
        }
    )

    Inputs       = @(
        @{ Type = 'System.String'; Description = 'Scopes, by property name Scope (for example AzCostImportResult, AzBillingSyncResult or AzCostFile objects).' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzCostSummary'; Description = 'One per group: Metric, Currency, the grouping keys (Month, Day, Scope, SubscriptionId, ResourceGroup, Service, Location, and a property for each Tag or column key), Keys, Group, Cost (decimal), Rows.' }
    )

    Notes        = 'Only reads the table; needs SELECT on it. Rows whose key value is empty are grouped under an empty value (shown as (none) in the Group column). For queries beyond a summary, see docs/queries.md.'

    RelatedLinks = @(
        @{ Text = 'Import-AzCostToSql' }
        @{ Text = 'about_AzBillingPS' }
    )
}
