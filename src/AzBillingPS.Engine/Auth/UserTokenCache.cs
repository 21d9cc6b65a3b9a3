using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using Microsoft.Identity.Client;
using Microsoft.Identity.Client.Extensions.Msal;

namespace AzBillingPS.Engine.Auth;

/// <summary>How the sign-ins of people (-DeviceCode, -Interactive) are remembered across sessions.</summary>
public enum TokenCacheMode
{
    /// <summary>The operating system's protected storage (DPAPI, Keychain, the Secret Service keyring); this session only where there is none.</summary>
    Protected = 0,

    /// <summary>This PowerShell session only.</summary>
    Memory,

    /// <summary>Protected storage where it exists, else a file only the user can read (an explicit opt-in, for Linux without a keyring).</summary>
    PlainFile,
}

/// <summary>
/// Where MSAL's user token cache lives. <see cref="ModeVariable"/> chooses: Protected (default), Memory or PlainFile.
/// Protected storage comes from MSAL's cache extension; where it is missing (Linux without a keyring) the cache stays in
/// the process and one warning says how to opt in to a private plain file, which is then written through
/// <see cref="PrivateFiles"/> (0600, created new, never through a link). Nothing here logs cache contents.
/// </summary>
public static class UserTokenCache
{
    /// <summary>The environment variable that chooses the <see cref="TokenCacheMode"/>.</summary>
    public const string ModeVariable = "AZBILLING_TOKEN_CACHE";

    private const string ProtectedFileName = "msal.cache";
    private const string PlainFileName = "msal.plaintext.cache";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static MsalCacheHelper? _helper;
    private static string? _helperFolder;
    private static string? _unavailable;
    private static int _warned;
    private static int _generation;

