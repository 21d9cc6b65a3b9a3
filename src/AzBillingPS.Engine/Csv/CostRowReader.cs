using System;
using System.Collections;
using System.Collections.Generic;
using System.Data.Common;
using System.Globalization;
using System.Threading;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Csv;

/// <summary>
/// What a sink bulk-loads from: typed rows over one unified column list (data columns, then the lineage columns),
/// parsed and checked completely when <see cref="DbDataReader.Read"/> moves to a row. The CSV reader
/// (<see cref="CostDataReader"/>) and the Parquet reader (<see cref="Exports.ParquetCostReader"/>) are the two kinds;
/// this base holds what they share: the columns and their ordinals, the typed slots of the current row and the
/// lineage values, text as UTF-8 with strings made on demand, progress callbacks, the period check and every
/// <see cref="DbDataReader"/> member a sink uses.
/// </summary>
public abstract class CostRowReader : DbDataReader
{
    private readonly CostColumn[] _columns;
    private readonly Dictionary<string, int> _ordinals;
    private readonly byte[][] _lineageUtf8;
    private readonly byte[][] _lastUtf8;
    private readonly int[] _lastLength;
    private readonly string?[] _lastString;
    private readonly bool[] _isJson;
    private readonly byte[]?[] _jsonSource;
    private readonly int[] _jsonSourceLength;
    private readonly byte[][] _json;
    private readonly int[] _jsonLength;
    private readonly bool[] _lastKeptAsText;
    private long _rowsRead;
    private bool _closed;

    /// <summary>The current row's values by ordinal: the slot of the column's type is the one in use.</summary>
    internal readonly string?[] Text;
    internal readonly decimal[] Decimals;
    internal readonly DateTime[] Dates;
    internal readonly bool[] Bools;
    internal readonly Guid[] Guids;
    internal readonly bool[] Nulls;

    private protected CostRowReader(IReadOnlyList<CostFileHeader> files, IReadOnlyList<CostColumn> dataColumns, LineageValues lineage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(dataColumns);
        ArgumentNullException.ThrowIfNull(lineage);
        Files = files;
        Lineage = lineage;
        Cancellation = cancellationToken;
        var all = new List<CostColumn>(dataColumns);
        all.AddRange(LineageColumns.All);
        _columns = all.ToArray();
        DataCount = dataColumns.Count;
        _ordinals = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < _columns.Length; i++)
        {
            _ordinals[_columns[i].Name] = i;
        }

        string? period = files.Count > 0 ? files[0].Catalog.PeriodColumn : CostColumnCatalog.DateColumn;
        PeriodOrdinal = period is not null && _ordinals.TryGetValue(period, out int p) ? p : -1;

        int n = _columns.Length;
        Text = new string?[n];
        Decimals = new decimal[n];
        Dates = new DateTime[n];
        Bools = new bool[n];
        Guids = new Guid[n];
        Nulls = new bool[n];
        _lastUtf8 = new byte[n][];
        _lastLength = new int[n];
        _lastString = new string?[n];
        _isJson = new bool[n];
        _jsonSource = new byte[]?[n];
        _jsonSourceLength = new int[n];
        _json = new byte[n][];
        _jsonLength = new int[n];
        _lastKeptAsText = new bool[n];
        for (int i = 0; i < DataCount; i++)
        {
            _isJson[i] = _columns[i].Type == CostColumnType.Json;
            _json[i] = _isJson[i] ? new byte[256] : Array.Empty<byte>();
        }

