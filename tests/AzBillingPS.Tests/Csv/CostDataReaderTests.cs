using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using AzBillingPS.Engine.Common;
using AzBillingPS.Engine.Csv;
using AzBillingPS.Engine.Import;
using AzBillingPS.Engine.Sinks;
using Xunit;

namespace AzBillingPS.Tests.Csv;

public sealed class CostDataReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("azb-reader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content, bool bom = true)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content, new UTF8Encoding(bom));
        return path;
    }

    private static LineageValues Lineage(DateTime from, DateTime to) => new("/subscriptions/x", "ActualCost", from, to, Guid.NewGuid(), DateTime.UtcNow);

    private static List<object[]> ReadAll(IReadOnlyList<string> files, DateTime from, DateTime to)
    {
        var headers = files.Select(CostFileSchema.ReadHeader).ToList();
        var columns = CostImporter.UnifyColumns(headers, SqliteDialect.Instance);
        using var reader = new CostDataReader(headers, columns, Lineage(from, to), CancellationToken.None);
        var rows = new List<object[]>();
        while (reader.Read())
        {
            var values = new object[reader.FieldCount];
            reader.GetValues(values);
            rows.Add(values);
        }

        return rows;
    }

    [Fact]
    public void Reads_quoted_fields_with_quotes_commas_and_newlines_and_types_each_value()
    {
        string f = Write("a.csv", "Date,Cost,Tags,IsAzureCreditEligible,SubscriptionId\r\n" +
            "03/01/2026,1.5,\"\"\"env\"\": \"\"prod\"\",\"\"org\"\": \"\"x\"\"\",TRUE,6f1b2a4e-0f7c-4f39-9d0b-7a1c2e3d4f50\r\n" +
            "3/2/2026,5.64902E-05,\"multi\nline, with comma\",False,\r\n");
        var rows = ReadAll(new[] { f }, new DateTime(2026, 3, 1), new DateTime(2026, 3, 31));
        Assert.Equal(2, rows.Count);
        Assert.Equal(new DateTime(2026, 3, 1), rows[0][0]);
        Assert.Equal(1.5m, rows[0][1]);
        Assert.Equal("{\"env\": \"prod\",\"org\": \"x\"}", rows[0][2]); // EA's brace-less tags become a JSON object
        Assert.Equal(true, rows[0][3]);
        Assert.Equal("6f1b2a4e-0f7c-4f39-9d0b-7a1c2e3d4f50", rows[0][4]);
        Assert.Equal(0.0000564902m, rows[1][1]);
        Assert.Equal("\"multi\\nline, with comma\"", rows[1][2]); // not a JSON object: its text kept in a JSON string
        Assert.Equal(DBNull.Value, rows[1][4]);
    }

    [Fact]
    public void A_bad_value_names_file_line_column_and_value()
    {
        string f = Write("bad.csv", "Date,Cost,Note\n03/01/2026,1,a\n03/02/2026,2,\"multi\nline\"\n03/03/2026,\"12,34abc\",c\n");
        var e = Assert.Throws<EngineException>(() => ReadAll(new[] { f }, new DateTime(2026, 3, 1), new DateTime(2026, 3, 31)));
        Assert.Equal(EngineErrorKind.CsvBadValue, e.Kind);
        Assert.Equal(5, e.Line); // the quoted newline makes row 3 start on line 5
        Assert.Equal("Cost", e.Column);
        Assert.Contains("bad.csv: line 5, column 'Cost': '12,34abc' is not a decimal number", e.Message);
    }

    [Fact]
    public void A_ragged_row_names_its_line()
    {
        string f = Write("ragged.csv", "Date,Cost\n03/01/2026,1\n03/02/2026,2,3\n");
        var e = Assert.Throws<EngineException>(() => ReadAll(new[] { f }, new DateTime(2026, 3, 1), new DateTime(2026, 3, 31)));
        Assert.Equal(EngineErrorKind.CsvRaggedRow, e.Kind);
        Assert.Equal(3, e.Line);
        Assert.Contains("3 fields but the header has 2", e.Message);
    }

    [Fact]
    public void Malformed_quoting_is_an_error_not_a_guess()
    {
        string f = Write("quote.csv", "Date,Cost\n03/01/2026,\"4\" x\n");
        var e = Assert.Throws<EngineException>(() => ReadAll(new[] { f }, new DateTime(2026, 3, 1), new DateTime(2026, 3, 31)));
        Assert.Equal(EngineErrorKind.CsvRaggedRow, e.Kind);
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Rows_outside_the_period_fail_the_load()
    {
        string f = Write("p.csv", "Date,Cost\n03/01/2026,1\n04/01/2026,2\n");
        var e = Assert.Throws<EngineException>(() => ReadAll(new[] { f }, new DateTime(2026, 3, 1), new DateTime(2026, 3, 31)));
        Assert.Equal(EngineErrorKind.RowOutsidePeriod, e.Kind);
        Assert.Equal(3, e.Line);
        Assert.Equal(EngineAdvice.CoverFilePeriod, e.Advice); // worded by Import-AzCostToSql (-From/-To); Import-AzCostExport has none
    }

    [Fact]
    public void Empty_file_and_missing_date_column_are_refused_by_name()
    {
        string empty = Write("empty.csv", string.Empty, bom: false);
        var e1 = Assert.Throws<EngineException>(() => CostFileSchema.ReadHeader(empty));
        Assert.Equal(EngineErrorKind.CsvEmptyFile, e1.Kind);
        Assert.Contains("empty.csv", e1.Message);
        string noDate = Write("nodate.csv", "Cost,Quantity\n1,2\n");
        Assert.Equal(EngineErrorKind.CsvBadHeader, Assert.Throws<EngineException>(() => CostFileSchema.ReadHeader(noDate)).Kind);
        string dup = Write("dup.csv", "Date,Cost,CostInBillingCurrency\n");
        var e3 = Assert.Throws<EngineException>(() => CostFileSchema.ReadHeader(dup));
        Assert.Equal(EngineErrorKind.CsvDuplicateColumn, e3.Kind);
        Assert.Contains("'Cost' and 'CostInBillingCurrency'", e3.Message);
    }

    [Fact]
    public void Files_of_one_unit_share_the_union_of_their_columns()
    {
        string a = Write("a.csv", "date,costInBillingCurrency\n03/01/2026,1\n");
        string b = Write("b.csv", "Date,Cost,NewColumnA\n03/02/2026,2,hello\n");
        var rows = ReadAll(new[] { a, b }, new DateTime(2026, 3, 1), new DateTime(2026, 3, 31));
        Assert.Equal(2, rows.Count);
        Assert.Equal(DBNull.Value, rows[0][2]);
        Assert.Equal("hello", rows[1][2]);
        Assert.Equal(2m, rows[1][1]);
    }

    [Fact]
    public void Scan_finds_the_files_own_date_range()
    {
        string a = Write("a.csv", "Date,Cost\n03/05/2026,1\n3/2/2026,1\n");
        string b = Write("b.csv", "Date,Cost\n2026-03-09,1\n");
        var range = CostFileSchema.ScanDateRange(new[] { a, b }.Select(CostFileSchema.ReadHeader).ToList(), CancellationToken.None);
        Assert.Equal((new DateTime(2026, 3, 2), new DateTime(2026, 3, 9)), range);
        string h = Write("h.csv", "Date,Cost\n");
        Assert.Null(CostFileSchema.ScanDateRange(new[] { CostFileSchema.ReadHeader(h) }, CancellationToken.None));
    }

    [Fact]
    public void Scope_spellings_normalise_to_one()
    {
        Assert.Equal("/subscriptions/6f1b2a4e-0f7c-4f39-9d0b-7a1c2e3d4f50", CostScope.Normalize("6F1B2A4E-0F7C-4F39-9D0B-7A1C2E3D4F50"));
        Assert.Equal("/subscriptions/6f1b2a4e-0f7c-4f39-9d0b-7a1c2e3d4f50", CostScope.Normalize("/Subscriptions/6F1B2A4E-0F7C-4F39-9D0B-7A1C2E3D4F50/"));
        Assert.Equal("/providers/microsoft.billing/billingaccounts/12345:6789_2019-05-31", CostScope.Normalize("providers/Microsoft.Billing/billingAccounts/12345:6789_2019-05-31"));
    }
}
