using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using AzBillingPS.Engine.Csv;
using Microsoft.Win32.SafeHandles;
using Parquet.Meta;
using Parquet.Schema;

namespace AzBillingPS.Engine.Exports;

/// <summary>
/// How a column of a Parquet file is decoded page by page (<see cref="PageColumn"/>): its physical type with the logical
/// type Parquet.Net gives it (the .NET type the rest of the reader converts from).
/// </summary>
internal enum PageValueKind
{
    Text,
    DecimalBytes,
    DecimalInt32,
    DecimalInt64,
    Int32,
    Int64,
    Double,
    Float,
    Boolean,
    Int96Timestamp,
    TimestampMillis,
    TimestampMicros,
    TimestampNanos,
}

/// <summary>
/// Decides whether a Parquet file is read by the module's own page decoder (<see cref="PageColumn"/>) and binds its columns:
/// every column flat, of a type the decoder knows, every column chunk uncompressed or Snappy, its pages PLAIN or
/// dictionary-encoded (levels RLE), not encrypted. Anything else (another codec, DELTA or BYTE_STREAM_SPLIT encodings, a
/// logical type the decoder does not convert) is read through Parquet.Net as before, so every file it reads still loads.
/// </summary>
internal static class ParquetPagePlan
{
    private static readonly HashSet<Encoding> Known = new() { Encoding.PLAIN, Encoding.PLAIN_DICTIONARY, Encoding.RLE_DICTIONARY, Encoding.RLE };

    /// <summary>The file's columns as page decoders (in the file's order), or null when the file is read through Parquet.Net.</summary>
    public static PageColumn[]? TryPlan(FileMetaData? metadata, DataField[] fields, Func<int, (int Ordinal, CostColumnType Target, string Raw)> bind, SafeFileHandle handle, string path)
    {
        if (metadata?.Schema is not { Count: > 1 } schema || metadata.RowGroups is null || schema.Count - 1 != fields.Length)
        {
            return null;
        }

        var columns = new PageColumn[fields.Length];
        for (int i = 0; i < fields.Length; i++)
        {
            SchemaElement element = schema[i + 1];
            if (element.Name != fields[i].Name || element.NumChildren is > 0 || element.RepetitionType == FieldRepetitionType.REPEATED || KindOf(element, fields[i].ClrType) is not PageValueKind kind)
            {
                return null;
            }

            int width = element.Type == Parquet.Meta.Type.FIXED_LEN_BYTE_ARRAY ? element.TypeLength ?? 0 : 0;
            if (element.Type == Parquet.Meta.Type.FIXED_LEN_BYTE_ARRAY && width <= 0)
            {
                return null;
            }

            (int ordinal, CostColumnType target, string raw) = bind(i);
            columns[i] = new PageColumn(ordinal, target, raw, kind, element.Type ?? Parquet.Meta.Type.BYTE_ARRAY, width, element.Scale ?? 0, element.RepetitionType == FieldRepetitionType.OPTIONAL ? 1 : 0, handle, path);
        }

        foreach (RowGroup group in metadata.RowGroups)
        {
            if (group.Columns is null || group.Columns.Count != fields.Length)
            {
                return null;
            }

            for (int i = 0; i < fields.Length; i++)
            {
                ColumnChunk chunk = group.Columns[i];
                ColumnMetaData? meta = chunk.MetaData;
                if (meta is null || chunk.CryptoMetadata is not null || chunk.EncryptedColumnMetadata is not null || (chunk.FilePath is not null && chunk.FilePath.Length > 0)
                    || meta.PathInSchema is not { Count: 1 } p || p[0] != fields[i].Name
                    || meta.Codec is not (CompressionCodec.UNCOMPRESSED or CompressionCodec.SNAPPY)
                    || meta.Encodings is null || meta.Encodings.Any(e => !Known.Contains(e)))
                {
                    return null;
                }
            }
        }

        return columns;
    }

    /// <summary>The decoder's kind for a column whose physical type and Parquet.Net's .NET type are given; null when it has none.</summary>
    internal static PageValueKind? KindOf(SchemaElement element, System.Type clr)
    {
        Parquet.Meta.Type? physical = element.Type;
        bool isDecimal = clr == typeof(decimal) && (element.ConvertedType == ConvertedType.DECIMAL || element.LogicalType?.DECIMAL is not null);
        switch (physical)
        {
            case Parquet.Meta.Type.BYTE_ARRAY:
                if (clr == typeof(string) || clr == typeof(ReadOnlyMemory<char>))
                {
                    return PageValueKind.Text;
                }

                return isDecimal ? PageValueKind.DecimalBytes : null;
            case Parquet.Meta.Type.FIXED_LEN_BYTE_ARRAY:
                return isDecimal ? PageValueKind.DecimalBytes : null;
            case Parquet.Meta.Type.INT32:
                if (isDecimal)
                {
                    return PageValueKind.DecimalInt32;
                }

                return clr == typeof(int) && (element.ConvertedType is null or ConvertedType.INT_32) && (element.LogicalType is null || element.LogicalType.INTEGER is { BitWidth: 32, IsSigned: true }) ? PageValueKind.Int32 : null;
            case Parquet.Meta.Type.INT64:
                if (isDecimal)
                {
                    return PageValueKind.DecimalInt64;
                }

                if (clr == typeof(long))
                {
                    return (element.ConvertedType is null or ConvertedType.INT_64) && (element.LogicalType is null || element.LogicalType.INTEGER is { BitWidth: 64, IsSigned: true }) ? PageValueKind.Int64 : null;
                }

                if (clr == typeof(DateTime))
                {
                    if (element.LogicalType?.TIMESTAMP is { } ts)
                    {
                        return ts.Unit?.MILLIS is not null ? PageValueKind.TimestampMillis : ts.Unit?.MICROS is not null ? PageValueKind.TimestampMicros : ts.Unit?.NANOS is not null ? PageValueKind.TimestampNanos : null;
                    }

                    return element.ConvertedType switch
                    {
                        ConvertedType.TIMESTAMP_MILLIS => PageValueKind.TimestampMillis,
                        ConvertedType.TIMESTAMP_MICROS => PageValueKind.TimestampMicros,
                        _ => null,
                    };
                }

                return null;
            case Parquet.Meta.Type.INT96:
                return clr == typeof(DateTime) ? PageValueKind.Int96Timestamp : null;
            case Parquet.Meta.Type.DOUBLE:
                return clr == typeof(double) ? PageValueKind.Double : null;
            case Parquet.Meta.Type.FLOAT:
                return clr == typeof(float) ? PageValueKind.Float : null;
            case Parquet.Meta.Type.BOOLEAN:
                return clr == typeof(bool) ? PageValueKind.Boolean : null;
            default:
                return null;
        }
    }
}

