using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;

namespace AzBillingPS.Engine.Sync;

/// <summary>
/// What a Sync run covers before its units are planned: the scopes (given, or every subscription the identity can
/// list, less those excluded) and the months (named, or null for the default period).
/// </summary>
public static class SyncScopes
{
    /// <summary>
    /// The scopes to sync, normalised, in order: <paramref name="given"/> (checked with <see cref="CostReportPlanner.ParseScope"/>),
    /// or, with <paramref name="allSubscriptions"/>, every subscription <paramref name="tokens"/> can list. A scope for which
    /// <paramref name="excluded"/>(scope, id, display name) is true is left out, with a verbose line. Throws for a scope
    /// the Cost Details API does not take.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ResolveAsync(
        IReadOnlyList<string> given,
        bool allSubscriptions,
        Func<string, string, string?, bool> excluded,
        AccessTokenProvider tokens,
        IEngineLog log,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(given);
        ArgumentNullException.ThrowIfNull(excluded);
        ArgumentNullException.ThrowIfNull(log);
        var scopes = new List<string>();
        if (allSubscriptions)
        {
            ArgumentNullException.ThrowIfNull(tokens);
            using var lister = new SubscriptionLister();
            IReadOnlyList<AzureSubscription> subscriptions = await lister.ListAsync(tokens, log, cancellationToken).ConfigureAwait(false);
            foreach (AzureSubscription s in subscriptions)
            {
                if (excluded(s.Scope, s.SubscriptionId, s.DisplayName))
                {
                    log.Verbose($"Excluded subscription {s.SubscriptionId} ('{s.DisplayName}').");
                    continue;
                }

                scopes.Add(s.Scope);
            }

            log.Verbose(string.Create(CultureInfo.InvariantCulture, $"-AllSubscriptions: {subscriptions.Count} subscription(s) listed, {scopes.Count} to sync."));
            return scopes;
        }

        foreach (string s in given)
        {
            string scope = CostReportPlanner.ParseScope(s).Scope;
            string id = scope.StartsWith("/subscriptions/", StringComparison.Ordinal) ? scope["/subscriptions/".Length..] : scope;
            if (excluded(scope, id, null))
            {
                log.Verbose($"Excluded scope {scope}.");
                continue;
            }

            scopes.Add(scope);
        }

        return scopes;
    }

    /// <summary>
    /// The months a run loads whatever the state says: the last <paramref name="months"/> months, or those from
    /// <paramref name="from"/> (its month, when only <paramref name="to"/> is given) to <paramref name="to"/> (today
    /// when not given); null for the default period (neither given).
    /// </summary>
    public static IReadOnlyList<DateOnly>? Months(int? months, DateOnly? from, DateOnly? to, DateOnly todayUtc)
    {
        if (months is int n)
        {
            return SyncPlanner.LastMonths(n, todayUtc);
        }

        if (from is null && to is null)
        {
            return null;
        }

        DateOnly first = from ?? SyncPlanner.MonthOf(to!.Value);
        return SyncPlanner.ExplicitMonths(first, to ?? todayUtc, todayUtc);
    }
}
