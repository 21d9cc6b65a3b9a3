using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Internal;

/// <summary>
/// Base for every AzBillingPS cmdlet. Engine work runs on the thread pool; WriteObject, WriteError,
/// WriteVerbose/Debug/Warning, WriteProgress and ShouldProcess are queued back to the pipeline thread,
/// which pumps the queue until the work ends. Ctrl+C (StopProcessing) cancels <see cref="CancellationToken"/>,
/// which reaches every HTTP call, wait and bulk copy; an OperationCanceledException after a stop becomes
/// PipelineStoppedException. An exception escaping the work is a terminating error, mapped by ErrorMapper.
/// </summary>
public abstract class AsyncCmdlet : PSCmdlet, IDisposable, IPipelineHost
{
    private readonly CancellationTokenSource _stop = new();
    private BlockingCollection<Action>? _queue;
    private bool _disposed;

    /// <summary>Cancelled when the user presses Ctrl+C or the pipeline is stopped.</summary>
    protected CancellationToken CancellationToken => _stop.Token;

    protected virtual Task BeginProcessingAsync() => Task.CompletedTask;

    protected virtual Task ProcessRecordAsync() => Task.CompletedTask;

    protected virtual Task EndProcessingAsync() => Task.CompletedTask;

    /// <summary>The target object of a terminating error raised from the current phase.</summary>
    protected virtual object? ErrorTarget => null;

    protected sealed override void BeginProcessing() => Pump(BeginProcessingAsync);

    protected sealed override void ProcessRecord() => Pump(ProcessRecordAsync);

    protected sealed override void EndProcessing() => Pump(EndProcessingAsync);

    protected override void StopProcessing() => _stop.Cancel();

    private void Pump(Func<Task> work)
    {
        using var queue = new BlockingCollection<Action>();
        _queue = queue;
        Task task;
        using (PipelineHost.Enter(this))
        {
            // The work (and every token renewal in it) does its PowerShell part through this cmdlet's pump.
            task = Task.Run(async () =>
            {
                try
                {
                    await work().ConfigureAwait(false);
                }
                finally
                {
                    queue.CompleteAdding();
                }
            });
        }

        Exception? pipelineFailure = null;
        foreach (Action action in queue.GetConsumingEnumerable())
        {
            if (pipelineFailure is not null)
            {
                continue; // drain; the work has been cancelled and will end
            }

            try
            {
                action();
            }
            catch (Exception e)
            {
                pipelineFailure = e;
                _stop.Cancel();
            }
        }

        _queue = null;
        try
        {
            task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            if (pipelineFailure is not null)
            {
                throw pipelineFailure;
            }

            throw new PipelineStoppedException();
        }
        catch (PipelineStoppedException)
        {
            throw;
        }
        catch (TerminatingErrorException t)
        {
            ThrowTerminatingError(t.ErrorRecord);
        }
        catch (RuntimeException r) when (pipelineFailure is null && r.ErrorRecord is not null)
        {
            // Raised on the pipeline thread by code run through OnPipelineAsync (ThrowTerminatingError, provider errors).
            ThrowTerminatingError(r.ErrorRecord);
        }
        catch (Exception e)
        {
            if (pipelineFailure is not null)
            {
                throw pipelineFailure;
            }

            ThrowTerminatingError(ErrorMapper.ToErrorRecord(e, ErrorTarget));
        }

        if (pipelineFailure is not null)
        {
            throw pipelineFailure;
        }
    }

    private void Post(Action action)
    {
        BlockingCollection<Action>? queue = _queue;
        if (queue is null)
        {
            // Called on the pipeline thread outside a pump (should not happen); run in place.
            action();
            return;
        }

        try
        {
            queue.Add(action);
        }
        catch (InvalidOperationException)
        {
            // The phase has ended; nothing can be written any more.
        }
    }

    private Task<T> Invoke<T>(Func<T> func)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                done.TrySetResult(func());
            }
            catch (Exception e)
            {
                // The awaiting work sees the exception; the pump goes on.
                done.TrySetException(e);
            }
        });
        return done.Task.WaitAsync(CancellationToken);
    }

    protected void WriteObjectAsync(object? value) => Post(() => WriteObject(value));

    protected void WriteErrorAsync(ErrorRecord record) => Post(() => WriteError(record));

    protected void WriteVerboseAsync(string text) => Post(() => WriteVerbose(text));

    protected void WriteDebugAsync(string text) => Post(() => WriteDebug(text));

    protected void WriteWarningAsync(string text) => Post(() => WriteWarning(text));

    protected void WriteProgressAsync(ProgressRecord record) => Post(() => WriteProgress(record));

    protected Task<bool> ShouldProcessAsync(string target, string action) => Invoke(() => ShouldProcess(target, action));

    /// <summary>Runs code that needs the pipeline thread (session state, provider paths) from async work.</summary>
    protected Task<T> OnPipelineAsync<T>(Func<T> func) => Invoke(func);

    Task<T> IPipelineHost.OnPipelineAsync<T>(Func<T> func) => Invoke(func);

    void IPipelineHost.Tell(string message) => WriteWarningAsync(message);

    /// <summary>Writes a non-terminating error for one item, mapped from an engine exception.</summary>
    protected void WriteItemError(Exception exception, object? target) => WriteErrorAsync(ErrorMapper.ToErrorRecord(exception, target));

    /// <summary>An engine log that writes to this cmdlet's verbose, debug and warning streams.</summary>
    protected IEngineLog CreateLog() => new CmdletLog(this);

    /// <summary>Progress from the engine, written as progress records (parent ids kept).</summary>
    protected IProgress<EngineProgress> CreateProgress() => new CmdletProgress(this);

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _stop.Dispose();
            GC.SuppressFinalize(this);
        }
    }

    private sealed class CmdletLog(AsyncCmdlet owner) : IEngineLog
    {
        public void Verbose(string message) => owner.WriteVerboseAsync(message);

        public void Debug(string message) => owner.WriteDebugAsync(message);

        public void Warning(string message) => owner.WriteWarningAsync(message);
    }

    private sealed class CmdletProgress(AsyncCmdlet owner) : IProgress<EngineProgress>
    {
        public void Report(EngineProgress value)
        {
            var record = new ProgressRecord(value.ActivityId, value.Activity, string.IsNullOrEmpty(value.Status) ? "Working" : value.Status)
            {
                PercentComplete = Math.Clamp(value.PercentComplete, -1, 100),
                ParentActivityId = value.ParentActivityId,
                RecordType = value.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            };
            owner.WriteProgressAsync(record);
        }
    }
}

/// <summary>Thrown inside async work to end the command with a ready-made ErrorRecord.</summary>
public sealed class TerminatingErrorException : Exception
{
    public TerminatingErrorException(ErrorRecord record)
        : base(record.Exception?.Message ?? record.ToString(), record.Exception)
    {
        ErrorRecord = record;
    }

    public TerminatingErrorException()
        : this(new ErrorRecord(new InvalidOperationException(), ErrorIds.Unexpected, ErrorCategory.NotSpecified, null))
    {
    }

    public TerminatingErrorException(string message)
        : this(new ErrorRecord(new InvalidOperationException(message), ErrorIds.Unexpected, ErrorCategory.NotSpecified, null))
    {
    }

    public TerminatingErrorException(string message, Exception inner)
        : this(new ErrorRecord(new InvalidOperationException(message, inner), ErrorIds.Unexpected, ErrorCategory.NotSpecified, null))
    {
    }

    public ErrorRecord ErrorRecord { get; }
}
