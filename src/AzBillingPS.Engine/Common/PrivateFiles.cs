using System;
using System.IO;

namespace AzBillingPS.Engine.Common;

/// <summary>
/// Files and folders only the current user may read, created new and never through a symbolic link: a folder is
/// created 0700 (or refused when it exists as a link or open to others), a file is written to a new 0600 temporary file
/// in the same folder (O_CREAT|O_EXCL, which never follows a link) and renamed over the target (rename replaces a link,
/// it does not follow it). On Windows the user's profile folders already carry per-user ACLs.
/// </summary>
internal static class PrivateFiles
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OthersBits = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates the folder (and its parents) private to the user, or checks that the existing one is.</summary>
    public static void EnsureFolder(string path)
    {
        var info = new DirectoryInfo(path);
        if (info.Exists)
        {
            if (info.LinkTarget is not null)
            {
                throw new EngineException(EngineErrorKind.PermissionDenied, $"The folder '{path}' is a symbolic link; AzBillingPS does not write through links it did not make.") { FilePath = path };
            }

            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & OthersBits) != 0)
            {
                throw new EngineException(EngineErrorKind.PermissionDenied, $"The folder '{path}' can be read or written by other users; AzBillingPS keeps sign-ins only in a folder private to you (chmod 700 it, or remove it).") { FilePath = path };
            }

            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, OwnerOnly);
        }
    }

    /// <summary>Replaces <paramref name="path"/> with <paramref name="data"/> in one rename, through a new private file.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> data)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        EnsureFolder(folder);
        string temp = Path.Combine(folder, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(data);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// The content of a file the module wrote with <see cref="WriteAtomically"/>, or null when it does not exist. A link,
    /// or a file others may read or write, is not read: the error says so.
    /// </summary>
    public static byte[]? ReadOwn(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists && info.LinkTarget is null)
        {
            return null;
        }

        if (info.LinkTarget is not null)
        {
            throw new EngineException(EngineErrorKind.PermissionDenied, $"'{path}' is a symbolic link; AzBillingPS does not read it (it did not make it).") { FilePath = path };
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & OthersBits) != 0)
        {
            throw new EngineException(EngineErrorKind.PermissionDenied, $"'{path}' can be read or written by other users; AzBillingPS does not trust it. Remove it (Clear-AzBillingTokenCache).") { FilePath = path };
        }

        return File.ReadAllBytes(path);
    }
}
