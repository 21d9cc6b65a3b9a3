using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// A Sync run's own folder under the working folder (<c>sync-&lt;run id&gt;</c>), made (and earlier runs' leftovers
/// removed, see <see cref="SyncRunner.ClaimRunFolder"/>) only when the run has something to load, and held by its lock
/// file while the run lives. Disposing lets it go and removes it, unless the request keeps the files.
/// </summary>
internal sealed class SyncRunFolder : IAsyncDisposable
{
    private readonly bool _keep;
    private readonly IEngineLog _log;
    private FileStream? _lock;

    private SyncRunFolder(string path, FileStream? runLock, bool keep, IEngineLog log)
    {
        Path = path;
        _lock = runLock;
        _keep = keep;
        _log = log;
    }

    /// <summary>The folder (not made when nothing is loaded).</summary>
    public string Path { get; }

    /// <summary>The run's folder; checked and made only when <paramref name="needed"/>.</summary>
    public static SyncRunFolder Claim(SyncRequest request, bool needed, IEngineLog log)
    {
        string name = SyncRunner.RunFolderPrefix + request.RunId.ToString("N");
        if (!needed)
        {
            return new SyncRunFolder(System.IO.Path.Combine(request.WorkingPath, name), null, request.KeepFiles, log);
        }

        string working = PrivateFiles.EnsureFolder(request.WorkingPath, strict: request.WorkingPathIsDefault, request.WorkingPathIsDefault ? "The default working folder" : "-WorkingPath", "-WorkingPath");
        string path = System.IO.Path.Combine(working, name);
        return new SyncRunFolder(path, SyncRunner.ClaimRunFolder(working, path, request, log), request.KeepFiles, log);
    }

    /// <summary>Lets the folder go (once), removing it when <paramref name="delete"/>.</summary>
    public async ValueTask ReleaseAsync(bool delete)
    {
        FileStream? runLock = Interlocked.Exchange(ref _lock, null);
        if (runLock is null)
        {
            return;
        }

        await runLock.DisposeAsync().ConfigureAwait(false);
        if (delete)
        {
            SyncRunner.DeleteFolder(Path, _log);
        }
    }

    public ValueTask DisposeAsync() => ReleaseAsync(delete: !_keep);
}
