using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace AzBillingPS.TestData;

internal sealed class Options
{
    public const string Usage = """
        AzBillingPS.TestData: writes realistic Azure cost-details CSV files from a fixed seed.
          --kind Ea|EaLegacy|Mca     column set (Ea: 57-column EA 2024-08-01; EaLegacy: Product/Cost/BillingCurrency/
                                     InvoiceSection, 55 columns, shuffled; Mca: 65-column MCA)
          --rows N                   data rows in all (default 1000)
          --month yyyy-MM            every row's date falls in this month (default 2026-03)
          --seed S                   row seed (default 42); subscriptions and resources do not depend on it
          --out FILE                 output file (with --blobs: FILE-stem_1ofB.csv ... next to it)
          --subscriptions K          subscriptions the rows are spread over (default 3)
          --blobs B                  split the rows into B files, each with its own header (default 1)
          --daily-sums FILE.json     write {"yyyy-MM-dd":"sum",...} of the cost column (C# decimal, file order)
          --lf                       LF line endings (default CRLF)
          --currency CODE            billing currency (default USD for EA, EUR for MCA)
          --amortized FILE           also write the AmortizedCost file of the same charges (one blob only): usage a
                                     reservation or savings plan covers at its amortized cost instead of 0, without the
                                     commitment purchases and refunds, plus UnusedReservation/UnusedSavingsPlan rows
        """;

    public FileKind Kind { get; set; } = FileKind.Ea;
    public long Rows { get; set; } = 1000;
    public DateOnly Month { get; set; } = new(2026, 3, 1);
    public int Seed { get; set; } = 42;
    public string Out { get; set; } = "";
    public int Subscriptions { get; set; } = 3;
    public int Blobs { get; set; } = 1;
    public string? DailySums { get; set; }
    public string NewLine { get; set; } = "\r\n";
    public string? Currency { get; set; }
    public string? Amortized { get; set; }
    public bool Help { get; set; }

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value.");
            switch (a.ToLowerInvariant())
            {
                case "--kind": o.Kind = Enum.Parse<FileKind>(Next(), ignoreCase: true); break;
                case "--rows": o.Rows = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--month":
                    o.Month = DateOnly.ParseExact(Next() + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture);
                    break;
                case "--seed": o.Seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--out": o.Out = Next(); break;
                case "--subscriptions": o.Subscriptions = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--blobs": o.Blobs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--daily-sums": o.DailySums = Next(); break;
                case "--lf": o.NewLine = "\n"; break;
                case "--crlf": o.NewLine = "\r\n"; break;
                case "--currency": o.Currency = Next(); break;
                case "--amortized": o.Amortized = Next(); break;
                case "-h" or "--help" or "-?": o.Help = true; break;
                default: throw new ArgumentException($"Unknown argument '{a}'.");
            }
        }
        if (o.Help) return o;
        if (string.IsNullOrEmpty(o.Out)) throw new ArgumentException("--out is required.");
        if (o.Rows < 0) throw new ArgumentException("--rows must be 0 or more.");
        if (o.Subscriptions < 1) throw new ArgumentException("--subscriptions must be 1 or more.");
        if (o.Blobs < 1) throw new ArgumentException("--blobs must be 1 or more.");
        if (o.Amortized is not null && o.Blobs != 1) throw new ArgumentException("--amortized writes one file: give --blobs 1.");
        return o;
    }
}

internal sealed record GeneratedFile(string Path, long Rows, long Bytes);

/// <summary>Draws rows from the catalog and writes them; one Random drives every row, so output is seed-stable.</summary>
internal sealed class Generator
{
    private static readonly string[] Bools = ["True", "False", "TRUE", "True", "False"];
    private readonly Options _o;
    private readonly Catalog _catalog;
    private readonly Random _rng;
    private readonly string[] _v = new string[(int)F.Count];
    private readonly char[] _num = new char[64];
    private readonly int _days;
    private readonly string[] _dayPadded;
    private readonly string[] _dayShort;
    private readonly string _periodStart;
    private readonly string _periodEnd;
    private readonly string _currency;
    private readonly decimal _exchangeRate;
    private readonly string _exchangeRateText;
    private readonly string _invoiceId;

    public SortedDictionary<DateOnly, decimal> DailySums { get; } = [];

