# Settings for Sync-AzBilling -ConfigPath: keys are the cmdlet's parameter names; parameters given on the command
# line override them. Parsed, never run: constants, arrays and $true/$false only. Relative paths are taken from
# this file's folder. Secrets (ClientSecret, CertificatePassword, Credential) cannot be set here: a database login is
# passed as -Credential.
@{
    # Who signs in: the managed identity of the Automation account, VM or hybrid worker.
    ManagedIdentity  = $true

    # What: every subscription the identity can list, except sandboxes.
    AllSubscriptions = $true
    Exclude          = @('*-sandbox', 'Visual Studio*')
    Metric           = @('ActualCost', 'AmortizedCost')

    # Where: Azure SQL (server and database, as dbatools names them), signed in as the same identity.
    SqlInstance         = 'finops.database.windows.net'
    Database            = 'billing'
    UseTokenForDatabase = $true
    Table               = 'AzureCostDetails'

    # When: the default period (missing or still open months of the last three), two units at a time.
    LookbackMonths   = 3
    ThrottleLimit    = 2
    LockTimeout      = 600

    # A gzip blob may inflate to at most this many times its size (at least 64 MB); cost CSV compresses 10-25x.
    # MaxGzipRatio   = 100
}
