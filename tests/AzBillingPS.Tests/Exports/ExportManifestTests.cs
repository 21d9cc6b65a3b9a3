using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Exports;
using Xunit;

namespace AzBillingPS.Tests.Exports;

public class ExportManifestTests
{
    private const string Current = """
        {
          "manifestVersion": "2024-04-01",
          "byteCount": 160769,
          "blobCount": 2,
          "dataRowCount": 136,
          "exportConfig": {
            "exportName": "daily-focus",
            "resourceId": "/providers/Microsoft.Billing/billingAccounts/12345678/providers/Microsoft.CostManagement/exports/daily-focus",
            "dataVersion": "1.0r2",
            "apiVersion": "2023-07-01-preview",
            "type": "FocusCost",
            "timeFrame": "MonthToDate",
            "granularity": "Daily"
          },
          "deliveryConfig": { "partitionData": true, "fileFormat": "Parquet", "compressionMode": "snappy", "rootFolderPath": "finops" },
          "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": "2026-03-05T12:40:31.0715604Z",
            "runId": "b0e7c1c3-5e55-4a8c-9d4f-3f3c7a1e2d10",
            "startDate": "2026-03-01T00:00:00",
            "endDate": "2026-03-31T00:00:00"
          },
          "blobs": [
            { "blobName": "finops/daily-focus/20260301-20260331/202603051240/b0e7c1c3-5e55-4a8c-9d4f-3f3c7a1e2d10/part_0_0001.parquet", "byteCount": 100000, "dataRowCount": 100 },
            { "blobName": "finops/daily-focus/20260301-20260331/202603051240/b0e7c1c3-5e55-4a8c-9d4f-3f3c7a1e2d10/part_0_0002.parquet", "byteCount": 60769, "dataRowCount": 36 }
          ]
        }
        """;

    [Fact]
    public void Parses_scope_dataset_run_and_blobs()
    {
        ExportManifest m = ExportManifest.Parse("m.json", Encoding.UTF8.GetBytes(Current));
        Assert.Equal("/providers/microsoft.billing/billingaccounts/12345678", m.Scope);
        Assert.Equal("daily-focus", m.ExportName);
        Assert.Equal("FocusCost", m.DatasetType);
        Assert.Equal(new DateOnly(2026, 3, 1), m.Month);
        Assert.Equal(new DateTimeOffset(2026, 3, 5, 12, 40, 31, TimeSpan.Zero).AddTicks(715604), m.SubmittedTime);
        Assert.Equal(2, m.Blobs.Count);
        Assert.Equal(36, m.Blobs[1].DataRowCount);
        Assert.Same(ExportDataset.FocusCost, ExportDataset.For(m.DatasetType, "m.json"));
    }

