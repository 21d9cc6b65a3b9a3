using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using AzBillingPS.Engine.Common;
using CsvHelper;

namespace AzBillingPS.Engine.Csv;

/// <summary>The header of one cost-details file, resolved against the catalog.</summary>
public sealed class CostFileHeader
{
    internal CostFileHeader(string path, IReadOnlyList<string> rawNames, IReadOnlyList<CostColumn> columns, int dateIndex, ColumnCatalog? catalog = null)
    {
        Path = path;
        Catalog = catalog ?? CostColumnCatalog.Instance;
        RawNames = rawNames;
        Columns = columns;
        DateIndex = dateIndex;
    }

    public string Path { get; }

    /// <summary>The dataset catalog the header was resolved against.</summary>
    public ColumnCatalog Catalog { get; }

    /// <summary>The header names as the file spells them.</summary>
    public IReadOnlyList<string> RawNames { get; }

    /// <summary>The canonical column of each field, in file order.</summary>
    public IReadOnlyList<CostColumn> Columns { get; }

    /// <summary>Index of the catalog's period column (Date for cost details) in the file; -1 when the dataset has none.</summary>
    public int DateIndex { get; }

    /// <summary>Headers the catalog does not know (kept as text columns).</summary>
    public IEnumerable<string> UnknownNames
    {
        get
        {
            foreach (string raw in RawNames)
            {
                if (!Catalog.IsKnown(raw))
                {
                    yield return raw;
                }
            }
        }
    }
}

/// <summary>Opens cost-details files the one way the engine reads them and resolves their headers.</summary>
internal static class CostFileSchema
{
    internal const int BufferSize = 1 << 16;

    private static readonly CsvReaderOptions Options = NewOptions(hasHeader: true);

    /// <summary>The same reading rules with the header read as a record, to see its raw bytes.</summary>
    private static readonly CsvReaderOptions HeaderBytesOptions = NewOptions(hasHeader: false);

    private static CsvReaderOptions NewOptions(bool hasHeader) => new()
    {
        HasHeader = hasHeader,
        Separator = ',',
        Mode = CsvMode.Rfc4180,
        AllowLineBreaksInQuotes = true,
        TrackLineNumbers = true,
        SkipEmptyLines = true,
        TrimWhitespace = false,
        // The engine checks every row's field count itself, to name the file and line.
        FieldCountMismatch = CsvFieldCountHandling.Allow,
        MissingField = CsvMissingFieldHandling.ReturnEmpty,
        // RFC 4180: a stray quote, text after a closing quote or an unterminated quote is an error, not a guess.
        MalformedData = CsvMalformedDataHandling.Throw,
        IncludeValuesInExceptions = false,
        BufferSize = BufferSize,
    };

    /// <summary>
    /// Opens a file for reading (UTF-8, BOM or not), positioned before the header. A gzip file (known by its first two
    /// bytes, 1F 8B, whatever its name) is decompressed as it is read.
    /// </summary>
    internal static CsvReader Open(string path) => CsvReader.Create(OpenStream(path), Options, false);