/// <summary>
/// One column of a Parquet file read page by page: the column chunk of the current row group is walked one page at a
/// time (Thrift page headers read by <see cref="PageHeaderReader"/>), each page read with a positioned read and
/// decompressed (<see cref="SnappyBlock"/>) into the column's page buffer, then decoded value by value
/// (<see cref="Decode"/>): definition levels and dictionary indices by <see cref="RleDecoder"/>, PLAIN values from the
/// page, dictionary values from the chunk's dictionary page (read once per chunk). Text is handed on as where its UTF-8
/// bytes are, decimals and timestamps made as Parquet.Net makes them, other numbers as their bits; the reading thread
/// then converts them to the column's type (<see cref="Store"/>) as the Parquet.Net path does.
/// </summary>
internal sealed class PageColumn
{
    private static readonly DateTime Epoch = new(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private const int JulianEpochDay = 2_440_588; // 1970-01-01 as an Impala INT96 Julian day

    /// <summary>The key of an <see cref="InvalidDataException"/>'s data under which <see cref="Decode"/> leaves the row (in the batch) it failed at.</summary>
    internal const string RowKey = "AzBillingPS.PageRow";

    private readonly SafeFileHandle _handle;
    private readonly int _maxDefinition;
    private readonly RleDecoder _definitions = new();
    private readonly RleDecoder _indices = new();

    // The column chunk of the current row group.
    private long _next;
    private long _end;
    private bool _snappy;

    // The current data page: its bytes, where its values are, how many rows it has left.
    private byte[] _page = Array.Empty<byte>();
    private int _position;
    private int _pageEnd;
    private int _left;
    private bool _dictionaryEncoded;
    private bool _booleanRle;
    private int _bit;

    // The chunk's dictionary: its PLAIN values, where each one starts and how long it is.
    private byte[] _dictionary = Array.Empty<byte>();
    private int[] _offsets = Array.Empty<int>();
    private int[] _lengths = Array.Empty<int>();
    private int _dictionaryCount = -1;

    private bool[] _valid = Array.Empty<bool>();

    public PageColumn(int ordinal, CostColumnType target, string raw, PageValueKind kind, Parquet.Meta.Type physical, int width, int scale, int maxDefinition, SafeFileHandle handle, string path)
    {
        Ordinal = ordinal;
        Target = target;
        Raw = raw;
        Kind = kind;
        Width = physical switch
        {
            Parquet.Meta.Type.INT32 or Parquet.Meta.Type.FLOAT => 4,
            Parquet.Meta.Type.INT64 or Parquet.Meta.Type.DOUBLE => 8,
            Parquet.Meta.Type.INT96 => 12,
            Parquet.Meta.Type.FIXED_LEN_BYTE_ARRAY => width,
            _ => 0, // BYTE_ARRAY: a length before each value; BOOLEAN: bits
        };
        Scale = scale;
        _maxDefinition = maxDefinition;
        _handle = handle;
        Path = path;
    }

    public int Ordinal { get; }

    public CostColumnType Target { get; }

    public string Raw { get; }

    public PageValueKind Kind { get; }

    /// <summary>Bytes of a PLAIN value (0 for BYTE_ARRAY, whose values carry their length, and BOOLEAN, a bit each).</summary>
    public int Width { get; }

    public int Scale { get; }

    public string Path { get; }

    /// <summary>The buffer the column's pages are read into (its own when rows are read from the pages, a shared one when spooled).</summary>
    internal byte[] Page
    {
        get => _page;
        set => _page = value;
    }

    /// <summary>
    /// Points the column at its chunk of a row group (the dictionary, if any, is read with the first page); its page
    /// buffer is made large enough for the chunk's largest page at once (the chunk's size: no page is larger), from the
    /// reader's pool, so that it is not grown page after page.
    /// </summary>
    public void Begin(ColumnMetaData chunk, PageScratch scratch)
    {
        long start = chunk.DictionaryPageOffset is long d && d > 0 && d < chunk.DataPageOffset ? d : chunk.DataPageOffset;
        _next = start;
        _end = start + chunk.TotalCompressedSize;
        _snappy = chunk.Codec == CompressionCodec.SNAPPY;
        _left = 0;
        _dictionaryCount = -1;
        if (start < 0 || chunk.TotalCompressedSize < 0 || _end > RandomAccess.GetLength(_handle))
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"its column chunk (offset {start:N0}, {chunk.TotalCompressedSize:N0} bytes) lies beyond the end of the file."));
        }

        long size = BufferFor(chunk);
        if (_page.Length < size && size <= int.MaxValue)
        {
            scratch.Return(_page);
            _page = scratch.Rent((int)size);
        }
    }

    /// <summary>
    /// The most bytes <paramref name="stored"/> bytes can hold: as many when uncompressed; with Snappy, whose densest
    /// element packs 64 bytes into a 3-byte copy, about 21.4 times as many plus the block's length preamble. A page or
    /// chunk that claims more is damaged or hostile, and no buffer is sized by its claim.
    /// </summary>
    internal static long MostInflated(long stored, bool snappy) => snappy ? (stored * 22) + 16 : stored;

    /// <summary>
    /// The page buffer a chunk needs: its decompressed size as the footer says, but never more than its stored bytes
    /// (no more than the file holds) can inflate to, since the footer is the file's word.
    /// </summary>
    public long BufferFor(ColumnMetaData chunk)
        => Math.Min(chunk.TotalUncompressedSize, MostInflated(Math.Clamp(chunk.TotalCompressedSize, 0, RandomAccess.GetLength(_handle)), chunk.Codec == CompressionCodec.SNAPPY));

    /// <summary>Lets go of the page (back to the reader's pool) and the dictionary, at the end of a file.</summary>
    public void Release(PageScratch scratch)
    {
        scratch.Return(_page);
        _page = Array.Empty<byte>();
        _dictionary = Array.Empty<byte>();
        _offsets = Array.Empty<int>();
        _lengths = Array.Empty<int>();
        _valid = Array.Empty<bool>();
    }

    /// <summary>
    /// Decodes the column's next <paramref name="rows"/> values (from its current page on, reading pages as it goes) into
    /// <paramref name="values"/>: text as where its UTF-8 bytes are (the chunk's dictionary, or a copy in the batch's
    /// arena), decimals and timestamps made, other numbers as their bits. Runs on the decoding thread. A page or value the
    /// decoder cannot read throws <see cref="InvalidDataException"/>, with the row (0-based in the batch) it was at under
    /// <see cref="RowKey"/>. <paramref name="inPlace"/>: text is left in the page (not copied to the arena) and the
    /// decoding stops at the page's end, so fewer rows may be decoded (the count is returned); for values spooled at once.
    /// </summary>
    public int Decode(PageValues values, int rows, PageBatch batch, PageScratch scratch, bool inPlace = false)
    {
        values.Ensure(Kind, rows);
        bool[] nulls = values.Null;
        int r = 0;
        try
        {
            for (; r < rows; r++)
            {
                if (_left == 0 && inPlace && r > 0)
                {
                    return r; // the values point into this page: the next one is read by the next call
                }

                while (_left == 0)
                {
                    NextPage(scratch);
                }

                _left--;
                if (_maxDefinition > 0 && _definitions.Next() == 0)
                {
                    nulls[r] = true;
                    continue;
                }

                nulls[r] = false;
                if (Kind == PageValueKind.Boolean && !_dictionaryEncoded)
                {
                    values.Bits[r] = (_booleanRle ? _indices.Next() != 0 : ReadBit()) ? 1 : 0;
                    continue;
                }

                byte[] buffer;
                int start;
                int length;
                int index = -1;
                if (_dictionaryEncoded)
                {
                    index = _indices.Next();
                    if ((uint)index >= (uint)_dictionaryCount)
                    {
                        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"dictionary index {index} is beyond the chunk's dictionary of {Math.Max(0, _dictionaryCount)} values."));
                    }

                    buffer = _dictionary;
                    start = _offsets[index];
                    length = _lengths[index];
                }
                else
                {
                    buffer = _page;
                    (start, length) = NextPlain(_page, ref _position, _pageEnd);
                }

                switch (Kind)
                {
                    case PageValueKind.Text:
                        if (index >= 0 ? !_valid[index] : !System.Text.Unicode.Utf8.IsValid(buffer.AsSpan(start, length)))
                        {
                            // Not UTF-8: as a reader of characters would have it, each bad sequence a replacement character.
                            byte[] fixedUp = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(buffer, start, length));
                            buffer = fixedUp;
                            start = 0;
                            length = fixedUp.Length;
                            index = -1;
                        }

                        if (index < 0 && !inPlace)
                        {
                            // The page's bytes are read over by the next page: the value is copied to the batch's arena.
                            buffer = batch.Append(buffer.AsSpan(start, length), out start);
                        }

                        values.Buffer[r] = buffer;
                        values.Start[r] = start;
                        values.Length[r] = length;
                        break;
                    case PageValueKind.DecimalBytes:
                        if (!RawDecimalColumn.TryFromBigEndian(buffer.AsSpan(start, length), Scale, out values.Decimals[r]))
                        {
                            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"the decimal 0x{System.Convert.ToHexString(buffer, start, length)} (scale {Scale}) is beyond what a decimal holds (28 digits after the point, 96 bits)."));
                        }

                        break;
                    case PageValueKind.DecimalInt32:
                    case PageValueKind.DecimalInt64:
                        values.Decimals[r] = DecimalOf(buffer.AsSpan(start, length));
                        break;
                    case PageValueKind.Int32:
                    case PageValueKind.Float:
                        values.Bits[r] = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(start, length));
                        break;
                    case PageValueKind.Int64:
                    case PageValueKind.Double:
                        values.Bits[r] = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(start, length));
                        break;
                    case PageValueKind.Boolean:
                        values.Bits[r] = buffer[start] != 0 ? 1 : 0;
                        break;
                    default:
                        values.Bits[r] = TimestampOf(buffer.AsSpan(start, length)).Ticks;
                        break;
                }
            }
        }
        catch (InvalidDataException e)
        {
            e.Data[RowKey] = r; // the row (in the batch) it was at, for the message
            throw;
        }

        return rows;
    }

    /// <summary>
    /// Stores row <paramref name="row"/> of a batch's values of this column into the reader (on the reading thread),
    /// converted to the column's type as the Parquet.Net path converts them; false when it cannot be.
    /// </summary>
    public bool Store(ParquetCostReader reader, PageValues values, int row)
    {
        int o = Ordinal;
        if (values.Null[row])
        {
            reader.Nulls[o] = true;
            return true;
        }

        switch (Kind)
        {
            case PageValueKind.Text:
                int length = values.Length[row];
                if (length == 0)
                {
                    reader.Nulls[o] = true; // an empty text is a null, as an empty CSV field is
                    return true;
                }

                return StringColumn.StoreUtf8(reader, o, Target, values.Buffer[row]!, values.Start[row], length);
            case PageValueKind.DecimalBytes:
            case PageValueKind.DecimalInt32:
            case PageValueKind.DecimalInt64:
                return ValueColumn<decimal>.StoreValue(reader, o, Target, values.Decimals[row]);
            case PageValueKind.Int32:
                return ValueColumn<int>.StoreValue(reader, o, Target, (int)values.Bits[row]);
            case PageValueKind.Int64:
                return ValueColumn<long>.StoreValue(reader, o, Target, values.Bits[row]);
            case PageValueKind.Double:
                return ValueColumn<double>.StoreValue(reader, o, Target, BitConverter.Int64BitsToDouble(values.Bits[row]));
            case PageValueKind.Float:
                return ValueColumn<float>.StoreValue(reader, o, Target, BitConverter.Int32BitsToSingle((int)values.Bits[row]));
            case PageValueKind.Boolean:
                return ValueColumn<bool>.StoreValue(reader, o, Target, values.Bits[row] != 0);
            default:
                return ValueColumn<DateTime>.StoreValue(reader, o, Target, new DateTime(values.Bits[row], DateTimeKind.Utc));
        }
    }

    /// <summary>Row <paramref name="row"/>'s value of a batch, as text, for an error message.</summary>
    public string Describe(PageValues values, int row)
    {
        if (values.Null[row])
        {
            return string.Empty;
        }

        return Kind switch
        {
            PageValueKind.Text => System.Text.Encoding.UTF8.GetString(values.Buffer[row]!, values.Start[row], values.Length[row]),
            PageValueKind.DecimalBytes or PageValueKind.DecimalInt32 or PageValueKind.DecimalInt64 => values.Decimals[row].ToString(CultureInfo.InvariantCulture),
            PageValueKind.Int32 => ((int)values.Bits[row]).ToString(CultureInfo.InvariantCulture),
            PageValueKind.Int64 => values.Bits[row].ToString(CultureInfo.InvariantCulture),
            PageValueKind.Double => BitConverter.Int64BitsToDouble(values.Bits[row]).ToString(CultureInfo.InvariantCulture),
            PageValueKind.Float => BitConverter.Int32BitsToSingle((int)values.Bits[row]).ToString(CultureInfo.InvariantCulture),
            PageValueKind.Boolean => values.Bits[row] != 0 ? "True" : "False",
            _ => new DateTime(values.Bits[row], DateTimeKind.Utc).ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Where the next PLAIN value of <paramref name="buffer"/> lies (its bytes, without a BYTE_ARRAY's length).</summary>
    private (int Start, int Length) NextPlain(byte[] buffer, ref int position, int end)
    {
        int width = Width;
        if (width == 0)
        {
            if (end - position < 4)
            {
                throw new InvalidDataException("a page ended before its values did.");
            }

            int length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(position));
            position += 4;
            if (length < 0 || length > end - position)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"a value of {length:N0} bytes runs past the end of its page."));
            }

            int start = position;
            position += length;
            return (start, length);
        }

        if (end - position < width)
        {
            throw new InvalidDataException("a page ended before its values did.");
        }

        int at = position;
        position += width;
        return (at, width);
    }

    private bool ReadBit()
    {
        int index = _position + (_bit >> 3);
        if (index >= _pageEnd)
        {
            throw new InvalidDataException("a page ended before its values did.");
        }

        bool value = ((_page[index] >> (_bit & 7)) & 1) != 0;
        _bit++;
        return value;
    }

    /// <summary>An INT32/INT64 decimal: the unscaled integer with the column's scale, trailing zeros kept (as Parquet.Net makes it).</summary>
    private decimal DecimalOf(ReadOnlySpan<byte> bytes)
    {
        long unscaled = bytes.Length == 4 ? BinaryPrimitives.ReadInt32LittleEndian(bytes) : BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (Scale is < 0 or > 28)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"the decimal {unscaled} has a scale of {Scale}; a decimal holds at most 28 digits after the point."));
        }

        bool negative = unscaled < 0;
        ulong magnitude = negative ? (ulong)(-(unscaled + 1)) + 1 : (ulong)unscaled;
        return new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, negative, (byte)Scale);
    }

    private DateTime TimestampOf(ReadOnlySpan<byte> bytes)
    {
        try
        {
            switch (Kind)
            {
                case PageValueKind.Int96Timestamp:
                    long nanos = BinaryPrimitives.ReadInt64LittleEndian(bytes);
                    int day = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
                    return Epoch.AddDays(day - JulianEpochDay).AddTicks(nanos / 100);
                case PageValueKind.TimestampMillis:
                    return Epoch.AddTicks(checked(BinaryPrimitives.ReadInt64LittleEndian(bytes) * TimeSpan.TicksPerMillisecond));
                case PageValueKind.TimestampMicros:
                    return Epoch.AddTicks(checked(BinaryPrimitives.ReadInt64LittleEndian(bytes) * 10));
                default:
                    return Epoch.AddTicks(BinaryPrimitives.ReadInt64LittleEndian(bytes) / 100);
            }
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"the timestamp 0x{System.Convert.ToHexString(bytes)} is outside the years 1 to 9999."));
        }
    }

    /// <summary>
    /// Reads the chunk's next page: a dictionary page is decoded into the dictionary (and the page after it read), an
    /// index page skipped, a data page (v1 or v2) made the current one with its levels and values ready.
    /// </summary>
    private void NextPage(PageScratch scratch)
    {
        if (_next >= _end)
        {
            throw new InvalidDataException("its column chunk ended before the rows of the row group did.");
        }

        PageHeader header = ReadHeader(scratch, out int headerLength);
        long body = _next + headerLength;
        if (header.CompressedSize < 0 || header.UncompressedSize < 0 || body + header.CompressedSize > _end)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"a page of {header.CompressedSize:N0} bytes at offset {_next:N0} runs past the end of its column chunk."));
        }

        if (header.UncompressedSize > MostInflated(header.CompressedSize, _snappy))
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"a page at offset {_next:N0} says it holds {header.UncompressedSize:N0} bytes in {header.CompressedSize:N0}, more than Snappy can pack into them."));
        }

        _next = body + header.CompressedSize;
        switch (header.Type)
        {
            case PageType.DICTIONARY_PAGE:
                if (header.Encoding is not (Encoding.PLAIN or Encoding.PLAIN_DICTIONARY) || header.NumValues < 0)
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"a dictionary page encoded {header.Encoding} cannot be read."));
                }

                // A new array, not the last chunk's: the rows of a batch decoded before may still point into that one.
                _dictionary = Load(new byte[header.UncompressedSize], body, header.CompressedSize, header.UncompressedSize, 0, _snappy, scratch);
                ReadDictionary(header.NumValues, header.UncompressedSize);
                return;
            case PageType.DATA_PAGE:
                _page = Load(_page, body, header.CompressedSize, header.UncompressedSize, 0, _snappy, scratch);
                StartData(header, 0, header.UncompressedSize);
                return;
            case PageType.DATA_PAGE_V2:
                int levels = header.DefinitionLength + header.RepetitionLength;
                if (header.RepetitionLength != 0 || header.DefinitionLength < 0 || levels > header.CompressedSize || levels > header.UncompressedSize)
                {
                    throw new InvalidDataException("a data page's levels are not those of a flat column.");
                }

                _page = Load(_page, body, header.CompressedSize, header.UncompressedSize, levels, _snappy && header.IsCompressed, scratch);
                StartData(header, levels, header.UncompressedSize);
                return;
            default:
                return; // an index page (or one of a kind written since): nothing the rows need
        }
    }

    /// <summary>
    /// Reads <paramref name="compressed"/> bytes at <paramref name="offset"/> into a buffer of <paramref name="uncompressed"/>
    /// bytes: as they are, or the first <paramref name="plainPrefix"/> as they are and the rest through Snappy.
    /// </summary>
    private byte[] Load(byte[] target, long offset, int compressed, int uncompressed, int plainPrefix, bool snappy, PageScratch scratch)
    {
        if (!snappy && compressed != uncompressed)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"an uncompressed page says it holds {uncompressed:N0} bytes in {compressed:N0}."));
        }

        if (target.Length < uncompressed)
        {
            scratch.Return(target);
            target = scratch.Rent(uncompressed);
        }

        if (!snappy)
        {
            ReadExactly(offset, target.AsSpan(0, uncompressed));
            return target;
        }

        ReadExactly(offset, target.AsSpan(0, plainPrefix));
        int packed = compressed - plainPrefix;
        byte[] source = scratch.Get(packed);
        ReadExactly(offset + plainPrefix, source.AsSpan(0, packed));
        SnappyBlock.Decompress(source.AsSpan(0, packed), target.AsSpan(plainPrefix, uncompressed - plainPrefix));
        return target;
    }

    private void ReadExactly(long offset, Span<byte> into)
    {
        while (!into.IsEmpty)
        {
            int got = RandomAccess.Read(_handle, into, offset);
            if (got <= 0)
            {
                throw new InvalidDataException("the file ended inside a page.");
            }

            into = into[got..];
            offset += got;
        }
    }

    /// <summary>Reads the page header at the chunk's current offset (a few hundred bytes; more when it carries long statistics).</summary>
    private PageHeader ReadHeader(PageScratch scratch, out int length)
    {
        int want = 256;
        while (true)
        {
            int size = (int)Math.Min(want, _end - _next);
            byte[] buffer = scratch.Get(size);
            ReadExactly(_next, buffer.AsSpan(0, size));
            if (PageHeaderReader.TryRead(buffer.AsSpan(0, size), out PageHeader header, out length))
            {
                return header;
            }

            if (size >= _end - _next || want >= 64 << 20)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"the page header at offset {_next:N0} cannot be read (not a Thrift page header, or cut short)."));
            }

            want *= 4;
        }
    }

    /// <summary>Decodes a dictionary page (PLAIN values) into where each value lies in <see cref="_dictionary"/>.</summary>
    private void ReadDictionary(int count, int size)
    {
        if (Kind == PageValueKind.Boolean)
        {
            throw new InvalidDataException("a boolean column has a dictionary page.");
        }

        if (_offsets.Length < count)
        {
            _offsets = new int[count];
            _lengths = new int[count];
        }

        if (Kind == PageValueKind.Text && _valid.Length < count)
        {
            _valid = new bool[count];
        }

        int position = 0;
        for (int i = 0; i < count; i++)
        {
            (_offsets[i], _lengths[i]) = NextPlain(_dictionary, ref position, size);
            if (Kind == PageValueKind.Text)
            {
                _valid[i] = System.Text.Unicode.Utf8.IsValid(_dictionary.AsSpan(_offsets[i], _lengths[i]));
            }
        }

        _dictionaryCount = count;
    }

    /// <summary>Makes a data page (its bytes in <see cref="_page"/>) the current one: levels, then values from <paramref name="levels"/> or after the v1 levels.</summary>
    private void StartData(PageHeader header, int levels, int size)
    {
        if (header.NumValues < 0)
        {
            throw new InvalidDataException("a data page says it has a negative number of values.");
        }

        int position = 0;
        if (_maxDefinition > 0)
        {
            if (header.Type == PageType.DATA_PAGE)
            {
                if (header.DefinitionEncoding != Encoding.RLE)
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"definition levels encoded {header.DefinitionEncoding} cannot be read."));
                }

                if (size < 4)
                {
                    throw new InvalidDataException("a page ended before its definition levels did.");
                }

                int length = BinaryPrimitives.ReadInt32LittleEndian(_page);
                if (length < 0 || length > size - 4)
                {
                    throw new InvalidDataException("a page's definition levels run past its end.");
                }

                _definitions.Reset(_page, 4, 4 + length, 1);
                position = 4 + length;
            }
            else
            {
                _definitions.Reset(_page, 0, header.DefinitionLength, 1);
                position = levels;
            }
        }
        else
        {
            position = header.Type == PageType.DATA_PAGE_V2 ? levels : 0;
        }

        _pageEnd = size;
        _booleanRle = false;
        _bit = 0;
        switch (header.Encoding)
        {
            case Encoding.PLAIN:
                _dictionaryEncoded = false;
                break;
            case Encoding.PLAIN_DICTIONARY:
            case Encoding.RLE_DICTIONARY:
                if (_dictionaryCount < 0)
                {
                    throw new InvalidDataException("a dictionary-encoded page comes without a dictionary page.");
                }

                _dictionaryEncoded = true;
                if (position >= size)
                {
                    _indices.Reset(_page, position, position, 0); // a page of nulls only may have no indices at all
                    break;
                }

                int width = _page[position];
                if (width > 32)
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"dictionary indices of {width} bits cannot be read."));
                }

                _indices.Reset(_page, position + 1, size, width);
                break;
            case Encoding.RLE when Kind == PageValueKind.Boolean:
                _dictionaryEncoded = false;
                _booleanRle = true;
                if (size - position < 4)
                {
                    throw new InvalidDataException("a page ended before its values did.");
                }

                int rle = BinaryPrimitives.ReadInt32LittleEndian(_page.AsSpan(position));
                if (rle < 0 || rle > size - position - 4)
                {
                    throw new InvalidDataException("a page's values run past its end.");
                }

                _indices.Reset(_page, position + 4, position + 4 + rle, 1);
                break;
            default:
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"values encoded {header.Encoding} cannot be read."));
        }

        _position = position;
        _left = header.NumValues;
    }
}

