using System;
using System.Globalization;
using System.Net.Http;
using System.Security.Authentication;
using System.Text.Json;
using System.Text.RegularExpressions;
using AzBillingPS.Engine.Common;
using Microsoft.Identity.Client;

namespace AzBillingPS.Engine.Auth;

/// <summary>
/// Turns MSAL and HTTP failures into <see cref="EngineException"/>s that carry the Entra error code (AADSTS...)
/// and correlation id. MSAL's messages hold the service's description, never a secret or assertion.
/// </summary>
internal static partial class AuthErrors
{
    [GeneratedRegex(@"AADSTS\d+", RegexOptions.CultureInvariant)]
    private static partial Regex AadstsCode();

    [GeneratedRegex(@"\r?\n\s*(Trace ID|Correlation ID|Timestamp):.*", RegexOptions.CultureInvariant)]
    private static partial Regex TraceLines();

    /// <summary>The kind an Entra error code maps to; AuthenticationFailed unless a more precise kind fits.</summary>
    public static EngineErrorKind KindOf(string? serviceCode) => serviceCode switch
    {
        "AADSTS90002" or "AADSTS700016" or "AADSTS90072" => EngineErrorKind.NotFound, // unknown tenant, unknown application
        "AADSTS70011" or "AADSTS1002012" or "AADSTS500011" or "AADSTS90014" or "AADSTS900144" => EngineErrorKind.InvalidArgument, // bad scope or resource, missing field
        "AADSTS7000112" or "AADSTS50105" or "AADSTS53003" or "AADSTS7000218" => EngineErrorKind.PermissionDenied, // disabled app, not assigned, blocked by policy
        _ => EngineErrorKind.AuthenticationFailed,
    };

    public static EngineException Map(Exception exception, string who)
    {
        switch (exception)
        {
            case EngineException engine:
                return engine;
            case MsalServiceException service:
            {
                string? code = ServiceCode(service);
                string description = Describe(service.Message);
                EngineErrorKind kind = code is null ? KindOfManagedIdentity(service) : KindOf(code);
                string text = code is not null && !description.Contains(code, StringComparison.Ordinal) ? code + ": " + description : description;
                return new EngineException(kind, $"Sign-in failed for {who}: {text}", service)
                {
                    ServiceCode = code ?? (string.IsNullOrEmpty(service.ErrorCode) ? null : service.ErrorCode),
                    CorrelationId = CorrelationId(service),
                };
            }

            case MsalClientException client:
                return new EngineException(EngineErrorKind.AuthenticationFailed, $"Sign-in failed for {who}: {client.ErrorCode}: {Describe(client.Message)}", client)
                {
                    ServiceCode = client.ErrorCode,
                };
            case HttpRequestException http:
            {
                string reason = http.InnerException is AuthenticationException tls
                    ? "the server's TLS certificate is not trusted (" + tls.Message + ")"
                    : http.Message;
                return new EngineException(EngineErrorKind.AuthenticationFailed, $"Sign-in failed for {who}: the sign-in endpoint could not be reached: {reason}", http);
            }

            default:
                return new EngineException(EngineErrorKind.AuthenticationFailed, $"Sign-in failed for {who}: {exception.Message}", exception);
        }
    }

