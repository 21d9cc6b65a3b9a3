using System;
using System.Buffers;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// Turns a downloaded gzip blob into its CSV, streaming and bounded (<see cref="InflationLimit"/>): the inflated bytes go
/// to <c>&lt;file&gt;.gunzip.partial</c> and are renamed into place only when complete. A blob that is not gzip after
/// all is kept as it came, with a warning; one that is not valid gzip, or inflates past the limit, is discarded.
/// </summary>
internal static class GzipInflater
{
    private const string InflateSuffix = ".gunzip.partial";

    /// <summary>Inflates <paramref name="partial"/> into <paramref name="final"/>; returns the bytes of the file in place.</summary>
    public static async Task<long> InflateAsync(string partial, string final, string stateFile, string what, BlobDownloaderOptions options, IEngineLog log, CancellationToken ct)
    {
        byte[] magic = new byte[2];
        int got;
        using (FileStream probe = PrivateFiles.OpenOwned(partial, FileAccess.Read, FileShare.Read))
        {
            got = await probe.ReadAsync(magic, ct).ConfigureAwait(false);
        }

        if (got < 2 || magic[0] != 0x1f || magic[1] != 0x8b)
        {
            log.Warning($"{what}: the report says its blobs are compressed, but this one is not gzip; it was saved as it came.");
            long plain = new FileInfo(partial).Length;
            File.Move(partial, final, overwrite: true);
            return plain;
        }

        string temp = final + InflateSuffix;
        PrivateFiles.DeleteOwned(temp);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(options.BufferSize);
        bool done = false;
        try
        {
            long bytes = 0;
            FileStream source = PrivateFiles.OpenOwned(partial, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            await using (source.ConfigureAwait(false))
            {
                // Bounded: a blob that inflates far past what cost CSV does (a gzip bomb) stops with DecompressionLimit.
                Stream gzip = options.Inflation.Inflate(source, source.Length, what, leaveOpen: true);
                await using (gzip.ConfigureAwait(false))
                {
                    FileStream target = PrivateFiles.CreateNew(temp, FileAccess.Write, FileShare.None);
                    await using (target.ConfigureAwait(false))
                    {
                        try
                        {
                            while (true)
                            {
                                int n = await gzip.ReadAsync(buffer.AsMemory(0, options.BufferSize), ct).ConfigureAwait(false);
                                if (n == 0)
                                {
                                    break;
                                }

                                await target.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                                bytes += n;
                            }
                        }
                        catch (InvalidDataException e)
                        {
                            BlobDownloader.DeleteQuietly(partial);
                            throw new EngineException(EngineErrorKind.ServiceError, $"{what}: the blob is not valid gzip ({e.Message}); the download was discarded. Run the command again, or keep the blob compressed as it came.", e)
                            {
                                Advice = EngineAdvice.KeepCompressed,
                            };
                        }
                        catch (EngineException e) when (e.Kind == EngineErrorKind.DecompressionLimit)
                        {
                            // Nothing of it is kept: not the inflated part, not the download, not its resume state.
                            BlobDownloader.DeleteQuietly(partial);
                            BlobDownloader.DeleteQuietly(stateFile);
                            throw;
                        }

                        await target.FlushAsync(ct).ConfigureAwait(false);
                        if (options.FlushToDisk)
                        {
                            target.Flush(flushToDisk: true);
                        }
                    }
                }
            }

            File.Move(temp, final, overwrite: true);
            done = true;
            BlobDownloader.DeleteQuietly(partial);
            log.Debug(string.Create(CultureInfo.InvariantCulture, $"{what}: decompressed to {bytes:N0} bytes."));
            return bytes;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!done)
            {
                BlobDownloader.DeleteQuietly(temp);
            }
        }
    }
}