/// <summary>The buffer the decoding thread reads page headers and compressed pages into (one per reader, grown as needed).</summary>
internal sealed class PageScratch
{
    private readonly List<byte[]> _free = new();
    private byte[] _buffer = new byte[1 << 16];

    /// <summary>The page buffer the columns share when they are decoded one at a time (into the spool).</summary>
    public byte[] Page { get; set; } = Array.Empty<byte>();

    /// <summary>The buffer compressed pages and headers are read into: at least <paramref name="size"/> bytes.</summary>
    public byte[] Get(int size)
    {
        if (_buffer.Length < size)
        {
            _buffer = new byte[Math.Max(size, _buffer.Length + (_buffer.Length >> 1))];
        }

        return _buffer;
    }

    /// <summary>
    /// A page buffer of at least <paramref name="size"/> bytes: the smallest one given back that is large enough, or a new
    /// one. The files of a unit have the same columns, so each file's pages reuse the buffers of the file before.
    /// </summary>
    public byte[] Rent(int size)
    {
        lock (_free)
        {
            return RentLocked(size);
        }
    }

    private byte[] RentLocked(int size)
    {
        int best = -1;
        for (int i = 0; i < _free.Count; i++)
        {
            if (_free[i].Length >= size && (best < 0 || _free[i].Length < _free[best].Length))
            {
                best = i;
            }
        }

        if (best < 0)
        {
            return new byte[WithRoom(size)];
        }

        byte[] buffer = _free[best];
        _free.RemoveAt(best);
        return buffer;
    }

