using System;
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
        ReadOnlySpan<byte> s = utf8.Trim(" \t\r\n"u8);
        json = string.Empty;
        if (s.IsEmpty)
        {
            return false;
        }

        bool braced = s[0] == (byte)'{';
        byte[] candidate = braced ? s.ToArray() : Wrap(s);
        if (IsObject(candidate))
        {
            json = Encoding.UTF8.GetString(candidate);
            return true;
        }

        byte[]? repaired = EscapeControlCharactersInStrings(candidate);
        if (repaired is not null && IsObject(repaired))
        {
            json = Encoding.UTF8.GetString(repaired);
            return true;
        }

        return false;
    }

    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>A JSON string holding <paramref name="text"/>: how a value that cannot be made an object is kept.</summary>
    public static string AsJsonString(string text) => JsonSerializer.Serialize(text, Readable);

    private static byte[] Wrap(ReadOnlySpan<byte> body)
    {
        var bytes = new byte[body.Length + 2];
        bytes[0] = (byte)'{';
        body.CopyTo(bytes.AsSpan(1));
        bytes[^1] = (byte)'}';
        return bytes;
    }

    private static bool IsObject(byte[] json)
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
