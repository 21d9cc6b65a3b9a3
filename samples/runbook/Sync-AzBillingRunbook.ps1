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
    hybrid worker, App Service), or for a trial with a local SQLite file (-Provider Sqlite).

    See docs/runbook.md: importing the module, the roles to assign, the database user, the schedule, and how many
    scopes one job can take within the sandbox's 400 MB and three hours.
.PARAMETER ConnectionString
    The target database. For Azure SQL with -UseTokenForDatabase (the default for SqlServer), only server and database:
    'Server=tcp:finops.database.windows.net;Database=billing;Encrypt=true'. Leave it empty to read it from the encrypted
    Automation variable named by -ConnectionStringVariable (for connection strings that hold a password).
.PARAMETER ConnectionStringVariable
    The name of an encrypted Automation variable holding the connection string, used when -ConnectionString is empty.
.PARAMETER Provider
    SqlServer (SQL Server and Azure SQL, the default), PostgreSql, or Sqlite (a file; for trials).
.PARAMETER Scope
    Scopes to sync (subscriptions or billing scopes). Empty: every subscription the identity can list.
.PARAMETER Exclude
    Subscriptions or scopes to leave out, by id, name or scope; wildcards allowed.
.PARAMETER Metric
    ActualCost, AmortizedCost, or both.
.PARAMETER IdentityClientId
    The client id of a user-assigned managed identity; empty for the system-assigned one.
.PARAMETER UseTokenForDatabase
    SqlServer only: sign in to the database as the managed identity (default $true). Set $false when the connection
    string carries a SQL login.
.PARAMETER Table
    The cost table (the state table is <Table>_SyncState).
.PARAMETER LookbackMonths
    The default period's window, the current month included (1 to 13).
.PARAMETER ThrottleLimit
    Units in flight at once. 2 suits the Automation sandbox's memory; raise it on a hybrid worker.
#>
param(
    [string] $ConnectionString,
    [string] $ConnectionStringVariable = 'AzBillingConnectionString',
    [ValidateSet('SqlServer', 'PostgreSql', 'Sqlite')]
    [string] $Provider = 'SqlServer',
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

if (-not $ConnectionString) {
    if (-not (Get-Command Get-AutomationVariable -ErrorAction SilentlyContinue)) {
        Write-Error "No -ConnectionString, and Get-AutomationVariable is not available outside Azure Automation to read '$ConnectionStringVariable'."
        exit 1
    }
    $ConnectionString = Get-AutomationVariable -Name $ConnectionStringVariable
}

$sync = @{
    ManagedIdentity  = $true
    Provider         = $Provider
    ConnectionString = $ConnectionString
    Table            = $Table
    Metric           = $Metric
    LookbackMonths   = $LookbackMonths
    ThrottleLimit    = $ThrottleLimit
}
if ($IdentityClientId) { $sync.ClientId = $IdentityClientId }
if ($Scope) { $sync.Scope = $Scope } else { $sync.AllSubscriptions = $true }
if ($Exclude) { $sync.Exclude = $Exclude }
if ($Provider -eq 'SqlServer' -and $UseTokenForDatabase) { $sync.UseTokenForDatabase = $true }

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
