using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Auth;

/// <summary>
/// Tokens from the signed-in Azure CLI: <c>az account get-access-token --resource R [--tenant T] --output json</c>, run
/// again for each renewal. Standard output is parsed as JSON (<c>accessToken</c>, <c>expires_on</c> in epoch seconds, or
/// the older <c>expiresOn</c> local time) and never quoted; standard error is quoted in errors with anything token-like
/// removed.
/// </summary>
internal static partial class AzureCliTokenSource
{
    private const string Command = "az account get-access-token";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [GeneratedRegex(@"[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*|[A-Za-z0-9+/_\-]{40,}={0,2}", RegexOptions.CultureInvariant)]
    private static partial Regex TokenLike();

    public static async Task<ExternalToken> GetAsync(ExternalTokenRequest request, CancellationToken cancellationToken)
    {
        string az = Find() ?? throw new EngineException(
            EngineErrorKind.NotFound,
            "The Azure CLI (az) was not found on PATH. Install it and sign in with 'az login', or use another sign-in (-DeviceCode, -UseAzContext).");

        var psi = new ProcessStartInfo(az)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            CreateNoWindow = true,
        };
        foreach (string a in new[] { "account", "get-access-token", "--resource", request.Resource.AbsoluteUri, "--output", "json" })
        {
            psi.ArgumentList.Add(a);
        }

        if (request.TenantId is not null)
        {
            psi.ArgumentList.Add("--tenant");
            psi.ArgumentList.Add(request.TenantId);
        }

        psi.Environment["AZURE_CORE_NO_COLOR"] = "true";
        psi.Environment["AZURE_CORE_ONLY_SHOW_ERRORS"] = "true";

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new EngineException(EngineErrorKind.NotFound, $"The Azure CLI ('{az}') could not be started.");
        }
        catch (Win32Exception e)
        {
            throw new EngineException(EngineErrorKind.NotFound, $"The Azure CLI ('{az}') could not be started: {e.Message}. Install it and sign in with 'az login'.", e);
        }

        using (process)
        {
            process.StandardInput.Close(); // az never waits for an answer
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // already gone
                }

                cancellationToken.ThrowIfCancellationRequested();
                throw new EngineException(EngineErrorKind.Timeout, $"'{Command}' did not answer within {Timeout.TotalSeconds:0} s.");
            }

            string output = await stdout.ConfigureAwait(false);
            string error = await stderr.ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                string said = Scrub(error);
                bool notSignedIn = said.Contains("az login", StringComparison.OrdinalIgnoreCase) || said.Contains("not logged in", StringComparison.OrdinalIgnoreCase);
                throw new EngineException(
                    EngineErrorKind.AuthenticationFailed,
                    notSignedIn
                        ? $"The Azure CLI is not signed in{(request.TenantId is null ? string.Empty : " to tenant " + request.TenantId)}: run 'az login{(request.TenantId is null ? string.Empty : " --tenant " + request.TenantId)}' (az said: {said})."
                        : string.Create(CultureInfo.InvariantCulture, $"'{Command}' failed with exit code {process.ExitCode}: {said}. If the Azure CLI is not signed in, run 'az login'."));
            }

            return Parse(output);
        }
    }

    /// <summary>Reads az's JSON; the messages never quote it (it holds the token).</summary>
    internal static ExternalToken Parse(string json)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            JsonElement root = doc.RootElement;
            string? token = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("accessToken", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (string.IsNullOrEmpty(token))
            {
                throw new EngineException(EngineErrorKind.ServiceError, $"'{Command}' printed JSON without an accessToken.");
            }

            DateTimeOffset expires = ExpiresOn(root) ?? throw new EngineException(EngineErrorKind.ServiceError, $"'{Command}' printed JSON without a readable expires_on or expiresOn.");
            string? tenant = root.TryGetProperty("tenant", out JsonElement te) && te.ValueKind == JsonValueKind.String ? te.GetString() : null;
            return new ExternalToken(token, expires, tenant, Command);
        }
        catch (JsonException)
        {
            throw new EngineException(EngineErrorKind.ServiceError, $"'{Command}' printed something that is not JSON (it is not shown: it may hold a token). Check 'az version' and 'az login'.");
        }
    }

    private static DateTimeOffset? ExpiresOn(JsonElement root)
    {
        if (root.TryGetProperty("expires_on", out JsonElement epoch))
        {
            long? seconds = epoch.ValueKind switch
            {
                JsonValueKind.Number when epoch.TryGetInt64(out long n) => n,
                JsonValueKind.String when long.TryParse(epoch.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long s) => s,
                _ => null,
            };
            if (seconds is long v)
            {
                return DateTimeOffset.FromUnixTimeSeconds(v);
            }
        }

        // Older versions: "expiresOn": "2026-11-25 21:04:31.000000", in the machine's local time.
        if (root.TryGetProperty("expiresOn", out JsonElement local) && local.ValueKind == JsonValueKind.String
            && DateTime.TryParse(local.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out DateTime when))
        {
            return new DateTimeOffset(when);
        }

        return null;
    }

    private static string Scrub(string text)
    {
        string oneLine = string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(6));
        oneLine = TokenLike().Replace(oneLine, "[removed]");
        return oneLine.Length == 0 ? "(no message)" : oneLine.Length > 600 ? oneLine[..600] + "…" : oneLine;
    }

    private static string? Find()
    {
        string[] names = OperatingSystem.IsWindows() ? ["az.cmd", "az.exe", "az.bat"] : ["az"];
        foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (string name in names)
            {
                string candidate = Path.Combine(folder.Trim('"'), name);
                if (File.Exists(candidate) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
