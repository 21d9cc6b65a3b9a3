using System;
using System.Collections.Generic;
using System.Data.Common;

namespace AzBillingPS.Engine.Csv;

/// <summary>
/// What a sink bulk-loads from: typed rows over one unified column list (data columns, then the lineage columns),
/// parsed and checked completely when <see cref="DbDataReader.Read"/> moves to a row. The CSV reader
/// (<see cref="CostDataReader"/>) and the Parquet reader (<see cref="Exports.ParquetCostReader"/>) are the two kinds.
/// </summary>
public abstract class CostRowReader : DbDataReader
{
    /// <summary>All columns: data columns then lineage columns.</summary>
    public abstract IReadOnlyList<CostColumn> Columns { get; }

    /// <summary>Rows read so far.</summary>
    public abstract long RowsRead { get; }

    /// <summary>When set, decimals are rounded (half away from zero, as the database's own conversion does) to this many fractional digits.</summary>
    public abstract int? DecimalScale { get; set; }

    /// <summary>The file the current row comes from (for errors a sink raises about a value), when known.</summary>
    public virtual string? CurrentFile => null;

    /// <summary>The line (or row number) of the current row in <see cref="CurrentFile"/>, when known; 0 otherwise.</summary>
    public virtual long CurrentLine => 0;

    /// <summary>A text value as UTF-8 bytes, valid until the next Read (text columns only).</summary>
    public abstract ReadOnlySpan<byte> GetUtf8(int ordinal);

    /// <summary>JSON values (Tags) that could not be made a JSON object and are kept as their text in a JSON string.</summary>
    public long JsonKeptAsText { get; private set; }

    /// <summary>Where the first of <see cref="JsonKeptAsText"/> is (file and line or row, column).</summary>
    public string? FirstJsonKeptAsText { get; private set; }

    /// <summary>A Tags value as a JSON object's text (EA's brace-less body wrapped), or its text in a JSON string, counted.</summary>
    protected string ToJson(ReadOnlySpan<byte> utf8, Func<string> where, out bool keptAsText)
    {
        keptAsText = !JsonTags.TryNormalize(utf8, out string json);
        if (keptAsText)
        {
            json = JsonTags.AsJsonString(System.Text.Encoding.UTF8.GetString(utf8));
            CountJsonKeptAsText(where);
        }

        return json;
    }

    /// <summary>Counts one more value kept as text (for a value whose conversion was reused from the row before).</summary>
    protected void CountJsonKeptAsText(Func<string> where)
    {
        ArgumentNullException.ThrowIfNull(where);
        JsonKeptAsText++;
        FirstJsonKeptAsText ??= where();
    }

    /// <summary>The load's warning about Tags values that could not be made a JSON object, if there were any.</summary>
    public static void WarnJsonKeptAsText(CostRowReader? reader, Common.IEngineLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (reader is { JsonKeptAsText: > 0 })
        {
            log.Warning(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{reader.JsonKeptAsText:N0} Tags value(s) could not be made a JSON object and were kept as their text in a JSON string (first at {reader.FirstJsonKeptAsText}); JSON queries see no tags on those rows."));
        }
    }
}
