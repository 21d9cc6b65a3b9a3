# Settings for Sync-AzBilling -ConfigPath: keys are the cmdlet's parameter names; parameters given on the command
# line override them. Parsed, never run: constants, arrays and $true/$false only. Relative paths are taken from
# this file's folder. Secrets (ClientSecret, CertificatePassword, Credential) cannot be set here: a database login is
# passed as -Credential.
@{
    # Who signs in: the managed identity of the Automation account, VM or hybrid worker. To try the same job from
    # your own prompt first, give a person's sign-in on the command line (it replaces this one):
    #   Sync-AzBilling -ConfigPath ./sync.psd1 -DeviceCode      (or -UseAzContext, -UseAzureCli, -Interactive)
    # or put it here instead: DeviceCode = $true, UseAzContext = $true or UseAzureCli = $true.
    ManagedIdentity  = $true

    # What: every subscription the identity can list, except sandboxes.
    AllSubscriptions = $true
    Exclude          = @('*-sandbox', 'Visual Studio*')
    Metric           = @('ActualCost', 'AmortizedCost')

    # FOCUS: the view AzureCostDetails_Focus over the table (both metrics are needed), made again after every run.
    FocusView        = $true

    # Where: Azure SQL (server and database, as dbatools names them), signed in as the same identity.
    SqlInstance         = 'finops.database.windows.net'
    Database            = 'billing'
    UseTokenForDatabase = $true
    Table               = 'AzureCostDetails'
    # A new table as a clustered columnstore index (reports over many months; see docs/sqlserver.md):
    # Columnstore       = $true

    # When: the default period (missing or still open months of the last three), two units at a time.
    LookbackMonths   = 3
    ThrottleLimit    = 2
    LockTimeout      = 600

    # A gzip blob may inflate to at most this many times its size (at least 64 MB); cost CSV compresses 10-25x.
    # MaxGzipRatio   = 100
}
