# Help source for Import-AzCostToSql. build/New-ModuleHelp.ps1 turns this into MAML (en-US/AzBillingPS.dll-Help.xml).
# Every parameter of the cmdlet needs an entry under Parameters; the build fails otherwise.
@{
    Synopsis     = 'Loads Azure cost-details CSV files into SQLite, PostgreSQL or SQL Server, replacing each scope, metric and period exactly once.'

    Description  = @'
Import-AzCostToSql streams cost-details CSV files (as Save-AzCostBlob writes them, or as the Cost Management portal, the Cost Details API or a Cost Management export produce them) into a table in SQLite, PostgreSQL or SQL Server / Azure SQL Database. Rows are never held in memory as a whole: they go from the file straight into the database's bulk path (binary COPY on PostgreSQL, SqlBulkCopy on SQL Server, prepared inserts on SQLite).

TARGET. With -SqlInstance and -Database, rows go to SQL Server or Azure SQL (as dbatools names them; -Credential, alias -SqlCredential, for a SQL login, otherwise integrated security). With -ConnectionString, they go to the database its keywords name: Host= is PostgreSQL, Server= or Initial Catalog= is SQL Server, a Data Source that is a file is SQLite (-Provider names it when the keywords do not tell); -Credential gives the login without a password in the string. With -DatabasePath, or with no target parameter, they go to a SQLite file; without -DatabasePath that file is AzBilling.sqlite in the current location. The table is AzureCostDetails unless -Table says otherwise, in schema dbo (SQL Server) or public (PostgreSQL) unless -Schema says otherwise.

LOAD UNITS. Files are loaded in units, and each unit is loaded exactly once:
- Pipeline input (AzCostFile objects): the files are grouped by scope, metric, period and Cost Management operation id, that is by report. A report is loaded when all of its BlobCount files have arrived. A report whose files did not all arrive by the end of the pipeline is not loaded at all (error ImportIncompleteReport), so the table keeps the earlier data for that period.
- -Path or -LiteralPath: all files of one invocation (after wildcard expansion, and including paths piped in by property name) form one unit, for the scope given by -Scope and the metric given by -Metric.

WHAT A LOAD DOES. In one database transaction, for each unit: take a per-table load lock (sp_getapplock on SQL Server, an advisory transaction lock on PostgreSQL, the database write lock on SQLite) so loads into the same table never interleave; create the table when it does not exist, or add the columns the files bring that the table lacks (with a warning naming them); delete the rows of the same scope and metric whose Date lies within the period; insert the new rows; commit. Any failure, whether a bad value on line 1,234,567, a dropped connection or Ctrl+C, rolls the whole transaction back, so the table holds exactly what it held before. Re-running the same load, or loading the same month in a different chunking, therefore never duplicates rows.

PERIOD. For pipeline input the period is the report's PeriodStart..PeriodEnd. For -Path/-LiteralPath it is -From..-To; each defaults to the files' own first or last Date. Files without rows (a header only) and no -From/-To load nothing, with a warning; with a period they replace it with nothing, and a warning says how many rows that removed. Any row dated outside the period fails the unit (error CsvRowOutsidePeriod, naming the file and line), because such a row would not be replaced by the next load of its own period.

COLUMNS AND TYPES. Known cost-details columns (EA, MCA and pay-as-you-go spellings, matched case-insensitively) get typed columns; unknown columns are kept as text. Money columns are numeric on PostgreSQL and decimal(38,20) on SQL Server, both exact; on SQLite they are REAL (a double: 15 to 17 significant digits), because SQLite has no decimal type. Dates are date columns on PostgreSQL and SQL Server and ISO-8601 text (yyyy-MM-dd) on SQLite. Every row also gets lineage columns: _Scope, _Metric, _PeriodStart, _PeriodEnd, _SourceFile, _ImportId (the ImportId of the result object) and _ImportedAt (UTC).

SCOPES. Scopes are stored lower-case with one leading slash and no trailing slash, so two spellings of one scope never load the same month twice. A bare GUID means /subscriptions/{guid}.

CONFIRMATION AND FEEDBACK. -WhatIf and -Confirm apply per unit: the target is the table and server (never a password), the action names the period, metric, scope, file count and size. Progress and verbose lines appear every -BatchSize rows. The cmdlet writes one AzCostImportResult per loaded unit.

ERRORS. A failed unit is a non-terminating error; other units go on. An unreachable database (SqlConnectionFailed) or contradictory parameters stop the command. Match errors on their FullyQualifiedErrorId, for example $_.FullyQualifiedErrorId -like 'CsvBadValue*':
- CsvBadValue: a value that does not parse as its column's type (file, line and column named).
- CsvInvalidText: a field that is not valid UTF-8 or holds a NUL character (file, line, column and the offending bytes in hex named; the bytes themselves are never shown). The check runs on every row before the database sees it, on every target.
- CsvCompressedFile: a file whose name says CSV but whose bytes are gzip (a *.csv.gz file is read decompressed; rename it so, or decompress it), or a zip archive.
- AzBillingDecompressionLimit: a *.csv.gz that inflates past 100 times its size (at least 64 MB): cost CSV compresses 10 to 25 times, so it is not one.
- AzBillingPathIsFolder: a folder given where a file was expected (give the files in it, for example -Path ./costs/*.csv).
- CsvRaggedRow: a row with more or fewer fields than the header.
- CsvEmptyFile: a file with no header line.
- CsvBadHeader: an unusable header (for example a column named like a lineage column, or a name the database cannot take).
- CsvDuplicateColumn: two header columns with the same name (case-insensitive).
- CsvRowOutsidePeriod: a row dated outside the unit's period.
- AzBillingFileNotFound: a file that does not exist.
- ImportIncompleteReport: a report whose blobs did not all arrive.
- SqlConnectionFailed: the database cannot be reached or refuses the sign-in.
- SqlCommandFailed: a statement failed in the database (permissions, disk full, ...); the unit was rolled back.
- SqlLockTimeout: another load held a lock this load waited for longer than -LockTimeout seconds (a load of the same scope, metric and month: "Another load of ... held its lock"; a load creating the table or adding columns: "Another load into ... held its lock"; on SQLite, another process writing to the file); nothing was changed. The message names the server or file.
- SqlLockTimeoutReader: a session that is not a load held a lock on the table longer than -LockTimeout seconds (a long query or an open transaction; on SQLite a reader holding the file, such as an open sqlite3 shell); nothing was changed.
- SqlTransientRetriesExhausted: the unit failed with a transient error (failover, throttling, deadlock, dropped connection) every time it was tried; nothing was changed.
'@

    Parameters   = @{
        Columnstore      = 'SQL Server and Azure SQL (SQL Server 2017 and later): the cost table, when this load creates it, gets a clustered columnstore index instead of the default clustered index on (_Scope, _Metric, Date): about ten times smaller on disk and much faster for month-by-service reports over many months, at the price of slower single-row lookups. Rows are then bulk-copied in batches of 1,048,576 (at least -BatchSize), so each batch compresses straight into a full rowgroup. It has no effect on a table that exists already (the table keeps its design; loads into an existing columnstore table use the same batch size either way). Other databases refuse it. See docs/sqlserver.md.'
        InputObject      = 'AzCostFile objects, as Save-AzCostBlob writes them (or built by hand with [AzBillingPS.AzCostFile]::new(path, scope, metric, periodStart, periodEnd, blobIndex, blobCount)). Files are grouped by Scope, Metric, PeriodStart, PeriodEnd and OperationId; a group is loaded as one unit as soon as all BlobCount files of it have arrived. Groups still incomplete at the end of the pipeline are not loaded (ImportIncompleteReport).'
        Path             = 'Cost-details CSV files to load as one unit. Wildcards are expanded through the provider, so relative paths, $PWD and PSDrives work. All files of one invocation replace one period of one scope and metric together.'
        LiteralPath      = 'Cost-details CSV files to load as one unit, taken literally (no wildcard expansion; use it for names holding [ or ]). Binds from the pipeline by property name (PSPath), so Get-ChildItem output can be piped in; all piped files form one unit.'
        Scope            = 'The Azure Resource Manager scope the files hold, for example /subscriptions/{id}, /subscriptions/{id}/resourceGroups/{name}, /providers/Microsoft.Billing/billingAccounts/{id}. A bare subscription GUID means /subscriptions/{guid}. Stored lower-case with one leading slash. Required with -Path and -LiteralPath; pipeline input carries its own scope.'
        Metric           = 'Which cost the files hold: ActualCost (the default) or AmortizedCost. Both can live in the same table; a load replaces only rows of its own metric.'
        From             = 'First day of the period the files replace. Default: the first Date found in the files. Rows of the same scope and metric dated from this day to -To are deleted before the new rows go in; a file row dated before -From fails the load (CsvRowOutsidePeriod).'
        To               = 'Last day (inclusive) of the period the files replace. Default: the last Date found in the files. Must not be before -From. A file row dated after -To fails the load (CsvRowOutsidePeriod).'
        BatchSize        = 'Number of rows between progress updates and verbose lines, and the SqlBulkCopy batch size on SQL Server. It does not change the transaction: a unit always commits or rolls back as a whole. Default 50000; 1 to 10000000.'
        LockTimeout      = 'Seconds any one lock wait of the load may last: for another load of the same scope, metric and month, for a load creating the table or adding columns, for a session holding a lock on the table (SQL Server LOCK_TIMEOUT, PostgreSQL lock_timeout), and on SQLite for another process holding the file (its busy timeout). After that the load stops with SqlLockTimeout, naming whose lock it waited for, and nothing is changed. Loads of different scopes, metrics or months into one PostgreSQL or SQL Server table do not wait for each other. Default 300; 0 to 86400.'
        Table            = 'The cost table, created on the first load. Default: AzureCostDetails.'
        Schema           = 'The schema of the table. Default: dbo on SQL Server, public on PostgreSQL. A schema that does not exist is created with the table. Refused on SQLite, which has no schemas.'
        WhatIf           = 'Shows, for each load unit, which table would be replaced for which scope, metric and period, without changing the database (the files are still read to find their columns and dates).'
        Confirm          = 'Asks for confirmation before each load unit (one report, or one -Path/-LiteralPath invocation).'
    }

    Examples     = @(
        @{
            Title   = 'Load everything Save-AzCostBlob downloaded into the default SQLite file'
            Code    = @'
Get-AzBillingToken -TenantId $tenant -ClientId $app -CertificatePath ./app.pfx |
    New-AzCostReport -Scope /subscriptions/$sub -From 2026-01-01 -To 2026-03-31 |
    Save-AzCostBlob -Path ./costs |
    Import-AzCostToSql
'@
            Remarks = 'Each monthly report is loaded as soon as all of its blobs are on disk, into AzBilling.sqlite in the current location. Running the same line again replaces the three months instead of duplicating them.'
        }
        @{
            Title   = 'Load one CSV file into SQL Server for a given month'
            Code    = @'
Import-AzCostToSql -Path ./costs/2026-03.csv -Scope 00000000-0000-0000-0000-000000000000 -Metric AmortizedCost -From 2026-03-01 -To 2026-03-31 `
    -SqlInstance sql01 -Database Billing
'@
            Remarks = 'The bare GUID is stored as /subscriptions/00000000-0000-0000-0000-000000000000. All AmortizedCost rows of that subscription dated in March 2026 in [dbo].[AzureCostDetails] are replaced in one transaction.'
        }
        @{
            Title   = 'Load several files with wildcards into PostgreSQL, previewing first'
            Code    = @'
$login = Get-Credential loader
Import-AzCostToSql -Path ./export/*.csv -Scope /subscriptions/$sub -ConnectionString 'Host=pg01;Database=billing' -Credential $login -Schema finops -WhatIf
Import-AzCostToSql -Path ./export/*.csv -Scope /subscriptions/$sub -ConnectionString 'Host=pg01;Database=billing' -Credential $login -Schema finops -Verbose
'@
            Remarks = 'The first line shows the table, period and size it would replace. The second loads all matching files as one unit through binary COPY; the period is the files'' first to last Date.'
        }
        @{
            Title   = 'Pipe files from Get-ChildItem (LiteralPath by property name) into a chosen SQLite file'
            Code    = @'
Get-ChildItem -LiteralPath './costs [march]' -Filter *.csv |
    Import-AzCostToSql -Scope /subscriptions/$sub -DatabasePath ./reports/billing.sqlite -BatchSize 100000
'@
            Remarks = 'Get-ChildItem''s PSPath binds to -LiteralPath, so brackets in the folder name are not treated as wildcards. All piped files form one unit.'
        }
        @{
            Title   = 'Load files from elsewhere as one two-blob report'
            Code    = @'
$files = 1..2 | ForEach-Object {
    [AzBillingPS.AzCostFile]::new("./manual/part$_.csv", "/subscriptions/$sub", 'ActualCost', '2026-02-01', '2026-02-28', $_, 2)
}
$files | Import-AzCostToSql -DatabasePath ./AzBilling.sqlite -LockTimeout 900
'@
            Remarks = 'The two files replace February 2026 together only when both are there. With only one of them the cmdlet writes ImportIncompleteReport and leaves the table unchanged.'
        }
        @{
            Title   = 'React to a failed unit in a runbook'
            Code    = @'
$results = Import-AzCostToSql -Path ./costs/*.csv -Scope $scope -ConnectionString $cs -ErrorVariable failed -ErrorAction Continue
foreach ($e in $failed) {
    if ($e.FullyQualifiedErrorId -like 'SqlLockTimeout*') { Write-Warning "Table busy, retry later: $($e.Exception.Message)" }
    else { Write-Error $e }
}
$results | Format-Table Scope, Metric, PeriodStart, PeriodEnd, RowsInserted, RowsReplaced, Elapsed
'@
            Remarks = 'A failed unit was rolled back, so the earlier data for its period is still there; the error names the file and line for CSV problems.'
        }
    )

    Inputs       = @(
        @{ Type = 'AzBillingPS.AzCostFile'; Description = 'Files of cost-details reports, from Save-AzCostBlob or built by hand (parameter -InputObject).' }
        @{ Type = 'System.String'; Description = 'Paths, by property name PSPath or LiteralPath (parameter -LiteralPath), for example from Get-ChildItem.' }
    )

    Outputs      = @(
        @{ Type = 'AzBillingPS.AzCostImportResult'; Description = 'One per loaded unit: Target, Provider, Table, Scope, Metric, PeriodStart, PeriodEnd, Files, RowsInserted, RowsReplaced, Bytes, Elapsed, RowsPerSecond, ImportId (the _ImportId of its rows) and ColumnsAdded. Nothing is written for a unit skipped by -WhatIf or -Confirm.' }
    )

    Notes        = @'
- Exactly once: a load deletes rows by _Scope, _Metric and Date within the period, then inserts, in one transaction. Load a month again (a later, more complete report) to refresh it.
- Loads of different scopes, metrics or months into one PostgreSQL or SQL Server table run at the same time; two loads whose periods overlap (the same scope and metric) run one after the other, the second waiting up to -LockTimeout seconds. Only creating the table, or adding columns (in a short transaction of its own, after every row of the unit has been checked), takes the table-wide lock. SQLite has one writer at a time.
- A transient failure (an Azure SQL failover or throttling, a deadlock, a dropped connection; PostgreSQL 40001, 40P01, 57P01, 08xxx) rolls the unit back and tries it again from a new connection, up to five times over about a minute, with a warning each time.
- SQLite stores money as REAL (double). For exact sums use PostgreSQL or SQL Server.
- The identity loading SQL Server needs CREATE TABLE (first load) and ALTER (new columns) on the schema, plus SELECT, INSERT and DELETE on the table; PostgreSQL likewise.
- Microsoft recommends Cost Management exports instead of the Cost Details API above about 2 GB a month; their CSV files load the same way with -Path.
'@

    RelatedLinks = @(
        @{ Text = 'about_AzBillingPS' }
        @{ Text = 'Get-AzCostSummary' }
        @{ Text = 'Get-AzBillingToken' }
        @{ Text = 'Cost Details API'; Uri = 'https://learn.microsoft.com/azure/cost-management-billing/automate/usage-details-best-practices' }
    )
}
