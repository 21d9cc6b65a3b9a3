using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Exports;

/// <summary>What making the FOCUS view did.</summary>
public sealed record FocusViewResult(string View, string Table, bool Replaced, IReadOnlyList<string> ColumnsAdded, int LookupRows);

/// <summary>
/// A FOCUS view over the cost-details table (<c>&lt;Table&gt;_Focus</c>), on SQLite, PostgreSQL and SQL Server, following
/// the conversion Microsoft documents in the FinOps toolkit (docs-mslearn/focus/convert.md): every AmortizedCost row,
/// plus the ActualCost rows that are reservation or savings-plan purchases and refunds, with FOCUS columns derived from
/// the cost-details columns and the FinOps toolkit's open data (<see cref="OpenData"/>) as lookup tables in the same
/// schema. Its columns and types are the FocusCost table's (decimals, UTC timestamps, text), so one FOCUS surface serves
/// cost details and FocusCost exports alike.
/// <para>Made by <see cref="EnsureAsync"/>: the lookup tables are created when missing and refilled in one transaction
/// (under their own lock), then, in one transaction under the cost table's load lock, the columns the view reads that the
/// table lacks are added (nullable: a table loaded only from EA files has no MCA columns yet) and the view is dropped and
/// created again. Running it again gives the same view, so it is safe on every run.</para>
/// <para>Where the documented mapping was silent or inconsistent (README, section FOCUS, lists each): BilledCost is 0
/// for unused commitment rows too, so BilledCost sums to the actual cost; quantities and ContractedCost follow the
/// FinOps hubs' own conversion (PricingQuantity is Quantity, ConsumedQuantity is Quantity times the pricing block size);
/// EA ListCost is PayGPrice times Quantity (as the toolkit's validation guide compares it); an empty billing period (an
/// MCA month not invoiced yet) is the charge's calendar month; an empty PublisherName is Microsoft; a service the open
/// data does not know is named by its MeterCategory in ServiceCategory Other.</para>
/// </summary>
public static class FocusView
{
    public const string Suffix = "_Focus";

    /// <summary>The lock target the lookup tables are refilled under (a name, never a table).</summary>
    private const string OpenDataLockName = "AzBillingPS_OpenData";

