using System;
using System.IO;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sync;
using Xunit;

namespace AzBillingPS.Tests.Common;

/// <summary>
/// The one place that makes the module's files and folders (issue 10 §2): new, private, never through a link. Files
/// owned by another account are planted by the Pester tests (tests/pester/Security.Tests.ps1), which run as root.
/// </summary>
public sealed class PrivateFilesTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "azb-private-" + Guid.NewGuid().ToString("N"));

    public PrivateFilesTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void New_folders_and_files_are_private_and_really_new()
    {
        string folder = Path.Combine(_root, "a", "b");
        PrivateFiles.CreateFolderTree(folder);
        string file = Path.Combine(folder, "x.csv");
        using (FileStream s = PrivateFiles.CreateNew(file))
        {
            s.WriteByte(1);
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_root, "a")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        Assert.Throws<IOException>(() => PrivateFiles.CreateNew(file).Dispose());
        Assert.Throws<IOException>(() => PrivateFiles.CreateFolder(folder));
        Assert.True(PrivateFiles.IsOwnedFile(file));
        Assert.Equal(EntryKind.Directory, PrivateFiles.Inspect(folder).Kind);
        Assert.False(PrivateFiles.Inspect(Path.Combine(folder, "missing")).Exists);
    }

    [Fact]
    public void Nothing_is_written_through_a_symbolic_link()
    {
        string victim = Path.Combine(_root, "victim.txt");
        File.WriteAllText(victim, "keep me");
        string link = Path.Combine(_root, "x.csv.partial");
        File.CreateSymbolicLink(link, victim);
        string dangling = Path.Combine(_root, "y.csv.partial");
        File.CreateSymbolicLink(dangling, Path.Combine(_root, "not-there.txt"));

        Assert.Throws<IOException>(() => PrivateFiles.CreateNew(link).Dispose());
        Assert.Throws<IOException>(() => PrivateFiles.CreateNew(dangling).Dispose());
        Assert.False(File.Exists(Path.Combine(_root, "not-there.txt")));

        var open = Assert.Throws<EngineException>(() => PrivateFiles.OpenOwned(link, FileAccess.Write).Dispose());
        Assert.Equal(EngineErrorKind.UnsafeFile, open.Kind);
        Assert.Contains("symbolic link", open.Message, StringComparison.Ordinal);
        Assert.Equal(EngineErrorKind.UnsafeFile, Assert.Throws<EngineException>(() => PrivateFiles.DeleteOwned(link)).Kind);
        Assert.Equal(EntryKind.SymbolicLink, PrivateFiles.Inspect(link).Kind);
        Assert.False(PrivateFiles.IsOwnedFile(link));
        Assert.Equal("keep me", File.ReadAllText(victim));
    }

    [Fact]
    public void Deleting_a_tree_removes_links_and_never_what_they_point_to()
    {
        string outside = Path.Combine(_root, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "keep.csv"), "x");
        string tree = Path.Combine(_root, "sync-tree");
        Directory.CreateDirectory(Path.Combine(tree, "unit"));
        File.WriteAllText(Path.Combine(tree, "unit", "a.csv"), "a");
        Directory.CreateSymbolicLink(Path.Combine(tree, "unit", "to-outside"), outside);
        File.CreateSymbolicLink(Path.Combine(tree, "file-link"), Path.Combine(outside, "keep.csv"));

        PrivateFiles.DeleteTree(tree);

        Assert.False(Directory.Exists(tree));
        Assert.Equal("x", File.ReadAllText(Path.Combine(outside, "keep.csv")));

        // A link given as the root is removed itself.
        string rootLink = Path.Combine(_root, "root-link");
        Directory.CreateSymbolicLink(rootLink, outside);
        PrivateFiles.DeleteTree(rootLink);
        Assert.False(PrivateFiles.Inspect(rootLink).Exists);
        Assert.True(File.Exists(Path.Combine(outside, "keep.csv")));
    }

    [Fact]
    public void A_token_cache_file_others_can_read_is_not_read_and_the_advice_to_remove_it_is_the_commands_to_word()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // modes are Unix
        }

        string cache = Path.Combine(_root, "msal.cache");
        File.WriteAllText(cache, "{}");
        File.SetUnixFileMode(cache, (UnixFileMode)0x1A4); // 0644
        var e = Assert.Throws<EngineException>(() => AzBillingPS.Engine.Auth.UserTokenCache.ReadOwn(cache));
        Assert.Equal(EngineErrorKind.UnsafeFile, e.Kind);
        Assert.Contains("can be read or written by other users; it is not read as a token cache. Remove it.", e.Message, StringComparison.Ordinal);
        Assert.Equal(EngineAdvice.RemoveTokenCache, e.Advice); // Clear-AzBillingTokenCache, in the command's words
        File.SetUnixFileMode(cache, (UnixFileMode)0x180); // 0600: the user's own, read
        Assert.Equal("{}"u8.ToArray(), AzBillingPS.Engine.Auth.UserTokenCache.ReadOwn(cache));
    }

    [Fact]
    public void A_working_folder_others_can_write_to_is_refused()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // modes are Unix; Windows access lists are checked by the same rule in PrivateFiles.Windows
        }

        string open = Path.Combine(_root, "open");
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)0x1FF); // 0777
        var e = Assert.Throws<EngineException>(() => PrivateFiles.EnsureFolder(open, strict: false, "-Path", "-Path"));
        Assert.Equal(EngineErrorKind.UnsafeFolder, e.Kind);
        Assert.Contains("can be written by other users", e.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 700", e.Message, StringComparison.Ordinal);

        // Sticky (like /tmp): others cannot rename or remove this user's files there; a named folder may be that.
        File.SetUnixFileMode(open, (UnixFileMode)0x3FF); // 1777
        Assert.Equal(open, PrivateFiles.EnsureFolder(open, strict: false, "-Path", "-Path"));
        Assert.Equal(EngineErrorKind.UnsafeFolder, Assert.Throws<EngineException>(() => PrivateFiles.EnsureFolder(open, strict: true, "The default working folder", "-WorkingPath")).Kind);

        // Group-writable: fine for a folder the user named, not for the default one.
        string group = Path.Combine(_root, "group");
        Directory.CreateDirectory(group);
        File.SetUnixFileMode(group, (UnixFileMode)0x1FD); // 0775
        Assert.Equal(group, PrivateFiles.EnsureFolder(group, strict: false, "-Path", "-Path"));
        Assert.Contains("its group", Assert.Throws<EngineException>(() => PrivateFiles.EnsureFolder(group, strict: true, "The default working folder", "-WorkingPath")).Message, StringComparison.Ordinal);

        // A link to a folder gets the strict check on its target.
        string link = Path.Combine(_root, "link-to-group");
        Directory.CreateSymbolicLink(link, group);
        Assert.Contains("a symbolic link to", Assert.Throws<EngineException>(() => PrivateFiles.EnsureFolder(link, strict: false, "-Path", "-Path")).Message, StringComparison.Ordinal);
        File.SetUnixFileMode(group, (UnixFileMode)0x1C0); // 0700
        Assert.Equal(link, PrivateFiles.EnsureFolder(link, strict: false, "-Path", "-Path"));

        // A missing folder is made private; a file is not a folder.
        string fresh = Path.Combine(_root, "fresh", "work");
        Assert.Equal(fresh, PrivateFiles.EnsureFolder(fresh, strict: true, "The default working folder", "-WorkingPath"));
        Assert.Equal((UnixFileMode)0x1C0, File.GetUnixFileMode(fresh));
        string file = Path.Combine(_root, "file");
        File.WriteAllText(file, "x");
        Assert.Equal(EngineErrorKind.InvalidArgument, Assert.Throws<EngineException>(() => PrivateFiles.EnsureFolder(file, strict: false, "-WorkingPath", "-WorkingPath")).Kind);
    }

    [Theory]
    [InlineData("sync-0123456789abcdef0123456789abcdef", true)]
    [InlineData("sync-0123456789ABCDEF0123456789abcdef", false)]
    [InlineData("sync-0123456789abcdef0123456789abcde", false)]
    [InlineData("sync-0123456789abcdef0123456789abcdef0", false)]
    [InlineData("sync-photos", false)]
    [InlineData("sync-0123456789abcdef0123456789abcdeg", false)]
    public void Cleanup_considers_only_exact_run_folder_names(string name, bool expected)
        => Assert.Equal(expected, SyncRunner.IsRunFolderName(name));
}