    public Generator(Options o)
    {
        _o = o;
        _catalog = new Catalog(o.Subscriptions);
        _rng = new Random(o.Seed);
        _days = DateTime.DaysInMonth(o.Month.Year, o.Month.Month);
        _dayPadded = new string[_days];
        _dayShort = new string[_days];
        for (int d = 0; d < _days; d++)
        {
            var date = o.Month.AddDays(d);
            _dayPadded[d] = date.ToString("MM/dd/yyyy", CultureInfo.InvariantCulture);
            _dayShort[d] = date.ToString("M/d/yyyy", CultureInfo.InvariantCulture);
        }
        _periodStart = _dayPadded[0];
        _periodEnd = _dayPadded[_days - 1];
        _currency = o.Currency ?? (o.Kind == FileKind.Mca ? "EUR" : "USD");
        _exchangeRate = _currency == "USD" ? 1m : 0.9214m;
        _exchangeRateText = _exchangeRate.ToString(CultureInfo.InvariantCulture);
        _invoiceId = "G" + (o.Month.Year * 100 + o.Month.Month).ToString(CultureInfo.InvariantCulture) + "0042";
        Array.Fill(_v, "");
    }

    public List<GeneratedFile> Run()
    {
        string[] header = Columns.Header(_o.Kind, _o.Seed);
        var map = new int[header.Length];
        for (int c = 0; c < header.Length; c++) map[c] = (int)Columns.FieldOf(header[c]);

        string full = Path.GetFullPath(_o.Out);
        string dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var files = new List<GeneratedFile>();
        long done = 0;
        using var amortized = _o.Amortized is null ? null : new AmortizedWriter(this, Path.GetFullPath(_o.Amortized), header, map);
        for (int b = 1; b <= _o.Blobs; b++)
        {
            long rowsHere = _o.Rows / _o.Blobs + (b <= _o.Rows % _o.Blobs ? 1 : 0);
            string path = _o.Blobs == 1
                ? full
                : Path.Combine(dir, Path.GetFileNameWithoutExtension(full) + "_" + b.ToString(CultureInfo.InvariantCulture) + "of" + _o.Blobs.ToString(CultureInfo.InvariantCulture) + Path.GetExtension(full));
            long bytes;
            using (var csv = new CsvOut(path, _o.NewLine))
            {
                foreach (var h in header) csv.Field(h);
                csv.EndRow();
                for (long r = 0; r < rowsHere; r++)
                {
                    NextRow(done + r);
                    for (int c = 0; c < map.Length; c++) csv.Field(_v[map[c]]);
                    csv.EndRow();
                    amortized?.Row(_v);
                }
                bytes = csv.Flush();
            }
            done += rowsHere;
            files.Add(new GeneratedFile(path, rowsHere, bytes));
        }
        if (amortized is not null) files.Add(amortized.Finish());
        return files;
    }

