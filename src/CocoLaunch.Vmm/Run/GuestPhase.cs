using CocoLaunch.Cpu;

namespace CocoLaunch.Vmm.Run;

/// <summary>
/// Where a booting guest is, told from its BSP's state alone, for the progress line of a long boot: a firmware's
/// reset vector and SEC run from the flash mapping, the rest of the firmware and a kernel's EFI stub from RAM in an
/// identity map, Linux from the top of the canonical address space, and user space at CPL 3. Debian's OVMF is a
/// RELEASE build with neither debug output nor debug-directory module names to go by.
/// </summary>
public static class GuestPhase
{
    private const ulong KernelHalf = 0xFFFF_8000_0000_0000;
    private const ulong Cr0Pg = 1UL << 31;

    /// <param name="firmware">The GPA range the firmware image is mapped at, if the guest has one.</param>
    public static string Of(CpuState state, (ulong Start, ulong End)? firmware)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Cpl == 3)
        {
            return "user space";
        }

        if (state.Rip >= KernelHalf)
        {
            return "kernel";
        }

        bool paging = (state.Cr0 & Cr0Pg) != 0;
        ulong at = state.LongMode ? state.Rip : state.Segments[(int)SegmentName.Cs].Base + state.Rip; // real mode's F000:FFF0 is in the flash
        if (firmware is { } f && at >= f.Start && at < f.End)
        {
            return paging ? "firmware in flash (SEC)" : "firmware reset vector";
        }

        return firmware is null ? "boot" : "firmware in RAM (PEI, DXE, BDS) or boot loader";
    }
}

/// <summary>One report of a running guest: instructions retired on every vCPU, wall time, and the BSP's phase.</summary>
public sealed record RunProgress(long Instructions, TimeSpan Elapsed, string Phase)
{
    /// <summary>Millions of instructions per second of wall time.</summary>
    public double Mips => Elapsed > TimeSpan.Zero ? Instructions / Elapsed.TotalSeconds / 1e6 : 0;
}
