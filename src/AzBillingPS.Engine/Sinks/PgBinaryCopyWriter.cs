using System;
using System.Buffers.Binary;
using System.IO;
using AzBillingPS.Engine.Csv;

namespace AzBillingPS.Engine.Sinks;

/// <summary>
/// Rows in PostgreSQL's binary COPY format (the header, one tuple per row, the trailer), written from a
/// <see cref="CostRowReader"/> into a raw COPY stream through one buffer: text goes as the file's own UTF-8 bytes,
/// numeric, date, timestamptz, uuid and boolean in the forms the server's receive functions read. No object, string or
/// parameter per value, which is what a row costs through a general-purpose importer.
/// </summary>
/// <remarks>
/// Values are written exactly: a decimal becomes a numeric of the same value and display scale (0.050 stays 0.050), a
/// date the same day, a timestamp the same microsecond. Dates and timestamps at the ends of .NET's range are stored as
/// those dates, not as PostgreSQL's infinity.
/// </remarks>
internal sealed class PgBinaryCopyWriter
{
    internal const int BufferSize = 1 << 16;

    /// <summary>Days from 0001-01-01 to PostgreSQL's epoch, 2000-01-01.</summary>
    private const int EpochDayNumber = 730_119;

    private const long EpochTicks = 630_822_816_000_000_000; // 2000-01-01T00:00:00Z

    private const short NumericPositive = 0x0000;

    private const short NumericNegative = 0x4000;

    private static readonly ulong[] Pow10 = { 1, 10, 100, 1000 };

    private readonly Stream _output;
    private readonly byte[] _buffer;
    private readonly bool[] _jsonb;
    private int _position;

