# Help source for Clear-AzBillingTokenCache. build/New-ModuleHelp.ps1 turns this into MAML.
@{
    Synopsis     = 'Forgets the sign-ins of people (Get-AzBillingToken -DeviceCode or -Interactive), in this session and across sessions.'

    Description  = @'
Get-AzBillingToken -DeviceCode and -Interactive remember who signed in, so later sessions sign in silently: in the operating system's protected storage (DPAPI on Windows, the Keychain on macOS, the Secret Service keyring on Linux), in a private plain file when $env:AZBILLING_TOKEN_CACHE is PlainFile, or in the session only. Clear-AzBillingTokenCache forgets all of it: it signs every person out of this session's clients, empties the protected cache and deletes the plain file. Token objects made before it are not renewed any more: their next renewal fails with a message saying to sign in again.

It does not touch the Az PowerShell session (-UseAzContext; use Disconnect-AzAccount) or the Azure CLI (-UseAzureCli; use az logout), and applications and managed identities are never persisted. It writes nothing to the pipeline; -Verbose says what was forgotten.
'@

    Parameters   = @{
        WhatIf  = 'Shows what would be forgotten without forgetting it.'
        Confirm = 'Asks before forgetting the sign-ins.'
    }

    Examples     = @(
        @{
            Title   = 'Sign in as someone else'
            Code    = @'
Clear-AzBillingTokenCache -Verbose
Get-AzBillingToken -DeviceCode -TenantId fabrikam.onmicrosoft.com
'@
            Remarks = 'The first command forgets the remembered sign-in; the second asks for a new one.'
        }
    )

    Inputs       = @(
        @{ Type = 'None'; Description = 'This cmdlet takes no pipeline input.' }
    )

    Outputs      = @(
        @{ Type = 'System.Void'; Description = 'Nothing: this cmdlet writes nothing to the pipeline (-Verbose says what was forgotten).' }
    )

    Notes        = @'
- The cache folder is the user's local application data folder followed by AzBillingPS (on Linux ~/.local/share/AzBillingPS, created private to the user).
'@

    RelatedLinks = @(
        @{ Text = 'Get-AzBillingToken' }
        @{ Text = 'about_AzBillingPS' }
    )
}
