using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

/// <summary>
/// The ports QEMU's q35 ACPI tables send Linux to (FADT and DSDT of hw/i386/acpi-build.c): ACPI mode through the APM
/// control port, the PM1 enable bits ACPICA reads back, and the CPU hotplug block the DSDT's processor _STA reads.
/// </summary>
public sealed class Q35AcpiPortsTests
{
    private const ushort Pm1Enable = Ich9PmPorts.Base + 2, Pm1Control = Ich9PmPorts.Base + 4;

    [Fact]
    public void ApmControl_AcpiEnableSetsSciEn_AndAcpiDisableClearsIt()
    {
        var pm = new Ich9PmPorts(new ManualClock());
        var apm = new ApmControlPorts(pm);
        Assert.Equal(0u, pm.Read(Pm1Control, 2) & Ich9PmPorts.SciEnable);
        apm.Write(ApmControlPorts.Control, 1, ApmControlPorts.AcpiEnable); // the FADT's SMI_CMD and ACPI_ENABLE
        Assert.Equal(Ich9PmPorts.SciEnable, pm.Read(Pm1Control, 2) & Ich9PmPorts.SciEnable);
        apm.Write(ApmControlPorts.Control, 1, ApmControlPorts.AcpiDisable);
        Assert.Equal(0u, pm.Read(Pm1Control, 2) & Ich9PmPorts.SciEnable);

        apm.Write(ApmControlPorts.Control + 1, 1, 0x5A); // APM status: a scratch byte
        Assert.Equal(0x5Au, apm.Read(ApmControlPorts.Control + 1, 1));
    }

    [Fact]
    public void Pm1Enable_KeepsWhatIsWritten_ThroughEitherWidth()
    {
        var pm = new Ich9PmPorts(new ManualClock());
        pm.Write(Pm1Enable, 2, 0x0520); // GBL_EN and RTC_EN, as ACPICA enables the fixed events
        Assert.Equal(0x0520u, pm.Read(Pm1Enable, 2));
        Assert.Equal(0x0520u << 16, pm.Read(Ich9PmPorts.Base, 4));
        pm.Write(Ich9PmPorts.Base, 4, 0x0100_FFFF); // status bits are write-one-to-clear and none is set
        Assert.Equal(0x0100u, pm.Read(Pm1Enable, 2));
        Assert.Equal(0u, pm.Read(Ich9PmPorts.Base, 2));
    }

    [Fact]
    public void CpuHotplug_SelectedCpuIsEnabled_OnlyBelowTheCount_AndNoEventIsPending()
    {
        var hotplug = new CpuHotplugPorts(cpus: 2);
        foreach (uint cpu in new uint[] { 0, 1, 2 })
        {
            hotplug.Write(CpuHotplugPorts.Base, 4, cpu); // CSEL
            Assert.Equal(cpu, hotplug.Read(CpuHotplugPorts.Base, 4));
            Assert.Equal(cpu < 2 ? 1u : 0u, hotplug.Read(CpuHotplugPorts.Base + 4, 1)); // CPEN; CINS, CRMV clear
        }

        hotplug.Write(CpuHotplugPorts.Base + 5, 1, 0); // CCMD: next CPU with an event
        Assert.Equal(0u, hotplug.Read(CpuHotplugPorts.Base + 8, 4)); // CDAT below the selector ends the DSDT's scan
    }
}
