using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Common;

namespace AzBillingPS.Internal;

/// <summary>
/// Base for every AzBillingPS cmdlet (jborean93's AsyncPSCmdlet pattern, as OpenAuthenticode uses it). Engine work
/// runs on the thread pool; WriteObject, WriteError, WriteVerbose/Debug/Warning, WriteProgress and ShouldProcess are
/// queued back to the pipeline thread, which pumps the queue until the work ends or the pipeline is stopped. Ctrl+C
/// (StopProcessing) cancels <see cref="CancellationToken"/>, which reaches every HTTP call, wait and bulk copy and the
/// pump itself; the command then waits for the work to end (so a load has rolled back and files are cleaned up before
/// the prompt returns) and an OperationCanceledException after a stop becomes PipelineStoppedException. An exception
/// escaping the work is a terminating error, mapped by ErrorMapper. Provider paths are resolved on the pipeline thread
/// only (<see cref="OnPipelineAsync{T}"/>).
/// </summary>
public abstract class AsyncCmdlet : PSCmdlet, IDisposable, IPipelineHost
{
    private readonly CancellationTokenSource _stop = new();

    // Cmdlets are made, bound and pumped on the pipeline thread.
    private readonly int _pipelineThread = Environment.CurrentManagedThreadId;
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
        try
        {
            // Drained with the stop token: after Ctrl+C nothing more is written, and the pump stops waiting for the
            // next write at once; the work sees the same token and ends (rolling back what it must) below.
            foreach (Action action in queue.GetConsumingEnumerable(_stop.Token))
            {
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    // A write failed on the pipeline thread (a downstream command threw, the pipeline was stopped):
                    // the work is cancelled and the failure ends the command once the work has ended.
                    pipelineFailure = e;
                    _stop.Cancel();
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }

        // The work may still be ending (after a stop): its writes go to the queue, which nobody reads any more, until
        // it has; only then is the queue let go (a write after that would otherwise run off the pipeline thread).
        ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
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

            ThrowTerminatingError(ErrorMapper.ToErrorRecord(WithAdvice(e, ErrorTarget), ErrorTarget));
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

    /// <summary>
    /// A path as PowerShell's providers see it ($PWD, PSDrives, ~), not required to exist. Session state is only safe on
    /// the pipeline thread: from async work, call it through <see cref="OnPipelineAsync{T}"/>; anywhere else it throws.
    /// </summary>
    protected string UnresolvedPath(string path)
    {
        if (Environment.CurrentManagedThreadId != _pipelineThread)
        {
            throw new InvalidOperationException($"The path '{path}' was to be resolved off the pipeline thread; resolve it through OnPipelineAsync.");
        }

        return GetUnresolvedProviderPathFromPSPath(path);
    }

    /// <summary>Runs code that needs the pipeline thread (session state, provider paths) from async work.</summary>
    protected Task<T> OnPipelineAsync<T>(Func<T> func) => Invoke(func);

    Task<T> IPipelineHost.OnPipelineAsync<T>(Func<T> func) => Invoke(func);

    void IPipelineHost.Tell(string message) => WriteWarningAsync(message);

    /// <summary>Writes a non-terminating error for one item, mapped from an engine exception, with this command's advice.</summary>
    protected void WriteItemError(Exception exception, object? target) => WriteErrorAsync(ErrorMapper.ToErrorRecord(WithAdvice(exception, target), target));

    /// <summary>
    /// What to do about an error the engine marked with <paramref name="advice"/>, in this command's terms (the engine
    /// names no command); null adds nothing.
    /// </summary>
    protected virtual string? Advise(EngineAdvice advice, object? target) => ErrorMapper.CommonAdvice(advice, HasParameter);

    /// <summary>True when this command has the parameter: advice names only parameters the command that ran has.</summary>
    protected bool HasParameter(string name) => GetType().GetProperty(name)?.IsDefined(typeof(ParameterAttribute), inherit: true) == true;

    /// <summary>The exception with this command's advice added to its message (see <see cref="Advise"/>).</summary>
    protected Exception WithAdvice(Exception exception, object? target)
        => exception is EngineException { Advice: not EngineAdvice.None } e && Advise(e.Advice, target) is { Length: > 0 } text
            ? ErrorMapper.WithAdvice(e, text)
            : exception;

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

        public void Warning(string message, EngineAdvice advice)
            => owner.WriteWarningAsync(advice != EngineAdvice.None && owner.Advise(advice, null) is { Length: > 0 } text ? message.TrimEnd() + " " + text : message);
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
