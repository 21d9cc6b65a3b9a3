namespace AzBillingPS;

/// <summary>The Azure clouds Get-AzBillingToken knows by name (-Cloud). Each sets the sign-in host and the Resource Manager URL.</summary>
public enum AzureCloud
{
    /// <summary>Azure (global): login.microsoftonline.com, management.azure.com.</summary>
    AzurePublic = 0,

    /// <summary>Azure Government: login.microsoftonline.us, management.usgovcloudapi.net.</summary>
    AzureUSGovernment,

    /// <summary>Azure operated by 21Vianet: login.chinacloudapi.cn, management.chinacloudapi.cn.</summary>
    AzureChina,
}

/// <summary>How an <see cref="AzBillingToken"/> signs in.</summary>
public enum AzBillingAuthMethod
{
    Certificate = 0,
    ClientSecret,
    ManagedIdentity,
    FederatedToken,
    DeviceCode,
    Interactive,
    AzContext,
    AzureCli,
}
