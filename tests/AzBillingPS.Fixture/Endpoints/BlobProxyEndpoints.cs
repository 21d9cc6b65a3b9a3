using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using AzBillingPS.Fixture.Cost;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AzBillingPS.Fixture.Endpoints;

/// <summary>
/// A fault-injecting pass-through to a blob service (Azurite) on the HTTP listener: GET/HEAD /_proxy/{path}?{query}
/// is forwarded to {upstream}/{path}?{query}, streamed both ways. Azurite's SAS signature does not cover the host, so
/// a link rewritten onto the proxy still authenticates. Faults, one per request from a queue: cut the body after N
/// bytes, answer 500/503 (Retry-After), or wait first. A bandwidth cap (bytes per second) paces every answer's body on
/// its own connection, as a long-distance link limits each TCP connection (window over round trip): one connection
/// gets the cap, several get it each.
/// </summary>
internal static class BlobProxyEndpoints
{
    private const string Prefix = "/_proxy";

    private static readonly string[] RequestHeaders = ["Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Accept-Encoding", "User-Agent"];

    private static readonly string[] ResponseHeaders = ["Content-Range", "Content-MD5", "Content-Type", "Content-Encoding", "ETag", "Last-Modified", "Accept-Ranges", "Retry-After"];

    private static readonly HttpClient Upstream = new(new SocketsHttpHandler
    {
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
    })
    { Timeout = System.Threading.Timeout.InfiniteTimeSpan };

    private static readonly object Gate = new();
    private static readonly Queue<ProxyFault> Faults = new();
    private static readonly List<JsonObject> Requests = [];
    private static string? _upstream;
    private static long _bytesPerSecond;

    public static void Map(WebApplication app)
    {
        app.MapMethods(Prefix + "/{**rest}", ["GET", "HEAD"], (HttpContext c) => c.Request.IsHttps ? NotFound(c) : ForwardAsync(c));
        app.MapPost("/_fixture/proxy", async (HttpContext c) =>
        {
            try
            {
                using JsonDocument doc = await JsonDocument.ParseAsync(c.Request.Body, default, c.RequestAborted);
                JsonElement body = doc.RootElement;
                Json.RequireObject(body, "body", ["upstream", "faults", "bytesPerSecond"]);
                string? upstream = Json.Str(body, "upstream", "body");
                long bytesPerSecond = Json.Long(body, "bytesPerSecond", "body") ?? 0;
                if (bytesPerSecond < 0)
                {
                    throw new RuleException("bytesPerSecond must be 0 (no cap) or more.");
                }

                if (upstream is not null && !Uri.TryCreate(upstream, UriKind.Absolute, out _))
                {
                    throw new RuleException($"upstream '{upstream}' is not an absolute URL.");
                }

                var faults = new List<ProxyFault>();
                if (Json.Prop(body, "faults") is JsonElement f && f.ValueKind == JsonValueKind.Array)
                {
                    foreach (JsonElement e in f.EnumerateArray())
                    {
                        faults.Add(ProxyFault.Parse(e, $"faults[{faults.Count}]"));
                    }
                }

                lock (Gate)
                {
                    _upstream = upstream ?? _upstream;
                    _bytesPerSecond = bytesPerSecond;
                    Faults.Clear();
                    foreach (ProxyFault x in faults)
                    {
                        Faults.Enqueue(x);
                    }

                    Requests.Clear();
                }

                await Write(c, 200, new JsonObject { ["upstream"] = _upstream, ["faults"] = faults.Count, ["bytesPerSecond"] = bytesPerSecond });
            }
            catch (Exception e) when (e is JsonException or RuleException or OverflowException)
            {
                await Write(c, 400, new JsonObject { ["error"] = e.Message });
            }
        });
        app.MapGet("/_fixture/proxy/requests", (HttpContext c) =>
        {
            JsonArray list;
            lock (Gate)
            {
                list = new JsonArray(Requests.Select(r => (JsonNode)r.DeepClone()).ToArray());
            }

            return Write(c, 200, list);
        });
    }

    private static Task NotFound(HttpContext c)
    {
        c.Response.StatusCode = 404;
        return Task.CompletedTask;
    }

    private static Task Write(HttpContext c, int status, JsonNode body)
    {
        c.Response.StatusCode = status;
        c.Response.ContentType = "application/json; charset=utf-8";
        return c.Response.WriteAsync(body.ToJsonString(CostRequestRecord.JsonOptions), c.RequestAborted);
    }

