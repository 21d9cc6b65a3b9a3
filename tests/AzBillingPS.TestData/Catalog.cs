using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace AzBillingPS.TestData;

internal sealed record Meter(
    string Category, string SubCategory, string Name, string Unit, string ConsumedService, string ResourceType,
    string NamePrefix, string ServiceFamily, string Product, decimal Price, string AdditionalInfo)
{
    public string Id { get; set; } = "";
    public string PartNumber { get; set; } = "";
    public string ProductId { get; set; } = "";
}

internal sealed record Region(string Display, string Normalized, string MeterRegion);

internal sealed class Resource
{
    public required string SubscriptionId { get; init; }
    public required string SubscriptionName { get; init; }
    public required string ResourceGroup { get; init; }
    public required Region Region { get; init; }
    public required Meter Meter { get; init; }
    public required string Name { get; init; }
    public required string Id { get; init; }
    public required string Tags { get; init; }
    public required string CostCenter { get; init; }
    public required string Zone { get; init; }
    public required string AccountName { get; init; }
    public required string AccountOwner { get; init; }
    public required string AccountId { get; init; }
    public required string InvoiceSectionName { get; init; }
    public required string InvoiceSectionId { get; init; }
}

/// <summary>
/// The fixed world the rows are drawn from: subscriptions, meters, resources. It depends on a constant seed only,
/// so files for different months (and different row seeds) describe the same subscriptions and resources.
/// </summary>
internal sealed class Catalog
{
    public const int CatalogSeed = 20260101;

    public static readonly Meter[] Meters =
    [
        new("Virtual Machines", "Dv3/DSv3 Series", "D2s v3", "1 Hour", "Microsoft.Compute", "virtualMachines", "vm", "Compute", "Virtual Machines DSv3 Series", 0.096m,
            "{\"UsageType\":\"ComputeHR\",\"ImageType\":\"Canonical\",\"ServiceType\":\"Standard_D2s_v3\",\"VMName\":null,\"VMProperties\":null,\"VCPUs\":2,\"CPUs\":0}"),
        new("Virtual Machines", "Ev5/Esv5 Series", "E4s v5", "1 Hour", "Microsoft.Compute", "virtualMachines", "vm", "Compute", "Virtual Machines Esv5 Series", 0.252m,
            "{\"UsageType\":\"ComputeHR\",\"ImageType\":\"Windows Server BYOL\",\"ServiceType\":\"Standard_E4s_v5\",\"VMName\":null,\"VCPUs\":4}"),
        new("Storage", "Premium SSD Managed Disks", "P10 LRS Disk", "1/Month", "Microsoft.Compute", "disks", "disk", "Storage", "Premium SSD Managed Disks - P10 - LRS", 19.71m, ""),
        new("Storage", "Tiered Block Blob", "Hot LRS Data Stored", "1 GB/Month", "Microsoft.Storage", "storageAccounts", "st", "Storage", "Blob Storage - Hot - LRS", 0.0184m, ""),
        new("Storage", "Tables", "Batch Write Operations", "10K", "Microsoft.Storage", "storageAccounts", "st", "Storage", "Tables - LRS", 0.00036m, ""),
        new("Azure App Service", "Premium v3 Plan", "P1 v3 App", "1 Hour", "Microsoft.Web", "serverfarms", "asp", "Compute", "Azure App Service Premium v3 Plan - Linux", 0.169m, ""),
        new("Functions", "", "Standard Execution Time", "10 GB Seconds", "Microsoft.Web", "sites", "func", "Compute", "Functions", 0.00016m, ""),
        new("SQL Database", "General Purpose - Compute Gen5", "vCore", "1 Hour", "Microsoft.Sql", "servers/sqlsrv01/databases", "sqldb", "Databases", "SQL Database Single/Elastic Pool General Purpose - Compute Gen5", 0.2522m,
            "{\"vCores\":2,\"ServiceTier\":\"GeneralPurpose\",\"Compute\":\"Provisioned\"}"),
        new("Bandwidth", "Rtn Preference: MGN", "Standard Data Transfer Out", "1 GB", "Microsoft.Network", "publicIPAddresses", "pip", "Networking", "Rtn Preference: MGN", 0.087m, ""),
        new("Virtual Network", "IP Addresses", "Standard IPv4 Static Public IP", "1 Hour", "Microsoft.Network", "publicIPAddresses", "pip", "Networking", "IP Addresses", 0.005m, ""),
        new("Load Balancer", "", "Standard Data Processed", "1 GB", "Microsoft.Network", "loadBalancers", "lb", "Networking", "Load Balancer", 0.005m, ""),
        new("Azure Monitor", "Azure Monitor", "Pay-as-you-go Data Ingestion", "1 GB", "Microsoft.OperationalInsights", "workspaces", "log", "Management and Governance", "Log Analytics", 2.76m, ""),
        new("Key Vault", "", "Operations", "10K", "Microsoft.KeyVault", "vaults", "kv", "Security", "Key Vault", 0.03m, ""),
        new("Container Registry", "", "Standard Registry Unit", "1/Day", "Microsoft.ContainerRegistry", "registries", "acr", "Containers", "Container Registry", 0.6667m, ""),
        new("Azure Cosmos DB", "", "100 RU/s", "100/Hour", "Microsoft.DocumentDB", "databaseAccounts", "cosmos", "Databases", "Azure Cosmos DB", 0.008m, ""),
        new("Azure DNS", "", "Public Queries", "1M", "Microsoft.Network", "dnszones", "dns", "Networking", "Azure DNS", 0.4m, ""),
        new("Backup", "", "Azure VM Protected Instances", "1/Month", "Microsoft.RecoveryServices", "vaults", "rsv", "Management and Governance", "Backup", 10m, ""),
        new("Azure Kubernetes Service", "", "Standard Uptime SLA", "1 Hour", "Microsoft.ContainerService", "managedClusters", "aks", "Containers", "Azure Kubernetes Service", 0.1m, ""),
    ];

