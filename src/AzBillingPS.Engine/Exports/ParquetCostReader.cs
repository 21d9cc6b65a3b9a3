using System;
using System.Collections;
using System.Collections.Generic;
using System.Data.Common;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using Parquet;
using Parquet.Schema;

namespace AzBillingPS.Engine.Exports;

/// <summary>
/// Streams the rows of one load unit's Parquet files (uncompressed, Snappy, or any codec Parquet.Net reads) as typed
/// values over one unified column list, like <see cref="CostDataReader"/> does for CSV: columns matched by name
/// through the dataset's catalog, each value converted to the column's type (decimals exactly: a DECIMAL as it is, a
/// DOUBLE through its shortest round-trip text), a bad value or a row outside the period failing the load with the file,
/// row and column.
/// <para>Parquet.Net decodes a whole column of a row group at a time, so holding a decoded row group would make memory
/// follow the export's row-group size (about 2 KB a FOCUS row). Instead each row group is decoded column by column, by
/// two readers at once, into a spool file in a private folder (UTF-8 text, values as their bytes), and its rows are read
/// back through a small buffer per column while the next row group decodes into the other of two spool slots: the
/// database takes rows while Parquet decodes, and memory holds one column being decoded per reader, not a row group.</para>
/// </summary>
internal sealed class ParquetCostReader : CostRowReader
{
    private readonly byte[]?[] _valueBuffer;
    private readonly int[] _valueStart;
    private readonly int[] _valueLength;
    private readonly byte[][] _converted;
    private readonly bool[] _json;

    private Stream? _stream;
    private ParquetReader? _reader;
    private readonly List<(Stream Stream, ParquetReader Reader)> _helpers = new();
    private ParquetColumn[][] _partitions = Array.Empty<ParquetColumn[]>();
    private long _allocatedAtCollect;
    private readonly SpoolSlot[] _slots = new SpoolSlot[2];
    private Task? _decoding;
    private int _decodingGroup = -1;
    private string? _spoolFolder;
    private bool _ownSpoolFolder;
    private int _group = -1;
    private int _groupRows;
    private int _row;
    private long _rowsInFile;
    private ParquetColumn[] _active = Array.Empty<ParquetColumn>();
    private readonly Dictionary<string, ParquetColumn> _buffers = new(StringComparer.Ordinal);
    private long _bytesDone;

    public ParquetCostReader(IReadOnlyList<CostFileHeader> files, IReadOnlyList<CostColumn> dataColumns, LineageValues lineage, CancellationToken cancellationToken)
        : base(files, dataColumns, lineage, cancellationToken)
    {
        int n = Columns.Count;
        _valueBuffer = new byte[]?[n];
        _valueStart = new int[n];
        _valueLength = new int[n];
        _converted = new byte[n][];
        _json = new bool[n];
        for (int i = 0; i < DataCount; i++)
        {
            _json[i] = Columns[i].Type == CostColumnType.Json;
        }
    }

    /// <summary>
    /// Parquet.Net keeps the buffers it frees in a pool (RecyclableMemoryStream) that, unbounded, only grows; these limits
    /// let the memory of a row group go back to the runtime once the next one is read.
    /// </summary>
    private static readonly ParquetOptions ReaderOptions = new() { MaximumSmallPoolFreeBytes = 16 << 20, MaximumLargePoolFreeBytes = 64 << 20 };

