using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.Sync;

/// <summary>Why a month is loaded or skipped.</summary>
internal enum SyncReason
{
    /// <summary>Named by -From/-To or -Months: loaded whatever the state says.</summary>
    Requested,

    /// <summary>The current month: its costs are still coming in.</summary>
    CurrentMonth,

    /// <summary>The state has no committed load of the month.</summary>
    NotLoaded,

    /// <summary>The last load of the month was done before its costs were final.</summary>
    NotFinal,

    /// <summary>The state holds a final load of the month: skipped.</summary>
    Complete,
}

/// <summary>The decision for one month of one (scope, metric).</summary>
internal sealed record SyncMonthDecision(DateOnly Month, bool Load, SyncReason Reason, string Detail);

/// <summary>
/// Which months a Sync loads. Pure functions of today's date, the clock and the state rows, so they are tested
/// without a database or a network.
/// </summary>
/// <remarks>
/// <para>The default period is "what is missing or still open": every month of the lookback window (the current
/// month and the <c>lookback - 1</c> before it; default 3, at most 13, which is how far back the Cost Details API goes)
/// that the state does not hold as complete, plus the current month always, plus the previous month until it is
/// final, even when the window is one month.</para>
/// <para>A month is complete when a load of it committed and that load counts as final. Microsoft finalises a
/// month's usage up to 72 hours after the month ends; a load counts as final when its report was requested at
/// least <see cref="FinalAfter"/> (72 hours plus a day of margin for late-arriving data and time-zone skew) after
/// the month ended, that is from 00:00 UTC on the 5th of the next month. Until then the month is re-loaded on
/// every run. Invoices and credits that arrive later (weeks later for some agreements) are not followed
/// automatically: re-load such a month with -From/-To.</para>
/// </remarks>
public static class SyncPlanner
{
    public const int DefaultLookbackMonths = 3;

    /// <summary>The API serves 13 months back: the current month and the 12 before it.</summary>
    public const int MaxLookbackMonths = 13;

    /// <summary>How long after a month's end a load counts as final: the 72 hours Microsoft gives itself, plus one day.</summary>
    public static readonly TimeSpan FinalAfter = TimeSpan.FromHours(96);

    /// <summary>The first day of the month <paramref name="day"/> is in.</summary>
    public static DateOnly MonthOf(DateOnly day) => new(day.Year, day.Month, 1);

    /// <summary>When loads of the month start counting as final.</summary>
    public static DateTimeOffset FinalFrom(DateOnly month)
    {
        DateOnly next = MonthOf(month).AddMonths(1);
        return new DateTimeOffset(next.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) + FinalAfter;
    }

    /// <summary>True when a report of the month requested at <paramref name="requestedAt"/> holds its final costs.</summary>
    public static bool IsFinal(DateOnly month, DateTimeOffset requestedAt) => requestedAt >= FinalFrom(month);

