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
internal sealed record LineageValues(string Scope, string Metric, DateTime PeriodStart, DateTime PeriodEnd, Guid ImportId, DateTime ImportedAtUtc);

/// <summary>
/// Streams the rows of one load unit (one or more cost-details files) as typed values over one unified column
/// list (the union of the files' columns, then the lineage columns). A row is parsed and checked completely
/// when <see cref="Read"/> moves to it, so a sink never sees half a bad row; a bad value, a ragged row or a
/// row outside the unit's period fails the load with the file, line, column and value.
/// Nothing is buffered beyond CsvHelper's read buffer: memory does not grow with the file.
/// </summary>
internal sealed class CostDataReader : CostRowReader
{
    private CsvReader? _reader;
    private int[] _map = Array.Empty<int>();
    private long _bytesDone;
    private long _currentLine;

    public CostDataReader(IReadOnlyList<CostFileHeader> files, IReadOnlyList<CostColumn> dataColumns, LineageValues lineage, CancellationToken cancellationToken)
        : base(files, dataColumns, lineage, cancellationToken)
    {
    }

    /// <summary>Bytes of the files consumed so far (approximate within the current file).</summary>
    public override long BytesRead => _bytesDone + (_reader?.ByteOffset ?? 0);

    /// <summary>The line (in <see cref="CostRowReader.CurrentFile"/>) of the row <see cref="Read"/> moved to last.</summary>
    public override long CurrentLine => _currentLine;

    public override bool Read()
    {
        while (true)
        {
            Cancellation.ThrowIfCancellationRequested();
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
                throw CostFileSchema.Malformed(Files[FileIndex].Path, e);
            }

            if (read)
            {
                ParseCurrent();
                Counted();
                return true;
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
        _reader = CostFileSchema.Open(file.Path);
        CostFileHeader now = CostFileSchema.ReadHeader(file.Path, _reader, file.Catalog);
        if (now.Columns.Count != file.Columns.Count)
        {
            throw new EngineException(EngineErrorKind.CsvBadHeader, $"{file.Path}: the file changed while it was being loaded.") { FilePath = file.Path };
        }

        _map = new int[DataCount];
        Array.Fill(_map, -1);
        for (int i = 0; i < file.Columns.Count; i++)
        {
            _map[OrdinalOf(file.Columns[i].Name)] = i;
        }

        SetSourceFile(file.Path);
        return true;
    }

    protected override void CloseCurrent()
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
        CostFileHeader file = Files[FileIndex];
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

        for (int o = 0; o < DataCount; o++)
        {
            int index = _map[o];
            if (index < 0)
            {
                Nulls[o] = true;
                continue;
            }

            ReadOnlySpan<byte> value = reader.GetSpan(index);
            if (value.IsEmpty)
            {
                if (index == file.DateIndex)
                {
                    throw BadValue(file.Path, line, file.RawNames[index], string.Empty, "a date (the Date column may not be empty)");
                }

                Nulls[o] = true;
                continue;
            }

            CostColumnType type = Columns[o].Type;
            if (type == CostColumnType.Json)
            {
                SetJson(o, value);
                continue;
            }

            Nulls[o] = false;
            bool parsed = type switch
            {
                CostColumnType.Decimal => CostValueParser.TryParseDecimal(value, out Decimals[o]),
                CostColumnType.Date => CostValueParser.TryParseDate(value, out Dates[o]),
                CostColumnType.Timestamp => CostValueParser.TryParseTimestamp(value, out Dates[o]),
                CostColumnType.Boolean => CostValueParser.TryParseBoolean(value, out Bools[o]),
                CostColumnType.Guid => CostValueParser.TryParseGuid(value, out Guids[o]),
                _ => true, // text: made on demand (GetString), or read as UTF-8 (GetUtf8)
            };

            if (!parsed)
            {
                throw BadValue(file.Path, line, file.RawNames[index], reader.GetString(index), Expected(type));
            }

            Text[o] = null;
        }

        if (file.DateIndex >= 0)
        {
            // Datasets without a period column (the price sheet, the reservation datasets) have no dates to check.
            CheckPeriod(file.Path, line, "line", file.RawNames[file.DateIndex]);
        }
    }

    protected override string Where(int ordinal)
        => string.Create(CultureInfo.InvariantCulture, $"{Files[FileIndex].Path}: line {_currentLine}, column '{Files[FileIndex].RawNames[_map[ordinal]]}'");

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

    /// <summary>A text value as the file's UTF-8 bytes, straight from the CSV reader's buffer.</summary>
    protected override ReadOnlySpan<byte> DataUtf8(int ordinal) => _reader!.GetSpan(_map[ordinal]);
}