    /// <summary>Reads the column names of a Parquet file and resolves them against a dataset catalog.</summary>
    public static CostFileHeader ReadHeader(string path, ColumnCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (!File.Exists(path))
        {
            throw new EngineException(EngineErrorKind.FileNotFound, $"Export part not found: {path}") { FilePath = path };
        }

        ParquetSchema schema;
        try
        {
            schema = Task.Run(() => ParquetReader.ReadSchemaAsync(path)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            throw new EngineException(EngineErrorKind.CsvBadHeader, $"{path}: not a Parquet file the module can read: {e.Message}", e) { FilePath = path };
        }

        DataField[] fields = schema.GetDataFields();
        foreach (DataField f in fields)
        {
            if (f.IsArray || f.Path.ToList().Count > 1)
            {
                throw new EngineException(EngineErrorKind.CsvBadHeader, $"{path}: column '{f.Path}' is nested or repeated; export datasets are flat tables.") { FilePath = path, Column = f.Name };
            }
        }

        return CostFileSchema.Resolve(path, fields.Select(f => f.Name).ToArray(), catalog);
    }

    /// <summary>True when the file starts with the Parquet magic bytes (PAR1).</summary>
    public static bool IsParquet(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        Span<byte> magic = stackalloc byte[4];
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("PAR1"u8);
    }

    /// <summary>Bytes of the files consumed so far (whole files: Parquet is read a row group at a time).</summary>
    public override long BytesRead => _bytesDone;

    /// <summary>
    /// The folder the decoded row groups are spooled to (a private folder is made there, and removed when the reader
    /// closes); the system's temporary folder when not given.
    /// </summary>
    public string? SpoolPath { get; init; }

    public override bool Read()
    {
        while (true)
        {
            Cancellation.ThrowIfCancellationRequested();
            if (_reader is null && !OpenNext())
            {
                return false;
            }

            if (_row + 1 < _groupRows)
            {
                _row++;
                Store();
                Counted();
                return true;
            }

            if (_group + 1 < _reader!.RowGroupCount)
            {
                NextGroup();
                continue;
            }

            CloseCurrent();
        }
    }

    private bool OpenNext()
    {
        FileIndex++;
        if (FileIndex >= Files.Count)
        {
            return false;
        }

        CostFileHeader file = Files[FileIndex];
        _stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        try
        {
            _reader = Task.Run(() => ParquetReader.CreateAsync(_stream, ReaderOptions, true, Cancellation)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            throw new EngineException(EngineErrorKind.CsvBadHeader, $"{file.Path}: not a Parquet file the module can read: {e.Message}", e) { FilePath = file.Path };
        }

        // A row group's columns are decoded by up to two readers at once, each on its own stream over the file, the costly
        // string columns spread evenly between them (decoding is most of what reading Parquet costs).
        int readers = Math.Clamp(Environment.ProcessorCount, 1, MaxReaders);
        var schemas = new List<DataField[]> { _reader.Schema.GetDataFields() };
        for (int k = 1; k < readers; k++)
        {
            var stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
            try
            {
                ParquetReader helper = Task.Run(() => ParquetReader.CreateAsync(stream, ReaderOptions, true, Cancellation)).GetAwaiter().GetResult();
                _helpers.Add((stream, helper));
                schemas.Add(helper.Schema.GetDataFields());
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }

        DataField[] fields = schemas[0];
        var active = new List<ParquetColumn>();
        var parts = Enumerable.Range(0, readers).Select(_ => new List<ParquetColumn>()).ToArray();
        int heavy = 0;
        int light = 0;
        var mapped = new HashSet<int>();
        for (int i = 0; i < fields.Length; i++)
        {
            CostColumn column = file.Columns[i];
            int ordinal = OrdinalOf(column.Name);
            mapped.Add(ordinal);
            string key = string.Create(CultureInfo.InvariantCulture, $"{ordinal}:{fields[i].ClrType.FullName}:{fields[i].IsNullable}");
            if (!_buffers.TryGetValue(key, out ParquetColumn? buffer))
            {
                buffer = ParquetColumn.For(fields[i].ClrType, fields[i].IsNullable, ordinal, column.Type);
                _buffers[key] = buffer;
            }

            int part = buffer.HeavyToRead ? heavy++ % readers : light++ % readers;
            buffer.Bind(schemas[part][i], file.RawNames[i]);
            active.Add(buffer);
            parts[part].Add(buffer);
        }

        _partitions = parts.Select(p => p.ToArray()).ToArray();

        for (int o = 0; o < DataCount; o++)
        {
            if (!mapped.Contains(o))
            {
                Nulls[o] = true; // a column of the unit this file lacks
            }
        }

        _active = active.ToArray();
        SetSourceFile(file.Path);
        _group = -1;
        _groupRows = 0;
        _row = -1;
        _rowsInFile = 0;
        EnsureSpool();
        if (_reader.RowGroupCount > 0)
        {
            StartDecoding(0);
        }

        return true;
    }

    /// <summary>
    /// Moves to the next row group: waits for its decoding (started while the previous group was being read), starts
    /// decoding the one after it into the other spool slot, and points every column at this group's spooled values.
    /// Reading a group from its spool while the next one decodes lets the database take rows while Parquet decodes.
    /// </summary>
    private void NextGroup()
    {
        CostFileHeader file = Files[FileIndex];
        int group = _group + 1;
        if (_decodingGroup != group)
        {
            StartDecoding(group);
        }

        try
        {
            _decoding!.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            throw new EngineException(EngineErrorKind.CsvBadValue, $"{file.Path}: row group {group + 1} cannot be read: {e.Message}", e) { FilePath = file.Path };
        }
        finally
        {
            _decoding = null;
            _decodingGroup = -1;
        }

        SpoolSlot slot = _slots[group % 2];
        _group = group;
        _rowsInFile += _groupRows > 0 ? _groupRows : 0;
        _groupRows = slot.Rows;
        _row = -1;
        foreach (ParquetColumn column in _active)
        {
            column.Rewind(slot);
        }

        if (group + 1 < _reader!.RowGroupCount)
        {
            StartDecoding(group + 1);
        }
    }

    /// <summary>Starts decoding a row group into its spool slot (the one the group before the previous one used).</summary>
    private void StartDecoding(int group)
    {
        SpoolSlot slot = _slots[group % 2];
        ParquetReader[] readers = new[] { _reader! }.Concat(_helpers.Select(h => h.Reader)).ToArray();
        ParquetColumn[][] partitions = _partitions;
        string path = CurrentFile ?? string.Empty;
        CancellationToken ct = Cancellation;
        _decodingGroup = group;
        _decoding = Task.Run(async () =>
        {
            var groups = new ParquetRowGroupReader[partitions.Length];
            try
            {
                for (int k = 0; k < groups.Length; k++)
                {
                    groups[k] = readers[k].OpenRowGroupReader(group);
                }

                long count = groups[0].RowCount;
                if (count > int.MaxValue)
                {
                    throw new EngineException(EngineErrorKind.CsvBadValue, $"{path}: row group {group + 1} has {count:N0} rows, more than the module reads at once.") { FilePath = path };
                }

                slot.Begin((int)count);
                await Task.WhenAll(Enumerable.Range(0, groups.Length).Select(k => Task.Run(async () =>
                {
                    SpoolWriter writer = slot.Writer(k);
                    foreach (ParquetColumn column in partitions[k])
                    {
                        long start = writer.Position;
                        await column.DecodeAsync(groups[k], (int)count, writer, ct).ConfigureAwait(false);
                        slot.SetRegion(column, k, start, writer.Position);
                        CollectWhenLarge();
                    }

                    writer.Flush();
                }, ct))).ConfigureAwait(false);
            }
            finally
            {
                foreach (ParquetRowGroupReader? g in groups)
                {
                    g?.Dispose();
                }
            }
        }, ct);
    }

    /// <summary>The spool: a private folder with two slots, each a file per decoding reader.</summary>
    private void EnsureSpool()
    {
        if (_slots[0] is not null)
        {
            return;
        }

        string parent = SpoolPath ?? Path.GetTempPath();
        _spoolFolder = PrivateFolder.Create(parent, "azbillingps-parquet-");
        _ownSpoolFolder = true;
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new SpoolSlot(Path.Combine(_spoolFolder, string.Create(CultureInfo.InvariantCulture, $"slot{i}")), MaxReaders);
        }
    }

    /// <summary>Waits for a decoding in flight to end (its error, if any, is the caller's no longer).</summary>
    private void StopDecoding()
    {
        Task? pending = _decoding;
        _decoding = null;
        _decodingGroup = -1;
        if (pending is null)
        {
            return;
        }

        try
        {
            pending.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The load is already failing or finished; what the decoding hit does not matter any more.
        }
    }

    /// <summary>Decoding readers at once over one file (each holds one column's characters while it decodes).</summary>
    private const int MaxReaders = 2;

    /// <summary>Bytes allocated while a row group is decoded after which the garbage is collected (see CollectWhenLarge).</summary>
    private const long CollectAfterBytes = 64L << 20;

    /// <summary>
    /// Parquet.Net decodes each column into fresh buffers (large objects, which only a full collection frees); left to the
    /// runtime they pile up, and memory would follow the row group several times over. A full collection whenever decoding
    /// has allocated 64 MB more keeps it near one row group's UTF-8 and values (a few per million rows, tens of ms each).
    /// </summary>
    private void CollectWhenLarge()
    {
        long now = GC.GetTotalAllocatedBytes(precise: false);
        long last = Interlocked.Read(ref _allocatedAtCollect);
        if (now - last > CollectAfterBytes && Interlocked.CompareExchange(ref _allocatedAtCollect, now, last) == last)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        }
    }

    protected override void CloseCurrent()
    {
        StopDecoding();
        foreach (ParquetColumn column in _active)
        {
            column.Release();
        }

        if (_reader is not null)
        {
            _bytesDone += _stream?.Length ?? 0;
            _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _reader = null;
        }

        _stream?.Dispose();
        _stream = null;
        foreach ((Stream stream, ParquetReader reader) in _helpers)
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            stream.Dispose();
        }

        _helpers.Clear();
    }

