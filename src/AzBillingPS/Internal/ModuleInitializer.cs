using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace AzBillingPS.Internal;

/// <summary>
/// Loads AzBillingPS.Engine and everything it depends on (MSAL, SqlClient, Npgsql, SQLite, CsvHelper) from
/// the module's Dependencies/ folder into a load context of its own, so a session that already holds other
/// versions of those assemblies (Az.Accounts, dbatools, Microsoft.Graph) is not disturbed and does not
/// disturb us. The default context's Resolving handler answers for the engine's name only.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    internal const string EngineAssemblyName = "AzBillingPS.Engine";

    private static readonly Lazy<EngineLoadContext> Context = new(() =>
    {
        string root = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!;
        return new EngineLoadContext(Path.Combine(root, "Dependencies", EngineAssemblyName + ".dll"));
    });

    public void OnImport() => AssemblyLoadContext.Default.Resolving += ResolveEngine;

    public void OnRemove(PSModuleInfo psModuleInfo) => AssemblyLoadContext.Default.Resolving -= ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name)
        => string.Equals(name.Name, EngineAssemblyName, StringComparison.Ordinal)
            ? Context.Value.LoadFromAssemblyName(name)
            : null;
}

/// <summary>
/// The engine's load context: built on <see cref="AssemblyDependencyResolver"/> so the engine's .deps.json
/// and runtimes/&lt;rid&gt;/ folders are honoured (SqlClient otherwise loads its platform stub). Assemblies
/// the runtime itself provides are left to the default context.
/// </summary>
internal sealed class EngineLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;
    private readonly HashSet<string> _platformAssemblies;

    public EngineLoadContext(string engineAssemblyPath)
        : base("AzBillingPS", isCollectible: false)
    {
        _resolver = new AssemblyDependencyResolver(engineAssemblyPath);
        _platformAssemblies = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string tpa)
        {
            foreach (string path in tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                string file = Path.GetFileNameWithoutExtension(path);
                // Only the runtime's own assemblies; PowerShell's TPA also lists its own dependencies, which we
                // want to load privately (for example Newtonsoft.Json or Microsoft.Identity.Client of another version).
                if (file.StartsWith("System.", StringComparison.OrdinalIgnoreCase)
                    || file.StartsWith("Microsoft.Win32.", StringComparison.OrdinalIgnoreCase)
                    || file.Equals("netstandard", StringComparison.OrdinalIgnoreCase)
                    || file.Equals("mscorlib", StringComparison.OrdinalIgnoreCase)
                    || file.StartsWith("Microsoft.CSharp", StringComparison.OrdinalIgnoreCase)
                    || file.StartsWith("Microsoft.VisualBasic", StringComparison.OrdinalIgnoreCase))
                {
                    _platformAssemblies.Add(file);
                }
            }
        }
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is null)
        {
            return null;
        }

        // System.Management.Automation never belongs here, and framework assemblies come from the runtime
        // (the engine targets net8.0; PowerShell's runtime is newer and backwards compatible).
        if (_platformAssemblies.Contains(assemblyName.Name)
            || assemblyName.Name.Equals("System.Management.Automation", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        string? path = _resolver.ResolveAssemblyToPath(assemblyName);
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string? path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}
