using System;
using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;
using System.Threading;
using System.Threading.Tasks;

namespace AzBillingPS.Internal;

/// <summary>
/// The PowerShell pipeline that the engine work in progress belongs to: the running cmdlet's pump, or, for a script
/// that calls <see cref="AzBillingToken.GetAccessToken"/>, the calling thread. Token sources that live in the PowerShell
/// session (-UseAzContext runs Get-AzAccessToken) and the device code message go through it, so whichever cmdlet uses a
/// token when it needs renewing (the one that made it, New-AzCostReport down the pipeline, Sync-AzBilling -Token) does
/// the PowerShell part on its own pipeline thread.
/// </summary>
internal interface IPipelineHost
{
    /// <summary>Runs <paramref name="func"/> on the pipeline thread and returns its result to the waiting work.</summary>
    Task<T> OnPipelineAsync<T>(Func<T> func);

    /// <summary>A message for the person at the prompt (a warning).</summary>
    void Tell(string message);
}

internal static class PipelineHost
{
    private static readonly AsyncLocal<IPipelineHost?> CurrentHost = new();

    /// <summary>The pipeline of the engine work running in this async flow, or null outside any.</summary>
    public static IPipelineHost? Current => CurrentHost.Value;

    /// <summary>Makes <paramref name="host"/> current for work started from here on (Task.Run captures it); dispose to restore.</summary>
    public static Scope Enter(IPipelineHost host)
    {
        IPipelineHost? previous = CurrentHost.Value;
        CurrentHost.Value = host;
        return new Scope(previous);
    }

    /// <summary>
    /// Runs engine work from a script's own thread (not a cmdlet), pumping what the work sends to the pipeline thread
    /// until it ends. Outside a PowerShell thread it simply waits.
    /// </summary>
    public static T Run<T>(Func<Task<T>> work)
    {
        if (Runspace.DefaultRunspace is null)
        {
            return Task.Run(work).GetAwaiter().GetResult();
        }

        using var host = new CallingThreadHost();
        Task<T> task;
        using (Enter(host))
        {
            task = Task.Run(work);
        }

        _ = task.ContinueWith(_ => host.Complete(), TaskScheduler.Default);
        host.PumpUntilComplete();
        return task.GetAwaiter().GetResult();
    }

    internal readonly struct Scope(IPipelineHost? previous) : IDisposable
    {
        public void Dispose() => CurrentHost.Value = previous;
    }

    private sealed class CallingThreadHost : IPipelineHost, IDisposable
    {
        private readonly BlockingCollection<Action> _queue = new();

        public Task<T> OnPipelineAsync<T>(Func<T> func)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            try
            {
                _queue.Add(() =>
                {
                    try
                    {
                        done.TrySetResult(func());
                    }
                    catch (Exception e)
                    {
                        done.TrySetException(e);
                    }
                });
            }
            catch (InvalidOperationException)
            {
                done.TrySetException(new InvalidOperationException("The PowerShell call that asked for this token has ended."));
            }

            return done.Task;
        }

        public void Tell(string message)
        {
            // No cmdlet to write a warning through: a script calling GetAccessToken() never needs a person.
        }

        public void Complete() => _queue.CompleteAdding();

        public void PumpUntilComplete()
        {
            foreach (Action action in _queue.GetConsumingEnumerable())
            {
                action();
            }
        }

        public void Dispose() => _queue.Dispose();
    }
}
