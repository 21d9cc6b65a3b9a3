using System;
using System.Buffers;
using System.IO;
using System.Text;

namespace AzBillingPS.TestData;

/// <summary>A small, fast RFC 4180 writer: UTF-8 with BOM, buffered, quotes only where needed.</summary>
internal sealed class CsvOut : IDisposable
{
    private static readonly SearchValues<char> NeedsQuote = SearchValues.Create(",\"\r\n");
    private readonly StreamWriter _writer;
    private readonly string _newLine;
    private bool _atLineStart = true;

    public CsvOut(string path, string newLine)
        : this(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, FileOptions.SequentialScan), newLine)
    {
    }

    /// <summary>Writes into <paramref name="stream"/> (for example a GZipStream), which the writer owns.</summary>
    public CsvOut(Stream stream, string newLine)
    {
        _writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true), 1 << 20);
        _newLine = newLine;
    }

    public void Field(string value)
    {
        if (!_atLineStart) _writer.Write(',');
        _atLineStart = false;
        if (value.Length == 0) return;
        if (value.AsSpan().IndexOfAny(NeedsQuote) < 0)
        {
            _writer.Write(value);
            return;
        }
        _writer.Write('"');
        int start = 0;
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == '"')
            {
                _writer.Write(value.AsSpan(start, i - start + 1));
                _writer.Write('"');
                start = i + 1;
            }
        }
        _writer.Write(value.AsSpan(start));
        _writer.Write('"');
    }

    public void EndRow()
    {
        _writer.Write(_newLine);
        _atLineStart = true;
    }

    public long Flush()
    {
        _writer.Flush();
        return _writer.BaseStream.Length;
    }

    public void Dispose() => _writer.Dispose();
}
