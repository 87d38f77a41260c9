using System.Text;
using CocoLaunch.Abi;
using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec.Tests;

/// <summary>KVM's memslot limits are checked in the spec, at the position of the value that breaks them.</summary>
public sealed class MemslotLimitTests
{
    /// <summary>
    /// A spec file cannot hold this many slots (the 1 MiB and 100,000-node bounds come first), so the memory
    /// section is read from a YAML document loaded without those bounds: the check must still hold on its own.
    /// </summary>
    [Fact]
    public void ReadSlots_MoreThanKvmUserMemSlotsLessTheFirmware_IsRefusedAtTheFirstSlotTooMany()
    {
        var yaml = new StringBuilder("slots:\n");
        for (int i = 0; i < 32_764; i++)
        {
            yaml.Append(System.Globalization.CultureInfo.InvariantCulture, $"  - {{ gpa: 0x{(ulong)i * 0x2000:x}, size: 4K, kind: shared }}\n");
        }

        var stream = new YamlStream();
        stream.Load(new StringReader(yaml.ToString()));
        var memory = stream.Documents[0].RootNode;
        var e = Assert.Throws<SpecException>(() => MemorySection.Read(new YamlSpecReader("t.yaml", "."), memory, KvmVmType.SwProtected));
        Assert.Equal((32_765L, 5L), (e.Line, e.Column)); // slot index 32763, the first beyond the 32763 a launch can have
        Assert.Equal("memory.slots: 32764 slots are more than the 32763 a launch can have (KVM_USER_MEM_SLOTS is 32764, and the firmware takes one)", e.Problem);
    }

    [Fact]
    public void ReadSlots_AtTheLimit_IsAccepted()
    {
        var yaml = new StringBuilder("slots:\n");
        for (int i = 0; i < 32_763; i++)
        {
            yaml.Append(System.Globalization.CultureInfo.InvariantCulture, $"  - {{ gpa: 0x{(ulong)i * 0x2000:x}, size: 4K, kind: shared }}\n");
        }

        var stream = new YamlStream();
        stream.Load(new StringReader(yaml.ToString()));
        var spec = MemorySection.Read(new YamlSpecReader("t.yaml", "."), stream.Documents[0].RootNode, KvmVmType.SwProtected);
        Assert.Equal(32_763, spec.Slots.Count);
    }

    [Fact]
    public void Parse_SpecFileWithTooManySlots_IsRefusedWithAPosition()
    {
        var yaml = new StringBuilder("platform: sw-protected\nfirmware: f.fd\nmemory:\n  slots:\n");
        for (int i = 0; i < 20_000; i++)
        {
            yaml.Append(System.Globalization.CultureInfo.InvariantCulture, $"    - {{ gpa: 0x{(ulong)i * 0x2000:x}, size: 4K, kind: shared }}\n");
        }

        var e = Assert.Throws<SpecException>(() => LaunchSpecParser.Parse(yaml.ToString(), "t.yaml", "."));
        Assert.True(e.Line > 4, e.Message);
        Assert.StartsWith("the spec has more than 100000 YAML nodes", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0x3000", "0x1000", "overlaps the slot at line 6 [0x2000,0x4000)")] // inside the slot given second, between two others by address
    [InlineData("0x0", "0x10000", "overlaps the slot at line 4 [0x0,0x1000)")] // covers several: the first by address is named
    [InlineData("0x8000", "0x1000", "overlaps the slot at line 5 [0x8000,0x9000)")] // same start
    public void ReadSlots_OverlapOutOfOrder_IsFoundAmongManySlots(string gpa, string size, string expected)
    {
        string yaml = $"slots:\n  - {{ gpa: 0x10000, size: 4K, kind: shared }}\n  - {{ gpa: 0x20000, size: 4K, kind: shared }}\n  - {{ gpa: 0x0, size: 4K, kind: shared }}\n"
            + $"  - {{ gpa: 0x8000, size: 4K, kind: shared }}\n  - {{ gpa: 0x2000, size: 8K, kind: shared }}\n  - {{ gpa: {gpa}, size: {size}, kind: shared }}\n";
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var e = Assert.Throws<SpecException>(() => MemorySection.Read(new YamlSpecReader("t.yaml", "."), stream.Documents[0].RootNode, KvmVmType.SwProtected));
        Assert.Equal(7L, e.Line);
        Assert.EndsWith(expected, e.Problem, StringComparison.Ordinal);
    }
}
