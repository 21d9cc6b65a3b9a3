using System;
using System.IO;

namespace AzBillingPS.Tests;

/// <summary>A new temporary folder for one test class, removed afterwards.</summary>
public abstract class TempFolderTest : IDisposable
{
    protected TempFolderTest(string prefix)
    {
        Dir = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
    }

    protected string Dir { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }
}
