using AzBillingPS.Engine.Common;
using Xunit;

namespace AzBillingPS.Tests;

public class EngineExceptionTests
{
    [Fact]
    public void Keeps_kind_and_inner_exception()
    {
        var inner = new System.IO.IOException("disk");
        var e = new EngineException(EngineErrorKind.CsvBadValue, "bad", inner) { FilePath = "a.csv", Line = 3, Column = "Cost" };
        Assert.Equal(EngineErrorKind.CsvBadValue, e.Kind);
        Assert.Same(inner, e.InnerException);
        Assert.Equal(3, e.Line);
    }
}
