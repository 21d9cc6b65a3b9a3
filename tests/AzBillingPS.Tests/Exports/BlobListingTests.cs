using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Engine.Exports;
using AzBillingPS.Tests.Orchestration;
using Xunit;

namespace AzBillingPS.Tests.Exports;

/// <summary>
/// The container listing's paging against a real loopback HTTP server (the Azurite test in Import-AzCostExport.Tests.ps1
/// covers a real blob service): what a NextMarker can and cannot make the next List Blobs request do.
/// </summary>
public class BlobListingTests
{
    [Fact]
    public async Task A_next_marker_only_continues_the_same_listing_of_the_same_container()
    {
        // A hostile or garbled marker that looks like an address, a second signature and extra query keys: it must go back
        // as one escaped marker value to the same host, container, prefix and SAS, and never be followed as a link.
        const string hostile = "https://evil.example/other?restype=container&comp=list&sig=stolen#/../../other-container";
        int port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var seen = new List<(string Host, string Path, string Query)>();
        Task server = Task.Run(async () =>
        {
            for (int page = 1; page <= 3; page++)
            {
                HttpListenerContext c = await listener.GetContextAsync();
                seen.Add((c.Request.Headers["Host"] ?? string.Empty, c.Request.Url!.AbsolutePath, c.Request.Url.Query));
                string next = page switch { 1 => hostile, 2 => "2!96!page3", _ => string.Empty };
                string xml = $"""
                    <?xml version="1.0" encoding="utf-8"?>
                    <EnumerationResults ServiceEndpoint="http://127.0.0.1:{port}/devstoreaccount1/" ContainerName="costs">
                      <Blobs><Blob><Name>finops/p{page}.csv</Name><Properties><Content-Length>{page}</Content-Length></Properties></Blob></Blobs>
                      <NextMarker>{WebUtility.HtmlEncode(next)}</NextMarker>
                    </EnumerationResults>
                    """;
                byte[] body = Encoding.UTF8.GetBytes(xml);
                c.Response.StatusCode = 200;
                c.Response.ContentType = "application/xml";
                await c.Response.OutputStream.WriteAsync(body);
                c.Response.Close();
            }
        });

        using BlobContainerStore store = BlobContainerStore.FromSasUrl(new Uri($"http://127.0.0.1:{port}/devstoreaccount1/costs?sv=2022-11-02&sr=c&sp=rl&sig=THE%2BSIG"), "finops");
        var log = new ListLog();
        List<ExportStoreItem> items = await Streams.All(store.ListAsync(log, CancellationToken.None));
        await server.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["finops/p1.csv", "finops/p2.csv", "finops/p3.csv"], items.Select(i => i.Name));
        Assert.Equal(3, seen.Count);
        Assert.All(seen, s => Assert.Equal($"127.0.0.1:{port}", s.Host));
        Assert.All(seen, s => Assert.Equal("/devstoreaccount1/costs", s.Path));
        Dictionary<string, string[]>[] queries = seen.Select(s => Parse(s.Query)).ToArray();
        foreach (Dictionary<string, string[]> q in queries)
        {
            Assert.Equal(["THE+SIG"], q["sig"]); // the container's own signature, once
            Assert.Equal(["container"], q["restype"]);
            Assert.Equal(["list"], q["comp"]);
            Assert.Equal(["finops/"], q["prefix"]);
            Assert.Equal(["5000"], q["maxresults"]); // the service's largest page, unless a test sets the hook
        }

        Assert.False(queries[0].ContainsKey("marker"));
        Assert.Equal([hostile], queries[1]["marker"]);
        Assert.Equal(["2!96!page3"], queries[2]["marker"]);
        Assert.DoesNotContain("THE+SIG", log.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("THE%2BSIG", log.Text, StringComparison.Ordinal);
        Assert.Equal(3, log.Lines.Count(l => l.Contains("Listing ", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_list_page_size_hook_takes_1_to_5000_only()
    {
        // Same class as the listing test, so never run beside it (xunit runs one class's tests one at a time).
        Assert.Throws<ArgumentOutOfRangeException>(() => AzBillingPS.Engine.Common.InternalHooks.SetTestHook("ListPageSize", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AzBillingPS.Engine.Common.InternalHooks.SetTestHook("ListPageSize", 5001));
        try
        {
            AzBillingPS.Engine.Common.InternalHooks.SetTestHook("ListPageSize", "2");
            Assert.Equal(2, AzBillingPS.Engine.Common.InternalHooks.ListPageSize);
        }
        finally
        {
            AzBillingPS.Engine.Common.InternalHooks.SetTestHook("ListPageSize", 5000);
        }
    }

    private static Dictionary<string, string[]> Parse(string query)
        => query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .GroupBy(p => Uri.UnescapeDataString(p[0]), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(p => Uri.UnescapeDataString(p.Length > 1 ? p[1] : string.Empty)).ToArray(), StringComparer.Ordinal);

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
