using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// Loads of one run go several at once only into a table that exists: the first load of a run whose table does not
/// exist yet goes alone (it creates the table, under the table-wide lock), and the others start when it ends, however
/// it ends. Failed units pass straight through.
/// </summary>
internal sealed class FirstLoadGate
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _table;
    private int _taken;

    private FirstLoadGate(string table)
    {
        _table = table;
    }

    /// <summary>A gate for a run of <paramref name="units"/> loads into <paramref name="sink"/>'s table, or null when loads go one at a time anyway or the table exists.</summary>
    public static async Task<FirstLoadGate?> ForAsync(CostSink sink, SyncSchedule schedule, int units, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(schedule);
        if (units < 2 || schedule.Loads < 2)
        {
            return null;
        }

        IReadOnlyList<string> columns = await sink.ReadAsync(lockTimeout, (c, t) => sink.ListColumnNamesAsync(c, null, t), cancellationToken).ConfigureAwait(false);
        return columns.Count == 0 ? new FirstLoadGate(sink.Target.DisplayTable) : null;
    }

    /// <summary>Runs <paramref name="load"/> for <paramref name="work"/>: at once if it is the first (or failed), else once the first has ended.</summary>
    public async Task<SyncUnitOutcome> LoadAsync<TWork>(TWork work, Func<TWork, CancellationToken, Task<SyncUnitOutcome>> load, IEngineLog log, CancellationToken cancellationToken)
        where TWork : SyncWork
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(log);
        if (work.Unit.Action == SyncAction.Failed)
        {
            return await load(work, cancellationToken).ConfigureAwait(false);
        }

        if (Interlocked.Exchange(ref _taken, 1) == 0)
        {
            try
            {
                return await load(work, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _done.TrySetResult();
            }
        }

        log.Verbose($"{work.Unit.Key}: loads after the first load of the run, which creates {_table}.");
        work.Status("Waiting for the first load to create the table");
        await _done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await load(work, cancellationToken).ConfigureAwait(false);
    }
}