    /// <summary>Gives a page buffer back for the next file's columns (the smallest are let go when many are kept).</summary>
    public void Return(byte[] buffer)
    {
        if (buffer.Length == 0)
        {
            return;
        }

        lock (_free)
        {
            // A file's columns are given back by the reading thread while the next file may be decoding already.
            _free.Add(buffer);
            if (_free.Count > 512)
            {
                _free.Remove(_free.MinBy(b => b.Length)!);
            }
        }
    }

    /// <summary>
    /// The size to make a page buffer for <paramref name="size"/> bytes: an eighth more (at most 4 MB more), since the next
    /// row group's chunk of the same column is often a little larger and would otherwise need a new buffer each time.
    /// </summary>
    public static int WithRoom(long size) => (int)Math.Min(int.MaxValue - 64, size + Math.Min(size >> 3, 4L << 20));

    /// <summary>Lets go of every buffer (when the reader closes).</summary>
    public void Clear()
    {
        lock (_free)
        {
            _free.Clear();
        }

        _buffer = Array.Empty<byte>();
        Page = Array.Empty<byte>();
    }
}

/// <summary>One column's values for the rows of a <see cref="PageBatch"/> (arrays kept for the next batch).</summary>
internal sealed class PageValues
{
    public bool[] Null = Array.Empty<bool>();
    public byte[]?[] Buffer = Array.Empty<byte[]?>();
    public int[] Start = Array.Empty<int>();
    public int[] Length = Array.Empty<int>();
    public long[] Bits = Array.Empty<long>();
    public decimal[] Decimals = Array.Empty<decimal>();

