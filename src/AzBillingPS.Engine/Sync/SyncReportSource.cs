using System;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Auth;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.CostDetails;

namespace AzBillingPS.Engine.Sync;

/// <summary>The Cost Details client as a Sync report source (one client, shared by the run's units).</summary>
public sealed class CostDetailsReportSource : ISyncReportSource, IDisposable
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