    /// <summary>
    /// A person's sign-in failure: the device code flow's final answers (declined, expired), a browser that could not be
    /// opened, then everything <see cref="Map"/> knows. Messages never hold a code or token; signing in again is the
    /// advice (<see cref="SignInAgain"/>) each command words for itself.
    /// </summary>
    public static EngineException MapUser(Exception exception, string who, bool interactive)
    {
        EngineAdvice again = SignInAgain(interactive);
        string? code = exception switch
        {
            MsalServiceException s => s.ErrorCode,
            MsalClientException c => c.ErrorCode,
            _ => null,
        };
        switch (code)
        {
            case "authorization_declined" or "access_denied":
                return new EngineException(EngineErrorKind.AuthenticationFailed, $"The sign-in was declined in the browser ({code}): nothing was signed in.", exception)
                {
                    Advice = again,
                    ServiceCode = code,
                    CorrelationId = (exception as MsalServiceException)?.CorrelationId is { Length: > 0 } id ? id : null,
                };
            case "expired_token" or MsalError.CodeExpired or "slow_down":
                return new EngineException(EngineErrorKind.Timeout, $"The device code expired before the sign-in was completed in the browser ({code}).", exception)
                {
                    Advice = again,
                    ServiceCode = code,
                };
            case "bad_verification_code":
                return new EngineException(EngineErrorKind.AuthenticationFailed, $"Entra ID did not recognise the device code ({code}).", exception)
                {
                    Advice = again,
                    ServiceCode = code,
                };
            case MsalError.LinuxXdgOpen or MsalError.WebviewUnavailable or MsalError.AuthenticationUiFailedError:
                return new EngineException(EngineErrorKind.Unsupported, $"No web browser could be opened for the sign-in ({code}: {Describe(exception.Message)}). Use -DeviceCode instead: it shows a code to enter in a browser on any other device.", exception)
                {
                    ServiceCode = code,
                };
            case MsalError.AuthenticationCanceledError:
                return new EngineException(EngineErrorKind.AuthenticationFailed, $"The sign-in was cancelled in the browser ({code}).", exception)
                {
                    Advice = again,
                    ServiceCode = code,
                };
            default:
                return Map(exception, who);
        }
    }

    /// <summary>The advice to sign in again the way the person did: in the browser, or with a new device code.</summary>
    public static EngineAdvice SignInAgain(bool interactive) => interactive ? EngineAdvice.SignInAgainInteractive : EngineAdvice.SignInAgainDeviceCode;

    private static EngineErrorKind KindOfManagedIdentity(MsalServiceException e)
    {
        // IMDS says "Identity not found"; App Service and Azure Automation say "No managed identity found ...".
        if (e.Message.Contains("not found", StringComparison.OrdinalIgnoreCase)
            || e.Message.Contains("No managed identity found", StringComparison.OrdinalIgnoreCase)
            || e.StatusCode == 404)
        {
            return EngineErrorKind.NotFound;
        }

        return e.StatusCode == 403 ? EngineErrorKind.PermissionDenied : EngineErrorKind.AuthenticationFailed;
    }

    private static string? ServiceCode(MsalServiceException e)
    {
        Match m = AadstsCode().Match(e.Message);
        if (m.Success)
        {
            return m.Value;
        }

        if (string.IsNullOrEmpty(e.ResponseBody))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(e.ResponseBody);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("error_codes", out JsonElement codes)
                && codes.ValueKind == JsonValueKind.Array && codes.GetArrayLength() > 0
                && codes[0].TryGetInt64(out long first))
            {
                return "AADSTS" + first.ToString(CultureInfo.InvariantCulture);
            }
        }
        catch (JsonException)
        {
            // not JSON: no code
        }

        return null;
    }

    private static string? CorrelationId(MsalServiceException e)
    {
        if (!string.IsNullOrEmpty(e.ResponseBody))
        {
            try
            {
                using var doc = JsonDocument.Parse(e.ResponseBody);
                if (doc.RootElement.ValueKind == JsonValueKind.Object
                    && doc.RootElement.TryGetProperty("correlation_id", out JsonElement id)
                    && id.ValueKind == JsonValueKind.String)
                {
                    return id.GetString();
                }
            }
            catch (JsonException)
            {
                // fall back to MSAL's own id
            }
        }

        return string.IsNullOrEmpty(e.CorrelationId) ? null : e.CorrelationId;
    }

    /// <summary>The service's description without the trace/correlation/timestamp lines (they go to the error details).</summary>
    internal static string Describe(string message) => TraceLines().Replace(message, string.Empty).Trim();
}
