using CocoLaunch.Tests.Shared;
using CocoLaunch.Vmm.Acpi;

namespace CocoLaunch.Vmm.Tests.Acpi;

/// <summary>ACPICA's disassembler reads every table the way Linux's ACPICA will.</summary>
public sealed class IaslDisassemblyTests
{
    private static string Disassemble(string signature, bool cmosRtc = false)
    {
        var set = AcpiTables.Build(new AcpiPlatform(CpuCount: 2, CmosRtc: cmosRtc), 0xE_0000);
        using var dir = new TempDir();
        string file = dir.Write(signature.ToLowerInvariant() + ".dat", AcpiTablesTests.Table(set, signature).ToArray());
        return Iasl.Disassemble(file);
    }

    [IaslFact]
    public void Fadt()
    {
        string dsl = Disassemble("FACP");
        // ACPICA labels the flag "Hardware Reduced (V5)" in 2020 releases and "(ACPI 5)" in later ones.
        Assert.Matches(@"Hardware Reduced \((V5|ACPI 5)\)\s*: 1", dsl);
        Assert.Matches(@"Reset Register Supported \(V2\)\s*: 1", dsl);
        Assert.Matches(@"8042 Present on ports 60/64 \(V2\)\s*: 0", dsl);
        Assert.Matches(@"VGA Not Present \(V4\)\s*: 1", dsl);
        Assert.Matches(@"Control Method Power Button \(V1\)\s*: 1", dsl);
        Assert.Matches(@"Sleep Control Register : \[Generic Address Structure\]\n[^\n]*Space ID : 01 \[SystemIO\][\s\S]*?Address : 0000000000000600", dsl);
        Assert.Matches(@"Sleep Status Register : \[Generic Address Structure\]\n[^\n]*Space ID : 01 \[SystemIO\][\s\S]*?Address : 0000000000000600", dsl);
        Assert.Contains("Value to cause reset : 01", dsl);
        Assert.Contains("FADT Minor Revision : 05", dsl);
        Assert.DoesNotContain("Invalid", dsl);
    }

    [IaslFact]
    public void Madt()
    {
        string dsl = Disassemble("APIC");
        Assert.Equal(2, CountOf(dsl, "[Processor Local APIC]"));
        Assert.Contains("[I/O APIC]", dsl);
        Assert.Contains("Address : FEC00000", dsl);
        Assert.Contains("[Local APIC NMI]", dsl);
        Assert.Contains("Interrupt Input LINT : 01", dsl);
        Assert.Contains("PC-AT Compatibility : 0", dsl);
    }

    [IaslFact]
    public void Dsdt()
    {
        string dsl = Disassemble("DSDT");
        Assert.Matches(@"Name \(_S5, Package \(0x04\)[^\n]*\s*\{\s*0x05,\s*Zero,\s*Zero,\s*Zero\s*\}\)", dsl);
        Assert.Contains("Device (COM1)", dsl);
        Assert.Contains("EisaId (\"PNP0501\")", dsl);
        Assert.Matches(@"IO \(Decode16,\s*0x03F8,\s*// Range Minimum\s*0x03F8,\s*// Range Maximum\s*0x00,\s*// Alignment\s*0x08,", dsl);
        Assert.Contains("IRQNoFlags ()", dsl);
        Assert.Contains("{4}", dsl);
    }

    [IaslFact]
    public void Dsdt_CmosRtc_Pnp0b00WithPortsAndIrq8()
    {
        string dsl = Disassemble("DSDT", cmosRtc: true);
        Assert.Contains("Device (RTC)", dsl);
        Assert.Contains("EisaId (\"PNP0B00\")", dsl);
        Assert.Matches(@"IO \(Decode16,\s*0x0070,\s*// Range Minimum\s*0x0070,\s*// Range Maximum\s*0x01,\s*// Alignment\s*0x02,", dsl);
        Assert.Contains("{8}", dsl);
    }

    [IaslFact]
    public void Xsdt()
    {
        string dsl = Disassemble("XSDT");
        Assert.Contains("ACPI Table Address   0 : 00000000000E0070", dsl);
        Assert.Contains("ACPI Table Address   1 : 00000000000E0190", dsl);
    }

    private static int CountOf(string text, string what) => text.Split(what).Length - 1;
}