    public static readonly Region[] Regions =
    [
        new("EU West", "westeurope", "EU West"), new("EU North", "northeurope", "EU North"), new("US East", "eastus", "US East"),
        new("US East 2", "eastus2", "US East 2"), new("UK South", "uksouth", "UK South"), new("DE West Central", "germanywestcentral", "DE West Central"),
    ];

    private static readonly string[] Environments = ["prod", "test", "dev", "qa"];
    private static readonly string[] Teams = ["finance", "web", "data", "platform", "sales"];
    private static readonly string[] Apps = ["billing-api", "portal", "etl", "crm", "search"];
    private static readonly string[] Departments = ["Engineering", "Finance", "Marketing"];

    public List<string> SubscriptionIds { get; } = [];
    public List<List<Resource>> ResourcesBySubscription { get; } = [];
    public string EnrollmentNumber { get; } = "8608480";
    public string McaBillingAccountId { get; }
    public string McaBillingProfileId { get; } = "AB12-CD34-EF5-GH6";
    public string McaInvoiceSectionId { get; } = "IJ78-KL90-MN1-OP2";
    public List<(string Id, string Name)> Reservations { get; } = [];
    public List<(string Id, string Name)> SavingsPlans { get; } = [];

    public Catalog(int subscriptions, int resourcesPerSubscription = 40)
    {
        var rng = new Random(CatalogSeed);
        foreach (var m in Meters)
        {
            m.Id = NewGuid(rng);
            m.PartNumber = "AAA-" + rng.Next(10000, 99999).ToString(CultureInfo.InvariantCulture);
            m.ProductId = "DZH318Z0" + RandomUpper(rng, 8);
        }
        McaBillingAccountId = NewGuid(rng) + ":" + NewGuid(rng) + "_2019-05-31";
        for (int i = 0; i < 4; i++) Reservations.Add((NewGuid(rng), "VM_RI_" + (i + 1).ToString("00", CultureInfo.InvariantCulture) + "-2025"));
        for (int i = 0; i < 2; i++) SavingsPlans.Add((NewGuid(rng), "Compute_SavingsPlan_" + (i + 1).ToString(CultureInfo.InvariantCulture)));

        // Subscriptions: the k-th id does not depend on how many are asked for.
        var subRng = new Random(CatalogSeed + 1);
        for (int s = 0; s < subscriptions; s++) SubscriptionIds.Add(NewGuid(subRng));

        for (int s = 0; s < subscriptions; s++)
        {
            var r = new Random(CatalogSeed + 100 + s);
            var list = new List<Resource>(resourcesPerSubscription);
            string subName = "Contoso-" + Environments[s % Environments.Length] + "-" + (s + 1).ToString("000", CultureInfo.InvariantCulture);
            int dept = s % Departments.Length;
            for (int i = 0; i < resourcesPerSubscription; i++)
            {
                var meter = Meters[r.Next(Meters.Length)];
                var region = Regions[r.Next(Regions.Length)];
                string env = Environments[r.Next(Environments.Length)];
                string rg = "rg-" + Apps[r.Next(Apps.Length)] + "-" + env + (r.Next(8) == 0 ? "-" + region.Normalized : "");
                string name = meter.NamePrefix + "-" + Apps[r.Next(Apps.Length)] + "-" + env + "-" + r.Next(1, 40).ToString("00", CultureInfo.InvariantCulture);
                string id = "/subscriptions/" + SubscriptionIds[s] + "/resourceGroups/" + rg + "/providers/" + meter.ConsumedService + "/" + meter.ResourceType + "/" + name;
                string tags = r.Next(10) switch
                {
                    < 3 => "",
                    < 5 => "\"env\": \"" + env + "\"",
                    < 7 => "\"env\": \"" + env + "\",\"org\": \"" + Teams[r.Next(Teams.Length)] + "\"",
                    < 9 => "\"env\": \"" + env + "\",\"team\": \"" + Teams[r.Next(Teams.Length)] + "\",\"costcenter\": \"CC-" + r.Next(1000, 1010).ToString(CultureInfo.InvariantCulture) + "\"",
                    _ => "\"hidden-link:/app-insights-resource-id\": \"/subscriptions/" + SubscriptionIds[s] + "/resourceGroups/" + rg + "/providers/microsoft.insights/components/ai-" + name + "\",\"env\": \"" + env + "\"",
                };
                list.Add(new Resource
                {
                    SubscriptionId = SubscriptionIds[s],
                    SubscriptionName = subName,
                    ResourceGroup = rg,
                    Region = region,
                    Meter = meter,
                    Name = name,
                    Id = id,
                    Tags = tags,
                    CostCenter = r.Next(3) == 0 ? "" : "CC-" + r.Next(1000, 1010).ToString(CultureInfo.InvariantCulture),
                    Zone = meter.ResourceType == "virtualMachines" && r.Next(2) == 0 ? r.Next(1, 4).ToString(CultureInfo.InvariantCulture) : "",
                    AccountName = Departments[dept] + " Account",
                    AccountOwner = Departments[dept].ToLowerInvariant()[..3] + "@contoso.com",
                    AccountId = (141000 + dept).ToString(CultureInfo.InvariantCulture),
                    InvoiceSectionName = Departments[dept],
                    InvoiceSectionId = (220000 + dept).ToString(CultureInfo.InvariantCulture),
                });
            }
            ResourcesBySubscription.Add(list);
        }
    }

    public static string NewGuid(Random rng)
    {
        Span<byte> b = stackalloc byte[16];
        rng.NextBytes(b);
        b[7] = (byte)((b[7] & 0x0F) | 0x40); // version 4
        b[8] = (byte)((b[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(b).ToString("D");
    }

    private static string RandomUpper(Random rng, int n)
    {
        const string chars = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
        var sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) sb.Append(chars[rng.Next(chars.Length)]);
        return sb.ToString();
    }
}