    /// <summary>Starts the stream with the binary COPY header.</summary>
    /// <param name="output">The raw COPY stream.</param>
    /// <param name="jsonb">Per column: a JSON value goes into a jsonb column (its binary form starts with a version byte); otherwise json or text.</param>
    /// <param name="bufferSize">Bytes gathered before each write to the stream.</param>
    public PgBinaryCopyWriter(Stream output, bool[] jsonb, int bufferSize = BufferSize)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(jsonb);
        _output = output;
        _jsonb = jsonb;
        _buffer = new byte[Math.Max(64, bufferSize)];
        ReadOnlySpan<byte> signature = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0];
        signature.CopyTo(_buffer);
        _position = signature.Length;
        WriteInt32(0); // flags: no OIDs
        WriteInt32(0); // no header extension
    }

    /// <summary>Bytes handed to the stream so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Writes the reader's current row; <paramref name="types"/> holds the type of each of its columns.</summary>
    public void WriteRow(CostRowReader reader, CostColumnType[] types)
    {
        Reserve(2);
        WriteInt16((short)types.Length);
        for (int i = 0; i < types.Length; i++)
        {
            if (reader.IsDBNull(i))
            {
                Reserve(4);
                WriteInt32(-1);
                continue;
            }

            switch (types[i])
            {
                case CostColumnType.Decimal:
                    WriteNumeric(reader.GetDecimal(i));
                    break;
                case CostColumnType.Date:
                    Reserve(8);
                    WriteInt32(4);
                    WriteInt32(DateOnly.FromDateTime(reader.GetDateTime(i)).DayNumber - EpochDayNumber);
                    break;
                case CostColumnType.Timestamp:
                    Reserve(12);
                    WriteInt32(8);
                    WriteInt64((reader.GetDateTime(i).Ticks - EpochTicks) / TimeSpan.TicksPerMicrosecond);
                    break;
                case CostColumnType.Boolean:
                    Reserve(5);
                    WriteInt32(1);
                    _buffer[_position++] = reader.GetBoolean(i) ? (byte)1 : (byte)0;
                    break;
                case CostColumnType.Guid:
                    Reserve(20);
                    WriteInt32(16);
                    reader.GetGuid(i).TryWriteBytes(_buffer.AsSpan(_position, 16), bigEndian: true, out _);
                    _position += 16;
                    break;
                case CostColumnType.Json:
                    WriteJson(i, reader.GetUtf8(i));
                    break;
                default:
                    WriteText(reader.GetUtf8(i));
                    break;
            }
        }
    }

    /// <summary>Writes the trailer and hands every buffered byte to the stream.</summary>
    public void Complete()
    {
        Reserve(2);
        WriteInt16(-1);
        Flush();
    }

    /// <summary>Hands the buffered bytes to the stream.</summary>
    public void Flush()
    {
        if (_position > 0)
        {
            _output.Write(_buffer, 0, _position);
            BytesWritten += _position;
            _position = 0;
        }
    }

    /// <summary>
    /// A numeric in PostgreSQL's binary form: digit count, weight (of the first base-10000 digit), sign, display scale,
    /// then the base-10000 digits, most significant first, without leading or trailing zero digits.
    /// </summary>
    internal static int EncodeNumeric(decimal value, Span<byte> destination)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        int scale = (bits[3] >> 16) & 0xFF;
        bool negative = bits[3] < 0;

        // Base-10000 digits line up with the decimal point: scale the mantissa so the fraction has a multiple of 4 digits.
        int pad = (4 - (scale % 4)) % 4;
        int fractionDigits = (scale + pad) / 4;
        Span<short> digits = stackalloc short[10]; // least significant first; 96 bits times 1000 is under 10^32
        int count = 0;
        if (bits[2] == 0 && (ulong)(uint)bits[1] < (1UL << 32) / 1000)
        {
            ulong m = ((((ulong)(uint)bits[1]) << 32) | (uint)bits[0]) * Pow10[pad];
            while (m != 0)
            {
                (m, ulong digit) = Math.DivRem(m, 10_000UL);
                digits[count++] = (short)digit;
            }
        }
        else
        {
            UInt128 m = new UInt128((uint)bits[2], (((ulong)(uint)bits[1]) << 32) | (uint)bits[0]) * (UInt128)Pow10[pad];
            while (m != UInt128.Zero)
            {
                (m, UInt128 digit) = UInt128.DivRem(m, 10_000);
                digits[count++] = (short)(ulong)digit;
            }
        }

        if (count == 0)
        {
            BinaryPrimitives.WriteInt16BigEndian(destination, 0);
            BinaryPrimitives.WriteInt16BigEndian(destination[2..], 0);
            BinaryPrimitives.WriteInt16BigEndian(destination[4..], NumericPositive);
            BinaryPrimitives.WriteInt16BigEndian(destination[6..], (short)scale);
            return 8;
        }

        int weight = count - fractionDigits - 1;
        int low = 0;
        while (digits[low] == 0)
        {
            low++; // trailing zero digits are implied by the display scale
        }

        int ndigits = count - low;
        BinaryPrimitives.WriteInt16BigEndian(destination, (short)ndigits);
        BinaryPrimitives.WriteInt16BigEndian(destination[2..], (short)weight);
        BinaryPrimitives.WriteInt16BigEndian(destination[4..], negative ? NumericNegative : NumericPositive);
        BinaryPrimitives.WriteInt16BigEndian(destination[6..], (short)scale);
        int at = 8;
        for (int i = count - 1; i >= low; i--, at += 2)
        {
            BinaryPrimitives.WriteInt16BigEndian(destination[at..], digits[i]);
        }

        return at;
    }

    /// <summary>The longest numeric <see cref="EncodeNumeric"/> writes: the header and eight base-10000 digits.</summary>
    internal const int MaxNumericBytes = 8 + (2 * 8);

    private void WriteNumeric(decimal value)
    {
        Reserve(4 + MaxNumericBytes);
        int length = EncodeNumeric(value, _buffer.AsSpan(_position + 4));
        WriteInt32(length);
        _position += length;
    }

    /// <summary>A JSON value (its normalised text): jsonb's binary form is a version byte (1) and the text; json and text take the text alone.</summary>
    private void WriteJson(int ordinal, ReadOnlySpan<byte> utf8)
    {
        if (!_jsonb[ordinal])
        {
            WriteText(utf8);
            return;
        }

        Reserve(5);
        WriteInt32(utf8.Length + 1);
        _buffer[_position++] = 1;
        WriteRaw(utf8);
    }

    private void WriteText(ReadOnlySpan<byte> bytes)
    {
        Reserve(4);
        WriteInt32(bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>Bytes into the buffer, or (larger than what is left of it) after a flush, straight to the stream.</summary>
    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        if (_buffer.Length - _position < bytes.Length)
        {
            Flush();
            if (_buffer.Length < bytes.Length)
            {
                _output.Write(bytes);
                BytesWritten += bytes.Length;
                return;
            }
        }

        bytes.CopyTo(_buffer.AsSpan(_position));
        _position += bytes.Length;
    }

    private void Reserve(int bytes)
    {
        if (_buffer.Length - _position < bytes)
        {
            Flush();
        }
    }

    private void WriteInt16(short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_position), value);
        _position += 2;
    }

    private void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_position), value);
        _position += 4;
    }

    private void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_position), value);
        _position += 8;
    }
}