    private static async Task ForwardAsync(HttpContext c)
    {
        // The raw target keeps the request's own escaping (the SAS query must reach Azurite byte for byte).
        string raw = c.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (c.Request.Path + c.Request.QueryString);
        string rest = raw.Length > Prefix.Length ? raw[Prefix.Length..] : "/";
        int q = rest.IndexOf('?', StringComparison.Ordinal);
        string path = q < 0 ? rest : rest[..q];
        string query = q < 0 ? string.Empty : rest[(q + 1)..];
        ProxyFault? fault;
        string? upstream;
        long bytesPerSecond;
        var record = new JsonObject
        {
            ["time"] = CostRequestRecord.Iso(DateTimeOffset.UtcNow),
            ["startMs"] = Environment.TickCount64,
            ["endMs"] = null,
            ["connection"] = c.Connection.Id,
            ["method"] = c.Request.Method,
            ["path"] = path,
            ["query"] = RedactSig(query),
            ["range"] = c.Request.Headers.Range.ToString() is { Length: > 0 } r ? r : c.Request.Headers["x-ms-range"].ToString() is { Length: > 0 } xr ? xr : null,
            ["ifMatch"] = c.Request.Headers.IfMatch.ToString() is { Length: > 0 } im ? im : null,
            ["status"] = null,
            ["bytesSent"] = 0,
            ["fault"] = null,
        };
        lock (Gate)
        {
            upstream = _upstream;
            bytesPerSecond = _bytesPerSecond;
            Faults.TryDequeue(out fault);
            Requests.Add(record);
        }

        void Set(string name, JsonNode? value)
        {
            lock (Gate)
            {
                record[name] = value;
            }
        }

        Set("fault", fault?.Raw);
        if (upstream is null)
        {
            Set("status", 502);
            await CostEndpoints.StorageErrorAsync(c, 502, "ProxyNotConfigured", "POST /_fixture/proxy with an upstream first.", null);
            return;
        }

        if (fault?.DelayMs > 0)
        {
            try
            {
                await Task.Delay(fault.DelayMs, c.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                Set("status", 499);
                return;
            }
        }

        if (fault?.Status is int status)
        {
            Set("status", status);
            c.Response.Headers["x-ms-request-id"] = Guid.NewGuid().ToString();
            if (fault.RetryAfter is int ra)
            {
                c.Response.Headers.RetryAfter = ra.ToString(CultureInfo.InvariantCulture);
            }

            (string code, string message) = status == 503
                ? ("ServerBusy", "The server is currently unable to receive requests. Please retry your request.")
                : ("InternalError", "The server encountered an internal error. Please retry the request.");
            await CostEndpoints.StorageErrorAsync(c, status, code, message, null);
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(c.Request.Method), upstream.TrimEnd('/') + path + (query.Length > 0 ? "?" + query : string.Empty));
        foreach (string name in RequestHeaders.Concat(c.Request.Headers.Keys.Where(k => k.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))))
        {
            if (c.Request.Headers.TryGetValue(name, out var values) && values.Count > 0)
            {
                request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!);
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await Upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, c.RequestAborted);
        }
        catch (HttpRequestException e)
        {
            Set("status", 502);
            await CostEndpoints.StorageErrorAsync(c, 502, "ProxyUpstreamFailed", "The upstream could not be reached: " + e.Message, null);
            return;
        }
        catch (OperationCanceledException)
        {
            Set("status", 499);
            return;
        }

        using (response)
        {
            int code = (int)response.StatusCode;
            Set("status", code);
            c.Response.StatusCode = code;
            foreach (KeyValuePair<string, IEnumerable<string>> h in response.Headers.Concat(response.Content.Headers))
            {
                if (ResponseHeaders.Contains(h.Key, StringComparer.OrdinalIgnoreCase) || h.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
                {
                    c.Response.Headers[h.Key] = h.Value.ToArray();
                }
            }

            if (response.Content.Headers.ContentLength is long length)
            {
                c.Response.ContentLength = length;
            }

            if (HttpMethods.IsHead(c.Request.Method))
            {
                return;
            }

            long sent = 0;
            long cut = fault?.CutAfterBytes ?? long.MaxValue;
            byte[] buffer = new byte[bytesPerSecond > 0 ? (int)Math.Clamp(bytesPerSecond / 50, 4096, 64 * 1024) : 64 * 1024];
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                await using Stream body = await response.Content.ReadAsStreamAsync(c.RequestAborted);
                while (true)
                {
                    int want = (int)Math.Min(buffer.Length, cut - sent);
                    if (want <= 0)
                    {
                        break;
                    }

                    int n = await body.ReadAsync(buffer.AsMemory(0, want), c.RequestAborted);
                    if (n == 0)
                    {
                        break;
                    }

                    await c.Response.Body.WriteAsync(buffer.AsMemory(0, n), c.RequestAborted);
                    sent += n;
                    Set("bytesSent", sent);
                    if (bytesPerSecond > 0)
                    {
                        // The cap: this connection's bytes never run ahead of bytesPerSecond since its answer began.
                        double ahead = ((double)sent / bytesPerSecond) - clock.Elapsed.TotalSeconds;
                        if (ahead > 0.002)
                        {
                            await Task.Delay(TimeSpan.FromSeconds(ahead), c.RequestAborted);
                        }
                    }
                }

                if (sent >= cut)
                {
                    // The fault: the client has N bytes of a longer body, then the connection ends.
                    await c.Response.Body.FlushAsync(c.RequestAborted);
                    await Task.Delay(50);
                    c.Abort();
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                Set("status", 499);
            }
            finally
            {
                Set("endMs", Environment.TickCount64);
            }
        }
    }

    private static string RedactSig(string query)
        => string.Join('&', query.Split('&').Select(p => p.StartsWith("sig=", StringComparison.OrdinalIgnoreCase) ? "sig=REDACTED" : p));

    private sealed class ProxyFault
    {
        public long? CutAfterBytes { get; private init; }

        public int? Status { get; private init; }

        public int? RetryAfter { get; private init; }

        public int DelayMs { get; private init; }

        public string Raw { get; private init; } = string.Empty;

        public static ProxyFault Parse(JsonElement e, string where)
        {
            Json.RequireObject(e, where, ["cutAfterBytes", "status", "retryAfter", "delayMs"]);
            var f = new ProxyFault
            {
                CutAfterBytes = Json.Long(e, "cutAfterBytes", where),
                Status = Json.Int(e, "status", where),
                RetryAfter = Json.Int(e, "retryAfter", where),
                DelayMs = Json.Int(e, "delayMs", where) ?? 0,
                Raw = e.GetRawText(),
            };
            if (f.CutAfterBytes is null && f.Status is null && f.DelayMs <= 0)
            {
                throw new RuleException($"{where}: a proxy fault needs cutAfterBytes, status or delayMs.");
            }

            return f;
        }
    }
}
