using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net.Http;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// Copies a download's body to its file in small reads (the bytes are still in the CPU cache when they are written).
/// When the blob has an MD5 to check, the hashing runs on another task over a bounded ring of buffers, so it never holds
/// up the socket; memory stays a fixed number of buffers whatever the blob's size.
/// </summary>
internal static class HashingCopy
{
    /// <summary>Buffers in flight between the socket and the hashing task.</summary>
    public const int RingDepth = 16;

    /// <summary>Bytes written between two progress reports.</summary>
    public const long ProgressStep = 1024 * 1024;

    /// <summary>The drop reason when the service sent more bytes than the blob has.</summary>
    public const string TooLong = "\u0000too-long";

    /// <summary>
    /// Copies one answer's body to <paramref name="file"/>. Returns the bytes in the file and, when the connection
    /// dropped, stalled for <paramref name="readTimeout"/>, or sent too much (<see cref="TooLong"/>), why; the bytes
    /// received before a drop are kept, so resuming starts after them.
    /// </summary>
    public static async Task<(long Written, string? DropReason)> CopyAsync(
        Stream body, FileStream file, IncrementalHash? hasher, long written, long expected, int bufferSize, TimeSpan readTimeout,
        IProgress<long>? bytesWritten, Uri link, CancellationToken ct)
    {
        int depth = hasher is null ? 1 : RingDepth;
        var rented = new List<byte[]>(depth);
        var free = Channel.CreateBounded<byte[]>(depth);
        for (int i = 0; i < depth; i++)
        {
            byte[] b = ArrayPool<byte>.Shared.Rent(bufferSize);
            rented.Add(b);
            free.Writer.TryWrite(b);
        }

        Channel<(byte[] Buffer, int Count)>? toHash = null;
        Task? hashing = null;
        if (hasher is not null)
        {
            toHash = Channel.CreateBounded<(byte[] Buffer, int Count)>(depth);
            ChannelReader<(byte[] Buffer, int Count)> reader = toHash.Reader;
            hashing = Task.Run(async () =>
            {
                await foreach ((byte[] buffer, int count) in reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    hasher.AppendData(buffer, 0, count);
                    free.Writer.TryWrite(buffer);
                }
            }, CancellationToken.None);
        }

        string? dropReason = null;
        long unreported = 0;
        try
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
            while (true)
            {
                byte[] buffer = toHash is null ? rented[0] : await free.Reader.ReadAsync(ct).ConfigureAwait(false);
                int n;
                try
                {
                    idle.CancelAfter(readTimeout);
                    n = await body.ReadAsync(buffer.AsMemory(0, bufferSize), idle.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
                {
                    dropReason = e is OperationCanceledException
                        ? string.Create(CultureInfo.InvariantCulture, $"nothing received for {readTimeout.TotalSeconds:N0} s")
                        : BlobLink.Scrub(e.Message, link);
                    break;
                }

                if (n == 0)
                {
                    break;
                }

                if (expected >= 0 && written + n > expected)
                {
                    dropReason = TooLong;
                    break;
                }

                // A plain write: the file is local and the call returns once the page cache has the bytes; the
                // asynchronous form would hop to another thread for every chunk.
                file.Write(buffer, 0, n);
                written += n;
                unreported += n;
                if (unreported >= ProgressStep)
                {
                    bytesWritten?.Report(unreported);
                    unreported = 0;
                }

                if (toHash is not null)
                {
                    await toHash.Writer.WriteAsync((buffer, n), ct).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            if (unreported > 0)
            {
                bytesWritten?.Report(unreported);
            }

            toHash?.Writer.TryComplete();
            try
            {
                if (hashing is not null)
                {
                    await hashing.ConfigureAwait(false);
                }
            }
            finally
            {
                foreach (byte[] b in rented)
                {
                    ArrayPool<byte>.Shared.Return(b);
                }
            }
        }

        return (written, dropReason);
    }

    /// <summary>Feeds the first <paramref name="length"/> bytes already in <paramref name="partial"/> to the hash (a resumed download).</summary>
    public static async Task HashExistingAsync(string partial, long length, IncrementalHash hasher, byte[] buffer, CancellationToken ct)
    {
        if (length <= 0)
        {
            return;
        }

        FileStream read = PrivateFiles.OpenOwned(partial, FileAccess.Read, FileShare.ReadWrite, FileOptions.SequentialScan);
        await using (read.ConfigureAwait(false))
        {
            long left = length;
            while (left > 0)
            {
                int n = await read.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new IOException($"{partial} is shorter than expected.");
                }

                hasher.AppendData(buffer, 0, n);
                left -= n;
            }
        }
    }
}
