using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AzBillingPS.Fixture.Endpoints;

/// <summary>
/// The hosts a hostile answer points to (started with --elsewhere-ip): https and http on another loopback address
/// (127.0.0.2), and https on another port of 127.0.0.1. They answer every request with a harmless 200 that would let a
/// careless client go on (a completed report with no blobs, an empty subscription page), and record every request with
/// the Authorization header it carried, so a test can prove that no token ever reached them.
/// </summary>
internal sealed class Elsewhere
{
    private readonly ConcurrentQueue<JsonObject> _requests = new();

    public IPAddress? Address { get; init; }

    public int SameHostPort { get; set; } = -1;

    public string Https { get; set; } = string.Empty;

    public string Http { get; set; } = string.Empty;

    public string SameHostHttps { get; set; } = string.Empty;

    public bool Handles(HttpContext c)
        => Address is not null && (Equals(c.Connection.LocalIpAddress, Address) || (SameHostPort > 0 && c.Connection.LocalPort == SameHostPort));

    public async Task AnswerAsync(HttpContext c)
    {
        string authorization = c.Request.Headers.Authorization.ToString();
        _requests.Enqueue(new JsonObject
        {
            ["time"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["scheme"] = c.Request.Scheme,
            ["local"] = $"{c.Connection.LocalIpAddress}:{c.Connection.LocalPort}",
            ["method"] = c.Request.Method,
            ["path"] = c.Request.Path.Value + c.Request.QueryString.Value,
            ["authorization"] = authorization.Length == 0 ? null : authorization,
        });
        c.Response.StatusCode = 200;
        c.Response.ContentType = "application/json; charset=utf-8";
        var body = new JsonObject
        {
            ["id"] = "elsewhere",
            ["name"] = "elsewhere",
            ["status"] = "Completed",
            ["manifest"] = new JsonObject { ["blobCount"] = 0, ["byteCount"] = 0, ["blobs"] = new JsonArray() },
            ["value"] = new JsonArray(),
        };
        await c.Response.WriteAsync(body.ToJsonString(), c.RequestAborted);
    }

    public JsonObject ToJson() => new()
    {
        ["https"] = Https,
        ["http"] = Http,
        ["sameHostHttps"] = SameHostHttps,
        ["requests"] = new JsonArray(_requests.Select(r => (JsonNode)r.DeepClone()).ToArray()),
    };

    public void Reset() => _requests.Clear();

    public static void Map(WebApplication app, Elsewhere elsewhere)
    {
        app.MapGet("/_fixture/elsewhere", () => Results.Text(elsewhere.ToJson().ToJsonString(), "application/json"));
        app.MapPost("/_fixture/elsewhere/reset", () =>
        {
            elsewhere.Reset();
            return Results.Text("{\"reset\":true}", "application/json");
        });
    }

    public static IEnumerable<string> Bases(Elsewhere e) => new[] { e.Https, e.Http, e.SameHostHttps }.Where(b => b.Length > 0);
}
