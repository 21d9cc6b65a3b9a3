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
    public void A_kept_value_is_its_text_in_a_json_string()
    {
        Assert.Equal("\"env=prod;team=\\\"x\\\"\"", JsonTags.AsJsonString("env=prod;team=\"x\""));
        string json = JsonTags.AsJsonString("env=prod;team=\"x\"\n");
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.String, doc.RootElement.ValueKind);
        Assert.Equal("env=prod;team=\"x\"\n", doc.RootElement.GetString());
    }
}