    private void Store()
    {
        string path = Files[FileIndex].Path;
        foreach (ParquetColumn column in _active)
        {
            if (!column.Store(this))
            {
                throw BadValue(path, RowNumber, column.Raw, column.Describe(), Expected(Columns[column.Ordinal].Type), "row");
            }
        }

        if (PeriodOrdinal < 0)
        {
            return;
        }

        if (Nulls[PeriodOrdinal])
        {
            throw BadValue(path, RowNumber, Columns[PeriodOrdinal].Name, string.Empty, "a date (the period column may not be empty)", "row");
        }

        CheckPeriod(path, RowNumber, "row", Columns[PeriodOrdinal].Name, string.Empty);
    }

    /// <summary>1-based row number within the current file.</summary>
    private long RowNumber => _rowsInFile + _row + 1;

    /// <inheritdoc/>
    public override long CurrentLine => FileIndex >= 0 && _row >= 0 ? RowNumber : 0;

    /// <summary>A value converted to text (a number in a text column): its UTF-8 bytes in the column's own buffer.</summary>
    internal void SetText(int ordinal, string value)
    {
        int max = System.Text.Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_converted[ordinal] is null || _converted[ordinal].Length < max)
        {
            _converted[ordinal] = new byte[Math.Max(64, max)];
        }