    /// <summary>Lets go of the text the values point at (pages, dictionaries, arenas) once they are spooled.</summary>
    public void Release() => Array.Clear(Buffer);

    /// <summary>Makes room for <paramref name="rows"/> values of a column of <paramref name="kind"/> (the same column of the next file may be of another kind).</summary>
    public void Ensure(PageValueKind kind, int rows)
    {
        if (Null.Length < rows)
        {
            Null = new bool[rows];
        }

        switch (kind)
        {
            case PageValueKind.Text:
                if (Buffer.Length < rows)
                {
                    Buffer = new byte[]?[rows];
                    Start = new int[rows];
                    Length = new int[rows];
                }

                break;
            case PageValueKind.DecimalBytes:
            case PageValueKind.DecimalInt32:
            case PageValueKind.DecimalInt64:
                if (Decimals.Length < rows)
                {
                    Decimals = new decimal[rows];
                }

                break;
            default:
                if (Bits.Length < rows)
                {
                    Bits = new long[rows];
                }

                break;
        }
    }
}

/// <summary>
/// A batch of rows of one row group, decoded column by column on the decoding thread while the rows of the other batch
/// are read: each column's values, the text copied out of pages into the batch's arena (dictionary text stays in its
/// dictionary), and what the decoding hit.
/// </summary>
internal sealed class PageBatch
{
    private byte[] _arena = new byte[1 << 16];
    private int _used;

