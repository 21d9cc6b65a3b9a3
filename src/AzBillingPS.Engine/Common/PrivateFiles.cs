using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.AccessControl;
using System.Security.Principal;

namespace AzBillingPS.Engine.Common;

/// <summary>What a path holds, read without following a symbolic link.</summary>
internal enum EntryKind
{
    None = 0,
    File,
    Directory,
    SymbolicLink,
    Other,
}

/// <summary>
/// One entry as <see cref="PrivateFiles.Inspect"/> sees it (lstat): its kind, its owner and, on Unix, its permission
/// bits. <see cref="OwnedByUser"/> is true when the current user (effective uid, or the process's Windows account) owns it.
/// </summary>
internal readonly record struct EntryInfo(EntryKind Kind, string Owner, bool OwnedByUser, bool OwnedByAdministrator, int Mode, bool WritableByOthers, bool WritableByGroup, bool Sticky)
{
    public bool Exists => Kind != EntryKind.None;
}

/// <summary>
/// The one place that creates the files and folders the module owns, and checks the ones it is given. Everything the
/// module writes (downloads, <c>.partial</c> and state files, temporary files, Sync's working, run and unit folders, lock
/// and marker files) is made here: new (a create that fails when anything, a symbolic link included, is already at the
/// path), private to the current user (folders 0700 and files 0600 on Unix; on Windows an access list that grants the
/// current user only), and never through a symbolic link. An existing file is only reopened (a download resumed) when
/// it is a regular file the user owns. A folder the module is given is refused when another user owns it or can write
/// to it (<see cref="EnsureFolder"/>); a folder tree is deleted without following links (<see cref="DeleteTree"/>).
/// </summary>
public static class PrivateFiles
{
    /// <summary>The name of the module's folder under the user's cache folder.</summary>
    public const string FolderName = "AzBillingPS";

    private const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// The current user's default working folder, for Sync-AzBilling (not created here). Linux and other Unix:
    /// <c>$XDG_CACHE_HOME/AzBillingPS</c>, else <c>~/.cache/AzBillingPS</c> (a cache: downloads can be re-made, and it
    /// lives on a disk, unlike <c>$XDG_RUNTIME_DIR</c>, a small tmpfs); without a usable home folder,
    /// <c>&lt;temp&gt;/AzBillingPS-&lt;uid&gt;</c>, which <see cref="EnsureFolder"/> then requires to be the user's own
    /// and private. macOS: <c>~/Library/Caches/AzBillingPS</c>. Windows: <c>%LOCALAPPDATA%\AzBillingPS</c> (the user's
    /// profile), else the user's temp folder.
    /// </summary>
    public static string DefaultWorkingFolder()
    {
        if (OperatingSystem.IsWindows())
        {
            string local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            return Path.Combine(string.IsNullOrEmpty(local) ? Path.GetTempPath() : local, FolderName);
        }

        string? home = Environment.GetEnvironmentVariable("HOME");
        bool homeUsable = !string.IsNullOrEmpty(home) && Path.IsPathRooted(home) && Inspect(home) is { Kind: EntryKind.Directory } h && (h.OwnedByUser || h.OwnedByAdministrator) && !h.WritableByOthers;
        if (OperatingSystem.IsMacOS() && homeUsable)
        {
            return Path.Combine(home!, "Library", "Caches", FolderName);
        }

        string? cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(cache) && Path.IsPathRooted(cache))
        {
            return Path.Combine(cache, FolderName);
        }

        if (homeUsable)
        {
            return Path.Combine(home!, ".cache", FolderName);
        }