    public string DailySumsJson()
    {
        var sb = new StringBuilder("{");
        bool first = true;
        foreach (var (day, sum) in DailySums)
        {
            if (!first) sb.Append(',');
            first = false;
            sb.Append("\n  \"").Append(day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append("\": \"")
              .Append(sum.ToString(CultureInfo.InvariantCulture)).Append('"');
        }
        sb.Append("\n}\n");
        return sb.ToString();
    }

    /// <summary>The next row's values by logical field (valid until the next call), for the export writer.</summary>
    internal string[] Row(long index)
    {
        NextRow(index);
        return _v;
    }

    internal string Currency => _currency;
    internal bool IsMca => _o.Kind == FileKind.Mca;
    internal decimal ExchangeRate => _exchangeRate;
    internal string NewLine => _o.NewLine;
    internal int Seed => _o.Seed;

    private void NextRow(long index)
    {
        var rng = _rng;
        var v = _v;
        bool mca = _o.Kind == FileKind.Mca;
        int day = index < _days ? (int)index : rng.Next(_days);
        var subs = _catalog.ResourcesBySubscription;
        var list = subs[rng.Next(subs.Count)];
        var res = list[rng.Next(list.Count)];
        var m = res.Meter;

        // What kind of charge this row is.
        double k = rng.NextDouble();
        string chargeType = k < 0.01 ? "Purchase" : k < 0.015 ? "Refund" : "Usage";
        double p = rng.NextDouble();
        string pricing = chargeType != "Usage" ? (p < 0.7 ? "Reservation" : "SavingsPlan")
            : p < 0.05 ? "Reservation" : p < 0.08 ? "SavingsPlan" : "OnDemand";
        bool benefitCovered = pricing != "OnDemand";

        v[(int)F.Date] = !mca && rng.Next(10) == 0 ? _dayShort[day] : _dayPadded[day];
        v[(int)F.SubscriptionId] = res.SubscriptionId;
        v[(int)F.SubscriptionName] = res.SubscriptionName;
        v[(int)F.ResourceGroup] = chargeType == "Usage" ? res.ResourceGroup : "";
        v[(int)F.ResourceLocation] = mca ? res.Region.Normalized : res.Region.Display;
        v[(int)F.ResourceLocationNormalized] = res.Region.Normalized;
        v[(int)F.Location] = res.Region.Display;
        v[(int)F.MeterRegion] = res.Region.MeterRegion;
        v[(int)F.ProductName] = m.Product;
        v[(int)F.MeterCategory] = m.Category;
        v[(int)F.MeterSubCategory] = m.SubCategory;
        v[(int)F.MeterId] = m.Id;
        v[(int)F.MeterName] = m.Name;
        v[(int)F.UnitOfMeasure] = m.Unit;
        v[(int)F.ConsumedService] = m.ConsumedService;
        v[(int)F.ServiceFamily] = m.ServiceFamily;
        v[(int)F.PartNumber] = m.PartNumber;
        v[(int)F.ProductId] = m.ProductId;
        v[(int)F.CostCenter] = res.CostCenter;
        v[(int)F.AvailabilityZone] = res.Zone;
        v[(int)F.AccountName] = res.AccountName;
        v[(int)F.AccountOwnerId] = res.AccountOwner;
        v[(int)F.AccountId] = res.AccountId;
        v[(int)F.OfferId] = mca ? "" : "MS-AZR-0017P";
        v[(int)F.PublisherType] = mca ? "Microsoft" : "Azure";
        v[(int)F.PublisherName] = "Microsoft";
        v[(int)F.Provider] = "Azure";
        v[(int)F.ChargeType] = chargeType;
        v[(int)F.PricingModel] = pricing;
        v[(int)F.Frequency] = chargeType == "Usage" ? "UsageBased" : (rng.Next(2) == 0 ? "OneTime" : "Recurring");
        v[(int)F.Term] = chargeType == "Usage" ? "" : (rng.Next(2) == 0 ? "12" : "36");
        v[(int)F.IsAzureCreditEligible] = Bools[rng.Next(Bools.Length)];
        v[(int)F.ServiceInfo1] = rng.Next(50) == 0 ? "Reserved" : "";
        v[(int)F.ServiceInfo2] = "";
        v[(int)F.PlanName] = "";
        v[(int)F.CostAllocationRuleName] = rng.Next(200) == 0 ? "Shared-Platform-Split" : "";

        if (mca)
        {
            v[(int)F.BillingAccountId] = _catalog.McaBillingAccountId;
            v[(int)F.BillingAccountName] = "Contoso Europe GmbH";
            v[(int)F.BillingProfileId] = _catalog.McaBillingProfileId;
            v[(int)F.BillingProfileName] = "Contoso EU Billing";
            v[(int)F.InvoiceSectionId] = _catalog.McaInvoiceSectionId;
            v[(int)F.InvoiceSectionName] = res.InvoiceSectionName;
        }
        else
        {
            v[(int)F.BillingAccountId] = _catalog.EnrollmentNumber;
            v[(int)F.BillingAccountName] = "Contoso Ltd";
            v[(int)F.BillingProfileId] = _catalog.EnrollmentNumber;
            v[(int)F.BillingProfileName] = "Contoso Ltd";
            v[(int)F.InvoiceSectionId] = res.InvoiceSectionId;
            v[(int)F.InvoiceSectionName] = res.InvoiceSectionName;
        }
        v[(int)F.BillingCurrencyCode] = _currency;
        v[(int)F.PricingCurrency] = "USD";

        // Open billing period (MCA): no invoice yet, billing period dates empty.
        bool open = mca && rng.Next(6) == 0;
        v[(int)F.BillingPeriodStartDate] = open ? "" : _periodStart;
        v[(int)F.BillingPeriodEndDate] = open ? "" : _periodEnd;
        v[(int)F.InvoiceId] = mca && !open ? _invoiceId : "";
        v[(int)F.PreviousInvoiceId] = "";
        v[(int)F.ResellerName] = "";
        v[(int)F.ResellerMpnId] = "";
        v[(int)F.PublisherId] = "";
        v[(int)F.ServicePeriodStartDate] = _periodStart;
        v[(int)F.ServicePeriodEndDate] = _periodEnd;
        v[(int)F.ExchangeRatePricingToBilling] = _exchangeRateText;
        v[(int)F.ExchangeRateDate] = _periodStart;

        // Resource identity; purchases and refunds belong to no resource.
        if (chargeType == "Usage")
        {
            v[(int)F.ResourceId] = res.Id;
            int odd = rng.Next(1000);
            v[(int)F.ResourceName] = odd < 4 ? res.Name + ",snapshot-" + odd.ToString(CultureInfo.InvariantCulture) : res.Name;
            v[(int)F.Tags] = rng.Next(2500) == 0
                ? (res.Tags.Length == 0 ? "" : res.Tags + ",") + "\"note\": \"migrated from on-prem\nsee ticket 4711\""
                : res.Tags;
            v[(int)F.AdditionalInfo] = m.AdditionalInfo;
        }
        else
        {
            v[(int)F.ResourceId] = "";
            v[(int)F.ResourceName] = "";
            v[(int)F.Tags] = "";
            v[(int)F.AdditionalInfo] = "";
        }

        if (pricing == "Reservation")
        {
            var rsv = _catalog.Reservations[rng.Next(_catalog.Reservations.Count)];
            v[(int)F.ReservationId] = rsv.Id;
            v[(int)F.ReservationName] = rsv.Name;
            v[(int)F.ProductOrderId] = rsv.Id;
            v[(int)F.ProductOrderName] = "Reserved VM Instance, Standard_D2s_v3, " + res.Region.Display + ", 1 Year";
            v[(int)F.BenefitId] = "/providers/Microsoft.Capacity/reservationOrders/" + rsv.Id;
            v[(int)F.BenefitName] = rsv.Name;
        }
        else if (pricing == "SavingsPlan")
        {
            var sp = _catalog.SavingsPlans[rng.Next(_catalog.SavingsPlans.Count)];
            v[(int)F.ReservationId] = "";
            v[(int)F.ReservationName] = "";
            v[(int)F.ProductOrderId] = sp.Id;
            v[(int)F.ProductOrderName] = sp.Name;
            v[(int)F.BenefitId] = "/providers/Microsoft.BillingBenefits/savingsPlanOrders/" + sp.Id;
            v[(int)F.BenefitName] = sp.Name;
        }
        else
        {
            v[(int)F.ReservationId] = "";
            v[(int)F.ReservationName] = "";
            v[(int)F.ProductOrderId] = "";
            v[(int)F.ProductOrderName] = "";
            v[(int)F.BenefitId] = "";
            v[(int)F.BenefitName] = "";
        }

        // Numbers.
        v[(int)F.Quantity] = chargeType == "Usage" ? RandomDecimal(rng.Next(0, 11), rng.Next(-3, 3), negative: false) : "1";
        string price = RandomDecimal(rng.Next(4, 13), m.Price >= 1 ? 1 : 0, negative: false, lead: m.Price);
        v[(int)F.UnitPrice] = price;
        v[(int)F.PayGPrice] = price;
        v[(int)F.EffectivePrice] = benefitCovered && chargeType == "Usage" ? "0" : price;

        string cost;
        if (chargeType == "Usage" && benefitCovered)
        {
            cost = "0"; // ActualCost: usage covered by a reservation or savings plan costs nothing
        }
        else
        {
            bool negative = chargeType == "Refund" || (chargeType == "Usage" && rng.Next(400) == 0);
            int kind = rng.Next(1000);
            if (kind < 5) cost = Scientific(negative);
            else if (kind < 15) cost = Long(rng.Next(20, 29), negative);
            else if (kind < 25) cost = "0";
            else cost = RandomDecimal(rng.Next(6, 17), chargeType == "Usage" ? rng.Next(-3, 3) : rng.Next(2, 4), negative);
        }
        v[(int)F.CostInBillingCurrency] = cost;
        decimal dcost = decimal.Parse(cost, NumberStyles.Float, CultureInfo.InvariantCulture);
        var date = _o.Month.AddDays(day);
        DailySums[date] = DailySums.TryGetValue(date, out var s) ? s + dcost : dcost;

        if (mca)
        {
            decimal usd = _exchangeRate == 1m ? dcost : Math.Round(dcost / _exchangeRate, 18);
            string usdText = usd.ToString(CultureInfo.InvariantCulture);
            v[(int)F.CostInPricingCurrency] = usdText;
            v[(int)F.CostInUsd] = usdText;
            v[(int)F.PaygCostInBillingCurrency] = cost == "0" ? RandomDecimal(8, 0, false) : cost;
            v[(int)F.PaygCostInUsd] = v[(int)F.PaygCostInBillingCurrency] == cost ? usdText : RandomDecimal(8, 0, false);
        }
    }

    /// <summary>A decimal with <paramref name="frac"/> fractional digits and roughly 10^magnitude in size.</summary>
    private string RandomDecimal(int frac, int magnitude, bool negative, decimal lead = 0m)
    {
        var rng = _rng;
        Span<char> buf = _num;
        int n = 0;
        if (negative) buf[n++] = '-';
        long intPart;
        if (lead != 0m) intPart = (long)Math.Floor(lead);
        else intPart = magnitude <= 0 ? 0 : rng.Next(1, (int)Math.Pow(10, magnitude) * 10);
        string ip = intPart.ToString(CultureInfo.InvariantCulture);
        ip.AsSpan().CopyTo(buf[n..]);
        n += ip.Length;
        if (frac > 0)
        {
            buf[n++] = '.';
            int leadingZeros = magnitude < 0 && intPart == 0 ? Math.Min(-magnitude, frac - 1) : 0;
            for (int i = 0; i < frac; i++) buf[n++] = i < leadingZeros ? '0' : (char)('0' + rng.Next(10));
        }
        return new string(buf[..n]);
    }

    /// <summary>An amortized-style value: 20 to 28 fractional digits, never more than 28 significant digits.</summary>
    private string Long(int frac, bool negative)
    {
        var rng = _rng;
        Span<char> buf = _num;
        int n = 0;
        if (negative) buf[n++] = '-';
        int maxInt = Math.Max(0, 28 - frac);
        int intDigits = maxInt == 0 ? 0 : rng.Next(0, Math.Min(maxInt, 3) + 1);
        if (intDigits == 0) buf[n++] = '0';
        else
        {
            buf[n++] = (char)('1' + rng.Next(9));
            for (int i = 1; i < intDigits; i++) buf[n++] = (char)('0' + rng.Next(10));
        }
        buf[n++] = '.';
        for (int i = 0; i < frac; i++) buf[n++] = (char)('0' + rng.Next(10));
        return new string(buf[..n]);
    }

    /// <summary>Spreadsheet-style scientific notation, like 5.64902E-05.</summary>
    private string Scientific(bool negative)
    {
        var rng = _rng;
        Span<char> buf = _num;
        int n = 0;
        if (negative) buf[n++] = '-';
        buf[n++] = (char)('1' + rng.Next(9));
        int digits = rng.Next(1, 6);
        buf[n++] = '.';
        for (int i = 0; i < digits; i++) buf[n++] = (char)('0' + rng.Next(10));
        buf[n++] = 'E';
        buf[n++] = '-';
        int exp = rng.Next(3, 9);
        buf[n++] = '0';
        buf[n++] = (char)('0' + exp);
        return new string(buf[..n]);
    }
}

/// <summary>
/// Writes the AmortizedCost companion of an ActualCost file: the same charges as Cost Management shows them amortized.
/// Usage covered by a reservation or savings plan costs its amortized price (the unit price less a discount) instead of
/// 0; commitment purchases and refunds are left out (their cost is spread over the usage); unused commitment hours
/// appear as UnusedReservation and UnusedSavingsPlan rows. Draws from its own Random, so the ActualCost file is the same
/// with or without it.
/// </summary>
internal sealed class AmortizedWriter : IDisposable
{
    private readonly Generator _generator;
    private readonly string _path;
    private readonly int[] _map;
    private readonly CsvOut _csv;
    private readonly Random _rng;
    private readonly string[] _row = new string[(int)F.Count];
    private string[]? _template;
    private long _rows;
    private const long UnusedEvery = 150;
    private long _written;