    /// <summary>The months from the one holding <paramref name="from"/> to the one holding <paramref name="to"/>, oldest first.</summary>
    public static IReadOnlyList<DateOnly> MonthsBetween(DateOnly from, DateOnly to)
    {
        DateOnly first = MonthOf(from);
        DateOnly last = MonthOf(to);
        if (last < first)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                string.Create(CultureInfo.InvariantCulture, $"The period ends ({to:yyyy-MM-dd}) before it starts ({from:yyyy-MM-dd})."));
        }

        var months = new List<DateOnly>();
        for (DateOnly m = first; m <= last; m = m.AddMonths(1))
        {
            months.Add(m);
        }

        return months;
    }

    /// <summary>The last <paramref name="count"/> months up to and including the current one, oldest first.</summary>
    public static IReadOnlyList<DateOnly> LastMonths(int count, DateOnly todayUtc)
    {
        CheckMonths(count, "-Months");
        DateOnly current = MonthOf(todayUtc);
        return MonthsBetween(current.AddMonths(-(count - 1)), current);
    }

    /// <summary>
    /// Checks an explicit period: months not after the current one and not older than the API serves (the current month
    /// and the 12 before it). Returns the months, oldest first.
    /// </summary>
    public static IReadOnlyList<DateOnly> ExplicitMonths(DateOnly from, DateOnly to, DateOnly todayUtc)
    {
        DateOnly current = MonthOf(todayUtc);
        DateOnly oldest = current.AddMonths(-(MaxLookbackMonths - 1));
        if (MonthOf(from) > current)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                string.Create(CultureInfo.InvariantCulture, $"-From {from:yyyy-MM-dd} is in the future; the newest month with costs is {current:yyyy-MM}."));
        }

        if (MonthOf(from) < oldest)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                string.Create(CultureInfo.InvariantCulture, $"-From {from:yyyy-MM-dd} is older than the Cost Details API serves: the oldest month is {oldest:yyyy-MM} (13 months including the current one)."));
        }

        DateOnly end = MonthOf(to) > current ? todayUtc : to;
        return MonthsBetween(from, end);
    }

    /// <summary>
    /// The default period for one (scope, metric): a decision (load or skip, and why) for every month of the lookback
    /// window, plus the previous month when it lies outside the window and is not final. Oldest first.
    /// </summary>
    /// <param name="nowUtc">The clock; its date is today.</param>
    /// <param name="lookbackMonths">Window size in months, the current month included (1 to 13).</param>
    /// <param name="state">State rows of this scope and metric (any order; other rows are ignored by month).</param>
    internal static IReadOnlyList<SyncMonthDecision> DefaultPeriod(DateTimeOffset nowUtc, int lookbackMonths, IEnumerable<SyncStateRow> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        CheckMonths(lookbackMonths, "-LookbackMonths");
        DateOnly today = DateOnly.FromDateTime(nowUtc.UtcDateTime);
        DateOnly current = MonthOf(today);
        var byMonth = new Dictionary<DateOnly, SyncStateRow>();
        foreach (SyncStateRow row in state)
        {
            if (DateOnly.TryParseExact(row.Month + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly m))
            {
                byMonth[m] = row;
            }
        }

        var months = new SortedSet<DateOnly>(LastMonths(lookbackMonths, today));
        months.Add(current.AddMonths(-1)); // the previous month is considered even with a one-month window
        var decisions = new List<SyncMonthDecision>();
        foreach (DateOnly month in months)
        {
            byMonth.TryGetValue(month, out SyncStateRow? row);
            SyncMonthDecision decision = Decide(month, current, row);
            bool inWindow = month >= current.AddMonths(-(lookbackMonths - 1));
            if (inWindow || decision.Load)
            {
                decisions.Add(decision);
            }
        }

        return decisions;
    }

    private static SyncMonthDecision Decide(DateOnly month, DateOnly current, SyncStateRow? row)
    {
        if (month == current)
        {
            return new SyncMonthDecision(month, true, SyncReason.CurrentMonth, "the current month: costs are still coming in");
        }

        string finalFrom = FinalFrom(month).ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        if (row is null || !row.HasData)
        {
            string detail = row?.Status switch
            {
                SyncStatus.Failed => "not loaded yet: the last attempt failed" + (string.IsNullOrEmpty(row.Error) ? string.Empty : " (" + FirstLine(row.Error) + ")"),
                SyncStatus.Running => "not loaded yet: an earlier run did not finish it",
                _ => "not loaded yet",
            };
            return new SyncMonthDecision(month, true, SyncReason.NotLoaded, detail);
        }

        if (!row.IsFinal)
        {
            string when = row.LoadedAt?.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) ?? "earlier";
            return new SyncMonthDecision(month, true, SyncReason.NotFinal, $"loaded {when}, before its costs were final (final from {finalFrom})");
        }

        string loaded = row.LoadedAt!.Value.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        return new SyncMonthDecision(month, false, SyncReason.Complete, $"complete: final load of {loaded}");
    }

    private static string FirstLine(string text)
    {
        int n = text.AsSpan().IndexOfAny('\r', '\n');
        string line = n < 0 ? text : text[..n];
        return line.Length > 200 ? line[..200] + "..." : line;
    }

    private static void CheckMonths(int count, string name)
    {
        if (count < 1 || count > MaxLookbackMonths)
        {
            throw new EngineException(EngineErrorKind.InvalidArgument,
                string.Create(CultureInfo.InvariantCulture, $"{name} must be between 1 and {MaxLookbackMonths} (the Cost Details API serves the current month and the 12 before it); got {count}."));
        }
    }
}
