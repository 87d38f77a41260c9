namespace CocoLaunch.Vmm.Acpi.Q35;

/// <summary>
/// What QEMU 7.2's q35 ACPI tables depend on for <c>-machine q35 -m MEM -smp N -nic none</c> without a TPM: the CPU
/// count and where RAM lies. RAM below 4 GiB ends where the 32-bit PCI window starts; RAM above 4 GiB moves the
/// 64-bit window up (hw/i386/pc.c pc_pci_hole64_start).
/// </summary>
/// <param name="Cpus">vCPUs; for -smp N QEMU numbers their APIC IDs 0..N−1.</param>
/// <param name="RamBelow4G">Bytes of RAM from address 0 (QEMU's below_4g_mem_size).</param>
/// <param name="RamAbove4G">Bytes of RAM from 4 GiB up (above_4g_mem_size).</param>
/// <param name="EcamBase">
/// Where the MCH's PCIEXBAR puts the ECAM window when the firmware reads the tables: QEMU builds them at that read
/// (hw/i386/acpi-build.c acpi_build_update), after OVMF has programmed PCIEXBAR; 0xE0000000 is what Debian's OVMF
/// 2025.02 chooses, as the captures show.
/// </param>
public sealed record Q35MachineShape(int Cpus, ulong RamBelow4G, ulong RamAbove4G, uint EcamBase = Q35MachineShape.DefaultEcamBase)
{
    public const ulong FourGiB = 1UL << 32;

    public const uint DefaultEcamBase = 0xE000_0000;

    /// <summary>The ECAM window's size: 1 MiB for each of 256 buses.</summary>
    public const uint EcamSize = 256u << 20;

    /// <summary>QEMU's APIC IDs fit one MADT byte; 0xFF is broadcast.</summary>
    public const int MaxCpus = 254;

    /// <summary>
    /// QEMU 7.2's split of <paramref name="memory"/> bytes (hw/i386/pc_q35.c pc_q35_init): below 4 GiB up to
    /// 0xB0000000, except that a guest of 0xB0000000 bytes or more gets 2 GiB below and the rest above, so that the
    /// low RAM ends on a gigabyte boundary.
    /// </summary>
    public static Q35MachineShape ForMemory(int cpus, ulong memory)
    {
        ulong lowMemory = memory >= 0xB000_0000 ? 0x8000_0000 : 0xB000_0000;
        return memory >= lowMemory ? new(cpus, lowMemory, memory - lowMemory) : new(cpus, memory, 0);
    }

    /// <summary>The shape of a guest whose RAM lies in <paramref name="ram"/> (base, size) ranges.</summary>
    public static Q35MachineShape FromRam(int cpus, IReadOnlyList<(ulong Base, ulong Size)> ram)
    {
        ulong below = ram.Where(r => r.Base < FourGiB).Select(r => Math.Min(r.Base + r.Size, FourGiB)).DefaultIfEmpty(0UL).Max();
        ulong above = ram.Where(r => r.Base + r.Size > FourGiB).Aggregate(0UL, (sum, r) => sum + (r.Base + r.Size - Math.Max(r.Base, FourGiB)));
        return new(cpus, below, above);
    }
}
