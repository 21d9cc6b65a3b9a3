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
}
