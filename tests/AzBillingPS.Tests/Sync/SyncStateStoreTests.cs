using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;
using AzBillingPS.Engine.Sync;
using Xunit;

namespace AzBillingPS.Tests.Sync;

/// <summary>The state table on a real SQLite file: created once, attempts recorded, and the Loaded row committed or rolled back with the rows.</summary>
public sealed class SyncStateStoreTests : IDisposable
{
    private const string Scope = "/subscriptions/00000000-0000-0000-0000-0000000000aa";
    private static readonly TimeSpan Lock = TimeSpan.FromSeconds(10);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "azb-state-" + Guid.NewGuid().ToString("N"));

    public SyncStateStoreTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string Csv(string name, params string[] rows)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, new[] { "Date,SubscriptionId,MeterCategory,CostInBillingCurrency,BillingCurrencyCode" }.Concat(rows));
        return path;
    }

    [Fact]
    public async Task Attempts_and_loads_round_trip_and_a_failed_load_leaves_rows_and_state_as_they_were()
    {
        SinkTarget target = SinkTarget.ForSqliteFile(Path.Combine(_dir, "state.sqlite"), "Costs", null);
        var store = new SyncStateStore(target);
        Assert.Equal("\"Costs_SyncState\"", store.QualifiedTable);
        Assert.Null(await store.ReadAsync(null, CancellationToken.None));

        await store.EnsureAsync(Lock, CancellationToken.None);
        await store.EnsureAsync(Lock, CancellationToken.None); // idempotent
        Assert.Empty((await store.ReadAsync(null, CancellationToken.None))!);

        var october = new SyncUnitKey(Scope, "ActualCost", new DateOnly(2026, 10, 1));
        var september = new SyncUnitKey(Scope, "ActualCost", new DateOnly(2026, 9, 1));
        Guid run = Guid.NewGuid();
        DateTime started = new(2026, 11, 25, 10, 0, 0, 123, DateTimeKind.Utc);
        await store.MarkRunningAsync(new[] { september, october }, started, run, "host-a", Lock, CancellationToken.None);
        await store.MarkFailedAsync(september, "AuthorizationFailed: no", "op-9", started, started.AddSeconds(5), run, "host-a", Lock, CancellationToken.None);

        // A real load of October, with its state row written in the load's transaction.
        string good = Csv("good.csv", "10/01/2026,00000000-0000-0000-0000-0000000000aa,Storage,1.25,USD", "10/02/2026,00000000-0000-0000-0000-0000000000aa,Storage,2.5,USD");
        Guid importId = Guid.Empty;
        var request = new ImportRequest(target, Scope, "ActualCost", new DateTime(2026, 10, 1), new DateTime(2026, 10, 31), new[] { good })
        {
            BeforeCommit = (c, ct) =>
            {
                importId = c.ImportId;
                return store.MarkLoadedAsync(c.Connection, c.Transaction, new SyncLoadRecord(october, new DateOnly(2026, 10, 1), new DateOnly(2026, 10, 31), false,
                    c.RowsInserted, c.Bytes, 1, "op-10", c.ImportId, started, started.AddSeconds(9), run, "host-a"), ct);
            },
        };
        ImportOutcome? outcome = await CostImporter.ImportAsync(request, (_, _) => Task.FromResult(true), NullEngineLog.Instance, null, 1, CancellationToken.None);
        Assert.NotNull(outcome);

        var rows = (await store.ReadAsync(null, CancellationToken.None))!;
        Assert.Equal(new[] { "2026-09", "2026-10" }, rows.Select(r => r.Month));
        SyncStateRow sep = rows[0];
        Assert.Equal(SyncStatus.Failed, sep.Status);
        Assert.False(sep.HasData);
        Assert.Equal("AuthorizationFailed: no", sep.Error);
        Assert.Equal("op-9", sep.OperationId);
        Assert.Equal(started, sep.StartedAt);
        Assert.Equal(DateTimeKind.Utc, sep.StartedAt!.Value.Kind);
        Assert.Equal(run, sep.RunId);
        SyncStateRow oct = rows[1];
        Assert.Equal(SyncStatus.Loaded, oct.Status);
        Assert.Equal(2, oct.Rows);
        Assert.Equal(new FileInfo(good).Length, oct.Bytes);
        Assert.Equal(outcome!.ImportId, oct.ImportId);
        Assert.Equal(importId, oct.ImportId);
        Assert.Equal(new DateOnly(2026, 10, 31), oct.PeriodEnd);
        Assert.False(oct.IsFinal);
        Assert.Null(oct.Error);
        Assert.Equal(new DateOnly(2026, 10, 1), oct.MonthStart);

        // A reload whose file is bad rolls back: the rows and the Loaded row stay exactly as they were.
        string bad = Csv("bad.csv", "10/03/2026,00000000-0000-0000-0000-0000000000aa,Storage,not-a-number,USD");
        bool hookRan = false;
        var failing = request with
        {
            Files = new[] { bad },
            BeforeCommit = (c, ct) =>
            {
                hookRan = true;
                return Task.CompletedTask;
            },
        };
        var error = await Assert.ThrowsAsync<EngineException>(() => CostImporter.ImportAsync(failing, (_, _) => Task.FromResult(true), NullEngineLog.Instance, null, 1, CancellationToken.None));
        Assert.Equal(EngineErrorKind.CsvBadValue, error.Kind);
        Assert.False(hookRan);
        var after = (await store.ReadAsync(Scope, CancellationToken.None))!;
        Assert.Equal(oct, after[1]);

        // The hook's own failure rolls the rows back too.
        string other = Csv("other.csv", "10/04/2026,00000000-0000-0000-0000-0000000000aa,Storage,9,USD");
        var hookFails = request with
        {
            Files = new[] { other },
            BeforeCommit = (c, ct) => throw new InvalidOperationException("state write failed"),
        };
        await Assert.ThrowsAnyAsync<Exception>(() => CostImporter.ImportAsync(hookFails, (_, _) => Task.FromResult(true), NullEngineLog.Instance, null, 1, CancellationToken.None));
        var summary = (await CostSummary.RunAsync(target, new CostSummaryQuery { Scopes = new[] { Scope } }, CancellationToken.None)).Rows;
        Assert.Equal(2, summary.Sum(s => s.Rows));
        Assert.Equal(3.75m, summary.Sum(s => s.Cost));

        // Other scopes are filtered out when asked for one.
        await store.MarkRunningAsync(new[] { new SyncUnitKey("/subscriptions/other", "ActualCost", new DateOnly(2026, 10, 1)) }, started, run, "host-b", Lock, CancellationToken.None);
        Assert.Equal(2, (await store.ReadAsync(Scope, CancellationToken.None))!.Count);
        Assert.Equal(3, (await store.ReadAsync(null, CancellationToken.None))!.Count);
    }

    [Fact]
    public void State_table_names_follow_the_cost_table_and_are_checked()
    {
        Assert.Equal("AzureCostDetails_SyncState", SyncStateSql.StateTableName(PostgreSqlDialect.Instance, "AzureCostDetails"));
        // A 60-byte cost table (fits PostgreSQL's 63) gets a state table shortened with a hash, still ending _SyncState.
        var longName = new SyncStateSql(PostgreSqlDialect.Instance, null, new string('t', 60));
        Assert.Equal(63, longName.Table.Length);
        Assert.EndsWith("_SyncState", longName.Table, StringComparison.Ordinal);
        Assert.NotEqual(longName.Table, new SyncStateSql(PostgreSqlDialect.Instance, null, new string('t', 59) + "u").Table);
        var e = Assert.Throws<EngineException>(() => new SyncStateSql(PostgreSqlDialect.Instance, null, "a\0b"));
        Assert.Equal(EngineErrorKind.InvalidIdentifier, e.Kind);
        Assert.Contains("ON CONFLICT", new SyncStateSql(AzBillingPS.Engine.Sinks.PostgreSqlDialect.Instance, null, "c").Upsert(new[] { SyncStateColumns.Status }));
    }
}
