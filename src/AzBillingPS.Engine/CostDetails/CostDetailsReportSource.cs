using System;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Engine.CostDetails;

/// <summary>Gets one report (the Cost Details client in production, an in-memory fake in tests).</summary>
public interface ICostReportSource
{
    /// <summary>Requests one report and waits for it; see <see cref="CostDetailsClient.RequestAsync"/>.</summary>
    Task<CostReportResult> RequestAsync(CostReportRequest request, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken cancellationToken);

    /// <summary>
    /// How long the first call for <paramref name="request"/> would wait for the source's pacing if it were started now
    /// (nothing reserved; zero when it could go at once). A scheduler starts reports as this allows.
    /// </summary>
    TimeSpan NextRequestIn(CostReportRequest request) => TimeSpan.Zero;
}

/// <summary>The Cost Details client as a report source: one client (one identity), shared by every report it requests.</summary>
public sealed class CostDetailsReportSource : ICostReportSource, IDisposable
{
    private readonly CostDetailsClient _client;

    public CostDetailsReportSource(AccessTokenProvider tokens, CostDetailsOptions? options = null)
    {
        _client = new CostDetailsClient(tokens, options);
    }

    public Task<CostReportResult> RequestAsync(CostReportRequest request, IEngineLog log, IProgress<EngineProgress>? progress, int progressId, CancellationToken cancellationToken)
        => _client.RequestAsync(request, log, progress, progressId, cancellationToken);

    public TimeSpan NextRequestIn(CostReportRequest request) => _client.NextRequestIn(request);

    public void Dispose() => _client.Dispose();
}

/// <summary>
/// One Cost Details client per identity, for a command whose reports were made with several tokens (each report is
/// requested, or requested again, with its own); disposing disposes them all.
/// </summary>
public sealed class CostReportSources : IDisposable
{
    private readonly System.Collections.Generic.Dictionary<AccessTokenProvider, CostDetailsReportSource> _sources = new(System.Collections.Generic.ReferenceEqualityComparer.Instance);
    private readonly CostDetailsOptions? _options;

    public CostReportSources(CostDetailsOptions? options = null) => _options = options;

    /// <summary>The client that requests reports as <paramref name="tokens"/>' identity (made on first use).</summary>
    public ICostReportSource For(AccessTokenProvider tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        lock (_sources)
        {
            if (!_sources.TryGetValue(tokens, out CostDetailsReportSource? source))
            {
                _sources[tokens] = source = new CostDetailsReportSource(tokens, _options);
            }

            return source;
        }
    }

    public void Dispose()
    {
        lock (_sources)
        {
            foreach (CostDetailsReportSource source in _sources.Values)
            {
                source.Dispose();
            }

            _sources.Clear();
        }
    }
}
