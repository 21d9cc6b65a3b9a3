using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using Microsoft.Identity.Client;

namespace AzBillingPS.Engine.Auth;

/// <summary>Sign-in as a person: MSAL's public client with the device code or the system-browser flow.</summary>
public sealed partial class AccessTokenProvider
{
    /// <summary>
    /// The public client a person signs in through unless -ClientId names the organisation's own: the Azure CLI's
    /// first-party application, which Microsoft lists among its first-party apps and Azure.Identity's device code and
    /// browser credentials use by default. It is pre-authorised for Resource Manager and allows both flows.
    /// </summary>
    public const string DefaultPublicClientId = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

    /// <summary>The tenant alias used when -TenantId is not given: any work or school account.</summary>
    public const string AnyOrganization = "organizations";

    private static readonly ConcurrentDictionary<string, Lazy<Task<(IPublicClientApplication App, string Where)>>> PublicApps = new(StringComparer.Ordinal);

    private static AccessTokenProvider CreateUser(TokenProviderOptions options, string scope)
    {
        bool interactive = options.Method == AuthMethod.Interactive;
        string tenant = string.IsNullOrEmpty(options.TenantId) ? AnyOrganization : RequireId(options.TenantId, "TenantId");
        string clientId = string.IsNullOrEmpty(options.ClientId) ? DefaultPublicClientId : RequireId(options.ClientId, "ClientId");
        if (interactive)
        {
            string? why = InteractiveSignIn.WhyNoBrowser(options.RemoteSession);
            if (why is not null)
            {
                throw new EngineException(
                    EngineErrorKind.Unsupported,
                    $"-Interactive opens a web browser on this machine, and none can be opened here: {why}. Use -DeviceCode instead: it shows a code to enter in a browser on any other device.");
            }
        }
        else if (options.ShowDeviceCode is null)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, "Device code sign-in needs a place to show the code to a person.");
        }

        _ = UserTokenCache.Mode; // a wrong AZBILLING_TOKEN_CACHE fails here, before any network call
        string authority = options.AuthorityHost.AbsoluteUri.TrimEnd('/') + "/" + tenant;
        bool knownHost = CloudEndpoints.IsKnownAuthorityHost(options.AuthorityHost);
        string key = authority.ToUpperInvariant() + "|" + clientId.ToUpperInvariant();
        string flow = interactive ? "browser sign-in" : "device code sign-in";
        string[] scopes = [scope];
        int generation = UserTokenCache.Generation;
        IAccount? account = null;
        AccessTokenProvider? self = null;

        async Task<AcquiredToken> Acquire(bool force, IEngineLog? log, CancellationToken ct)
        {
            if (UserTokenCache.Generation != generation)
            {
                throw new EngineException(EngineErrorKind.AuthenticationFailed, $"The sign-in of {self!.Who} was forgotten (the token cache was cleared).") { Advice = AuthErrors.SignInAgain(interactive) };
            }

            (IPublicClientApplication app, string where) = await PublicApps.GetOrAdd(key, _ => new Lazy<Task<(IPublicClientApplication, string)>>(() => BuildPublicAppAsync(authority, clientId, knownHost, log))).Value.ConfigureAwait(false);
            bool renewal = account is not null;
            account ??= await CachedAccountAsync(app, tenant).ConfigureAwait(false);
            if (account is not null)
            {
                try
                {
                    AuthenticationResult silent = await app.AcquireTokenSilent(scopes, account).WithForceRefresh(force).ExecuteAsync(ct).ConfigureAwait(false);
                    return FromUser(silent, where);
                }
                catch (MsalUiRequiredException e) when (!renewal)
                {
                    log?.Verbose($"The remembered sign-in of {account.Username} cannot be renewed silently ({e.ErrorCode}); signing in again.");
                }
                catch (MsalUiRequiredException e)
                {
                    throw new EngineException(
                        EngineErrorKind.AuthenticationFailed,
                        $"The sign-in of {account.Username} can no longer be renewed without you ({AuthErrors.Describe(e.Message)}).",
                        e)
                    {
                        Advice = AuthErrors.SignInAgain(interactive),
                        ServiceCode = e.ErrorCode,
                        CorrelationId = string.IsNullOrEmpty(e.CorrelationId) ? null : e.CorrelationId,
                    };
                }
            }

            AuthenticationResult result;
            {
                if (interactive)
                {
                    log?.Verbose($"Opening a web browser to sign in at {authority} (client {clientId}); Ctrl+C cancels.");
                    result = await app.AcquireTokenInteractive(scopes)
                        .WithUseEmbeddedWebView(false)
                        .WithPrompt(Prompt.SelectAccount)
                        .ExecuteAsync(ct).ConfigureAwait(false);
                }
                else
                {
                    log?.Verbose($"Requesting a device code from {authority} (client {clientId}).");
                    result = await app.AcquireTokenWithDeviceCode(scopes, async code =>
                    {
                        var prompt = new DeviceCodePrompt(new Uri(code.VerificationUrl), code.UserCode, code.ExpiresOn);
                        await options.ShowDeviceCode!(prompt, ct).ConfigureAwait(false);
                        log?.Verbose(string.Create(CultureInfo.InvariantCulture, $"Waiting for the sign-in at {prompt.VerificationUrl}: polling every {code.Interval} s until {prompt.ExpiresOn.ToUniversalTime():u}."));
                    }).ExecuteAsync(ct).ConfigureAwait(false);
                }
            }

            account = result.Account;
            return FromUser(result, where);
        }

        AcquiredToken FromUser(AuthenticationResult result, string where)
        {
            AcquiredToken token = AcquiredToken.From(result);
            if (result.Account is not null)
            {
                self!.Who = $"{result.Account.Username} in tenant {result.TenantId}";
                self.UserName = result.Account.Username;
            }

            return token with { Source = token.FromCache ? $"taken from the token cache ({where})" : $"issued by the service; the sign-in is {where}" };
        }

        self = new AccessTokenProvider(options with { ClientId = clientId, TenantId = options.TenantId }, scope, async (force, log, ct) =>
        {
            IEngineLog? previous = DeviceCodePolling.Log.Value;
            DeviceCodePolling.Log.Value = log; // for the slow_down handler and the cache callbacks, which MSAL calls in this flow
            try
            {
                return await Acquire(force, log, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw AuthErrors.MapUser(e, self!.Who, interactive);
            }
            finally
            {
                DeviceCodePolling.Log.Value = previous;
            }
        })
        {
            Who = $"a person ({flow}, client {clientId}, tenant {tenant})",
        };
        return self;
    }

    /// <summary>The signed-in person's name, for user sign-ins.</summary>
    public string? UserName { get; private set; }

    private static async Task<(IPublicClientApplication App, string Where)> BuildPublicAppAsync(string authority, string clientId, bool knownHost, IEngineLog? log)
    {
        PublicClientApplicationBuilder builder = PublicClientApplicationBuilder.Create(clientId)
            .WithAuthority(authority, validateAuthority: knownHost)
            .WithRedirectUri("http://localhost")
            .WithHttpClientFactory(DeviceCodePolling.Instance);
        if (!knownHost)
        {
            builder = builder.WithInstanceDiscovery(false);
        }

        IPublicClientApplication app = builder.Build();
        string where = await UserTokenCache.AttachAsync(app.UserTokenCache, log).ConfigureAwait(false);
        return (app, where);
    }

    private static async Task<IAccount?> CachedAccountAsync(IPublicClientApplication app, string tenant)
    {
        List<IAccount> accounts = (await app.GetAccountsAsync().ConfigureAwait(false)).ToList();
        if (!string.Equals(tenant, AnyOrganization, StringComparison.OrdinalIgnoreCase))
        {
            accounts = accounts.Where(a => string.Equals(a.HomeAccountId?.TenantId, tenant, StringComparison.OrdinalIgnoreCase)
                || string.Equals(a.Environment, tenant, StringComparison.OrdinalIgnoreCase)
                || a.Username?.EndsWith("@" + tenant, StringComparison.OrdinalIgnoreCase) == true).ToList();
        }

        return accounts.Count == 1 ? accounts[0] : null;
    }

    /// <summary>Signs every person out of this session's public clients and drops the clients (Clear-AzBillingTokenCache).</summary>
    internal static async Task<IReadOnlyList<string>> ForgetUsersAsync(CancellationToken cancellationToken)
    {
        var forgotten = new List<string>();
        foreach (string key in PublicApps.Keys.ToList())
        {
            if (!PublicApps.TryRemove(key, out var lazy) || !lazy.IsValueCreated)
            {
                continue;
            }

            try
            {
                (IPublicClientApplication app, _) = await lazy.Value.ConfigureAwait(false);
                foreach (IAccount account in await app.GetAccountsAsync().ConfigureAwait(false))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await app.RemoveAsync(account).ConfigureAwait(false);
                    forgotten.Add($"the sign-in of {account.Username}");
                }
            }
            catch (Exception e) when (e is MsalException or EngineException)
            {
                // a client that never signed in (or whose storage failed) has nothing to forget
            }
        }

        return forgotten;
    }
}
