using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;

namespace AzBillingPS.TestData;

internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "--layout")
        {
            // A storage container's worth of Cost Management exports, described by a JSON file (see ExportLayout).
            return ExportLayout.Run(args[1]);
        }

        Options o;
        try
        {
            o = Options.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }
        if (o.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        var watch = Stopwatch.StartNew();
        var generator = new Generator(o);
        var files = generator.Run();
        if (o.DailySums is not null)
        {
            string full = Path.GetFullPath(o.DailySums);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, generator.DailySumsJson(), new UTF8Encoding(false));
        }
        watch.Stop();

        long rows = 0, bytes = 0;
        foreach (var f in files)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {f.Path} rows={f.Rows} bytes={f.Bytes}"));
            rows += f.Rows;
            bytes += f.Bytes;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"total kind={o.Kind} month={o.Month:yyyy-MM} seed={o.Seed} files={files.Count} rows={rows} bytes={bytes} seconds={watch.Elapsed.TotalSeconds:F2}"));
        return 0;
    }
}
