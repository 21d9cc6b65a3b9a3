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
    internal CostFileHeader(string path, IReadOnlyList<string> rawNames, IReadOnlyList<CostColumn> columns, int dateIndex)
    {
        Path = path;
        RawNames = rawNames;
        Columns = columns;
        DateIndex = dateIndex;
    }

    public string Path { get; }

    /// <summary>The header names as the file spells them.</summary>
    public IReadOnlyList<string> RawNames { get; }

    /// <summary>The canonical column of each field, in file order.</summary>
    public IReadOnlyList<CostColumn> Columns { get; }

    /// <summary>Index of the Date column in the file.</summary>
    public int DateIndex { get; }

    /// <summary>Headers the catalog does not know (kept as text columns).</summary>
    public IEnumerable<string> UnknownNames
    {
        get
        {
            foreach (string raw in RawNames)
            {
                if (!CostColumnCatalog.IsKnown(raw))
                {
                    yield return raw;
                }
            }
        }
    }
}

/// <summary>Opens cost-details files the one way the engine reads them and resolves their headers.</summary>
public static class CostFileSchema
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

    /// <summary>Opens a file for reading (UTF-8, BOM or not), positioned before the header.</summary>
    internal static CsvReader Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        return CsvReader.Create(stream, Options, false);
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
    /// compressed (gzip or zip), empty or unusable.
    /// </summary>
    public static CostFileHeader ReadHeader(string path)
    {
        if (Directory.Exists(path))
        {
            throw new EngineException(EngineErrorKind.PathIsFolder, $"{path} is a folder, not a cost file; give the files in it, for example -Path '{Path.Combine(path, "*.csv")}'.") { FilePath = path };
        }

        if (!File.Exists(path))
        {
            throw new EngineException(EngineErrorKind.FileNotFound, $"Cost file not found: {path}") { FilePath = path };
        }

        RejectCompressed(path);
        using CsvReader reader = Open(path);
        return ReadHeader(path, reader);
    }

    /// <summary>A file that starts with the gzip or zip signature is not CSV text: say so instead of reading binary as a header.</summary>
    private static void RejectCompressed(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        int got;
        using (var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            got = probe.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
        }

        string? kind = got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b ? "gzip-compressed (it starts with the gzip signature 0x1F 0x8B)"
            : got >= 4 && magic[0] == 0x50 && magic[1] == 0x4b && magic[2] == 0x03 && magic[3] == 0x04 ? "a zip archive (it starts with the zip signature PK 0x03 0x04)"
            : null;
        if (kind is not null)
        {
            throw new EngineException(EngineErrorKind.CsvCompressedFile,
                $"{path}: the file looks {kind}, not CSV text. Decompress it first (for example 'gzip -dc file.csv.gz > file.csv'), or let Save-AzCostBlob decompress report blobs (its default).")
            {
                FilePath = path,
                Line = 1,
            };
        }
    }

    internal static CostFileHeader ReadHeader(string path, CsvReader reader)
    {
        try
        {
            reader.ReadHeader();
        }
        catch (CsvFormatException e)
        {
            throw Malformed(path, e);
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

        return Resolve(path, raw);
    }

    /// <summary>Reads the header line again as raw bytes and fails, naming the field, when it is not valid UTF-8 or holds a NUL.</summary>
    private static void CheckHeaderBytes(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        using CsvReader reader = CsvReader.Create(stream, HeaderBytesOptions, false);
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

    internal static CostFileHeader Resolve(string path, string[] raw)
    {
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

            CostColumn column = CostColumnCatalog.Resolve(name);
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
            if (string.Equals(column.Name, CostColumnCatalog.DateColumn, StringComparison.Ordinal))
            {
                dateIndex = i;
            }
        }

        if (dateIndex < 0)
        {
            throw new EngineException(EngineErrorKind.CsvBadHeader,
                $"{path}: line 1: no Date column in the header ({Shorten(string.Join(",", raw))}); is this an Azure cost-details file?")
            {
                FilePath = path,
                Line = 1,
            };
        }

        return new CostFileHeader(path, raw, columns, dateIndex);
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
            using CsvReader reader = Open(file.Path);
            ReadHeader(file.Path, reader);
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
                        throw CostDataReader.BadValue(file.Path, reader.LineNumber, file.RawNames[file.DateIndex], reader.GetString(file.DateIndex), "a date");
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