    /// <summary>The file's bytes; a gzip file's inflated bytes, bounded by <see cref="InflationLimit.Default"/> (a gzip bomb stops with DecompressionLimit).</summary>
    private static Stream OpenStream(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        try
        {
            return IsGzip(stream)
                ? InflationLimit.Default.Inflate(stream, stream.Length, path, "decompress it yourself if you trust it, and load the CSV")
                : stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>True when the stream starts with the gzip magic bytes; the stream is left at its start.</summary>
    internal static bool IsGzip(Stream stream)
    {
        Span<byte> magic = stackalloc byte[2];
        int n = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Position = 0;
        return n == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }

    /// <summary>True when the file starts with the gzip magic bytes.</summary>
    public static bool IsGzip(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        return IsGzip(stream);
    }

    /// <summary>Turns CsvHelper's malformed-data exception into one that names the file and line.</summary>
    internal static EngineException Malformed(string path, CsvFormatException e)
        => new(EngineErrorKind.CsvRaggedRow, $"{path}: line {e.LineNumber}: {e.Message}", e)
        {
            FilePath = path,
            Line = e.LineNumber,
        };

    /// <summary>
    /// Reads and resolves the header line of a file; fails with a message naming the file when it is missing, a folder,
    /// compressed under a name that says CSV (or a zip archive), empty or unusable.
    /// </summary>
    public static CostFileHeader ReadHeader(string path) => ReadHeader(path, null);

    /// <summary>Reads and resolves the header line of a file against a dataset catalog (cost details when null).</summary>
    public static CostFileHeader ReadHeader(string path, ColumnCatalog? catalog)
    {
        if (Directory.Exists(path))
        {
            throw new EngineException(EngineErrorKind.PathIsFolder, $"{path} is a folder, not a cost file; give the files in it, for example -Path '{Path.Combine(path, "*.csv")}'.") { FilePath = path };
        }

        if (!File.Exists(path))
        {
            throw new EngineException(EngineErrorKind.FileNotFound, $"Cost file not found: {path}") { FilePath = path };
        }

        RejectMislabelled(path);
        using CsvReader reader = Open(path);
        return ReadHeader(path, reader, catalog);
    }

    /// <summary>
    /// A file whose bytes are not what its name says: a zip archive, or gzip under a name that does not end in .gz (gzip
    /// is read, decompressed and bounded, only when the name says so: *.csv.gz as Save-AzCostBlob -Decompress:$false and
    /// Cost Management exports write it). Say so instead of reading binary as a header.
    /// </summary>
    private static void RejectMislabelled(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        int got;
        using (var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            got = probe.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        }

        bool gzipNamed = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        string? kind = got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b && !gzipNamed ? "gzip-compressed (it starts with the gzip signature 0x1F 0x8B), although its name says CSV text. Decompress it (for example 'gzip -dc file > file.csv'), or give it a .csv.gz name to load it as gzip"
            : got >= 4 && magic[0] == 0x50 && magic[1] == 0x4b && magic[2] == 0x03 && magic[3] == 0x04 ? "a zip archive (it starts with the zip signature PK 0x03 0x04), not CSV text. Extract the CSV files from it and load those"
            : null;
        if (kind is not null)
        {
            throw new EngineException(EngineErrorKind.CsvCompressedFile, $"{path}: the file looks {kind}.")
            {
                FilePath = path,
                Line = 1,
            };
        }
    }

    internal static CostFileHeader ReadHeader(string path, CsvReader reader, ColumnCatalog? catalog = null)
    {
        try
        {
            reader.ReadHeader();
        }
        catch (CsvFormatException e)
        {
            throw Malformed(path, e);
        }
        catch (InvalidDataException e)
        {
            throw new EngineException(EngineErrorKind.CsvBadHeader, $"{path}: the file starts like gzip but is not a valid gzip stream: {e.Message}", e) { FilePath = path };
        }

        if (reader.Headers.Count == 0)
        {
            throw new EngineException(EngineErrorKind.CsvEmptyFile,
                $"{path}: the file is empty; a cost-details file has at least a header line.") { FilePath = path, Line = 1 };
        }

        var raw = new string[reader.Headers.Count];
        bool suspicious = false;
        for (int i = 0; i < raw.Length; i++)
        {
            raw[i] = reader.Headers[i];
            suspicious |= raw[i].AsSpan().IndexOfAny('\uFFFD', '\0') >= 0;
        }

        if (suspicious)
        {
            // The header is decoded for us: a replacement character may stand for bytes that are not UTF-8. Look at the bytes.
            CheckHeaderBytes(path);
        }

        return Resolve(path, raw, catalog);
    }

    /// <summary>Reads the header line again as raw bytes and fails, naming the field, when it is not valid UTF-8 or holds a NUL.</summary>
    private static void CheckHeaderBytes(string path)
    {
        using CsvReader reader = CsvReader.Create(OpenStream(path), HeaderBytesOptions, false);
        try
        {
            if (!reader.Read())
            {
                return;
            }
        }
        catch (CsvFormatException e)
        {
            throw Malformed(path, e);
        }

        if (CsvText.IsClean(reader.RawRecord))
        {
            return;
        }

        throw CostDataReader.InvalidText(path, reader, null);
    }

    /// <summary>Resolves header names against a dataset catalog (cost details when null); checks duplicates and the period column.</summary>
    public static CostFileHeader Resolve(string path, string[] raw, ColumnCatalog? catalog = null)
    {
        ArgumentNullException.ThrowIfNull(raw);
        catalog ??= CostColumnCatalog.Instance;
        var columns = new CostColumn[raw.Length];
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int dateIndex = -1;
        for (int i = 0; i < raw.Length; i++)
        {
            string name = raw[i].Trim();
            if (name.Length == 0)
            {
                name = string.Create(CultureInfo.InvariantCulture, $"Column{i + 1}");
                raw[i] = name;
            }

            CostColumn column = catalog.Resolve(name);
            if (seen.TryGetValue(column.Name, out string? earlier))
            {
                throw new EngineException(EngineErrorKind.CsvDuplicateColumn,
                    $"{path}: line 1: columns '{CsvText.Printable(earlier)}' and '{CsvText.Printable(name)}' both hold {column.Name}; a file may name each column once.")
                {
                    FilePath = path,
                    Line = 1,
                    Column = name,
                };
            }

            seen.Add(column.Name, name);
            columns[i] = column;
            if (catalog.PeriodColumn is not null && string.Equals(column.Name, catalog.PeriodColumn, StringComparison.Ordinal))
            {
                dateIndex = i;
            }
        }

        if (catalog.PeriodColumn is not null && dateIndex < 0)
        {
            string what = ReferenceEquals(catalog, CostColumnCatalog.Instance) ? "an Azure cost-details file" : $"a {catalog.Dataset} file";
            throw new EngineException(EngineErrorKind.CsvBadHeader,
                $"{path}: line 1: no {catalog.PeriodColumn} column in the header ({Shorten(string.Join(",", raw))}); is this {what}?")
            {
                FilePath = path,
                Line = 1,
            };
        }

        return new CostFileHeader(path, raw, columns, dateIndex, catalog);
    }

    /// <summary>A value for a message: on one line, control characters and undecodable bytes escaped (never raw binary), cut to <paramref name="max"/>.</summary>
    internal static string Shorten(string? value, int max = 60) => CsvText.Printable(value, max);

    /// <summary>
    /// The first and last date in a set of files (reads only what it must). Used to find the period of files
    /// given by path when the caller did not name one. Returns null when the files hold no rows.
    /// </summary>
    public static (DateTime First, DateTime Last)? ScanDateRange(IReadOnlyList<CostFileHeader> files, System.Threading.CancellationToken cancellationToken)
    {
        DateTime? first = null, last = null;
        foreach (CostFileHeader file in files)
        {
            if (file.DateIndex < 0)
            {
                continue;
            }

            using CsvReader reader = Open(file.Path);
            ReadHeader(file.Path, reader, file.Catalog);
            try
            {
                while (reader.Read())
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (reader.FieldCount != file.Columns.Count)
                    {
                        throw CostDataReader.Ragged(file.Path, reader.LineNumber, reader.FieldCount, file.Columns.Count);
                    }

                    if (!CostValueParser.TryParseDate(reader.GetSpan(file.DateIndex), out DateTime date))
                    {
                        throw CostRowReader.BadValue(file.Path, reader.LineNumber, file.RawNames[file.DateIndex], reader.GetString(file.DateIndex), "a date");
                    }

                    if (first is null || date < first)
                    {
                        first = date;
                    }

                    if (last is null || date > last)
                    {
                        last = date;
                    }
                }
            }
            catch (CsvFormatException e)
            {
                throw Malformed(file.Path, e);
            }
        }

        return first is null ? null : (first.Value, last!.Value);
    }
}
