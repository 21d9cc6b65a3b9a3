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
/// row and column. Memory is bounded by one row group: its columns are read into buffers reused for the next group.
/// </summary>
internal sealed class ParquetCostReader : CostRowReader
{
    private readonly IReadOnlyList<CostFileHeader> _files;
    private readonly CostColumn[] _columns;
    private readonly int _dataCount;
    private readonly LineageValues _lineage;
    private readonly CancellationToken _cancellationToken;
    private readonly Dictionary<string, int> _ordinals;
    private readonly int _periodOrdinal;

    internal readonly string?[] Text;
    internal readonly decimal[] Decimals;
    internal readonly DateTime[] Dates;
    internal readonly bool[] Bools;
    internal readonly Guid[] Guids;
    internal readonly bool[] Nulls;
    private readonly byte[][] _utf8;
    private readonly int[] _utf8Length;

    private int _fileIndex = -1;
    private Stream? _stream;
    private ParquetReader? _reader;
    private int _group = -1;
    private int _groupRows;
    private int _row;
    private long _rowsInFile;
    private ParquetColumn[] _active = Array.Empty<ParquetColumn>();
    private readonly Dictionary<string, ParquetColumn> _buffers = new(StringComparer.Ordinal);
    private long _rowsRead;
    private long _bytesDone;
    private bool _closed;

    public ParquetCostReader(IReadOnlyList<CostFileHeader> files, IReadOnlyList<CostColumn> dataColumns, LineageValues lineage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(dataColumns);
        ArgumentNullException.ThrowIfNull(lineage);
        _files = files;
        _lineage = lineage;
        _cancellationToken = cancellationToken;
        var all = new List<CostColumn>(dataColumns);
        all.AddRange(LineageColumns.All);
        _columns = all.ToArray();
        _dataCount = dataColumns.Count;
        _ordinals = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < _columns.Length; i++)
        {
            _ordinals[_columns[i].Name] = i;
        }

