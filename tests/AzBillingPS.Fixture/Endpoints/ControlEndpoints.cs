using System.Linq;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AzBillingPS.Fixture.Endpoints;

/// <summary>Test-only endpoints: what the fixture issued (so the tests can search every output stream for those tokens and SAS signatures).</summary>
internal static class ControlEndpoints
{
    public static void Map(WebApplication app, FixtureState state, Cost.CostState cost)
    {
        app.MapGet("/_fixture/issued", () => Results.Json(new
        {
            requests = state.TokenRequests,
            count = state.Issued.Count,
            assertions = state.Assertions,
            tokens = state.Issued.Select(t => new { kind = t.Kind, clientId = t.ClientId, accessToken = t.AccessToken, expiresOn = t.ExpiresOn, resource = t.Resource, revoked = state.IsRevoked(t) }),
            sasSignatures = cost.Signatures(),
            deviceCodes = state.DeviceCodes.Values.Select(d => d.DeviceCode),
            userCodes = state.DeviceCodes.Values.Select(d => d.UserCode),
            refreshTokens = state.RefreshTokens.Keys,
            idTokens = state.IdTokens,
            grants = state.Grants,
        }));
    }
}
