using System;
using System.Text;
using AzBillingPS.Engine.Csv;
using Xunit;

namespace AzBillingPS.Tests.Csv;

public class CostValueParserTests
{
    [Theory]
    [InlineData("03/05/2026", 2026, 3, 5)]
    [InlineData("3/5/2026", 2026, 3, 5)]
    [InlineData("12/31/2025", 2025, 12, 31)]
    [InlineData("2026-02-28", 2026, 2, 28)]
    [InlineData("2024-02-29", 2024, 2, 29)]
    [InlineData("2026-03-01T00:00:00.0000000Z", 2026, 3, 1)]
    [InlineData("2026-03-01T00:00:00", 2026, 3, 1)]
    [InlineData(" 3/5/2026 ", 2026, 3, 5)]
    public void Dates_in_every_shape_the_files_use(string text, int y, int m, int d)
    {
        Assert.True(CostValueParser.TryParseDate(Encoding.UTF8.GetBytes(text), out DateTime value));
        Assert.Equal(new DateTime(y, m, d), value);
        Assert.True(CostValueParser.TryParseDate(text.AsSpan(), out DateTime fromChars));
        Assert.Equal(value, fromChars);
    }

    [Theory]
    [InlineData("13/01/2026")]
    [InlineData("02/30/2026")]
    [InlineData("2025-02-29")]
    [InlineData("tomorrow")]
    [InlineData("2026-3-1x")]
    [InlineData("1/1/26")]
    public void Impossible_dates_are_refused(string text)
        => Assert.False(CostValueParser.TryParseDate(Encoding.UTF8.GetBytes(text), out _));

    [Theory]
    [InlineData("1.5", "1.5")]
    [InlineData("5.64902E-05", "0.0000564902")]
    [InlineData("1.2E-05", "0.000012")]
    [InlineData("-3.1e+02", "-310")]
    [InlineData("0.1234567890123456789012345678", "0.1234567890123456789012345678")]
    [InlineData("123456789.123456789012345678", "123456789.12345678901234567800")]
    [InlineData("0", "0")]
    public void Decimals_are_exact_including_exponents_and_28_digits(string text, string expected)
    {
        Assert.True(CostValueParser.TryParseDecimal(Encoding.UTF8.GetBytes(text), out decimal value));
        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), value);
    }

    [Theory]
    [InlineData("12,34")]
    [InlineData("12,34abc")]
    [InlineData("1.2.3")]
    [InlineData("NaN")]
    [InlineData("1E+40")]
    public void Non_numbers_are_refused(string text) => Assert.False(CostValueParser.TryParseDecimal(Encoding.UTF8.GetBytes(text), out _));

    [Fact]
    public void The_plain_decimal_path_gives_the_bits_decimal_Parse_gives()
    {
        // Value, scale and sign (negative zero too) must be what decimal.Parse makes of the same text, for every text the
        // fast path takes; what it declines must be declined, not guessed.
        var random = new Random(16);
        var texts = new System.Collections.Generic.List<string> { "0", "-0", "-0.00", "+5", "1.", ".5", "-.50", "007.50", "9999999999999999999", "0.0000000000000000001",
            "18446744073709551615", "1.2.3", "-", ".", "", "1e5", "12,5", " 1", "1 ", "0x10", "١", "1.5E-05", "12345678901234567890" };
        const string chars = "0123456789.-+eE ";
        for (int i = 0; i < 50_000; i++)
        {
            var sb = new StringBuilder();
            int length = random.Next(1, 24);
            for (int j = 0; j < length; j++)
            {
                sb.Append(random.Next(4) == 0 ? chars[random.Next(chars.Length)] : (char)('0' + random.Next(10)));
            }

            texts.Add(sb.ToString());
        }

        foreach (string text in texts)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            bool parsed = decimal.TryParse(text.Trim(' '), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out decimal expected);
            if (CostValueParser.TryParsePlainDecimal(bytes, out decimal fast))
            {
                Assert.True(parsed, text);
                Assert.Equal(decimal.GetBits(expected), decimal.GetBits(fast));
            }

            Assert.Equal(parsed, CostValueParser.TryParseDecimal(bytes, out decimal value));
            if (parsed)
            {
                Assert.Equal(decimal.GetBits(expected), decimal.GetBits(value));
            }
        }
    }

    [Theory]
    [InlineData("True", true)]
    [InlineData("TRUE", true)]
    [InlineData("true", true)]
    [InlineData("False", false)]
    [InlineData("FALSE", false)]
    public void Booleans_any_case(string text, bool expected)
    {
        Assert.True(CostValueParser.TryParseBoolean(Encoding.UTF8.GetBytes(text), out bool value));
        Assert.Equal(expected, value);
    }

    [Fact]
    public void Catalog_maps_aliases_and_case_to_one_column()
    {
        Assert.Equal("CostInBillingCurrency", CostColumnCatalog.Resolve("Cost").Name);
        Assert.Equal("CostInBillingCurrency", CostColumnCatalog.Resolve("costInBillingCurrency").Name);
        Assert.Equal("ProductName", CostColumnCatalog.Resolve("Product").Name);
        Assert.Equal("BillingCurrencyCode", CostColumnCatalog.Resolve("billingCurrency").Name);
        Assert.Equal("InvoiceSectionName", CostColumnCatalog.Resolve("InvoiceSection").Name);
        Assert.Equal("ResourceGroup", CostColumnCatalog.Resolve("resourceGroupName").Name);
        Assert.Equal("Date", CostColumnCatalog.Resolve("date").Name);
        Assert.Equal(CostColumnType.Decimal, CostColumnCatalog.Resolve("PayGPrice").Type);
        Assert.Equal(CostColumnType.Text, CostColumnCatalog.Resolve("subscriptionId").Type); // ids are text: malformed ids still load
        Assert.Equal(CostColumnType.Text, CostColumnCatalog.Resolve("MeterId").Type);
        Assert.Equal(CostColumnType.Json, CostColumnCatalog.Resolve("tags").Type);
        CostColumn unknown = CostColumnCatalog.Resolve("MyCustomColumn");
        Assert.Equal(("MyCustomColumn", CostColumnType.Text), (unknown.Name, unknown.Type));
        Assert.False(CostColumnCatalog.IsKnown("MyCustomColumn"));
    }
}