        string? period = files.Count > 0 ? files[0].Catalog.PeriodColumn : null;
        _periodOrdinal = period is not null && _ordinals.TryGetValue(period, out int p) ? p : -1;
        int n = _columns.Length;
        Text = new string?[n];
        Decimals = new decimal[n];
        Dates = new DateTime[n];
        Bools = new bool[n];
        Guids = new Guid[n];
        Nulls = new bool[n];
        _utf8 = new byte[n][];
        _utf8Length = new int[n];
        Text[_dataCount] = lineage.Scope;
        Text[_dataCount + 1] = lineage.Metric;
        Dates[_dataCount + 2] = lineage.PeriodStart;
        Dates[_dataCount + 3] = lineage.PeriodEnd;
        Guids[_dataCount + 5] = lineage.ImportId;
        Dates[_dataCount + 6] = lineage.ImportedAtUtc;
    }

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

    public override IReadOnlyList<CostColumn> Columns => _columns;

    public override long RowsRead => _rowsRead;

    public override int? DecimalScale { get; set; }

    /// <summary>Bytes of the files consumed so far (whole files: Parquet is read a row group at a time).</summary>
    public long BytesRead => _bytesDone;

    public override string? CurrentFile => _fileIndex >= 0 && _fileIndex < _files.Count ? _files[_fileIndex].Path : null;

    public Action<ParquetCostReader>? OnRows { get; set; }

    public int NotifyAfter { get; set; } = 50_000;

    public override int FieldCount => _columns.Length;

    public override bool HasRows => true;

    public override bool IsClosed => _closed;

    public override int RecordsAffected => -1;

    public override int Depth => 0;

    public override object this[int ordinal] => GetValue(ordinal);

    public override object this[string name] => GetValue(GetOrdinal(name));

    public override bool Read()
    {
        while (true)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            if (_reader is null && !OpenNext())
            {
                return false;
            }

            if (_row + 1 < _groupRows)
            {
                _row++;
                Store();
                _rowsRead++;
                if (OnRows is not null && _rowsRead % NotifyAfter == 0)
                {
                    OnRows(this);
                }

                return true;
            }

            if (_group + 1 < _reader!.RowGroupCount)
            {
                LoadGroup(_group + 1);
                continue;
            }

            CloseCurrent();
        }
    }

    private bool OpenNext()
    {
        _fileIndex++;
        if (_fileIndex >= _files.Count)
        {
            return false;
        }

        CostFileHeader file = _files[_fileIndex];
        _stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        try
        {
            _reader = Task.Run(() => ParquetReader.CreateAsync(_stream, null, true, _cancellationToken)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            throw new EngineException(EngineErrorKind.CsvBadHeader, $"{file.Path}: not a Parquet file the module can read: {e.Message}", e) { FilePath = file.Path };
        }

        DataField[] fields = _reader.Schema.GetDataFields();
        var active = new List<ParquetColumn>();
        var mapped = new HashSet<int>();
        for (int i = 0; i < fields.Length; i++)
        {
            CostColumn column = file.Columns[i];
            int ordinal = _ordinals[column.Name];
            mapped.Add(ordinal);
            string key = string.Create(CultureInfo.InvariantCulture, $"{ordinal}:{fields[i].ClrType.FullName}:{fields[i].IsNullable}");
            if (!_buffers.TryGetValue(key, out ParquetColumn? buffer))
            {
                buffer = ParquetColumn.For(fields[i].ClrType, fields[i].IsNullable, ordinal, column.Type);
                _buffers[key] = buffer;
            }

            buffer.Bind(fields[i], file.RawNames[i]);
            active.Add(buffer);
        }

        for (int o = 0; o < _dataCount; o++)
        {
            if (!mapped.Contains(o))
            {
                Nulls[o] = true; // a column of the unit this file lacks
            }
        }

        _active = active.ToArray();
        Text[_dataCount + 4] = file.Path;
        _utf8[_dataCount + 4] = System.Text.Encoding.UTF8.GetBytes(file.Path);
        _utf8Length[_dataCount + 4] = _utf8[_dataCount + 4].Length;
        _group = -1;
        _groupRows = 0;
        _row = -1;
        _rowsInFile = 0;
        return true;
    }

    private void LoadGroup(int group)
    {
        CostFileHeader file = _files[_fileIndex];
        _group = group;
        using ParquetRowGroupReader rg = _reader!.OpenRowGroupReader(group);
        long count = rg.RowCount;
        if (count > int.MaxValue)
        {
            throw new EngineException(EngineErrorKind.CsvBadValue, $"{file.Path}: row group {group + 1} has {count:N0} rows, more than the module reads at once.") { FilePath = file.Path };
        }

        try
        {
            foreach (ParquetColumn column in _active)
            {
                column.LoadAsync(rg, (int)count, _cancellationToken).AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            throw new EngineException(EngineErrorKind.CsvBadValue, $"{file.Path}: row group {group + 1} cannot be read: {e.Message}", e) { FilePath = file.Path };
        }

        _rowsInFile += _groupRows > 0 ? _groupRows : 0;
        _groupRows = (int)count;
        _row = -1;
    }

    private void CloseCurrent()
    {
        if (_reader is not null)
        {
            _bytesDone += _stream?.Length ?? 0;
            _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _reader = null;
        }

        _stream?.Dispose();
        _stream = null;
    }

    private void Store()
    {
        foreach (ParquetColumn column in _active)
        {
            if (!column.Store(_row, this))
            {
                throw BadValue(column.Raw, column.Describe(_row), ExpectedText(_columns[column.Ordinal].Type));
            }
        }

        if (_periodOrdinal < 0)
        {
            return;
        }

        if (Nulls[_periodOrdinal])
        {
            throw BadValue(_columns[_periodOrdinal].Name, string.Empty, "a date (the period column may not be empty)");
        }

        DateTime date = Dates[_periodOrdinal].Date;
        if (date < _lineage.PeriodStart || date > _lineage.PeriodEnd)
        {
            CostFileHeader file = _files[_fileIndex];
            throw new EngineException(EngineErrorKind.RowOutsidePeriod,
                string.Create(CultureInfo.InvariantCulture,
                    $"{file.Path}: row {RowNumber:N0}: the row is dated {date:yyyy-MM-dd}, outside the period being loaded ({_lineage.PeriodStart:yyyy-MM-dd} to {_lineage.PeriodEnd:yyyy-MM-dd})."))
            {
                FilePath = file.Path,
                Line = RowNumber,
                Column = _columns[_periodOrdinal].Name,
            };
        }
    }

    /// <summary>1-based row number within the current file.</summary>
    private long RowNumber => _rowsInFile + _row + 1;

    private EngineException BadValue(string column, string value, string expected)
    {
        CostFileHeader file = _files[_fileIndex];
        return new EngineException(EngineErrorKind.CsvBadValue,
            string.Create(CultureInfo.InvariantCulture, $"{file.Path}: row {RowNumber:N0}, column '{column}': '{CostFileSchema.Shorten(value)}' is not {expected}."))
        {
            FilePath = file.Path,
            Line = RowNumber,
            Column = column,
        };
    }

    private static string ExpectedText(CostColumnType type) => type switch
    {
        CostColumnType.Decimal => "a decimal number",
        CostColumnType.Date => "a date",
        CostColumnType.Timestamp => "a date and time",
        CostColumnType.Boolean => "True or False",
        CostColumnType.Guid => "a GUID",
        _ => "text",
    };

    internal void SetText(int ordinal, string value)
    {
        Nulls[ordinal] = false;
        Text[ordinal] = Columns[ordinal].Type == CostColumnType.Json
            ? ToJson(System.Text.Encoding.UTF8.GetBytes(value), () => string.Create(CultureInfo.InvariantCulture, $"{CurrentFile}: row {RowsRead + 1}, column '{Columns[ordinal].Name}'"), out _)
            : value;
        _utf8Length[ordinal] = -1;
    }

    public override bool IsDBNull(int ordinal) => ordinal < _dataCount && Nulls[ordinal];

    public override object GetValue(int ordinal)
    {
        if (IsDBNull(ordinal))
        {
            return DBNull.Value;
        }

        return _columns[ordinal].Type switch
        {
            CostColumnType.Decimal => GetDecimal(ordinal),
            CostColumnType.Date or CostColumnType.Timestamp => Dates[ordinal],
            CostColumnType.Boolean => Bools[ordinal],
            CostColumnType.Guid => Guids[ordinal],
            _ => GetString(ordinal),
        };
    }

    public override int GetValues(object[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int n = Math.Min(values.Length, FieldCount);
        for (int i = 0; i < n; i++)
        {
            values[i] = GetValue(i);
        }

        return n;
    }

    public override string GetString(int ordinal) => Text[ordinal] ?? string.Empty;

    public override ReadOnlySpan<byte> GetUtf8(int ordinal)
    {
        if (ordinal >= _dataCount && ordinal != _dataCount + 4)
        {
            string lineage = Text[ordinal] ?? string.Empty;
            return System.Text.Encoding.UTF8.GetBytes(lineage);
        }

        if (_utf8Length[ordinal] < 0 || _utf8[ordinal] is null)
        {
            string s = Text[ordinal] ?? string.Empty;
            int max = System.Text.Encoding.UTF8.GetMaxByteCount(s.Length);
            if (_utf8[ordinal] is null || _utf8[ordinal].Length < max)
            {
                _utf8[ordinal] = new byte[Math.Max(64, max)];
            }

            _utf8Length[ordinal] = System.Text.Encoding.UTF8.GetBytes(s, _utf8[ordinal]);
        }

        return _utf8[ordinal].AsSpan(0, _utf8Length[ordinal]);
    }

    public override decimal GetDecimal(int ordinal)
        => DecimalScale is int scale ? Math.Round(Decimals[ordinal], scale, MidpointRounding.AwayFromZero) : Decimals[ordinal];

    public override DateTime GetDateTime(int ordinal) => Dates[ordinal];

    public override bool GetBoolean(int ordinal) => Bools[ordinal];

    public override Guid GetGuid(int ordinal) => Guids[ordinal];

    public override double GetDouble(int ordinal) => (double)Decimals[ordinal];

    public override string GetName(int ordinal) => _columns[ordinal].Name;

    public override int GetOrdinal(string name) => _ordinals.TryGetValue(name, out int o) ? o : throw new ArgumentOutOfRangeException(nameof(name), name, "No such column.");

    public override Type GetFieldType(int ordinal) => _columns[ordinal].Type switch
    {
        CostColumnType.Decimal => typeof(decimal),
        CostColumnType.Date or CostColumnType.Timestamp => typeof(DateTime),
        CostColumnType.Boolean => typeof(bool),
        CostColumnType.Guid => typeof(Guid),
        _ => typeof(string),
    };

    public override string GetDataTypeName(int ordinal) => GetFieldType(ordinal).Name;

    public override bool NextResult() => false;

    public override IEnumerator GetEnumerator() => new DbEnumerator(this, closeReader: false);

    public override byte GetByte(int ordinal) => throw new NotSupportedException();

    public override long GetBytes(int ordinal, long dataOffset, byte[]? buffer, int bufferOffset, int length) => throw new NotSupportedException();

    public override char GetChar(int ordinal) => throw new NotSupportedException();

    public override long GetChars(int ordinal, long dataOffset, char[]? buffer, int bufferOffset, int length) => throw new NotSupportedException();

    public override short GetInt16(int ordinal) => throw new NotSupportedException();

    public override int GetInt32(int ordinal) => throw new NotSupportedException();

    public override long GetInt64(int ordinal) => throw new NotSupportedException();

    public override float GetFloat(int ordinal) => throw new NotSupportedException();

    public override void Close()
    {
        CloseCurrent();
        _closed = true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Close();
        }

        base.Dispose(disposing);
    }
}

/// <summary>One Parquet column of a row group, read into a reused buffer, and its values stored into the reader's typed slots.</summary>
internal abstract class ParquetColumn(int ordinal, CostColumnType target)
{
    public int Ordinal { get; } = ordinal;

    public CostColumnType Target { get; } = target;

    public DataField Field { get; private set; } = null!;

    public string Raw { get; private set; } = string.Empty;

    public void Bind(DataField field, string raw)
    {
        Field = field;
        Raw = raw;
    }

    public abstract ValueTask LoadAsync(ParquetRowGroupReader group, int rows, CancellationToken cancellationToken);

    /// <summary>Stores row <paramref name="row"/>'s value; false when it cannot be converted to the column's type.</summary>
    public abstract bool Store(int row, ParquetCostReader reader);

    /// <summary>The value as text, for an error message.</summary>
    public abstract string Describe(int row);

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

internal sealed class StringColumn(int ordinal, CostColumnType target) : ParquetColumn(ordinal, target)
{
    private string?[] _values = Array.Empty<string?>();

    public override async ValueTask LoadAsync(ParquetRowGroupReader group, int rows, CancellationToken cancellationToken)
    {
        if (_values.Length < rows)
        {
            _values = new string?[rows];
        }

        await group.ReadAsync(Field, _values.AsMemory(0, rows)!, null, cancellationToken).ConfigureAwait(false);
    }

    public override string Describe(int row) => _values[row] ?? string.Empty;

    public override bool Store(int row, ParquetCostReader reader)
    {
        string? value = _values[row];
        int o = Ordinal;
        if (value is null || (value.Length == 0 && Target != CostColumnType.Text))
        {
            reader.Nulls[o] = true;
            return true;
        }

        if (value.Length == 0)
        {
            reader.Nulls[o] = true;
            return true;
        }

        reader.Nulls[o] = false;
        switch (Target)
        {
            case CostColumnType.Decimal:
                return CostValueParser.TryParseDecimal(value.AsSpan(), out reader.Decimals[o]);
            case CostColumnType.Date:
                return CostValueParser.TryParseDate(value.AsSpan(), out reader.Dates[o]);
            case CostColumnType.Timestamp:
                return CostValueParser.TryParseTimestamp(value.AsSpan(), out reader.Dates[o]);
            case CostColumnType.Boolean:
                return CostValueParser.TryParseBoolean(value.AsSpan(), out reader.Bools[o]);
            case CostColumnType.Guid:
                return CostValueParser.TryParseGuid(value.AsSpan(), out reader.Guids[o]);
            default:
                reader.SetText(o, value);
                return true;
        }
    }
}

internal sealed class ValueColumn<T>(int ordinal, CostColumnType target, bool nullable) : ParquetColumn(ordinal, target)
    where T : struct
{
    private T?[] _nullable = Array.Empty<T?>();
    private T[] _plain = Array.Empty<T>();

    public override async ValueTask LoadAsync(ParquetRowGroupReader group, int rows, CancellationToken cancellationToken)
    {
        if (nullable)
        {
            if (_nullable.Length < rows)
            {
                _nullable = new T?[rows];
            }

            await group.ReadAsync<T>(Field, _nullable.AsMemory(0, rows), null, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (_plain.Length < rows)
            {
                _plain = new T[rows];
            }

            await group.ReadAsync<T>(Field, _plain.AsMemory(0, rows), null, cancellationToken).ConfigureAwait(false);
        }
    }

    public override string Describe(int row)
    {
        T? v = nullable ? _nullable[row] : _plain[row];
        return v is null ? string.Empty : Convert.ToString(v.Value, CultureInfo.InvariantCulture) ?? string.Empty;
    }

    public override bool Store(int row, ParquetCostReader reader)
    {
        int o = Ordinal;
        T value;
        if (nullable)
        {
            T? v = _nullable[row];
            if (v is null)
            {
                reader.Nulls[o] = true;
                return true;
            }

            value = v.Value;
        }
        else
        {
            value = _plain[row];
        }

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
