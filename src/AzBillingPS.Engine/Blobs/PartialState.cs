using System;
using System.Globalization;
using System.IO;
using System.Text;

namespace AzBillingPS.Engine.Blobs;

/// <summary>
/// What a <c>.partial</c> file holds, kept next to it as <c>&lt;file&gt;.partial.state</c> so a later run resumes it
/// only when it belongs to the same blob: the blob's address without the query (never the signature), its length
/// and its ETag (sent as If-Match on the Range request, so a changed blob starts again from the first byte). A download
/// in parallel ranges (<see cref="ParallelRanges"/>) adds the range size and which ranges are complete
/// (<see cref="RangeSize"/>, <see cref="Done"/>: one '1' or '0' per range); without them the <c>.partial</c> holds the
/// blob's first bytes, as many as its length.
/// </summary>
internal sealed record PartialState(string Blob, long Bytes, string ETag, long RangeSize = 0, string? Done = null)
{
    private const string Header = "AzBillingPS partial download v1";

    public static PartialState? Read(string path)
    {
        try
        {
            if (!Common.PrivateFiles.IsOwnedFile(path))
            {
                return null; // missing, or not a file this module made (a link is never followed)
            }

            string[] lines = File.ReadAllLines(path, Encoding.UTF8);
            if (lines.Length < 4 || !string.Equals(lines[0], Header, StringComparison.Ordinal))
            {
                return null;
            }

            string? blob = Value(lines, "blob");
            string? etag = Value(lines, "etag");
            if (blob is null || string.IsNullOrEmpty(etag) || !long.TryParse(Value(lines, "bytes"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long bytes))
            {
                return null;
            }

            long rangeSize = 0;
            string? done = Value(lines, "done");
            if (Value(lines, "ranges") is string ranges
                && (!long.TryParse(ranges, NumberStyles.Integer, CultureInfo.InvariantCulture, out rangeSize) || rangeSize <= 0
                    || done is null || done.Length != (bytes + rangeSize - 1) / rangeSize || done.AsSpan().IndexOfAnyExcept('0', '1') >= 0))
            {
                return null;
            }

            return new PartialState(blob, bytes, etag, rangeSize, rangeSize > 0 ? done : null);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Write(string path)
    {
        string text = string.Create(CultureInfo.InvariantCulture, $"{Header}\nblob={Blob}\nbytes={Bytes}\netag={ETag}\n");
        if (RangeSize > 0)
        {
            text += string.Create(CultureInfo.InvariantCulture, $"ranges={RangeSize}\ndone={Done}\n");
        }

        string temp = path + ".tmp";
        Common.PrivateFiles.DeleteOwned(temp);
        using (FileStream stream = Common.PrivateFiles.CreateNew(temp))
        {
            stream.Write(new UTF8Encoding(false).GetBytes(text));
        }

        // A rename replaces the name itself: it never writes through a link that may be there.
        File.Move(temp, path, overwrite: true);
    }

    private static string? Value(string[] lines, string key)
    {
        foreach (string line in lines)
        {
            if (line.StartsWith(key + "=", StringComparison.Ordinal))
            {
                return line.Substring(key.Length + 1);
            }
        }

        return null;
    }
}