    /// <summary>The values of each column of the file being read (grown for a file with more columns).</summary>
    public PageValues[] Columns { get; private set; } = Array.Empty<PageValues>();

    /// <summary>Makes room for the values of <paramref name="columns"/> columns.</summary>
    public void Ensure(int columns)
    {
        if (Columns.Length < columns)
        {
            Columns = Columns.Concat(Enumerable.Range(0, columns - Columns.Length).Select(_ => new PageValues())).ToArray();
        }
    }

    /// <summary>Rows in the batch (0 with <see cref="End"/>: the file has no more).</summary>
    public int Rows { get; set; }

    public bool End { get; set; }

    /// <summary>Rows of the file before the batch's first.</summary>
    public long FirstRow { get; set; }

    /// <summary>The row group (0-based) the batch's rows are in.</summary>
    public int Group { get; set; }

    /// <summary>What decoding the batch hit: the error, its column and row (0-based in the batch); no rows are read then.</summary>
    public (Exception Error, PageColumn? Column, int Row)? Failure { get; set; }

    public void Clear()
    {
        _used = 0;
        Rows = 0;
        End = false;
        Failure = null;
    }

    /// <summary>Copies a value to the arena; the array it is in (a bigger one when the arena is full: the values before keep theirs).</summary>
    public byte[] Append(ReadOnlySpan<byte> bytes, out int start)
    {
        if (_arena.Length - _used < bytes.Length)
        {
            _arena = new byte[Math.Max(_arena.Length * 2, bytes.Length)];
            _used = 0;
        }

        start = _used;
        bytes.CopyTo(_arena.AsSpan(_used));
        _used += bytes.Length;
        return _arena;
    }
}

/// <summary>
/// The RLE / bit-packed hybrid encoding of Parquet's levels and dictionary indices (without its length prefix): runs of
/// one repeated value, or groups of eight values bit-packed least significant bit first.
/// </summary>
internal sealed class RleDecoder
{
    private byte[] _buffer = Array.Empty<byte>();
    private int _position;
    private int _end;
    private int _width;
    private uint _mask;
    private int _repeat;
    private int _repeated;
    private int _packed;
    private long _bit;

    public void Reset(byte[] buffer, int start, int end, int width)
    {
        _buffer = buffer;
        _position = start;
        _end = end;
        _width = width;
        _mask = width >= 32 ? uint.MaxValue : (1u << width) - 1;
        _repeat = 0;
        _packed = 0;
    }

    public int Next()
    {
        while (true)
        {
            if (_repeat > 0)
            {
                _repeat--;
                return _repeated;
            }

            if (_packed > 0)
            {
                _packed--;
                return Packed();
            }

            Run();
        }
    }

    private int Packed()
    {
        int index = (int)(_bit >> 3);
        int shift = (int)(_bit & 7);
        _bit += _width;
        ulong word;
        if (index + 8 <= _end)
        {
            word = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(index));
        }
        else
        {
            word = 0;
            for (int i = 0; i < 8 && index + i < _end; i++)
            {
                word |= (ulong)_buffer[index + i] << (8 * i);
            }
        }

        return (int)((uint)(word >> shift) & _mask);
    }

    private void Run()
    {
        if (_position >= _end)
        {
            throw new InvalidDataException("a page's levels or dictionary indices ended before its values did.");
        }

        uint header = 0;
        int shift = 0;
        while (true)
        {
            if (_position >= _end || shift > 28)
            {
                throw new InvalidDataException("a page's levels or dictionary indices are cut short.");
            }

            byte b = _buffer[_position++];
            header |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }

            shift += 7;
        }

        if ((header & 1) == 0)
        {
            _repeat = (int)(header >> 1);
            int bytes = (_width + 7) / 8;
            if (_end - _position < bytes)
            {
                throw new InvalidDataException("a page's levels or dictionary indices are cut short.");
            }

            int value = 0;
            for (int i = 0; i < bytes; i++)
            {
                value |= _buffer[_position++] << (8 * i);
            }

            _repeated = (int)((uint)value & _mask);
        }
        else
        {
            int groups = (int)(header >> 1);
            _packed = groups * 8;
            _bit = (long)_position * 8;
            _position = (int)Math.Min(_end, _position + ((long)groups * _width));
        }
    }
}

/// <summary>The fields of a Parquet page header the decoder uses.</summary>
internal struct PageHeader
{
    public PageType Type;
    public int UncompressedSize;
    public int CompressedSize;
    public int NumValues;
    public Encoding Encoding;
    public Encoding DefinitionEncoding;
    public int DefinitionLength;
    public int RepetitionLength;
    public bool IsCompressed;
}

