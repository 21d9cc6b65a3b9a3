namespace AzBillingPS.Engine.Common;

/// <summary>The engine's only way to talk: the cmdlet layer routes these to the verbose, debug and warning streams.</summary>
public interface IEngineLog
{
    void Verbose(string message);

    void Debug(string message);

    void Warning(string message);

    /// <summary>A warning with what the user can do about it, for the cmdlet layer to word after the message (the engine names no command).</summary>
    void Warning(string message, EngineAdvice advice) => Warning(message);
}

/// <summary>A log that drops everything (for callers that do not care, and tests).</summary>
internal sealed class NullEngineLog : IEngineLog
{
    public static readonly NullEngineLog Instance = new();

    public void Verbose(string message)
    {
    }

    public void Debug(string message)
    {
    }

    public void Warning(string message)
    {
    }
}

/// <summary>One progress report. <see cref="PercentComplete"/> is -1 when unknown.</summary>
public sealed record EngineProgress(int ActivityId, string Activity, string Status, int PercentComplete, bool Completed = false, int ParentActivityId = -1);