        int length = System.Text.Encoding.UTF8.GetBytes(value, _converted[ordinal]);
        SetUtf8(ordinal, _converted[ordinal], 0, length);
        if (!_json[ordinal])
        {
            Text[ordinal] = value;
        }
    }

    /// <summary>A text value as UTF-8 bytes of the column's buffer; its string is made when asked for (a JSON column's at once).</summary>
    internal void SetUtf8(int ordinal, byte[] buffer, int start, int length)
    {
        _valueBuffer[ordinal] = buffer;
        _valueStart[ordinal] = start;
        _valueLength[ordinal] = length;
        if (_json[ordinal])
        {
            // Tags: a JSON object's text, as the CSV reader makes it.
            SetJson(ordinal, buffer.AsSpan(start, length));
            return;
        }

        TextFromUtf8(ordinal);
    }

    protected override string Where(int ordinal)
        => string.Create(CultureInfo.InvariantCulture, $"{CurrentFile}: row {RowNumber}, column '{Columns[ordinal].Name}'");

    protected override ReadOnlySpan<byte> DataUtf8(int ordinal)
        => _valueBuffer[ordinal] is byte[] buffer ? buffer.AsSpan(_valueStart[ordinal], _valueLength[ordinal]) : ReadOnlySpan<byte>.Empty;

    public override void Close()
    {
        base.Close();
        foreach (SpoolSlot? slot in _slots)
        {
            slot?.Dispose();
        }

        Array.Clear(_slots);
        if (_ownSpoolFolder && _spoolFolder is not null)
        {
            PrivateFolder.Delete(_spoolFolder, NullEngineLog.Instance);
            _spoolFolder = null;
        }
    }
}

/// <summary>
/// One Parquet column: decoded a row group at a time into a spool file (<see cref="DecodeAsync"/>, on a decoding thread),
/// then read back value by value as the rows are read (<see cref="Store"/>), into the reader's typed slots.
/// </summary>
internal abstract class ParquetColumn(int ordinal, CostColumnType target)
{
    public int Ordinal { get; } = ordinal;

    public CostColumnType Target { get; } = target;

    public DataField Field { get; private set; } = null!;

    public string Raw { get; private set; } = string.Empty;

    /// <summary>Where the rows read their values of the current row group from.</summary>
    protected SpoolCursor Cursor { get; } = new();

    public void Bind(DataField field, string raw)
    {
        Field = field;
        Raw = raw;
    }

    /// <summary>Decodes the column of a row group and writes its values to <paramref name="writer"/>.</summary>
    public abstract ValueTask DecodeAsync(ParquetRowGroupReader group, int rows, SpoolWriter writer, CancellationToken cancellationToken);

    /// <summary>Points the column at its values of the row group a slot holds.</summary>
    public void Rewind(SpoolSlot slot) => slot.Open(this, Cursor);

    /// <summary>Reads the next row's value into the reader; false when it cannot be converted to the column's type.</summary>
    public abstract bool Store(ParquetCostReader reader);

    /// <summary>The last value read, as text, for an error message.</summary>
    public abstract string Describe();

    /// <summary>Lets go of the buffers (at the end of a file).</summary>
    public virtual void Release() => Cursor.Release();

    /// <summary>Costly to decode (strings): spread evenly over the readers that decode a row group's columns at once.</summary>
    public virtual bool HeavyToRead => false;

