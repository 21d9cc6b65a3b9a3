using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;

namespace AzBillingPS.Engine.Sinks;

/// <summary>A table's columns with the database's name for each one's type (uuid, jsonb, nvarchar, REAL, ...).</summary>
public static class TableColumns
{
    /// <summary>The query naming each column and its type (parameters: schema, table).</summary>
    public static string Query(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.SqlServer => "SELECT c.name, ty.name FROM sys.columns AS c JOIN sys.tables AS t ON t.object_id = c.object_id JOIN sys.schemas AS s ON s.schema_id = t.schema_id JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id WHERE s.name = @schema AND t.name = @table",
        DatabaseProvider.PostgreSql => "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = @schema AND table_name = @table",
        _ => "SELECT name, type FROM pragma_table_info(@table)",
    };

    /// <summary>Column name (as the table spells it) to type name; empty when the table does not exist.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ReadAsync(SinkTarget target, DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(connection);
        var columns = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        await using DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Query(target.Provider);
        foreach ((string name, string value) in new[] { ("schema", target.EffectiveSchema ?? string.Empty), ("table", target.Table) })
        {
            DbParameter p = command.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value;
            command.Parameters.Add(p);
        }

        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            columns[reader.GetString(0)] = reader.IsDBNull(1) ? string.Empty : reader.GetString(1);
        }

        return columns;
    }

    /// <summary>
    /// The statement that turns an id column an earlier version created as uuid / uniqueidentifier into text (ids are
    /// text now, so a file with a malformed id still loads). Null on SQLite, where ids always were text.
    /// </summary>
    public static string? IdColumnToText(SinkTarget target, string column)
    {
        ArgumentNullException.ThrowIfNull(target);
        SqlDialect d = target.Dialect;
        return target.Provider switch
        {
            DatabaseProvider.PostgreSql => $"ALTER TABLE {target.QualifiedTable} ALTER COLUMN {d.Quote(column)} TYPE {d.ColumnTypeName(new CostColumn(column, CostColumnType.Text))} USING CAST({d.Quote(column)} AS text)",
            DatabaseProvider.SqlServer => $"ALTER TABLE {target.QualifiedTable} ALTER COLUMN {d.Quote(column)} {d.ColumnTypeName(new CostColumn(column, CostColumnType.Text))} NULL",
            _ => null,
        };
    }

    /// <summary>True when the table has id columns an earlier version typed as GUIDs (see <see cref="UpgradeAsync"/>).</summary>
    public static bool NeedsUpgrade(IReadOnlyDictionary<string, string> types) => GuidIdColumns(types).Length > 0;

    private static string[] GuidIdColumns(IReadOnlyDictionary<string, string> types)
        => CostColumnCatalog.Columns
            .Where(c => c.Type == CostColumnType.Text)
            .Select(c => types.Keys.FirstOrDefault(k => k.Equals(c.Name, StringComparison.OrdinalIgnoreCase)))
            .OfType<string>()
            .Where(k => types[k] is "uuid" or "uniqueidentifier")
            .ToArray();

    /// <summary>
    /// Inside a load's transaction: turns the id columns an earlier version typed as GUIDs into text, with a warning.
    /// Returns the table's column types after the change.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> UpgradeAsync(SinkTarget target, DbConnection connection, DbTransaction transaction, IEngineLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(log);
        IReadOnlyDictionary<string, string> types = await ReadAsync(target, connection, transaction, cancellationToken).ConfigureAwait(false);
        string[] ids = GuidIdColumns(types);
        if (ids.Length == 0)
        {
            return types;
        }

        if (target.Provider == DatabaseProvider.Sqlite)
        {
            return types; // ids always were text on SQLite
        }

        // The FOCUS view over the table (made with -FocusView) reads these columns: it is made again over the text columns.
        await Exports.FocusView.AroundColumnChangeAsync(target, connection, transaction, async () =>
        {
            foreach (string column in ids)
            {
                await using DbCommand command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandTimeout = 0;
                command.CommandText = IdColumnToText(target, column)!;
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }, log, cancellationToken).ConfigureAwait(false);

        log.Warning($"Changed {string.Join(", ", ids)} of {target.DisplayTable} from GUID to text: ids are kept as text, so files with ids that are not GUIDs load too.");
        return await ReadAsync(target, connection, transaction, cancellationToken).ConfigureAwait(false);
    }
}