        return Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"{FolderName}-{Unix.GetEUid()}"));
    }

    /// <summary>
    /// Makes sure <paramref name="path"/> is a folder the module may write its files in, creating what is missing
    /// (private to the user), and returns its full path. <paramref name="strict"/> (the default working folder): the
    /// folder must be the user's own and writable by nobody else. Otherwise (a folder the user named: <c>-Path</c>,
    /// <c>-WorkingPath</c>): it must not belong to another user (root or an administrator excepted) nor be writable by
    /// others unless sticky; and it gets the strict check when it is a symbolic link or sits in a folder that another
    /// user controls. Throws UnsafeFolder (naming the folder, its owner and what to do) or InvalidArgument (a file).
    /// <paramref name="subject"/> names the folder in messages ("-Path", "The default working folder"),
    /// <paramref name="parameterName"/> the parameter that chooses another one.
    /// </summary>
    public static string EnsureFolder(string path, bool strict, string subject, string parameterName)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        EntryInfo info = Inspect(full);
        if (!info.Exists)
        {
            CreateFolderTree(full);
            info = Inspect(full);
        }

        string? parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(full));
        switch (info.Kind)
        {
            case EntryKind.Directory:
            {
                EntryInfo above = parent is null ? default : Inspect(parent);
                bool parentControlledByOthers = above.Exists && (!(above.OwnedByUser || above.OwnedByAdministrator) || (above.WritableByOthers && !above.Sticky));
                Require(full, info, strict || parentControlledByOthers, subject, parameterName, parentControlledByOthers ? parent : null);
                return full;
            }

            case EntryKind.SymbolicLink:
            {
                FileSystemInfo? target = Directory.ResolveLinkTarget(full, returnFinalTarget: true);
                if (target is null || Inspect(target.FullName) is not { Kind: EntryKind.Directory } t)
                {
                    throw new EngineException(EngineErrorKind.UnsafeFolder, $"{subject} '{full}' is a symbolic link that does not lead to a folder; give the folder itself with {parameterName}.") { FilePath = full };
                }

                Require(full, t, strict: true, subject, parameterName, null, linkTarget: target.FullName);
                return full;
            }

            case EntryKind.None:
                throw new EngineException(EngineErrorKind.UnsafeFolder, $"{subject} '{full}' could not be created.") { FilePath = full };
            default:
                throw new EngineException(EngineErrorKind.InvalidArgument, $"{subject} '{full}' is a file, not a folder; give a folder with {parameterName} (it is created when missing).") { FilePath = full };
        }
    }

    /// <summary>
    /// Creates a new folder, private to the user; fails (IOException) when anything is already at <paramref name="path"/>.
    /// Its parent must exist.
    /// </summary>
    public static void CreateFolder(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsWindows())
        {
            if (Inspect(path).Exists)
            {
                throw new IOException($"'{path}' already exists.");
            }

            Windows.CreatePrivateDirectory(path);
            return;
        }

        if (Unix.MkDir(path, (int)FolderMode) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"Cannot create the folder '{path}': {new Win32Exception(errno).Message}."));
        }
    }

    /// <summary>Creates <paramref name="path"/> and any missing parents, each new one private to the user. Existing ones are left as they are.</summary>
    public static void CreateFolderTree(string path)
    {
        string full = Path.GetFullPath(path);
        var missing = new Stack<string>();
        string? p = Path.TrimEndingDirectorySeparator(full);
        while (p is not null && !Inspect(p).Exists)
        {
            missing.Push(p);
            p = Path.GetDirectoryName(p);
        }

        while (missing.Count > 0)
        {
            string next = missing.Pop();
            try
            {
                CreateFolder(next);
            }
            catch (IOException) when (Inspect(next).Kind == EntryKind.Directory)
            {
                // made at the same moment by another run; the caller checks whose it is
            }
        }
    }

    /// <summary>
    /// Creates a new file private to the user (0600; on Windows the current user only) and opens it. Fails with
    /// IOException when anything is at the path, a symbolic link included, so nothing is ever written through a link.
    /// </summary>
    public static FileStream CreateNew(string path, FileAccess access = FileAccess.Write, FileShare share = FileShare.None, FileOptions options = FileOptions.None, int bufferSize = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsWindows())
        {
            return Windows.CreatePrivateFile(path, access, share, options, bufferSize);
        }

        return new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = access,
            Share = share,
            Options = options,
            BufferSize = bufferSize,
            UnixCreateMode = FileMode600,
        });
    }

    /// <summary>
    /// Opens an existing file the module made before (a download to resume, a lock to probe): only a regular file
    /// (not a symbolic link) that the user owns; throws UnsafeFile otherwise, without touching it.
    /// </summary>
    public static FileStream OpenOwned(string path, FileAccess access, FileShare share = FileShare.Read, FileOptions options = FileOptions.None, int bufferSize = 1)
    {
        RequireOwnedFile(path, "open");
        return new FileStream(path, FileMode.Open, access, share, bufferSize, options);
    }

    /// <summary>True when <paramref name="path"/> is a regular file (not a link) that the user owns.</summary>
    public static bool IsOwnedFile(string path) => Inspect(path) is { Kind: EntryKind.File, OwnedByUser: true };

    /// <summary>
    /// Throws UnsafeFile when something is at <paramref name="path"/> that is not a regular file the user owns (a link,
    /// a folder, another user's file); <paramref name="doing"/> says what the module was about to do, for the message.
    /// Returns false when nothing is there.
    /// </summary>
    public static bool RequireOwnedFile(string path, string doing)
    {
        EntryInfo info = Inspect(path);
        if (!info.Exists)
        {
            return false;
        }

        if (info.Kind == EntryKind.File && info.OwnedByUser)
        {
            return true;
        }

        string what = info.Kind switch
        {
            EntryKind.SymbolicLink => "a symbolic link",
            EntryKind.Directory => "a folder",
            EntryKind.File => $"a file owned by {info.Owner}",
            _ => "not a regular file",
        };
        throw new EngineException(
            EngineErrorKind.UnsafeFile,
            $"'{path}' is {what}, not a file this module made; it was not {(doing == "open" ? "opened" : doing)} and is left as it is. Remove it (or choose another folder) and run the command again.")
        {
            FilePath = path,
        };
    }

    /// <summary>Deletes a file the module made; nothing when absent; UnsafeFile (and no change) when it is anything else.</summary>
    public static void DeleteOwned(string path)
    {
        if (RequireOwnedFile(path, "deleted"))
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// Deletes a folder and what it holds without following a symbolic link: a link is removed, never what it points
    /// to, so nothing outside <paramref name="root"/> is touched.
    /// </summary>
    public static void DeleteTree(string root)
    {
        EntryInfo info = Inspect(root);
        if (info.Kind == EntryKind.SymbolicLink || info.Kind == EntryKind.File || info.Kind == EntryKind.Other)
        {
            File.Delete(root);
            return;
        }

        if (info.Kind != EntryKind.Directory)
        {
            return;
        }

        foreach (string entry in Directory.EnumerateFileSystemEntries(root))
        {
            if (Inspect(entry).Kind == EntryKind.Directory)
            {
                DeleteTree(entry);
            }
            else
            {
                File.Delete(entry);
            }
        }

        Directory.Delete(root, recursive: false);
    }

    /// <summary>What is at <paramref name="path"/>, without following a symbolic link.</summary>
    internal static EntryInfo Inspect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string p = Path.TrimEndingDirectorySeparator(path);
        if (p.Length == 0)
        {
            p = path;
        }

        return OperatingSystem.IsWindows() ? Windows.Inspect(p) : Unix.Inspect(p);
    }

    private static void Require(string path, EntryInfo info, bool strict, string subject, string parameterName, string? controllingParent, string? linkTarget = null)
    {
        string? problem = null;
        string shown = linkTarget is null ? $"'{path}'" : $"'{path}' (a symbolic link to '{linkTarget}')";
        if (!info.OwnedByUser && (strict || !info.OwnedByAdministrator))
        {
            problem = $"belongs to {info.Owner}, not to {CurrentUser}";
        }
        else if (info.WritableByOthers && (strict || !info.Sticky))
        {
            problem = "can be written by other users";
        }
        else if (strict && info.WritableByGroup)
        {
            problem = "can be written by its group";
        }

        if (problem is null)
        {
            return;
        }

        string why = controllingParent is not null ? $" (it is in '{controllingParent}', which other users control)" : string.Empty;
        string fix = OperatingSystem.IsWindows()
            ? "Use a folder only your account can write to"
            : info.OwnedByUser ? $"Run 'chmod 700 {Quote(linkTarget ?? path)}'" : "Remove it or use a folder of your own";
        throw new EngineException(
            EngineErrorKind.UnsafeFolder,
            $"{subject} {shown} {problem}{why}: another user could read, replace or plant files there, so it is not used. {fix}, or give another folder with {parameterName}.")
        {
            FilePath = path,
        };
    }

    private static string Quote(string path) => path.Contains(' ', StringComparison.Ordinal) ? "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'" : path;

    private static string CurrentUser => OperatingSystem.IsWindows() ? Windows.CurrentUserName() : string.Create(CultureInfo.InvariantCulture, $"uid {Unix.GetEUid()} (you)");

    /// <summary>lstat and mkdir through the runtime's own native library (libSystem.Native), present in every .NET process on Unix.</summary>
    private static class Unix
    {
        private const int TypeMask = 0xF000;
        private const int TypeDirectory = 0x4000;
        private const int TypeRegular = 0x8000;
        private const int TypeLink = 0xA000;
        private const int ENOENT = 2;
        private const int ENOTDIR = 20;

        public static EntryInfo Inspect(string path)
        {
            if (LStat(Utf8z(path), out FileStatus s) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is ENOENT or ENOTDIR || !Path.Exists(path))
                {
                    return default;
                }

                throw new IOException(string.Create(CultureInfo.InvariantCulture, $"Cannot read what '{path}' is: {new Win32Exception(errno).Message}."));
            }

            EntryKind kind = (s.Mode & TypeMask) switch
            {
                TypeDirectory => EntryKind.Directory,
                TypeRegular => EntryKind.File,
                TypeLink => EntryKind.SymbolicLink,
                _ => EntryKind.Other,
            };
            uint me = GetEUid();
            string owner = s.Uid == me ? string.Create(CultureInfo.InvariantCulture, $"uid {s.Uid} (you)") : s.Uid == 0 ? "root (uid 0)" : string.Create(CultureInfo.InvariantCulture, $"uid {s.Uid}");
            return new EntryInfo(kind, owner, s.Uid == me, s.Uid == 0, s.Mode & 0xFFF, (s.Mode & 0x2) != 0, (s.Mode & 0x10) != 0, (s.Mode & 0x200) != 0);
        }

        [DllImport("libSystem.Native", EntryPoint = "SystemNative_LStat", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern int LStat(byte[] path, out FileStatus output);

        [DllImport("libSystem.Native", EntryPoint = "SystemNative_MkDir", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        private static extern int MkDir(byte[] path, int mode);

        internal static int MkDir(string path, int mode) => MkDir(Utf8z(path), mode);

        /// <summary>A path as the NUL-terminated UTF-8 bytes the native calls take.</summary>
        private static byte[] Utf8z(string path)
        {
            if (path.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException("A path may not contain a NUL character.", nameof(path));
            }

            byte[] bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(path) + 1];
            System.Text.Encoding.UTF8.GetBytes(path, bytes);
            return bytes;
        }

        [DllImport("libSystem.Native", EntryPoint = "SystemNative_GetEUid")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        internal static extern uint GetEUid();

        /// <summary>The start of the runtime's FileStatus (Flags, Mode, Uid, Gid, ...), the same in every .NET version; sized generously for the rest.</summary>
        [StructLayout(LayoutKind.Sequential, Size = 256)]
        private struct FileStatus
        {
            public int Flags;
            public int Mode;
            public uint Uid;
            public uint Gid;
        }
    }

    [SupportedOSPlatform("windows")]
    private static class Windows
    {
        private const FileSystemRights WriteRights = FileSystemRights.WriteData | FileSystemRights.AppendData | FileSystemRights.WriteExtendedAttributes
            | FileSystemRights.WriteAttributes | FileSystemRights.Delete | FileSystemRights.DeleteSubdirectoriesAndFiles | FileSystemRights.ChangePermissions | FileSystemRights.TakeOwnership;

        private static readonly SecurityIdentifier LocalSystem = new(WellKnownSidType.LocalSystemSid, null);
        private static readonly SecurityIdentifier Administrators = new(WellKnownSidType.BuiltinAdministratorsSid, null);
        private static readonly SecurityIdentifier CreatorOwner = new(WellKnownSidType.CreatorOwnerSid, null);

        private static SecurityIdentifier Me => WindowsIdentity.GetCurrent().User!;

        public static string CurrentUserName() => WindowsIdentity.GetCurrent().Name;

        public static EntryInfo Inspect(string path)
        {
            FileSystemInfo entry = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
            if (!entry.Exists)
            {
                return default;
            }

            EntryKind kind = entry.LinkTarget is not null || entry.Attributes.HasFlag(FileAttributes.ReparsePoint) ? EntryKind.SymbolicLink
                : entry is DirectoryInfo ? EntryKind.Directory : EntryKind.File;
            FileSystemSecurity security = entry is DirectoryInfo d ? d.GetAccessControl() : ((FileInfo)entry).GetAccessControl();
            var owner = (SecurityIdentifier?)security.GetOwner(typeof(SecurityIdentifier));
            SecurityIdentifier me = Me;
            bool mine = owner is not null && owner.Equals(me);
            bool admin = owner is not null && (owner.Equals(Administrators) || owner.Equals(LocalSystem));
            bool othersWrite = false;
            foreach (FileSystemAccessRule rule in security.GetAccessRules(true, true, typeof(SecurityIdentifier)))
            {
                if (rule.AccessControlType == AccessControlType.Allow && (rule.FileSystemRights & WriteRights) != 0 && rule.IdentityReference is SecurityIdentifier sid
                    && !sid.Equals(me) && !sid.Equals(LocalSystem) && !sid.Equals(Administrators) && !sid.Equals(CreatorOwner))
                {
                    othersWrite = true;
                }
            }

            string ownerName = owner is null ? "(unknown)" : Name(owner);
            return new EntryInfo(kind, ownerName, mine, admin, 0, othersWrite, false, false);
        }

        public static void CreatePrivateDirectory(string path)
        {
            var security = new DirectorySecurity();
            security.SetOwner(Me);
            security.SetAccessRuleProtection(isProtected: true, preserveInheritance: false);
            security.AddAccessRule(new FileSystemAccessRule(Me, FileSystemRights.FullControl, InheritanceFlags.ContainerInherit | InheritanceFlags.ObjectInherit, PropagationFlags.None, AccessControlType.Allow));
            security.CreateDirectory(path);
        }

        public static FileStream CreatePrivateFile(string path, FileAccess access, FileShare share, FileOptions options, int bufferSize)
        {
            var security = new FileSecurity();
            security.SetOwner(Me);
            security.SetAccessRuleProtection(isProtected: true, preserveInheritance: false);
            security.AddAccessRule(new FileSystemAccessRule(Me, FileSystemRights.FullControl, AccessControlType.Allow));
            FileSystemRights rights = access switch
            {
                FileAccess.Read => FileSystemRights.Read,
                FileAccess.Write => FileSystemRights.Write | FileSystemRights.ReadAttributes | FileSystemRights.Synchronize,
                _ => FileSystemRights.Read | FileSystemRights.Write,
            };
            if (options.HasFlag(FileOptions.DeleteOnClose))
            {
                rights |= FileSystemRights.Delete;
            }

            return new FileInfo(path).Create(FileMode.CreateNew, rights, share, Math.Max(bufferSize, 1), options, security);
        }

        private static string Name(SecurityIdentifier sid)
        {
            try
            {
                return sid.Translate(typeof(NTAccount)).Value;
            }
            catch (IdentityNotMappedException)
            {
                return sid.Value;
            }
        }
    }
}
