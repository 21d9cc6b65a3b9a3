using System;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;
using Microsoft.Identity.Client;
using Xunit;

namespace AzBillingPS.Tests.Auth;

/// <summary>
/// A person's sign-in failures say what happened and carry "sign in again" as advice, which each command words for
/// itself (Get-AzBillingToken: run it again; Sync-AzBilling: run Sync again; a command given -Token: a new token): the
/// engine's message names no command.
/// </summary>
public class AuthErrorsTests
{
    [Theory]
    [InlineData("access_denied", "declined in the browser", false)]
    [InlineData("authorization_declined", "declined in the browser", true)]
    [InlineData("expired_token", "device code expired", false)]
    [InlineData("bad_verification_code", "did not recognise the device code", false)]
    public void A_persons_failed_sign_in_is_advice_to_sign_in_again_the_same_way_and_names_no_command(string code, string says, bool interactive)
    {
        EngineException e = AuthErrors.MapUser(new MsalServiceException(code, "AADSTS70000: the answer."), "someone@example.com", interactive);
        Assert.Contains(says, e.Message, StringComparison.Ordinal);
        Assert.Contains($"({code})", e.Message, StringComparison.Ordinal);
        Assert.Equal(interactive ? EngineAdvice.SignInAgainInteractive : EngineAdvice.SignInAgainDeviceCode, e.Advice);
        Assert.DoesNotContain("Get-AzBillingToken", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Run ", e.Message, StringComparison.Ordinal);
        Assert.Equal(code, e.ServiceCode);
    }

    [Fact]
    public void A_cancelled_browser_sign_in_is_advice_to_sign_in_in_the_browser_again()
    {
        EngineException e = AuthErrors.MapUser(new MsalClientException(MsalError.AuthenticationCanceledError, "cancelled"), "someone@example.com", interactive: true);
        Assert.Equal(EngineAdvice.SignInAgainInteractive, e.Advice);
        Assert.DoesNotContain("Get-AzBillingToken", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_browser_that_cannot_open_is_no_advice_to_sign_in_again_but_to_use_a_device_code()
    {
        EngineException e = AuthErrors.MapUser(new MsalClientException(MsalError.LinuxXdgOpen, "no xdg-open"), "someone@example.com", interactive: true);
        Assert.Equal(EngineAdvice.None, e.Advice);
        Assert.Contains("-DeviceCode", e.Message, StringComparison.Ordinal);
    }
}
