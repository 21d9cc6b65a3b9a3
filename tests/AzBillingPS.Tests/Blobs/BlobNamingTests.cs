using System;
using System.Collections.Generic;
using AzBillingPS.Engine.Blobs;
using AzBillingPS.Engine.Common;
using Xunit;

namespace AzBillingPS.Tests.Blobs;

public class BlobNamingTests
{
    private const string Sub = "/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f";

    [Fact]
    public void Names_say_scope_metric_period_and_blob()
    {
        string name = BlobFileName.For(Sub, "ActualCost", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 31), 2, 3, gzip: false);
        Assert.Equal("subscriptions-5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f_ActualCost_20260301-20260331_2of3.csv", name);
        Assert.EndsWith("_1of1.csv.gz", BlobFileName.For(Sub, "AmortizedCost", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 31), 1, 1, gzip: true), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_spelling_of_a_scope_gives_the_same_name()
    {
        var start = new DateOnly(2026, 3, 1);
        var end = new DateOnly(2026, 3, 31);
        string a = BlobFileName.For("5F1C3A2E-8D4B-4C6A-9E7F-0A1B2C3D4E5F", "ActualCost", start, end, 1, 1, false);
        string b = BlobFileName.For("/Subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f/", "ActualCost", start, end, 1, 1, false);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Scopes_that_lose_characters_or_length_stay_distinct_and_file_safe()
    {
        var start = new DateOnly(2026, 3, 1);
        var end = new DateOnly(2026, 3, 31);
        string[] scopes =
        [
            "/providers/Microsoft.Billing/billingAccounts/12345:6789_2019-05-31",
            "/providers/Microsoft.Billing/billingAccounts/12345-6789_2019-05-31",
            "/providers/Microsoft.Billing/billingAccounts/12345:6789_2019-05-31/billingProfiles/ABCD-EFGH-IJK-LMN",
            "/providers/Microsoft.Billing/billingAccounts/12345:6789_2019-05-31/billingProfiles/ABCD-EFGH-IJK-LMN/invoiceSections/" + new string('x', 120),
            "/providers/Microsoft.Billing/billingAccounts/12345:6789_2019-05-31/billingProfiles/ABCD-EFGH-IJK-LMN/invoiceSections/" + new string('x', 121),
            "/providers/Microsoft.Billing/departments/42",
            "/providers/Microsoft.Billing/enrollmentAccounts/42",
        ];
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string scope in scopes)
        {
            string name = BlobFileName.For(scope, "ActualCost", start, end, 1, 1, false);
            Assert.True(names.Add(name), $"{scope} gave a name another scope has: {name}");
            Assert.DoesNotMatch("[^a-z0-9._-]", name.ToLowerInvariant());
            Assert.True(name.Length < 160, name);
        }

        Assert.StartsWith("billingaccounts-12345-6789_2019-05-31-", BlobFileName.ScopeSlug(scopes[0]), StringComparison.Ordinal);
        Assert.Equal("departments-42", BlobFileName.ScopeSlug(scopes[5]));
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(4, 3)]
    [InlineData(1, 0)]
    public void Blob_index_must_be_within_the_count(int index, int count)
        => Assert.Equal(EngineErrorKind.InvalidArgument, Assert.Throws<EngineException>(() => BlobFileName.For(Sub, "ActualCost", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 31), index, count, false)).Kind);

    [Fact]
    public void Metric_cannot_carry_path_characters()
        => Assert.Throws<EngineException>(() => BlobFileName.For(Sub, "../x", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 31), 1, 1, false));

    [Fact]
    public void Invoice_reports_name_the_invoice()
        => Assert.EndsWith(
            "_ActualCost_invoice-G012345678_1of2.csv",
            BlobFileName.ForInvoice("/providers/Microsoft.Billing/billingAccounts/1:2_2019-05-31/billingProfiles/P1", "ActualCost", "G012345678", 1, 2, false),
            StringComparison.Ordinal);

    [Theory]
    [InlineData("https://acct.blob.core.windows.net/c/b.csv?sig=x", true)]
    [InlineData("http://127.0.0.1:10000/devstoreaccount1/c/b.csv?sig=x", true)]
    [InlineData("http://127.5.6.7:10000/devstoreaccount1/c/b.csv?sig=x", true)]
    [InlineData("http://localhost:10000/devstoreaccount1/c/b.csv?sig=x", true)]
    [InlineData("http://[::1]:10000/devstoreaccount1/c/b.csv?sig=x", true)]
    [InlineData("http://acct.blob.core.windows.net/c/b.csv?sig=x", false)]
    [InlineData("http://10.1.2.3/c/b.csv?sig=x", false)]
    [InlineData("ftp://127.0.0.1/c/b.csv?sig=x", false)]
    public void Links_must_be_https_except_to_loopback(string link, bool allowed)
    {
        var uri = new Uri(link);
        if (allowed)
        {
            BlobLink.EnsureAllowed(uri);
        }
        else
        {
            EngineException e = Assert.Throws<EngineException>(() => BlobLink.EnsureAllowed(uri));
            Assert.Equal(EngineErrorKind.InvalidArgument, e.Kind);
            Assert.Contains("sig=REDACTED", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Expiry_is_the_earlier_of_validTill_and_the_links_se()
    {
        var link = new Uri("https://a.blob.core.windows.net/c/b.csv?sv=2022-11-02&se=2026-03-02T10%3A00%3A00Z&sr=b&sp=r&sig=abc%2Bdef%3D");
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.Zero), BlobLink.SignedExpiry(link));
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.Zero), BlobLink.Expiry(link, new DateTimeOffset(2026, 3, 3, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), BlobLink.Expiry(link, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Null(BlobLink.Expiry(new Uri("https://a.blob.core.windows.net/c/b.csv?sig=x"), null));
    }

    [Fact]
    public void Scrub_removes_the_signature_in_every_spelling()
    {
        var link = new Uri("https://a.blob.core.windows.net/c/b.csv?sv=2022-11-02&sig=ab%2Bc%2Fd%3D");
        string text = "raw ab%2Bc%2Fd%3D decoded ab+c/d= in a message";
        string scrubbed = BlobLink.Scrub(text, link);
        Assert.DoesNotContain("ab%2Bc", scrubbed, StringComparison.Ordinal);
        Assert.DoesNotContain("ab+c/d=", scrubbed, StringComparison.Ordinal);
        Assert.True(BlobLink.Reveals(text, link));
        Assert.False(BlobLink.Reveals(scrubbed, link));
        Assert.Equal("https://a.blob.core.windows.net/c/b.csv", BlobLink.WithoutQuery(link));
    }
}