    /// <summary>The view over a cost table: &lt;table&gt;_Focus, shortened with a hash when too long for the database.</summary>
    public static string ViewName(SqlDialect dialect, string table)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        return dialect.DeriveName(string.Empty, table, Suffix);
    }

    /// <summary>The cost-details columns the view reads (canonical names; the table is given the missing ones).</summary>
    public static IReadOnlyList<string> Reads { get; } =
    [
        "Date", "BillingPeriodStartDate", "BillingPeriodEndDate", "ServicePeriodStartDate", "ServicePeriodEndDate", "ExchangeRateDate",
        "Quantity", "EffectivePrice", "CostInBillingCurrency", "UnitPrice", "PayGPrice", "PaygCostInBillingCurrency", "CostInUsd",
        "ExchangeRatePricingToBilling", "IsAzureCreditEligible", "SubscriptionId", "MeterId", "ProductName", "BillingCurrencyCode",
        "InvoiceSectionName", "ResourceGroup", "InvoiceSectionId", "AccountName", "AccountOwnerId", "SubscriptionName", "ResourceLocation",
        "MeterCategory", "MeterSubCategory", "MeterName", "MeterRegion", "UnitOfMeasure", "CostCenter", "ConsumedService", "ResourceId",
        "Tags", "OfferId", "AdditionalInfo", "ResourceName", "ProductOrderId", "ProductOrderName", "Term", "PublisherName", "PublisherType",
        "ChargeType", "Frequency", "PricingModel", "AvailabilityZone", "BillingAccountId", "BillingAccountName", "BillingProfileId",
        "BillingProfileName", "PartNumber", "ServiceFamily", "CostAllocationRuleName", "BenefitId", "BenefitName", "InvoiceId", "ProductId",
        "PricingCurrency", "PartnerName",
    ];

    /// <summary>The FOCUS columns the cost-details data cannot give; the view has them as nulls (README, section FOCUS).</summary>
    public static IReadOnlyList<string> NotAvailable { get; } = ["SkuPriceId", "SkuPriceDetails"];

    /// <summary>
    /// Creates or replaces the lookup tables and the FOCUS view over <paramref name="target"/>'s table. Returns null (and
    /// says so in the log) when the cost table does not exist yet: the view is made over a table that has been loaded.
    /// </summary>
    public static async Task<FocusViewResult?> EnsureAsync(SinkTarget target, TimeSpan lockTimeout, IEngineLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(log);
        FocusSql sql = FocusSql.For(target.Provider);
        string? schema = target.EffectiveSchema;
        string view = ViewName(target.Dialect, target.Table);
        sql.Dialect.Validate(view);
        CostSink tableSink = CostSink.Create(target);

        // Checked before anything is written: the cost table exists, and nothing else holds the view's name.
        bool exists = await tableSink.RunLockedAsync(lockTimeout, async (c, t, ct) =>
        {
            if ((await tableSink.ListColumnsAsync(c, t, ct).ConfigureAwait(false)).Count == 0)
            {
                return false;
            }

            await CheckViewNameAsync(sql, schema, view, tableSink, c, t, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        if (!exists)
        {
            log.Warning($"The FOCUS view was not made: {target.DisplayTable} does not exist yet on {tableSink.Describe()}. Load cost details first; the next load with -FocusView makes it.");
            return null;
        }

        // The lookup tables: created when missing and refilled under their own lock (shared by every cost table of the schema).
        CostSink openDataSink = CostSink.Create(target with { Table = OpenDataLockName });
        int lookupRows = await openDataSink.RunLockedAsync(lockTimeout, (c, t, ct) => FillOpenDataAsync(sql, schema, c, t, ct), cancellationToken).ConfigureAwait(false);
        log.Verbose(string.Create(CultureInfo.InvariantCulture, $"Refilled the FOCUS lookup tables ({string.Join(", ", OpenData.Tables.Select(x => x.Name))}): {lookupRows:N0} rows of FinOps toolkit open data."));

        return await tableSink.RunLockedAsync(lockTimeout, async (c, t, ct) =>
        {
            Dictionary<string, (string Name, string Type)> columns = await ReadColumnTypesAsync(sql, target, c, t, ct).ConfigureAwait(false);
            var added = new List<string>();
            foreach (string name in Reads)
            {
                if (!columns.ContainsKey(name))
                {
                    CostColumn column = CostColumnCatalog.Resolve(name);
                    await ExecuteAsync(c, t, sql.Dialect.AddColumn(schema, target.Table, column), ct).ConfigureAwait(false);
                    columns[name] = (column.Name, sql.Dialect.TypeName(column.Type));
                    added.Add(name);
                }
            }

            if (added.Count > 0)
            {
                log.Verbose($"Added to {target.DisplayTable} the column(s) the FOCUS view reads that it had not (empty for the rows loaded so far): {string.Join(", ", added)}.");
            }

            string? kind = await CheckViewNameAsync(sql, schema, view, tableSink, c, t, ct).ConfigureAwait(false);

            await ExecuteAsync(c, t, sql.DropViewIfExists(sql.Dialect.QualifiedTable(schema, view)), ct).ConfigureAwait(false);
            await ExecuteAsync(c, t, CreateView(sql, schema, target.Table, columns), ct).ConfigureAwait(false);
            log.Verbose($"{(kind is null ? "Created" : "Replaced")} the FOCUS view {sql.Dialect.QualifiedTable(schema, view)} over {target.QualifiedTable}.");
            return new FocusViewResult(view, target.Table, kind is not null, added, lookupRows);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="change"/> (which changes the type of columns of <paramref name="target"/>'s table) with the
    /// FOCUS view over the table, when there is one, dropped before and made again after from the columns as they are
    /// then, in the same transaction: PostgreSQL refuses to change the type of a column a view reads, and SQL Server's
    /// view would keep the old types. Without a view, only the change runs.
    /// </summary>
    internal static async Task AroundColumnChangeAsync(SinkTarget target, DbConnection connection, DbTransaction transaction, Func<Task> change, IEngineLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(change);
        FocusSql sql = FocusSql.For(target.Provider);
        string? schema = target.EffectiveSchema;
        string view = ViewName(target.Dialect, target.Table);
        string? kind = await ScalarAsync(connection, transaction, sql.ObjectKind, cancellationToken, ("schema", schema ?? string.Empty), ("name", view)).ConfigureAwait(false);
        if (kind is null || !sql.IsView(kind))
        {
            await change().ConfigureAwait(false);
            return;
        }

        string qualified = sql.Dialect.QualifiedTable(schema, view);
        await ExecuteAsync(connection, transaction, sql.DropViewIfExists(qualified), cancellationToken).ConfigureAwait(false);
        await change().ConfigureAwait(false);
        Dictionary<string, (string Name, string Type)> columns = await ReadColumnTypesAsync(sql, target, connection, transaction, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, CreateView(sql, schema, target.Table, columns), cancellationToken).ConfigureAwait(false);
        log.Verbose($"Made the FOCUS view {qualified} again over the changed columns of {target.QualifiedTable}.");
    }

    /// <summary>What holds the view's name now (null: nothing); throws when it is not a view, which is never replaced.</summary>
    private static async Task<string?> CheckViewNameAsync(FocusSql sql, string? schema, string view, CostSink sink, DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        string? kind = await ScalarAsync(connection, transaction, sql.ObjectKind, cancellationToken, ("schema", schema ?? string.Empty), ("name", view)).ConfigureAwait(false);
        if (kind is not null && !sql.IsView(kind))
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                $"{sql.Dialect.QualifiedTable(schema, view)} exists on {sink.Describe()} and is not a view; the FOCUS view was not made (nothing was changed). Rename that object, or load into another -Table.");
        }

        return kind;
    }

    /// <summary>The statements that create one lookup table when it is missing (for the tests' parsers too).</summary>
    internal static string CreateLookupTable(FocusSql sql, string? schema, OpenDataTable table)
    {
        var columns = new StringBuilder();
        for (int i = 0; i < table.Columns.Count; i++)
        {
            CostColumn c = table.Columns[i];
            string type = i < table.KeyColumns ? sql.KeyType(KeyLength(table, i)) : sql.Dialect.TypeName(c.Type);
            columns.Append(i == 0 ? string.Empty : ", ").Append(sql.Dialect.Quote(c.Name)).Append(' ').Append(type);
        }

        columns.Append(", PRIMARY KEY (").Append(string.Join(", ", table.Columns.Take(table.KeyColumns).Select(c => sql.Dialect.Quote(c.Name)))).Append(')');
        string qualified = sql.Dialect.QualifiedTable(schema, table.Name);
        return sql.CreateTableIfMissing(qualified, table.Name, columns.ToString());
    }

    /// <summary>Key column sizes on SQL Server: the composite key of Services stays within the 900-byte index key limit.</summary>
    internal static int KeyLength(OpenDataTable table, int column) => table.KeyColumns == 2 ? (column == 0 ? 100 : 300) : 400;

    /// <summary>A multi-row INSERT of <paramref name="rows"/> rows into a lookup table, parameters @p0, @p1, ...</summary>
    internal static string InsertLookupRows(FocusSql sql, string? schema, OpenDataTable table, int rows)
    {
        var sb = new StringBuilder();
        sb.Append("INSERT INTO ").Append(sql.Dialect.QualifiedTable(schema, table.Name)).Append(" (")
            .Append(string.Join(", ", table.Columns.Select(c => sql.Dialect.Quote(c.Name)))).Append(") VALUES ");
        int p = 0;
        for (int r = 0; r < rows; r++)
        {
            sb.Append(r == 0 ? "(" : ", (");
            for (int c = 0; c < table.Columns.Count; c++)
            {
                sb.Append(c == 0 ? string.Empty : ", ").Append(sql.Dialect.Parameter("p" + p.ToString(CultureInfo.InvariantCulture)));
                p++;
            }

            sb.Append(')');
        }

        return sb.ToString();
    }

    private static async Task<int> FillOpenDataAsync(FocusSql sql, string? schema, DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        int total = 0;
        foreach (OpenDataTable table in OpenData.Tables)
        {
            await ExecuteAsync(connection, transaction, CreateLookupTable(sql, schema, table), cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, $"DELETE FROM {sql.Dialect.QualifiedTable(schema, table.Name)}", cancellationToken).ConfigureAwait(false);
            int perStatement = Math.Max(1, Math.Min(500, sql.MaxParameters / table.Columns.Count));
            for (int start = 0; start < table.Rows.Count; start += perStatement)
            {
                int n = Math.Min(perStatement, table.Rows.Count - start);
                await using DbCommand insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = InsertLookupRows(sql, schema, table, n);
                int p = 0;
                for (int r = start; r < start + n; r++)
                {
                    foreach (object? value in table.Rows[r])
                    {
                        DbParameter parameter = insert.CreateParameter();
                        parameter.ParameterName = "@p" + p.ToString(CultureInfo.InvariantCulture);
                        parameter.Value = value is decimal d && sql.Dialect.Provider == DatabaseProvider.Sqlite ? (double)d : value ?? DBNull.Value;
                        insert.Parameters.Add(parameter);
                        p++;
                    }
                }

                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            total += table.Rows.Count;
        }

        return total;
    }

    /// <summary>The table's columns by canonical name (case-insensitive) with the table's own spelling and database type.</summary>
    private static async Task<Dictionary<string, (string Name, string Type)>> ReadColumnTypesAsync(FocusSql sql, SinkTarget target, DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        var columns = new Dictionary<string, (string, string)>(StringComparer.OrdinalIgnoreCase);
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql.ColumnTypes;
        AddParameters(command, ("schema", target.EffectiveSchema ?? string.Empty), ("table", target.Table));
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string name = reader.GetString(0);
            columns[name] = (name, reader.IsDBNull(1) ? string.Empty : reader.GetString(1).ToLowerInvariant());
        }

        return columns;
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction transaction, string text, CancellationToken cancellationToken)
    {
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandTimeout = 0;
        command.CommandText = text;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string?> ScalarAsync(DbConnection connection, DbTransaction transaction, string text, CancellationToken cancellationToken, params (string Name, string Value)[] parameters)
    {
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = text;
        AddParameters(command, parameters);
        object? value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is null or DBNull ? null : Convert.ToString(value, CultureInfo.InvariantCulture);
    }

    /// <summary>Adds the parameters the command's text names (a query that does not need the schema gets none).</summary>
    private static void AddParameters(DbCommand command, params (string Name, string Value)[] parameters)
    {
        foreach ((string name, string value) in parameters)
        {
            if (command.CommandText.Contains("@" + name, StringComparison.Ordinal))
            {
                DbParameter p = command.CreateParameter();
                p.ParameterName = "@" + name;
                p.Value = value;
                command.Parameters.Add(p);
            }
        }
    }

    /// <summary>
    /// The CREATE VIEW statement. <paramref name="columns"/> maps each column the view reads (canonical name, any case) to
    /// the table's spelling and database type; every name in <see cref="Reads"/> must be there.
    /// </summary>
    internal static string CreateView(FocusSql sql, string? schema, string table, IReadOnlyDictionary<string, (string Name, string Type)> columns)
    {
        SqlDialect d = sql.Dialect;
        string Q(string name) => d.Quote(name);
        string L(string s) => FocusSql.Literal(s);

        // The rows: every AmortizedCost row and the ActualCost commitment purchases and refunds, each column under its
        // canonical name, with the lookup keys in lower case, the resource type derived from ResourceId (as the FinOps
        // toolkit's Split-AzureResourceId does) and the capacity reservation from AdditionalInfo, computed once per row.
        // On SQLite the compound is kept from being flattened into the outer query (OFFSET 0), which would evaluate the
        // derived columns once for every use; PostgreSQL and SQL Server compute a UNION ALL's columns once per row.
        string source = d.QualifiedTable(schema, table);
        (string resourceType, string apply) = sql.ResourceType("c." + Q(columns["ResourceId"].Name));
        var select = new StringBuilder();
        foreach (string name in Reads)
        {
            select.Append("c.").Append(Q(columns[name].Name)).Append(" AS ").Append(Q(name)).Append(", ");
        }

        foreach (string lineage in new[] { LineageColumns.Scope, LineageColumns.Metric, LineageColumns.ImportId })
        {
            select.Append("c.").Append(Q(lineage)).Append(", ");
        }

        select.Append(sql.Lower(sql.Trim("c." + Q(columns["UnitOfMeasure"].Name)))).Append(" AS ").Append(Q("k_uom")).Append(", ")
            .Append(sql.Lower(sql.Trim("c." + Q(columns["ResourceLocation"].Name)))).Append(" AS ").Append(Q("k_loc")).Append(", ")
            .Append(sql.Lower(sql.Trim("c." + Q(columns["ConsumedService"].Name)))).Append(" AS ").Append(Q("k_cs")).Append(", ")
            .Append(resourceType).Append(" AS ").Append(Q("x_rt")).Append(", ")
            .Append(sql.JsonProperty("c." + Q(columns["AdditionalInfo"].Name), "VMCapacityReservationId")).Append(" AS ").Append(Q("cap_id"));
        string ct = sql.Lower("c." + Q(columns["ChargeType"].Name));
        string pm = sql.Lower("c." + Q(columns["PricingModel"].Name));
        string from = $"FROM {source} AS c{(apply.Length > 0 ? " " + apply : string.Empty)}";
        string rows =
            $"SELECT {select} {from} WHERE c.{Q(LineageColumns.Metric)} = {L("AmortizedCost")}\n" +
            $"  UNION ALL\n" +
            $"  SELECT {select} {from} WHERE c.{Q(LineageColumns.Metric)} = {L("ActualCost")} AND {ct} IN ({L("purchase")}, {L("refund")}) AND {pm} IN ({L("reservation")}, {L("savingsplan")}){sql.NoFlatten}";

        List<(string Name, string Expression)> focus = FocusColumns(sql, columns);
        string Lookup(string table) => d.QualifiedTable(schema, table);
        var sb = new StringBuilder();
        sb.Append("CREATE VIEW ").Append(d.QualifiedTable(schema, ViewName(d, table))).Append(" AS\nSELECT\n");
        for (int i = 0; i < focus.Count; i++)
        {
            sb.Append("  ").Append(focus[i].Expression).Append(" AS ").Append(Q(focus[i].Name)).Append(i + 1 < focus.Count ? ",\n" : "\n");
        }

        sb.Append("FROM (\n  ").Append(rows).Append("\n) a\n")
            .Append(CultureInfo.InvariantCulture, $"LEFT JOIN {Lookup(OpenData.PricingUnitsTable)} pu ON pu.{Q("UnitOfMeasure")} = a.{Q("k_uom")}\n")
            .Append(CultureInfo.InvariantCulture, $"LEFT JOIN {Lookup(OpenData.RegionsTable)} rg ON rg.{Q("OriginalValue")} = a.{Q("k_loc")}\n")
            .Append(CultureInfo.InvariantCulture, $"LEFT JOIN {Lookup(OpenData.ResourceTypesTable)} rt ON rt.{Q("ResourceType")} = a.{Q("x_rt")}\n")
            .Append(CultureInfo.InvariantCulture, $"LEFT JOIN {Lookup(OpenData.ServicesTable)} s1 ON s1.{Q("ConsumedService")} = a.{Q("k_cs")} AND s1.{Q("ResourceType")} = a.{Q("x_rt")}\n")
            .Append(CultureInfo.InvariantCulture, $"LEFT JOIN {Lookup(OpenData.ServicesTable)} s2 ON s2.{Q("ConsumedService")} = '' AND s2.{Q("ResourceType")} = a.{Q("x_rt")}\n")
            .Append(CultureInfo.InvariantCulture, $"LEFT JOIN {Lookup(OpenData.ServicesTable)} s3 ON s3.{Q("ConsumedService")} = a.{Q("k_cs")} AND s3.{Q("ResourceType")} = ''");
        return sb.ToString();
    }

    /// <summary>The FOCUS columns of the view, each with its expression over the derived table <c>a</c> and the lookups.</summary>
    private static List<(string Name, string Expression)> FocusColumns(FocusSql sql, IReadOnlyDictionary<string, (string Name, string Type)> columns)
    {
        string Q(string name) => sql.Dialect.Quote(name);
        string L(string s) => FocusSql.Literal(s);
        string Type(string name) => columns.TryGetValue(name, out var c) ? c.Type : string.Empty;
        string A(string name) => "a." + Q(name);
        string Text(string name) => sql.AsText(A(name), Type(name));
        string NullIfEmpty(string e) => $"NULLIF({e}, '')";
        string aCt = sql.Lower(A("ChargeType"));
        string aPm = sql.Lower(A("PricingModel"));
        string committed = $"{aPm} IN ({L("reservation")}, {L("savingsplan")}, {L("savings plan")})";
        string unused = $"{aCt} IN ({L("unusedreservation")}, {L("unusedsavingsplan")})";
        string isMca = $"({A("BillingProfileId")} IS NOT NULL AND {A("BillingProfileId")} <> '' AND ({A("BillingAccountId")} IS NULL OR {A("BillingProfileId")} <> {A("BillingAccountId")}))";
        string rate = $"COALESCE({A("ExchangeRatePricingToBilling")}, 1)";
        string cost = A("CostInBillingCurrency");
        string effective = $"CASE WHEN {aCt} IN ({L("purchase")}, {L("refund")}) AND {committed} THEN 0 ELSE {cost} END";
        string benefit = sql.Lower(A("BenefitId"));
        string category = $"CASE WHEN {benefit} LIKE {L("%/microsoft.capacity/%")} THEN {L("Usage")} WHEN {benefit} LIKE {L("%/microsoft.billingbenefits/%")} THEN {L("Spend")} END";
        string pricingCurrency = $"CASE WHEN {isMca} THEN {A("PricingCurrency")} ELSE {A("BillingCurrencyCode")} END";
        string unitPrice = $"CASE WHEN {isMca} THEN {sql.PriceTimesRate(A("UnitPrice"), rate)} ELSE {A("UnitPrice")} END";
        string location = NullIfEmpty(sql.Trim(A("ResourceLocation")));
        string regionName = $"COALESCE(rg.{Q("RegionName")}, {location})";
        string resourceId = NullIfEmpty(A("ResourceId"));
        string tags = sql.IsJsonType(Type("Tags"))
            ? A("Tags")
            : $"CASE WHEN {A("Tags")} IS NULL OR {sql.Trim(A("Tags"))} = '' THEN {sql.TextNull} WHEN {sql.Trim(A("Tags"))} LIKE '{{%' THEN {A("Tags")} ELSE {sql.Concat("'{'", A("Tags"), "'}'")} END";

        return new List<(string Name, string Expression)>
        {
            ("AvailabilityZone", NullIfEmpty(A("AvailabilityZone"))),
            ("BilledCost", sql.Decimal($"CASE WHEN ({aCt} = {L("usage")} AND {committed}) OR {unused} THEN 0 ELSE {cost} END")),
            ("BillingAccountId", $"CASE WHEN {isMca} THEN {A("BillingProfileId")} ELSE {A("BillingAccountId")} END"),
            ("BillingAccountName", $"CASE WHEN {isMca} THEN {A("BillingProfileName")} ELSE {A("BillingAccountName")} END"),
            ("BillingAccountType", $"CASE WHEN {isMca} THEN {L("Billing Profile")} ELSE {L("Billing Account")} END"),
            ("BillingCurrency", A("BillingCurrencyCode")),
            ("BillingPeriodEnd", sql.Timestamp($"CASE WHEN {A("BillingPeriodEndDate")} IS NOT NULL THEN {sql.NextDay(A("BillingPeriodEndDate"))} ELSE {sql.NextMonthStart(A("Date"))} END")),
            ("BillingPeriodStart", sql.Timestamp($"COALESCE({A("BillingPeriodStartDate")}, {sql.MonthStart(A("Date"))})")),
            ("CapacityReservationId", NullIfEmpty("a." + Q("cap_id"))),
            ("CapacityReservationStatus", $"CASE WHEN {NullIfEmpty("a." + Q("cap_id"))} IS NULL THEN {sql.TextNull} WHEN a.{Q("x_rt")} = {L("microsoft.compute/capacityreservationgroups/capacityreservations")} THEN {L("Unused")} ELSE {L("Used")} END"),
            ("ChargeCategory", $"CASE WHEN {aCt} = {L("usage")} THEN {L("Usage")} WHEN {aCt} = {L("purchase")} THEN {L("Purchase")} WHEN {aCt} = {L("credit")} THEN {L("Credit")} WHEN {aCt} = {L("tax")} THEN {L("Tax")} WHEN {unused} THEN {L("Usage")} WHEN {aCt} = {L("refund")} THEN {L("Purchase")} ELSE {L("Adjustment")} END"),
            ("ChargeClass", $"CASE WHEN {aCt} = {L("refund")} THEN {L("Correction")} END"),
            ("ChargeDescription", A("ProductName")),
            ("ChargeFrequency", $"CASE {sql.Lower(A("Frequency"))} WHEN {L("onetime")} THEN {L("One-Time")} WHEN {L("recurring")} THEN {L("Recurring")} WHEN {L("usagebased")} THEN {L("Usage-Based")} ELSE {L("Other")} END"),
            ("ChargePeriodEnd", sql.Timestamp(sql.NextDay(A("Date")))),
            ("ChargePeriodStart", sql.Timestamp(A("Date"))),
            ("CommitmentDiscountCategory", category),
            ("CommitmentDiscountId", NullIfEmpty(A("BenefitId"))),
            ("CommitmentDiscountName", NullIfEmpty(A("BenefitName"))),
            ("CommitmentDiscountQuantity", sql.Decimal($"CASE WHEN {benefit} LIKE {L("%/microsoft.billingbenefits/%")} THEN {sql.CostOverRate($"({effective})", $"(CASE WHEN {isMca} THEN {rate} ELSE 1 END)")} END")),
            ("CommitmentDiscountStatus", $"CASE WHEN {unused} THEN {L("Unused")} WHEN {committed} THEN {L("Used")} END"),
            ("CommitmentDiscountType", $"CASE WHEN {benefit} LIKE {L("%/microsoft.capacity/%")} THEN {L("Reservation")} WHEN {benefit} LIKE {L("%/microsoft.billingbenefits/%")} THEN {L("Savings Plan")} END"),
            ("CommitmentDiscountUnit", $"CASE WHEN {benefit} LIKE {L("%/microsoft.billingbenefits/%")} THEN {pricingCurrency} END"),
            ("ConsumedQuantity", sql.Decimal($"CASE WHEN {aCt} = {L("usage")} THEN {sql.QuantityTimesBlock(A("Quantity"), $"COALESCE(pu.{Q("PricingBlockSize")}, 1)")} END")),
            ("ConsumedUnit", $"CASE WHEN {aCt} = {L("usage")} THEN COALESCE(pu.{Q("DistinctUnits")}, {A("UnitOfMeasure")}) END"),
            ("ContractedCost", sql.Decimal(sql.PriceTimesQuantity($"({unitPrice})", A("Quantity")))),
            ("ContractedUnitPrice", sql.Decimal(unitPrice)),
            ("EffectiveCost", sql.Decimal(effective)),
            ("InvoiceId", NullIfEmpty(A("InvoiceId"))),
            ("InvoiceIssuerName", $"COALESCE({NullIfEmpty(A("PartnerName"))}, {L("Microsoft")})"),
            ("ListCost", sql.Decimal($"CASE WHEN {isMca} THEN {A("PaygCostInBillingCurrency")} ELSE {sql.PriceTimesQuantity(A("PayGPrice"), A("Quantity"))} END")),
            ("ListUnitPrice", sql.Decimal($"CASE WHEN {isMca} THEN {sql.PriceTimesRate(A("PayGPrice"), rate)} ELSE {A("PayGPrice")} END")),
            ("PricingCategory", $"CASE {aPm} WHEN {L("ondemand")} THEN {L("Standard")} WHEN {L("spot")} THEN {L("Dynamic")} WHEN {L("reservation")} THEN {L("Committed")} WHEN {L("savingsplan")} THEN {L("Committed")} WHEN {L("savings plan")} THEN {L("Committed")} END"),
            ("PricingCurrency", pricingCurrency),
            ("PricingQuantity", sql.Decimal(A("Quantity"))),
            ("PricingUnit", $"COALESCE(pu.{Q("DistinctUnits")}, {A("UnitOfMeasure")})"),
            ("ProviderName", L("Microsoft")),
            ("PublisherName", $"COALESCE({NullIfEmpty(A("PublisherName"))}, {L("Microsoft")})"),
            ("RegionId", $"CASE WHEN rg.{Q("RegionId")} IS NOT NULL THEN rg.{Q("RegionId")} WHEN {location} IS NOT NULL THEN {sql.Lower(sql.Replace(location, "' '", "''"))} END"),
            ("RegionName", regionName),
            ("ResourceId", resourceId),
            ("ResourceName", $"COALESCE({NullIfEmpty(A("ResourceName"))}, {NullIfEmpty(sql.LastSegment(A("ResourceId")))})"),
            ("ResourceType", $"CASE WHEN a.{Q("x_rt")} IS NOT NULL THEN COALESCE(rt.{Q("SingularDisplayName")}, a.{Q("x_rt")}) END"),
            ("ServiceCategory", $"COALESCE(s1.{Q("ServiceCategory")}, s2.{Q("ServiceCategory")}, s3.{Q("ServiceCategory")}, {L("Other")})"),
            ("ServiceName", $"COALESCE(s1.{Q("ServiceName")}, s2.{Q("ServiceName")}, s3.{Q("ServiceName")}, {NullIfEmpty(A("MeterCategory"))}, {L("Other")})"),
            ("ServiceSubcategory", $"COALESCE(s1.{Q("ServiceSubcategory")}, s2.{Q("ServiceSubcategory")}, s3.{Q("ServiceSubcategory")}, {L("Other (Other)")})"),
            ("SkuId", NullIfEmpty(A("ProductId"))),
            ("SkuMeter", NullIfEmpty(A("MeterName"))),
            ("SkuPriceDetails", sql.TextNull),
            ("SkuPriceId", sql.TextNull),
            ("SubAccountId", Text("SubscriptionId")),
            ("SubAccountName", A("SubscriptionName")),
            ("SubAccountType", $"CASE WHEN {A("SubscriptionId")} IS NOT NULL THEN {L("Subscription")} END"),
            ("Tags", tags),
            ("x_AccountName", A("AccountName")),
            ("x_AccountOwnerId", A("AccountOwnerId")),
            ("x_BilledCostInUsd", sql.Decimal($"CASE WHEN ({aCt} = {L("usage")} AND {committed}) OR {unused} THEN 0 ELSE {A("CostInUsd")} END")),
            ("x_BillingAccountId", A("BillingAccountId")),
            ("x_BillingAccountName", A("BillingAccountName")),
            ("x_BillingExchangeRate", sql.Decimal($"CASE WHEN {isMca} THEN {A("ExchangeRatePricingToBilling")} ELSE 1 END")),
            ("x_BillingExchangeRateDate", sql.Timestamp(A("ExchangeRateDate"))),
            ("x_BillingProfileId", A("BillingProfileId")),
            ("x_BillingProfileName", A("BillingProfileName")),
            ("x_CostAllocationRuleName", NullIfEmpty(A("CostAllocationRuleName"))),
            ("x_CostCenter", NullIfEmpty(A("CostCenter"))),
            ("x_EffectiveUnitPrice", sql.Decimal($"CASE WHEN {isMca} THEN {sql.PriceTimesRate(A("EffectivePrice"), rate)} ELSE {A("EffectivePrice")} END")),
            ("x_InvoiceSectionId", A("InvoiceSectionId")),
            ("x_InvoiceSectionName", A("InvoiceSectionName")),
            ("x_PricingBlockSize", sql.Decimal($"COALESCE(pu.{Q("PricingBlockSize")}, 1)")),
            ("x_PricingUnitDescription", A("UnitOfMeasure")),
            ("x_PublisherCategory", $"CASE WHEN {sql.Lower(A("PublisherType"))} = {L("marketplace")} THEN {L("Vendor")} ELSE {L("Cloud Provider")} END"),
            ("x_ResourceGroupName", NullIfEmpty(A("ResourceGroup"))),
            ("x_ResourceType", "a." + Q("x_rt")),
            ("x_ServicePeriodEnd", sql.Timestamp(sql.NextDay(A("ServicePeriodEndDate")))),
            ("x_ServicePeriodStart", sql.Timestamp(A("ServicePeriodStartDate"))),
            ("x_SkuDescription", A("ProductName")),
            ("x_SkuDetails", NullIfEmpty(A("AdditionalInfo"))),
            ("x_SkuIsCreditEligible", A("IsAzureCreditEligible")),
            ("x_SkuMeterCategory", A("MeterCategory")),
            ("x_SkuMeterId", Text("MeterId")),
            ("x_SkuMeterSubcategory", NullIfEmpty(A("MeterSubCategory"))),
            ("x_SkuOfferId", NullIfEmpty(A("OfferId"))),
            ("x_SkuOrderId", NullIfEmpty(A("ProductOrderId"))),
            ("x_SkuOrderName", NullIfEmpty(A("ProductOrderName"))),
            ("x_SkuPartNumber", NullIfEmpty(A("PartNumber"))),
            ("x_SkuRegion", NullIfEmpty(A("MeterRegion"))),
            ("x_SkuServiceFamily", NullIfEmpty(A("ServiceFamily"))),
            ("x_SkuTerm", NullIfEmpty(A("Term"))),
            ("x_SourceType", A(LineageColumns.Metric)),
            (LineageColumns.Scope, A(LineageColumns.Scope)),
            (LineageColumns.ImportId, A(LineageColumns.ImportId)),
        };

    }

    /// <summary>The view's column names, in order (for the tests and the README).</summary>
    public static IReadOnlyList<string> ViewColumns()
        => FocusColumns(FocusSql.For(DatabaseProvider.Sqlite), Reads.ToDictionary(n => n, n => (n, "text"), StringComparer.OrdinalIgnoreCase)).Select(c => c.Name).ToList();
}
