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

    public void Dispose() => _client.Dispose();
}
