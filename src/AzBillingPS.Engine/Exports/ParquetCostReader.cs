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
/// follow the export's row-group size (about 2 KB a FOCUS row). Instead each row group is decoded column by column, on
/// one background thread, into a spool file in a private folder (UTF-8 text, values as their bytes), and its rows are
/// read back through a small buffer per column while the next row group decodes into the other of two spool slots: the
/// database takes rows while Parquet decodes, and memory holds one column being decoded, not a row group. Text and
/// byte-array decimals are taken from Parquet.Net as the file's bytes (see <see cref="RawByteFields"/>). One decoding
/// thread is enough: it decodes several times faster than a database takes the rows, and a second one would only hold
/// a second decoded column (measured: 40 MB more at the peak, no faster on two cores).</para>
/// </summary>
internal sealed class ParquetCostReader : CostRowReader
{
    private readonly byte[]?[] _valueBuffer;
    private readonly int[] _valueStart;
    private readonly int[] _valueLength;
    private readonly byte[][] _converted;
    private readonly bool[] _json;

    private ParquetFile? _file;
    private ParquetFile? _next;
    private (int Index, System.Runtime.ExceptionServices.ExceptionDispatchInfo Error)? _nextError;
    private long _allocatedAtCollect;
    private readonly SpoolSlot[] _slots = new SpoolSlot[2];
    private int _readSlot = 1;
    private Task? _decoding;
    private ParquetFile? _decodingFile;
    private int _decodingGroup = -1;
    private int _decodingSlot = -1;
    private string? _spoolFolder;
    private bool _ownSpoolFolder;
    private int _group = -1;
    private int _groupRows;
    private int _row;
    private long _rowsInFile;
    private ParquetColumn[] _active = Array.Empty<ParquetColumn>();
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
            if (_file is null && !OpenNext())
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

            if (_group + 1 < _file!.Reader.RowGroupCount)
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

        EnsureSpool();
        ParquetFile file;
        if (_next is not null && _next.Index == FileIndex)
        {
            file = _next; // opened, and its first row group decoding, while the file before it was read
            _next = null;
        }
        else if (_nextError is { } failed && failed.Index == FileIndex)
        {
            _nextError = null;
            failed.Error.Throw();
            throw new InvalidOperationException(); // not reached
        }
        else
        {
            file = OpenFile(FileIndex);
        }

        _file = file;
        for (int o = 0; o < DataCount; o++)
        {
            if (!file.Mapped.Contains(o))
            {
                Nulls[o] = true; // a column of the unit this file lacks
            }
        }

        _active = file.Columns;
        SetSourceFile(file.Header.Path);
        _group = -1;
        _groupRows = 0;
        _row = -1;
        _rowsInFile = 0;
        if (file.Reader.RowGroupCount > 0 && !IsDecoding(file, 0))
        {
            StartDecoding(file, 0);
        }