    public static ParquetColumn For(Type clr, bool nullable, int ordinal, CostColumnType target)
    {
        if (clr == typeof(string) || clr == typeof(ReadOnlyMemory<char>))
        {
            return new StringColumn(ordinal, target);
        }

        return Type.GetTypeCode(clr) switch
        {
            TypeCode.Decimal => new ValueColumn<decimal>(ordinal, target, nullable),
            TypeCode.Double => new ValueColumn<double>(ordinal, target, nullable),
            TypeCode.Single => new ValueColumn<float>(ordinal, target, nullable),
            TypeCode.Int64 => new ValueColumn<long>(ordinal, target, nullable),
            TypeCode.Int32 => new ValueColumn<int>(ordinal, target, nullable),
            TypeCode.Int16 => new ValueColumn<short>(ordinal, target, nullable),
            TypeCode.SByte => new ValueColumn<sbyte>(ordinal, target, nullable),
            TypeCode.Byte => new ValueColumn<byte>(ordinal, target, nullable),
            TypeCode.UInt16 => new ValueColumn<ushort>(ordinal, target, nullable),
            TypeCode.UInt32 => new ValueColumn<uint>(ordinal, target, nullable),
            TypeCode.UInt64 => new ValueColumn<ulong>(ordinal, target, nullable),
            TypeCode.Boolean => new ValueColumn<bool>(ordinal, target, nullable),
            TypeCode.DateTime => new ValueColumn<DateTime>(ordinal, target, nullable),
            _ when clr == typeof(DateTimeOffset) => new ValueColumn<DateTimeOffset>(ordinal, target, nullable),
            _ when clr == typeof(DateOnly) => new ValueColumn<DateOnly>(ordinal, target, nullable),
            _ when clr == typeof(TimeSpan) => new ValueColumn<TimeSpan>(ordinal, target, nullable),
            _ when clr == typeof(TimeOnly) => new ValueColumn<TimeOnly>(ordinal, target, nullable),
            _ when clr == typeof(Guid) => new ValueColumn<Guid>(ordinal, target, nullable),
            _ => throw new EngineException(EngineErrorKind.Unsupported, $"Parquet columns of type {clr.Name} are not supported."),
        };
    }
}

/// <summary>
/// A string column. Parquet.Net hands a row group's values over as characters (two bytes each, a fresh buffer per
/// column); they are written to the spool as UTF-8 at once (a value equal to the one before it as a mark only) and the
/// characters let go. Read back, each value's bytes go to the sink as they are (GetUtf8), as from a CSV file; a string
/// is only made when one is asked for.
/// </summary>
internal sealed class StringColumn(int ordinal, CostColumnType target) : ParquetColumn(ordinal, target)
{
    private const int Null = -1;
    private const int Same = -2;
    private ReadOnlyMemory<char>[] _chars = Array.Empty<ReadOnlyMemory<char>>();
    private int[] _definitions = Array.Empty<int>();
    private byte[] _scratch = new byte[256];
    private byte[] _value = new byte[256];
    private int _valueLength = -1;

    public override async ValueTask DecodeAsync(ParquetRowGroupReader group, int rows, SpoolWriter writer, CancellationToken cancellationToken)
    {
        if (_chars.Length < rows)
        {
            _chars = new ReadOnlyMemory<char>[rows];
            _definitions = new int[rows];
        }

        bool nullable = Field.IsNullable;
        int defined = Math.Max(1, Field.MaxDefinitionLevel);
        if (Field.ClrType == typeof(string))
        {
            // A reader that surfaces strings as System.String: the same layout, one string per value.
            var strings = new string?[rows];
            await group.ReadAsync(Field, strings.AsMemory()!, null, cancellationToken).ConfigureAwait(false);
            int count = 0;
            for (int i = 0; i < rows; i++)
            {
                _definitions[i] = strings[i] is null ? 0 : 1;
                if (strings[i] is string v)
                {
                    _chars[count++] = v.AsMemory();
                }
            }

            nullable = true;
            defined = 1;
        }
        else
        {
            await group.ReadRawAsync<ReadOnlyMemory<char>>(Field, _chars.AsMemory(0, rows), nullable ? _definitions.AsMemory(0, rows) : null, null, cancellationToken).ConfigureAwait(false);
        }

        int cursor = 0;
        ReadOnlySpan<char> previous = default;
        bool any = false;
        for (int row = 0; row < rows; row++)
        {
            if (nullable && _definitions[row] < defined)
            {
                writer.WriteInt32(Null);
                continue;
            }

            ReadOnlySpan<char> value = _chars[cursor++].Span;
            if (any && value.SequenceEqual(previous))
            {
                writer.WriteInt32(Same);
                continue;
            }

            int max = System.Text.Encoding.UTF8.GetMaxByteCount(value.Length);
            if (_scratch.Length < max)
            {
                _scratch = new byte[Math.Max(max, _scratch.Length * 2)];
            }

            int n = System.Text.Encoding.UTF8.GetBytes(value, _scratch);
            writer.WriteInt32(n);
            writer.WriteBytes(_scratch.AsSpan(0, n));
            previous = value;
            any = true;
        }

        Array.Clear(_chars, 0, rows); // the characters go now, not with the next group
    }

