using System;
using System.Collections.Generic;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;

namespace AzBillingPS.Engine.Sinks;

/// <summary>What a summary row is grouped by, besides its metric and currency (which every summary groups by).</summary>
public enum SummaryKeyKind
{
    Month,
    Day,
    Scope,
    Subscription,
    ResourceGroup,
    Service,
    Location,
    Tag,
    Column,
}

/// <summary>One grouping key: a named dimension, a tag (Tag:env) or any column of the table.</summary>
public sealed record SummaryKey(SummaryKeyKind Kind, string Name)
{
    /// <summary>
    /// Parses a -GroupBy value: Month, Day, Scope, Subscription, ResourceGroup, Service, Location, Tag:name, or a
    /// column name (matched against the table when the query runs).
    /// </summary>
    public static SummaryKey Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        string v = value.Trim();
        if (v.StartsWith("Tag:", StringComparison.OrdinalIgnoreCase))
        {
            string tag = v[4..].Trim();
            if (tag.Length == 0)
            {
                throw new EngineException(EngineErrorKind.InvalidArgument, "-GroupBy Tag: needs the tag's name, for example Tag:env.");
            }

            return new SummaryKey(SummaryKeyKind.Tag, tag);
        }

        foreach (SummaryKeyKind kind in Enum.GetValues<SummaryKeyKind>())
        {
            if (kind is not (SummaryKeyKind.Tag or SummaryKeyKind.Column) && kind.ToString().Equals(v, StringComparison.OrdinalIgnoreCase))
            {
                return new SummaryKey(kind, kind.ToString());
            }
        }

        return v.Equals("SubscriptionId", StringComparison.OrdinalIgnoreCase) ? new SummaryKey(SummaryKeyKind.Subscription, nameof(SummaryKeyKind.Subscription))
            : v.Equals("MeterCategory", StringComparison.OrdinalIgnoreCase) ? new SummaryKey(SummaryKeyKind.Service, nameof(SummaryKeyKind.Service))
            : new SummaryKey(SummaryKeyKind.Column, v);
    }

    /// <summary>The key's label in output: the dimension's name, Tag:name, or the column's name as the table spells it.</summary>
    public string Label => Kind == SummaryKeyKind.Tag ? "Tag:" + Name : Name;

    public bool IsTime => Kind is SummaryKeyKind.Month or SummaryKeyKind.Day;
}

/// <summary>What Get-AzCostSummary asks: filters, grouping and a top-N cut.</summary>
public sealed record CostSummaryQuery
{
    /// <summary>Scopes in the stored spelling; * and ? are wildcards.</summary>
    public IReadOnlyList<string> Scopes { get; init; } = Array.Empty<string>();

    public DateTime? From { get; init; }

    public DateTime? To { get; init; }

    public IReadOnlyList<string> Metrics { get; init; } = Array.Empty<string>();

    public IReadOnlyList<SummaryKey> GroupBy { get; init; } = new[] { new SummaryKey(SummaryKeyKind.Month, "Month"), new SummaryKey(SummaryKeyKind.Service, "Service") };

    /// <summary>Keep the N costliest rows of each metric and currency (and of each month or day when grouped by one).</summary>
    public int? Top { get; init; }

    /// <summary>How long the read waits for a lock on the table (or a SQLite file another process is writing to).</summary>
    public TimeSpan LockTimeout { get; init; } = CostSink.DefaultReadLockTimeout;
}

/// <summary>One row of a summary: its metric and currency, the value of each grouping key (in query order), the cost and the row count.</summary>
public sealed record CostSummaryRow(string Metric, string Currency, IReadOnlyList<object?> Keys, decimal Cost, long Rows);

/// <summary>A summary's rows and the keys they are grouped by (labels as the table spells them).</summary>
public sealed record CostSummaryResult(IReadOnlyList<SummaryKey> Keys, IReadOnlyList<CostSummaryRow> Rows);

