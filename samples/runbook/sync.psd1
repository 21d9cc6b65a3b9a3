# Settings for Sync-AzBilling -ConfigPath: keys are the cmdlet's parameter names; parameters given on the command
# line override them. Parsed, never run: constants, arrays and $true/$false only. Relative paths are taken from
# this file's folder. Secrets (ClientSecret, CertificatePassword) cannot be set here.
@{
    # Who signs in: the managed identity of the Automation account, VM or hybrid worker.
    ManagedIdentity  = $true

    # What: every subscription the identity can list, except sandboxes.
    AllSubscriptions = $true
    Exclude          = @('*-sandbox', 'Visual Studio*')
    Metric           = @('ActualCost', 'AmortizedCost')

    # Where: Azure SQL, signed in as the same identity.
    Provider            = 'SqlServer'
    ConnectionString    = 'Server=tcp:finops.database.windows.net;Database=billing;Encrypt=true'
    UseTokenForDatabase = $true
    Table               = 'AzureCostDetails'

    # When: the default period (missing or still open months of the last three), two units at a time.
    LookbackMonths   = 3
    ThrottleLimit    = 2
    LockTimeout      = 600
}
