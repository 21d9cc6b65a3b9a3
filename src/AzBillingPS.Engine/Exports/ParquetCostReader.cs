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
/// <para>A file the module's own page decoder reads (<see cref="ParquetPagePlan"/>: flat columns of the types exports
/// carry, uncompressed or Snappy, PLAIN or dictionary pages; nearly every export part) is read a page at a time
/// (<see cref="PageColumn"/>): no value is allocated, text stays the file's UTF-8 bytes, and memory holds pages, never a
/// decoded row group. When a row group's decompressed pages fit in <see cref="DirectBudget"/> the rows are read straight
/// from them, batches of rows decoded column by column on a background thread while the rows of the batch before are
/// read (<see cref="PageFileDecoder.Fill"/>). Larger row groups (Parquet.Net writes each column chunk as one page, so a
/// page is a whole column of the row group) are spooled: on one background thread each column chunk in turn is decoded
/// from its pages into a spool file in a private folder (UTF-8 text, values as their bytes), one page buffer serving
/// every column, and the rows are read back through a small buffer per column while the next row group decodes into the
/// other of two spool slots. Memory then follows the largest column chunk, not the row group.</para>
/// <para>Any other file (another codec, DELTA encodings, a logical type the decoder does not convert) is decoded by
/// Parquet.Net into the same spool, column by column; there Parquet.Net allocates per value and a full collection now
/// and then keeps its memory down (see <see cref="CollectWhenLarge"/>).</para>
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

    /// <summary>
    /// Whether files the module's page decoder reads (see <see cref="ParquetPagePlan"/>) are read with it; false reads every
    /// file through Parquet.Net (the tests compare the two).
    /// </summary>
    internal bool UsePageDecoder { get; init; } = true;

    /// <summary>
    /// Bytes a file's largest row group may take once its pages are decompressed for its rows to be read straight from
    /// the pages (every column's page held while the rows are read); a file with larger row groups is spooled a column
    /// chunk at a time instead. 32 MB: Parquet.Net writes a column chunk as one page, so its 100,000-row FOCUS row groups
    /// would hold about 100 MB, a third of the memory the loads are allowed.
    /// </summary>
    internal long DirectBudget { get; init; } = 32L << 20;

    /// <summary>Files of the unit opened so far that the page decoder reads (the others are read through Parquet.Net).</summary>
    internal int FilesReadByPages { get; private set; }

    private readonly PageScratch _pageScratch = new();
    private readonly PageBatch[] _pageBatches = { new(), new() };
    private Task<PageBatch>? _filling;
    private PageBatch? _batch;

    public override bool Read()
    {
        while (true)
        {
            Cancellation.ThrowIfCancellationRequested();
            if (_file is null && !OpenNext())
            {
                return false;
            }

            if (_file!.Direct && _file.Pages is { } decoder)
            {
                if (_batch is not null && _row + 1 < _batch.Rows)
                {
                    _row++;
                    StorePages(decoder, _batch);
                    Counted();
                    return true;
                }

                if (NextBatch(decoder))
                {
                    continue;
                }

                CloseCurrent();
                continue;
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
        if (!file.Direct && file.Reader.RowGroupCount > 0 && !IsDecoding(file, 0))
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

        PageColumn[]? pages = UsePageDecoder
            ? ParquetPagePlan.TryPlan(reader.Metadata, fields, i => (OrdinalOf(header.Columns[i].Name), header.Columns[i].Type, header.RawNames[i]), stream.SafeFileHandle, header.Path)
            : null;
        if (pages is not null)
        {
            FilesReadByPages++;
        }

        return new ParquetFile(index, header, stream, reader, columns, mapped) { Pages = pages is null ? null : new PageFileDecoder(reader.Metadata!, pages, header.Path, _pageScratch, _pageBatches), Direct = pages is not null && LargestRowGroup(reader.Metadata!) <= DirectBudget };
    }

    /// <summary>Bytes of the largest row group of a file once its pages are decompressed (what reading its rows straight from the pages holds).</summary>
    private static long LargestRowGroup(Parquet.Meta.FileMetaData metadata)
        => metadata.RowGroups.Count == 0 ? 0 : metadata.RowGroups.Max(g => g.Columns.Sum(c => c.MetaData?.TotalUncompressedSize ?? 0));

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

        if (!_next.Direct && _next.Reader.RowGroupCount > 0)
        {
            StartDecoding(_next, 0);
        }
    }

    private bool IsDecoding(ParquetFile file, int group) => _decoding is not null && ReferenceEquals(_decodingFile, file) && _decodingGroup == group;

    /// <summary>Starts decoding a row group into the spool slot that is not being read.</summary>
    private void StartDecoding(ParquetFile file, int group)
    {
        EnsureSpool();
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
            if (file.Pages is { } pages)
            {
                // The module's own page decoder: a column chunk at a time, a page at a time, into the spool.
                Parquet.Meta.RowGroup meta = reader.Metadata!.RowGroups[group];
                if (meta.NumRows is < 0 or > int.MaxValue)
                {
                    throw new EngineException(EngineErrorKind.CsvBadValue, $"{path}: row group {group + 1} has {meta.NumRows:N0} rows, more than the module reads at once.") { FilePath = path };
                }

                slot.Begin((int)meta.NumRows);
                SpoolWriter spool = slot.Writer;
                for (int i = 0; i < columns.Length; i++)
                {
                    long start = spool.Position;
                    pages.Spool(i, meta, (int)meta.NumRows, columns[i], spool, ct);
                    slot.SetRegion(columns[i], start, spool.Position);
                }

                spool.Flush();
                return;
            }

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
    /// Files read through Parquet.Net only (not the page decoder): Parquet.Net decodes each column into fresh buffers
    /// (large objects, which only a full collection frees); left to the runtime they pile up, and memory would follow the
    /// row group several times over. A full collection whenever decoding
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

        StopFilling();

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

        CheckPeriodValue(path);
    }

    /// <summary>Reads a row of a batch of a file read by the page decoder: every column's value, decoded ahead.</summary>
    private void StorePages(PageFileDecoder decoder, PageBatch batch)
    {
        PageColumn[] columns = decoder.Columns;
        int row = _row;
        for (int i = 0; i < columns.Length; i++)
        {
            PageColumn column = columns[i];
            if (!column.Store(this, batch.Columns[i], row))
            {
                throw BadValue(decoder.Path, RowNumber, column.Raw, column.Describe(batch.Columns[i], row), Expected(Columns[column.Ordinal].Type), "row");
            }
        }

        CheckPeriodValue(decoder.Path);
    }

    /// <summary>
    /// Moves a file read by the page decoder to its next batch of rows: waits for the batch decoding on the decoding
    /// thread (decodes it now when none is), starts decoding the one after it into the batch just read, and raises what
    /// the decoding hit, naming the file, row and column. False after the file's last row.
    /// </summary>
    private bool NextBatch(PageFileDecoder decoder)
    {
        _filling ??= StartFill(decoder, decoder.Batches[0]);
        PageBatch done;
        try
        {
            done = _filling.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EngineException(EngineErrorKind.CsvBadValue, $"{decoder.Path}: cannot be read: {e.Message}", e) { FilePath = decoder.Path };
        }
        finally
        {
            _filling = null;
        }

        _batch = null;
        if (done.Failure is { } failure)
        {
            string path = decoder.Path;
            long row = done.FirstRow + failure.Row + 1;
            string where = failure.Column is null
                ? string.Create(CultureInfo.InvariantCulture, $"row group {done.Group + 1}")
                : string.Create(CultureInfo.InvariantCulture, $"row {row}, column '{failure.Column.Raw}' (row group {done.Group + 1})");
            throw new EngineException(EngineErrorKind.CsvBadValue, $"{path}: {where} cannot be read: {failure.Error.Message}", failure.Error) { FilePath = path, Column = failure.Column?.Raw };
        }

        if (done.End)
        {
            return false;
        }

        _filling = StartFill(decoder, ReferenceEquals(done, decoder.Batches[0]) ? decoder.Batches[1] : decoder.Batches[0]);
        _batch = done;
        _group = done.Group;
        _rowsInFile = done.FirstRow;
        _row = -1;
        return true;
    }

    private Task<PageBatch> StartFill(PageFileDecoder decoder, PageBatch batch)
    {
        CancellationToken ct = Cancellation;
        return Task.Run(
            () =>
            {
                decoder.Fill(batch, ct);
                return batch;
            },
            ct);
    }

    /// <summary>Waits for a batch decoding in flight to end (its error, if any, is the caller's no longer).</summary>
    private void StopFilling()
    {
        Task<PageBatch>? pending = _filling;
        _filling = null;
        _batch = null;
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

    private void CheckPeriodValue(string path)
    {
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
        _pageScratch.Clear();
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

    /// <summary>Writes <paramref name="rows"/> values the page decoder made (<paramref name="values"/>, of <paramref name="source"/>) to the spool, as <see cref="DecodeAsync"/> writes them.</summary>
    public abstract void Spool(PageColumn source, PageValues values, int rows, SpoolWriter writer);

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

    public override void Spool(PageColumn source, PageValues values, int rows, SpoolWriter writer)
    {
        bool[] nulls = values.Null;
        byte[]?[] buffers = values.Buffer;
        int[] starts = values.Start;
        int[] lengths = values.Length;
        ReadOnlySpan<byte> previous = default;
        bool any = false;
        for (int row = 0; row < rows; row++)
        {
            if (nulls[row])
            {
                writer.WriteInt32(Null);
                continue;
            }

            ReadOnlySpan<byte> value = buffers[row].AsSpan(starts[row], lengths[row]);
            if (any && value.SequenceEqual(previous))
            {
                writer.WriteInt32(Same);
                continue;
            }

            previous = value;
            any = true;
            writer.WriteInt32(value.Length);
            writer.WriteBytes(value);
        }
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

        return StoreUtf8(reader, o, Target, _value, 0, _valueLength);
    }

    /// <summary>
    /// A non-empty text value (UTF-8 bytes of <paramref name="buffer"/>, valid until the next row is read) into the
    /// reader's slot of <paramref name="ordinal"/>, parsed to the column's type as a CSV field would be; false when it
    /// cannot be.
    /// </summary>
    internal static bool StoreUtf8(ParquetCostReader reader, int ordinal, CostColumnType target, byte[] buffer, int start, int length)
    {
        ReadOnlySpan<byte> value = buffer.AsSpan(start, length);
        reader.Nulls[ordinal] = false;
        switch (target)
        {
            case CostColumnType.Decimal:
                return CostValueParser.TryParseDecimal(value, out reader.Decimals[ordinal]);
            case CostColumnType.Date:
                return CostValueParser.TryParseDate(value, out reader.Dates[ordinal]);
            case CostColumnType.Timestamp:
                return CostValueParser.TryParseTimestamp(value, out reader.Dates[ordinal]);
            case CostColumnType.Boolean:
                return CostValueParser.TryParseBoolean(value, out reader.Bools[ordinal]);
            case CostColumnType.Guid:
                return CostValueParser.TryParseGuid(value, out reader.Guids[ordinal]);
            default:
                reader.SetUtf8(ordinal, buffer, start, length);
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

    public override void Spool(PageColumn source, PageValues values, int rows, SpoolWriter writer)
    {
        bool[] nulls = values.Null;
        for (int row = 0; row < rows; row++)
        {
            if (nulls[row])
            {
                if (!nullable)
                {
                    throw new InvalidDataException($"column '{Raw}' is required but a page has a null in it.");
                }

                writer.WriteByte(0);
                continue;
            }

            if (nullable)
            {
                writer.WriteByte(1);
            }

            writer.Write(PageValue(source.Kind, values, row));
        }
    }

    /// <summary>A value the page decoder made, as the type Parquet.Net gives the column (see ParquetPagePlan.KindOf).</summary>
    private static T PageValue(PageValueKind kind, PageValues values, int row)
    {
        if (typeof(T) == typeof(decimal))
        {
            decimal d = values.Decimals[row];
            return Unsafe.As<decimal, T>(ref d);
        }

        long bits = values.Bits[row];
        if (typeof(T) == typeof(long))
        {
            return Unsafe.As<long, T>(ref bits);
        }

        if (typeof(T) == typeof(int))
        {
            int i = (int)bits;
            return Unsafe.As<int, T>(ref i);
        }

        if (typeof(T) == typeof(double))
        {
            double d = BitConverter.Int64BitsToDouble(bits);
            return Unsafe.As<double, T>(ref d);
        }

        if (typeof(T) == typeof(float))
        {
            float f = BitConverter.Int32BitsToSingle((int)bits);
            return Unsafe.As<float, T>(ref f);
        }

        if (typeof(T) == typeof(bool))
        {
            bool b = bits != 0;
            return Unsafe.As<bool, T>(ref b);
        }

        if (typeof(T) == typeof(DateTime))
        {
            var t = new DateTime(bits, DateTimeKind.Utc);
            return Unsafe.As<DateTime, T>(ref t);
        }

        throw new InvalidOperationException($"The page decoder makes no {typeof(T).Name} values (kind {kind}).");
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
        return StoreValue(reader, o, Target, value);
    }

    /// <summary>A value of the file's type into the reader's slot of <paramref name="o"/>, converted to the column's type; false when it cannot be.</summary>
    internal static bool StoreValue(ParquetCostReader reader, int o, CostColumnType target, T value)
    {
        reader.Nulls[o] = false;
        switch (target)
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

    /// <summary>The file's page decoder, when the module's own decoder reads it; null when Parquet.Net does.</summary>
    public PageFileDecoder? Pages { get; init; }

    public bool Direct { get; init; }

    public void Dispose()
    {
        foreach (ParquetColumn column in Columns)
        {
            column.Release();
        }

        Pages?.Release();

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