/// <summary>
/// Get-AzCostSummary's query, generated for each database from the table's own columns. Costs of two metrics or two
/// currencies are never added together: metric and currency are always grouping keys. The sum is rounded and cast in
/// SQL (<see cref="Scale"/> fractional digits) so a total of any size fits a .NET decimal.
/// </summary>
public static class CostSummary
{
    /// <summary>Fractional digits of a summary's cost: sums are exact in the database, then rounded half away from zero to this scale.</summary>
    public const int Scale = 6;

    private const string Metric = "Metric";
    private const string Currency = "Currency";
    private const string CostAlias = "Cost";
    private const string RowsAlias = "Rows";

    /// <summary>Runs the summary against the target (which must hold the table). Throws NotFound when the table does not exist.</summary>
    public static async Task<CostSummaryResult> RunAsync(SinkTarget target, CostSummaryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(query);
        CostSink sink = CostSink.Create(target);
        try
        {
            return await ReadAsync(sink, target, query, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            throw new EngineException(EngineErrorKind.DatabaseCommand, $"Summarising {target.DisplayTable} on {sink.Describe()} failed: {e.Message}", e);
        }
    }

    private static Task<CostSummaryResult> ReadAsync(CostSink sink, SinkTarget target, CostSummaryQuery query, CancellationToken cancellationToken)
        => sink.ReadAsync(query.LockTimeout, async (connection, ct) =>
        {
            IReadOnlyDictionary<string, string> columns = await TableColumns.ReadAsync(target, connection, null, ct).ConfigureAwait(false);
            if (columns.Count == 0)
            {
                throw new EngineException(EngineErrorKind.NotFound, $"Table {target.DisplayTable} does not exist on {sink.Describe()}.");
            }

            (string sql, IReadOnlyList<SummaryKey> keys, IReadOnlyList<(string Name, object Value, bool IsDate)> parameters) = Build(target, columns, query);
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = sql;
            command.CommandTimeout = 0;
            foreach ((string name, object value, bool isDate) in parameters)
            {
                DbParameter p = command.CreateParameter();
                p.ParameterName = "@" + name;
                if (isDate && target.Provider != DatabaseProvider.Sqlite)
                {
                    p.DbType = DbType.Date;
                }

                p.Value = value;
                command.Parameters.Add(p);
            }

            var rows = new List<CostSummaryRow>();
            await using DbDataReader reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var values = new object?[keys.Count];
                for (int i = 0; i < keys.Count; i++)
                {
                    values[i] = KeyValue(keys[i], reader.IsDBNull(2 + i) ? null : reader.GetValue(2 + i));
                }

                int c = 2 + keys.Count;
                rows.Add(new CostSummaryRow(
                    reader.IsDBNull(0) ? string.Empty : reader.GetString(0),
                    reader.IsDBNull(1) ? string.Empty : reader.GetString(1),
                    values,
                    reader.IsDBNull(c) ? 0m : ToDecimal(reader.GetValue(c)),
                    Convert.ToInt64(reader.GetValue(c + 1), CultureInfo.InvariantCulture)));
            }

            return new CostSummaryResult(keys, rows);
        }, cancellationToken);