        // Lineage values are the same on every row (the source file's changes with the file).
        Text[DataCount] = lineage.Scope;
        Text[DataCount + 1] = lineage.Metric;
        Dates[DataCount + 2] = lineage.PeriodStart;
        Dates[DataCount + 3] = lineage.PeriodEnd;
        Guids[DataCount + 5] = lineage.ImportId;
        Dates[DataCount + 6] = lineage.ImportedAtUtc;
        _lineageUtf8 = new byte[LineageColumns.All.Count][];
        _lineageUtf8[0] = System.Text.Encoding.UTF8.GetBytes(lineage.Scope);
        _lineageUtf8[1] = System.Text.Encoding.UTF8.GetBytes(lineage.Metric);
        _lineageUtf8[4] = Array.Empty<byte>();
    }

    /// <summary>The files of the load unit, in reading order.</summary>
    protected IReadOnlyList<CostFileHeader> Files { get; }

    private protected LineageValues Lineage { get; }

    protected CancellationToken Cancellation { get; }

    /// <summary>Data columns come first; the lineage columns follow at DataCount.</summary>
    protected int DataCount { get; }

    /// <summary>The column whose date must lie in the unit's period, or -1.</summary>
    protected int PeriodOrdinal { get; }

    /// <summary>Index in <see cref="Files"/> of the file being read (-1 before the first).</summary>
    protected int FileIndex { get; set; } = -1;

    /// <summary>The ordinal of a unified column (case-insensitive).</summary>
    protected int OrdinalOf(string name) => _ordinals[name];

    /// <summary>All columns: data columns then lineage columns.</summary>
    public IReadOnlyList<CostColumn> Columns => _columns;

    /// <summary>Bytes of the files read so far (for progress).</summary>
    public abstract long BytesRead { get; }

    /// <summary>Rows read so far.</summary>
    public long RowsRead => _rowsRead;

    /// <summary>The earliest and latest date of <see cref="PeriodOrdinal"/> read so far.</summary>
    public DateTime? FirstDate { get; private set; }

    public DateTime? LastDate { get; private set; }

    /// <summary>When set, decimals are rounded (half away from zero, as the database's own conversion does) to this many fractional digits.</summary>
    public int? DecimalScale { get; set; }

    /// <summary>The file the current row comes from (for errors a sink raises about a value), when known.</summary>
    public string? CurrentFile => FileIndex >= 0 && FileIndex < Files.Count ? Files[FileIndex].Path : null;

    /// <summary>The line (or row number) of the current row in <see cref="CurrentFile"/>, when known; 0 otherwise.</summary>
    public virtual long CurrentLine => 0;

    /// <summary>Called every <see cref="NotifyAfter"/> rows (and not at the end; callers report the end themselves).</summary>
    public Action<CostRowReader>? OnRows { get; set; }

    public int NotifyAfter { get; set; } = 50_000;

    /// <summary>The UTF-8 bytes of a data text field of the current row (valid until the next Read).</summary>
    protected abstract ReadOnlySpan<byte> DataUtf8(int ordinal);

    /// <summary>Lets go of the file being read (at its end, and on Close).</summary>
    protected abstract void CloseCurrent();

    /// <summary>Counts a row that <see cref="DbDataReader.Read"/> moved to, and reports progress every <see cref="NotifyAfter"/> rows.</summary>
    protected void Counted()
    {
        _rowsRead++;
        if (OnRows is not null && _rowsRead % NotifyAfter == 0)
        {
            OnRows(this);
        }
    }

    /// <summary>The lineage column _SourceFile takes the file now read.</summary>
    protected void SetSourceFile(string path)
    {
        Text[DataCount + 4] = path;
        _lineageUtf8[4] = System.Text.Encoding.UTF8.GetBytes(path);
    }

    /// <summary>A data text field whose string is made from its UTF-8 bytes when asked for.</summary>
    protected void TextFromUtf8(int ordinal)
    {
        Nulls[ordinal] = false;
        Text[ordinal] = null;
    }

    /// <summary>
    /// A JSON column's value (Tags) from its UTF-8 bytes: a JSON object's text (EA's brace-less body wrapped), or the text
    /// in a JSON string, counted (<see cref="Where"/> names the file, line or row and column for the warning). The value
    /// is kept as UTF-8 (<see cref="GetUtf8"/>), its string made only when asked for. Tags repeat row after row, so the
    /// last value's conversion is reused when the bytes are the same.
    /// </summary>
    protected void SetJson(int ordinal, ReadOnlySpan<byte> utf8)
    {
        Nulls[ordinal] = false;
        Text[ordinal] = null;
        byte[]? source = _jsonSource[ordinal];
        if (source is not null && utf8.SequenceEqual(source.AsSpan(0, _jsonSourceLength[ordinal])))
        {
            if (_lastKeptAsText[ordinal])
            {
                CountJsonKeptAsText(ordinal);
            }

            return;
        }

        bool keptAsText = !JsonTags.TryNormalize(utf8, ref _json[ordinal], out _jsonLength[ordinal]);
        if (keptAsText)
        {
            JsonTags.WriteJsonString(utf8, ref _json[ordinal], out _jsonLength[ordinal]);
            CountJsonKeptAsText(ordinal);
        }

        _lastKeptAsText[ordinal] = keptAsText;
        if (utf8.Length <= 1024)
        {
            if (source is null || source.Length < utf8.Length)
            {
                source = _jsonSource[ordinal] = new byte[Math.Max(64, utf8.Length)];
            }

            utf8.CopyTo(source);
            _jsonSourceLength[ordinal] = utf8.Length;
        }
        else
        {
            _jsonSource[ordinal] = null;
        }
    }

    /// <summary>JSON values (Tags) that could not be made a JSON object and are kept as their text in a JSON string.</summary>
    public long JsonKeptAsText { get; private set; }

    /// <summary>Where the first of <see cref="JsonKeptAsText"/> is (file and line or row, column).</summary>
    public string? FirstJsonKeptAsText { get; private set; }

    /// <summary>Counts one more value kept as text (for a value whose conversion was reused from the row before).</summary>
    protected void CountJsonKeptAsText(int ordinal)
    {
        JsonKeptAsText++;
        FirstJsonKeptAsText ??= Where(ordinal);
    }

    /// <summary>
    /// Where a value of the current row is, for a message: the file, the line or row and the column. Made only when a
    /// message needs it (a delegate per value, capturing the loop's variables, would cost an allocation per field).
    /// </summary>
    protected abstract string Where(int ordinal);

    /// <summary>The load's warning about Tags values that could not be made a JSON object, if there were any.</summary>
    public static void WarnJsonKeptAsText(CostRowReader? reader, IEngineLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (reader is { JsonKeptAsText: > 0 })
        {
            log.Warning(string.Create(CultureInfo.InvariantCulture,
                $"{reader.JsonKeptAsText:N0} Tags value(s) could not be made a JSON object and were kept as their text in a JSON string (first at {reader.FirstJsonKeptAsText}); JSON queries see no tags on those rows."));
        }
    }

    /// <summary>
    /// Checks that the row's date lies in the unit's period (and keeps the first and last date read). A row outside it
    /// fails the load, naming the file, the <paramref name="unit"/> ("line" or "row") and the column; a command that
    /// takes the period as parameters adds how to give one that covers the file (<see cref="EngineAdvice.CoverFilePeriod"/>).
    /// </summary>
    protected void CheckPeriod(string path, long position, string unit, string column)
    {
        if (PeriodOrdinal < 0)
        {
            return;
        }

        DateTime date = Dates[PeriodOrdinal].Date;
        if (date < Lineage.PeriodStart || date > Lineage.PeriodEnd)
        {
            throw new EngineException(EngineErrorKind.RowOutsidePeriod,
                string.Create(CultureInfo.InvariantCulture,
                    $"{path}: {unit} {position}: the row is dated {date:yyyy-MM-dd}, outside the period being loaded ({Lineage.PeriodStart:yyyy-MM-dd} to {Lineage.PeriodEnd:yyyy-MM-dd})."))
            {
                FilePath = path,
                Line = position,
                Column = column,
                Advice = EngineAdvice.CoverFilePeriod,
            };
        }

        if (FirstDate is null || date < FirstDate)
        {
            FirstDate = date;
        }

        if (LastDate is null || date > LastDate)
        {
            LastDate = date;
        }
    }

    /// <summary>A value that is not what its column holds, named with the file, line (or row), column and value.</summary>
    internal static EngineException BadValue(string path, long line, string column, string value, string expected, string unit = "line")
        => new(EngineErrorKind.CsvBadValue,
            string.Create(CultureInfo.InvariantCulture, $"{path}: {unit} {line}, column '{CsvText.Printable(column, 128)}': '{CostFileSchema.Shorten(value)}' is not {expected}."))
        {
            FilePath = path,
            Line = line,
            Column = column,
        };

    /// <summary>What a column's type is, in words, for <see cref="BadValue"/>.</summary>
    internal static string Expected(CostColumnType type) => type switch
    {
        CostColumnType.Decimal => "a decimal number",
        CostColumnType.Date => "a date (MM/dd/yyyy, M/d/yyyy or yyyy-MM-dd)",
        CostColumnType.Timestamp => "a date and time (ISO 8601, for example 2026-03-01T00:00:00Z)",
        CostColumnType.Boolean => "True or False",
        CostColumnType.Guid => "a GUID",
        _ => "text",
    };

    public override int FieldCount => _columns.Length;

    public override bool HasRows => true;

    public override bool IsClosed => _closed;

    public override int RecordsAffected => -1;

    public override int Depth => 0;

    public override object this[int ordinal] => GetValue(ordinal);

    public override object this[string name] => GetValue(GetOrdinal(name));

    public override bool IsDBNull(int ordinal) => ordinal < DataCount && Nulls[ordinal];

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

    public override string GetString(int ordinal) => Text[ordinal] ??= Materialize(ordinal);

    /// <summary>
    /// Makes the string of a data text field. Cost data repeats most text values row after row (currency, account,
    /// meter category...), so the last string of each column is reused when the bytes are the same.
    /// </summary>
    private string Materialize(int ordinal)
    {
        ReadOnlySpan<byte> bytes = GetUtf8(ordinal);
        string? last = _lastString[ordinal];
        if (last is not null && bytes.SequenceEqual(_lastUtf8[ordinal].AsSpan(0, _lastLength[ordinal])))
        {
            return last;
        }

        string value = System.Text.Encoding.UTF8.GetString(bytes);
        if (bytes.Length <= 256)
        {
            byte[]? buffer = _lastUtf8[ordinal];
            if (buffer is null || buffer.Length < bytes.Length)
            {
                buffer = _lastUtf8[ordinal] = new byte[Math.Max(32, bytes.Length)];
            }

            bytes.CopyTo(buffer);
            _lastLength[ordinal] = bytes.Length;
            _lastString[ordinal] = value;
        }

        return value;
    }

    /// <summary>
    /// A text or JSON value as UTF-8 bytes, without making a string (valid until the next Read): a text field's bytes as
    /// the file has them, a JSON column's normalised JSON, a lineage text column's value.
    /// </summary>
    public ReadOnlySpan<byte> GetUtf8(int ordinal)
        => ordinal >= DataCount ? _lineageUtf8[ordinal - DataCount]
            : _isJson[ordinal] ? _json[ordinal].AsSpan(0, _jsonLength[ordinal])
            : DataUtf8(ordinal);

    public override decimal GetDecimal(int ordinal)
        => DecimalScale is int scale ? Math.Round(Decimals[ordinal], scale, MidpointRounding.AwayFromZero) : Decimals[ordinal];

    public override DateTime GetDateTime(int ordinal) => Dates[ordinal];

    public override bool GetBoolean(int ordinal) => Bools[ordinal];

    public override Guid GetGuid(int ordinal) => Guids[ordinal];

    public override double GetDouble(int ordinal) => (double)GetDecimal(ordinal);

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
