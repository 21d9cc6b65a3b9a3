using System;
using System.IO;

namespace AzBillingPS.Engine.Auth;

/// <summary>Whether a web browser can be opened for the person on this machine; checked before any network call.</summary>
internal static class InteractiveSignIn
{
    /// <summary>Null when a browser can be opened; otherwise why not, for the error that suggests -DeviceCode.</summary>
    public static string? WhyNoBrowser(bool remoteSession)
    {
        if (remoteSession)
        {
            return "the command runs in a remote PowerShell session";
        }

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AUTOMATION_ASSET_ACCOUNTID"))
            || (Environment.GetEnvironmentVariable("AZUREPS_HOST_ENVIRONMENT")?.StartsWith("AzureAutomation", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return "this is an Azure Automation job, where no person is present (use -ManagedIdentity there)";
        }

        bool ssh = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SSH_CONNECTION")) || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SSH_TTY"));
        if (OperatingSystem.IsLinux())
        {
            if (IsWsl())
            {
                return null; // WSL opens the Windows browser
            }

            bool display = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DISPLAY")) || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WAYLAND_DISPLAY"));
            return display ? null : ssh ? "this is an SSH session without a graphical display" : "there is no graphical display (DISPLAY and WAYLAND_DISPLAY are not set)";
        }

        if (ssh)
        {
            return "this is an SSH session; the browser would open on the remote machine's screen, not yours";
        }

        return OperatingSystem.IsWindows() && !Environment.UserInteractive ? "the process has no interactive desktop" : null;
    }

    private static bool IsWsl()
    {
        try
        {
            return !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WSL_DISTRO_NAME"))
                || (File.Exists("/proc/version") && File.ReadAllText("/proc/version").Contains("microsoft", StringComparison.OrdinalIgnoreCase));
        }
        catch (IOException)
        {
            return false;
        }
    }
}