    /// <summary>The scopes a cost table holds (for tab completion); empty when the table does not exist.</summary>
    public static async Task<IReadOnlyList<string>> ScopesAsync(SinkTarget target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        CostSink sink = CostSink.Create(target);
        await using DbConnection connection = await sink.OpenAsync(cancellationToken).ConfigureAwait(false);
        if ((await TableColumns.ReadAsync(target, connection, null, cancellationToken).ConfigureAwait(false)).Count == 0)
        {
            return Array.Empty<string>();
        }

        await using DbCommand command = connection.CreateCommand();
        command.CommandText = ScopesSql(target);
        var scopes = new List<string>();
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!reader.IsDBNull(0))
            {
                scopes.Add(reader.GetString(0));
            }
        }

        return scopes;
    }

    /// <summary>The distinct scopes of a cost table, in order.</summary>
    public static string ScopesSql(SinkTarget target)
    {
        ArgumentNullException.ThrowIfNull(target);
        string scope = target.Dialect.Quote(LineageColumns.Scope);
        return $"SELECT DISTINCT {scope} FROM {target.QualifiedTable} ORDER BY {scope}";
    }

    /// <summary>
    /// The summary's SQL for a table with the given columns (name to the database's type name), the keys as resolved
    /// against the table, and the parameters. Public so every dialect's statement can be read and parsed in tests.
    /// </summary>
    public static (string Sql, IReadOnlyList<SummaryKey> Keys, IReadOnlyList<(string Name, object Value, bool IsDate)> Parameters) Build(
        SinkTarget target, IReadOnlyDictionary<string, string> columns, CostSummaryQuery query)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(query);
        SqlDialect d = target.Dialect;
        var parameters = new List<(string, object, bool)>();
        string P(string name, object value, bool isDate = false)
        {
            parameters.Add((name, value, isDate));
            return d.Parameter(name);
        }

        string? Column(params string[] names) => names.Select(n => columns.Keys.FirstOrDefault(c => c.Equals(n, StringComparison.OrdinalIgnoreCase))).FirstOrDefault(c => c is not null);
        string Need(string what, params string[] names)
            => Column(names) ?? throw new EngineException(EngineErrorKind.InvalidArgument,
                $"{target.DisplayTable} has no {string.Join(" or ", names)} column to group by {what}.");

        string date = d.Quote(Column(CostColumnCatalog.DateColumn) ?? CostColumnCatalog.DateColumn);
        string cost = d.Quote(Column("CostInBillingCurrency") ?? "CostInBillingCurrency");
        string? currencyColumn = Column("BillingCurrencyCode");
        string currency = currencyColumn is null ? "''" : d.Quote(currencyColumn);

        var keys = new List<SummaryKey>();
        var expressions = new List<string>();
        foreach (SummaryKey key in query.GroupBy)
        {
            SummaryKey resolved = key;
            string expression;
            switch (key.Kind)
            {
                case SummaryKeyKind.Month:
                    expression = DateText(d.Provider, date, 7);
                    break;
                case SummaryKeyKind.Day:
                    expression = DateText(d.Provider, date, 10);
                    break;
                case SummaryKeyKind.Scope:
                    expression = d.Quote(LineageColumns.Scope);
                    break;
                case SummaryKeyKind.Subscription:
                    expression = AsText(d.Provider, d.Quote(Need("subscription", "SubscriptionId")));
                    break;
                case SummaryKeyKind.ResourceGroup:
                    expression = d.Quote(Need("resource group", "ResourceGroup"));
                    break;
                case SummaryKeyKind.Service:
                    expression = d.Quote(Need("service", "MeterCategory", "ServiceFamily"));
                    break;
                case SummaryKeyKind.Location:
                    expression = d.Quote(Need("location", "ResourceLocation", "Location", "ResourceLocationNormalized"));
                    break;
                case SummaryKeyKind.Tag:
                    string tags = Need("tag", "Tags");
                    expression = TagValue(d.Provider, d.Quote(tags), columns[tags], P("tag" + keys.Count.ToString(CultureInfo.InvariantCulture), TagPath(d.Provider, key.Name)));
                    break;
                default:
                    string column = Column(key.Name) ?? throw new EngineException(EngineErrorKind.InvalidArgument,
                        $"-GroupBy {key.Name}: {target.DisplayTable} has no such column. Group by Month, Day, Scope, Subscription, ResourceGroup, Service, Location, Tag:<name>, or one of its columns: {string.Join(", ", columns.Keys.Order(StringComparer.OrdinalIgnoreCase))}.");
                    resolved = key with { Name = column };
                    expression = AsText(d.Provider, d.Quote(column));
                    break;
            }

            if (keys.Any(k => k.Label.Equals(resolved.Label, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            keys.Add(resolved);
            expressions.Add(expression);
        }

        var where = new List<string>();
        if (query.Scopes.Count > 0)
        {
            var any = new List<string>();
            for (int i = 0; i < query.Scopes.Count; i++)
            {
                string s = query.Scopes[i];
                string name = "scope" + i.ToString(CultureInfo.InvariantCulture);
                any.Add(s.Contains('*', StringComparison.Ordinal) || s.Contains('?', StringComparison.Ordinal)
                    ? $"{d.Quote(LineageColumns.Scope)} LIKE {P(name, Like(s))} ESCAPE '\\'"
                    : $"{d.Quote(LineageColumns.Scope)} = {P(name, s)}");
            }

            where.Add("(" + string.Join(" OR ", any) + ")");
        }

        if (query.Metrics.Count > 0)
        {
            where.Add($"{d.Quote(LineageColumns.Metric)} IN ({string.Join(", ", query.Metrics.Select((m, i) => P("metric" + i.ToString(CultureInfo.InvariantCulture), m)))})");
        }

        if (query.From is DateTime from)
        {
            where.Add($"{date} >= {P("from", DateValue(d.Provider, from), true)}");
        }

        if (query.To is DateTime to)
        {
            where.Add($"{date} <= {P("to", DateValue(d.Provider, to), true)}");
        }

        // Inner: one row per cost row with its keys; middle: the groups (and their rank for -Top); outer: order.
        string[] k = expressions.Select((_, i) => d.Quote("k" + i.ToString(CultureInfo.InvariantCulture))).ToArray();
        string inner = "SELECT " + string.Join(", ",
                new[] { $"{d.Quote(LineageColumns.Metric)} AS {d.Quote(Metric)}", $"{currency} AS {d.Quote(Currency)}" }
                .Concat(expressions.Select((e, i) => $"{e} AS {k[i]}"))
                .Append($"{cost} AS {d.Quote("c")}"))
            + $" FROM {target.QualifiedTable}" + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : string.Empty);

        string[] groupColumns = new[] { d.Quote(Metric), d.Quote(Currency) }.Concat(k).ToArray();
        string[] timeColumns = keys.Select((key, i) => key.IsTime ? k[i] : null).OfType<string>().ToArray();
        var middle = new StringBuilder("SELECT ")
            .Append(string.Join(", ", groupColumns))
            .Append(", ").Append(RoundedSum(d.Provider, d.Quote("c"))).Append(" AS ").Append(d.Quote(CostAlias))
            .Append(", ").Append(d.Provider == DatabaseProvider.SqlServer ? "COUNT_BIG(*)" : "COUNT(*)").Append(" AS ").Append(d.Quote(RowsAlias));
        if (query.Top is int)
        {
            middle.Append(", ROW_NUMBER() OVER (PARTITION BY ")
                .Append(string.Join(", ", new[] { d.Quote(Metric), d.Quote(Currency) }.Concat(timeColumns)))
                .Append(" ORDER BY SUM(").Append(d.Quote("c")).Append(") DESC) AS ").Append(d.Quote("rank"));
        }

        middle.Append(" FROM (").Append(inner).Append(") AS ").Append(d.Quote("r"))
            .Append(" GROUP BY ").Append(string.Join(", ", groupColumns));

        string order = string.Join(", ", timeColumns.Concat(new[] { d.Quote(Metric), d.Quote(Currency), d.Quote(CostAlias) + " DESC" }).Concat(k.Except(timeColumns)));
        string sql = "SELECT " + string.Join(", ", groupColumns) + ", " + d.Quote(CostAlias) + ", " + d.Quote(RowsAlias)
            + " FROM (" + middle + ") AS " + d.Quote("g")
            + (query.Top is int top ? $" WHERE {d.Quote("rank")} <= {P("top", top)}" : string.Empty)
            + " ORDER BY " + order;
        return (sql, keys, parameters);
    }

    /// <summary>The yyyy-MM (7) or yyyy-MM-dd (10) text of a date column.</summary>
    private static string DateText(DatabaseProvider provider, string column, int length) => provider switch
    {
        DatabaseProvider.SqlServer => $"CONVERT(char({length.ToString(CultureInfo.InvariantCulture)}), {column}, 126)",
        DatabaseProvider.PostgreSql => $"to_char({column}, '{(length == 7 ? "YYYY-MM" : "YYYY-MM-DD")}')",
        _ => $"substr({column}, 1, {length.ToString(CultureInfo.InvariantCulture)})",
    };

    private static string AsText(DatabaseProvider provider, string column) => provider switch
    {
        DatabaseProvider.SqlServer => $"CAST({column} AS nvarchar(max))",
        DatabaseProvider.PostgreSql => $"CAST({column} AS text)",
        _ => column,
    };

    /// <summary>The sum, rounded and cast in SQL so it fits a .NET decimal whatever its size (SQLite: REAL, rounded).</summary>
    private static string RoundedSum(DatabaseProvider provider, string column)
    {
        string scale = Scale.ToString(CultureInfo.InvariantCulture);
        return provider switch
        {
            DatabaseProvider.SqlServer => $"CAST(ROUND(SUM({column}), {scale}) AS decimal(38,{scale}))",
            DatabaseProvider.PostgreSql => $"CAST(ROUND(SUM({column}), {scale}) AS numeric(38,{scale}))",
            _ => $"ROUND(SUM({column}), {scale})",
        };
    }

    /// <summary>A tag's value from the Tags column, NULL where the row's tags are not a JSON object.</summary>
    private static string TagValue(DatabaseProvider provider, string tags, string typeName, string path) => provider switch
    {
        DatabaseProvider.SqlServer => $"CASE WHEN ISJSON({tags}) = 1 THEN JSON_VALUE({tags}, {path}) END",
        DatabaseProvider.PostgreSql when typeName.Equals("jsonb", StringComparison.OrdinalIgnoreCase) || typeName.Equals("json", StringComparison.OrdinalIgnoreCase)
            => $"CASE WHEN jsonb_typeof({tags}::jsonb) = 'object' THEN {tags}::jsonb ->> CAST({path} AS text) END",
        DatabaseProvider.PostgreSql => $"CASE WHEN {tags} ~ '^\\s*\\{{.*\\}}\\s*$' THEN CAST({tags} AS jsonb) ->> CAST({path} AS text) END",
        _ => $"CASE WHEN json_valid({tags}) THEN json_extract({tags}, {path}) END",
    };

    /// <summary>The path argument for a tag: a JSON path on SQL Server and SQLite, the key itself on PostgreSQL.</summary>
    private static string TagPath(DatabaseProvider provider, string tag)
        => provider == DatabaseProvider.PostgreSql ? tag : "$.\"" + tag.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static object DateValue(DatabaseProvider provider, DateTime value)
        => provider == DatabaseProvider.Sqlite ? value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : value.Date;

    /// <summary>A PowerShell wildcard (* and ?) as a LIKE pattern, with LIKE's own characters escaped.</summary>
    private static string Like(string pattern)
    {
        var sb = new StringBuilder(pattern.Length + 8);
        foreach (char ch in pattern)
        {
            sb.Append(ch switch
            {
                '*' => "%",
                '?' => "_",
                '%' or '_' or '[' or '\\' => "\\" + ch,
                _ => ch.ToString(),
            });
        }

        return sb.ToString();
    }

    private static object? KeyValue(SummaryKey key, object? value)
    {
        if (value is null)
        {
            return null;
        }

        string text = value switch
        {
            Guid g => g.ToString("D"),
            DateTime dt => dt.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty,
        };
        if (key.IsTime)
        {
            return DateTime.ParseExact(key.Kind == SummaryKeyKind.Month ? text[..7] + "-01" : text[..10], "yyyy-MM-dd", CultureInfo.InvariantCulture);
        }

        return text;
    }

    private static decimal ToDecimal(object value) => value switch
    {
        decimal m => m,
        double x => (decimal)x,
        _ => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
    };
}
