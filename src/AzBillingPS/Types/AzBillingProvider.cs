namespace AzBillingPS;

/// <summary>The databases Import-AzCostToSql loads into.</summary>
public enum AzBillingProvider
{
    /// <summary>SQL Server or Azure SQL Database (SqlBulkCopy).</summary>
    SqlServer,

    /// <summary>PostgreSQL (binary COPY).</summary>
    PostgreSql,

    /// <summary>A SQLite file, the embedded default.</summary>
    Sqlite,
}

/// <summary>Which cost a file or report holds.</summary>
public enum AzCostMetric
{
    ActualCost,
    AmortizedCost,
}
