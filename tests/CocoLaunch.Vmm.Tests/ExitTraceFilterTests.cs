using CocoLaunch.Abi;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Exits;

namespace CocoLaunch.Vmm.Tests;

/// <summary><c>launch --trace-exits --trace-only LIST</c>: exit names as the trace prints them, and one port or page.</summary>
public sealed class ExitTraceFilterTests
{
    private static readonly KvmExit FwCfgSelect = new KvmExit.Io(true, 2, 0x510, 1, new byte[2]);
    private static readonly KvmExit PmTimer = new KvmExit.Io(false, 4, 0x608, 1, new byte[4]);
    private static readonly KvmExit IoApicRead = new KvmExit.Mmio(new Gpa(0xFEC0_0010), 4, false, new byte[8]);

    [Fact]
    public void Names_KeepTheirKind_AndPortsAndPagesNarrowIt()
    {
        var io = ExitTraceFilter.Parse("io");
        Assert.True(io(FwCfgSelect) && io(PmTimer) && !io(IoApicRead));
        var port = ExitTraceFilter.Parse("io:0x510, mmio:0xfec00000");
        Assert.True(port(FwCfgSelect) && !port(PmTimer) && port(IoApicRead));
        Assert.True(ExitTraceFilter.Parse("io:1296")(FwCfgSelect)); // decimal 0x510
    }

    [Theory]
    [InlineData("iox", "'iox' is not an exit name")]
    [InlineData("io:0x1ffff", "only io:PORT (up to 0xffff)")]
    [InlineData("hlt:3", "only io:PORT")]
    [InlineData("io:zz", "'zz' is not a number")]
    [InlineData(" , ", "no exit names given")]
    public void BadLists_SayWhichEntry(string list, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => ExitTraceFilter.Parse(list)).Message, StringComparison.Ordinal);
}
