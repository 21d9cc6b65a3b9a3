using System;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Threading;
using System.Threading.Tasks;

namespace AzBillingPS.Engine.Common;

/// <summary>
/// How far a gzip stream may inflate: cost-details CSV compresses about 10 to 25 times, so a stream that inflates far
/// beyond that is not one (a "gzip bomb" fills the disk: 200 KB of zeros inflate to 200 MB). The limit is
/// <see cref="MaxRatio"/> times the compressed size, but never below <see cref="FloorBytes"/> (small files are never
/// stopped). Overridable per command (<c>-MaxGzipRatio</c>).
/// </summary>
public sealed record InflationLimit
{
    public InflationLimit(int maxRatio = DefaultMaxRatio)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRatio, 1);
        MaxRatio = maxRatio;
    }

    /// <summary>How many times its compressed size a gzip stream may inflate to.</summary>
    public int MaxRatio { get; }

    /// <summary>The default ratio: four times the most that real cost files reach.</summary>
    public const int DefaultMaxRatio = 100;

    /// <summary>Output any gzip stream may reach whatever its ratio.</summary>
    public const long FloorBytes = 64L * 1024 * 1024;

    public static InflationLimit Default { get; } = new();

    /// <summary>The most <paramref name="compressedBytes"/> of gzip may inflate to.</summary>
    public long MaxBytesFor(long compressedBytes)
    {
        long byRatio = compressedBytes > 0 && compressedBytes > long.MaxValue / MaxRatio ? long.MaxValue : Math.Max(0, compressedBytes) * MaxRatio;
        return Math.Max(byRatio, FloorBytes);
    }

    /// <summary>
    /// A read-only stream of the inflated bytes of <paramref name="compressed"/> that throws
    /// <see cref="EngineErrorKind.DecompressionLimit"/> (naming <paramref name="what"/>) once it would go past
    /// <see cref="MaxBytesFor"/> of <paramref name="compressedBytes"/>.
    /// </summary>
    /// <param name="compressed">The gzip bytes.</param>
    /// <param name="compressedBytes">Their length.</param>
    /// <param name="what">The blob or file, for the message.</param>
    /// <param name="remedy">What to do when it is genuine; without one, the error carries <see cref="EngineAdvice.RaiseGzipRatio"/> for the command to word.</param>
    /// <param name="leaveOpen">Leave <paramref name="compressed"/> open when the returned stream is disposed.</param>
    public Stream Inflate(Stream compressed, long compressedBytes, string what, string? remedy = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        return new BoundedStream(new GZipStream(compressed, CompressionMode.Decompress, leaveOpen), MaxBytesFor(compressedBytes), compressedBytes, MaxRatio, what, remedy);
    }

    private sealed class BoundedStream(Stream inner, long limit, long compressedBytes, int ratio, string what, string? remedy) : Stream
    {
        private long _total;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _total;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private int Count(int n)
        {
            _total += n;
            if (_total > limit)
            {
                throw new EngineException(
                    EngineErrorKind.DecompressionLimit,
                    string.Create(CultureInfo.InvariantCulture,
                        $"{what}: the gzip data inflates past {limit:N0} bytes ({ratio} times its {compressedBytes:N0} compressed bytes, at least {FloorBytes / 1048576} MB); cost-details CSV compresses about 10 to 25 times, so this is not a cost file, and nothing of it was kept.{(remedy is null ? string.Empty : $" If it is genuine, {remedy}.")}"))
                {
                    // Without a remedy of the caller's, the command offers its own (a larger ratio, where it has one).
                    Advice = remedy is null ? EngineAdvice.RaiseGzipRatio : EngineAdvice.None,
                };
            }

            return n;
        }
    }
}