/// <summary>
/// Reads a Parquet <c>PageHeader</c> in Thrift's compact protocol (parquet.thrift: type, sizes, and the data page,
/// dictionary page or data page v2 header inside it), skipping every field it does not use (statistics, CRC, index pages).
/// Parquet.Net's own reader of page headers is internal to it.
/// </summary>
internal ref struct PageHeaderReader
{
    private readonly ReadOnlySpan<byte> _bytes;
    private int _position;
    private bool _short;
    private int _depth;

    private PageHeaderReader(ReadOnlySpan<byte> bytes)
    {
        _bytes = bytes;
        _position = 0;
        _short = false;
        _depth = 0;
    }

    /// <summary>False when <paramref name="bytes"/> end before the header does (or do not hold one).</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out PageHeader header, out int length)
    {
        var reader = new PageHeaderReader(bytes);
        header = new PageHeader { Type = (PageType)(-1), UncompressedSize = -1, CompressedSize = -1, NumValues = -1, IsCompressed = true, Encoding = Encoding.PLAIN, DefinitionEncoding = Encoding.RLE };
        bool ok = reader.Header(ref header);
        length = reader._position;
        return ok && !reader._short && (int)header.Type >= 0 && header.CompressedSize >= 0 && header.UncompressedSize >= 0;
    }

    private bool Header(ref PageHeader header)
    {
        short last = 0;
        while (Field(ref last, out short id, out int type))
        {
            switch (id)
            {
                case 1 when type == 5:
                    header.Type = (PageType)ReadInt();
                    break;
                case 2 when type == 5:
                    header.UncompressedSize = ReadInt();
                    break;
                case 3 when type == 5:
                    header.CompressedSize = ReadInt();
                    break;
                case 5 when type == 12:
                    DataPage(ref header);
                    break;
                case 7 when type == 12:
                    DataPage(ref header); // a DictionaryPageHeader: num_values and encoding as a DataPageHeader's (its is_sorted skipped)
                    break;
                case 8 when type == 12:
                    DataPageV2(ref header);
                    break;
                default:
                    Skip(type);
                    break;
            }

            if (_short)
            {
                return false;
            }
        }

        return !_short;
    }

    /// <summary>A DataPageHeader (num_values, encoding, definition_level_encoding) or a DictionaryPageHeader (num_values, encoding).</summary>
    private void DataPage(ref PageHeader header)
    {
        short last = 0;
        while (Field(ref last, out short id, out int type))
        {
            switch (id)
            {
                case 1 when type == 5:
                    header.NumValues = ReadInt();
                    break;
                case 2 when type == 5:
                    header.Encoding = (Encoding)ReadInt();
                    break;
                case 3 when type == 5:
                    header.DefinitionEncoding = (Encoding)ReadInt();
                    break;
                default:
                    Skip(type);
                    break;
            }
        }
    }

    private void DataPageV2(ref PageHeader header)
    {
        short last = 0;
        while (Field(ref last, out short id, out int type))
        {
            switch (id)
            {
                case 1 when type == 5:
                    header.NumValues = ReadInt();
                    break;
                case 4 when type == 5:
                    header.Encoding = (Encoding)ReadInt();
                    break;
                case 5 when type == 5:
                    header.DefinitionLength = ReadInt();
                    break;
                case 6 when type == 5:
                    header.RepetitionLength = ReadInt();
                    break;
                case 7 when type is 1 or 2:
                    header.IsCompressed = type == 1;
                    break;
                default:
                    Skip(type);
                    break;
            }
        }
    }

    /// <summary>The next field's id and type; false at the struct's end (or when the bytes ran out).</summary>
    private bool Field(ref short last, out short id, out int type)
    {
        byte b = ReadByte();
        type = b & 0x0F;
        if (b == 0 || _short)
        {
            id = 0;
            return false;
        }

        int delta = b >> 4;
        id = delta != 0 ? (short)(last + delta) : (short)ZigZag(ReadVarint());
        last = id;
        return true;
    }

    private void Skip(int type)
    {
        if (++_depth > 32)
        {
            _short = true; // nesting no page header has
            return;
        }

        switch (type)
        {
            case 1:
            case 2:
                break; // a boolean field's value is in its type
            case 3:
                ReadByte();
                break;
            case 4:
            case 5:
            case 6:
                ReadVarint();
                break;
            case 7:
                Advance(8);
                break;
            case 8:
                Advance((long)ReadVarint());
                break;
            case 9:
            case 10:
                byte h = ReadByte();
                long size = h >> 4;
                int element = h & 0x0F;
                if (size == 15)
                {
                    size = (long)ReadVarint();
                }

                for (long i = 0; i < size && !_short; i++)
                {
                    SkipElement(element);
                }

                break;
            case 11:
                long entries = (long)ReadVarint();
                if (entries > 0)
                {
                    byte kinds = ReadByte();
                    for (long i = 0; i < entries && !_short; i++)
                    {
                        SkipElement(kinds >> 4);
                        SkipElement(kinds & 0x0F);
                    }
                }

                break;
            case 12:
                short last = 0;
                while (Field(ref last, out _, out int inner))
                {
                    Skip(inner);
                }

                break;
            default:
                _short = true; // not a compact-protocol type
                break;
        }

        _depth--;
    }

    private void SkipElement(int type)
    {
        if (type is 1 or 2)
        {
            ReadByte(); // a boolean element is a byte of its own
            return;
        }

        Skip(type);
    }

    private void Advance(long n)
    {
        if (n < 0 || n > _bytes.Length - _position)
        {
            _short = true;
            _position = _bytes.Length;
            return;
        }

        _position += (int)n;
    }

    private byte ReadByte()
    {
        if (_position >= _bytes.Length)
        {
            _short = true;
            return 0;
        }

        return _bytes[_position++];
    }

    private ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = ReadByte();
            if (_short)
            {
                return 0;
            }

            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        _short = true;
        return 0;
    }

    private static long ZigZag(ulong n) => (long)(n >> 1) ^ -(long)(n & 1);

    private int ReadInt() => (int)ZigZag(ReadVarint());
}

/// <summary>
/// Walks the row groups of one file read by the page decoder and fills batches of its rows (<see cref="Fill"/>, on the
/// decoding thread): every column at the start of its chunk when a row group begins, then each column decoded for the
/// batch's rows in turn (a tight loop over one column, not a row across all columns).
/// </summary>
internal sealed class PageFileDecoder(FileMetaData metadata, PageColumn[] columns, string path, PageScratch scratch, PageBatch[] batches)
{
    /// <summary>Rows of a batch: enough that a batch is cheap to hand over, few enough that two stay small (a few MB).</summary>
    public const int BatchRows = 4096;

    private readonly PageScratch _scratch = scratch;
    private int _group = -1;
    private int _groupRows;
    private int _rowInGroup;
    private long _rowsBefore;

    public PageColumn[] Columns { get; } = columns;

    public string Path { get; } = path;

    /// <summary>The reader's two batches: one read by the rows while the other is decoded.</summary>
    public PageBatch[] Batches { get; } = batches;

    /// <summary>Gives the columns' page buffers back to the reader's pool (the file is done).</summary>
    public void Release()
    {
        foreach (PageColumn column in Columns)
        {
            column.Release(_scratch);
        }
    }

    /// <summary>Fills <paramref name="batch"/> with the next rows of the file (none, and End, after its last row group).</summary>
    public void Fill(PageBatch batch, System.Threading.CancellationToken cancellationToken)
    {
        batch.Clear();
        while (_rowInGroup >= _groupRows)
        {
            if (_group + 1 >= metadata.RowGroups.Count)
            {
                batch.End = true;
                batch.FirstRow = _rowsBefore + _groupRows;
                return;
            }

            _rowsBefore += _groupRows;
            _group++;
            RowGroup group = metadata.RowGroups[_group];
            if (group.NumRows is < 0 or > int.MaxValue)
            {
                batch.Group = _group;
                batch.FirstRow = _rowsBefore;
                batch.Failure = (new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"row group {_group + 1} has {group.NumRows:N0} rows, more than the module reads at once.")), null, 0);
                _groupRows = 0;
                _rowInGroup = 0;
                return;
            }

