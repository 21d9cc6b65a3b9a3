using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using AzBillingPS.Fixture;
using AzBillingPS.Fixture.Endpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// AzBillingPS test fixture. Usage:
//   AzBillingPS.Fixture --config fixture.json --tls-pfx server.pfx [--tls-password p] [--https-port 0] [--http-port 0] [--parent-pid N] [--exit-on-stdin-close] [--elsewhere-ip 127.0.0.2]
// Plays Entra ID, the managed-identity endpoints, ARM (subscription list) and Cost Management's cost-details API,
// and proxies blob downloads with injected faults. Prints one JSON line on stdout when listening: {"https":"https://127.0.0.1:P","http":"http://127.0.0.1:Q","pid":N}
// (with --elsewhere-ip, also "elsewhere": {https, http, sameHostHttps}: listeners that record the Authorization headers they get).
// Ends on Ctrl+C, when --parent-pid exits, or (with --exit-on-stdin-close) when stdin closes.
string? configPath = Arg(args, "--config");
string? pfxPath = Arg(args, "--tls-pfx");
if (configPath is null || pfxPath is null)
{
    Console.Error.WriteLine("usage: AzBillingPS.Fixture --config <file.json> --tls-pfx <server.pfx> [--tls-password <p>] [--https-port 0] [--http-port 0] [--parent-pid <pid>]");
    return 2;
}

FixtureConfig config = JsonSerializer.Deserialize(File.ReadAllText(configPath), FixtureJsonContext.Default.FixtureConfig)
    ?? throw new InvalidDataException("The fixture configuration is empty.");
X509Certificate2 tls = X509CertificateLoader.LoadPkcs12FromFile(pfxPath, Arg(args, "--tls-password"));
int httpsPort = int.Parse(Arg(args, "--https-port") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
int httpPort = int.Parse(Arg(args, "--http-port") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
var elsewhere = new Elsewhere { Address = Arg(args, "--elsewhere-ip") is { Length: > 0 } ip ? IPAddress.Parse(ip) : null };
var elsewhereListeners = new List<(string Kind, Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions Options)>();

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(IPAddress.Loopback, httpsPort, l => l.UseHttps(tls));
    k.Listen(IPAddress.Loopback, httpPort);
    if (elsewhere.Address is IPAddress other)
    {
        k.Listen(other, 0, l =>
        {
            l.UseHttps(tls);
            elsewhereListeners.Add(("https", l));
        });
        k.Listen(other, 0, l => elsewhereListeners.Add(("http", l)));
        k.Listen(IPAddress.Loopback, 0, l =>
        {
            l.UseHttps(tls);
            elsewhereListeners.Add(("sameHost", l));
        });
    }
});

WebApplication app = builder.Build();
app.Use(async (c, next) =>
{
    if (elsewhere.Handles(c))
    {
        await elsewhere.AnswerAsync(c);
        return;
    }

    await next(c);
});
var state = new FixtureState(config);
var cost = new AzBillingPS.Fixture.Cost.CostState(config);
EntraEndpoints.Map(app, state);
DeviceCodeEndpoints.Map(app, state);
ManagedIdentityEndpoints.Map(app, state);
ControlEndpoints.Map(app, state, cost);
CostEndpoints.Map(app, state, cost);
BlobProxyEndpoints.Map(app);
Elsewhere.Map(app, elsewhere);

await app.StartAsync();
string[] addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
foreach ((string kind, Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions options) in elsewhereListeners)
{
    // Kestrel writes the bound port back into the listen options.
    int port = options.IPEndPoint!.Port;
    string host = options.IPEndPoint.Address.ToString();
    switch (kind)
    {
        case "https":
            elsewhere.Https = $"https://{host}:{port}";
            break;
        case "http":
            elsewhere.Http = $"http://{host}:{port}";
            break;
        default:
            elsewhere.SameHostPort = port;
            elsewhere.SameHostHttps = $"https://{host}:{port}";
            break;
    }
}

string[] own = addresses.Where(a => !Elsewhere.Bases(elsewhere).Any(b => a.TrimEnd('/').Equals(b, StringComparison.OrdinalIgnoreCase))).ToArray();
state.HttpsBase = own.First(a => a.StartsWith("https://", StringComparison.Ordinal));
state.HttpBase = own.First(a => a.StartsWith("http://", StringComparison.Ordinal));
Console.Out.WriteLine(elsewhere.Address is null
    ? JsonSerializer.Serialize(new { https = state.HttpsBase, http = state.HttpBase, pid = Environment.ProcessId })
    : JsonSerializer.Serialize(new { https = state.HttpsBase, http = state.HttpBase, pid = Environment.ProcessId, elsewhere = new { https = elsewhere.Https, http = elsewhere.Http, sameHostHttps = elsewhere.SameHostHttps } }));
Console.Out.Flush();

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
if (Arg(args, "--exit-on-stdin-close") is not null)
{
    _ = Task.Run(() =>
    {
        // stdin closing (the test's handle going away) ends the fixture.
        try
        {
            while (Console.In.Read() >= 0)
            {
            }
        }
        catch (IOException)
        {
        }

        stop.Cancel();
    });
}

if (Arg(args, "--parent-pid") is string parent && int.TryParse(parent, out int parentPid))
{
    _ = Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using Process p = Process.GetProcessById(parentPid);
                if (p.HasExited)
                {
                    break;
                }
            }
            catch (ArgumentException)
            {
                break;
            }

            await Task.Delay(1000);
        }

        stop.Cancel();
    });
}

try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}

await app.StopAsync();
return 0;

static string? Arg(string[] args, string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : (i >= 0 ? string.Empty : null);
}
