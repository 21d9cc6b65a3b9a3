using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Reflection;

namespace AzBillingPS.Internal;

/// <summary>One key of a configuration file, with where it is.</summary>
internal sealed record ConfigSetting(string Key, object? Value, int Line, int Column);

/// <summary>
/// Reads a cmdlet's settings from a PowerShell data file (<c>.psd1</c>): one hashtable whose keys are parameter names.
/// The file is parsed, never run: only constants, arrays, nested hashtables and $true/$false/$null are allowed (as
/// Import-PowerShellDataFile does). Explicit parameters win over the file; a key that is not a parameter, or a
/// parameter that cannot come from a file, is an error naming the key, the file and the line.
/// </summary>
internal static class ConfigFile
{
    /// <summary>Parameters whose values name files or folders: relative values are taken from the configuration file's folder.</summary>
    private static readonly HashSet<string> PathParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "DatabasePath", "WorkingPath", "ExportPath", "CertificatePath", "PrivateKeyPath", "FederatedTokenFile",
    };

    /// <summary>Reads the settings. Throws a terminating error (ErrorIds.SyncConfigInvalid or FileNotFound) naming file, line and column.</summary>
    public static IReadOnlyList<ConfigSetting> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new TerminatingErrorException(new ErrorRecord(
                new FileNotFoundException($"The configuration file '{path}' does not exist.", path), ErrorIds.FileNotFound, ErrorCategory.ObjectNotFound, path));
        }

        ScriptBlockAst ast = Parser.ParseFile(path, out _, out ParseError[] errors);
        if (errors.Length > 0)
        {
            ParseError e = errors[0];
            throw Invalid(path, e.Extent.StartLineNumber, e.Extent.StartColumnNumber, $"it is not valid PowerShell: {e.Message}");
        }

        var hashtables = ast.EndBlock?.Statements.Count == 1
            ? ast.FindAll(a => a is HashtableAst, searchNestedScriptBlocks: false).Cast<HashtableAst>().ToList()
            : new List<HashtableAst>();
        HashtableAst? root = hashtables.FirstOrDefault(h => h.Parent is CommandExpressionAst { Parent: PipelineAst { Parent: NamedBlockAst } });
        if (root is null || ast.ParamBlock is not null || ast.BeginBlock is not null || ast.ProcessBlock is not null)
        {
            throw Invalid(path, 1, 1, "it must hold one hashtable, @{ Name = value; ... }, whose keys are parameter names");
        }

        var settings = new List<ConfigSetting>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (Tuple<ExpressionAst, StatementAst> pair in root.KeyValuePairs)
        {
            IScriptExtent at = pair.Item1.Extent;
            if (pair.Item1 is not StringConstantExpressionAst keyAst)
            {
                throw Invalid(path, at.StartLineNumber, at.StartColumnNumber, $"the key '{at.Text}' is not a name");
            }

            string key = keyAst.Value;
            if (!seen.Add(key))
            {
                throw Invalid(path, at.StartLineNumber, at.StartColumnNumber, $"the key '{key}' appears twice");
            }

            object? value;
            try
            {
                value = pair.Item2.SafeGetValue();
            }
            catch (InvalidOperationException e)
            {
                IScriptExtent v = pair.Item2.Extent;
                throw Invalid(path, v.StartLineNumber, v.StartColumnNumber, $"the value of '{key}' is not a constant ({e.Message}); a data file cannot run code or read variables");
            }

            settings.Add(new ConfigSetting(key, value, at.StartLineNumber, at.StartColumnNumber));
        }

        return settings;
    }

    /// <summary>
    /// Sets the cmdlet's properties from the settings, except those bound explicitly and those in <paramref name="deferred"/>
    /// (returned to the caller, keyed by parameter name). Values are converted and validated like bound arguments.
    /// </summary>
    public static Dictionary<string, object?> Apply(PSCmdlet cmdlet, string path, IReadOnlyList<ConfigSetting> settings, IReadOnlyCollection<string> notAllowed, IReadOnlyCollection<string> deferred)
        => Apply(cmdlet, path, settings, notAllowed, deferred, out _);

    /// <inheritdoc cref="Apply(PSCmdlet, string, IReadOnlyList{ConfigSetting}, IReadOnlyCollection{string}, IReadOnlyCollection{string})"/>
    /// <param name="applied">The parameters the file set (by their names).</param>
    public static Dictionary<string, object?> Apply(PSCmdlet cmdlet, string path, IReadOnlyList<ConfigSetting> settings, IReadOnlyCollection<string> notAllowed, IReadOnlyCollection<string> deferred, out HashSet<string> applied)
    {
        applied = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        ArgumentNullException.ThrowIfNull(cmdlet);
        ArgumentNullException.ThrowIfNull(settings);
        var result = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        Dictionary<string, ParameterMetadata> parameters = cmdlet.MyInvocation.MyCommand.Parameters;
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        var intrinsics = cmdlet.GetVariableValue("ExecutionContext") as EngineIntrinsics;
        foreach (ConfigSetting setting in settings)
        {
            ParameterMetadata? parameter = parameters.Values.FirstOrDefault(p => p.Name.Equals(setting.Key, StringComparison.OrdinalIgnoreCase))
                ?? parameters.Values.FirstOrDefault(p => p.Aliases.Contains(setting.Key, StringComparer.OrdinalIgnoreCase));
            bool common = Cmdlet.CommonParameters.Contains(setting.Key, StringComparer.OrdinalIgnoreCase) || Cmdlet.OptionalCommonParameters.Contains(setting.Key, StringComparer.OrdinalIgnoreCase);
            if (parameter is null || common)
            {
                throw Invalid(path, setting.Line, setting.Column,
                    $"'{setting.Key}' is not a setting of {cmdlet.MyInvocation.MyCommand.Name}; the keys are its parameter names (see Get-Help {cmdlet.MyInvocation.MyCommand.Name} -Parameter *)", ErrorIds.SyncConfigUnknownKey);
            }

            if (notAllowed.Contains(parameter.Name, StringComparer.OrdinalIgnoreCase))
            {
                throw Invalid(path, setting.Line, setting.Column,
                    $"'{parameter.Name}' cannot come from a configuration file (secrets and objects are passed as parameters; for a runbook use -ManagedIdentity)");
            }

            if (cmdlet.MyInvocation.BoundParameters.ContainsKey(parameter.Name))
            {
                continue; // the explicit parameter wins
            }

            PropertyInfo property = cmdlet.GetType().GetProperty(parameter.Name, BindingFlags.Public | BindingFlags.Instance)
                ?? throw new InvalidOperationException($"No property for parameter {parameter.Name}.");
            object? value = setting.Value;
            if (PathParameters.Contains(parameter.Name) && value is string relative && relative.Length > 0 && !Path.IsPathRooted(relative))
            {
                value = Path.GetFullPath(Path.Combine(folder, relative));
            }

            object? converted;
            try
            {
                converted = LanguagePrimitives.ConvertTo(value, property.PropertyType, CultureInfo.InvariantCulture);
            }
            catch (PSInvalidCastException e)
            {
                throw Invalid(path, setting.Line, setting.Column, $"the value of '{parameter.Name}' is not a {Describe(property.PropertyType)}: {e.Message}");
            }

            foreach (ValidateArgumentsAttribute validation in property.GetCustomAttributes<ValidateArgumentsAttribute>(inherit: true))
            {
                try
                {
                    ValidateMethod.Invoke(validation, new[] { converted, intrinsics });
                }
                catch (TargetInvocationException e) when (e.InnerException is ValidationMetadataException v)
                {
                    throw Invalid(path, setting.Line, setting.Column, $"the value of '{parameter.Name}' is not valid: {v.Message}");
                }
            }

            if (deferred.Contains(parameter.Name, StringComparer.OrdinalIgnoreCase))
            {
                result[parameter.Name] = converted;
                continue;
            }

            property.SetValue(cmdlet, converted);
            applied.Add(parameter.Name);
        }

        return result;
    }

    /// <summary>
    /// Explicit parameters win over the file for whole groups of alternatives: when the command line names any member
    /// of a group (a way to sign in, a target, a period), the members the file set are reset to their defaults, so
    /// -Months on the command line replaces the file's LookbackMonths instead of contradicting it.
    /// </summary>
    public static void YieldToExplicit(PSCmdlet cmdlet, HashSet<string> applied, params string[][] groups)
    {
        ArgumentNullException.ThrowIfNull(cmdlet);
        ArgumentNullException.ThrowIfNull(applied);
        ArgumentNullException.ThrowIfNull(groups);
        foreach (string[] group in groups)
        {
            if (!group.Any(p => cmdlet.MyInvocation.BoundParameters.ContainsKey(p)))
            {
                continue;
            }

            foreach (string name in group.Where(p => applied.Contains(p) && !cmdlet.MyInvocation.BoundParameters.ContainsKey(p)))
            {
                PropertyInfo property = cmdlet.GetType().GetProperty(name, BindingFlags.Public | BindingFlags.Instance)!;
                Type type = property.PropertyType;
                object? reset = type == typeof(SwitchParameter) ? new SwitchParameter(false)
                    : type.IsValueType && Nullable.GetUnderlyingType(type) is null ? Activator.CreateInstance(type)
                    : null;
                property.SetValue(cmdlet, reset);
                applied.Remove(name);
                cmdlet.WriteVerbose($"-{name} from the configuration file is not used: the command line names another {string.Join('/', group.Select(g => "-" + g))}.");
            }
        }
    }

    private static readonly MethodInfo ValidateMethod = typeof(ValidateArgumentsAttribute).GetMethod(
        "Validate", BindingFlags.Instance | BindingFlags.NonPublic, null, new[] { typeof(object), typeof(EngineIntrinsics) }, null)
        ?? throw new InvalidOperationException("ValidateArgumentsAttribute.Validate(object, EngineIntrinsics) was not found.");

    private static string Describe(Type type)
    {
        Type t = Nullable.GetUnderlyingType(type) ?? type;
        if (t.IsArray)
        {
            return "list of " + Describe(t.GetElementType()!);
        }

        if (t.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(t));
        }

        return t == typeof(SwitchParameter) ? "boolean ($true or $false)" : t.Name;
    }

    private static TerminatingErrorException Invalid(string path, int line, int column, string reason, string id = ErrorIds.SyncConfigInvalid)
        => new(new ErrorRecord(
            new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{path}: line {line}, column {column}: {reason}.")),
            id, ErrorCategory.InvalidData, path));
}
