using System;
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace AzBillingPS.Fixture.Endpoints;

/// <summary>Entra ID's OAuth error body: error, error_description (with trace/correlation/timestamp lines), error_codes, timestamp, trace_id, correlation_id, error_uri.</summary>
internal static class EntraErrors
{
    public static IResult Error(HttpContext context, int status, string error, int code, string description)
    {
        string correlation = context.Request.Headers["client-request-id"].ToString();
        if (!Guid.TryParse(correlation, out _))
        {
            correlation = Guid.NewGuid().ToString();
        }

        string trace = Guid.NewGuid().ToString();
        string timestamp = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        string text = $"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}";
        Console.Error.WriteLine($"fixture: {status} {error} AADSTS{code}: {description}");
        var body = new
        {
            error,
            error_description = text,
            error_codes = new[] { code },
            timestamp,
            trace_id = trace,
            correlation_id = correlation,
            error_uri = $"{context.Request.Scheme}://{context.Request.Host}/error?code={code}",
        };
        return Results.Json(body, statusCode: status);
    }
}
