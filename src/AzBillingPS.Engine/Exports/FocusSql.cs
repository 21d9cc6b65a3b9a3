using System;
using System.Linq;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Exports;

/// <summary>
/// The SQL functions the FOCUS view needs, spelled for each database (SQLite, PostgreSQL, T-SQL). Arguments are SQL
/// expressions the caller built from quoted identifiers and constants; nothing here takes a value from a user.
/// </summary>
internal abstract class FocusSql
{
    protected FocusSql(SqlDialect dialect)
    {
        Dialect = dialect;
    }

    public SqlDialect Dialect { get; }

    public static FocusSql For(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.SqlServer => new SqlServerFocusSql(),
        DatabaseProvider.PostgreSql => new PostgreSqlFocusSql(),
        _ => new SqliteFocusSql(),
    };

    /// <summary>A string constant.</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    public abstract string Concat(params string[] parts);

    public abstract string Trim(string s);

    public virtual string Lower(string s) => $"lower({s})";

    public virtual string Replace(string s, string from, string to) => $"replace({s}, {from}, {to})";

    /// <summary>The day after a date.</summary>
    public abstract string NextDay(string date);

    /// <summary>The first day of a date's month.</summary>
    public abstract string MonthStart(string date);

    /// <summary>The first day of the month after a date's.</summary>
    public abstract string NextMonthStart(string date);

    /// <summary>A date as the FocusCost table's timestamp type (midnight UTC).</summary>
    public abstract string Timestamp(string date);

    public abstract string TextNull { get; }

    public abstract string DecimalNull { get; }

    public abstract string TimestampNull { get; }

    /// <summary>A decimal result in the FocusCost table's decimal type.</summary>
    public abstract string Decimal(string e);

    /// <summary>A price times a rate (both decimal).</summary>
    public virtual string PriceTimesRate(string price, string rate) => $"{price} * {rate}";

    /// <summary>A price (or cost) times a quantity.</summary>
    public virtual string PriceTimesQuantity(string price, string quantity) => $"{price} * {quantity}";

    /// <summary>A quantity times a pricing block size.</summary>
    public virtual string QuantityTimesBlock(string quantity, string block) => $"{quantity} * {block}";

    /// <summary>A cost divided by an exchange rate (null when the rate is zero).</summary>
    public virtual string CostOverRate(string cost, string rate) => $"{cost} / NULLIF({rate}, 0)";

    /// <summary>The string value of a top-level property of a JSON object held as text; null when the text is not JSON.</summary>
    public abstract string JsonProperty(string json, string property);

    /// <summary>The text after the last '/' (the whole string when there is none).</summary>
    public abstract string LastSegment(string s);

    /// <summary>
    /// The Azure resource type of a resource id, in lower case, as the FinOps toolkit's Split-AzureResourceId gives it: the
    /// provider namespace after the last '/providers/' (Microsoft.Resources when there is none) followed by every resource
    /// type a name follows (a trailing type without a name is dropped); null for an empty id. Returns the expression and,
    /// where the database needs one, what to add to the FROM clause after the table (aliased c).
    /// </summary>
    public abstract (string Expression, string Apply) ResourceType(string id);

    /// <summary>What keeps the view's UNION ALL from being flattened into the outer query (SQLite), after its last arm.</summary>
    public virtual string NoFlatten => string.Empty;

    /// <summary>The number of resource types after the namespace the view follows (the open data goes five deep).</summary>
    public const int TypeLevels = 5;

    /// <summary>The id with '/providers/microsoft.resources/' in front, so an id without '/providers/' gets that namespace.</summary>
    protected string Prefixed(string id) => Concat("'/providers/microsoft.resources/'", $"ltrim({Lower(id)}, '/')");

    /// <summary>
    /// The type from the segments of the part after the last '/providers/' (<paramref name="segment"/>(0) is the namespace):
    /// each type at an odd position is added when the name after it is not empty.
    /// </summary>
    protected string TypeFromSegments(Func<int, string> segment)
    {
        string tail = "''";
        for (int level = TypeLevels; level >= 1; level--)
        {
            tail = $"CASE WHEN {segment(2 * level)} <> '' THEN {Concat("'/'", segment((2 * level) - 1), tail)} ELSE '' END";
        }

        return $"NULLIF({Concat(segment(0), tail)}, '')";
    }

