using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Auth;

/// <summary>Tokens from a sign-in the person already has: the Az PowerShell session or the Azure CLI, asked again to renew.</summary>
public sealed partial class AccessTokenProvider
{
    private static AccessTokenProvider CreateExternal(TokenProviderOptions options, string scope)
    {
        bool azContext = options.Method == AuthMethod.AzContext;
        if (!string.IsNullOrEmpty(options.ClientId))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"-ClientId does not go with {(azContext ? "-UseAzContext" : "-UseAzureCli")}: the token is that session's.");
        }

        string? tenant = string.IsNullOrEmpty(options.TenantId) ? null : RequireId(options.TenantId, "TenantId");
        string resourceText = scope.EndsWith("/.default", StringComparison.Ordinal) ? scope[..^"/.default".Length] : scope;
        if (!Uri.TryCreate(resourceText.EndsWith('/') ? resourceText : resourceText + "/", UriKind.Absolute, out Uri? resource))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument, $"The scope '{scope}' does not name a resource URL.");
        }

        Func<ExternalTokenRequest, CancellationToken, Task<ExternalToken>> source = azContext
            ? options.ExternalSource ?? throw new EngineException(EngineErrorKind.InvalidArgument, "-UseAzContext needs the PowerShell session to ask.")
            : AzureCliTokenSource.GetAsync;
        string origin = azContext ? "the Az PowerShell session" : "the Azure CLI";
        string renew = azContext ? "Connect-AzAccount" : "az login";
        var request = new ExternalTokenRequest(resource, tenant);
        return new AccessTokenProvider(options, scope, async (force, log, ct) =>
        {
            ExternalToken token = await source(request, ct).ConfigureAwait(false);
            if (token.ExpiresOn <= DateTimeOffset.UtcNow)
            {
                throw new EngineException(
                    EngineErrorKind.AuthenticationFailed,
                    string.Create(CultureInfo.InvariantCulture, $"{origin} gave a token that expired at {token.ExpiresOn.ToUniversalTime():u}: sign in there again ({renew})."));
            }

            if (token.ExpiresOn - DateTimeOffset.UtcNow <= RefreshMargin)
            {
                log?.Verbose(string.Create(CultureInfo.InvariantCulture, $"{token.Source} gave a token that expires in {(token.ExpiresOn - DateTimeOffset.UtcNow).TotalMinutes:0.#} min; it is asked again when it is used after that."));
            }

            return new AcquiredToken(token.Token, token.ExpiresOn, FromCache: false, token.TenantId, $"from {token.Source}", null);
        })
        {
            Who = origin + (tenant is null ? string.Empty : " for tenant " + tenant),
        };
    }
}