    public override string Describe() => _valueLength < 0 ? string.Empty : System.Text.Encoding.UTF8.GetString(_value, 0, _valueLength);

    public override bool Store(ParquetCostReader reader)
    {
        int o = Ordinal;
        int length = Cursor.ReadInt32();
        if (length == Null)
        {
            _valueLength = -1;
            reader.Nulls[o] = true;
            return true;
        }

        if (length != Same)
        {
            ReadOnlySpan<byte> bytes = Cursor.ReadBytes(length);
            if (_value.Length < length)
            {
                _value = new byte[Math.Max(length, _value.Length * 2)];
            }

            bytes.CopyTo(_value);
            _valueLength = length;
        }

        if (_valueLength <= 0)
        {
            reader.Nulls[o] = true;
            return true;
        }

        ReadOnlySpan<byte> value = _value.AsSpan(0, _valueLength);
        reader.Nulls[o] = false;
        switch (Target)
        {
            case CostColumnType.Decimal:
                return CostValueParser.TryParseDecimal(value, out reader.Decimals[o]);
            case CostColumnType.Date:
                return CostValueParser.TryParseDate(value, out reader.Dates[o]);
            case CostColumnType.Timestamp:
                return CostValueParser.TryParseTimestamp(value, out reader.Dates[o]);
            case CostColumnType.Boolean:
                return CostValueParser.TryParseBoolean(value, out reader.Bools[o]);
            case CostColumnType.Guid:
                return CostValueParser.TryParseGuid(value, out reader.Guids[o]);
            default:
                reader.SetUtf8(o, _value, 0, _valueLength);
                return true;
        }
    }

    public override void Release()
    {
        base.Release();
        _chars = Array.Empty<ReadOnlyMemory<char>>();
        _definitions = Array.Empty<int>();
    }

    public override bool HeavyToRead => true;
}

