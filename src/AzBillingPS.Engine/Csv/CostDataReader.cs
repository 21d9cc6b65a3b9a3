using System;
using System.Collections;
using System.Collections.Generic;
using System.Data.Common;
using System.Globalization;
using System.Threading;
using AzBillingPS.Engine.Common;
using CsvHelper;

namespace AzBillingPS.Engine.Csv;

/// <summary>The constant lineage values of one load unit.</summary>
public sealed record LineageValues(string Scope, string Metric, DateTime PeriodStart, DateTime PeriodEnd, Guid ImportId, DateTime ImportedAtUtc);

/// <summary>
/// Streams the rows of one load unit (one or more cost-details files) as typed values over one unified column
/// list (the union of the files' columns, then the lineage columns). A row is parsed and checked completely
/// when <see cref="Read"/> moves to it, so a sink never sees half a bad row; a bad value, a ragged row or a
/// row outside the unit's period fails the load with the file, line, column and value.
/// Nothing is buffered beyond CsvHelper's read buffer: memory does not grow with the file.
/// </summary>
public sealed class CostDataReader : CostRowReader
{
    private readonly IReadOnlyList<CostFileHeader> _files;
    private readonly CostColumn[] _columns;
    private readonly int _dataCount;
    private readonly LineageValues _lineage;
    private readonly CancellationToken _cancellationToken;
    private readonly Dictionary<string, int> _ordinals;

    private readonly string?[] _text;
    private readonly decimal[] _decimal;
    private readonly DateTime[] _date;
    private readonly bool[] _bool;
    private readonly Guid[] _guid;
    private readonly bool[] _null;
    private readonly byte[][] _lineageUtf8;
    private readonly byte[][] _lastUtf8;
    private readonly int[] _lastLength;
    private readonly string?[] _lastString;

    private int _fileIndex = -1;
    private CsvReader? _reader;
    private int[] _map = Array.Empty<int>();
    private long _bytesDone;
    private bool _closed;
    private long _rowsRead;
    private readonly int _periodOrdinal;

    public CostDataReader(IReadOnlyList<CostFileHeader> files, IReadOnlyList<CostColumn> dataColumns, LineageValues lineage, CancellationToken cancellationToken)
    {
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

        string? periodColumn = files.Count > 0 ? files[0].Catalog.PeriodColumn : CostColumnCatalog.DateColumn;
        _periodOrdinal = periodColumn is not null && _ordinals.TryGetValue(periodColumn, out int p) ? p : -1;

        int n = _columns.Length;
        _text = new string?[n];
        _decimal = new decimal[n];
        _date = new DateTime[n];
        _bool = new bool[n];
        _guid = new Guid[n];
        _null = new bool[n];

        // Lineage values are the same on every row.
        _text[_dataCount] = lineage.Scope;
        _text[_dataCount + 1] = lineage.Metric;
        _date[_dataCount + 2] = lineage.PeriodStart;
        _date[_dataCount + 3] = lineage.PeriodEnd;
        _guid[_dataCount + 5] = lineage.ImportId;
        _date[_dataCount + 6] = lineage.ImportedAtUtc;
        _lastUtf8 = new byte[n][];
        _lastLength = new int[n];
        _lastString = new string?[n];
        _lineageUtf8 = new byte[LineageColumns.All.Count][];
        _lineageUtf8[0] = System.Text.Encoding.UTF8.GetBytes(lineage.Scope);
        _lineageUtf8[1] = System.Text.Encoding.UTF8.GetBytes(lineage.Metric);
    }

    /// <summary>All columns: data columns then lineage columns.</summary>
    public override IReadOnlyList<CostColumn> Columns => _columns;

    public override long RowsRead => _rowsRead;

    /// <summary>Bytes of the files consumed so far (approximate within the current file).</summary>
    public long BytesRead => _bytesDone + (_reader?.ByteOffset ?? 0);

    public DateTime? FirstDate { get; private set; }

    public DateTime? LastDate { get; private set; }

    public override string? CurrentFile => _fileIndex >= 0 && _fileIndex < _files.Count ? _files[_fileIndex].Path : null;

    /// <summary>The line (in <see cref="CurrentFile"/>) of the row <see cref="Read"/> moved to last.</summary>
    public override long CurrentLine => _currentLine;

    private long _currentLine;

    /// <summary>Called every <see cref="NotifyAfter"/> rows (and not at the end; callers report the end themselves).</summary>
    public Action<CostDataReader>? OnRows { get; set; }

    public int NotifyAfter { get; set; } = 50_000;

    /// <summary>When set, decimals are rounded (half away from zero, as the database's own conversion does) to this many fractional digits.</summary>
    public override int? DecimalScale { get; set; }

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

