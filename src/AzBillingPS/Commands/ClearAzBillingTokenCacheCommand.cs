using System.Collections.Generic;
using System.Management.Automation;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Internal;

namespace AzBillingPS.Commands;

/// <summary>
/// <para type="synopsis">Forgets the sign-ins of people (-DeviceCode, -Interactive): in this session and in the persisted token cache.</para>
/// </summary>
[Cmdlet(VerbsCommon.Clear, "AzBillingTokenCache", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class ClearAzBillingTokenCacheCommand : AsyncCmdlet
{
    protected override async Task EndProcessingAsync()
    {
        string target = $"AzBillingPS sign-ins (this session, and the token cache under {UserTokenCache.Folder})";
        if (!await ShouldProcessAsync(target, "Forget every remembered sign-in").ConfigureAwait(false))
        {
            return;
        }

        IReadOnlyList<string> removed = await UserTokenCache.ClearAsync(CancellationToken).ConfigureAwait(false);
        WriteVerboseAsync(removed.Count == 0
            ? "No sign-in was remembered; token objects made before now will not be renewed."
            : "Forgot " + string.Join(", ", removed) + "; token objects made before now will not be renewed.");
    }
}
