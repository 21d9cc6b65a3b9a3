using System;
using System.Text;
using System.Text.Json;

namespace AzBillingPS.Fixture;

/// <summary>A compact JWS, split and decoded (signature not yet checked).</summary>
internal sealed class Jwt
{
    private Jwt(JsonElement header, JsonElement payload, byte[] signingInput, byte[] signature)
    {
        Header = header;
        Payload = payload;
        SigningInput = signingInput;
        Signature = signature;
    }

    public JsonElement Header { get; }

    public JsonElement Payload { get; }

    public byte[] SigningInput { get; }

    public byte[] Signature { get; }

    public static Jwt? TryParse(string? compact)
    {
        if (string.IsNullOrEmpty(compact))
        {
            return null;
        }

        string[] parts = compact.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            JsonElement header = JsonDocument.Parse(FromBase64Url(parts[0])).RootElement.Clone();
            JsonElement payload = JsonDocument.Parse(FromBase64Url(parts[1])).RootElement.Clone();
            if (header.ValueKind != JsonValueKind.Object || payload.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            return new Jwt(header, payload, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), FromBase64Url(parts[2]));
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
    }

    public string? HeaderString(string name) => Header.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public string? Claim(string name) => Payload.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A NumericDate claim; a number (integer or not) or a string of digits.</summary>
    public long? NumericClaim(string name)
    {
        if (!Payload.TryGetProperty(name, out JsonElement v))
        {
            return null;
        }

        if (v.ValueKind == JsonValueKind.Number)
        {
            return v.TryGetInt64(out long n) ? n : (long)v.GetDouble();
        }

        return v.ValueKind == JsonValueKind.String && long.TryParse(v.GetString(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long s) ? s : null;
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] FromBase64Url(string text)
    {
        string s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '='));
    }
}