    /// <summary>A column as text: GUID types become lower-case text, text stays as it is.</summary>
    public abstract string AsText(string column, string databaseType);

    /// <summary>True when the column's database type holds JSON natively (jsonb on PostgreSQL).</summary>
    public virtual bool IsJsonType(string databaseType) => false;

    /// <summary>The type of a lookup table's key column (indexable).</summary>
    public abstract string KeyType(int maxLength);

    /// <summary>Creates a lookup table when it does not exist (one statement).</summary>
    public abstract string CreateTableIfMissing(string qualified, string name, string columns);

    /// <summary>Drops the view when it exists (one statement).</summary>
    public abstract string DropViewIfExists(string qualified);

    /// <summary>What kind of object holds a name in the schema (parameters: schema, name); no row when none.</summary>
    public abstract string ObjectKind { get; }

    /// <summary>True when <see cref="ObjectKind"/>'s answer means a view.</summary>
    public abstract bool IsView(string kind);

    /// <summary>Each column of a table with its database type (parameters: schema, table).</summary>
    public abstract string ColumnTypes { get; }

    /// <summary>Parameters per INSERT statement the database takes.</summary>
    public virtual int MaxParameters => 900;
}

internal sealed class SqliteFocusSql() : FocusSql(SqliteDialect.Instance)
{
    public override string Concat(params string[] parts) => "(" + string.Join(" || ", parts) + ")";

    public override string Trim(string s) => $"trim({s})";

    public override string NextDay(string date) => $"date({date}, '+1 day')";

    public override string MonthStart(string date) => $"date({date}, 'start of month')";

    public override string NextMonthStart(string date) => $"date({date}, 'start of month', '+1 month')";

    // The FocusCost table's timestamps on SQLite: 'yyyy-MM-dd HH:mm:ss.fff' text.
    public override string Timestamp(string date) => $"({date} || ' 00:00:00.000')";

    public override string TextNull => "NULL";

    public override string DecimalNull => "NULL";

    public override string TimestampNull => "NULL";

    public override string Decimal(string e) => e;

    public override string JsonProperty(string json, string property)
        => $"CASE WHEN json_valid({json}) THEN CASE WHEN json_type({json}) = 'object' THEN CAST(json_extract({json}, {Literal("$." + property)}) AS TEXT) END END";

    // rtrim(s, <s without '/'>) strips the characters after the last '/'.
    public override string LastSegment(string s) => $"substr({s}, length(rtrim({s}, replace({s}, '/', ''))) + 1)";

    // The part after the last '/providers/' (each one made char(1), then rtrim as in LastSegment) is made once (the outer
    // json_each over a one-element array), split into a JSON array of its segments, and parsed once (the inner json_each,
    // whose hidden json column is that array); an id that does not make valid JSON (a quote or a backslash in it) has no type.
    public override (string Expression, string Apply) ResourceType(string id)
    {
        string marked = $"replace({Prefixed(id)}, '/providers/', char(1))";
        string after = $"substr({marked}, length(rtrim({marked}, replace({marked}, char(1), ''))) + 1)";
        string array = "('[\"' || replace(j.value, '/', '\",\"') || '\"]')";
        string type = TypeFromSegments(i => $"json_extract(k.json, '$[{i}]')");
        return ($"CASE WHEN {id} IS NULL OR {id} = '' THEN NULL ELSE (SELECT (SELECT {type} FROM json_each(CASE WHEN json_valid({array}) THEN {array} ELSE '[]' END) AS k WHERE k.key = 0) FROM json_each(json_array({after})) AS j WHERE j.key = 0) END", string.Empty);
    }

    public override string NoFlatten => " LIMIT -1 OFFSET 0";

    public override string AsText(string column, string databaseType) => column;

    public override string KeyType(int maxLength) => "TEXT NOT NULL";

    public override string CreateTableIfMissing(string qualified, string name, string columns) => $"CREATE TABLE IF NOT EXISTS {qualified} ({columns})";

    public override string DropViewIfExists(string qualified) => $"DROP VIEW IF EXISTS {qualified}";