            bool read;
            try
            {
                read = _reader!.Read();
            }
            catch (CsvFormatException e)
            {
                throw CostFileSchema.Malformed(_files[_fileIndex].Path, e);
            }

            if (read)
            {
                ParseCurrent();
                _rowsRead++;
                if (OnRows is not null && _rowsRead % NotifyAfter == 0)
                {
                    OnRows(this);
                }

                return true;
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
        _reader = CostFileSchema.Open(file.Path);
        CostFileHeader now = CostFileSchema.ReadHeader(file.Path, _reader, file.Catalog);
        if (now.Columns.Count != file.Columns.Count)
        {
            throw new EngineException(EngineErrorKind.CsvBadHeader, $"{file.Path}: the file changed while it was being loaded.") { FilePath = file.Path };
        }

        _map = new int[_dataCount];
        Array.Fill(_map, -1);
        for (int i = 0; i < file.Columns.Count; i++)
        {
            _map[_ordinals[file.Columns[i].Name]] = i;
        }

        _text[_dataCount + 4] = file.Path;
        _lineageUtf8[4] = System.Text.Encoding.UTF8.GetBytes(file.Path);
        return true;
    }

    private void CloseCurrent()
    {
        if (_reader is not null)
        {
            _bytesDone += _reader.ByteOffset;
            _reader.Dispose();
            _reader = null;
        }
    }

