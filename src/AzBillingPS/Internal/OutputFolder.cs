using System;
using System.IO;
using System.Management.Automation;

namespace AzBillingPS.Internal;

/// <summary>
/// The folder a command writes files into, as -Path (wildcards allowed when they match exactly one existing folder; a
/// plain path, escaped wildcard characters taken literally, need not exist) or -LiteralPath names it: a file-system
/// path, not a file. Session state: call it on the pipeline thread only.
/// </summary>
internal static class OutputFolder
{
    /// <summary>The folder <paramref name="path"/> names, or <paramref name="literalPath"/> when <paramref name="path"/> is null.</summary>
    public static string Resolve(PSCmdlet cmdlet, string? path, string literalPath)
    {
        string folder;
        if (path is null)
        {
            folder = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(literalPath, out ProviderInfo provider, out _);
            EnsureFileSystem(provider, literalPath);
        }
        else if (WildcardPattern.ContainsWildcardCharacters(path))
        {
            System.Collections.ObjectModel.Collection<string> resolved;
            ProviderInfo provider;
            try
            {
                resolved = cmdlet.GetResolvedProviderPathFromPSPath(path, out provider);
            }
            catch (ItemNotFoundException e)
            {
                throw new TerminatingErrorException(new ErrorRecord(new DirectoryNotFoundException($"-Path '{path}' matches no folder; give an existing folder or a plain path to create.", e), ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, path));
            }

            EnsureFileSystem(provider, path);
            if (resolved.Count == 0)
            {
                throw new TerminatingErrorException(new ErrorRecord(new DirectoryNotFoundException($"-Path '{path}' matches no folder; give an existing folder or a plain path to create."), ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, path));
            }

            if (resolved.Count != 1)
            {
                throw new TerminatingErrorException(new ErrorRecord(new ArgumentException($"-Path '{path}' matches {resolved.Count} folders; give exactly one."), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, path));
            }

            folder = resolved[0];
        }
        else
        {
            // No wildcard left: a path to create, with any escaped wildcard characters (`[) taken literally.
            folder = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(WildcardPattern.Unescape(path), out ProviderInfo provider, out _);
            EnsureFileSystem(provider, path);
        }

        if (File.Exists(folder))
        {
            throw new TerminatingErrorException(new ErrorRecord(new IOException($"'{folder}' is a file; -Path and -LiteralPath name the folder the blobs are saved in."), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, folder));
        }

        return folder;
    }

    private static void EnsureFileSystem(ProviderInfo provider, string path)
    {
        if (!string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase))
        {
            throw new TerminatingErrorException(new ErrorRecord(new ArgumentException($"'{path}' is not a file-system path (provider {provider.Name})."), ErrorIds.InvalidArgument, ErrorCategory.InvalidArgument, path));
        }
    }
}
