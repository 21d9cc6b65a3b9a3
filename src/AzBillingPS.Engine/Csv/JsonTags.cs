using System;
using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AzBillingPS.Engine.Csv;

/// <summary>
/// Tags as a JSON object, whatever the file's spelling: EA files carry the object's body without braces
/// (<c>"env": "prod","org": "x"</c>), which is wrapped; a raw line break or tab inside a value (seen in the wild) is
/// escaped. A value that still is not a JSON object is kept as its text inside a JSON string (so every stored value is
/// valid JSON and the databases' JSON functions never fail on a row), and the caller counts it.
/// </summary>
public static class JsonTags
{
    /// <summary>The value as a JSON object's text, or false when it cannot be made one.</summary>
    public static bool TryNormalize(ReadOnlySpan<byte> utf8, out string json)
    {
        byte[] buffer = Array.Empty<byte>();
        bool ok = TryNormalize(utf8, ref buffer, out int length);
        json = ok ? Encoding.UTF8.GetString(buffer, 0, length) : string.Empty;
        return ok;
    }

    /// <summary>
    /// The value as a JSON object's UTF-8 text, written into <paramref name="buffer"/> (made larger when it must be), or
    /// false when it cannot be made one. Nothing is allocated for a value that is an object as it stands or once wrapped,
    /// which is every value but the rare one with raw control characters.
    /// </summary>
    public static bool TryNormalize(ReadOnlySpan<byte> utf8, ref byte[] buffer, out int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ReadOnlySpan<byte> s = utf8.Trim(" \t\r\n"u8);
        length = 0;
        if (s.IsEmpty)
        {
            return false;
        }

        bool braced = s[0] == (byte)'{';
        int candidate = braced ? s.Length : s.Length + 2;
        Reserve(ref buffer, candidate);
        if (braced)
        {
            s.CopyTo(buffer);
        }
        else
        {
            buffer[0] = (byte)'{';
            s.CopyTo(buffer.AsSpan(1));
            buffer[candidate - 1] = (byte)'}';
        }

        if (IsObject(buffer.AsSpan(0, candidate)))
        {
            length = candidate;
            return true;
        }

        byte[]? repaired = EscapeControlCharactersInStrings(buffer.AsSpan(0, candidate).ToArray());
        if (repaired is not null && IsObject(repaired))
        {
            Reserve(ref buffer, repaired.Length);
            repaired.CopyTo(buffer, 0);
            length = repaired.Length;
            return true;
        }

        return false;
    }

    private static readonly JsonWriterOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A JSON string holding <paramref name="text"/>: how a value that cannot be made an object is kept.</summary>
    public static string AsJsonString(string text)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output, Readable))
        {
            writer.WriteStringValue(text);
        }

        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>The UTF-8 text <paramref name="utf8"/> as a JSON string (the escapes of <see cref="AsJsonString"/>), written into <paramref name="buffer"/>.</summary>
    public static void WriteJsonString(ReadOnlySpan<byte> utf8, ref byte[] buffer, out int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        var output = new ArrayBufferWriter<byte>(utf8.Length + 16);
        try
        {
            using var writer = new Utf8JsonWriter(output, Readable);
            writer.WriteStringValue(utf8);
        }
        catch (ArgumentException)
        {
            // Not valid UTF-8 (the readers check their text, so only in theory): as the text decodes, replacement characters included.
            output = new ArrayBufferWriter<byte>();
            output.Write(Encoding.UTF8.GetBytes(AsJsonString(Encoding.UTF8.GetString(utf8))));
        }

        Reserve(ref buffer, output.WrittenCount);
        output.WrittenSpan.CopyTo(buffer);
        length = output.WrittenCount;
    }

    private static void Reserve(ref byte[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new byte[Math.Max(length, buffer.Length * 2)];
        }
    }

    private static bool IsObject(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            reader.Skip();
            return !reader.Read(); // nothing after the object
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Escapes raw control characters inside string literals (structure untouched); null when there are none.</summary>
    private static byte[]? EscapeControlCharactersInStrings(byte[] json)
    {
        var sb = new StringBuilder(json.Length + 16);
        bool inString = false;
        bool escaped = false;
        bool changed = false;
        foreach (char c in Encoding.UTF8.GetString(json))
        {
            if (inString && !escaped && c < 0x20)
            {
                sb.Append(c switch
                {
                    '\n' => "\\n",
                    '\r' => "\\r",
                    '\t' => "\\t",
                    _ => "\\u" + ((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture),
                });
                changed = true;
                continue;
            }

            sb.Append(c);
            if (escaped)
            {
                escaped = false;
            }
            else if (c == '\\' && inString)
            {
                escaped = true;
            }
            else if (c == '"')
            {
                inString = !inString;
            }
        }

        return changed ? Encoding.UTF8.GetBytes(sb.ToString()) : null;
    }
}
