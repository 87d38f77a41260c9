using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;
using CocoLaunch.Vmm.Acpi;
using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Boot;

/// <summary>
/// The PC a direct Linux boot runs on (linux-guest.md §3, "Recommended platform"): local APICs in KVM (split
/// irqchip), and in userspace a 16550 on COM1 wired to IOAPIC pin 4, the IOAPIC delivering MSIs with
/// KVM_SIGNAL_MSI, the 8259 pair, the 8254 and port 0x61, the CMOS RTC, PCI configuration mechanism #1 with a host
/// bridge, the hardware-reduced ACPI sleep and reset register at 0x600, and the 0xCF9 and keyboard-controller resets.
/// </summary>
public sealed class LinuxBoard : IGuestBoard
{
    /// <summary>Where the ACPI tables go: the BIOS area, which the e820 map leaves out (Firecracker's RSDP address).</summary>
    public const ulong AcpiGpa = 0xE_0000;

    /// <summary>
    /// On q35 the PIT's IRQ0 reaches IOAPIC pin 2, as QEMU routes it (hw/intc/ioapic.c ioapic_set_irq) and QEMU's MADT
    /// says with its interrupt source override 0 → 2; the hardware-reduced tables have no override.
    /// </summary>
    public const int Q35PitGsi = 2;

    private readonly VmFd vm;

    /// <param name="q35">Leave PCI config space and the ACPI ports to the caller: q35 has its own (<see cref="Q35Board"/>).</param>
    public LinuxBoard(VmFd vm, Stream console, IDeviceClock clock, DateTimeOffset wallClock, bool q35 = false)
    {
        this.vm = vm;
        IoApic = new IoApic(Deliver);
        Com1 = new Uart16550(console, IoApic);
        var pic = new Pic8259Pair();
        Pit = new Pit8254(clock, IoApic, q35 ? Q35PitGsi : Pit8254.Irq0Gsi);
        Ports.Register(Uart16550.Com1, Uart16550.PortCount, Com1);
        Ports.Register(Pic8259Pair.MasterCommand, 2, pic);
        Ports.Register(Pic8259Pair.SlaveCommand, 2, pic);
        Ports.Register(Pic8259Pair.ElcrMaster, 2, pic);
        Ports.Register(0x40, 4, Pit);
        Ports.Register(0x61, 1, new SystemControlPortB(Pit, clock));
        Cmos = new CmosRtc(wallClock, clock);
        Ports.Register(CmosRtc.IndexPort, 2, Cmos);
        if (!q35)
        {
            var pci = new PciHostBridge();
            Ports.Register(PciHostBridge.ConfigAddress, 1, pci);
            Ports.Register(PciHostBridge.ConfigData, PciHostBridge.ConfigDataPorts, pci);
            Ports.Register(AcpiPowerPorts.Port, 1, Power);
        }

        Ports.Register(0xCF9, 1, Reset);
        if (q35)
        {
            // QEMU's q35 tables announce an 8042 (FADT IAPC_BOOT_ARCH, the DSDT's KBD and MOU), so Linux probes it.
            var i8042 = new I8042(IoApic, Reset);
            Ports.Register(I8042.Data, 1, i8042);
            Ports.Register(I8042.Command, 1, i8042);
        }
        else
        {
            Ports.Register(ResetPorts.KeyboardCommand, 1, Reset);
        }
        Ports.Register(NullPort.PostCode, 1, new NullPort());
        Mmio.Register(IoApic.DefaultBase, IoApic.WindowSize, IoApic);
    }

    public CmosRtc Cmos { get; }

    public Pit8254 Pit { get; }

    public PortBus Ports { get; } = new();

    public MmioBus Mmio { get; } = new();

    public IoApic IoApic { get; }

    public Uart16550 Com1 { get; }

    public AcpiPowerPorts Power { get; } = new();

    public ResetPorts Reset { get; } = new();

    /// <summary>The tables for <paramref name="cpus"/> CPUs, laid out at <see cref="AcpiGpa"/>.</summary>
    public static AcpiTableSet AcpiTables(int cpus) => Acpi.AcpiTables.Build(new AcpiPlatform(cpus, CmosRtc: true), AcpiGpa);

    /// <summary>Why the guest stopped by its own request (power-off, reset), or null while it runs.</summary>
    public string? Stop => Power.PoweredOff ? StopPoweredOff : Power.ResetRequested || Reset.ResetRequested ? "reset requested" : null;

    public const string StopPoweredOff = "ACPI power-off";

    /// <summary>Serves one exit; a reason to stop, or null to run on.</summary>
    public string? Handle(KvmExit exit)
    {
        switch (exit)
        {
            case KvmExit.Io { IsOut: true } o:
                // A string instruction (REP OUTS/INS) is one exit of Count elements, as KVM_EXIT_IO reports it.
                for (int n = 0; n < o.Count; n++)
                {
                    Ports.Out(o.Port, o.Size, (uint)BootExits.Value(o.Data.AsSpan(n * o.Size, o.Size)));
                }

                break;
            case KvmExit.Io i:
                for (int n = 0; n < i.Count; n++)
                {
                    BitConverter.GetBytes(Ports.In(i.Port, i.Size)).AsSpan(0, i.Size).CopyTo(i.Data.AsSpan(n * i.Size));
                }

                break;
            case KvmExit.Mmio { IsWrite: false } m:
                ulong value = Mmio.TryRead(m.Address.Value, m.Length, out ulong v) ? v : ulong.MaxValue; // nothing there: all ones
                BitConverter.GetBytes(value).AsSpan(0, m.Length).CopyTo(m.Data);
                break;
            case KvmExit.Mmio w:
                Mmio.TryWrite(w.Address.Value, w.Length, BootExits.Value(w.Data));
                break;
            case KvmExit.IoapicEoi eoi:
                IoApic.EndOfInterrupt(eoi.Vector);
                break;
            case KvmExit.Hlt:
                return Stop ?? "the guest halted with nothing to wake it (interrupts off or no timer armed)";
            case KvmExit.Shutdown:
                return "shutdown (triple fault)";
            case KvmExit.Intr:
                return "instruction limit reached";
            default:
                return "unexpected exit " + exit.Reason;
        }

        return Stop;
    }

    private void Deliver(MsiMessage msi) =>
        vm.SignalMsi(new KvmMsi { AddressLo = (uint)msi.Address, AddressHi = (uint)(msi.Address >> 32), Data = msi.Data });
}

/// <summary>Device time from a vCPU's TSC: nanoseconds at the TSC frequency KVM gives the guest.</summary>
public sealed class TscClock(VcpuFd vcpu) : IDeviceClock
{
    public ulong Nanoseconds => (ulong)((UInt128)(vcpu.Cpu?.Tsc ?? 0) * 1_000_000 / VcpuFd.DefaultTscKhz);

    /// <summary>The first TSC value at which <see cref="Nanoseconds"/> reaches <paramref name="nanoseconds"/>.</summary>
    public static ulong TscAt(ulong nanoseconds) => (ulong)(((UInt128)nanoseconds * VcpuFd.DefaultTscKhz + 999_999) / 1_000_000);
}
