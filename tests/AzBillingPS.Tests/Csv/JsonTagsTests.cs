using System.Text;
using System.Text.Json;
using AzBillingPS.Engine.Csv;
using Xunit;

namespace AzBillingPS.Tests.Csv;

/// <summary>Tags as a JSON object: EA's brace-less body wrapped, raw line breaks escaped, anything else kept as its text in a JSON string.</summary>
public class JsonTagsTests
{
    [Theory]
    [InlineData("\"env\": \"prod\",\"org\": \"finance, EMEA\"", "{\"env\": \"prod\",\"org\": \"finance, EMEA\"}")]
    [InlineData("{\"env\":\"prod\"}", "{\"env\":\"prod\"}")]
    [InlineData("  {\"env\": \"prod\"}  ", "{\"env\": \"prod\"}")]
    [InlineData("\"cost-center\": \"CC-1001\"", "{\"cost-center\": \"CC-1001\"}")]
    [InlineData("\"env\": \"prod\",\"note\": \"line one\nline two\"", "{\"env\": \"prod\",\"note\": \"line one\\nline two\"}")]
    public void Values_that_can_be_made_a_json_object_are(string raw, string expected)
    {
        Assert.True(JsonTags.TryNormalize(Encoding.UTF8.GetBytes(raw), out string json));
        Assert.Equal(expected, json);
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
    }

    [Theory]
    [InlineData("env=prod;team=x")]
    [InlineData("\"env\": ")]
    [InlineData("[1,2]")]
    [InlineData("{\"a\":1} {\"b\":2}")]
    [InlineData("\"just a string\"")]
    public void Values_that_cannot_are_refused(string raw)
        => Assert.False(JsonTags.TryNormalize(Encoding.UTF8.GetBytes(raw), out _));

    [Fact]
    public void Kept_values_are_escaped_as_the_serializer_escapes_them_and_normalising_into_a_buffer_gives_the_same_text()
    {
        var options = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var random = new System.Random(16);
        string alphabet = "ab \"\\/\n\r\t\u0001\u001f\u007f<>&'€日\u2028{}:,=";
        byte[] buffer = new byte[4];
        for (int i = 0; i < 5_000; i++)
        {
            var sb = new StringBuilder();
            for (int j = random.Next(0, 40); j > 0; j--)
            {
                sb.Append(alphabet[random.Next(alphabet.Length)]);
            }

            string text = sb.ToString();
            string expected = JsonSerializer.Serialize(text, options);
            Assert.Equal(expected, JsonTags.AsJsonString(text));
            JsonTags.WriteJsonString(Encoding.UTF8.GetBytes(text), ref buffer, out int length);
            Assert.Equal(expected, Encoding.UTF8.GetString(buffer, 0, length));

            byte[] raw = Encoding.UTF8.GetBytes("\"k\": \"" + text.Replace("\\", string.Empty, System.StringComparison.Ordinal).Replace("\"", string.Empty, System.StringComparison.Ordinal) + "\"");
            bool asString = JsonTags.TryNormalize(raw, out string json);
            Assert.Equal(asString, JsonTags.TryNormalize(raw, ref buffer, out length));
            if (asString)
            {
                Assert.Equal(json, Encoding.UTF8.GetString(buffer, 0, length));
            }
        }
    }

    [Fact]
    public void A_kept_value_is_its_text_in_a_json_string()
    {
        Assert.Equal("\"env=prod;team=\\\"x\\\"\"", JsonTags.AsJsonString("env=prod;team=\"x\""));
        string json = JsonTags.AsJsonString("env=prod;team=\"x\"\n");
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.String, doc.RootElement.ValueKind);
        Assert.Equal("env=prod;team=\"x\"\n", doc.RootElement.GetString());
    }
}