    public AmortizedWriter(Generator generator, string path, string[] header, int[] map)
    {
        _generator = generator;
        _path = path;
        _map = map;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        _csv = new CsvOut(path, generator.NewLine);
        foreach (var h in header) _csv.Field(h);
        _csv.EndRow();
        _rng = new Random(generator.Seed ^ 0x5A17);
    }

    public void Row(string[] actual)
    {
        Array.Copy(actual, _row, _row.Length);
        string charge = _row[(int)F.ChargeType];
        string pricing = _row[(int)F.PricingModel];
        bool commitment = pricing is "Reservation" or "SavingsPlan";
        if (commitment && charge is "Purchase" or "Refund")
        {
            return; // amortized over the usage it covers
        }

        if (commitment && charge == "Usage")
        {
            decimal unit = decimal.Parse(_row[(int)F.UnitPrice], NumberStyles.Float, CultureInfo.InvariantCulture);
            decimal quantity = decimal.Parse(_row[(int)F.Quantity], NumberStyles.Float, CultureInfo.InvariantCulture);
            decimal price = Math.Round(unit * (0.35m + (decimal)_rng.Next(0, 40) / 100m), 10);
            SetCost(price, Math.Round(price * quantity, 12));
            _template ??= (string[])_row.Clone();
        }

        Write();
        if (++_rows % UnusedEvery == 0 && _template is not null)
        {
            Unused();
        }
    }

