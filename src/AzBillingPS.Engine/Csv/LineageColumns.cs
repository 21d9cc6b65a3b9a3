using System.Collections.Generic;

namespace AzBillingPS.Engine.Csv;

/// <summary>The columns the module adds to every row: where it came from and which load wrote it.</summary>
internal static class LineageColumns
{
    public const string Scope = "_Scope";
    public const string Metric = "_Metric";
    public const string PeriodStart = "_PeriodStart";
    public const string PeriodEnd = "_PeriodEnd";
    public const string SourceFile = "_SourceFile";
    public const string ImportId = "_ImportId";
    public const string ImportedAt = "_ImportedAt";

    public static IReadOnlyList<CostColumn> All { get; } = new[]
    {
        new CostColumn(Scope, CostColumnType.Text),
        new CostColumn(Metric, CostColumnType.Text),
        new CostColumn(PeriodStart, CostColumnType.Date),
        new CostColumn(PeriodEnd, CostColumnType.Date),
        new CostColumn(SourceFile, CostColumnType.Text),
        new CostColumn(ImportId, CostColumnType.Guid),
        new CostColumn(ImportedAt, CostColumnType.Timestamp),
    };
}
