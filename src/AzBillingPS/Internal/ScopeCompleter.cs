using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Sinks;

namespace AzBillingPS.Internal;

/// <summary>
/// Completes -Scope with the scopes the target database already holds: the target is read from the parameters typed so
/// far (the same ones the command will use), the table is read, never created, and a slow or unreachable database
/// gives no completions after a few seconds instead of an error.
/// </summary>
public sealed class ScopeCompleter : IArgumentCompleter
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(5);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        ArgumentNullException.ThrowIfNull(fakeBoundParameters);
        string typed = (wordToComplete ?? string.Empty).Trim('\'', '"');
        IReadOnlyList<string> scopes;
        try
        {
            string? Text(string name) => fakeBoundParameters.Contains(name) ? fakeBoundParameters[name]?.ToString() : null;
            AzBillingProvider? provider = Enum.TryParse(Text(nameof(DatabaseTargetCmdlet.Provider)), true, out AzBillingProvider p) ? p : null;
            var parameters = new DatabaseTargetCmdlet.TargetParameters(
                Text(nameof(DatabaseTargetCmdlet.SqlInstance)),
                Text(nameof(DatabaseTargetCmdlet.Database)),
                Text(nameof(DatabaseTargetCmdlet.ConnectionString)),
                provider,
                Text(nameof(DatabaseTargetCmdlet.DatabasePath)) ?? Text("SqlitePath"),
                (fakeBoundParameters[nameof(DatabaseTargetCmdlet.Credential)] ?? fakeBoundParameters["SqlCredential"]) is object c ? LanguagePrimitives.ConvertTo<PSCredential>(c) : null,
                Text(nameof(DatabaseTargetCmdlet.Table)) ?? DatabaseTargetCmdlet.DefaultTable,
                Text(nameof(DatabaseTargetCmdlet.Schema)),
                false);
            string location = CurrentLocation();
            SinkTarget target = DatabaseTargetCmdlet.Resolve(parameters, path => System.IO.Path.GetFullPath(path, location), readOnly: true);
            using var cancel = new CancellationTokenSource(Budget);
            scopes = Task.Run(() => CostSummary.ScopesAsync(target, cancel.Token), cancel.Token).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not (OutOfMemoryException or StackOverflowException))
        {
            return Array.Empty<CompletionResult>(); // no target, no table, no database: nothing to offer
        }

        var pattern = new WildcardPattern(typed.Length == 0 ? "*" : "*" + typed + "*", WildcardOptions.IgnoreCase);
        return scopes
            .Where(s => pattern.IsMatch(s))
            .Select(s => new CompletionResult(s, s, CompletionResultType.ParameterValue, s));
    }

    /// <summary>The session's file-system location (a nested pipeline: the completer runs while the prompt's pipeline does).</summary>
    private static string CurrentLocation()
    {
        using var ps = PowerShell.Create(RunspaceMode.CurrentRunspace);
        PathInfo? location = ps.AddCommand("Microsoft.PowerShell.Management\\Get-Location").AddParameter("PSProvider", "FileSystem").Invoke<PathInfo>().FirstOrDefault();
        return location?.ProviderPath ?? Environment.CurrentDirectory;
    }
}
