# Help source for Import-AzCostExport. build/New-ModuleHelp.ps1 turns this into MAML (en-US/AzBillingPS.dll-Help.xml).
# Every parameter of the cmdlet needs an entry under Parameters; the build fails otherwise.
@{
    Synopsis     = 'Loads Cost Management exports (CSV, gzip CSV or Parquet) from a folder or a storage container into SQLite, PostgreSQL or SQL Server, each export month exactly once.'

    Description  = @'
Import-AzCostExport reads what Cost Management exports write into a storage account: one run per export and month, each described by a manifest.json (older exports: _manifest.json) next to its data parts. It loads the newest run of every export and month into SQL, replacing the month as a whole, exactly once. Microsoft recommends exports over the Cost Details API above about 2 GB of cost data a month, and for the FOCUS dataset.

SOURCES. -Path reads a local folder tree (as azcopy sync or Storage Explorer leave a container). -ContainerSasUrl reads a container through its SAS URL (read and list permissions). -StorageAccount with -Container and -Token reads a container with an Entra token (Get-AzBillingToken ... -Scope https://storage.azure.com/.default; the identity needs Storage Blob Data Reader); the token is only ever sent to that account's own host, over https. -Prefix limits a container to one folder.

TARGET. The same target parameters as Import-AzCostToSql: -SqlInstance with -Database (SQL Server), -ConnectionString (its keywords tell the database), -DatabasePath for a SQLite file, or with none of them AzBilling.sqlite in the current location.

DISCOVERY. Every manifest under the root is read; the data parts are the blobs the manifest lists (never guessed from file names), found next to the manifest. Runs are grouped by export (exportConfig.resourceId) and month (runInfo.startDate); the newest run (runInfo.submittedTime) of each is loaded and older ones are ignored, so several runs a day and the previous-month runs of a month's first days are normal.

EXACTLY ONCE. Each table the exports load into has a state table next to it (<table>_ExportState) naming, for every export and month, the run whose rows the table holds; it is written in the same transaction as the rows. A run already loaded is skipped; a newer run replaces the month; -Force loads the newest run again.

DATASETS. ActualCost, AmortizedCost and Usage (which is ActualCost) go into the cost-details table (-Table, default AzureCostDetails) exactly as Import-AzCostToSql loads them: a month of an export replaces the rows of the same scope, metric and month, whichever way they were loaded. FocusCost goes into AzureCostFocus (FOCUS 1.0, 1.0r2 and 1.2-preview: costs and quantities as exact decimals, datetimes as UTC timestamps, Tags as JSON text, the x_ columns kept). PriceSheet, ReservationDetails, ReservationTransactions and ReservationRecommendations go into AzurePriceSheet, AzureReservationDetails, AzureReservationTransactions and AzureReservationRecommendations (typed as far as their documented columns go, the rest as text). The scope is the part of exportConfig.resourceId before /providers/Microsoft.CostManagement/exports/.

FORMATS AND CHECKS. Parts may be CSV, gzip CSV or Parquet (uncompressed or Snappy), recognised by their content. Each part's byteCount and the run's dataRowCount from the manifest are checked: a missing part or a count that differs fails that month only, and the table keeps what it held.

ERRORS. A month that fails is a non-terminating error (its result object has Action Failed); the other months go on. ExportManifestInvalid: a manifest that is not JSON or lacks what a load needs. ExportRunIncomplete: a part missing, or a byte or row count that differs from the manifest. The load errors of Import-AzCostToSql (CsvBadValue, SqlLockTimeout, ...) apply as well.
'@

    Parameters   = @{
        Path             = 'A local folder holding exports: the container (or a folder of it) as azcopy sync or Storage Explorer copy it. Symbolic links inside it are not followed.'
        ContainerSasUrl  = 'The SAS URL of the container the exports write to, with read (r) and list (l) permissions, for example https://account.blob.core.windows.net/costs?sv=...&sig=... Its signature never appears in output or errors.'
        StorageAccount   = 'The storage account the exports write to: its name (the endpoint is https://<name>.blob.core.windows.net) or its blob endpoint URL (other clouds, emulators).'
        Container        = 'The container the exports write to, with -StorageAccount.'
        Token            = 'An Entra token for Azure Storage from Get-AzBillingToken with -Scope https://storage.azure.com/.default; it is renewed as it nears expiry and is only sent to the storage account''s own host over https.'
        Prefix           = 'A folder inside the container to read (the exports'' root folder path); the whole container when not given.'
        Dataset          = 'Only exports of these datasets: ActualCost, AmortizedCost, Usage, FocusCost, PriceSheet, ReservationDetails, ReservationTransactions, ReservationRecommendations. All when not given.'
        ExportName       = 'Only exports whose name matches one of these (wildcards * and ? allowed).'
        Month            = 'Only runs of these months (any day of the month names it). All months when not given.'
        Force            = 'Loads the newest run of each month even when the state table says it is already loaded.'
        BatchSize        = 'Number of rows between progress updates and verbose lines, and the SqlBulkCopy batch size on SQL Server. A month always commits or rolls back as a whole. Default 50000.'
        LockTimeout      = 'Seconds to wait for another load into the same table before giving up with SqlLockTimeout (nothing is changed then). Default 300.'
        Table            = 'The cost-details table (ActualCost, AmortizedCost, Usage), as a plain name. Default: AzureCostDetails. The other datasets go to tables of their own (see the description).'
        WhatIf           = 'Shows, for each export month to load, which table would be replaced with which run, without changing the database.'
        Confirm          = 'Asks for confirmation before each export month is loaded.'
    }

    Examples     = @(
        @{
            Title   = 'Load a local copy of an exports container into the default SQLite file'
            Code    = @'
azcopy sync 'https://account.blob.core.windows.net/costs?<SAS>' ./exports
Import-AzCostExport -Path ./exports
'@
            Remarks = 'Every export month found under ./exports is loaded once into AzBilling.sqlite; running it again loads only the months with a newer run.'
        }
        @{
            Title   = 'Load straight from the container with a SAS URL into PostgreSQL'
            Code    = @'
Import-AzCostExport -ContainerSasUrl $sasUrl -Prefix exports -Dataset FocusCost -ConnectionString 'Host=pg01;Database=finops' -Credential $login
'@
            Remarks = 'The FocusCost runs under the exports folder go into "public"."AzureCostFocus", with their state in "AzureCostFocus_ExportState".'
        }
        @{
            Title   = 'Load with the identity of an Automation account (Entra token)'
            Code    = @'
$storage = Get-AzBillingToken -ManagedIdentity -Scope https://storage.azure.com/.default
Import-AzCostExport -StorageAccount finopsdata -Container costs -Token $storage -SqlInstance sql01 -Database FinOps
'@
            Remarks = 'The managed identity needs Storage Blob Data Reader on the account or container.'
        }
    )

    Inputs       = @(
        @{ Type = 'System.String'; Description = 'A folder, by property name Path, PSPath or LiteralPath (parameter -Path), for example from Get-Item.' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzCostExportResult'; Description = 'One per export month: Action (Loaded, Skipped, Failed), Reason, ExportName, Dataset, Month, RunId, Format, RowsInserted, RowsReplaced, Bytes, Table, Elapsed. Nothing is written for a month skipped by -WhatIf or -Confirm.' }
    )

    Notes        = @'
- Exactly once: the state table <table>_ExportState, written in the load's transaction, names the run each export month came from.
- Exports of ActualCost or AmortizedCost and the Cost Details API (Sync-AzBilling) share the cost-details table: whichever loads a scope, metric and month last holds it.
- Parquet is read one row group at a time; memory grows with the row group size the export writes, not with the file.
'@

    RelatedLinks = @(
        @{ Text = 'about_AzBillingPS' }
        @{ Text = 'Import-AzCostToSql' }
        @{ Text = 'Get-AzBillingToken' }
        @{ Text = 'Cost Management exports'; Uri = 'https://learn.microsoft.com/azure/cost-management-billing/costs/tutorial-improved-exports' }
    )
}