/// <summary>A typed column (decimal, double, integer, timestamp, boolean, ...): each value spooled as its bytes.</summary>
internal sealed class ValueColumn<T>(int ordinal, CostColumnType target, bool nullable) : ParquetColumn(ordinal, target)
    where T : unmanaged
{
    private T?[] _nullable = Array.Empty<T?>();
    private T[] _plain = Array.Empty<T>();
    private T? _current;

    public override async ValueTask DecodeAsync(ParquetRowGroupReader group, int rows, SpoolWriter writer, CancellationToken cancellationToken)
    {
        if (nullable)
        {
            if (_nullable.Length < rows)
            {
                _nullable = new T?[rows];
            }

            await group.ReadAsync<T>(Field, _nullable.AsMemory(0, rows), null, cancellationToken).ConfigureAwait(false);
            for (int row = 0; row < rows; row++)
            {
                if (_nullable[row] is T v)
                {
                    writer.WriteByte(1);
                    writer.Write(v);
                }
                else
                {
                    writer.WriteByte(0);
                }
            }
        }
        else
        {
            if (_plain.Length < rows)
            {
                _plain = new T[rows];
            }

            await group.ReadAsync<T>(Field, _plain.AsMemory(0, rows), null, cancellationToken).ConfigureAwait(false);
            for (int row = 0; row < rows; row++)
            {
                writer.Write(_plain[row]);
            }
        }
    }

    public override string Describe() => _current is T v ? Convert.ToString(v, CultureInfo.InvariantCulture) ?? string.Empty : string.Empty;

    public override bool Store(ParquetCostReader reader)
    {
        int o = Ordinal;
        if (nullable && Cursor.ReadByte() == 0)
        {
            _current = null;
            reader.Nulls[o] = true;
            return true;
        }

        T value = Cursor.Read<T>();
        _current = value;
        reader.Nulls[o] = false;
        switch (Target)
        {
            case CostColumnType.Decimal:
                return ToDecimal(value, out reader.Decimals[o]);
            case CostColumnType.Date:
                if (ToDateTime(value, out reader.Dates[o]))
                {
                    reader.Dates[o] = reader.Dates[o].Date;
                    return true;
                }

                return false;
            case CostColumnType.Timestamp:
                return ToDateTime(value, out reader.Dates[o]);
            case CostColumnType.Boolean:
                if (typeof(T) == typeof(bool))
                {
                    reader.Bools[o] = Unsafe.As<T, bool>(ref value);
                    return true;
                }

                if (ToDecimal(value, out decimal d) && (d == 0m || d == 1m))
                {
                    reader.Bools[o] = d == 1m;
                    return true;
                }

                return false;
            case CostColumnType.Guid:
                if (typeof(T) == typeof(Guid))
                {
                    reader.Guids[o] = Unsafe.As<T, Guid>(ref value);
                    return true;
                }

                return false;
            default:
                reader.SetText(o, TextOf(value));
                return true;
        }
    }

    private static string TextOf(T value)
    {
        if (typeof(T) == typeof(DateTime))
        {
            DateTime t = Unsafe.As<T, DateTime>(ref value);
            return t.TimeOfDay == TimeSpan.Zero
                ? t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
                : t.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture);
        }

        if (typeof(T) == typeof(DateTimeOffset))
        {
            return Unsafe.As<T, DateTimeOffset>(ref value).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
        }

        if (typeof(T) == typeof(DateOnly))
        {
            return Unsafe.As<T, DateOnly>(ref value).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        }

        if (typeof(T) == typeof(double))
        {
            return Unsafe.As<T, double>(ref value).ToString("R", CultureInfo.InvariantCulture);
        }

        if (typeof(T) == typeof(float))
        {
            return Unsafe.As<T, float>(ref value).ToString("R", CultureInfo.InvariantCulture);
        }

        if (typeof(T) == typeof(bool))
        {
            return Unsafe.As<T, bool>(ref value) ? "True" : "False";
        }

        return Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
    }

    private static bool ToDecimal(T value, out decimal result)
    {
        if (typeof(T) == typeof(decimal))
        {
            result = Unsafe.As<T, decimal>(ref value);
            return true;
        }

        if (typeof(T) == typeof(double) || typeof(T) == typeof(float))
        {
            // The shortest text that round-trips the binary value, as a spreadsheet or a CSV export would show it.
            double d = typeof(T) == typeof(double) ? Unsafe.As<T, double>(ref value) : Unsafe.As<T, float>(ref value);
            if (double.IsFinite(d))
            {
                string text = typeof(T) == typeof(double) ? d.ToString("R", CultureInfo.InvariantCulture) : Unsafe.As<T, float>(ref value).ToString("R", CultureInfo.InvariantCulture);
                return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out result);
            }

            result = 0;
            return false;
        }

        if (typeof(T) == typeof(long))
        {
            result = Unsafe.As<T, long>(ref value);
            return true;
        }

        if (typeof(T) == typeof(int))
        {
            result = Unsafe.As<T, int>(ref value);
            return true;
        }

        if (typeof(T) == typeof(short))
        {
            result = Unsafe.As<T, short>(ref value);
            return true;
        }

        if (typeof(T) == typeof(sbyte) || typeof(T) == typeof(byte) || typeof(T) == typeof(ushort) || typeof(T) == typeof(uint) || typeof(T) == typeof(ulong))
        {
            result = Convert.ToDecimal(value, CultureInfo.InvariantCulture);
            return true;
        }

        result = 0;
        return false;
    }

    private static bool ToDateTime(T value, out DateTime result)
    {
        if (typeof(T) == typeof(DateTime))
        {
            DateTime t = Unsafe.As<T, DateTime>(ref value);
            result = t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : DateTime.SpecifyKind(t, DateTimeKind.Utc);
            return true;
        }

        if (typeof(T) == typeof(DateTimeOffset))
        {
            result = Unsafe.As<T, DateTimeOffset>(ref value).UtcDateTime;
            return true;
        }

        if (typeof(T) == typeof(DateOnly))
        {
            result = DateTime.SpecifyKind(Unsafe.As<T, DateOnly>(ref value).ToDateTime(TimeOnly.MinValue), DateTimeKind.Utc);
            return true;
        }

        result = default;
        return false;
    }
}

/// <summary>
/// One of the reader's two spool slots: the decoded values of one row group, a file per decoding reader (private to the
/// user, deleted when closed), and where each column's values lie in them. One slot is decoded into while the rows of
/// the other are read, so memory holds neither group: only a column being decoded and a small buffer per column read.
/// </summary>
internal sealed class SpoolSlot : IDisposable
{
    private readonly string _prefix;
    private readonly SpoolWriter?[] _files;
    private readonly Dictionary<ParquetColumn, (int File, long Start, long End)> _regions = new();

    public SpoolSlot(string prefix, int writers)
    {
        _prefix = prefix;
        _files = new SpoolWriter?[writers];
    }

    /// <summary>Rows of the row group the slot holds.</summary>
    public int Rows { get; private set; }

    /// <summary>Empties the slot for a new row group (its files are truncated, not made again).</summary>
    public void Begin(int rows)
    {
        Rows = rows;
        lock (_regions)
        {
            _regions.Clear();
        }

        foreach (SpoolWriter? file in _files)
        {
            file?.Reset();
        }
    }

    /// <summary>The file decoding reader <paramref name="index"/> writes to.</summary>
    public SpoolWriter Writer(int index)
        => _files[index] ??= new SpoolWriter(PrivateFiles.CreateNew(string.Create(CultureInfo.InvariantCulture, $"{_prefix}-{index}.spool"), FileAccess.ReadWrite, FileShare.Read, FileOptions.DeleteOnClose));