    [Fact]
    public void Is_lenient_with_older_manifests()
    {
        // No manifestVersion or counts, granularity null, timestamps without Z, stray spaces, enums and names in another case.
        string legacy = """
            { "ExportConfig": { "exportName": " legacy ", "resourceId": " /subscriptions/5F1C3A2E-8D4B-4C6A-9E7F-0A1B2C3D4E5F/resourceGroups/RG1/providers/Microsoft.CostManagement/exports/legacy ", "type": " usage ", "granularity": null },
              "runInfo": { "submittedTime": "2026-02-02T06:00:00", "runId": " 6c1f ", "startDate": "2026-02-01T00:00:00", "endDate": "2026-02-28T00:00:00" },
              "blobs": [ { "blobName": "a/b/000001.csv" } ] }
            """;
        ExportManifest m = ExportManifest.Parse("_manifest.json", Encoding.UTF8.GetBytes(legacy));
        Assert.Equal("/subscriptions/5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f/resourcegroups/rg1", m.Scope);
        Assert.Equal("6c1f", m.RunId);
        Assert.Null(m.Granularity);
        Assert.Null(m.DataRowCount);
        Assert.Null(m.Blobs[0].ByteCount);
        Assert.Equal(TimeSpan.Zero, m.SubmittedTime.Offset);
        Assert.Equal(6, m.SubmittedTime.Hour);
        Assert.Same(ExportDataset.ActualCost, ExportDataset.For(m.DatasetType, "_manifest.json"));
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("""{ "exportConfig": { "resourceId": "/subscriptions/x/providers/Microsoft.CostManagement/exports/e", "type": "ActualCost" } }""", "no runInfo")]
    [InlineData("""{ "exportConfig": { "resourceId": "/subscriptions/x", "type": "ActualCost" }, "runInfo": {} }""", "is not an export's resource id")]
    [InlineData("""{ "exportConfig": { "resourceId": "/subscriptions/x/providers/Microsoft.CostManagement/exports/e", "type": "ActualCost" }, "runInfo": { "runId": "r", "submittedTime": "2026-03-01", "startDate": "2026-03-01", "endDate": "2026-04-30" } }""", "more than one calendar month")]
    [InlineData("""{ "exportConfig": { "resourceId": "/subscriptions/x/providers/Microsoft.CostManagement/exports/e", "type": "ActualCost" }, "runInfo": { "runId": "r", "submittedTime": "soon", "startDate": "2026-03-01", "endDate": "2026-03-31" } }""", "'soon' is not a date and time")]
    [InlineData("""{ "byteCount": -3, "exportConfig": { "resourceId": "/subscriptions/x/providers/Microsoft.CostManagement/exports/e", "type": "ActualCost" }, "runInfo": { "runId": "r", "submittedTime": "2026-03-01", "startDate": "2026-03-01", "endDate": "2026-03-31" } }""", "byteCount is negative")]
    public void Refuses_what_cannot_be_loaded_naming_the_manifest(string json, string why)
    {
        EngineException e = Assert.Throws<EngineException>(() => ExportManifest.Parse("x/manifest.json", Encoding.UTF8.GetBytes(json)));
        Assert.Equal(EngineErrorKind.ExportManifestInvalid, e.Kind);
        Assert.StartsWith("x/manifest.json:", e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_dataset_is_refused()
    {
        EngineException e = Assert.Throws<EngineException>(() => ExportDataset.For("Budgets", "m.json"));
        Assert.Contains("'Budgets' is not one the module loads", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parts_are_found_by_manifest_name_or_next_to_the_manifest()
    {
        ExportManifest m = ExportManifest.Parse("m.json", Encoding.UTF8.GetBytes(Current));
        var local = new HashSet<string>(StringComparer.Ordinal) { "daily-focus/20260301-20260331/202603051240/b0e7c1c3-5e55-4a8c-9d4f-3f3c7a1e2d10/manifest.json" };
        IReadOnlyList<string> parts = ExportImporter.ResolveParts(m, local.First(), local);
        Assert.Equal("daily-focus/20260301-20260331/202603051240/b0e7c1c3-5e55-4a8c-9d4f-3f3c7a1e2d10/part_0_0002.parquet", parts[1]);

        var container = new HashSet<string>(StringComparer.Ordinal) { m.Blobs[0].BlobName, m.Blobs[1].BlobName };
        Assert.Equal(m.Blobs.Select(b => b.BlobName), ExportImporter.ResolveParts(m, "elsewhere/manifest.json", container));
    }

    [Fact]
    public void List_blobs_pages_are_parsed_with_names_lengths_and_the_next_marker()
    {
        string xml = """
            <?xml version="1.0" encoding="utf-8"?>
            <EnumerationResults ServiceEndpoint="https://a.blob.core.windows.net/" ContainerName="costs">
              <Prefix>finops/</Prefix><Marker /><MaxResults>5000</MaxResults>
              <Blobs>
                <Blob><Name>finops/a/manifest.json</Name><Properties><Creation-Time>x</Creation-Time><Content-Length>1234</Content-Length><Content-Type>application/json</Content-Type></Properties></Blob>
                <Blob><Name>finops/a/part &amp; 1.csv</Name><Properties><Content-Length>99</Content-Length></Properties><Metadata><Name>not the blob's name</Name></Metadata></Blob>
                <Blob><Name>finops/b/x.csv</Name></Blob>
              </Blobs>
              <NextMarker>2!96!MDAwMDQ2</NextMarker>
            </EnumerationResults>
            """;
        (List<ExportStoreItem> items, string? next) = BlobContainerStore.ParseListing(new MemoryStream(Encoding.UTF8.GetBytes(xml)));
        Assert.Equal(["finops/a/manifest.json", "finops/a/part & 1.csv", "finops/b/x.csv"], items.Select(i => i.Name));
        Assert.Equal([1234L, 99L, 0L], items.Select(i => i.Length));
        Assert.Equal("2!96!MDAwMDQ2", next);
    }

    [Fact]
    public void A_listing_with_a_DTD_is_refused()
    {
        string xml = """<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><EnumerationResults><Blobs><Blob><Name>&e;</Name></Blob></Blobs></EnumerationResults>""";
        Assert.Throws<System.Xml.XmlException>(() => BlobContainerStore.ParseListing(new MemoryStream(Encoding.UTF8.GetBytes(xml))));
    }

    [Theory]
    [InlineData("https://acct.blob.core.windows.net/costs?comp=list", "https://acct.blob.core.windows.net/", true)]
    [InlineData("https://evil.example/costs", "https://acct.blob.core.windows.net/", false)]
    [InlineData("https://acct.blob.core.windows.net.evil.example/costs", "https://acct.blob.core.windows.net/", false)]
    [InlineData("http://acct.blob.core.windows.net/costs", "https://acct.blob.core.windows.net/", false)]
    [InlineData("https://acct.blob.core.windows.net:8443/costs", "https://acct.blob.core.windows.net/", false)]
    [InlineData("https://user@acct.blob.core.windows.net/costs", "https://acct.blob.core.windows.net/", false)]
    [InlineData("http://127.0.0.1:10000/devstoreaccount1/costs", "http://127.0.0.1:10000/devstoreaccount1/", true)]
    [InlineData("http://127.0.0.1:10001/devstoreaccount1/costs", "http://127.0.0.1:10000/devstoreaccount1/", false)]
    public void The_storage_token_goes_only_to_the_account_over_https(string request, string endpoint, bool allowed)
        => Assert.Equal(allowed, TokenEndpoint.For(new Uri(endpoint), "storage account", "StorageAccount").Allows(new Uri(request)));

    [Fact]
    public void A_storage_account_over_plain_http_is_refused_unless_loopback()
    {
        EngineException e = Assert.Throws<EngineException>(() => BlobContainerStore.WithToken(new Uri("http://acct.blob.core.windows.net/"), "costs", null, _ => System.Threading.Tasks.Task.FromResult("t")));
        Assert.Equal(EngineErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("StorageAccount", e.Message, StringComparison.Ordinal);
        using BlobContainerStore ok = BlobContainerStore.WithToken(new Uri("http://127.0.0.1:10000/devstoreaccount1"), "costs", null, _ => System.Threading.Tasks.Task.FromResult("t"));
        Assert.Equal("http://127.0.0.1:10000/devstoreaccount1/costs", ok.Describe());
    }
}