    /// <summary>An unused commitment row: the hours (or spend) of a reservation or savings plan that no usage took.</summary>
    private void Unused()
    {
        bool reservation = _rng.Next(3) != 0;
        Array.Copy(_template!, _row, _row.Length);
        _row[(int)F.ChargeType] = reservation ? "UnusedReservation" : "UnusedSavingsPlan";
        _row[(int)F.PricingModel] = reservation ? "Reservation" : "SavingsPlan";
        var id = new byte[16];
        _rng.NextBytes(id);
        string order = new Guid(id).ToString();
        _row[(int)F.BenefitId] = reservation ? "/providers/Microsoft.Capacity/reservationOrders/" + order : "/providers/Microsoft.BillingBenefits/savingsPlanOrders/" + order;
        _row[(int)F.BenefitName] = reservation ? "VM_RI_unused" : "Compute_SavingsPlan_unused";
        _row[(int)F.ReservationId] = reservation ? _row[(int)F.BenefitId][^36..] : "";
        _row[(int)F.ResourceId] = "";
        _row[(int)F.ResourceName] = "";
        _row[(int)F.Tags] = "";
        _row[(int)F.AdditionalInfo] = "";
        _row[(int)F.Quantity] = (_rng.Next(1, 240) / 10m).ToString(CultureInfo.InvariantCulture);
        decimal price = (_rng.Next(1, 5000) / 10000m) + 0.0001m;
        SetCost(price, Math.Round(price * decimal.Parse(_row[(int)F.Quantity], CultureInfo.InvariantCulture), 12));
        Write();
    }

    private void SetCost(decimal price, decimal cost)
    {
        _row[(int)F.EffectivePrice] = price.ToString(CultureInfo.InvariantCulture);
        string text = cost.ToString(CultureInfo.InvariantCulture);
        _row[(int)F.CostInBillingCurrency] = text;
        if (_generator.IsMca)
        {
            string usd = (_generator.ExchangeRate == 1m ? cost : Math.Round(cost / _generator.ExchangeRate, 18)).ToString(CultureInfo.InvariantCulture);
            _row[(int)F.CostInPricingCurrency] = usd;
            _row[(int)F.CostInUsd] = usd;
        }
    }

    private void Write()
    {
        for (int c = 0; c < _map.Length; c++) _csv.Field(_row[_map[c]]);
        _csv.EndRow();
        _written++;
    }

    public GeneratedFile Finish()
    {
        long bytes = _csv.Flush();
        _csv.Dispose();
        return new GeneratedFile(_path, _written, bytes);
    }

    public void Dispose() => _csv.Dispose();
}
