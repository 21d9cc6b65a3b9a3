using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
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
/// the runtime itself provides are left to the default context. Where Dependencies/ReadyToRun/ has a folder for
/// the runtime and platform this process runs on (net10.0-linux-x64, ...), an assembly it holds is loaded from there:
/// the same IL with precompiled code, so a first import does not wait for the JIT (an image is tied to the runtime's
/// major version and platform; anywhere else the portable assembly is loaded and compiled as it runs).
/// </summary>
internal sealed class EngineLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;
    private readonly HashSet<string> _platformAssemblies;
    private readonly string _dependencies;
    private readonly string? _readyToRun;

    public EngineLoadContext(string engineAssemblyPath)
        : base("AzBillingPS", isCollectible: false)
    {
        _resolver = new AssemblyDependencyResolver(engineAssemblyPath);
        _dependencies = Path.GetFullPath(Path.GetDirectoryName(engineAssemblyPath)!);
        _readyToRun = ReadyToRunFolder(_dependencies);
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
        if (path is null)
        {
            return null;
        }

        // Only an assembly of Dependencies/ itself (not of runtimes/<rid>/) has an image; Windows paths ignore case.
        if (_readyToRun is not null
            && string.Equals(Path.GetFullPath(Path.GetDirectoryName(path)!), _dependencies, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
        {
            string image = Path.Combine(_readyToRun, Path.GetFileName(path));
            if (File.Exists(image))
            {
                path = image;
            }
        }

        return LoadFromAssemblyPath(path);
    }

    /// <summary>Dependencies/ReadyToRun/net&lt;major&gt;.0-&lt;os&gt;-&lt;arch&gt; of this process's runtime and platform, when the module ships one.</summary>
    internal static string? ReadyToRunFolder(string dependencies)
    {
        string? os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsMacOS() ? "osx" : null;
        string? arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.Arm64 => "arm64",
            _ => null,
        };
        if (os is null || arch is null)
        {
            return null;
        }

        string folder = Path.Combine(dependencies, "ReadyToRun", $"net{Environment.Version.Major}.0-{os}-{arch}");
        return Directory.Exists(folder) ? folder : null;
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string? path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}
