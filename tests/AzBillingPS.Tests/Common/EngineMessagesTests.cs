using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using AzBillingPS.Engine.Common;
using Xunit;

namespace AzBillingPS.Tests.Common;

/// <summary>
/// Engine messages name no cmdlet and no parameter (issue 12): the engine serves several commands, and each words its
/// own advice (<see cref="EngineAdvice"/>, AsyncCmdlet.Advise). Checked on every string literal compiled into the engine
/// (the assembly's user-string heap: plain literals, the literal parts of interpolated strings, format strings), so a
/// comment or a doc line naming a cmdlet is no finding and a message built any way is.
/// </summary>
public class EngineMessagesTests
{
    /// <summary>A command of this module (Verb-AzBilling..., Verb-AzCost...); Az PowerShell's own, such as Connect-AzAccount, may be named.</summary>
    private static readonly Regex Cmdlet = new(@"\b[A-Z][a-z]+-Az(?:Billing|Cost)[A-Za-z]*", RegexOptions.CultureInvariant);

    /// <summary>A parameter as PowerShell spells it: a dash, then a capitalised word, not inside a word or a run of dashes.</summary>
    private static readonly Regex Parameter = new(@"(?<![\w-])-[A-Z][a-z]+[A-Za-z]*", RegexOptions.CultureInvariant);

    /// <summary>
    /// Literals that still name a parameter (issue 12 left them: mostly checks of a request's own fields, named as the
    /// commands that reach them spell them, and the sign-in and target parameters every such command shares). The list
    /// only shrinks: a new literal naming a parameter fails the test, and so does an entry here that no longer occurs.
    /// </summary>
    private static readonly string[] KnownParameterLiterals =
    [
        " and is not a view; the FOCUS view was not made (nothing was changed). Rename that object, or load into another -Table.",
        " has no private key. Give a PFX that includes the key, a PEM file holding certificate and key, or -PrivateKeyPath.",
        " is a folder, not a cost file; give the files in it, for example -Path '",
        " is before -From ",
        " scope. Use -From/-To instead.",
        "' holds no certificate (no BEGIN CERTIFICATE block); give the certificate file as -CertificatePath and the key as -PrivateKeyPath.",
        "' is a Microsoft Customer Agreement scope. Use -From/-To or -InvoiceId instead.",
        "' is a resource group; the Cost Details API has not accepted resource groups since api-version 2023-08-01. Request the subscription (-Scope /subscriptions/",
        "). Use -DeviceCode instead: it shows a code to enter in a browser on any other device.",
        "): Host= is PostgreSQL, Server= or Initial Catalog= is SQL Server, a Data Source that is a file is SQLite. Name it with -Provider SqlServer, PostgreSql or Sqlite.",
        "); it would be truncated. Choose a shorter -Table or -Schema.",
        "); name the database with -Provider SqlServer, PostgreSql or Sqlite.",
        "-AllSubscriptions: ",
        "-AuthorityHost",
        "-BillingPeriod ",
        "-BillingPeriod '",
        "-BillingPeriod works only for Enterprise Agreement scopes; '",
        "-BillingProfileId, -InvoiceSectionId and -CustomerId need -BillingAccountId (they live under a billing account).",
        "-ClientId does not go with ",
        "-Columnstore is for SQL Server and Azure SQL targets; ",
        "-Credential gives the login, and the connection string names one too (",
        "-Credential is a SQL Server or PostgreSQL login; a SQLite file has none.",
        "-Dataset",
        "-From ",
        "-GroupBy ",
        "-GroupBy Tag: needs the tag's name, for example Tag:env.",
        "-Interactive opens a web browser on this machine, and none can be opened here: ",
        "-InvoiceId '",
        "-InvoiceId works only for billing-profile or customer scopes (Microsoft Customer Agreement); '",
        "-InvoiceSectionId needs -BillingProfileId (an invoice section lives under a billing profile).",
        "-LookbackMonths",
        "-Metric '",
        "-Months",
        "-PrivateKeyPath applies to a PEM certificate; '",
        "-ResourceManagerUrl",
        "-SubscriptionId '",
        "-To ",
        "-UseAzContext",
        "-UseAzContext needs the PowerShell session to ask.",
        "-UseAzureCli",
        "-WorkingPath",
        ". Load cost details first; the next load with -FocusView makes it.",
        ". Use -DeviceCode instead: it shows a code to enter in a browser on any other device.",
        ": no rows and no -From/-To, so there is no period to replace; nothing was loaded.",
        "Entra token sign-in to PostgreSQL sends the token as the password: leave Password, Passfile and -Credential out (Username names the Entra user or group).",
        "Give at most one of -ClientId, -ResourceId and -ObjectId for a user-assigned managed identity.",
        "Give only one of -From/-To, -BillingPeriod and -InvoiceId: the API takes one way of naming the period per report.",
        "SQLite has no schemas, so -Schema '",
        "The Azure CLI (az) was not found on PATH. Install it and sign in with 'az login', or use another sign-in (-DeviceCode, -UseAzContext).",
        "this is an Azure Automation job, where no person is present (use -ManagedIdentity there)",
    ];

    internal static IReadOnlyList<string> Literals()
    {
        using var stream = File.OpenRead(typeof(EngineException).Assembly.Location);
        using var pe = new PEReader(stream);
        MetadataReader reader = pe.GetMetadataReader();
        var literals = new List<string>();
        for (UserStringHandle h = MetadataTokens.UserStringHandle(1); !h.IsNil; h = reader.GetNextHandle(h))
        {
            literals.Add(reader.GetUserString(h));
        }

        return literals;
    }

    internal static IEnumerable<string> CmdletFindings(IEnumerable<string> literals) => literals.Where(s => Cmdlet.IsMatch(s));

    internal static IEnumerable<string> ParameterFindings(IEnumerable<string> literals) => literals.Where(s => Parameter.IsMatch(s));

    [Fact]
    public void The_scan_reads_the_engines_literals_and_finds_a_planted_cmdlet_or_parameter()
    {
        IReadOnlyList<string> literals = Literals();
        Assert.Contains(literals, s => s.Contains("no token was requested or sent", StringComparison.Ordinal)); // a message of the engine's own
        string[] planted = ["The blob links have expired. Run Save-AzCostBlob again.", "Or use -Decompress:$false to keep it.", "no cmdlet here", "-----BEGIN CERTIFICATE-----", "Data Source=x;Mode=ReadOnly"];
        Assert.Equal([planted[0]], CmdletFindings(planted));
        Assert.Equal([planted[1]], ParameterFindings(planted));
    }

    [Fact]
    public void No_engine_literal_names_a_cmdlet()
    {
        string[] found = CmdletFindings(Literals()).ToArray();
        Assert.True(found.Length == 0, "Engine literals naming a cmdlet:\n" + string.Join("\n", found));
    }

    [Fact]
    public void No_engine_literal_names_a_parameter_beyond_the_known_list_and_the_list_holds_no_stale_entry()
    {
        string[] found = ParameterFindings(Literals()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        string[] added = found.Except(KnownParameterLiterals, StringComparer.Ordinal).ToArray();
        Assert.True(added.Length == 0, "Engine literals naming a parameter (word the advice in the cmdlet layer):\n" + string.Join("\n", added.Select(Quote)));
        string[] stale = KnownParameterLiterals.Except(found, StringComparer.Ordinal).ToArray();
        Assert.True(stale.Length == 0, "No longer in the engine (remove from the known list):\n" + string.Join("\n", stale.Select(Quote)));
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\",";
}