    public void SetRegion(ParquetColumn column, int file, long start, long end)
    {
        lock (_regions)
        {
            _regions[column] = (file, start, end);
        }
    }

    public void Open(ParquetColumn column, SpoolCursor cursor)
    {
        (int file, long start, long end) = _regions[column];
        cursor.Reset(_files[file]!.Handle, start, end);
    }

    public void Dispose()
    {
        foreach (SpoolWriter? file in _files)
        {
            file?.Dispose();
        }
    }
}

/// <summary>Appends to a spool file through its own buffer; positional reads (<see cref="SpoolCursor"/>) read it back.</summary>
internal sealed class SpoolWriter(FileStream file) : IDisposable
{
    private readonly byte[] _buffer = new byte[1 << 18];
    private int _used;
    private long _written;

    public Microsoft.Win32.SafeHandles.SafeFileHandle Handle => file.SafeFileHandle;

    /// <summary>Bytes written so far, buffered ones included.</summary>
    public long Position => _written + _used;

    public void Reset()
    {
        _used = 0;
        _written = 0;
        file.SetLength(0);
        file.Position = 0;
    }

    public void WriteByte(byte value)
    {
        Room(1);
        _buffer[_used++] = value;
    }

    public void WriteInt32(int value)
    {
        Room(4);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_used), value);
        _used += 4;
    }

    public void Write<T>(T value)
        where T : unmanaged
    {
        int n = Unsafe.SizeOf<T>();
        Room(n);
        System.Runtime.InteropServices.MemoryMarshal.Write(_buffer.AsSpan(_used), in value);
        _used += n;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length)
        {
            Flush();
            file.Write(bytes);
            _written += bytes.Length;
            return;
        }

        Room(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_used));
        _used += bytes.Length;
    }

    private void Room(int n)
    {
        if (_buffer.Length - _used < n)
        {
            Flush();
        }
    }

    public void Flush()
    {
        if (_used > 0)
        {
            file.Write(_buffer, 0, _used);
            _written += _used;
            _used = 0;
        }
    }

    public void Dispose() => file.Dispose();
}

/// <summary>Reads one column's values of a row group back from a spool file, through a small buffer of its own.</summary>
internal sealed class SpoolCursor
{
    private byte[] _buffer = Array.Empty<byte>();
    private int _position;
    private int _length;
    private long _next;
    private long _end;
    private Microsoft.Win32.SafeHandles.SafeFileHandle? _file;

    public void Reset(Microsoft.Win32.SafeHandles.SafeFileHandle file, long start, long end)
    {
        _file = file;
        _next = start;
        _end = end;
        _position = 0;
        _length = 0;
        if (_buffer.Length == 0)
        {
            _buffer = new byte[1 << 15];
        }
    }

    public byte ReadByte()
    {
        Need(1);
        return _buffer[_position++];
    }

    public int ReadInt32()
    {
        Need(4);
        int value = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_position));
        _position += 4;
        return value;
    }

    public T Read<T>()
        where T : unmanaged
    {
        int n = Unsafe.SizeOf<T>();
        Need(n);
        T value = System.Runtime.InteropServices.MemoryMarshal.Read<T>(_buffer.AsSpan(_position, n));
        _position += n;
        return value;
    }

    /// <summary>The next <paramref name="n"/> bytes (valid until the next read).</summary>
    public ReadOnlySpan<byte> ReadBytes(int n)
    {
        Need(n);
        ReadOnlySpan<byte> bytes = _buffer.AsSpan(_position, n);
        _position += n;
        return bytes;
    }

    private void Need(int n)
    {
        if (_length - _position >= n)
        {
            return;
        }

        int left = _length - _position;
        if (n > _buffer.Length)
        {
            var bigger = new byte[Math.Max(n, _buffer.Length * 2)];
            Buffer.BlockCopy(_buffer, _position, bigger, 0, left);
            _buffer = bigger;
        }
        else if (left > 0)
        {
            Buffer.BlockCopy(_buffer, _position, _buffer, 0, left);
        }

        _position = 0;
        _length = left;
        while (_length < n)
        {
            int want = (int)Math.Min(_buffer.Length - _length, _end - _next);
            int got = want <= 0 ? 0 : RandomAccess.Read(_file!, _buffer.AsSpan(_length, want), _next);
            if (got <= 0)
            {
                throw new InvalidDataException("A spooled row group ended before its rows did.");
            }

            _length += got;
            _next += got;
        }
    }

    public void Release()
    {
        _buffer = Array.Empty<byte>();
        _file = null;
    }
}