    public override string ObjectKind => "SELECT type FROM sqlite_master WHERE name = @name COLLATE NOCASE";

    public override bool IsView(string kind) => string.Equals(kind, "view", StringComparison.OrdinalIgnoreCase);

    public override string ColumnTypes => "SELECT name, type FROM pragma_table_info(@table)";

    public override int MaxParameters => 900; // SQLite's default limit is 32766 (999 before 3.32)
}

internal sealed class PostgreSqlFocusSql() : FocusSql(PostgreSqlDialect.Instance)
{
    public override string Concat(params string[] parts) => "(" + string.Join(" || ", parts) + ")";

    public override string Trim(string s) => $"btrim({s})";

    public override string NextDay(string date) => $"({date} + 1)";

    public override string MonthStart(string date) => $"CAST(date_trunc('month', {date}) AS date)";

    public override string NextMonthStart(string date) => $"CAST(date_trunc('month', {date}) + interval '1 month' AS date)";

    public override string Timestamp(string date) => $"(CAST({date} AS timestamp) AT TIME ZONE 'UTC')";

    public override string TextNull => "CAST(NULL AS text)";

    public override string DecimalNull => "CAST(NULL AS numeric)";

    public override string TimestampNull => "CAST(NULL AS timestamptz)";

    public override string Decimal(string e) => $"CAST({e} AS numeric)";

