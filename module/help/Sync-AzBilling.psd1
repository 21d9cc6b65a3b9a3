# Help source for Sync-AzBilling. build/New-ModuleHelp.ps1 turns this into MAML (en-US/AzBillingPS.dll-Help.xml).
# Every parameter of the cmdlet needs an entry under Parameters; the build fails otherwise.
@{
    Synopsis     = 'Keeps a database''s Azure cost details current in one call: for every scope and month that is missing or still open, request the report, download it and load it exactly once.'

    Description  = @'
Sync-AzBilling is the whole pipeline (Get-AzBillingToken, New-AzCostReport, Save-AzCostBlob, Import-AzCostToSql) in one command, for many scopes and months, made to run on a schedule: from a shell, an Azure Automation runbook or a CI pipeline. It signs in, decides which (scope, metric, month) units need loading, and for each one requests the cost-details report, downloads its blobs to a working folder, loads them into the target table (replacing that month in one transaction), records the load in a state table and removes the files.

WHAT IT LOADS BY DEFAULT. Without -From/-To or -Months, Sync loads "what is missing or still open": every month of the lookback window (-LookbackMonths, default 3: the current month and the two before it; at most 13, the API's reach) that the state table does not hold as complete, plus the current month on every run, plus the previous month until its costs are final even when it lies outside the window. A month is complete when a load of it committed and that load counts as final: Microsoft finalises a month's usage up to 72 hours after it ends, so a load counts as final when its report was requested from 00:00 UTC on the 5th of the next month (the month's end + 72 hours + one day of margin). Months loaded before that are loaded again on every run until a final load is in. Units left alone are reported with the action Skipped and the reason. Corrections that arrive later (credits, invoice adjustments) are not followed automatically: load such a month again with -From/-To.

EXPLICIT PERIODS. -From/-To and -Months name the months to load whatever the state says. Sync works in whole calendar months: -From 2026-03-15 loads March from its first day. The current month is loaded up to today. Months older than the API serves (the current month and the 12 before it) are refused before any call.

THE STATE TABLE. Next to the cost table, in the same schema, Sync keeps <table>_SyncState (AzureCostDetails_SyncState by default), created on the first run that loads something: one row per (scope, metric, month) with Status (Loaded, Failed or Running), IsFinal, PeriodStart, PeriodEnd, Rows, Bytes, Blobs, OperationId, ImportId, StartedAt, FinishedAt, LoadedAt, Error, RunId and Host. The Loaded row is written inside the load's own transaction, so the state never claims rows that are not there. A failed attempt records Status Failed and the error, and keeps the columns that describe the data still in the table (Rows, ImportId, IsFinal, LoadedAt). Get-AzBillingSyncState reads it. A report that comes back with no data (NoDataFound) replaces the month with nothing: rows of an earlier load of that scope, metric and month are removed, and the state records a load of 0 rows.

SCOPES. -Scope takes subscriptions (/subscriptions/{id} or a bare GUID) and billing scopes (billing accounts, billing profiles, invoice sections, departments, enrollment accounts, customers), one or many, or from the pipeline. -AllSubscriptions lists every subscription the identity can read (Azure Resource Manager's subscription list, all pages; deleted subscriptions are left out). -Exclude leaves out subscriptions or scopes by id, display name or scope, with wildcards. -Metric ActualCost (the default), AmortizedCost, or both: each metric is its own unit.

SIGN-IN. The sign-in parameters are Get-AzBillingToken's. As yourself, at a prompt: -DeviceCode (a code to enter in a browser on any device), -Interactive (a browser on this machine), -UseAzContext (the Az PowerShell session of Connect-AzAccount) or -UseAzureCli (the Azure CLI's az login); the first two are remembered across sessions (see Get-AzBillingToken). Unattended: a certificate (-CertificatePath, -CertificateThumbprint or -Certificate), a client secret (-ClientSecret), a managed identity (-ManagedIdentity, with -ClientId, -ResourceId or -ObjectId for a user-assigned one) or workload identity federation (-FederatedTokenFile, or the AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID and AZURE_CLIENT_ID environment variables). Or pass -Token, a token object from Get-AzBillingToken. Sync gets a token before anything else, so a wrong identity stops the command once, before any unit. The identity needs Cost Management Reader (or a billing reader role) on the scopes, and Reader on the subscriptions for -AllSubscriptions.

TARGET. The target parameters are shared by every database cmdlet: -SqlInstance with -Database for SQL Server and Azure SQL (as dbatools names them), -ConnectionString for any database (PostgreSQL, SQL Server or SQLite, told by its keywords; -Provider when they do not tell), -DatabasePath for a SQLite file, -Credential (alias -SqlCredential) for a SQL Server or PostgreSQL login, and with none of them AzBilling.sqlite in the current location; -Table and -Schema name the table. Azure SQL Database and SQL Server accept SQL logins (-Credential) and integrated security, or Entra sign-in: -UseTokenForDatabase signs in to the database with the same identity (scope https://database.windows.net/.default in the public cloud; for PostgreSQL https://ossrdbms-aad.database.windows.net/.default, the token sent as the password), so every new connection gets a valid token however long the job runs; -DatabaseToken takes a token from Get-AzBillingToken instead; a connection string with Authentication=Active Directory Default, Managed Identity, Service Principal or Workload Identity signs in by itself.

PARALLELISM AND LOCKS. Each unit goes through three stages. Reports are requested as fast as Cost Management's published limits allow, not a fixed number at a time: per scope 2 requests a minute, 10 an hour and 50 a day; subscription scopes 10 a minute per tenant; billing scopes 5 a minute per billing account; 2 polls a minute per report; 30 calls a minute per client application (the module paces every call, process-wide, so it lives under the limits instead of on 429 answers). Azure takes minutes to prepare a report, so many are in flight at once and all are polled; a scope held back by its own limit does not hold back the others. A unit whose report is ready goes on to download (at most -ThrottleLimit units, and -ThrottleLimit blobs across them, at once) and then to load; while finished reports wait for a download slot (4 x -ThrottleLimit of them, at least 16), no new report is requested, so their links do not age in a queue. Loads of different units run -ThrottleLimit at once into PostgreSQL and SQL Server, the first one alone when the table does not exist yet (it creates the table); SQLite has one writer, so its loads go one at a time. The results come out in plan order (scope, metric, month). Each load locks its unit (its scope and metric, and each month of its period: sp_getapplock on SQL Server, advisory locks on PostgreSQL), so loads of one run, and of two Sync runs (two runbook jobs), into one PostgreSQL or SQL Server table run at the same time and never interleave the same unit: one waits up to -LockTimeout seconds for the other's lock, and otherwise the unit fails with SqlLockTimeout and is retried by the next run. Only creating the table or adding columns takes the table-wide lock; SQLite has one writer at a time (its write lock). When to request one billing scope instead of many subscriptions: see docs/runbook.md.

FILES. Each unit's blobs go to its own folder under -WorkingPath, in a sub-folder per run, and are removed as soon as the unit is loaded (or has failed), unless -KeepFiles. The default working folder is the current user's own: $XDG_CACHE_HOME/AzBillingPS or ~/.cache/AzBillingPS on Linux, ~/Library/Caches/AzBillingPS on macOS, %LOCALAPPDATA%\AzBillingPS on Windows. Folders and files are created private to the user (0700 and 0600 on Unix, an access list for the user only on Windows), new, and never through a symbolic link. A working folder that another user owns, or that others can write to, stops the run before anything is written (AzBillingUnsafeFolder); so does a link or another user's file where Sync would write (AzBillingUnsafeFile). Disk use is bounded by the units in flight; memory does not grow with the files (everything streams). Files left by a run that was killed are removed by the next run that uses the same -WorkingPath: only folders named sync-<32 hex digits> that hold the module's marker file, without following links (a run in progress keeps a lock on its folder, so a concurrent run leaves it alone). See docs/security.md.

OUTPUT. At the end, one AzBillingSyncSummary: the run id, target, counts of units loaded, skipped and failed, rows and bytes, the failed units with their reasons, and every unit's AzBillingSyncResult in its Results property. With -PassThru every unit's AzBillingSyncResult (scope, metric, month, action, reason, rows, bytes, final flag, operation and import ids, time per stage) is written first, in plan order (scope, metric, month), so the console shows one results table followed by the summary line (the summary always shows as one line, "Sync: 6 loaded, 0 skipped, 2 failed (4 scope(s)); ..."; Format-List * -Force shows every property, as for error records); progress and -Verbose report units as they finish. Each failed unit is a non-terminating error (its FullyQualifiedErrorId says why, for example AzBillingPermissionDenied or SqlLockTimeout; its target object is the unit's result), and the other units go on; so $? is $false after a run in which any unit failed. A runbook ends with: if (-not $?) { exit 1 }.

DOWNLOADS. Blobs are saved by the same rules as Save-AzCostBlob: stable file names, the blobs of a report in parallel (a blob of 32 MiB or more as 16 MiB ranges over up to 8 connections; at most 8 connections in all, or -ThrottleLimit when higher), streamed, length and Content-MD5 checked, resumed when a connection drops. A report whose blob links have expired (or expire within a minute) by the time its blobs are saved, as can happen in a long run, is requested again once and its blobs saved from the fresh links.

FROM COST MANAGEMENT EXPORTS. With -ExportPath (a folder, as azcopy sync or Storage Explorer leave a container), -ExportContainerSasUrl (a container's SAS URL, read and list) or -ExportStorageAccount with -ExportContainer (read with a storage token of the sign-in identity, scope https://storage.azure.com/.default; the identity needs Storage Blob Data Reader), Sync loads what scheduled Cost Management exports wrote instead of requesting reports: the newest run of every export and month (each run's manifest.json), as Import-AzCostExport does, into the cost-details table (ActualCost, AmortizedCost, Usage), AzureCostFocus (FocusCost) and the tables of the other datasets. What is new since the last run is loaded, nothing twice: the state is <table>_ExportState (the run each table holds for each export and month, written with the rows, and checked again under the table's lock, so two runs at the same time load a run once). Each export month is a unit: the same result and summary objects (Scope, Metric = the dataset, Month, OperationId = the run id, Blobs = its parts), the same -ThrottleLimit (fetching in parallel, loading one at a time), -WorkingPath, -KeepFiles, -WhatIf and -PassThru. -ExportDataset and -ExportName choose exports, -Months or -From/-To their months; -Scope, -AllSubscriptions, -Exclude, -Metric and -LookbackMonths do not go with an exports source. A folder or a SAS URL needs no sign-in parameters.

PROGRESS. A parent progress bar counts the units; each unit in flight has a child bar for its stage (report, download with megabytes, load with rows).

CONFIGURATION FILE. -ConfigPath reads the same settings from a PowerShell data file (.psd1): one hashtable whose keys are this cmdlet's parameter names, for example @{ ManagedIdentity = $true; AllSubscriptions = $true; ConnectionString = 'Host=pg01;Database=finops'; LookbackMonths = 3 }. Parameters given on the command line override the file, by whole alternatives: a sign-in parameter on the command line (for example -ClientSecret) replaces the file's way of signing in, a target parameter (-SqlInstance, -Database, -ConnectionString, -Provider or -DatabasePath) replaces the file's target, and -Months or -From/-To replace its LookbackMonths. Relative paths in the file (DatabasePath, WorkingPath, CertificatePath, PrivateKeyPath, FederatedTokenFile) are taken from the file's folder. The file is parsed, never run: only constants, arrays and $true/$false/$null. A key that is not a parameter stops the command (SyncConfigUnknownKey, naming the key, file and line); so do ClientSecret, CertificatePassword, Certificate, Token, DatabaseToken and Credential, which are passed as parameters only (in a runbook: -Credential (Get-AutomationPSCredential -Name ...)). Nothing Sync-AzBilling does prompts for input; only -DeviceCode and -Interactive wait for a person to sign in (in a file: DeviceCode = $true), so a scheduled job uses -ManagedIdentity, a certificate or workload identity instead.

ERRORS THAT STOP THE COMMAND. Contradictory parameters (AzBillingParameterConflict), an invalid configuration file (SyncConfigInvalid, SyncConfigUnknownKey), a failed sign-in (AzBillingAuthenticationFailed), a subscription list that cannot be read, an unreachable database (SqlConnectionFailed), and a state table that cannot be written.
'@

    Parameters   = @{
        Columnstore          = 'SQL Server and Azure SQL (SQL Server 2017 and later): the cost table, when this load creates it, gets a clustered columnstore index instead of the default clustered index on (_Scope, _Metric, Date): about ten times smaller on disk and much faster for month-by-service reports over many months, at the price of slower single-row lookups. Rows are then bulk-copied in batches of 1,048,576 (at least -BatchSize), so each batch compresses straight into a full rowgroup. It has no effect on a table that exists already (the table keeps its design; loads into an existing columnstore table use the same batch size either way). Other databases refuse it. See docs/sqlserver.md.'
        Token                = 'A token object from Get-AzBillingToken, used instead of the sign-in parameters. It renews itself when fewer than five minutes remain, so a long run is not cut short. Cannot be combined with the sign-in parameters. With -UseTokenForDatabase its identity also signs in to the database.'
        TenantId             = 'The directory (tenant) id or domain of the app registration. Needed for certificate and client secret sign-in, and for workload identity federation unless AZURE_TENANT_ID is set. Optional with -DeviceCode, -Interactive, -UseAzContext and -UseAzureCli (the tenant to sign in to). Not used with -ManagedIdentity.'
        ClientId             = 'The application (client) id of the app registration; with -ManagedIdentity, the client id of a user-assigned managed identity (leave it out for the system-assigned one).'
        CertificatePath      = 'Sign in with a certificate from a file: a PFX/P12 file, a PEM file holding the certificate and its private key, or a PEM certificate whose key is in -PrivateKeyPath. Relative paths resolve against the current location (or, in a configuration file, the file''s folder).'
        CertificatePassword  = 'The password of the PFX file, or of an encrypted PKCS#8 PEM key, as a SecureString. Only with -CertificatePath; never from a configuration file.'
        PrivateKeyPath       = 'A PEM private key (PKCS#8, PKCS#1 RSA, SEC1 EC, or encrypted PKCS#8) for the PEM certificate in -CertificatePath.'
        CertificateThumbprint = 'Sign in with a certificate from the certificate store, by its SHA-1 thumbprint (CurrentUser\My, then LocalMachine\My on Windows). The certificate needs its private key.'
        Certificate          = 'Sign in with a certificate object (X509Certificate2) that has its private key. Never from a configuration file.'
        SendX5c              = 'Send the certificate chain (x5c) with the sign-in assertion, for app registrations that trust a subject name and issuer (SNI). Only with a certificate sign-in.'
        ClientSecret         = 'Sign in with the app registration''s client secret (its value, not its id), as a SecureString. Never from a configuration file: in a runbook prefer -ManagedIdentity, or read the secret from an Automation credential.'
        ManagedIdentity      = 'Sign in with the managed identity of the Azure resource this runs on: an Azure Automation account, a virtual machine, App Service, Functions, Arc. System-assigned unless -ClientId, -ResourceId or -ObjectId names a user-assigned identity.'
        DeviceCode           = 'Sign in as yourself with a device code: a warning shows an address and a code to enter there in a browser on any device; the run waits for the sign-in (until the code expires, or Ctrl+C). Remembered across sessions, as Get-AzBillingToken -DeviceCode. -TenantId and -ClientId are optional (the default client is the Azure CLI''s public client).'
        Interactive          = 'Sign in as yourself in the web browser of this machine (as Get-AzBillingToken -Interactive); where no browser can be opened the error says to use -DeviceCode.'
        UseAzContext         = 'Use the signed-in Az PowerShell session (Connect-AzAccount): tokens come from Get-AzAccessToken for the context''s cloud and tenant, asked again whenever a fresh one is needed.'
        UseAzureCli          = 'Use the signed-in Azure CLI (az login): tokens come from az account get-access-token, run again whenever a fresh one is needed.'
        ResourceId           = 'With -ManagedIdentity: a user-assigned managed identity by its Azure resource id (/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/...).'
        ObjectId             = 'With -ManagedIdentity: a user-assigned managed identity by its object (principal) id.'
        FederatedTokenFile   = 'Sign in with workload identity federation: a file holding the federated token (for example a Kubernetes service account token), read again for every sign-in. Without it, AZURE_FEDERATED_TOKEN_FILE is used when set; -TenantId and -ClientId default to AZURE_TENANT_ID and AZURE_CLIENT_ID.'
        Cloud                = 'The Azure cloud: AzurePublic (the default), AzureUSGovernment or AzureChina. Sets the sign-in host, the Resource Manager URL and, with -UseTokenForDatabase, the database token''s scope.'
        AuthorityHost        = 'Overrides the cloud''s Entra ID sign-in host (Azure Stack, private clouds, tests). https only.'
        ResourceManagerUrl   = 'Overrides the cloud''s Resource Manager URL, where the Cost Management and subscription list calls go. https only (plain http only for a loopback address); the token is sent to this host and port only, so a Location or nextLink that points elsewhere ends the unit (AzBillingTokenHostRefused).'
        Scope                = 'The cost scopes to sync: /subscriptions/{id} (or a bare subscription GUID), /providers/Microsoft.Billing/billingAccounts/{id}, .../billingProfiles/{id}, .../invoiceSections/{id}, .../departments/{id}, .../enrollmentAccounts/{id} or .../customers/{id}. One or many, or from the pipeline (by value, or by the property name Scope). Resource groups and management groups are refused: the Cost Details API does not take them. Cannot be combined with -AllSubscriptions.'
        AllSubscriptions     = 'Sync every subscription the identity can list in Azure Resource Manager (all pages; subscriptions in the Deleted state are left out). Use -Exclude to leave some out.'
        Exclude              = 'Subscriptions or scopes to leave out, by subscription id, display name or scope; wildcards allowed, case-insensitive (for example ''*-sandbox'', ''00000000-*'').'
        Metric               = 'ActualCost (the default), AmortizedCost, or both. Each metric of each month is its own unit, with its own state row; both live in the same table.'
        From                 = 'First day of an explicit period: the months from this day''s month to -To''s month are loaded whatever the state says. At most 12 months before the current one. Without -To, up to today.'
        To                   = 'Last day of an explicit period (its whole month is loaded; the current month up to today). Without -From, only -To''s month.'
        Months               = 'Load the last N months, the current one included (1 to 13), whatever the state says. Cannot be combined with -From/-To.'
        LookbackMonths       = 'The default period''s window: the current month and the N-1 before it (1 to 13; default 3). Months in it that the state does not hold as complete are loaded; the previous month is loaded until final even when N is 1. Only for the default period.'
        ConfigPath           = 'A PowerShell data file (.psd1) holding settings as @{ ParameterName = value; ... }. Explicit parameters override it (a sign-in, target or period parameter on the command line replaces the file''s alternatives to it); relative paths in it are taken from its folder; unknown keys and secrets stop the command. So a runbook can be one line: Sync-AzBilling -ConfigPath ./sync.psd1.'
        WorkingPath          = 'The folder the downloaded blobs go to, in a sub-folder per run and per unit; created (private to you) when missing. Default: your own cache folder (~/.cache/AzBillingPS on Linux, ~/Library/Caches/AzBillingPS on macOS, %LOCALAPPDATA%\AzBillingPS on Windows). A folder another user owns or can write to is refused (AzBillingUnsafeFolder). Each unit''s files are removed once it is loaded or has failed, unless -KeepFiles.'
        MaxGzipRatio         = 'How many times its compressed size a gzip blob may inflate to (default 100; never less than 64 MB). A blob that inflates further is not cost CSV: its unit fails with AzBillingDecompressionLimit and nothing of it is kept.'
        KeepFiles            = 'Keep the downloaded files under -WorkingPath after loading (for inspection), in the run''s folder (sync-<run id>), one folder per unit (<n>-<metric or dataset>-<yyyy-MM>): the report''s blobs, or with an exports container the run''s parts as they were fetched (a folder source is read in place, nothing is copied). By default each unit''s files are removed as soon as it is loaded or has failed. A later run that downloads into the same -WorkingPath removes kept run folders more than a day old.'
        ThrottleLimit        = 'How many units (and blobs across them) download at once, and how many loads run at once into PostgreSQL or SQL Server (SQLite loads one at a time). Not how many reports are in flight: those follow Cost Management''s published limits, whatever the value. Default 4; 1 to 16. Memory and disk grow with it (each unit in flight keeps its files until loaded).'
        LockTimeout          = 'Seconds any one lock wait of a load may last (another load of the same scope, metric and month, a load creating the table or adding columns, a session holding a lock on the table; on SQLite another process holding the file); after that the unit fails with SqlLockTimeout, naming whose lock it waited for, nothing is changed and the next run retries it. Default 300; 0 to 86400.'
        UseTokenForDatabase  = 'SQL Server, Azure SQL and Azure Database for PostgreSQL targets: sign in to the database as the same identity (the sign-in parameters'' or -Token''s) with an Entra access token for the database''s resource in the cloud in use (https://database.windows.net/.default or https://ossrdbms-aad.database.windows.net/.default, or the sovereign cloud''s), renewed so each new connection gets a valid one. The connection string then names only the server and database (no Authentication, User ID or Integrated Security); the token goes only to that server over TLS with its certificate checked (see -DatabaseToken). The identity needs a database user (SQL: CREATE USER [name] FROM EXTERNAL PROVIDER; PostgreSQL: pgaadauth_create_principal) with rights to create and write the tables.'
        ExportPath           = 'Load Cost Management exports from this folder (a local copy of the exports container, as azcopy sync or Storage Explorer leave it) instead of requesting reports; see FROM COST MANAGEMENT EXPORTS. Symbolic links inside it are not followed. Relative paths in a configuration file are taken from its folder.'
        ExportContainerSasUrl = 'Load Cost Management exports from the container behind this SAS URL (read and list permissions), for example https://account.blob.core.windows.net/costs?sv=...&sig=... Its signature never appears in output or errors, and it cannot be set in a configuration file (it is a secret).'
        ExportStorageAccount = 'Load Cost Management exports from this storage account (its name, or its blob endpoint URL for other clouds and emulators), with -ExportContainer, reading with the sign-in identity''s storage token (scope https://storage.azure.com/.default; the identity needs Storage Blob Data Reader on the container). The token is sent only to that account''s host, over https. With -Token, the token must be a storage token.'
        ExportContainer      = 'The container the exports write to, with -ExportStorageAccount.'
        ExportPrefix         = 'A folder inside the container to read (the exports'' root folder path), with -ExportContainerSasUrl or -ExportStorageAccount; the whole container when not given.'
        ExportName           = 'Only exports whose name matches one of these (wildcards * and ? allowed), with an exports source.'
        ExportDataset        = 'Only exports of these datasets, with an exports source: ActualCost, AmortizedCost, Usage, FocusCost, PriceSheet, ReservationDetails, ReservationTransactions, ReservationRecommendations. All when not given.'
        PassThru             = 'Also write one AzBillingSyncResult per unit, in plan order (scope, metric, month), before the summary: one results table, then the summary line. Without it, only the summary is written; the summary''s Results property holds every unit''s result either way.'
        Table                = 'The cost table, created on the first load. Default: AzureCostDetails. The state table is <table>_SyncState in the same schema.'
        Schema               = 'The schema of the cost and state tables. Default: dbo on SQL Server, public on PostgreSQL. A schema that does not exist is created with the tables. Refused on SQLite, which has no schemas.'
        WhatIf               = 'Shows, for each unit that would be loaded, the target table and the month, metric, scope and why; requests nothing, downloads nothing and writes nothing (the state table is only read).'
        Confirm              = 'Asks for confirmation before each unit that would be loaded.'
    }

    Examples     = @(
        @{
            Title   = 'Keep a database current from Cost Management exports, on a schedule'
            Code    = @'
Sync-AzBilling -ExportStorageAccount finopsdata -ExportContainer exports -ManagedIdentity -ConnectionString 'Host=pg01;Database=finops' -Credential $login -FocusView
Sync-AzBilling -ExportPath ./exports -ExportDataset FocusCost -PassThru     # a local copy (azcopy sync), no sign-in
'@
            Remarks = 'Each run loads the export runs that are newer than what the tables hold (several runs a day and the previous month''s runs early in a month are normal), one unit per export and month; a run already loaded is skipped.'
        }
        @{
            Title   = 'The one-line scheduled sync, with a configuration file'
            Code    = 'Sync-AzBilling -ConfigPath ./sync.psd1 -Credential (Get-AutomationPSCredential -Name finops-loader)'
            Remarks = @'
With sync.psd1 holding, for example:
@{ ManagedIdentity = $true; AllSubscriptions = $true; Exclude = '*-sandbox'; Metric = 'ActualCost', 'AmortizedCost'; ConnectionString = 'Host=pg01;Database=finops' }
The PostgreSQL login comes from the Automation account's credential asset, never from the file. Loads, for every subscription the managed identity can list, each month of the last three that is missing or not final yet, plus the current month. Writes one summary object; failures go to the error stream.
'@
        }
        @{
            Title   = 'Keep one subscription current in a local SQLite file'
            Code    = 'Sync-AzBilling -TenantId $tenant -ClientId $app -CertificatePath ./app.pfx -CertificatePassword $pw -Scope /subscriptions/$sub -PassThru'
            Remarks = 'Writes AzBilling.sqlite in the current location; -PassThru shows each month loaded or skipped and why. Run it again tomorrow: only the open months are loaded again.'
        }
        @{
            Title   = 'Reload a quarter for two subscriptions, both metrics, into SQL Server'
            Code    = @'
$token = Get-AzBillingToken -TenantId $tenant -ClientId $app -CertificateThumbprint $thumb
$sub1, $sub2 | Sync-AzBilling -Token $token -From 2026-01-01 -To 2026-03-31 -Metric ActualCost, AmortizedCost -SqlInstance sql01 -Database Billing
'@
            Remarks = 'Twelve units (two scopes, three months, two metrics), whatever the state says: each month is replaced exactly once.'
        }
        @{
            Title   = 'Azure SQL with the runbook''s managed identity, and a failure check'
            Code    = @'
Sync-AzBilling -ManagedIdentity -AllSubscriptions -Exclude 'Visual Studio*' -ConnectionString 'Server=tcp:finops.database.windows.net;Database=billing;Encrypt=true' -UseTokenForDatabase
if (-not $?) { exit 1 }
'@
            Remarks = 'The same identity reads the costs and writes the database (it needs a database user created FROM EXTERNAL PROVIDER). Any failed unit makes $? false, so the job ends as failed.'
        }
        @{
            Title   = 'At the prompt, signed in as yourself'
            Code    = @'
Sync-AzBilling -DeviceCode -Scope /subscriptions/$sub -PassThru
Sync-AzBilling -UseAzContext -AllSubscriptions -Months 2
'@
            Remarks = 'The first shows a code to enter in a browser and waits for the sign-in (later runs sign in silently from the token cache); the second uses the session of Connect-AzAccount.'
        }
        @{
            Title   = 'See what would be loaded, without loading'
            Code    = 'Sync-AzBilling -ManagedIdentity -Scope $sub -ConnectionString ''Host=pg01;Database=finops'' -Credential $login -LookbackMonths 6 -WhatIf'
            Remarks = 'Reads the state table and names each month it would load and why; requests no report and writes nothing.'
        }
    )

    Inputs       = @(
        @{ Type = 'System.String'; Description = 'Scopes, by value or by the property name Scope (for example AzBillingSyncState or AzCostImportResult objects).' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzBillingSyncSummary'; Description = 'One per run: RunId, Target, Table, StateTable, StartedAt, FinishedAt, Elapsed, Scopes, Units, Loaded, Skipped, Failed, Rows, Bytes, Success, FailedUnits, Results.' }
        @{ Type = 'AzBillingPS.AzBillingSyncResult'; Description = 'With -PassThru, one per unit: Scope, Metric, Month, PeriodStart, PeriodEnd, Action (Loaded, Skipped, Failed), Reason, Rows, RowsReplaced, Bytes, Blobs, IsFinal, OperationId, ImportId, Error, ErrorId, ReportDuration, DownloadDuration, LoadDuration, Elapsed.' }
    )

    Notes        = @'
Azure Automation: see docs/runbook.md in the project for the PowerShell 7.4 runtime, importing the module, the roles to assign, the schedule, and how many scopes one job can take within the sandbox's 400 MB and three hours.

The Cost Details API is meant for up to about 2 GB (about 2 million rows) per scope and month; beyond that, use Cost Management exports and Import-AzCostToSql. Microsoft suggests one request per scope per day: a daily schedule fits.
'@

    RelatedLinks = @(
        @{ Text = 'Get-AzBillingSyncState' }
        @{ Text = 'Get-AzBillingToken' }
        @{ Text = 'New-AzCostReport' }
        @{ Text = 'Import-AzCostToSql' }
        @{ Text = 'about_AzBillingPS' }
    )
}
