using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Devices;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Boot;

/// <summary>
/// The devices of QEMU's q35 machine that OVMF uses on a plain VM (issue 20): the MCH and ICH9 LPC in PCI config
/// space and the ECAM window, the ICH9 PM block with its timer, the APM port that switches it to ACPI mode, CMOS with
/// the memory sizes QEMU writes, fw_cfg with QEMU 7.2's q35 ACPI tables, the 8259s, the 8254 (on IOAPIC pin 2, as
/// those tables' MADT says), the HPET, COM1, the IOAPIC, the reset ports and the CPU hotplug registers the DSDT reads.
/// The Linux board's device set, rearranged as q35 has it.
/// </summary>
public sealed class Q35Board : IGuestBoard
{
    private readonly LinuxBoard devices;
    private readonly Ich9PmPorts pm;
    private readonly Q35Pci pci;
    private readonly IDeviceClock clock;
    private readonly Hpet hpet;

    public Q35Board(VmFd vm, LaunchContext context, Stream console, IDeviceClock clock, DateTimeOffset wallClock, IReadOnlyList<(ulong Base, ulong Size)> ram)
    {
        this.clock = clock;
        devices = new LinuxBoard(vm, console, clock, wallClock, q35: true);
        pci = new Q35Pci { PciExBarWritten = MoveEcam };
        devices.Ports.Register(Q35Pci.ConfigAddress, 1, pci);
        devices.Ports.Register(Q35Pci.ConfigData, 4, pci);
        pm = new Ich9PmPorts(clock);
        devices.Ports.Register(Ich9PmPorts.Base, Ich9PmPorts.PortCount, pm);
        hpet = new Hpet(clock, devices.IoApic);
        devices.Mmio.Register(Hpet.Base, Hpet.WindowSize, hpet);
        devices.Ports.Register(ApmControlPorts.Control, ApmControlPorts.PortCount, new ApmControlPorts(pm));
        devices.Ports.Register(CpuHotplugPorts.Base, CpuHotplugPorts.PortCount, new CpuHotplugPorts(context.Spec.Vcpus));
        devices.Ports.Register(FwCfg.SelectorPort, FwCfg.PortCount, Q35FwCfg.Build(context, new SharedGuestMemory(vm), ram, () => pci.EcamWindow?.Base));
        SetCmosMemory(devices.Cmos, ram, context.Spec.Vcpus);
    }

    /// <summary>The MCH decodes its ECAM window wherever PCIEXBAR puts it (OVMF's base differs between versions).</summary>
    private void MoveEcam()
    {
        devices.Mmio.Unregister(pci);
        if (pci.EcamWindow is { } window)
        {
            devices.Mmio.Register(window.Base, window.Length, pci);
        }
    }

    public string? Stop => pm.PoweredOff ? LinuxBoard.StopPoweredOff : devices.Stop;

    public string? Handle(KvmExit exit) => devices.Handle(exit) ?? Stop;

    /// <summary>
    /// The next interrupt of the HPET's timers or the PIT's counter 0; the PIT's output is cut off while the HPET
    /// routes its timer 0 to IRQ 0 instead (QEMU hw/timer/hpet.c, legacy replacement). Linux checks the boot
    /// clockevent through the IOAPIC before it moves to the local APIC's timer (arch/x86/kernel/apic/io_apic.c
    /// check_timer). The board's clock is the BSP's TSC (<see cref="TscClock"/>).
    /// </summary>
    public ulong? NextTimerTsc
    {
        get
        {
            ulong? pit = hpet.LegacyReplacement ? null : devices.Pit.NextIrqNanoseconds;
            ulong? next = hpet.NextIrqNanoseconds is { } h && (pit is null || h < pit) ? h : pit;
            return next is { } due ? TscClock.TscAt(due) : null;
        }
    }

    public bool FireTimers()
    {
        bool fired = hpet.Tick();
        if (!hpet.LegacyReplacement && devices.Pit.NextIrqNanoseconds is { } at && at <= clock.Nanoseconds)
        {
            devices.Pit.Tick();
            fired = true;
        }

        return fired;
    }

    /// <summary>QEMU's pc_cmos_init: base memory, extended memory to 64 MiB, RAM between 16 MiB and 4 GiB and above 4 GiB in 64 KiB units, CPUs − 1.</summary>
    internal static void SetCmosMemory(CmosRtc cmos, IReadOnlyList<(ulong Base, ulong Size)> ram, int vcpus)
    {
        const ulong FourGiB = 1UL << 32, SixteenMiB = 16UL << 20;
        ulong below = ram.Where(r => r.Base < FourGiB).Aggregate(0UL, (sum, r) => sum + (Math.Min(r.Base + r.Size, FourGiB) - r.Base));
        ulong above = ram.Where(r => r.Base + r.Size > FourGiB).Aggregate(0UL, (sum, r) => sum + (r.Base + r.Size - Math.Max(r.Base, FourGiB)));
        void Set16(int at, ulong value)
        {
            cmos.SetNvram(at, (byte)value);
            cmos.SetNvram(at + 1, (byte)(value >> 8));
        }

        Set16(0x15, 640);
        ulong extended = Math.Min(below > (1UL << 20) ? (below - (1UL << 20)) >> 10 : 0, 0xFFFF);
        Set16(0x17, extended);
        Set16(0x30, extended);
        Set16(0x34, below > SixteenMiB ? Math.Min((below - SixteenMiB) >> 16, 0xFFFF) : 0);
        cmos.SetNvram(0x5B, (byte)(above >> 16));
        cmos.SetNvram(0x5C, (byte)(above >> 24));
        cmos.SetNvram(0x5D, (byte)(above >> 32));
        cmos.SetNvram(0x5F, (byte)(vcpus - 1));
    }
}