        return true;
    }

    /// <summary>Opens a Parquet file of the unit and binds its columns to the unit's (each file has its own column readers).</summary>
    private ParquetFile OpenFile(int index)
    {
        CostFileHeader header = Files[index];
        var stream = new FileStream(header.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        ParquetReader reader;
        try
        {
            reader = Task.Run(() => ParquetReader.CreateAsync(stream, ReaderOptions, true, Cancellation)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            stream.Dispose();
            throw new EngineException(EngineErrorKind.CsvBadHeader, $"{header.Path}: not a Parquet file the module can read: {e.Message}", e) { FilePath = header.Path };
        }

        DataField[] fields = reader.Schema.GetDataFields();
        DataField?[] rawFields = RawByteFields(reader, fields);
        var columns = new ParquetColumn[fields.Length];
        var mapped = new HashSet<int>();
        for (int i = 0; i < fields.Length; i++)
        {
            CostColumn column = header.Columns[i];
            int ordinal = OrdinalOf(column.Name);
            mapped.Add(ordinal);
            ParquetColumn c = rawFields[i] is not null && fields[i].ClrType == typeof(decimal)
                ? new RawDecimalColumn(ordinal, column.Type, fields[i] is DecimalDataField d ? d.Scale : 0)
                : ParquetColumn.For(fields[i].ClrType, fields[i].IsNullable, ordinal, column.Type);
            c.Bind(fields[i], rawFields[i], header.RawNames[i]);
            columns[i] = c;
        }

        return new ParquetFile(index, header, stream, reader, columns, mapped);
    }

    /// <summary>
    /// For each column stored as bytes (text, and decimals kept as fixed-length or variable byte arrays), a field of bytes
    /// at the same path, so that Parquet.Net hands the column's values over as the file's bytes: text as UTF-8, not
    /// decoded to characters (a fresh array per value) and encoded back; decimals as their big-endian unscaled integer,
    /// not through Parquet.Net's BigInteger arithmetic (several allocations and a division per value). Null for the
    /// other columns, which are read as their own type.
    /// </summary>
    private static DataField?[] RawByteFields(ParquetReader reader, DataField[] fields)
    {
        var physical = new Dictionary<string, Parquet.Meta.Type?>(StringComparer.Ordinal);
        foreach (Parquet.Meta.SchemaElement element in reader.Metadata?.Schema.Skip(1) ?? Enumerable.Empty<Parquet.Meta.SchemaElement>())
        {
            physical[element.Name] = element.Type;
        }

        var raw = new DataField?[fields.Length];
        for (int i = 0; i < fields.Length; i++)
        {
            DataField f = fields[i];
            bool bytes = physical.TryGetValue(f.Name, out Parquet.Meta.Type? type) && type is Parquet.Meta.Type.BYTE_ARRAY or Parquet.Meta.Type.FIXED_LEN_BYTE_ARRAY;
            if (bytes && (f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>) || f.ClrType == typeof(decimal)))
            {
                raw[i] = new DataField(f.Name, typeof(byte[]), isNullable: f.IsNullable);
            }
        }

        DataField[] attached = raw.Where(f => f is not null).ToArray()!;
        if (attached.Length > 0)
        {
            _ = new ParquetSchema(attached); // gives each field its path and definition level, as the file's columns have them
        }

        return raw;
    }

    /// <summary>
    /// Moves to the next row group: waits for its decoding (started while the previous group was being read), starts
    /// decoding the one after it into the other spool slot (after a file's last group, the next file's first one), and
    /// points every column at this group's spooled values. Reading a group from its spool while the next one decodes
    /// lets the database take rows while Parquet decodes, across the files of the unit too.
    /// </summary>
    private void NextGroup()
    {
        ParquetFile file = _file!;
        int group = _group + 1;
        if (!IsDecoding(file, group))
        {
            StopDecoding();
            StartDecoding(file, group);
        }

        try
        {
            _decoding!.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            throw new EngineException(EngineErrorKind.CsvBadValue, $"{file.Header.Path}: row group {group + 1} cannot be read: {e.Message}", e) { FilePath = file.Header.Path };
        }
        finally
        {
            _readSlot = _decodingSlot;
            _decoding = null;
            _decodingFile = null;
            _decodingGroup = -1;
            _decodingSlot = -1;
        }

        SpoolSlot slot = _slots[_readSlot];
        _group = group;
        _rowsInFile += _groupRows > 0 ? _groupRows : 0;
        _groupRows = slot.Rows;
        _row = -1;
        foreach (ParquetColumn column in _active)
        {
            column.Rewind(slot);
        }

        if (group + 1 < file.Reader.RowGroupCount)
        {
            StartDecoding(file, group + 1);
        }
        else
        {
            OpenNextAhead();
        }
    }

    /// <summary>
    /// While a file's last row group is read, opens the next file and starts decoding its first group, so that the
    /// database does not wait for it. What opening it hits is raised when the next file is reached, not before the rows
    /// of this one are read.
    /// </summary>
    private void OpenNextAhead()
    {
        int index = FileIndex + 1;
        if (index >= Files.Count || _next is not null)
        {
            return;
        }

        try
        {
            _next = OpenFile(index);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _nextError = (index, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e));
            return;
        }

        if (_next.Reader.RowGroupCount > 0)
        {
            StartDecoding(_next, 0);
        }
    }

    private bool IsDecoding(ParquetFile file, int group) => _decoding is not null && ReferenceEquals(_decodingFile, file) && _decodingGroup == group;

    /// <summary>Starts decoding a row group into the spool slot that is not being read.</summary>
    private void StartDecoding(ParquetFile file, int group)
    {
        int target = _readSlot == 0 ? 1 : 0;
        SpoolSlot slot = _slots[target];
        ParquetReader reader = file.Reader;
        ParquetColumn[] columns = file.Columns;
        DecodeBuffers buffers = file.Buffers;
        string path = file.Header.Path;
        CancellationToken ct = Cancellation;
        _decodingFile = file;
        _decodingGroup = group;
        _decodingSlot = target;
        _decoding = Task.Run(async () =>
        {
            using ParquetRowGroupReader rowGroup = reader.OpenRowGroupReader(group);
            long count = rowGroup.RowCount;
            if (count > int.MaxValue)
            {
                throw new EngineException(EngineErrorKind.CsvBadValue, $"{path}: row group {group + 1} has {count:N0} rows, more than the module reads at once.") { FilePath = path };
            }

            slot.Begin((int)count);
            SpoolWriter writer = slot.Writer;
            foreach (ParquetColumn column in columns)
            {
                long start = writer.Position;
                await column.DecodeAsync(rowGroup, (int)count, writer, buffers, ct).ConfigureAwait(false);
                slot.SetRegion(column, start, writer.Position);
                CollectWhenLarge();
            }

            writer.Flush();
        }, ct);
    }

    /// <summary>The spool: a private folder with two slots, a file each.</summary>
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
            _slots[i] = new SpoolSlot(Path.Combine(_spoolFolder, string.Create(CultureInfo.InvariantCulture, $"slot{i}.spool")));
        }
    }

    /// <summary>Waits for a decoding in flight to end (its error, if any, is the caller's no longer).</summary>
    private void StopDecoding()
    {
        Task? pending = _decoding;
        _decoding = null;
        _decodingFile = null;
        _decodingGroup = -1;
        _decodingSlot = -1;
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
        if (_file is null)
        {
            return;
        }

        if (ReferenceEquals(_decodingFile, _file))
        {
            StopDecoding(); // the next file's first group, decoding ahead, goes on
        }

        _bytesDone += _file.Stream.Length;
        _file.Dispose();
        _file = null;
        _active = Array.Empty<ParquetColumn>();
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

        CheckPeriod(path, RowNumber, "row", Columns[PeriodOrdinal].Name);
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
        StopDecoding();
        _next?.Dispose();
        _next = null;
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

    /// <summary>The column as a field of bytes (see ParquetCostReader.RawByteFields), or null when read as its own type.</summary>
    public DataField? BytesField { get; private set; }

    public string Raw { get; private set; } = string.Empty;

    /// <summary>Where the rows read their values of the current row group from.</summary>
    protected SpoolCursor Cursor { get; } = new();

    public void Bind(DataField field, DataField? bytesField, string raw)
    {
        Field = field;
        BytesField = bytesField;
        Raw = raw;
    }

    /// <summary>
    /// The column's values of a row group as the file's bytes (<see cref="BytesField"/>): the non-null values in order,
    /// and per row its definition level, a row being null when that is below <c>Defined</c> (a required column: every
    /// row's level is 0 and so is Defined).
    /// </summary>
    protected async ValueTask<(ReadOnlyMemory<byte>[] Values, int[] Definitions, int Defined)> ReadBytesAsync(ParquetRowGroupReader group, int rows, DecodeBuffers buffers, CancellationToken cancellationToken)
    {
        DataField field = BytesField ?? throw new InvalidOperationException($"Column '{Raw}' is not read as bytes.");
        ReadOnlyMemory<byte>[] values = buffers.Get<ReadOnlyMemory<byte>>(rows);
        int[] definitions = buffers.Get<int>(rows);
        int defined = field.MaxDefinitionLevel;
        if (defined == 0)
        {
            Array.Clear(definitions, 0, rows);
        }

        await group.ReadRawAsync<ReadOnlyMemory<byte>>(field, values.AsMemory(0, rows), defined > 0 ? definitions.AsMemory(0, rows) : (Memory<int>?)null, null, cancellationToken).ConfigureAwait(false);
        return (values, definitions, defined);
    }

    /// <summary>Decodes the column of a row group into <paramref name="buffers"/> (its reader's) and writes its values to <paramref name="writer"/>.</summary>
    public abstract ValueTask DecodeAsync(ParquetRowGroupReader group, int rows, SpoolWriter writer, DecodeBuffers buffers, CancellationToken cancellationToken);

    /// <summary>Points the column at its values of the row group a slot holds.</summary>
    public void Rewind(SpoolSlot slot) => slot.Open(this, Cursor);

    /// <summary>Reads the next row's value into the reader; false when it cannot be converted to the column's type.</summary>
    public abstract bool Store(ParquetCostReader reader);

    /// <summary>The last value read, as text, for an error message.</summary>
    public abstract string Describe();

    /// <summary>Lets go of the buffers (at the end of a file).</summary>
    public virtual void Release() => Cursor.Release();

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
    private byte[] _value = new byte[256];
    private int _valueLength = -1;
    private bool _null;

    public override async ValueTask DecodeAsync(ParquetRowGroupReader group, int rows, SpoolWriter writer, DecodeBuffers buffers, CancellationToken cancellationToken)
    {
        (ReadOnlyMemory<byte>[] values, int[] definitions, int defined) = await ReadBytesAsync(group, rows, buffers, cancellationToken).ConfigureAwait(false);
        int cursor = 0;
        ReadOnlySpan<byte> previous = default;
        bool any = false;
        for (int row = 0; row < rows; row++)
        {
            if (definitions[row] < defined)
            {
                writer.WriteInt32(Null);
                continue;
            }

            ReadOnlySpan<byte> value = values[cursor++].Span;
            if (any && value.SequenceEqual(previous))
            {
                writer.WriteInt32(Same);
                continue;
            }

            previous = value;
            any = true;
            if (!System.Text.Unicode.Utf8.IsValid(value))
            {
                // Not UTF-8: as a reader of characters would have it, each bad sequence a replacement character.
                value = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(value));
            }

            writer.WriteInt32(value.Length);
            writer.WriteBytes(value);
        }

        Array.Clear(values, 0, rows); // the bytes go now, not with the next column
    }

    public override string Describe() => _null || _valueLength < 0 ? string.Empty : System.Text.Encoding.UTF8.GetString(_value, 0, _valueLength);

    public override bool Store(ParquetCostReader reader)
    {
        int o = Ordinal;
        int length = Cursor.ReadInt32();
        _null = length == Null;
        if (_null)
        {
            // The last value is kept: a value after the null that equals it is spooled as Same.
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
}

/// <summary>A typed column (decimal, double, integer, timestamp, boolean, ...): each value spooled as its bytes.</summary>
internal class ValueColumn<T>(int ordinal, CostColumnType target, bool nullable) : ParquetColumn(ordinal, target)
    where T : unmanaged
{
    private T? _current;

    public override async ValueTask DecodeAsync(ParquetRowGroupReader group, int rows, SpoolWriter writer, DecodeBuffers buffers, CancellationToken cancellationToken)
    {
        if (nullable)
        {
            T?[] values = buffers.Get<T?>(rows);
            await group.ReadAsync<T>(Field, values.AsMemory(0, rows), null, cancellationToken).ConfigureAwait(false);
            for (int row = 0; row < rows; row++)
            {
                if (values[row] is T v)
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
            T[] values = buffers.Get<T>(rows);
            await group.ReadAsync<T>(Field, values.AsMemory(0, rows), null, cancellationToken).ConfigureAwait(false);
            for (int row = 0; row < rows; row++)
            {
                writer.Write(values[row]);
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
/// A decimal column stored as a byte array (fixed-length or not): each value's big-endian two's-complement unscaled
/// integer read as the file has it and made a decimal exactly (<see cref="TryFromBigEndian"/>), spooled as
/// <see cref="ValueColumn{T}"/> spools a nullable decimal.
/// </summary>
internal sealed class RawDecimalColumn(int ordinal, CostColumnType target, int scale) : ValueColumn<decimal>(ordinal, target, nullable: true)
{
    public override async ValueTask DecodeAsync(ParquetRowGroupReader group, int rows, SpoolWriter writer, DecodeBuffers buffers, CancellationToken cancellationToken)
    {
        (ReadOnlyMemory<byte>[] values, int[] definitions, int defined) = await ReadBytesAsync(group, rows, buffers, cancellationToken).ConfigureAwait(false);
        int cursor = 0;
        for (int row = 0; row < rows; row++)
        {
            if (definitions[row] < defined)
            {
                writer.WriteByte(0);
                continue;
            }

            ReadOnlySpan<byte> bytes = values[cursor++].Span;
            if (!TryFromBigEndian(bytes, scale, out decimal value))
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"column '{Raw}', row {row + 1} of the row group: the decimal 0x{Convert.ToHexString(bytes)} (scale {scale}) is beyond what a decimal holds (28 digits after the point, 96 bits)."));
            }

            writer.WriteByte(1);
            writer.Write(value);
        }

        Array.Clear(values, 0, rows);
    }

    /// <summary>
    /// The decimal whose unscaled value is the big-endian two's-complement integer <paramref name="bytes"/> and whose scale
    /// is <paramref name="scale"/>, exactly, without trailing zeros (as Parquet.Net's own conversion gives it); false when
    /// it does not fit a decimal (more than 96 bits once trailing zeros are dropped, or a scale over 28).
    /// </summary>
    internal static bool TryFromBigEndian(ReadOnlySpan<byte> bytes, int scale, out decimal value)
    {
        value = 0m;
        if (bytes.IsEmpty)
        {
            return true;
        }

        if (bytes.Length > 16 || scale < 0)
        {
            return SlowFromBigEndian(bytes, scale, out value);
        }

        Int128 v = (sbyte)bytes[0]; // sign-extended
        for (int i = 1; i < bytes.Length; i++)
        {
            v = (v << 8) | bytes[i];
        }

        if (v == Int128.MinValue)
        {
            return false;
        }

        bool negative = v < 0;
        var m = (UInt128)(negative ? -v : v);
        while (scale > 0 && (m > ulong.MaxValue ? m % 10 == 0 : (ulong)m % 10 == 0) && m != 0)
        {
            m /= 10;
            scale--;
        }

        if (m == 0)
        {
            return true;
        }

        if (scale > 28 || (m >> 96) != 0)
        {
            return false;
        }

        value = new decimal((int)(uint)m, (int)(uint)(m >> 32), (int)(uint)(m >> 64), negative, (byte)scale);
        return true;
    }

    private static bool SlowFromBigEndian(ReadOnlySpan<byte> bytes, int scale, out decimal value)
    {
        value = 0m;
        var v = new System.Numerics.BigInteger(bytes, isUnsigned: false, isBigEndian: true);
        while (scale > 0 && !v.IsZero && (v % 10).IsZero)
        {
            v /= 10;
            scale--;
        }

        if (v.IsZero)
        {
            return true;
        }

        while (scale < 0)
        {
            v *= 10;
            scale++;
        }

        bool negative = v.Sign < 0;
        System.Numerics.BigInteger m = System.Numerics.BigInteger.Abs(v);
        if (scale > 28 || m.GetBitLength() > 96)
        {
            return false;
        }

        var lo = (uint)(m & uint.MaxValue);
        var mid = (uint)((m >> 32) & uint.MaxValue);
        var hi = (uint)((m >> 64) & uint.MaxValue);
        value = new decimal((int)lo, (int)mid, (int)hi, negative, (byte)scale);
        return true;
    }
}

/// <summary>One Parquet file of the unit, open: its reader, its columns bound to the unit's, the arrays it decodes into.</summary>
internal sealed class ParquetFile(int index, CostFileHeader header, Stream stream, ParquetReader reader, ParquetColumn[] columns, HashSet<int> mapped) : IDisposable
{
    public int Index { get; } = index;

    public CostFileHeader Header { get; } = header;

    public Stream Stream { get; } = stream;

    public ParquetReader Reader { get; } = reader;

    /// <summary>The file's columns, in the file's order.</summary>
    public ParquetColumn[] Columns { get; } = columns;

    /// <summary>Ordinals (in the unit's columns) the file has.</summary>
    public HashSet<int> Mapped { get; } = mapped;

    public DecodeBuffers Buffers { get; } = new();

    public void Dispose()
    {
        foreach (ParquetColumn column in Columns)
        {
            column.Release();
        }

        Reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Stream.Dispose();
    }
}

/// <summary>
/// The arrays the decoding thread fills with a column of a row group, one column at a time, reused for every column of
/// that type, not one per column (which would keep about 20 bytes of every value of the row group alive while the file
/// is read, so memory would follow the export's row-group size).
/// </summary>
internal sealed class DecodeBuffers
{
    private readonly Dictionary<Type, Array> _arrays = new();

    /// <summary>An array of at least <paramref name="rows"/> elements (its contents are whatever the last column left).</summary>
    public T[] Get<T>(int rows)
    {
        if (_arrays.TryGetValue(typeof(T), out Array? array) && array.Length >= rows)
        {
            return (T[])array;
        }

        var made = new T[rows];
        _arrays[typeof(T)] = made;
        return made;
    }
}

/// <summary>
/// One of the reader's two spool slots: the decoded values of one row group in a file (private to the user, deleted when
/// closed), and where each column's values lie in it. One slot is decoded into while the rows of the other are read, so
/// memory holds neither group: only a column being decoded and a small buffer per column read.
/// </summary>
internal sealed class SpoolSlot(string path) : IDisposable
{
    private readonly Dictionary<ParquetColumn, (long Start, long End)> _regions = new();
    private SpoolWriter? _file;

    /// <summary>Rows of the row group the slot holds.</summary>
    public int Rows { get; private set; }

    /// <summary>Empties the slot for a new row group (its file is truncated, not made again).</summary>
    public void Begin(int rows)
    {
        Rows = rows;
        _regions.Clear();
        _file?.Reset();
    }

    /// <summary>The slot's file (private to the user, deleted when closed), made when first written.</summary>
    public SpoolWriter Writer
        => _file ??= new SpoolWriter(PrivateFiles.CreateNew(path, FileAccess.ReadWrite, FileShare.Read, FileOptions.DeleteOnClose));

    public void SetRegion(ParquetColumn column, long start, long end) => _regions[column] = (start, end);

    public void Open(ParquetColumn column, SpoolCursor cursor)
    {
        (long start, long end) = _regions[column];
        cursor.Reset(_file!.Handle, start, end);
    }

    public void Dispose() => _file?.Dispose();
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