    // PostgreSQL 15 cannot test text for JSON without failing on bad text, so the property is read by pattern.
    public override string JsonProperty(string json, string property)
        => $"substring({json} from {Literal("\"" + property + "\"\\s*:\\s*\"([^\"]*)\"")})";

    public override string LastSegment(string s) => $"substring({s} from '[^/]*$')";

    // Two regular expressions: the greedy '^.*/providers/' drops everything up to the last '/providers/', then each optional
    // group takes one '/type/name' pair and keeps '/type'.
    public override (string Expression, string Apply) ResourceType(string id)
    {
        string pairs = string.Concat(Enumerable.Repeat("(?:(/[^/]+)/[^/]+)?", TypeLevels));
        string groups = string.Concat(Enumerable.Range(1, TypeLevels + 1).Select(i => "\\" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return ($"CASE WHEN {id} IS NULL OR {id} = '' THEN NULL ELSE NULLIF(regexp_replace(regexp_replace({Prefixed(id)}, '^.*/providers/', ''), {Literal("^([^/]+)" + pairs + ".*$")}, {Literal(groups)}), '') END", string.Empty);
    }

    public override string AsText(string column, string databaseType)
        => databaseType is "uuid" ? $"CAST({column} AS text)" : databaseType is "jsonb" or "json" ? $"CAST({column} AS text)" : column;

    public override bool IsJsonType(string databaseType) => databaseType is "jsonb" or "json";

    public override string KeyType(int maxLength) => "text NOT NULL";

    public override string CreateTableIfMissing(string qualified, string name, string columns) => $"CREATE TABLE IF NOT EXISTS {qualified} ({columns})";

    public override string DropViewIfExists(string qualified) => $"DROP VIEW IF EXISTS {qualified}";

    public override string ObjectKind => "SELECT CAST(c.relkind AS text) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = @schema AND c.relname = @name";

    public override bool IsView(string kind) => kind is "v";

    public override string ColumnTypes => "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = @schema AND table_name = @table";

    public override int MaxParameters => 30_000;
}

internal sealed class SqlServerFocusSql() : FocusSql(SqlServerDialect.Instance)
{
    public override string Concat(params string[] parts) => "(" + string.Join(" + ", parts) + ")";

    public override string Trim(string s) => $"LTRIM(RTRIM({s}))";

    public override string Lower(string s) => $"LOWER({s})";

    public override string Replace(string s, string from, string to) => $"REPLACE({s}, {from}, {to})";

    public override string NextDay(string date) => $"DATEADD(day, 1, {date})";

    public override string MonthStart(string date) => $"DATEFROMPARTS(YEAR({date}), MONTH({date}), 1)";

    public override string NextMonthStart(string date) => $"DATEADD(month, 1, DATEFROMPARTS(YEAR({date}), MONTH({date}), 1))";

    public override string Timestamp(string date) => $"CAST({date} AS datetime2(3))";

    public override string TextNull => "CAST(NULL AS nvarchar(max))";

    public override string DecimalNull => "CAST(NULL AS decimal(38,20))";

    public override string TimestampNull => "CAST(NULL AS datetime2(3))";

    public override string Decimal(string e) => $"CAST({e} AS decimal(38,20))";

    // decimal(38,20) times decimal(38,20) keeps only 6 fractional digits in T-SQL; operands are narrowed first so the
    // product keeps 16 (price times rate) or 11 (price times quantity, quantity times block size).
    public override string PriceTimesRate(string price, string rate) => $"CAST({price} AS decimal(28,16)) * CAST({rate} AS decimal(19,10))";

    public override string PriceTimesQuantity(string price, string quantity) => $"CAST({price} AS decimal(28,16)) * CAST({quantity} AS decimal(28,14))";

    public override string QuantityTimesBlock(string quantity, string block) => $"CAST({quantity} AS decimal(28,14)) * CAST({block} AS decimal(12,0))";

    public override string CostOverRate(string cost, string rate) => $"CAST({cost} AS decimal(28,16)) / NULLIF(CAST({rate} AS decimal(19,10)), 0)";

    public override string JsonProperty(string json, string property)
        => $"CASE WHEN ISJSON({json}) = 1 THEN JSON_VALUE({json}, {Literal("$." + property)}) END";

    public override string LastSegment(string s)
        => $"CASE WHEN CHARINDEX('/', {s}) > 0 THEN RIGHT({s}, CHARINDEX('/', REVERSE({s})) - 1) ELSE {s} END";

    // The part after the last '/providers/' (found in the reversed string) becomes a JSON array of its segments, which one
    // OPENJSON per row reads into columns (SQL Server 2016 and later, database compatibility level 130 or higher).
    public override (string Expression, string Apply) ResourceType(string id)
    {
        string prefixed = $"('/providers/microsoft.resources' + CASE WHEN LEFT({Lower(id)}, 1) = '/' THEN {Lower(id)} ELSE '/' + {Lower(id)} END)";
        string after = $"RIGHT({prefixed}, CHARINDEX(REVERSE('/providers/'), REVERSE({prefixed})) - 1)";
        string array = $"('[\"' + REPLACE({after}, '/', '\",\"') + '\"]')";
        string columns = string.Join(", ", Enumerable.Range(0, (2 * TypeLevels) + 1).Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[s{i}] nvarchar(400) '$[{i}]'")));
        string apply = $"OUTER APPLY OPENJSON(CASE WHEN {id} <> '' AND ISJSON({array}) = 1 THEN '[' + {array} + ']' END) WITH ({columns}) AS [seg]";
        return ($"CASE WHEN {id} IS NULL OR {id} = '' THEN NULL ELSE {TypeFromSegments(i => $"[seg].[s{i}]")} END", apply);
    }

    public override string AsText(string column, string databaseType)
        => databaseType is "uniqueidentifier" ? $"LOWER(CAST({column} AS nvarchar(36)))" : column;

    public override string KeyType(int maxLength) => $"nvarchar({maxLength}) NOT NULL";

    public override string CreateTableIfMissing(string qualified, string name, string columns)
        => $"IF OBJECT_ID({Literal(qualified)}, 'U') IS NULL CREATE TABLE {qualified} ({columns})";

    public override string DropViewIfExists(string qualified) => $"DROP VIEW IF EXISTS {qualified}";

    public override string ObjectKind => "SELECT o.type FROM sys.objects AS o JOIN sys.schemas AS s ON s.schema_id = o.schema_id WHERE s.name = @schema AND o.name = @name";

    public override bool IsView(string kind) => kind.Trim() is "V";

    public override string ColumnTypes => "SELECT c.name, ty.name FROM sys.columns AS c JOIN sys.tables AS t ON t.object_id = c.object_id JOIN sys.schemas AS s ON s.schema_id = t.schema_id JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id WHERE s.name = @schema AND t.name = @table";

    public override int MaxParameters => 2_000; // SQL Server takes at most 2,100 parameters per request
}