    /// <summary>The folder of the persisted cache: the user's local application data, then AzBillingPS.</summary>
    public static string Folder => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "AzBillingPS");

    /// <summary>The mode <see cref="ModeVariable"/> asks for (Protected when unset).</summary>
    public static TokenCacheMode Mode
    {
        get
        {
            string? value = Environment.GetEnvironmentVariable(ModeVariable);
            if (string.IsNullOrWhiteSpace(value))
            {
                return TokenCacheMode.Protected;
            }

            return Enum.TryParse(value.Trim(), ignoreCase: true, out TokenCacheMode mode) && Enum.IsDefined(mode)
                ? mode
                : throw new EngineException(EngineErrorKind.InvalidArgument, $"{ModeVariable} is '{value}'; it takes Protected (the default), Memory or PlainFile.");
        }
    }

    /// <summary>Raised by <see cref="ClearAsync"/>: sign-ins made before it are not renewed any more.</summary>
    internal static int Generation => Volatile.Read(ref _generation);

    /// <summary>Connects a new public client's cache to the chosen storage; returns where the sign-in is kept, for messages.</summary>
    internal static async Task<string> AttachAsync(ITokenCache cache, IEngineLog? log)
    {
        TokenCacheMode mode = Mode;
        if (mode == TokenCacheMode.Memory)
        {
            return $"kept in this PowerShell session only ({ModeVariable}=Memory)";
        }

        MsalCacheHelper? helper = await ProtectedHelperAsync().ConfigureAwait(false);
        if (helper is not null)
        {
            helper.RegisterCache(cache);
            return "remembered in " + ProtectedStorageName();
        }

        if (mode == TokenCacheMode.PlainFile)
        {
            string path = Path.Combine(Folder, PlainFileName);
            try
            {
                EnsureFolder();
                RegisterPlainFile(cache, path);
                return $"remembered in '{path}', a file only you can read ({ModeVariable}=PlainFile)";
            }
            catch (EngineException e)
            {
                log?.Warning($"Your sign-in is kept for this PowerShell session only: {e.Message}");
                return "kept in this PowerShell session only (the cache folder is not private)";
            }
        }

        if (Interlocked.Exchange(ref _warned, 1) == 0)
        {
            log?.Warning($"Your sign-in is kept for this PowerShell session only: {_unavailable}. To remember it across sessions in a file only you can read, set $env:{ModeVariable} = 'PlainFile' (or 'Memory' to keep sessions apart without this warning).");
        }

        return "kept in this PowerShell session only (no protected storage)";
    }

    /// <summary>
    /// Forgets every remembered sign-in: the persisted cache (protected storage and the plain file) and, through
    /// <see cref="Generation"/>, the tokens of this session's earlier sign-ins. Returns what was removed, for messages.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ClearAsync(CancellationToken cancellationToken)
    {
        var removed = new List<string>();
        Interlocked.Increment(ref _generation);
        removed.AddRange(await AccessTokenProvider.ForgetUsersAsync(cancellationToken).ConfigureAwait(false));
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_helper is not null)
            {
#pragma warning disable CS0618 // Clear() is the way to empty the persisted cache of every client id at once
                _helper.Clear();
#pragma warning restore CS0618
                removed.Add(ProtectedStorageName());
            }
            else if (File.Exists(Path.Combine(Folder, ProtectedFileName)))
            {
                MsalCacheHelper? helper = await CreateHelperAsync().ConfigureAwait(false);
                if (helper is not null)
                {
#pragma warning disable CS0618
                    helper.Clear();
#pragma warning restore CS0618
                    removed.Add(ProtectedStorageName());
                }
            }

            string plain = Path.Combine(Folder, PlainFileName);
            if (PrivateFiles.Inspect(plain).Kind is EntryKind.File or EntryKind.SymbolicLink)
            {
                File.Delete(plain); // a link is removed itself, never what it points to
                removed.Add($"'{plain}'");
            }
        }
        finally
        {
            Gate.Release();
        }

        return removed;
    }

    private static async Task<MsalCacheHelper?> ProtectedHelperAsync()
    {
        await Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            string folder = Folder;
            if (_helper is not null && _helperFolder == folder)
            {
                return _helper;
            }

            if (_unavailable is not null && _helperFolder == folder)
            {
                return null;
            }

            _helperFolder = folder;
            _helper = await CreateHelperAsync().ConfigureAwait(false);
            return _helper;
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<MsalCacheHelper?> CreateHelperAsync()
    {
        try
        {
            EnsureFolder();
            StorageCreationProperties properties = new StorageCreationPropertiesBuilder(ProtectedFileName, Folder)
                .WithLinuxKeyring(
                    "com.azbillingps.tokencache",
                    MsalCacheHelper.LinuxKeyRingDefaultCollection,
                    "AzBillingPS sign-ins",
                    new KeyValuePair<string, string>("Product", "AzBillingPS"),
                    new KeyValuePair<string, string>("Version", "1"))
                .WithMacKeyChain("AzBillingPS.TokenCache", "AzBillingPS")
                .Build();
            MsalCacheHelper helper = await MsalCacheHelper.CreateAsync(properties).ConfigureAwait(false);
            helper.VerifyPersistence();
            _unavailable = null;
            return helper;
        }
        catch (Exception e) when (e is MsalCachePersistenceException or EngineException or DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or InvalidOperationException or PlatformNotSupportedException)
        {
            _unavailable = e is EngineException ? e.Message : OperatingSystem.IsLinux()
                ? "this machine has no keyring (the Secret Service through libsecret and a D-Bus session) to keep it in"
                : "the operating system's protected storage could not be used (" + e.GetType().Name + ")";
            return null;
        }
    }

    private static string ProtectedStorageName() => OperatingSystem.IsWindows()
        ? $"'{Path.Combine(Folder, ProtectedFileName)}', encrypted for you (DPAPI)"
        : OperatingSystem.IsMacOS() ? "your login Keychain" : "your keyring (Secret Service)";

    private static void RegisterPlainFile(ITokenCache cache, string path)
    {
        object fileLock = PlainFileLock;
        cache.SetBeforeAccess(args =>
        {
            lock (fileLock)
            {
                byte[]? data;
                try
                {
                    data = ReadOwn(path);
                }
                catch (EngineException e)
                {
                    // Not read: the next write replaces it (a rename replaces a link; it never writes through it).
                    DeviceCodePolling.Log.Value?.Warning(e.Message, e.Advice);
                    data = null;
                }

                args.TokenCache.DeserializeMsalV3(data, shouldClearExistingCache: true);
            }
        });
        cache.SetAfterAccess(args =>
        {
            if (!args.HasStateChanged)
            {
                return;
            }

            lock (fileLock)
            {
                WriteAtomically(path, args.TokenCache.SerializeMsalV3());
            }
        });
    }

    private static readonly object PlainFileLock = new();

    /// <summary>The cache folder, created private to the user, or refused when it is another user's or open to others.</summary>
    private static void EnsureFolder()
        => PrivateFiles.EnsureFolder(Folder, strict: true, "The token cache folder", $"XDG_DATA_HOME (or {ModeVariable}=Memory)");

    /// <summary>
    /// Replaces <paramref name="path"/> in one rename with a new private file (PrivateFiles.CreateNew: 0600, created new,
    /// never through a link); a link at <paramref name="path"/> is replaced itself, what it points to is not touched.
    /// </summary>
    private static void WriteAtomically(string path, byte[] data)
    {
        EnsureFolder();
        string temp = Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            using (FileStream stream = PrivateFiles.CreateNew(temp))
            {
                stream.Write(data);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            PrivateFiles.DeleteOwned(temp);
            throw;
        }
    }

    /// <summary>The cache file when it is the user's own regular file that nobody else can read or write; null when absent.</summary>
    internal static byte[]? ReadOwn(string path)
    {
        if (PrivateFiles.Inspect(path).Kind == EntryKind.SymbolicLink)
        {
            throw new EngineException(EngineErrorKind.UnsafeFile, $"'{path}' is a symbolic link, not the token cache AzBillingPS made: it is not read, and the next save replaces the link itself (what it points to is not touched).") { FilePath = path };
        }

        if (!PrivateFiles.RequireOwnedFile(path, "read"))
        {
            return null;
        }

        if (!OperatingSystem.IsWindows() && (PrivateFiles.Inspect(path).Mode & 0x3F) != 0)
        {
            throw new EngineException(EngineErrorKind.UnsafeFile, $"'{path}' can be read or written by other users; it is not read as a token cache. Remove it.") { FilePath = path, Advice = EngineAdvice.RemoveTokenCache };
        }

        using FileStream stream = PrivateFiles.OpenOwned(path, FileAccess.Read);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
