using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AzBillingPS.Fixture.Endpoints;

/// <summary>
/// The managed-identity endpoints, over plain HTTP as on Azure: App Service / Azure Automation
/// (IDENTITY_ENDPOINT + X-IDENTITY-HEADER, api-version 2019-08-01) and IMDS (Metadata: true, api-version 2018-02-01).
/// </summary>
internal static class ManagedIdentityEndpoints
{
    public static void Map(WebApplication app, FixtureState state)
    {
        app.MapGet("/msi/token", (HttpContext c) => c.Request.IsHttps ? Results.NotFound() : AppService(c, state));
        app.MapGet("/metadata/identity/oauth2/token", (HttpContext c) => c.Request.IsHttps ? Results.NotFound() : Imds(c, state));
    }

    private static IResult AppService(HttpContext c, FixtureState state)
    {
        state.CountRequest();
        ManagedIdentityConfig? mi = state.Config.ManagedIdentity;
        string correlation = Guid.NewGuid().ToString();
        string header = c.Request.Headers["X-IDENTITY-HEADER"].ToString();
        if (mi is null || header.Length == 0 || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), Encoding.UTF8.GetBytes(mi.IdentityHeader)))
        {
            return Fail(401, new { statusCode = 401, message = "Unauthorized. The X-IDENTITY-HEADER request header is missing or does not match the identity header of this resource.", correlationId = correlation });
        }

        if (c.Request.Query["api-version"].ToString() != "2019-08-01")
        {
            return Fail(400, new { statusCode = 400, message = "Invalid or missing api-version. Supported: 2019-08-01.", correlationId = correlation });
        }

        string resource = c.Request.Query["resource"].ToString();
        if (resource.Length == 0)
        {
            return Fail(400, new { statusCode = 400, message = "Required query parameter 'resource' is missing.", correlationId = correlation });
        }

        IdentityConfig? identity = Select(mi, c.Request.Query["client_id"], c.Request.Query["mi_res_id"].ToString() is { Length: > 0 } r ? r : c.Request.Query["msi_res_id"].ToString(), c.Request.Query["object_id"].ToString() is { Length: > 0 } o ? o : c.Request.Query["principal_id"].ToString());
        if (identity is null)
        {
            return Fail(400, new { statusCode = 400, message = "No managed identity found for the specified ClientId/ResourceId/PrincipalId.", correlationId = correlation });
        }

        int lifetime = mi.TokenLifetimeSeconds ?? state.Config.TokenLifetimeSeconds;
        string token = state.IssueToken("appservice", mi.TenantId, identity.ClientId, identity.ObjectId, resource.TrimEnd('/'), lifetime);
        Console.Error.WriteLine($"fixture: managed identity token (App Service) issued to {identity.ClientId} for {resource}");
        return Results.Json(new Dictionary<string, string>
        {
            ["access_token"] = token,
            ["expires_on"] = DateTimeOffset.UtcNow.AddSeconds(lifetime).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            ["resource"] = resource,
            ["token_type"] = "Bearer",
            ["client_id"] = identity.ClientId,
        });
    }

    private static IResult Imds(HttpContext c, FixtureState state)
    {
        state.CountRequest();
        ManagedIdentityConfig? mi = state.Config.ManagedIdentity;
        if (!string.Equals(c.Request.Headers["Metadata"].ToString(), "true", StringComparison.OrdinalIgnoreCase))
        {
            return Fail(400, new { error = "invalid_request", error_description = "Required metadata header not specified" });
        }

        string resource = c.Request.Query["resource"].ToString();
        if (resource.Length == 0)
        {
            return Fail(400, new { error = "invalid_request", error_description = "Required query variable 'resource' is missing" });
        }

        if (mi is null)
        {
            return Fail(400, new { error = "invalid_request", error_description = "Identity not found" });
        }

        IdentityConfig? identity = Select(mi, c.Request.Query["client_id"], c.Request.Query["msi_res_id"].ToString() is { Length: > 0 } r ? r : c.Request.Query["mi_res_id"].ToString(), c.Request.Query["object_id"]);
        if (identity is null)
        {
            return Fail(400, new { error = "invalid_request", error_description = "Identity not found" });
        }

        int lifetime = mi.TokenLifetimeSeconds ?? state.Config.TokenLifetimeSeconds;
        string token = state.IssueToken("imds", mi.TenantId, identity.ClientId, identity.ObjectId, resource.TrimEnd('/'), lifetime);
        Console.Error.WriteLine($"fixture: managed identity token (IMDS) issued to {identity.ClientId} for {resource}");
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return Results.Json(new Dictionary<string, string>
        {
            ["access_token"] = token,
            ["client_id"] = identity.ClientId,
            ["expires_in"] = lifetime.ToString(CultureInfo.InvariantCulture),
            ["expires_on"] = (now + lifetime).ToString(CultureInfo.InvariantCulture),
            ["ext_expires_in"] = lifetime.ToString(CultureInfo.InvariantCulture),
            ["not_before"] = now.ToString(CultureInfo.InvariantCulture),
            ["resource"] = resource,
            ["token_type"] = "Bearer",
        });
    }

    private static IResult Fail(int status, object body)
    {
        Console.Error.WriteLine($"fixture: managed identity {status}: {System.Text.Json.JsonSerializer.Serialize(body)}");
        return Results.Json(body, statusCode: status);
    }

    private static IdentityConfig? Select(ManagedIdentityConfig mi, string? clientId, string? resourceId, string? objectId)
    {
        if (!string.IsNullOrEmpty(clientId))
        {
            return All(mi).FirstOrDefault(i => string.Equals(i.ClientId, clientId, StringComparison.OrdinalIgnoreCase));
        }

        if (!string.IsNullOrEmpty(resourceId))
        {
            return mi.UserAssigned.FirstOrDefault(i => string.Equals(i.ResourceId, resourceId, StringComparison.OrdinalIgnoreCase));
        }

        if (!string.IsNullOrEmpty(objectId))
        {
            return All(mi).FirstOrDefault(i => string.Equals(i.ObjectId, objectId, StringComparison.OrdinalIgnoreCase));
        }

        return mi.SystemAssigned;
    }

    private static IEnumerable<IdentityConfig> All(ManagedIdentityConfig mi)
        => mi.SystemAssigned is null ? mi.UserAssigned : mi.UserAssigned.Prepend(mi.SystemAssigned);
}
