# Help source for Get-AzBillingSyncState. build/New-ModuleHelp.ps1 turns this into MAML.
@{
    Synopsis     = 'Shows what Sync-AzBilling has loaded into a cost table: one row per scope, metric and month, with the last attempt''s status.'

    Description  = @'
Get-AzBillingSyncState reads the state table Sync-AzBilling keeps next to the cost table (<table>_SyncState, in the same schema) and returns one AzBillingSyncState per (scope, metric, month), ordered by scope, metric and month.

Two kinds of columns. Rows, Bytes, Blobs, ImportId, IsFinal, LoadedAt, PeriodStart and PeriodEnd describe the data the cost table holds for that month: they change only when a load commits (in the load's own transaction). Status, StartedAt, FinishedAt, OperationId, Error, RunId and Host describe the last attempt: Loaded, Failed (Error says why; the table still holds the earlier load, if any), or Running (a run is working on it, or a run ended without finishing it, for example a killed job). Complete is true when the table holds a final load of the month, which a default Sync skips; -Incomplete shows the others, that is what the next default Sync will load again (besides the current month).

The target parameters are shared by every database cmdlet: -SqlInstance with -Database for SQL Server and Azure SQL (as dbatools names them), -ConnectionString for any database (PostgreSQL, SQL Server or SQLite, told by its keywords; -Provider when they do not tell), -DatabasePath for a SQLite file, -Credential (alias -SqlCredential) for a SQL Server or PostgreSQL login, and with none of them AzBilling.sqlite in the current location; -Table and -Schema name the table. It only reads: a SQLite file that does not exist is an error (AzBillingNotFound, "No database at ..."), never created. -ConfigPath reads them from a Sync-AzBilling configuration file (its other keys are ignored here). For Entra sign-in to Azure SQL or Azure Database for PostgreSQL, pass -DatabaseToken (or name the sign-in in the connection string: Authentication=Active Directory Default, Managed Identity, Service Principal or Workload Identity).

It only reads and takes no lock. When no Sync has loaded anything into the table yet, the state table does not exist: error SyncStateNotFound.
'@

    Parameters   = @{
        LockTimeout      = 'Seconds to wait when the state table is locked (on SQLite: when another process is writing to the file) before giving up with SqlLockTimeout, which names the table or file. Default 30; 0 to 86400.'
        Scope            = 'Only these scopes; wildcards allowed (for example /subscriptions/*). Compared in the stored spelling (lower-case, one leading slash; a bare GUID is /subscriptions/{guid}). Binds from the pipeline by property name, so AzBillingSyncResult objects can be piped in.'
        Metric           = 'Only these metrics: ActualCost, AmortizedCost. Binds from the pipeline by property name.'
        Status           = 'Only rows whose last attempt has one of these statuses: Loaded, Failed, Running.'
        Incomplete       = 'Only months the table does not hold as complete (no committed load, or a load from before the month''s costs were final): what a default Sync-AzBilling loads again.'
        ConfigPath       = 'A Sync-AzBilling configuration file (.psd1); its SqlInstance, Database, ConnectionString, Provider, DatabasePath, Table and Schema are used (explicit parameters override them), its other keys are ignored. A relative DatabasePath is taken from the file''s folder.'
        Table            = 'The cost table whose state is shown (the state table is <table>_SyncState). Default: AzureCostDetails.'
        Schema           = 'The schema of the cost and state tables. Default: dbo on SQL Server, public on PostgreSQL. Refused on SQLite, which has no schemas.'
    }

    Examples     = @(
        @{
            Title   = 'What the default SQLite file holds'
            Code    = 'Get-AzBillingSyncState | Format-Table'
            Remarks = 'One line per scope, metric and month in AzureCostDetails_SyncState of AzBilling.sqlite.'
        }
        @{
            Title   = 'Failed months in the database of a scheduled sync'
            Code    = 'Get-AzBillingSyncState -ConfigPath ./sync.psd1 -Status Failed | Select-Object Scope, Month, Metric, FinishedAt, Error'
            Remarks = 'Uses the target of the runbook''s configuration file and lists the months whose last attempt failed, and why.'
        }
        @{
            Title   = 'What the next default run will load again, for some subscriptions'
            Code    = 'Get-AzBillingSyncState -ConnectionString ''Host=pg01;Database=finops'' -Credential $login -Scope /subscriptions/0a1b* -Incomplete'
            Remarks = 'Months not yet loaded, or loaded before their costs were final.'
        }
        @{
            Title   = 'The state of the units a run just loaded'
            Code    = 'Sync-AzBilling -ConfigPath ./sync.psd1 -PassThru | Where-Object Action -eq Loaded | Get-AzBillingSyncState -ConfigPath ./sync.psd1'
            Remarks = 'Scope and Metric of each AzBillingSyncResult bind by property name.'
        }
    )

    Inputs       = @(
        @{ Type = 'System.String[]'; Description = 'Scopes and metrics, by the property names Scope and Metric (for example AzBillingSyncResult objects).' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzBillingSyncState'; Description = 'One per scope, metric and month: Scope, Metric, Month, Status, IsFinal, Complete, PeriodStart, PeriodEnd, Rows, Bytes, Blobs, OperationId, ImportId, StartedAt, FinishedAt, LoadedAt, Error, RunId, Host, StateTable. Times are UTC.' }
    )

    Notes        = 'Only reads; needs SELECT on the state table. The SQL behind it is: SELECT * FROM <table>_SyncState ORDER BY Scope, Metric, Month.'

    RelatedLinks = @(
        @{ Text = 'Sync-AzBilling' }
        @{ Text = 'Get-AzCostSummary' }
        @{ Text = 'about_AzBillingPS' }
    )
}
