using static CocoLaunch.Vmm.Acpi.Aml;
using static CocoLaunch.Vmm.Acpi.ResourceTemplate;

namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// QEMU's modern CPU hotplug interface (hw/acpi/cpu.c build_cpus_aml, docs/specs/acpi_cpu_hotplug.rst): the register
/// block at 0xCD8 (ICH9's CPU hotplug base) under \_SB.PCI0.PRES, and \_SB.CPUS with one Processor per possible CPU,
/// the methods that select a CPU and read its status, eject it, scan for inserted and removed CPUs (GPE 2) and
/// forward _OST.
/// </summary>
internal static class Q35CpuHotplugAml
{
    /// <summary>The register block (include/hw/acpi/ich9.h ICH9_CPU_HOTPLUG_IO_BASE; hw/acpi/cpu.c ACPI_CPU_HOTPLUG_REG_LEN).</summary>
    public const ushort PortBase = 0x0CD8;
    public const byte PortCount = 0x0C;

    private const string Registers = "\\_SB.PCI0.PRES.";
    private const string Lock = Registers + "CPLK";

    // Commands written to CCMD (acpi_cpu_hotplug.rst): get the next CPU with an event, then _OST event and status.
    private const int GetNextCpuWithEvent = 0, OstEvent = 1, OstStatus = 2;

    // Notify values: device check, eject request.
    private const int DeviceCheck = 1, EjectRequest = 3;

    public static byte[] Build(int cpus) => Concat(
        Scope("_SB", RegisterBlock(), CpuContainer(cpus)),
        Method("\\_GPE._E02", 0, false, Call("\\_SB.CPUS.CSCN")));

    private static byte[] RegisterBlock() => Device(
        "\\_SB.PCI0.PRES",
        Name("_HID", EisaId("PNP0A06")),
        Name("_UID", String("CPU Hotplug resources")),
        Mutex("CPLK", 0),
        Name("_CRS", Buffer(Of(Io(PortBase, PortBase, 1, PortCount)))),
        OperationRegion("PRST", RegionSpace.SystemIo, Integer(PortBase), Integer(PortCount)),
        Field(
            "PRST",
            FieldFlags.ByteAcc | FieldFlags.WriteAsZeros,
            FieldSkip(32),
            FieldUnit("CPEN", 1),
            FieldUnit("CINS", 1),
            FieldUnit("CRMV", 1),
            FieldUnit("CEJ0", 1),
            FieldUnit("CEJF", 1),
            FieldSkip(3),
            FieldUnit("CCMD", 8)),
        Field("PRST", FieldFlags.DWordAcc, FieldUnit("CSEL", 32), FieldSkip(32), FieldUnit("CDAT", 32)),
        Method("_INI", 0, true, Store(Integer(0), Path("CSEL"))));

    private static byte[] CpuContainer(int cpus)
    {
        var terms = new List<byte[]>
        {
            Name("_HID", String("ACPI0010")),
            Name("_CID", EisaId("PNP0A05")),
            Method("CTFY", 2, false, [.. Enumerable.Range(0, cpus).Select(i => If(LEqual(Arg(0), Integer((ulong)i)), Notify(Path(ProcessorName(i)), Arg(1))))]),
            Method("CSTA", 1, true, Acquire(Lock, 0xFFFF), Store(Arg(0), Reg("CSEL")), Store(Integer(0), Local(0)), If(LEqual(Reg("CPEN"), Integer(1)), Store(Integer(0x0F), Local(0))), Release(Lock), Return(Local(0))),
            Locked("CEJ0", 1, Store(Arg(0), Reg("CSEL")), Store(Integer(1), Reg("CEJ0"))),
            Scan(cpus),
            Locked("COST", 4, Store(Arg(0), Reg("CSEL")), Store(Integer(OstEvent), Reg("CCMD")), Store(Arg(1), Reg("CDAT")), Store(Integer(OstStatus), Reg("CCMD")), Store(Arg(2), Reg("CDAT"))),
        };
        for (int i = 0; i < cpus; i++)
        {
            terms.Add(ProcessorObject(i));
        }

        return Device("\\_SB.CPUS", [.. terms]);
    }

    /// <summary>CSCN: collect the CPUs with an insert event (up to 255) and notify them; notify removals at once.</summary>
    private static byte[] Scan(int cpus)
    {
        byte[] newCpus = Path("CNEW");
        byte[] more = Local(0), count = Local(1), i = Local(2), uid = Local(3), again = Local(4);
        return Locked(
            "CSCN",
            0,
            Name("CNEW", EmptyPackage(0xFF)),
            Store(Integer(0), uid),
            Store(Integer(1), again),
            While(
                LEqual(again, Integer(1)),
                Store(Integer(0), again),
                Store(Integer(1), more),
                Store(Integer(0), count),
                While(
                    LAnd(LEqual(more, Integer(1)), LLess(uid, Integer((ulong)cpus))),
                    Store(Integer(0), more),
                    Store(uid, Reg("CSEL")),
                    Store(Integer(GetNextCpuWithEvent), Reg("CCMD")),
                    If(LLess(Reg("CDAT"), uid), Break()),
                    If(LEqual(count, Integer(0xFF)), Store(Integer(1), again), Break()),
                    Store(Reg("CDAT"), uid),
                    If(LEqual(Reg("CINS"), Integer(1)), Store(uid, Index(newCpus, count)), Increment(count), Store(Integer(1), more)),
                    Else(If(LEqual(Reg("CRMV"), Integer(1)), Call("CTFY", uid, Integer(EjectRequest)), Store(Integer(1), Reg("CRMV")), Store(Integer(1), more))),
                    Increment(uid)),
                Store(Integer(0), i),
                While(
                    LLess(i, count),
                    Store(DerefOf(Index(newCpus, i)), uid),
                    Call("CTFY", uid, Integer(DeviceCheck)),
                    Store(uid, Debug()),
                    Store(uid, Reg("CSEL")),
                    Store(Integer(1), Reg("CINS")),
                    Increment(i))));
    }

    /// <summary>
    /// Processor C&lt;uid&gt; (no PBLK): _STA from CSTA, _MAT with its MADT local APIC entry, _EJ0 but for the boot
    /// CPU, and _OST.
    /// </summary>
    private static byte[] ProcessorObject(int cpu)
    {
        byte[] uid = Integer((ulong)cpu);
        byte[] localApic = [0, 8, (byte)cpu, (byte)cpu, 1, 0, 0, 0];
        var terms = new List<byte[]>
        {
            Method("_STA", 0, true, Return(Call("CSTA", uid))),
            Name("_MAT", Buffer(localApic)),
        };
        if (cpu != 0)
        {
            terms.Add(Method("_EJ0", 1, false, Call("CEJ0", uid)));
        }

        terms.Add(Method("_OST", 3, true, Call("COST", uid, Arg(0), Arg(1), Arg(2))));
        return Processor(ProcessorName(cpu), (byte)cpu, 0, 0, [.. terms]);
    }

    private static string ProcessorName(int cpu) => $"C{cpu:X3}";

    private static byte[] Reg(string field) => Path(Registers + field);

    /// <summary>A serialized method whose body runs under the register block's lock.</summary>
    private static byte[] Locked(string name, int args, params byte[][] body) =>
        Method(name, args, true, [Acquire(Lock, 0xFFFF), .. body, Release(Lock)]);
}
