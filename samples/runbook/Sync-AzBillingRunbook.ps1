#Requires -Version 7.4
#Requires -Modules AzBillingPS
<#
.SYNOPSIS
    Azure Automation runbook (PowerShell 7.4 runtime): keeps a database's Azure cost details current with Sync-AzBilling.
.DESCRIPTION
    Signs in with the Automation account's managed identity (system-assigned, or user-assigned with -IdentityClientId),
    syncs every subscription the identity can list (or the scopes given) into the database, writes the run's summary to
    the output stream and each failed unit to the error stream, and ends with exit code 1 when any unit failed, so the
    job, a CI step or a scheduler running this script reports the failure.

    Nothing prompts. The same script runs outside Azure Automation wherever a managed identity is available (a VM, a
    hybrid worker, App Service), or for a trial with a local SQLite file (-ConnectionString 'Data Source=./trial.sqlite').

    See docs/runbook.md: importing the module, the roles to assign, the database user, the schedule, and how many
    scopes one job can take within the sandbox's 400 MB and three hours.
.PARAMETER SqlInstance
    SQL Server or Azure SQL: the server, for example 'finops.database.windows.net' (with -Database). Signed in as the
    managed identity (-UseTokenForDatabase, the default) or with the login of -CredentialName.
.PARAMETER Database
    The database on -SqlInstance.
.PARAMETER ConnectionString
    Any target database instead of -SqlInstance: 'Host=pg01.postgres.database.azure.com;Database=finops' (PostgreSQL,
    told by Host=), 'Server=tcp:finops.database.windows.net;Database=billing;Encrypt=true' (SQL Server). Leave it and
    -SqlInstance empty to read it from the encrypted Automation variable named by -ConnectionStringVariable.
.PARAMETER ConnectionStringVariable
    The name of an encrypted Automation variable holding the connection string, used when -ConnectionString and
    -SqlInstance are empty.
.PARAMETER CredentialName
    The name of an Automation credential asset holding the database login (a PostgreSQL role or a SQL login): its
    password stays in the asset, never in a connection string.
.PARAMETER Provider
    Only when the connection string's keywords do not tell the database: SqlServer, PostgreSql, or Sqlite (a file; for trials).
.PARAMETER Scope
    Scopes to sync (subscriptions or billing scopes). Empty: every subscription the identity can list.
.PARAMETER Exclude
    Subscriptions or scopes to leave out, by id, name or scope; wildcards allowed.
.PARAMETER Metric
    ActualCost, AmortizedCost, or both.
.PARAMETER IdentityClientId
    The client id of a user-assigned managed identity; empty for the system-assigned one.
.PARAMETER UseTokenForDatabase
    With -SqlInstance: sign in to the database as the managed identity (default $true). Not used with -CredentialName;
    with -ConnectionString the string's own sign-in is used.
.PARAMETER Table
    The cost table (the state table is <Table>_SyncState).
.PARAMETER LookbackMonths
    The default period's window, the current month included (1 to 13).
.PARAMETER ThrottleLimit
    Units downloading at once, and loads at once into PostgreSQL or SQL Server (reports in flight follow the API's
    limits, not this). 2 suits the Automation sandbox's memory; raise it on a hybrid worker.
#>
param(
    [string] $SqlInstance,
    [string] $Database,
    [string] $ConnectionString,
    [string] $ConnectionStringVariable = 'AzBillingConnectionString',
    [string] $CredentialName,
    [ValidateSet('', 'SqlServer', 'PostgreSql', 'Sqlite')]
    [string] $Provider = '',
    [string[]] $Scope = @(),
    [string[]] $Exclude = @(),
    [ValidateSet('ActualCost', 'AmortizedCost')]
    [string[]] $Metric = @('ActualCost'),
    [string] $IdentityClientId,
    [bool] $UseTokenForDatabase = $true,
    [string] $Table = 'AzureCostDetails',
    [ValidateRange(1, 13)]
    [int] $LookbackMonths = 3,
    [ValidateRange(1, 16)]
    [int] $ThrottleLimit = 2
)

$ErrorActionPreference = 'Continue'   # a failed unit is reported and the others go on
$ProgressPreference = 'SilentlyContinue'   # progress records only slow a job down

if (-not $ConnectionString -and -not $SqlInstance) {
    if (-not (Get-Command Get-AutomationVariable -ErrorAction SilentlyContinue)) {
        Write-Error "No -SqlInstance or -ConnectionString, and Get-AutomationVariable is not available outside Azure Automation to read '$ConnectionStringVariable'."
        exit 1
    }
    $ConnectionString = Get-AutomationVariable -Name $ConnectionStringVariable
}

$sync = @{
    ManagedIdentity  = $true
    Table            = $Table
    Metric           = $Metric
    LookbackMonths   = $LookbackMonths
    ThrottleLimit    = $ThrottleLimit
}
if ($SqlInstance) { $sync.SqlInstance = $SqlInstance; $sync.Database = $Database } else { $sync.ConnectionString = $ConnectionString }
if ($Provider) { $sync.Provider = $Provider }
if ($CredentialName) { $sync.Credential = Get-AutomationPSCredential -Name $CredentialName }
if ($SqlInstance -and $UseTokenForDatabase -and -not $CredentialName) { $sync.UseTokenForDatabase = $true }
if ($IdentityClientId) { $sync.ClientId = $IdentityClientId }
if ($Scope) { $sync.Scope = $Scope } else { $sync.AllSubscriptions = $true }
if ($Exclude) { $sync.Exclude = $Exclude }

$summary = Sync-AzBilling @sync
$ok = $?

if ($summary) {
    $summary | Select-Object RunId, Target, Table, Scopes, Units, Loaded, Skipped, Failed, Rows, Bytes, Elapsed, Success | Write-Output
    foreach ($line in $summary.FailedUnits) { Write-Output "Failed: $line" }
}

if (-not $ok -or -not $summary -or -not $summary.Success) {
    Write-Output 'Sync-AzBilling did not load every unit; see the error stream. The next run retries what failed.'
    exit 1
}