            _groupRows = (int)group.NumRows;
            _rowInGroup = 0;
            for (int i = 0; i < Columns.Length; i++)
            {
                try
                {
                    Columns[i].Begin(group.Columns[i].MetaData!, _scratch);
                }
                catch (InvalidDataException e)
                {
                    batch.Group = _group;
                    batch.FirstRow = _rowsBefore;
                    batch.Failure = (e, Columns[i], 0);
                    _groupRows = 0;
                    return;
                }
            }
        }

        int rows = Math.Min(BatchRows, _groupRows - _rowInGroup);
        batch.Ensure(Columns.Length);
        batch.Group = _group;
        batch.FirstRow = _rowsBefore + _rowInGroup;
        for (int i = 0; i < Columns.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                _ = Columns[i].Decode(batch.Columns[i], rows, batch, _scratch);
            }
            catch (InvalidDataException e)
            {
                batch.Failure = (e, Columns[i], FailedRow(e));
                _groupRows = 0;
                _rowInGroup = 0;
                _group = metadata.RowGroups.Count; // nothing more is read from the file
                return;
            }
        }

        _rowInGroup += rows;
        batch.Rows = rows;
    }

    /// <summary>
    /// Decodes column <paramref name="index"/> of a row group a batch of rows at a time into <paramref name="target"/>'s
    /// spool (on the decoding thread): memory holds the column's page, not the row group.
    /// </summary>
    public void Spool(int index, RowGroup group, int rows, ParquetColumn target, SpoolWriter writer, System.Threading.CancellationToken cancellationToken)
    {
        PageColumn column = Columns[index];
        PageBatch batch = Batches[0];
        batch.Ensure(Columns.Length);
        PageValues values = batch.Columns[index];
        int done = 0;
        if (index == 0)
        {
            // The columns are spooled one at a time: one page buffer, as large as the group's largest chunk, serves them all.
            long largest = 0;
            for (int i = 0; i < Columns.Length && i < group.Columns.Count; i++)
            {
                largest = Math.Max(largest, group.Columns[i].MetaData is ColumnMetaData m ? Columns[i].BufferFor(m) : 0);
            }

            if (_scratch.Page.Length < largest && largest <= int.MaxValue)
            {
                _scratch.Page = Array.Empty<byte>();
                _scratch.Page = new byte[PageScratch.WithRoom(largest)];
            }
        }

        column.Page = _scratch.Page;
        try
        {
            column.Begin(group.Columns[index].MetaData!, _scratch);
            while (done < rows)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = Math.Min(BatchRows, rows - done);
                batch.Clear();
                int got = column.Decode(values, n, batch, _scratch, inPlace: true);
                target.Spool(column, values, got, writer);
                done += got;
            }
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"column '{column.Raw}', row {done + FailedRow(e) + 1} of the row group: {e.Message}"), e);
        }
        finally
        {
            _scratch.Page = column.Page;
            column.Page = Array.Empty<byte>();
            values.Release();
        }
    }

    private static int FailedRow(InvalidDataException e) => e.Data[PageColumn.RowKey] is int row ? row : 0;
}

/// <summary>
/// Decompresses a Snappy block (the raw format Parquet's SNAPPY codec uses: the uncompressed length as a varint, then
/// literals and back-references) straight into the caller's buffer. Snappier's block decoder decompresses into a pooled
/// buffer of the next power of two and copies it out: for the one-page column chunks Parquet.Net writes that is 64 MB
/// held for a 36 MB page, and the pool lets go of it at each full collection.
/// </summary>
internal static class SnappyBlock
{
    /// <summary>Decompresses <paramref name="input"/> into <paramref name="output"/>, which must be exactly the uncompressed length.</summary>
    public static void Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int ip = 0;
        ulong length = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (ip >= input.Length || shift > 28)
            {
                throw new InvalidDataException("a Snappy page's length is cut short.");
            }

            byte b = input[ip++];
            length |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        if (length != (ulong)output.Length)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"a Snappy page holds {length:N0} bytes, not the {output.Length:N0} its header says."));
        }

        int op = 0;
        while (ip < input.Length)
        {
            byte tag = input[ip++];
            int kind = tag & 3;
            int count;
            if (kind == 0)
            {
                count = (tag >> 2) + 1;
                if (count > 60)
                {
                    int bytes = count - 60;
                    if (input.Length - ip < bytes)
                    {
                        throw new InvalidDataException("a Snappy page is cut short.");
                    }

                    uint n = 0;
                    for (int i = 0; i < bytes; i++)
                    {
                        n |= (uint)input[ip + i] << (8 * i);
                    }

                    ip += bytes;
                    if (n >= int.MaxValue)
                    {
                        throw new InvalidDataException("a Snappy literal is longer than its page.");
                    }

                    count = (int)n + 1;
                }

                if (input.Length - ip < count || output.Length - op < count)
                {
                    throw new InvalidDataException("a Snappy literal runs past the end of its page.");
                }

                input.Slice(ip, count).CopyTo(output.Slice(op));
                ip += count;
                op += count;
                continue;
            }

            int offset;
            if (kind == 1)
            {
                if (ip >= input.Length)
                {
                    throw new InvalidDataException("a Snappy page is cut short.");
                }

                count = ((tag >> 2) & 7) + 4;
                offset = ((tag >> 5) << 8) | input[ip++];
            }
            else if (kind == 2)
            {
                if (input.Length - ip < 2)
                {
                    throw new InvalidDataException("a Snappy page is cut short.");
                }

                count = (tag >> 2) + 1;
                offset = BinaryPrimitives.ReadUInt16LittleEndian(input.Slice(ip));
                ip += 2;
            }
            else
            {
                if (input.Length - ip < 4)
                {
                    throw new InvalidDataException("a Snappy page is cut short.");
                }

                count = (tag >> 2) + 1;
                uint far = BinaryPrimitives.ReadUInt32LittleEndian(input.Slice(ip));
                ip += 4;
                offset = far > int.MaxValue ? int.MaxValue : (int)far;
            }

            if (offset == 0 || offset > op || output.Length - op < count)
            {
                throw new InvalidDataException("a Snappy back-reference points outside its page.");
            }

            if (offset >= count)
            {
                output.Slice(op - offset, count).CopyTo(output.Slice(op));
                op += count;
            }
            else
            {
                // An overlapping copy repeats the last `offset` bytes: byte by byte, as the format means it.
                for (int i = 0; i < count; i++, op++)
                {
                    output[op] = output[op - offset];
                }
            }
        }

        if (op != output.Length)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"a Snappy page decompressed to {op:N0} bytes, not the {output.Length:N0} it says."));
        }
    }
}
