using System;
using System.Threading;
using System.Threading.Tasks;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// One blob to put on disk. <paramref name="Link"/> is a SAS URL (a secret: it is only ever shown through
/// <see cref="Common.SasRedactor"/>). <paramref name="ExpectedBytes"/> is the manifest's byteCount for the blob
/// (the bytes as stored, compressed when the report is); 0 or less means unknown (then the service's length is taken).
/// <paramref name="Decompress"/> says the blob is gzip and <paramref name="DestinationPath"/> gets the decompressed
/// bytes. <paramref name="Force"/> downloads again even when a complete file is already there, and ignores a leftover
/// <c>.partial</c>.
/// </summary>
public sealed record BlobDownloadRequest(Uri Link, string DestinationPath, long ExpectedBytes, bool Decompress, bool Force)
{
    /// <summary>When the link expires (the report's validTill). The link's own <c>se</c> is honoured as well.</summary>
    public DateTimeOffset? ValidTill { get; init; }

    /// <summary>How many times a dropped connection is resumed (with a Range request) before the download fails.</summary>
    public int MaxResumes { get; init; } = 5;

    /// <summary>Shown in messages instead of the file name (for example "blob 2 of 3 of ..."); optional.</summary>
    public string? Description { get; init; }

    /// <summary>
    /// An Entra access token for the storage account (exports read by account and container), sent as
    /// <c>Authorization: Bearer</c> with every request; null for a SAS link. Asked for before each request, so a long
    /// download gets a renewed token. The downloader sends it only where <see cref="TokenEndpoint"/> allows.
    /// </summary>
    public Func<CancellationToken, Task<string>>? BearerToken { get; init; }

    /// <summary>The storage account endpoint the bearer token belongs to (its own host is the only one that gets it); required with <see cref="BearerToken"/>.</summary>
    internal Common.TokenEndpoint? TokenEndpoint { get; init; }

    /// <summary>What to do when the storage service refuses the request (401/403); the report's advice when null.</summary>
    public string? RefusedAdvice { get; init; }

    /// <summary>What to do when the blob is not found (404); the report's advice when null.</summary>
    public string? NotFoundAdvice { get; init; }

    public override string ToString() => $"{Common.SasRedactor.Redact(Link)} -> {DestinationPath}";
}

/// <summary>What a download did: the file, its length on disk, whether an existing complete file was kept, how many
/// times a dropped connection was resumed, and how long it took.</summary>
public sealed record BlobDownloadOutcome(string Path, long Bytes, bool Skipped, int Resumes, TimeSpan Elapsed);

/// <summary>Tuning for <see cref="BlobDownloader"/>. The defaults suit Azure Storage; tests shorten the waits.</summary>
public sealed class BlobDownloaderOptions
{
    /// <summary>
    /// Size of each read and write. Small reads keep the bytes in the CPU cache between the socket and the file; a
    /// download holds one such buffer (16 when it also hashes), so memory stays flat whatever the blob size.
    /// </summary>
    public int BufferSize { get; init; } = 256 * 1024;

    /// <summary>How 408/429/5xx answers and refused or dropped calls are retried (the shared storage policy by default).</summary>
    internal Common.RetryPolicy Retry { get; init; } = Common.RetryPolicy.Storage;

    /// <summary>A link that expires within this margin is not started: it would likely fail half way.</summary>
    public TimeSpan ExpiryMargin { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>A response that sends nothing for this long counts as a dropped connection (and is resumed).</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Time to connect (TCP and TLS).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock (tests move it).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Flush each file to the storage device (fsync) before it is renamed into place. Off by default: it costs about a
    /// third of the throughput on a fast link, and a file under its final name is complete whenever the process stops
    /// (the rename comes after the last verified byte). Only a power loss right after a download can leave a short file,
    /// which the next run's length check downloads again.
    /// </summary>
    public bool FlushToDisk { get; init; }

    /// <summary>How far a gzip blob may inflate before it is taken for something else than cost CSV and discarded (-MaxGzipRatio).</summary>
    public Common.InflationLimit Inflation { get; init; } = Common.InflationLimit.Default;
}