    private void ParseCurrent()
    {
        CsvReader reader = _reader!;
        CostFileHeader file = _files[_fileIndex];
        long line = reader.LineNumber;
        _currentLine = line;
        if (reader.FieldCount != file.Columns.Count)
        {
            throw Ragged(file.Path, line, reader.FieldCount, file.Columns.Count);
        }

        // Every field is UTF-8 text without NUL: checked once on the record's raw bytes (two vectorised scans); the
        // database never sees bytes that are not text (SQLite would store them raw, PostgreSQL refuse them late).
        if (!CsvText.IsClean(reader.RawRecord))
        {
            throw InvalidText(file.Path, reader, file.RawNames);
        }

        for (int o = 0; o < _dataCount; o++)
        {
            int index = _map[o];
            if (index < 0)
            {
                _null[o] = true;
                continue;
            }

            ReadOnlySpan<byte> value = reader.GetSpan(index);
            if (value.IsEmpty)
            {
                if (index == file.DateIndex)
                {
                    throw BadValue(file.Path, line, file.RawNames[index], string.Empty, "a date (the Date column may not be empty)");
                }

                _null[o] = true;
                continue;
            }

            _null[o] = false;
            switch (_columns[o].Type)
            {
                case CostColumnType.Text:
                    _text[o] = null; // materialised on demand (GetString), or read as UTF-8 (GetUtf8)
                    break;
                case CostColumnType.Decimal:
                    if (!CostValueParser.TryParseDecimal(value, out _decimal[o]))
                    {
                        throw BadValue(file.Path, line, file.RawNames[index], reader.GetString(index), "a decimal number");
                    }

                    if (DecimalScale is int scale)
                    {
                        _decimal[o] = Math.Round(_decimal[o], scale, MidpointRounding.AwayFromZero);
                    }

                    break;
                case CostColumnType.Date:
                    if (!CostValueParser.TryParseDate(value, out _date[o]))
                    {
                        throw BadValue(file.Path, line, file.RawNames[index], reader.GetString(index), "a date (MM/dd/yyyy, M/d/yyyy or yyyy-MM-dd)");
                    }

                    break;
                case CostColumnType.Timestamp:
                    if (!CostValueParser.TryParseTimestamp(value, out _date[o]))
                    {
                        throw BadValue(file.Path, line, file.RawNames[index], reader.GetString(index), "a date and time (ISO 8601, for example 2026-03-01T00:00:00Z)");
                    }

                    break;
                case CostColumnType.Boolean:
                    if (!CostValueParser.TryParseBoolean(value, out _bool[o]))
                    {
                        throw BadValue(file.Path, line, file.RawNames[index], reader.GetString(index), "True or False");
                    }

                    break;
                case CostColumnType.Guid:
                    if (!CostValueParser.TryParseGuid(value, out _guid[o]))
                    {
                        throw BadValue(file.Path, line, file.RawNames[index], reader.GetString(index), "a GUID");
                    }

                    break;
                default:
                    _text[o] = null;
                    break;
            }
        }

        if (_periodOrdinal < 0)
        {
            return;
        }

        DateTime date = _date[_periodOrdinal].Date;
        if (date < _lineage.PeriodStart || date > _lineage.PeriodEnd)
        {
            throw new EngineException(EngineErrorKind.RowOutsidePeriod,
                string.Create(CultureInfo.InvariantCulture,
                    $"{file.Path}: line {line}: the row is dated {date:yyyy-MM-dd}, outside the period being loaded ({_lineage.PeriodStart:yyyy-MM-dd} to {_lineage.PeriodEnd:yyyy-MM-dd}). Give -From/-To that cover the file, or leave them out to use the file's own dates."))
            {
                FilePath = file.Path,
                Line = line,
                Column = file.RawNames[file.DateIndex],
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

    internal static EngineException Ragged(string path, long line, int found, int expected)
        => new(EngineErrorKind.CsvRaggedRow,
            string.Create(CultureInfo.InvariantCulture, $"{path}: line {line}: the row has {found} fields but the header has {expected}."))
        {
            FilePath = path,
            Line = line,
        };

    /// <summary>
    /// The error for the current record of <paramref name="reader"/>, which is not clean text: names the file, the line
    /// the offending byte is on (a quoted field may span lines), the column (<paramref name="names"/>; the header's
    /// own field number when null) and the bytes in hex.
    /// </summary>
    internal static EngineException InvalidText(string path, CsvReader reader, IReadOnlyList<string>? names)
    {
        long line = reader.LineNumber;
        for (int i = 0; i < reader.FieldCount; i++)
        {
            ReadOnlySpan<byte> field = reader.GetRawSpan(i);
            if (CsvText.FindProblem(field) is (int offset, string problem))
            {
                line += CsvText.LineFeeds(field[..offset]);
                string column = names is not null && i < names.Count ? names[i] : string.Create(CultureInfo.InvariantCulture, $"field {i + 1} of the header");
                string shown = names is not null && i < names.Count ? $"column '{CsvText.Printable(column, 128)}'" : column;
                return new EngineException(EngineErrorKind.CsvInvalidText,
                    string.Create(CultureInfo.InvariantCulture, $"{path}: line {line}, {shown}: the field {problem}. A cost file is UTF-8 text without NUL characters: the file is damaged, binary, or in another encoding (save it as UTF-8). Nothing was loaded."))
                {
                    FilePath = path,
                    Line = line,
                    Column = column,
                };
            }

            line += CsvText.LineFeeds(field);
        }

        return new EngineException(EngineErrorKind.CsvInvalidText,
            string.Create(CultureInfo.InvariantCulture, $"{path}: line {reader.LineNumber}: the record is not valid UTF-8 text. Nothing was loaded."))
        {
            FilePath = path,
            Line = reader.LineNumber,
        };
    }

    internal static EngineException BadValue(string path, long line, string column, string value, string expected)
        => new(EngineErrorKind.CsvBadValue,
            string.Create(CultureInfo.InvariantCulture, $"{path}: line {line}, column '{CsvText.Printable(column, 128)}': '{CostFileSchema.Shorten(value)}' is not {expected}."))
        {
            FilePath = path,
            Line = line,
            Column = column,
        };

    public override bool IsDBNull(int ordinal) => ordinal < _dataCount ? _null[ordinal] : false;

    public override object GetValue(int ordinal)
    {
        if (IsDBNull(ordinal))
        {
            return DBNull.Value;
        }

        return _columns[ordinal].Type switch
        {
            CostColumnType.Decimal => _decimal[ordinal],
            CostColumnType.Date or CostColumnType.Timestamp => _date[ordinal],
            CostColumnType.Boolean => _bool[ordinal],
            CostColumnType.Guid => _guid[ordinal],
            _ => GetString(ordinal),
        };
    }

    public override int GetValues(object[] values)
    {
        int n = Math.Min(values.Length, FieldCount);
        for (int i = 0; i < n; i++)
        {
            values[i] = GetValue(i);
        }

        return n;
    }

    public override string GetString(int ordinal) => _text[ordinal] ??= Materialize(ordinal);

    /// <summary>
    /// Makes the string of a data text field. Cost files repeat most text values row after row (currency,
    /// account, meter category...), so the last value of each column is reused when the bytes are the same.
    /// </summary>
    private string Materialize(int ordinal)
    {
        ReadOnlySpan<byte> bytes = _reader!.GetSpan(_map[ordinal]);
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
    /// A text value as the file's UTF-8 bytes, without making a string (valid until the next <see cref="Read"/>).
    /// For text columns (data and lineage) only.
    /// </summary>
    public override ReadOnlySpan<byte> GetUtf8(int ordinal)
        => ordinal < _dataCount ? _reader!.GetSpan(_map[ordinal]) : _lineageUtf8[ordinal - _dataCount];

    public override decimal GetDecimal(int ordinal) => _decimal[ordinal];

    public override DateTime GetDateTime(int ordinal) => _date[ordinal];

    public override bool GetBoolean(int ordinal) => _bool[ordinal];

    public override Guid GetGuid(int ordinal) => _guid[ordinal];

    public override double GetDouble(int ordinal) => (double)_decimal[ordinal];

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
