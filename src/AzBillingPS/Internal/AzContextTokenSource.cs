using System;
using System.Collections.ObjectModel;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Internal;

/// <summary>
/// -UseAzContext: tokens from the signed-in Az PowerShell session. Get-AzContext and Get-AzAccessToken are PowerShell
/// commands, so they run on the pipeline thread of whichever cmdlet is using the token (<see cref="PipelineHost"/>);
/// the engine only sees the delegate. Az.Accounts up to 2.x returns Token as a string, 3 and later (and -AsSecureString)
/// as a SecureString: both are read. Nothing here writes the token anywhere.
/// </summary>
internal static class AzContextTokenSource
{
    private const string SignIn = "Connect-AzAccount";

    /// <summary>The engine's token source for -UseAzContext.</summary>
    public static Task<ExternalToken> GetAsync(ExternalTokenRequest request, CancellationToken cancellationToken)
    {
        IPipelineHost host = PipelineHost.Current ?? throw new EngineException(
            EngineErrorKind.AuthenticationFailed,
            "A token from the Az PowerShell session (-UseAzContext) is renewed by calling Get-AzAccessToken in a PowerShell pipeline, and none is running here. Use the token from an AzBillingPS cmdlet, or call Get-AzBillingToken -UseAzContext again.");
        cancellationToken.ThrowIfCancellationRequested();
        return host.OnPipelineAsync(() => Get(request));
    }

    /// <summary>What Get-AzContext says, on the pipeline thread: the tenant and the Resource Manager URL of its cloud.</summary>
    public static (string? TenantId, Uri? ResourceManagerUrl) ReadContext()
    {
        PSObject context = Context();
        string? tenant = Property(Property(context, "Tenant"), "Id")?.ToString();
        string? arm = Property(Property(context, "Environment"), "ResourceManagerUrl")?.ToString();
        return (string.IsNullOrEmpty(tenant) ? null : tenant, Uri.TryCreate(arm, UriKind.Absolute, out Uri? url) ? url : null);
    }

    private static ExternalToken Get(ExternalTokenRequest request)
    {
        PSObject context = Context();
        string? tenant = request.TenantId ?? Property(Property(context, "Tenant"), "Id")?.ToString();
        Collection<PSObject> result;
        try
        {
            result = ScriptBlock.Create("param($r, $t) if ($t) { Get-AzAccessToken -ResourceUrl $r -TenantId $t -ErrorAction Stop } else { Get-AzAccessToken -ResourceUrl $r -ErrorAction Stop }")
                .Invoke(request.Resource.AbsoluteUri, tenant);
        }
        catch (RuntimeException e)
        {
            throw new EngineException(
                EngineErrorKind.AuthenticationFailed,
                $"Get-AzAccessToken failed for {request.Resource}{(tenant is null ? string.Empty : " in tenant " + tenant)}: {e.Message} Sign in again with {SignIn}{(tenant is null ? string.Empty : " -Tenant " + tenant)}.",
                e);
        }

        PSObject? answer = result.LastOrDefault(r => r is not null);
        object? token = Property(answer, "Token");
        string? text = token switch
        {
            SecureString secure => AccessTokenProvider.Unprotect(secure),
            string plain => plain,
            _ => null,
        };
        if (string.IsNullOrEmpty(text))
        {
            throw new EngineException(EngineErrorKind.AuthenticationFailed, $"Get-AzAccessToken returned no token (an object without Token): sign in with {SignIn}.");
        }

        DateTimeOffset expires = Property(answer, "ExpiresOn") switch
        {
            DateTimeOffset o => o,
            DateTime d => new DateTimeOffset(d.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(d, DateTimeKind.Local) : d),
            string s when DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeLocal, out DateTimeOffset p) => p,
            _ => throw new EngineException(EngineErrorKind.AuthenticationFailed, "Get-AzAccessToken returned a token without a readable ExpiresOn."),
        };
        string? tokenTenant = Property(answer, "TenantId")?.ToString();
        return new ExternalToken(text, expires, string.IsNullOrEmpty(tokenTenant) ? tenant : tokenTenant, "Get-AzAccessToken");
    }

    private static PSObject Context()
    {
        Collection<PSObject> found;
        try
        {
            found = ScriptBlock.Create("Get-Command -Name Get-AzContext, Get-AzAccessToken -CommandType Function, Cmdlet -ErrorAction SilentlyContinue").Invoke();
        }
        catch (RuntimeException)
        {
            found = new Collection<PSObject>();
        }

        if (found.Count < 2)
        {
            throw new EngineException(
                EngineErrorKind.AuthenticationFailed,
                $"-UseAzContext takes the token of the signed-in Az PowerShell session, and Az.Accounts is not available here: Install-Module Az.Accounts, then {SignIn}.");
        }

        Collection<PSObject> contexts;
        try
        {
            contexts = ScriptBlock.Create("Get-AzContext -ErrorAction Stop").Invoke();
        }
        catch (RuntimeException e)
        {
            throw new EngineException(EngineErrorKind.AuthenticationFailed, $"Get-AzContext failed: {e.Message} Sign in with {SignIn}.", e);
        }

        PSObject? context = contexts.FirstOrDefault(c => c is not null);
        if (context is null || Property(context, "Account") is null)
        {
            throw new EngineException(EngineErrorKind.AuthenticationFailed, $"The Az PowerShell session is not signed in (Get-AzContext returned no account): run {SignIn} first.");
        }

        return context;
    }

    private static object? Property(object? target, string name)
    {
        if (target is null)
        {
            return null;
        }

        PSObject o = target as PSObject ?? PSObject.AsPSObject(target);
        object? value = o.Properties[name]?.Value;
        return value is PSObject p && p.BaseObject is not PSCustomObject ? p.BaseObject : value;
    }
}
